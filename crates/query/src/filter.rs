//! The `filter[tags]` language: its grammar, its typed tree, and the reference evaluation of
//! that tree over one record.
//!
//! ```text
//! filter   := term ( "," term )*                  all terms must match (AND)
//! term     := [ "-" ] key ":" value               '-' keeps the records the term does not match
//! key      := one or more characters other than ',' ':' '*' and white space
//! value    := single | "(" single ( " OR " single )* ")"      any alternative may match
//! single   := on a tag key: one or more characters other than ','; '*' matches any run of
//!             characters, and a value of just '*' means "the key is present"
//!          := on a numeric key: "*" (the record has the number) or [ op ] digits
//! op       := ">" | ">=" | "<" | "<="                 no op: equal
//! digits   := one or more of 0-9, at most 9223372036854775807
//! numeric  := container_count | size | sizes | vulnerability_count.critical | … .high |
//!             … .medium | … .low | … .none | … .unknown
//! ```
//!
//! Matching is case-insensitive; a value may contain ':' (the term splits on its first ':').
//! White space around a term, a value and each alternative is ignored. `OR` is a whole word,
//! in any case; `AND`, an empty alternative and parentheses inside the list are errors.
//!
//! A value is a list only when it starts with '('; elsewhere '(' and ')' are plain characters.
//! A record without a numeric value (no size, no scanner data) matches no positive numeric term
//! and every negated one: `-term` always matches exactly the records `term` does not.

use crate::sort::Bucket;
use imagedex_model::ImageRecord;
use std::fmt;
use std::ops::RangeInclusive;

/// The most terms a filter takes; more is a 400, not minutes of matching.
pub const MAX_TERMS: usize = 64;

/// The most alternatives a filter takes across all its terms, a plain value counting as one.
pub const MAX_ALTERNATIVES: usize = 256;

/// A malformed filter: the 1-based character position of the bad term, the term, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("term '{token}' at position {position} {reason}")]
pub struct FilterError {
    pub position: usize,
    pub token: String,
    pub reason: String,
}

/// A parsed filter: terms that must all match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagFilter {
    terms: Vec<Term>,
}

/// One `[-]key:value` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// A negated term matches exactly the records its condition does not.
    pub negated: bool,
    pub condition: Condition,
}

/// What a term asks of a record; the kind of key decides which values are valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// A lowercase tag key and its alternatives: one value of the key matches one of them.
    Tag { key: String, any_of: Vec<Pattern> },
    /// A number of the record and its alternatives: the record has it and it satisfies one.
    Number {
        field: NumericField,
        any_of: Vec<NumberPattern>,
    },
}

/// What one alternative of a tag term matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// The exact (lowercased) value.
    Exact(String),
    /// Any value: the key is present.
    Any,
    /// A value with `*` wildcards, split at the stars.
    Glob(Vec<String>),
}

/// What one alternative of a numeric term matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberPattern {
    /// Any number: the record has the value.
    Any,
    /// A comparison with a number (`0`, `>0`, `>=100000000`).
    Compare(CompareOp, i64),
}

/// A comparison operator; `Eq` is written without one (`container_count:0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

/// The numbers of a record a filter compares. They are fields of the record, not tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumericField {
    /// `container_count`.
    ContainerCount,
    /// `size` (alias `sizes`): the largest flavor size.
    Size,
    /// `vulnerability_count.<bucket>`: absent when no scanner reported on the image.
    Vulnerabilities(Bucket),
}

impl TagFilter {
    /// Parses the text of `filter[tags]`; an empty or blank text matches everything.
    pub fn parse(input: &str) -> Result<Self, FilterError> {
        let mut terms = Vec::new();
        if input.trim().is_empty() {
            return Ok(TagFilter { terms });
        }
        let mut offset = 0;
        let mut alternatives = 0;
        for (index, raw) in input.split(',').enumerate() {
            let position = input[..offset].chars().count() + 1;
            offset += raw.len() + 1;
            let error = |reason| FilterError {
                position,
                token: raw.to_string(),
                reason,
            };

            if index == MAX_TERMS {
                return Err(error(format!(
                    "is one term too many: a filter takes at most {MAX_TERMS} terms"
                )));
            }
            let term = parse_term(raw.trim()).map_err(error)?;
            alternatives += term.alternatives();
            if alternatives > MAX_ALTERNATIVES {
                return Err(error(format!(
                    "brings the filter past {MAX_ALTERNATIVES} alternatives, the most it takes"
                )));
            }
            terms.push(term);
        }
        Ok(TagFilter { terms })
    }

