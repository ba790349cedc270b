//! [`Tsdb`]: the database facade. Appends are written to the WAL (group commit, durable
//! before `append` returns) and then applied to the head; opening replays the WAL.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::error::TsdbError;
use super::head::{AppendOutcome, Head, SeriesData};
use super::index::{Matcher, SeriesRef};
use super::labels::{format_labels, validate_labels};
use super::options::TsdbOptions;
use super::records::{self, HeadRecord};
use super::wal::{SyncMode, Wal, WalOptions};
use crate::telemetry::{Collect, MetricKind, TextWriter};

/// One series' samples in an append batch; labels sorted by name.
pub struct AppendSeries<'a> {
    pub labels: &'a [(&'a str, &'a str)],
    pub samples: &'a [(i64, f64)],
}

/// What an append stored and what it refused (each refusal names its series).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct AppendReport {
    pub samples_stored: u64,
    pub series_created: u64,
    pub samples_rejected: u64,
    /// At most [`MAX_REPORTED_ERRORS`] messages.
    pub errors: Vec<String>,
}

pub const MAX_REPORTED_ERRORS: usize = 10;

impl AppendReport {
    fn reject(&mut self, count: u64, message: impl FnOnce() -> String) {
        self.samples_rejected += count;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(message());
        }
    }
}

pub struct Tsdb {
    dir: PathBuf,
    head: Head,
    wal: Wal,
    options: TsdbOptions,
    replay_seconds: f64,
}

