//! [`Tsdb::maintain`]: the periodic work that keeps memory and disk bounded. It cuts the
//! head into blocks (then checkpoints and truncates the WAL), compacts blocks and applies
//! retention. The formats and the reasoning are in `docs/format/block.md` ("The head cut",
//! "Compaction", "Retention") and `docs/format/wal.md` ("Truncation (checkpoints)").

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::block::{
    compaction, retention, Block, BlockId, BlockMeta, BlockWriter, ChunkBytes, CompactionMeta,
};
use super::block::{encode_chunks, encode_mixed_chunks, BLOCK_CHUNK_MAX_SAMPLES};
use super::checkpoint;
use super::chunk::FloatIter;
use super::db::{Tsdb, BLOCKS_DIR_NAME};
use super::error::TsdbError;
use super::head::WindowData;
use super::index::SeriesRef;

/// What one [`Tsdb::maintain`] call did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MaintainReport {
    /// Blocks written from the head.
    pub blocks_written: usize,
    /// Series removed from the head because all their samples are in blocks.
    pub series_removed: usize,
    /// WAL segments deleted after a checkpoint.
    pub wal_segments_removed: usize,
    pub compactions: usize,
    /// Blocks deleted by retention.
    pub blocks_deleted: usize,
}

impl Tsdb {
    /// Cuts the head into blocks where it holds more than 1.5 block ranges (reference time
    /// `min(now_ms, newest sample)`), checkpoints and truncates the WAL, compacts blocks and
    /// deletes blocks past retention. Blocking (run it on a blocking thread or a timer
    /// thread, e.g. every minute); safe to call concurrently with appends, queries and
    /// itself (calls are serialized). Every step runs even if an earlier one failed; the
    /// first error is returned after all of them.
    pub fn maintain(&self, now_ms: i64) -> Result<MaintainReport, TsdbError> {
        let _serialized = self
            .maintenance
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut report = MaintainReport::default();
        let counters = &self.maintenance_counters;
        let mut first_error = None;
        if let Err(error) = self.cut_head(now_ms, &mut report) {
            counters.head_cut_failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %error, "head cut failed; the data stays in the head");
            first_error.get_or_insert(error);
        }
        if let Err(error) = self.compact_blocks(now_ms, &mut report) {
            counters.compaction_failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %error, "block compaction failed");
            first_error.get_or_insert(error);
        }
        if let Err(error) = self.apply_retention(now_ms, &mut report) {
            tracing::error!(error = %error, "retention failed");
            first_error.get_or_insert(error);
        }
        if let Err(error) = self.forget_old_tombstones() {
            tracing::error!(error = %error, "cannot prune tombstones");
            first_error.get_or_insert(error);
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(report),
        }
    }

    fn blocks_dir(&self) -> std::path::PathBuf {
        self.dir.join(BLOCKS_DIR_NAME)
    }

    fn cut_head(&self, now_ms: i64, report: &mut MaintainReport) -> Result<(), TsdbError> {
        let range = self.head.chunk_range_ms;
        let Some((head_min, head_max)) = self.head.time_range() else {
            return Ok(());
        };
        // The last aligned window end that lies half a range behind the reference time.
        let reference = head_max.min(now_ms);
        let target = reference
            .saturating_sub(range / 2)
            .div_euclid(range)
            .saturating_mul(range);
        if target > self.head.min_valid_time() && head_min < target {
            let _gate = self
                .append_gate
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            self.head.raise_min_valid_time(target);
        }
        let end = self.head.min_valid_time();
        let windows = self.head.windows_before(end);
        if windows.is_empty() {
            return Ok(());
        }
        for start in windows {
            let window_end = start.saturating_add(range).min(end);
            if let Some(block) = self.persist_window(start, window_end, now_ms)? {
                report.blocks_written += 1;
                self.maintenance_counters
                    .blocks_written
                    .fetch_add(1, Ordering::Relaxed);
                self.add_block(block);
            }
            self.head.drop_before(window_end);
        }
        self.maintenance_counters
            .head_cuts
            .fetch_add(1, Ordering::Relaxed);
        {
            let _gate = self
                .append_gate
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let removed = self.head.remove_empty_series();
            if removed > 0 {
                // Keys may point at removed series; those still live are found again by
                // label on their next append.
                self.known_keys
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .clear_for(self.head.num_series());
            }
            report.series_removed += removed;
        }
        match self.checkpoint_wal() {
            Ok(removed) => {
                report.wal_segments_removed += removed;
                Ok(())
            }
            Err(error) => {
                self.maintenance_counters
                    .checkpoint_failures
                    .fetch_add(1, Ordering::Relaxed);
                Err(error)
            }
        }
    }

    /// Writes the head's data in `[start, end)` into a new block and opens it; `None` when
    /// the window holds nothing.
    fn persist_window(
        &self,
        start: i64,
        end: i64,
        now_ms: i64,
    ) -> Result<Option<Arc<Block>>, TsdbError> {
        let started = std::time::Instant::now();
        let blocks_dir = self.blocks_dir();
        let Some((id, meta)) = self.write_window(&blocks_dir, start, end, now_ms)? else {
            return Ok(None);
        };
        let block = Block::open(&blocks_dir.join(id.to_string()))?;
        tracing::info!(
            block = %id,
            min_time = start,
            max_time = end,
            series = meta.stats.series,
            samples = meta.stats.samples,
            bytes = meta.size_bytes(),
            seconds = started.elapsed().as_secs_f64(),
            "head window persisted into a block"
        );
        Ok(Some(Arc::new(block)))
    }

    /// Writes the head's samples in `[start, end)` as a block into `dir`; `None` when the
    /// window holds nothing.
    pub(super) fn write_window(
        &self,
        dir: &Path,
        start: i64,
        end: i64,
        now_ms: i64,
    ) -> Result<Option<(BlockId, BlockMeta)>, TsdbError> {
        let series = self.head.series_in_window(start, end);
        if series.is_empty() {
            return Ok(None);
        }
        let mut symbols = BTreeSet::new();
        for (_, labels) in &series {
            for (name, value) in labels {
                symbols.insert(name.as_str());
                symbols.insert(value.as_str());
            }
        }
        let symbols: Vec<String> = symbols.into_iter().map(str::to_owned).collect();
        let id = BlockId::new(now_ms);
        let mut writer = BlockWriter::create(dir, id, start, end, symbols)?;
        for (series_ref, labels) in &series {
            let Some(data) = self.head.window_data(*series_ref, start, end) else {
                continue;
            };
            add_window_series(&mut writer, labels, data)?;
        }
        let meta = writer.finish(CompactionMeta {
            level: 1,
            sources: vec![id],
            parents: Vec::new(),
        })?;
        Ok(Some((id, meta)))
    }

    fn add_block(&self, block: Arc<Block>) {
        let mut blocks = self
            .blocks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        blocks.push(block);
        blocks.sort_by_key(|block| (block.meta().min_time, block.id()));
    }

    /// Replaces the closed WAL segments by a checkpoint of what the head still needs.
    /// Returns how many segments were deleted.
    fn checkpoint_wal(&self) -> Result<usize, TsdbError> {
        // Every record in a segment below `below` was appended before this point, so the
        // series it defines that are still live are in the snapshot taken next.
        let below = self.wal.cut_segment()?;
        let live: HashSet<SeriesRef> = self.head.live_refs().into_iter().collect();
        let stats = checkpoint::write(&self.wal, below, &live, self.head.min_valid_time())?;
        self.maintenance_counters
            .checkpoints
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            checkpoint = stats.index,
            series = stats.series,
            samples = stats.samples,
            segments_removed = stats.segments_removed,
            "wal checkpointed"
        );
        Ok(stats.segments_removed)
    }

    fn compact_blocks(&self, now_ms: i64, report: &mut MaintainReport) -> Result<(), TsdbError> {
        let ranges = self.options.effective_compaction_ranges();
        // Each pass merges at least two blocks into one, so this bound is never the limit
        // in practice; it only guards against a planner bug looping forever.
        for _ in 0..64 {
            let (metas, blocks): (Vec<_>, Vec<Arc<Block>>) = {
                let blocks = self.blocks();
                (
                    blocks.iter().map(|block| block.meta().clone()).collect(),
                    blocks.clone(),
                )
            };
            let Some(ids) = compaction::plan(&metas, &ranges) else {
                return Ok(());
            };
            let mut inputs: Vec<Arc<Block>> = blocks
                .into_iter()
                .filter(|block| ids.contains(&block.id()))
                .collect();
            inputs.sort_by_key(|block| (block.meta().min_time, block.id()));
            let started = std::time::Instant::now();
            let meta = compaction::compact(&self.blocks_dir(), &inputs, now_ms)?;
            let block = Arc::new(Block::open(&self.blocks_dir().join(meta.id.to_string()))?);
            {
                let mut blocks = self
                    .blocks
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                blocks.retain(|existing| !ids.contains(&existing.id()));
                blocks.push(block);
                blocks.sort_by_key(|block| (block.meta().min_time, block.id()));
            }
            for input in &inputs {
                remove_block_dir(input.dir());
            }
            report.compactions += 1;
            self.maintenance_counters
                .compactions
                .fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                block = %meta.id,
                inputs = inputs.len(),
                level = meta.compaction.level,
                min_time = meta.min_time,
                max_time = meta.max_time,
                bytes = meta.size_bytes(),
                seconds = started.elapsed().as_secs_f64(),
                "blocks compacted"
            );
        }
        Ok(())
    }

    /// Tombstones ending before the oldest data kept cannot cover anything any more.
    fn forget_old_tombstones(&self) -> Result<(), TsdbError> {
        let oldest_block = self
            .blocks()
            .iter()
            .map(|block| block.meta().min_time)
            .min();
        let oldest_head = self.head.time_range().map(|(min, _)| min);
        let oldest = match (oldest_block, oldest_head) {
            (Some(block), Some(head)) => block.min(head),
            (Some(only), None) | (None, Some(only)) => only,
            (None, None) => return Ok(()),
        };
        self.tombstones.forget_before(oldest)?;
        Ok(())
    }

    fn apply_retention(&self, now_ms: i64, report: &mut MaintainReport) -> Result<(), TsdbError> {
        let metas: Vec<_> = self
            .blocks()
            .iter()
            .map(|block| block.meta().clone())
            .collect();
        if metas.is_empty() {
            return Ok(());
        }
        let wal_bytes = dir_size(self.wal.dir());
        let doomed = retention::plan(
            &metas,
            now_ms,
            self.options.retention_time.as_millis(),
            self.options.retention_size.bytes(),
            wal_bytes,
        );
        if doomed.is_empty() {
            return Ok(());
        }
        let removed: Vec<Arc<Block>> = {
            let mut blocks = self
                .blocks
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let (removed, kept) = std::mem::take(&mut *blocks)
                .into_iter()
                .partition(|block| doomed.iter().any(|(id, _)| *id == block.id()));
            *blocks = kept;
            removed
        };
        for (id, reason) in &doomed {
            let counter = match reason {
                retention::RetentionReason::Time => {
                    &self.maintenance_counters.retention_time_deletions
                }
                retention::RetentionReason::Size => {
                    &self.maintenance_counters.retention_size_deletions
                }
            };
            counter.fetch_add(1, Ordering::Relaxed);
            tracing::info!(block = %id, reason = reason.as_str(), "block deleted by retention");
        }
        for block in &removed {
            remove_block_dir(block.dir());
        }
        report.blocks_deleted += removed.len();
        Ok(())
    }
}

