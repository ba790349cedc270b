//! One series in the head: its open XOR chunk, the chunks already cut, and, only if it has
//! any, a small sorted buffer of out-of-order samples and a sorted list of native histogram
//! samples.

use super::open_chunk::OpenChunk;
use super::spill::{ChunkBytes, SpilledChunk};
use crate::metrics::histogram::FloatHistogram;
use crate::metrics::tsdb::chunk::{ChunkError, XorChunk, XorIter};

/// Samples per chunk before it is cut, as in Prometheus: large enough to compress well,
/// small enough that a query decodes little it does not need.
pub const SAMPLES_PER_CHUNK: u16 = 120;

/// A chunk that no longer grows.
pub struct ClosedChunk {
    pub min_time: i64,
    pub max_time: i64,
    pub bytes: ChunkBytes,
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
    /// Older than the head's lower bound: that time range is already persisted in blocks.
    OutOfBounds,
}

/// A series' data in one time window, as the head hands it to a block.
#[derive(Debug, Clone, PartialEq)]
pub enum WindowData {
    /// Whole chunks lying inside the window, in time order: `(min_time, max_time, bytes)`.
    Chunks(Vec<(i64, i64, Vec<u8>)>),
    /// Decoded samples (when chunks straddle the window's edges or out-of-order samples
    /// have to be merged in), in time order.
    Samples(Vec<(i64, f64)>),
    /// Float and native histogram samples, each list in time order.
    Mixed {
        floats: Vec<(i64, f64)>,
        histograms: Vec<(i64, FloatHistogram)>,
    },
}

/// What few series hold: out-of-order samples and native histogram samples, each list in
/// time order. Boxed, so that a series with neither pays one pointer instead of two lists.
#[derive(Default)]
struct RareSamples {
    out_of_order: Vec<(i64, f64)>,
    histograms: Vec<(i64, FloatHistogram)>,
}

#[derive(Default)]
pub struct MemSeries {
    head: OpenChunk,
    /// Exactly as long as it needs to be: one more closed chunk reallocates it.
    closed: Box<[ClosedChunk]>,
    /// `None` while the series has no out-of-order or histogram sample.
    rare: Option<Box<RareSamples>>,
}

impl MemSeries {
    pub fn new() -> Self {
        MemSeries::default()
    }

    fn out_of_order(&self) -> &[(i64, f64)] {
        self.rare.as_ref().map_or(&[], |rare| &rare.out_of_order)
    }

    fn histogram_list(&self) -> &[(i64, FloatHistogram)] {
        self.rare.as_ref().map_or(&[], |rare| &rare.histograms)
    }

    fn rare_mut(&mut self) -> &mut RareSamples {
        self.rare.get_or_insert_with(Default::default)
    }

    /// The newest in-order timestamp and value.
    /// Chunks are cut just before an append, so the head chunk holds the newest sample
    /// whenever the series has any.
    pub fn last_sample(&self) -> Option<(i64, f64)> {
        self.head.last_sample()
    }

    /// The memory the next append touches beyond this struct (for prefetching).
    pub fn append_lines(&self) -> [*const u8; 2] {
        self.head.append_lines()
    }

    /// Decides what appending `(timestamp, value)` would do, without changing anything.
    pub fn check(&self, timestamp: i64, value: f64, out_of_order_window_ms: i64) -> AppendOutcome {
        if self.histogram_at(timestamp).is_some() {
            return AppendOutcome::ConflictingValue;
        }
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
        let out_of_order = self.out_of_order();
        match out_of_order.binary_search_by_key(&timestamp, |(t, _)| *t) {
            Ok(position) if out_of_order[position].1.to_bits() == value.to_bits() => {
                AppendOutcome::Duplicate
            }
            Ok(_) => AppendOutcome::ConflictingValue,
            Err(_) => AppendOutcome::OutOfOrderAccepted,
        }
    }

