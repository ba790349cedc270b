//! The WAL handle: open (recovery + replay), group-committed appends, segment rollover and
//! truncation.
//!
//! Group commit: every caller frames its payloads (checksums computed outside any lock),
//! appends the frames to a shared queue and takes a ticket. If no commit is in progress the
//! caller becomes the leader: it takes the whole queue, writes it with one `write` and one
//! `fdatasync`, marks every ticket in it durable and wakes the waiting callers. Callers that
//! arrive while a commit is running wait; the next of them to wake leads the next commit, which
//! carries everything queued in the meantime. So N concurrent writers share one fsync.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

use super::error::WalError;
use super::reader::{recover, ReplayIter};
use super::segment::{
    frame_header, frame_len, list_segments, max_payload_len, segment_path, sync_dir, SegmentFile,
    FRAME_HEADER_LEN, SEGMENT_HEADER_LEN,
};

/// Default size bound of a segment file.
pub const DEFAULT_SEGMENT_SIZE_BYTES: u64 = 128 * 1024 * 1024;
/// Smallest accepted segment size.
pub const MIN_SEGMENT_SIZE_BYTES: u64 = 4 * 1024;
/// Largest accepted segment size (frame lengths are 32-bit).
pub const MAX_SEGMENT_SIZE_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// A drained queue buffer larger than this is freed rather than kept for reuse.
const MAX_REUSED_BUFFER_BYTES: usize = 16 * 1024 * 1024;

/// When appends are made durable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SyncMode {
    /// `fdatasync` before an append returns (group-committed). The production setting.
    #[default]
    Always,
    /// Never fsync on append; data reaches the disk when the OS writes it back, or on
    /// [`Wal::sync`]. For benchmarks and tests only: acknowledged appends can be lost.
    Never,
}

/// Configuration of a [`Wal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOptions {
    /// A segment is closed and the next one started before it would grow past this size.
    /// One record never spans segments, so this also bounds the record size.
    pub segment_size_bytes: u64,
    pub sync_mode: SyncMode,
}

impl Default for WalOptions {
    fn default() -> Self {
        Self {
            segment_size_bytes: DEFAULT_SEGMENT_SIZE_BYTES,
            sync_mode: SyncMode::Always,
        }
    }
}

/// Counters since [`Wal::open`], for self-metrics and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Records made durable (or written, with [`SyncMode::Never`]).
    pub records_appended: u64,
    /// Frame bytes written, headers included.
    pub bytes_appended: u64,
    /// Group commits: one per leader round.
    pub commits: u64,
    /// `fdatasync` calls on segment files.
    pub syncs: u64,
    /// Total time spent in those `fdatasync` calls.
    pub sync_nanos: u64,
    pub segments_created: u64,
    pub segments_removed: u64,
}

#[derive(Default)]
struct Counters {
    records_appended: AtomicU64,
    bytes_appended: AtomicU64,
    commits: AtomicU64,
    syncs: AtomicU64,
    sync_nanos: AtomicU64,
    segments_created: AtomicU64,
    segments_removed: AtomicU64,
}

/// Frames waiting for the next commit.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    /// End offset (in `bytes`) of each frame, ascending: the places a batch may be split at
    /// a segment boundary.
    frame_ends: Vec<usize>,
}

impl Batch {
    fn clear(&mut self) {
        self.bytes.clear();
        self.frame_ends.clear();
    }
}

struct Queue {
    pending: Batch,
    /// An emptied batch kept to avoid reallocating.
    spare: Batch,
    /// Ticket of the most recent caller that queued frames.
    last_ticket: u64,
    /// Every ticket up to this one is durable.
    durable_ticket: u64,
    leader_active: bool,
    /// Set once a commit failed; the WAL then refuses all further appends.
    failure: Option<String>,
}

/// The segment being appended to, touched only by the commit leader and maintenance calls.
struct Log {
    segment: SegmentFile,
    /// With [`SyncMode::Never`]: finished segments not yet fsynced, for [`Wal::sync`].
    unsynced_finished: Vec<SegmentFile>,
}

