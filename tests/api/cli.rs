//! `imagedex images`: the real binary against a real server on a loopback port, each output
//! format parsed back and compared with what the API itself answers.

use crate::support::{ids, total, walk, TestApp};
use serde_json::Value;
use std::net::SocketAddr;
use std::process::Output;

const PATH: &str = "/api/v2/container_images";

/// Runs `imagedex images ARGS` against `address` with `keys` (`None` leaves a key unset), away
/// from any configuration file or variable of the machine running the tests.
async fn images(address: SocketAddr, keys: (Option<&str>, Option<&str>), args: &[&str]) -> Output {
    let config_home = tempfile::tempdir().expect("temp dir should be created");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_imagedex"));
    command
        .arg("images")
        .args(args)
        .env("IMAGEDEX_URL", format!("http://{address}"))
        .env("XDG_CONFIG_HOME", config_home.path())
        .env_remove("IMAGEDEX_CONFIG")
        .env_remove("RUST_LOG")
        .env_remove("DD_API_KEY")
        .env_remove("DD_APP_KEY");
    if let Some(key) = keys.0 {
        command.env("DD_API_KEY", key);
    }
    if let Some(key) = keys.1 {
        command.env("DD_APP_KEY", key);
    }
    command.output().await.expect("imagedex should run")
}

/// The same, with the app's own keys, expecting success; stdout as text.
async fn images_ok(app: &TestApp, address: SocketAddr, args: &[&str]) -> String {
    let keys = (
        Some(app.keys.api_key.as_str()),
        Some(app.keys.app_key.as_str()),
    );
    let out = images(address, keys, args).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    assert!(stderr.is_empty(), "{args:?}: unexpected stderr: {stderr}");
    String::from_utf8(out.stdout).expect("stdout should be UTF-8")
}

fn item_ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().expect("items have string ids").to_string())
        .collect()
}

fn ndjson(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).expect("each line should be one JSON item"))
        .collect()
}

/// A strict reader of RFC 4180 records, so the test checks the quoting rather than trusting it.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "records end with CRLF");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        !quoted && field.is_empty() && record.is_empty(),
        "CSV should end with a record"
    );
    records
}

#[tokio::test]
async fn json_and_ndjson_give_the_apis_items() {
    let app = TestApp::with_fixtures().await;
    let address = app.spawn().await;
    let (_, body) = app.get(PATH).await;
    let api_items = body["data"].as_array().expect("data array").clone();

    let json = images_ok(&app, address, &["list", "--output", "json"]).await;
    let items: Vec<Value> = serde_json::from_str(&json).expect("one JSON array");
    assert_eq!(item_ids(&items), ids(&body));
    assert_eq!(
        items, api_items,
        "items are written as the server sent them"
    );

    let lines = images_ok(&app, address, &["list", "--output", "ndjson"]).await;
    assert_eq!(ndjson(&lines), api_items);
}

#[tokio::test]
async fn a_filter_may_start_with_a_negation() {
    let app = TestApp::with_fixtures().await;
    let address = app.spawn().await;
    let (_, body) = app
        .get("/api/v2/container_images?filter[tags]=-registry:ghcr.io")
        .await;
    let args = ["list", "--filter", "-registry:ghcr.io", "--output", "json"];
    let json = images_ok(&app, address, &args).await;
    let items: Vec<Value> = serde_json::from_str(&json).expect("one JSON array");
    assert_eq!(item_ids(&items), ids(&body));
}

