//! Unit tests of the index's tricky corners; `equivalence` compares it with the reference on
//! random data.

use super::postings::Posting;
use super::{Index, Tuning};
use crate::engine;
use crate::filter::TagFilter;
use crate::sort::{GroupSort, ImageSort, ImageSortField, Position, SortValue};
use crate::{GroupQuery, ImageQuery};
use imagedex_model::{Flavor, ImageRecord, Tag};
use roaring::RoaringBitmap;
use std::collections::HashMap;
use std::sync::Arc;

/// A record named `name` with this id, largest flavor size and custom tags.
fn record(id: &str, size: Option<i64>, tags: &[&str]) -> Arc<ImageRecord> {
    let mut record = ImageRecord {
        id: id.into(),
        name: "docker.io/library/api".into(),
        registry: Some("docker.io".into()),
        repository: "library/api".into(),
        short_image: "api".into(),
        repo_digest: None,
        image_ids: Vec::new(),
        image_tags: Vec::new(),
        flavors: vec![Flavor {
            os_name: "linux".into(),
            os_architecture: "amd64".into(),
            os_version: None,
            size,
            built_at: None,
        }],
        sources: vec!["trivy".into()],
        custom_tags: tags.iter().map(|t| Tag::parse(t).unwrap()).collect(),
        container_count: 0,
        published_at: None,
        vulnerabilities: None,
        tags: Vec::new(),
    };
    record.derive_tags();
    Arc::new(record)
}

fn ids(index: &Index, docs: impl Iterator<Item = u32>) -> Vec<String> {
    docs.map(|doc| index.record(doc).id.clone()).collect()
}

fn filter(text: &str) -> TagFilter {
    TagFilter::parse(text).unwrap()
}

fn image_query(filter_text: &str, sort: &str, page_size: usize) -> ImageQuery {
    ImageQuery {
        filter: filter(filter_text),
        sort: ImageSort::parse(sort).unwrap(),
        page_size,
        after: None,
        fingerprint: "f".into(),
    }
}

#[test]
fn descending_keeps_ids_ascending_within_ties_and_missing_values_last() {
    // Given in no useful order: ties on 5, two without a size.
    let records = vec![
        record("f", Some(5), &[]),
        record("b", None, &[]),
        record("e", Some(7), &[]),
        record("a", Some(5), &[]),
        record("d", None, &[]),
        record("c", Some(3), &[]),
        record("g", Some(5), &[]),
    ];
    let index = Index::build(records.clone());
    let sorted = |sort: &str, after: Option<&Position>| {
        let sort = ImageSort::parse(sort).unwrap();
        ids(&index, index.iter_sorted(&sort, after, index.all()))
    };

    assert_eq!(sorted("size", None), ["c", "a", "f", "g", "e", "b", "d"]);
    assert_eq!(sorted("-size", None), ["e", "a", "f", "g", "c", "b", "d"]);

    // A cursor inside the run of 5s resumes after its id, in both directions.
    let inside = Position {
        rank: 0,
        value: Some(SortValue::Int(5)),
        id: "b".into(),
    };
    assert_eq!(sorted("size", Some(&inside)), ["f", "g", "e", "b", "d"]);
    assert_eq!(sorted("-size", Some(&inside)), ["f", "g", "c", "b", "d"]);

    // A value no record has: between 5 and 7.
    let between = Position {
        rank: 0,
        value: Some(SortValue::Int(6)),
        id: "zzz".into(),
    };
    assert_eq!(sorted("size", Some(&between)), ["e", "b", "d"]);
    assert_eq!(
        sorted("-size", Some(&between)),
        ["a", "f", "g", "c", "b", "d"]
    );

    // Among the missing values.
    let missing = Position {
        rank: 1,
        value: None,
        id: "c".into(),
    };
    assert_eq!(sorted("-size", Some(&missing)), ["d"]);

    // Pages agree with the reference, cursors included.
    for sort in ["size", "-size"] {
        let query = image_query("", sort, 2);
        let page = index.list_images(&query);
        let reference = engine::list_images(&records, &query);
        assert_eq!(page.next_cursor, reference.next_cursor);
        assert_eq!(page.total, 7);
    }
}

#[test]
fn globs_read_the_dictionary_and_never_match_across_values() {
    let records = vec![
        record("1", None, &["k:api"]),
        record("2", None, &["k:api-eu"]),
        record("3", None, &["k:web-api"]),
        record("4", None, &["k:apiapi"]),
        record("5", None, &["k:ab", "k:cd"]),
    ];
    let index = Index::build(records);
    let matched = |text: &str| ids(&index, index.matching(&filter(text)).iter());

    assert_eq!(matched("k:api*"), ["1", "2", "4"]);
    assert_eq!(matched("k:*api"), ["1", "3", "4"]);
    assert_eq!(matched("k:*pi-*"), ["2"]);
    assert_eq!(matched("k:a*i*i"), ["4"]);
    assert_eq!(matched("k:*api*api*"), ["4"]);
    // The dictionary holds `ab` and `cd` end to end; `bc` is in neither.
    assert!(matched("k:*bc*").is_empty());
    assert_eq!(matched("k:*b*"), ["3", "5"]);
    assert_eq!(matched("-k:*-*"), ["1", "4", "5"]);

    // The text between stars must come after the prefix, not inside it.
    assert_eq!(matched("k:ap*p*"), ["4"]);
    assert_eq!(matched("k:api*a*"), ["4"]);
    assert!(matched("k:web*w*").is_empty());
}

