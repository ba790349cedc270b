//! The logs phase: realistic log lines (nginx access, JSON app logs, logfmt, multi-line
//! stack traces, rare needle tokens), deterministic by seed, pushed to a fresh Sightline as
//! Loki protobuf; then push throughput and CPU, disk as a fraction of raw, needle and
//! `count_over_time` query latency, against `grep` over the same raw text on disk.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sightline::logs::push::{encode_push_protobuf, PushedEntry, PushedStream};

use super::measure;
use super::systems::{self, Kind};

/// Bytes of log text per push request (Promtail and Alloy send about 1 MiB).
const REQUEST_BYTES: usize = 1 << 20;

pub struct LogsSettings {
    pub raw_bytes: usize,
    pub seed: u64,
    pub concurrency: usize,
    pub query_runs: usize,
}

pub struct LogsResult {
    pub raw_bytes: usize,
    pub lines: usize,
    pub push_seconds: f64,
    pub push_cpu_seconds: f64,
    /// From the first push until everything is in the index (WAL truncated).
    pub indexed_seconds: f64,
    pub indexed_cpu_seconds: f64,
    pub disk_bytes: u64,
    pub needle_ms: f64,
    pub needle_found: usize,
    pub count_ms: f64,
    pub count_value: String,
    pub grep_needle_ms: f64,
    pub grep_found: usize,
    pub grep_count_ms: f64,
    pub grep_count: usize,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

const PATHS: [&str; 8] = [
    "/",
    "/api/v1/users",
    "/api/v1/orders",
    "/static/app.js",
    "/login",
    "/api/v1/items/42",
    "/healthz",
    "/search?q=shoes",
];
const AGENTS: [&str; 4] = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0",
    "curl/8.4.0",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "python-requests/2.31.0",
];

/// One line of the stream `kind` at `second`.
fn line(rng: &mut Rng, kind: usize, second: i64) -> String {
    match kind {
        0 => {
            let status = [200, 200, 200, 304, 404, 500][rng.below(6) as usize];
            format!(
                "10.{}.{}.{} - - [{second}] \"GET {} HTTP/1.1\" {status} {} \"-\" \"{}\"",
                rng.below(256),
                rng.below(256),
                rng.below(256),
                PATHS[rng.below(8) as usize],
                rng.below(50_000),
                AGENTS[rng.below(4) as usize]
            )
        }
        1 => format!(
            "{{\"ts\":{second},\"level\":\"{}\",\"msg\":\"order processed\",\"order_id\":{},\"user\":\"u{}\",\"duration_ms\":{}}}",
            ["info", "info", "warn", "error"][rng.below(4) as usize],
            rng.next() % 1_000_000,
            rng.below(10_000),
            rng.below(2_000)
        ),
        2 => format!(
            "ts={second} level={} caller=cache.go:{} msg=\"cache lookup\" key=item:{} hit={} took={}us",
            ["debug", "info", "info", "warn"][rng.below(4) as usize],
            rng.below(400),
            rng.below(100_000),
            rng.below(2) == 1,
            rng.below(900)
        ),
        _ => {
            let mut text = format!(
                "ERROR [worker-{}] java.lang.IllegalStateException: queue {} is closed",
                rng.below(16),
                rng.below(100)
            );
            for depth in 0..(3 + rng.below(5)) {
                let _ = write!(
                    text,
                    "\n\tat com.example.queue.Consumer.poll(Consumer.java:{})\n\tat com.example.worker.Loop.run(Loop.java:{depth})",
                    rng.below(300)
                );
            }
            text
        }
    }
}

struct Workload {
    streams: Vec<PushedStream>,
    raw: Vec<u8>,
    needle: String,
    lines: usize,
}

