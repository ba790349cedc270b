//! The Loki API beyond push and query, against the real server: the tail websocket read
//! by the `ws` client library (history, live entries in order through `delay_for`, the
//! concurrency limit, metric queries refused), log volume as Grafana asks for it, the
//! ingestion rate limits, pino-loki's JSON pushes with structured metadata, and retention
//! deleting a day's partition.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{config_file, Launch, TestServer};
use serde_json::Value;
use sightline::logs::push::{encode_push_protobuf, PushedEntry, PushedStream};

const CLIENTS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients");
const SECOND_NS: i64 = 1_000_000_000;

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

fn require_clients() {
    assert!(
        Path::new(CLIENTS_DIR).join("node_modules/ws").is_dir(),
        "run scripts/install-test-deps.sh (npm ci in tests/clients) first"
    );
}

fn stream(labels: &[(&str, &str)], entries: &[(i64, &str)]) -> PushedStream {
    PushedStream {
        labels: labels
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
        entries: entries
            .iter()
            .map(|(timestamp_ns, line)| PushedEntry {
                timestamp_ns: *timestamp_ns,
                line: line.to_string(),
                structured_metadata: Vec::new(),
            })
            .collect(),
    }
}

/// Pushes with protobuf; returns the status and body.
fn push(server: &TestServer, streams: &[PushedStream]) -> (u16, String) {
    let response = TestServer::client()
        .post(server.url("/loki/api/v1/push"))
        .header("Content-Type", "application/x-protobuf")
        .body(encode_push_protobuf(streams))
        .send()
        .unwrap();
    (
        response.status().as_u16(),
        response.text().unwrap_or_default(),
    )
}

