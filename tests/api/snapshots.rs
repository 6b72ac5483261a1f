//! JSON snapshots of one image page and one group page, ids, digests and times redacted.

use crate::support::TestApp;
use insta::assert_json_snapshot;

#[tokio::test]
async fn image_page() {
    let app = TestApp::with_fixtures().await;
    let (_, body) = app
        .get("/api/v2/container_images?page[size]=2&sort=-vulnerability_count.critical")
        .await;
    assert_json_snapshot!(body, {
        ".data[].id" => "[id]",
        ".data[].attributes.vulnerability_count.asset_id" => "[id]",
        ".data[].attributes.tags[]" => insta::dynamic_redaction(|value, _| {
            let tag = value.as_str().unwrap_or_default().to_string();
            let shown = if tag.starts_with("image_id:") { "image_id:[digest]".to_string() } else { tag };
            insta::internals::Content::from(shown)
        }),
        ".data[].attributes.images_built_at[]" => "[time]",
        ".data[].attributes.image_flavors[].built_at" => "[time]",
        ".meta.pagination.next_cursor" => "[cursor]",
        ".links.next" => "[link with cursor]",
    });
}

#[tokio::test]
async fn group_page() {
    let app = TestApp::with_fixtures().await;
    let (_, body) = app
        .get("/api/v2/container_images?group_by=registry&page[size]=2")
        .await;
    assert_json_snapshot!(body, {
        ".meta.pagination.next_cursor" => "[cursor]",
        ".links.next" => "[link with cursor]",
    });
}