/// The write-ahead log of one directory (`<data>/wal`). `Send + Sync`: share it by reference
/// or in an `Arc`; every method takes `&self`.
///
/// `append` blocks the calling thread until its records are durable; from async code call it
/// through `spawn_blocking` or a dedicated thread.
pub struct Wal {
    dir: PathBuf,
    options: WalOptions,
    max_payload_len: usize,
    queue: Mutex<Queue>,
    commit_done: Condvar,
    log: Mutex<Log>,
    current_index: AtomicU32,
    counters: Counters,
}

/// Locks a mutex, carrying on if a panicking thread poisoned it: every critical section here
/// leaves the protected state consistent, and a panicking leader poisons the WAL itself.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Wal {
    /// Opens (creating if needed) the WAL in `dir`, repairs a torn tail, and returns the handle
    /// together with the replay of every record that survived. Appends go to the end of the
    /// last segment (or a new one), so they replay after the returned records next time.
    pub fn open(dir: impl AsRef<Path>, options: WalOptions) -> Result<(Wal, ReplayIter), WalError> {
        let dir = dir.as_ref().to_path_buf();
        let size = options.segment_size_bytes;
        if !(MIN_SEGMENT_SIZE_BYTES..=MAX_SEGMENT_SIZE_BYTES).contains(&size) {
            return Err(WalError::SegmentSizeOutOfRange {
                size,
                min: MIN_SEGMENT_SIZE_BYTES,
                max: MAX_SEGMENT_SIZE_BYTES,
            });
        }
        let existed = dir.is_dir();
        std::fs::create_dir_all(&dir).map_err(|source| WalError::CreateDir {
            path: dir.clone(),
            source,
        })?;
        if !existed && options.sync_mode == SyncMode::Always {
            if let Some(parent) = dir.parent().filter(|parent| !parent.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
        }

        let recovered = recover(&dir)?;
        let replay = ReplayIter::new(&dir, &recovered.segments);
        let counters = Counters::default();
        let segment = match recovered.segments.last() {
            Some(last) if last.len < size => {
                SegmentFile::open_for_append(&dir, last.index, last.len)?
            }
            _ => {
                let segment = SegmentFile::create(&dir, recovered.next_index)?;
                if options.sync_mode == SyncMode::Always {
                    segment.sync_data()?;
                    sync_dir(&dir)?;
                }
                counters.segments_created.fetch_add(1, Ordering::Relaxed);
                segment
            }
        };
        tracing::info!(
            wal_dir = %dir.display(),
            segments = recovered.segments.len(),
            current_segment = segment.index(),
            "wal opened"
        );

        let wal = Wal {
            current_index: AtomicU32::new(segment.index()),
            dir,
            options,
            max_payload_len: max_payload_len(size),
            queue: Mutex::new(Queue {
                pending: Batch::default(),
                spare: Batch::default(),
                last_ticket: 0,
                durable_ticket: 0,
                leader_active: false,
                failure: None,
            }),
            commit_done: Condvar::new(),
            log: Mutex::new(Log {
                segment,
                unsynced_finished: Vec::new(),
            }),
            counters,
        };
        Ok((wal, replay))
    }

    /// Appends one record and returns once it is durable (see [`SyncMode`]).
    pub fn append(&self, payload: &[u8]) -> Result<(), WalError> {
        self.append_batch(&[payload])
    }

    /// Appends records in order, contiguously, and returns once all are durable. The records
    /// are not atomic as a group: after a crash during the call a prefix of them may replay.
    pub fn append_batch(&self, payloads: &[&[u8]]) -> Result<(), WalError> {
        if payloads.is_empty() {
            return Ok(());
        }
        let mut headers = Vec::with_capacity(payloads.len());
        for payload in payloads {
            if payload.len() > self.max_payload_len {
                return Err(WalError::RecordTooLarge {
                    len: payload.len(),
                    max: self.max_payload_len,
                });
            }
            headers.push(frame_header(payload));
        }

        let mut queue = lock(&self.queue);
        if let Some(cause) = &queue.failure {
            return Err(WalError::Poisoned {
                cause: cause.clone(),
            });
        }
        let added: usize = payloads
            .iter()
            .map(|payload| frame_len(payload.len()))
            .sum();
        queue.pending.bytes.reserve(added);
        for (header, payload) in headers.iter().zip(payloads) {
            queue.pending.bytes.extend_from_slice(header);
            queue.pending.bytes.extend_from_slice(payload);
            let end = queue.pending.bytes.len();
            queue.pending.frame_ends.push(end);
        }
        queue.last_ticket += 1;
        let ticket = queue.last_ticket;

        loop {
            if queue.durable_ticket >= ticket {
                return Ok(());
            }
            if let Some(cause) = &queue.failure {
                return Err(WalError::Poisoned {
                    cause: cause.clone(),
                });
            }
            if !queue.leader_active {
                return self.lead_commit(queue);
            }
            queue = self
                .commit_done
                .wait(queue)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// Runs one group commit for everything queued, as the leader. Returns the leader's own
    /// outcome; its ticket is always part of the batch.
    fn lead_commit(&self, mut queue: MutexGuard<'_, Queue>) -> Result<(), WalError> {
        debug_assert!(!queue.leader_active);
        debug_assert!(
            !queue.pending.frame_ends.is_empty(),
            "the leader's own frames are queued"
        );
        queue.leader_active = true;
        let spare = std::mem::take(&mut queue.spare);
        let mut batch = std::mem::replace(&mut queue.pending, spare);
        let batch_ticket = queue.last_ticket;
        drop(queue);

        let mut guard = LeaderGuard {
            wal: self,
            finished: false,
        };
        let outcome = self.write_batch(&batch);
        guard.finished = true;
        drop(guard);

        let mut queue = lock(&self.queue);
        queue.leader_active = false;
        match &outcome {
            Ok(()) => {
                debug_assert!(batch_ticket > queue.durable_ticket);
                queue.durable_ticket = batch_ticket;
                self.counters.commits.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .records_appended
                    .fetch_add(batch.frame_ends.len() as u64, Ordering::Relaxed);
                self.counters
                    .bytes_appended
                    .fetch_add(batch.bytes.len() as u64, Ordering::Relaxed);
                if batch.bytes.capacity() <= MAX_REUSED_BUFFER_BYTES {
                    batch.clear();
                    queue.spare = batch;
                }
            }
            Err(error) => {
                tracing::error!(%error, "wal commit failed; further appends are refused");
                queue.failure = Some(error.to_string());
            }
        }
        drop(queue);
        self.commit_done.notify_all();
        outcome
    }

    /// Writes a batch at the end of the log, rolling to new segments at frame boundaries when
    /// the current one would exceed its size bound, then syncs.
    fn write_batch(&self, batch: &Batch) -> Result<(), WalError> {
        let mut log = lock(&self.log);
        let segment_size = self.options.segment_size_bytes;
        let mut written = 0usize; // bytes of the batch already written
        let mut frames_written = 0usize;
        while frames_written < batch.frame_ends.len() {
            let room = usize::try_from(segment_size.saturating_sub(log.segment.len()))
                .unwrap_or(usize::MAX);
            let fitting =
                batch.frame_ends[frames_written..].partition_point(|&end| end - written <= room);
            if fitting == 0 {
                if log.segment.has_no_frames() {
                    // Unreachable: payloads are bounded by `max_payload_len`. Write the frame
                    // anyway rather than looping over empty segments.
                    debug_assert!(false, "a frame larger than an empty segment was queued");
                    let end = batch.frame_ends[frames_written];
                    log.segment.write(&batch.bytes[written..end])?;
                    written = end;
                    frames_written += 1;
                    continue;
                }
                self.roll(&mut log)?;
                continue;
            }
            frames_written += fitting;
            let end = batch.frame_ends[frames_written - 1];
            log.segment.write(&batch.bytes[written..end])?;
            written = end;
        }
        debug_assert_eq!(written, batch.bytes.len());
        if self.options.sync_mode == SyncMode::Always {
            self.sync_segment(&log.segment)?;
        }
        Ok(())
    }

    fn sync_segment(&self, segment: &SegmentFile) -> Result<(), WalError> {
        let started = Instant::now();
        segment.sync_data()?;
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.counters.syncs.fetch_add(1, Ordering::Relaxed);
        self.counters.sync_nanos.fetch_add(nanos, Ordering::Relaxed);
        Ok(())
    }

    /// Finishes the current segment and starts the next one.
    fn roll(&self, log: &mut Log) -> Result<(), WalError> {
        let finished_index = log.segment.index();
        let next_index = finished_index
            .checked_add(1)
            .ok_or(WalError::SegmentIndexOverflow {
                last: finished_index,
            })?;
        if self.options.sync_mode == SyncMode::Always {
            self.sync_segment(&log.segment)?;
        }
        let next = SegmentFile::create(&self.dir, next_index)?;
        if self.options.sync_mode == SyncMode::Always {
            self.sync_segment(&next)?;
            sync_dir(&self.dir)?;
        }
        let finished = std::mem::replace(&mut log.segment, next);
        if self.options.sync_mode == SyncMode::Never {
            log.unsynced_finished.push(finished);
        }
        self.current_index.store(next_index, Ordering::Release);
        self.counters
            .segments_created
            .fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            wal_dir = %self.dir.display(),
            finished_segment = finished_index,
            segment = next_index,
            "wal segment started"
        );
        Ok(())
    }

    fn check_not_poisoned(&self) -> Result<(), WalError> {
        match &lock(&self.queue).failure {
            Some(cause) => Err(WalError::Poisoned {
                cause: cause.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Closes the current segment (unless it holds no record yet) and starts a new one.
    /// Returns the index of the segment now being written: every record whose append returned
    /// before this call lies in a lower-numbered segment.
    pub fn cut_segment(&self) -> Result<u32, WalError> {
        self.check_not_poisoned()?;
        let mut log = lock(&self.log);
        if !log.segment.has_no_frames() {
            self.roll(&mut log)?;
        }
        Ok(log.segment.index())
    }

    /// Index of the segment being written.
    pub fn current_segment(&self) -> u32 {
        self.current_index.load(Ordering::Acquire)
    }

    /// Deletes every segment numbered below `segment_index`, oldest first, once the caller has
    /// persisted their contents elsewhere. `segment_index` may be at most
    /// [`Wal::current_segment`]. Returns how many segments were deleted.
    pub fn truncate_before(&self, segment_index: u32) -> Result<usize, WalError> {
        let current = self.current_segment();
        if segment_index > current {
            return Err(WalError::TruncateBeyondCurrent {
                requested: segment_index,
                current,
            });
        }
        let mut removed = 0usize;
        for index in list_segments(&self.dir)? {
            if index >= segment_index {
                break;
            }
            let path = segment_path(&self.dir, index);
            match std::fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(WalError::Remove { path, source }),
            }
        }
        if removed > 0 {
            sync_dir(&self.dir)?;
            self.counters
                .segments_removed
                .fetch_add(removed as u64, Ordering::Relaxed);
            // Debug, not info: the log store truncates its WAL after every flush, up to once
            // a second. (Its flush span keeps the event out of self logs, which once made
            // an idle server flush forever.)
            tracing::debug!(
                wal_dir = %self.dir.display(),
                before_segment = segment_index,
                removed_segments = removed,
                "wal truncated"
            );
        }
        Ok(removed)
    }

    /// Makes everything appended so far durable, whatever the [`SyncMode`]. For shutdown and
    /// for [`SyncMode::Never`].
    pub fn sync(&self) -> Result<(), WalError> {
        self.check_not_poisoned()?;
        let mut log = lock(&self.log);
        for finished in std::mem::take(&mut log.unsynced_finished) {
            self.sync_segment(&finished)?;
        }
        self.sync_segment(&log.segment)?;
        sync_dir(&self.dir)
    }

    /// The WAL directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn options(&self) -> WalOptions {
        self.options
    }

    /// The largest payload [`Wal::append`] accepts with these options.
    pub fn max_record_len(&self) -> usize {
        self.max_payload_len
    }

    pub fn stats(&self) -> WalStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        WalStats {
            records_appended: read(&self.counters.records_appended),
            bytes_appended: read(&self.counters.bytes_appended),
            commits: read(&self.counters.commits),
            syncs: read(&self.counters.syncs),
            sync_nanos: read(&self.counters.sync_nanos),
            segments_created: read(&self.counters.segments_created),
            segments_removed: read(&self.counters.segments_removed),
        }
    }
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Wal")
            .field("dir", &self.dir)
            .field("options", &self.options)
            .field("current_segment", &self.current_segment())
            .finish()
    }
}

/// If the leader unwinds out of a commit, poisons the WAL and wakes the waiters, which would
/// otherwise wait for a commit that never ends.
struct LeaderGuard<'a> {
    wal: &'a Wal,
    finished: bool,
}

