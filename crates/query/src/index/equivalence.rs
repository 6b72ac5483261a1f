//! The index answers every query exactly as the reference engine does: random inventories,
//! random queries in the whole filter language, every sort, every page of full cursor walks,
//! and random thresholds so that every strategy of the index meets every kind of data.

use super::{Index, Tuning};
use crate::cursor;
use crate::engine::{self, GroupPage, ImagePage};
use crate::filter::TagFilter;
use crate::sort::{GroupSort, GroupSortField, ImageSort, ImageSortField, Position, SortValue};
use crate::{GroupQuery, ImageQuery};
use chrono::{DateTime, Utc};
use imagedex_model::{Flavor, ImageRecord, Tag, VulnerabilityCounts};
use proptest::prelude::*;
use proptest::sample::select;
use roaring::RoaringBitmap;
use std::collections::HashMap;
use std::sync::Arc;

pub(crate) const FINGERPRINT: &str = "fp";

/// Tag values the generated records draw from, so filters hit, miss and tie.
const TAGS: &[&str] = &[
    "latest",
    "1.0",
    "1.0.1",
    "2.0-alpine",
    "<none>",
    "v1",
    "A b",
];
const IMAGE_IDS: &[&str] = &["sha256:aa", "sha256:ab", "sha256:b"];
const CUSTOM: &[&str] = &[
    "team:a", "team:b", "team:x!y", "env:prod", "env:dev", "note:a:b", "Team:A",
];
const REPOSITORIES: &[&str] = &["library/api", "team/web", "api", "Web", "x/y-z", "api!"];

fn time(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).expect("small timestamps should be valid")
}

fn flavor() -> impl Strategy<Value = Flavor> {
    (
        select(vec!["linux", "windows", ""]),
        select(vec!["amd64", "arm64", "arm/v7"]),
        select(vec![None, Some(0i64), Some(5), Some(100), Some(1 << 40)]),
        select(vec![None, Some(1i64), Some(2), Some(1_000_000)]),
    )
        .prop_map(|(os, arch, size, built)| Flavor {
            os_name: os.into(),
            os_architecture: arch.into(),
            os_version: None,
            size,
            built_at: built.map(time),
        })
}

fn vulnerabilities() -> impl Strategy<Value = Option<VulnerabilityCounts>> {
    let count = || select(vec![0i64, 0, 1, 2, 30]);
    let counts = (count(), count(), count(), count(), count(), count()).prop_map(
        |(critical, high, medium, low, none, unknown)| VulnerabilityCounts {
            critical,
            high,
            medium,
            low,
            none,
            unknown,
        },
    );
    prop::option::weighted(0.7, counts)
}

/// A record with everything but its id, which the inventory makes unique.
pub(crate) fn record() -> impl Strategy<Value = ImageRecord> {
    (
        (
            select(vec![
                None,
                Some("docker.io"),
                Some("ghcr.io"),
                Some("quay.io"),
            ]),
            select(REPOSITORIES.to_vec()),
            prop::collection::vec(select(TAGS.to_vec()), 0..3),
            prop::collection::vec(select(IMAGE_IDS.to_vec()), 0..3),
            prop::collection::vec(flavor(), 0..3),
        ),
        (
            prop::collection::vec(select(vec!["trivy", "agent"]), 1..3),
            prop::collection::vec(select(CUSTOM.to_vec()), 0..4),
            select(vec![0i64, 0, 1, 3, 7, 1 << 33]),
            select(vec![None, Some(10i64), Some(20)]),
            vulnerabilities(),
        ),
    )
        .prop_map(
            |(
                (registry, repository, tags, ids, flavors),
                (sources, custom, containers, published, vulnerabilities),
            )| {
                let name = match registry {
                    Some(registry) => format!("{registry}/{repository}"),
                    None => repository.to_string(),
                };
                let mut record = ImageRecord {
                    id: String::new(),
                    short_image: repository.rsplit('/').next().unwrap_or("").to_string(),
                    name,
                    registry: registry.map(str::to_string),
                    repository: repository.to_string(),
                    repo_digest: None,
                    image_ids: ids.into_iter().map(str::to_string).collect(),
                    image_tags: tags.into_iter().map(str::to_string).collect(),
                    flavors,
                    sources: sources.into_iter().map(str::to_string).collect(),
                    custom_tags: custom
                        .into_iter()
                        .map(|t| Tag::parse(t).expect("test tags should parse"))
                        .collect(),
                    container_count: containers,
                    published_at: published.map(time),
                    vulnerabilities,
                    tags: Vec::new(),
                };
                record.derive_tags();
                record
            },
        )
}

