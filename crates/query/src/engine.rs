//! Evaluation of a parsed query over one organisation's records: filter, order, group and
//! cut one page after the cursor's position.

use crate::cursor;
pub use crate::group_page::page_groups;
use crate::sort::{GroupSort, GroupSortField, Position, SortValue};
use crate::{GroupQuery, ImageQuery};
use imagedex_model::ImageRecord;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

/// One page of images, the total of matching images, and the cursor of the next page.
#[derive(Debug)]
pub struct ImagePage<'a> {
    pub items: Vec<&'a ImageRecord>,
    pub total: usize,
    pub next_cursor: Option<String>,
}

/// One group: its terms in `group_by` order (`None` for images without the key) and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    pub terms: Vec<(String, Option<String>)>,
    pub count: usize,
}

/// One page of groups, the number of groups, and the cursor of the next page.
#[derive(Debug)]
pub struct GroupPage {
    pub groups: Vec<GroupRow>,
    pub total: usize,
    pub next_cursor: Option<String>,
}

impl GroupRow {
    /// The group's name and id: its terms joined by commas, a missing value left empty
    /// (`registry:ghcr.io,team:`).
    pub fn name(&self) -> String {
        let terms: Vec<String> = self
            .terms
            .iter()
            .map(|(k, v)| format!("{k}:{}", v.as_deref().unwrap_or("")))
            .collect();
        terms.join(",")
    }

    fn has_missing_value(&self) -> bool {
        self.terms.iter().any(|(_, v)| v.is_none())
    }

    /// The group's place in the order of `sort`: groups with a missing value last, then the
    /// count or the name, then the name.
    pub fn position(&self, sort: &GroupSort) -> Position {
        let name = self.name();
        let value = match sort.field {
            GroupSortField::Count => SortValue::Int(self.count as i64),
            GroupSortField::Name => SortValue::Str(name.clone()),
        };
        Position {
            rank: u8::from(self.has_missing_value()),
            value: Some(value),
            id: name,
        }
    }
}

/// Lists one page of the images that match `query`.
pub fn list_images<'a>(records: &'a [Arc<ImageRecord>], query: &ImageQuery) -> ImagePage<'a> {
    let descending = query.sort.descending;
    let mut matched: Vec<(Position, &ImageRecord)> = records
        .iter()
        .filter(|r| query.filter.matches(r))
        .map(|r| (query.sort.position(r), r.as_ref()))
        .collect();
    matched.sort_by(|a, b| a.0.cmp_in(&b.0, descending));

    let (start, end, next_cursor) = cut(
        &matched,
        |m| &m.0,
        query.after.as_ref(),
        query.page_size,
        descending,
        &query.fingerprint,
    );
    ImagePage {
        items: matched[start..end].iter().map(|m| m.1).collect(),
        total: matched.len(),
        next_cursor,
    }
}

/// Lists one page of the groups of the images that match `query`. An image with several
/// values of a key counts in each of its groups.
pub fn list_groups(records: &[Arc<ImageRecord>], query: &GroupQuery) -> GroupPage {
    let matched = records
        .iter()
        .map(Arc::as_ref)
        .filter(|r| query.filter.matches(r));
    page_groups(query, count_groups(matched, &query.keys))
}

/// Counts the groups of `records` over `keys`: one entry per combination of values, in `keys`
/// order, `None` for an image without the key. An image with several values of a key counts
/// once in each combination it holds.
pub fn count_groups<'a>(
    records: impl IntoIterator<Item = &'a ImageRecord>,
    keys: &[String],
) -> HashMap<Vec<Option<&'a str>>, usize> {
    let mut counts: HashMap<Vec<Option<&str>>, usize> = HashMap::new();
    for record in records {
        let per_key: Vec<Vec<Option<&str>>> = keys
            .iter()
            .map(|key| {
                // `tag_values`, with the values borrowed from the record alone.
                let values: Vec<Option<&str>> = record
                    .tags
                    .iter()
                    .filter(|t| t.key() == key)
                    .map(|t| Some(t.value()))
                    .collect();
                if values.is_empty() {
                    vec![None]
                } else {
                    values
                }
            })
            .collect();
        for combination in cartesian(&per_key) {
            *counts.entry(combination).or_default() += 1;
        }
    }
    counts
}

/// The page's bounds in a sorted list, and the next page's cursor when items remain after it.
pub(crate) fn cut<T>(
    sorted: &[T],
    position: impl Fn(&T) -> &Position,
    after: Option<&Position>,
    page_size: usize,
    descending: bool,
    fingerprint: &str,
) -> (usize, usize, Option<String>) {
    let start = match after {
        Some(after) => sorted
            .partition_point(|item| position(item).cmp_in(after, descending) != Ordering::Greater),
        None => 0,
    };
    let end = start.saturating_add(page_size).min(sorted.len());
    let last = (end > start).then(|| position(&sorted[end - 1]));
    (
        start,
        end,
        next_cursor(fingerprint, last, end < sorted.len()),
    )
}

/// The next page's cursor: the position of the page's last item, when the page has one and
/// items follow it. Every evaluation issues cursors by this rule.
pub(crate) fn next_cursor(
    fingerprint: &str,
    last: Option<&Position>,
    more: bool,
) -> Option<String> {
    last.filter(|_| more)
        .map(|position| cursor::encode(fingerprint, position))
}

/// Every combination taking one value from each list.
fn cartesian<'a>(lists: &[Vec<Option<&'a str>>]) -> Vec<Vec<Option<&'a str>>> {
    lists.iter().fold(vec![Vec::new()], |acc, values| {
        acc.iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut next = prefix.clone();
                    next.push(*v);
                    next
                })
            })
            .collect()
    })
}