#[test]
fn posting_sets_turn_into_bitmaps_at_the_threshold() {
    let threshold = 3;
    let tuning = Tuning {
        many_docs: threshold,
        ..Tuning::default()
    };
    // `few` below the threshold, `edge` at it, `more` above it; every doc also has `all`.
    let mut records = Vec::new();
    for i in 0..8 {
        let mut tags = vec!["t:all"];
        if i < threshold - 1 {
            tags.push("t:few");
        }
        if i < threshold {
            tags.push("t:edge");
        }
        if i <= threshold {
            tags.push("t:more");
        }
        records.push(record(&format!("id{i}"), None, &tags));
    }
    let index = Index::build_tuned(records.clone(), tuning);
    let postings = index.postings("t").expect("key t should be indexed");
    let kind = |value: &str| match postings.posting(postings.find(value).unwrap()) {
        Posting::Few(docs) => ("few", docs.len() as u64),
        Posting::Many(docs) => ("many", docs.len()),
    };
    assert_eq!(kind("few"), ("few", 2));
    assert_eq!(kind("edge"), ("many", 3));
    assert_eq!(kind("more"), ("many", 4));
    assert_eq!(kind("all"), ("many", 8));

    for text in ["t:few", "t:edge", "t:(few OR more)", "-t:edge", "t:*e*"] {
        let expected: RoaringBitmap = records
            .iter()
            .filter(|r| filter(text).matches(r))
            .map(|r| index.doc_of(&r.id).unwrap())
            .collect();
        assert_eq!(index.matching(&filter(text)), expected, "{text}");
    }
    let keys = vec!["t".to_string()];
    let matched = records.iter().map(Arc::as_ref);
    let counts: HashMap<_, _> = index.group_counts(&keys, index.all()).into_iter().collect();
    assert_eq!(counts, engine::count_groups(matched, &keys));
}

#[test]
fn a_doc_matching_several_values_counts_once_in_any_union() {
    // Small postings, unions built by sorting (never as a bitset), one doc in both values.
    let tuning = Tuning {
        dense_union: 1,
        ..Tuning::default()
    };
    let records = vec![
        record("a", None, &["t:x1", "t:x2"]),
        record("b", None, &["t:x2"]),
        record("c", None, &["t:y"]),
    ];
    let index = Index::build_tuned(records, tuning);
    for text in ["t:x*", "t:(x1 OR x2)"] {
        assert_eq!(
            ids(&index, index.matching(&filter(text)).iter()),
            ["a", "b"]
        );
    }
}

#[test]
fn an_empty_index_answers_empty_pages() {
    let index = Index::build(Vec::new());
    assert!(index.is_empty());
    assert_eq!(index.doc_of("x"), None);
    assert!(index.matching(&filter("")).is_empty());
    assert!(index.matching(&filter("-team:*,size:<5")).is_empty());

    for field in ImageSortField::ALL {
        for descending in [false, true] {
            let sort = ImageSort { field, descending };
            let after = Position {
                rank: 0,
                value: None,
                id: "x".into(),
            };
            assert_eq!(
                index.iter_sorted(&sort, Some(&after), index.all()).count(),
                0
            );
        }
    }

    let page = index.list_images(&image_query("team:a", "-size", 10));
    assert_eq!(
        (page.items.len(), page.total, page.next_cursor),
        (0, 0, None)
    );

    let groups = index.list_groups(&GroupQuery {
        filter: filter(""),
        keys: vec!["registry".into(), "team".into()],
        sort: GroupSort::default(),
        page_size: 10,
        after: None,
        fingerprint: "f".into(),
    });
    assert_eq!(
        (groups.groups.len(), groups.total, groups.next_cursor),
        (0, 0, None)
    );
}

#[test]
fn records_are_found_by_id_whatever_order_they_came_in() {
    let records = vec![
        record("c", None, &[]),
        record("a", None, &[]),
        record("b", None, &[]),
    ];
    let index = Index::build(records);
    assert_eq!(index.len(), 3);
    for (doc, id) in ["a", "b", "c"].iter().enumerate() {
        assert_eq!(index.doc_of(id), Some(doc as u32));
        assert_eq!(index.record(doc as u32).id, *id);
    }
    assert_eq!(index.doc_of("bb"), None);
    assert!(index.heap_bytes() > 0);
}

#[test]
fn the_index_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Index>();
}
