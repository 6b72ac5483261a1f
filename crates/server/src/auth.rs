//! Authentication. The query API needs `DD-API-KEY` and `DD-APPLICATION-KEY` of one
//! organisation; the routes collectors post to need `DD-API-KEY` alone, as Datadog's intake.
//! A missing or unknown key is a 403, never a 401, on both.

use crate::{ApiError, AppState};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use imagedex_store::OrgId;

const MAX_KEY_LEN: usize = 256;

/// The organisation a request's key pair belongs to.
pub struct Authenticated(pub OrgId);

/// The organisation a request's API key belongs to.
pub struct ApiKeyOnly(pub OrgId);

fn key<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= MAX_KEY_LEN)
        .ok_or(ApiError::Forbidden)
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let api_key = key(&parts.headers, "dd-api-key")?;
        let app_key = key(&parts.headers, "dd-application-key")?;
        match state.store.authenticate(api_key, app_key).await? {
            Some(org) => Ok(Authenticated(org)),
            None => Err(ApiError::Forbidden),
        }
    }
}

impl FromRequestParts<AppState> for ApiKeyOnly {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let api_key = key(&parts.headers, "dd-api-key")?;
        match state.store.authenticate_api_key(api_key).await? {
            Some(org) => Ok(ApiKeyOnly(org)),
            None => Err(ApiError::Forbidden),
        }
    }
}
