//! The head: the in-memory, most recent part of the database. Series are interned in the
//! label index and their samples live in per-series XOR chunks, spread over lock stripes so
//! concurrent appenders rarely contend. The head knows nothing of files: the database
//! facade writes the WAL and then applies the same batch here.

mod series;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard};

pub use series::{AppendOutcome, MemSeries};

use super::index::{IndexError, Matcher, MemIndex, SeriesRef};

/// Number of lock stripes; a power of two well above the core count.
const STRIPES: usize = 64;

#[derive(Default)]
struct Stripe {
    /// Indexed by `series_ref / STRIPES`.
    series: Vec<Option<MemSeries>>,
}

/// Counters the database exports as `sightline_tsdb_*`.
#[derive(Default)]
pub struct HeadCounters {
    pub samples_appended: AtomicU64,
    pub out_of_order_accepted: AtomicU64,
    pub too_old: AtomicU64,
    pub duplicates: AtomicU64,
    pub conflicting: AtomicU64,
    pub series_created: AtomicU64,
}

pub struct Head {
    index: RwLock<MemIndex>,
    stripes: Box<[Mutex<Stripe>]>,
    next_ref: AtomicU32,
    pub out_of_order_window_ms: i64,
    pub counters: HeadCounters,
}

/// Labels and samples of one selected series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesData {
    pub labels: Vec<(String, String)>,
    pub samples: Vec<(i64, f64)>,
}

impl Head {
    pub fn new(out_of_order_window_ms: i64) -> Head {
        Head {
            index: RwLock::new(MemIndex::new()),
            stripes: (0..STRIPES)
                .map(|_| Mutex::new(Stripe::default()))
                .collect(),
            next_ref: AtomicU32::new(0),
            out_of_order_window_ms,
            counters: HeadCounters::default(),
        }
    }

    fn stripe(&self, series_ref: SeriesRef) -> MutexGuard<'_, Stripe> {
        self.stripes[series_ref as usize % STRIPES]
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
        index.insert_with_ref(series_ref, labels)?;
        drop(index);
        self.install(series_ref);
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
        if let Some(existing) = index.get(labels) {
            return existing == series_ref;
        }
        if index.contains_ref(series_ref) || index.insert_with_ref(series_ref, labels).is_err() {
            return false;
        }
        drop(index);
        self.install(series_ref);
        self.next_ref
            .fetch_max(series_ref.saturating_add(1), Ordering::Relaxed);
        let mut stripe = self.stripe(series_ref);
        if let Some(Some(series)) = stripe.series.get_mut(series_ref as usize / STRIPES) {
            series.logged = true;
        }
        true
    }

    fn install(&self, series_ref: SeriesRef) {
        let mut stripe = self.stripe(series_ref);
        let slot = series_ref as usize / STRIPES;
        if stripe.series.len() <= slot {
            stripe.series.resize_with(slot + 1, || None);
        }
        stripe.series[slot].get_or_insert_with(MemSeries::new);
    }

    /// Whether the series' definition still has to be written to the WAL.
    pub fn needs_logging(&self, series_ref: SeriesRef) -> bool {
        let stripe = self.stripe(series_ref);
        stripe
            .series
            .get(series_ref as usize / STRIPES)
            .and_then(Option::as_ref)
            .is_some_and(|series| !series.logged)
    }

    pub fn mark_logged(&self, series_refs: &[SeriesRef]) {
        for series_ref in series_refs {
            let mut stripe = self.stripe(*series_ref);
            if let Some(Some(series)) = stripe.series.get_mut(*series_ref as usize / STRIPES) {
                series.logged = true;
            }
        }
    }

    /// What appending each sample would do, without changing anything (for error reports
    /// before the WAL write).
    pub fn check(
        &self,
        series_ref: SeriesRef,
        samples: &[(i64, f64)],
        outcomes: &mut Vec<AppendOutcome>,
    ) {
        let stripe = self.stripe(series_ref);
        let Some(Some(series)) = stripe.series.get(series_ref as usize / STRIPES) else {
            outcomes.extend(samples.iter().map(|_| AppendOutcome::Appended));
            return;
        };
        let mut newest = series.last_sample().map(|(t, _)| t);
        for (timestamp, value) in samples {
            // Within one batch, samples after an accepted newer one are judged against it.
            let outcome = match newest {
                Some(last) if *timestamp > last => AppendOutcome::Appended,
                None => AppendOutcome::Appended,
                _ => series.check(*timestamp, *value, self.out_of_order_window_ms),
            };
            if outcome == AppendOutcome::Appended {
                newest = Some(*timestamp);
            }
            outcomes.push(outcome);
        }
    }

    /// Applies samples (after they are durable, or while replaying the WAL).
    pub fn apply(&self, series_ref: SeriesRef, samples: &[(i64, f64)]) {
        let mut stripe = self.stripe(series_ref);
        let Some(Some(series)) = stripe.series.get_mut(series_ref as usize / STRIPES) else {
            tracing::warn!(series_ref, "samples for an unknown series dropped");
            return;
        };
        let mut appended = 0u64;
        for (timestamp, value) in samples {
            let counter = match series.append(*timestamp, *value, self.out_of_order_window_ms) {
                AppendOutcome::Appended => {
                    appended += 1;
                    continue;
                }
                AppendOutcome::OutOfOrderAccepted => {
                    appended += 1;
                    &self.counters.out_of_order_accepted
                }
                AppendOutcome::Duplicate => &self.counters.duplicates,
                AppendOutcome::TooOld => &self.counters.too_old,
                AppendOutcome::ConflictingValue => &self.counters.conflicting,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.counters
            .samples_appended
            .fetch_add(appended, Ordering::Relaxed);
    }

    /// Series matching every matcher, with their samples in `[mint, maxt]`. Series with no
    /// sample in range are left out.
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesData> {
        let (refs, labels): (Vec<SeriesRef>, Vec<Vec<(String, String)>>) = {
            let index = self.index();
            index
                .select(matchers)
                .into_iter()
                .map(|series_ref| (series_ref, index.labels_owned(series_ref)))
                .unzip()
        };
        let mut result = Vec::with_capacity(refs.len());
        for (series_ref, labels) in refs.into_iter().zip(labels) {
            let mut samples = Vec::new();
            {
                let stripe = self.stripe(series_ref);
                if let Some(Some(series)) = stripe.series.get(series_ref as usize / STRIPES) {
                    series.samples_between(mint, maxt, &mut samples);
                }
            }
            if !samples.is_empty() {
                result.push(SeriesData { labels, samples });
            }
        }
        result.sort_by(|a, b| a.labels.cmp(&b.labels));
        result
    }

    /// Bytes held in chunks across all series.
    pub fn sample_bytes(&self) -> usize {
        self.stripes
            .iter()
            .map(|stripe| {
                let stripe = stripe
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                stripe
                    .series
                    .iter()
                    .flatten()
                    .map(MemSeries::sample_bytes)
                    .sum::<usize>()
            })
            .sum()
    }
}
