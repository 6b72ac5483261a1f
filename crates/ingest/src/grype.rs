//! Grype's JSON report (`grype <image> -o json`), from the early-2021 shape (grype 0.7: no
//! `os`, `architecture` or `repoDigests` in the target) to today's.
//!
//! One report describes one platform image, named in `source.target`. The mapping onto an
//! observation follows Trivy's, so that both scanners describe one image the same way:
//!
//! - `repoDigests` (`name@sha256:…`) give the names and the repo digest, as Trivy's
//!   `RepoDigests`; `tags` give names and tags; `userInput` adds its tag to a name already
//!   given, and names the image when nothing else does.
//! - `imageID`, the config digest, is the observation's image id, as Trivy's `ImageID`.
//! - `manifestDigest` is not kept: it is the platform manifest's digest, neither the digest the
//!   tags point to (for a multi-platform image that is the index) nor the config digest, and an
//!   observation has no place for a third kind of digest.
//! - `os`, `architecture` and `variant` make the flavor, with `distro.version` as the OS version
//!   and `imageSize` as the size; a target without `os` and `architecture` gives no flavor.
//! - Each match is one finding: the vulnerability id, the artifact's name and version, and the
//!   severity label.

use crate::names::{self, NameInfo, Names};
use crate::report::ReportError;
use crate::severity;
use imagedex_model::platform_architecture;
use imagedex_model::reference::is_digest;
use imagedex_model::{Finding, Flavor, ImageReference, Observation};
use serde::Deserialize;

const FORMAT: &str = "Grype";
/// Prefixes grype accepts before an image reference to choose where the image is read from.
const SOURCE_SCHEMES: [&str; 6] = [
    "docker:",
    "podman:",
    "registry:",
    "docker-archive:",
    "oci-archive:",
    "oci-dir:",
];

#[derive(Deserialize)]
struct Report {
    matches: Option<Vec<serde_json::Value>>,
    source: Option<Source>,
    distro: Option<Distro>,
}

