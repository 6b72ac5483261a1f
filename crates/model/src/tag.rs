//! Tags: lowercase `key:value` pairs, as they appear in a record's `tags` and in filters.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a string is not a tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("tag '{0}' must be key:value with a non-empty key and value")]
    Malformed(String),
    #[error("tag '{0}' must not contain ',' or control characters")]
    BadCharacter(String),
    #[error("tag '{0}' has a key with '*', white space or a leading '-'; keys must be usable in filters")]
    BadKey(String),
    #[error("tag '{0}' has a key that filters read as a number of the image ({keys}); choose another key", keys = NUMERIC_KEYS.join(", "))]
    NumericKey(String),
    #[error("tag '{0}' has a key that imagedex derives from the image itself ({keys}); choose another key", keys = DERIVED_KEYS.join(", "))]
    DerivedKey(String),
    #[error("tag '{0}' has a value starting with '(', which filters read as a list of alternatives; start it with another character")]
    ListValue(String),
}

/// Keys of the tags a record derives from its own fields (`ImageRecord::derive_tags`): a tag
/// given by a user or a collector cannot use them, or it could pass one image off as coming
/// from another registry or source.
pub const DERIVED_KEYS: &[&str] = &[
    "image_name",
    "short_image",
    "repository",
    "registry",
    "image_tag",
    "image_id",
    "os_name",
    "os_architecture",
    "source",
];

/// Keys that the filter language reads as numbers of a record (its container count, size and
/// vulnerability counts), never as tags: a tag given at import cannot use them.
pub const NUMERIC_KEYS: &[&str] = &[
    "container_count",
    "size",
    "sizes",
    "vulnerability_count.critical",
    "vulnerability_count.high",
    "vulnerability_count.medium",
    "vulnerability_count.low",
    "vulnerability_count.none",
    "vulnerability_count.unknown",
];

/// A lowercase `key:value` pair; the value may itself contain `:`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct Tag {
    key: String,
    value: String,
}

impl Tag {
    /// Builds a tag from a key and a value taken from data (a name, an OS): both lowercased and
    /// trimmed, with ',' and control characters (which the filter language cannot express)
    /// replaced by '_', and an empty value written as '_', so every tag stays filterable.
    pub fn new(key: &str, value: &str) -> Self {
        let clean = |s: &str| -> String {
            let s: String = s
                .trim()
                .chars()
                .map(|c| if c == ',' || c.is_control() { '_' } else { c })
                .collect::<String>()
                .to_lowercase();
            if s.is_empty() {
                "_".to_string()
            } else {
                s
            }
        };
        Tag {
            key: clean(key),
            value: clean(value),
        }
    }

    /// Parses `key:value`, splitting on the first `:`, as given at import: the tag must be
    /// usable in filters exactly as written.
    pub fn parse(input: &str) -> Result<Self, TagError> {
        if input.chars().any(|c| c == ',' || c.is_control()) {
            return Err(TagError::BadCharacter(input.to_string()));
        }
        match input.trim().split_once(':') {
            Some((key, value)) if !key.trim().is_empty() && !value.trim().is_empty() => {
                let key = key.trim();
                if key.starts_with('-') || key.chars().any(|c| c == '*' || c.is_whitespace()) {
                    return Err(TagError::BadKey(input.to_string()));
                }
                if NUMERIC_KEYS.contains(&key.to_lowercase().as_str()) {
                    return Err(TagError::NumericKey(input.to_string()));
                }
                if DERIVED_KEYS.contains(&key.to_lowercase().as_str()) {
                    return Err(TagError::DerivedKey(input.to_string()));
                }
                if value.trim().starts_with('(') {
                    return Err(TagError::ListValue(input.to_string()));
                }
                Ok(Tag::new(key, value.trim()))
            }
            _ => Err(TagError::Malformed(input.to_string())),
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.key, self.value)
    }
}

/// Reading back a stored tag never fails: it was valid when written.
impl From<String> for Tag {
    fn from(text: String) -> Self {
        let (key, value) = text.split_once(':').unwrap_or((text.as_str(), ""));
        Tag {
            key: key.to_string(),
            value: value.to_string(),
        }
    }
}

impl From<Tag> for String {
    fn from(tag: Tag) -> Self {
        tag.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_lowercases() {
        let tag = Tag::parse("Team:Payments").unwrap();
        assert_eq!(tag.to_string(), "team:payments");
        let tag = Tag::parse("url:http://x:1").unwrap();
        assert_eq!((tag.key(), tag.value()), ("url", "http://x:1"));
    }

    #[test]
    fn values_from_data_are_made_filterable() {
        assert_eq!(Tag::new("os_name", "").to_string(), "os_name:_");
        assert_eq!(
            Tag::new("os_architecture", " AMD64,team:x\n").to_string(),
            "os_architecture:amd64_team:x"
        );
        let stored: Tag = serde_json::from_str("\"os_name:\"").unwrap();
        assert_eq!(stored.key(), "os_name");
    }

    #[test]
    fn derived_keys_cannot_be_given() {
        for key in DERIVED_KEYS {
            let input = format!("{}:x", key.to_uppercase());
            assert!(
                matches!(Tag::parse(&input), Err(TagError::DerivedKey(_))),
                "{input}"
            );
        }
        assert!(Tag::parse("registry_team:x").is_ok());
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "team",
            ":x",
            "team:",
            "a:b,c",
            " : ",
            "my team:x",
            "st*r:z",
            "-neg:y",
            "Size:large",
            "vulnerability_count.high:x",
            "note:(old)",
        ] {
            assert!(Tag::parse(bad).is_err(), "{bad}");
        }
    }
}
