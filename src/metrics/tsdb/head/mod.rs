//! The head: the in-memory, most recent part of the database. Series are interned in the
//! label index and their samples live in per-series XOR chunks, spread over lock stripes so
//! concurrent appenders rarely contend. The head knows nothing of files: the database
//! facade writes the WAL and then applies the same batch here, and the head cut
//! (`maintain.rs`) copies whole windows out of it into blocks, then drops them here.
//!
//! Below `min_valid_time` (the end of the last window persisted into a block) the head
//! accepts nothing: those samples are refused on append and skipped on WAL replay.

mod batch;
mod open_chunk;
mod series;
mod spill;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard};

pub use batch::SeriesSamples;
pub use series::{AppendOutcome, MemSeries, WindowData};

use super::index::{IndexError, Matcher, MemIndex, SeriesRef};
use crate::metrics::histogram::FloatHistogram;
use crate::metrics::tsdb::PARALLEL_SELECT_MIN;
use crate::parallel;
use spill::ChunkSpill;

/// Number of lock stripes; a power of two well above the core count.
const STRIPES: usize = 64;

#[derive(Default)]
struct Stripe {
    /// Indexed by `series_ref / STRIPES`.
    series: Vec<Option<MemSeries>>,
    /// Per slot, what an append checks first, kept densely so that checking a large batch
    /// does not touch every series' memory (with hundreds of thousands of series those
    /// reads are cache misses, and they dominated the append path).
    slots: Vec<SlotState>,
}

#[derive(Clone, Copy)]
struct SlotState {
    /// The newest in-order float timestamp; `i64::MIN` for none, `i64::MAX` when every
    /// append must ask the series itself (it holds histograms). Never below the truth:
    /// a sample newer than this is simply appended.
    ///
    /// It also tells whether the series' definition is durable in the WAL: samples are
    /// applied only after their WAL write, which carries the definition of every series
    /// that had none applied, so a series with a sample (`newest != i64::MIN`) is logged.
    /// The converse may not hold (a replayed series whose samples all lie in blocks), which
    /// only costs a repeated definition record. Keeping no separate flag halves the state.
    newest: i64,
}

impl SlotState {
    const EMPTY: SlotState = SlotState { newest: i64::MIN };

    fn is_logged(self) -> bool {
        self.newest != i64::MIN
    }
}

/// What [`spill_slots`] placed in its buffer.
enum Placed {
    /// Closed chunk `position` of the series.
    Closed(usize),
    /// The open chunk's prefix, ending with this many settled bytes moved off the heap.
    OpenPrefix(usize),
}

/// Writes the heap chunks of the series in `slots`, and the settled bytes of their open
/// chunks when there are enough of them, to `spill` with one write (`buffer` is scratch
/// space), and points the series at the written copies; returns the bytes written, `None`
/// if the write failed (everything stays on the heap).
fn spill_slots(
    spill: &ChunkSpill,
    stripe: &mut Stripe,
    slots: impl Iterator<Item = usize>,
    buffer: &mut Vec<u8>,
) -> Option<usize> {
    buffer.clear();
    let mut placed: Vec<(usize, Placed, usize, usize)> = Vec::new();
    let mut max_time = i64::MIN;
    for slot in slots {
        let Some(Some(series)) = stripe.series.get(slot) else {
            continue;
        };
        for (position, chunk) in series.heap_chunks() {
            placed.push((
                slot,
                Placed::Closed(position),
                buffer.len(),
                chunk.bytes.len(),
            ));
            buffer.extend_from_slice(&chunk.bytes);
            max_time = max_time.max(chunk.max_time);
        }
        if series.open_chunk_wants_spill() {
            let open = series.open_chunk();
            let start = buffer.len();
            let moved = open.write_spill(buffer);
            placed.push((slot, Placed::OpenPrefix(moved), start, buffer.len() - start));
            max_time = max_time.max(open.max_time().unwrap_or(i64::MIN));
        }
    }
    if buffer.is_empty() {
        return Some(0);
    }
    let written = spill.write_batch(buffer, max_time)?;
    for (slot, what, start, len) in placed {
        if let (Some(Some(series)), Some(chunk)) =
            (stripe.series.get_mut(slot), written.chunk(start, len))
        {
            match what {
                Placed::Closed(position) => series.set_spilled(position, chunk),
                Placed::OpenPrefix(moved) => series.open_chunk_mut().spilled(chunk, moved),
            }
        }
    }
    Some(buffer.len())
}