#[derive(Deserialize)]
struct Source {
    #[serde(rename = "type")]
    kind: Option<String>,
    target: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageTarget {
    user_input: Option<String>,
    #[serde(rename = "imageID")]
    image_id: Option<String>,
    tags: Option<Vec<String>>,
    repo_digests: Option<Vec<String>>,
    image_size: Option<i64>,
    os: Option<String>,
    architecture: Option<String>,
    variant: Option<String>,
}

#[derive(Deserialize)]
struct Distro {
    version: Option<String>,
}

#[derive(Deserialize)]
struct Match {
    vulnerability: MatchedVulnerability,
    artifact: Artifact,
}

#[derive(Deserialize)]
struct MatchedVulnerability {
    id: String,
    severity: Option<String>,
}

#[derive(Deserialize)]
struct Artifact {
    name: String,
    #[serde(default)]
    version: String,
}

/// Whether a JSON document is a Grype report (it may still be an invalid one).
pub fn looks_like(document: &serde_json::Value) -> bool {
    let by_descriptor = document["descriptor"]["name"].as_str() == Some("grype");
    let by_shape = document.get("matches").is_some() && document.get("source").is_some();
    by_descriptor || by_shape
}

/// Parses a Grype report into observations, one per repository name.
pub fn parse(document: serde_json::Value) -> Result<Vec<Observation>, ReportError> {
    let report: Report = serde_json::from_value(document).map_err(|e| invalid(e.to_string()))?;
    let Some(source) = report.source else {
        return Err(invalid(
            "the report has no source (the scanned image)".into(),
        ));
    };
    let kind = source.kind.unwrap_or_default();
    if kind != "image" {
        return Err(invalid(format!(
            "source.type '{kind}' describes no container image (expected image)"
        )));
    }
    let Some(target) = source.target.filter(|t| t.is_object()) else {
        return Err(invalid("source.target is missing or not an object".into()));
    };
    let target: ImageTarget =
        serde_json::from_value(target).map_err(|e| invalid(format!("source.target: {e}")))?;

    let image_id = match target.image_id.as_deref().filter(|id| !id.is_empty()) {
        Some(id) if is_digest(id) => Some(id.to_string()),
        Some(id) => {
            return Err(invalid(format!(
                "source.target.imageID '{id}' is not a digest"
            )))
        }
        None => None,
    };
    let names = names_of(&target)?;
    if image_id.is_none() && names.values().all(|n| n.digest.is_none()) {
        return Err(invalid(
            "source.target has neither imageID nor repoDigests, so the image cannot be identified"
                .into(),
        ));
    }
    let os_version = report.distro.and_then(|d| d.version);
    let flavor = flavor_of(&target, os_version);
    let Some(matches) = report.matches else {
        return Err(invalid("the report has no matches list".into()));
    };
    let findings = findings_of(matches)?;

    Ok(names
        .into_iter()
        .map(|(name, NameInfo { digest, tags })| Observation {
            source: "grype".into(),
            name,
            repo_digest: digest,
            image_id: image_id.clone(),
            image_tags: tags,
            flavor: flavor.clone(),
            findings: Some(findings.clone()),
            custom_tags: Vec::new(),
            published_at: None,
            vulnerability_counts: None,
        })
        .collect())
}

/// Names from `repoDigests` and `tags`; `userInput` adds to one of them or names the image alone.
fn names_of(target: &ImageTarget) -> Result<Names, ReportError> {
    let mut names = Names::new();
    let listed = target
        .repo_digests
        .iter()
        .flatten()
        .chain(target.tags.iter().flatten());
    for entry in listed.filter(|e| !e.contains("<none>")) {
        let reference = ImageReference::parse(entry)
            .map_err(|e| invalid(format!("source.target.repoDigests/tags: {e}")))?;
        names::add(&mut names, reference);
    }

    let user_input = target.user_input.as_deref().map(without_scheme);
    let Some(user_input) = user_input.filter(|u| !u.is_empty()) else {
        if names.is_empty() {
            return Err(invalid(
                "source.target has no repoDigests, tags or userInput to name the image".into(),
            ));
        }
        return Ok(names);
    };
    match names::of_target(user_input) {
        Ok(reference) if names.is_empty() || names.contains_key(&reference.name) => {
            names::add(&mut names, reference);
        }
        Ok(_) => {}
        Err(e) if names.is_empty() => {
            return Err(invalid(format!(
                "source.target.userInput: {e}, and the target has no repoDigests or tags"
            )))
        }
        Err(_) => {}
    }
    Ok(names)
}

fn without_scheme(user_input: &str) -> &str {
    SOURCE_SCHEMES
        .iter()
        .find_map(|scheme| user_input.strip_prefix(scheme))
        .unwrap_or(user_input)
        .trim()
}

fn flavor_of(target: &ImageTarget, os_version: Option<String>) -> Option<Flavor> {
    let os = target
        .os
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())?;
    let arch = (target.architecture.as_deref())
        .map(str::trim)
        .filter(|s| !s.is_empty())?;
    Some(Flavor {
        os_name: os.to_lowercase(),
        os_architecture: platform_architecture(arch, target.variant.as_deref()),
        os_version: os_version
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty()),
        size: target.image_size.filter(|s| *s > 0),
        built_at: None,
    })
}

