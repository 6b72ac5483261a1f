//! The Datadog Agent's intake, `POST /api/v2/contimage`: the `container_image` check's
//! payloads exactly as the agent sends them (`imagedex_ingest::agent`), with `DD-API-KEY`
//! alone.
//!
//! Statuses are chosen for the agent's sender, which drops a payload on 400, 401, 403 and 413
//! and retries every other failure: a body that can never succeed (bad key, unknown encoding,
//! corrupt or malformed, too large) gets one of those, a database out of reach a 503, so the
//! payload comes again.

use crate::auth::ApiKeyOnly;
use crate::upload::{rejected, MAX_UPLOAD_BYTES};
use crate::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use imagedex_ingest::agent::{parse_intake, AgentError, Intake};
use serde_json::{json, Value};

/// The largest body, compressed or not: the same limit as uploads.
pub const MAX_PAYLOAD_BYTES: usize = MAX_UPLOAD_BYTES;

/// Takes one `ContainerImagePayload` (or the agent's `{}` connectivity probe).
pub async fn post_contimage(
    State(state): State<AppState>,
    ApiKeyOnly(org): ApiKeyOnly,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let content_type = header(&headers, CONTENT_TYPE)?;
    let content_encoding = header(&headers, CONTENT_ENCODING)?;
    let body = body.map_err(rejected)?;

    // Decompressing and decoding are CPU work: keep them off the async workers.
    let intake = tokio::task::spawn_blocking(move || {
        parse_intake(
            content_type.as_deref(),
            content_encoding.as_deref(),
            &body,
            MAX_PAYLOAD_BYTES,
        )
    })
    .await
    .map_err(|e| ApiError::Internal(format!("decoding an agent payload failed: {e}")))?
    .map_err(|e| match e {
        AgentError::TooLarge(_) => ApiError::PayloadTooLarge(e.to_string()),
        e => ApiError::BadRequest(e.to_string()),
    })?;
    let Intake::Payload(payload) = intake else {
        return Ok(accepted());
    };

    if !payload.observations.is_empty() {
        let outcome = state
            .store
            .apply_observations(org, &payload.observations)
            .await?;
        if outcome.images_changed() {
            // The same guarantee as uploads: this node's next answer has the payload in it.
            state.catalog.catch_up(org).await?;
        }
        tracing::info!(
            org.id = org.0,
            images = payload.images,
            images_skipped = payload.images_skipped,
            tags_dropped = payload.tags_dropped,
            observations = payload.observations.len(),
            observations_changed = outcome.observations_changed,
            images_created = outcome.images_created,
            images_updated = outcome.images_updated,
            images_removed = outcome.images_removed,
            "agent payload applied"
        );
    } else {
        tracing::info!(
            org.id = org.0,
            images = payload.images,
            images_skipped = payload.images_skipped,
            "agent payload without usable images"
        );
    }
    Ok(accepted())
}

/// 202 with the body Datadog's own test intake answers; the agent reads only the status.
fn accepted() -> (StatusCode, Json<Value>) {
    (StatusCode::ACCEPTED, Json(json!({ "errors": [] })))
}

fn header(headers: &HeaderMap, name: axum::http::HeaderName) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(&name) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(value) => Ok(Some(value.to_string())),
        Err(_) => Err(ApiError::BadRequest(format!(
            "the {name} header must be visible ASCII"
        ))),
    }
}
