//! Load benchmark: Sightline against Prometheus and VictoriaMetrics on the same machine.
//!
//! Generates a deterministic workload (node- and app-shaped series, see `generator`),
//! then, one system at a time on a loopback port with a fresh temp data directory: sends it
//! as remote write 1.0 and measures ingestion rate, CPU per sample, resident memory, disk
//! bytes per sample and PromQL latency (with a check that every system returns the same
//! result as Prometheus). Prints one table and writes it as JSON under
//! `<target>/load-bench/`.
//!
//! Run: `cargo bench --bench load` (full) or `cargo bench --bench load -- --quick`;
//! `cargo bench --bench load -- --help` lists the options.

mod chunk_sizes;
mod generator;
mod head_memory;
mod ingest;
mod logs;
mod measure;
mod queries;
mod report;
mod systems;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use generator::{EncodedRound, Generator, WorkloadShape};
use ingest::Sent;
use measure::DirUsage;
use queries::{Measured, Window, QUERIES};
use report::{Better, Cell, Row};
use systems::Kind;

/// Counts heap bytes for `--head-memory` only; otherwise a plain pass-through.
#[global_allocator]
static ALLOCATOR: head_memory::CountingAllocator = head_memory::CountingAllocator;

const HELP: &str = "\
Sightline load benchmark: remote-write ingestion, CPU, memory, disk and PromQL latency of
Sightline, Prometheus and VictoriaMetrics, one system at a time on loopback.

usage: cargo bench --bench load -- [options]

  --quick                 200k series, 20 samples each: under 5 minutes on 2 cores
                          (default without it: 500k series, 30 samples each)
  --series N              active series                       [LOAD_BENCH_SERIES]
  --samples N             samples per series (rounds)         [LOAD_BENCH_SAMPLES]
  --batch N               samples per remote-write request    [LOAD_BENCH_BATCH]
  --concurrency N         concurrent senders                  [LOAD_BENCH_CONCURRENCY]
  --interval SECONDS      time between a series' samples      [LOAD_BENCH_INTERVAL]
  --seed N                workload seed                       [LOAD_BENCH_SEED]
  --query-runs N          timed runs per query                [LOAD_BENCH_QUERY_RUNS]
  --logs-mb N             MB of log text for the logs phase, Sightline
                          only, against grep (0 skips it; default 1024,
                          --quick 200)                        [LOAD_BENCH_LOGS_MB]
  --settle SECONDS        pause after ingest before steady RSS [LOAD_BENCH_SETTLE]
  --systems LIST          e.g. sightline,prometheus,victoriametrics [LOAD_BENCH_SYSTEMS]
  --tmpdir DIR            where data directories go           [LOAD_BENCH_TMPDIR]
  --out DIR               where the JSON goes (default <target>/load-bench)
  --encode-budget-mb N    memory for pre-encoded requests     [LOAD_BENCH_ENCODE_BUDGET_MB]
  --keep-data             keep the data directories
  --chunk-sizes           only print what the workload's samples cost in block
                          chunks, per metric name (no system is started)
  --head-memory           only print the heap bytes a series costs in the TSDB,
                          phase by phase, in this process (no system is started)
  --install-peers         apt-get install missing peers (root or passwordless sudo)

Binaries: Sightline is the release build next to this bench; Prometheus and
VictoriaMetrics come from PATH (Debian packages prometheus and victoria-metrics) unless
LOAD_BENCH_PROMETHEUS_BIN / LOAD_BENCH_VICTORIA_METRICS_BIN / LOAD_BENCH_SIGHTLINE_BIN say
otherwise.
";

#[derive(Clone, Debug)]
struct Settings {
    quick: bool,
    series: usize,
    samples: usize,
    batch: usize,
    concurrency: usize,
    interval_s: u64,
    seed: u64,
    query_runs: usize,
    settle_s: u64,
    steady_s: u64,
    systems: Vec<Kind>,
    temp_dir: PathBuf,
    out_dir: Option<PathBuf>,
    encode_budget_mb: usize,
    keep_data: bool,
    chunk_sizes: bool,
    head_memory: bool,
    install_peers: bool,
    logs_mb: usize,
}

