//! Tag postings: for each tag key, a sorted dictionary of its values and, for each value, the
//! set of docs that hold it.
//!
//! Most values (an image id, a tag like `1.4.2`) belong to a handful of docs, so their sets are
//! slices of one flat sorted array per key; only a value held by many docs gets a roaring
//! bitmap. A bitmap per image id would cost more than the image's whole budget.
//!
//! Bitmaps are never turned into run containers, though docs of one repository lie side by
//! side in id order and would compress: roaring's intersections and counts on run containers
//! measured many times slower than on arrays and bitsets.
//!
//! The dictionary keeps its values end to end in one string per key: a glob reads through
//! them in order, where pointers into the records would cost a few cache misses per value.

use super::bitmap_bytes;
use super::groups::Forward;
use super::orders::partition;
use super::text_sort::sort_by_text;
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use imagedex_model::ImageRecord;
use roaring::RoaringBitmap;
use std::hash::BuildHasher;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

/// A value held by at least this many docs gets a bitmap; one held by fewer, a slice.
///
/// Around here a roaring bitmap starts to be smaller than four bytes per doc, and counting its
/// overlap with candidates container by container beats probing doc by doc.
pub(crate) const MANY_DOCS: usize = 2048;

/// The docs of one value, ascending.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Posting<'a> {
    Few(&'a [u32]),
    Many(&'a RoaringBitmap),
}

impl Posting<'_> {
    /// How many docs.
    pub(crate) fn len(self) -> u64 {
        match self {
            Posting::Few(docs) => docs.len() as u64,
            Posting::Many(docs) => docs.len(),
        }
    }

    /// These docs that are also in `set`.
    pub(crate) fn within(self, set: &RoaringBitmap) -> RoaringBitmap {
        match self {
            Posting::Few(docs) => {
                RoaringBitmap::from_sorted_iter(docs.iter().copied().filter(|d| set.contains(*d)))
                    .expect("a posting set should be ascending")
            }
            Posting::Many(docs) => docs & set,
        }
    }

    /// How many of these docs are candidates.
    pub(crate) fn overlap(self, candidates: &RoaringBitmap) -> u64 {
        match self {
            Posting::Few(docs) => docs.iter().filter(|d| candidates.contains(**d)).count() as u64,
            Posting::Many(docs) => docs.intersection_len(candidates),
        }
    }
}

/// The dictionary and posting sets of one tag key.
#[derive(Debug)]
pub(crate) struct KeyPostings {
    /// Each distinct value once, sorted, end to end.
    text: Box<str>,
    /// Where each value ends in `text`.
    ends: Box<[u32]>,
    /// Value `i`'s docs are `few[starts[i]..starts[i + 1]]`, an empty range when it has many.
    starts: Box<[u32]>,
    few: Box<[u32]>,
    /// The bitmaps of values with many docs, by value index.
    many: Box<[(u32, RoaringBitmap)]>,
    /// Docs with at least one value of the key.
    present: RoaringBitmap,
    /// Each doc's values, built on the first group_by that needs it.
    forward: OnceLock<Forward>,
}

impl KeyPostings {
    /// How many distinct values the key has.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Value `i`.
    pub(crate) fn value(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// The index of `value` in the dictionary.
    pub(crate) fn find(&self, value: &str) -> Option<usize> {
        let i = partition(self.len(), |i| self.value(i) < value);
        (i < self.len() && self.value(i) == value).then_some(i)
    }

    /// The values starting with `prefix`: a glob only needs to look at these.
    pub(crate) fn prefixed(&self, prefix: &str) -> Range<usize> {
        let start = partition(self.len(), |i| self.value(i) < prefix);
        let len = partition(self.len() - start, |i| {
            self.value(start + i).starts_with(prefix)
        });
        start..start + len
    }

    /// The values in `range` that contain `literal`, ascending: found by one substring search
    /// through the values end to end rather than a look at each value.
    pub(crate) fn containing(&self, range: Range<usize>, literal: &str) -> Vec<usize> {
        if range.is_empty() {
            return Vec::new();
        }
        let start = if range.start == 0 {
            0
        } else {
            self.ends[range.start - 1] as usize
        };
        let text = &self.text[start..self.ends[range.end - 1] as usize];
        let mut found: Vec<usize> = Vec::new();
        let mut value = range.start;
        for at in memchr::memmem::find_iter(text.as_bytes(), literal.as_bytes()) {
            let (at, end) = (start + at, start + at + literal.len());
            while (self.ends[value] as usize) <= at {
                value += 1;
            }
            // A match across the end of a value joins two values: it is in neither.
            if end <= self.ends[value] as usize && found.last() != Some(&value) {
                found.push(value);
            }
        }
        found
    }

    /// The docs holding value `i`.
    pub(crate) fn posting(&self, i: usize) -> Posting<'_> {
        let (start, end) = (self.starts[i] as usize, self.starts[i + 1] as usize);
        if start < end {
            return Posting::Few(&self.few[start..end]);
        }
        let at = self
            .many
            .binary_search_by_key(&(i as u32), |(value, _)| *value)
            .expect("a value without a slice of docs should have a bitmap");
        Posting::Many(&self.many[at].1)
    }

