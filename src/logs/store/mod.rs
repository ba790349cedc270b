//! The log store: durable, indexed storage of log entries by stream. Owns `<data>/logs/`:
//! the stream index (`streams/`), the entry write-ahead log (`wal/`) and the time
//! partitions (`index/<day>/`, one tantivy index per UTC day).
//!
//! An append is written to the WAL (group commit, fsync) and applied to the in-memory head
//! before it returns, so it is queryable at once and survives `kill -9`. [`LogStore::flush`]
//! (run every second) moves the head into chunk documents of the partitions, commits them,
//! and truncates the WAL. Reads merge partitions, the chunk being flushed and the head.
//! Knows nothing of HTTP or LogQL: it selects streams by matchers and reads entries by
//! stream, time and required index terms. Calls the metrics side's WAL and matchers.

mod entry;
mod error;
mod live;
mod partition;
mod streams;
#[cfg(test)]
mod tests;
pub mod tokens;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

pub use entry::LogEntry;
pub use error::LogStoreError;
pub use live::{DroppedEntry, LiveBatch, LiveSubscription};
pub use streams::{Labels, StreamId, StreamInfo};

use crate::metrics::tsdb::index::Matcher;
use crate::metrics::tsdb::wal::record::{put_uvarint, VarintReader};
use crate::metrics::tsdb::wal::{SyncMode, Wal, WalOptions};
use crate::telemetry::{Collect, MetricKind, TextWriter};
use entry::{decode_entries, encode_entries};
use partition::{day_start, Partition, DAY_NS};
use streams::StreamIndex;

/// The tenant used when a request names none (Loki's single-tenant default).
pub const DEFAULT_TENANT: &str = "fake";

#[derive(Debug, Clone)]
pub struct LogStoreOptions {
    pub wal_fsync: bool,
    /// A chunk document holds at most about this many bytes of log text.
    pub chunk_target_bytes: usize,
    /// Partitions older than this are deleted (nanoseconds; 0 = keep).
    pub retention_ns: i64,
    /// Oldest partitions are deleted while the total is above this (0 = no limit).
    pub retention_bytes: u64,
}

impl Default for LogStoreOptions {
    fn default() -> Self {
        LogStoreOptions {
            wal_fsync: true,
            chunk_target_bytes: 256 * 1024,
            retention_ns: 15 * DAY_NS,
            retention_bytes: 0,
        }
    }
}

/// What an append stored.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LogAppendReport {
    pub entries: u64,
    pub bytes: u64,
    pub streams_created: u64,
}

type HeadMap = HashMap<StreamId, Vec<LogEntry>>;

#[derive(Default)]
struct Counters {
    entries_appended: AtomicU64,
    bytes_appended: AtomicU64,
    chunks_flushed: AtomicU64,
    flush_failures: AtomicU64,
    partitions_deleted: AtomicU64,
}

pub struct LogStore {
    dir: PathBuf,
    options: LogStoreOptions,
    streams: StreamIndex,
    wal: Wal,
    /// Appends hold it shared across WAL write and head insert; a flush takes it
    /// exclusively to cut the WAL and take the head together.
    append_gate: RwLock<()>,
    head: Mutex<HeadMap>,
    /// Entries taken from the head by a flush in progress (still readable). Set and
    /// cleared only under the head's lock, and read under it, so that a reader always
    /// finds an entry in the head, here, or (once this is cleared) in the index.
    flushing: RwLock<Arc<HeadMap>>,
    partitions: RwLock<BTreeMap<i64, Arc<Partition>>>,
    flush_lock: Mutex<()>,
    counters: Counters,
    live: live::LiveFeed,
}

