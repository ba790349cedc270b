//! One series in the head: its open XOR chunk, the chunks already cut, and a small sorted
//! buffer of out-of-order samples.

use crate::metrics::tsdb::chunk::{ChunkError, XorChunk, XorIter};

/// Samples per chunk before it is cut, as in Prometheus: large enough to compress well,
/// small enough that a query decodes little it does not need.
pub const SAMPLES_PER_CHUNK: u16 = 120;

/// A chunk that no longer grows.
pub struct ClosedChunk {
    pub min_time: i64,
    pub max_time: i64,
    pub bytes: Box<[u8]>,
}

/// What happened to one appended sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    Appended,
    /// Older than the newest sample, within the out-of-order window.
    OutOfOrderAccepted,
    /// Same timestamp and bit-identical value as a stored sample.
    Duplicate,
    /// Older than the out-of-order window allows.
    TooOld,
    /// Same timestamp as a stored sample, different value.
    ConflictingValue,
}

#[derive(Default)]
pub struct MemSeries {
    head: XorChunk,
    closed: Vec<ClosedChunk>,
    out_of_order: Vec<(i64, f64)>,
    /// Whether this series' definition is known to be durable in the WAL.
    pub logged: bool,
}

impl MemSeries {
    pub fn new() -> Self {
        MemSeries::default()
    }

    /// The newest in-order timestamp and value.
    /// Chunks are cut just before an append, so the head chunk holds the newest sample
    /// whenever the series has any.
    pub fn last_sample(&self) -> Option<(i64, f64)> {
        self.head.last_sample()
    }

    /// Decides what appending `(timestamp, value)` would do, without changing anything.
    pub fn check(&self, timestamp: i64, value: f64, out_of_order_window_ms: i64) -> AppendOutcome {
        let Some((last_time, last_value)) = self.last_sample() else {
            return AppendOutcome::Appended;
        };
        if timestamp > last_time {
            return AppendOutcome::Appended;
        }
        if timestamp == last_time {
            return if value.to_bits() == last_value.to_bits() {
                AppendOutcome::Duplicate
            } else {
                AppendOutcome::ConflictingValue
            };
        }
        if timestamp < last_time.saturating_sub(out_of_order_window_ms) {
            return AppendOutcome::TooOld;
        }
        match self
            .out_of_order
            .binary_search_by_key(&timestamp, |(t, _)| *t)
        {
            Ok(position) if self.out_of_order[position].1.to_bits() == value.to_bits() => {
                AppendOutcome::Duplicate
            }
            Ok(_) => AppendOutcome::ConflictingValue,
            Err(_) => AppendOutcome::OutOfOrderAccepted,
        }
    }

    /// Appends, applying the same rules as [`MemSeries::check`]; used both for live appends
    /// (after the WAL write) and for WAL replay, so both end in the same state.
    pub fn append(
        &mut self,
        timestamp: i64,
        value: f64,
        out_of_order_window_ms: i64,
    ) -> AppendOutcome {
        let outcome = self.check(timestamp, value, out_of_order_window_ms);
        match outcome {
            AppendOutcome::Appended => self.append_in_order(timestamp, value),
            AppendOutcome::OutOfOrderAccepted => {
                let position = self
                    .out_of_order
                    .binary_search_by_key(&timestamp, |(t, _)| *t)
                    .unwrap_or_else(|position| position);
                self.out_of_order.insert(position, (timestamp, value));
            }
            AppendOutcome::Duplicate | AppendOutcome::TooOld | AppendOutcome::ConflictingValue => {}
        }
        outcome
    }

    fn append_in_order(&mut self, timestamp: i64, value: f64) {
        if self.head.num_samples() >= SAMPLES_PER_CHUNK {
            self.cut_head_chunk();
        }
        // `check` guaranteed timestamp > the head's last one.
        let appended: Result<(), ChunkError> = self.head.append(timestamp, value);
        debug_assert!(appended.is_ok(), "in-order append refused: {appended:?}");
    }

    fn cut_head_chunk(&mut self) {
        let full = std::mem::take(&mut self.head);
        let (Some(min_time), Some(max_time)) = (full.min_time(), full.max_time()) else {
            return;
        };
        let mut bytes = full.into_bytes();
        bytes.shrink_to_fit();
        self.closed.push(ClosedChunk {
            min_time,
            max_time,
            bytes: bytes.into_boxed_slice(),
        });
    }

