//! Group counts: how many candidates hold each combination of values of the group keys, as
//! `engine::count_groups` counts them.
//!
//! Keys whose values are few and held by many docs (a registry, a team) are counted value by
//! value: each value of the first key cuts the candidates into a set, each value of the next
//! key cuts those sets, and the last key only counts overlaps, container by container.
//! Otherwise every candidate is read once: its values come from each key's forward map (doc →
//! values, built on the first group_by that needs it), and each combination is counted under a
//! mixed-radix code. A cost estimate picks the cheaper way.

use super::postings::{KeyPostings, Posting};
use hashbrown::HashMap;
use roaring::RoaringBitmap;

/// A doc without a value of the key, in a forward map.
const NO_VALUE: u32 = u32::MAX;

/// Group counts: each combination of values in key order (`None` for an image without the key)
/// once, with its count, in no particular order; the values are borrowed from the index.
/// Collect them into a `HashMap` to merge counts from elsewhere.
pub type GroupCounts<'r> = Vec<(Vec<Option<&'r str>>, usize)>;

/// Combinations beyond this many are counted in a hash map rather than an array.
const DENSE_LIMIT: u64 = 1 << 22;

/// Each doc's values of one key.
#[derive(Debug)]
pub(crate) struct Forward {
    /// The doc's first value (a dictionary index), or `NO_VALUE`.
    first: Box<[u32]>,
    /// The further values of docs that hold several, by (doc, value).
    more: Box<[(u32, u32)]>,
}

impl Forward {
    /// Inverts a key's postings.
    pub(crate) fn build(postings: &KeyPostings, docs: usize) -> Self {
        let mut first = vec![NO_VALUE; docs];
        let mut more = Vec::new();
        for value in 0..postings.len() {
            let mut hold = |doc: u32| {
                let slot = &mut first[doc as usize];
                if *slot == NO_VALUE {
                    *slot = value as u32;
                } else {
                    more.push((doc, value as u32));
                }
            };
            match postings.posting(value) {
                Posting::Few(docs) => docs.iter().for_each(|doc| hold(*doc)),
                Posting::Many(docs) => docs.iter().for_each(hold),
            }
        }
        more.sort_unstable();
        Forward {
            first: first.into(),
            more: more.into(),
        }
    }

    /// The heap this map holds.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.first.len() * 4 + self.more.len() * 8
    }
}

/// Counts the groups of `candidates` over keys whose postings are given (`None` for a key no
/// doc has). `by_value` forces a strategy; `None` picks the cheaper.
pub(crate) fn count<'r>(
    keys: &[Option<&'r KeyPostings>],
    candidates: &RoaringBitmap,
    docs: usize,
    by_value: Option<bool>,
) -> GroupCounts<'r> {
    let matched = candidates.range_cardinality(..docs as u32);
    if matched == 0 {
        return GroupCounts::new();
    }
    // When every doc is a candidate, a value's share of them is its posting set's size.
    let every = matched == docs as u64;
    if by_value.unwrap_or_else(|| by_value_is_cheaper(keys, matched, docs, every)) {
        let mut within = candidates.clone();
        if matched < candidates.len() {
            within.remove_range(docs as u32..);
        }
        let mut counts = GroupCounts::new();
        count_by_value(keys, &within, every, &mut Vec::new(), &mut counts);
        return counts;
    }
    count_by_doc(keys, candidates, docs)
}

/// Whether counting value by value beats reading every candidate. Value by value, each key
/// splits every set of the key before into one set per value: a pass over the containers of
/// a bitmap (about 256 units), or a probe per doc of a small posting set (about 24), unless the
/// set is every doc. Reading a candidate costs about eight units per key.
fn by_value_is_cheaper(
    keys: &[Option<&KeyPostings>],
    matched: u64,
    docs: usize,
    every: bool,
) -> bool {
    let containers = (docs as u64 >> 16) + 1;
    let mut sets: u64 = 1;
    let mut cost: u64 = 0;
    for (level, postings) in keys.iter().flatten().enumerate() {
        let (few, many) = postings.sizes();
        let per_set = if level == 0 && every {
            postings.len() as u64 + (many as u64 + 1) * containers * 256
        } else {
            (few as u64 * 24).saturating_add((many as u64 + 1) * containers * 256)
        };
        cost = cost.saturating_add(sets.saturating_mul(per_set));
        sets = sets.saturating_mul(postings.len() as u64 + 1);
    }
    cost < matched.saturating_mul(8 * keys.len() as u64)
}

/// Counts the groups of `set`, the candidates holding the values of `prefix` for the keys
/// before `keys`: each value of the next key splits the set.
fn count_by_value<'r>(
    keys: &[Option<&'r KeyPostings>],
    set: &RoaringBitmap,
    every: bool,
    prefix: &mut Vec<Option<&'r str>>,
    counts: &mut GroupCounts<'r>,
) {
    let Some((key, rest)) = keys.split_first() else {
        counts.push((prefix.clone(), set.len() as usize));
        return;
    };
    let Some(postings) = key else {
        prefix.push(None);
        count_by_value(rest, set, every, prefix, counts);
        prefix.pop();
        return;
    };

    for value in 0..postings.len() {
        let posting = postings.posting(value);
        prefix.push(Some(postings.value(value)));
        if rest.is_empty() {
            // The last key only needs counts, not the sets themselves.
            let count = if every {
                posting.len()
            } else {
                posting.overlap(set)
            };
            if count > 0 {
                counts.push((prefix.clone(), count as usize));
            }
        } else {
            let within = posting.within(set);
            if !within.is_empty() {
                count_by_value(rest, &within, false, prefix, counts);
            }
        }
        prefix.pop();
    }

    let without = set - postings.present();
    if !without.is_empty() {
        prefix.push(None);
        count_by_value(rest, &without, false, prefix, counts);
        prefix.pop();
    }
}