impl LogStore {
    /// Opens the store in `dir`: the stream index, every partition, then replays the WAL
    /// into the head. Blocking.
    pub fn open(dir: &Path, options: LogStoreOptions) -> Result<LogStore, LogStoreError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| LogStoreError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let streams = StreamIndex::open(&dir.join("streams"), options.wal_fsync)?;
        let index_dir = dir.join("index");
        std::fs::create_dir_all(&index_dir).map_err(io(&index_dir))?;
        let mut partitions = BTreeMap::new();
        for entry in std::fs::read_dir(&index_dir).map_err(io(&index_dir))? {
            let entry = entry.map_err(io(&index_dir))?;
            let Some(day) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<i64>().ok())
            else {
                continue;
            };
            let start = day * DAY_NS;
            partitions.insert(start, Arc::new(Partition::open(&entry.path())?));
        }
        let wal_options = WalOptions {
            sync_mode: if options.wal_fsync {
                SyncMode::Always
            } else {
                SyncMode::Never
            },
            ..WalOptions::default()
        };
        let (wal, replay) = Wal::open(dir.join("wal"), wal_options)?;
        let mut head = HeadMap::new();
        let mut replayed = 0u64;
        for payload in replay {
            let payload = payload?;
            match decode_record(&payload) {
                Ok((stream, entries)) if streams.info(stream).is_some() => {
                    if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
                        streams.observe(stream, first.timestamp_ns, last.timestamp_ns);
                    }
                    replayed += entries.len() as u64;
                    head.entry(stream).or_default().extend(entries);
                }
                Ok((stream, _)) => {
                    tracing::warn!(stream, "log entries of an unknown stream skipped")
                }
                Err(err) => tracing::warn!(error = %err, "undecodable log wal record skipped"),
            }
        }
        tracing::info!(
            streams = streams.len(),
            partitions = partitions.len(),
            replayed_entries = replayed,
            "log store opened"
        );
        Ok(LogStore {
            dir: dir.to_path_buf(),
            options,
            streams,
            wal,
            append_gate: RwLock::new(()),
            head: Mutex::new(head),
            flushing: RwLock::new(Arc::new(HeadMap::new())),
            partitions: RwLock::new(partitions),
            flush_lock: Mutex::new(()),
            counters: Counters::default(),
            live: live::LiveFeed::default(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores entries durably: returns once they are in the fsynced WAL and readable.
    /// Entries of a stream should be in time order (they are sorted when flushed).
    pub fn append(
        &self,
        tenant: &str,
        batch: Vec<(Labels, Vec<LogEntry>)>,
    ) -> Result<LogAppendReport, LogStoreError> {
        let mut report = LogAppendReport::default();
        let mut records = Vec::with_capacity(batch.len());
        let mut resolved = Vec::with_capacity(batch.len());
        for (labels, entries) in batch {
            let Some(first) = entries.first() else {
                continue;
            };
            let before = self.streams.len();
            let stream = self
                .streams
                .get_or_create(tenant, &labels, first.timestamp_ns)?;
            report.streams_created += (self.streams.len() - before) as u64;
            let mut record = Vec::new();
            put_uvarint(&mut record, stream);
            encode_entries(&entries, &mut record);
            records.push(record);
            report.entries += entries.len() as u64;
            report.bytes += entries.iter().map(LogEntry::raw_len).sum::<usize>() as u64;
            resolved.push((stream, entries));
        }
        if records.is_empty() {
            return Ok(report);
        }
        let payloads: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        {
            let _gate = self
                .append_gate
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            self.wal.append_batch(&payloads)?;
            let mut head = self
                .head
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut live = self.live.has_subscribers().then(Vec::new);
            for (stream, entries) in resolved {
                if let Some(live) = live.as_mut() {
                    live.push((stream, entries.clone()));
                }
                let (min, max) = entries.iter().fold((i64::MAX, i64::MIN), |(min, max), e| {
                    (min.min(e.timestamp_ns), max.max(e.timestamp_ns))
                });
                self.streams.observe(stream, min, max);
                head.entry(stream).or_default().extend(entries);
            }
            drop(head);
            if let Some(streams) = live {
                self.live.publish(tenant, LiveBatch { streams });
            }
        }
        self.counters
            .entries_appended
            .fetch_add(report.entries, Ordering::Relaxed);
        self.counters
            .bytes_appended
            .fetch_add(report.bytes, Ordering::Relaxed);
        Ok(report)
    }

    /// Moves the head into the partitions: chunks per stream and day, committed, then the
    /// WAL segments holding them are deleted. Blocking; run it about once a second.
    pub fn flush(&self) -> Result<usize, LogStoreError> {
        // Marks what shared code (the WAL writer) logs meanwhile as the logs side's own,
        // which self logs do not store.
        let _span = tracing::info_span!("log_flush").entered();
        let _serialized = self
            .flush_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (taken, cut) = {
            let _gate = self
                .append_gate
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut head = self
                .head
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if head.is_empty() {
                return Ok(0);
            }
            let cut = self.wal.cut_segment()?;
            let taken = Arc::new(std::mem::take(&mut *head));
            *self
                .flushing
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = taken.clone();
            (taken, cut)
        };
        // Committed (and visible to new index reads) when this returns Ok.
        let outcome = self.write_chunks(&taken);
        {
            let mut head = self
                .head
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if outcome.is_err() {
                // Put the entries back: they stay readable and the next flush retries them.
                self.counters.flush_failures.fetch_add(1, Ordering::Relaxed);
                for (stream, entries) in taken.iter() {
                    let slot = head.entry(*stream).or_default();
                    let newer = std::mem::take(slot);
                    slot.extend(entries.iter().cloned());
                    slot.extend(newer);
                }
            }
            *self
                .flushing
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(HeadMap::new());
        }
        let chunks = outcome?;
        self.wal.truncate_before(cut)?;
        self.counters
            .chunks_flushed
            .fetch_add(chunks as u64, Ordering::Relaxed);
        Ok(chunks)
    }

    fn write_chunks(&self, taken: &HeadMap) -> Result<usize, LogStoreError> {
        let mut touched: BTreeMap<i64, Arc<Partition>> = BTreeMap::new();
        let mut chunks = 0usize;
        for (&stream, entries) in taken {
            // Pushes are almost always in time order: sort (a copy) only when needed.
            let sorted;
            let entries: &[LogEntry] = if entries.is_sorted_by_key(|entry| entry.timestamp_ns) {
                entries
            } else {
                let mut copy = entries.clone();
                copy.sort_by_key(|entry| entry.timestamp_ns);
                sorted = copy;
                &sorted
            };
            let mut start = 0;
            while start < entries.len() {
                let day = day_start(entries[start].timestamp_ns);
                let mut end = start;
                let mut bytes = 0usize;
                while end < entries.len()
                    && day_start(entries[end].timestamp_ns) == day
                    && (bytes < self.options.chunk_target_bytes || end == start)
                {
                    bytes += entries[end].raw_len();
                    end += 1;
                }
                let partition = self.partition(day)?;
                partition.add_chunk(stream, &entries[start..end])?;
                touched.insert(day, partition);
                chunks += 1;
                start = end;
            }
        }
        let today = touched.keys().next_back().copied().unwrap_or(i64::MIN);
        for (day, partition) in touched {
            partition.commit(day != today)?;
        }
        Ok(chunks)
    }

    fn partition(&self, day_start_ns: i64) -> Result<Arc<Partition>, LogStoreError> {
        if let Some(partition) = self
            .partitions
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&day_start_ns)
        {
            return Ok(partition.clone());
        }
        let mut partitions = self
            .partitions
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(partition) = partitions.get(&day_start_ns) {
            return Ok(partition.clone());
        }
        let dir = self
            .dir
            .join("index")
            .join((day_start_ns / DAY_NS).to_string());
        let partition = Arc::new(Partition::open(&dir)?);
        partitions.insert(day_start_ns, partition.clone());
        Ok(partition)
    }

    /// Streams of `tenant` matching the matchers with entries around `[start_ns, end_ns]`.
    pub fn select_streams(
        &self,
        tenant: &str,
        matchers: &[Matcher],
        start_ns: i64,
        end_ns: i64,
    ) -> Vec<StreamInfo> {
        self.streams.select(tenant, matchers, start_ns, end_ns)
    }

    pub fn label_names(
        &self,
        tenant: &str,
        matchers: &[Matcher],
        start_ns: i64,
        end_ns: i64,
    ) -> Vec<String> {
        self.streams.label_names(tenant, matchers, start_ns, end_ns)
    }

    pub fn label_values(
        &self,
        tenant: &str,
        name: &str,
        matchers: &[Matcher],
        start_ns: i64,
        end_ns: i64,
    ) -> Vec<String> {
        self.streams
            .label_values(tenant, name, matchers, start_ns, end_ns)
    }

    /// Entries of `streams` in `[start_ns, end_ns]`, per stream sorted by time with exact
    /// duplicates (same time and line) removed. Chunks in the index are pruned by stream,
    /// time and `required_tokens` (see [`tokens::required_tokens`]); entries not yet
    /// flushed are all returned.
    pub fn read(
        &self,
        streams: &[StreamId],
        start_ns: i64,
        end_ns: i64,
        required_tokens: &[tokens::TokenRequirement],
    ) -> Result<Vec<(StreamId, Vec<LogEntry>)>, LogStoreError> {
        let mut by_stream: HashMap<StreamId, Vec<LogEntry>> = HashMap::new();
        // Memory first, then the index: an entry a flush moves meanwhile is then read
        // twice at worst (removed below), never missed.
        {
            let head = self
                .head
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let flushing = self
                .flushing
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone();
            for stream in streams {
                for source in [flushing.get(stream), head.get(stream)]
                    .into_iter()
                    .flatten()
                {
                    by_stream.entry(*stream).or_default().extend(
                        source
                            .iter()
                            .filter(|e| e.timestamp_ns >= start_ns && e.timestamp_ns <= end_ns)
                            .cloned(),
                    );
                }
            }
        }
        let partitions: Vec<Arc<Partition>> = self
            .partitions
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .range(day_start(start_ns)..=day_start(end_ns))
            .map(|(_, partition)| partition.clone())
            .collect();
        for partition in partitions {
            for (stream, entries) in partition.read(streams, start_ns, end_ns, required_tokens)? {
                by_stream.entry(stream).or_default().extend(
                    entries
                        .into_iter()
                        .filter(|e| e.timestamp_ns >= start_ns && e.timestamp_ns <= end_ns),
                );
            }
        }
        let mut result: Vec<(StreamId, Vec<LogEntry>)> = by_stream.into_iter().collect();
        for (_, entries) in result.iter_mut() {
            entries.sort_by_key(|entry| entry.timestamp_ns);
            entries.dedup_by(|a, b| a.timestamp_ns == b.timestamp_ns && a.line == b.line);
        }
        result.retain(|(_, entries)| !entries.is_empty());
        result.sort_by_key(|(stream, _)| *stream);
        Ok(result)
    }

    /// Every entry `tenant` appends from now on (once durable), in append order, through a
    /// queue of `capacity` appends; see [`LiveSubscription`].
    pub fn subscribe_live(&self, tenant: &str, capacity: usize) -> LiveSubscription {
        self.live.subscribe(tenant, capacity)
    }

    pub fn stream_info(&self, stream: StreamId) -> Option<StreamInfo> {
        self.streams.info(stream)
    }

    /// Deletes partitions past `retention_ns` (by age) and, oldest first, while the total
    /// exceeds `retention_bytes`; the current day's partition is never deleted for size.
    pub fn apply_retention(&self, now_ns: i64) -> Result<usize, LogStoreError> {
        let _span = tracing::info_span!("log_retention").entered();
        let mut doomed = Vec::new();
        {
            let partitions = self
                .partitions
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let today = day_start(now_ns);
            if self.options.retention_ns > 0 {
                doomed.extend(
                    partitions
                        .keys()
                        .filter(|&&day| day + DAY_NS <= now_ns - self.options.retention_ns)
                        .copied(),
                );
            }
            if self.options.retention_bytes > 0 {
                let mut total: u64 = partitions
                    .iter()
                    .filter(|(day, _)| !doomed.contains(day))
                    .map(|(_, partition)| partition.disk_bytes())
                    .sum();
                for (day, partition) in partitions.iter() {
                    if total <= self.options.retention_bytes || *day >= today {
                        break;
                    }
                    if !doomed.contains(day) {
                        total = total.saturating_sub(partition.disk_bytes());
                        doomed.push(*day);
                    }
                }
            }
        }
        for day in &doomed {
            let removed = self
                .partitions
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .remove(day);
            if let Some(partition) = removed {
                let dir = partition.dir.clone();
                drop(partition);
                std::fs::remove_dir_all(&dir)
                    .map_err(|source| LogStoreError::Io { path: dir, source })?;
                self.counters
                    .partitions_deleted
                    .fetch_add(1, Ordering::Relaxed);
                tracing::info!(day = day / DAY_NS, "log partition deleted by retention");
            }
        }
        Ok(doomed.len())
    }
}

fn decode_record(payload: &[u8]) -> Result<(StreamId, Vec<LogEntry>), LogStoreError> {
    let mut reader = VarintReader::new(payload);
    let stream = reader
        .uvarint()
        .map_err(|err| LogStoreError::Corrupt(err.to_string()))?;
    let (entries, _) = decode_entries(reader.remaining())?;
    Ok((stream, entries))
}

impl Collect for LogStore {
    fn collect(&self, out: &mut TextWriter) {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed) as f64;
        let counters = &self.counters;
        for (name, help, value) in [
            (
                "sightline_logs_entries_appended_total",
                "Log entries stored.",
                load(&counters.entries_appended),
            ),
            (
                "sightline_logs_bytes_appended_total",
                "Bytes of log lines and metadata stored.",
                load(&counters.bytes_appended),
            ),
            (
                "sightline_logs_chunks_flushed_total",
                "Chunk documents written into the log index.",
                load(&counters.chunks_flushed),
            ),
            (
                "sightline_logs_flush_failures_total",
                "Head flushes into the log index that failed.",
                load(&counters.flush_failures),
            ),
            (
                "sightline_logs_partitions_deleted_total",
                "Log partitions deleted by retention.",
                load(&counters.partitions_deleted),
            ),
        ] {
            out.single(name, MetricKind::Counter, help, value);
        }
        out.single(
            "sightline_logs_streams",
            MetricKind::Gauge,
            "Log streams known.",
            self.streams.len() as f64,
        );
        let partitions = self
            .partitions
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        out.single(
            "sightline_logs_partitions",
            MetricKind::Gauge,
            "Daily log index partitions.",
            partitions.len() as f64,
        );
    }
}
