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
}

/// A lowercase `key:value` pair; the value may itself contain `:`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Tag {
    key: String,
    value: String,
}

impl Tag {
    /// Builds a tag from a key and value, lowercasing both.
    pub fn new(key: &str, value: &str) -> Self {
        Tag {
            key: key.to_lowercase(),
            value: value.to_lowercase(),
        }
    }

    /// Parses `key:value`, splitting on the first `:`.
    pub fn parse(input: &str) -> Result<Self, TagError> {
        if input.chars().any(|c| c == ',' || c.is_control()) {
            return Err(TagError::BadCharacter(input.to_string()));
        }
        match input.trim().split_once(':') {
            Some((key, value)) if !key.trim().is_empty() && !value.trim().is_empty() => {
                Ok(Tag::new(key.trim(), value.trim()))
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

impl TryFrom<String> for Tag {
    type Error = TagError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Tag::parse(&value)
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
    fn rejects_malformed() {
        for bad in ["team", ":x", "team:", "a:b,c", " : "] {
            assert!(Tag::parse(bad).is_err(), "{bad}");
        }
    }
}
