//! One page of groups: the groups after the cursor in the order of the group sort, picked
//! without writing out every group's name, which matters when a key such as `image_tag` makes
//! hundreds of thousands of groups. The reference engine and the index both page groups here.

use crate::engine::{next_cursor, GroupPage, GroupRow};
use crate::sort::{GroupSort, GroupSortField, Position, SortValue};
use crate::GroupQuery;
use std::cmp::Ordering;

/// Orders group counts (as [`crate::engine::count_groups`] makes them) by the query's group
/// sort and cuts the page after its cursor: the order of [`GroupRow::position`] under
/// [`Position::cmp_in`].
pub fn page_groups<'v>(
    query: &GroupQuery,
    counts: impl IntoIterator<Item = (Vec<Option<&'v str>>, usize)>,
) -> GroupPage {
    let order = GroupOrder {
        keys: &query.keys,
        sort: query.sort,
    };
    let mut total = 0;
    let mut after: Vec<(Vec<Option<&str>>, usize)> = counts
        .into_iter()
        .inspect(|_| total += 1)
        .filter(|group| {
            query
                .after
                .as_ref()
                .is_none_or(|a| order.cmp_position(group, a) == Ordering::Greater)
        })
        .collect();

    // Only the page (and whether anything follows it) needs sorting.
    let more = after.len() > query.page_size;
    if more {
        after.select_nth_unstable_by(query.page_size, |a, b| order.cmp(a, b));
        after.truncate(query.page_size);
    }
    after.sort_unstable_by(|a, b| order.cmp(a, b));

    let groups: Vec<GroupRow> = after
        .into_iter()
        .map(|(values, count)| GroupRow {
            terms: query
                .keys
                .iter()
                .cloned()
                .zip(values.into_iter().map(|v| v.map(str::to_string)))
                .collect(),
            count,
        })
        .collect();
    let last = groups.last().map(|row| row.position(&query.sort));
    GroupPage {
        groups,
        total,
        next_cursor: next_cursor(&query.fingerprint, last.as_ref(), more),
    }
}

/// The order of groups of one query, compared without building their names.
struct GroupOrder<'q> {
    keys: &'q [String],
    sort: GroupSort,
}

impl GroupOrder<'_> {
    /// A group's name in pieces, `key:value` terms joined by commas, as [`GroupRow::name`]
    /// writes it.
    fn name<'a>(&'a self, values: &'a [Option<&'a str>]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.keys
            .iter()
            .zip(values)
            .enumerate()
            .flat_map(|(i, (key, value))| {
                let comma: &[u8] = if i == 0 { b"" } else { b"," };
                [comma, key.as_bytes(), b":", value.unwrap_or("").as_bytes()]
            })
    }

    fn rank(values: &[Option<&str>]) -> u8 {
        u8::from(values.iter().any(Option::is_none))
    }

    /// `Position::cmp_in` of the two groups' positions.
    fn cmp(&self, a: &(Vec<Option<&str>>, usize), b: &(Vec<Option<&str>>, usize)) -> Ordering {
        let by_value = || match self.sort.field {
            GroupSortField::Count => a.1.cmp(&b.1),
            GroupSortField::Name => cmp_pieces(self.name(&a.0), self.name(&b.0)),
        };
        let by_value = || {
            if self.sort.descending {
                by_value().reverse()
            } else {
                by_value()
            }
        };
        Self::rank(&a.0)
            .cmp(&Self::rank(&b.0))
            .then_with(by_value)
            .then_with(|| cmp_pieces(self.name(&a.0), self.name(&b.0)))
    }

    /// `Position::cmp_in` of the group's position and a cursor's.
    fn cmp_position(&self, group: &(Vec<Option<&str>>, usize), after: &Position) -> Ordering {
        // The group's value is `Some`, so it follows a cursor without one.
        let by_value = || match (&after.value, self.sort.field) {
            (None, _) => Ordering::Greater,
            (Some(SortValue::Int(n)), GroupSortField::Count) => (group.1 as i64).cmp(n),
            (Some(SortValue::Str(_)), GroupSortField::Count) => Ordering::Less,
            (Some(SortValue::Int(_)), GroupSortField::Name) => Ordering::Greater,
            (Some(SortValue::Str(s)), GroupSortField::Name) => {
                cmp_pieces(self.name(&group.0), [s.as_bytes()])
            }
        };
        let by_value = || {
            if self.sort.descending {
                by_value().reverse()
            } else {
                by_value()
            }
        };
        Self::rank(&group.0)
            .cmp(&after.rank)
            .then_with(by_value)
            .then_with(|| cmp_pieces(self.name(&group.0), [after.id.as_bytes()]))
    }
}

