//! The `logs:` section: log retention and Loki-style ingestion limits.

use serde::{Deserialize, Serialize};

use super::bytesize::ByteSize;
use super::duration::PromDuration;
use super::problems::Problems;
use super::storage::RetentionConfig;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogsConfig {
    pub retention: RetentionConfig,
    pub limits: LogLimits,
    /// Store Sightline's own logs as the stream `{job="sightline"}`.
    pub self_logs: bool,
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            retention: RetentionConfig::default(),
            limits: LogLimits::default(),
            self_logs: true,
        }
    }
}

/// Limits named and defaulted as Loki's `limits_config`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogLimits {
    pub max_line_size: ByteSize,
    pub max_label_names_per_series: u32,
    pub max_label_name_length: u32,
    pub max_label_value_length: u32,
    pub reject_old_samples: bool,
    pub reject_old_samples_max_age: PromDuration,
    pub creation_grace_period: PromDuration,
    pub ingestion_rate_mb: f64,
    pub ingestion_burst_size_mb: f64,
    pub per_stream_rate_limit: ByteSize,
    pub per_stream_rate_limit_burst: ByteSize,
    /// Open `/loki/api/v1/tail` websockets allowed at once.
    pub max_concurrent_tail_requests: u32,
    /// A tail websocket is closed after this long (Loki's `querier.tail_max_duration`).
    pub tail_max_duration: PromDuration,
}

impl Default for LogLimits {
    fn default() -> Self {
        LogLimits {
            max_line_size: ByteSize(256 << 10),
            max_label_names_per_series: 15,
            max_label_name_length: 1024,
            max_label_value_length: 2048,
            reject_old_samples: true,
            reject_old_samples_max_age: PromDuration::from_secs(7 * 24 * 3600),
            creation_grace_period: PromDuration::from_secs(10 * 60),
            ingestion_rate_mb: 4.0,
            ingestion_burst_size_mb: 6.0,
            per_stream_rate_limit: ByteSize(3 << 20),
            per_stream_rate_limit_burst: ByteSize(15 << 20),
            max_concurrent_tail_requests: 10,
            tail_max_duration: PromDuration::from_secs(3600),
        }
    }
}

impl LogsConfig {
    pub fn validate(&self, problems: &mut Problems) {
        if self.limits.per_stream_rate_limit.bytes() == 0 {
            problems.push("logs.limits.per_stream_rate_limit", "must be above 0");
        }
        if self.limits.max_label_names_per_series == 0 {
            problems.push(
                "logs.limits.max_label_names_per_series",
                "must be at least 1",
            );
        }
        for (path, value) in [
            (
                "logs.limits.ingestion_rate_mb",
                self.limits.ingestion_rate_mb,
            ),
            (
                "logs.limits.ingestion_burst_size_mb",
                self.limits.ingestion_burst_size_mb,
            ),
        ] {
            if !(value.is_finite() && value > 0.0) {
                problems.push(path, format!("must be a positive number, got {value}"));
            }
        }
    }
}