/// Adds one series' window data to a block. Consecutive head chunks are joined into chunks
/// of up to [`BLOCK_CHUNK_MAX_SAMPLES`] (see "Choices" in `docs/format/block.md`).
fn add_window_series(
    writer: &mut BlockWriter,
    labels: &[(String, String)],
    data: WindowData,
) -> Result<(), TsdbError> {
    let samples = match data {
        WindowData::Chunks(chunks) => {
            let total: usize = chunks
                .iter()
                .map(|(_, _, bytes)| chunk_samples(bytes))
                .sum();
            if chunks.len() <= total.div_ceil(BLOCK_CHUNK_MAX_SAMPLES) {
                let chunk_bytes: Vec<ChunkBytes<'_>> = chunks
                    .iter()
                    .map(|(min_time, max_time, bytes)| ChunkBytes {
                        min_time: *min_time,
                        max_time: *max_time,
                        bytes,
                    })
                    .collect();
                writer.add_series(labels, &chunk_bytes)?;
                return Ok(());
            }
            let mut samples = Vec::with_capacity(total);
            for (_, _, bytes) in &chunks {
                let Ok(iter) = FloatIter::new(bytes) else {
                    continue;
                };
                samples.extend(iter);
            }
            samples
        }
        WindowData::Samples(samples) => samples,
        WindowData::Mixed { floats, histograms } => {
            let encoded = encode_mixed_chunks(&floats, &histograms, BLOCK_CHUNK_MAX_SAMPLES);
            let chunk_bytes: Vec<ChunkBytes<'_>> =
                encoded.iter().map(|chunk| chunk.as_chunk_bytes()).collect();
            if !chunk_bytes.is_empty() {
                writer.add_series(labels, &chunk_bytes)?;
            }
            return Ok(());
        }
    };
    if samples.is_empty() {
        return Ok(());
    }
    let encoded = encode_chunks(&samples, BLOCK_CHUNK_MAX_SAMPLES);
    let chunk_bytes: Vec<ChunkBytes<'_>> =
        encoded.iter().map(|chunk| chunk.as_chunk_bytes()).collect();
    writer.add_series(labels, &chunk_bytes)?;
    Ok(())
}

/// Samples in an encoded chunk (from its header).
fn chunk_samples(bytes: &[u8]) -> usize {
    match bytes {
        [_, high, low, ..] => usize::from(u16::from_be_bytes([*high, *low])),
        _ => 0,
    }
}

fn remove_block_dir(dir: &Path) {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => tracing::warn!(dir = %dir.display(), error = %error, "cannot remove block"),
    }
}

/// Total bytes of the files under `dir`.
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(metadata) if metadata.is_dir() => dir_size(&entry.path()),
            Ok(metadata) => metadata.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests;
