//! Scraping as Prometheus does it: Sightline scraping itself, a real node_exporter (Debian
//! package) with relabeling, file_sd changes picked up live, and broken targets reported.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::peers::{free_port, require_binary, Peer};
use common::{config_file, Launch, TestServer};
use serde_json::Value;
use sightline::metrics::tsdb::index::{MatchOp, Matcher};
use sightline::metrics::tsdb::{is_stale_nan, Tsdb, TsdbOptions};

fn start_with_config(yaml: &str) -> (tempfile::TempDir, TestServer) {
    let (dir, path) = config_file(yaml);
    let server = TestServer::start_with(
        Launch::default()
            .arg("--config")
            .arg(path.to_str().unwrap()),
    );
    server.wait_ready();
    (dir, server)
}

fn json(server: &TestServer, path: &str) -> Value {
    server.get(path).json().unwrap()
}

/// Polls `/api/v1/targets` until `check` accepts the active targets.
fn wait_for_targets(
    server: &TestServer,
    what: &str,
    check: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = json(server, "/api/v1/targets");
        let active = body["data"]["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if check(&active) {
            return active;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; targets: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn series(server: &TestServer, selector: &str) -> Vec<Value> {
    let encoded: String = form_urlencoded::byte_serialize(selector.as_bytes()).collect();
    json(server, &format!("/api/v1/series?match[]={encoded}"))["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn scrapes_itself_at_the_address_it_really_listens_on() {
    let (_dir, server) = start_with_config(
        "scrape_configs:\n  - job_name: sightline\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['127.0.0.1:9470']\n",
    );
    let targets = wait_for_targets(&server, "a healthy self target", |active| {
        active
            .first()
            .is_some_and(|target| target["health"] == "up")
    });
    assert_eq!(targets[0]["labels"]["instance"], server.addr.as_str());
    assert_eq!(
        targets[0]["scrapeUrl"],
        format!("http://{}/metrics", server.addr)
    );
    let build_info = series(&server, "sightline_build_info");
    assert_eq!(build_info.len(), 1);
    assert_eq!(build_info[0]["job"], "sightline");
    for synthetic in [
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ] {
        assert_eq!(
            series(&server, &format!("{synthetic}{{job=\"sightline\"}}")).len(),
            1,
            "{synthetic}"
        );
    }
    let metadata = json(
        &server,
        "/api/v1/metadata?metric=sightline_http_requests_total",
    );
    assert_eq!(
        metadata["data"]["sightline_http_requests_total"][0]["type"],
        "counter"
    );
}

#[test]
fn node_exporter_with_relabeling() {
    require_binary(
        "/usr/bin/prometheus-node-exporter",
        "prometheus-node-exporter",
    );
    let port = free_port();
    let _exporter = Peer::spawn(
        "node_exporter",
        "/usr/bin/prometheus-node-exporter",
        &[format!("--web.listen-address=127.0.0.1:{port}")],
        port,
    );
    let (_dir, server) = start_with_config(&format!(
        "scrape_configs:\n  - job_name: node\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n        labels:\n          team: infra\n\
         \x20   relabel_configs:\n      - source_labels: [__address__]\n        regex: '([^:]+):\\d+'\n        target_label: host\n\
         \x20   metric_relabel_configs:\n      - source_labels: [__name__]\n        regex: 'node_scrape_collector_.*'\n        action: drop\n"
    ));
    let targets = wait_for_targets(&server, "node_exporter up", |active| {
        active
            .first()
            .is_some_and(|target| target["health"] == "up")
    });
    assert_eq!(targets[0]["lastError"], "");
    assert_eq!(
        targets[0]["discoveredLabels"]["__address__"],
        format!("127.0.0.1:{port}")
    );
    let load = series(&server, "node_load1");
    assert_eq!(load.len(), 1, "{load:?}");
    assert_eq!(load[0]["job"], "node");
    assert_eq!(load[0]["instance"], format!("127.0.0.1:{port}"));
    assert_eq!(load[0]["team"], "infra");
    assert_eq!(load[0]["host"], "127.0.0.1");
    assert!(
        series(&server, "{__name__=~\"node_scrape_collector_.*\"}").is_empty(),
        "metric relabeling did not drop"
    );
    assert!(!series(&server, "node_cpu_seconds_total{mode=\"idle\"}").is_empty());

    // scrape_series_added: the first scrape adds every series, a later one with the same
    // series adds none.
    let scalar = |query: &str| -> f64 {
        let encoded: String = form_urlencoded::byte_serialize(query.as_bytes()).collect();
        let body = json(&server, &format!("/api/v1/query?query={encoded}"));
        body["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|value| value.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let most = scalar("max_over_time(scrape_series_added{job=\"node\"}[5m])");
        let least = scalar("min_over_time(scrape_series_added{job=\"node\"}[5m])");
        if most > 100.0 && least == 0.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "scrape_series_added: max {most}, min {least}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// node_exporter serving TLS with a certificate for `node.sightline.test` and requiring a
/// client certificate, scraped by IP: `server_name` makes the certificate check pass, and
/// a missing `server_name` or client certificate fails the scrape with the reason.
#[test]
fn tls_scrape_with_server_name_and_client_certificate() {
    require_binary(
        "/usr/bin/prometheus-node-exporter",
        "prometheus-node-exporter",
    );
    let tls = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
    let web_dir = tempfile::tempdir().unwrap();
    let web_config = web_dir.path().join("web.yml");
    std::fs::write(
        &web_config,
        format!(
            "tls_server_config:\n  cert_file: {tls}/server.crt\n  key_file: {tls}/server.key\n\
             \x20 client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {tls}/ca.crt\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let _exporter = Peer::spawn(
        "node_exporter",
        "/usr/bin/prometheus-node-exporter",
        &[
            format!("--web.listen-address=127.0.0.1:{port}"),
            format!("--web.config.file={}", web_config.display()),
        ],
        port,
    );
    let job = |name: &str, tls_config: &str| {
        format!(
            "  - job_name: {name}\n    scheme: https\n    scrape_interval: 1s\n    tls_config:\n{tls_config}\
             \x20   static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        )
    };
    let client = format!("      cert_file: {tls}/client.crt\n      key_file: {tls}/client.key\n");
    let ca = format!("      ca_file: {tls}/ca.crt\n");
    let named = "      server_name: node.sightline.test\n";
    let (_dir, server) = start_with_config(&format!(
        "scrape_configs:\n{}{}{}",
        job("named", &format!("{ca}{client}{named}")),
        job("unnamed", &format!("{ca}{client}")),
        job("anonymous", &format!("{ca}{named}")),
    ));
    let targets = wait_for_targets(&server, "all three TLS targets scraped", |active| {
        active.len() == 3 && active.iter().all(|target| target["health"] != "unknown")
    });
    let by_job = |job: &str| {
        targets
            .iter()
            .find(|target| target["labels"]["job"] == job)
            .unwrap_or_else(|| panic!("no target for {job}: {targets:?}"))
            .clone()
    };
    let named = by_job("named");
    assert_eq!(named["health"], "up", "{named}");
    assert_eq!(
        named["scrapeUrl"],
        format!("https://127.0.0.1:{port}/metrics")
    );
    let unnamed = by_job("unnamed");
    assert_eq!(unnamed["health"], "down", "{unnamed}");
    let error = unnamed["lastError"].as_str().unwrap();
    assert!(error.contains("certificate"), "{error}");
    assert_eq!(by_job("anonymous")["health"], "down");
    assert!(!series(&server, "node_load1{job=\"named\"}").is_empty());
}

/// Serves `body` to every request, as a broken exporter would.
fn serve_forever(body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    port
}

#[test]
fn file_sd_changes_are_picked_up_and_broken_targets_reported() {
    let good = serve_forever("# TYPE demo_total counter\ndemo_total{path=\"/\"} 3\n");
    let malformed = serve_forever("demo_total{path=\"/\" 3\n");
    let unreachable = free_port();
    let dir = tempfile::tempdir().unwrap();
    let targets_file = dir.path().join("targets.json");
    std::fs::write(
        &targets_file,
        format!(r#"[{{"targets": ["127.0.0.1:{good}"], "labels": {{"env": "dev"}}}}]"#),
    )
    .unwrap();
    let config = dir.path().join("sightline.yaml");
    std::fs::write(
        &config,
        "scrape_configs:\n  - job_name: files\n    scrape_interval: 1s\n    file_sd_configs:\n      - files: ['*.json']\n",
    )
    .unwrap();
    let server = TestServer::start_with(
        Launch::default()
            .arg("--config")
            .arg(config.to_str().unwrap()),
    );
    server.wait_ready();
    wait_for_targets(&server, "the first file_sd target", |active| {
        active.len() == 1 && active[0]["health"] == "up" && active[0]["labels"]["env"] == "dev"
    });
    assert_eq!(series(&server, "demo_total").len(), 1);

    std::fs::write(
        &targets_file,
        format!(r#"[{{"targets": ["127.0.0.1:{good}", "127.0.0.1:{malformed}", "127.0.0.1:{unreachable}"]}}]"#),
    )
    .unwrap();
    // Every target has been scraped at least once: one up, two down.
    let active = wait_for_targets(&server, "three targets, one up and two down", |active| {
        let count = |health: &str| {
            active
                .iter()
                .filter(|target| target["health"] == health)
                .count()
        };
        active.len() == 3 && count("up") == 1 && count("down") == 2
    });
    let error_of = |port: u16| {
        active
            .iter()
            .find(|target| target["labels"]["instance"] == format!("127.0.0.1:{port}"))
            .map(|target| target["lastError"].as_str().unwrap_or("").to_string())
            .unwrap()
    };
    assert!(
        error_of(malformed).contains("parse error"),
        "{}",
        error_of(malformed)
    );
    assert!(!error_of(unreachable).is_empty());
    assert_eq!(error_of(good), "");
    // `up` exists for every target, including the broken ones (the first target's old
    // series, labelled env="dev", is still listed beside them).
    assert_eq!(series(&server, "up{job=\"files\",env=\"\"}").len(), 3);
    assert_eq!(series(&server, "up{job=\"files\"}").len(), 4);

    // The values: read the stored `up` samples after a clean stop.
    let mut server = server;
    server.signal("TERM");
    assert!(server
        .wait_exit(Duration::from_secs(10))
        .is_some_and(|status| status.success()));
    let tsdb = Tsdb::open(&server.data_dir.join("metrics"), TsdbOptions::default()).unwrap();
    let last_up = |port: u16| -> f64 {
        let matchers = [
            Matcher::new(MatchOp::Equal, "__name__", "up").unwrap(),
            Matcher::new(MatchOp::Equal, "instance", format!("127.0.0.1:{port}")).unwrap(),
            Matcher::new(MatchOp::Equal, "env", "").unwrap(),
        ];
        let found = tsdb.select(&matchers, i64::MIN, i64::MAX);
        assert_eq!(found.len(), 1);
        // The loop's last write at shutdown is a staleness marker; the value before it counts.
        let values: Vec<f64> = found[0]
            .samples
            .iter()
            .map(|(_, v)| *v)
            .filter(|v| !is_stale_nan(*v))
            .collect();
        *values.last().unwrap()
    };
    assert_eq!(last_up(good), 1.0);
    assert_eq!(last_up(malformed), 0.0);
    assert_eq!(last_up(unreachable), 0.0);
}
