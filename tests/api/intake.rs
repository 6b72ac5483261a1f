//! The Datadog Agent intake, `POST /api/v2/contimage`: payloads built with imagedex's own
//! protobuf structs, compressed every way the agent does, read back through the query API.

use crate::support::{total, TestApp};
use axum::http::StatusCode;
use imagedex_ingest::agent::proto::{
    ContainerImage, ContainerImageLayer, ContainerImagePayload, LayerHistory, OperatingSystem,
    Timestamp,
};
use prost::Message;
use serde_json::{json, Value};
use std::io::Write;

const INTAKE: &str = "/api/v2/contimage";
const LIST: &str = "/api/v2/container_images?sort=name";
/// The index digest `nginx:1.27` and `nginx:latest` point to, and its two platform images.
const NGINX_INDEX: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const NGINX_AMD64: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const NGINX_ARM64: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const AGENT_MANIFEST: &str =
    "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const AGENT_ID: &str = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
const OTHER_REPO_DIGEST: &str =
    "sha256:3333333333333333333333333333333333333333333333333333333333333333";
/// 2026-11-01T12:00:00Z.
const BUILT: i64 = 1_793_534_400;

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

fn linux(architecture: &str) -> Option<OperatingSystem> {
    Some(OperatingSystem {
        name: "linux".into(),
        version: String::new(),
        architecture: architecture.into(),
    })
}

fn layer(seconds: i64) -> ContainerImageLayer {
    ContainerImageLayer {
        urls: Vec::new(),
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
        digest: NGINX_INDEX.replace('1', "4"),
        size: 30_000_000,
        history: Some(LayerHistory {
            created: Some(Timestamp { seconds, nanos: 0 }),
            created_by: "/bin/sh -c #(nop) ADD file:… in /".into(),
            author: String::new(),
            comment: String::new(),
            empty_layer: false,
        }),
    }
}

/// What two hosts' agents could send in one payload: `nginx` pulled on an amd64 host with
/// Docker (familiar names) and on an arm64 host with containerd (canonical names), plus the
/// Datadog Agent's own image, known under two repositories.
fn payload() -> ContainerImagePayload {
    ContainerImagePayload {
        version: "v1".into(),
        host: "node-1".into(),
        source: Some("agent".into()),
        images: vec![
            ContainerImage {
                id: format!("nginx@{NGINX_AMD64}"),
                name: "nginx".into(),
                registry: String::new(),
                short_name: "nginx".into(),
                repo_tags: strings(&["1.27", "latest"]),
                digest: NGINX_AMD64.into(),
                size: 72_000_000,
                repo_digests: vec![format!("nginx@{NGINX_INDEX}")],
                os: linux("amd64"),
                layers: vec![layer(BUILT)],
                built_at: Some(Timestamp {
                    seconds: BUILT,
                    nanos: 500,
                }),
                dd_tags: strings(&[
                    "image_name:nginx",
                    "short_image:nginx",
                    "image_tag:1.27",
                    "image_id:nginx@sha256:aaaa",
                    "env:prod",
                    "Team:Web",
                    "no-colon",
                    "*:x",
                ]),
                published_at: None,
            },
            ContainerImage {
                id: format!("docker.io/library/nginx@{NGINX_ARM64}"),
                name: "docker.io/library/nginx".into(),
                registry: String::new(),
                short_name: "nginx".into(),
                repo_tags: strings(&["1.27"]),
                digest: NGINX_ARM64.into(),
                size: 68_000_000,
                repo_digests: vec![format!("docker.io/library/nginx@{NGINX_INDEX}")],
                os: linux("arm64"),
                layers: vec![layer(BUILT + 60)],
                built_at: Some(Timestamp {
                    seconds: BUILT + 60,
                    nanos: 0,
                }),
                dd_tags: strings(&["env:prod"]),
                published_at: None,
            },
            ContainerImage {
                id: format!("gcr.io/datadoghq/agent@{AGENT_ID}"),
                name: "gcr.io/datadoghq/agent".into(),
                registry: "gcr.io".into(),
                short_name: "agent".into(),
                repo_tags: strings(&["7.60.0"]),
                digest: AGENT_ID.into(),
                size: 180_000_000,
                repo_digests: vec![
                    format!("gcr.io/datadoghq/agent@{AGENT_MANIFEST}"),
                    format!("datadog/agent@{OTHER_REPO_DIGEST}"),
                ],
                os: Some(OperatingSystem {
                    name: "linux".into(),
                    version: "ubuntu 24.04".into(),
                    architecture: "amd64".into(),
                }),
                layers: Vec::new(),
                built_at: None,
                dd_tags: strings(&["service:datadog-agent", "git.commit.sha:abc123"]),
                published_at: None,
            },
        ],
    }
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 1).unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// 100 MiB of zeros as one zstd frame, written in pieces; `declared` puts the size in the
/// frame header.
fn zstd_bomb(declared: bool) -> Vec<u8> {
    const MIB: usize = 1 << 20;
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    if declared {
        encoder
            .set_pledged_src_size(Some(100 * MIB as u64))
            .unwrap();
    }
    let zeros = vec![0u8; MIB];
    for _ in 0..100 {
        encoder.write_all(&zeros).unwrap();
    }
    encoder.finish().unwrap()
}

