//! Database tuning, from the `storage.tsdb` config section (the retention fields come from
//! `storage.retention` and are set by the server).

use serde::{Deserialize, Serialize};

use super::labels::LabelLimits;
use crate::config::bytesize::ByteSize;
use crate::config::duration::PromDuration;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TsdbOptions {
    /// Samples up to this much older than a series' newest sample are still accepted.
    pub out_of_order_window: PromDuration,
    /// Size at which a WAL segment file is closed and a new one started.
    pub wal_segment_size: ByteSize,
    /// Acknowledge writes only after fsync (turn off only for benchmarks).
    pub wal_fsync: bool,
    pub limits: LabelLimits,
    /// Time window of the blocks the head writes; the head keeps 1 to 1.5 of these.
    pub block_range: PromDuration,
    /// Larger block ranges that compaction builds, ascending; each a multiple of the one
    /// before and of `block_range` (others are ignored with a warning). Ranges above a
    /// tenth of the retention time are skipped.
    pub compaction_ranges: Vec<PromDuration>,
    /// Blocks whose samples are all older than this are deleted (0: no limit). Set from
    /// `storage.retention.time`.
    #[serde(skip)]
    pub retention_time: PromDuration,
    /// Oldest blocks are deleted while blocks and WAL exceed this (0: no limit). Set from
    /// `storage.retention.size`.
    #[serde(skip)]
    pub retention_size: ByteSize,
}

pub const DEFAULT_BLOCK_RANGE: PromDuration = PromDuration::from_secs(2 * 3600);

impl Default for TsdbOptions {
    fn default() -> Self {
        TsdbOptions {
            out_of_order_window: PromDuration::from_secs(600),
            wal_segment_size: ByteSize::mib(128),
            wal_fsync: true,
            limits: LabelLimits::default(),
            block_range: DEFAULT_BLOCK_RANGE,
            compaction_ranges: vec![
                PromDuration::from_secs(6 * 3600),
                PromDuration::from_secs(24 * 3600),
            ],
            retention_time: PromDuration::from_secs(15 * 24 * 3600),
            retention_size: ByteSize(0),
        }
    }
}

impl TsdbOptions {
    /// The block range in milliseconds (the default if configured as 0).
    pub fn block_range_ms(&self) -> i64 {
        match self.block_range.as_millis() {
            0 => DEFAULT_BLOCK_RANGE.as_millis(),
            range => range,
        }
    }

    /// The compaction ranges that are usable, ascending, in milliseconds.
    pub fn effective_compaction_ranges(&self) -> Vec<i64> {
        let mut ranges: Vec<i64> = self
            .compaction_ranges
            .iter()
            .map(|range| range.as_millis())
            .collect();
        ranges.sort_unstable();
        let retention_cap = match self.retention_time.as_millis() {
            0 => i64::MAX,
            retention => retention / 10,
        };
        let mut previous = self.block_range_ms();
        let mut usable = Vec::new();
        for range in ranges {
            if range <= previous || range % previous != 0 {
                tracing::warn!(
                    range_ms = range,
                    previous_ms = previous,
                    "storage.tsdb.compaction_ranges: range is not a multiple of the previous one; ignored"
                );
                continue;
            }
            if range > retention_cap {
                break;
            }
            usable.push(range);
            previous = range;
        }
        usable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compaction_ranges_are_checked_and_capped() {
        let options = TsdbOptions::default();
        assert_eq!(options.block_range_ms(), 7_200_000);
        assert_eq!(
            options.effective_compaction_ranges(),
            vec![21_600_000, 86_400_000]
        );
        let short = TsdbOptions {
            retention_time: PromDuration::from_secs(3 * 24 * 3600),
            ..TsdbOptions::default()
        };
        assert_eq!(short.effective_compaction_ranges(), vec![21_600_000]);
        let odd = TsdbOptions {
            compaction_ranges: vec![
                PromDuration::from_secs(5 * 3600),
                PromDuration::from_secs(8 * 3600),
            ],
            ..TsdbOptions::default()
        };
        assert_eq!(odd.effective_compaction_ranges(), vec![28_800_000]);
    }
}