    /// How many docs the small posting sets hold in all, and how many values have a bitmap.
    pub(crate) fn sizes(&self) -> (usize, usize) {
        (self.few.len(), self.many.len())
    }

    /// Docs with at least one value of the key.
    pub(crate) fn present(&self) -> &RoaringBitmap {
        &self.present
    }

    /// Each doc's values, built on first use.
    pub(crate) fn forward(&self, docs: usize) -> &Forward {
        self.forward.get_or_init(|| Forward::build(self, docs))
    }

    /// The heap this key's structures hold, forward map included once built.
    pub(crate) fn heap_bytes(&self) -> usize {
        let many: usize = self
            .many
            .iter()
            .map(|(_, docs)| std::mem::size_of::<(u32, RoaringBitmap)>() + bitmap_bytes(docs))
            .sum();
        self.text.len()
            + self.ends.len() * 4
            + self.starts.len() * 4
            + self.few.len() * 4
            + many
            + bitmap_bytes(&self.present)
            + self.forward.get().map_or(0, Forward::heap_bytes)
    }
}

/// Builds the postings of every tag key, sorted by key, on `workers` threads.
pub(crate) fn build(
    records: &[Arc<ImageRecord>],
    many_docs: usize,
    workers: usize,
) -> Vec<(Box<str>, KeyPostings)> {
    let hasher = DefaultHashBuilder::default();
    let workers = workers.clamp(1, records.len().max(1));

    // Each worker reads a slice of the docs; the slices' dictionaries are then merged in doc
    // order, so every value's docs stay ascending.
    let share = records.len().div_ceil(workers);
    let mut parts = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..workers)
            .map(|w| {
                let range = (w * share).min(records.len())..((w + 1) * share).min(records.len());
                let hasher = &hasher;
                scope.spawn(move || read(records, range, hasher))
            })
            .collect();
        let mut parts = vec![read(records, 0..share.min(records.len()), &hasher)];
        parts.extend(
            handles
                .into_iter()
                .map(|h| h.join().expect("reading tags should not panic")),
        );
        parts
    });
    let mut builders = parts.remove(0);
    for part in parts {
        for (key, other) in part {
            match builders.iter_mut().find(|(k, _)| *k == key) {
                Some((_, builder)) => builder.absorb(other, &hasher),
                None => builders.push((key, other)),
            }
        }
    }

    // Finishing is per key: deal the keys out to the workers, largest first.
    builders.sort_unstable_by_key(|(_, b)| std::cmp::Reverse(b.pairs.len()));
    let mut shares: Vec<Vec<(&str, KeyBuilder)>> = (0..workers).map(|_| Vec::new()).collect();
    let mut loads = vec![0usize; workers];
    for builder in builders {
        let lightest = (0..workers)
            .min_by_key(|w| loads[*w])
            .expect("there should be at least one worker");
        loads[lightest] += builder.1.pairs.len();
        shares[lightest].push(builder);
    }
    let mut keys: Vec<(Box<str>, KeyPostings)> = std::thread::scope(|scope| {
        let mut shares = shares.into_iter();
        let own = shares.next().unwrap_or_default();
        let handles: Vec<_> = shares
            .map(|share| scope.spawn(move || finish_all(share, many_docs)))
            .collect();
        let mut keys = finish_all(own, many_docs);
        for handle in handles {
            keys.extend(handle.join().expect("finishing postings should not panic"));
        }
        keys
    });
    keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    keys
}

fn finish_all(builders: Vec<(&str, KeyBuilder)>, many_docs: usize) -> Vec<(Box<str>, KeyPostings)> {
    builders
        .into_iter()
        .map(|(key, builder)| (Box::from(key), builder.finish(many_docs)))
        .collect()
}

/// Reads the tags of the docs in `docs` into one builder per key.
fn read<'r>(
    records: &'r [Arc<ImageRecord>],
    docs: Range<usize>,
    hasher: &DefaultHashBuilder,
) -> Vec<(&'r str, KeyBuilder)> {
    let mut by_key: HashMap<&str, usize> = HashMap::new();
    let mut builders: Vec<(&str, KeyBuilder)> = Vec::new();
    for doc in docs {
        // Tags are sorted by key, so the key rarely changes from one tag to the next.
        let mut last: Option<(&str, usize)> = None;
        for tag in &records[doc].tags {
            let slot = match last {
                Some((key, slot)) if key == tag.key() => slot,
                _ => *by_key.entry(tag.key()).or_insert_with(|| {
                    builders.push((tag.key(), KeyBuilder::default()));
                    builders.len() - 1
                }),
            };
            last = Some((tag.key(), slot));
            let builder = &mut builders[slot].1;
            let id = builder.intern(hasher, tag.value());
            builder.pairs.push((id, doc as u32));
        }
    }
    builders
}

