//! CycloneDX JSON, spec versions 1.4 to 1.7, describing one container image: a scanner's
//! BOM with a `vulnerabilities` section (`trivy image --format cyclonedx`, for instance).
//!
//! - The image is `metadata.component`, which must be of type `container`. Its
//!   `aquasecurity:trivy:RepoDigest` and `aquasecurity:trivy:RepoTag` properties give the names,
//!   repo digest and tags, as Trivy's JSON `RepoDigests` and `RepoTags`; without them the
//!   component's `name` does (a reference, or an archive's file name). The
//!   `aquasecurity:trivy:ImageID` property is the image id. A component with neither a repo
//!   digest nor an image id cannot be told apart from another image and is rejected.
//! - Each vulnerability gives one finding per entry of `affects` (unless every version listed
//!   there is `unaffected`): the package is the component the entry refers to (by `bom-ref`,
//!   or by the package URL in the reference when no component has it), the version is the
//!   affected version listed, else the component's.
//! - The severity is [`severity::pick`] over the ratings: a rating's label, or its score when
//!   the label is absent or unknown.
//! - A BOM without a `vulnerabilities` section is an inventory, not a scan that found nothing:
//!   the image is recorded without vulnerability counts. An empty section means a clean scan.

use crate::names::{self, NameInfo, Names};
use crate::report::ReportError;
use crate::severity::{self, Rating};
use imagedex_model::reference::is_digest;
use imagedex_model::{Finding, ImageReference, Observation, Severity};
use serde::Deserialize;
use std::collections::HashMap;

const FORMAT: &str = "CycloneDX";
const SPEC_VERSIONS: [&str; 4] = ["1.4", "1.5", "1.6", "1.7"];
const REPO_DIGEST: &str = "aquasecurity:trivy:RepoDigest";
const REPO_TAG: &str = "aquasecurity:trivy:RepoTag";
const IMAGE_ID: &str = "aquasecurity:trivy:ImageID";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bom {
    spec_version: Option<String>,
    metadata: Option<Metadata>,
    components: Option<Vec<Component>>,
    vulnerabilities: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize)]
struct Metadata {
    component: Option<Component>,
}

#[derive(Deserialize)]
struct Component {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(rename = "bom-ref")]
    bom_ref: Option<String>,
    name: Option<String>,
    version: Option<String>,
    properties: Option<Vec<Property>>,
    components: Option<Vec<Component>>,
}

