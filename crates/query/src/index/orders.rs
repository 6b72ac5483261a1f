//! Sort orders: for one image sort field, every doc in (rank, value, id) order, cut into runs
//! of equal values, and each doc's run.
//!
//! Docs are numbered in id order, so within a run of equal values doc order is id order, which
//! both directions keep. A descending order is therefore the runs read backwards, each run
//! still read forwards, and the docs without a value last: one stored order serves both.
//!
//! The run of each doc doubles as the numeric column of the field: a comparison in a filter is
//! a range of runs, found by binary search over the runs' values.

use super::text_sort::sort_by_text;
use crate::sort::{ImageSortField, Position, SortValueRef};
use hashbrown::{DefaultHashBuilder, HashTable};
use imagedex_model::ImageRecord;
use roaring::RoaringBitmap;
use std::cmp::Ordering;
use std::hash::BuildHasher;
use std::ops::{Range, RangeInclusive};
use std::sync::Arc;

/// The run of a doc without a value.
const NO_VALUE: u32 = u32::MAX;

/// A range of matching docs fewer than one in this many is gathered from the order and sorted;
/// a larger one is found by reading every doc's run, which costs about as much as sorting
/// one doc in this many.
pub(crate) const GATHER_BELOW: usize = 16;

/// One field's order.
#[derive(Debug)]
pub(crate) struct SortOrder {
    field: ImageSortField,
    /// Docs with a value by (value, doc), then docs without one by doc.
    docs: Box<[u32]>,
    /// Each doc's run, numbered in ascending value order; `NO_VALUE` for docs without one.
    run_of: Box<[u32]>,
    /// Where each run starts in `docs`, then where the docs without a value start.
    starts: Box<[u32]>,
}

impl SortOrder {
    /// Sorts every record by `field`.
    pub(crate) fn build(field: ImageSortField, records: &[Arc<ImageRecord>]) -> Self {
        // A field holds numbers or names, never both; numbers would sort first.
        let mut numbers: Vec<(i64, u32)> = Vec::new();
        let mut named: Vec<u32> = Vec::new();
        let mut missing: Vec<u32> = Vec::new();
        for (doc, record) in records.iter().enumerate() {
            match field.value_ref(record) {
                Some(SortValueRef::Int(n)) => numbers.push((n, doc as u32)),
                Some(SortValueRef::Str(_)) => named.push(doc as u32),
                None => missing.push(doc as u32),
            }
        }
        let name = |doc: u32| match field.value_ref(&records[doc as usize]) {
            Some(SortValueRef::Str(text)) => text,
            _ => "",
        };
        // (value, doc) is unique, so an unstable sort gives the one order.
        numbers.sort_unstable();
        let (named, named_runs) = sort_names(named, name);

        let mut run_of = vec![NO_VALUE; records.len()];
        let mut starts: Vec<u32> = Vec::new();
        let mut place = |position: usize, doc: u32, new_run: bool| {
            if new_run {
                starts.push(position as u32);
            }
            run_of[doc as usize] = starts.len() as u32 - 1;
        };
        for (i, (n, doc)) in numbers.iter().enumerate() {
            place(i, *doc, i == 0 || numbers[i - 1].0 != *n);
        }
        for (i, doc) in named.iter().enumerate() {
            place(
                numbers.len() + i,
                *doc,
                i == 0 || named_runs[i - 1] != named_runs[i],
            );
        }
        starts.push((numbers.len() + named.len()) as u32);

        let docs = numbers
            .iter()
            .map(|(_, doc)| *doc)
            .chain(named)
            .chain(missing)
            .collect();
        SortOrder {
            field,
            docs,
            run_of: run_of.into(),
            starts: starts.into(),
        }
    }

    /// How many docs the order holds: every doc of the index.
    pub(crate) fn doc_count(&self) -> usize {
        self.docs.len()
    }

    /// How many runs of equal values there are, not counting the docs without a value.
    fn value_runs(&self) -> usize {
        self.starts.len() - 1
    }

