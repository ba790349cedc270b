//! The foundation, tested as a user meets it: a real server process on a loopback port.

mod common;

use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{config_file, parse_exposition, Launch, TestServer, BIN};

#[test]
fn health_and_readiness() {
    let server = TestServer::start();
    let healthy = server.get("/-/healthy");
    assert_eq!(healthy.status(), 200);
    server.wait_ready();
    let ready = server.get("/-/ready");
    assert_eq!(ready.status(), 200);
    assert!(ready.text().unwrap().contains("Ready"));
}

#[test]
fn metrics_endpoint_is_valid_exposition_with_self_metrics() {
    let server = TestServer::start();
    server.wait_ready();
    server.get("/api/v1/status/buildinfo");
    let response = server.get("/metrics");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().unwrap();
    let names = parse_exposition(&text);
    for expected in [
        "sightline_build_info",
        "sightline_http_requests_total",
        "sightline_http_request_duration_seconds_bucket",
        "sightline_http_request_duration_seconds_count",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "sightline_config_last_reload_successful",
    ] {
        assert!(
            names.iter().any(|name| name == expected),
            "missing {expected} in:\n{text}"
        );
    }
    assert!(
        text.contains(
            "sightline_http_requests_total{handler=\"/api/v1/status/buildinfo\",code=\"200\"} 1"
        ),
        "{text}"
    );
}

#[test]
fn responses_are_gzipped_when_asked() {
    let server = TestServer::start();
    let client = reqwest::blocking::Client::builder()
        .no_gzip()
        .build()
        .unwrap();
    let response = client
        .get(server.url("/metrics"))
        .header("Accept-Encoding", "gzip")
        .send()
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let body = response.bytes().unwrap();
    let mut decoded = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut decoded)
        .unwrap();
    assert!(decoded.contains("sightline_build_info"));
}

#[test]
fn ui_index_and_client_route_fallback() {
    let server = TestServer::start();
    let index = server.get("/");
    assert_eq!(index.status(), 200);
    assert!(index.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let index_html = index.text().unwrap();
    assert!(index_html.contains("Sightline"), "{index_html}");

    let deep_link = server.get("/explore");
    assert_eq!(deep_link.status(), 200);
    assert_eq!(deep_link.text().unwrap(), index_html);

    // Hashed assets referenced by the page are served with long-lived caching.
    let script = index_html
        .split('"')
        .find(|part| part.starts_with("/assets/") && part.ends_with(".js"))
        .expect("index.html references a hashed script");
    let asset = server.get(script);
    assert_eq!(asset.status(), 200);
    assert!(asset.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert!(asset.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));

    // Unknown API paths and missing files are 404s, never the page.
    let api = server.get("/api/v1/no_such_endpoint");
    assert_eq!(api.status(), 404);
    assert_eq!(
        api.json::<serde_json::Value>().unwrap()["errorType"],
        "not_found"
    );
    assert_eq!(server.get("/assets/missing-123.js").status(), 404);
}

#[test]
fn status_endpoints_use_the_prometheus_envelope() {
    let (_dir, path) =
        config_file("server:\n  auth:\n    bearer_tokens: [\"${SIGHTLINE_TEST_SECRET}\"]\n");
    let server = TestServer::start_with(
        Launch::default()
            .arg("--config")
            .arg(path.to_str().unwrap())
            .env("SIGHTLINE_TEST_SECRET", "tok-e2e-9"),
    );
    let client = TestServer::client();
    let build: serde_json::Value = client
        .get(server.url("/api/v1/status/buildinfo"))
        .bearer_auth("tok-e2e-9")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(build["status"], "success");
    assert_eq!(build["data"]["version"], env!("CARGO_PKG_VERSION"));
    let config: serde_json::Value = client
        .get(server.url("/api/v1/status/config"))
        .bearer_auth("tok-e2e-9")
        .send()
        .unwrap()
        .json()
        .unwrap();
    let yaml = config["data"]["yaml"].as_str().unwrap();
    assert!(yaml.contains("<secret>"), "{yaml}");
    assert!(
        !yaml.contains("tok-e2e-9"),
        "secret leaked into status/config: {yaml}"
    );
    assert!(
        !server.log_text().contains("tok-e2e-9"),
        "secret leaked into the log"
    );
}

#[test]
fn auth_protects_everything_but_health() {
    let (_dir, path) = config_file(
        "server:\n  auth:\n    basic_auth_users:\n      admin: hunter2\n    bearer_tokens: [abc]\n",
    );
    let server = TestServer::start_with(
        Launch::default()
            .arg("--config")
            .arg(path.to_str().unwrap()),
    );
    let client = TestServer::client();
    assert_eq!(server.get("/-/healthy").status(), 200);
    server.wait_ready();
    let denied = server.get("/metrics");
    assert_eq!(denied.status(), 401);
    assert!(denied.headers().contains_key("www-authenticate"));
    assert_eq!(server.get("/").status(), 401);
    let wrong = client
        .get(server.url("/metrics"))
        .basic_auth("admin", Some("nope"))
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let basic = client
        .get(server.url("/metrics"))
        .basic_auth("admin", Some("hunter2"))
        .send()
        .unwrap();
    assert_eq!(basic.status(), 200);
    let bearer = client
        .get(server.url("/metrics"))
        .bearer_auth("abc")
        .send()
        .unwrap();
    assert_eq!(bearer.status(), 200);
}

#[test]
fn oversized_body_gets_413_naming_the_limit() {
    let (_dir, path) = config_file("server:\n  limits:\n    max_body_size: 1KB\n");
    let server = TestServer::start_with(
        Launch::default()
            .arg("--config")
            .arg(path.to_str().unwrap()),
    );
    server.wait_ready();
    let response = TestServer::client()
        .post(server.url("/-/reload"))
        .body(vec![b'x'; 4096])
        .send()
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().unwrap();
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains("4096") && message.contains("1024") && message.contains("max_body_size"),
        "{message}"
    );
}

