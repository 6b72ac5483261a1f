//! Listing images: default order, pagination, links, filters and sorts.

use crate::support::{ids, total, walk, TestApp, PUBLIC_URL};
use axum::http::StatusCode;
use imagedex_model::Tag;
use serde_json::Value;

const PATH: &str = "/api/v2/container_images";

#[tokio::test]
async fn first_page_has_datadogs_shape_and_defaults() {
    let app = TestApp::with_fixtures().await;
    let (status, body) = app.get(PATH).await;
    assert_eq!(status, StatusCode::OK);

    let pagination = &body["meta"]["pagination"];
    assert_eq!(pagination["cursor"], "");
    assert_eq!(pagination["limit"], 1000);
    assert_eq!(pagination["type"], "cursor_limit");
    assert_eq!(pagination["total"], 10);
    assert!(pagination["prev_cursor"].is_null());
    assert!(
        pagination.get("next_cursor").is_none(),
        "one page: no next_cursor"
    );

    let links = &body["links"];
    assert_eq!(links["self"], format!("{PUBLIC_URL}{PATH}"));
    assert_eq!(
        links["first"],
        format!("{PUBLIC_URL}{PATH}?page[size]=1000")
    );
    for key in ["next", "prev", "last"] {
        assert!(links[key].is_null(), "{key} should be null");
    }

    // Default order: name, then id.
    let items = body["data"].as_array().unwrap();
    let keys: Vec<(String, String)> = items
        .iter()
        .map(|i| {
            (
                i["attributes"]["name"].as_str().unwrap().into(),
                i["id"].as_str().unwrap().into(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert!(items.iter().all(|i| i["type"] == "container_image"));
}

#[tokio::test]
async fn walking_pages_yields_every_image_once() {
    let app = TestApp::with_fixtures().await;
    let (_, all) = app.get(PATH).await;
    for size in [1, 3, 7] {
        let items = walk(&app, &format!("{PATH}?page[size]={size}")).await;
        let walked: Vec<String> = items
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(walked, ids(&all), "page size {size}");
    }

    let (_, page) = app.get(&format!("{PATH}?page%5Bsize%5D=3")).await;
    let next = page["meta"]["pagination"]["next_cursor"].as_str().unwrap();
    assert_eq!(
        page["links"]["next"],
        format!("{PUBLIC_URL}{PATH}?page[cursor]={next}&page[size]=3")
    );
    let (_, second) = app
        .get(&format!("{PATH}?page%5Bsize%5D=3&page%5Bcursor%5D={next}"))
        .await;
    assert_eq!(
        second["meta"]["pagination"]["cursor"], next,
        "cursor echoes the request"
    );
    assert_eq!(second["data"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn filters_are_anded_and_case_insensitive_in_any_encoding() {
    let app = TestApp::with_fixtures().await;
    let expect = |body: &Value, n: usize| {
        assert_eq!(body["data"].as_array().unwrap().len(), n, "{body}");
        assert_eq!(total(body), n as u64);
    };
    let (_, body) = app
        .get(&format!(
            "{PATH}?filter[tags]=short_image:trivy-test-images"
        ))
        .await;
    expect(&body, 5);
    let (_, body) = app
        .get(&format!(
            "{PATH}?filter%5Btags%5D=SHORT_IMAGE%3ATrivy-Test-Images"
        ))
        .await;
    expect(&body, 5);
    let (_, body) = app
        .get(&format!(
            "{PATH}?filter%5Btags%5D=short_image%3Atrivy-test-images%2Cimage_tag%3Aalpine-310"
        ))
        .await;
    expect(&body, 1);
    assert_eq!(body["data"][0]["attributes"]["image_tags"][0], "alpine-310");
    let (_, body) = app
        .get(&format!(
            "{PATH}?filter[tags]=registry:docker.io,os_name:linux,source:trivy"
        ))
        .await;
    expect(&body, 1);
    assert_eq!(
        body["data"][0]["attributes"]["name"],
        "docker.io/library/alpine"
    );
    let (_, body) = app
        .get(&format!("{PATH}?filter[tags]=registry:quay.io"))
        .await;
    expect(&body, 0);
}

#[tokio::test]
async fn imported_tags_filter_with_colons_and_spaces_in_values() {
    let app = TestApp::new().await;
    let report = crate::support::fixture("centos-7.trivy.json");
    let tags = [
        Tag::parse("team:Core Platform").unwrap(),
        Tag::parse("docs:http://wiki/x").unwrap(),
    ];
    app.import_json(&report, &tags).await.unwrap();

    // The Python client sends a space as '+'.
    let (_, body) = app
        .get(&format!("{PATH}?filter%5Btags%5D=team%3Acore+platform"))
        .await;
    assert_eq!(total(&body), 1, "{body}");
    let (_, body) = app
        .get(&format!("{PATH}?filter[tags]=docs:http://wiki/x"))
        .await;
    assert_eq!(total(&body), 1, "{body}");
    let tags: Vec<&str> = body["data"][0]["attributes"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tags.contains(&"team:core platform") && tags.contains(&"docs:http://wiki/x"),
        "{tags:?}"
    );
    let (_, body) = app.get(&format!("{PATH}?filter[tags]=team:other")).await;
    assert_eq!(total(&body), 0);
}

#[tokio::test]
async fn negation_and_wildcards_filter() {
    let app = TestApp::with_fixtures().await;
    let (_, body) = app
        .get(&format!(
            "{PATH}?filter[tags]=-short_image:trivy-test-images"
        ))
        .await;
    assert_eq!(total(&body), 5);
    let (_, body) = app.get(&format!("{PATH}?filter[tags]=image_tag:al*")).await;
    assert_eq!(total(&body), 2, "alpine-310 and almalinux-8: {body}");
    let (_, body) = app.get(&format!("{PATH}?filter[tags]=-registry:*")).await;
    assert_eq!(total(&body), 4, "archive-named images have no registry");
}

/// The values of one attribute down a sorted listing.
async fn sorted_values(app: &TestApp, sort: &str, pick: fn(&Value) -> Value) -> Vec<Value> {
    let (status, body) = app.get(&format!("{PATH}?sort={sort}")).await;
    assert_eq!(status, StatusCode::OK, "{sort}: {body}");
    body["data"].as_array().unwrap().iter().map(pick).collect()
}

#[tokio::test]
async fn sorts_put_missing_values_last_in_both_directions() {
    let app = TestApp::with_fixtures().await;
    let size = |i: &Value| {
        i["attributes"]["sizes"]
            .as_array()
            .unwrap()
            .iter()
            .max_by_key(|v| v.as_i64())
            .cloned()
            .unwrap_or(Value::Null)
    };

    let up = sorted_values(&app, "size", size).await;
    let down = sorted_values(&app, "-sizes", size).await;
    let present: Vec<i64> = up.iter().filter_map(Value::as_i64).collect();
    assert_eq!(present.len(), 5);
    assert!(present.windows(2).all(|w| w[0] <= w[1]), "{up:?}");
    assert!(
        up[5..].iter().all(Value::is_null),
        "missing sizes last ascending: {up:?}"
    );
    let present: Vec<i64> = down.iter().filter_map(Value::as_i64).collect();
    assert!(present.windows(2).all(|w| w[0] >= w[1]), "{down:?}");
    assert!(
        down[5..].iter().all(Value::is_null),
        "missing sizes last descending: {down:?}"
    );

    let critical = |i: &Value| i["attributes"]["vulnerability_count"]["critical"].clone();
    let values = sorted_values(&app, "-vulnerability_count.critical", critical).await;
    assert_eq!(values[..3], [12, 3, 2].map(Value::from));

    // Ties end on the id, ascending, whichever the direction.
    let (_, body) = app.get(&format!("{PATH}?sort=-container_count")).await;
    let mut expected = ids(&body);
    expected.sort();
    assert_eq!(ids(&body), expected);
}

#[tokio::test]
async fn every_documented_sort_key_is_accepted_and_paged_consistently() {
    let app = TestApp::with_fixtures().await;
    for key in imagedex_query::IMAGE_SORT_KEYS
        .iter()
        .chain(&["sizes", "images_built_at"])
    {
        for sort in [key.to_string(), format!("-{key}")] {
            let (status, full) = app.get(&format!("{PATH}?sort={sort}")).await;
            assert_eq!(status, StatusCode::OK, "{sort}: {full}");
            let paged = walk(&app, &format!("{PATH}?sort={sort}&page[size]=3")).await;
            let paged: Vec<String> = paged
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(
                paged,
                ids(&full),
                "paging by {sort} must give the same order"
            );
        }
    }
}