/// Compares two byte strings given in pieces, as the joined strings compare.
fn cmp_pieces<'a>(
    a: impl IntoIterator<Item = &'a [u8]>,
    b: impl IntoIterator<Item = &'a [u8]>,
) -> Ordering {
    let (mut a, mut b) = (a.into_iter(), b.into_iter());
    let (mut x, mut y): (&[u8], &[u8]) = (&[], &[]);
    loop {
        while x.is_empty() {
            let Some(piece) = a.next() else { break };
            x = piece;
        }
        while y.is_empty() {
            let Some(piece) = b.next() else { break };
            y = piece;
        }
        if x.is_empty() || y.is_empty() {
            return x.is_empty().cmp(&y.is_empty()).reverse();
        }
        let n = x.len().min(y.len());
        match x[..n].cmp(&y[..n]) {
            Ordering::Equal => (x, y) = (&x[n..], &y[n..]),
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::cut;
    use crate::filter::TagFilter;
    use proptest::prelude::*;
    use proptest::sample::select;
    use std::collections::HashMap;

    /// The straightforward paging: every group written out, sorted by position, then cut.
    fn page_by_sorting<'v>(
        query: &GroupQuery,
        counts: impl IntoIterator<Item = (Vec<Option<&'v str>>, usize)>,
    ) -> GroupPage {
        let descending = query.sort.descending;
        let mut groups: Vec<(Position, GroupRow)> = counts
            .into_iter()
            .map(|(values, count)| {
                let terms = query
                    .keys
                    .iter()
                    .cloned()
                    .zip(values.into_iter().map(|v| v.map(str::to_string)))
                    .collect();
                let row = GroupRow { terms, count };
                (row.position(&query.sort), row)
            })
            .collect();
        groups.sort_by(|a, b| a.0.cmp_in(&b.0, descending));

        let (start, end, next_cursor) = cut(
            &groups,
            |g| &g.0,
            query.after.as_ref(),
            query.page_size,
            descending,
            &query.fingerprint,
        );
        let total = groups.len();
        GroupPage {
            groups: groups.drain(start..end).map(|g| g.1).collect(),
            total,
            next_cursor,
        }
    }

    /// Values whose bytes sort around ',' and ':', which join a name's terms. Not the empty
    /// value: its group would share its name, and so its position, with the group of images
    /// without the key, and no order separates two equal positions.
    const VALUES: &[&str] = &["a", "a!", "a b", "a-b", "a:b", "ab", "b"];

    fn groups() -> impl Strategy<Value = (Vec<String>, HashMap<Vec<Option<&'static str>>, usize>)> {
        let keys = select(vec![vec!["k"], vec!["k", "k!"], vec!["a", "k", "kk"]]);
        keys.prop_flat_map(|keys| {
            let value = prop::option::weighted(0.8, select(VALUES.to_vec()));
            let combination = prop::collection::vec(value, keys.len());
            let counts = prop::collection::hash_map(combination, 1usize..4, 0..12);
            (Just(keys.iter().map(|k| k.to_string()).collect()), counts)
        })
    }

    fn position() -> impl Strategy<Value = Position> {
        let value = prop_oneof![
            Just(None),
            (0i64..5).prop_map(|n| Some(SortValue::Int(n))),
            select(vec!["k:a", "k:a,k!:b", "k:", "a:ab,k:b,kk:", "zz"])
                .prop_map(|s| Some(SortValue::Str(s.to_string()))),
        ];
        let id = select(vec![
            "",
            "k:a",
            "k:a!",
            "k:a,k!:b",
            "k:b,k!:",
            "a:a,k:a b,kk:a",
        ]);
        (0u8..2, value, id).prop_map(|(rank, value, id)| Position {
            rank,
            value,
            id: id.to_string(),
        })
    }

    proptest! {
        #[test]
        fn pages_as_sorting_every_group_would(
            (keys, counts) in groups(),
            by_name in any::<bool>(),
            descending in any::<bool>(),
            page_size in 0usize..5,
            cursor in prop::option::of(position()),
            cursor_on_a_group in any::<prop::sample::Index>(),
        ) {
            let sort = GroupSort {
                field: if by_name { GroupSortField::Name } else { GroupSortField::Count },
                descending,
            };
            let mut query = GroupQuery {
                filter: TagFilter::default(),
                keys,
                sort,
                page_size,
                after: cursor,
                fingerprint: "f".into(),
            };
            let fast = page_groups(&query, counts.clone());
            let slow = page_by_sorting(&query, counts.clone());
            prop_assert_eq!(&fast.groups, &slow.groups);
            prop_assert_eq!(fast.total, slow.total);
            prop_assert_eq!(&fast.next_cursor, &slow.next_cursor);

            // A cursor on one of the groups, as a walk through the pages issues them.
            if !counts.is_empty() {
                let all = page_by_sorting(&GroupQuery { after: None, page_size: usize::MAX, ..query.clone() }, counts.clone());
                query.after = Some(cursor_on_a_group.get(&all.groups).position(&sort));
                let fast = page_groups(&query, counts.clone());
                let slow = page_by_sorting(&query, counts);
                prop_assert_eq!(&fast.groups, &slow.groups);
                prop_assert_eq!(&fast.next_cursor, &slow.next_cursor);
            }
        }
    }
}
