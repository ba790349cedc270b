//! Merging what the head and the blocks return for one query: series are matched by label
//! set and their samples merged by timestamp; where sources hold the same timestamp the
//! earlier source wins (the caller lists the head first, then blocks newest first).

use std::collections::BTreeMap;

use super::head::SeriesData;
use crate::metrics::histogram::FloatHistogram;

type Labels = Vec<(String, String)>;

/// Merges selections (each sorted by labels, as `Head::select` and `Block::select` return
/// them) listed in priority order; the result is sorted by labels.
pub fn merge_series(sources: Vec<Vec<SeriesData>>) -> Vec<SeriesData> {
    let mut non_empty = sources.into_iter().filter(|source| !source.is_empty());
    let Some(first) = non_empty.next() else {
        return Vec::new();
    };
    let rest: Vec<Vec<SeriesData>> = non_empty.collect();
    if rest.is_empty() {
        return first;
    }
    type Lists = (Vec<Vec<(i64, f64)>>, Vec<Vec<(i64, FloatHistogram)>>);
    let mut by_labels: BTreeMap<Labels, Lists> = BTreeMap::new();
    for series in first.into_iter().chain(rest.into_iter().flatten()) {
        let entry = by_labels.entry(series.labels).or_default();
        entry.0.push(series.samples);
        entry.1.push(series.histograms);
    }
    by_labels
        .into_iter()
        .map(|(labels, (floats, histograms))| SeriesData {
            labels,
            samples: merge_samples(floats),
            histograms: merge_samples(histograms),
        })
        .collect()
}

/// Merges time-ordered sample lists given in priority order.
pub fn merge_samples<V: Clone>(mut lists: Vec<Vec<(i64, V)>>) -> Vec<(i64, V)> {
    lists.retain(|list| !list.is_empty());
    if lists.len() <= 1 {
        return lists.pop().unwrap_or_default();
    }
    // Common case: the sources cover disjoint time ranges (blocks, then the head).
    let mut spans: Vec<(i64, i64, usize)> = lists
        .iter()
        .enumerate()
        .map(|(index, list)| (list[0].0, list[list.len() - 1].0, index))
        .collect();
    spans.sort_unstable();
    if spans.windows(2).all(|pair| pair[1].0 > pair[0].1) {
        let total = lists.iter().map(Vec::len).sum();
        let mut out = Vec::with_capacity(total);
        for (_, _, index) in spans {
            out.append(&mut lists[index]);
        }
        return out;
    }
    let mut lists = lists.into_iter();
    let mut merged = lists.next().unwrap_or_default();
    for list in lists {
        merged = merge_two(&merged, &list);
    }
    merged
}

/// Merges two time-ordered lists; `primary` wins at equal timestamps.
fn merge_two<V: Clone>(primary: &[(i64, V)], secondary: &[(i64, V)]) -> Vec<(i64, V)> {
    let mut out = Vec::with_capacity(primary.len() + secondary.len());
    let (mut i, mut j) = (0, 0);
    while i < primary.len() && j < secondary.len() {
        let (a, b) = (&primary[i], &secondary[j]);
        if a.0 <= b.0 {
            if a.0 == b.0 {
                j += 1;
            }
            out.push(a.clone());
            i += 1;
        } else {
            out.push(b.clone());
            j += 1;
        }
    }
    out.extend_from_slice(&primary[i..]);
    out.extend_from_slice(&secondary[j..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, samples: &[(i64, f64)]) -> SeriesData {
        SeriesData::floats(
            vec![("__name__".to_string(), name.to_string())],
            samples.to_vec(),
        )
    }

    #[test]
    fn earlier_sources_win_and_labels_merge() {
        let head = vec![
            series("a", &[(3, 30.0), (4, 40.0)]),
            series("c", &[(1, 1.0)]),
        ];
        let block = vec![
            series("a", &[(1, 1.0), (3, -1.0)]),
            series("b", &[(2, 2.0)]),
        ];
        let merged = merge_series(vec![head, block]);
        assert_eq!(merged.len(), 3);
        assert_eq!(merged[0].samples, vec![(1, 1.0), (3, 30.0), (4, 40.0)]);
        assert_eq!(merged[1].labels[0].1, "b");
        assert_eq!(merged[2].labels[0].1, "c");
        // Disjoint lists are concatenated in time order whatever their priority.
        assert_eq!(
            merge_samples(vec![vec![(5, 5.0)], vec![(1, 1.0), (2, 2.0)]]),
            vec![(1, 1.0), (2, 2.0), (5, 5.0)]
        );
    }
}