#[tokio::test]
async fn csv_has_a_header_and_one_row_per_image() {
    let app = TestApp::with_fixtures().await;
    let address = app.spawn().await;
    let (_, body) = app
        .get(&format!("{PATH}?sort=-vulnerability_count.critical"))
        .await;

    let args = [
        "list",
        "-o",
        "csv",
        "--sort",
        "-vulnerability_count.critical",
    ];
    let records = parse_csv(&images_ok(&app, address, &args).await);
    let header = &records[0];
    assert_eq!(header[..3], ["id", "name", "registry"]);
    assert!(header.contains(&"critical".to_string()));
    assert_eq!(records.len() as u64, total(&body) + 1);
    assert!(records.iter().all(|r| r.len() == header.len()));
    let csv_ids: Vec<String> = records[1..].iter().map(|r| r[0].clone()).collect();
    assert_eq!(csv_ids, ids(&body));

    let critical = header.iter().position(|h| h == "critical").unwrap();
    let first = &body["data"][0]["attributes"]["vulnerability_count"]["critical"];
    assert_eq!(records[1][critical], first.to_string());
    let tags = header.iter().position(|h| h == "tags").unwrap();
    let api_tags: Vec<&str> = body["data"][0]["attributes"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(api_tags.len() > 1);
    assert_eq!(records[1][tags], api_tags.join(","));
}

#[tokio::test]
async fn the_table_is_aligned_and_fits_80_columns() {
    let app = TestApp::with_fixtures().await;
    let address = app.spawn().await;
    let (_, body) = app.get(PATH).await;

    let table = images_ok(&app, address, &["list"]).await;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len() as u64, total(&body) + 1, "{table}");
    assert!(lines.iter().all(|l| l.chars().count() <= 80), "{table}");

    // Left columns start, and right columns end, where their header does on every line.
    let header: Vec<char> = lines[0].chars().collect();
    let mut columns = Vec::new();
    let mut start = None;
    for (i, c) in header.iter().chain([&' ']).enumerate() {
        match (start, *c == ' ') {
            (None, false) => start = Some(i),
            (Some(s), true) => {
                columns.push((header[s..i].iter().collect::<String>(), s, i));
                start = None;
            }
            _ => {}
        }
    }
    let names: Vec<&str> = columns.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["NAME", "TAG", "CRIT", "HIGH", "ARCH", "SIZE", "BUILT"]
    );
    for line in &lines[1..] {
        let row: Vec<char> = line.chars().collect();
        let at = |i: usize| row.get(i).copied().unwrap_or(' ');
        for (name, start, end) in &columns {
            if ["CRIT", "HIGH", "SIZE"].contains(&name.as_str()) {
                assert!(at(end - 1) != ' ' && at(*end) == ' ', "{name} in '{line}'");
            } else {
                assert!(at(*start) != ' ', "{name} in '{line}'");
                assert!(*start == 0 || at(start - 1) == ' ', "{name} in '{line}'");
            }
        }
    }
}

#[tokio::test]
async fn long_names_are_shortened_in_the_table_only() {
    let app = TestApp::with_fixtures().await;
    let mut report = crate::support::fixture("alpine-310.trivy.json");
    let long = format!(
        "registry.example.com/{}/service:1.0",
        "platform-team".repeat(6)
    );
    report["ArtifactName"] = Value::from(long.clone());
    report["Metadata"]["RepoTags"] = serde_json::json!([long]);
    report["Metadata"]["Reference"] = Value::from(long.clone());
    app.import_json(&report, &[])
        .await
        .expect("report should import");
    let address = app.spawn().await;

    let table = images_ok(
        &app,
        address,
        &["list", "--filter", "registry:registry.example.com"],
    )
    .await;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(lines[1].chars().count() <= 80, "{table}");
    assert!(lines[1].starts_with("registry.example"), "{table}");
    assert!(
        lines[1].contains("…") && lines[1].contains("team/service "),
        "{table}"
    );

    let json = images_ok(
        &app,
        address,
        &[
            "list",
            "-o",
            "ndjson",
            "--filter",
            "registry:registry.example.com",
        ],
    )
    .await;
    let items = ndjson(&json);
    let name = items[0]["attributes"]["name"].as_str().unwrap();
    assert!(name.ends_with("platform-team/service"), "{name}");
}

#[tokio::test]
async fn all_walks_every_page_once() {
    let app = TestApp::with_fixtures().await;
    let address = app.spawn().await;
    let (_, first) = app.get(PATH).await;
    let expected = item_ids(&walk(&app, &format!("{PATH}?page[size]=3")).await);
    assert_eq!(expected.len() as u64, total(&first));
    assert!(
        expected.len() > 6,
        "the walk should span several pages of 3"
    );

    let lines = images_ok(
        &app,
        address,
        &["list", "--all", "--page-size", "3", "-o", "ndjson"],
    )
    .await;
    let got = item_ids(&ndjson(&lines));
    assert_eq!(got, expected, "every image once, in the API's order");

    let json = images_ok(
        &app,
        address,
        &["list", "--all", "--page-size", "2", "-o", "json"],
    )
    .await;
    let items: Vec<Value> = serde_json::from_str(&json).expect("one JSON array over pages");
    assert_eq!(item_ids(&items), expected);

    let table = images_ok(&app, address, &["list", "--all", "--page-size", "4"]).await;
    assert_eq!(
        table.lines().count(),
        expected.len() + 1,
        "one header, then every image"
    );

    let one_page = images_ok(&app, address, &["list", "--page-size", "3", "-o", "ndjson"]).await;
    assert_eq!(item_ids(&ndjson(&one_page)), expected[..3]);
}

