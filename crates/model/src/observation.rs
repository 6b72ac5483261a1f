//! Observations and the identity and merge rules.
//!
//! An observation is what one source said about one image at one name: a scanner report for
//! one platform image, a registry manifest, an agent payload. Records are never written
//! directly; they are recomputed from all observations of a name, so the rules below are the
//! whole truth about identity:
//!
//! 1. An observation with a repo digest belongs to `<name>@<repo digest>`.
//! 2. One without a repo digest belongs to `<name>@<image id>`, unless another observation of
//!    the same name links that image id to a repo digest; then it folds into that record (when
//!    an image id is linked to several digests, the smallest digest wins, so the result does
//!    not depend on arrival order).
//! 3. Flavors are keyed by (os name, architecture); a field comes from the first source that
//!    knows it, in the order registry, agent, scanners.
//! 4. Vulnerabilities are counted once per (id, package, installed version) over every
//!    observation of the record; when two disagree on the severity, the highest known wins.
//! 5. A source that reports counts only (a dataset generator, a collector that pushes
//!    summaries) sets `vulnerability_counts`. The record then takes, per severity, the maximum
//!    of the count from rule 4 and each such observation's count, never their sum, so two
//!    sources describing the same image are not counted twice. A record has vulnerability
//!    counts when any of its observations has findings or counts.

use crate::record::{Flavor, ImageRecord, VulnerabilityCounts};
use crate::reference::ImageName;
use crate::tag::Tag;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What one source reported about one image at one name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// `trivy`, `registry`, `agent`, ...
    pub source: String,
    pub name: ImageName,
    /// The manifest or index digest the name's tags point to, when the source knows it.
    pub repo_digest: Option<String>,
    /// The config digest of the platform image, when the source knows it.
    pub image_id: Option<String>,
    pub image_tags: Vec<String>,
    pub flavor: Option<Flavor>,
    /// `Some` when a scanner looked at the image, even if it found nothing.
    pub findings: Option<Vec<Finding>>,
    /// Counts from a source that reports no individual findings (merge rule 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerability_counts: Option<VulnerabilityCounts>,
    pub custom_tags: Vec<Tag>,
    pub published_at: Option<DateTime<Utc>>,
}

/// One vulnerability in one installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub package: String,
    pub version: String,
    pub severity: Severity,
}

/// Severity buckets of Datadog's `vulnerability_count`, ordered from least to most telling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Unknown,
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl Observation {
    /// The storage key: one observation per source, name, digest, image id and platform.
    pub fn key(&self) -> String {
        let platform = self.flavor.as_ref().map_or(String::from("-"), |f| {
            format!("{}/{}", f.os_name, f.os_architecture)
        });
        format!(
            "{}|{}|{}|{}|{}",
            self.source,
            self.name,
            self.repo_digest.as_deref().unwrap_or("-"),
            self.image_id.as_deref().unwrap_or("-"),
            platform
        )
    }

    /// Whether this observation makes `other` redundant: same source, name and image id, and
    /// this one knows the repo digest that `other` did not.
    pub fn supersedes(&self, other: &Observation) -> bool {
        self.repo_digest.is_some()
            && other.repo_digest.is_none()
            && self.image_id.is_some()
            && self.source == other.source
            && self.name == other.name
            && self.image_id == other.image_id
    }
}

/// Where a source stands when two sources disagree on a flavor field.
fn source_rank(source: &str) -> u8 {
    match source {
        "registry" | "oci-layout" | "docker-archive" => 0,
        "agent" => 1,
        _ => 2,
    }
}

/// Merges every observation of one name (in one organisation) into records, sorted by id.
///
/// Observations without a repo digest and without an image id have no identity and are
/// ignored; parsers reject them before they get here.
pub fn merge_observations(observations: &[Observation]) -> Vec<ImageRecord> {
    let mut links: BTreeMap<&str, &str> = BTreeMap::new();
    for obs in observations {
        if let (Some(digest), Some(image_id)) = (&obs.repo_digest, &obs.image_id) {
            let entry = links.entry(image_id.as_str()).or_insert(digest.as_str());
            if digest.as_str() < *entry {
                *entry = digest.as_str();
            }
        }
    }

    // Group by (name, identity key); the flag says whether the key is a repo digest.
    let mut groups: BTreeMap<(String, &str), (bool, Vec<&Observation>)> = BTreeMap::new();
    for obs in observations {
        let (key, is_digest) = match (&obs.repo_digest, &obs.image_id) {
            (Some(digest), _) => (digest.as_str(), true),
            (None, Some(image_id)) => match links.get(image_id.as_str()) {
                Some(digest) => (*digest, true),
                None => (image_id.as_str(), false),
            },
            (None, None) => continue,
        };
        let group = groups
            .entry((obs.name.to_string(), key))
            .or_insert((is_digest, Vec::new()));
        group.1.push(obs);
    }

    groups
        .into_iter()
        .map(|((name, key), (is_digest, mut members))| {
            members.sort_by_key(|o| (source_rank(&o.source), o.key()));
            build_record(name, key, is_digest, &members)
        })
        .collect()
}