impl Settings {
    fn parse(args: &[String]) -> Result<Settings, String> {
        let quick = args.iter().any(|arg| arg == "--quick")
            || std::env::var("LOAD_BENCH_QUICK").is_ok_and(|value| value == "1");
        let mut settings = Settings {
            quick,
            series: if quick { 200_000 } else { 500_000 },
            samples: if quick { 20 } else { 30 },
            batch: 2_000,
            concurrency: 4,
            interval_s: 15,
            seed: 1,
            query_runs: if quick { 5 } else { 20 },
            settle_s: if quick { 5 } else { 20 },
            steady_s: if quick { 3 } else { 10 },
            systems: Kind::ALL.to_vec(),
            temp_dir: std::env::temp_dir(),
            out_dir: None,
            encode_budget_mb: 1_024,
            keep_data: false,
            chunk_sizes: false,
            head_memory: false,
            install_peers: false,
            logs_mb: if quick { 200 } else { 1024 },
        };
        // Environment first, then arguments over it.
        let env = |name: &str| std::env::var(format!("LOAD_BENCH_{name}")).ok();
        let mut pairs: Vec<(String, String)> = [
            "SERIES",
            "SAMPLES",
            "BATCH",
            "CONCURRENCY",
            "INTERVAL",
            "SEED",
            "QUERY_RUNS",
            "SETTLE",
            "SYSTEMS",
            "TMPDIR",
            "ENCODE_BUDGET_MB",
            "LOGS_MB",
        ]
        .iter()
        .filter_map(|name| {
            env(name).map(|value| {
                (
                    format!("--{}", name.to_lowercase().replace('_', "-")),
                    value,
                )
            })
        })
        .collect();
        let mut index = 0;
        while index < args.len() {
            let arg = &args[index];
            index += 1;
            match arg.as_str() {
                "--bench" | "--quick" => {}
                "--keep-data" => settings.keep_data = true,
                "--chunk-sizes" => settings.chunk_sizes = true,
                "--head-memory" => settings.head_memory = true,
                "--install-peers" => settings.install_peers = true,
                "--help" | "-h" => return Err(String::new()),
                _ if arg.starts_with("--") => {
                    let (name, value) = match arg.split_once('=') {
                        Some((name, value)) => (name.to_string(), value.to_string()),
                        None => {
                            let value = args
                                .get(index)
                                .ok_or_else(|| format!("{arg} needs a value"))?
                                .clone();
                            index += 1;
                            (arg.clone(), value)
                        }
                    };
                    pairs.push((name, value));
                }
                // Filters cargo may pass to bench binaries: ignored.
                _ => {}
            }
        }
        for (name, value) in pairs {
            let number = || -> Result<u64, String> {
                value
                    .replace('_', "")
                    .parse::<u64>()
                    .map_err(|_| format!("{name}: {value:?} is not a whole number"))
            };
            match name.as_str() {
                "--series" => settings.series = number()? as usize,
                "--samples" => settings.samples = number()? as usize,
                "--batch" => settings.batch = number()? as usize,
                "--concurrency" => settings.concurrency = number()? as usize,
                "--interval" => settings.interval_s = number()?,
                "--seed" => settings.seed = number()?,
                "--query-runs" => settings.query_runs = number()? as usize,
                "--logs-mb" => settings.logs_mb = number()? as usize,
                "--settle" => settings.settle_s = number()?,
                "--encode-budget-mb" => settings.encode_budget_mb = number()? as usize,
                "--tmpdir" => settings.temp_dir = PathBuf::from(&value),
                "--out" => settings.out_dir = Some(PathBuf::from(&value)),
                "--systems" => {
                    settings.systems = value
                        .split(',')
                        .filter(|part| !part.trim().is_empty())
                        .map(|part| {
                            Kind::parse(part).ok_or_else(|| format!("unknown system {part:?}"))
                        })
                        .collect::<Result<_, _>>()?;
                }
                _ => return Err(format!("unknown option {name} (see --help)")),
            }
        }
        if settings.series == 0
            || settings.samples < 2
            || settings.batch == 0
            || settings.concurrency == 0
        {
            return Err(
                "--series, --batch and --concurrency must be at least 1, --samples at least 2"
                    .into(),
            );
        }
        if settings.interval_s == 0 || settings.interval_s > 120 {
            return Err("--interval must be between 1 and 120 seconds (the 5m lookback must see the last sample)".into());
        }
        Ok(settings)
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "quick": self.quick,
            "series": self.series,
            "samples_per_series": self.samples,
            "batch_samples": self.batch,
            "concurrency": self.concurrency,
            "interval_s": self.interval_s,
            "seed": self.seed,
            "query_runs": self.query_runs,
            "logs_mb": self.logs_mb,
            "settle_s": self.settle_s,
            "steady_window_s": self.steady_s,
            "systems": self.systems.iter().map(|kind| kind.key()).collect::<Vec<_>>(),
            "encode_budget_mb": self.encode_budget_mb,
        })
    }
}

/// CPU used during one sending phase.
#[derive(Clone, Debug, Default)]
struct Phase {
    sent: Sent,
    /// The system's own CPU seconds.
    cpu_s: f64,
    /// CPU seconds of everything else on the machine (not the system, not this bench).
    other_cpu_s: f64,
    bench_cpu_s: f64,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.sent.samples as f64 / self.sent.elapsed.as_secs_f64().max(1e-9)
    }

    fn cpu_per_million(&self) -> f64 {
        self.cpu_s / (self.sent.samples as f64 / 1e6).max(1e-12)
    }
}

#[derive(Debug, Default)]
struct SystemResult {
    version: String,
    /// Why the system has no figures (not installed, failed to start, …).
    skipped: Option<String>,
    /// A failure after the system started: figures up to that point are kept.
    error: Option<String>,
    ready_s: f64,
    idle_rss: u64,
    first: Phase,
    sustained: Phase,
    peak_rss_sampled: u64,
    peak_rss: u64,
    steady_rss: u64,
    disk_after_ingest: Option<DirUsage>,
    disk_flushed: Option<DirUsage>,
    disk_flushed_note: String,
    accepted_samples: Option<f64>,
    accepted_series: Option<f64>,
    up_series: Option<usize>,
    queries: Option<Result<Vec<Measured>, String>>,
    stop_clean: bool,
    stop_s: f64,
    log_tail: String,
}

impl SystemResult {
    fn total_samples(&self) -> u64 {
        self.first.sent.samples + self.sustained.sent.samples
    }
}

/// Where the workload's encoded rounds come from: all encoded once up front (reused for
/// every system) or encoded in chunks between sends when they do not fit the budget.
enum Source {
    Cached(Vec<EncodedRound>),
    Chunked { rounds_per_chunk: usize },
}

struct Run {
    settings: Settings,
    shape: WorkloadShape,
    source: Source,
    window: Window,
    targets: usize,
    ticks: f64,
    threads: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: stay out of tests.
    if !args.iter().any(|arg| arg == "--bench") && std::env::var("LOAD_BENCH_RUN").is_err() {
        println!("load bench: not under `cargo bench`; run `cargo bench --bench load -- --quick`");
        return;
    }
    let settings = match Settings::parse(&args) {
        Ok(settings) => settings,
        Err(message) if message.is_empty() => {
            print!("{HELP}");
            return;
        }
        Err(message) => {
            eprintln!("load bench: {message}");
            std::process::exit(2);
        }
    };
    // A fixed recent time: timestamps as large as real ones, output reproducible.
    let offline_shape = generator::WorkloadShape {
        seed: settings.seed,
        series: settings.series,
        interval_ms: settings.interval_s as i64 * 1_000,
        base_ms: 1_795_536_000_000,
    };
    if settings.chunk_sizes {
        chunk_sizes::run(offline_shape, settings.samples);
        return;
    }
    if settings.head_memory {
        head_memory::run(offline_shape, settings.samples, settings.batch);
        return;
    }
    install_interrupt_handler();
    if let Err(problem) = generator::self_check() {
        eprintln!("load bench: generator self-check failed: {problem}");
        std::process::exit(1);
    }
    let started_wall = Instant::now();
    let started_at = now_ms();
    let load_at_start = measure::load_average();
    let cpus = std::thread::available_parallelism().map_or(1, |count| count.get());