    /// A filter of the given terms, such as a group's terms.
    pub fn from_terms(terms: Vec<Term>) -> Self {
        TagFilter { terms }
    }

    /// The terms, in the order given; a record must match all of them.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// Whether the filter has no terms and so matches every record.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether every term matches the record: the reference evaluation.
    pub fn matches(&self, record: &ImageRecord) -> bool {
        self.terms.iter().all(|term| term.matches(record))
    }
}

impl Term {
    /// Whether the record matches the term, negation included.
    pub fn matches(&self, record: &ImageRecord) -> bool {
        self.condition.matches(record) != self.negated
    }

    /// How many alternatives the term lists; a plain value is one.
    pub fn alternatives(&self) -> usize {
        match &self.condition {
            Condition::Tag { any_of, .. } => any_of.len(),
            Condition::Number { any_of, .. } => any_of.len(),
        }
    }
}

impl Condition {
    /// Whether the record matches the condition, before negation.
    pub fn matches(&self, record: &ImageRecord) -> bool {
        match self {
            Condition::Tag { key, any_of } => record
                .tag_values(key)
                .any(|value| any_of.iter().any(|p| p.matches(value))),
            Condition::Number { field, any_of } => field
                .value(record)
                .is_some_and(|value| any_of.iter().any(|p| p.matches(value))),
        }
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

impl NumberPattern {
    /// The numbers that match, as one range; `None` when none can (`<0` … `>i64::MAX`), so an
    /// index over a sorted column can answer with one or two binary searches.
    pub fn range(&self) -> Option<RangeInclusive<i64>> {
        match *self {
            NumberPattern::Any => Some(i64::MIN..=i64::MAX),
            NumberPattern::Compare(op, n) => match op {
                CompareOp::Eq => Some(n..=n),
                CompareOp::Gt => n.checked_add(1).map(|start| start..=i64::MAX),
                CompareOp::Ge => Some(n..=i64::MAX),
                CompareOp::Lt => n.checked_sub(1).map(|end| i64::MIN..=end),
                CompareOp::Le => Some(i64::MIN..=n),
            },
        }
    }

    /// Whether a record's number matches.
    pub fn matches(&self, value: i64) -> bool {
        self.range().is_some_and(|range| range.contains(&value))
    }

    fn parse(text: &str) -> Result<Self, NumberError> {
        if text == "*" {
            return Ok(NumberPattern::Any);
        }
        let (op, digits) = split_operator(text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NumberError::NotANumber);
        }
        let n = digits.parse().map_err(|_| NumberError::TooLarge)?;
        Ok(NumberPattern::Compare(op, n))
    }
}

enum NumberError {
    NotANumber,
    TooLarge,
}

/// Splits a leading comparison operator off; no operator is `Eq`.
fn split_operator(text: &str) -> (CompareOp, &str) {
    let operators = [
        (">=", CompareOp::Ge),
        ("<=", CompareOp::Le),
        (">", CompareOp::Gt),
        ("<", CompareOp::Lt),
    ];
    operators
        .into_iter()
        .find_map(|(symbol, op)| text.strip_prefix(symbol).map(|rest| (op, rest)))
        .unwrap_or((CompareOp::Eq, text))
}

impl CompareOp {
    /// The operator as written in a filter; empty for `Eq`.
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
        }
    }
}

impl NumericField {
    /// Every numeric field, in the order their keys are listed to users.
    pub const ALL: [NumericField; 8] = [
        NumericField::ContainerCount,
        NumericField::Size,
        NumericField::Vulnerabilities(Bucket::Critical),
        NumericField::Vulnerabilities(Bucket::High),
        NumericField::Vulnerabilities(Bucket::Medium),
        NumericField::Vulnerabilities(Bucket::Low),
        NumericField::Vulnerabilities(Bucket::None),
        NumericField::Vulnerabilities(Bucket::Unknown),
    ];

