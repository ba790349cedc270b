//! Process metrics with the standard `process_*` names, read from `/proc/self`.

use std::time::{SystemTime, UNIX_EPOCH};

use super::exposition::{MetricKind, TextWriter};
use super::registry::Collect;

/// Collects CPU time, resident and virtual memory, open and max fds, start time.
pub struct ProcessCollector {
    start_time_seconds: f64,
}

impl Default for ProcessCollector {
    fn default() -> Self {
        ProcessCollector {
            start_time_seconds: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|elapsed| elapsed.as_secs_f64())
                .unwrap_or(0.0),
        }
    }
}

/// Fields of `/proc/self/stat` we use; see proc(5).
struct ProcStat {
    cpu_seconds: f64,
    virtual_bytes: f64,
    resident_bytes: f64,
}

/// Clock ticks per second; Linux fixes USER_HZ at 100 for /proc.
const TICKS_PER_SECOND: f64 = 100.0;
const PAGE_SIZE: f64 = 4096.0;

fn read_stat() -> Option<ProcStat> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; fields after its closing parenthesis are fixed.
    let after_name = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state); utime is field 14, stime 15, vsize 23, rss 24.
    let field = |number: usize| {
        fields
            .get(number - 3)
            .and_then(|value| value.parse::<f64>().ok())
    };
    Some(ProcStat {
        cpu_seconds: (field(14)? + field(15)?) / TICKS_PER_SECOND,
        virtual_bytes: field(23)?,
        resident_bytes: field(24)? * PAGE_SIZE,
    })
}

fn max_fds() -> Option<f64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Resident set size in bytes, for callers that want it directly (benchmarks, logs).
pub fn resident_bytes() -> Option<u64> {
    read_stat().map(|stat| stat.resident_bytes as u64)
}

impl Collect for ProcessCollector {
    fn collect(&self, out: &mut TextWriter) {
        if let Some(stat) = read_stat() {
            out.single(
                "process_cpu_seconds_total",
                MetricKind::Counter,
                "Total user and system CPU time spent in seconds.",
                stat.cpu_seconds,
            );
            out.single(
                "process_resident_memory_bytes",
                MetricKind::Gauge,
                "Resident memory size in bytes.",
                stat.resident_bytes,
            );
            out.single(
                "process_virtual_memory_bytes",
                MetricKind::Gauge,
                "Virtual memory size in bytes.",
                stat.virtual_bytes,
            );
        }
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            out.single(
                "process_open_fds",
                MetricKind::Gauge,
                "Number of open file descriptors.",
                entries.count() as f64,
            );
        }
        if let Some(limit) = max_fds() {
            out.single(
                "process_max_fds",
                MetricKind::Gauge,
                "Maximum number of open file descriptors.",
                limit,
            );
        }
        out.single(
            "process_start_time_seconds",
            MetricKind::Gauge,
            "Start time of the process since unix epoch in seconds.",
            self.start_time_seconds,
        );
    }
}
