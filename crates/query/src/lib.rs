//! The query engine of imagedex: the typed form of a `GET /api/v2/container_images` request
//! (filter, sort, grouping, page size, cursor), parsed at the edge, and its evaluation over an
//! organisation's records: the reference scan in `engine` and the in-memory `index`.

pub mod cursor;
pub mod engine;
pub mod filter;
pub mod group_page;
pub mod index;
pub mod live;
pub mod sort;

pub use cursor::CursorError;
pub use engine::{list_groups, list_images, GroupPage, GroupRow, ImagePage};
pub use filter::{
    CompareOp, Condition, FilterError, NumberPattern, NumericField, Pattern, TagFilter, Term,
};
pub use index::{GroupCounts, Index};
pub use live::LiveIndex;
pub use sort::{
    Bucket, GroupSort, ImageSort, ImageSortField, Position, SortValue, SortValueRef,
    IMAGE_SORT_KEYS,
};

/// The default `page[size]`.
pub const DEFAULT_PAGE_SIZE: usize = 1000;
/// The largest `page[size]`.
pub const MAX_PAGE_SIZE: usize = 10_000;
/// The most keys `group_by` takes.
pub const MAX_GROUP_KEYS: usize = 8;

/// The raw query parameters, as decoded from the query string.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub filter_tags: Option<String>,
    pub group_by: Option<String>,
    pub sort: Option<String>,
    pub page_size: Option<String>,
    pub page_cursor: Option<String>,
}

/// A bad request: each message names the parameter and says what is valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("invalid filter[tags]: {0}")]
    Filter(#[from] FilterError),
    #[error("invalid sort '{0}': expected one of {keys}, optionally prefixed with '-' for descending", keys = IMAGE_SORT_KEYS.join(", "))]
    Sort(String),
    #[error("invalid sort '{0}' with group_by: expected count, -count, name or -name")]
    GroupSort(String),
    #[error("invalid group_by '{0}': {1}")]
    GroupBy(String, &'static str),
    #[error("invalid page[size] '{0}': expected an integer from 1 to 10000")]
    PageSize(String),
    #[error(transparent)]
    Cursor(#[from] CursorError),
}

/// A request for a page of images.
#[derive(Debug, Clone)]
pub struct ImageQuery {
    pub filter: TagFilter,
    pub sort: ImageSort,
    pub page_size: usize,
    pub after: Option<Position>,
    pub fingerprint: String,
}

/// A request for a page of groups.
#[derive(Debug, Clone)]
pub struct GroupQuery {
    pub filter: TagFilter,
    pub keys: Vec<String>,
    pub sort: GroupSort,
    pub page_size: usize,
    pub after: Option<Position>,
    pub fingerprint: String,
}

/// A parsed list request: images, or groups when `group_by` is given.
#[derive(Debug, Clone)]
pub enum ListQuery {
    Images(ImageQuery),
    Groups(GroupQuery),
}

impl ListQuery {
    /// Parses raw parameters. `scope` (the organisation) is part of every cursor's fingerprint,
    /// so a cursor is valid only for the organisation and query it was issued for.
    pub fn parse(params: &ListParams, scope: &str) -> Result<Self, QueryError> {
        let filter = TagFilter::parse(params.filter_tags.as_deref().unwrap_or(""))?;
        let page_size = parse_page_size(params.page_size.as_deref())?;
        let filter_text = filter.to_string();
        let group_by = params.group_by.as_deref().filter(|g| !g.trim().is_empty());
        let sort_text = params.sort.as_deref().filter(|s| !s.trim().is_empty());

        let Some(group_by) = group_by else {
            let sort = match sort_text {
                Some(s) => ImageSort::parse(s).ok_or_else(|| QueryError::Sort(s.to_string()))?,
                None => ImageSort::default(),
            };
            let fingerprint =
                cursor::fingerprint(&[scope, "images", &filter_text, &sort.canonical()]);
            let after = decode_cursor(params.page_cursor.as_deref(), &fingerprint)?;
            return Ok(ListQuery::Images(ImageQuery {
                filter,
                sort,
                page_size,
                after,
                fingerprint,
            }));
        };

        let keys = parse_group_keys(group_by)?;
        let sort = match sort_text {
            Some(s) => GroupSort::parse(s).ok_or_else(|| QueryError::GroupSort(s.to_string()))?,
            None => GroupSort::default(),
        };
        let fingerprint = cursor::fingerprint(&[
            scope,
            "groups",
            &filter_text,
            &keys.join(","),
            &sort.canonical(),
        ]);
        let after = decode_cursor(params.page_cursor.as_deref(), &fingerprint)?;
        Ok(ListQuery::Groups(GroupQuery {
            filter,
            keys,
            sort,
            page_size,
            after,
            fingerprint,
        }))
    }
}

fn parse_page_size(raw: Option<&str>) -> Result<usize, QueryError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_PAGE_SIZE);
    };
    match raw.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
        _ => Err(QueryError::PageSize(raw.to_string())),
    }
}

