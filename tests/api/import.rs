//! Importing reports: identity, multi-arch merge, folding, vulnerability counts, idempotency,
//! and files that must be refused whole.

use crate::support::{fixture, fixture_files, total, TestApp};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

const PATH: &str = "/api/v2/container_images";
const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000abc";
const ARM_ID: &str = "sha256:00000000000000000000000000000000000000000000000000000000000a4464";

/// Counts distinct (id, package, version) by severity, straight from a report's JSON.
fn independent_counts(reports: &[&Value]) -> BTreeMap<String, i64> {
    let mut seen: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for report in reports {
        for result in report["Results"].as_array().into_iter().flatten() {
            for v in result["Vulnerabilities"].as_array().into_iter().flatten() {
                let key = (
                    v["VulnerabilityID"].to_string(),
                    v["PkgName"].to_string(),
                    v["InstalledVersion"].to_string(),
                );
                seen.insert(key, v["Severity"].as_str().unwrap().to_lowercase());
            }
        }
    }
    let mut counts = BTreeMap::new();
    for severity in seen.into_values() {
        *counts.entry(severity).or_insert(0) += 1;
    }
    counts
}

fn served_counts(item: &Value) -> BTreeMap<String, i64> {
    ["critical", "high", "medium", "low", "none", "unknown"]
        .iter()
        .filter_map(|s| {
            let n = item["attributes"]["vulnerability_count"][s]
                .as_i64()
                .unwrap();
            (n > 0).then(|| (s.to_string(), n))
        })
        .collect()
}

#[tokio::test]
async fn each_fixture_becomes_one_record_with_independently_counted_vulnerabilities() {
    let app = TestApp::with_fixtures().await;
    for file in fixture_files() {
        let report: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let image_id = report["Metadata"]["ImageID"].as_str().unwrap();
        let (_, body) = app
            .get(&format!("{PATH}?filter[tags]=image_id:{image_id}"))
            .await;
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let items: Vec<&Value> = body["data"].as_array().unwrap().iter().collect();
        // alpine-310 and alpine-310-registry are one image under two names.
        let item = items
            .iter()
            .find(|i| {
                let id = i["id"].as_str().unwrap();
                match report["Metadata"]["RepoDigests"].as_array() {
                    Some(digests) => digests
                        .iter()
                        .any(|d| id.ends_with(d.as_str().unwrap().split('@').nth(1).unwrap())),
                    None => id.ends_with(image_id) && !id.starts_with("docker.io"),
                }
            })
            .unwrap_or_else(|| panic!("{name}: no record in {body}"));
        assert_eq!(
            served_counts(item),
            independent_counts(&[&report]),
            "{name}"
        );
        assert_eq!(
            item["attributes"]["vulnerability_count"]["asset_id"], item["id"],
            "{name}"
        );
        assert_eq!(item["attributes"]["sources"], json!(["trivy"]));
    }
}

#[tokio::test]
async fn identity_follows_repo_digests_then_image_ids() {
    let app = TestApp::with_fixtures().await;
    let (_, body) = app
        .get(&format!(
            "{PATH}?filter[tags]=image_name:docker.io/library/alpine"
        ))
        .await;
    let a = &body["data"][0]["attributes"];
    assert_eq!(body["data"][0]["id"], "docker.io/library/alpine@sha256:b1c5a500182b21d0bfa5a584a8526b56d8be316f89e87d951be04abed2446e60");
    assert_eq!(a["registry"], "docker.io");
    assert_eq!(a["repository"], "library/alpine");
    assert_eq!(a["short_image"], "alpine");
    assert_eq!(a["image_tags"], json!(["3.10"]));
    assert_eq!(a["os_versions"], json!(["3.10.2"]));

    let (_, body) = app
        .get(&format!("{PATH}?filter[tags]=image_tag:centos-7"))
        .await;
    let item = &body["data"][0];
    assert_eq!(item["id"], "ghcr.io/aquasecurity/trivy-test-images@sha256:f1cb7c7d58b73eac859c395882eec49d50651244e342cd6c68a5c7809785f427");
    assert!(
        item["attributes"].get("repo_digest").is_none(),
        "no repo digest known"
    );
    assert_eq!(item["attributes"]["sizes"], json!([209451008]));
    assert!(item["attributes"].get("published_at").is_none());

    let (_, body) = app
        .get(&format!("{PATH}?filter[tags]=image_name:amazon-2"))
        .await;
    let a = &body["data"][0]["attributes"];
    assert!(
        a.get("registry").is_none(),
        "a name from an archive file has no registry: {a}"
    );
    assert_eq!(a["os_versions"], json!(["2 (Karoo)"]));
    assert_eq!(a["images_built_at"], json!(["2019-05-23T22:20:00Z"]));

    let (_, body) = app
        .get(&format!(
            "{PATH}?filter[tags]=image_tag:sle-micro-rancher-5.4_ndb"
        ))
        .await;
    let counts = &body["data"][0]["attributes"]["vulnerability_count"];
    assert_eq!(
        counts["critical"], 0,
        "a scan that found nothing still has counts: {counts}"
    );
}

