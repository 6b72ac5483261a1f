//! Compatibility with Datadog's official Python client: the real client, against the real
//! server on a loopback port, asserting on the parsed models (`tests/python/e2e_client.py`).

use crate::support::{fixtures_dir, skip, TestApp};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `IMAGEDEX_PYTHON`, else the project's `.venv` (made by `.ci/run`), when it has the client.
fn python_with_client() -> Option<PathBuf> {
    let candidate = match std::env::var_os("IMAGEDEX_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".venv")
            .join("bin")
            .join("python"),
    };
    let ok = Command::new(&candidate)
        .args(["-c", "import datadog_api_client"])
        .output()
        .is_ok_and(|out| out.status.success());
    ok.then_some(candidate)
}

#[tokio::test]
async fn the_official_python_client_lists_filters_sorts_groups_and_pages() {
    let Some(python) = python_with_client() else {
        skip(
            "the_official_python_client_lists_filters_sorts_groups_and_pages",
            "no Python with datadog-api-client (run .ci/run, or set IMAGEDEX_PYTHON)",
        );
        return;
    };
    let app = TestApp::with_fixtures().await;
    let (_, other) = app.other_org("empty").await;
    let address = app.spawn().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("python")
        .join("e2e_client.py");

    let output = tokio::process::Command::new(python)
        .arg(script)
        .args(["--url", &format!("http://{address}")])
        .args([
            "--api-key",
            &app.keys.api_key,
            "--app-key",
            &app.keys.app_key,
        ])
        .args([
            "--other-api-key",
            &other.api_key,
            "--other-app-key",
            &other.app_key,
        ])
        .arg("--fixtures")
        .arg(fixtures_dir())
        .env_remove("DD_API_KEY")
        .env_remove("DD_APP_KEY")
        .output()
        .await
        .expect("python should run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the Python client checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("checks passed"), "{stdout}");
}
