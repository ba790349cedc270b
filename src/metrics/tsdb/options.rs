//! Database tuning, from the `storage.tsdb` config section.

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
}

impl Default for TsdbOptions {
    fn default() -> Self {
        TsdbOptions {
            out_of_order_window: PromDuration::from_secs(600),
            wal_segment_size: ByteSize::mib(128),
            wal_fsync: true,
            limits: LabelLimits::default(),
        }
    }
}
