//! `GET /api/v2/container_images`: images, or groups of images with `group_by`, one page at a
//! time, in the exact shape Datadog's clients parse.

use crate::auth::Authenticated;
use crate::catalog::Snapshot;
use crate::links::LinkBuilder;
use crate::{ApiError, AppState};
use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Timelike, Utc};
use imagedex_model::{ImageRecord, Tag};
use imagedex_query::{GroupRow, ListParams, ListQuery};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// Lists the caller's container images, or groups of them.
pub async fn list_container_images(
    State(state): State<AppState>,
    Authenticated(org): Authenticated,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = parse_params(uri.query().unwrap_or(""));
    let query = ListQuery::parse(&params, &org.0.to_string())?;

    let snapshot = state.catalog.snapshot(org).await?;
    let links = LinkBuilder::new(state.public_url.as_deref(), &headers, &uri);

    // Filtering, sorting and grouping are CPU work: keep them off the async workers.
    tokio::task::spawn_blocking(move || render(&snapshot, &query, &params, &links))
        .await
        .map_err(|e| ApiError::Internal(format!("query evaluation failed: {e}")))
}

fn render(
    snapshot: &Snapshot,
    query: &ListQuery,
    params: &ListParams,
    links: &LinkBuilder,
) -> Response {
    match query {
        ListQuery::Images(q) => {
            let page = snapshot.index.list_images(q);
            let data: Vec<ImageItem> = page
                .items
                .iter()
                .map(|r| ImageItem::from_record(r))
                .collect();
            respond(
                data,
                params,
                q.page_size,
                page.total,
                page.next_cursor,
                links,
            )
        }
        ListQuery::Groups(q) => {
            let page = snapshot.index.list_groups(q);
            let filter = params.filter_tags.as_deref().unwrap_or("").trim();
            let data: Vec<GroupItem> = page
                .groups
                .iter()
                .map(|g| GroupItem::new(g, filter, links))
                .collect();
            respond(
                data,
                params,
                q.page_size,
                page.total,
                page.next_cursor,
                links,
            )
        }
    }
}

/// Decodes the query string as a form (`%5B`, `%2C`, `+` for a space); raw brackets work too.
/// Unknown parameters are ignored, as Datadog ignores them; a repeated one keeps its last value.
fn parse_params(query: &str) -> ListParams {
    let mut params = ListParams::default();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = Some(value.into_owned());
        match key.as_ref() {
            "filter[tags]" => params.filter_tags = value,
            "group_by" => params.group_by = value,
            "sort" => params.sort = value,
            "page[size]" => params.page_size = value,
            "page[cursor]" => params.page_cursor = value,
            _ => {}
        }
    }
    params
}

fn respond<T: Serialize>(
    data: Vec<T>,
    params: &ListParams,
    limit: usize,
    total: usize,
    next_cursor: Option<String>,
    links: &LinkBuilder,
) -> Response {
    let limit_text = limit.to_string();
    let mut query: Vec<(&str, &str)> = Vec::new();
    for (key, value) in [
        ("filter[tags]", &params.filter_tags),
        ("group_by", &params.group_by),
        ("sort", &params.sort),
    ] {
        if let Some(value) = value.as_deref().filter(|v| !v.trim().is_empty()) {
            query.push((key, value));
        }
    }
    let mut first = query.clone();
    first.push(("page[size]", &limit_text));
    let next = next_cursor.as_deref().map(|cursor| {
        let mut next = query.clone();
        next.push(("page[cursor]", cursor));
        next.push(("page[size]", &limit_text));
        links.with_params(&next)
    });

    let response = ListResponse {
        data,
        links: Links {
            self_link: links.self_link(),
            last: None,
            next,
            prev: None,
            first: links.with_params(&first),
        },
        meta: Meta {
            pagination: Pagination {
                cursor: params.page_cursor.clone().unwrap_or_default(),
                prev_cursor: None,
                next_cursor,
                limit,
                kind: "cursor_limit",
                total,
            },
        },
    };
    // Serialised from the typed structs, so keys keep Datadog's order. The buffer is sized for
    // the page up front (an item is 1 to 2 KiB), so a large page is not copied as it grows.
    let mut body = Vec::with_capacity(1024 + response.data.len() * 2048);
    match serde_json::to_writer(&mut body, &response) {
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => ApiError::Internal(format!("rendering a page failed: {e}")).into_response(),
    }
}