/// The alpine registry report, re-targeted at one index digest and one platform.
fn platform_report(
    arch: &str,
    variant: Option<&str>,
    image_id: &str,
    vulns: &[(&str, &str, &str)],
) -> Value {
    let mut report = fixture("alpine-310-registry.trivy.json");
    report["Metadata"]["RepoDigests"] = json!([format!("ghcr.io/acme/api@{DIGEST}")]);
    report["Metadata"]["RepoTags"] = json!(["ghcr.io/acme/api:1.0", "ghcr.io/acme/api:latest"]);
    report["Metadata"]["ImageID"] = json!(image_id);
    report["Metadata"]["ImageConfig"]["architecture"] = json!(arch);
    if let Some(variant) = variant {
        report["Metadata"]["ImageConfig"]["variant"] = json!(variant);
    }
    let vulnerabilities: Vec<Value> = vulns
        .iter()
        .map(|(id, pkg, severity)| json!({"VulnerabilityID": id, "PkgName": pkg, "InstalledVersion": "1.0", "Severity": severity}))
        .collect();
    report["Results"] = json!([{"Target": "x", "Class": "os-pkgs", "Type": "alpine", "Vulnerabilities": vulnerabilities}]);
    report
}

#[tokio::test]
async fn two_platforms_of_one_digest_make_one_record_with_two_flavors() {
    let app = TestApp::new().await;
    let amd = platform_report(
        "amd64",
        None,
        "sha256:961769676411f082461f9ef46626dd7a2d1e2b2a38e6a44364bcbecf51e66dd4",
        &[("CVE-1", "ssl", "CRITICAL"), ("CVE-2", "zlib", "LOW")],
    );
    let arm = platform_report(
        "arm64",
        Some("v8"),
        ARM_ID,
        &[("CVE-1", "ssl", "CRITICAL"), ("CVE-3", "musl", "HIGH")],
    );
    let arm7 = platform_report("arm", Some("v7"), &ARM_ID.replace("a4464", "a4467"), &[]);
    for report in [&amd, &arm, &arm7] {
        app.import_json(report, &[]).await.unwrap();
    }

    let (_, body) = app.get(PATH).await;
    assert_eq!(total(&body), 1, "{body}");
    let item = &body["data"][0];
    let a = &item["attributes"];
    assert_eq!(item["id"], format!("ghcr.io/acme/api@{DIGEST}"));
    assert_eq!(a["repo_digest"], DIGEST);
    assert_eq!(a["os_architectures"], json!(["amd64", "arm/v7", "arm64"]));
    assert_eq!(a["image_flavors"].as_array().unwrap().len(), 3);
    assert_eq!(a["image_tags"], json!(["1.0", "latest"]));
    assert_eq!(
        served_counts(item),
        independent_counts(&[&amd, &arm, &arm7])
    );
    assert_eq!(
        served_counts(item),
        BTreeMap::from([
            ("critical".into(), 1),
            ("high".into(), 1),
            ("low".into(), 1)
        ])
    );

    let (_, body) = app
        .get(&format!("{PATH}?filter[tags]=os_architecture:arm64"))
        .await;
    assert_eq!(total(&body), 1);
}

#[tokio::test]
async fn an_image_id_record_folds_into_the_digest_record_that_links_it() {
    let app = TestApp::new().await;
    let mut bare = platform_report("amd64", None, ARM_ID, &[("CVE-9", "ssl", "MEDIUM")]);
    bare["Metadata"]["RepoDigests"] = Value::Null;
    app.import_json(&bare, &[]).await.unwrap();
    let (_, body) = app.get(PATH).await;
    assert_eq!(
        crate::support::ids(&body),
        vec![format!("ghcr.io/acme/api@{ARM_ID}")]
    );

    let linked = platform_report("amd64", None, ARM_ID, &[("CVE-9", "ssl", "MEDIUM")]);
    let outcome = app.import_json(&linked, &[]).await.unwrap();
    assert_eq!(
        (outcome.store.images_created, outcome.store.images_removed),
        (1, 1)
    );
    let (_, body) = app.get(PATH).await;
    assert_eq!(
        crate::support::ids(&body),
        vec![format!("ghcr.io/acme/api@{DIGEST}")]
    );
    let (_, body) = app
        .get(&format!("{PATH}?filter[tags]=image_id:{ARM_ID}"))
        .await;
    assert_eq!(total(&body), 1, "the image id stays as an alias");
    assert_eq!(
        body["data"][0]["attributes"]["vulnerability_count"]["medium"],
        1
    );
}

