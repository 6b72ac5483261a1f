//! Image records pushed as JSON by a collector of any kind (`POST /api/imagedex/v1/images`).
//!
//! ```json
//! {
//!   "source": "ci-inventory",
//!   "images": [{
//!     "name": "ghcr.io/acme/api",
//!     "repo_digest": "sha256:…",
//!     "image_id": "sha256:…",
//!     "image_tags": ["1.4.2", "latest"],
//!     "os": "linux", "architecture": "arm64", "variant": "v8", "os_version": "alpine 3.20",
//!     "size": 41234567, "built_at": "2026-11-30T10:00:00Z", "published_at": "2026-11-30T10:05:00Z",
//!     "vulnerability_count": {"critical": 1, "high": 4},
//!     "tags": ["team:payments", "env:prod"]
//!   }]
//! }
//! ```
//!
//! Each pushed image is one observation of its source, so pushing the same batch again
//! changes nothing, and pushing a changed image replaces what that source said before about
//! that name, digest, image id and platform. `name` is a repository name without tag or
//! digest; `repo_digest` or `image_id` gives the identity (at least one is required);
//! platform fields need both `os` and `architecture`. `vulnerability_count` holds counts only
//! (merge rule 5): severities left out count zero. Unknown fields are refused, so a typo does
//! not silently drop data.

use crate::report::ReportError;
use chrono::{DateTime, SubsecRound, Utc};
use imagedex_model::reference::{is_digest, is_tag};
use imagedex_model::{Flavor, ImageReference, Observation, Tag, VulnerabilityCounts};
use serde::Deserialize;

const FORMAT: &str = "push";
/// Images one push may carry; a bigger inventory is sent in several pushes.
pub const MAX_PUSHED_IMAGES: usize = 10_000;
/// The source of pushes that do not name one.
pub const DEFAULT_SOURCE: &str = "push";
/// Sources with a meaning of their own in the merge and expiry rules: a push cannot claim them.
const RESERVED_SOURCES: [&str; 7] = [
    "registry",
    "oci-layout",
    "docker-archive",
    "agent",
    "trivy",
    "grype",
    "cyclonedx",
];
const MAX_SOURCE_LEN: usize = 64;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    source: Option<String>,
    images: Vec<PushedImage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PushedImage {
    name: String,
    repo_digest: Option<String>,
    image_id: Option<String>,
    #[serde(default)]
    image_tags: Vec<String>,
    os: Option<String>,
    architecture: Option<String>,
    variant: Option<String>,
    os_version: Option<String>,
    size: Option<i64>,
    built_at: Option<DateTime<Utc>>,
    published_at: Option<DateTime<Utc>>,
    vulnerability_count: Option<PushedCounts>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PushedCounts {
    #[serde(default)]
    critical: i64,
    #[serde(default)]
    high: i64,
    #[serde(default)]
    medium: i64,
    #[serde(default)]
    low: i64,
    #[serde(default)]
    none: i64,
    #[serde(default)]
    unknown: i64,
}

/// Parses a pushed batch into observations; any invalid image refuses the whole batch, with
/// the image's position and field in the message.
pub fn parse_push(bytes: &[u8]) -> Result<Vec<Observation>, ReportError> {
    let batch: Batch = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
    let source = match batch.source {
        None => DEFAULT_SOURCE.to_string(),
        Some(source) => check_source(&source)?,
    };
    if batch.images.len() > MAX_PUSHED_IMAGES {
        return Err(invalid(format!(
            "{} images in one push, over the limit of {MAX_PUSHED_IMAGES}",
            batch.images.len()
        )));
    }
    batch
        .images
        .into_iter()
        .enumerate()
        .map(|(i, image)| {
            observation(&source, image).map_err(|reason| invalid(format!("images[{i}].{reason}")))
        })
        .collect()
}

fn check_source(source: &str) -> Result<String, ReportError> {
    let well_formed = !source.is_empty()
        && source.len() <= MAX_SOURCE_LEN
        && source.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || (i > 0 && matches!(b, b'-' | b'_' | b'.'))
        });
    if !well_formed {
        return Err(invalid(format!(
            "source '{source}' must be 1 to {MAX_SOURCE_LEN} of a-z, 0-9, '-', '_', '.', \
             starting with a letter or digit"
        )));
    }
    if RESERVED_SOURCES.contains(&source) {
        return Err(invalid(format!(
            "source '{source}' is reserved for imagedex's own collectors"
        )));
    }
    Ok(source.to_string())
}