/// Records in random order with unique ids that do not follow that order.
pub(crate) fn inventory() -> impl Strategy<Value = Vec<Arc<ImageRecord>>> {
    prop::collection::vec((record(), 0u32..1000), 0..48).prop_map(|records| {
        records
            .into_iter()
            .enumerate()
            .map(|(i, (mut record, salt))| {
                record.id = format!("{}@sha256:{salt:03}{i:02}", record.name);
                Arc::new(record)
            })
            .collect()
    })
}

/// One alternative of a tag term: a value the data holds, a glob cut from one, or `*`.
fn tag_alternative() -> impl Strategy<Value = String> {
    let values: Vec<&str> = TAGS
        .iter()
        .chain(IMAGE_IDS)
        .chain(REPOSITORIES)
        .copied()
        .chain([
            "a",
            "b",
            "x!y",
            "prod",
            "a:b",
            "docker.io",
            "linux",
            "arm",
            "trivy",
            "zzz",
        ])
        .collect();
    let exact = select(values.clone()).prop_map(|v| v.to_lowercase());
    let glob = (select(values), 0usize..4, 0usize..4, 0usize..3).prop_map(|(v, a, b, form)| {
        let v = v.to_lowercase();
        let cut = |i: usize| v.char_indices().nth(i).map_or(v.len(), |(at, _)| at);
        let (head, tail) = (&v[..cut(a)], &v[cut(a).max(cut(b))..]);
        match form {
            0 => format!("{head}*"),
            1 => format!("*{tail}"),
            _ => format!("{head}*{tail}*"),
        }
    });
    prop_oneof![4 => exact, 3 => glob, 1 => Just("*".to_string())]
}

fn number_alternative() -> impl Strategy<Value = String> {
    let op = select(vec!["", ">", ">=", "<", "<="]);
    let n = select(vec![0i64, 1, 2, 3, 5, 30, 100, 1 << 33, 1 << 40, i64::MAX]);
    prop_oneof![
        5 => (op, n).prop_map(|(op, n)| format!("{op}{n}")),
        1 => Just("*".to_string()),
    ]
}

fn alternatives(one: BoxedStrategy<String>) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => one.clone(),
        1 => prop::collection::vec(one, 1..4).prop_map(|all| format!("({})", all.join(" OR "))),
    ]
}

fn term() -> impl Strategy<Value = String> {
    let tag_key = select(vec![
        "image_name",
        "short_image",
        "registry",
        "repository",
        "image_tag",
        "image_id",
        "os_name",
        "os_architecture",
        "source",
        "team",
        "env",
        "note",
        "missing",
    ]);
    let number_key = select(vec![
        "container_count",
        "size",
        "sizes",
        "vulnerability_count.critical",
        "vulnerability_count.high",
        "vulnerability_count.medium",
        "vulnerability_count.low",
        "vulnerability_count.none",
        "vulnerability_count.unknown",
    ]);
    let tag =
        (tag_key, alternatives(tag_alternative().boxed())).prop_map(|(k, v)| format!("{k}:{v}"));
    let number = (number_key, alternatives(number_alternative().boxed()))
        .prop_map(|(k, v)| format!("{k}:{v}"));
    (any::<bool>(), prop_oneof![3 => tag, 2 => number])
        .prop_map(|(negated, term)| format!("{}{term}", if negated { "-" } else { "" }))
}

