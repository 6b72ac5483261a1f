//! The upload routes: reports and pushed image records, with `DD-API-KEY` alone.

use crate::support::{fixture_files, ids, total, TestApp};
use axum::http::StatusCode;
use serde_json::{json, Value};

const REPORTS: &str = "/api/imagedex/v1/reports";
const IMAGES: &str = "/api/imagedex/v1/images";
const DIGEST_A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const DIGEST_B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

impl TestApp {
    async fn upload(&self, uri: &str, body: impl Into<axum::body::Body>) -> (StatusCode, Value) {
        self.post_with(uri, &[("DD-API-KEY", &self.keys.api_key)], body)
            .await
    }
}

fn changed(answer: &Value) -> [u64; 4] {
    let a = &answer["data"]["attributes"];
    [
        "observations_changed",
        "images_created",
        "images_updated",
        "images_removed",
    ]
    .map(|k| {
        a[k].as_u64()
            .unwrap_or_else(|| panic!("{k} missing in {answer}"))
    })
}

#[tokio::test]
async fn a_report_upload_is_listed_with_its_tags_and_a_repeat_changes_nothing() {
    let app = TestApp::new().await;
    let report = std::fs::read(&fixture_files()[0]).unwrap();

    let (status, answer) = app
        .upload(
            &format!("{REPORTS}?tag=team:payments&tag=env:prod"),
            report.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["data"]["type"], "upload");
    let [obs_changed, created, updated, removed] = changed(&answer);
    assert!(obs_changed >= 1 && created >= 1, "{answer}");
    assert_eq!((updated, removed), (0, 0));

    let (_, listed) = app
        .get("/api/v2/container_images?filter[tags]=team:payments,env:prod")
        .await;
    assert_eq!(total(&listed), created, "{listed}");

    let (status, again) = app
        .upload(&format!("{REPORTS}?tag=team:payments&tag=env:prod"), report)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(changed(&again), [0, 0, 0, 0], "{again}");
}

#[tokio::test]
async fn uploads_need_an_api_key_of_their_own_organisation() {
    let app = TestApp::new().await;
    let (_, other_keys) = app.other_org("other").await;
    let report = std::fs::read(&fixture_files()[0]).unwrap();

    for headers in [
        vec![],
        vec![("DD-API-KEY", app.keys.app_key.as_str())],
        vec![("DD-API-KEY", "0123456789abcdef0123456789abcdef")],
    ] {
        for uri in [REPORTS, IMAGES] {
            let (status, body) = app.post_with(uri, &headers, report.clone()).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{uri} {headers:?}");
            assert_eq!(body, json!({"errors": ["Forbidden"]}));
        }
    }

    // Another organisation's key writes into that organisation only.
    let (status, _) = app
        .post_with(REPORTS, &[("DD-API-KEY", &other_keys.api_key)], report)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, mine) = app.get("/api/v2/container_images").await;
    assert_eq!(total(&mine), 0, "{mine}");
}