    /// The field a lowercase filter key names, aliases included; `None` for a tag key.
    pub fn from_key(key: &str) -> Option<Self> {
        if key == "sizes" {
            return Some(NumericField::Size);
        }
        Self::ALL.into_iter().find(|field| field.key() == key)
    }

    /// The canonical key, as `Display` writes it.
    pub fn key(self) -> &'static str {
        match self {
            NumericField::ContainerCount => "container_count",
            NumericField::Size => "size",
            NumericField::Vulnerabilities(bucket) => match bucket {
                Bucket::Critical => "vulnerability_count.critical",
                Bucket::High => "vulnerability_count.high",
                Bucket::Medium => "vulnerability_count.medium",
                Bucket::Low => "vulnerability_count.low",
                Bucket::None => "vulnerability_count.none",
                Bucket::Unknown => "vulnerability_count.unknown",
            },
        }
    }

    /// The record's number, if it has one: sizes are the largest flavor's, and vulnerability
    /// counts are absent when no scanner reported on the image.
    pub fn value(self, record: &ImageRecord) -> Option<i64> {
        match self {
            NumericField::ContainerCount => Some(record.container_count),
            NumericField::Size => record.largest_size(),
            NumericField::Vulnerabilities(bucket) => {
                record.vulnerabilities.map(|v| bucket.count(&v))
            }
        }
    }

    /// A typical value, for error messages.
    fn example(self) -> &'static str {
        match self {
            NumericField::ContainerCount => "0",
            NumericField::Size => ">=100000000",
            NumericField::Vulnerabilities(_) => ">0",
        }
    }
}

/// Parses one trimmed term; the error is the reason, which the caller places.
fn parse_term(text: &str) -> Result<Term, String> {
    if text.is_empty() {
        return Err("is empty: remove the extra ','".into());
    }
    let (negated, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let Some((key, value)) = body.split_once(':') else {
        return Err("must be key:value".into());
    };

    let key = key.trim().to_lowercase();
    let value = value.trim().to_lowercase();
    if key.is_empty() || key.chars().any(|c| c == '*' || c.is_whitespace()) {
        return Err("needs a key without '*' or spaces before ':'".into());
    }
    if value.is_empty() {
        return Err("needs a value after ':' (use key:* for any value)".into());
    }

    let (alternatives, listed) = split_alternatives(&value, &key)?;
    let condition = match NumericField::from_key(&key) {
        Some(field) => Condition::Number {
            any_of: alternatives
                .into_iter()
                .map(|text| number_alternative(text, &key, field, listed))
                .collect::<Result<_, _>>()?,
            field,
        },
        None => Condition::Tag {
            any_of: alternatives
                .into_iter()
                .map(|text| tag_alternative(text, &key))
                .collect::<Result<_, _>>()?,
            key,
        },
    };
    Ok(Term { negated, condition })
}

/// The alternatives of a value, and whether it was a `(… OR …)` list.
fn split_alternatives<'a>(value: &'a str, key: &str) -> Result<(Vec<&'a str>, bool), String> {
    let Some(open) = value.strip_prefix('(') else {
        return Ok((vec![value], false));
    };
    let Some(inner) = open.strip_suffix(')') else {
        return Err(format!(
            "opens '(' but does not end with ')': write alternatives as {key}:(a OR b)"
        ));
    };
    if inner.contains(['(', ')']) {
        return Err(format!(
            "has '(' or ')' inside its alternatives, which cannot nest: write {key}:(a OR b)"
        ));
    }

    // Words are cut at single white-space characters, so runs of spaces inside a value stay.
    let mut alternatives = Vec::new();
    let (mut start, mut offset) = (0, 0);
    for piece in inner.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end_matches(char::is_whitespace);
        if word == "and" {
            return Err(format!(
                "has AND inside '(…)', which takes only OR: to require both, write two terms \
                 ({key}:a,{key}:b)"
            ));
        }
        if word == "or" {
            alternatives.push(inner[start..offset].trim());
            start = offset + piece.len();
        }
        offset += piece.len();
    }
    alternatives.push(inner[start..].trim());

    if alternatives.iter().any(|a| a.is_empty()) {
        return Err(format!(
            "has an empty alternative: put a value on each side of every OR, as in {key}:(a OR b)"
        ));
    }
    Ok((alternatives, true))
}