#[derive(Deserialize)]
struct Property {
    name: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
struct Vulnerability {
    id: String,
    source: Option<Named>,
    ratings: Option<Vec<RatingEntry>>,
    affects: Option<Vec<Affects>>,
}

#[derive(Deserialize)]
struct Named {
    name: Option<String>,
}

#[derive(Deserialize)]
struct RatingEntry {
    source: Option<Named>,
    score: Option<f64>,
    severity: Option<String>,
}

#[derive(Deserialize)]
struct Affects {
    #[serde(rename = "ref")]
    reference: String,
    versions: Option<Vec<AffectedVersion>>,
}

#[derive(Deserialize)]
struct AffectedVersion {
    version: Option<String>,
    status: Option<String>,
}

/// Whether a JSON document is a CycloneDX BOM (it may still be an invalid or unsupported one).
pub fn looks_like(document: &serde_json::Value) -> bool {
    document["bomFormat"].as_str() == Some("CycloneDX")
}

/// Parses a CycloneDX BOM of a container image into observations, one per repository name.
pub fn parse(document: serde_json::Value) -> Result<Vec<Observation>, ReportError> {
    let bom: Bom = serde_json::from_value(document).map_err(|e| invalid(e.to_string()))?;
    let spec = bom.spec_version.as_deref().unwrap_or_default();
    if !SPEC_VERSIONS.contains(&spec) {
        return Err(invalid(format!(
            "specVersion '{spec}' is not supported (expected 1.4 to 1.7)"
        )));
    }
    let Some(image) = bom.metadata.and_then(|m| m.component) else {
        return Err(invalid(
            "metadata.component is missing, so the BOM names no image".into(),
        ));
    };
    let kind = image.kind.as_deref().unwrap_or_default();
    if kind != "container" {
        return Err(invalid(format!(
            "metadata.component type '{kind}' describes no container image (expected container)"
        )));
    }

    let image_id = match property_values(&image, IMAGE_ID).next() {
        Some(id) if is_digest(id) => Some(id.to_string()),
        Some(id) => return Err(invalid(format!("{IMAGE_ID} '{id}' is not a digest"))),
        None => None,
    };
    let names = names_of(&image)?;
    if image_id.is_none() && names.values().all(|n| n.digest.is_none()) {
        return Err(invalid(format!(
            "metadata.component has neither an {REPO_DIGEST} nor an {IMAGE_ID} property, \
             so the image cannot be identified"
        )));
    }
    let findings = match bom.vulnerabilities {
        Some(vulnerabilities) => {
            let packages = PackageIndex::new(bom.components.as_deref().unwrap_or_default());
            Some(findings_of(vulnerabilities, &packages)?)
        }
        None => None,
    };

    Ok(names
        .into_iter()
        .map(|(name, NameInfo { digest, tags })| Observation {
            source: "cyclonedx".into(),
            name,
            repo_digest: digest,
            image_id: image_id.clone(),
            image_tags: tags,
            flavor: None,
            findings: findings.clone(),
            custom_tags: Vec::new(),
            published_at: None,
            vulnerability_counts: None,
        })
        .collect())
}

fn property_values<'a>(
    component: &'a Component,
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    component
        .properties
        .iter()
        .flatten()
        .filter(move |p| p.name.as_deref() == Some(name))
        .filter_map(|p| p.value.as_deref())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Names from the repo digest and tag properties, else from the component's name.
fn names_of(image: &Component) -> Result<Names, ReportError> {
    let mut names = Names::new();
    let listed = property_values(image, REPO_DIGEST).chain(property_values(image, REPO_TAG));
    for entry in listed.filter(|e| !e.contains("<none>")) {
        let reference = ImageReference::parse(entry).map_err(|e| {
            invalid(format!(
                "metadata.component properties {REPO_DIGEST}/{REPO_TAG}: {e}"
            ))
        })?;
        names::add(&mut names, reference);
    }
    if !names.is_empty() {
        return Ok(names);
    }

    let name = image.name.as_deref().unwrap_or_default();
    let reference = names::of_target(name).map_err(|e| {
        invalid(format!(
            "metadata.component name: {e}, and it has no {REPO_DIGEST} or {REPO_TAG} property"
        ))
    })?;
    names::add(&mut names, reference);
    Ok(names)
}

/// The name and version of every component of the BOM, nested ones included, by `bom-ref`.
struct PackageIndex<'a> {
    by_ref: HashMap<&'a str, (&'a str, &'a str)>,
}

impl<'a> PackageIndex<'a> {
    fn new(components: &'a [Component]) -> Self {
        let mut by_ref = HashMap::new();
        let mut pending: Vec<&Component> = components.iter().collect();
        while let Some(c) = pending.pop() {
            if let (Some(bom_ref), Some(name)) = (c.bom_ref.as_deref(), c.name.as_deref()) {
                by_ref.insert(bom_ref, (name, c.version.as_deref().unwrap_or_default()));
            }
            pending.extend(c.components.iter().flatten());
        }
        PackageIndex { by_ref }
    }

    /// The package (name, version) a reference of `affects` points to.
    fn resolve(&self, reference: &str) -> (String, String) {
        // A BOM-link (`urn:cdx:<serial>/<version>#<bom-ref>`) points into this BOM by its part
        // after `#`, percent-encoded.
        let local = match reference.strip_prefix("urn:cdx:") {
            Some(link) => link
                .split_once('#')
                .map_or(reference.to_string(), |(_, r)| percent_decode(r)),
            None => reference.to_string(),
        };
        if let Some((name, version)) = self.by_ref.get(local.as_str()) {
            return (name.to_string(), version.to_string());
        }
        purl_name_version(&local).unwrap_or((local, String::new()))
    }
}

/// The name and version of a package URL (`pkg:type/namespace/name@version?qualifiers`).
fn purl_name_version(purl: &str) -> Option<(String, String)> {
    let rest = purl.strip_prefix("pkg:")?;
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let (path, version) = rest.rsplit_once('@').unwrap_or((rest, ""));
    let name = path.rsplit('/').next().filter(|n| !n.is_empty())?;
    Some((percent_decode(name), percent_decode(version)))
}