fn decode_cursor(raw: Option<&str>, fingerprint: &str) -> Result<Option<Position>, QueryError> {
    raw.map(|c| cursor::decode(c, fingerprint))
        .transpose()
        .map_err(QueryError::from)
}

fn parse_group_keys(raw: &str) -> Result<Vec<String>, QueryError> {
    let error = |why| QueryError::GroupBy(raw.to_string(), why);
    let mut keys: Vec<String> = Vec::new();
    for key in raw.split(',') {
        let key = key.trim().to_lowercase();
        if key.is_empty() {
            return Err(error(
                "a key is empty; give comma-separated tag keys such as registry,short_image",
            ));
        }
        if key
            .chars()
            .any(|c| c == ':' || c == '*' || c.is_whitespace())
        {
            return Err(error(
                "keys are tag keys without ':', '*' or spaces, such as registry",
            ));
        }
        if filter::NumericField::from_key(&key).is_some() {
            return Err(error(
                "container_count, size and vulnerability_count.* are numbers, not tag keys; \
                 group by tag keys such as registry",
            ));
        }
        let key = if key == "image_tags" {
            "image_tag".to_string()
        } else {
            key
        };
        if keys.contains(&key) {
            return Err(error("a key is repeated"));
        }
        keys.push(key);
    }
    if keys.len() > MAX_GROUP_KEYS {
        return Err(error("at most 8 keys can be grouped by"));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> ListParams {
        let mut p = ListParams::default();
        for (k, v) in pairs {
            let v = Some(v.to_string());
            match *k {
                "filter" => p.filter_tags = v,
                "group_by" => p.group_by = v,
                "sort" => p.sort = v,
                "size" => p.page_size = v,
                "cursor" => p.page_cursor = v,
                _ => unreachable!(),
            }
        }
        p
    }

    #[test]
    fn bad_parameters_are_named() {
        let err = |pairs| {
            ListQuery::parse(&params(pairs), "1")
                .unwrap_err()
                .to_string()
        };
        assert!(err(&[("size", "0")]).contains("page[size] '0'"));
        assert!(err(&[("size", "10001")]).contains("page[size]"));
        assert!(err(&[("size", "ten")]).contains("page[size] 'ten'"));
        assert!(err(&[("sort", "bogus")]).contains("sort 'bogus'"));
        assert!(err(&[("group_by", "registry"), ("sort", "size")]).contains("with group_by"));
        assert!(err(&[("group_by", "registry,,x")]).contains("group_by"));
        assert!(err(&[("group_by", "registry,Sizes")]).contains("are numbers, not tag keys"));
        assert!(err(&[("cursor", "")]).contains("page[cursor]"));
    }

    #[test]
    fn image_tags_is_an_alias_in_group_by() {
        let ListQuery::Groups(q) =
            ListQuery::parse(&params(&[("group_by", "registry, IMAGE_TAGS")]), "1").unwrap()
        else {
            panic!("group_by should give a group query");
        };
        assert_eq!(q.keys, vec!["registry", "image_tag"]);
    }
}