    /// Appends, applying the same rules as [`MemSeries::check`]; used both for live appends
    /// (after the WAL write) and for WAL replay, so both end in the same state. A chunk never
    /// spans two aligned windows of `chunk_range_ms` (the block range), so that the head cut
    /// moves whole chunks.
    pub fn append(
        &mut self,
        timestamp: i64,
        value: f64,
        out_of_order_window_ms: i64,
        chunk_range_ms: i64,
    ) -> AppendOutcome {
        let outcome = self.check(timestamp, value, out_of_order_window_ms);
        match outcome {
            AppendOutcome::Appended => self.append_in_order(timestamp, value, chunk_range_ms),
            AppendOutcome::OutOfOrderAccepted => {
                let out_of_order = &mut self.rare_mut().out_of_order;
                let position = out_of_order.partition_point(|(t, _)| *t < timestamp);
                out_of_order.insert(position, (timestamp, value));
            }
            AppendOutcome::Duplicate
            | AppendOutcome::TooOld
            | AppendOutcome::ConflictingValue
            | AppendOutcome::OutOfBounds => {}
        }
        outcome
    }

    fn append_in_order(&mut self, timestamp: i64, value: f64, chunk_range_ms: i64) {
        // A chunk lies in one window, so its newest sample tells the window (its first may
        // be in the spill file).
        let crosses_window = self.head.max_time().is_some_and(|newest| {
            window_start(newest, chunk_range_ms) != window_start(timestamp, chunk_range_ms)
        });
        if self.head.num_samples() >= SAMPLES_PER_CHUNK || crosses_window {
            self.cut_head_chunk();
        }
        // `check` guaranteed timestamp > the head's last one.
        let appended: Result<(), ChunkError> = self.head.append(timestamp, value);
        debug_assert!(appended.is_ok(), "in-order append refused: {appended:?}");
    }

    /// Closes the open chunk. Its bytes are copied out and the buffer is kept for the next
    /// chunk: the copy goes to a spill file before the append batch releases the
    /// series' stripe (see `Head::apply_many`), so the heap sees no buffer freed per closed chunk. Freed
    /// buffers were a fifth of the head's resident memory: series fill their chunks
    /// together, so they were freed together and left holes no later allocation filled.
    fn cut_head_chunk(&mut self) {
        let Some(max_time) = self.head.max_time() else {
            return;
        };
        let bytes: Box<[u8]> = self.head.copy_bytes().into();
        let Some(min_time) = XorChunk::first_timestamp(&bytes) else {
            return;
        };
        self.head.clear();
        self.push_closed(ClosedChunk {
            min_time,
            max_time,
            bytes: ChunkBytes::Heap(bytes),
        });
    }

    /// Adds a closed chunk, growing the list by exactly one entry: a pushed-to-grow list
    /// starts at four 40-byte entries, and most series hold one or two closed chunks.
    fn push_closed(&mut self, chunk: ClosedChunk) {
        let mut closed = std::mem::take(&mut self.closed).into_vec();
        closed.reserve_exact(1);
        closed.push(chunk);
        self.closed = closed.into_boxed_slice();
    }

    /// Whether the open chunk's settled bytes are due for the spill file.
    pub fn open_chunk_wants_spill(&self) -> bool {
        self.head.wants_spill()
    }

    /// The open chunk, for spilling its prefix.
    pub fn open_chunk(&self) -> &OpenChunk {
        &self.head
    }

    pub fn open_chunk_mut(&mut self) -> &mut OpenChunk {
        &mut self.head
    }

    /// Number of closed chunks (on the heap or spilled).
    pub fn closed_chunks(&self) -> usize {
        self.closed.len()
    }

    /// The closed chunks still on the heap: `(position, chunk)`.
    pub fn heap_chunks(&self) -> impl Iterator<Item = (usize, &ClosedChunk)> {
        self.closed
            .iter()
            .enumerate()
            .filter(|(_, chunk)| !chunk.bytes.is_spilled())
    }

