//! Filters over the index: each term's condition becomes a set of docs, from the tag postings
//! or from the order of a numeric field, and the terms combine as set operations.

use super::postings::Posting;
use super::Index;
use crate::filter::{Condition, Pattern, TagFilter};
use roaring::RoaringBitmap;

/// The docs matching every term of `filter`.
pub(crate) fn matching(index: &Index, filter: &TagFilter) -> RoaringBitmap {
    let mut required = Vec::new();
    let mut excluded = Vec::new();
    for term in filter.terms() {
        let docs = condition_docs(index, &term.condition);
        if term.negated {
            excluded.push(docs);
        } else if docs.is_empty() {
            return RoaringBitmap::new();
        } else {
            required.push(docs);
        }
    }

    // Intersect from the smallest set, so each step is as cheap as it can be.
    required.sort_unstable_by_key(RoaringBitmap::len);
    let mut required = required.into_iter();
    let mut docs = match required.next() {
        Some(first) => first,
        None => index.all().clone(),
    };
    for other in required {
        docs &= other;
    }
    // A negated term keeps exactly the docs its condition does not match.
    for other in excluded {
        if docs.is_empty() {
            break;
        }
        docs -= other;
    }
    docs
}

/// The docs a condition matches, before negation.
fn condition_docs(index: &Index, condition: &Condition) -> RoaringBitmap {
    match condition {
        Condition::Tag { key, any_of } => {
            let Some(postings) = index.postings(key) else {
                return RoaringBitmap::new();
            };
            let mut union = Union::new(index.len(), index.tuning.dense_union);
            for pattern in any_of {
                match pattern {
                    Pattern::Exact(value) => {
                        if let Some(i) = postings.find(value) {
                            union.add(postings.posting(i));
                        }
                    }
                    Pattern::Glob(parts) => {
                        // Only values starting with the text before the first star can match,
                        // and only those containing the longest text between stars.
                        let prefix = parts.first().map_or("", String::as_str);
                        let range = postings.prefixed(prefix);
                        let literal = parts[1..].iter().max_by_key(|p| p.len());
                        let candidates: Vec<usize> = match literal {
                            Some(literal) if !literal.is_empty() => {
                                postings.containing(range, literal)
                            }
                            _ => range.collect(),
                        };
                        let matches = |value: &str| match parts.as_slice() {
                            // `a*` and `*a*`: every candidate already matches.
                            [_, last] if last.is_empty() => true,
                            [first, _, last] if first.is_empty() && last.is_empty() => true,
                            // `*a`: the candidates contain the text; it must end them.
                            [first, last] if first.is_empty() => value.ends_with(last.as_str()),
                            _ => pattern.matches(value),
                        };
                        for i in candidates {
                            if matches(postings.value(i)) {
                                union.add(postings.posting(i));
                            }
                        }
                    }
                    // Every doc with the key, which holds whatever the other patterns match.
                    Pattern::Any => return postings.present().clone(),
                }
            }
            union.finish()
        }
        Condition::Number { field, any_of } => {
            let ranges: Vec<_> = any_of.iter().filter_map(|p| p.range()).collect();
            if ranges.is_empty() {
                return RoaringBitmap::new();
            }
            index.order(super::sort_field(*field)).docs_within(
                &ranges,
                index.records(),
                index.tuning.gather_below,
            )
        }
    }
}

/// A union of posting sets. Bitmaps are or-ed; the docs of small sets are gathered and
/// sorted, or set in a plain bitset when there are many of them, which needs no sort.
struct Union<'a> {
    /// Docs in the index.
    docs: usize,
    /// Small sets holding more than one doc in this many go into a bitset.
    dense: u64,
    few: Vec<u32>,
    many: Vec<&'a RoaringBitmap>,
}

impl<'a> Union<'a> {
    fn new(docs: usize, dense: u64) -> Self {
        Union {
            docs,
            dense,
            few: Vec::new(),
            many: Vec::new(),
        }
    }

    fn add(&mut self, posting: Posting<'a>) {
        match posting {
            Posting::Few(docs) => self.few.extend_from_slice(docs),
            Posting::Many(docs) => self.many.push(docs),
        }
    }

    fn finish(mut self) -> RoaringBitmap {
        let few = if (self.few.len() as u64).saturating_mul(self.dense) > self.docs as u64 {
            let mut bits = vec![0u8; self.docs.div_ceil(8)];
            for doc in &self.few {
                bits[*doc as usize >> 3] |= 1 << (doc & 7);
            }
            RoaringBitmap::from_lsb0_bytes(0, &bits)
        } else {
            // A doc holding several matching values of the key appears once per value.
            self.few.sort_unstable();
            self.few.dedup();
            RoaringBitmap::from_sorted_iter(self.few)
                .expect("sorted, deduplicated docs should be ascending")
        };
        // Bitmaps combine container by container, far faster than doc by doc.
        match self.many.as_slice() {
            [] => few,
            [only] if few.is_empty() => (*only).clone(),
            many => many.iter().fold(few, |union, docs| union | *docs),
        }
    }
}

/// Small sets holding more than one doc in this many in all are gathered in a plain bitset.
pub(crate) const DENSE_UNION: u64 = 64;
