//! WAL checkpoints: after a head cut, the records of the closed WAL segments that are still
//! needed (definitions of series still in the head, samples not yet in a block) are copied
//! into `wal/checkpoint.<n>/`, and the segments below `n` are deleted. Replay reads the
//! checkpoint first, then the segments from `n` on. See "Truncation (checkpoints)" in
//! `docs/format/wal.md`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::error::TsdbError;
use super::index::SeriesRef;
use super::records::{self, HeadRecord};
use super::wal::{
    remove_segments_before, replay_segments, segment_file_name, ReplayIter, SyncMode, Wal,
    WalError, WalOptions,
};
use crate::metrics::histogram::FloatHistogram;

const PREFIX: &str = "checkpoint.";
const TMP_SUFFIX: &str = ".tmp";
/// Target size of one checkpoint record.
const RECORD_TARGET_BYTES: usize = 1 << 20;

/// The checkpoint directory name for segment index `index`.
pub fn checkpoint_name(index: u32) -> String {
    format!("{PREFIX}{}", segment_file_name(index))
}

fn parse_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix(PREFIX)?;
    let index: u32 = digits.parse().ok()?;
    (segment_file_name(index) == digits).then_some(index)
}

/// Complete checkpoints in `wal_dir`, ascending.
fn list(wal_dir: &Path) -> Result<Vec<(u32, PathBuf)>, TsdbError> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(wal_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(source) => {
            return Err(WalError::ListDir {
                path: wal_dir.to_path_buf(),
                source,
            }
            .into())
        }
    };
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if let Some(index) = parse_name(&name) {
            found.push((index, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Start-up: finds the newest complete checkpoint, deletes unfinished and older ones and
/// the WAL segments it replaces. Returns its segment index and directory.
pub fn prepare(wal_dir: &Path) -> Result<Option<(u32, PathBuf)>, TsdbError> {
    if let Ok(entries) = std::fs::read_dir(wal_dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(PREFIX) && name.ends_with(TMP_SUFFIX) {
                tracing::warn!(dir = %entry.path().display(), "removed unfinished wal checkpoint");
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let mut checkpoints = list(wal_dir)?;
    let Some(latest) = checkpoints.pop() else {
        return Ok(None);
    };
    for (_, older) in checkpoints {
        let _ = std::fs::remove_dir_all(older);
    }
    let removed = remove_segments_before(wal_dir, latest.0)?;
    if removed > 0 {
        tracing::info!(
            segments = removed,
            checkpoint = latest.0,
            "wal segments replaced by a checkpoint removed"
        );
    }
    Ok(Some(latest))
}

/// The records of a checkpoint directory, in order.
pub fn replay(dir: &Path) -> Result<ReplayIter, TsdbError> {
    Ok(replay_segments(dir, None)?)
}

/// What a checkpoint kept.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointStats {
    pub index: u32,
    pub series: u64,
    pub samples: u64,
    pub segments_removed: usize,
}

/// Writes `checkpoint.<below>` from the previous checkpoint and the segments below `below`
/// of `wal`, keeping the definitions of `live` series and their samples at or after
/// `min_time`; then deletes those segments and the previous checkpoint.
pub fn write(
    wal: &Wal,
    below: u32,
    live: &HashSet<SeriesRef>,
    min_time: i64,
) -> Result<CheckpointStats, TsdbError> {
    let wal_dir = wal.dir().to_path_buf();
    let previous = list(&wal_dir)?;
    if previous.last().is_some_and(|(index, _)| *index >= below) {
        return Ok(CheckpointStats {
            index: below,
            ..CheckpointStats::default()
        });
    }
    let final_dir = wal_dir.join(checkpoint_name(below));
    let tmp_dir = wal_dir.join(format!("{}{TMP_SUFFIX}", checkpoint_name(below)));
    if tmp_dir.exists() {
        std::fs::remove_dir_all(&tmp_dir).map_err(|source| WalError::Remove {
            path: tmp_dir.clone(),
            source,
        })?;
    }
    let written = write_records(
        wal,
        below,
        previous.last().map(|(_, dir)| dir.as_path()),
        &tmp_dir,
        live,
        min_time,
    );
    let mut stats = match written {
        Ok(stats) => stats,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&tmp_dir);
            return Err(error);
        }
    };
    std::fs::rename(&tmp_dir, &final_dir).map_err(|source| WalError::Remove {
        path: final_dir.clone(),
        source,
    })?;
    super::block::sync_dir(&wal_dir)?;
    stats.index = below;
    stats.segments_removed = wal.truncate_before(below)?;
    for (_, older) in previous {
        if let Err(error) = std::fs::remove_dir_all(&older) {
            tracing::warn!(dir = %older.display(), error = %error, "cannot remove old wal checkpoint");
        }
    }
    Ok(stats)
}

fn write_records(
    wal: &Wal,
    below: u32,
    previous: Option<&Path>,
    tmp_dir: &Path,
    live: &HashSet<SeriesRef>,
    min_time: i64,
) -> Result<CheckpointStats, TsdbError> {
    let options = WalOptions {
        segment_size_bytes: wal.options().segment_size_bytes,
        sync_mode: SyncMode::Never,
    };
    let (out, _) = Wal::open(tmp_dir, options)?;
    let limit = out
        .max_record_len()
        .saturating_sub(64)
        .clamp(64, RECORD_TARGET_BYTES);
    let mut stats = CheckpointStats::default();
    let mut batch = Batch::default();
    let mut logged: HashSet<SeriesRef> = HashSet::new();
    let sources: Vec<ReplayIter> = match previous {
        Some(dir) => vec![
            replay_segments(dir, None)?,
            replay_segments(&wal_dir_of(wal), Some(below))?,
        ],
        None => vec![replay_segments(&wal_dir_of(wal), Some(below))?],
    };
    for payload in sources.into_iter().flatten() {
        let payload = payload?;
        match records::decode(&payload) {
            Ok(HeadRecord::Series(series)) => {
                for record in series {
                    if !live.contains(&record.series_ref) || !logged.insert(record.series_ref) {
                        continue;
                    }
                    let size = 16
                        + record
                            .labels
                            .iter()
                            .map(|(n, v)| n.len() + v.len() + 4)
                            .sum::<usize>();
                    if batch.bytes + size > limit {
                        batch.flush(&out)?;
                    }
                    batch.bytes += size;
                    batch.series.push((record.series_ref, record.labels));
                    stats.series += 1;
                }
            }
            Ok(HeadRecord::Samples(series)) => {
                for record in series {
                    if !live.contains(&record.series_ref) {
                        continue;
                    }
                    let samples: Vec<(i64, f64)> = record
                        .samples
                        .into_iter()
                        .filter(|(timestamp, _)| *timestamp >= min_time)
                        .collect();
                    if samples.is_empty() {
                        continue;
                    }
                    let size = 16 + samples.len() * 19;
                    // Float and histogram records keep their relative order: the
                    // out-of-order rules judge each sample against the newest of either.
                    if batch.bytes + size > limit || !batch.histograms.is_empty() {
                        batch.flush(&out)?;
                    }
                    batch.bytes += size;
                    stats.samples += samples.len() as u64;
                    batch.samples.push((record.series_ref, samples));
                }
            }
            Ok(HeadRecord::Histograms(series)) => {
                for record in series {
                    if !live.contains(&record.series_ref) {
                        continue;
                    }
                    let samples: Vec<(i64, FloatHistogram)> = record
                        .samples
                        .into_iter()
                        .filter(|(timestamp, _)| *timestamp >= min_time)
                        .collect();
                    if samples.is_empty() {
                        continue;
                    }
                    let size = 16 + samples.len() * 128;
                    if batch.bytes + size > limit || !batch.samples.is_empty() {
                        batch.flush(&out)?;
                    }
                    batch.bytes += size;
                    stats.samples += samples.len() as u64;
                    batch.histograms.push((record.series_ref, samples));
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, "undecodable wal record left out of the checkpoint")
            }
        }
    }
    batch.flush(&out)?;
    out.sync()?;
    Ok(stats)
}

fn wal_dir_of(wal: &Wal) -> PathBuf {
    wal.dir().to_path_buf()
}

/// Records waiting to be written: series definitions go out before the samples.
#[derive(Default)]
struct Batch {
    series: Vec<(SeriesRef, Vec<(String, String)>)>,
    samples: Vec<(SeriesRef, Vec<(i64, f64)>)>,
    histograms: Vec<(SeriesRef, Vec<(i64, FloatHistogram)>)>,
    bytes: usize,
}

impl Batch {
    fn flush(&mut self, out: &Wal) -> Result<(), TsdbError> {
        if !self.series.is_empty() {
            let refs: Vec<(SeriesRef, Vec<(&str, &str)>)> = self
                .series
                .iter()
                .map(|(series_ref, labels)| {
                    (
                        *series_ref,
                        labels
                            .iter()
                            .map(|(n, v)| (n.as_str(), v.as_str()))
                            .collect(),
                    )
                })
                .collect();
            let mut payload = Vec::with_capacity(self.bytes);
            records::encode_series(&mut payload, &refs);
            out.append(&payload)?;
        }
        if !self.samples.is_empty() {
            let refs: Vec<(SeriesRef, &[(i64, f64)])> = self
                .samples
                .iter()
                .map(|(series_ref, samples)| (*series_ref, samples.as_slice()))
                .collect();
            let mut payload = Vec::with_capacity(self.bytes);
            records::encode_samples(&mut payload, &refs);
            out.append(&payload)?;
        }
        if !self.histograms.is_empty() {
            let refs: Vec<(SeriesRef, &[(i64, FloatHistogram)])> = self
                .histograms
                .iter()
                .map(|(series_ref, samples)| (*series_ref, samples.as_slice()))
                .collect();
            let mut payload = Vec::with_capacity(self.bytes);
            records::encode_histograms(&mut payload, &refs);
            out.append(&payload)?;
        }
        self.series.clear();
        self.samples.clear();
        self.histograms.clear();
        self.bytes = 0;
        Ok(())
    }
}
