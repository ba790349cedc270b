//! The Prometheus API beyond queries, against the real server: a real Prometheus reads
//! Sightline's data through `remote_read`; `/federate`, `/api/v1/status/tsdb`,
//! `delete_series` (durable across a restart) and `snapshot`.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::peers::{free_port, require_binary, Peer};
use common::{Launch, TestServer};
use sightline::metrics::remote::{encode_write_request_v1, SeriesToEncode};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn series(labels: &[(&str, &str)], samples: Vec<(i64, f64)>) -> SeriesToEncode {
    (
        labels
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        samples,
    )
}

/// Two `temperature` series and one `requests_total`, one sample a minute for 30 minutes
/// ending a minute ago.
fn write_fixture(server: &TestServer, end: i64) {
    let minutes: Vec<i64> = (0..30).map(|m| end - (29 - m) * 60_000).collect();
    let body = encode_write_request_v1(&[
        series(
            &[("__name__", "temperature"), ("room", "kitchen")],
            minutes.iter().map(|&t| (t, 20.5)).collect(),
        ),
        series(
            &[("__name__", "temperature"), ("room", "cellar")],
            minutes.iter().map(|&t| (t, -3.25)).collect(),
        ),
        series(
            &[("__name__", "requests_total"), ("code", "200")],
            minutes
                .iter()
                .enumerate()
                .map(|(i, &t)| (t, i as f64 * 10.0))
                .collect(),
        ),
    ]);
    let response = TestServer::client()
        .post(server.url("/api/v1/write"))
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(response.status(), 204);
}

fn query(base: &str, expr: &str, time_ms: i64) -> serde_json::Value {
    let response = TestServer::client()
        .get(format!("{base}/api/v1/query"))
        .query(&[
            ("query", expr.to_string()),
            ("time", format!("{:.3}", time_ms as f64 / 1000.0)),
        ])
        .send()
        .unwrap();
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(body["status"], "success", "{expr}: {body}");
    body["data"]["result"].clone()
}

/// `(labels without __name__ as "k=v,…", value)` of an instant vector, sorted.
fn vector_values(result: &serde_json::Value) -> Vec<(String, String)> {
    let mut values: Vec<(String, String)> = result
        .as_array()
        .unwrap()
        .iter()
        .map(|sample| {
            let metric = sample["metric"].as_object().unwrap();
            let labels: Vec<String> = metric
                .iter()
                .filter(|(name, _)| name.as_str() != "__name__")
                .map(|(name, value)| format!("{name}={}", value.as_str().unwrap()))
                .collect();
            (
                labels.join(","),
                sample["value"][1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    values.sort();
    values
}

#[test]
fn a_real_prometheus_reads_through_remote_read() {
    require_binary("/usr/bin/prometheus", "prometheus");
    let sightline = TestServer::start();
    sightline.wait_ready();
    let end = now_ms() - 60_000;
    write_fixture(&sightline, end);

    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1m\nremote_read:\n  - url: {}\n    read_recent: true\n",
        sightline.url("/api/v1/read")
    );
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let port = free_port();
    let prometheus = Peer::spawn(
        "prometheus",
        "/usr/bin/prometheus",
        &[
            format!("--config.file={}", config_path.display()),
            format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
        ],
        port,
    );
    let base = prometheus.url("");
    let base = base.trim_end_matches('/');
    let deadline = Instant::now() + Duration::from_secs(30);
    while !TestServer::client()
        .get(prometheus.url("/-/ready"))
        .send()
        .is_ok_and(|response| response.status() == 200)
    {
        assert!(Instant::now() < deadline, "prometheus did not get ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Off the sample grid, so 2.x's closed windows and 3.x's left-open ones agree.
    let at = end - 90_500;
    for expr in [
        "temperature",
        "sum(temperature)",
        "rate(requests_total[10m])",
        "max_over_time(temperature{room=~\"k.*\"}[15m])",
    ] {
        let theirs = vector_values(&query(base, expr, at));
        let ours = vector_values(&query(sightline.url("").trim_end_matches('/'), expr, at));
        assert!(!ours.is_empty(), "{expr}: no result");
        assert_eq!(theirs, ours, "{expr} through remote read");
    }
}

#[test]
fn federate_status_delete_and_snapshot() {
    let data = tempfile::tempdir().unwrap();
    let end = now_ms() - 60_000;
    {
        let sightline = TestServer::start_with(Launch::default().data_dir(data.path()));
        sightline.wait_ready();
        write_fixture(&sightline, end);

        // Federation: newest sample of each matching series, text format.
        let text = sightline
            .get("/federate?match[]=temperature")
            .text()
            .unwrap();
        assert!(text.contains("# TYPE temperature untyped"), "{text}");
        assert!(
            text.contains(&format!("temperature{{room=\"kitchen\"}} 20.5 {end}")),
            "{text}"
        );
        assert!(!text.contains("requests_total"), "{text}");
        let missing = sightline.get("/federate");
        assert_eq!(missing.status(), 200, "no match[] selects nothing");

        // Cardinality.
        let status: serde_json::Value = sightline.get("/api/v1/status/tsdb").json().unwrap();
        assert_eq!(status["data"]["headStats"]["numSeries"], 3, "{status}");
        let by_name = &status["data"]["seriesCountByMetricName"];
        assert_eq!(by_name[0]["name"], "temperature", "{status}");
        assert_eq!(by_name[0]["value"], 2, "{status}");

        // Deletion of the cellar's last 10 minutes.
        let response = TestServer::client()
            .post(sightline.url("/api/v1/admin/tsdb/delete_series"))
            .form(&[
                ("match[]", "temperature{room=\"cellar\"}"),
                (
                    "start",
                    &format!("{:.3}", (end - 9 * 60_000) as f64 / 1000.0),
                ),
            ])
            .send()
            .unwrap();
        assert_eq!(response.status(), 204);
        let bad = TestServer::client()
            .post(sightline.url("/api/v1/admin/tsdb/delete_series"))
            .send()
            .unwrap();
        assert_eq!(bad.status(), 400);

        let snapshot: serde_json::Value = TestServer::client()
            .post(sightline.url("/api/v1/admin/tsdb/snapshot"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let name = snapshot["data"]["name"].as_str().unwrap().to_string();
        let snapshot_dir = data.path().join("metrics").join("snapshots").join(&name);
        assert!(snapshot_dir.join("blocks").is_dir(), "{snapshot}");
        assert!(snapshot_dir.join("tombstones.json").is_file());
    }
    // After a restart the deletion still holds: the cellar's newest sample is 10 minutes
    // old, outside the 5 minute lookback.
    let sightline = TestServer::start_with(Launch::default().data_dir(data.path()));
    sightline.wait_ready();
    let deadline = Instant::now() + Duration::from_secs(10);
    let values = loop {
        let values = vector_values(&query(
            sightline.url("").trim_end_matches('/'),
            "temperature",
            end,
        ));
        if !values.is_empty() || Instant::now() > deadline {
            break values;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        values,
        vec![("room=kitchen".to_string(), "20.5".to_string())]
    );
    let count = vector_values(&query(
        sightline.url("").trim_end_matches('/'),
        "count_over_time(temperature{room=\"cellar\"}[1h])",
        end,
    ));
    assert_eq!(count, vec![("room=cellar".to_string(), "20".to_string())]);
}