/// Streams `{job, app, kind}`: four kinds × 5 apps, lines one per 10 ms per stream going
/// back from `end_ns`, until `raw_bytes` of text; one needle token in one line.
fn generate(settings: &LogsSettings, end_ns: i64) -> Workload {
    let mut rng = Rng(settings.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let kinds = ["nginx", "app-json", "app-logfmt", "java"];
    let mut streams: Vec<PushedStream> = Vec::new();
    for (kind_index, kind) in kinds.iter().enumerate() {
        for app in 0..5 {
            streams.push(PushedStream {
                labels: vec![
                    ("app".to_string(), format!("{kind}-{app}")),
                    ("job".to_string(), (*kind).to_string()),
                    ("kind".to_string(), kind_index.to_string()),
                ],
                entries: Vec::new(),
            });
        }
    }
    let needle = format!("needle{:016x}", rng.next());
    let mut raw = Vec::with_capacity(settings.raw_bytes + 4096);
    let mut lines = 0usize;
    let per_stream_step_ns = 10_000_000i64;
    let total_lines_estimate = settings.raw_bytes / 150 + 1;
    let needle_at = total_lines_estimate / 2;
    let mut step = 0i64;
    while raw.len() < settings.raw_bytes {
        for stream in streams.iter_mut() {
            let kind = stream.labels[2].1.parse::<usize>().unwrap_or(0);
            let timestamp_ns =
                end_ns - (total_lines_estimate as i64 / 20 - step) * per_stream_step_ns;
            let mut text = line(&mut rng, kind, timestamp_ns / 1_000_000_000);
            if lines == needle_at {
                text.push_str(&format!(" trace={needle}"));
            }
            raw.extend_from_slice(text.as_bytes());
            raw.push(b'\n');
            lines += 1;
            stream.entries.push(PushedEntry {
                timestamp_ns,
                line: text,
                structured_metadata: Vec::new(),
            });
        }
        step += 1;
    }
    Workload {
        streams,
        raw,
        needle,
        lines,
    }
}

/// Cuts the workload into push bodies of about [`REQUEST_BYTES`] of text each.
fn requests(workload: &Workload) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    let longest = workload
        .streams
        .iter()
        .map(|s| s.entries.len())
        .max()
        .unwrap_or(0);
    let per_request = (REQUEST_BYTES / 150 / workload.streams.len().max(1)).max(1);
    let mut start = 0;
    while start < longest {
        let end = (start + per_request).min(longest);
        let streams: Vec<PushedStream> = workload
            .streams
            .iter()
            .map(|stream| PushedStream {
                labels: stream.labels.clone(),
                entries: stream.entries
                    [start.min(stream.entries.len())..end.min(stream.entries.len())]
                    .to_vec(),
            })
            .filter(|stream| !stream.entries.is_empty())
            .collect();
        bodies.push(encode_push_protobuf(&streams));
        start = end;
    }
    bodies
}

fn median_ms(runs: usize, mut run: impl FnMut() -> Result<(), String>) -> Result<f64, String> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        run()?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    Ok(measure::median(&times))
}

fn grep_ms(runs: usize, pattern: &str, file: &Path) -> (f64, usize) {
    let mut found = 0;
    let ms = median_ms(runs, || {
        let output = Command::new("grep")
            .args(["-c", "-F", pattern])
            .arg(file)
            .output()
            .map_err(|err| format!("grep: {err}"))?;
        found = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        Ok(())
    })
    .unwrap_or(f64::NAN);
    (ms, found)
}