    /// How many runs a walk goes through: the value runs, then the docs without a value as one
    /// more run when there are any.
    pub(crate) fn runs(&self) -> usize {
        let missing = self.docs.len() > self.starts[self.value_runs()] as usize;
        self.value_runs() + usize::from(missing)
    }

    /// The value run a walk in the given direction meets `step`-th; `value_runs()` stands for
    /// the docs without a value, last in both directions.
    fn ascending_run(&self, step: usize, descending: bool) -> usize {
        let runs = self.value_runs();
        if step < runs && descending {
            runs - 1 - step
        } else {
            step
        }
    }

    /// The docs of the run a walk meets `step`-th, ascending.
    pub(crate) fn run_docs(&self, step: usize, descending: bool) -> &[u32] {
        let run = self.ascending_run(step, descending);
        let start = self.starts[run] as usize;
        let end = self
            .starts
            .get(run + 1)
            .map_or(self.docs.len(), |end| *end as usize);
        &self.docs[start..end]
    }

    /// The step at which a walk in the given direction meets `doc`'s run.
    pub(crate) fn step_of(&self, doc: u32, descending: bool) -> usize {
        let run = self.run_of[doc as usize];
        if run == NO_VALUE {
            self.value_runs()
        } else {
            self.ascending_run(run as usize, descending)
        }
    }

    /// The value of the run a walk meets `step`-th, as the record at its head has it.
    fn step_value<'r>(
        &self,
        step: usize,
        descending: bool,
        records: &'r [Arc<ImageRecord>],
    ) -> Option<SortValueRef<'r>> {
        let head = self.run_docs(step, descending)[0];
        self.field.value_ref(&records[head as usize])
    }

    /// Where a walk starts to meet only positions after `after`: a step and an offset in its
    /// run. The walk is past the end when the step is `runs()`.
    pub(crate) fn start_after(
        &self,
        after: &Position,
        descending: bool,
        records: &[Arc<ImageRecord>],
    ) -> (usize, usize) {
        // Runs compare with the cursor as `Position::cmp_in` compares rank and value.
        let compare = |step: usize| {
            let value = self.step_value(step, descending, records);
            let by_value = match (value, &after.value) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(value), Some(other)) => value.cmp_value(other),
            };
            let by_value = if descending {
                by_value.reverse()
            } else {
                by_value
            };
            u8::from(value.is_none()).cmp(&after.rank).then(by_value)
        };

        let step = partition(self.runs(), |step| compare(step) == Ordering::Less);
        if step == self.runs() || compare(step) != Ordering::Equal {
            return (step, 0);
        }
        let offset = self
            .run_docs(step, descending)
            .partition_point(|doc| records[*doc as usize].id <= after.id);
        (step, offset)
    }

    /// The docs whose value lies in one of `ranges`, for numeric fields.
    pub(crate) fn docs_within(
        &self,
        ranges: &[RangeInclusive<i64>],
        records: &[Arc<ImageRecord>],
        gather_below: usize,
    ) -> RoaringBitmap {
        let mut runs: Vec<Range<u32>> = ranges
            .iter()
            .map(|range| self.runs_within(range, records))
            .filter(|runs| !runs.is_empty())
            .collect();
        runs.sort_unstable_by_key(|r| r.start);
        let mut merged: Vec<Range<u32>> = Vec::with_capacity(runs.len());
        for r in runs {
            match merged.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }

        let count: usize = merged
            .iter()
            .map(|r| (self.starts[r.end as usize] - self.starts[r.start as usize]) as usize)
            .sum();
        if count.saturating_mul(gather_below) < self.docs.len() {
            let mut docs: Vec<u32> = Vec::with_capacity(count);
            for r in &merged {
                let (start, end) = (self.starts[r.start as usize], self.starts[r.end as usize]);
                docs.extend_from_slice(&self.docs[start as usize..end as usize]);
            }
            docs.sort_unstable();
            return RoaringBitmap::from_sorted_iter(docs).expect("sorted docs should be ascending");
        }

        // Read every doc's run into a plain bitset, eight docs a byte, without branches.
        let mut bits = vec![0u8; self.run_of.len().div_ceil(8)];
        match merged.as_slice() {
            // One range, the usual case: one comparison per doc (`NO_VALUE` wraps out of it).
            [only] => {
                let (start, len) = (only.start, only.end - only.start);
                self.fill(&mut bits, |run| run.wrapping_sub(start) < len);
            }
            _ => {
                let mut chosen = vec![false; self.value_runs() + 1];
                for range in &merged {
                    chosen[range.start as usize..range.end as usize].fill(true);
                }
                let last = self.value_runs() as u32;
                self.fill(&mut bits, |run| chosen[run.min(last) as usize]);
            }
        }
        RoaringBitmap::from_lsb0_bytes(0, &bits)
    }

    /// Sets the bit of every doc whose run is `within`.
    fn fill(&self, bits: &mut [u8], within: impl Fn(u32) -> bool) {
        for (byte, runs) in bits.iter_mut().zip(self.run_of.chunks(8)) {
            *byte = runs
                .iter()
                .enumerate()
                .fold(0, |b, (i, run)| b | (u8::from(within(*run)) << i));
        }
    }

    /// The value runs (ascending) whose value lies in `range`.
    fn runs_within(&self, range: &RangeInclusive<i64>, records: &[Arc<ImageRecord>]) -> Range<u32> {
        let value = |run: usize| match self.step_value(run, false, records) {
            Some(SortValueRef::Int(n)) => n,
            other => unreachable!("a numeric field should have numbers, not {other:?}"),
        };
        let runs = self.value_runs();
        let start = partition(runs, |run| value(run) < *range.start());
        let end = partition(runs, |run| value(run) <= *range.end());
        start as u32..end.max(start) as u32
    }

    /// The heap this order holds.
    pub(crate) fn heap_bytes(&self) -> usize {
        (self.docs.len() + self.run_of.len() + self.starts.len()) * 4
    }
}