#[tokio::test]
async fn max_items_stops_across_pages() {
    let app = TestApp::with_fixtures().await;
    let address = app.spawn().await;
    let expected = item_ids(&walk(&app, &format!("{PATH}?page[size]=2")).await);

    let args = [
        "list",
        "--max-items",
        "5",
        "--page-size",
        "2",
        "-o",
        "ndjson",
    ];
    let got = item_ids(&ndjson(&images_ok(&app, address, &args).await));
    assert_eq!(got, expected[..5]);

    let args = [
        "list",
        "--max-items",
        "1000",
        "--page-size",
        "4",
        "-o",
        "ndjson",
    ];
    let got = item_ids(&ndjson(&images_ok(&app, address, &args).await));
    assert_eq!(got, expected);
}

#[tokio::test]
async fn groups_are_listed_in_every_format() {
    let app = TestApp::with_fixtures().await;
    let address = app.spawn().await;
    let (_, body) = app
        .get(&format!("{PATH}?group_by=registry,short_image"))
        .await;
    let api: Vec<(String, u64)> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["id"].as_str().unwrap().to_string(),
                g["attributes"]["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(api.len() > 2);

    let args = [
        "groups",
        "--group-by",
        "registry",
        "--group-by",
        "short_image",
        "-o",
        "json",
    ];
    let groups: Vec<Value> = serde_json::from_str(&images_ok(&app, address, &args).await).unwrap();
    let got: Vec<(String, u64)> = groups
        .iter()
        .map(|g| {
            (
                g["id"].as_str().unwrap().to_string(),
                g["attributes"]["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, api);
    assert_eq!(groups[0]["type"], "container_image_group");

    let args = [
        "groups",
        "--group-by",
        "registry,short_image",
        "--all",
        "--page-size",
        "2",
        "-o",
        "csv",
    ];
    let records = parse_csv(&images_ok(&app, address, &args).await);
    assert_eq!(records[0], ["name", "count"]);
    let rows: Vec<(String, u64)> = records[1..]
        .iter()
        .map(|r| (r[0].clone(), r[1].parse().unwrap()))
        .collect();
    assert_eq!(rows, api, "names with commas survive the quoting");

    let table = images_ok(&app, address, &["groups", "--group-by", "short_image"]).await;
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("GROUP") && lines[0].ends_with("IMAGES"),
        "{table}"
    );
    assert!(lines[1].starts_with("short_image:trivy-test-images") && lines[1].ends_with(" 5"));
    assert!(lines
        .iter()
        .all(|l| l.chars().count() <= 80 && l.len() == lines[0].len()));
}

/// The one line a failure prints, after checking it failed and wrote nothing to stdout.
fn failure(out: &Output) -> String {
    assert!(!out.status.success(), "should fail");
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    stderr
}

#[tokio::test]
async fn failures_are_one_clear_line() {
    let app = TestApp::with_fixtures().await;
    let address = app.spawn().await;
    let (api_key, app_key) = (app.keys.api_key.as_str(), app.keys.app_key.as_str());

    let wrong = "0123456789abcdef0123456789abcdef";
    let out = images(address, (Some(api_key), Some(wrong)), &["list"]).await;
    let line = failure(&out);
    assert!(line.contains("refused the keys (403 Forbidden)"), "{line}");
    assert!(
        !line.contains(wrong) && !line.contains(api_key),
        "keys never print: {line}"
    );

    let out = images(
        address,
        (Some(api_key), Some(app_key)),
        &["list", "--filter", "short_image"],
    )
    .await;
    let line = failure(&out);
    assert!(line.contains("filter[tags]: term 'short_image'"), "{line}");

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let out = images(closed, (Some(api_key), Some(app_key)), &["list", "--all"]).await;
    let line = failure(&out);
    assert!(
        line.contains(&format!("cannot reach http://{closed}: connection refused")),
        "{line}"
    );

    let out = images(address, (Some(api_key), None), &["list"]).await;
    let line = failure(&out);
    assert!(line.contains("DD_APP_KEY is not set"), "{line}");
    let out = images(address, (Some(""), Some(app_key)), &["list"]).await;
    assert!(failure(&out).contains("DD_API_KEY is not set"));
}