fn build_record(name: String, key: &str, is_digest: bool, members: &[&Observation]) -> ImageRecord {
    let image_name = &members[0].name;
    let mut image_ids = BTreeSet::new();
    let mut image_tags = BTreeSet::new();
    let mut sources = BTreeSet::new();
    let mut custom_tags = BTreeSet::new();
    let mut flavors: BTreeMap<(String, String), Flavor> = BTreeMap::new();
    let mut findings: Option<BTreeMap<(&str, &str, &str), Severity>> = None;
    let mut reported_counts: Option<VulnerabilityCounts> = None;
    let mut published_at: Option<DateTime<Utc>> = None;

    for obs in members {
        image_ids.extend(obs.image_id.iter().cloned());
        image_tags.extend(obs.image_tags.iter().cloned());
        sources.insert(obs.source.clone());
        custom_tags.extend(obs.custom_tags.iter().cloned());
        published_at = match (published_at, obs.published_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(flavor) = &obs.flavor {
            let slot = (flavor.os_name.clone(), flavor.os_architecture.clone());
            let merged = flavors.entry(slot).or_insert_with(|| flavor.clone());
            merged.os_version = merged
                .os_version
                .take()
                .or_else(|| flavor.os_version.clone());
            merged.size = merged.size.or(flavor.size);
            merged.built_at = merged.built_at.or(flavor.built_at);
        }
        if let Some(list) = &obs.findings {
            let set = findings.get_or_insert_with(BTreeMap::new);
            for f in list {
                let severity = set
                    .entry((&f.id, &f.package, &f.version))
                    .or_insert(f.severity);
                *severity = (*severity).max(f.severity);
            }
        }
        if let Some(counts) = &obs.vulnerability_counts {
            let merged = reported_counts.get_or_insert_with(VulnerabilityCounts::default);
            *merged = merged.max_each(counts);
        }
    }

    let vulnerabilities = findings.map(|set| {
        let mut counts = VulnerabilityCounts::default();
        for severity in set.values() {
            match severity {
                Severity::Critical => counts.critical += 1,
                Severity::High => counts.high += 1,
                Severity::Medium => counts.medium += 1,
                Severity::Low => counts.low += 1,
                Severity::None => counts.none += 1,
                Severity::Unknown => counts.unknown += 1,
            }
        }
        counts
    });
    let vulnerabilities = match (vulnerabilities, reported_counts) {
        (Some(counted), Some(reported)) => Some(counted.max_each(&reported)),
        (counted, reported) => counted.or(reported),
    };

    let mut record = ImageRecord {
        id: format!("{name}@{key}"),
        name,
        registry: image_name.registry.clone(),
        repository: image_name.repository.clone(),
        short_image: image_name.short_image().to_string(),
        repo_digest: is_digest.then(|| key.to_string()),
        image_ids: image_ids.into_iter().collect(),
        image_tags: image_tags.into_iter().collect(),
        flavors: flavors.into_values().collect(),
        sources: sources.into_iter().collect(),
        custom_tags: custom_tags.into_iter().collect(),
        container_count: 0,
        published_at,
        vulnerabilities,
        tags: Vec::new(),
    };
    record.derive_tags();
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const I1: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const I2: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn obs(
        digest: Option<&str>,
        image_id: &str,
        arch: &str,
        findings: &[(&str, Severity)],
    ) -> Observation {
        Observation {
            source: "trivy".into(),
            name: ImageName {
                registry: Some("ghcr.io".into()),
                repository: "acme/api".into(),
            },
            repo_digest: digest.map(str::to_string),
            image_id: Some(image_id.into()),
            image_tags: vec!["v1".into()],
            flavor: Some(Flavor {
                os_name: "linux".into(),
                os_architecture: arch.into(),
                os_version: None,
                size: Some(10),
                built_at: None,
            }),
            findings: Some(
                findings
                    .iter()
                    .map(|(id, severity)| Finding {
                        id: (*id).into(),
                        package: "openssl".into(),
                        version: "1.0".into(),
                        severity: *severity,
                    })
                    .collect(),
            ),
            custom_tags: vec![],
            published_at: None,
            vulnerability_counts: None,
        }
    }

    fn counts(critical: i64, high: i64, low: i64) -> VulnerabilityCounts {
        VulnerabilityCounts {
            critical,
            high,
            low,
            ..VulnerabilityCounts::default()
        }
    }

    #[test]
    fn two_platforms_of_one_digest_make_one_record_with_two_flavors() {
        let records = merge_observations(&[
            obs(Some(D1), I1, "amd64", &[("CVE-1", Severity::High)]),
            obs(
                Some(D1),
                I2,
                "arm64",
                &[("CVE-1", Severity::High), ("CVE-2", Severity::Low)],
            ),
        ]);
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(r.id, format!("ghcr.io/acme/api@{D1}"));
        assert_eq!(r.flavors.len(), 2);
        let counts = r.vulnerabilities.unwrap();
        assert_eq!((counts.high, counts.low, counts.total()), (1, 1, 2));
        assert_eq!(r.image_ids, vec![I1.to_string(), I2.to_string()]);
    }

    #[test]
    fn an_image_id_record_folds_into_the_digest_record_that_links_it() {
        let alone = merge_observations(&[obs(None, I1, "amd64", &[])]);
        assert_eq!(alone[0].id, format!("ghcr.io/acme/api@{I1}"));
        assert_eq!(alone[0].repo_digest, None);

        let folded =
            merge_observations(&[obs(None, I1, "amd64", &[]), obs(Some(D1), I1, "amd64", &[])]);
        assert_eq!(folded.len(), 1);
        assert_eq!(folded[0].repo_digest.as_deref(), Some(D1));
        assert!(folded[0]
            .tags
            .iter()
            .any(|t| t.to_string() == format!("image_id:{I1}")));
    }

    #[test]
    fn records_without_scanner_data_have_no_counts() {
        let mut o = obs(Some(D1), I1, "amd64", &[]);
        o.findings = None;
        assert_eq!(merge_observations(&[o])[0].vulnerabilities, None);
    }

    #[test]
    fn count_only_observations_give_a_record_counts() {
        let mut o = obs(Some(D1), I1, "amd64", &[]);
        o.findings = None;
        o.vulnerability_counts = Some(counts(2, 7, 0));
        let record = &merge_observations(&[o])[0];
        assert_eq!(record.vulnerabilities, Some(counts(2, 7, 0)));
    }

    #[test]
    fn counts_take_the_maximum_per_severity_and_never_the_sum() {
        // Findings give one high and one low; two count-only sources disagree.
        let scanned = obs(
            Some(D1),
            I1,
            "amd64",
            &[("CVE-1", Severity::High), ("CVE-2", Severity::Low)],
        );
        let mut first = obs(Some(D1), I2, "arm64", &[]);
        first.findings = None;
        first.vulnerability_counts = Some(counts(3, 0, 0));
        let mut second = first.clone();
        second.source = "collector".into();
        second.vulnerability_counts = Some(counts(1, 5, 0));

        let record = &merge_observations(&[scanned.clone(), first.clone(), second.clone()])[0];
        assert_eq!(record.vulnerabilities, Some(counts(3, 5, 1)));

        // The order of the observations does not matter.
        let reversed = &merge_observations(&[second, first, scanned])[0];
        assert_eq!(reversed.vulnerabilities, record.vulnerabilities);
    }

    #[test]
    fn an_observation_without_counts_serialises_as_before() {
        let mut o = obs(Some(D1), I1, "amd64", &[]);
        let json = serde_json::to_value(&o).unwrap();
        assert!(json.get("vulnerability_counts").is_none(), "{json}");
        let back: Observation = serde_json::from_value(json).unwrap();
        assert_eq!(back, o);

        o.vulnerability_counts = Some(counts(1, 0, 0));
        let back: Observation = serde_json::from_value(serde_json::to_value(&o).unwrap()).unwrap();
        assert_eq!(back, o);
    }
}