/// The `newest` a slot records for `series`.
fn newest_of(series: &MemSeries) -> i64 {
    if series.has_histograms() {
        i64::MAX
    } else {
        series.last_sample().map_or(i64::MIN, |(t, _)| t)
    }
}

/// Counters the database exports as `sightline_tsdb_*`.
#[derive(Default)]
pub struct HeadCounters {
    pub samples_appended: AtomicU64,
    pub out_of_order_accepted: AtomicU64,
    pub too_old: AtomicU64,
    pub duplicates: AtomicU64,
    pub conflicting: AtomicU64,
    pub out_of_bounds: AtomicU64,
    pub series_created: AtomicU64,
    pub series_removed: AtomicU64,
}

pub struct Head {
    index: RwLock<MemIndex>,
    stripes: Box<[Mutex<Stripe>]>,
    next_ref: AtomicU32,
    pub out_of_order_window_ms: i64,
    /// Chunks never span two aligned windows of this length (the block range).
    pub chunk_range_ms: i64,
    /// Samples older than this are refused: their range is persisted in blocks.
    min_valid_time: AtomicI64,
    /// Lower bound of the samples held (`i64::MAX` while empty).
    min_time: AtomicI64,
    /// Newest sample timestamp held or ever applied (`i64::MIN` while empty).
    max_time: AtomicI64,
    pub counters: HeadCounters,
    /// Where closed chunks go; `None` keeps them on the heap.
    spill: Option<ChunkSpill>,
}

/// Labels and samples of one selected series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesData {
    pub labels: Vec<(String, String)>,
    pub samples: Vec<(i64, f64)>,
    /// Native histogram samples, in time order (empty for float-only series).
    pub histograms: Vec<(i64, FloatHistogram)>,
}

impl SeriesData {
    pub fn floats(labels: Vec<(String, String)>, samples: Vec<(i64, f64)>) -> SeriesData {
        SeriesData {
            labels,
            samples,
            histograms: Vec::new(),
        }
    }
}

impl Head {
    pub fn new(out_of_order_window_ms: i64, chunk_range_ms: i64) -> Head {
        Head {
            index: RwLock::new(MemIndex::new()),
            stripes: (0..STRIPES)
                .map(|_| Mutex::new(Stripe::default()))
                .collect(),
            next_ref: AtomicU32::new(0),
            out_of_order_window_ms,
            chunk_range_ms,
            min_valid_time: AtomicI64::new(i64::MIN),
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
            counters: HeadCounters::default(),
            spill: None,
        }
    }

    /// Writes closed chunks to memory-mapped files in `dir` (emptied first) instead of
    /// keeping them on the heap.
    pub fn spill_chunks_to(&mut self, dir: &std::path::Path) -> std::io::Result<()> {
        self.spill = Some(ChunkSpill::open(dir)?);
        Ok(())
    }

    /// Samples older than this are refused (their range is in blocks).
    pub fn min_valid_time(&self) -> i64 {
        self.min_valid_time.load(Ordering::Acquire)
    }

    /// Raises the lower bound (never lowers it). The caller excludes concurrent appends.
    pub fn raise_min_valid_time(&self, time: i64) {
        self.min_valid_time.fetch_max(time, Ordering::AcqRel);
        self.min_time.fetch_max(time, Ordering::AcqRel);
    }

