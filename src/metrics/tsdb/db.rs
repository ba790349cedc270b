//! [`Tsdb`]: the database facade. Appends are written to the WAL (group commit, durable
//! before `append` returns) and then applied to the head; opening loads the blocks and
//! replays the WAL checkpoint and the WAL. Queries merge the head with the blocks;
//! [`Tsdb::maintain`] (in `maintain.rs`) cuts the head into blocks, compacts them and
//! applies retention.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::Instant;

use super::block::{load_blocks, Block};
use super::checkpoint;
use super::error::TsdbError;
use super::head::{AppendOutcome, Head, SeriesData, SeriesSamples};
use super::index::{Matcher, SeriesRef};
use super::key_cache::KeyCache;
use super::labels::{format_labels, validate_labels};
use super::options::TsdbOptions;
use super::querier::merge_series;
use super::records::{self, HeadRecord};
use super::series_key::SeriesKey;
use super::tombstones::{Tombstone, Tombstones};
use super::wal::{ReplayIter, SyncMode, Wal, WalOptions};
use crate::metrics::histogram::FloatHistogram;
use crate::telemetry::{Collect, MetricKind, TextWriter};

/// Folder of the blocks inside the database directory.
pub const BLOCKS_DIR_NAME: &str = "blocks";
/// Folder of the WAL inside the database directory.
pub const WAL_DIR_NAME: &str = "wal";
/// Folder of the head's closed chunks, spilled out of memory (rebuilt from the WAL).
pub const HEAD_CHUNKS_DIR_NAME: &str = "chunks_head";

/// One series' samples in an append batch; labels sorted by name.
pub struct AppendSeries<'a> {
    pub labels: &'a [(&'a str, &'a str)],
    pub samples: &'a [(i64, f64)],
    /// The caller's fingerprint of the series (see [`SeriesKey`]): once the series is
    /// stored, [`super::AppendSession::known_series`] finds it by this key.
    pub(crate) key: Option<SeriesKey>,
    /// The series as [`super::AppendSession::known_series`] found it in the same session;
    /// its `labels` are then not read and may be empty. Trusted: only a lookup in the
    /// session that appends may set it.
    pub(crate) known: Option<SeriesRef>,
}

impl<'a> AppendSeries<'a> {
    pub fn new(labels: &'a [(&'a str, &'a str)], samples: &'a [(i64, f64)]) -> Self {
        AppendSeries {
            labels,
            samples,
            key: None,
            known: None,
        }
    }
}

/// One series' native histogram samples in an append batch; labels sorted by name.
pub struct AppendHistogramSeries<'a> {
    pub labels: &'a [(&'a str, &'a str)],
    pub samples: &'a [(i64, FloatHistogram)],
}

/// What an append stored and what it refused (each refusal names its series).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct AppendReport {
    pub samples_stored: u64,
    /// Native histogram samples stored (by callers that store both kinds).
    pub histograms_stored: u64,
    pub series_created: u64,
    pub samples_rejected: u64,
    /// At most [`MAX_REPORTED_ERRORS`] messages.
    pub errors: Vec<String>,
}

pub const MAX_REPORTED_ERRORS: usize = 10;

/// See [`Tsdb::head_stats`].
pub struct HeadStats {
    pub cardinality: super::index::CardinalityStats,
    /// `(min, max)` sample time held by the head; `None` when empty.
    pub time_range: Option<(i64, i64)>,
}

impl AppendReport {
    fn reject(&mut self, count: u64, message: impl FnOnce() -> String) {
        self.samples_rejected += count;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(message());
        }
    }
}

/// Counters of the maintenance work, exported as `sightline_tsdb_*`.
#[derive(Default)]
pub(super) struct MaintenanceCounters {
    pub head_cuts: AtomicU64,
    pub head_cut_failures: AtomicU64,
    pub blocks_written: AtomicU64,
    pub compactions: AtomicU64,
    pub compaction_failures: AtomicU64,
    pub retention_time_deletions: AtomicU64,
    pub retention_size_deletions: AtomicU64,
    pub checkpoints: AtomicU64,
    pub checkpoint_failures: AtomicU64,
    pub blocks_quarantined: AtomicU64,
}