#[derive(Serialize)]
struct ListResponse<T> {
    data: Vec<T>,
    links: Links,
    meta: Meta,
}

#[derive(Serialize)]
struct Links {
    #[serde(rename = "self")]
    self_link: String,
    last: Option<String>,
    next: Option<String>,
    prev: Option<String>,
    first: String,
}

#[derive(Serialize)]
struct Meta {
    pagination: Pagination,
}

#[derive(Serialize)]
struct Pagination {
    cursor: String,
    prev_cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
    limit: usize,
    #[serde(rename = "type")]
    kind: &'static str,
    total: usize,
}

#[derive(Serialize)]
struct ImageItem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    attributes: ImageAttributes<'a>,
}

#[derive(Serialize)]
struct ImageAttributes<'a> {
    name: &'a str,
    short_image: &'a str,
    image_tags: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    registry: Option<&'a str>,
    repository: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    repo_digest: Option<&'a str>,
    sizes: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    published_at: Option<Time>,
    tags: Tags<'a>,
    container_count: i64,
    os_names: Vec<&'a str>,
    os_versions: Vec<&'a str>,
    os_architectures: Vec<&'a str>,
    images_built_at: Vec<Time>,
    sources: &'a [String],
    image_flavors: Vec<FlavorItem<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vulnerability_count: Option<VulnerabilityItem<'a>>,
}

#[derive(Serialize)]
struct FlavorItem<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    built_at: Option<Time>,
    os_architecture: &'a str,
    os_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    os_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<i64>,
}

#[derive(Serialize)]
struct VulnerabilityItem<'a> {
    asset_id: &'a str,
    critical: i64,
    high: i64,
    medium: i64,
    low: i64,
    none: i64,
    unknown: i64,
}

impl<'a> ImageItem<'a> {
    fn from_record(r: &'a ImageRecord) -> Self {
        let flavors = &r.flavors;
        ImageItem {
            kind: "container_image",
            id: &r.id,
            attributes: ImageAttributes {
                name: &r.name,
                short_image: &r.short_image,
                image_tags: &r.image_tags,
                registry: r.registry.as_deref(),
                repository: &r.repository,
                repo_digest: r.repo_digest.as_deref(),
                sizes: flavors.iter().filter_map(|f| f.size).collect(),
                published_at: r.published_at.map(Time),
                tags: Tags(&r.tags),
                container_count: r.container_count,
                os_names: flavors.iter().map(|f| f.os_name.as_str()).collect(),
                os_versions: flavors
                    .iter()
                    .filter_map(|f| f.os_version.as_deref())
                    .collect(),
                os_architectures: flavors.iter().map(|f| f.os_architecture.as_str()).collect(),
                images_built_at: flavors
                    .iter()
                    .filter_map(|f| f.built_at)
                    .map(Time)
                    .collect(),
                sources: &r.sources,
                image_flavors: flavors
                    .iter()
                    .map(|f| FlavorItem {
                        built_at: f.built_at.map(Time),
                        os_architecture: &f.os_architecture,
                        os_name: &f.os_name,
                        os_version: f.os_version.as_deref(),
                        size: f.size,
                    })
                    .collect(),
                vulnerability_count: r.vulnerabilities.map(|v| VulnerabilityItem {
                    asset_id: &r.id,
                    critical: v.critical,
                    high: v.high,
                    medium: v.medium,
                    low: v.low,
                    none: v.none,
                    unknown: v.unknown,
                }),
            },
        }
    }
}

