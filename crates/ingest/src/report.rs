//! Report format detection: which parser a document goes to, decided from its content.

use imagedex_model::{Observation, Tag};

/// The largest report accepted, in bytes.
pub const MAX_REPORT_BYTES: usize = 64 * 1024 * 1024;

/// Why a document could not be turned into observations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("report is {0} bytes, over the limit of {MAX_REPORT_BYTES}")]
    TooLarge(usize),
    #[error("not a JSON document: {0}")]
    NotJson(String),
    #[error(
        "not a supported report (expected Trivy JSON with SchemaVersion 2, Grype JSON, \
         or CycloneDX JSON 1.4 to 1.7 of a container image)"
    )]
    UnknownFormat,
    #[error("invalid {format} report: {reason}")]
    Invalid {
        format: &'static str,
        reason: String,
    },
}

/// Parses a report of any supported format into observations, each carrying `custom_tags`.
pub fn parse_report(bytes: &[u8], custom_tags: &[Tag]) -> Result<Vec<Observation>, ReportError> {
    if bytes.len() > MAX_REPORT_BYTES {
        return Err(ReportError::TooLarge(bytes.len()));
    }
    let document: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ReportError::NotJson(e.to_string()))?;

    let mut observations = if crate::trivy::looks_like(&document) {
        crate::trivy::parse(document)?
    } else if crate::grype::looks_like(&document) {
        crate::grype::parse(document)?
    } else if crate::cyclonedx::looks_like(&document) {
        crate::cyclonedx::parse(document)?
    } else {
        return Err(ReportError::UnknownFormat);
    };
    add_custom_tags(&mut observations, custom_tags);
    Ok(observations)
}

/// Puts the tags given at import on every observation.
pub fn add_custom_tags(observations: &mut [Observation], custom_tags: &[Tag]) {
    for obs in observations {
        obs.custom_tags.extend(custom_tags.iter().cloned());
        obs.custom_tags.sort();
        obs.custom_tags.dedup();
    }
}