fn get_json(server: &TestServer, path: &str, params: &[(&str, String)]) -> Value {
    let response = TestServer::client()
        .get(server.url(path))
        .query(params)
        .send()
        .unwrap();
    let status = response.status();
    let body: Value = response.json().unwrap();
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn start_with_yaml(yaml: &str) -> (tempfile::TempDir, TestServer) {
    let (dir, path) = config_file(yaml);
    let server = TestServer::start_with(
        Launch::default()
            .arg("--config")
            .arg(path.to_str().unwrap()),
    );
    server.wait_ready();
    (dir, server)
}

/// A tail websocket client (node `ws`), its output lines arriving on a channel.
struct Tail {
    child: Child,
    lines: Receiver<String>,
}

impl Tail {
    fn open(server: &TestServer, query: &str, extra: &str) -> Tail {
        let encoded: String = form_urlencoded::byte_serialize(query.as_bytes()).collect();
        let url = format!(
            "ws://{}/loki/api/v1/tail?query={encoded}{extra}",
            server.addr
        );
        let mut child = Command::new("node")
            .arg(Path::new(CLIENTS_DIR).join("tail_client.js"))
            .arg(url)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Tail { child, lines }
    }

    fn next(&self, what: &str) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no tail output in time: waiting for {what}"))
    }

    /// Reads messages until `want` entries have arrived; returns `(labels, time, line)`.
    fn entries(&self, want: usize) -> Vec<(Value, i64, String)> {
        let mut entries = Vec::new();
        while entries.len() < want {
            let message: Value = serde_json::from_str(&self.next("entries")).unwrap();
            for stream in message["streams"].as_array().unwrap() {
                for value in stream["values"].as_array().unwrap() {
                    entries.push((
                        stream["stream"].clone(),
                        value[0].as_str().unwrap().parse().unwrap(),
                        value[1].as_str().unwrap().to_string(),
                    ));
                }
            }
        }
        entries
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn tail_sends_history_then_live_entries_in_order() {
    require_clients();
    let (_dir, server) = start_with_yaml("logs:\n  limits:\n    max_concurrent_tail_requests: 1\n");
    let base = now_ns() - 5 * SECOND_NS;
    let labels = [("app", "tail"), ("env", "test")];
    assert_eq!(
        push(
            &server,
            &[stream(
                &labels,
                &[
                    (base, "old keep 1"),
                    (base + 1, "old drop"),
                    (base + 2, "old keep 2")
                ]
            )]
        )
        .0,
        204
    );

    let tail = Tail::open(
        &server,
        r#"{app="tail"} |= "keep""#,
        // The longest delay Loki allows: the two live pushes below must land within it
        // for their entries to be sorted, and a loaded machine can take over a second.
        &format!("&delay_for=5&limit=10&start={}", base - SECOND_NS),
    );
    assert_eq!(tail.next("open"), "OPEN");
    let history = tail.entries(2);
    let lines: Vec<&str> = history.iter().map(|e| e.2.as_str()).collect();
    assert_eq!(lines, ["old keep 1", "old keep 2"]);
    assert_eq!(history[0].0["app"], "tail");
    assert_eq!(history[0].0["env"], "test");

    // A second tailer is over the limit of one.
    let refused = Tail::open(&server, r#"{app="tail"}"#, "");
    let answer = refused.next("refusal");
    assert!(answer.starts_with("HTTP 429"), "{answer}");

    // Live entries, pushed out of order across two pushes within the delay: they arrive
    // sorted, filtered, and the other stream's lines never.
    let live = now_ns();
    assert_eq!(
        push(
            &server,
            &[
                stream(
                    &labels,
                    &[(live + 20, "live keep c"), (live + 30, "live drop")]
                ),
                stream(&[("app", "other")], &[(live, "other keep")]),
            ]
        )
        .0,
        204
    );
    assert_eq!(
        push(&server, &[stream(&labels, &[(live + 10, "live keep b")])]).0,
        204
    );
    let live_entries = tail.entries(2);
    let lines: Vec<&str> = live_entries.iter().map(|e| e.2.as_str()).collect();
    assert_eq!(lines, ["live keep b", "live keep c"]);
    assert_eq!(live_entries[0].1, live + 10);
    assert!(
        tail.lines
            .recv_timeout(Duration::from_millis(1500))
            .is_err(),
        "nothing else is sent"
    );
}

#[test]
fn tail_refuses_metric_queries_and_long_delays() {
    require_clients();
    let server = TestServer::start();
    server.wait_ready();
    let metric = Tail::open(&server, r#"count_over_time({app="x"}[1m])"#, "");
    let answer = metric.next("refusal");
    assert!(answer.starts_with("HTTP 400"), "{answer}");
    assert!(answer.contains("log queries"), "{answer}");
    let delayed = Tail::open(&server, r#"{app="x"}"#, "&delay_for=6");
    let answer = delayed.next("refusal");
    assert!(answer.contains("delay_for"), "{answer}");
}

#[test]
fn volume_sums_bytes_per_group_of_streams() {
    let server = TestServer::start();
    server.wait_ready();
    let t = now_ns() - 600 * SECOND_NS;
    let streams = [
        stream(
            &[("job", "api"), ("env", "prod"), ("pod", "a")],
            &[(t, "0123456789"), (t + 60 * SECOND_NS, "01234")],
        ),
        stream(
            &[("job", "api"), ("env", "prod"), ("pod", "b")],
            &[(t, "0123")],
        ),
        stream(
            &[("job", "api"), ("env", "dev"), ("pod", "c")],
            &[(t, "01")],
        ),
        stream(
            &[("job", "db"), ("env", "prod")],
            &[(t, "0123456789012345")],
        ),
    ];
    assert_eq!(push(&server, &streams).0, 204);
    fn range<'a>(t: i64, extra: &[(&'a str, &str)]) -> Vec<(&'a str, String)> {
        let mut params = vec![
            ("start", (t - 60 * SECOND_NS).to_string()),
            ("end", now_ns().to_string()),
        ];
        params.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        params
    }
    let result = |body: &Value| -> Vec<(Value, String)> {
        body["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|series| {
                (
                    series["metric"].clone(),
                    series["value"][1].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };

    // By the selector's labels (job, env), largest first.
    let body = get_json(
        &server,
        "/loki/api/v1/index/volume",
        &range(t, &[("query", r#"{job="api", env=~".+"}"#)]),
    );
    assert_eq!(body["data"]["resultType"], "vector");
    assert_eq!(
        result(&body),
        vec![
            (
                serde_json::json!({"job": "api", "env": "prod"}),
                "19".to_string()
            ),
            (
                serde_json::json!({"job": "api", "env": "dev"}),
                "2".to_string()
            ),
        ]
    );

    // targetLabels and limit.
    let body = get_json(
        &server,
        "/loki/api/v1/index/volume",
        &range(
            t,
            &[
                ("query", r#"{env=~".+"}"#),
                ("targetLabels", "job"),
                ("limit", "1"),
            ],
        ),
    );
    assert_eq!(
        result(&body),
        vec![(serde_json::json!({"job": "api"}), "21".to_string())]
    );

    // Aggregated by label names.
    let body = get_json(
        &server,
        "/loki/api/v1/index/volume",
        &range(
            t,
            &[("query", r#"{env="prod"}"#), ("aggregateBy", "labels")],
        ),
    );
    let by_name = result(&body);
    assert!(
        by_name.contains(&(serde_json::json!({"pod": ""}), "19".to_string())),
        "{body}"
    );
    assert!(
        by_name.contains(&(serde_json::json!({"job": ""}), "35".to_string())),
        "{body}"
    );

    // volume_range: a matrix on the step grid.
    let body = get_json(
        &server,
        "/loki/api/v1/index/volume_range",
        &range(t, &[("query", r#"{job="db"}"#), ("step", "60")]),
    );
    assert_eq!(body["data"]["resultType"], "matrix");
    let series = &body["data"]["result"][0];
    assert_eq!(series["metric"], serde_json::json!({"job": "db"}));
    let total: f64 = series["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|point| point[1].as_str().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(total, 16.0);
}

#[test]
fn rate_limits_refuse_with_429_and_keep_other_streams() {
    let (_dir, server) = start_with_yaml(
        "logs:\n  limits:\n    per_stream_rate_limit: 1KB\n    per_stream_rate_limit_burst: 2KB\n    ingestion_rate_mb: 0.01\n    ingestion_burst_size_mb: 0.01\n",
    );
    let t = now_ns();
    let big = "x".repeat(1500);
    let (status, body) = push(
        &server,
        &[
            stream(&[("app", "noisy")], &[(t, &big), (t + 1, &big)]),
            stream(&[("app", "quiet")], &[(t, "hello")]),
        ],
    );
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("Per stream rate limit exceeded"), "{body}");
    assert!(body.contains("noisy"), "{body}");
    let lines = get_json(
        &server,
        "/loki/api/v1/query_range",
        &[
            ("query", r#"{app=~"noisy|quiet"}"#.to_string()),
            ("start", (t - SECOND_NS).to_string()),
            ("end", (t + SECOND_NS).to_string()),
        ],
    );
    let result = lines["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "{lines}");
    assert_eq!(result[0]["stream"]["app"], "quiet");

    // Over the tenant's 10 KiB burst: the whole push is refused.
    let huge = "y".repeat(11_000);
    let (status, body) = push(&server, &[stream(&[("app", "quiet")], &[(t + 2, &huge)])]);
    assert_eq!(status, 429, "{body}");
    assert!(
        body.contains("Ingestion rate limit exceeded for user fake"),
        "{body}"
    );
}

#[test]
fn pino_loki_json_pushes_keep_structured_metadata() {
    require_clients();
    let server = TestServer::start();
    server.wait_ready();
    let start = now_ns() - SECOND_NS;
    let lines: Vec<String> = (0..5).map(|i| format!("order {i} shipped")).collect();
    let status = Command::new("node")
        .arg(Path::new(CLIENTS_DIR).join("pino_push.js"))
        .arg(server.url(""))
        .args(&lines)
        .status()
        .expect("node runs");
    assert!(status.success(), "pino-loki push failed");
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        let body = get_json(
            &server,
            "/loki/api/v1/query_range",
            &[
                (
                    "query",
                    r#"{app="pino"} | json | trace_id="trace-3""#.to_string(),
                ),
                ("start", start.to_string()),
                ("end", (now_ns() + SECOND_NS).to_string()),
            ],
        );
        if !body["data"]["result"].as_array().unwrap().is_empty() || Instant::now() > deadline {
            break body;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let result = body["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "{body}");
    let stream = &result[0]["stream"];
    assert_eq!(stream["app"], "pino");
    assert_eq!(stream["level"], "info");
    assert_eq!(stream["hostname"], "test-host");
    assert_eq!(stream["msg"], "order 3 shipped");
    let line: Value = serde_json::from_str(result[0]["values"][0][1].as_str().unwrap()).unwrap();
    assert_eq!(line["msg"], "order 3 shipped");
    assert_eq!(line["meta"]["trace_id"], "trace-3");
}

#[test]
fn retention_deletes_partitions_past_the_configured_age() {
    let data = tempfile::tempdir().unwrap();
    let old = now_ns() - 4 * 86_400 * SECOND_NS;
    let recent = now_ns();
    let yaml = |retention: &str| {
        format!("logs:\n  retention:\n    time: {retention}\n  limits:\n    reject_old_samples: false\n")
    };
    let query = |server: &TestServer| -> usize {
        let body = get_json(
            server,
            "/loki/api/v1/query_range",
            &[
                ("query", r#"{app="kept"}"#.to_string()),
                ("start", (old - SECOND_NS).to_string()),
                ("end", (recent + SECOND_NS).to_string()),
                ("limit", "100".to_string()),
            ],
        );
        body["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|stream| stream["values"].as_array().unwrap().len())
            .sum()
    };
    // Partitions are named by UTC day number.
    let old_partition = data
        .path()
        .join("logs/index")
        .join((old / (86_400 * SECOND_NS)).to_string());
    {
        let (_dir, path) = config_file(&yaml("30d"));
        let server = TestServer::start_with(
            Launch::default()
                .data_dir(data.path())
                .arg("--config")
                .arg(path.to_str().unwrap()),
        );
        server.wait_ready();
        let (status, body) = push(
            &server,
            &[stream(
                &[("app", "kept")],
                &[(old, "four days ago"), (recent, "now")],
            )],
        );
        assert_eq!(status, 204, "{body}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !old_partition.exists() {
            assert!(Instant::now() < deadline, "partitions were not flushed");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(query(&server), 2);
    }
    let (_dir, path) = config_file(&yaml("2d"));
    let server = TestServer::start_with(
        Launch::default()
            .data_dir(data.path())
            .arg("--config")
            .arg(path.to_str().unwrap()),
    );
    server.wait_ready();
    let deadline = Instant::now() + Duration::from_secs(20);
    while old_partition.exists() {
        assert!(
            Instant::now() < deadline,
            "the old partition was not deleted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(query(&server), 1);
}