impl Drop for LeaderGuard<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut queue = lock(&self.wal.queue);
        queue.leader_active = false;
        queue.failure = Some("a wal commit panicked".to_string());
        drop(queue);
        self.wal.commit_done.notify_all();
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Wal>();
    // Frame overhead is what `max_payload_len` assumes.
    assert!(FRAME_HEADER_LEN == 9 && SEGMENT_HEADER_LEN == 8);
};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn small_segments(sync_mode: SyncMode) -> WalOptions {
        WalOptions {
            segment_size_bytes: MIN_SEGMENT_SIZE_BYTES,
            sync_mode,
        }
    }

    fn open(dir: &Path, options: WalOptions) -> (Wal, Vec<Vec<u8>>) {
        let (wal, replay) = Wal::open(dir, options).unwrap();
        let payloads = replay.collect::<Result<Vec<_>, _>>().unwrap();
        (wal, payloads)
    }

    fn record(label: &str, index: usize, len: usize) -> Vec<u8> {
        let mut payload = format!("{label}-{index}:").into_bytes();
        payload.resize(len.max(payload.len()), (index % 251) as u8);
        payload
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, replayed) = open(dir.path(), WalOptions::default());
        assert!(replayed.is_empty());
        wal.append(b"first").unwrap();
        wal.append(b"").unwrap();
        wal.append_batch(&[b"second", b"third"]).unwrap();
        wal.append_batch(&[]).unwrap();
        let stats = wal.stats();
        assert_eq!(stats.records_appended, 4);
        assert_eq!(stats.commits, 3);
        assert!(stats.syncs >= 3);
        drop(wal);

        let (_, replayed) = open(dir.path(), WalOptions::default());
        let expected: Vec<&[u8]> = vec![b"first", b"", b"second", b"third"];
        assert_eq!(replayed, expected);
        assert_eq!(list_segments(dir.path()).unwrap(), vec![1]);
    }

    #[test]
    fn reopen_continues_the_last_segment() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = open(dir.path(), WalOptions::default());
        wal.append(b"a").unwrap();
        wal.append(b"b").unwrap();
        drop(wal);
        let (wal, replayed) = open(dir.path(), WalOptions::default());
        assert_eq!(replayed, vec![b"a".to_vec(), b"b".to_vec()]);
        wal.append(b"c").unwrap();
        drop(wal);
        let (wal, replayed) = open(dir.path(), WalOptions::default());
        assert_eq!(replayed, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(wal.current_segment(), 1);
        assert_eq!(wal.stats().segments_created, 0);
    }

    #[test]
    fn torn_last_record_at_every_byte_offset() {
        let source = tempfile::tempdir().unwrap();
        let payloads = vec![
            b"first".to_vec(),
            record("second", 2, 200),
            record("third", 3, 37),
        ];
        let (wal, _) = open(source.path(), WalOptions::default());
        for payload in &payloads {
            wal.append(payload).unwrap();
        }
        drop(wal);
        let intact = std::fs::read(segment_path(source.path(), 1)).unwrap();
        let last_start = intact.len() - frame_len(payloads[2].len());

        for cut in last_start..intact.len() {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(segment_path(dir.path(), 1), &intact[..cut]).unwrap();

            let (wal, replayed) = open(dir.path(), WalOptions::default());
            assert_eq!(replayed, payloads[..2], "cut at byte {cut}");
            let len = std::fs::metadata(segment_path(dir.path(), 1))
                .unwrap()
                .len();
            assert_eq!(len, last_start as u64, "cut at byte {cut}");
            wal.append(b"after repair").unwrap();
            drop(wal);

            let (_, replayed) = open(dir.path(), WalOptions::default());
            let mut expected = payloads[..2].to_vec();
            expected.push(b"after repair".to_vec());
            assert_eq!(replayed, expected, "cut at byte {cut}");
        }
    }

    #[test]
    fn corrupt_checksum_in_the_middle_of_the_last_segment() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = open(dir.path(), WalOptions::default());
        for index in 0..5 {
            wal.append(&record("r", index, 100)).unwrap();
        }
        drop(wal);
        let path = segment_path(dir.path(), 1);
        let mut bytes = std::fs::read(&path).unwrap();
        let third_start = SEGMENT_HEADER_LEN as usize + 2 * frame_len(100);
        bytes[third_start + FRAME_HEADER_LEN + 50] ^= 1;
        std::fs::write(&path, bytes).unwrap();

        let (wal, replayed) = open(dir.path(), WalOptions::default());
        assert_eq!(replayed, vec![record("r", 0, 100), record("r", 1, 100)]);
        wal.append(b"next").unwrap();
        drop(wal);
        let (_, replayed) = open(dir.path(), WalOptions::default());
        assert_eq!(replayed.len(), 3);
        assert_eq!(replayed[2], b"next");
    }

    #[test]
    fn zero_filled_tail() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = open(dir.path(), WalOptions::default());
        wal.append(b"kept").unwrap();
        drop(wal);
        let path = segment_path(dir.path(), 1);
        let valid_len = std::fs::metadata(&path).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(valid_len + 10_000)
            .unwrap();

        let (wal, replayed) = open(dir.path(), WalOptions::default());
        assert_eq!(replayed, vec![b"kept".to_vec()]);
        wal.append(b"more").unwrap();
        drop(wal);
        let (_, replayed) = open(dir.path(), WalOptions::default());
        assert_eq!(replayed, vec![b"kept".to_vec(), b"more".to_vec()]);
    }

    #[test]
    fn rollover_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let options = small_segments(SyncMode::Always);
        let (wal, _) = open(dir.path(), options);
        let payloads: Vec<Vec<u8>> = (0..60).map(|index| record("roll", index, 300)).collect();
        for payload in &payloads[..40] {
            wal.append(payload).unwrap();
        }
        let batch: Vec<&[u8]> = payloads[40..].iter().map(Vec::as_slice).collect();
        wal.append_batch(&batch).unwrap();
        let largest = vec![9u8; wal.max_record_len()];
        wal.append(&largest).unwrap();
        let too_large = vec![9u8; wal.max_record_len() + 1];
        assert!(matches!(
            wal.append(&too_large),
            Err(WalError::RecordTooLarge { .. })
        ));
        drop(wal);

        let segments = list_segments(dir.path()).unwrap();
        assert!(segments.len() >= 5, "{segments:?}");
        assert_eq!(segments, (1..=segments.len() as u32).collect::<Vec<_>>());
        for &index in &segments {
            let len = std::fs::metadata(segment_path(dir.path(), index))
                .unwrap()
                .len();
            assert!(
                len <= options.segment_size_bytes,
                "segment {index} has {len} bytes"
            );
        }
        let (_, replayed) = open(dir.path(), options);
        let mut expected = payloads.clone();
        expected.push(largest);
        assert_eq!(replayed, expected);
    }

    #[test]
    fn truncate_before_deletes_older_segments() {
        let dir = tempfile::tempdir().unwrap();
        let options = small_segments(SyncMode::Always);
        let (wal, _) = open(dir.path(), options);
        for index in 0..30 {
            wal.append(&record("old", index, 500)).unwrap();
        }
        let boundary = wal.cut_segment().unwrap();
        assert_eq!(
            wal.cut_segment().unwrap(),
            boundary,
            "an empty segment is not cut again"
        );
        wal.append(b"new").unwrap();
        assert!(boundary > 1);
        assert!(matches!(
            wal.truncate_before(boundary + 1),
            Err(WalError::TruncateBeyondCurrent { .. })
        ));
        let removed = wal.truncate_before(boundary).unwrap();
        assert_eq!(removed, boundary as usize - 1);
        assert_eq!(wal.truncate_before(boundary).unwrap(), 0);
        assert_eq!(list_segments(dir.path()).unwrap(), vec![boundary]);
        wal.append(b"newer").unwrap();
        drop(wal);

        let (wal, replayed) = open(dir.path(), options);
        assert_eq!(replayed, vec![b"new".to_vec(), b"newer".to_vec()]);
        assert_eq!(wal.current_segment(), boundary);
    }

    #[test]
    fn concurrent_appends_are_all_durable() {
        const THREADS: usize = 8;
        const PER_THREAD: usize = 1000;
        let dir = tempfile::tempdir().unwrap();
        let options = WalOptions {
            segment_size_bytes: 256 * 1024,
            sync_mode: SyncMode::Always,
        };
        let (wal, _) = open(dir.path(), options);
        let wal = Arc::new(wal);
        let handles: Vec<_> = (0..THREADS)
            .map(|thread| {
                let wal = Arc::clone(&wal);
                std::thread::spawn(move || {
                    for index in 0..PER_THREAD {
                        let mut payload = vec![thread as u8];
                        payload.extend_from_slice(&(index as u32).to_le_bytes());
                        payload.resize(16 + index % 200, 0xab);
                        wal.append(&payload).unwrap();
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        let stats = wal.stats();
        assert_eq!(stats.records_appended, (THREADS * PER_THREAD) as u64);
        assert!(stats.commits <= stats.records_appended);
        drop(wal);

        let (_, replayed) = open(dir.path(), options);
        assert_eq!(replayed.len(), THREADS * PER_THREAD);
        let mut next_expected = [0u32; THREADS];
        for payload in &replayed {
            let thread = payload[0] as usize;
            let index = u32::from_le_bytes([payload[1], payload[2], payload[3], payload[4]]);
            // Each thread's appends return in order, so they replay in order.
            assert_eq!(index, next_expected[thread], "thread {thread}");
            next_expected[thread] += 1;
        }
        assert!(next_expected
            .iter()
            .all(|&count| count as usize == PER_THREAD));
    }

    #[test]
    fn sync_mode_never_and_explicit_sync() {
        let dir = tempfile::tempdir().unwrap();
        let options = small_segments(SyncMode::Never);
        let (wal, _) = open(dir.path(), options);
        for index in 0..20 {
            wal.append(&record("n", index, 700)).unwrap();
        }
        assert_eq!(wal.stats().syncs, 0);
        wal.sync().unwrap();
        assert!(wal.stats().syncs >= 2);
        drop(wal);
        let (_, replayed) = open(dir.path(), options);
        assert_eq!(replayed.len(), 20);
    }

    #[test]
    fn invalid_segment_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let options = WalOptions {
            segment_size_bytes: 100,
            ..WalOptions::default()
        };
        let error = Wal::open(dir.path(), options).unwrap_err();
        assert!(matches!(
            error,
            WalError::SegmentSizeOutOfRange { size: 100, .. }
        ));
    }

    #[test]
    fn creates_a_missing_directory() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data").join("wal");
        let (wal, _) = open(&dir, WalOptions::default());
        wal.append(b"x").unwrap();
        assert!(segment_path(&dir, 1).is_file());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn random_payload_sequences_round_trip(
            rounds in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1500), 0..20),
                1..4,
            )
        ) {
            let dir = tempfile::tempdir().unwrap();
            let options = small_segments(SyncMode::Never);
            let mut expected: Vec<Vec<u8>> = Vec::new();
            for round in &rounds {
                let (wal, replayed) = open(dir.path(), options);
                prop_assert_eq!(&replayed, &expected);
                for (position, payload) in round.iter().enumerate() {
                    if position % 3 == 2 {
                        wal.append_batch(&[payload.as_slice(), b"pair"]).unwrap();
                        expected.push(payload.clone());
                        expected.push(b"pair".to_vec());
                    } else {
                        wal.append(payload).unwrap();
                        expected.push(payload.clone());
                    }
                }
            }
            let (_, replayed) = open(dir.path(), options);
            prop_assert_eq!(replayed, expected);
        }
    }
}