#[tokio::test]
async fn reimporting_the_same_file_changes_nothing() {
    let app = TestApp::with_fixtures().await;
    let seq = app.store.change_seq(app.org.id).await.unwrap();
    let (_, before) = app.get(PATH).await;
    for file in fixture_files() {
        let outcome = app
            .import_bytes(&std::fs::read(&file).unwrap(), &[])
            .await
            .unwrap();
        assert_eq!(outcome.store, Default::default(), "{}", file.display());
    }
    assert_eq!(app.store.change_seq(app.org.id).await.unwrap(), seq);
    let (_, after) = app.get(PATH).await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn broken_and_foreign_files_are_refused_whole() {
    let app = TestApp::new().await;
    let good = serde_json::to_vec(&fixture("centos-7.trivy.json")).unwrap();
    let mut bad_name = fixture("alpine-310-registry.trivy.json");
    bad_name["Metadata"]["RepoTags"] = json!(["alpine:3.10", "Not A Reference"]);
    let mut filesystem = fixture("centos-7.trivy.json");
    filesystem["ArtifactType"] = json!("filesystem");
    let mut anonymous = fixture("amazon-2.trivy.json");
    anonymous["Metadata"]["ImageID"] = Value::Null;

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            "not a JSON document",
        ),
        (
            "foreign",
            br#"{"bomFormat": "SPDX"}"#.to_vec(),
            "not a supported report",
        ),
        (
            "not json",
            b"\x00\x01binary".to_vec(),
            "not a JSON document",
        ),
        (
            "bad reference",
            serde_json::to_vec(&bad_name).unwrap(),
            "Not A Reference",
        ),
        (
            "filesystem scan",
            serde_json::to_vec(&filesystem).unwrap(),
            "ArtifactType 'filesystem'",
        ),
        (
            "no identity",
            serde_json::to_vec(&anonymous).unwrap(),
            "neither Metadata.ImageID nor",
        ),
        (
            "schema 1",
            br#"{"SchemaVersion": 1, "ArtifactName": "x", "ArtifactType": "container_image"}"#
                .to_vec(),
            "SchemaVersion 1",
        ),
    ];
    app.assert_refused(cases).await;
}

#[test]
fn the_import_command_reports_bad_files_and_imports_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    std::fs::create_dir(&reports).unwrap();
    for name in ["centos-7.trivy.json", "photon-30.trivy.json"] {
        std::fs::copy(
            crate::support::fixtures_dir().join(name),
            reports.join(name),
        )
        .unwrap();
    }
    std::fs::write(reports.join("broken.json"), "{\"SchemaVersion\": 2,").unwrap();
    // A link loop is not followed: each file is imported once and the walk ends.
    std::os::unix::fs::symlink("..", reports.join("up")).unwrap();
    std::os::unix::fs::symlink(".", reports.join("self")).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_imagedex"))
            .args(args)
            .env("IMAGEDEX_DATABASE_URL", dir.path().join("cli.db"))
            .env("RUST_LOG", "off")
            .output()
            .expect("imagedex should run")
    };

    let out = run(&[
        "import",
        "--tag",
        "team:payments",
        reports.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a bad file makes the exit code non-zero"
    );
    assert!(
        stderr.contains("broken.json") && stderr.contains("not a JSON document"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("3 file(s): 1 failed; images created 2"),
        "{stdout}"
    );

    let out = run(&[
        "import",
        "--tag",
        "team:payments",
        reports.join("centos-7.trivy.json").to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("unchanged"));

    let out = run(&["keys", "create", "--json"]);
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    let keys: Value = serde_json::from_str(&line).unwrap();
    let expected = format!(
        "{{\"org\": \"default\", \"api_key\": {}, \"app_key\": {}}}\n",
        keys["api_key"], keys["app_key"]
    );
    assert_eq!(line, expected);
    let set: BTreeSet<usize> = [
        keys["api_key"].as_str().unwrap().len(),
        keys["app_key"].as_str().unwrap().len(),
    ]
    .into();
    assert_eq!(set, BTreeSet::from([32, 40]));

    let out = run(&["import", "--tag", "my team:x", reports.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("usable in filters"));
    let out = run(&["import", "/dev/null"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file"));

    let out = run(&["import", "--org", "nosuch", reports.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("organisation 'nosuch' does not exist"));
}

#[tokio::test]
async fn odd_values_in_a_report_never_break_the_organisation() {
    let app = TestApp::new().await;
    let mut empty_os = fixture("centos-7.trivy.json");
    empty_os["Metadata"]["ImageConfig"]["os"] = json!("");
    let err = app.import_json(&empty_os, &[]).await.unwrap_err();
    assert!(err.contains("empty os or architecture"), "{err}");

    let mut odd = fixture("centos-7.trivy.json");
    odd["Metadata"]["ImageConfig"]["architecture"] = json!("AMD64,team:evil\n");
    app.import_json(&odd, &[]).await.unwrap();
    let mut archive = fixture("amazon-2.trivy.json");
    archive["ArtifactName"] = json!("images/a,b.tar");
    app.import_json(&archive, &[]).await.unwrap();

    for query in [
        "",
        "?group_by=os_architecture",
        "?group_by=image_name",
        "?filter[tags]=os_architecture:amd64_team:evil",
    ] {
        let (status, body) = app.get(&format!("{PATH}{query}")).await;
        assert_eq!(status, axum::http::StatusCode::OK, "{query}: {body}");
        assert!(total(&body) >= 1, "{query}: {body}");
    }
}
