//! Grype and CycloneDX reports through the public API: names, digests, flavors and
//! vulnerability counts checked against counts made here from the raw JSON, idempotent
//! re-imports, and broken reports refused whole.

use crate::support::{total, TestApp};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

const PATH: &str = "/api/v2/container_images";
const RANKS: [&str; 6] = ["unknown", "none", "low", "medium", "high", "critical"];

fn path(folder: &str, file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(folder)
        .join(file)
}

fn read(folder: &str, file: &str) -> (Vec<u8>, Value) {
    let bytes = std::fs::read(path(folder, file)).expect("fixture should be readable");
    let value = serde_json::from_slice(&bytes).expect("fixture should be JSON");
    (bytes, value)
}

/// What a fixture should become, written out by hand from the file.
struct Expected {
    folder: &'static str,
    file: &'static str,
    id: &'static str,
    tags: Value,
    architectures: Value,
    os_versions: Value,
    sizes: Value,
    source: &'static str,
}

fn expected() -> Vec<Expected> {
    vec![
        Expected {
            folder: "grype",
            file: "grype-0.94.0-busybox-1.32.1.grype.json",
            id: "docker.io/library/busybox@sha256:ae39a6f5c07297d7ab64dbd4f82c77c874cc6a94cea29fdec309d0992574b4f7",
            tags: json!(["1.32.1"]),
            architectures: json!(["amd64"]),
            os_versions: json!(["1.32.1"]),
            sizes: json!([1231733]),
            source: "grype",
        },
        Expected {
            folder: "grype",
            file: "grype-0.66.0-keycloak-21.0.2.grype.json",
            id: "docker.io/keycloak/keycloak@sha256:347a0d748d05a050dc64b92de2246d2240db6eb38afbc17c3c08d0acb0db1b50",
            tags: json!(["21.0.2"]),
            architectures: json!(["amd64"]),
            os_versions: json!(["9.1"]),
            sizes: json!([433836339]),
            source: "grype",
        },
        Expected {
            folder: "grype",
            file: "grype-xjoin-kafka-connect-strimzi-latest.grype.json",
            id: "quay.io/cloudservices/xjoin-kafka-connect-strimzi@sha256:97e6d5aeed19f627205b218f45b284cd01ff658dd181416ab1d3e21aeb28d68e",
            tags: json!(["latest"]),
            architectures: json!(["amd64"]),
            os_versions: json!(["8.7"]),
            sizes: json!([600089566]),
            source: "grype",
        },
        Expected {
            folder: "grype",
            file: "grype-0.7.0-defectdojo-django-1.13.1.grype.json",
            id: "docker.io/defectdojo/defectdojo-django@sha256:6132ee54d5553df52183325a70c37c1edbd028b86616ed57e3e0622809235e47",
            tags: json!(["1.13.1"]),
            architectures: json!([]),
            os_versions: json!([]),
            sizes: json!([]),
            source: "grype",
        },
        Expected {
            folder: "cyclonedx",
            file: "trivy-0.48.1-ubuntu-latest.cdx-1.5.json",
            id: "docker.io/library/ubuntu@sha256:6042500cf4b44023ea1894effe7890666b0c5c7871ed83a97c36c76ae560bb9b",
            tags: json!(["latest"]),
            architectures: json!([]),
            os_versions: json!([]),
            sizes: json!([]),
            source: "cyclonedx",
        },
        Expected {
            folder: "cyclonedx",
            file: "trivy-fluentd-multiple-lockfiles.cdx-1.7.json",
            id: "fluentd-multiple-lockfiles@sha256:5a992077baba51b97f27591a10d54d2f2723dc9c81a3fe419e261023f2554933",
            tags: json!([]),
            architectures: json!([]),
            os_versions: json!([]),
            sizes: json!([]),
            source: "cyclonedx",
        },
    ]
}

fn rank(severity: &str) -> usize {
    RANKS.iter().position(|s| *s == severity).unwrap_or(0)
}

/// Grype's label, lowercased; negligible is none; a missing or unfamiliar label is unknown.
fn grype_severity(label: Option<&str>) -> String {
    let label = label.unwrap_or("unknown").to_lowercase();
    match label.as_str() {
        "negligible" => "none".into(),
        l if RANKS.contains(&l) => label,
        _ => "unknown".into(),
    }
}

/// A CycloneDX rating: its label, else its CVSS score in the v3 bands.
fn rating_severity(rating: &Value) -> String {
    let label = rating["severity"].as_str().unwrap_or("").to_lowercase();
    match label.as_str() {
        "info" | "none" => return "none".into(),
        "critical" | "high" | "medium" | "low" => return label,
        _ => {}
    }
    match rating["score"].as_f64() {
        Some(s) if s >= 9.0 => "critical",
        Some(s) if s >= 7.0 => "high",
        Some(s) if s >= 4.0 => "medium",
        Some(s) if s >= 0.1 => "low",
        Some(_) => "none",
        None => "unknown",
    }
    .into()
}

