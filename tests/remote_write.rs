//! Remote write 1.0 and 2.0 into the real server, read back through the Prometheus API.

mod common;

use common::{config_file, Launch, TestServer};
use sightline::metrics::remote::{
    encode_write_request_v1, encode_write_request_v2, SeriesToEncode,
};

type Series = SeriesToEncode;

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> Series {
    (
        labels
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        samples.to_vec(),
    )
}

fn post(server: &TestServer, body: Vec<u8>, content_type: &str) -> reqwest::blocking::Response {
    TestServer::client()
        .post(server.url("/api/v1/write"))
        .header("Content-Type", content_type)
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .unwrap()
}

fn get_json(server: &TestServer, path: &str) -> serde_json::Value {
    let response = server.get(path);
    let status = response.status();
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(status, 200, "{path}: {body}");
    body
}

#[test]
fn v1_and_v2_writes_land_and_read_back() {
    let server = TestServer::start();
    server.wait_ready();
    let now = 1_700_000_000_000i64;
    let v1 = encode_write_request_v1(&[
        series(
            &[
                ("__name__", "node_load1"),
                ("instance", "a:9100"),
                ("job", "node"),
            ],
            &[(now, 0.5), (now + 15_000, 0.75)],
        ),
        series(
            &[("__name__", "up"), ("instance", "a:9100"), ("job", "node")],
            &[(now, 1.0)],
        ),
    ]);
    let response = post(&server, v1, "application/x-protobuf");
    assert_eq!(response.status(), 204, "{}", response.text().unwrap());

    let v2 = encode_write_request_v2(&[series(
        &[
            ("__name__", "http_requests_total"),
            ("code", "200"),
            ("job", "app"),
        ],
        &[(now, 10.0), (now + 15_000, 12.0)],
    )]);
    let response = post(
        &server,
        v2,
        "application/x-protobuf;proto=io.prometheus.write.v2.Request",
    );
    assert_eq!(response.status(), 204);
    assert_eq!(
        response.headers()["x-prometheus-remote-write-samples-written"],
        "2"
    );

    let found = get_json(
        &server,
        "/api/v1/series?match[]=%7Bjob%3D~%22node%7Capp%22%7D",
    );
    let sets = found["data"].as_array().unwrap();
    assert_eq!(sets.len(), 3, "{found}");
    assert!(sets
        .iter()
        .any(|set| set["__name__"] == "http_requests_total" && set["code"] == "200"));

    let names = get_json(&server, "/api/v1/labels");
    assert_eq!(
        names["data"],
        serde_json::json!(["__name__", "code", "instance", "job"])
    );
    let values = get_json(&server, "/api/v1/label/__name__/values");
    assert_eq!(
        values["data"],
        serde_json::json!(["http_requests_total", "node_load1", "up"])
    );
    let filtered = get_json(&server, "/api/v1/label/instance/values?match[]=up");
    assert_eq!(filtered["data"], serde_json::json!(["a:9100"]));

    let metrics = server.get("/metrics").text().unwrap();
    assert!(
        metrics.contains("sightline_tsdb_head_series 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sightline_tsdb_head_samples_appended_total 5"),
        "{metrics}"
    );
}