pub(crate) fn filter() -> impl Strategy<Value = TagFilter> {
    prop::collection::vec(term(), 0..4).prop_map(|terms| {
        let text = terms.join(",");
        TagFilter::parse(&text).unwrap_or_else(|e| panic!("generated filter {text}: {e}"))
    })
}

pub(crate) fn image_sort() -> impl Strategy<Value = ImageSort> {
    (select(ImageSortField::ALL.to_vec()), any::<bool>())
        .prop_map(|(field, descending)| ImageSort { field, descending })
}

pub(crate) fn page_size() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 1usize..6, 1 => Just(1000)]
}

/// A cursor position that no record need hold: values between and beyond the data's, of the
/// other type, and a rank that disagrees with the value.
fn position() -> impl Strategy<Value = Position> {
    let value = prop_oneof![
        Just(None),
        select(vec![-1i64, 0, 1, 2, 4, 5, 10, 30, 100, 1 << 33, 1 << 41])
            .prop_map(|n| Some(SortValue::Int(n))),
        select(vec![
            "",
            "api",
            "docker.io",
            "docker.io/team/web",
            "ghcr.io",
            "quay.io/x",
            "x/y-z",
            "~"
        ])
        .prop_map(|s| Some(SortValue::Str(s.to_string()))),
    ];
    let id = select(vec![
        "",
        "api",
        "docker.io/library/api@sha256:5",
        "ghcr.io/api@",
        "zzz",
    ]);
    (0u8..2, value, id).prop_map(|(rank, value, id)| Position {
        rank,
        value,
        id: id.to_string(),
    })
}

pub(crate) fn group_query() -> impl Strategy<Value = (Vec<String>, GroupSort)> {
    let key = select(vec![
        "registry",
        "short_image",
        "image_tag",
        "image_id",
        "os_architecture",
        "team",
        "env",
        "missing",
    ]);
    let sort = (any::<bool>(), any::<bool>()).prop_map(|(by_name, descending)| GroupSort {
        field: if by_name {
            GroupSortField::Name
        } else {
            GroupSortField::Count
        },
        descending,
    });
    (prop::collection::vec(key, 1..4), sort).prop_map(|(mut keys, sort)| {
        keys.dedup();
        (keys.into_iter().map(str::to_string).collect(), sort)
    })
}

fn tuning() -> impl Strategy<Value = Tuning> {
    (
        select(vec![1usize, 2, 3, 2048, 2048]),
        select(vec![1u64, 4, 64, 1 << 20]),
        select(vec![1usize, 2, 4096]),
        select(vec![1usize, 2, 128]),
        select(vec![1usize, 4, 16, 1 << 20]),
        select(vec![1u64, 1, 64, 1 << 20]),
        select(vec![None, Some(true), Some(false)]),
        1usize..4,
    )
        .prop_map(
            |(
                many_docs,
                sparse,
                min_patience,
                jump,
                gather_below,
                dense_union,
                group_by_value,
                workers,
            )| Tuning {
                many_docs,
                sparse,
                min_patience,
                jump,
                gather_below,
                dense_union,
                group_by_value,
                workers: Some(workers),
            },
        )
}

fn ids(page: &ImagePage<'_>) -> Vec<String> {
    page.items.iter().map(|r| r.id.clone()).collect()
}

pub(crate) fn same_image_page(
    index: &ImagePage<'_>,
    reference: &ImagePage<'_>,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(ids(index), ids(reference));
    prop_assert_eq!(index.total, reference.total);
    prop_assert_eq!(&index.next_cursor, &reference.next_cursor);
    Ok(())
}

pub(crate) fn same_group_page(
    index: &GroupPage,
    reference: &GroupPage,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(&index.groups, &reference.groups);
    prop_assert_eq!(index.total, reference.total);
    prop_assert_eq!(&index.next_cursor, &reference.next_cursor);
    Ok(())
}

