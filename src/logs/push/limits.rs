//! The limits one push request is held to. Lengths are in bytes, times in nanoseconds.

/// Nanoseconds in a second, minute, hour and day.
const SECOND_NS: i64 = 1_000_000_000;
const MINUTE_NS: i64 = 60 * SECOND_NS;
const DAY_NS: i64 = 24 * 60 * MINUTE_NS;

/// Limits applied by [`decode_push`](super::decode_push) (the body size) and
/// [`validate`](super::validate) (everything else). The defaults are Loki's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PushLimits {
    /// Largest body after undoing its compression (snappy, gzip, deflate), and largest
    /// uncompressed body. A snappy block's declared length is checked before anything is
    /// allocated (values above 4 GiB act as 4 GiB there); gzip and deflate are inflated up
    /// to the limit and refused beyond it.
    pub max_decompressed_bytes: usize,
    /// Longest line accepted; 0 disables the check (as in Loki).
    pub max_line_size: usize,
    pub max_label_names_per_series: usize,
    pub max_label_name_length: usize,
    pub max_label_value_length: usize,
    /// Entries older than `now` minus this are refused; `None` accepts any age (Loki's
    /// `reject_old_samples: false`).
    pub reject_old_samples_max_age_ns: Option<i64>,
    /// Entries newer than `now` plus this are refused.
    pub creation_grace_period_ns: i64,
}

impl Default for PushLimits {
    /// 64 MiB decompressed (Promtail and Alloy send batches of about 1 MiB), lines up to
    /// 256 KiB, 15 labels per stream, 1024-byte names, 2048-byte values, entries up to one
    /// week old and 10 minutes into the future: Loki's defaults but the body size.
    fn default() -> Self {
        PushLimits {
            max_decompressed_bytes: 64 << 20,
            max_line_size: 256 << 10,
            max_label_names_per_series: 15,
            max_label_name_length: 1024,
            max_label_value_length: 2048,
            reject_old_samples_max_age_ns: Some(7 * DAY_NS),
            creation_grace_period_ns: 10 * MINUTE_NS,
        }
    }
}

impl PushLimits {
    /// No limits at all, for tests and tools.
    pub fn unlimited() -> Self {
        PushLimits {
            max_decompressed_bytes: usize::MAX,
            max_line_size: 0,
            max_label_names_per_series: usize::MAX,
            max_label_name_length: usize::MAX,
            max_label_value_length: usize::MAX,
            reject_old_samples_max_age_ns: None,
            creation_grace_period_ns: i64::MAX,
        }
    }
}