#[test]
fn bad_series_are_named_and_good_ones_still_stored() {
    let server = TestServer::start();
    server.wait_ready();
    let body = encode_write_request_v1(&[
        series(&[("__name__", "good_metric"), ("job", "x")], &[(1000, 1.0)]),
        series(&[("__name__", "bad_metric"), ("0job", "x")], &[(1000, 1.0)]),
        series(&[("job", "nameless")], &[(1000, 1.0)]),
    ]);
    let response = post(&server, body, "application/x-protobuf");
    assert_eq!(response.status(), 400);
    let message = response.text().unwrap();
    assert!(
        message.contains("bad_metric") && message.contains("0job"),
        "{message}"
    );
    assert!(message.contains("2 series rejected"), "{message}");
    let stored = get_json(&server, "/api/v1/series?match[]=good_metric");
    assert_eq!(stored["data"].as_array().unwrap().len(), 1);

    // Out-of-window and conflicting samples are refused by name; duplicates are fine.
    let now = 1_700_000_000_000i64;
    let labels = [("__name__", "ooo_metric"), ("job", "x")];
    assert_eq!(
        post(
            &server,
            encode_write_request_v1(&[series(&labels, &[(now, 1.0)])]),
            "application/x-protobuf"
        )
        .status(),
        204
    );
    assert_eq!(
        post(
            &server,
            encode_write_request_v1(&[series(&labels, &[(now, 1.0)])]),
            "application/x-protobuf"
        )
        .status(),
        204
    );
    let conflicting = post(
        &server,
        encode_write_request_v1(&[series(&labels, &[(now, 2.0)])]),
        "application/x-protobuf",
    );
    assert_eq!(conflicting.status(), 400);
    assert!(conflicting.text().unwrap().contains("different value"));
    let too_old = post(
        &server,
        encode_write_request_v1(&[series(&labels, &[(now - 3_600_000, 1.0)])]),
        "application/x-protobuf",
    );
    assert_eq!(too_old.status(), 400);
    assert!(too_old.text().unwrap().contains("out_of_order_window"));
    let late_but_in_window = post(
        &server,
        encode_write_request_v1(&[series(&labels, &[(now - 60_000, 0.5)])]),
        "application/x-protobuf",
    );
    assert_eq!(late_but_in_window.status(), 204);
}

/// The value of an unlabelled self-metric.
fn self_metric(server: &TestServer, name: &str) -> f64 {
    let text = server.get("/metrics").text().unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} missing from /metrics"))
        .parse()
        .unwrap()
}

