//! Trivy's JSON report (`trivy image --format json`, SchemaVersion 2), in every era of that
//! schema: with or without `RepoTags`, `RepoDigests`, `Size` and the `Trivy` header.
//!
//! One report describes one platform image. It becomes one observation per repository name it
//! mentions (a report may name the image in several registries); when it names none, the name
//! comes from `ArtifactName`, or from the archive's file name when the scan was of a tarball.

use crate::names::{self, NameInfo, Names};
use crate::report::ReportError;
use crate::severity;
use chrono::{DateTime, SubsecRound, Utc};
use imagedex_model::reference::is_digest;
use imagedex_model::{platform_architecture, Finding, Flavor, ImageReference, Observation};
use serde::Deserialize;

const FORMAT: &str = "Trivy";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Report {
    schema_version: i64,
    #[serde(default)]
    artifact_name: String,
    #[serde(default)]
    artifact_type: String,
    #[serde(default)]
    metadata: Metadata,
    results: Option<Vec<ScanResult>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Metadata {
    #[serde(rename = "OS")]
    os: Option<OsInfo>,
    #[serde(rename = "ImageID")]
    image_id: Option<String>,
    repo_tags: Option<Vec<String>>,
    repo_digests: Option<Vec<String>>,
    size: Option<i64>,
    image_config: Option<ImageConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OsInfo {
    name: Option<String>,
}

#[derive(Deserialize)]
struct ImageConfig {
    architecture: Option<String>,
    variant: Option<String>,
    os: Option<String>,
    #[serde(rename = "os.version")]
    os_version: Option<String>,
    created: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ScanResult {
    vulnerabilities: Option<Vec<Vulnerability>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Vulnerability {
    #[serde(rename = "VulnerabilityID")]
    vulnerability_id: String,
    pkg_name: String,
    #[serde(default)]
    installed_version: String,
    severity: Option<String>,
}

/// Whether a JSON document is a Trivy report (it may still be an invalid one).
pub fn looks_like(document: &serde_json::Value) -> bool {
    document.get("SchemaVersion").is_some() && document.get("ArtifactName").is_some()
}

/// Parses a Trivy report into observations, one per repository name.
pub fn parse(document: serde_json::Value) -> Result<Vec<Observation>, ReportError> {
    let report: Report = serde_json::from_value(document).map_err(|e| invalid(e.to_string()))?;
    if report.schema_version != 2 {
        return Err(invalid(format!(
            "SchemaVersion {} is not supported (expected 2)",
            report.schema_version
        )));
    }
    if report.artifact_type != "container_image" {
        return Err(invalid(format!(
            "ArtifactType '{}' describes no container image (expected container_image)",
            report.artifact_type
        )));
    }
    let meta = &report.metadata;
    let image_id = match meta.image_id.as_deref().filter(|id| !id.is_empty()) {
        Some(id) if is_digest(id) => Some(id.to_string()),
        Some(id) => return Err(invalid(format!("Metadata.ImageID '{id}' is not a digest"))),
        None => None,
    };

    let names = names_of(&report)?;
    if image_id.is_none() && names.values().all(|n| n.digest.is_none()) {
        return Err(invalid(
            "the report has neither Metadata.ImageID nor Metadata.RepoDigests".into(),
        ));
    }
    let flavor = flavor_of(meta)?;
    let findings = report.results.as_ref().map(|results| {
        results
            .iter()
            .flat_map(|r| r.vulnerabilities.iter().flatten())
            .map(|v| Finding {
                id: v.vulnerability_id.clone(),
                package: v.pkg_name.clone(),
                version: v.installed_version.clone(),
                severity: severity::from_label(v.severity.as_deref()),
            })
            .collect::<Vec<_>>()
    });

    Ok(names
        .into_iter()
        .map(|(name, NameInfo { digest, tags })| Observation {
            source: "trivy".into(),
            name,
            repo_digest: digest,
            image_id: image_id.clone(),
            image_tags: tags,
            flavor: flavor.clone(),
            findings: findings.clone(),
            custom_tags: Vec::new(),
            published_at: None,
            vulnerability_counts: None,
        })
        .collect())
}

/// Every repository name of the report, with the digest and tags it gives for each.
fn names_of(report: &Report) -> Result<Names, ReportError> {
    let meta = &report.metadata;
    let mut names = Names::new();
    let listed = meta
        .repo_digests
        .iter()
        .flatten()
        .chain(meta.repo_tags.iter().flatten());
    for entry in listed.filter(|e| !e.contains("<none>")) {
        let reference = ImageReference::parse(entry)
            .map_err(|e| invalid(format!("Metadata.RepoTags/RepoDigests: {e}")))?;
        names::add(&mut names, reference);
    }
    if !names.is_empty() {
        return Ok(names);
    }

    let artifact = report.artifact_name.as_str();
    let reference = names::of_target(artifact).map_err(|e| {
        invalid(format!(
            "ArtifactName: {e}, and the report has no RepoTags or RepoDigests"
        ))
    })?;
    names::add(&mut names, reference);
    Ok(names)
}

fn flavor_of(meta: &Metadata) -> Result<Option<Flavor>, ReportError> {
    let Some(config) = &meta.image_config else {
        return Ok(None);
    };
    let (Some(os), Some(arch)) = (&config.os, &config.architecture) else {
        return Ok(None);
    };
    let (os, arch) = (os.trim(), arch.trim());
    if os.is_empty() || arch.is_empty() {
        return Err(invalid(
            "Metadata.ImageConfig has an empty os or architecture".into(),
        ));
    }
    let built_at = match config.created.as_deref() {
        Some(created) => Some(parse_time(created)?),
        None => None,
    };
    Ok(Some(Flavor {
        os_name: os.to_lowercase(),
        os_architecture: platform_architecture(arch, config.variant.as_deref()),
        os_version: config
            .os_version
            .clone()
            .or_else(|| meta.os.as_ref().and_then(|os| os.name.clone()))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty()),
        size: meta.size.filter(|s| *s > 0),
        built_at,
    }))
}

fn parse_time(value: &str) -> Result<DateTime<Utc>, ReportError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc).trunc_subsecs(0))
        .map_err(|e| invalid(format!("time '{value}' is not RFC 3339: {e}")))
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

    #[test]
    fn foreign_artifact_types_are_rejected() {
        let doc = serde_json::json!({"SchemaVersion": 2, "ArtifactName": ".", "ArtifactType": "filesystem"});
        let err = parse(doc).unwrap_err();
        assert!(
            err.to_string().contains("ArtifactType 'filesystem'"),
            "{err}"
        );
    }
}
