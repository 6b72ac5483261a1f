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

#[tokio::test]
async fn or_lists_filter_and_travel_in_group_links() {
    let app = TestApp::with_fixtures().await;
    let (_, body) = app
        .get(&format!(
            "{PATH}?filter[tags]=image_tag:(alpine-310+OR+centos-7)"
        ))
        .await;
    assert_eq!(total(&body), 2, "{body}");
    let (_, body) = app
        .get(&format!(
            "{PATH}?filter%5Btags%5D=-image_tag%3A%28alpine-310%20or%20centos-*%29"
        ))
        .await;
    assert_eq!(total(&body), 8, "{body}");

    // A group's related link carries the list along and lists exactly the group's images.
    let (_, body) = app
        .get(&format!(
            "{PATH}?group_by=registry&filter[tags]=Image_Tag:(Alpine-310+OR+3.10)"
        ))
        .await;
    let groups = body["data"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{body}");
    for group in groups {
        let related = group["relationships"]["container_images"]["links"]["related"]
            .as_str()
            .unwrap();
        assert!(
            related.contains("filter[tags]=Image_Tag:(Alpine-310%20OR%203.10),registry:"),
            "{related}"
        );
        let (_, members) = app.get(related.strip_prefix(PUBLIC_URL).unwrap()).await;
        assert_eq!(total(&members), 1, "{related}");
    }
}

/// The total of images matching `filter`, sent with its spaces, '<', '>' and '=' escaped.
async fn filtered_total(app: &TestApp, filter: &str) -> u64 {
    let escaped = filter
        .replace(' ', "%20")
        .replace('<', "%3C")
        .replace('>', "%3E")
        .replace('=', "%3D");
    let (status, body) = app.get(&format!("{PATH}?filter[tags]={escaped}")).await;
    assert_eq!(status, StatusCode::OK, "{filter}: {body}");
    total(&body)
}

#[tokio::test]
async fn numeric_keys_compare_sizes_and_vulnerability_counts() {
    let app = TestApp::with_fixtures().await;
    let cases = [
        ("vulnerability_count.critical:>0", 3),
        ("-vulnerability_count.critical:>0", 7),
        ("vulnerability_count.critical:(2 OR 12)", 2),
        ("vulnerability_count.high:0", 6),
        ("size:>=100000000", 3),
        ("sizes:<100000000", 2),
        ("-size:*", 5),
        ("container_count:0,source:trivy", 10),
    ];
    for (filter, expected) in cases {
        assert_eq!(filtered_total(&app, filter).await, expected, "{filter}");
    }

    let (_, body) = app
        .get(&format!(
            "{PATH}?filter[tags]=size:%3E%3D100000000&sort=-size"
        ))
        .await;
    let sizes: Vec<i64> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["attributes"]["sizes"][0].as_i64().unwrap())
        .collect();
    assert_eq!(sizes, [709748736, 209451008, 204637184]);
}

#[tokio::test]
async fn images_without_scanner_data_match_only_negated_vulnerability_terms() {
    let app = TestApp::new().await;
    let mut report = crate::support::fixture("centos-7.trivy.json");
    report.as_object_mut().unwrap().remove("Results");
    app.import_json(&report, &[]).await.unwrap();

    for (filter, expected) in [
        ("vulnerability_count.critical:*", 0),
        ("vulnerability_count.critical:>=0", 0),
        ("-vulnerability_count.critical:>0", 1),
        ("-vulnerability_count.low:*", 1),
    ] {
        assert_eq!(filtered_total(&app, filter).await, expected, "{filter}");
    }
}

#[tokio::test]
async fn malformed_numeric_terms_are_400s_naming_term_and_position() {
    let app = TestApp::with_fixtures().await;
    let cases = [
        (
            "short_image:x,size:big",
            "invalid filter[tags]: term 'size:big' at position 15 needs a number after 'size:' \
             (like size:>=100000000)",
        ),
        (
            "team:%3E5",
            "invalid filter[tags]: term 'team:>5' at position 1 compares the tag key 'team': \
             comparisons apply only to the numeric keys container_count, size, \
             vulnerability_count.critical, vulnerability_count.high, vulnerability_count.medium, \
             vulnerability_count.low, vulnerability_count.none, vulnerability_count.unknown",
        ),
        (
            "team:(a+AND+b)",
            "invalid filter[tags]: term 'team:(a AND b)' at position 1 has AND inside '(…)', \
             which takes only OR: to require both, write two terms (team:a,team:b)",
        ),
    ];
    for (filter, message) in cases {
        let (status, body) = app.get(&format!("{PATH}?filter[tags]={filter}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{filter}: {body}");
        assert_eq!(body["errors"], serde_json::json!([message]), "{filter}");
    }
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