/// Runs `sightline check-config FILE` as a user would.
fn check_config(path: &std::path::Path) -> std::process::Output {
    Command::new(BIN)
        .arg("check-config")
        .arg(path)
        .output()
        .unwrap()
}

#[test]
fn unknown_config_key_is_rejected_with_its_path_and_line() {
    let (_dir, path) = config_file(
        "server:\n  listen: \"127.0.0.1:0\"\nstorage:\n  path: ./d\n  retention:\n    tiem: 1d\n",
    );
    let output = check_config(&path);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("storage.retention"),
        "path missing: {stderr}"
    );
    assert!(stderr.contains("tiem"), "key missing: {stderr}");
    assert!(stderr.contains("line 6"), "line missing: {stderr}");

    // The server refuses to start on it, too.
    let started = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!started.status.success());
    assert!(String::from_utf8_lossy(&started.stderr).contains("tiem"));
}

#[test]
fn semantic_problems_are_all_reported() {
    let (_dir, path) = config_file(
        "server:\n  listen: \"0.0.0.0:9470\"\nuptime:\n  checks:\n    - name: a\n      url: ftp://x\n",
    );
    let output = check_config(&path);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("server.auth"), "{stderr}");
    assert!(stderr.contains("uptime.checks[0].url"), "{stderr}");
}

#[test]
fn shipped_config_files_are_valid() {
    for file in ["sightline.yaml", "docker.yaml", "default.yaml"] {
        let path = format!("{}/config/{file}", env!("CARGO_MANIFEST_DIR"));
        let output = Command::new(BIN)
            .arg("check-config")
            .arg(&path)
            .env(
                "SLACK_WEBHOOK_URL",
                "https://hooks.slack.com/services/T000/B000/XXXX",
            )
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // The example refers to its secret through the environment.
    let without_env = Command::new(BIN)
        .arg("check-config")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/sightline.yaml"
        ))
        .env_remove("SLACK_WEBHOOK_URL")
        .output()
        .unwrap();
    assert!(!without_env.status.success());
    assert!(String::from_utf8_lossy(&without_env.stderr).contains("SLACK_WEBHOOK_URL is not set"));
}

#[test]
fn reload_with_bad_file_keeps_the_running_config() {
    let (_dir, path) = config_file("server:\n  external_url: http://first.example\n");
    let server = TestServer::start_with(
        Launch::default()
            .arg("--config")
            .arg(path.to_str().unwrap()),
    );
    server.wait_ready();
    let config_yaml = || -> String {
        let body: serde_json::Value = server.get("/api/v1/status/config").json().unwrap();
        body["data"]["yaml"].as_str().unwrap().to_string()
    };
    assert!(config_yaml().contains("http://first.example"));

    std::fs::write(
        &path,
        "server:\n  external_url: http://second.example\n  bogus_key: 1\n",
    )
    .unwrap();
    let response = TestServer::client()
        .post(server.url("/-/reload"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 500);
    assert!(response.text().unwrap().contains("bogus_key"));
    assert!(
        config_yaml().contains("http://first.example"),
        "bad reload replaced the config"
    );
    let metrics = server.get("/metrics").text().unwrap();
    assert!(
        metrics.contains("sightline_config_last_reload_successful 0"),
        "{metrics}"
    );

    // A good file applied by SIGHUP takes effect.
    std::fs::write(&path, "server:\n  external_url: http://third.example\n").unwrap();
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !config_yaml().contains("http://third.example") {
        assert!(
            Instant::now() < deadline,
            "SIGHUP reload did not apply:\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let metrics = server.get("/metrics").text().unwrap();
    assert!(
        metrics.contains("sightline_config_last_reload_successful 1"),
        "{metrics}"
    );
}

#[test]
fn second_server_on_the_same_data_dir_fails_clearly() {
    let first = TestServer::start();
    first.wait_ready();
    let output = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&first.data_dir)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("in use by another sightline process"),
        "{stderr}"
    );
    // The first one is unaffected.
    assert_eq!(first.get("/-/ready").status(), 200);
}

#[test]
fn sigterm_exits_zero_within_ten_seconds() {
    let mut server = TestServer::start();
    server.wait_ready();
    server.signal("TERM");
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("still running 10 s after SIGTERM");
    assert!(status.success(), "exit status {status}");
    assert!(server.log_text().contains("sightline stopped"));
}

#[test]
fn restart_after_kill_9_reopens_the_same_data_dir() {
    let mut first = TestServer::start();
    first.wait_ready();
    let data_dir = first.data_dir.clone();
    first.kill9();
    let second = TestServer::start_with(Launch::default().data_dir(&data_dir));
    second.wait_ready();
}

fn self_metric(server: &TestServer, name: &str) -> f64 {
    let text = server.get("/metrics").text().unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// The server's own log lines go into its log store. Storing them must not log anything
/// that is stored again: an idle server once flushed its log index every second, forever,
/// because each flush truncated the log WAL and logged that.
#[test]
fn an_idle_server_does_not_keep_flushing_its_own_logs() {
    let server = TestServer::start();
    server.wait_ready();
    // Start-up lines are flushed within the first seconds (flushes run every second).
    std::thread::sleep(Duration::from_secs(3));
    let before = self_metric(&server, "sightline_logs_chunks_flushed_total");
    std::thread::sleep(Duration::from_secs(5));
    let after = self_metric(&server, "sightline_logs_chunks_flushed_total");
    assert!(
        after - before <= 1.0,
        "{} log flushes in 5 idle seconds",
        after - before
    );
}