impl Tsdb {
    /// Opens the database in `dir`, replaying its WAL into the head. Blocking.
    pub fn open(dir: &Path, options: TsdbOptions) -> Result<Tsdb, TsdbError> {
        std::fs::create_dir_all(dir).map_err(|source| TsdbError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let started = Instant::now();
        let wal_options = WalOptions {
            segment_size_bytes: options.wal_segment_size.bytes(),
            sync_mode: if options.wal_fsync {
                SyncMode::Always
            } else {
                SyncMode::Never
            },
        };
        let (wal, replay) = Wal::open(dir.join("wal"), wal_options)?;
        let head = Head::new(options.out_of_order_window.as_millis());
        let mut records_replayed = 0u64;
        for payload in replay {
            let payload = payload?;
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
                            tracing::warn!(
                                series_ref = record.series_ref,
                                "wal series record conflicts with an earlier one; skipped"
                            );
                        }
                    }
                }
                Ok(HeadRecord::Samples(series)) => {
                    for record in series {
                        head.apply(record.series_ref, &record.samples);
                    }
                }
                Err(err) => tracing::warn!(error = %err, "undecodable wal record skipped"),
            }
        }
        let replay_seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            records = records_replayed,
            series = head.num_series(),
            seconds = replay_seconds,
            "tsdb wal replayed"
        );
        Ok(Tsdb {
            dir: dir.to_path_buf(),
            head,
            wal,
            options,
            replay_seconds,
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
        let mut report = AppendReport::default();
        let mut accepted: Vec<(SeriesRef, Vec<(i64, f64)>)> = Vec::with_capacity(batch.len());
        let mut to_log: Vec<(SeriesRef, usize)> = Vec::new();
        let mut outcomes = Vec::new();
        for (position, series) in batch.iter().enumerate() {
            if series.samples.is_empty() {
                continue;
            }
            if let Err(problem) = validate_labels(series.labels, &self.options.limits) {
                report.reject(series.samples.len() as u64, || {
                    format!("{}: {problem}", format_labels(series.labels))
                });
                continue;
            }
            let (series_ref, created) = match self.head.get_or_create(series.labels) {
                Ok(found) => found,
                Err(problem) => {
                    report.reject(series.samples.len() as u64, || {
                        format!("{}: {problem}", format_labels(series.labels))
                    });
                    continue;
                }
            };
            report.series_created += u64::from(created);
            outcomes.clear();
            self.head.check(series_ref, series.samples, &mut outcomes);
            let mut kept = Vec::with_capacity(series.samples.len());
            for (sample, outcome) in series.samples.iter().zip(&outcomes) {
                match outcome {
                    AppendOutcome::Appended | AppendOutcome::OutOfOrderAccepted => kept.push(*sample),
                    AppendOutcome::Duplicate => {}
                    AppendOutcome::TooOld => report.reject(1, || {
                        format!(
                            "{}: sample at {} is older than the out-of-order window of {} (storage.tsdb.out_of_order_window)",
                            format_labels(series.labels),
                            sample.0,
                            self.options.out_of_order_window
                        )
                    }),
                    AppendOutcome::ConflictingValue => report.reject(1, || {
                        format!(
                            "{}: duplicate sample for timestamp {} with a different value",
                            format_labels(series.labels),
                            sample.0
                        )
                    }),
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

        let mut series_payload = Vec::new();
        if !to_log.is_empty() {
            let label_refs: Vec<(SeriesRef, Vec<(&str, &str)>)> = to_log
                .iter()
                .map(|(series_ref, position)| (*series_ref, batch[*position].labels.to_vec()))
                .collect();
            records::encode_series(&mut series_payload, &label_refs);
        }
        let mut samples_payload =
            Vec::with_capacity(accepted.iter().map(|(_, s)| s.len() * 10 + 4).sum());
        let sample_refs: Vec<(SeriesRef, &[(i64, f64)])> = accepted
            .iter()
            .map(|(series_ref, samples)| (*series_ref, samples.as_slice()))
            .collect();
        records::encode_samples(&mut samples_payload, &sample_refs);
        if series_payload.is_empty() {
            self.wal.append(&samples_payload)?;
        } else {
            self.wal
                .append_batch(&[&series_payload, &samples_payload])?;
            let logged: Vec<SeriesRef> = to_log.iter().map(|(series_ref, _)| *series_ref).collect();
            self.head.mark_logged(&logged);
        }

        for (series_ref, samples) in &accepted {
            self.head.apply(*series_ref, samples);
            report.samples_stored += samples.len() as u64;
        }
        Ok(report)
    }

    /// Series matching all matchers with their samples in `[mint, maxt]` (inclusive).
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesData> {
        self.head.select(matchers, mint, maxt)
    }

    /// Label sets of series matching the matchers that have samples in range.
    pub fn series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Vec<(String, String)>> {
        self.head
            .select(matchers, mint, maxt)
            .into_iter()
            .map(|series| series.labels)
            .collect()
    }

    /// Sorted label names of the series matching any of `selectors` (all series if empty).
    pub fn label_names(&self, selectors: &[Vec<Matcher>], mint: i64, maxt: i64) -> Vec<String> {
        let mut names: Vec<String> = self
            .selected_label_sets(selectors, mint, maxt)
            .into_iter()
            .flat_map(|labels| labels.into_iter().map(|(name, _)| name))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Sorted values of label `name` over the series matching any of `selectors`.
    pub fn label_values(
        &self,
        name: &str,
        selectors: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
    ) -> Vec<String> {
        let mut values: Vec<String> = self
            .selected_label_sets(selectors, mint, maxt)
            .into_iter()
            .filter_map(|labels| {
                labels
                    .into_iter()
                    .find(|(label, _)| label == name)
                    .map(|(_, value)| value)
            })
            .collect();
        values.sort();
        values.dedup();
        values
    }

    fn selected_label_sets(
        &self,
        selectors: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
    ) -> Vec<Vec<(String, String)>> {
        if selectors.is_empty() {
            return self.series(&[], mint, maxt);
        }
        let mut all: Vec<Vec<(String, String)>> = selectors
            .iter()
            .flat_map(|matchers| self.series(matchers, mint, maxt))
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// Makes everything appended so far durable (a no-op with fsync on).
    pub fn flush(&self) -> Result<(), TsdbError> {
        self.wal.sync()?;
        Ok(())
    }
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
    }
}
