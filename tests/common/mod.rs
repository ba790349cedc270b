//! Starts the real `sightline` binary on an ephemeral loopback port with a temp data dir,
//! the way a user would, and talks to it over HTTP.

#![allow(dead_code)]

pub mod peers;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_sightline");

pub struct TestServer {
    pub child: Child,
    pub addr: String,
    pub data_dir: PathBuf,
    pub log: Arc<Mutex<Vec<String>>>,
    _temp: Option<tempfile::TempDir>,
}

/// How to start a server: extra CLI args, env vars, and an optional data dir to reuse.
#[derive(Default)]
pub struct Launch {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub data_dir: Option<PathBuf>,
    /// Run on the embedded default config (which scrapes the server itself).
    pub embedded_default: bool,
}

impl Launch {
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn embedded_default(mut self) -> Self {
        self.embedded_default = true;
        self
    }

    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.to_path_buf());
        self
    }
}

/// Spawns the binary and collects its stderr lines in the background.
pub fn spawn(
    launch: Launch,
) -> (
    Child,
    Arc<Mutex<Vec<String>>>,
    Option<tempfile::TempDir>,
    PathBuf,
) {
    let (temp, data_dir) = match launch.data_dir {
        Some(dir) => (None, dir),
        None => {
            let temp = tempfile::tempdir().expect("temp dir");
            let dir = temp.path().join("data");
            (Some(temp), dir)
        }
    };
    let mut command = Command::new(BIN);
    command
        .arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(&data_dir)
        .args(&launch.args);
    // Without a config of its own a test gets one that scrapes nothing, so that sample
    // counts are exactly what the test wrote; the embedded default is tested on its own.
    if !launch.args.iter().any(|arg| arg == "--config") && !launch.embedded_default {
        let quiet = data_dir.with_file_name("test-config.yaml");
        std::fs::create_dir_all(data_dir.parent().expect("data dir has a parent"))
            .expect("config dir");
        std::fs::write(&quiet, "scrape_configs: []\n").expect("write test config");
        command.arg("--config").arg(quiet);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in &launch.env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("spawn sightline");
    let log = Arc::new(Mutex::new(Vec::new()));
    let stderr = child.stderr.take().expect("stderr");
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    (child, log, temp, data_dir)
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::start_with(Launch::default())
    }

    /// Starts the server and waits until it listens (not necessarily ready).
    pub fn start_with(launch: Launch) -> TestServer {
        let (mut child, log, temp, data_dir) = spawn(launch);
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            let found = log.lock().unwrap().iter().find_map(|line| {
                line.contains("sightline listening")
                    .then(|| line.split("addr=").nth(1))
                    .flatten()
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_string)
            });
            if let Some(addr) = found {
                break addr;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "sightline exited with {status} before listening:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "sightline did not start listening in time"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        TestServer {
            child,
            addr,
            data_dir,
            log,
            _temp: temp,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn client() -> reqwest::blocking::Client {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client")
    }

    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        TestServer::client()
            .get(self.url(path))
            .send()
            .expect("GET")
    }

    /// Polls `/-/ready` until it answers 200.
    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(response) = TestServer::client().get(self.url("/-/ready")).send() {
                if response.status() == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server not ready in time:\n{}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a config file into a fresh temp dir and returns both.
pub fn config_file(yaml: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sightline.yaml");
    std::fs::write(&path, yaml).expect("write config");
    (dir, path)
}

/// Checks that `text` is well-formed Prometheus text exposition: every sample line is
/// `name{labels} value` with a valid name and a float value, and every TYPE precedes its
/// samples. Returns the sample names seen.
pub fn parse_exposition(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.split_whitespace();
            let keyword = words.next().unwrap_or("");
            assert!(
                keyword == "HELP" || keyword == "TYPE",
                "unexpected comment line {line:?}"
            );
            if keyword == "TYPE" {
                let kind = words.nth(1).unwrap_or("");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "bad TYPE line {line:?}"
                );
            }
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("no value in {line:?}"));
        let name = &line[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.starts_with(|c: char| c.is_ascii_digit()),
            "bad metric name in {line:?}"
        );
        let rest = &line[name_end..];
        let value_text = if rest.starts_with('{') {
            let close = rest
                .rfind('}')
                .unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
            rest[close + 1..].trim()
        } else {
            rest.trim()
        };
        let value = value_text.split_whitespace().next().unwrap_or("");
        let valid = value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value);
        assert!(valid, "bad value {value:?} in {line:?}");
        names.push(name.to_string());
    }
    names
}