fn findings_of(matches: Vec<serde_json::Value>) -> Result<Vec<Finding>, ReportError> {
    matches
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            let m: Match =
                serde_json::from_value(value).map_err(|e| invalid(format!("matches[{i}]: {e}")))?;
            Ok(Finding {
                id: m.vulnerability.id,
                package: m.artifact.name,
                version: m.artifact.version,
                severity: severity::from_label(m.vulnerability.severity.as_deref()),
            })
        })
        .collect()
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
    use imagedex_model::{ImageName, Severity};

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!("{}/../../fixtures/grype/{name}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).expect("fixture should be readable");
        serde_json::from_slice(&bytes).expect("fixture should be JSON")
    }

    fn name(s: &str) -> ImageName {
        ImageReference::parse(s).unwrap().name
    }

    #[test]
    fn a_current_report_is_named_by_its_repo_digest() {
        let doc = fixture("grype-0.94.0-busybox-1.32.1.grype.json");
        assert!(looks_like(&doc));
        let observations = parse(doc).unwrap();
        assert_eq!(observations.len(), 1);
        let o = &observations[0];
        assert_eq!(o.name, name("busybox"));
        assert_eq!(
            o.repo_digest.as_deref(),
            Some("sha256:ae39a6f5c07297d7ab64dbd4f82c77c874cc6a94cea29fdec309d0992574b4f7")
        );
        assert_eq!(
            o.image_id.as_deref(),
            Some("sha256:388056c9a6838deea3792e8f00705b35b439cf57b3c9c2634fb4e95cfc896de6")
        );
        assert_eq!(o.image_tags, ["1.32.1"]);
        let flavor = o.flavor.as_ref().unwrap();
        assert_eq!(
            (flavor.os_name.as_str(), flavor.os_architecture.as_str()),
            ("linux", "amd64")
        );
        assert_eq!(flavor.os_version.as_deref(), Some("1.32.1"));
        assert_eq!(flavor.size, Some(1231733));
        assert_eq!(o.findings.as_ref().unwrap().len(), 15);
    }

    #[test]
    fn user_input_adds_its_tag_to_a_name_already_given() {
        let o = &parse(fixture("grype-0.66.0-keycloak-21.0.2.grype.json")).unwrap()[0];
        assert_eq!(o.name, name("keycloak/keycloak"));
        assert_eq!(o.image_tags, ["21.0.2"]);
        let findings = o.findings.as_ref().unwrap();
        assert!(findings.iter().all(|f| f.severity == Severity::Low));
        assert!(findings.iter().any(|f| f.package == "nspr"));
    }

    #[test]
    fn an_early_2021_report_is_named_by_its_tag_and_image_id() {
        let o = &parse(fixture("grype-0.7.0-defectdojo-django-1.13.1.grype.json")).unwrap()[0];
        assert_eq!(o.name, name("defectdojo/defectdojo-django"));
        assert_eq!(o.repo_digest, None);
        assert_eq!(
            o.image_id.as_deref(),
            Some("sha256:6132ee54d5553df52183325a70c37c1edbd028b86616ed57e3e0622809235e47")
        );
        assert_eq!(o.flavor, None, "no os or architecture in that era");
        let findings = o.findings.as_ref().unwrap();
        assert_eq!(findings.len(), 327);
        let negligible = findings
            .iter()
            .filter(|f| f.severity == Severity::None)
            .count();
        assert_eq!(negligible, 106);
    }

    #[test]
    fn a_match_without_severity_is_unknown() {
        let o = &parse(fixture(
            "grype-xjoin-kafka-connect-strimzi-latest.grype.json",
        ))
        .unwrap()[0];
        let unscored: Vec<_> = o
            .findings
            .iter()
            .flatten()
            .filter(|f| f.id == "CVE-2024-26308")
            .collect();
        assert_eq!(unscored.len(), 1);
        assert_eq!(unscored[0].severity, Severity::Unknown);
        assert_eq!(o.image_tags, ["latest"]);
    }

    #[test]
    fn a_report_that_cannot_identify_its_image_is_rejected() {
        let mut doc = fixture("grype-0.7.0-defectdojo-django-1.13.1.grype.json");
        doc["source"]["target"]["imageID"] = serde_json::Value::Null;
        let err = parse(doc).unwrap_err().to_string();
        assert!(err.contains("neither imageID nor repoDigests"), "{err}");

        let mut doc = fixture("grype-0.94.0-busybox-1.32.1.grype.json");
        for key in ["repoDigests", "tags", "userInput"] {
            doc["source"]["target"][key] = serde_json::Value::Null;
        }
        let err = parse(doc).unwrap_err().to_string();
        assert!(err.contains("no repoDigests, tags or userInput"), "{err}");
    }

    #[test]
    fn foreign_sources_and_broken_matches_are_rejected() {
        let dir = serde_json::json!({
            "matches": [], "source": {"type": "directory", "target": "/src"}
        });
        let err = parse(dir).unwrap_err().to_string();
        assert!(err.contains("source.type 'directory'"), "{err}");

        let mut doc = fixture("grype-0.94.0-busybox-1.32.1.grype.json");
        doc["matches"][3]["artifact"] = serde_json::json!({"version": "1.0"});
        let err = parse(doc).unwrap_err().to_string();
        assert!(err.contains("matches[3]") && err.contains("name"), "{err}");

        let mut doc = fixture("grype-0.94.0-busybox-1.32.1.grype.json");
        doc.as_object_mut().unwrap().remove("source");
        assert!(looks_like(&doc), "the descriptor still says grype");
        let err = parse(doc).unwrap_err().to_string();
        assert!(err.contains("no source"), "{err}");
    }

    #[test]
    fn source_schemes_are_not_part_of_the_name() {
        assert_eq!(without_scheme("registry:alpine:3.19"), "alpine:3.19");
        assert_eq!(without_scheme("docker.io/alpine"), "docker.io/alpine");
    }
}
