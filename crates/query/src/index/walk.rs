//! Walking an order: the candidates in the order of an image sort, from just after a cursor.
//!
//! Two ways to find the next candidates, switched between as the walk goes:
//!
//! - Step along the order and keep the docs that are candidates. Cheap where candidates are
//!   dense, and the only way that costs nothing per page when every doc is one.
//! - Pick: read every candidate, place it by its key (the step of its run, then its doc; doc
//!   order is id order) and keep the smallest keys past the current place. It costs one pass
//!   over the candidates whatever the order, so it is how a walk starts when candidates are
//!   few, and how it jumps a long stretch of the order without any (a filter that correlates
//!   with the sort, such as a registry filter on a name sort).
//!
//! A step that has missed about as often as a pick would cost gives way to a pick, so a page
//! never costs much more than the cheaper of the two.

use super::orders::SortOrder;
use super::Tuning;
use roaring::RoaringBitmap;
use std::collections::BinaryHeap;

/// With fewer than one candidate in this many docs, a walk picks them all up front: stepping
/// would meet this many non-candidates per candidate.
pub(crate) const SPARSE: u64 = 64;

/// A step never gives way to a pick before this many misses in a row.
pub(crate) const MIN_PATIENCE: usize = 4096;

/// A pick costs about this many misses per candidate it reads: it reads the candidates and
/// their runs in doc order, where a step probes the bitmap at random. An estimate; past
/// `MIN_PATIENCE` it only bounds how much a walk can lose before jumping.
const PICK_COST: f64 = 0.5;

/// How many candidates a jump picks before stepping again.
pub(crate) const JUMP: usize = 128;

/// The candidates of one request in the order of one sort, from a starting place on.
pub(crate) struct Sorted<'a> {
    order: &'a SortOrder,
    descending: bool,
    candidates: &'a RoaringBitmap,
    /// Every doc is a candidate, so stepping needs no look-up.
    every: bool,
    /// Misses in a row after which stepping gives way to a pick.
    patience: usize,
    /// How many candidates a jump picks.
    jump: usize,
    state: State,
}

/// Where the walk is.
enum State {
    /// Stepping, at an offset in the run met at this step.
    Step {
        step: usize,
        offset: usize,
    },
    /// Handing out picked keys, then stepping from a place or done.
    Picked {
        keys: std::vec::IntoIter<u64>,
        then: Option<(usize, usize)>,
    },
    Done,
}

impl<'a> Sorted<'a> {
    /// The candidates from `start` (a step and an offset in its run) on.
    pub(crate) fn new(
        order: &'a SortOrder,
        descending: bool,
        candidates: &'a RoaringBitmap,
        start: (usize, usize),
        tuning: &Tuning,
    ) -> Self {
        let docs = order.doc_count();
        let count = candidates.len();
        let every = count == docs as u64 && candidates.max().is_some_and(|m| (m as usize) < docs);
        let patience = tuning.min_patience.max((count as f64 * PICK_COST) as usize);
        let mut walk = Sorted {
            order,
            descending,
            candidates,
            every,
            patience,
            jump: tuning.jump,
            state: State::Done,
        };
        walk.state = if count == 0 {
            State::Done
        } else if count.saturating_mul(tuning.sparse) < docs as u64 {
            walk.pick(start, usize::MAX)
        } else {
            State::Step {
                step: start.0,
                offset: start.1,
            }
        };
        walk
    }

    /// The first place at or after `(step, offset)` that holds a doc.
    fn settle(&self, (mut step, mut offset): (usize, usize)) -> Option<(usize, usize)> {
        while step < self.order.runs() {
            if offset < self.order.run_docs(step, self.descending).len() {
                return Some((step, offset));
            }
            step += 1;
            offset = 0;
        }
        None
    }

    fn key(&self, step: usize, doc: u32) -> u64 {
        ((step as u64) << 32) | u64::from(doc)
    }

    /// Picks the `limit` first candidates at or after a place.
    fn pick(&self, from: (usize, usize), limit: usize) -> State {
        let Some((step, offset)) = self.settle(from) else {
            return State::Done;
        };
        let floor = self.key(step, self.order.run_docs(step, self.descending)[offset]);
        let docs = self.order.doc_count() as u32;
        let keys = self
            .candidates
            .iter()
            .take_while(|doc| *doc < docs)
            .map(|doc| self.key(self.order.step_of(doc, self.descending), doc))
            .filter(|key| *key >= floor);

        let mut picked: Vec<u64> = if limit == usize::MAX {
            keys.collect()
        } else {
            // A max-heap of the smallest keys so far: most keys lose to its top at once.
            let mut heap = BinaryHeap::with_capacity(limit + 1);
            for key in keys {
                if heap.len() < limit {
                    heap.push(key);
                } else if heap.peek().is_some_and(|top| key < *top) {
                    heap.pop();
                    heap.push(key);
                }
            }
            heap.into_vec()
        };
        picked.sort_unstable();

        let then = match picked.last() {
            Some(last) if picked.len() == limit => {
                let (step, doc) = ((last >> 32) as usize, *last as u32);
                let offset = self
                    .order
                    .run_docs(step, self.descending)
                    .partition_point(|d| *d <= doc);
                Some((step, offset))
            }
            _ => None,
        };
        State::Picked {
            keys: picked.into_iter(),
            then,
        }
    }
}

impl Iterator for Sorted<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        loop {
            match &mut self.state {
                State::Done => return None,
                State::Picked { keys, then } => match keys.next() {
                    Some(key) => return Some(key as u32),
                    None => {
                        self.state = match *then {
                            Some((step, offset)) => State::Step { step, offset },
                            None => State::Done,
                        }
                    }
                },
                State::Step { step, offset } => {
                    let (mut step, mut offset) = (*step, *offset);
                    let mut misses = 0;
                    let jump = loop {
                        if step >= self.order.runs() {
                            break None;
                        }
                        let docs = self.order.run_docs(step, self.descending);
                        while offset < docs.len() {
                            let doc = docs[offset];
                            offset += 1;
                            if self.every || self.candidates.contains(doc) {
                                self.state = State::Step { step, offset };
                                return Some(doc);
                            }
                            misses += 1;
                            if misses >= self.patience {
                                break;
                            }
                        }
                        if misses >= self.patience {
                            break Some((step, offset));
                        }
                        step += 1;
                        offset = 0;
                    };
                    self.state = match jump {
                        Some(place) => self.pick(place, self.jump),
                        None => State::Done,
                    };
                }
            }
        }
    }
}