    /// Replaces the bytes of closed chunk `position` by their spilled copy.
    pub fn set_spilled(&mut self, position: usize, spilled: SpilledChunk) {
        if let Some(chunk) = self.closed.get_mut(position) {
            debug_assert_eq!(&chunk.bytes[..], spilled.bytes());
            chunk.bytes = ChunkBytes::Spilled(spilled);
        }
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
                Ok(samples) => {
                    if chunk.min_time >= mint && chunk.max_time <= maxt {
                        out.reserve(samples.size_hint().1.unwrap_or(0));
                    }
                    collect_range(samples, mint, maxt, out)
                }
                Err(err) => tracing::error!(error = %err, "unreadable head chunk skipped"),
            }
        }
        if self.head.max_time().is_some_and(|max| max >= mint)
            && self.head.min_time().is_some_and(|min| min <= maxt)
        {
            if self.head.min_time().is_some_and(|min| min >= mint)
                && self.head.max_time().is_some_and(|max| max <= maxt)
            {
                out.reserve(usize::from(self.head.num_samples()));
            }
            self.head.with_bytes(|bytes| match XorIter::new(bytes) {
                Ok(samples) => collect_range(samples, mint, maxt, out),
                Err(err) => tracing::error!(error = %err, "unreadable open head chunk skipped"),
            });
        }
        let late: Vec<(i64, f64)> = self
            .out_of_order()
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

    /// Whether the series holds no sample at all.
    pub fn is_empty(&self) -> bool {
        self.closed.is_empty()
            && self.head.is_empty()
            && self.out_of_order().is_empty()
            && self.histogram_list().is_empty()
    }

    pub fn has_histograms(&self) -> bool {
        !self.histogram_list().is_empty()
    }

    fn histogram_at(&self, timestamp: i64) -> Option<&FloatHistogram> {
        let histograms = self.histogram_list();
        let position = histograms
            .binary_search_by_key(&timestamp, |(t, _)| *t)
            .ok()?;
        Some(&histograms[position].1)
    }

    /// Decides what appending a histogram sample would do: the same rules as for floats,
    /// judged against the newest sample of either kind (floats are judged against floats).
    pub fn check_histogram(
        &self,
        timestamp: i64,
        histogram: &FloatHistogram,
        out_of_order_window_ms: i64,
    ) -> AppendOutcome {
        if let Some(stored) = self.histogram_at(timestamp) {
            // Bit equality, so that a resent NaN (a staleness marker) is a duplicate.
            return if stored.equals(histogram) {
                AppendOutcome::Duplicate
            } else {
                AppendOutcome::ConflictingValue
            };
        }
        let mut float_times = Vec::new();
        self.samples_between(timestamp, timestamp, &mut float_times);
        if !float_times.is_empty() {
            return AppendOutcome::ConflictingValue;
        }
        let newest = self
            .last_sample()
            .map(|(t, _)| t)
            .max(self.histogram_list().last().map(|(t, _)| *t));
        match newest {
            None => AppendOutcome::Appended,
            Some(last) if timestamp > last => AppendOutcome::Appended,
            Some(last) if timestamp < last.saturating_sub(out_of_order_window_ms) => {
                AppendOutcome::TooOld
            }
            Some(_) => AppendOutcome::OutOfOrderAccepted,
        }
    }

    /// Appends a histogram sample under the rules of [`MemSeries::check_histogram`].
    pub fn append_histogram(
        &mut self,
        timestamp: i64,
        histogram: &FloatHistogram,
        out_of_order_window_ms: i64,
    ) -> AppendOutcome {
        let outcome = self.check_histogram(timestamp, histogram, out_of_order_window_ms);
        if matches!(
            outcome,
            AppendOutcome::Appended | AppendOutcome::OutOfOrderAccepted
        ) {
            let list = &mut self.rare_mut().histograms;
            let position = list.partition_point(|(t, _)| *t < timestamp);
            list.insert(position, (timestamp, histogram.clone()));
        }
        outcome
    }

    /// Every histogram sample with `mint <= t <= maxt`, in time order.
    pub fn histograms_between(&self, mint: i64, maxt: i64, out: &mut Vec<(i64, FloatHistogram)>) {
        let list = self.histogram_list();
        let start = list.partition_point(|(t, _)| *t < mint);
        out.extend(
            list[start..]
                .iter()
                .take_while(|(t, _)| *t <= maxt)
                .cloned(),
        );
    }

    /// Adds to `out` the start of every window of `range_ms` below `end` that holds data.
    pub fn windows_before(
        &self,
        end: i64,
        range_ms: i64,
        out: &mut std::collections::BTreeSet<i64>,
    ) {
        let spans = self
            .closed
            .iter()
            .map(|chunk| (chunk.min_time, chunk.max_time))
            .chain(self.head.min_time().zip(self.head.max_time()));
        for (min_time, max_time) in spans {
            let mut start = window_start(min_time, range_ms);
            while start < end && start <= max_time {
                out.insert(start);
                start = start.saturating_add(range_ms);
            }
        }
        for (timestamp, _) in self.out_of_order() {
            if *timestamp < end {
                out.insert(window_start(*timestamp, range_ms));
            }
        }
        for (timestamp, _) in self.histogram_list() {
            if *timestamp < end {
                out.insert(window_start(*timestamp, range_ms));
            }
        }
    }

    /// A copy of the data in `[start, end)`, `None` if there is none: whole chunks when
    /// they lie inside the window and no out-of-order sample falls in it, else samples.
    pub fn window_data(&self, start: i64, end: i64) -> Option<WindowData> {
        let mut histograms = Vec::new();
        self.histograms_between(start, end - 1, &mut histograms);
        if !histograms.is_empty() {
            let mut floats = Vec::new();
            self.samples_between(start, end - 1, &mut floats);
            return Some(WindowData::Mixed { floats, histograms });
        }
        let mut chunks = Vec::new();
        let mut straddles = false;
        let head = self.head.min_time().zip(self.head.max_time());
        for (min_time, max_time, bytes) in self
            .closed
            .iter()
            .map(|chunk| (chunk.min_time, chunk.max_time, Some(&chunk.bytes[..])))
            .chain(head.map(|(min, max)| (min, max, None)))
        {
            if max_time < start || min_time >= end {
                continue;
            }
            straddles |= min_time < start || max_time >= end;
            let bytes = match bytes {
                Some(bytes) => bytes.to_vec(),
                None => self.head.with_bytes(<[u8]>::to_vec),
            };
            chunks.push((min_time, max_time, bytes));
        }
        let late = self
            .out_of_order()
            .iter()
            .any(|(timestamp, _)| (start..end).contains(timestamp));
        if !straddles && !late {
            return (!chunks.is_empty()).then_some(WindowData::Chunks(chunks));
        }
        let mut samples = Vec::new();
        self.samples_between(start, end - 1, &mut samples);
        (!samples.is_empty()).then_some(WindowData::Samples(samples))
    }

    /// Drops every sample older than `end` (persisted in a block). A chunk that straddles
    /// `end` keeps its newer samples, re-encoded.
    pub fn drop_before(&mut self, end: i64) {
        let mut kept = Vec::with_capacity(self.closed.len());
        for chunk in std::mem::take(&mut self.closed).into_vec() {
            if chunk.max_time < end {
                continue;
            }
            if chunk.min_time >= end {
                kept.push(chunk);
                continue;
            }
            let mut rest = XorChunk::new();
            if let Ok(samples) = XorIter::new(&chunk.bytes) {
                for (timestamp, value) in samples.filter(|(t, _)| *t >= end) {
                    let _ = rest.append(timestamp, value);
                }
            }
            if let (Some(min_time), Some(max_time)) = (rest.min_time(), rest.max_time()) {
                kept.push(ClosedChunk {
                    min_time,
                    max_time,
                    bytes: ChunkBytes::Heap(rest.into_bytes().into_boxed_slice()),
                });
            }
        }
        self.closed = kept.into_boxed_slice();
        match (self.head.min_time(), self.head.max_time()) {
            (_, Some(max_time)) if max_time < end => self.head = OpenChunk::default(),
            (Some(min_time), Some(_)) if min_time < end => {
                let samples = self.head.samples();
                let mut rest = OpenChunk::default();
                for (timestamp, value) in samples.into_iter().filter(|(t, _)| *t >= end) {
                    let _ = rest.append(timestamp, value);
                }
                self.head = rest;
            }
            _ => {}
        }
        if let Some(rare) = &mut self.rare {
            rare.out_of_order.retain(|(timestamp, _)| *timestamp >= end);
            rare.histograms.retain(|(timestamp, _)| *timestamp >= end);
            if rare.out_of_order.is_empty() && rare.histograms.is_empty() {
                self.rare = None;
            }
        }
    }

    /// Bytes of this series' chunks that live in spill files.
    pub fn spilled_bytes(&self) -> usize {
        self.head.spilled_len()
            + self
                .closed
                .iter()
                .filter(|chunk| chunk.bytes.is_spilled())
                .map(|chunk| chunk.bytes.len())
                .sum::<usize>()
    }

    /// Bytes held by this series' samples (spilled chunks included), for accounting.
    pub fn sample_bytes(&self) -> usize {
        self.head.byte_len()
            + self
                .closed
                .iter()
                .map(|chunk| chunk.bytes.len())
                .sum::<usize>()
            + self.out_of_order().len() * 16
            + self
                .histogram_list()
                .iter()
                .map(|(_, h)| 64 + 8 * (h.positive_buckets.len() + h.negative_buckets.len()))
                .sum::<usize>()
    }

    #[cfg(test)]
    fn num_chunks(&self) -> usize {
        self.closed.len() + usize::from(!self.head.is_empty())
    }
}

