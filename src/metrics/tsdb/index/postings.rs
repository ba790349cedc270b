//! Set operations on postings lists: strictly increasing slices of series references.
//!
//! Every function takes and returns sorted, duplicate-free lists. When one side is much
//! shorter than the other, intersection and subtraction gallop (exponential then binary
//! search) through the long side, so `{job="a", instance="x"}` costs about
//! `short × log(long)` instead of `short + long`.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::SeriesRef;

/// Above this length ratio the shorter list gallops through the longer one.
const GALLOP_RATIO: usize = 32;

/// Whether `list` is strictly increasing (sorted, no duplicates).
pub fn is_strictly_increasing(list: &[SeriesRef]) -> bool {
    list.windows(2).all(|pair| pair[0] < pair[1])
}

/// Index of the first element of `list[from..]` that is `>= target`, as an index into
/// `list`; `list.len()` when there is none. Probes 1, 2, 4, … ahead, then binary-searches.
fn gallop_to(list: &[SeriesRef], from: usize, target: SeriesRef) -> usize {
    let mut low = from;
    let mut step = 1;
    let mut high = from;
    while high < list.len() && list[high] < target {
        low = high + 1;
        high = from + step;
        step *= 2;
    }
    let high = high.min(list.len());
    low + list[low..high].partition_point(|&value| value < target)
}

