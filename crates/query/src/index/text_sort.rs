//! Sorting by strings without chasing a pointer on every comparison.
//!
//! The strings an index sorts (record ids, names, tag values) live in the records, scattered
//! over the heap, and many share long prefixes (`sha256:`, a registry). So they are sorted 16
//! bytes at a time, as numbers kept beside the items: nearly every comparison stays in cache,
//! and each string is read a chunk at a time, only as far as it ties with another.

/// Sorts `items` by `(text(item), item)`: by string, then by the item itself among equal
/// strings.
pub(crate) fn sort_by_text<'a>(items: &mut [u32], text: impl Fn(u32) -> &'a str) {
    let mut keyed: Vec<(u128, u8, u32)> = items.iter().map(|i| (0, 0, *i)).collect();
    sort_from(&mut keyed, 0, &text);
    for (slot, (_, _, item)) in items.iter_mut().zip(keyed) {
        *slot = item;
    }
}

/// Sorts strings that agree on their first `offset` bytes.
fn sort_from<'a>(keyed: &mut [(u128, u8, u32)], offset: usize, text: &impl Fn(u32) -> &'a str) {
    for entry in keyed.iter_mut() {
        (entry.0, entry.1) = chunk(text(entry.2), offset);
    }
    keyed.sort_unstable();

    let mut start = 0;
    while start < keyed.len() {
        let (value, rest, _) = keyed[start];
        let run = keyed[start..].partition_point(|(v, r, _)| (*v, *r) == (value, rest));
        // Equal chunks that go on past this one tie on the next; strings that end here are
        // equal and stay ordered by item.
        if run > 1 && rest == CONTINUES {
            sort_from(&mut keyed[start..start + run], offset + 16, text);
        }
        start += run;
    }
}

/// A chunk length meaning "the string goes on after this chunk".
const CONTINUES: u8 = 17;

/// The 16 bytes from `offset`, big-endian and zero-padded, and how many of them the string
/// holds (`CONTINUES` if it goes on): ordered as the strings' remainders are, up to ties
/// between remainders longer than 16 bytes. A string ending inside the chunk sorts before
/// one it is a prefix of, which holds the same bytes and then more.
fn chunk(text: &str, offset: usize) -> (u128, u8) {
    let rest = text.as_bytes().get(offset..).unwrap_or(&[]);
    let mut bytes = [0u8; 16];
    let len = rest.len().min(16);
    bytes[..len].copy_from_slice(&rest[..len]);
    let held = if rest.len() > 16 {
        CONTINUES
    } else {
        len as u8
    };
    (u128::from_be_bytes(bytes), held)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sorts_as_str_then_item(texts in prop::collection::vec("(sha256:[a\u{0}b]{0,30}|é?[ab\u{0}]{0,40})", 0..40)) {
            let mut items: Vec<u32> = (0..texts.len() as u32).rev().collect();
            sort_by_text(&mut items, |i| texts[i as usize].as_str());
            let mut expected: Vec<u32> = (0..texts.len() as u32).collect();
            expected.sort_by(|a, b| texts[*a as usize].cmp(&texts[*b as usize]).then(a.cmp(b)));
            prop_assert_eq!(items, expected);
        }
    }
}
