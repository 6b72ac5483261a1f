//! An index that takes writes: an immutable [`Index`] built at some point of the change feed,
//! and an overlay of every record written or removed since. A query reads both: the base's
//! candidates minus the docs the overlay replaced, merged in sort order with the overlay's own
//! matches (evaluated by the reference engine, the overlay being small). Applying a batch of
//! changes makes a new `LiveIndex` sharing the base, in time proportional to the overlay; once
//! the overlay grows past [`LiveIndex::needs_rebuild`], the owner builds a new base from
//! [`LiveIndex::records`] off the request path and moves onto it with [`LiveIndex::rebase`].

use crate::engine::{self, GroupPage, ImagePage};
use crate::index::Index;
use crate::sort::{ImageSortField, Position};
use crate::{GroupQuery, ImageQuery};
use imagedex_model::ImageRecord;
use roaring::RoaringBitmap;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::iter::Peekable;
use std::sync::Arc;

/// The overlay starts asking for a rebuild at this many records...
const REBUILD_MIN: usize = 4096;
/// ... or at this fraction of the base, whichever is larger.
const REBUILD_SHARE: usize = 64;

/// One organisation's records, queryable, at one point of the change feed.
#[derive(Clone)]
pub struct LiveIndex {
    base: Arc<Index>,
    /// Records written (`Some`) or removed (`None`) since `base` was built, by id.
    overlay: Arc<BTreeMap<String, Option<Arc<ImageRecord>>>>,
    /// The records of the overlay, in id order, for the reference engine.
    written: Arc<[Arc<ImageRecord>]>,
    /// Base docs whose id the overlay holds: replaced or removed.
    masked: Arc<RoaringBitmap>,
}

impl LiveIndex {
    /// Builds the index of `records`, with an empty overlay.
    pub fn new(records: Vec<Arc<ImageRecord>>) -> Self {
        LiveIndex::on(Arc::new(LiveIndex::build_base(records)), BTreeMap::new())
    }

    /// Builds the base index of `records` with the default order (by name) ready, so the first
    /// default query does not pay for it: what the server calls on a blocking thread.
    pub fn build_base(records: Vec<Arc<ImageRecord>>) -> Index {
        let index = Index::build(records);
        index.prepare_sort(ImageSortField::Name);
        index
    }

    fn on(base: Arc<Index>, overlay: BTreeMap<String, Option<Arc<ImageRecord>>>) -> Self {
        let masked = overlay.keys().filter_map(|id| base.doc_of(id)).collect();
        let written = overlay.values().flatten().cloned().collect();
        LiveIndex {
            base,
            overlay: Arc::new(overlay),
            written,
            masked: Arc::new(masked),
        }
    }

