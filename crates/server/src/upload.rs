//! The routes collectors post to, under imagedex's own prefix, with `DD-API-KEY` alone:
//! `POST /api/imagedex/v1/reports` takes a scanner report of any supported format,
//! `POST /api/imagedex/v1/images` takes image records as JSON (`imagedex_ingest::push`).
//! Each applies in one transaction and answers what it changed.

use crate::auth::ApiKeyOnly;
use crate::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::Json;
use imagedex_ingest::{parse_push, parse_report, ReportError};
use imagedex_model::{Observation, Tag};
use imagedex_store::{ApplyOutcome, OrgId};
use serde::Serialize;

/// The largest body either route accepts.
pub const MAX_UPLOAD_BYTES: usize = imagedex_ingest::report::MAX_REPORT_BYTES;

/// The answer of both routes.
#[derive(Serialize)]
pub struct UploadAnswer {
    data: UploadData,
}

#[derive(Serialize)]
struct UploadData {
    #[serde(rename = "type")]
    kind: &'static str,
    attributes: UploadAttributes,
}

#[derive(Serialize)]
struct UploadAttributes {
    /// Observations the upload carried (one per image name, digest and platform).
    observations: u64,
    /// Of those, the ones that differed from what the same source had said before.
    observations_changed: u64,
    images_created: u64,
    images_updated: u64,
    images_removed: u64,
}

/// Imports one report; `tag=key:value` query parameters add custom tags to its images.
pub async fn upload_report(
    State(state): State<AppState>,
    ApiKeyOnly(org): ApiKeyOnly,
    OriginalUri(uri): OriginalUri,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<UploadAnswer>, ApiError> {
    let tags = custom_tags(uri.query().unwrap_or(""))?;
    let body = body.map_err(rejected)?;
    let observations = parse_off_thread(move || parse_report(&body, &tags)).await?;
    apply(&state, org, &observations).await
}

/// Stores pushed image records.
pub async fn push_images(
    State(state): State<AppState>,
    ApiKeyOnly(org): ApiKeyOnly,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<UploadAnswer>, ApiError> {
    let body = body.map_err(rejected)?;
    let observations = parse_off_thread(move || parse_push(&body)).await?;
    apply(&state, org, &observations).await
}

fn custom_tags(query: &str) -> Result<Vec<Tag>, ApiError> {
    let mut tags = Vec::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if name != "tag" {
            return Err(ApiError::BadRequest(format!(
                "unknown query parameter '{name}' (only tag=key:value is accepted)"
            )));
        }
        let tag = Tag::parse(&value).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        tags.push(tag);
    }
    Ok(tags)
}

pub(crate) fn rejected(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(format!(
            "the body is over the limit of {MAX_UPLOAD_BYTES} bytes"
        ))
    } else {
        ApiError::BadRequest(format!(
            "the body could not be read: {}",
            rejection.body_text()
        ))
    }
}

/// Parsing a large document is CPU work: keep it off the async workers.
async fn parse_off_thread(
    parse: impl FnOnce() -> Result<Vec<Observation>, ReportError> + Send + 'static,
) -> Result<Vec<Observation>, ApiError> {
    tokio::task::spawn_blocking(parse)
        .await
        .map_err(|e| ApiError::Internal(format!("parsing an upload failed: {e}")))?
        .map_err(|e| match e {
            ReportError::TooLarge(_) => ApiError::PayloadTooLarge(e.to_string()),
            e => ApiError::BadRequest(e.to_string()),
        })
}

async fn apply(
    state: &AppState,
    org: OrgId,
    observations: &[Observation],
) -> Result<Json<UploadAnswer>, ApiError> {
    let outcome: ApplyOutcome = state.store.apply_observations(org, observations).await?;
    if outcome.images_changed() {
        // This node answers the uploader's next request with the write in it, whatever the
        // way news of writes reaches the other nodes.
        state.catalog.catch_up(org).await?;
    }
    tracing::info!(
        org.id = org.0,
        observations = observations.len(),
        images_created = outcome.images_created,
        images_updated = outcome.images_updated,
        images_removed = outcome.images_removed,
        "upload applied"
    );
    Ok(Json(UploadAnswer {
        data: UploadData {
            kind: "upload",
            attributes: UploadAttributes {
                observations: observations.len() as u64,
                observations_changed: outcome.observations_changed,
                images_created: outcome.images_created,
                images_updated: outcome.images_updated,
                images_removed: outcome.images_removed,
            },
        },
    }))
}
