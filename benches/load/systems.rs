//! The systems under test: how to find, start, probe, flush and stop each one. Every
//! system listens on a free loopback port, keeps its data in a fresh temp directory, scrapes
//! nothing, and writes its log to a file next to that directory.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sightline,
    Prometheus,
    VictoriaMetrics,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Sightline, Kind::Prometheus, Kind::VictoriaMetrics];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Sightline => "Sightline",
            Kind::Prometheus => "Prometheus",
            Kind::VictoriaMetrics => "VictoriaMetrics",
        }
    }

    /// Lowercase key used on the command line and in the JSON report.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Sightline => "sightline",
            Kind::Prometheus => "prometheus",
            Kind::VictoriaMetrics => "victoriametrics",
        }
    }

    pub fn short(self) -> &'static str {
        match self {
            Kind::Sightline => "Sightline",
            Kind::Prometheus => "Prom",
            Kind::VictoriaMetrics => "VM",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        match text
            .trim()
            .to_ascii_lowercase()
            .replace(['-', '_'], "")
            .as_str()
        {
            "sightline" => Some(Kind::Sightline),
            "prometheus" | "prom" => Some(Kind::Prometheus),
            "victoriametrics" | "vm" => Some(Kind::VictoriaMetrics),
            _ => None,
        }
    }

    /// Environment variable that overrides the binary's path.
    pub fn binary_env(self) -> &'static str {
        match self {
            Kind::Sightline => "LOAD_BENCH_SIGHTLINE_BIN",
            Kind::Prometheus => "LOAD_BENCH_PROMETHEUS_BIN",
            Kind::VictoriaMetrics => "LOAD_BENCH_VICTORIA_METRICS_BIN",
        }
    }

    fn default_binary(self) -> &'static str {
        match self {
            Kind::Sightline => env!("CARGO_BIN_EXE_sightline"),
            Kind::Prometheus => "prometheus",
            Kind::VictoriaMetrics => "victoria-metrics",
        }
    }

    pub fn debian_package(self) -> Option<&'static str> {
        match self {
            Kind::Sightline => None,
            Kind::Prometheus => Some("prometheus"),
            Kind::VictoriaMetrics => Some("victoria-metrics"),
        }
    }
}

/// The binary for `kind`: the override variable, else the default (looked up on `PATH` for
/// the peers). The error explains how to install it.
pub fn locate(kind: Kind) -> Result<PathBuf, String> {
    if let Ok(path) = std::env::var(kind.binary_env()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "{} points at {}, which is not a file",
                kind.binary_env(),
                path.display()
            ))
        };
    }
    let default = Path::new(kind.default_binary());
    if default.is_absolute() {
        return if default.is_file() {
            Ok(default.to_path_buf())
        } else {
            Err(format!(
                "{} is missing: build it with `cargo build --release`",
                default.display()
            ))
        };
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(default))
            .find(|candidate| candidate.is_file())
    });
    found.ok_or_else(|| {
        format!(
            "`{}` not found on PATH: install it with `sudo apt-get install -y {}` \
             (or run the bench with --install-peers), or set {}",
            default.display(),
            kind.debian_package().unwrap_or("?"),
            kind.binary_env()
        )
    })
}