    /// This index with `upserted` records written and the `removed` ids gone.
    pub fn apply(
        &self,
        upserted: impl IntoIterator<Item = Arc<ImageRecord>>,
        removed: impl IntoIterator<Item = String>,
    ) -> Self {
        let mut overlay = BTreeMap::clone(&self.overlay);
        for record in upserted {
            overlay.insert(record.id.clone(), Some(record));
        }
        for id in removed {
            overlay.insert(id, None);
        }
        LiveIndex::on(self.base.clone(), overlay)
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.base.len() - self.masked.len() as usize + self.written.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the overlay has grown enough that queries would gain from a new base.
    pub fn needs_rebuild(&self) -> bool {
        self.overlay.len() > REBUILD_MIN.max(self.base.len() / REBUILD_SHARE)
    }

    /// Every record, in no particular order: what a new base is built from.
    pub fn records(&self) -> Vec<Arc<ImageRecord>> {
        let base = (0..self.base.len() as u32)
            .filter(|doc| !self.masked.contains(*doc))
            .map(|doc| self.base.record(doc).clone());
        base.chain(self.written.iter().cloned()).collect()
    }

    /// This index moved onto `base`, a new base built from `built_from.records()`: what was
    /// written since `built_from` stays in the overlay.
    pub fn rebase(&self, base: Arc<Index>, built_from: &LiveIndex) -> Self {
        let overlay = self
            .overlay
            .iter()
            .filter(|(id, now)| match (built_from.overlay.get(*id), now) {
                (Some(Some(then)), Some(now)) => !Arc::ptr_eq(then, now),
                (Some(None), None) => false,
                _ => true,
            })
            .filter(|(id, now)| now.is_some() || base.doc_of(id).is_some())
            .map(|(id, now)| (id.clone(), now.clone()))
            .collect();
        LiveIndex::on(base, overlay)
    }

    /// One page of the images that match `query`: what [`engine::list_images`] answers over
    /// [`LiveIndex::records`].
    pub fn list_images(&self, query: &ImageQuery) -> ImagePage<'_> {
        let mut candidates = self.base.matching(&query.filter);
        candidates -= self.masked.as_ref();
        let descending = query.sort.descending;

        // The overlay's matches, ordered; those after the cursor are this page's candidates.
        let mut written: Vec<(Position, &ImageRecord)> = self
            .written
            .iter()
            .filter(|r| query.filter.matches(r))
            .map(|r| (query.sort.position(r), r.as_ref()))
            .collect();
        let total = candidates.len() as usize + written.len();
        written.sort_by(|a, b| a.0.cmp_in(&b.0, descending));
        let start = query.after.as_ref().map_or(0, |after| {
            written.partition_point(|(p, _)| p.cmp_in(after, descending) != Ordering::Greater)
        });

        let base = self
            .base
            .iter_sorted(&query.sort, query.after.as_ref(), &candidates);
        let mut merged = Merge {
            index: self,
            query,
            base: base.peekable(),
            written: written.drain(start..).peekable(),
        };
        let items: Vec<&ImageRecord> = merged.by_ref().take(query.page_size).collect();
        let more = merged.next().is_some();

        let last = items.last().map(|record| query.sort.position(record));
        ImagePage {
            items,
            total,
            next_cursor: engine::next_cursor(&query.fingerprint, last.as_ref(), more),
        }
    }

    /// One page of the groups of the images that match `query`: what [`engine::list_groups`]
    /// answers over [`LiveIndex::records`].
    pub fn list_groups(&self, query: &GroupQuery) -> GroupPage {
        let mut candidates = self.base.matching(&query.filter);
        candidates -= self.masked.as_ref();
        let mut counts = self.base.group_counts(&query.keys, &candidates);
        let written = self
            .written
            .iter()
            .map(Arc::as_ref)
            .filter(|r| query.filter.matches(r));
        let mut extra = engine::count_groups(written, &query.keys);
        if !extra.is_empty() {
            for (group, count) in counts.iter_mut() {
                if let Some(more) = extra.remove(group) {
                    *count += more;
                }
            }
            counts.extend(extra);
        }
        engine::page_groups(query, counts)
    }

    /// Builds the base's order of a sort field now rather than on the first query needing it.
    pub fn prepare_sort(&self, field: ImageSortField) {
        self.base.prepare_sort(field);
    }

    /// The heap of the base index and of the overlay's bookkeeping (not the records).
    pub fn heap_bytes(&self) -> usize {
        self.base.heap_bytes()
            + self.masked.serialized_size()
            + self.overlay.keys().map(|id| id.len() + 64).sum::<usize>()
    }
}

/// The base's docs and the overlay's records, merged in the query's order.
struct Merge<'a, 'q, B: Iterator<Item = u32>, W: Iterator<Item = (Position, &'a ImageRecord)>> {
    index: &'a LiveIndex,
    query: &'q ImageQuery,
    base: Peekable<B>,
    written: Peekable<W>,
}