/// The vulnerability's own source's best rating, else the best of all.
fn cyclonedx_severity(vulnerability: &Value) -> String {
    let ratings: Vec<&Value> = vulnerability["ratings"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let own = vulnerability["source"]["name"].as_str();
    let best = |only_own: bool| {
        ratings
            .iter()
            .filter(|r| !only_own || (own.is_some() && r["source"]["name"].as_str() == own))
            .map(|r| rating_severity(r))
            .max_by_key(|s| rank(s))
    };
    best(true)
        .filter(|s| s != "unknown")
        .or_else(|| best(false))
        .unwrap_or_else(|| "unknown".into())
}

/// (id, package, version, severity) of every finding in a raw report.
fn raw_findings(report: &Value) -> Vec<(String, String, String, String)> {
    if let Some(matches) = report["matches"].as_array() {
        return matches
            .iter()
            .map(|m| {
                (
                    m["vulnerability"]["id"].as_str().unwrap().to_string(),
                    m["artifact"]["name"].as_str().unwrap().to_string(),
                    m["artifact"]["version"].as_str().unwrap_or("").to_string(),
                    grype_severity(m["vulnerability"]["severity"].as_str()),
                )
            })
            .collect();
    }
    let components: BTreeMap<&str, &Value> = report["components"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| (c["bom-ref"].as_str().unwrap(), c))
        .collect();
    let mut findings = Vec::new();
    for v in report["vulnerabilities"].as_array().into_iter().flatten() {
        for affects in v["affects"].as_array().into_iter().flatten() {
            let reference = affects["ref"].as_str().unwrap();
            let package = match components.get(reference) {
                Some(c) => c["name"].as_str().unwrap().to_string(),
                // pkg:deb/debian/tar@1.30%2Bdfsg-6?… names the package after the last '/'.
                None => reference
                    .split('@')
                    .next()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .into(),
            };
            let version = affects["versions"][0]["version"]
                .as_str()
                .unwrap()
                .to_string();
            findings.push((
                v["id"].as_str().unwrap().to_string(),
                package,
                version,
                cyclonedx_severity(v),
            ));
        }
    }
    findings
}

/// Counts by severity over distinct (id, package, version), the highest severity winning.
fn independent_counts(report: &Value) -> BTreeMap<String, i64> {
    let mut seen: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for (id, package, version, severity) in raw_findings(report) {
        let slot = seen
            .entry((id, package, version))
            .or_insert(severity.clone());
        if rank(&severity) > rank(slot) {
            *slot = severity;
        }
    }
    let mut counts = BTreeMap::new();
    for severity in seen.into_values() {
        *counts.entry(severity).or_insert(0) += 1;
    }
    counts
}

fn served_counts(item: &Value) -> BTreeMap<String, i64> {
    RANKS
        .iter()
        .filter_map(|s| {
            let n = item["attributes"]["vulnerability_count"][s]
                .as_i64()
                .unwrap();
            (n > 0).then(|| (s.to_string(), n))
        })
        .collect()
}

fn list_or_empty(value: &Value) -> Value {
    if value.is_null() {
        json!([])
    } else {
        value.clone()
    }
}

#[tokio::test]
async fn each_grype_and_cyclonedx_fixture_is_one_record_counted_independently() {
    let app = TestApp::new().await;
    for e in expected() {
        let (bytes, _) = read(e.folder, e.file);
        app.import_bytes(&bytes, &[])
            .await
            .unwrap_or_else(|err| panic!("{}: {err}", e.file));
    }
    let (_, all) = app.get(PATH).await;
    assert_eq!(total(&all), expected().len() as u64, "{all}");

    for e in expected() {
        let (_, report) = read(e.folder, e.file);
        let item = all["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == e.id)
            .unwrap_or_else(|| panic!("{}: no record {} in {all}", e.file, e.id));
        let a = &item["attributes"];
        let digest = e.id.split_once('@').unwrap().1;
        assert_eq!(a["image_tags"], e.tags, "{}", e.file);
        assert_eq!(
            list_or_empty(&a["os_architectures"]),
            e.architectures,
            "{}",
            e.file
        );
        assert_eq!(
            list_or_empty(&a["os_versions"]),
            e.os_versions,
            "{}",
            e.file
        );
        assert_eq!(list_or_empty(&a["sizes"]), e.sizes, "{}", e.file);
        assert_eq!(a["sources"], json!([e.source]), "{}", e.file);
        let tags: Vec<&str> = a["tags"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        if a.get("repo_digest").is_some() {
            assert_eq!(a["repo_digest"], digest, "{}", e.file);
        } else {
            assert!(
                tags.contains(&format!("image_id:{digest}").as_str()),
                "{}: {tags:?}",
                e.file
            );
        }
        assert_eq!(
            served_counts(item),
            independent_counts(&report),
            "{}",
            e.file
        );
        assert!(
            !served_counts(item).is_empty(),
            "{}: the fixture has findings",
            e.file
        );
    }
}

#[tokio::test]
async fn the_grype_severities_of_every_era_reach_their_buckets() {
    let app = TestApp::new().await;
    let (bytes, _) = read("grype", "grype-0.7.0-defectdojo-django-1.13.1.grype.json");
    app.import_bytes(&bytes, &[]).await.unwrap();
    let (bytes, _) = read(
        "grype",
        "grype-xjoin-kafka-connect-strimzi-latest.grype.json",
    );
    app.import_bytes(&bytes, &[]).await.unwrap();

    let (_, body) = app
        .get(&format!(
            "{PATH}?filter[tags]=short_image:defectdojo-django"
        ))
        .await;
    let counts = served_counts(&body["data"][0]);
    assert!(
        counts["none"] > 0 && counts["unknown"] > 0,
        "negligible and unknown: {counts:?}"
    );
    let (_, body) = app
        .get(&format!(
            "{PATH}?filter[tags]=short_image:xjoin-kafka-connect-strimzi"
        ))
        .await;
    assert_eq!(
        served_counts(&body["data"][0])["unknown"],
        1,
        "the match without severity"
    );
}

#[tokio::test]
async fn reimporting_a_grype_or_cyclonedx_file_changes_nothing() {
    let app = TestApp::new().await;
    for e in expected() {
        app.import_bytes(&read(e.folder, e.file).0, &[])
            .await
            .unwrap();
    }
    let seq = app.store.change_seq(app.org.id).await.unwrap();
    let (_, before) = app.get(PATH).await;
    for e in expected() {
        let outcome = app
            .import_bytes(&read(e.folder, e.file).0, &[])
            .await
            .unwrap();
        assert_eq!(outcome.store, Default::default(), "{}", e.file);
    }
    assert_eq!(app.store.change_seq(app.org.id).await.unwrap(), seq);
    let (_, after) = app.get(PATH).await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn broken_grype_and_cyclonedx_reports_are_refused_whole() {
    let app = TestApp::new().await;
    let (grype, grype_doc) = read("grype", "grype-0.94.0-busybox-1.32.1.grype.json");
    let (cdx, cdx_doc) = read("cyclonedx", "trivy-fluentd-multiple-lockfiles.cdx-1.7.json");
    let mut no_artifact_name = grype_doc.clone();
    no_artifact_name["matches"][0]["artifact"]
        .as_object_mut()
        .unwrap()
        .remove("name");
    let mut no_identity = grype_doc.clone();
    no_identity["source"]["target"]["imageID"] = Value::Null;
    no_identity["source"]["target"]["repoDigests"] = json!([]);
    let mut not_a_container = cdx_doc.clone();
    not_a_container["metadata"]["component"]["type"] = json!("application");
    let mut no_id = cdx_doc.clone();
    no_id["vulnerabilities"][2]
        .as_object_mut()
        .unwrap()
        .remove("id");
    let (centos, _) = read("cyclonedx", "trivy-centos-7.cdx-1.4.json");

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated grype",
            grype[..grype.len() / 2].to_vec(),
            "not a JSON document",
        ),
        (
            "truncated cyclonedx",
            cdx[..cdx.len() / 3].to_vec(),
            "not a JSON document",
        ),
        (
            "match without artifact name",
            serde_json::to_vec(&no_artifact_name).unwrap(),
            "matches[0]",
        ),
        (
            "grype without identity",
            serde_json::to_vec(&no_identity).unwrap(),
            "neither imageID nor repoDigests",
        ),
        (
            "not a container",
            serde_json::to_vec(&not_a_container).unwrap(),
            "type 'application'",
        ),
        (
            "vulnerability without id",
            serde_json::to_vec(&no_id).unwrap(),
            "vulnerabilities[2]",
        ),
        (
            "cyclonedx without identity",
            centos,
            "aquasecurity:trivy:ImageID",
        ),
        (
            "spdx",
            br#"{"spdxVersion": "SPDX-2.3"}"#.to_vec(),
            "Grype JSON",
        ),
    ];
    app.assert_refused(cases).await;
}