/// Installs the missing peers' Debian packages (needs root; used with `--install-peers`).
pub fn install_packages(kinds: &[Kind]) -> Result<(), String> {
    let packages: Vec<&str> = kinds
        .iter()
        .filter_map(|kind| kind.debian_package())
        .collect();
    if packages.is_empty() {
        return Ok(());
    }
    let (program, mut args) = if is_root() {
        ("apt-get", Vec::new())
    } else {
        ("sudo", vec!["-n", "apt-get"])
    };
    args.extend(["install", "-y"]);
    args.extend(packages.iter().copied());
    eprintln!(
        "installing {} with {program} {}",
        packages.join(", "),
        args.join(" ")
    );
    let status = Command::new(program)
        .args(&args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|error| format!("cannot run {program}: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{program} {} failed: {status}", args.join(" ")))
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The version line the binary prints, else the version of the Debian package that
/// installed it (Debian's VictoriaMetrics build prints an empty version).
pub fn version(kind: Kind, binary: &Path) -> String {
    let printed = printed_version(kind, binary);
    if printed != "unknown" {
        return printed;
    }
    package_version(binary).unwrap_or(printed)
}

fn package_version(binary: &Path) -> Option<String> {
    let owner = Command::new("dpkg").arg("-S").arg(binary).output().ok()?;
    let text = String::from_utf8_lossy(&owner.stdout);
    let package = text.lines().next()?.split(':').next()?.trim().to_string();
    let version = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", &package])
        .output()
        .ok()?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    (!version.is_empty()).then(|| format!("{package} {version} (Debian package)"))
}

fn printed_version(kind: Kind, binary: &Path) -> String {
    let flag = match kind {
        Kind::VictoriaMetrics => "-version",
        _ => "--version",
    };
    Command::new(binary)
        .arg(flag)
        .output()
        .ok()
        .map(|output| {
            let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&output.stderr));
            text.lines()
                .find(|line| !line.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .filter(|line| !line.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Pids of the systems started and not yet stopped, killed if the bench is interrupted.
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// SIGKILLs every system still running (for Ctrl-C).
pub fn kill_all_started() {
    let pids: Vec<u32> = RUNNING.lock().map(|pids| pids.clone()).unwrap_or_default();
    for pid in pids {
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg(pid.to_string())
            .status();
    }
}

pub struct Running {
    pub kind: Kind,
    child: Child,
    pub port: u16,
    /// The data directory the system was told to use.
    pub data_dir: PathBuf,
    /// Holds the data directory, the config and the log; removed on drop unless kept.
    root: Option<tempfile::TempDir>,
    kept_root: Option<PathBuf>,
    log_path: PathBuf,
    stopped: bool,
}

/// A port free right now on loopback (the system binds it a moment later).
fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|error| format!("no free loopback port: {error}"))
}

/// Starts `kind` and waits until it is ready to take writes.
pub fn start(kind: Kind, binary: &Path, temp_base: &Path, keep: bool) -> Result<Running, String> {
    std::fs::create_dir_all(temp_base)
        .map_err(|error| format!("cannot create {}: {error}", temp_base.display()))?;
    let root = tempfile::Builder::new()
        .prefix(&format!("load-bench-{}-", kind.key()))
        .tempdir_in(temp_base)
        .map_err(|error| {
            format!(
                "cannot create a temp dir in {}: {error}",
                temp_base.display()
            )
        })?;
    let data_dir = root.path().join("data");
    let log_path = root.path().join("log.txt");
    let port = free_port()?;
    let listen = format!("127.0.0.1:{port}");
    let mut command = Command::new(binary);
    match kind {
        Kind::Sightline => {
            let config = root.path().join("sightline.yaml");
            // Loki's default ingestion rates (4 MB/s per tenant, 3 MB/s per stream) would
            // measure the limiter, not the store: the bench lifts them.
            std::fs::write(
                &config,
                "scrape_configs: []\nlogs:\n  limits:\n    ingestion_rate_mb: 100000\n    ingestion_burst_size_mb: 100000\n    per_stream_rate_limit: 100GB\n    per_stream_rate_limit_burst: 100GB\n",
            )
                .map_err(|error| format!("cannot write {}: {error}", config.display()))?;
            command
                .arg("serve")
                .arg("--listen")
                .arg(listen.as_str())
                .arg("--data-dir")
                .arg(&data_dir)
                .arg("--config")
                .arg(config)
                .arg("--log-level")
                .arg("warn");
        }
        Kind::Prometheus => {
            let config = root.path().join("prometheus.yml");
            std::fs::write(
                &config,
                "global:\n  scrape_interval: 15s\nscrape_configs: []\n",
            )
            .map_err(|error| format!("cannot write {}: {error}", config.display()))?;
            command
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.tsdb.path={}", data_dir.display()))
                .arg(format!("--web.listen-address={listen}"))
                .arg("--web.enable-remote-write-receiver")
                .arg("--web.enable-admin-api")
                .arg("--storage.tsdb.retention.time=30d")
                .arg("--log.level=warn");
        }
        Kind::VictoriaMetrics => {
            command
                .arg(format!("-httpListenAddr={listen}"))
                .arg(format!("-storageDataPath={}", data_dir.display()))
                .arg("-retentionPeriod=1")
                // Query model as close to Prometheus as flags allow, so results compare:
                // 5m lookback, no 30s "latency offset", no response cache.
                .arg("-search.maxLookback=5m")
                .arg("-search.latencyOffset=0s")
                .arg("-search.disableCache")
                .arg("-search.maxUniqueTimeseries=100000000")
                .arg("-search.maxSeries=100000000")
                .arg("-loggerLevel=WARN");
        }
    }
    let log = File::create(&log_path)
        .map_err(|error| format!("cannot create {}: {error}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .map_err(|error| format!("cannot reopen {}: {error}", log_path.display()))?;
    command
        .current_dir(root.path())
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err));
    let child = command
        .spawn()
        .map_err(|error| format!("cannot start {}: {error}", binary.display()))?;
    if let Ok(mut pids) = RUNNING.lock() {
        pids.push(child.id());
    }
    let (root, kept_root) = if keep {
        (None, Some(root.keep()))
    } else {
        (Some(root), None)
    };
    let mut running = Running {
        kind,
        child,
        port,
        data_dir,
        root,
        kept_root,
        log_path,
        stopped: false,
    };
    running.wait_ready(Duration::from_secs(120))?;
    Ok(running)
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Where the data directory, config and log live.
    pub fn root(&self) -> PathBuf {
        match (&self.root, &self.kept_root) {
            (Some(root), _) => root.path().to_path_buf(),
            (None, Some(kept)) => kept.clone(),
            (None, None) => self.data_dir.clone(),
        }
    }

    fn ready_path(&self) -> &'static str {
        match self.kind {
            Kind::Sightline | Kind::Prometheus => "/-/ready",
            Kind::VictoriaMetrics => "/health",
        }
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let client = short_client();
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "{} exited with {status} before it was ready; log:\n{}",
                    self.kind.name(),
                    self.log_tail(30)
                ));
            }
            let ready = client
                .get(self.url(self.ready_path()))
                .send()
                .map(|response| response.status().is_success())
                .unwrap_or(false);
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} was not ready within {limit:?}; log:\n{}",
                    self.kind.name(),
                    self.log_tail(30)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Makes what was ingested searchable and persistent where the system buffers it
    /// (VictoriaMetrics keeps recent rows in memory for up to a second or so).
    pub fn flush(&self, client: &reqwest::blocking::Client) -> Result<(), String> {
        if self.kind != Kind::VictoriaMetrics {
            return Ok(());
        }
        let response = client
            .get(self.url("/internal/force_flush"))
            .send()
            .map_err(|error| format!("force_flush: {error}"))?;
        if !response.status().is_success() {
            return Err(format!("force_flush answered {}", response.status()));
        }
        Ok(())
    }

    /// Writes the head into blocks with the admin snapshot API and returns the snapshot's
    /// directory (Prometheus: `<data>/snapshots/`; Sightline: `<data>/metrics/snapshots/`).
    pub fn snapshot(&self, client: &reqwest::blocking::Client) -> Result<PathBuf, String> {
        let response = client
            .post(self.url("/api/v1/admin/tsdb/snapshot"))
            .send()
            .map_err(|error| format!("snapshot: {error}"))?;
        let status = response.status();
        let body: serde_json::Value = response
            .json()
            .map_err(|error| format!("snapshot answer: {error}"))?;
        let name = body["data"]["name"]
            .as_str()
            .ok_or_else(|| format!("snapshot answered {status}: {body}"))?;
        let database = match self.kind {
            Kind::Sightline => self.data_dir.join("metrics"),
            _ => self.data_dir.clone(),
        };
        Ok(database.join("snapshots").join(name))
    }

    /// SIGTERM, then waits up to `limit` for a clean exit (SIGKILL after that). Returns
    /// whether the exit was clean and how long it took.
    pub fn stop(&mut self, limit: Duration) -> (bool, Duration) {
        let started = Instant::now();
        if self.stopped {
            return (true, Duration::ZERO);
        }
        let pid = self.pid();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        let deadline = Instant::now() + limit;
        let mut clean = false;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                clean = status.success() || status.code().is_some();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !clean {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.stopped = true;
        if let Ok(mut pids) = RUNNING.lock() {
            pids.retain(|running| *running != pid);
        }
        (clean, started.elapsed())
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.stopped {
            let pid = self.pid();
            let _ = self.child.kill();
            let _ = self.child.wait();
            if let Ok(mut pids) = RUNNING.lock() {
                pids.retain(|running| *running != pid);
            }
        }
    }
}

