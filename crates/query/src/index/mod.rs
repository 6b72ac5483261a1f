//! The in-memory query index: list and group queries over one organisation's records without
//! scanning them, with exactly the answers of [`crate::engine`], which stays the reference.
//!
//! Records become docs, numbered densely in id order, so that doc order is the tie-breaking
//! order of every sort. Over them:
//!
//! - `postings`: per tag key, a sorted dictionary of values and each value's docs; tag terms
//!   are look-ups, globs search one key's dictionary, `key:*` is the key's set of holders.
//! - `matching`: a filter's terms as set operations over those sets.
//! - `orders`: per sort field, built on first use, the docs in (rank, value, id) order cut
//!   into runs of equal values, serving both directions, cursor look-ups by binary search, and
//!   numeric terms as ranges of runs.
//! - `walk`: the candidates of a request along an order, from after a cursor.
//! - `groups`: group counts by posting overlaps or by each candidate's values.
//! - `text_sort`: sorting by strings that live in the records, a chunk at a time.
//!
//! The index is immutable once built. A write overlay can sit on top: records changed since
//! the build evaluated by the reference engine, removed docs masked out of `matching`, and the
//! two streams merged in `Position::cmp_in` order; hence the public building blocks.

mod groups;
mod matching;
mod orders;
mod postings;
mod text_sort;
mod walk;

#[cfg(test)]
pub(crate) mod equivalence;
#[cfg(test)]
mod tests;

pub use groups::GroupCounts;

use crate::engine::{self, GroupPage, ImagePage};
use crate::filter::{NumericField, TagFilter};
use crate::sort::{ImageSort, ImageSortField, Position};
use crate::{GroupQuery, ImageQuery};
use imagedex_model::ImageRecord;
use orders::SortOrder;
use postings::KeyPostings;
use roaring::RoaringBitmap;
use std::sync::{Arc, OnceLock};
use text_sort::sort_by_text;

/// An immutable index over one organisation's records.
pub struct Index {
    /// The records by doc: sorted by id.
    records: Vec<Arc<ImageRecord>>,
    /// Every doc.
    all: RoaringBitmap,
    /// Postings by tag key, sorted by key.
    keys: Box<[(Box<str>, KeyPostings)]>,
    /// One order per sort field, in the order of `ImageSortField::ALL`, built on first use.
    orders: [OnceLock<SortOrder>; ImageSortField::ALL.len()],
    tuning: Tuning,
}

/// The thresholds that choose between equivalent strategies. Answers never depend on them;
/// tests vary them so that every strategy meets every kind of data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tuning {
    /// Docs from which a value's posting set is a bitmap.
    pub(crate) many_docs: usize,
    /// A walk picks all its candidates up front below one candidate in this many docs.
    pub(crate) sparse: u64,
    /// Misses in a row a walk always tolerates before jumping.
    pub(crate) min_patience: usize,
    /// How many candidates a jump picks.
    pub(crate) jump: usize,
    /// A numeric term gathers its docs from the order below one doc in this many.
    pub(crate) gather_below: usize,
    /// A union of posting sets holding more than one doc in this many is a plain bitset.
    pub(crate) dense_union: u64,
    /// Count a single group key value by value (`Some(true)`), doc by doc (`Some(false)`), or
    /// whichever costs less (`None`).
    pub(crate) group_by_value: Option<bool>,
    /// Threads that build the postings; by default as many as there are cores (up to four),
    /// one for small inventories.
    pub(crate) workers: Option<usize>,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            many_docs: postings::MANY_DOCS,
            sparse: walk::SPARSE,
            min_patience: walk::MIN_PATIENCE,
            jump: walk::JUMP,
            gather_below: orders::GATHER_BELOW,
            dense_union: matching::DENSE_UNION,
            group_by_value: None,
            workers: None,
        }
    }
}

impl Index {
    /// Indexes records given in any order. Ids are expected to be unique, as the store keeps
    /// them; each doc is the record's rank by id.
    pub fn build(records: Vec<Arc<ImageRecord>>) -> Index {
        Self::build_tuned(records, Tuning::default())
    }

    /// Indexes records with chosen thresholds; tests vary them.
    pub(crate) fn build_tuned(records: Vec<Arc<ImageRecord>>, tuning: Tuning) -> Index {
        // Records sharing an id (which should not happen) keep their given order, as the
        // reference's stable sort keeps them.
        let count =
            u32::try_from(records.len()).expect("an index should hold fewer than 2^32 records");
        // The store hands records over ordered by id, most often in this very order.
        let records = if records.windows(2).all(|w| w[0].id <= w[1].id) {
            records
        } else {
            let mut by_id: Vec<u32> = (0..count).collect();
            sort_by_text(&mut by_id, |i| records[i as usize].id.as_str());
            let mut given: Vec<Option<Arc<ImageRecord>>> = records.into_iter().map(Some).collect();
            by_id
                .iter()
                .map(|i| {
                    given[*i as usize]
                        .take()
                        .expect("each record should be placed once")
                })
                .collect()
        };
        // Built by pushing, so it holds bitset containers: see `postings` on run containers.
        let all = RoaringBitmap::from_sorted_iter(0..count).expect("a range should be ascending");
        let workers = tuning
            .workers
            .unwrap_or_else(|| default_workers(records.len()));
        let keys = postings::build(&records, tuning.many_docs, workers).into_boxed_slice();
        Index {
            records,
            all,
            keys,
            orders: Default::default(),
            tuning,
        }
    }

    /// How many records the index holds.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the index holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The record of a doc; panics when `doc` is not below [`Index::len`].
    pub fn record(&self, doc: u32) -> &Arc<ImageRecord> {
        &self.records[doc as usize]
    }

