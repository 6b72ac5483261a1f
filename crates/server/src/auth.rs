//! Authentication: `DD-API-KEY` and `DD-APPLICATION-KEY` must both belong to one organisation.

use crate::{ApiError, AppState};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use imagedex_store::OrgId;

const MAX_KEY_LEN: usize = 256;

/// The organisation a request's key pair belongs to. Anything else is a 403, never a 401.
pub struct Authenticated(pub OrgId);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.len() <= MAX_KEY_LEN)
        };
        let (Some(api_key), Some(app_key)) = (header("dd-api-key"), header("dd-application-key"))
        else {
            return Err(ApiError::Forbidden);
        };
        match state.store.authenticate(api_key, app_key).await? {
            Some(org) => Ok(Authenticated(org)),
            None => Err(ApiError::Forbidden),
        }
    }
}