/// A client for probes and small admin calls.
pub fn short_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

/// Sum of every sample of metric `name` in a system's own `/metrics` page.
pub fn self_metric(client: &reqwest::blocking::Client, url: &str, name: &str) -> Option<f64> {
    let text = client.get(url).send().ok()?.text().ok()?;
    let mut found = false;
    let mut sum = 0.0;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        if !(rest.starts_with('{') || rest.starts_with(' ')) {
            continue;
        }
        let value_part = match rest.rfind('}') {
            Some(close) if rest.starts_with('{') => &rest[close + 1..],
            _ => rest,
        };
        if let Some(value) = value_part
            .split_whitespace()
            .next()
            .and_then(|text| text.parse::<f64>().ok())
        {
            sum += value;
            found = true;
        }
    }
    found.then_some(sum)
}

/// The self-metrics that count what a system accepted: `(samples, series)`.
pub fn accepted_metrics(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Sightline => (
            "sightline_tsdb_head_samples_appended_total",
            "sightline_tsdb_head_series",
        ),
        Kind::Prometheus => (
            "prometheus_tsdb_head_samples_appended_total",
            "prometheus_tsdb_head_series",
        ),
        Kind::VictoriaMetrics => ("vm_rows_inserted_total", "vm_new_timeseries_created_total"),
    }
}