pub(crate) fn next_position(cursor: &Option<String>) -> Option<Position> {
    cursor
        .as_ref()
        .map(|c| cursor::decode(c, FINGERPRINT).expect("an issued cursor should decode"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn image_pages_equal_the_reference(
        records in inventory(),
        tuning in tuning(),
        queries in prop::collection::vec((filter(), image_sort(), page_size(), position()), 1..5),
    ) {
        let index = Index::build_tuned(records.clone(), tuning);
        for (filter, sort, page_size, stray) in queries {
            let expected: RoaringBitmap = records
                .iter()
                .filter(|r| filter.matches(r))
                .map(|r| index.doc_of(&r.id).expect("every record should have a doc"))
                .collect();
            prop_assert_eq!(index.matching(&filter), expected, "filter {}", filter);

            // Every page of a full cursor walk.
            let mut query = ImageQuery {
                filter: filter.clone(),
                sort,
                page_size,
                after: None,
                fingerprint: FINGERPRINT.into(),
            };
            let mut pages = 0;
            loop {
                let reference = engine::list_images(&records, &query);
                let answer = index.list_images(&query);
                same_image_page(&answer, &reference)?;
                pages += 1;
                prop_assert!(pages <= records.len() + 1, "the walk should end");
                match next_position(&reference.next_cursor) {
                    Some(after) => query.after = Some(after),
                    None => break,
                }
            }

            // A cursor at a position no record holds.
            query.after = Some(stray);
            same_image_page(&index.list_images(&query), &engine::list_images(&records, &query))?;
        }
    }

    #[test]
    fn group_pages_equal_the_reference(
        records in inventory(),
        tuning in tuning(),
        queries in prop::collection::vec((filter(), group_query(), page_size()), 1..4),
    ) {
        let index = Index::build_tuned(records.clone(), tuning);
        for (filter, (keys, sort), page_size) in queries {
            let candidates = index.matching(&filter);
            let matched = records.iter().map(Arc::as_ref).filter(|r| filter.matches(r));
            let counts = index.group_counts(&keys, &candidates);
            let unique: HashMap<_, _> = counts.iter().cloned().collect();
            prop_assert_eq!(unique.len(), counts.len(), "each group should come once");
            prop_assert_eq!(unique, engine::count_groups(matched, &keys));

            let mut query = GroupQuery {
                filter,
                keys,
                sort,
                page_size,
                after: None,
                fingerprint: FINGERPRINT.into(),
            };
            let mut pages = 0;
            loop {
                let reference = engine::list_groups(&records, &query);
                same_group_page(&index.list_groups(&query), &reference)?;
                pages += 1;
                prop_assert!(pages <= 1000, "the walk should end");
                match next_position(&reference.next_cursor) {
                    Some(after) => query.after = Some(after),
                    None => break,
                }
            }
        }
    }

    #[test]
    fn any_candidates_walk_in_the_reference_order(
        records in inventory(),
        tuning in tuning(),
        sort in image_sort(),
        picks in prop::collection::vec(any::<bool>(), 48),
        after in prop::option::of(position()),
    ) {
        let index = Index::build_tuned(records, tuning);
        let candidates: RoaringBitmap = (0..index.len() as u32).filter(|d| picks[*d as usize]).collect();

        let mut expected: Vec<(Position, u32)> = candidates
            .iter()
            .map(|doc| (sort.position(index.record(doc)), doc))
            .filter(|(p, _)| after.as_ref().is_none_or(|a| p.cmp_in(a, sort.descending).is_gt()))
            .collect();
        expected.sort_by(|a, b| a.0.cmp_in(&b.0, sort.descending));
        let expected: Vec<u32> = expected.into_iter().map(|(_, doc)| doc).collect();

        let walked: Vec<u32> = index.iter_sorted(&sort, after.as_ref(), &candidates).collect();
        prop_assert_eq!(walked, expected);
    }
}