fn observation(source: &str, image: PushedImage) -> Result<Observation, String> {
    let reference = ImageReference::parse(image.name.trim()).map_err(|e| format!("name: {e}"))?;
    if reference.tag.is_some() || reference.digest.is_some() {
        return Err(format!(
            "name: '{}' carries a tag or digest; give the repository name alone, with \
             image_tags and repo_digest",
            image.name
        ));
    }
    let digest = |field: &str, value: Option<String>| match value {
        Some(v) if is_digest(&v) => Ok(Some(v)),
        Some(v) => Err(format!(
            "{field}: '{v}' is not a digest (sha256:<64 hex digits>)"
        )),
        None => Ok(None),
    };
    let repo_digest = digest("repo_digest", image.repo_digest)?;
    let image_id = digest("image_id", image.image_id)?;
    if repo_digest.is_none() && image_id.is_none() {
        return Err("repo_digest: an image needs a repo_digest or an image_id".into());
    }
    if let Some(tag) = image.image_tags.iter().find(|t| !is_tag(t)) {
        return Err(format!("image_tags: '{tag}' is not a Docker tag"));
    }
    let custom_tags = image
        .tags
        .iter()
        .map(|t| Tag::parse(t).map_err(|e| format!("tags: {e}")))
        .collect::<Result<Vec<_>, _>>()?;

    let has_platform_detail = image.variant.is_some()
        || image.os_version.is_some()
        || image.size.is_some()
        || image.built_at.is_some();
    let flavor = match (
        image.os.as_deref().map(str::trim),
        image.architecture.as_deref().map(str::trim),
    ) {
        (Some(os), Some(arch)) if !os.is_empty() && !arch.is_empty() => Some(Flavor {
            os_name: os.to_lowercase(),
            os_architecture: imagedex_model::platform_architecture(arch, image.variant.as_deref()),
            os_version: image
                .os_version
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
            size: match image.size {
                Some(size) if size < 0 => return Err(format!("size: {size} is negative")),
                size => size,
            },
            built_at: image.built_at.map(|t| t.trunc_subsecs(0)),
        }),
        (None, None) if !has_platform_detail => None,
        _ => {
            return Err(
                "os: platform fields (variant, os_version, size, built_at) need both a \
                 non-empty os and architecture"
                    .into(),
            )
        }
    };
    let vulnerability_counts = match image.vulnerability_count {
        Some(c) => {
            let counts = VulnerabilityCounts {
                critical: c.critical,
                high: c.high,
                medium: c.medium,
                low: c.low,
                none: c.none,
                unknown: c.unknown,
            };
            let all = [c.critical, c.high, c.medium, c.low, c.none, c.unknown];
            if all.iter().any(|n| *n < 0) {
                return Err("vulnerability_count: counts cannot be negative".into());
            }
            Some(counts)
        }
        None => None,
    };

    let mut image_tags = image.image_tags;
    image_tags.sort();
    image_tags.dedup();
    Ok(Observation {
        source: source.to_string(),
        name: reference.name,
        repo_digest,
        image_id,
        image_tags,
        flavor,
        findings: None,
        vulnerability_counts,
        custom_tags,
        published_at: image.published_at.map(|t| t.trunc_subsecs(0)),
    })
}

