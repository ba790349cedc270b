//! The `storage:` section: the data directory and how long data is kept.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::bytesize::ByteSize;
use super::duration::PromDuration;
use super::problems::Problems;
use crate::metrics::tsdb::TsdbOptions;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// The one data directory (metrics, logs, metadata); relative to the config file.
    pub path: PathBuf,
    pub retention: RetentionConfig,
    /// Tuning and limits of the time-series database.
    pub tsdb: TsdbOptions,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            path: PathBuf::from("./data"),
            retention: RetentionConfig::default(),
            tsdb: TsdbOptions::default(),
        }
    }
}

/// Whole blocks are dropped once older than `time` or while the total exceeds `size`
/// (`0` = no size limit).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    pub time: PromDuration,
    pub size: ByteSize,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            time: PromDuration::from_secs(15 * 24 * 3600),
            size: ByteSize(0),
        }
    }
}

impl StorageConfig {
    pub fn validate(&self, problems: &mut Problems) {
        if self.path.as_os_str().is_empty() {
            problems.push("storage.path", "must not be empty");
        }
        if self.retention.time.is_zero() && self.retention.size.bytes() == 0 {
            problems.push(
                "storage.retention",
                "time and size cannot both be 0 (data would never be kept bounded)",
            );
        }
    }
}