/// A time as Datadog writes it, `2026-11-30T10:00:00Z`, written without a format string or an
/// allocation: a large page holds tens of thousands of them.
#[derive(Clone, Copy)]
struct Time(DateTime<Utc>);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let year = match u32::try_from(t.year()) {
            Ok(year) if year <= 9999 => year,
            _ => return serializer.collect_str(&t.format("%Y-%m-%dT%H:%M:%SZ")),
        };
        let mut text = *b"0000-00-00T00:00:00Z";
        let fields = [
            (0..4, year),
            (5..7, t.month()),
            (8..10, t.day()),
            (11..13, t.hour()),
            (14..16, t.minute()),
            (17..19, t.second()),
        ];
        for (range, mut n) in fields {
            for digit in text[range].iter_mut().rev() {
                *digit = b'0' + (n % 10) as u8;
                n /= 10;
            }
        }
        serializer.serialize_str(std::str::from_utf8(&text).map_err(serde::ser::Error::custom)?)
    }
}

/// Tags as `key:value` strings, written straight into the output.
struct Tags<'a>(&'a [Tag]);

impl Serialize for Tags<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct One<'a>(&'a Tag);
        impl Serialize for One<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self.0)
            }
        }
        serializer.collect_seq(self.0.iter().map(One))
    }
}

#[derive(Serialize)]
struct GroupItem {
    #[serde(rename = "type")]
    kind: &'static str,
    attributes: GroupAttributes,
    relationships: GroupRelationships,
    id: String,
}

#[derive(Serialize)]
struct GroupAttributes {
    name: String,
    tags: Map<String, Value>,
    count: usize,
}

#[derive(Serialize)]
struct GroupRelationships {
    container_images: GroupImages,
}

#[derive(Serialize)]
struct GroupImages {
    links: GroupImagesLinks,
    data: Vec<String>,
}

#[derive(Serialize)]
struct GroupImagesLinks {
    related: String,
}

impl GroupItem {
    /// A group item; `related` lists the group's images: the request's filter plus the group's
    /// terms (`-key:*` for a missing value).
    fn new(group: &GroupRow, filter: &str, links: &LinkBuilder) -> Self {
        let mut terms: Vec<String> = Vec::new();
        if !filter.is_empty() {
            terms.push(filter.to_string());
        }
        let mut tags = Map::new();
        for (key, value) in &group.terms {
            terms.push(match value {
                Some(v) => format!("{key}:{v}"),
                None => format!("-{key}:*"),
            });
            tags.insert(
                key.clone(),
                value.clone().map_or(Value::Null, Value::String),
            );
        }
        let name = group.name();
        GroupItem {
            kind: "container_image_group",
            attributes: GroupAttributes {
                name: name.clone(),
                tags,
                count: group.count,
            },
            relationships: GroupRelationships {
                container_images: GroupImages {
                    links: GroupImagesLinks {
                        related: links.with_params(&[("filter[tags]", &terms.join(","))]),
                    },
                    data: Vec::new(),
                },
            },
            id: name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_are_written_as_datadog_writes_them() {
        let times = [
            (1970, 1, 1, 0, 0, 0),
            (2024, 2, 29, 23, 59, 59),
            (2026, 11, 30, 10, 5, 9),
            (9999, 12, 31, 23, 59, 59),
            (12, 3, 4, 5, 6, 7),
            (10000, 1, 1, 0, 0, 0),
        ];
        for (y, mo, d, h, mi, s) in times {
            let t = Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap();
            let written = serde_json::to_string(&Time(t)).unwrap();
            let expected = format!("\"{}\"", t.format("%Y-%m-%dT%H:%M:%SZ"));
            assert_eq!(written, expected);
        }
    }

    #[test]
    fn tags_are_written_as_key_colon_value() {
        let tags = [
            Tag::new("env", "prod"),
            Tag::from("note:a:\"b\"".to_string()),
        ];
        let written = serde_json::to_string(&Tags(&tags)).unwrap();
        assert_eq!(written, r#"["env:prod","note:a:\"b\""]"#);
    }
}