pub struct Tsdb {
    pub(super) dir: PathBuf,
    pub(super) head: Head,
    pub(super) wal: Wal,
    pub(super) options: TsdbOptions,
    replay_seconds: f64,
    /// Open blocks, sorted by `(min_time, id)`. Queries clone the `Arc`s and read without
    /// the lock; maintenance swaps entries.
    pub(super) blocks: RwLock<Vec<Arc<Block>>>,
    /// Appends hold it shared from validation to apply (remote write: from the key lookups
    /// to apply, see [`super::AppendSession`]); the head cut takes it exclusively
    /// for its two short critical sections (raising the head's lower bound, removing empty
    /// series), so that neither interleaves with an append.
    pub(super) append_gate: RwLock<()>,
    /// Serializes [`Tsdb::maintain`] calls.
    pub(super) maintenance: Mutex<()>,
    pub(super) maintenance_counters: MaintenanceCounters,
    pub(super) tombstones: Tombstones,
    /// Series keys of stored series (see [`AppendSession`]); emptied whenever series leave
    /// the head, under the append gate.
    pub(super) known_keys: RwLock<KeyCache>,
}

impl Tsdb {
    /// Opens the database in `dir`: loads the blocks (setting aside damaged ones), then
    /// replays the WAL checkpoint and the WAL into the head. Blocking.
    pub fn open(dir: &Path, options: TsdbOptions) -> Result<Tsdb, TsdbError> {
        std::fs::create_dir_all(dir).map_err(|source| TsdbError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let started = Instant::now();
        let loaded = load_blocks(&dir.join(BLOCKS_DIR_NAME))?;
        let persisted_until = loaded
            .blocks
            .iter()
            .map(|block| block.meta().max_time)
            .max()
            .unwrap_or(i64::MIN);
        let wal_dir = dir.join(WAL_DIR_NAME);
        let checkpoint = checkpoint::prepare(&wal_dir)?;
        let wal_options = WalOptions {
            segment_size_bytes: options.wal_segment_size.bytes(),
            sync_mode: if options.wal_fsync {
                SyncMode::Always
            } else {
                SyncMode::Never
            },
        };
        let (wal, replay) = Wal::open(&wal_dir, wal_options)?;
        if let Some((index, _)) = &checkpoint {
            if wal.current_segment() < *index {
                tracing::warn!(
                    checkpoint = index,
                    current_segment = wal.current_segment(),
                    "wal segments numbered below the checkpoint; were files removed by hand?"
                );
            }
        }
        let mut head = Head::new(
            options.out_of_order_window.as_millis(),
            options.block_range_ms(),
        );
        let spill_dir = dir.join(HEAD_CHUNKS_DIR_NAME);
        head.spill_chunks_to(&spill_dir)
            .map_err(|source| TsdbError::CreateDir {
                path: spill_dir,
                source,
            })?;
        // Samples below the newest block's end were persisted before the last shutdown.
        head.raise_min_valid_time(persisted_until);
        let mut records_replayed = 0u64;
        let mut refused = HashSet::new();
        if let Some((_, checkpoint_dir)) = &checkpoint {
            let replay = checkpoint::replay(checkpoint_dir)?;
            records_replayed += replay_into(&head, replay, &mut refused, "wal checkpoint");
        }
        records_replayed += replay_into(&head, replay, &mut refused, "wal");
        head.spill_closed_chunks();
        let replay_seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            blocks = loaded.blocks.len(),
            records = records_replayed,
            series = head.num_series(),
            seconds = replay_seconds,
            "tsdb opened"
        );
        let tombstones = Tombstones::load(dir)?;
        let maintenance_counters = MaintenanceCounters::default();
        maintenance_counters
            .blocks_quarantined
            .store(loaded.quarantined as u64, Ordering::Relaxed);
        Ok(Tsdb {
            dir: dir.to_path_buf(),
            head,
            wal,
            options,
            replay_seconds,
            blocks: RwLock::new(loaded.blocks),
            append_gate: RwLock::new(()),
            maintenance: Mutex::new(()),
            maintenance_counters,
            tombstones,
            known_keys: RwLock::new(KeyCache::new()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn options(&self) -> &TsdbOptions {
        &self.options
    }

    pub fn num_series(&self) -> usize {
        self.head.num_series()
    }

    /// Stores a batch. Blocking: returns once everything stored is durable. Bad series and
    /// refused samples are reported; the rest of the batch is stored regardless.
    pub fn append(&self, batch: &[AppendSeries<'_>]) -> Result<AppendReport, TsdbError> {
        self.append_session().append(batch)
    }

    /// [`Tsdb::append`] with the append gate held by the caller.
    pub(super) fn append_gated(
        &self,
        batch: &[AppendSeries<'_>],
    ) -> Result<AppendReport, TsdbError> {
        let mut report = AppendReport::default();
        let batch: Vec<&AppendSeries<'_>> = batch
            .iter()
            .filter(|series| !series.samples.is_empty())
            .collect();
        // Series not known by key are looked up in one pass over the index; new ones are
        // created after.
        let label_sets: Vec<&[(&str, &str)]> = batch
            .iter()
            .filter(|series| series.known.is_none())
            .map(|series| series.labels)
            .collect();
        let mut found = self.head.index().get_many(&label_sets).into_iter();
        let mut series_refs: Vec<(SeriesRef, usize)> = Vec::with_capacity(batch.len());
        let mut to_remember: Vec<(SeriesKey, SeriesRef)> = Vec::new();
        for (position, series) in batch.iter().enumerate() {
            let found = match series.known {
                Some(known) => {
                    debug_assert!(self.head.index().contains_ref(known), "stale {known}");
                    Some(known)
                }
                None => found.next().flatten(),
            };
            let series_ref = match found {
                Some(series_ref) => series_ref,
                None => {
                    let Some((series_ref, created)) =
                        self.series_ref_for(series.labels, series.samples.len(), &mut report)
                    else {
                        continue;
                    };
                    report.series_created += u64::from(created);
                    series_ref
                }
            };
            if let (Some(key), None) = (series.key, series.known) {
                to_remember.push((key, series_ref));
            }
            series_refs.push((series_ref, position));
        }
        let to_check: Vec<SeriesSamples<'_>> = series_refs
            .iter()
            .map(|(series_ref, position)| (*series_ref, batch[*position].samples))
            .collect();
        let check = self.head.check_many(&to_check);

        // Accepted samples of all series in one list; each series names its range of it.
        let mut kept: Vec<(i64, f64)> = Vec::with_capacity(check.outcomes.len());
        let mut accepted: Vec<(SeriesRef, std::ops::Range<usize>)> =
            Vec::with_capacity(series_refs.len());
        let mut to_log: Vec<(SeriesRef, usize)> = Vec::new();
        let mut outcomes = check.outcomes.iter();
        for ((series_ref, position), unlogged) in series_refs.iter().zip(&check.unlogged) {
            let series = batch[*position];
            let first_kept = kept.len();
            for (sample, outcome) in series.samples.iter().zip(outcomes.by_ref()) {
                let name = || self.describe(series, *series_ref);
                if self.accept_or_report(&mut report, name, sample.0, *outcome) {
                    kept.push(*sample);
                }
            }
            if kept.len() == first_kept {
                continue;
            }
            if *unlogged {
                to_log.push((*series_ref, *position));
            }
            accepted.push((*series_ref, first_kept..kept.len()));
        }
        if accepted.is_empty() {
            return Ok(report);
        }

        let mut samples_payload = Vec::with_capacity(kept.len() * 10 + accepted.len() * 4);
        let sample_refs: Vec<(SeriesRef, &[(i64, f64)])> = accepted
            .iter()
            .map(|(series_ref, range)| (*series_ref, &kept[range.clone()]))
            .collect();
        records::encode_samples(&mut samples_payload, &sample_refs);
        // A series found by key is logged already unless none of its samples was ever
        // applied (say, all refused); its labels then come from the index.
        let owned: Vec<(usize, Vec<(String, String)>)> = to_log
            .iter()
            .filter(|(_, position)| batch[*position].known.is_some())
            .map(|(series_ref, position)| (*position, self.head.index().labels_owned(*series_ref)))
            .collect();
        // In batch order, like `to_log`; almost always empty.
        let from_index: Vec<(usize, Vec<(&str, &str)>)> = owned
            .iter()
            .map(|(position, labels)| {
                let pairs = labels.iter().map(|(n, v)| (n.as_str(), v.as_str()));
                (*position, pairs.collect())
            })
            .collect();
        let labels_at =
            |position: usize| match from_index.binary_search_by_key(&position, |(p, _)| *p) {
                Ok(found) => from_index[found].1.as_slice(),
                Err(_) => batch[position].labels,
            };
        self.log(&to_log, labels_at, &samples_payload)?;
        self.remember(&to_remember);

        self.head.apply_many(&sample_refs);
        report.samples_stored += kept.len() as u64;
        Ok(report)
    }

    /// Makes newly resolved series findable by their keys.
    fn remember(&self, keys: &[(SeriesKey, SeriesRef)]) {
        if keys.is_empty() {
            return;
        }
        let series = self.head.num_series();
        let mut known = self
            .known_keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Normally one key per series; far more means a sender encodes its series in
        // changing ways, and only the newest keys are worth keeping.
        if known.len() + keys.len() > 2 * series + 1024 {
            known.clear_for(series);
        }
        for (key, series_ref) in keys {
            known.insert(key, *series_ref);
        }
    }

    /// The series' labels for a message: as given, or from the index for a series found
    /// by key.
    fn describe(&self, series: &AppendSeries<'_>, series_ref: SeriesRef) -> String {
        if series.known.is_some() {
            format_labels(&self.head.index().labels_owned(series_ref))
        } else {
            format_labels(series.labels)
        }
    }

    /// Writes a samples record to the WAL (durable when this returns), with the
    /// definitions of the series in `to_log` (`(ref, batch position)`) in the same batch.
    fn log<'a>(
        &self,
        to_log: &[(SeriesRef, usize)],
        labels_at: impl Fn(usize) -> &'a [(&'a str, &'a str)],
        samples_payload: &[u8],
    ) -> Result<(), TsdbError> {
        if to_log.is_empty() {
            self.wal.append(samples_payload)?;
            return Ok(());
        }
        let label_refs: Vec<(SeriesRef, &[(&str, &str)])> = to_log
            .iter()
            .map(|(series_ref, position)| (*series_ref, labels_at(*position)))
            .collect();
        let mut series_payload = Vec::new();
        records::encode_series(&mut series_payload, &label_refs);
        // The head counts these series as logged once their samples are applied.
        self.wal.append_batch(&[&series_payload, samples_payload])?;
        Ok(())
    }

    /// The reference of the series with `labels`, creating it (after validation) if new;
    /// `None` when the labels are refused, which is reported for `samples` samples.
    fn series_ref_for(
        &self,
        labels: &[(&str, &str)],
        samples: usize,
        report: &mut AppendReport,
    ) -> Option<(SeriesRef, bool)> {
        // A label set equal to a stored series' passed validation when that series was
        // created, so only unknown label sets are validated. The index guard must be gone
        // before `get_or_create` takes the write lock.
        let found = self.head.index().get(labels);
        let created = match found {
            Some(series_ref) => return Some((series_ref, false)),
            None => validate_labels(labels, &self.options.limits).and_then(|()| {
                self.head
                    .get_or_create(labels)
                    .map_err(|problem| problem.to_string())
            }),
        };
        match created {
            Ok(created) => Some(created),
            Err(problem) => {
                report.reject(samples as u64, || {
                    format!("{}: {problem}", format_labels(labels))
                });
                None
            }
        }
    }

    /// Reports a sample the head refused (and counts what the head does not); returns
    /// whether the sample is to be stored.
    fn accept_or_report(
        &self,
        report: &mut AppendReport,
        series_name: impl Fn() -> String,
        timestamp: i64,
        outcome: AppendOutcome,
    ) -> bool {
        match outcome {
            AppendOutcome::Appended | AppendOutcome::OutOfOrderAccepted => return true,
            AppendOutcome::Duplicate => {}
            AppendOutcome::TooOld => report.reject(1, || {
                format!(
                    "{}: sample at {timestamp} is older than the out-of-order window of {} (storage.tsdb.out_of_order_window)",
                    series_name(),
                    self.options.out_of_order_window
                )
            }),
            AppendOutcome::OutOfBounds => {
                self.head
                    .counters
                    .out_of_bounds
                    .fetch_add(1, Ordering::Relaxed);
                report.reject(1, || {
                    format!(
                        "{}: sample at {timestamp} is older than {}, the start of the in-memory range (older data is already persisted in blocks)",
                        series_name(),
                        self.head.min_valid_time()
                    )
                })
            }
            AppendOutcome::ConflictingValue => report.reject(1, || {
                format!(
                    "{}: duplicate sample for timestamp {timestamp} with a different value",
                    series_name()
                )
            }),
        }
        false
    }

    /// Stores native histogram samples, with the same durability and rules as
    /// [`Tsdb::append`]. Histogram series are rare next to float series, so this path
    /// favours simplicity over the float path's batching tricks.
    pub fn append_histograms(
        &self,
        batch: &[AppendHistogramSeries<'_>],
    ) -> Result<AppendReport, TsdbError> {
        self.append_session().append_histograms(batch)
    }

    /// [`Tsdb::append_histograms`] with the append gate held by the caller.
    pub(super) fn append_histograms_gated(
        &self,
        batch: &[AppendHistogramSeries<'_>],
    ) -> Result<AppendReport, TsdbError> {
        let mut report = AppendReport::default();
        let mut accepted: Vec<(SeriesRef, Vec<(i64, FloatHistogram)>)> = Vec::new();
        let mut to_log: Vec<(SeriesRef, usize)> = Vec::new();
        let mut outcomes = Vec::new();
        for (position, series) in batch.iter().enumerate() {
            if series.samples.is_empty() {
                continue;
            }
            let Some((series_ref, created)) =
                self.series_ref_for(series.labels, series.samples.len(), &mut report)
            else {
                continue;
            };
            report.series_created += u64::from(created);
            outcomes.clear();
            self.head
                .check_histograms(series_ref, series.samples, &mut outcomes);
            let mut kept = Vec::new();
            for (sample, outcome) in series.samples.iter().zip(&outcomes) {
                let name = || format_labels(series.labels);
                if self.accept_or_report(&mut report, name, sample.0, *outcome) {
                    kept.push(sample.clone());
                }
            }
            if kept.is_empty() {
                continue;
            }
            if self.head.needs_logging(series_ref) {
                to_log.push((series_ref, position));
            }
            accepted.push((series_ref, kept));
        }
        if accepted.is_empty() {
            return Ok(report);
        }
        let sample_refs: Vec<(SeriesRef, &[(i64, FloatHistogram)])> = accepted
            .iter()
            .map(|(series_ref, samples)| (*series_ref, samples.as_slice()))
            .collect();
        let mut samples_payload = Vec::new();
        records::encode_histograms(&mut samples_payload, &sample_refs);
        self.log(&to_log, |position| batch[position].labels, &samples_payload)?;
        for (series_ref, samples) in &sample_refs {
            self.head.apply_histograms(*series_ref, samples);
            report.samples_stored += samples.len() as u64;
        }
        Ok(report)
    }

    /// Open blocks that may hold samples in `[mint, maxt]`, newest first.
    fn blocks_in(&self, mint: i64, maxt: i64) -> Vec<Arc<Block>> {
        let mut blocks: Vec<Arc<Block>> = self
            .blocks()
            .iter()
            .filter(|block| block.meta().overlaps(mint, maxt))
            .cloned()
            .collect();
        blocks.sort_by_key(|block| std::cmp::Reverse((block.meta().max_time, block.id())));
        blocks
    }

    pub(super) fn blocks(&self) -> RwLockReadGuard<'_, Vec<Arc<Block>>> {
        self.blocks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Series matching all matchers with their samples in `[mint, maxt]` (inclusive), from
    /// the head and the blocks, sorted by labels. Where both hold a timestamp, the head's
    /// sample wins (then the newer block's).
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesData> {
        self.select_with(matchers, mint, maxt, false)
    }

    /// [`Tsdb::select`] for callers that use only each series' newest sample in the range
    /// (instant vector selectors): a head series whose newest sample lies in the range
    /// returns just that one, without decoding its chunks. Blocks hold only older data,
    /// and their samples still come along where the head has none in range.
    pub fn select_newest(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesData> {
        // A deletion could remove the newest sample and leave an older one to answer.
        let newest_only = self.tombstones.is_empty();
        self.select_with(matchers, mint, maxt, newest_only)
    }

    fn select_with(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        newest_only: bool,
    ) -> Vec<SeriesData> {
        let mut sources = vec![self.head.select(matchers, mint, maxt, newest_only)];
        for block in self.blocks_in(mint, maxt) {
            sources.push(block.select(matchers, mint, maxt));
        }
        let mut merged = merge_series(sources);
        self.tombstones.apply(&mut merged);
        merged
    }

    /// Moves the head's closed chunks out of the heap into memory-mapped spill files
    /// (called periodically); returns the bytes moved.
    pub fn spill_head_chunks(&self) -> usize {
        self.head.spill_closed_chunks()
    }

    /// Deletes the samples in `[mint, maxt]` of the series matching any of `selectors`:
    /// durable (a tombstone on disk) before it returns, effective for every later query.
    pub fn delete_series(
        &self,
        selectors: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
    ) -> Result<(), TsdbError> {
        let added = selectors
            .iter()
            .map(|matchers| Tombstone {
                matchers: matchers.clone(),
                mint,
                maxt,
            })
            .collect();
        self.tombstones.add(added)?;
        Ok(())
    }

    /// Label sets of series matching the matchers that have samples in range (for blocks:
    /// a chunk overlapping the range), sorted.
    pub fn series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Vec<(String, String)>> {
        if !self.tombstones.is_empty() {
            // Whether a series still has samples in range depends on its samples.
            return self
                .select(matchers, mint, maxt)
                .into_iter()
                .map(|series| series.labels)
                .collect();
        }
        let head = self
            .head
            .select(matchers, mint, maxt, false)
            .into_iter()
            .map(|series| series.labels);
        let blocks = self.blocks_in(mint, maxt);
        if blocks.is_empty() {
            return head.collect();
        }
        let mut all: BTreeSet<Vec<(String, String)>> = head.collect();
        for block in blocks {
            all.extend(block.select_labels(matchers, mint, maxt));
        }
        all.into_iter().collect()
    }

    /// Sorted label names of the series matching any of `selectors` (all series if empty).
    pub fn label_names(&self, selectors: &[Vec<Matcher>], mint: i64, maxt: i64) -> Vec<String> {
        let mut names: BTreeSet<String> = self
            .selected_label_sets(selectors, mint, maxt)
            .into_iter()
            .flat_map(|labels| labels.into_iter().map(|(name, _)| name))
            .collect();
        if selectors.is_empty() && self.tombstones.is_empty() {
            for block in self.blocks_in(mint, maxt) {
                names.extend(block.label_names());
            }
        }
        names.into_iter().collect()
    }

    /// Sorted values of label `name` over the series matching any of `selectors`.
    pub fn label_values(
        &self,
        name: &str,
        selectors: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
    ) -> Vec<String> {
        let mut values: BTreeSet<String> = self
            .selected_label_sets(selectors, mint, maxt)
            .into_iter()
            .filter_map(|labels| {
                labels
                    .into_iter()
                    .find(|(label, _)| label == name)
                    .map(|(_, value)| value)
            })
            .collect();
        if selectors.is_empty() && self.tombstones.is_empty() {
            for block in self.blocks_in(mint, maxt) {
                values.extend(block.label_values(name));
            }
        }
        values.into_iter().collect()
    }

    /// With no selectors: the head's series in range (the blocks answer from their label
    /// tables). Otherwise the label sets selected from head and blocks.
    fn selected_label_sets(
        &self,
        selectors: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
    ) -> Vec<Vec<(String, String)>> {
        if selectors.is_empty() && !self.tombstones.is_empty() {
            return self.series(&[], mint, maxt);
        }
        if selectors.is_empty() {
            return self
                .head
                .select(&[], mint, maxt, false)
                .into_iter()
                .map(|series| series.labels)
                .collect();
        }
        let mut all: Vec<Vec<(String, String)>> = selectors
            .iter()
            .flat_map(|matchers| self.series(matchers, mint, maxt))
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// Head statistics for `/api/v1/status/tsdb`: cardinality lists of at most `limit`
    /// entries and the head's time range.
    pub fn head_stats(&self, limit: usize) -> HeadStats {
        HeadStats {
            cardinality: self.head.index().cardinality_stats(limit),
            time_range: self.head.time_range(),
        }
    }

    /// Makes everything appended so far durable (a no-op with fsync on).
    pub fn flush(&self) -> Result<(), TsdbError> {
        self.wal.sync()?;
        Ok(())
    }
}

/// Applies replayed WAL records to the head; returns how many records were read. A series
/// defined again under a new reference (removed after a cut, then created again) takes
/// over; `refused` collects references whose definition conflicts with another series
/// (their samples are skipped rather than given to that series).
fn replay_into(
    head: &Head,
    replay: ReplayIter,
    refused: &mut HashSet<SeriesRef>,
    source: &str,
) -> u64 {
    let mut records_replayed = 0u64;
    for payload in replay {
        let payload = match payload {
            Ok(payload) => payload,
            Err(err) => {
                tracing::error!(error = %err, source, "replay stopped early");
                break;
            }
        };
        records_replayed += 1;
        match records::decode(&payload) {
            Ok(HeadRecord::Series(series)) => {
                for record in series {
                    let labels: Vec<(&str, &str)> = record
                        .labels
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str()))
                        .collect();
                    if !head.restore_series(record.series_ref, &labels) {
                        refused.insert(record.series_ref);
                        tracing::warn!(
                            series_ref = record.series_ref,
                            source,
                            "wal series record conflicts with an earlier one; skipped"
                        );
                    }
                }
            }
            Ok(HeadRecord::Samples(series)) => {
                let batch: Vec<SeriesSamples<'_>> = series
                    .iter()
                    .filter(|record| !refused.contains(&record.series_ref))
                    .map(|record| (record.series_ref, record.samples.as_slice()))
                    .collect();
                head.apply_many(&batch);
            }
            Ok(HeadRecord::Histograms(series)) => {
                for record in series {
                    if refused.contains(&record.series_ref) {
                        continue;
                    }
                    head.apply_histograms(record.series_ref, &record.samples);
                }
            }
            Err(err) => tracing::warn!(error = %err, source, "undecodable wal record skipped"),
        }
    }
    records_replayed
}

impl Collect for Tsdb {
    fn collect(&self, out: &mut TextWriter) {
        let counters = &self.head.counters;
        let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed) as f64;
        out.single(
            "sightline_tsdb_head_series",
            MetricKind::Gauge,
            "Series in the head.",
            self.head.num_series() as f64,
        );
        out.single(
            "sightline_tsdb_tombstones",
            MetricKind::Gauge,
            "Deletions (delete_series) applied to queries.",
            self.tombstones.len() as f64,
        );
        out.single(
            "sightline_tsdb_head_series_created_total",
            MetricKind::Counter,
            "Series created in the head.",
            load(&counters.series_created),
        );
        out.single(
            "sightline_tsdb_head_samples_appended_total",
            MetricKind::Counter,
            "Samples appended to the head.",
            load(&counters.samples_appended),
        );
        out.family(
            "sightline_tsdb_out_of_order_samples_total",
            MetricKind::Counter,
            "Samples older than their series' newest, by outcome.",
        );
        out.sample(
            "sightline_tsdb_out_of_order_samples_total",
            &[("outcome", "accepted")],
            load(&counters.out_of_order_accepted),
        );
        out.sample(
            "sightline_tsdb_out_of_order_samples_total",
            &[("outcome", "rejected")],
            load(&counters.too_old),
        );
        out.single(
            "sightline_tsdb_duplicate_samples_total",
            MetricKind::Counter,
            "Samples ignored as exact duplicates.",
            load(&counters.duplicates),
        );
        out.single(
            "sightline_tsdb_conflicting_samples_total",
            MetricKind::Counter,
            "Samples refused: same timestamp, different value.",
            load(&counters.conflicting),
        );
        let wal = self.wal.stats();
        out.single(
            "sightline_tsdb_wal_records_total",
            MetricKind::Counter,
            "Records appended to the WAL.",
            wal.records_appended as f64,
        );
        out.single(
            "sightline_tsdb_wal_bytes_total",
            MetricKind::Counter,
            "Bytes appended to the WAL.",
            wal.bytes_appended as f64,
        );
        out.family(
            "sightline_tsdb_wal_fsync_duration_seconds",
            MetricKind::Counter,
            "Time spent in WAL fsync (sum and count).",
        );
        out.sample(
            "sightline_tsdb_wal_fsync_duration_seconds_sum",
            &[],
            wal.sync_nanos as f64 / 1e9,
        );
        out.sample(
            "sightline_tsdb_wal_fsync_duration_seconds_count",
            &[],
            wal.syncs as f64,
        );
        out.single(
            "sightline_tsdb_wal_replay_duration_seconds",
            MetricKind::Gauge,
            "Time the last start-up spent replaying the WAL.",
            self.replay_seconds,
        );
        out.single(
            "sightline_tsdb_head_chunk_bytes",
            MetricKind::Gauge,
            "Bytes of compressed samples held in the head.",
            self.head.sample_bytes() as f64,
        );
        out.single(
            "sightline_tsdb_head_chunk_spilled_bytes",
            MetricKind::Gauge,
            "Bytes of closed head chunks held in memory-mapped spill files rather than on the heap (included in sightline_tsdb_head_chunk_bytes).",
            self.head.spilled_bytes() as f64,
        );
        out.single(
            "sightline_tsdb_out_of_bounds_samples_total",
            MetricKind::Counter,
            "Samples refused because their time range is already persisted in blocks.",
            load(&counters.out_of_bounds),
        );
        let (keys, key_bytes) = {
            let known = self
                .known_keys
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            (known.len(), known.memory_bytes())
        };
        out.single(
            "sightline_tsdb_series_key_cache_entries",
            MetricKind::Gauge,
            "Keys of series as senders encode their labels (remote write skips decoding the labels of series found by key).",
            keys as f64,
        );
        out.single(
            "sightline_tsdb_series_key_cache_bytes",
            MetricKind::Gauge,
            "Memory of the series key cache.",
            key_bytes as f64,
        );
        out.single(
            "sightline_tsdb_head_series_removed_total",
            MetricKind::Counter,
            "Series removed from the head after their samples moved into blocks.",
            load(&counters.series_removed),
        );
        if let Some((min_time, max_time)) = self.head.time_range() {
            out.single(
                "sightline_tsdb_head_min_time",
                MetricKind::Gauge,
                "Lower bound of the head's samples (Unix milliseconds).",
                min_time as f64,
            );
            out.single(
                "sightline_tsdb_head_max_time",
                MetricKind::Gauge,
                "Newest sample in the head (Unix milliseconds).",
                max_time as f64,
            );
        }
        let (blocks_loaded, blocks_bytes, block_read_errors) = {
            let blocks = self.blocks();
            (
                blocks.len(),
                blocks.iter().map(|block| block.size_bytes()).sum::<u64>(),
                blocks.iter().map(|block| block.read_errors()).sum::<u64>(),
            )
        };
        out.single(
            "sightline_tsdb_blocks_loaded",
            MetricKind::Gauge,
            "Blocks open for queries.",
            blocks_loaded as f64,
        );
        out.single(
            "sightline_tsdb_storage_blocks_bytes",
            MetricKind::Gauge,
            "Bytes of the open blocks on disk.",
            blocks_bytes as f64,
        );
        out.single(
            "sightline_tsdb_block_read_errors_total",
            MetricKind::Counter,
            "Damaged chunks, series entries or postings skipped while reading open blocks.",
            block_read_errors as f64,
        );
        let maintenance = &self.maintenance_counters;
        out.single(
            "sightline_tsdb_blocks_quarantined_total",
            MetricKind::Counter,
            "Blocks moved to quarantine at start-up because they failed validation.",
            load(&maintenance.blocks_quarantined),
        );
        out.single(
            "sightline_tsdb_head_truncations_total",
            MetricKind::Counter,
            "Head cuts: windows of the head persisted into blocks and dropped from memory.",
            load(&maintenance.head_cuts),
        );
        out.single(
            "sightline_tsdb_head_truncations_failed_total",
            MetricKind::Counter,
            "Head cuts that failed (the data stays in the head and is retried).",
            load(&maintenance.head_cut_failures),
        );
        out.single(
            "sightline_tsdb_compactions_total",
            MetricKind::Counter,
            "Block compactions completed.",
            load(&maintenance.compactions),
        );
        out.single(
            "sightline_tsdb_compactions_failed_total",
            MetricKind::Counter,
            "Block compactions that failed.",
            load(&maintenance.compaction_failures),
        );
        out.family(
            "sightline_tsdb_retention_deletions_total",
            MetricKind::Counter,
            "Blocks deleted by retention, by reason.",
        );
        out.sample(
            "sightline_tsdb_retention_deletions_total",
            &[("reason", "time")],
            load(&maintenance.retention_time_deletions),
        );
        out.sample(
            "sightline_tsdb_retention_deletions_total",
            &[("reason", "size")],
            load(&maintenance.retention_size_deletions),
        );
        out.single(
            "sightline_tsdb_wal_checkpoints_total",
            MetricKind::Counter,
            "WAL checkpoints written (old segments replaced).",
            load(&maintenance.checkpoints),
        );
        out.single(
            "sightline_tsdb_wal_checkpoints_failed_total",
            MetricKind::Counter,
            "WAL checkpoints that failed.",
            load(&maintenance.checkpoint_failures),
        );
    }
}
