//! The query mix, shared by every system: what each query asks of the API, and the answer
//! every system must give (ids in order or groups with their counts, and the total).

use anyhow::{bail, Result};
use imagedex_query::ListParams;

/// Both terms of the filtered query: a tag every system can look up exactly.
pub const BOTH_TAGS: [&str; 2] = ["env:prod", "team:payments"];

/// The tag the negated term excludes.
pub const EXCLUDED_TAG: &str = "env:dev";

/// The wildcard the negated query keeps, on the `short_image` tag.
pub const SHORT_IMAGE_GLOB: &str = "*-api";

/// The page size of every query but the large page.
pub const PAGE_SIZE: usize = 100;

/// The page size of the large page: the API's largest.
pub const LARGE_PAGE_SIZE: usize = imagedex_query::MAX_PAGE_SIZE;

/// How deep the deep page starts, on datasets of at least twice as many images.
pub const DEEP_ITEMS: usize = 500_000;

/// One query of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// The first page, sorted by name (the default).
    FirstPage,
    /// Two tag terms, sorted by `-vulnerability_count.critical`.
    TwoTermsByCritical,
    /// The page after [`DEEP_ITEMS`] items (or half the dataset), by name.
    DeepPage,
    /// `group_by=short_image`: many groups.
    GroupByShortImage,
    /// `group_by=registry`: a handful of large groups.
    GroupByRegistry,
    /// A negated term and a wildcard, by name.
    NegationAndWildcard,
    /// `page[size]=10000`, by name: mostly the cost of rendering and sending.
    LargePage,
}

/// What a query is about: a page of images or a page of groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Images,
    Groups,
}

impl Case {
    /// The mix, in the order of the report.
    pub const ALL: [Case; 7] = [
        Case::FirstPage,
        Case::TwoTermsByCritical,
        Case::DeepPage,
        Case::GroupByShortImage,
        Case::GroupByRegistry,
        Case::NegationAndWildcard,
        Case::LargePage,
    ];

    /// The query as the report names it.
    pub fn label(self, mix: &Mix) -> String {
        match self {
            Case::FirstPage => "first page".into(),
            Case::TwoTermsByCritical => format!("{} by -critical", BOTH_TAGS.join(",")),
            Case::DeepPage => format!("page after item {}", thousands(mix.deep.skipped as u64)),
            Case::GroupByShortImage => "group_by=short_image".into(),
            Case::GroupByRegistry => "group_by=registry".into(),
            Case::NegationAndWildcard => {
                format!("-{EXCLUDED_TAG},short_image:{SHORT_IMAGE_GLOB}")
            }
            Case::LargePage => format!("page[size]={LARGE_PAGE_SIZE}"),
        }
    }

    /// Images or groups.
    pub fn kind(self) -> Kind {
        match self {
            Case::GroupByShortImage | Case::GroupByRegistry => Kind::Groups,
            _ => Kind::Images,
        }
    }

    /// The tag key a group query groups by.
    pub fn group_key(self) -> Option<&'static str> {
        match self {
            Case::GroupByShortImage => Some("short_image"),
            Case::GroupByRegistry => Some("registry"),
            _ => None,
        }
    }

    /// The page size asked for.
    pub fn page_size(self) -> usize {
        match self {
            Case::LargePage => LARGE_PAGE_SIZE,
            _ => PAGE_SIZE,
        }
    }

    /// The API parameters of the query.
    pub fn params(self, mix: &Mix) -> ListParams {
        let mut params = ListParams {
            page_size: Some(self.page_size().to_string()),
            group_by: self.group_key().map(str::to_string),
            ..ListParams::default()
        };
        match self {
            Case::TwoTermsByCritical => {
                params.filter_tags = Some(BOTH_TAGS.join(","));
                params.sort = Some("-vulnerability_count.critical".into());
            }
            Case::DeepPage => params.page_cursor = Some(mix.deep.cursor.clone()),
            Case::NegationAndWildcard => {
                params.filter_tags =
                    Some(format!("-{EXCLUDED_TAG},short_image:{SHORT_IMAGE_GLOB}"));
            }
            Case::FirstPage | Case::GroupByShortImage | Case::GroupByRegistry | Case::LargePage => {
            }
        }
        params
    }

    /// The query string of the API request, form-encoded as a client sends it.
    pub fn query_string(self, mix: &Mix) -> String {
        let params = self.params(mix);
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("filter[tags]", &params.filter_tags),
            ("group_by", &params.group_by),
            ("sort", &params.sort),
            ("page[size]", &params.page_size),
            ("page[cursor]", &params.page_cursor),
        ] {
            if let Some(value) = value {
                query.append_pair(key, value);
            }
        }
        query.finish()
    }
}