/// Decodes `%XX` escapes; a malformed escape is kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn findings_of(
    vulnerabilities: Vec<serde_json::Value>,
    packages: &PackageIndex<'_>,
) -> Result<Vec<Finding>, ReportError> {
    let mut findings = Vec::new();
    for (i, value) in vulnerabilities.into_iter().enumerate() {
        let v: Vulnerability = serde_json::from_value(value)
            .map_err(|e| invalid(format!("vulnerabilities[{i}]: {e}")))?;
        let severity = severity_of(&v);
        for affects in v.affects.iter().flatten() {
            let versions = affects.versions.as_deref().unwrap_or_default();
            let unaffected = |av: &AffectedVersion| av.status.as_deref() == Some("unaffected");
            if !versions.is_empty() && versions.iter().all(unaffected) {
                continue;
            }
            let (package, component_version) = packages.resolve(&affects.reference);
            let version = versions
                .iter()
                .find_map(|av| av.version.clone())
                .unwrap_or(component_version);
            findings.push(Finding {
                id: v.id.clone(),
                package,
                version,
                severity,
            });
        }
    }
    Ok(findings)
}

fn severity_of(v: &Vulnerability) -> Severity {
    let ratings: Vec<Rating<'_>> = v
        .ratings
        .iter()
        .flatten()
        .map(|r| Rating {
            source: r.source.as_ref().and_then(|s| s.name.as_deref()),
            severity: match (severity::from_label(r.severity.as_deref()), r.score) {
                (Severity::Unknown, Some(score)) => severity::from_cvss_score(score),
                (label, _) => label,
            },
        })
        .collect();
    let own_source = v.source.as_ref().and_then(|s| s.name.as_deref());
    severity::pick(own_source, &ratings)
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
    use imagedex_model::ImageName;
    use serde_json::json;

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!(
            "{}/../../fixtures/cyclonedx/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = std::fs::read(&path).expect("fixture should be readable");
        serde_json::from_slice(&bytes).expect("fixture should be JSON")
    }

    fn finding<'a>(o: &'a Observation, id: &str) -> Vec<&'a Finding> {
        o.findings.iter().flatten().filter(|f| f.id == id).collect()
    }

    #[test]
    fn a_trivy_bom_is_named_by_its_repo_digest_property() {
        let doc = fixture("trivy-0.48.1-ubuntu-latest.cdx-1.5.json");
        assert!(looks_like(&doc));
        let observations = parse(doc).unwrap();
        assert_eq!(observations.len(), 1);
        let o = &observations[0];
        assert_eq!(o.name, ImageReference::parse("ubuntu").unwrap().name);
        assert_eq!(
            o.repo_digest.as_deref(),
            Some("sha256:6042500cf4b44023ea1894effe7890666b0c5c7871ed83a97c36c76ae560bb9b")
        );
        assert_eq!(
            o.image_id.as_deref(),
            Some("sha256:174c8c134b2a94b5bb0b37d9a2b6ba0663d82d23ebf62bd51f74a2fd457333da")
        );
        assert_eq!(o.image_tags, ["latest"]);
        assert_eq!(o.findings.as_ref().unwrap().len(), 14);

        // ubuntu's own rating (low) wins over NVD's high.
        let pcre = finding(o, "CVE-2017-11164");
        assert_eq!(pcre[0].severity, Severity::Low);
        assert_eq!(pcre[0].package, "libpcre3");
        assert_eq!(pcre[0].version, "2:8.39-13ubuntu0.22.04.1");
        // No component has this purl: the package comes from the purl itself.
        let tar = finding(o, "TEMP-0290435-0B57B5");
        assert_eq!(
            (tar[0].package.as_str(), tar[0].version.as_str()),
            ("tar", "1.30+dfsg-6")
        );
    }

    #[test]
    fn without_a_rating_of_its_own_source_the_highest_counts() {
        let o = &parse(fixture("trivy-fluentd-multiple-lockfiles.cdx-1.7.json")).unwrap()[0];
        assert_eq!(o.name, ImageName::local("fluentd-multiple-lockfiles"));
        assert_eq!(o.repo_digest, None);
        assert!(o.image_id.is_some());
        // Its source is debian, which did not rate it: NVD's critical wins.
        assert_eq!(finding(o, "CVE-2019-18224")[0].severity, Severity::Critical);
        assert_eq!(finding(o, "CVE-2019-18276")[0].severity, Severity::Low);
        assert_eq!(finding(o, "CVE-2020-8165")[0].package, "activesupport");
    }

    #[test]
    fn a_bom_that_cannot_identify_its_image_is_rejected() {
        let err = parse(fixture("trivy-centos-7.cdx-1.4.json"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "neither an aquasecurity:trivy:RepoDigest nor an aquasecurity:trivy:ImageID"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_spec_1_4_bom_links_its_packages_by_bom_link() {
        let mut doc = fixture("trivy-centos-7.cdx-1.4.json");
        doc["metadata"]["component"]["properties"] = json!([{
            "name": IMAGE_ID,
            "value": "sha256:f1cb7c7d58b73eac859c395882eec49d50651244e342cd6c68a5c7809785f427"
        }]);
        let o = &parse(doc).unwrap()[0];
        assert_eq!(o.name, ImageName::local("centos-7"));
        let bash = finding(o, "CVE-2019-18276");
        assert_eq!(
            (
                bash[0].package.as_str(),
                bash[0].version.as_str(),
                bash[0].severity
            ),
            ("bash", "4.2.46-31.el7", Severity::High)
        );
        assert_eq!(finding(o, "CVE-2019-1559")[0].package, "openssl-libs");
    }

    #[test]
    fn ratings_without_a_label_count_by_their_score() {
        let v: Vulnerability = serde_json::from_value(json!({
            "id": "CVE-1",
            "ratings": [{"score": 9.0, "method": "CVSSv31"}, {"severity": "unknown", "score": 6.99}]
        }))
        .unwrap();
        assert_eq!(severity_of(&v), Severity::Critical);
        let v: Vulnerability = serde_json::from_value(json!({"id": "CVE-2"})).unwrap();
        assert_eq!(severity_of(&v), Severity::Unknown);
    }

    #[test]
    fn inventories_and_unaffected_entries_give_no_findings() {
        let mut doc = fixture("trivy-fluentd-multiple-lockfiles.cdx-1.7.json");
        doc["vulnerabilities"][0]["affects"][0]["versions"][0]["status"] = json!("unaffected");
        let o = &parse(doc.clone()).unwrap()[0];
        assert!(finding(o, "CVE-2019-18224").is_empty());
        assert_eq!(o.findings.as_ref().unwrap().len(), 2);

        doc.as_object_mut().unwrap().remove("vulnerabilities");
        let o = &parse(doc).unwrap()[0];
        assert_eq!(
            o.findings, None,
            "a BOM without the section says nothing about vulnerabilities"
        );
    }

    #[test]
    fn foreign_and_broken_boms_are_rejected() {
        let cases = [
            (
                json!({"bomFormat": "CycloneDX", "specVersion": "1.3"}),
                "specVersion '1.3'",
            ),
            (
                json!({"bomFormat": "CycloneDX", "specVersion": "1.6"}),
                "metadata.component is missing",
            ),
            (
                json!({"bomFormat": "CycloneDX", "specVersion": "1.6",
                       "metadata": {"component": {"type": "application", "name": "app"}}}),
                "type 'application'",
            ),
        ];
        for (doc, needle) in cases {
            let err = parse(doc).unwrap_err().to_string();
            assert!(err.contains(needle), "'{err}' should mention '{needle}'");
        }
        let mut doc = fixture("trivy-fluentd-multiple-lockfiles.cdx-1.7.json");
        doc["vulnerabilities"][1]["affects"] = json!([{"versions": []}]);
        let err = parse(doc).unwrap_err().to_string();
        assert!(
            err.contains("vulnerabilities[1]") && err.contains("ref"),
            "{err}"
        );
    }

    #[test]
    fn package_urls_and_escapes_decode_without_panicking() {
        assert_eq!(
            purl_name_version("pkg:deb/ubuntu/libstdc%2B%2B6@12.3.0?arch=amd64"),
            Some(("libstdc++6".into(), "12.3.0".into()))
        );
        assert_eq!(purl_name_version("pkg:"), None);
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%E2%82%AC"), "€");
    }
}