    /// Every sample with `mint <= t <= maxt`, in time order, out-of-order samples merged in
    /// (an in-order sample wins over an out-of-order one at the same timestamp).
    pub fn samples_between(&self, mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) {
        let start = out.len();
        for chunk in self
            .closed
            .iter()
            .filter(|chunk| chunk.max_time >= mint && chunk.min_time <= maxt)
        {
            match XorIter::new(&chunk.bytes) {
                Ok(samples) => collect_range(samples, mint, maxt, out),
                Err(err) => tracing::error!(error = %err, "unreadable head chunk skipped"),
            }
        }
        if self.head.max_time().is_some_and(|max| max >= mint)
            && self.head.min_time().is_some_and(|min| min <= maxt)
        {
            collect_range(self.head.iter(), mint, maxt, out);
        }
        let late: Vec<(i64, f64)> = self
            .out_of_order
            .iter()
            .copied()
            .filter(|(t, _)| *t >= mint && *t <= maxt)
            .collect();
        if late.is_empty() {
            return;
        }
        let in_order = out.split_off(start);
        merge_sorted(&in_order, &late, out);
    }

    /// Bytes held by this series' samples, for memory accounting.
    pub fn sample_bytes(&self) -> usize {
        self.head.bytes().len()
            + self
                .closed
                .iter()
                .map(|chunk| chunk.bytes.len())
                .sum::<usize>()
            + self.out_of_order.len() * 16
    }

    #[cfg(test)]
    fn num_chunks(&self) -> usize {
        self.closed.len() + usize::from(!self.head.is_empty())
    }
}

fn collect_range(
    samples: impl Iterator<Item = (i64, f64)>,
    mint: i64,
    maxt: i64,
    out: &mut Vec<(i64, f64)>,
) {
    for (t, v) in samples {
        if t > maxt {
            break;
        }
        if t >= mint {
            out.push((t, v));
        }
    }
}

fn merge_sorted(primary: &[(i64, f64)], secondary: &[(i64, f64)], out: &mut Vec<(i64, f64)>) {
    let (mut i, mut j) = (0, 0);
    while i < primary.len() || j < secondary.len() {
        match (primary.get(i), secondary.get(j)) {
            (Some(a), Some(b)) if a.0 == b.0 => {
                out.push(*a);
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a.0 < b.0 => {
                out.push(*a);
                i += 1;
            }
            (Some(_), Some(b)) | (None, Some(b)) => {
                out.push(*b);
                j += 1;
            }
            (Some(a), None) => {
                out.push(*a);
                i += 1;
            }
            (None, None) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: i64 = 600_000;

    fn all(series: &MemSeries) -> Vec<(i64, f64)> {
        let mut out = Vec::new();
        series.samples_between(i64::MIN, i64::MAX, &mut out);
        out
    }

    #[test]
    fn appends_cut_chunks_and_reads_back() {
        let mut series = MemSeries::new();
        for i in 0..500 {
            assert_eq!(
                series.append(i * 15_000, i as f64, WINDOW),
                AppendOutcome::Appended
            );
        }
        assert_eq!(series.num_chunks(), 5);
        let samples = all(&series);
        assert_eq!(samples.len(), 500);
        assert_eq!(samples[499], (499 * 15_000, 499.0));
        let mut window = Vec::new();
        series.samples_between(15_000 * 100, 15_000 * 130, &mut window);
        assert_eq!(window.len(), 31);
        assert_eq!(window[0].0, 15_000 * 100);
    }

    #[test]
    fn duplicates_conflicts_and_out_of_order() {
        let mut series = MemSeries::new();
        series.append(1_000_000, 1.0, WINDOW);
        series.append(1_060_000, 2.0, WINDOW);
        assert_eq!(
            series.append(1_060_000, 2.0, WINDOW),
            AppendOutcome::Duplicate
        );
        assert_eq!(
            series.append(1_060_000, 3.0, WINDOW),
            AppendOutcome::ConflictingValue
        );
        assert_eq!(
            series.append(1_030_000, 1.5, WINDOW),
            AppendOutcome::OutOfOrderAccepted
        );
        assert_eq!(
            series.append(1_030_000, 1.5, WINDOW),
            AppendOutcome::Duplicate
        );
        assert_eq!(
            series.append(1_030_000, 9.0, WINDOW),
            AppendOutcome::ConflictingValue
        );
        assert_eq!(
            series.append(1_060_000 - WINDOW - 1, 0.0, WINDOW),
            AppendOutcome::TooOld
        );
        assert_eq!(
            all(&series),
            vec![(1_000_000, 1.0), (1_030_000, 1.5), (1_060_000, 2.0)]
        );
    }

    #[test]
    fn staleness_marker_bits_survive() {
        let stale = f64::from_bits(0x7ff0_0000_0000_0002);
        let mut series = MemSeries::new();
        series.append(1, 5.0, WINDOW);
        series.append(2, stale, WINDOW);
        assert_eq!(series.append(2, stale, WINDOW), AppendOutcome::Duplicate);
        assert_eq!(all(&series)[1].1.to_bits(), 0x7ff0_0000_0000_0002);
    }
}