/// Elements present in both lists.
pub fn intersect(a: &[SeriesRef], b: &[SeriesRef]) -> Vec<SeriesRef> {
    debug_assert!(is_strictly_increasing(a) && is_strictly_increasing(b));
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(short.len());
    if short.is_empty() {
        return out;
    }
    if long.len() / short.len() >= GALLOP_RATIO {
        let mut position = 0;
        for &value in short {
            position = gallop_to(long, position, value);
            if position == long.len() {
                break;
            }
            if long[position] == value {
                out.push(value);
                position += 1;
            }
        }
        return out;
    }
    let (mut i, mut j) = (0, 0);
    while i < short.len() && j < long.len() {
        match short[i].cmp(&long[j]) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => {
                out.push(short[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Intersection of all lists, shortest first; the intersection of no lists is empty.
pub fn intersect_many(lists: &[&[SeriesRef]]) -> Vec<SeriesRef> {
    let mut order: Vec<&[SeriesRef]> = lists.to_vec();
    order.sort_by_key(|list| list.len());
    let Some((first, rest)) = order.split_first() else {
        return Vec::new();
    };
    let mut result = first.to_vec();
    for list in rest {
        if result.is_empty() {
            break;
        }
        result = intersect(&result, list);
    }
    result
}

/// Elements of `a` that are not in `b`.
pub fn subtract(a: &[SeriesRef], b: &[SeriesRef]) -> Vec<SeriesRef> {
    debug_assert!(is_strictly_increasing(a) && is_strictly_increasing(b));
    if b.is_empty() {
        return a.to_vec();
    }
    let mut out = Vec::with_capacity(a.len());
    if a.is_empty() {
        return out;
    }
    if b.len() / a.len() >= GALLOP_RATIO {
        // Few candidates, many exclusions: look each candidate up in `b`.
        let mut position = 0;
        for &value in a {
            position = gallop_to(b, position, value);
            if position == b.len() || b[position] != value {
                out.push(value);
            }
        }
        return out;
    }
    if a.len() / b.len() >= GALLOP_RATIO {
        // Few exclusions: copy the runs between them wholesale.
        let mut start = 0;
        for &value in b {
            let position = gallop_to(a, start, value);
            out.extend_from_slice(&a[start..position]);
            start = position;
            if start < a.len() && a[start] == value {
                start += 1;
            }
            if start == a.len() {
                break;
            }
        }
        out.extend_from_slice(&a[start..]);
        return out;
    }
    let mut j = 0;
    for &value in a {
        while j < b.len() && b[j] < value {
            j += 1;
        }
        if j == b.len() || b[j] != value {
            out.push(value);
        }
    }
    out
}

/// Elements present in either list.
pub fn union(a: &[SeriesRef], b: &[SeriesRef]) -> Vec<SeriesRef> {
    debug_assert!(is_strictly_increasing(a) && is_strictly_increasing(b));
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Elements present in any of the lists. Dense inputs (the value range is small next to
/// the number of elements) go through a bitmap; sparse ones through a k-way merge over a
/// min-heap of list heads.
pub fn union_many(lists: &[&[SeriesRef]]) -> Vec<SeriesRef> {
    let non_empty: Vec<&[SeriesRef]> = lists.iter().copied().filter(|l| !l.is_empty()).collect();
    match non_empty.as_slice() {
        [] => return Vec::new(),
        [only] => return only.to_vec(),
        [a, b] => return union(a, b),
        _ => {}
    }
    let total: usize = non_empty.iter().map(|list| list.len()).sum();
    if let Some(out) = union_by_bitmap(&non_empty, total) {
        return out;
    }
    let mut out = Vec::with_capacity(total);
    // (head value, list index, position of the head in its list)
    let mut heap: BinaryHeap<Reverse<(SeriesRef, usize, usize)>> = non_empty
        .iter()
        .enumerate()
        .map(|(index, list)| Reverse((list[0], index, 0)))
        .collect();
    while let Some(mut top) = heap.peek_mut() {
        let Reverse((value, index, position)) = *top;
        if out.last() != Some(&value) {
            out.push(value);
        }
        let list = non_empty[index];
        if position + 1 < list.len() {
            *top = Reverse((list[position + 1], index, position + 1));
        } else {
            std::collections::binary_heap::PeekMut::pop(top);
        }
    }
    out
}

/// Union of lists known to be pairwise disjoint (the postings of different values of one
/// label name): concatenate and sort, which beats a heap merge when there are many lists.
pub fn union_disjoint(lists: &[&[SeriesRef]]) -> Vec<SeriesRef> {
    if lists.len() <= 2 {
        return union_many(lists);
    }
    let total: usize = lists.iter().map(|list| list.len()).sum();
    if let Some(out) = union_by_bitmap(lists, total) {
        return out;
    }
    let mut out = Vec::with_capacity(total);
    for list in lists {
        out.extend_from_slice(list);
    }
    out.sort_unstable();
    debug_assert!(
        is_strictly_increasing(&out),
        "lists passed to union_disjoint overlap"
    );
    out
}

/// Union through a bitmap spanning the lists' value range, when scanning that bitmap costs
/// no more than the elements themselves; `None` otherwise.
fn union_by_bitmap(lists: &[&[SeriesRef]], total: usize) -> Option<Vec<SeriesRef>> {
    let min = lists.iter().filter_map(|list| list.first()).min()?;
    let max = lists.iter().filter_map(|list| list.last()).max()?;
    let words = ((max - min) as usize >> 6) + 1;
    if words > total {
        return None;
    }
    let mut bits = vec![0u64; words];
    for list in lists {
        for &value in *list {
            let offset = (value - min) as usize;
            bits[offset >> 6] |= 1u64 << (offset & 63);
        }
    }
    let mut out = Vec::with_capacity(total);
    for (index, &word) in bits.iter().enumerate() {
        let mut rest = word;
        let base = *min as u64 + (index as u64) * 64;
        while rest != 0 {
            // base + bit <= max, so the value fits a SeriesRef.
            out.push((base + rest.trailing_zeros() as u64) as SeriesRef);
            rest &= rest - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn set(list: &[SeriesRef]) -> BTreeSet<SeriesRef> {
        list.iter().copied().collect()
    }

    fn sorted(values: BTreeSet<SeriesRef>) -> Vec<SeriesRef> {
        values.into_iter().collect()
    }

    #[test]
    fn small_cases() {
        assert_eq!(intersect(&[1, 3, 5, 7], &[3, 4, 5]), vec![3, 5]);
        assert_eq!(intersect(&[], &[1]), Vec::<SeriesRef>::new());
        assert_eq!(subtract(&[1, 2, 3], &[2]), vec![1, 3]);
        assert_eq!(subtract(&[1, 2, 3], &[]), vec![1, 2, 3]);
        assert_eq!(subtract(&[], &[1]), Vec::<SeriesRef>::new());
        assert_eq!(union(&[1, 4], &[2, 4, 9]), vec![1, 2, 4, 9]);
        assert_eq!(union_many(&[&[1, 5], &[2], &[5, 6], &[]]), vec![1, 2, 5, 6]);
        assert_eq!(union_many(&[]), Vec::<SeriesRef>::new());
        assert_eq!(intersect_many(&[&[1, 2, 3], &[2, 3], &[3, 4]]), vec![3]);
        assert_eq!(intersect_many(&[]), Vec::<SeriesRef>::new());
        assert_eq!(
            union_disjoint(&[&[1, 5], &[2], &[6, 7]]),
            vec![1, 2, 5, 6, 7]
        );
    }

    #[test]
    fn sparse_unions_use_the_heap_merge() {
        let lists: Vec<Vec<SeriesRef>> = (0..5u32)
            .map(|i| vec![i, 1_000_000 + i, 4_000_000_000 + i])
            .collect();
        let refs: Vec<&[SeriesRef]> = lists.iter().map(Vec::as_slice).collect();
        assert!(union_by_bitmap(&refs, 15).is_none());
        let mut expected: Vec<SeriesRef> = lists.concat();
        expected.sort_unstable();
        assert_eq!(union_many(&refs), expected);
        assert_eq!(union_disjoint(&refs), expected);
        let dense: Vec<&[SeriesRef]> =
            vec![&[u32::MAX - 3, u32::MAX], &[u32::MAX - 2], &[u32::MAX]];
        assert_eq!(
            union_many(&dense),
            vec![u32::MAX - 3, u32::MAX - 2, u32::MAX]
        );
    }

    #[test]
    fn galloping_paths() {
        let long: Vec<SeriesRef> = (0..10_000).map(|i| i * 3).collect();
        let short = vec![0, 3, 4, 2999 * 3, 29_997, 30_000, 40_000];
        assert_eq!(intersect(&short, &long), vec![0, 3, 2999 * 3, 29_997]);
        assert_eq!(intersect(&long, &short), vec![0, 3, 2999 * 3, 29_997]);
        assert_eq!(subtract(&short, &long), vec![4, 30_000, 40_000]);
        let expected: Vec<SeriesRef> = long
            .iter()
            .copied()
            .filter(|v| !short.contains(v))
            .collect();
        assert_eq!(subtract(&long, &short), expected);
    }

    fn list_strategy(max_value: u32, max_len: usize) -> impl Strategy<Value = Vec<SeriesRef>> {
        proptest::collection::btree_set(0..max_value, 0..max_len)
            .prop_map(|s| s.into_iter().collect())
    }

    proptest! {
        #[test]
        fn pairwise_ops_match_btreeset(
            a in list_strategy(2_000, 300),
            b in list_strategy(2_000, 300),
            tiny in list_strategy(2_000, 4),
        ) {
            for (x, y) in [(&a, &b), (&a, &tiny), (&tiny, &a)] {
                let (sx, sy) = (set(x), set(y));
                prop_assert_eq!(intersect(x, y), sorted(&sx & &sy));
                prop_assert_eq!(subtract(x, y), sorted(&sx - &sy));
                prop_assert_eq!(union(x, y), sorted(&sx | &sy));
            }
        }

        #[test]
        fn many_ops_match_btreeset(
            lists in proptest::collection::vec(list_strategy(500, 60), 0..12),
            spread in prop_oneof![Just(1u32), Just(100_000u32)],
        ) {
            // A large spread makes the lists sparse, so the heap merge is used.
            let lists: Vec<Vec<SeriesRef>> =
                lists.iter().map(|list| list.iter().map(|v| v * spread).collect()).collect();
            let refs: Vec<&[SeriesRef]> = lists.iter().map(Vec::as_slice).collect();
            let mut all = BTreeSet::new();
            for list in &lists {
                all.extend(list.iter().copied());
            }
            prop_assert_eq!(union_many(&refs), sorted(all));
            let mut common: Option<BTreeSet<SeriesRef>> = None;
            for list in &lists {
                let s = set(list);
                common = Some(match common { None => s, Some(c) => &c & &s });
            }
            prop_assert_eq!(intersect_many(&refs), sorted(common.unwrap_or_default()));
        }

        #[test]
        fn disjoint_union_matches_btreeset(
            values in list_strategy(5_000, 400),
            parts in 1usize..20,
            spread in prop_oneof![Just(1u32), Just(100_000u32)],
        ) {
            let values: Vec<SeriesRef> = values.iter().map(|v| v * spread).collect();
            // Deal the values round-robin into disjoint lists.
            let mut lists = vec![Vec::new(); parts];
            for (i, value) in values.iter().enumerate() {
                lists[i % parts].push(*value);
            }
            let refs: Vec<&[SeriesRef]> = lists.iter().map(Vec::as_slice).collect();
            prop_assert_eq!(union_disjoint(&refs), values);
        }
    }
}