fn invalid(reason: String) -> ReportError {
    ReportError::Invalid {
        format: FORMAT,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn push(body: serde_json::Value) -> Result<Vec<Observation>, String> {
        parse_push(body.to_string().as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_image_becomes_one_observation() {
        let observations = push(json!({
            "source": "ci-inventory",
            "images": [{
                "name": "nginx", "repo_digest": DIGEST, "image_tags": ["1.27", "latest", "1.27"],
                "os": "Linux", "architecture": "arm", "variant": "v7", "size": 12,
                "built_at": "2026-11-30T10:00:00.123Z",
                "vulnerability_count": {"critical": 2},
                "tags": ["Team:Payments"]
            }]
        }))
        .unwrap();
        let [obs] = observations.as_slice() else {
            panic!("one observation expected")
        };
        assert_eq!(obs.source, "ci-inventory");
        assert_eq!(obs.name.to_string(), "docker.io/library/nginx");
        assert_eq!(obs.image_tags, ["1.27", "latest"]);
        let flavor = obs.flavor.as_ref().unwrap();
        assert_eq!(
            (flavor.os_name.as_str(), flavor.os_architecture.as_str()),
            ("linux", "arm/v7")
        );
        assert_eq!(
            flavor.built_at.unwrap().to_rfc3339(),
            "2026-11-30T10:00:00+00:00"
        );
        assert_eq!(obs.vulnerability_counts.unwrap().critical, 2);
        assert_eq!(obs.vulnerability_counts.unwrap().high, 0);
        assert_eq!(obs.custom_tags[0].to_string(), "team:payments");
        assert_eq!(obs.findings, None);
    }

    #[test]
    fn the_default_source_is_push() {
        let obs = push(json!({"images": [{"name": "a/b", "image_id": DIGEST}]})).unwrap();
        assert_eq!(obs[0].source, DEFAULT_SOURCE);
        assert_eq!(obs[0].flavor, None);
    }

    #[test]
    fn refusals_name_the_image_and_field() {
        let cases = [
            (
                json!({"images": [{"name": "a/b"}]}),
                "images[0].repo_digest",
            ),
            (
                json!({"images": [{"name": "a/b", "repo_digest": "sha256:12"}]}),
                "images[0].repo_digest: 'sha256:12'",
            ),
            (
                json!({"images": [{"name": "a/b:1", "image_id": DIGEST}]}),
                "carries a tag",
            ),
            (
                json!({"images": [{"name": "A B", "image_id": DIGEST}]}),
                "images[0].name",
            ),
            (
                json!({"images": [{"name": "a", "image_id": DIGEST}, {"name": "a", "image_id": DIGEST, "image_tags": ["-x"]}]}),
                "images[1].image_tags: '-x'",
            ),
            (
                json!({"images": [{"name": "a", "image_id": DIGEST, "size": 5}]}),
                "images[0].os",
            ),
            (
                json!({"images": [{"name": "a", "image_id": DIGEST, "os": "linux"}]}),
                "images[0].os",
            ),
            (
                json!({"images": [{"name": "a", "image_id": DIGEST, "os": "linux", "architecture": "amd64", "size": -1}]}),
                "size: -1",
            ),
            (
                json!({"images": [{"name": "a", "image_id": DIGEST, "vulnerability_count": {"high": -1}}]}),
                "negative",
            ),
            (
                json!({"images": [{"name": "a", "image_id": DIGEST, "tags": ["*:x"]}]}),
                "images[0].tags",
            ),
            (
                json!({"images": [{"name": "a", "image_id": DIGEST, "colour": "red"}]}),
                "unknown field `colour`",
            ),
            (json!({"source": "registry", "images": []}), "reserved"),
            (
                json!({"source": "Bad Source", "images": []}),
                "source 'Bad Source'",
            ),
            (json!({"images": "none"}), "invalid type"),
        ];
        for (body, expected) in cases {
            let error = push(body.clone()).expect_err(&body.to_string());
            assert!(error.contains(expected), "{body}: {error}");
        }
    }

    #[test]
    fn too_many_images_are_refused() {
        let images = vec![json!({"name": "a", "image_id": DIGEST}); MAX_PUSHED_IMAGES + 1];
        let error = push(json!({ "images": images })).unwrap_err();
        assert!(error.contains("over the limit"), "{error}");
    }
}
