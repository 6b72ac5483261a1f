//! Sort keys of images and of groups, and the one total order both use.
//!
//! Every order is (rank, value, id): records without a value for the sort key have rank 1 and
//! come last whichever the direction; the value follows the direction; the id (or group name)
//! is always ascending and unique, so the order is total and keyset cursors are exact.

use imagedex_model::{ImageRecord, VulnerabilityCounts};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// A sort value: numbers and times compare as integers, names as strings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortValue {
    Int(i64),
    Str(String),
}

/// A sort value borrowed from a record, ordered exactly as [`SortValue`] (numbers before
/// names), so an index can sort records without copying their strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SortValueRef<'a> {
    Int(i64),
    Str(&'a str),
}

impl SortValueRef<'_> {
    /// The owned value, as cursors carry it.
    pub fn to_value(self) -> SortValue {
        match self {
            SortValueRef::Int(n) => SortValue::Int(n),
            SortValueRef::Str(s) => SortValue::Str(s.to_string()),
        }
    }

    /// Compares with an owned value as `SortValue`'s own order would.
    pub fn cmp_value(self, other: &SortValue) -> Ordering {
        match (self, other) {
            (SortValueRef::Int(a), SortValue::Int(b)) => a.cmp(b),
            (SortValueRef::Str(a), SortValue::Str(b)) => a.cmp(b.as_str()),
            (SortValueRef::Int(_), SortValue::Str(_)) => Ordering::Less,
            (SortValueRef::Str(_), SortValue::Int(_)) => Ordering::Greater,
        }
    }
}

/// A place in an order: everything a keyset cursor needs to resume after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// 0 for items with a value, 1 for items without one (they sort last).
    pub rank: u8,
    pub value: Option<SortValue>,
    pub id: String,
}

impl Position {
    /// Compares two positions in an order of the given direction.
    pub fn cmp_in(&self, other: &Position, descending: bool) -> Ordering {
        let by_value = if descending {
            other.value.cmp(&self.value)
        } else {
            self.value.cmp(&other.value)
        };
        self.rank
            .cmp(&other.rank)
            .then(by_value)
            .then_with(|| self.id.cmp(&other.id))
    }
}

/// The vulnerability buckets one can sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    Critical,
    High,
    Medium,
    Low,
    None,
    Unknown,
}

impl Bucket {
    /// The bucket's count in an image's vulnerability counts.
    pub fn count(self, counts: &VulnerabilityCounts) -> i64 {
        match self {
            Bucket::Critical => counts.critical,
            Bucket::High => counts.high,
            Bucket::Medium => counts.medium,
            Bucket::Low => counts.low,
            Bucket::None => counts.none,
            Bucket::Unknown => counts.unknown,
        }
    }
}

/// What images can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSortField {
    Name,
    ShortImage,
    Registry,
    Repository,
    ContainerCount,
    PublishedAt,
    Size,
    BuiltAt,
    Vulnerabilities(Bucket),
}

impl ImageSortField {
    /// Every image sort field, in the order of [`IMAGE_SORT_KEYS`].
    pub const ALL: [ImageSortField; 14] = [
        ImageSortField::Name,
        ImageSortField::ShortImage,
        ImageSortField::Registry,
        ImageSortField::Repository,
        ImageSortField::ContainerCount,
        ImageSortField::PublishedAt,
        ImageSortField::Size,
        ImageSortField::BuiltAt,
        ImageSortField::Vulnerabilities(Bucket::Critical),
        ImageSortField::Vulnerabilities(Bucket::High),
        ImageSortField::Vulnerabilities(Bucket::Medium),
        ImageSortField::Vulnerabilities(Bucket::Low),
        ImageSortField::Vulnerabilities(Bucket::None),
        ImageSortField::Vulnerabilities(Bucket::Unknown),
    ];

    /// The record's value for this field, borrowed, if it has one: the one definition of every
    /// sort value, which [`ImageSort::value`] copies.
    pub fn value_ref(self, record: &ImageRecord) -> Option<SortValueRef<'_>> {
        match self {
            ImageSortField::Name => Some(SortValueRef::Str(&record.name)),
            ImageSortField::ShortImage => Some(SortValueRef::Str(&record.short_image)),
            ImageSortField::Registry => record.registry.as_deref().map(SortValueRef::Str),
            ImageSortField::Repository => Some(SortValueRef::Str(&record.repository)),
            ImageSortField::ContainerCount => Some(SortValueRef::Int(record.container_count)),
            ImageSortField::PublishedAt => record
                .published_at
                .map(|t| SortValueRef::Int(t.timestamp())),
            ImageSortField::Size => record.largest_size().map(SortValueRef::Int),
            ImageSortField::BuiltAt => record
                .latest_built_at()
                .map(|t| SortValueRef::Int(t.timestamp())),
            ImageSortField::Vulnerabilities(bucket) => record
                .vulnerabilities
                .map(|v| SortValueRef::Int(bucket.count(&v))),
        }
    }
}

/// An image sort: a field and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageSort {
    pub field: ImageSortField,
    pub descending: bool,
}

/// What groups can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSortField {
    Count,
    Name,
}

/// A group sort: a field and a direction; the default is `-count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupSort {
    pub field: GroupSortField,
    pub descending: bool,
}