    // Binaries (and installing the peers on request).
    let mut binaries: Vec<(Kind, Result<PathBuf, String>)> = settings
        .systems
        .iter()
        .map(|kind| (*kind, systems::locate(*kind)))
        .collect();
    if settings.install_peers {
        let missing: Vec<Kind> = binaries
            .iter()
            .filter(|(kind, found)| found.is_err() && kind.debian_package().is_some())
            .map(|(kind, _)| *kind)
            .collect();
        if !missing.is_empty() {
            if let Err(problem) = systems::install_packages(&missing) {
                eprintln!("load bench: {problem}");
            }
            binaries = settings
                .systems
                .iter()
                .map(|kind| (*kind, systems::locate(*kind)))
                .collect();
        }
    }

    // The workload, shared by every system.
    let interval_ms = settings.interval_s as i64 * 1000;
    let span_ms = settings.samples as i64 * interval_ms;
    let mut base_ms = (started_at - span_ms).div_euclid(interval_ms) * interval_ms;
    // Sightline and Prometheus cut blocks at multiples of 2 h. A span that straddles one
    // is stored as two blocks, each with its own index and partial chunks, which moved
    // the disk figure by about 10 % with the time of day the bench ran. A span that fits
    // in one block range is moved back to end at the boundary it would cross.
    const BLOCK_RANGE_MS: i64 = 2 * 3_600_000;
    let boundary = (base_ms + span_ms).div_euclid(BLOCK_RANGE_MS) * BLOCK_RANGE_MS;
    if span_ms <= BLOCK_RANGE_MS && base_ms < boundary {
        base_ms = (boundary - span_ms).div_euclid(interval_ms) * interval_ms;
    }
    let shape = WorkloadShape {
        seed: settings.seed,
        series: settings.series,
        interval_ms,
        base_ms,
    };
    let build_started = Instant::now();
    let mut generator = Generator::new(shape.clone());
    let threads = cpus.clamp(1, 8);
    let first_round = generator.encode_next_round(settings.concurrency, settings.batch, threads);
    if let Some(labels) = generator.duplicate_label_set() {
        eprintln!("load bench: the workload has a duplicate label set: {labels}");
        std::process::exit(1);
    }
    let round_bytes = first_round.bytes.max(1);
    let budget = settings.encode_budget_mb * 1024 * 1024;
    let targets = generator.targets().len();
    let node_targets = generator
        .targets()
        .iter()
        .filter(|target| target.job == "node")
        .count();
    eprintln!(
        "load bench: {} series ({} metric names, {} targets: {} node, {} app), {} samples each every {}s, \
         {} samples per request, {} senders, seed {}",
        generator.series_count(),
        generator.metric_names(),
        targets,
        node_targets,
        targets - node_targets,
        settings.samples,
        settings.interval_s,
        settings.batch,
        settings.concurrency,
        settings.seed
    );
    let source = if round_bytes * settings.samples <= budget {
        let mut rounds = vec![first_round];
        for _ in 1..settings.samples {
            rounds.push(generator.encode_next_round(settings.concurrency, settings.batch, threads));
        }
        let total: usize = rounds.iter().map(|round| round.bytes).sum();
        eprintln!(
            "load bench: encoded {} requests, {} ({:.1} bytes/sample) in {:.1}s",
            rounds
                .iter()
                .map(|round| round.shards.iter().map(Vec::len).sum::<usize>())
                .sum::<usize>(),
            report::bytes(total as f64),
            total as f64 / (settings.series * settings.samples) as f64,
            build_started.elapsed().as_secs_f64()
        );
        Source::Cached(rounds)
    } else {
        let rounds_per_chunk = (budget / round_bytes).max(1);
        eprintln!(
            "load bench: the encoded workload ({}) is over the budget: encoding {rounds_per_chunk} \
             rounds at a time between sends",
            report::bytes((round_bytes * settings.samples) as f64)
        );
        Source::Chunked { rounds_per_chunk }
    };
    drop(generator);
    let eval_ms = base_ms + span_ms;
    let warmup_rounds = (60_000 + interval_ms - 1) / interval_ms;
    let start_ms = if base_ms + warmup_rounds * interval_ms < eval_ms {
        base_ms + warmup_rounds * interval_ms
    } else {
        base_ms + interval_ms
    };
    let run = Run {
        settings: settings.clone(),
        shape,
        source,
        window: Window {
            eval_ms,
            start_ms,
            end_ms: eval_ms,
            step_ms: interval_ms,
        },
        targets,
        ticks: measure::clock_ticks(),
        threads,
    };

    let mut results: Vec<(Kind, SystemResult)> = Vec::new();
    for (kind, binary) in binaries.iter() {
        let kind = *kind;
        let result = match binary {
            Ok(binary) => {
                eprintln!("load bench: {} ({})", kind.name(), binary.display());
                run_system(&run, kind, binary)
            }
            Err(problem) => {
                eprintln!("load bench: skipping {}: {problem}", kind.name());
                SystemResult {
                    skipped: Some(if kind == Kind::Sightline {
                        "not built".to_string()
                    } else {
                        "not installed".to_string()
                    }),
                    error: Some(problem.clone()),
                    ..SystemResult::default()
                }
            }
        };
        results.push((kind, result));
    }
    // Systems not selected get an empty column.
    for kind in Kind::ALL {
        if !results.iter().any(|(each, _)| *each == kind) {
            results.push((
                kind,
                SystemResult {
                    skipped: Some("not selected".to_string()),
                    ..SystemResult::default()
                },
            ));
        }
    }

