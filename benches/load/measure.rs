//! What the bench reads from the operating system: a process's CPU time and resident
//! memory from `/proc/<pid>/stat` and `/proc/<pid>/status`, the machine's busy time from
//! `/proc/stat`, and the bytes a data directory holds.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Clock ticks per second of the `/proc` CPU counters (`getconf CLK_TCK`, usually 100).
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|ticks| *ticks > 0.0)
        .unwrap_or(100.0)
}

/// User plus system CPU seconds used so far by process `pid` (its threads included, its
/// children not).
pub fn process_cpu_seconds(pid: u32, ticks: f64) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces: fields are
    // counted from after its closing parenthesis, where field 3 (state) starts.
    let after_name = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks)
}

/// The nice value of this process (the systems it starts inherit it).
pub fn own_niceness() -> Option<i64> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &text[text.rfind(')')? + 1..];
    // Field 19 (nice), counted from field 3 right after the name.
    after_name.split_whitespace().nth(16)?.parse().ok()
}

/// Busy CPU seconds of the whole machine (all cores; everything but idle and iowait).
pub fn machine_busy_seconds(ticks: f64) -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|line| line.starts_with("cpu "))?;
    let values: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest is inside user).
    let busy: f64 = values
        .iter()
        .take(8)
        .enumerate()
        .filter(|(index, _)| *index != 3 && *index != 4)
        .map(|(_, value)| value)
        .sum();
    Some(busy / ticks)
}

/// The 1-, 5- and 15-minute load averages as `/proc/loadavg` prints them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_string())
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// Resident set size now (`VmRSS`).
    pub rss: u64,
    /// Peak resident set size since the process started (`VmHWM`).
    pub peak: u64,
}

/// Resident memory of `pid` in bytes.
pub fn memory(pid: u32) -> Option<Memory> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| -> Option<u64> {
        let line = text.lines().find(|line| line.starts_with(key))?;
        line[key.len()..].split_whitespace().next()?.parse().ok()
    };
    Some(Memory {
        rss: kib("VmRSS:")? * 1024,
        peak: kib("VmHWM:")? * 1024,
    })
}

/// Samples a process's RSS on a thread until stopped.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<u64>>,
}

impl RssSampler {
    pub fn start(pid: u32, every: Duration) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                if let Some(memory) = memory(pid) {
                    samples.push(memory.rss);
                }
                std::thread::sleep(every);
            }
            samples
        });
        RssSampler { stop, handle }
    }

    /// Stops and returns the samples (bytes), in order.
    pub fn finish(self) -> Vec<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

/// Bytes under a directory.
#[derive(Clone, Debug, Default)]
pub struct DirUsage {
    /// Sum of file lengths.
    pub bytes: u64,
    /// Sum of allocated blocks (what `du` reports).
    pub allocated: u64,
    pub files: u64,
    /// File lengths per component: the first two path levels under the root (e.g.
    /// `metrics/wal`), or the file name for files at the top.
    pub components: BTreeMap<String, u64>,
}

impl DirUsage {
    /// Components holding at least 1% of the bytes, largest first, as `name NN%`.
    pub fn breakdown(&self) -> String {
        if self.bytes == 0 {
            return "empty".to_string();
        }
        let mut parts: Vec<(&String, &u64)> = self.components.iter().collect();
        parts.sort_by(|left, right| right.1.cmp(left.1));
        parts
            .iter()
            .filter(|(_, bytes)| **bytes * 100 >= self.bytes)
            .map(|(name, bytes)| {
                format!("{name} {:.0}%", **bytes as f64 * 100.0 / self.bytes as f64)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Walks `root` (symlinks not followed), skipping top-level entries named in `skip`.
pub fn dir_usage(root: &Path, skip: &[&str]) -> DirUsage {
    let mut usage = DirUsage::default();
    let mut stack = vec![(root.to_path_buf(), Vec::<String>::new())];
    while let Some((dir, trail)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if trail.is_empty() && skip.contains(&name.as_str()) {
                continue;
            }
            let Ok(metadata) = entry.path().symlink_metadata() else {
                continue;
            };
            let mut path_trail = trail.clone();
            path_trail.push(name);
            if metadata.is_dir() {
                stack.push((entry.path(), path_trail));
            } else if metadata.is_file() {
                usage.bytes += metadata.len();
                usage.allocated += metadata.blocks() * 512;
                usage.files += 1;
                let component = path_trail
                    .iter()
                    .take(if path_trail.len() > 2 {
                        2
                    } else {
                        path_trail.len().saturating_sub(1).max(1)
                    })
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("/");
                *usage.components.entry(component).or_default() += metadata.len();
            }
        }
    }
    usage
}

/// Median of `values` (0 for none).
pub fn median(values: &[f64]) -> f64 {
    percentile(values, 0.5)
}

/// Nearest-rank percentile `q` in `[0, 1]` of `values` (0 for none).
pub fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(|left, right| left.total_cmp(right));
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