/// One key's values and (value, doc) pairs as the records are read.
#[derive(Default)]
struct KeyBuilder {
    /// (half the hash of the text, value id), by that hash: eight bytes an entry, so more of
    /// the table stays in cache.
    table: HashTable<(u32, u32)>,
    /// The distinct values end to end, in reading order. Comparing a value read from a record
    /// with this copy rather than with the first record that held it saves a cache miss on
    /// every tag.
    arena: String,
    /// Where each value ends in `arena`.
    ends: Vec<u32>,
    /// (value id, doc), in doc order.
    pairs: Vec<(u32, u32)>,
}

impl KeyBuilder {
    fn text(&self, id: u32) -> &str {
        arena_text(&self.arena, &self.ends, id)
    }

    /// The id of `value`, new if it is not known yet.
    fn intern(&mut self, hasher: &DefaultHashBuilder, value: &str) -> u32 {
        let half = (hasher.hash_one(value) >> 32) as u32;
        let hash = spread(half);
        let (arena, ends) = (&mut self.arena, &mut self.ends);
        let found = self
            .table
            .find(hash, |(h, id)| {
                *h == half && arena_text(arena, ends, *id) == value
            })
            .map(|(_, id)| *id);
        found.unwrap_or_else(|| {
            let id = u32::try_from(ends.len()).expect("a key should have fewer than 2^32 values");
            arena.push_str(value);
            ends.push(
                u32::try_from(arena.len())
                    .expect("a key's distinct values should take less than 4 GiB"),
            );
            // Growing the table rehashes from the stored halves, never from the arena.
            self.table
                .insert_unique(hash, (half, id), |(h, _)| spread(*h));
            id
        })
    }

    /// Takes in the values and pairs of a builder that read later docs.
    fn absorb(&mut self, later: KeyBuilder, hasher: &DefaultHashBuilder) {
        let ids: Vec<u32> = (0..later.ends.len() as u32)
            .map(|id| self.intern(hasher, later.text(id)))
            .collect();
        self.pairs.extend(
            later
                .pairs
                .iter()
                .map(|(id, doc)| (ids[*id as usize], *doc)),
        );
    }

    fn finish(self, many_docs: usize) -> KeyPostings {
        // Number values in string order; `rank` maps the reading order to it.
        let mut sorted: Vec<u32> = (0..self.ends.len() as u32).collect();
        sort_by_text(&mut sorted, |id| self.text(id));
        let mut rank = vec![0u32; sorted.len()];
        for (position, id) in sorted.iter().enumerate() {
            rank[*id as usize] = position as u32;
        }

        // A counting sort keeps each value's docs in doc order. A doc holding a value twice
        // (tags are meant to be unique) is kept once.
        let mut counts = vec![0u32; sorted.len() + 1];
        for (id, _) in &self.pairs {
            counts[rank[*id as usize] as usize + 1] += 1;
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let mut fill = counts.clone();
        let mut grouped = vec![0u32; self.pairs.len()];
        for (id, doc) in &self.pairs {
            let slot = &mut fill[rank[*id as usize] as usize];
            grouped[*slot as usize] = *doc;
            *slot += 1;
        }

        let mut starts = Vec::with_capacity(sorted.len() + 1);
        let mut few = Vec::new();
        let mut many = Vec::new();
        for value in 0..sorted.len() {
            starts.push(u32::try_from(few.len()).expect("a key should have fewer than 2^32 tags"));
            let docs = &grouped[counts[value] as usize..counts[value + 1] as usize];
            let distinct = docs
                .iter()
                .enumerate()
                .filter(|(i, doc)| *i == 0 || docs[i - 1] != **doc)
                .map(|(_, doc)| *doc);
            if docs.len() >= many_docs {
                let bitmap = RoaringBitmap::from_sorted_iter(distinct)
                    .expect("a value's docs should be ascending");
                many.push((value as u32, bitmap));
            } else {
                few.extend(distinct);
            }
        }
        starts.push(u32::try_from(few.len()).expect("a key should have fewer than 2^32 tags"));

        let mut holders: Vec<u32> = self.pairs.iter().map(|(_, doc)| *doc).collect();
        holders.dedup();
        let present =
            RoaringBitmap::from_sorted_iter(holders).expect("docs should be read in order");

        let mut text = String::with_capacity(self.arena.len());
        let mut ends = Vec::with_capacity(sorted.len());
        for id in &sorted {
            text.push_str(self.text(*id));
            ends.push(
                u32::try_from(text.len())
                    .expect("a key's distinct values should take less than 4 GiB"),
            );
        }

        KeyPostings {
            text: text.into(),
            ends: ends.into(),
            starts: starts.into(),
            few: few.into(),
            many: many.into(),
            present,
            forward: OnceLock::new(),
        }
    }
}

/// Value `id` of an arena of values end to end.
fn arena_text<'a>(arena: &'a str, ends: &[u32], id: u32) -> &'a str {
    let id = id as usize;
    let start = if id == 0 { 0 } else { ends[id - 1] as usize };
    &arena[start..ends[id] as usize]
}

/// A table hash from half a hash: the table places entries by low bits and tags them with
/// high bits, so the half is spread over all 64.
fn spread(half: u32) -> u64 {
    u64::from(half).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}
