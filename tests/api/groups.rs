//! Grouping: counts, multi-valued keys, the missing-value group, sorting and paging groups.

use crate::support::{total, walk, TestApp, PUBLIC_URL};
use axum::http::StatusCode;
use imagedex_model::Tag;
use serde_json::{json, Value};

const PATH: &str = "/api/v2/container_images";

fn counts(body: &Value) -> Vec<(String, u64)> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["attributes"]["name"].as_str().unwrap().to_string(),
                g["attributes"]["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn groups_count_images_by_key() {
    let app = TestApp::with_fixtures().await;
    let (status, body) = app.get(&format!("{PATH}?group_by=short_image")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let groups = counts(&body);
    assert_eq!(groups[0], ("short_image:trivy-test-images".to_string(), 5));
    assert_eq!(groups.len(), 6);
    assert_eq!(total(&body), 6);
    assert!(groups[1..].iter().all(|(_, n)| *n == 1));
    let rest: Vec<&String> = groups[1..].iter().map(|(n, _)| n).collect();
    let mut sorted = rest.clone();
    sorted.sort();
    assert_eq!(rest, sorted, "ties are ordered by name");

    let first = &body["data"][0];
    assert_eq!(first["type"], "container_image_group");
    assert_eq!(first["id"], "short_image:trivy-test-images");
    assert_eq!(
        first["attributes"]["tags"],
        json!({"short_image": "trivy-test-images"})
    );
    assert_eq!(
        first["relationships"]["container_images"]["data"],
        json!([])
    );
    let related = first["relationships"]["container_images"]["links"]["related"]
        .as_str()
        .unwrap();
    assert_eq!(
        related,
        format!("{PUBLIC_URL}{PATH}?filter[tags]=short_image:trivy-test-images")
    );

    // The related link lists exactly the group's images.
    let (_, members) = app.get(related.strip_prefix(PUBLIC_URL).unwrap()).await;
    assert_eq!(total(&members), 5);
}

#[tokio::test]
async fn images_without_the_key_form_one_null_group_listed_last() {
    let app = TestApp::with_fixtures().await;
    for sort in ["-count", "count", "name", "-name"] {
        let (_, body) = app
            .get(&format!("{PATH}?group_by=registry&sort={sort}"))
            .await;
        let last = body["data"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            last["attributes"]["tags"],
            json!({"registry": null}),
            "{sort}: {body}"
        );
        assert_eq!(last["attributes"]["count"], 4);
        let related = last["relationships"]["container_images"]["links"]["related"]
            .as_str()
            .unwrap();
        let (_, members) = app.get(related.strip_prefix(PUBLIC_URL).unwrap()).await;
        assert_eq!(total(&members), 4, "the null group's link lists its images");
    }
    let (_, body) = app
        .get(&format!("{PATH}?group_by=registry&sort=count"))
        .await;
    assert_eq!(
        counts(&body)[..2],
        [
            ("registry:docker.io".to_string(), 1),
            ("registry:ghcr.io".to_string(), 5)
        ]
    );
}

#[tokio::test]
async fn an_image_with_several_values_counts_in_each_group() {
    let app = TestApp::new().await;
    let mut report = crate::support::fixture("alpine-310-registry.trivy.json");
    report["Metadata"]["RepoTags"] = json!(["alpine:3.10", "alpine:3.10.2", "alpine:3"]);
    app.import_json(&report, &[Tag::new("team", "core")])
        .await
        .unwrap();
    app.import_json(
        &crate::support::fixture("centos-7.trivy.json"),
        &[Tag::new("team", "core")],
    )
    .await
    .unwrap();

    let (_, body) = app.get(&format!("{PATH}?group_by=image_tags,team")).await;
    let groups = counts(&body);
    assert_eq!(groups.len(), 4, "{groups:?}");
    assert!(groups.contains(&("image_tag:3.10.2,team:core".to_string(), 1)));
    assert!(groups.contains(&("image_tag:centos-7,team:core".to_string(), 1)));
    assert_eq!(body["data"][0]["attributes"]["tags"]["team"], "core");
}

#[tokio::test]
async fn groups_page_with_cursors_and_reject_image_sorts() {
    let app = TestApp::with_fixtures().await;
    let (_, all) = app
        .get(&format!("{PATH}?group_by=short_image,registry"))
        .await;
    let paged = walk(
        &app,
        &format!("{PATH}?group_by=short_image,registry&page[size]=2"),
    )
    .await;
    let paged_ids: Vec<&str> = paged.iter().map(|g| g["id"].as_str().unwrap()).collect();
    let all_ids: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert_eq!(paged_ids, all_ids);

    let (status, body) = app
        .get(&format!("{PATH}?group_by=registry&sort=-size"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["errors"][0].as_str().unwrap().contains("group_by"),
        "{body}"
    );
}