pub fn run(binary: &Path, temp_dir: &Path, settings: &LogsSettings) -> Result<LogsResult, String> {
    let end_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|err| err.to_string())?
        .as_nanos() as i64
        - 60_000_000_000;
    let workload = generate(settings, end_ns);
    let bodies = requests(&workload);
    eprintln!(
        "  logs: {} lines, {:.1} MiB raw text, {} push requests",
        workload.lines,
        workload.raw.len() as f64 / (1 << 20) as f64,
        bodies.len()
    );
    let raw_file = tempfile::NamedTempFile::new_in(temp_dir).map_err(|err| err.to_string())?;
    std::fs::write(raw_file.path(), &workload.raw).map_err(|err| err.to_string())?;

    let mut system = systems::start(Kind::Sightline, binary, temp_dir, false)?;
    let pid = system.pid();
    let ticks = measure::clock_ticks();
    let cpu_before = measure::process_cpu_seconds(pid, ticks).unwrap_or(0.0);
    let url = system.url("/loki/api/v1/push");
    let next = AtomicUsize::new(0);
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let bodies = Arc::new(bodies);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..settings.concurrency.max(1) {
            scope.spawn(|| {
                let client = systems::short_client();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(index) else {
                        return;
                    };
                    let outcome = client
                        .post(&url)
                        .header("Content-Type", "application/x-protobuf")
                        .body(body.clone())
                        .send();
                    match outcome {
                        Ok(response) if response.status().as_u16() == 204 => {}
                        Ok(response) => failures
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .push(format!(
                                "{}: {}",
                                response.status(),
                                response.text().unwrap_or_default()
                            )),
                        Err(err) => failures
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .push(err.to_string()),
                    }
                }
            });
        }
    });
    let push_seconds = started.elapsed().as_secs_f64();
    let push_cpu_seconds = measure::process_cpu_seconds(pid, ticks).unwrap_or(0.0) - cpu_before;
    let failures = failures.into_inner().unwrap_or_default();
    if let Some(first) = failures.first() {
        return Err(format!("{} push failures, first: {first}", failures.len()));
    }
    // Wait until the head has moved into the index (the WAL is truncated after each
    // flush), then measure disk.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let wal = measure::dir_usage(&system.data_dir.join("logs/wal"), &[]).bytes;
        if wal < 4 << 20 || Instant::now() > deadline {
            break;
        }
    }
    let indexed_seconds = started.elapsed().as_secs_f64();
    let indexed_cpu_seconds = measure::process_cpu_seconds(pid, ticks).unwrap_or(0.0) - cpu_before;
    let disk_bytes = measure::dir_usage(&system.data_dir.join("logs"), &["wal"]).bytes;
    // Queries are measured on a settled store, as a user would meet it: background index
    // merges after the bulk load are let finish (the server idles below 5 % of a core).
    let settle_deadline = Instant::now() + Duration::from_secs(120);
    let mut cpu_seen = measure::process_cpu_seconds(pid, ticks).unwrap_or(0.0);
    while Instant::now() < settle_deadline {
        std::thread::sleep(Duration::from_millis(500));
        let cpu_now = measure::process_cpu_seconds(pid, ticks).unwrap_or(0.0);
        let busy = (cpu_now - cpu_seen) / 0.5;
        cpu_seen = cpu_now;
        if busy < 0.05 {
            break;
        }
    }

    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .map_err(|err| err.to_string())?;
    let start_ns = end_ns - 48 * 3600 * 1_000_000_000;
    let mut needle_found = 0;
    let needle_query = format!("{{job=~\".+\"}} |= \"{}\"", workload.needle);
    let needle_ms = median_ms(settings.query_runs, || {
        let body: serde_json::Value = client
            .get(system.url("/loki/api/v1/query_range"))
            .query(&[
                ("query", needle_query.clone()),
                ("start", start_ns.to_string()),
                ("end", (end_ns + 1).to_string()),
                ("limit", "100".to_string()),
            ])
            .send()
            .and_then(|response| response.json())
            .map_err(|err| format!("needle query: {err}"))?;
        needle_found = body["data"]["result"].as_array().map_or(0, |streams| {
            streams
                .iter()
                .map(|s| s["values"].as_array().map_or(0, Vec::len))
                .sum()
        });
        Ok(())
    })?;
    let mut count_value = String::new();
    let count_query = "sum(count_over_time({job=\"nginx\"} |= \" 404 \" [48h]))";
    let count_ms = median_ms(settings.query_runs, || {
        let body: serde_json::Value = client
            .get(system.url("/loki/api/v1/query"))
            .query(&[
                ("query", count_query.to_string()),
                ("time", (end_ns + 1).to_string()),
            ])
            .send()
            .and_then(|response| response.json())
            .map_err(|err| format!("count query: {err}"))?;
        count_value = body["data"]["result"][0]["value"][1]
            .as_str()
            .unwrap_or("none")
            .to_string();
        Ok(())
    })?;
    system.stop(Duration::from_secs(60));
    let (grep_needle_ms, grep_found) =
        grep_ms(settings.query_runs, &workload.needle, raw_file.path());
    let (grep_count_ms, grep_count) = grep_ms(settings.query_runs, " 404 ", raw_file.path());
    Ok(LogsResult {
        raw_bytes: workload.raw.len(),
        lines: workload.lines,
        push_seconds,
        push_cpu_seconds,
        indexed_seconds,
        indexed_cpu_seconds,
        disk_bytes,
        needle_ms,
        needle_found,
        count_ms,
        count_value,
        grep_needle_ms,
        grep_found,
        grep_count_ms,
        grep_count,
    })
}

