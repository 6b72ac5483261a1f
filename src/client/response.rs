//! The typed shapes of `GET /api/v2/container_images` answers, as the client reads them.
//!
//! Every field the contract lists is here, in Datadog's key order, so writing an item back out
//! as JSON gives what the server sent. Optional fields stay absent rather than becoming `null`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One page of a list: its items and where the next page starts.
#[derive(Debug, Deserialize)]
pub struct ListResponse<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    #[serde(default)]
    pub meta: Option<ListMeta>,
}

#[derive(Debug, Deserialize)]
pub struct ListMeta {
    #[serde(default)]
    pub pagination: Option<Pagination>,
}

#[derive(Debug, Deserialize)]
pub struct Pagination {
    #[serde(default)]
    pub next_cursor: Option<String>,
    #[serde(default)]
    pub total: Option<u64>,
}

impl<T> ListResponse<T> {
    /// The cursor of the next page; `None` on the last page. An empty cursor or an empty page
    /// also ends the walk, as Datadog's own clients treat them.
    pub fn next_cursor(&self) -> Option<&str> {
        if self.data.is_empty() {
            return None;
        }
        let cursor = self
            .meta
            .as_ref()?
            .pagination
            .as_ref()?
            .next_cursor
            .as_deref()?;
        (!cursor.is_empty()).then_some(cursor)
    }

    /// How many items (or groups) match the whole query, when the server says.
    pub fn total(&self) -> Option<u64> {
        self.meta.as_ref()?.pagination.as_ref()?.total
    }
}

/// An item of a list without `group_by`.
#[derive(Debug, Deserialize, Serialize)]
pub struct ContainerImage {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub attributes: ImageAttributes,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ImageAttributes {
    pub name: String,
    pub short_image: String,
    pub image_tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    pub repository: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo_digest: Option<String>,
    pub sizes: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    pub tags: Vec<String>,
    pub container_count: i64,
    pub os_names: Vec<String>,
    pub os_versions: Vec<String>,
    pub os_architectures: Vec<String>,
    pub images_built_at: Vec<String>,
    pub sources: Vec<String>,
    pub image_flavors: Vec<ImageFlavor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vulnerability_count: Option<VulnerabilityCount>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ImageFlavor {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub built_at: Option<String>,
    pub os_architecture: String,
    pub os_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct VulnerabilityCount {
    pub asset_id: String,
    pub critical: i64,
    pub high: i64,
    pub medium: i64,
    pub low: i64,
    pub none: i64,
    pub unknown: i64,
}

/// An item of a list with `group_by`.
#[derive(Debug, Deserialize, Serialize)]
pub struct ContainerImageGroup {
    #[serde(rename = "type")]
    pub kind: String,
    pub attributes: GroupAttributes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationships: Option<GroupRelationships>,
    pub id: String,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct GroupAttributes {
    pub name: String,
    /// The group's terms by key; free-form in the contract (`null` for a missing value here).
    pub tags: Map<String, Value>,
    pub count: u64,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct GroupRelationships {
    pub container_images: GroupImages,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct GroupImages {
    pub links: GroupImagesLinks,
    #[serde(default)]
    pub data: Vec<String>,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct GroupImagesLinks {
    pub related: String,
}

/// Datadog's error envelope, `{"errors": [...]}`.
#[derive(Debug, Deserialize)]
pub struct ErrorResponse {
    pub errors: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_ends_on_a_missing_or_empty_cursor_or_an_empty_page() {
        let page = |body: &str| serde_json::from_str::<ListResponse<Value>>(body).unwrap();
        let more = r#"{"data":[1],"meta":{"pagination":{"next_cursor":"abc","total":3}}}"#;
        assert_eq!(page(more).next_cursor(), Some("abc"));
        assert_eq!(page(more).total(), Some(3));
        let last = r#"{"data":[1],"meta":{"pagination":{"total":3}}}"#;
        assert_eq!(page(last).next_cursor(), None);
        let empty_cursor = r#"{"data":[1],"meta":{"pagination":{"next_cursor":""}}}"#;
        assert_eq!(page(empty_cursor).next_cursor(), None);
        let empty_page = r#"{"data":[],"meta":{"pagination":{"next_cursor":"abc"}}}"#;
        assert_eq!(page(empty_page).next_cursor(), None);
        assert_eq!(page(r#"{"data":[]}"#).next_cursor(), None);
    }
}