/// What the mix needs to know about the dataset.
#[derive(Debug, Clone)]
pub struct Mix {
    /// The organisation's id in the store, as the SQL tables key it.
    pub org_id: i64,
    /// The scope of cursor fingerprints: the organisation id as the server writes it.
    pub scope: String,
    pub deep: DeepPage,
}

/// Where the deep page starts: after the first `skipped` images by name.
#[derive(Debug, Clone)]
pub struct DeepPage {
    pub skipped: usize,
    /// The cursor imagedex issues at that point.
    pub cursor: String,
    /// The sort key of the last skipped image, for SQL keyset pagination.
    pub after_name: String,
    pub after_id: String,
}

impl DeepPage {
    /// How many images the deep page skips in a dataset of `images`.
    pub fn depth(images: usize) -> usize {
        if images >= 2 * DEEP_ITEMS {
            DEEP_ITEMS
        } else {
            images / 2
        }
    }
}

/// One system's answer to one query; every system must give the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The page's image ids in order, and the number of matching images.
    Images { ids: Vec<String>, total: usize },
    /// The page's groups in order (the value of each key, `None` when missing, and the
    /// group's size), and the number of groups.
    Groups {
        groups: Vec<(Vec<Option<String>>, usize)>,
        total: usize,
    },
}

impl Answer {
    /// Fails loudly, naming the first difference, unless `got` equals this expected answer.
    pub fn check(&self, got: &Answer, system: &str, query: &str) -> Result<()> {
        if self == got {
            return Ok(());
        }
        let difference = match (self, got) {
            (Answer::Images { total: a, .. }, Answer::Images { total: b, .. })
            | (Answer::Groups { total: a, .. }, Answer::Groups { total: b, .. })
                if a != b =>
            {
                format!("total {b}, expected {a}")
            }
            (Answer::Images { ids: a, .. }, Answer::Images { ids: b, .. }) => {
                first_difference(a, b)
            }
            (Answer::Groups { groups: a, .. }, Answer::Groups { groups: b, .. }) => {
                first_difference(a, b)
            }
            _ => "groups where images were expected, or images where groups were".into(),
        };
        bail!("{system} answers '{query}' differently from imagedex's engine: {difference}")
    }
}

fn first_difference<T: std::fmt::Debug + PartialEq>(expected: &[T], got: &[T]) -> String {
    match expected.iter().zip(got).position(|(a, b)| a != b) {
        Some(i) => format!("item {} is {:?}, expected {:?}", i + 1, got[i], expected[i]),
        None => format!("{} items, expected {}", got.len(), expected.len()),
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix() -> Mix {
        Mix {
            org_id: 1,
            scope: "1".into(),
            deep: DeepPage {
                skipped: 500_000,
                cursor: "abc".into(),
                after_name: String::new(),
                after_id: String::new(),
            },
        }
    }

    #[test]
    fn query_strings_are_form_encoded() {
        assert_eq!(
            Case::TwoTermsByCritical.query_string(&mix()),
            "filter%5Btags%5D=env%3Aprod%2Cteam%3Apayments\
             &sort=-vulnerability_count.critical&page%5Bsize%5D=100"
        );
        assert_eq!(
            Case::DeepPage.query_string(&mix()),
            "page%5Bsize%5D=100&page%5Bcursor%5D=abc"
        );
    }

    #[test]
    fn a_difference_is_named() {
        let expected = Answer::Images {
            ids: vec!["a".into(), "b".into()],
            total: 2,
        };
        let got = Answer::Images {
            ids: vec!["a".into(), "c".into()],
            total: 2,
        };
        let error = expected.check(&got, "SQLite", "q").unwrap_err().to_string();
        assert!(error.contains("item 2 is \"c\", expected \"b\""), "{error}");
        assert!(expected.check(&expected.clone(), "SQLite", "q").is_ok());
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