fn number_alternative(
    text: &str,
    key: &str,
    field: NumericField,
    listed: bool,
) -> Result<NumberPattern, String> {
    let example = field.example();
    NumberPattern::parse(text).map_err(|error| match error {
        NumberError::NotANumber if listed => format!(
            "needs a number in each alternative of '{key}:(…)' (like {key}:(0 OR {example}))"
        ),
        NumberError::NotANumber => {
            format!("needs a number after '{key}:' (like {key}:{example})")
        }
        NumberError::TooLarge => format!(
            "compares '{key}' with '{text}', past {}, the largest number a filter takes",
            i64::MAX
        ),
    })
}

/// A tag alternative; a comparison (`>5`) is refused rather than matched as text, since only
/// numeric keys compare.
fn tag_alternative(text: &str, key: &str) -> Result<Pattern, String> {
    let (op, digits) = split_operator(text);
    let compares =
        op != CompareOp::Eq && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    if compares {
        let keys: Vec<&str> = NumericField::ALL.iter().map(|f| f.key()).collect();
        return Err(format!(
            "compares the tag key '{key}': comparisons apply only to the numeric keys {}",
            keys.join(", ")
        ));
    }
    Ok(Pattern::from_value(text))
}

/// Writes one alternative as is, several as `(a OR b)`.
fn write_alternatives<T: fmt::Display>(f: &mut fmt::Formatter<'_>, any_of: &[T]) -> fmt::Result {
    let [single] = any_of else {
        let texts: Vec<String> = any_of.iter().map(T::to_string).collect();
        return write!(f, "({})", texts.join(" OR "));
    };
    write!(f, "{single}")
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Exact(value) => f.write_str(value),
            Pattern::Any => f.write_str("*"),
            Pattern::Glob(parts) => f.write_str(&parts.join("*")),
        }
    }
}

impl fmt::Display for NumberPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumberPattern::Any => f.write_str("*"),
            NumberPattern::Compare(op, n) => write!(f, "{}{n}", op.symbol()),
        }
    }
}

impl fmt::Display for Term {
    /// The canonical text: lowercase, the canonical numeric key, `OR` between alternatives.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_str("-")?;
        }
        match &self.condition {
            Condition::Tag { key, any_of } => {
                write!(f, "{key}:")?;
                write_alternatives(f, any_of)
            }
            Condition::Number { field, any_of } => {
                write!(f, "{}:", field.key())?;
                write_alternatives(f, any_of)
            }
        }
    }
}