    /// `(lower bound of the samples held, newest sample)`; `None` before the first sample.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let max_time = self.max_time.load(Ordering::Acquire);
        (max_time != i64::MIN).then(|| (self.min_time.load(Ordering::Acquire), max_time))
    }

    fn stripe(&self, series_ref: SeriesRef) -> MutexGuard<'_, Stripe> {
        self.lock_stripe(series_ref as usize % STRIPES)
    }

    fn lock_stripe(&self, stripe: usize) -> MutexGuard<'_, Stripe> {
        self.stripes[stripe]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn index(&self) -> RwLockReadGuard<'_, MemIndex> {
        self.index
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn num_series(&self) -> usize {
        self.index().num_series()
    }

    /// The series' reference, creating it if new. Returns `(ref, created)`.
    pub fn get_or_create(&self, labels: &[(&str, &str)]) -> Result<(SeriesRef, bool), IndexError> {
        if let Some(series_ref) = self.index().get(labels) {
            return Ok((series_ref, false));
        }
        let mut index = self
            .index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Another appender may have created it between the two locks.
        if let Some(series_ref) = index.get(labels) {
            return Ok((series_ref, false));
        }
        let series_ref = self.next_ref.fetch_add(1, Ordering::Relaxed);
        // The series' memory must exist before the index makes the reference visible:
        // another appender that finds it must see it as not yet logged, or it would write
        // samples to the WAL ahead of the series definition.
        self.install(series_ref);
        if let Err(problem) = index.insert_with_ref(series_ref, labels) {
            self.uninstall(series_ref);
            return Err(problem);
        }
        drop(index);
        self.counters.series_created.fetch_add(1, Ordering::Relaxed);
        Ok((series_ref, true))
    }

    /// Re-creates a logged series with its original reference (WAL replay). Returns false
    /// when the reference is already taken by different labels (a corrupt log).
    pub fn restore_series(&self, series_ref: SeriesRef, labels: &[(&str, &str)]) -> bool {
        let mut index = self
            .index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut moved = None;
        if let Some(existing) = index.get(labels) {
            if existing == series_ref {
                return true;
            }
            // The series was removed from the head after a cut and created again under a
            // new reference, and the old definition is still in the replayed log: the later
            // definition wins and the data restored so far moves to it.
            if index.contains_ref(series_ref) {
                return false;
            }
            index.remove(&[existing]);
            moved = self
                .stripe(existing)
                .series
                .get_mut(existing as usize / STRIPES)
                .and_then(Option::take);
        }
        if index.contains_ref(series_ref) || index.insert_with_ref(series_ref, labels).is_err() {
            return false;
        }
        drop(index);
        self.install(series_ref);
        let slot = series_ref as usize / STRIPES;
        let mut stripe = self.stripe(series_ref);
        if let Some(series) = moved {
            stripe.slots[slot].newest = newest_of(&series);
            stripe.series[slot] = Some(series);
        }
        drop(stripe);
        self.next_ref
            .fetch_max(series_ref.saturating_add(1), Ordering::Relaxed);
        true
    }

    fn uninstall(&self, series_ref: SeriesRef) {
        let mut stripe = self.stripe(series_ref);
        let slot = series_ref as usize / STRIPES;
        if let Some(series) = stripe.series.get_mut(slot) {
            *series = None;
            stripe.slots[slot] = SlotState::EMPTY;
        }
    }

    fn install(&self, series_ref: SeriesRef) {
        let mut stripe = self.stripe(series_ref);
        let slot = series_ref as usize / STRIPES;
        if stripe.series.len() <= slot {
            // Grow by an eighth rather than doubling: these lists hold every series, and
            // doubling leaves a quarter of them empty on average.
            if stripe.series.capacity() <= slot {
                let grow = (slot + 1 - stripe.series.len()).max(stripe.series.len() / 8);
                stripe.series.reserve_exact(grow);
                stripe.slots.reserve_exact(grow);
            }
            stripe.series.resize_with(slot + 1, || None);
            stripe.slots.resize(slot + 1, SlotState::EMPTY);
        }
        if stripe.series[slot].is_none() {
            stripe.series[slot] = Some(MemSeries::new());
            stripe.slots[slot] = SlotState::EMPTY;
        }
    }

    /// Whether the series' definition still has to be written to the WAL.
    pub fn needs_logging(&self, series_ref: SeriesRef) -> bool {
        let stripe = self.stripe(series_ref);
        let slot = series_ref as usize / STRIPES;
        stripe.series.get(slot).is_some_and(Option::is_some) && !stripe.slots[slot].is_logged()
    }

    /// The counter an append outcome other than a plain append adds to.
    fn outcome_counter(&self, outcome: AppendOutcome) -> Option<&AtomicU64> {
        match outcome {
            AppendOutcome::Appended => None,
            AppendOutcome::OutOfOrderAccepted => Some(&self.counters.out_of_order_accepted),
            AppendOutcome::Duplicate => Some(&self.counters.duplicates),
            AppendOutcome::TooOld => Some(&self.counters.too_old),
            AppendOutcome::ConflictingValue => Some(&self.counters.conflicting),
            AppendOutcome::OutOfBounds => Some(&self.counters.out_of_bounds),
        }
    }

    /// [`Head::check`] for native histogram samples.
    pub fn check_histograms(
        &self,
        series_ref: SeriesRef,
        samples: &[(i64, FloatHistogram)],
        outcomes: &mut Vec<AppendOutcome>,
    ) {
        let min_valid_time = self.min_valid_time();
        let stripe = self.stripe(series_ref);
        let series = stripe
            .series
            .get(series_ref as usize / STRIPES)
            .and_then(Option::as_ref);
        // Samples accepted earlier in this batch count as stored.
        let mut accepted: Vec<(i64, &FloatHistogram)> = Vec::new();
        let mut newest_in_batch: Option<i64> = None;
        let window = self.out_of_order_window_ms;
        for (timestamp, histogram) in samples {
            let outcome = if *timestamp < min_valid_time {
                AppendOutcome::OutOfBounds
            } else if let Some((_, earlier)) = accepted.iter().find(|(t, _)| t == timestamp) {
                if earlier.equals(histogram) {
                    AppendOutcome::Duplicate
                } else {
                    AppendOutcome::ConflictingValue
                }
            } else {
                let stored = series.map_or(AppendOutcome::Appended, |series| {
                    series.check_histogram(*timestamp, histogram, window)
                });
                match (stored, newest_in_batch) {
                    (AppendOutcome::Appended | AppendOutcome::OutOfOrderAccepted, Some(newest))
                        if *timestamp < newest.saturating_sub(window) =>
                    {
                        AppendOutcome::TooOld
                    }
                    (AppendOutcome::Appended, Some(newest)) if *timestamp < newest => {
                        AppendOutcome::OutOfOrderAccepted
                    }
                    (outcome, _) => outcome,
                }
            };
            if matches!(
                outcome,
                AppendOutcome::Appended | AppendOutcome::OutOfOrderAccepted
            ) {
                accepted.push((*timestamp, histogram));
                newest_in_batch = newest_in_batch.max(Some(*timestamp));
            }
            outcomes.push(outcome);
        }
    }

    /// [`Head::apply`] for native histogram samples.
    pub fn apply_histograms(&self, series_ref: SeriesRef, samples: &[(i64, FloatHistogram)]) {
        let mut stripe = self.stripe(series_ref);
        let Some(Some(series)) = stripe.series.get_mut(series_ref as usize / STRIPES) else {
            tracing::warn!(
                series_ref,
                "histogram samples for an unknown series dropped"
            );
            return;
        };
        let min_valid_time = self.min_valid_time();
        let (mut appended, mut min_time, mut max_time) = (0u64, i64::MAX, i64::MIN);
        for (timestamp, histogram) in samples {
            if *timestamp < min_valid_time {
                continue;
            }
            let outcome =
                series.append_histogram(*timestamp, histogram, self.out_of_order_window_ms);
            if let Some(counter) = self.outcome_counter(outcome) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            if matches!(
                outcome,
                AppendOutcome::Appended | AppendOutcome::OutOfOrderAccepted
            ) {
                appended += 1;
                min_time = min_time.min(*timestamp);
                max_time = max_time.max(*timestamp);
            }
        }
        stripe.slots[series_ref as usize / STRIPES].newest = i64::MAX;
        drop(stripe);
        if appended > 0 {
            self.min_time.fetch_min(min_time, Ordering::AcqRel);
            self.max_time.fetch_max(max_time, Ordering::AcqRel);
        }
        self.counters
            .samples_appended
            .fetch_add(appended, Ordering::Relaxed);
    }

    /// Starts of the windows of `chunk_range_ms` below `end` that hold data, ascending.
    pub fn windows_before(&self, end: i64) -> BTreeSet<i64> {
        let mut windows = BTreeSet::new();
        for stripe in self.stripes.iter() {
            let stripe = stripe
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for series in stripe.series.iter().flatten() {
                series.windows_before(end, self.chunk_range_ms, &mut windows);
            }
        }
        windows
    }

    /// Series with data in `[start, end)` and their labels, sorted by labels.
    pub fn series_in_window(
        &self,
        start: i64,
        end: i64,
    ) -> Vec<(SeriesRef, Vec<(String, String)>)> {
        let mut refs = Vec::new();
        for (stripe_index, stripe) in self.stripes.iter().enumerate() {
            let stripe = stripe
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for (slot, series) in stripe.series.iter().enumerate() {
                let Some(series) = series else { continue };
                let mut windows = BTreeSet::new();
                series.windows_before(end, self.chunk_range_ms, &mut windows);
                if windows.range(start..end).next().is_some() {
                    refs.push((slot * STRIPES + stripe_index) as SeriesRef);
                }
            }
        }
        let index = self.index();
        let mut result: Vec<(SeriesRef, Vec<(String, String)>)> = refs
            .into_iter()
            .map(|series_ref| (series_ref, index.labels_owned(series_ref)))
            .filter(|(_, labels)| !labels.is_empty())
            .collect();
        drop(index);
        result.sort_by(|a, b| a.1.cmp(&b.1));
        result
    }

    /// A copy of the series' data in `[start, end)`.
    pub fn window_data(&self, series_ref: SeriesRef, start: i64, end: i64) -> Option<WindowData> {
        let stripe = self.stripe(series_ref);
        stripe
            .series
            .get(series_ref as usize / STRIPES)
            .and_then(Option::as_ref)
            .and_then(|series| series.window_data(start, end))
    }

    /// Drops every sample older than `end` (persisted in blocks).
    pub fn drop_before(&self, end: i64) {
        for stripe in self.stripes.iter() {
            let mut stripe = stripe
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for series in stripe.series.iter_mut().flatten() {
                series.drop_before(end);
            }
        }
        if let Some(spill) = &self.spill {
            spill.forget_before(end);
        }
    }

    /// Removes the series that hold no sample from the index and the stripes; returns how
    /// many. The caller excludes concurrent appends (an append between `get_or_create` and
    /// `apply` would otherwise lose its series).
    pub fn remove_empty_series(&self) -> usize {
        let mut empty = Vec::new();
        for (stripe_index, stripe) in self.stripes.iter().enumerate() {
            let stripe = stripe
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for (slot, series) in stripe.series.iter().enumerate() {
                if series.as_ref().is_some_and(MemSeries::is_empty) {
                    empty.push((slot * STRIPES + stripe_index) as SeriesRef);
                }
            }
        }
        if empty.is_empty() {
            return 0;
        }
        self.index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&empty);
        for series_ref in &empty {
            self.uninstall(*series_ref);
        }
        self.counters
            .series_removed
            .fetch_add(empty.len() as u64, Ordering::Relaxed);
        empty.len()
    }

    /// References of every series in the head.
    pub fn live_refs(&self) -> Vec<SeriesRef> {
        self.index().select(&[])
    }

    /// Series matching every matcher, with their samples in `[mint, maxt]`. Series with no
    /// sample in range are left out.
    /// With `newest_only`, a float-only series whose newest sample lies in the range
    /// returns just that sample (what an instant vector selector uses).
    pub fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        newest_only: bool,
    ) -> Vec<SeriesData> {
        // The series, their order and their label sets are read under one index guard,
        // shared by the parts; the result is sorted by labels.
        let labelled: Vec<(SeriesRef, Vec<(String, String)>)> = {
            let index = self.index();
            let index = &*index;
            let mut refs = index.select(matchers);
            index.sort_by_labels(&mut refs);
            parallel::map_parts(refs, PARALLEL_SELECT_MIN, |part| {
                part.into_iter()
                    .map(|series_ref| (series_ref, index.labels_owned(series_ref)))
                    .collect()
            })
        };
        parallel::map_parts(labelled, PARALLEL_SELECT_MIN, |part| {
            part.into_iter()
                .filter_map(|(series_ref, labels)| {
                    self.series_data(series_ref, labels, mint, maxt, newest_only)
                })
                .collect()
        })
    }

    /// One series' samples in `[mint, maxt]` (see [`Head::select`]); `None` if it has none.
    fn series_data(
        &self,
        series_ref: SeriesRef,
        labels: Vec<(String, String)>,
        mint: i64,
        maxt: i64,
        newest_only: bool,
    ) -> Option<SeriesData> {
        let mut samples = Vec::new();
        let mut histograms = Vec::new();
        {
            let stripe = self.stripe(series_ref);
            let series = stripe.series.get(series_ref as usize / STRIPES)?.as_ref()?;
            match series.last_sample() {
                Some(newest)
                    if newest_only
                        && !series.has_histograms()
                        && (mint..=maxt).contains(&newest.0) =>
                {
                    samples.push(newest)
                }
                _ => {
                    series.samples_between(mint, maxt, &mut samples);
                    series.histograms_between(mint, maxt, &mut histograms);
                }
            }
        }
        (!samples.is_empty() || !histograms.is_empty()).then_some(SeriesData {
            labels,
            samples,
            histograms,
        })
    }

    /// Moves closed chunks (and open chunks' settled bytes, when due) from the heap into
    /// the spill files, one stripe (and one write) at a time, and drops the process's
    /// mapping of spilled pages read since the last call; returns the bytes written.
    /// Appends spill what they close or settle themselves; this periodic pass retries what
    /// a failed write left on the heap.
    pub fn spill_closed_chunks(&self) -> usize {
        let Some(spill) = &self.spill else {
            return 0;
        };
        spill.unmap_cached_pages();
        let mut moved = 0;
        let mut buffer = Vec::new();
        for stripe in self.stripes.iter() {
            let mut stripe = stripe
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let slots = 0..stripe.series.len();
            match spill_slots(spill, &mut stripe, slots, &mut buffer) {
                Some(bytes) => moved += bytes,
                None => return moved,
            }
        }
        moved
    }

    /// Bytes of closed chunks in spill files across all series.
    pub fn spilled_bytes(&self) -> usize {
        self.sum_over_series(MemSeries::spilled_bytes)
    }

    /// Bytes held in chunks across all series.
    pub fn sample_bytes(&self) -> usize {
        self.sum_over_series(MemSeries::sample_bytes)
    }

    fn sum_over_series(&self, bytes: fn(&MemSeries) -> usize) -> usize {
        self.stripes
            .iter()
            .map(|stripe| {
                let stripe = stripe
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                stripe.series.iter().flatten().map(bytes).sum::<usize>()
            })
            .sum()
    }
}