/// The image sort keys, as the API accepts them.
pub const IMAGE_SORT_KEYS: &[&str] = &[
    "name",
    "short_image",
    "registry",
    "repository",
    "container_count",
    "published_at",
    "size",
    "built_at",
    "vulnerability_count.critical",
    "vulnerability_count.high",
    "vulnerability_count.medium",
    "vulnerability_count.low",
    "vulnerability_count.none",
    "vulnerability_count.unknown",
];

fn split_direction(input: &str) -> (bool, &str) {
    match input.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, input.strip_prefix('+').unwrap_or(input)),
    }
}

impl Default for ImageSort {
    fn default() -> Self {
        ImageSort {
            field: ImageSortField::Name,
            descending: false,
        }
    }
}

impl ImageSort {
    /// Parses `[-]key`; `None` when the key is not an image sort key.
    pub fn parse(input: &str) -> Option<Self> {
        let (descending, key) = split_direction(input.trim());
        let field = match key.to_ascii_lowercase().as_str() {
            "name" => ImageSortField::Name,
            "short_image" => ImageSortField::ShortImage,
            "registry" => ImageSortField::Registry,
            "repository" => ImageSortField::Repository,
            "container_count" => ImageSortField::ContainerCount,
            "published_at" => ImageSortField::PublishedAt,
            "size" | "sizes" => ImageSortField::Size,
            "built_at" | "images_built_at" => ImageSortField::BuiltAt,
            "vulnerability_count.critical" => ImageSortField::Vulnerabilities(Bucket::Critical),
            "vulnerability_count.high" => ImageSortField::Vulnerabilities(Bucket::High),
            "vulnerability_count.medium" => ImageSortField::Vulnerabilities(Bucket::Medium),
            "vulnerability_count.low" => ImageSortField::Vulnerabilities(Bucket::Low),
            "vulnerability_count.none" => ImageSortField::Vulnerabilities(Bucket::None),
            "vulnerability_count.unknown" => ImageSortField::Vulnerabilities(Bucket::Unknown),
            _ => return None,
        };
        Some(ImageSort { field, descending })
    }

    /// The record's value for this sort key, if it has one.
    pub fn value(&self, record: &ImageRecord) -> Option<SortValue> {
        self.field.value_ref(record).map(SortValueRef::to_value)
    }

    /// The record's place in this order.
    pub fn position(&self, record: &ImageRecord) -> Position {
        let value = self.value(record);
        Position {
            rank: u8::from(value.is_none()),
            value,
            id: record.id.clone(),
        }
    }

    /// The canonical text, for cursor fingerprints.
    pub fn canonical(&self) -> String {
        format!("{:?}:{}", self.field, self.descending)
    }
}

impl Default for GroupSort {
    fn default() -> Self {
        GroupSort {
            field: GroupSortField::Count,
            descending: true,
        }
    }
}

impl GroupSort {
    /// Parses `[-]count` or `[-]name`; `None` for anything else.
    pub fn parse(input: &str) -> Option<Self> {
        let (descending, key) = split_direction(input.trim());
        let field = match key.to_ascii_lowercase().as_str() {
            "count" => GroupSortField::Count,
            "name" => GroupSortField::Name,
            _ => return None,
        };
        Some(GroupSort { field, descending })
    }

    /// The canonical text, for cursor fingerprints.
    pub fn canonical(&self) -> String {
        format!("{:?}:{}", self.field, self.descending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(rank: u8, value: Option<i64>, id: &str) -> Position {
        Position {
            rank,
            value: value.map(SortValue::Int),
            id: id.into(),
        }
    }

    #[test]
    fn missing_values_sort_last_in_both_directions() {
        let (a, b, none) = (
            pos(0, Some(1), "a"),
            pos(0, Some(2), "b"),
            pos(1, None, "c"),
        );
        assert_eq!(a.cmp_in(&b, false), Ordering::Less);
        assert_eq!(a.cmp_in(&b, true), Ordering::Greater);
        assert_eq!(none.cmp_in(&a, false), Ordering::Greater);
        assert_eq!(none.cmp_in(&a, true), Ordering::Greater);
    }

    #[test]
    fn ties_break_on_id_ascending_in_both_directions() {
        let (a, b) = (pos(0, Some(1), "a"), pos(0, Some(1), "b"));
        assert_eq!(a.cmp_in(&b, false), Ordering::Less);
        assert_eq!(a.cmp_in(&b, true), Ordering::Less);
    }

    #[test]
    fn every_sort_key_is_listed_once_in_all() {
        let parsed: Vec<ImageSortField> = IMAGE_SORT_KEYS
            .iter()
            .map(|key| ImageSort::parse(key).unwrap().field)
            .collect();
        assert_eq!(parsed, ImageSortField::ALL);
    }

    #[test]
    fn aliases_parse() {
        assert_eq!(
            ImageSort::parse("-sizes").unwrap().field,
            ImageSortField::Size
        );
        assert_eq!(
            ImageSort::parse("images_built_at").unwrap().field,
            ImageSortField::BuiltAt
        );
        assert!(ImageSort::parse("bogus").is_none());
        assert!(GroupSort::parse("-count").unwrap().descending);
    }
}
