//! A real Prometheus (Debian package) scrapes a real node_exporter and remote-writes to
//! Sightline; what Prometheus reports having sent is what Sightline stores.

mod common;

use std::time::{Duration, Instant};

use common::peers::{free_port, require_binary, Peer};
use common::TestServer;

fn prometheus_metric(prometheus: &Peer, name: &str) -> f64 {
    let text = reqwest::blocking::get(prometheus.url("/metrics"))
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .filter(|line| {
            line.starts_with(name)
                && (line[name.len()..].starts_with('{') || line[name.len()..].starts_with(' '))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn prometheus_remote_write_from_a_node_exporter_scrape_lands_completely() {
    require_binary("/usr/bin/prometheus", "prometheus");
    require_binary(
        "/usr/bin/prometheus-node-exporter",
        "prometheus-node-exporter",
    );
    let sightline = TestServer::start();
    sightline.wait_ready();

    let exporter_port = free_port();
    let _exporter = Peer::spawn(
        "node_exporter",
        "/usr/bin/prometheus-node-exporter",
        &[format!("--web.listen-address=127.0.0.1:{exporter_port}")],
        exporter_port,
    );

    let dir = tempfile::tempdir().unwrap();
    // Kept identical across the reload below, so Prometheus keeps the same queue (and counters).
    let remote_write = format!(
        "remote_write:\n  - url: {}\n    queue_config:\n      batch_send_deadline: 200ms\n      max_samples_per_send: 2000\n",
        sightline.url("/api/v1/write")
    );
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n{remote_write}"
    );
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let prometheus_port = free_port();
    let mut prometheus = Peer::spawn(
        "prometheus",
        "/usr/bin/prometheus",
        &[
            format!("--config.file={}", config_path.display()),
            format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            format!("--web.listen-address=127.0.0.1:{prometheus_port}"),
            "--web.enable-lifecycle".to_string(),
        ],
        prometheus_port,
    );

    // Let it scrape a few times and ship the samples.
    let deadline = Instant::now() + Duration::from_secs(60);
    while prometheus_metric(&prometheus, "prometheus_remote_storage_samples_total") < 2000.0 {
        assert!(
            Instant::now() < deadline,
            "prometheus sent too little in time"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // Stop scraping (the staleness markers for the dropped target are sent too), then wait
    // until the sent counter stands still.
    std::fs::write(
        &config_path,
        format!("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n{remote_write}"),
    )
    .unwrap();
    let reloaded = reqwest::blocking::Client::new()
        .post(prometheus.url("/-/reload"))
        .send()
        .unwrap();
    assert!(reloaded.status().is_success(), "prometheus reload failed");
    let mut sent = prometheus_metric(&prometheus, "prometheus_remote_storage_samples_total");
    loop {
        std::thread::sleep(Duration::from_secs(3));
        let now = prometheus_metric(&prometheus, "prometheus_remote_storage_samples_total");
        if now == sent {
            break;
        }
        assert!(
            Instant::now() < deadline + Duration::from_secs(30),
            "prometheus never stopped sending"
        );
        sent = now;
    }
    let failed = prometheus_metric(
        &prometheus,
        "prometheus_remote_storage_samples_failed_total",
    );
    let dropped = prometheus_metric(
        &prometheus,
        "prometheus_remote_storage_samples_dropped_total",
    );
    assert_eq!(
        (failed, dropped),
        (0.0, 0.0),
        "prometheus reported failed or dropped samples"
    );
    prometheus.terminate();

    let stored_text = sightline.get("/metrics").text().unwrap();
    let stored = stored_text
        .lines()
        .find_map(|line| line.strip_prefix("sightline_tsdb_head_samples_appended_total "))
        .and_then(|value| value.parse::<f64>().ok())
        .unwrap();
    assert_eq!(
        stored, sent,
        "prometheus sent {sent} samples, sightline stored {stored}"
    );

    // The node_exporter series are there with Prometheus's target labels.
    let body: serde_json::Value = sightline
        .get("/api/v1/series?match[]=node_load1")
        .json()
        .unwrap();
    let series = body["data"].as_array().unwrap();
    assert_eq!(series.len(), 1, "{body}");
    assert_eq!(series[0]["job"], "node");
    assert_eq!(series[0]["instance"], format!("127.0.0.1:{exporter_port}"));
    let up: serde_json::Value = sightline
        .get("/api/v1/series?match[]=up%7Bjob%3D%22node%22%7D")
        .json()
        .unwrap();
    assert_eq!(up["data"].as_array().unwrap().len(), 1);
}