    /// The doc of the record with this id.
    pub fn doc_of(&self, id: &str) -> Option<u32> {
        let doc = self.records.partition_point(|r| r.id.as_str() < id);
        (doc < self.records.len() && self.records[doc].id == id).then_some(doc as u32)
    }

    /// Every doc: the candidates of a filter without terms.
    pub fn all(&self) -> &RoaringBitmap {
        &self.all
    }

    /// Docs matching the filter.
    pub fn matching(&self, filter: &TagFilter) -> RoaringBitmap {
        matching::matching(self, filter)
    }

    /// The docs of `candidates` in the order of `sort`, starting strictly after `after` when
    /// given. Candidates past [`Index::len`] are ignored.
    pub fn iter_sorted<'a>(
        &'a self,
        sort: &ImageSort,
        after: Option<&Position>,
        candidates: &'a RoaringBitmap,
    ) -> impl Iterator<Item = u32> + 'a {
        let order = self.order(sort.field);
        let start = after.map_or((0, 0), |after| {
            order.start_after(after, sort.descending, &self.records)
        });
        walk::Sorted::new(order, sort.descending, candidates, start, &self.tuning)
    }

    /// Group counts of the candidates over `keys`, as [`engine::count_groups`] counts them: an
    /// image with several values of a key counts in each group, images without the key form
    /// the `None` group.
    pub fn group_counts(&self, keys: &[String], candidates: &RoaringBitmap) -> GroupCounts<'_> {
        let postings: Vec<Option<&KeyPostings>> = keys.iter().map(|k| self.postings(k)).collect();
        groups::count(
            &postings,
            candidates,
            self.len(),
            self.tuning.group_by_value,
        )
    }

    /// One page of the images that match `query`: what [`engine::list_images`] answers.
    pub fn list_images(&self, query: &ImageQuery) -> ImagePage<'_> {
        let candidates = self.matching(&query.filter);
        let mut docs = self.iter_sorted(&query.sort, query.after.as_ref(), &candidates);
        let items: Vec<&ImageRecord> = docs
            .by_ref()
            .take(query.page_size)
            .map(|doc| self.records[doc as usize].as_ref())
            .collect();
        let more = docs.next().is_some();

        let last = items.last().map(|record| query.sort.position(record));
        ImagePage {
            items,
            total: candidates.len() as usize,
            next_cursor: engine::next_cursor(&query.fingerprint, last.as_ref(), more),
        }
    }

    /// One page of the groups of the images that match `query`: what [`engine::list_groups`]
    /// answers.
    pub fn list_groups(&self, query: &GroupQuery) -> GroupPage {
        let candidates = self.matching(&query.filter);
        engine::page_groups(query, self.group_counts(&query.keys, &candidates))
    }

    /// Builds the order of a sort field now rather than on the first query that needs it.
    pub fn prepare_sort(&self, field: ImageSortField) {
        self.order(field);
    }

    /// An estimate of the heap the index itself holds, orders and forward maps built so far
    /// included; the records it points to are not counted.
    pub fn heap_bytes(&self) -> usize {
        let keys: usize = self
            .keys
            .iter()
            .map(|(key, postings)| {
                std::mem::size_of::<(Box<str>, KeyPostings)>() + key.len() + postings.heap_bytes()
            })
            .sum();
        let orders: usize = self
            .orders
            .iter()
            .filter_map(OnceLock::get)
            .map(SortOrder::heap_bytes)
            .sum();
        self.records.capacity() * std::mem::size_of::<Arc<ImageRecord>>()
            + bitmap_bytes(&self.all)
            + keys
            + orders
    }

    /// The records by doc.
    pub(crate) fn records(&self) -> &[Arc<ImageRecord>] {
        &self.records
    }

    /// The postings of a tag key, if any doc has it.
    pub(crate) fn postings(&self, key: &str) -> Option<&KeyPostings> {
        self.keys
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()
            .map(|i| &self.keys[i].1)
    }

    /// The order of a sort field, built on first use.
    pub(crate) fn order(&self, field: ImageSortField) -> &SortOrder {
        let slot = ImageSortField::ALL
            .iter()
            .position(|f| *f == field)
            .expect("every sort field should be listed in ImageSortField::ALL");
        self.orders[slot].get_or_init(|| SortOrder::build(field, &self.records))
    }
}

/// Below this many records, a thread costs more than it saves.
const RECORDS_PER_WORKER: usize = 1 << 15;

fn default_workers(records: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(4).min(records / RECORDS_PER_WORKER).max(1)
}

/// The sort field whose values a numeric filter field compares.
fn sort_field(field: NumericField) -> ImageSortField {
    match field {
        NumericField::ContainerCount => ImageSortField::ContainerCount,
        NumericField::Size => ImageSortField::Size,
        NumericField::Vulnerabilities(bucket) => ImageSortField::Vulnerabilities(bucket),
    }
}

/// An estimate of a roaring bitmap's heap: its containers and what they point to.
fn bitmap_bytes(bitmap: &RoaringBitmap) -> usize {
    // A container is a key and a store (a vector or a boxed bitset) with its length.
    const CONTAINER: u64 = 40;
    let stats = bitmap.statistics();
    // `statistics` counts array containers at four bytes a value; they hold two.
    let arrays = stats.n_bytes_array_containers / 2;
    let bitsets = u64::from(stats.n_bitset_containers) * 8192;
    let runs = stats.n_bytes_run_containers;
    (arrays + bitsets + runs + u64::from(stats.n_containers) * CONTAINER) as usize
}