impl fmt::Display for TagFilter {
    /// The canonical text: terms in their given order, each in its canonical form, so equal
    /// filters print equally (cursor fingerprints hash this text).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let terms: Vec<String> = self.terms.iter().map(Term::to_string).collect();
        f.write_str(&terms.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imagedex_model::{Flavor, Tag, VulnerabilityCounts};
    use proptest::prelude::*;

    fn tag(key: &str, any_of: Vec<Pattern>) -> Condition {
        Condition::Tag {
            key: key.into(),
            any_of,
        }
    }

    fn number(field: NumericField, any_of: Vec<NumberPattern>) -> Condition {
        Condition::Number { field, any_of }
    }

    /// The one term of `input`.
    fn only(input: &str) -> Term {
        let filter = TagFilter::parse(input).unwrap();
        assert_eq!(filter.terms().len(), 1, "{input}");
        filter.terms()[0].clone()
    }

    #[test]
    fn parses_terms_case_insensitively() {
        let f = TagFilter::parse("Short_Image:Redis, env:prod:eu ,-team:*").unwrap();
        assert_eq!(f.to_string(), "short_image:redis,env:prod:eu,-team:*");
        assert_eq!(f.terms()[2].condition, tag("team", vec![Pattern::Any]));
        assert!(f.terms()[2].negated);
    }

    #[test]
    fn errors_name_the_position_and_token() {
        let err = TagFilter::parse("a:b,oops,c:d").unwrap_err();
        assert_eq!((err.position, err.token.as_str()), (5, "oops"));
        assert_eq!(
            err.to_string(),
            "term 'oops' at position 5 must be key:value"
        );
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
    fn parses_alternatives_of_every_kind() {
        let term = only("Short_Image:( API-* or Web  Server OR *  )");
        let any_of = vec![
            Pattern::Glob(vec!["api-".into(), String::new()]),
            Pattern::Exact("web  server".into()),
            Pattern::Any,
        ];
        assert_eq!(term.condition, tag("short_image", any_of));
        assert_eq!(term.to_string(), "short_image:(api-* OR web  server OR *)");

        let term = only("-team:(a)");
        assert!(term.negated);
        assert_eq!(
            term.condition,
            tag("team", vec![Pattern::Exact("a".into())])
        );
        assert_eq!(term.to_string(), "-team:a");

        // A value is a list only when it starts with '('; OR and ')' elsewhere are text.
        assert_eq!(only("team:a OR b").to_string(), "team:a or b");
        assert_eq!(only("note:x (old)").to_string(), "note:x (old)");
        assert_eq!(only("team:(orange OR andes)").alternatives(), 2);
    }

    #[test]
    fn parses_numeric_keys_and_comparisons() {
        use CompareOp::*;
        use NumberPattern::{Any, Compare};
        let critical = NumericField::Vulnerabilities(Bucket::Critical);
        let cases = [
            (
                "vulnerability_count.critical:>0",
                critical,
                vec![Compare(Gt, 0)],
            ),
            (
                "Container_Count:0",
                NumericField::ContainerCount,
                vec![Compare(Eq, 0)],
            ),
            (
                "sizes:>=100000000",
                NumericField::Size,
                vec![Compare(Ge, 100_000_000)],
            ),
            ("size:<5", NumericField::Size, vec![Compare(Lt, 5)]),
            ("size:<=007", NumericField::Size, vec![Compare(Le, 7)]),
            ("vulnerability_count.critical:*", critical, vec![Any]),
            (
                "size:(1 OR >=5 or *)",
                NumericField::Size,
                vec![Compare(Eq, 1), Compare(Ge, 5), Any],
            ),
        ];
        for (input, field, any_of) in cases {
            assert_eq!(only(input).condition, number(field, any_of), "{input}");
        }
        assert_eq!(only("SIZES:>=100").to_string(), "size:>=100");
        assert_eq!(only("-size:(1 OR <=2)").to_string(), "-size:(1 OR <=2)");

        // Numeric keys are not tags; a tag value that merely starts with '<' stays text.
        assert_eq!(
            only("image_tag:<none>").condition,
            tag("image_tag", vec![Pattern::Exact("<none>".into())])
        );
        assert_eq!(NumericField::from_key("vulnerability_count"), None);
    }

    /// Asserts that parsing `input` fails with exactly `message`.
    fn fails(input: &str, message: &str) {
        let err = TagFilter::parse(input).expect_err(input);
        assert_eq!(err.to_string(), message, "{input}");
    }

    #[test]
    fn malformed_alternatives_name_the_term_and_position() {
        fails(
            "a:b,team:(x OR y",
            "term 'team:(x OR y' at position 5 opens '(' but does not end with ')': \
             write alternatives as team:(a OR b)",
        );
        fails(
            "team:(x) OR (y)",
            "term 'team:(x) OR (y)' at position 1 has '(' or ')' inside its alternatives, \
             which cannot nest: write team:(a OR b)",
        );
        fails(
            "a:b, team:((x OR y))",
            "term ' team:((x OR y))' at position 5 has '(' or ')' inside its alternatives, \
             which cannot nest: write team:(a OR b)",
        );
        fails(
            "team:(x AND y)",
            "term 'team:(x AND y)' at position 1 has AND inside '(…)', which takes only OR: \
             to require both, write two terms (team:a,team:b)",
        );

        let empty = "has an empty alternative: put a value on each side of every OR, \
                     as in team:(a OR b)";
        fails("team:()", &format!("term 'team:()' at position 1 {empty}"));
        fails(
            "é:b,team:(x OR)",
            &format!("term 'team:(x OR)' at position 5 {empty}"),
        );
        fails(
            "team:(x or or y)",
            &format!("term 'team:(x or or y)' at position 1 {empty}"),
        );
        fails(
            "team:( OR y)",
            &format!("term 'team:( OR y)' at position 1 {empty}"),
        );

        // A comma ends the term: it does not separate alternatives.
        fails(
            "team:(x, y)",
            "term 'team:(x' at position 1 opens '(' but does not end with ')': \
             write alternatives as team:(a OR b)",
        );
    }

    #[test]
    fn malformed_numbers_name_the_term_and_position() {
        fails(
            "size:big",
            "term 'size:big' at position 1 needs a number after 'size:' (like size:>=100000000)",
        );
        fails(
            "a:b,sizes:>=1e9",
            "term 'sizes:>=1e9' at position 5 needs a number after 'sizes:' \
             (like sizes:>=100000000)",
        );
        fails(
            "container_count:-1",
            "term 'container_count:-1' at position 1 needs a number after 'container_count:' \
             (like container_count:0)",
        );
        fails(
            "vulnerability_count.high:>",
            "term 'vulnerability_count.high:>' at position 1 needs a number after \
             'vulnerability_count.high:' (like vulnerability_count.high:>0)",
        );
        for input in ["size:1*", "size:> 5", "size:=5", "size:+5", "size:1_000"] {
            let message = TagFilter::parse(input).expect_err(input).to_string();
            assert!(
                message.contains("needs a number after 'size:'"),
                "{message}"
            );
        }
        fails(
            "size:(1 OR x)",
            "term 'size:(1 OR x)' at position 1 needs a number in each alternative of \
             'size:(…)' (like size:(0 OR >=100000000))",
        );
        fails(
            "size:>99999999999999999999",
            "term 'size:>99999999999999999999' at position 1 compares 'size' with \
             '>99999999999999999999', past 9223372036854775807, the largest number a filter takes",
        );
    }

    #[test]
    fn comparisons_on_tag_keys_list_the_numeric_keys() {
        let reason = "comparisons apply only to the numeric keys container_count, size, \
                      vulnerability_count.critical, vulnerability_count.high, \
                      vulnerability_count.medium, vulnerability_count.low, \
                      vulnerability_count.none, vulnerability_count.unknown";
        fails(
            "a:b,team:>5",
            &format!("term 'team:>5' at position 5 compares the tag key 'team': {reason}"),
        );
        fails(
            "-team:(a OR <=5)",
            &format!("term '-team:(a OR <=5)' at position 1 compares the tag key 'team': {reason}"),
        );
    }

    #[test]
    fn alternatives_are_capped_across_the_filter() {
        let list = |n: usize| format!("k:({})", vec!["v"; n].join(" OR "));
        assert!(TagFilter::parse(&list(MAX_ALTERNATIVES)).is_ok());
        let err = TagFilter::parse(&format!("a:b,{}", list(MAX_ALTERNATIVES))).unwrap_err();
        assert_eq!(err.position, 5);
        assert!(err.reason.contains("past 256 alternatives"), "{err}");
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

    #[test]
    fn number_patterns_are_ranges() {
        use CompareOp::*;
        use NumberPattern::Compare;
        assert_eq!(Compare(Gt, 0).range(), Some(1..=i64::MAX));
        assert_eq!(Compare(Lt, 0).range(), Some(i64::MIN..=-1));
        assert_eq!(Compare(Gt, i64::MAX).range(), None);
        assert!(Compare(Le, 3).matches(3) && !Compare(Lt, 3).matches(3));
        assert!(Compare(Ge, 3).matches(3) && !Compare(Gt, 3).matches(3));
        assert!(NumberPattern::Any.matches(i64::MIN));
    }

    #[test]
    fn numeric_keys_are_reserved_from_import_tags() {
        let mut keys: Vec<&str> = NumericField::ALL.iter().map(|f| f.key()).collect();
        keys.push("sizes");
        let mut reserved = imagedex_model::tag::NUMERIC_KEYS.to_vec();
        keys.sort();
        reserved.sort();
        assert_eq!(keys, reserved);
    }

    /// A record with these tags, flavor sizes, container count and vulnerability counts.
    fn record(
        tags: &[&str],
        sizes: &[Option<i64>],
        containers: i64,
        vulnerabilities: Option<VulnerabilityCounts>,
    ) -> ImageRecord {
        let flavors = sizes
            .iter()
            .enumerate()
            .map(|(i, size)| Flavor {
                os_name: "linux".into(),
                os_architecture: format!("arch{i}"),
                os_version: None,
                size: *size,
                built_at: None,
            })
            .collect();
        let mut record = ImageRecord {
            id: "docker.io/library/api@sha256:1".into(),
            name: "docker.io/library/api".into(),
            registry: Some("docker.io".into()),
            repository: "library/api".into(),
            short_image: "api".into(),
            repo_digest: None,
            image_ids: Vec::new(),
            image_tags: vec!["1.0".into(), "latest".into()],
            flavors,
            sources: vec!["trivy".into()],
            custom_tags: tags.iter().map(|t| Tag::parse(t).unwrap()).collect(),
            container_count: containers,
            published_at: None,
            vulnerabilities,
            tags: Vec::new(),
        };
        record.derive_tags();
        record
    }

    fn matches(input: &str, record: &ImageRecord) -> bool {
        TagFilter::parse(input).unwrap().matches(record)
    }

    #[test]
    fn alternatives_match_any_and_negated_lists_match_none() {
        let r = record(&["team:payments"], &[], 0, None);
        assert!(matches("team:(search OR pay*)", &r));
        assert!(matches("image_tag:(2.0 OR latest)", &r));
        assert!(!matches("team:(search OR web)", &r));
        assert!(matches("-team:(search OR web)", &r));
        assert!(!matches("-image_tag:(2.0 OR latest)", &r));
        assert!(matches("team:(x OR *)", &r));
        assert!(!matches("env:(x OR *)", &r));
        assert!(matches("-env:(x OR *)", &r));
        assert!(matches(
            "short_image:api,team:(payments OR web),-image_tag:(2.*)",
            &r
        ));
    }

    #[test]
    fn sizes_compare_the_largest_flavor() {
        let r = record(&[], &[Some(50), None, Some(200)], 3, None);
        assert!(matches("size:200", &r));
        assert!(matches("size:>=200", &r));
        assert!(!matches("size:>200", &r));
        assert!(
            !matches("size:50", &r),
            "a smaller flavor is not the image's size"
        );
        assert!(matches("-size:<100", &r));
        assert!(matches("sizes:(50 OR 200)", &r));
        assert!(matches("container_count:3,container_count:(0 OR >2)", &r));

        let no_size = record(&[], &[None], 0, None);
        for positive in ["size:*", "size:>=0", "size:<1", "size:(0 OR >0)"] {
            assert!(!matches(positive, &no_size), "{positive}");
            assert!(matches(&format!("-{positive}"), &no_size), "-{positive}");
        }
        assert!(matches("container_count:0", &no_size));
    }

    #[test]
    fn images_without_scanner_data_match_only_negated_vulnerability_terms() {
        let counts = VulnerabilityCounts {
            critical: 2,
            ..VulnerabilityCounts::default()
        };
        let scanned = record(&[], &[], 0, Some(counts));
        let clean = record(&[], &[], 0, Some(VulnerabilityCounts::default()));
        let unscanned = record(&[], &[], 0, None);

        let cases = [
            ("vulnerability_count.critical:>0", [true, false, false]),
            ("-vulnerability_count.critical:>0", [false, true, true]),
            ("vulnerability_count.critical:0", [false, true, false]),
            ("-vulnerability_count.critical:0", [true, false, true]),
            ("vulnerability_count.high:<1", [true, true, false]),
            ("vulnerability_count.unknown:*", [true, true, false]),
            ("-vulnerability_count.unknown:*", [false, false, true]),
        ];
        for (input, expected) in cases {
            let got = [&scanned, &clean, &unscanned].map(|r| matches(input, r));
            assert_eq!(got, expected, "{input}");
        }
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

    /// A tag value: words (never a lone OR or AND) with optional stars, or a value that merely
    /// starts like a comparison.
    fn tag_value() -> impl Strategy<Value = String> {
        let word = "[a-zA-Z0-9._/:*-]{1,6}".prop_filter("not an operator word", |w| {
            !w.eq_ignore_ascii_case("or") && !w.eq_ignore_ascii_case("and")
        });
        prop_oneof![
            4 => prop::collection::vec(word, 1..3).prop_map(|words| words.join(" ")),
            1 => Just("<none>".to_string()),
        ]
    }

    fn number_value() -> impl Strategy<Value = String> {
        let op = prop::sample::select(vec!["", ">", ">=", "<", "<="]);
        prop_oneof![
            4 => (op, 0..10_000_000_000i64).prop_map(|(op, n)| format!("{op}{n}")),
            1 => Just("*".to_string()),
        ]
    }

    /// A value: one alternative, or a list joined by OR in any case with loose white space.
    fn listed(alternative: BoxedStrategy<String>) -> impl Strategy<Value = String> {
        let or = prop::sample::select(vec![" OR ", " or ", "  Or\t"]);
        prop_oneof![
            alternative.clone(),
            prop::collection::vec((alternative, or), 1..4).prop_map(|parts| {
                let texts: Vec<String> = parts.iter().map(|(a, or)| format!("{a}{or}")).collect();
                let joined = texts.concat();
                let last_or = parts.last().map_or(0, |p| p.1.len());
                format!("( {} )", &joined[..joined.len() - last_or])
            }),
        ]
    }

    fn term_text() -> impl Strategy<Value = String> {
        let tag_key = prop::sample::select(vec!["short_image", "Team", "image_tag", "a.b/c"]);
        let number_key = prop::sample::select(vec![
            "size",
            "SIZES",
            "container_count",
            "vulnerability_count.critical",
            "vulnerability_count.none",
        ]);
        let tag_term = (tag_key, listed(tag_value().boxed())).prop_map(|(k, v)| format!("{k}:{v}"));
        let number_term =
            (number_key, listed(number_value().boxed())).prop_map(|(k, v)| format!("{k}:{v}"));
        (any::<bool>(), prop_oneof![tag_term, number_term], " {0,2}").prop_map(
            |(negated, term, pad)| format!("{pad}{}{term}{pad}", if negated { "-" } else { "" }),
        )
    }

    proptest! {
        #[test]
        fn glob_agrees_with_a_naive_matcher(pattern in "[ab*]{1,6}", value in "[ab]{0,6}") {
            let glob = Pattern::from_value(&pattern);
            prop_assert_eq!(glob.matches(&value), naive_glob(&pattern, &value));
        }

        #[test]
        fn parsing_never_panics(input in "\\PC{0,40}") {
            let _ = TagFilter::parse(&input);
        }

        #[test]
        fn parsing_never_panics_on_filter_like_text(
            input in "[a-z:()*<>=,0-9 -]{0,40}|[OR AND()]{0,20}"
        ) {
            let _ = TagFilter::parse(&input);
        }

        #[test]
        fn the_canonical_text_parses_back_to_the_same_filter(
            terms in prop::collection::vec(term_text(), 1..6)
        ) {
            let input = terms.join(",");
            let parsed = TagFilter::parse(&input);
            prop_assert!(parsed.is_ok(), "{}: {:?}", input, parsed);
            let parsed = parsed.unwrap();
            let text = parsed.to_string();
            prop_assert_eq!(TagFilter::parse(&text), Ok(parsed), "{} printed as {}", input, text);
        }
    }
}