#[test]
fn series_sent_again_are_found_by_their_label_bytes_and_lose_nothing() {
    let server = TestServer::start();
    server.wait_ready();
    let now = 1_700_000_000_000i64;
    let fleet = |round: i64| -> Vec<Series> {
        (0..50)
            .map(|host| {
                let instance = format!("host-{host}:9100");
                let labels = [
                    ("__name__", "node_load1"),
                    ("instance", instance.as_str()),
                    ("job", "node"),
                ];
                series(
                    &labels,
                    &[(now + round * 15_000, host as f64 + round as f64)],
                )
            })
            .collect()
    };
    for round in 0..3 {
        let mut request = fleet(round);
        if round == 2 {
            // Known series beside a new one and a refused one in the same request.
            request.push(series(
                &[("__name__", "node_load5"), ("job", "node")],
                &[(now, 7.0)],
            ));
            request.push(series(&[("job", "nameless")], &[(now, 1.0)]));
        }
        let response = post(
            &server,
            encode_write_request_v1(&request),
            "application/x-protobuf",
        );
        let expected = if round == 2 { 400 } else { 204 };
        assert_eq!(response.status(), expected, "{}", response.text().unwrap());
    }
    // One key per stored series sent in 1.0; the refused one is not among them.
    assert_eq!(
        self_metric(&server, "sightline_tsdb_series_key_cache_entries"),
        51.0
    );
    let counted = get_json(
        &server,
        &format!(
            "/api/v1/query?query=count_over_time(node_load1%5B1m%5D)&time={}",
            (now + 30_000) / 1000
        ),
    );
    let results = counted["data"]["result"].as_array().unwrap();
    assert_eq!(results.len(), 50, "{counted}");
    assert!(results.iter().all(|r| r["value"][1] == "3"), "{counted}");
    let host_7 = get_json(
        &server,
        &format!(
            "/api/v1/query?query=node_load1%7Binstance%3D%22host-7:9100%22%7D&time={}",
            (now + 30_000) / 1000
        ),
    );
    assert_eq!(host_7["data"]["result"][0]["value"][1], "9", "{host_7}");

    // A refused sample of a series found by key is named with its labels all the same.
    let mut conflicting = fleet(2);
    conflicting.truncate(1);
    conflicting[0].1[0].1 = -1.0;
    let response = post(
        &server,
        encode_write_request_v1(&conflicting),
        "application/x-protobuf",
    );
    assert_eq!(response.status(), 400);
    let message = response.text().unwrap();
    assert!(
        message.contains(r#"node_load1{instance="host-0:9100", job="node"}"#)
            && message.contains("different value"),
        "{message}"
    );
}

#[test]
fn unsupported_and_malformed_bodies() {
    let (_dir, path) = config_file("server:\n  limits:\n    max_decompressed_body_size: 1KB\n");
    let server = TestServer::start_with(
        Launch::default()
            .arg("--config")
            .arg(path.to_str().unwrap()),
    );
    server.wait_ready();
    let body = encode_write_request_v1(&[series(&[("__name__", "m")], &[(1, 1.0)])]);
    let wrong_type = post(&server, body, "application/json");
    assert_eq!(wrong_type.status(), 415);
    assert!(wrong_type
        .text()
        .unwrap()
        .contains("application/x-protobuf"));

    let garbage = post(
        &server,
        b"definitely not snappy".to_vec(),
        "application/x-protobuf",
    );
    assert_eq!(garbage.status(), 400);

    let labels: Vec<(String, String)> = (0..20)
        .map(|i| (format!("label_{i:02}"), "v".repeat(100)))
        .collect();
    let mut labels_with_name = vec![("__name__".to_string(), "big".to_string())];
    labels_with_name.extend(labels);
    let big = encode_write_request_v1(&[(labels_with_name, vec![(1, 1.0)])]);
    let too_large = post(&server, big, "application/x-protobuf");
    assert_eq!(too_large.status(), 413);
    assert!(too_large.text().unwrap().contains("1024"));
}

#[test]
fn api_errors_use_the_prometheus_envelope() {
    let server = TestServer::start();
    server.wait_ready();
    let missing = server.get("/api/v1/series");
    assert_eq!(missing.status(), 400);
    let body: serde_json::Value = missing.json().unwrap();
    assert_eq!(body["status"], "error");
    assert_eq!(body["errorType"], "bad_data");
    let bad_selector = server.get("/api/v1/series?match[]=%7Bjob%3D%22%22%7D");
    assert_eq!(bad_selector.status(), 400);
    let bad_time = server.get("/api/v1/labels?start=yesterday");
    assert_eq!(bad_time.status(), 400);
    assert!(bad_time.text().unwrap().contains("start"));
}

#[test]
fn overload_answers_429_with_retry_after_and_retries_lose_nothing() {
    let (_dir, path) = config_file("server:\n  limits:\n    max_concurrent_writes: 1\n");
    let server = TestServer::start_with(
        Launch::default()
            .arg("--config")
            .arg(path.to_str().unwrap()),
    );
    server.wait_ready();
    let url = server.url("/api/v1/write");
    let saw_429 = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..6)
        .map(|writer| {
            let (url, saw_429) = (url.clone(), saw_429.clone());
            std::thread::spawn(move || {
                let client = TestServer::client();
                for round in 0..15i64 {
                    let batch: Vec<Series> = (0..2000)
                        .map(|index| {
                            let name = format!("w{writer}_{index}");
                            series(
                                &[("__name__", "load_test"), ("series", name.as_str())],
                                &[(1_700_000_000_000 + round * 1000, round as f64)],
                            )
                        })
                        .collect();
                    let body = encode_write_request_v1(&batch);
                    loop {
                        let response = client
                            .post(&url)
                            .header("Content-Type", "application/x-protobuf")
                            .header("Content-Encoding", "snappy")
                            .body(body.clone())
                            .send()
                            .unwrap();
                        match response.status().as_u16() {
                            204 => break,
                            429 => {
                                assert!(response.headers().contains_key("retry-after"));
                                saw_429.store(true, std::sync::atomic::Ordering::Relaxed);
                                std::thread::sleep(std::time::Duration::from_millis(5));
                            }
                            other => panic!(
                                "unexpected status {other}: {}",
                                response.text().unwrap_or_default()
                            ),
                        }
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    assert!(
        saw_429.load(std::sync::atomic::Ordering::Relaxed),
        "six writers against a limit of one never saw 429"
    );
    let metrics = server.get("/metrics").text().unwrap();
    assert!(
        metrics.contains(&format!(
            "sightline_tsdb_head_samples_appended_total {}",
            6 * 15 * 2000
        )),
        "samples lost: {}",
        metrics
            .lines()
            .find(|line| line.starts_with("sightline_tsdb_head_samples_appended_total"))
            .unwrap_or("")
    );
}