/// Sorts docs (given ascending) by name, then doc: each distinct name is sorted once, and the
/// docs are dealt out to their names in doc order. Also gives each doc's rank among the
/// names, which tells where runs of one name start.
fn sort_names<'r>(docs: Vec<u32>, name: impl Fn(u32) -> &'r str) -> (Vec<u32>, Vec<u32>) {
    let hasher = DefaultHashBuilder::default();
    let mut table: HashTable<(u64, u32)> = HashTable::new();
    let mut names: Vec<&str> = Vec::new();
    let ids: Vec<u32> = docs
        .iter()
        .map(|doc| {
            let text = name(*doc);
            let hash = hasher.hash_one(text);
            let found = table.find(hash, |(h, id)| *h == hash && names[*id as usize] == text);
            match found {
                Some((_, id)) => *id,
                None => {
                    let id = names.len() as u32;
                    names.push(text);
                    table.insert_unique(hash, (hash, id), |(h, _)| *h);
                    id
                }
            }
        })
        .collect();

    let mut by_name: Vec<u32> = (0..names.len() as u32).collect();
    sort_by_text(&mut by_name, |id| names[id as usize]);
    let mut rank = vec![0u32; names.len()];
    for (position, id) in by_name.iter().enumerate() {
        rank[*id as usize] = position as u32;
    }

    let mut starts = vec![0usize; names.len() + 1];
    for id in &ids {
        starts[rank[*id as usize] as usize + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let (mut sorted, mut runs) = (vec![0u32; docs.len()], vec![0u32; docs.len()]);
    for (doc, id) in docs.iter().zip(&ids) {
        let run = rank[*id as usize];
        let slot = &mut starts[run as usize];
        (sorted[*slot], runs[*slot]) = (*doc, run);
        *slot += 1;
    }
    (sorted, runs)
}

/// The first index in `0..len` for which `before` is false; `before` must be true up to some
/// index and false from there on.
pub(crate) fn partition(len: usize, before: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (0, len);
    while low < high {
        let middle = low + (high - low) / 2;
        if before(middle) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low
}
