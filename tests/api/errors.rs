//! Every 400 names the parameter; every authentication failure is the same 403.

use crate::support::TestApp;
use axum::http::StatusCode;
use serde_json::json;

const PATH: &str = "/api/v2/container_images";

#[tokio::test]
async fn bad_parameters_are_400s_naming_the_parameter() {
    let app = TestApp::with_fixtures().await;
    let cases = [
        ("sort=bogus", "sort 'bogus'"),
        ("sort=-", "sort '-'"),
        ("page[size]=0", "page[size] '0'"),
        ("page[size]=10001", "page[size] '10001'"),
        ("page[size]=ten", "page[size] 'ten'"),
        ("page%5Bsize%5D=-1", "page[size] '-1'"),
        (
            "filter[tags]=short_image",
            "filter[tags]: term 'short_image' at position 1 must be key:value",
        ),
        ("filter[tags]=a:b,,c:d", "position 5"),
        ("filter[tags]=a:b,c:", "term 'c:' at position 5"),
        ("filter[tags]=:x", "filter[tags]"),
        ("group_by=registry,", "group_by 'registry,'"),
        ("group_by=a:b", "group_by 'a:b'"),
        ("group_by=registry&sort=name", ""),
        ("group_by=registry&sort=size", "with group_by"),
        ("page[cursor]=", "page[cursor]"),
        ("page[cursor]=not-a-cursor", "page[cursor]"),
        ("page[cursor]=eyJ2IjoxfQ", "page[cursor]"),
    ];
    for (query, needle) in cases {
        let (status, body) = app.get(&format!("{PATH}?{query}")).await;
        if needle.is_empty() {
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
            continue;
        }
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        let errors = body["errors"].as_array().expect("errors array");
        assert_eq!(errors.len(), 1);
        let message = errors[0].as_str().unwrap();
        assert!(
            message.contains(needle),
            "{query}: '{message}' should contain '{needle}'"
        );
    }
}

#[tokio::test]
async fn a_cursor_is_valid_only_for_its_query_and_organisation() {
    let app = TestApp::with_fixtures().await;
    let (_, page) = app
        .get(&format!("{PATH}?page[size]=2&filter[tags]=source:trivy"))
        .await;
    let cursor = page["meta"]["pagination"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();

    let (status, _) = app
        .get(&format!(
            "{PATH}?page[size]=5&filter[tags]=source:trivy&page[cursor]={cursor}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "page size may change between pages");
    for other in [
        "filter[tags]=source:other",
        "sort=-name&filter[tags]=source:trivy",
        "group_by=registry&filter[tags]=source:trivy",
    ] {
        let (status, body) = app
            .get(&format!("{PATH}?{other}&page[cursor]={cursor}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{other}");
        assert!(
            body["errors"][0]
                .as_str()
                .unwrap()
                .contains("different filter"),
            "{body}"
        );
    }

    let (_, keys) = app.other_org("other").await;
    let (status, body) = app
        .get_with(
            &format!("{PATH}?page[size]=2&filter[tags]=source:trivy&page[cursor]={cursor}"),
            &[
                ("DD-API-KEY", &keys.api_key),
                ("DD-APPLICATION-KEY", &keys.app_key),
            ],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "another organisation's cursor: {body}"
    );
}

#[tokio::test]
async fn authentication_failures_are_all_the_same_403() {
    let app = TestApp::with_fixtures().await;
    let (_, other) = app.other_org("other").await;
    let (api, app_key) = (app.keys.api_key.clone(), app.keys.app_key.clone());
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("no keys", vec![]),
        ("api key only", vec![("DD-API-KEY", &api)]),
        (
            "application key only",
            vec![("DD-APPLICATION-KEY", &app_key)],
        ),
        (
            "empty keys",
            vec![("DD-API-KEY", ""), ("DD-APPLICATION-KEY", "")],
        ),
        (
            "empty api key",
            vec![("DD-API-KEY", ""), ("DD-APPLICATION-KEY", &app_key)],
        ),
        (
            "wrong api key",
            vec![
                ("DD-API-KEY", "0123456789abcdef0123456789abcdef"),
                ("DD-APPLICATION-KEY", &app_key),
            ],
        ),
        (
            "wrong app key",
            vec![("DD-API-KEY", &api), ("DD-APPLICATION-KEY", "nope")],
        ),
        (
            "keys swapped",
            vec![("DD-API-KEY", &app_key), ("DD-APPLICATION-KEY", &api)],
        ),
        (
            "mismatched organisations",
            vec![("DD-API-KEY", &api), ("DD-APPLICATION-KEY", &other.app_key)],
        ),
    ];
    for (case, headers) in cases {
        let (status, body) = app.get_with(PATH, &headers).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{case}");
        assert_eq!(body, json!({"errors": ["Forbidden"]}), "{case}");
    }
    // Header names are case-insensitive.
    let (status, _) = app
        .get_with(
            PATH,
            &[("dd-api-key", &api), ("dd-application-key", &app_key)],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Even a bad query is refused before it is read.
    let (status, _) = app.get_with(&format!("{PATH}?sort=bogus"), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn one_organisation_never_sees_another() {
    let app = TestApp::with_fixtures().await;
    let (_, keys) = app.other_org("other").await;
    let headers = [
        ("DD-API-KEY", keys.api_key.as_str()),
        ("DD-APPLICATION-KEY", keys.app_key.as_str()),
    ];
    for query in [
        "",
        "?filter[tags]=short_image:trivy-test-images",
        "?group_by=short_image",
        "?sort=-size",
    ] {
        let (status, body) = app.get_with(&format!("{PATH}{query}"), &headers).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["data"], json!([]), "{query}");
        assert_eq!(body["meta"]["pagination"]["total"], 0, "{query}");
    }
}

#[tokio::test]
async fn unknown_routes_answer_in_the_error_envelope() {
    let app = TestApp::new().await;
    let (status, body) = app.get("/api/v2/nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"errors": ["Not found"]}));
    let response = tower::ServiceExt::oneshot(
        imagedex_server::router(app.state.clone()),
        axum::http::Request::post("/api/v2/container_images")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}
