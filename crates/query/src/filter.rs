//! The `filter[tags]` language.
//!
//! ```text
//! filter  := term ( "," term )*
//! term    := [ "-" ] key ":" value          all terms must match (AND)
//! key     := one or more characters other than ',' ':' '*' and white space
//! value   := one or more characters other than ','; '*' matches any run of characters,
//!            and a value of just '*' means "the key is present"
//! ```
//!
//! Matching is case-insensitive; a value may contain ':' (the term splits on its first ':').
//! `-key:value` matches records with no tag `key` whose value matches; `-key:*` matches records
//! without the key. White space around a term is ignored.

use imagedex_model::ImageRecord;
use std::fmt;

/// The most terms a filter takes; more is a 400, not minutes of matching.
pub const MAX_TERMS: usize = 64;

/// A malformed filter: the 1-based character position of the bad term, the term, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("term '{token}' at position {position} {reason}")]
pub struct FilterError {
    pub position: usize,
    pub token: String,
    pub reason: &'static str,
}

/// A parsed filter: terms that must all match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagFilter {
    terms: Vec<Term>,
}

/// One `[-]key:value` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub negated: bool,
    pub key: String,
    pub pattern: Pattern,
}

/// What a term's value matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// The exact (lowercased) value.
    Exact(String),
    /// Any value: the key is present.
    Any,
    /// A value with `*` wildcards, split at the stars.
    Glob(Vec<String>),
}

impl TagFilter {
    /// Parses the text of `filter[tags]`; an empty or blank text matches everything.
    pub fn parse(input: &str) -> Result<Self, FilterError> {
        let mut terms = Vec::new();
        if input.trim().is_empty() {
            return Ok(TagFilter { terms });
        }
        let mut offset = 0;
        for (index, raw) in input.split(',').enumerate() {
            let position = input[..offset].chars().count() + 1;
            offset += raw.len() + 1;
            let error = |reason| FilterError {
                position,
                token: raw.to_string(),
                reason,
            };

            if index == MAX_TERMS {
                return Err(error(
                    "is one term too many: a filter takes at most 64 terms",
                ));
            }
            let text = raw.trim();
            if text.is_empty() {
                return Err(error("is empty: remove the extra ','"));
            }
            let (negated, body) = match text.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, text),
            };
            let Some((key, value)) = body.split_once(':') else {
                return Err(error("must be key:value"));
            };
            let key = key.trim().to_lowercase();
            let value = value.trim().to_lowercase();
            if key.is_empty() || key.chars().any(|c| c == '*' || c.is_whitespace()) {
                return Err(error("needs a key without '*' or spaces before ':'"));
            }
            if value.is_empty() {
                return Err(error("needs a value after ':' (use key:* for any value)"));
            }
            terms.push(Term {
                negated,
                key,
                pattern: Pattern::from_value(&value),
            });
        }
        Ok(TagFilter { terms })
    }

    /// A filter of exact terms, such as a group's terms.
    pub fn from_terms(terms: Vec<Term>) -> Self {
        TagFilter { terms }
    }

    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether every term matches the record's tags.
    pub fn matches(&self, record: &ImageRecord) -> bool {
        self.terms.iter().all(|term| {
            let found = record
                .tag_values(&term.key)
                .any(|v| term.pattern.matches(v));
            found != term.negated
        })
    }
}

impl Pattern {
    fn from_value(value: &str) -> Self {
        if value == "*" {
            Pattern::Any
        } else if value.contains('*') {
            Pattern::Glob(value.split('*').map(str::to_string).collect())
        } else {
            Pattern::Exact(value.to_string())
        }
    }

    /// Whether a (lowercase) tag value matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Pattern::Exact(exact) => exact == value,
            Pattern::Any => true,
            Pattern::Glob(parts) => glob_matches(parts, value),
        }
    }
}

/// `parts` are the pieces between stars: the first must start the value, the last end it,
/// and the middle ones appear in order.
fn glob_matches(parts: &[String], value: &str) -> bool {
    let (first, rest) = parts
        .split_first()
        .expect("a glob should have at least two parts");
    let Some(mut remaining) = value.strip_prefix(first.as_str()) else {
        return false;
    };
    let (last, middle) = rest
        .split_last()
        .expect("a glob should have at least two parts");
    for part in middle {
        match remaining.find(part.as_str()) {
            Some(i) => remaining = &remaining[i + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last.as_str())
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_str("-")?;
        }
        match &self.pattern {
            Pattern::Exact(v) => write!(f, "{}:{v}", self.key),
            Pattern::Any => write!(f, "{}:*", self.key),
            Pattern::Glob(parts) => write!(f, "{}:{}", self.key, parts.join("*")),
        }
    }
}

impl fmt::Display for TagFilter {
    /// The canonical text: terms in their given order, lowercased and trimmed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let terms: Vec<String> = self.terms.iter().map(Term::to_string).collect();
        f.write_str(&terms.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_terms_case_insensitively() {
        let f = TagFilter::parse("Short_Image:Redis, env:prod:eu ,-team:*").unwrap();
        assert_eq!(f.to_string(), "short_image:redis,env:prod:eu,-team:*");
        assert_eq!(f.terms()[2].pattern, Pattern::Any);
        assert!(f.terms()[2].negated);
    }

    #[test]
    fn errors_name_the_position_and_token() {
        let err = TagFilter::parse("a:b,oops,c:d").unwrap_err();
        assert_eq!((err.position, err.token.as_str()), (5, "oops"));
        assert!(TagFilter::parse("a:b,,c:d")
            .unwrap_err()
            .to_string()
            .contains("position 5"));
        assert!(TagFilter::parse(":x").is_err());
        assert!(TagFilter::parse("x:").is_err());
        assert!(TagFilter::parse("a*:x").is_err());
        let many = vec!["a:*"; 65].join(",");
        assert!(TagFilter::parse(&many)
            .unwrap_err()
            .to_string()
            .contains("at most 64 terms"));
    }

    #[test]
    fn globs_match_in_order() {
        let p = Pattern::from_value("api-*-eu*");
        assert!(p.matches("api-payments-eu"));
        assert!(p.matches("api--eu-west"));
        assert!(!p.matches("api-eu"));
        assert!(!p.matches("web-x-eu"));
        assert!(Pattern::from_value("*ab*ab").matches("abab"));
        assert!(!Pattern::from_value("ab*ab").matches("ab"));
    }

    fn naive_glob(pattern: &str, value: &str) -> bool {
        match pattern.split_once('*') {
            None => pattern == value,
            Some((head, tail)) => {
                value.starts_with(head)
                    && (head.len()..=value.len())
                        .filter(|i| value.is_char_boundary(*i))
                        .any(|i| naive_glob(tail, &value[i..]))
            }
        }
    }

    proptest! {
        #[test]
        fn glob_agrees_with_a_naive_matcher(pattern in "[ab*]{1,6}", value in "[ab]{0,6}") {
            prop_assert_eq!(Pattern::from_value(&pattern).matches(&value), naive_glob(&pattern, &value));
        }

        #[test]
        fn parsing_never_panics(input in "\\PC{0,40}") {
            let _ = TagFilter::parse(&input);
        }
    }
}
