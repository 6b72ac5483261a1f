//! `imagedex generate`: the dataset it writes is served like any other, with exactly the
//! number of images asked for, and writing it again changes nothing.

use crate::support::{total, TestApp};
use axum::http::StatusCode;
use serde_json::Value;
use std::process::Command;

const PATH: &str = "/api/v2/container_images";

#[tokio::test]
async fn a_generated_dataset_is_served_with_the_images_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("test.db");
    let generate = || {
        let out = Command::new(env!("CARGO_BIN_EXE_imagedex"))
            .args(["--database", database.to_str().unwrap()])
            .args([
                "generate", "--images", "300", "--seed", "7", "--batch", "100",
            ])
            .env("RUST_LOG", "off")
            .output()
            .expect("imagedex should run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        String::from_utf8(out.stdout).unwrap()
    };

    let stdout = generate();
    assert!(
        stdout.starts_with("generated 300 images (")
            && stdout.contains("into organisation 'bench'")
            && stdout.contains("records/s; images created 300, updated 0, removed 0"),
        "{stdout}"
    );
    let stdout = generate();
    assert!(
        stdout.contains("images created 0, updated 0, removed 0"),
        "the same seed writes the same data: {stdout}"
    );

    let app = TestApp::in_dir(dir, "bench").await;
    let (status, body) = app.get(PATH).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(total(&body), 300);

    let (_, body) = app.get(&format!("{PATH}?group_by=registry")).await;
    let groups = body["data"].as_array().unwrap();
    let counts: Vec<(&str, u64)> = groups
        .iter()
        .map(|g| {
            let registry = g["attributes"]["tags"]["registry"]
                .as_str()
                .unwrap_or_else(|| panic!("every generated image has a registry: {g}"));
            (registry, g["attributes"]["count"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(
        counts.iter().map(|(_, n)| n).sum::<u64>(),
        300,
        "{counts:?}"
    );
    assert!(counts.len() >= 3, "several registries: {counts:?}");
    for (registry, _) in &counts {
        let known = [
            "docker.io",
            "ghcr.io",
            "quay.io",
            "gcr.io",
            "public.ecr.aws",
            "registry.internal.example:5000",
        ];
        assert!(
            known.contains(registry) || registry.ends_with(".amazonaws.com"),
            "{registry}"
        );
    }

    // Generated counts are served and sortable like counted findings.
    let (_, body) = app
        .get(&format!(
            "{PATH}?sort=-vulnerability_count.high&page[size]=5"
        ))
        .await;
    let first: &Value = &body["data"][0]["attributes"];
    assert!(
        first["vulnerability_count"]["high"].as_i64().unwrap() > 0,
        "{first}"
    );
}