#[tokio::test]
async fn a_broken_upload_is_refused_with_its_reason_and_writes_nothing() {
    let app = TestApp::new().await;
    let report = std::fs::read(&fixture_files()[0]).unwrap();
    let cases: Vec<(String, Vec<u8>, StatusCode, &str)> = vec![
        (
            REPORTS.into(),
            report[..report.len() / 2].to_vec(),
            StatusCode::BAD_REQUEST,
            "not a JSON document",
        ),
        (
            REPORTS.into(),
            b"{\"hello\": 1}".to_vec(),
            StatusCode::BAD_REQUEST,
            "not a supported report",
        ),
        (
            format!("{REPORTS}?tag=*:x"),
            report.clone(),
            StatusCode::BAD_REQUEST,
            "tag '*:x'",
        ),
        (
            format!("{REPORTS}?team=payments"),
            report.clone(),
            StatusCode::BAD_REQUEST,
            "unknown query parameter 'team'",
        ),
        (
            format!("{REPORTS}?tag=registry:evil.io"),
            report.clone(),
            StatusCode::BAD_REQUEST,
            "derives from the image itself",
        ),
        (
            IMAGES.into(),
            json!({"images": [{"name": "redis", "image_id": DIGEST_B, "tags": ["source:x"]}]})
                .to_string()
                .into_bytes(),
            StatusCode::BAD_REQUEST,
            "images[0].tags",
        ),
        (
            IMAGES.into(),
            json!({"images": [
                {"name": "ghcr.io/acme/api", "repo_digest": DIGEST_A},
                {"name": "ghcr.io/acme/api", "repo_digest": "sha256:nothex"}
            ]})
            .to_string()
            .into_bytes(),
            StatusCode::BAD_REQUEST,
            "images[1].repo_digest",
        ),
        (
            REPORTS.into(),
            vec![b' '; imagedex_ingest::report::MAX_REPORT_BYTES + 1],
            StatusCode::PAYLOAD_TOO_LARGE,
            "over the limit",
        ),
    ];
    for (uri, body, expected_status, expected_message) in cases {
        let (status, answer) = app.upload(&uri, body).await;
        assert_eq!(status, expected_status, "{uri}: {answer}");
        let message = answer["errors"][0].as_str().unwrap_or_default();
        assert!(message.contains(expected_message), "{uri}: {message}");
    }
    let (_, listed) = app.get("/api/v2/container_images").await;
    assert_eq!(total(&listed), 0, "nothing was written: {listed}");

    let (status, answer) = app.get(REPORTS).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{answer}");
}

#[tokio::test]
async fn pushed_images_are_listed_as_pushed_and_a_repeat_changes_nothing() {
    let app = TestApp::new().await;
    let batch = json!({
        "source": "ci-inventory",
        "images": [
            {
                "name": "ghcr.io/acme/api", "repo_digest": DIGEST_A, "image_tags": ["1.4.2", "latest"],
                "os": "linux", "architecture": "amd64", "size": 41234567,
                "built_at": "2026-11-30T10:00:00Z", "published_at": "2026-11-30T10:05:00Z",
                "vulnerability_count": {"critical": 1, "high": 4},
                "tags": ["team:payments"]
            },
            {
                "name": "ghcr.io/acme/api", "repo_digest": DIGEST_A,
                "os": "linux", "architecture": "arm64", "size": 40000000
            },
            {"name": "redis", "image_id": DIGEST_B}
        ]
    })
    .to_string();

    let (status, answer) = app.upload(IMAGES, batch.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(changed(&answer), [3, 2, 0, 0], "{answer}");
    assert_eq!(answer["data"]["attributes"]["observations"], 3);

    let (_, listed) = app.get("/api/v2/container_images?sort=name").await;
    assert_eq!(
        ids(&listed),
        [
            format!("docker.io/library/redis@{DIGEST_B}"),
            format!("ghcr.io/acme/api@{DIGEST_A}"),
        ]
    );
    let api = &listed["data"][1]["attributes"];
    assert_eq!(api["image_tags"], json!(["1.4.2", "latest"]));
    assert_eq!(api["sources"], json!(["ci-inventory"]));
    assert_eq!(api["vulnerability_count"]["critical"], 1);
    assert_eq!(api["vulnerability_count"]["high"], 4);
    assert_eq!(api["published_at"], "2026-11-30T10:05:00Z");
    let arches: Vec<&str> = api["image_flavors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["os_architecture"].as_str().unwrap())
        .collect();
    assert_eq!(arches, ["amd64", "arm64"]);
    assert!(api["tags"]
        .as_array()
        .unwrap()
        .contains(&json!("team:payments")));

    let (_, again) = app.upload(IMAGES, batch).await;
    assert_eq!(changed(&again), [0, 0, 0, 0], "{again}");
}
