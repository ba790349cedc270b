//! Logs end to end against the real server: real Loki clients push (winston-loki over
//! protobuf, python-logging-loki over JSON) and read back exactly; real Apache access logs
//! pushed and counted with LogQL equal a plain substring count of the file, before and
//! after the index flush; and a SIGKILL right after the 204 loses nothing.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Launch, TestServer};
use sightline::logs::push::{encode_push_protobuf, PushedEntry, PushedStream};

const CLIENTS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients");
const APACHE_LOGS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/reference/logs/elastic-examples/apache_logs"
);

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

fn query_range(server: &TestServer, query: &str, start_ns: i64, end_ns: i64) -> serde_json::Value {
    let response = TestServer::client()
        .get(server.url("/loki/api/v1/query_range"))
        .query(&[
            ("query", query.to_string()),
            ("start", start_ns.to_string()),
            ("end", end_ns.to_string()),
            ("limit", "100000".to_string()),
            ("direction", "forward".to_string()),
        ])
        .send()
        .unwrap();
    let status = response.status();
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(status, 200, "{query}: {body}");
    body
}

/// All lines of a `streams` result, in time order.
fn lines_of(body: &serde_json::Value) -> Vec<String> {
    assert_eq!(body["data"]["resultType"], "streams", "{body}");
    let mut entries: Vec<(i64, String)> = body["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|stream| stream["values"].as_array().unwrap().clone())
        .map(|value| {
            (
                value[0].as_str().unwrap().parse().unwrap(),
                value[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // Stable: entries with equal timestamps keep the order they were returned in.
    entries.sort_by_key(|entry| entry.0);
    entries.into_iter().map(|(_, line)| line).collect()
}

/// Waits until `query` returns `want` lines (pushes from clients are asynchronous).
fn wait_for_lines(server: &TestServer, query: &str, start: i64, want: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lines = lines_of(&query_range(
            server,
            query,
            start,
            now_ns() + 60_000_000_000,
        ));
        if lines.len() >= want || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Pushes with protobuf and returns the status (the body is printed if not 204).
fn push_protobuf(server: &TestServer, streams: &[PushedStream]) -> u16 {
    let response = TestServer::client()
        .post(server.url("/loki/api/v1/push"))
        .header("Content-Type", "application/x-protobuf")
        .body(encode_push_protobuf(streams))
        .send()
        .unwrap();
    let status = response.status().as_u16();
    if status != 204 {
        eprintln!(
            "push answered {status}: {}",
            response.text().unwrap_or_default()
        );
    }
    status
}

#[test]
fn winston_loki_and_python_logging_loki_lines_read_back_exactly() {
    assert!(
        Path::new(CLIENTS_DIR)
            .join("node_modules/winston-loki")
            .is_dir(),
        "run scripts/install-test-deps.sh (npm ci in tests/clients) first"
    );
    let server = TestServer::start();
    server.wait_ready();
    let start = now_ns() - 1_000_000_000;
    let lines: Vec<String> = (0..25)
        .map(|i| format!("request {i} served in {}ms path=/api/items/{i} ✓", i * 7))
        .collect();

    let status = Command::new("node")
        .arg(Path::new(CLIENTS_DIR).join("winston_push.js"))
        .arg(server.url(""))
        .args(&lines)
        .status()
        .expect("node runs");
    assert!(status.success(), "winston-loki push failed");
    let got = wait_for_lines(&server, r#"{app="winston"}"#, start, lines.len());
    // winston-loki appends the record's metadata to each line as JSON.
    let sent: Vec<String> = lines
        .iter()
        .map(|line| format!("{line} {{\"level\":\"info\"}}"))
        .collect();
    assert_eq!(got, sent, "winston-loki (protobuf) lines");

    let status = Command::new("python3")
        .arg(Path::new(CLIENTS_DIR).join("python_push.py"))
        .arg(server.url("/loki/api/v1/push"))
        .args(&lines)
        .status()
        .expect("python3 runs");
    assert!(status.success(), "python-logging-loki push failed");
    let got = wait_for_lines(&server, r#"{app="python"}"#, start, lines.len());
    assert_eq!(got, lines, "python-logging-loki (JSON) lines");
    // python-logging-loki adds its own labels.
    let values: serde_json::Value = server
        .get("/loki/api/v1/label/severity/values")
        .json()
        .unwrap();
    assert_eq!(values["data"], serde_json::json!(["info"]), "{values}");
}

#[test]
fn apache_logs_filter_and_count_like_grep_before_and_after_the_index_flush() {
    let text = std::fs::read_to_string(APACHE_LOGS).expect("reference apache logs");
    let lines: Vec<&str> = text.lines().take(3000).collect();
    let server = TestServer::start();
    server.wait_ready();
    let base = now_ns() - 3_600_000_000_000;
    let stream = PushedStream {
        labels: vec![("app".to_string(), "apache".to_string())],
        entries: lines
            .iter()
            .enumerate()
            .map(|(i, line)| PushedEntry {
                timestamp_ns: base + i as i64 * 1_000_000_000,
                line: line.to_string(),
                structured_metadata: Vec::new(),
            })
            .collect(),
    };
    assert_eq!(push_protobuf(&server, &[stream]), 204);
    let end = now_ns();
    let count = |needle: &str| lines.iter().filter(|line| line.contains(needle)).count();
    let check = |phase: &str| {
        for needle in [
            " 404 ",
            "Googlebot",
            "/presentations/",
            "GET /favicon.ico",
            "bingbot",
        ] {
            let query = format!("{{app=\"apache\"}} |= {needle:?}");
            let got = lines_of(&query_range(&server, &query, base, end)).len();
            assert_eq!(got, count(needle), "{phase}: {query}");
        }
        let metric = query_range(
            &server,
            r#"sum(count_over_time({app="apache"} |= " 404 " [2h]))"#,
            end - 1,
            end,
        );
        let value = &metric["data"]["result"][0]["values"][0][1];
        assert_eq!(
            value,
            &serde_json::json!(count(" 404 ").to_string()),
            "{phase}: {metric}"
        );
        let parsed = query_range(
            &server,
            r#"sum by (status) (count_over_time({app="apache"} | pattern `<_> - - <_> "<_> <_> <_>" <status> <_>` | status="500" [2h]))"#,
            end - 1,
            end,
        );
        let value = &parsed["data"]["result"][0]["values"][0][1];
        assert_eq!(
            value,
            &serde_json::json!(count("\" 500 ").to_string()),
            "{phase}: {parsed}"
        );
    };
    check("head");
    // Instant metric query, a regexp parser with topk, and the index stats.
    let instant: serde_json::Value = TestServer::client()
        .get(server.url("/loki/api/v1/query"))
        .query(&[
            (
                "query",
                r#"topk(1, sum by (method) (count_over_time({app="apache"} | regexp `"(?P<method>[A-Z]+) ` [2h])))"#,
            ),
            ("time", &end.to_string()),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(instant["data"]["resultType"], "vector", "{instant}");
    assert_eq!(
        instant["data"]["result"][0]["metric"]["method"], "GET",
        "{instant}"
    );
    assert_eq!(
        instant["data"]["result"][0]["value"][1],
        serde_json::json!(count("\"GET ").to_string()),
        "{instant}"
    );
    let stats: serde_json::Value = TestServer::client()
        .get(server.url("/loki/api/v1/index/stats"))
        .query(&[
            ("query", r#"{app="apache"}"#.to_string()),
            ("start", base.to_string()),
            ("end", end.to_string()),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(stats["streams"], 1, "{stats}");
    assert_eq!(stats["entries"], lines.len(), "{stats}");
    let formatted: serde_json::Value = server
        .get("/loki/api/v1/format_query?query=%7Bapp%3D%22apache%22%7D%7C%3D%22x%22")
        .json()
        .unwrap();
    assert_eq!(formatted["data"], r#"{app="apache"} |= "x""#, "{formatted}");
    let bad = server.get("/loki/api/v1/query_range?query=%7Bapp%3D");
    assert_eq!(bad.status(), 400);
    // The head is flushed into the index every second.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        std::fs::read_dir(server.data_dir.join("logs/index"))
            .unwrap()
            .count()
            >= 1,
        "a partition was written"
    );
    check("index");
}

#[test]
fn acknowledged_pushes_survive_sigkill() {
    let data = tempfile::tempdir().unwrap();
    let base = now_ns() - 60_000_000_000;
    let mut sent = Vec::new();
    {
        let mut server = TestServer::start_with(Launch::default().data_dir(data.path()));
        server.wait_ready();
        for round in 0..5 {
            let entries: Vec<PushedEntry> = (0..50)
                .map(|i| {
                    let n = round * 50 + i;
                    PushedEntry {
                        timestamp_ns: base + n * 1_000_000,
                        line: format!("line {n} of the crash test"),
                        structured_metadata: vec![("trace_id".to_string(), format!("t{n}"))],
                    }
                })
                .collect();
            sent.extend(entries.iter().map(|entry| entry.line.clone()));
            let stream = PushedStream {
                labels: vec![("app".to_string(), "crash".to_string())],
                entries,
            };
            assert_eq!(push_protobuf(&server, &[stream]), 204);
        }
        server.kill9();
    }
    let server = TestServer::start_with(Launch::default().data_dir(data.path()));
    server.wait_ready();
    let got = lines_of(&query_range(&server, r#"{app="crash"}"#, base, now_ns()));
    assert_eq!(got, sent);
}

#[test]
fn sightline_logs_its_own_events_into_the_store() {
    let server = TestServer::start();
    server.wait_ready();
    let start = now_ns() - 60_000_000_000;
    let deadline = Instant::now() + Duration::from_secs(15);
    let lines = loop {
        let lines = lines_of(&query_range(
            &server,
            r#"{job="sightline", level="info"} |= "sightline ready""#,
            start,
            now_ns() + 1_000_000_000,
        ));
        if !lines.is_empty() || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(lines, vec!["sightline ready".to_string()]);
    // The target rides along as structured metadata, which queries see as a label.
    let body = query_range(
        &server,
        r#"{job="sightline"} | target="sightline::server::run" |= "sightline ready""#,
        start,
        now_ns() + 1_000_000_000,
    );
    assert_eq!(lines_of(&body).len(), 1, "{body}");
}