/// Start of the aligned window of `range_ms` that contains `timestamp`.
pub fn window_start(timestamp: i64, range_ms: i64) -> i64 {
    if range_ms <= 0 {
        return i64::MIN;
    }
    timestamp.div_euclid(range_ms).saturating_mul(range_ms)
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
    const RANGE: i64 = 7_200_000;

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
                series.append(i * 15_000, i as f64, WINDOW, RANGE),
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
    fn a_float_only_series_record_stays_small() {
        // The record is held per active series; out-of-order and histogram state live
        // behind one pointer. Growing it costs memory across the whole head. (The open
        // chunk's spilled-prefix reference, 16 bytes, keeps its buffer at 55 bytes
        // instead of a whole chunk's 250.)
        assert!(std::mem::size_of::<MemSeries>() <= 104);
        let mut series = MemSeries::new();
        series.append(1_000, 1.0, 600_000, 7_200_000);
        assert!(series.rare.is_none());
        series.append(500, 2.0, 600_000, 7_200_000);
        assert!(series.rare.is_some());
        series.drop_before(1_000);
        assert!(
            series.rare.is_none(),
            "emptied out-of-order buffer is freed"
        );
    }

    #[test]
    fn duplicates_conflicts_and_out_of_order() {
        let mut series = MemSeries::new();
        series.append(1_000_000, 1.0, WINDOW, RANGE);
        series.append(1_060_000, 2.0, WINDOW, RANGE);
        assert_eq!(
            series.append(1_060_000, 2.0, WINDOW, RANGE),
            AppendOutcome::Duplicate
        );
        assert_eq!(
            series.append(1_060_000, 3.0, WINDOW, RANGE),
            AppendOutcome::ConflictingValue
        );
        assert_eq!(
            series.append(1_030_000, 1.5, WINDOW, RANGE),
            AppendOutcome::OutOfOrderAccepted
        );
        assert_eq!(
            series.append(1_030_000, 1.5, WINDOW, RANGE),
            AppendOutcome::Duplicate
        );
        assert_eq!(
            series.append(1_030_000, 9.0, WINDOW, RANGE),
            AppendOutcome::ConflictingValue
        );
        assert_eq!(
            series.append(1_060_000 - WINDOW - 1, 0.0, WINDOW, RANGE),
            AppendOutcome::TooOld
        );
        assert_eq!(
            all(&series),
            vec![(1_000_000, 1.0), (1_030_000, 1.5), (1_060_000, 2.0)]
        );
    }

    #[test]
    fn chunks_never_span_windows_and_windows_move_out() {
        let mut series = MemSeries::new();
        // 15 s steps from 1 h 50 to 2 h 30: the chunk is cut at 2 h although it holds 40.
        for i in 0..160 {
            let t = 6_600_000 + i * 15_000;
            assert_eq!(
                series.append(t, i as f64, WINDOW, RANGE),
                AppendOutcome::Appended
            );
        }
        assert_eq!(series.num_chunks(), 2);
        let mut windows = std::collections::BTreeSet::new();
        series.windows_before(i64::MAX, RANGE, &mut windows);
        assert_eq!(windows.into_iter().collect::<Vec<_>>(), vec![0, RANGE]);
        let Some(WindowData::Chunks(chunks)) = series.window_data(0, RANGE) else {
            panic!("expected whole chunks");
        };
        assert_eq!(chunks.len(), 1);
        assert_eq!((chunks[0].0, chunks[0].1), (6_600_000, 7_185_000));
        // A late sample inside the first window turns it into merged samples.
        assert_eq!(
            series.append(7_190_000, -1.0, RANGE, RANGE),
            AppendOutcome::OutOfOrderAccepted
        );
        let Some(WindowData::Samples(samples)) = series.window_data(0, RANGE) else {
            panic!("expected samples");
        };
        assert_eq!(samples.len(), 41);
        assert_eq!(samples[40], (7_190_000, -1.0));
        assert_eq!(series.window_data(0, 6_000_000), None);
        // A window edge inside a chunk also gives samples, only those inside.
        let Some(WindowData::Samples(samples)) = series.window_data(7_200_000, 7_215_001) else {
            panic!("expected samples");
        };
        assert_eq!(samples, vec![(7_200_000, 40.0), (7_215_000, 41.0)]);

        series.drop_before(RANGE);
        assert_eq!(all(&series).len(), 120);
        assert_eq!(all(&series)[0], (7_200_000, 40.0));
        // Dropping inside the open chunk keeps its newer part, still appendable.
        series.drop_before(7_215_000);
        assert_eq!(all(&series)[0], (7_215_000, 41.0));
        assert_eq!(
            series.append(9_000_000, 1.0, WINDOW, RANGE),
            AppendOutcome::Appended
        );
        assert_eq!(all(&series).len(), 120);
        assert!(!series.is_empty());
        series.drop_before(i64::MAX);
        assert!(series.is_empty());
        assert_eq!(series.last_sample(), None);
    }

    #[test]
    fn histogram_samples_follow_the_same_rules() {
        let h = |count: f64| FloatHistogram {
            count,
            ..FloatHistogram::default()
        };
        let mut series = MemSeries::new();
        series.append(1_000_000, 1.0, WINDOW, RANGE);
        assert_eq!(
            series.append_histogram(1_060_000, &h(1.0), WINDOW),
            AppendOutcome::Appended
        );
        assert_eq!(
            series.append_histogram(1_060_000, &h(1.0), WINDOW),
            AppendOutcome::Duplicate
        );
        assert_eq!(
            series.append_histogram(1_060_000, &h(2.0), WINDOW),
            AppendOutcome::ConflictingValue
        );
        // A float's timestamp is taken, and so is a histogram's for floats.
        assert_eq!(
            series.append_histogram(1_000_000, &h(1.0), WINDOW),
            AppendOutcome::ConflictingValue
        );
        assert_eq!(
            series.append(1_060_000, 5.0, WINDOW, RANGE),
            AppendOutcome::ConflictingValue
        );
        assert_eq!(
            series.append_histogram(1_030_000, &h(0.5), WINDOW),
            AppendOutcome::OutOfOrderAccepted
        );
        assert_eq!(
            series.append_histogram(1_060_000 - WINDOW - 1, &h(0.1), WINDOW),
            AppendOutcome::TooOld
        );
        let mut out = Vec::new();
        series.histograms_between(i64::MIN, i64::MAX, &mut out);
        assert_eq!(
            out.iter().map(|(t, h)| (*t, h.count)).collect::<Vec<_>>(),
            vec![(1_030_000, 0.5), (1_060_000, 1.0)]
        );
        series.drop_before(1_050_000);
        out.clear();
        series.histograms_between(i64::MIN, i64::MAX, &mut out);
        assert_eq!(out.len(), 1);
        series.drop_before(i64::MAX);
        assert!(series.is_empty());
    }

    #[test]
    fn staleness_marker_bits_survive() {
        let stale = f64::from_bits(0x7ff0_0000_0000_0002);
        let mut series = MemSeries::new();
        series.append(1, 5.0, WINDOW, RANGE);
        series.append(2, stale, WINDOW, RANGE);
        assert_eq!(
            series.append(2, stale, WINDOW, RANGE),
            AppendOutcome::Duplicate
        );
        assert_eq!(all(&series)[1].1.to_bits(), 0x7ff0_0000_0000_0002);
    }
}