    let rows = build_rows(&run, &results);
    let notes = build_notes(&run, &results, &load_at_start, cpus);
    println!();
    println!("{}", report::table(&rows));
    println!();
    for note in &notes {
        println!("{note}");
    }
    let logs_result = run_logs_phase(&settings, &binaries);
    let json = serde_json::json!({
        "format": 1,
        "started": sightline::time_format::rfc3339_millis(started_at),
        "duration_s": started_wall.elapsed().as_secs_f64(),
        "settings": settings.json(),
        "workload": {
            "series": run.shape.series,
            "targets": run.targets,
            "base_ms": run.shape.base_ms,
            "interval_ms": run.shape.interval_ms,
            "query_time_ms": run.window.eval_ms,
            "range_start_ms": run.window.start_ms,
            "range_end_ms": run.window.end_ms,
        },
        "machine": {
            "cpus": cpus,
            "load_average_start": load_at_start,
            "load_average_end": measure::load_average(),
            "nice": measure::own_niceness(),
            "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        },
        "systems": systems_json(&run, &results),
        "rows": report::rows_json(&rows),
        "queries": queries_json(&results),
        "notes": notes,
        "logs": logs_result.as_ref().map(logs::json),
    });
    match write_json(&settings, started_at, &json) {
        Ok(path) => println!("\nJSON: {}", path.display()),
        Err(problem) => eprintln!("load bench: cannot write the JSON report: {problem}"),
    }
    println!("total time {:.0}s", started_wall.elapsed().as_secs_f64());
}

/// The logs phase (Sightline only, against grep), when enabled and Sightline is built.
fn run_logs_phase(
    settings: &Settings,
    binaries: &[(Kind, Result<PathBuf, String>)],
) -> Option<logs::LogsResult> {
    if settings.logs_mb == 0 {
        return None;
    }
    let binary = binaries
        .iter()
        .find(|(kind, _)| *kind == Kind::Sightline)
        .and_then(|(_, found)| found.as_ref().ok())?;
    eprintln!("load bench: logs ({} MB of log text)", settings.logs_mb);
    let logs_settings = logs::LogsSettings {
        raw_bytes: settings.logs_mb * 1_000_000,
        seed: settings.seed,
        concurrency: settings.concurrency,
        query_runs: settings.query_runs,
    };
    match logs::run(binary, &settings.temp_dir, &logs_settings) {
        Ok(result) => {
            println!();
            println!("{}", logs::table(&result));
            Some(result)
        }
        Err(problem) => {
            eprintln!("load bench: logs phase failed: {problem}");
            None
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}

/// On Ctrl-C, kills the systems this bench started (by pid) before exiting.
fn install_interrupt_handler() {
    std::thread::spawn(|| {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        if runtime.block_on(tokio::signal::ctrl_c()).is_ok() {
            eprintln!("\nload bench: interrupted, stopping the systems it started");
            systems::kill_all_started();
            std::process::exit(130);
        }
    });
}

/// CPU seconds of the system, of this process and of the whole machine, now.
fn cpu_snapshot(pid: u32, ticks: f64) -> (f64, f64, f64) {
    (
        measure::process_cpu_seconds(pid, ticks).unwrap_or(0.0),
        measure::process_cpu_seconds(std::process::id(), ticks).unwrap_or(0.0),
        measure::machine_busy_seconds(ticks).unwrap_or(0.0),
    )
}

/// Sends rounds `from..to` of the workload and accounts CPU around it. In chunked mode the
/// generator is advanced (and encoding time excluded from the elapsed time).
fn send_phase(
    run: &Run,
    url: &str,
    pid: u32,
    generator: &mut Option<Generator>,
    from: usize,
    to: usize,
) -> Phase {
    let before = cpu_snapshot(pid, run.ticks);
    let mut sent = Sent::default();
    match &run.source {
        Source::Cached(rounds) => sent.add(&ingest::send(url, &rounds[from..to])),
        Source::Chunked { rounds_per_chunk } => {
            let generator = generator.get_or_insert_with(|| Generator::new(run.shape.clone()));
            let mut next = from;
            while next < to {
                let end = (next + rounds_per_chunk).min(to);
                let chunk: Vec<EncodedRound> = (next..end)
                    .map(|_| {
                        generator.encode_next_round(
                            run.settings.concurrency,
                            run.settings.batch,
                            run.threads,
                        )
                    })
                    .collect();
                debug_assert_eq!(chunk.first().map(|round| round.round), Some(next));
                sent.add(&ingest::send(url, &chunk));
                next = end;
            }
        }
    }
    let after = cpu_snapshot(pid, run.ticks);
    let cpu_s = after.0 - before.0;
    let bench_cpu_s = after.1 - before.1;
    let machine_s = after.2 - before.2;
    Phase {
        sent,
        cpu_s,
        bench_cpu_s,
        other_cpu_s: (machine_s - cpu_s - bench_cpu_s).max(0.0),
    }
}

fn run_system(run: &Run, kind: Kind, binary: &Path) -> SystemResult {
    let mut result = SystemResult {
        version: systems::version(kind, binary),
        ..SystemResult::default()
    };
    let started = Instant::now();
    let mut system =
        match systems::start(kind, binary, &run.settings.temp_dir, run.settings.keep_data) {
            Ok(system) => system,
            Err(problem) => {
                eprintln!("load bench: {} did not start: {problem}", kind.name());
                result.skipped = Some("failed to start".to_string());
                result.error = Some(problem);
                return result;
            }
        };
    result.ready_s = started.elapsed().as_secs_f64();
    let pid = system.pid();
    let client = systems::short_client();
    let query_client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("http client");
    std::thread::sleep(Duration::from_secs(1));
    result.idle_rss = measure::memory(pid).map_or(0, |memory| memory.rss);

    // Ingest: the first round creates every series; the rest is the sustained rate.
    let url = system.url("/api/v1/write");
    let sampler = measure::RssSampler::start(pid, Duration::from_millis(100));
    let mut generator = None;
    result.first = send_phase(run, &url, pid, &mut generator, 0, 1);
    eprintln!(
        "  first round: {} samples in {:.1}s ({} samples/s)",
        result.first.sent.samples,
        result.first.sent.elapsed.as_secs_f64(),
        report::si(result.first.rate())
    );
    result.sustained = send_phase(run, &url, pid, &mut generator, 1, run.settings.samples);
    drop(generator);
    let samples = sampler.finish();
    result.peak_rss_sampled = samples.iter().copied().max().unwrap_or(0);
    eprintln!(
        "  sustained: {} samples in {:.1}s ({} samples/s, {:.2} CPU s per 1M samples)",
        result.sustained.sent.samples,
        result.sustained.sent.elapsed.as_secs_f64(),
        report::si(result.sustained.rate()),
        result.sustained.cpu_per_million()
    );
    let failures = result.first.sent.failures + result.sustained.sent.failures;
    if failures > 0 {
        let mut errors = result.first.sent.first_errors.clone();
        errors.extend(result.sustained.sent.first_errors.iter().cloned());
        let errors: Vec<String> = errors
            .iter()
            .map(|error| {
                error
                    .lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(200)
                    .collect()
            })
            .collect();
        result.error = Some(format!(
            "{failures} write requests failed: {}",
            errors.join(" | ")
        ));
        eprintln!("  {}", result.error.as_deref().unwrap_or_default());
    }

    // What the system says it took.
    if let Err(problem) = system.flush(&client) {
        eprintln!("  flush: {problem}");
    }
    let (samples_metric, series_metric) = systems::accepted_metrics(kind);
    result.accepted_samples =
        systems::self_metric(&client, &system.url("/metrics"), samples_metric);
    result.accepted_series = systems::self_metric(&client, &system.url("/metrics"), series_metric);
    result.up_series = count_series(
        &query_client,
        &system.url("/api/v1/series"),
        "up",
        &run.window,
    );
    // Not counted: Prometheus's snapshots (measured on their own below) and
    // VictoriaMetrics's cache/ (in-memory caches it persists on shutdown, not sample storage).
    let not_storage: &[&str] = match kind {
        Kind::VictoriaMetrics => &["cache", "snapshots"],
        _ => &["snapshots"],
    };
    result.disk_after_ingest = Some(measure::dir_usage(&system.data_dir, not_storage));

    // Memory once the dust has settled.
    std::thread::sleep(Duration::from_secs(run.settings.settle_s));
    let steady = measure::RssSampler::start(pid, Duration::from_millis(200));
    std::thread::sleep(Duration::from_secs(run.settings.steady_s));
    let steady_samples: Vec<f64> = steady.finish().iter().map(|bytes| *bytes as f64).collect();
    result.steady_rss = measure::median(&steady_samples) as u64;
    result.peak_rss = measure::memory(pid)
        .map_or(0, |memory| memory.peak)
        .max(result.peak_rss_sampled);

    // PromQL.
    result.queries = Some(match queries::probe(&query_client, &system.url("")) {
        Ok(()) => {
            let mut measured = Vec::new();
            for query in QUERIES {
                let outcome = queries::measure(
                    &query_client,
                    &system.url(""),
                    query,
                    &run.window,
                    run.settings.query_runs,
                );
                if let Err(problem) = &outcome.result {
                    eprintln!("  query {}: {problem}", query.id);
                }
                measured.push(outcome);
            }
            let total: f64 = measured.iter().map(Measured::median_ms).sum();
            eprintln!("  {} queries, sum of medians {total:.1} ms", measured.len());
            Ok(measured)
        }
        Err(problem) => {
            eprintln!("  PromQL: {problem}");
            Err(problem)
        }
    });

    // Disk after flushing: Prometheus and Sightline write their head into blocks (admin
    // snapshot); VictoriaMetrics is measured after a graceful stop.
    if kind != Kind::VictoriaMetrics {
        match system.snapshot(&query_client) {
            Ok(snapshot) => {
                result.disk_flushed = Some(measure::dir_usage(&snapshot, &[]));
                result.disk_flushed_note = "head written as a block (admin snapshot)".to_string();
            }
            Err(problem) => eprintln!("  snapshot: {problem}"),
        }
    }
    let (clean, stop_time) = system.stop(Duration::from_secs(120));
    result.stop_clean = clean;
    result.stop_s = stop_time.as_secs_f64();
    if kind == Kind::VictoriaMetrics || result.disk_flushed.is_none() {
        let usage = measure::dir_usage(&system.data_dir, not_storage);
        result.disk_flushed_note = match kind {
            Kind::Sightline if only_wal(&usage) => {
                "WAL only: on-disk blocks are not built yet".to_string()
            }
            Kind::VictoriaMetrics => format!(
                "data directory after a graceful stop, without cache/ ({})",
                report::bytes(measure::dir_usage(&system.data_dir.join("cache"), &[]).bytes as f64)
            ),
            _ => "data directory after a graceful stop".to_string(),
        };
        result.disk_flushed = Some(usage);
    }
    result.log_tail = system.log_tail(20);
    if run.settings.keep_data {
        eprintln!("  data kept in {}", system.root().display());
    }
    result
}

/// Whether a Sightline data directory holds nothing but its WAL (plus metadata and lock).
fn only_wal(usage: &DirUsage) -> bool {
    usage.components.keys().all(|component| {
        component.starts_with("metrics/wal") || component.starts_with("meta") || component == "lock"
    })
}

/// Number of series matching `selector` over the workload's time range.
fn count_series(
    client: &reqwest::blocking::Client,
    url: &str,
    selector: &str,
    window: &Window,
) -> Option<usize> {
    let start = (window.start_ms - 3_600_000) / 1000;
    let end = (window.end_ms + 3_600_000) / 1000;
    let body: serde_json::Value = client
        .get(url)
        .query(&[
            ("match[]", selector.to_string()),
            ("start", start.to_string()),
            ("end", end.to_string()),
        ])
        .send()
        .ok()?
        .json()
        .ok()?;
    body["data"].as_array().map(Vec::len)
}

fn result_of(results: &[(Kind, SystemResult)], kind: Kind) -> &SystemResult {
    &results
        .iter()
        .find(|(each, _)| *each == kind)
        .expect("every kind has a result")
        .1
}

/// Fills a row from a per-system function; systems without figures show why.
fn fill(
    row: &mut Row,
    results: &[(Kind, SystemResult)],
    figure: impl Fn(Kind, &SystemResult) -> Cell,
) {
    for (kind, result) in results {
        let cell = match &result.skipped {
            Some(reason) => Cell::text(reason.clone()),
            None => figure(*kind, result),
        };
        row.set(*kind, cell);
    }
}

fn build_rows(run: &Run, results: &[(Kind, SystemResult)]) -> Vec<Row> {
    let series = run.shape.series as f64;
    let mut rows = Vec::new();

    let mut row = Row::new(
        "ingest_first_round",
        "ingest, first round (creates series) [samples/s]",
        "samples/s",
    )
    .judged(Kind::VictoriaMetrics, Better::Higher, false);
    fill(&mut row, results, |_, result| {
        Cell::value(result.first.rate(), report::si(result.first.rate()))
    });
    rows.push(row);

    let mut row = Row::new(
        "ingest_sustained",
        "ingest, sustained (later rounds) [samples/s]",
        "samples/s",
    )
    .judged(Kind::VictoriaMetrics, Better::Higher, true);
    fill(&mut row, results, |_, result| {
        Cell::value(result.sustained.rate(), report::si(result.sustained.rate()))
    });
    rows.push(row);

    let mut row = Row::new(
        "cpu_per_million_sustained",
        "CPU per 1M samples, sustained [s]",
        "s",
    )
    .judged(Kind::VictoriaMetrics, Better::Lower, true);
    fill(&mut row, results, |_, result| {
        let value = result.sustained.cpu_per_million();
        Cell::value(value, report::significant(value, 3))
    });
    rows.push(row);

    let mut row = Row::new(
        "cpu_per_million_all",
        "CPU per 1M samples, all rounds [s]",
        "s",
    )
    .judged(Kind::VictoriaMetrics, Better::Lower, false);
    fill(&mut row, results, |_, result| {
        let samples = result.total_samples() as f64;
        let value = (result.first.cpu_s + result.sustained.cpu_s) / (samples / 1e6).max(1e-12);
        Cell::value(value, report::significant(value, 3))
    });
    rows.push(row);

    let mut row = Row::new(
        "other_cpu_during_ingest",
        "other processes' CPU during ingest [cores]",
        "cores",
    );
    fill(&mut row, results, |_, result| {
        let seconds =
            result.first.sent.elapsed.as_secs_f64() + result.sustained.sent.elapsed.as_secs_f64();
        let value = (result.first.other_cpu_s + result.sustained.other_cpu_s) / seconds.max(1e-9);
        Cell::value(value, format!("{value:.2}"))
    });
    rows.push(row);

    let mut row = Row::new("accepted", "samples / series accepted (self-metrics)", "");
    fill(&mut row, results, |_, result| {
        let show = |value: Option<f64>| value.map_or("?".to_string(), report::si);
        Cell::text(format!(
            "{} / {}",
            show(result.accepted_samples),
            show(result.accepted_series)
        ))
    });
    rows.push(row);

    let mut row = Row::new("rss_idle", "RSS idle before ingest", "bytes");
    fill(&mut row, results, |_, result| {
        Cell::value(
            result.idle_rss as f64,
            report::bytes(result.idle_rss as f64),
        )
    });
    rows.push(row);

    let mut row = Row::new("rss_peak", "RSS peak (VmHWM)", "bytes").judged(
        Kind::VictoriaMetrics,
        Better::Lower,
        false,
    );
    fill(&mut row, results, |_, result| {
        Cell::value(
            result.peak_rss as f64,
            report::bytes(result.peak_rss as f64),
        )
    });
    rows.push(row);

    let mut row = Row::new("rss_steady", "RSS steady after ingest", "bytes").judged(
        Kind::VictoriaMetrics,
        Better::Lower,
        false,
    );
    fill(&mut row, results, |_, result| {
        Cell::value(
            result.steady_rss as f64,
            report::bytes(result.steady_rss as f64),
        )
    });
    rows.push(row);

    let mut row = Row::new(
        "rss_per_series",
        "RSS steady per active series [bytes]",
        "bytes",
    )
    .judged(Kind::VictoriaMetrics, Better::Lower, true);
    fill(&mut row, results, |_, result| {
        let value = result.steady_rss as f64 / series;
        Cell::value(value, format!("{value:.0}"))
    });
    rows.push(row);

    let disk_cell = |usage: &Option<DirUsage>, result: &SystemResult, tag: &str| match usage {
        Some(usage) => {
            let value = usage.bytes as f64 / (result.total_samples() as f64).max(1.0);
            Cell::value(value, format!("{}{tag}", report::significant(value, 3)))
        }
        None => Cell::text("?"),
    };
    let mut row = Row::new(
        "disk_after_ingest",
        "disk after ingest, data dir as is [bytes/sample]",
        "bytes/sample",
    )
    .judged(Kind::VictoriaMetrics, Better::Lower, false);
    fill(&mut row, results, |kind, result| {
        let tag = match kind {
            Kind::Sightline if result.disk_after_ingest.as_ref().is_some_and(only_wal) => " (WAL)",
            Kind::Prometheus => match &result.disk_after_ingest {
                Some(usage) if usage.components.keys().all(|name| name.starts_with("wal")) => {
                    " (WAL)"
                }
                _ => " (WAL+head chunks)",
            },
            _ => "",
        };
        disk_cell(&result.disk_after_ingest, result, tag)
    });
    rows.push(row);

    let mut row = Row::new(
        "disk_flushed",
        "disk after flush [bytes/sample]",
        "bytes/sample",
    )
    .judged(Kind::VictoriaMetrics, Better::Lower, true);
    fill(&mut row, results, |kind, result| {
        let tag = match kind {
            Kind::Sightline if result.disk_flushed.as_ref().is_some_and(only_wal) => " (WAL only)",
            Kind::Prometheus => " (block)",
            _ => "",
        };
        disk_cell(&result.disk_flushed, result, tag)
    });
    rows.push(row);

    let reference = result_of(results, Kind::Prometheus)
        .queries
        .as_ref()
        .and_then(|outcome| outcome.as_ref().ok());
    for (index, query) in QUERIES.iter().enumerate() {
        let kind_tag = match query.kind {
            queries::Kind::Instant => "",
            queries::Kind::Range => " (range)",
        };
        let mut row = Row::new(
            format!("query_{}", query.id),
            format!("query {}{kind_tag}, median [ms]", query.id),
            "ms",
        )
        .judged(Kind::Prometheus, Better::Lower, true);
        fill(&mut row, results, |kind, result| match &result.queries {
            None => Cell::text("?"),
            Some(Err(_)) if kind == Kind::Sightline => Cell::text("n/a (not implemented)"),
            Some(Err(_)) => Cell::text("n/a"),
            Some(Ok(measured)) => {
                let measured = &measured[index];
                match &measured.result {
                    Err(_) => Cell::text("error"),
                    Ok(answer) => {
                        let differs = kind != Kind::Prometheus
                            && reference
                                .and_then(|reference| reference[index].result.as_ref().ok())
                                .is_some_and(|expected| {
                                    queries::compare(expected, answer).is_some()
                                });
                        let value = measured.median_ms();
                        let mark = if differs { " ≠" } else { "" };
                        Cell::value(value, format!("{}{mark}", report::significant(value, 3)))
                    }
                }
            }
        });
        rows.push(row);
    }

    let mut row = Row::new(
        "queries_equal",
        "query results equal to Prometheus's",
        "queries",
    );
    fill(&mut row, results, |kind, result| {
        match (&result.queries, reference) {
            (Some(Ok(measured)), Some(reference)) if kind != Kind::Prometheus => {
                let equal = measured
                    .iter()
                    .zip(reference)
                    .filter(|(ours, theirs)| match (&ours.result, &theirs.result) {
                        (Ok(ours), Ok(theirs)) => queries::compare(theirs, ours).is_none(),
                        _ => false,
                    })
                    .count();
                Cell::value(equal as f64, format!("{equal}/{}", QUERIES.len()))
            }
            (Some(Ok(_)), _) if kind == Kind::Prometheus => Cell::text("reference"),
            (Some(Err(_)), _) if kind == Kind::Sightline => Cell::text("n/a (not implemented)"),
            _ => Cell::text("n/a"),
        }
    });
    rows.push(row);
    rows
}

fn build_notes(
    run: &Run,
    results: &[(Kind, SystemResult)],
    load_at_start: &str,
    cpus: usize,
) -> Vec<String> {
    let settings = &run.settings;
    let mut notes = vec![
        format!(
            "workload: {} active series ({} targets), {} samples each at {}s ({} samples), seed {}, \
             {} samples per request, {} concurrent senders{}",
            run.shape.series,
            run.targets,
            settings.samples,
            settings.interval_s,
            run.shape.series * settings.samples,
            settings.seed,
            settings.batch,
            settings.concurrency,
            if settings.quick { ", --quick" } else { "" }
        ),
        format!(
            "machine: {cpus} CPUs, load average {load_at_start} at start, {} at end; the bench \
             and the systems it starts ran at nice {} (the sender shares the machine; see the \
             'other processes' row for everything else that ran)",
            measure::load_average(),
            measure::own_niceness().map_or("?".to_string(), |nice| nice.to_string())
        ),
        "ratio: Sightline ÷ the peer named; ✓/✗ where DESIGN.md sets a target (ingest and CPU vs \
         VictoriaMetrics, memory and disk vs VictoriaMetrics, query latency vs Prometheus)"
            .to_string(),
        "VictoriaMetrics runs with -search.maxLookback=5m -search.latencyOffset=0s -search.disableCache \
         so its answers are comparable; its rate()/increase() do not extrapolate and some \
         functions keep the metric name (MetricsQL), so those results differ from Prometheus's \
         by design (≠)"
            .to_string(),
    ];
    for (kind, result) in results {
        if result.skipped.as_deref() == Some("not selected") {
            continue;
        }
        let mut line = format!("{}: {}", kind.name(), result.version);
        if let Some(skipped) = &result.skipped {
            line.push_str(&format!(
                " — {skipped}: {}",
                result.error.as_deref().unwrap_or("")
            ));
            notes.push(line);
            continue;
        }
        line.push_str(&format!(
            "; ready in {:.1}s; {} retried requests; graceful stop {} in {:.1}s",
            result.ready_s,
            result.first.sent.retries + result.sustained.sent.retries,
            if result.stop_clean {
                "clean"
            } else {
                "NOT clean"
            },
            result.stop_s
        ));
        if let Some(up) = result.up_series {
            line.push_str(&format!("; `up` series {up} (expected {})", run.targets));
        }
        if let Some(usage) = &result.disk_after_ingest {
            line.push_str(&format!(
                "; disk after ingest {} [{}]",
                report::bytes(usage.bytes as f64),
                usage.breakdown()
            ));
        }
        if let Some(usage) = &result.disk_flushed {
            line.push_str(&format!(
                "; after flush {} [{}] ({})",
                report::bytes(usage.bytes as f64),
                usage.breakdown(),
                result.disk_flushed_note
            ));
        }
        if let Some(error) = &result.error {
            line.push_str(&format!("; ERROR: {error}"));
        }
        notes.push(line);
        if let (Some(Ok(measured)), Some(Ok(reference))) = (
            &result.queries,
            &result_of(results, Kind::Prometheus).queries,
        ) {
            if *kind != Kind::Prometheus {
                for ((query, ours), theirs) in QUERIES.iter().zip(measured).zip(reference) {
                    let difference = match (&ours.result, &theirs.result) {
                        (Ok(ours), Ok(theirs)) => queries::compare(theirs, ours),
                        (Err(problem), _) => Some(format!("error: {problem}")),
                        (_, Err(problem)) => Some(format!("reference failed: {problem}")),
                    };
                    if let Some(difference) = difference {
                        let difference: String = difference.chars().take(240).collect();
                        notes.push(format!(
                            "  {} ≠ Prometheus on {}: {difference}",
                            kind.short(),
                            query.id
                        ));
                    }
                }
            }
        }
    }
    notes
}

fn phase_json(phase: &Phase) -> serde_json::Value {
    serde_json::json!({
        "samples": phase.sent.samples,
        "requests": phase.sent.requests,
        "request_bytes": phase.sent.bytes,
        "seconds": phase.sent.elapsed.as_secs_f64(),
        "samples_per_second": phase.rate(),
        "cpu_seconds": phase.cpu_s,
        "cpu_seconds_per_million_samples": phase.cpu_per_million(),
        "bench_cpu_seconds": phase.bench_cpu_s,
        "other_processes_cpu_seconds": phase.other_cpu_s,
        "retries": phase.sent.retries,
        "failures": phase.sent.failures,
        "errors": phase.sent.first_errors,
    })
}

fn usage_json(usage: &Option<DirUsage>) -> serde_json::Value {
    match usage {
        None => serde_json::Value::Null,
        Some(usage) => serde_json::json!({
            "bytes": usage.bytes,
            "allocated_bytes": usage.allocated,
            "files": usage.files,
            "components": usage.components,
        }),
    }
}

fn systems_json(run: &Run, results: &[(Kind, SystemResult)]) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for (kind, result) in results {
        out.insert(
            kind.key().to_string(),
            serde_json::json!({
                "version": result.version,
                "skipped": result.skipped,
                "error": result.error,
                "ready_seconds": result.ready_s,
                "first_round": phase_json(&result.first),
                "sustained": phase_json(&result.sustained),
                "rss_idle_bytes": result.idle_rss,
                "rss_peak_bytes": result.peak_rss,
                "rss_peak_sampled_bytes": result.peak_rss_sampled,
                "rss_steady_bytes": result.steady_rss,
                "rss_steady_bytes_per_series": result.steady_rss as f64 / run.shape.series as f64,
                "disk_after_ingest": usage_json(&result.disk_after_ingest),
                "disk_flushed": usage_json(&result.disk_flushed),
                "disk_flushed_note": result.disk_flushed_note,
                "accepted_samples": result.accepted_samples,
                "accepted_series": result.accepted_series,
                "up_series": result.up_series,
                "expected_up_series": run.targets,
                "stop_clean": result.stop_clean,
                "stop_seconds": result.stop_s,
                "log_tail": result.log_tail,
            }),
        );
    }
    serde_json::Value::Object(out)
}

fn queries_json(results: &[(Kind, SystemResult)]) -> serde_json::Value {
    let reference = result_of(results, Kind::Prometheus)
        .queries
        .as_ref()
        .and_then(|outcome| outcome.as_ref().ok());
    let list: Vec<serde_json::Value> = QUERIES
        .iter()
        .enumerate()
        .map(|(index, query)| {
            let mut per_system = serde_json::Map::new();
            for (kind, result) in results {
                let value = match &result.queries {
                    None => serde_json::Value::Null,
                    Some(Err(problem)) => serde_json::json!({ "available": false, "reason": problem }),
                    Some(Ok(measured)) => {
                        let measured = &measured[index];
                        let difference = match (&measured.result, reference.map(|reference| &reference[index].result)) {
                            (Ok(ours), Some(Ok(theirs))) => queries::compare(theirs, ours),
                            (Err(problem), _) => Some(format!("error: {problem}")),
                            _ => Some("no reference".to_string()),
                        };
                        serde_json::json!({
                            "available": true,
                            "median_ms": measured.median_ms(),
                            "p90_ms": measured.p90_ms(),
                            "latencies_ms": measured.latencies_ms,
                            "series": measured.result.as_ref().map(|answer| answer.series.len()).ok(),
                            "equal_to_prometheus": difference.is_none(),
                            "difference": difference,
                        })
                    }
                };
                per_system.insert(kind.key().to_string(), value);
            }
            serde_json::json!({
                "id": query.id,
                "expr": query.expr,
                "kind": match query.kind { queries::Kind::Instant => "instant", queries::Kind::Range => "range" },
                "systems": per_system,
            })
        })
        .collect();
    serde_json::Value::Array(list)
}

/// `<target>/load-bench`, found from this executable (`<target>/release/deps/load-…`).
fn default_out_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            let deps = exe.parent()?;
            if deps.file_name()? != "deps" {
                return None;
            }
            Some(deps.parent()?.parent()?.join("load-bench"))
        })
        .unwrap_or_else(|| PathBuf::from("target").join("load-bench"))
}

fn write_json(
    settings: &Settings,
    started_at: i64,
    json: &serde_json::Value,
) -> Result<PathBuf, String> {
    let dir = settings.out_dir.clone().unwrap_or_else(default_out_dir);
    std::fs::create_dir_all(&dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    let stamp = sightline::time_format::rfc3339_millis(started_at).replace(':', "-");
    let text = serde_json::to_string_pretty(json).map_err(|error| error.to_string())?;
    let path = dir.join(format!("{stamp}.json"));
    std::fs::write(&path, &text).map_err(|error| format!("{}: {error}", path.display()))?;
    let latest = dir.join("latest.json");
    std::fs::write(&latest, &text).map_err(|error| format!("{}: {error}", latest.display()))?;
    Ok(path)
}