impl<'a, B, W> Iterator for Merge<'a, '_, B, W>
where
    B: Iterator<Item = u32>,
    W: Iterator<Item = (Position, &'a ImageRecord)>,
{
    type Item = &'a ImageRecord;

    fn next(&mut self) -> Option<&'a ImageRecord> {
        let Some((position, _)) = self.written.peek() else {
            return self
                .base
                .next()
                .map(|doc| self.index.base.record(doc).as_ref());
        };
        let Some(&doc) = self.base.peek() else {
            return self.written.next().map(|(_, record)| record);
        };
        let record = self.index.base.record(doc).as_ref();
        let base_position = self.query.sort.position(record);
        if base_position.cmp_in(position, self.query.sort.descending) == Ordering::Less {
            self.base.next();
            Some(record)
        } else {
            self.written.next().map(|(_, record)| record)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LiveIndex;
    use crate::engine;
    use crate::index::equivalence::{
        filter, group_query, image_sort, inventory, next_position, page_size, record,
        same_group_page, same_image_page, FINGERPRINT,
    };
    use crate::index::Index;
    use crate::{GroupQuery, ImageQuery};
    use imagedex_model::ImageRecord;
    use proptest::prelude::*;
    use proptest::sample::Index as Pick;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    /// One write: new records, records replacing existing ids, removed ids, and whether a
    /// new base built from the state before this write is moved onto after it.
    type Write = (Vec<ImageRecord>, Vec<(Pick, ImageRecord)>, Vec<Pick>, bool);

    fn write() -> impl Strategy<Value = Write> {
        (
            prop::collection::vec(record(), 0..4),
            prop::collection::vec((any::<Pick>(), record()), 0..4),
            prop::collection::vec(any::<Pick>(), 0..3),
            any::<bool>(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        /// After any writes and rebuilds, every page of every walk and every group page equals
        /// the reference engine's over the records the writes leave.
        #[test]
        fn a_live_index_answers_as_the_reference_over_its_records(
            base in inventory(),
            writes in prop::collection::vec(write(), 1..5),
            queries in prop::collection::vec((filter(), image_sort(), page_size()), 1..3),
            groups in prop::collection::vec((filter(), group_query(), page_size()), 1..3),
        ) {
            let mut truth: BTreeMap<String, Arc<ImageRecord>> =
                base.iter().map(|r| (r.id.clone(), r.clone())).collect();
            let mut live = LiveIndex::new(base);
            for (step, (new, replaced, removed, rebuild)) in writes.into_iter().enumerate() {
                let before = live.clone();
                let ids: Vec<String> = truth.keys().cloned().collect();
                let mut upserted = Vec::new();
                for (i, mut record) in new.into_iter().enumerate() {
                    record.id = format!("{}@sha256:w{step}-{i}", record.name);
                    upserted.push(Arc::new(record));
                }
                if !ids.is_empty() {
                    for (pick, mut record) in replaced {
                        record.id = pick.get(&ids).clone();
                        upserted.push(Arc::new(record));
                    }
                }
                let removed: Vec<String> = if ids.is_empty() {
                    Vec::new()
                } else {
                    removed.iter().map(|pick| pick.get(&ids).clone()).collect()
                };
                for record in &upserted {
                    truth.insert(record.id.clone(), record.clone());
                }
                for id in &removed {
                    truth.remove(id);
                }
                // A removal wins over a write of the same id in one batch, as in the store's feed.
                let upserted: Vec<Arc<ImageRecord>> =
                    upserted.into_iter().filter(|r| !removed.contains(&r.id)).collect();
                live = live.apply(upserted, removed);
                if rebuild {
                    let built = Arc::new(Index::build(before.records()));
                    live = live.rebase(built, &before);
                }
            }

            let records: Vec<Arc<ImageRecord>> = truth.into_values().collect();
            prop_assert_eq!(live.len(), records.len());
            for (filter, sort, page_size) in queries {
                let mut query = ImageQuery {
                    filter,
                    sort,
                    page_size,
                    after: None,
                    fingerprint: FINGERPRINT.into(),
                };
                loop {
                    let reference = engine::list_images(&records, &query);
                    same_image_page(&live.list_images(&query), &reference)?;
                    match next_position(&reference.next_cursor) {
                        Some(after) => query.after = Some(after),
                        None => break,
                    }
                }
            }
            for (filter, (keys, sort), page_size) in groups {
                let mut query = GroupQuery {
                    filter,
                    keys,
                    sort,
                    page_size,
                    after: None,
                    fingerprint: FINGERPRINT.into(),
                };
                loop {
                    let reference = engine::list_groups(&records, &query);
                    same_group_page(&live.list_groups(&query), &reference)?;
                    match next_position(&reference.next_cursor) {
                        Some(after) => query.after = Some(after),
                        None => break,
                    }
                }
            }
        }
    }
}
