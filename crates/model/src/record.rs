//! The image record: one per image per organisation, as the API lists it.

use crate::tag::Tag;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One image of one organisation, merged from every source that reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// `<name>@<repo digest>`, or `<name>@<image id>` while no repo digest is known.
    pub id: String,
    pub name: String,
    pub registry: Option<String>,
    pub repository: String,
    pub short_image: String,
    pub repo_digest: Option<String>,
    /// Config digests of the platform images (aliases of the record).
    pub image_ids: Vec<String>,
    pub image_tags: Vec<String>,
    /// One per platform, ordered by (os name, architecture).
    pub flavors: Vec<Flavor>,
    pub sources: Vec<String>,
    /// Tags given at import (`--tag team:payments`).
    pub custom_tags: Vec<Tag>,
    pub container_count: i64,
    pub published_at: Option<DateTime<Utc>>,
    /// Absent when no scanner reported on the image.
    pub vulnerabilities: Option<VulnerabilityCounts>,
    /// Every tag of the record, derived from the fields above; sorted and unique. Not part of
    /// the stored JSON (it would double its size): [`ImageRecord::from_json`] derives it again.
    #[serde(skip)]
    pub tags: Vec<Tag>,
}

/// One platform of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flavor {
    pub os_name: String,
    /// The OCI architecture, with `/variant` for a non-default variant (`arm/v7`).
    pub os_architecture: String,
    pub os_version: Option<String>,
    pub size: Option<i64>,
    pub built_at: Option<DateTime<Utc>>,
}

/// The OCI architecture, with `/variant` unless the variant is the default one (`arm64/v8`).
pub fn platform_architecture(arch: &str, variant: Option<&str>) -> String {
    let arch = arch.to_lowercase();
    match variant.map(str::to_lowercase) {
        Some(v)
            if !v.is_empty()
                && !matches!(
                    (arch.as_str(), v.as_str()),
                    ("arm64", "v8") | ("amd64", "v1")
                ) =>
        {
            format!("{arch}/{v}")
        }
        _ => arch,
    }
}

/// Vulnerability counts of an image, by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VulnerabilityCounts {
    pub critical: i64,
    pub high: i64,
    pub medium: i64,
    pub low: i64,
    pub none: i64,
    pub unknown: i64,
}

impl ImageRecord {
    /// Values of the tags with this key, in tag order.
    pub fn tag_values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.tags
            .iter()
            .filter(move |t| t.key() == key)
            .map(Tag::value)
    }

    /// The largest flavor size: an image's size for sorting and comparing.
    pub fn largest_size(&self) -> Option<i64> {
        self.flavors.iter().filter_map(|f| f.size).max()
    }

    /// The latest flavor build time: an image's build time for sorting and comparing.
    pub fn latest_built_at(&self) -> Option<DateTime<Utc>> {
        self.flavors.iter().filter_map(|f| f.built_at).max()
    }

    /// Reads a record from its stored JSON, deriving its tags.
    pub fn from_json(json: &str) -> serde_json::Result<ImageRecord> {
        let mut record: ImageRecord = serde_json::from_str(json)?;
        record.derive_tags();
        Ok(record)
    }

    /// Recomputes `tags` from the other fields.
    pub fn derive_tags(&mut self) {
        let mut tags = vec![
            Tag::new("image_name", &self.name),
            Tag::new("short_image", &self.short_image),
            Tag::new("repository", &self.repository),
        ];
        if let Some(registry) = &self.registry {
            tags.push(Tag::new("registry", registry));
        }
        tags.extend(self.image_tags.iter().map(|t| Tag::new("image_tag", t)));
        tags.extend(self.image_ids.iter().map(|id| Tag::new("image_id", id)));
        for flavor in &self.flavors {
            tags.push(Tag::new("os_name", &flavor.os_name));
            tags.push(Tag::new("os_architecture", &flavor.os_architecture));
        }
        tags.extend(self.sources.iter().map(|s| Tag::new("source", s)));
        tags.extend(self.custom_tags.iter().cloned());
        tags.sort();
        tags.dedup();
        self.tags = tags;
    }
}

impl VulnerabilityCounts {
    /// The larger count of each severity.
    pub fn max_each(&self, other: &VulnerabilityCounts) -> VulnerabilityCounts {
        VulnerabilityCounts {
            critical: self.critical.max(other.critical),
            high: self.high.max(other.high),
            medium: self.medium.max(other.medium),
            low: self.low.max(other.low),
            none: self.none.max(other.none),
            unknown: self.unknown.max(other.unknown),
        }
    }

    /// The number of vulnerabilities of every severity.
    pub fn total(&self) -> i64 {
        self.critical + self.high + self.medium + self.low + self.none + self.unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_non_default_variants_are_shown() {
        assert_eq!(platform_architecture("arm64", Some("v8")), "arm64");
        assert_eq!(platform_architecture("arm", Some("v7")), "arm/v7");
        assert_eq!(platform_architecture("amd64", None), "amd64");
    }
}