/// The logs table: figure | Sightline | grep reference | ratio.
pub fn table(result: &LogsResult) -> String {
    let mb = result.raw_bytes as f64 / 1e6;
    let rows = [
        (
            "logs push acknowledged (WAL + head) [MB/s raw text]".to_string(),
            format!("{:.1}", mb / result.push_seconds),
            "—".to_string(),
            "—".to_string(),
        ),
        (
            "logs push acknowledged [MB raw per CPU-second]".to_string(),
            format!("{:.1}", mb / result.push_cpu_seconds.max(1e-9)),
            "—".to_string(),
            "—".to_string(),
        ),
        (
            "logs pushed and indexed [MB/s raw text]".to_string(),
            format!("{:.1}", mb / result.indexed_seconds),
            "—".to_string(),
            "—".to_string(),
        ),
        (
            "logs pushed and indexed [MB raw per CPU-second]".to_string(),
            format!("{:.1}", mb / result.indexed_cpu_seconds.max(1e-9)),
            "—".to_string(),
            "—".to_string(),
        ),
        (
            "logs disk after flush [% of raw]".to_string(),
            format!(
                "{:.1}",
                100.0 * result.disk_bytes as f64 / result.raw_bytes as f64
            ),
            "100 (raw file)".to_string(),
            format!("{:.3}", result.disk_bytes as f64 / result.raw_bytes as f64),
        ),
        (
            format!("needle query over {mb:.0} MB [ms] (found)"),
            format!("{:.1} ({})", result.needle_ms, result.needle_found),
            format!("{:.1} ({})", result.grep_needle_ms, result.grep_found),
            format!("{:.3} × grep", result.needle_ms / result.grep_needle_ms),
        ),
        (
            "count_over_time of ` 404 ` lines [ms] (count)".to_string(),
            format!("{:.1} ({})", result.count_ms, result.count_value),
            format!(
                "{:.1} ({} in all streams)",
                result.grep_count_ms, result.grep_count
            ),
            format!("{:.3} × grep", result.count_ms / result.grep_count_ms),
        ),
    ];
    let mut out = String::from(
        "| logs figure | Sightline | grep -F over the raw text | ratio |\n|---|---|---|---|\n",
    );
    for (figure, ours, grep, ratio) in rows {
        let _ = writeln!(out, "| {figure} | {ours} | {grep} | {ratio} |");
    }
    out
}

pub fn json(result: &LogsResult) -> serde_json::Value {
    serde_json::json!({
        "raw_bytes": result.raw_bytes,
        "lines": result.lines,
        "push_seconds": result.push_seconds,
        "push_cpu_seconds": result.push_cpu_seconds,
        "indexed_seconds": result.indexed_seconds,
        "indexed_cpu_seconds": result.indexed_cpu_seconds,
        "disk_bytes": result.disk_bytes,
        "needle_ms": result.needle_ms,
        "needle_found": result.needle_found,
        "count_ms": result.count_ms,
        "count_value": result.count_value,
        "grep_needle_ms": result.grep_needle_ms,
        "grep_found": result.grep_found,
        "grep_count_ms": result.grep_count_ms,
        "grep_count": result.grep_count,
    })
}