fn gzip_bomb() -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..70 {
        encoder.write_all(&zeros).unwrap();
    }
    encoder.finish().unwrap()
}

impl TestApp {
    /// POSTs to the intake as the agent does, with this app's API key.
    async fn send(&self, encoding: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
        let mut headers = vec![
            ("DD-API-KEY", self.keys.api_key.as_str()),
            ("Content-Type", "application/x-protobuf"),
            ("DD-EVP-ORIGIN", "agent"),
            ("User-Agent", "datadog-agent/7.60.0"),
        ];
        if let Some(encoding) = encoding {
            headers.push(("Content-Encoding", encoding));
        }
        self.post_with(INTAKE, &headers, body).await
    }

    async fn listed(&self) -> Value {
        let (status, body) = self.get(LIST).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

fn strs(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{value} should be an array"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

fn check_records(listed: &Value) {
    assert_eq!(total(listed), 2, "{listed}");
    let data = listed["data"].as_array().unwrap();

    let nginx = &data[0];
    assert_eq!(
        nginx["id"],
        format!("docker.io/library/nginx@{NGINX_INDEX}")
    );
    let a = &nginx["attributes"];
    assert_eq!(a["name"], "docker.io/library/nginx");
    assert_eq!(a["repo_digest"], NGINX_INDEX);
    assert_eq!(strs(&a["image_tags"]), ["1.27", "latest"]);
    assert_eq!(strs(&a["sources"]), ["agent"]);
    assert_eq!(strs(&a["os_architectures"]), ["amd64", "arm64"]);
    assert_eq!(
        a["image_flavors"],
        json!([
            {"built_at": "2026-11-01T12:00:00Z", "os_architecture": "amd64", "os_name": "linux",
             "size": 72_000_000},
            {"built_at": "2026-11-01T12:01:00Z", "os_architecture": "arm64", "os_name": "linux",
             "size": 68_000_000}
        ]),
        "{a}"
    );
    let tags = strs(&a["tags"]);
    let (amd64_id, arm64_id) = (
        format!("image_id:{NGINX_AMD64}"),
        format!("image_id:{NGINX_ARM64}"),
    );
    for expected in [
        "env:prod",
        "team:web",
        "image_name:docker.io/library/nginx",
        "short_image:nginx",
        "image_tag:latest",
        "source:agent",
        amd64_id.as_str(),
        arm64_id.as_str(),
    ] {
        assert!(tags.contains(&expected), "{expected} missing in {tags:?}");
    }
    // The agent's unnormalised spellings of derived tags, and malformed tags, are dropped.
    for dropped in ["image_name:nginx", "image_id:nginx@sha256:aaaa", "no-colon"] {
        assert!(!tags.contains(&dropped), "{dropped} kept in {tags:?}");
    }

    let agent = &data[1];
    assert_eq!(
        agent["id"],
        format!("gcr.io/datadoghq/agent@{AGENT_MANIFEST}")
    );
    let a = &agent["attributes"];
    assert_eq!(a["registry"], "gcr.io");
    assert_eq!(a["short_image"], "agent");
    assert_eq!(strs(&a["image_tags"]), ["7.60.0"]);
    assert_eq!(strs(&a["os_versions"]), ["ubuntu 24.04"]);
    assert!(strs(&a["tags"]).contains(&"service:datadog-agent"), "{a}");
    assert!(a["vulnerability_count"].is_null(), "{a}");
}

#[tokio::test]
async fn every_encoding_the_agent_uses_lands_the_same_records() {
    let encoded = payload().encode_to_vec();
    let mut first: Option<Value> = None;
    for (encoding, body) in [
        (Some("zstd"), zstd(&encoded)),
        (Some("gzip"), gzip(&encoded)),
        (Some("deflate"), zlib(&encoded)),
        (Some("identity"), encoded.clone()),
        (None, encoded.clone()),
        (Some(" ZSTD "), zstd(&encoded)),
    ] {
        let app = TestApp::new().await;
        let (status, answer) = app.send(encoding, body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{encoding:?}: {answer}");
        assert_eq!(answer, json!({"errors": []}));

        let listed = app.listed().await;
        check_records(&listed);
        match &first {
            None => first = Some(listed),
            Some(first) => assert_eq!(first, &listed, "{encoding:?}"),
        }
    }
}

#[tokio::test]
async fn the_same_payload_again_changes_nothing() {
    let app = TestApp::new().await;
    let body = zstd(&payload().encode_to_vec());
    let (status, _) = app.send(Some("zstd"), body.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let before = app.listed().await;
    let changes_before = app.store.change_seq(app.org.id).await.unwrap();

    let (status, _) = app.send(Some("zstd"), body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(app.listed().await, before);
    assert_eq!(
        app.store.change_seq(app.org.id).await.unwrap(),
        changes_before,
        "a repeat wrote to the change feed"
    );
}

#[tokio::test]
async fn images_without_identity_are_skipped_not_the_payload() {
    let app = TestApp::new().await;
    let mut payload = payload();
    payload.images.push(ContainerImage {
        name: "busybox".into(),
        digest: "not-a-digest".into(),
        ..ContainerImage::default()
    });
    payload.images.push(ContainerImage {
        name: "Not A Name".into(),
        digest: AGENT_ID.into(),
        ..ContainerImage::default()
    });
    payload.images.push(ContainerImage {
        id: format!("quay.io/org/tool@{AGENT_ID}"),
        ..ContainerImage::default()
    });

    let (status, _) = app.send(None, payload.encode_to_vec()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let listed = app.listed().await;
    assert_eq!(total(&listed), 3, "{listed}");
    // An image known by its image id alone is keyed by it, named from `id`.
    let (_, tool) = app
        .get("/api/v2/container_images?filter[tags]=short_image:tool")
        .await;
    assert_eq!(
        tool["data"][0]["id"],
        format!("quay.io/org/tool@{AGENT_ID}"),
        "{tool}"
    );
}

#[tokio::test]
async fn the_connectivity_probe_is_accepted_and_stores_nothing() {
    let app = TestApp::new().await;
    let (status, answer) = app
        .post_with(
            INTAKE,
            &[
                ("DD-API-KEY", &app.keys.api_key),
                ("Content-Type", "application/json"),
            ],
            "{}",
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(total(&app.listed().await), 0);

    let (status, _) = app
        .post_with(
            INTAKE,
            &[
                ("DD-API-KEY", &app.keys.api_key),
                ("Content-Type", "application/json"),
            ],
            r#"{"images": []}"#,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// A case, the `Content-Encoding`, the body, the status and a part of the message.
type Refusal = (
    &'static str,
    Option<&'static str>,
    Vec<u8>,
    StatusCode,
    &'static str,
);

#[tokio::test]
async fn bodies_that_can_never_succeed_are_refused_and_store_nothing() {
    let app = TestApp::new().await;
    let encoded = payload().encode_to_vec();
    let cases: Vec<Refusal> = vec![
        (
            "truncated",
            None,
            encoded[..encoded.len() / 2].to_vec(),
            StatusCode::BAD_REQUEST,
            "not a ContainerImagePayload",
        ),
        (
            "truncated zstd",
            Some("zstd"),
            zstd(&encoded)[..20].to_vec(),
            StatusCode::BAD_REQUEST,
            "not valid zstd",
        ),
        (
            "zstd sent as gzip",
            Some("gzip"),
            zstd(&encoded),
            StatusCode::BAD_REQUEST,
            "not valid gzip",
        ),
        (
            "gzip sent as zstd",
            Some("zstd"),
            gzip(&encoded),
            StatusCode::BAD_REQUEST,
            "not valid zstd",
        ),
        (
            "unknown encoding",
            Some("br"),
            encoded.clone(),
            StatusCode::BAD_REQUEST,
            "unsupported Content-Encoding 'br'",
        ),
        (
            "zstd bomb",
            Some("zstd"),
            zstd_bomb(false),
            StatusCode::PAYLOAD_TOO_LARGE,
            "over the limit",
        ),
        (
            "zstd bomb with its size declared",
            Some("zstd"),
            zstd_bomb(true),
            StatusCode::PAYLOAD_TOO_LARGE,
            "over the limit",
        ),
        (
            "gzip bomb",
            Some("gzip"),
            gzip_bomb(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "over the limit",
        ),
        (
            "body over the limit",
            None,
            vec![0u8; 64 * 1024 * 1024 + 1],
            StatusCode::PAYLOAD_TOO_LARGE,
            "over the limit",
        ),
    ];
    for (case, encoding, body, expected, message) in cases {
        let (status, answer) = app.send(encoding, body).await;
        assert_eq!(status, expected, "{case}: {answer}");
        let error = answer["errors"][0].as_str().unwrap_or_default();
        assert!(error.contains(message), "{case}: {answer}");
        assert_eq!(total(&app.listed().await), 0, "{case} stored something");
    }
}

#[tokio::test]
async fn the_intake_needs_an_api_key_of_the_organisation() {
    let app = TestApp::new().await;
    let body = zstd(&payload().encode_to_vec());
    for headers in [
        vec![],
        vec![("DD-API-KEY", app.keys.app_key.as_str())],
        vec![("DD-API-KEY", "0123456789abcdef0123456789abcdef")],
    ] {
        let mut headers = headers;
        headers.push(("Content-Encoding", "zstd"));
        let (status, answer) = app.post_with(INTAKE, &headers, body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}");
        assert_eq!(answer, json!({"errors": ["Forbidden"]}));
    }
    assert_eq!(total(&app.listed().await), 0);
}