/// Reads every candidate's values and counts their combinations.
fn count_by_doc<'r>(
    keys: &[Option<&'r KeyPostings>],
    candidates: &RoaringBitmap,
    docs: usize,
) -> GroupCounts<'r> {
    let forwards: Vec<Option<&Forward>> = keys
        .iter()
        .map(|postings| postings.map(|p| p.forward(docs)))
        .collect();
    // Digit 0 of a key is "no value", digit v + 1 its value v.
    let radixes: Vec<u64> = keys
        .iter()
        .map(|postings| postings.map_or(1, |p| p.len() as u64 + 1))
        .collect();
    let mut tally = Tally::new(&radixes, candidates.len());

    let mut digits: Vec<Vec<u32>> = vec![Vec::new(); keys.len()];
    let mut cursors = vec![0usize; keys.len()];
    for doc in candidates.iter().take_while(|doc| (*doc as usize) < docs) {
        for (i, forward) in forwards.iter().enumerate() {
            let held = &mut digits[i];
            held.clear();
            let Some(forward) = forward else {
                held.push(0);
                continue;
            };
            let first = forward.first[doc as usize];
            if first == NO_VALUE {
                held.push(0);
                continue;
            }
            held.push(first + 1);
            // Candidates come in doc order, so each key's cursor only moves forward.
            let more = &forward.more;
            let cursor = &mut cursors[i];
            while *cursor < more.len() && more[*cursor].0 < doc {
                *cursor += 1;
            }
            while *cursor < more.len() && more[*cursor].0 == doc {
                held.push(more[*cursor].1 + 1);
                *cursor += 1;
            }
        }
        tally.add_combinations(&digits);
    }

    let mut counts = GroupCounts::new();
    tally.for_each(|combination, count| {
        let values = combination
            .iter()
            .zip(keys)
            .map(|(digit, postings)| match (digit, postings) {
                (0, _) | (_, None) => None,
                (d, Some(p)) => Some(p.value(*d as usize - 1)),
            })
            .collect();
        counts.push((values, count));
    });
    counts
}

/// Counts of combinations of digits.
enum Tally {
    /// By mixed-radix code, in an array: few combinations are possible.
    Dense { radixes: Vec<u64>, counts: Vec<u32> },
    /// By mixed-radix code, in a hash map.
    Sparse {
        radixes: Vec<u64>,
        counts: HashMap<u64, u32>,
    },
    /// By the digits themselves: the codes would not fit in 64 bits.
    Wide(HashMap<Vec<u32>, u32>),
}

impl Tally {
    fn new(radixes: &[u64], candidates: u64) -> Self {
        let product = radixes.iter().try_fold(1u64, |p, r| p.checked_mul(*r));
        match product {
            Some(p) if p <= DENSE_LIMIT && p <= candidates.saturating_mul(4).max(4096) => {
                Tally::Dense {
                    radixes: radixes.to_vec(),
                    counts: vec![0; p as usize],
                }
            }
            Some(_) => Tally::Sparse {
                radixes: radixes.to_vec(),
                counts: HashMap::new(),
            },
            None => Tally::Wide(HashMap::new()),
        }
    }

    /// Counts each combination taking one digit from each list.
    fn add_combinations(&mut self, lists: &[Vec<u32>]) {
        if lists.iter().all(|l| l.len() == 1) {
            self.add(lists.iter().map(|l| l[0]));
            return;
        }
        let mut at = vec![0usize; lists.len()];
        let mut combination: Vec<u32> = lists.iter().map(|l| l[0]).collect();
        loop {
            self.add(combination.iter().copied());
            // Advance the odometer, last key fastest.
            let mut i = lists.len();
            loop {
                if i == 0 {
                    return;
                }
                i -= 1;
                at[i] += 1;
                if at[i] < lists[i].len() {
                    combination[i] = lists[i][at[i]];
                    break;
                }
                at[i] = 0;
                combination[i] = lists[i][0];
            }
        }
    }

    fn add(&mut self, combination: impl Iterator<Item = u32>) {
        match self {
            Tally::Dense { radixes, counts } => counts[encode(radixes, combination) as usize] += 1,
            Tally::Sparse { radixes, counts } => {
                *counts.entry(encode(radixes, combination)).or_default() += 1
            }
            Tally::Wide(counts) => *counts.entry(combination.collect()).or_default() += 1,
        }
    }

    /// Calls `f` with each counted combination and its count.
    fn for_each(self, mut f: impl FnMut(&[u32], usize)) {
        match self {
            Tally::Dense { radixes, counts } => {
                for (code, count) in counts.into_iter().enumerate() {
                    if count > 0 {
                        f(&decode(&radixes, code as u64), count as usize);
                    }
                }
            }
            Tally::Sparse { radixes, counts } => {
                for (code, count) in counts {
                    f(&decode(&radixes, code), count as usize);
                }
            }
            Tally::Wide(counts) => {
                for (combination, count) in counts {
                    f(&combination, count as usize);
                }
            }
        }
    }
}

fn encode(radixes: &[u64], digits: impl Iterator<Item = u32>) -> u64 {
    radixes
        .iter()
        .zip(digits)
        .fold(0, |code, (radix, digit)| code * radix + u64::from(digit))
}

fn decode(radixes: &[u64], mut code: u64) -> Vec<u32> {
    let mut digits = vec![0u32; radixes.len()];
    for (slot, radix) in digits.iter_mut().zip(radixes).rev() {
        *slot = (code % radix) as u32;
        code /= radix;
    }
    digits
}
