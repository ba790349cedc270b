//! Native histograms end to end: sent by remote write 1.0 (integer histograms, as
//! Prometheus agents send them) and 2.0 (float, custom buckets), read back through the
//! query API in Prometheus's JSON form, used by PromQL, and still there after `kill -9`.

mod common;

use common::{Launch, TestServer};
use prost::Message;
use sightline::metrics::remote::{proto_v1, proto_v2};

const T0: i64 = 1_700_000_000_000;

fn post(server: &TestServer, request: Vec<u8>, content_type: &str) -> reqwest::blocking::Response {
    let body = snap::raw::Encoder::new().compress_vec(&request).unwrap();
    TestServer::client()
        .post(server.url("/api/v1/write"))
        .header("Content-Type", content_type)
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .unwrap()
}

fn query(server: &TestServer, expr: &str, time_ms: i64) -> serde_json::Value {
    let response = TestServer::client()
        .get(server.url("/api/v1/query"))
        .query(&[
            ("query", expr.to_string()),
            ("time", format!("{}", time_ms as f64 / 1000.0)),
        ])
        .send()
        .unwrap();
    let status = response.status();
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(status, 200, "{expr}: {body}");
    body["data"]["result"].clone()
}

/// Schema 0 (bucket boundaries at powers of two), observations counted cumulatively:
/// sample `i` holds `i + 1` times the first sample's counts.
fn integer_histogram(i: i64) -> proto_v1::Histogram {
    let k = i as u64 + 1;
    proto_v1::Histogram {
        count: Some(proto_v1::histogram::Count::CountInt(6 * k)),
        sum: 15.0 * k as f64,
        schema: 0,
        zero_threshold: 0.001,
        zero_count: Some(proto_v1::histogram::ZeroCount::ZeroCountInt(k)),
        // Buckets (0.5,1], (1,2], (2,4] hold k, 2k, 2k: deltas k, k, 0.
        positive_spans: vec![proto_v1::BucketSpan {
            offset: 0,
            length: 3,
        }],
        positive_deltas: vec![k as i64, k as i64, 0],
        timestamp: T0 + i * 15_000,
        ..proto_v1::Histogram::default()
    }
}

fn v1_request() -> Vec<u8> {
    proto_v1::WriteRequest {
        timeseries: vec![proto_v1::TimeSeries {
            labels: vec![
                proto_v1::Label {
                    name: "__name__".into(),
                    value: "http_request_duration_seconds".into(),
                },
                proto_v1::Label {
                    name: "job".into(),
                    value: "api".into(),
                },
            ],
            histograms: (0..21).map(integer_histogram).collect(),
            ..proto_v1::TimeSeries::default()
        }],
        ..proto_v1::WriteRequest::default()
    }
    .encode_to_vec()
}

fn check_reads(server: &TestServer) {
    let at = T0 + 20 * 15_000;
    let result = query(server, "http_request_duration_seconds", at);
    assert_eq!(result.as_array().unwrap().len(), 1, "{result}");
    let histogram = &result[0]["histogram"];
    assert_eq!(histogram[0], serde_json::json!(at / 1000));
    assert_eq!(histogram[1]["count"], "126");
    assert_eq!(histogram[1]["sum"], "315");
    // Zero bucket [-0.001, 0.001] (closed both), then (0.5,1], (1,2], (2,4] (open left).
    assert_eq!(
        histogram[1]["buckets"],
        serde_json::json!([
            [3, "-0.001", "0.001", "21"],
            [0, "0.5", "1", "21"],
            [0, "1", "2", "42"],
            [0, "2", "4", "42"]
        ]),
        "{result}"
    );
    assert!(result[0].get("value").is_none(), "{result}");

    // 6 observations per 15 s over 5 minutes: 0.4 per second, exactly (no extrapolation
    // beyond the samples, which cover the window).
    let rate = query(
        server,
        "histogram_count(rate(http_request_duration_seconds[5m]))",
        at,
    );
    let value: f64 = rate[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!((value - 0.4).abs() < 1e-9, "{rate}");
    let median = query(
        server,
        "histogram_quantile(0.5, http_request_duration_seconds)",
        at,
    );
    let value: f64 = median[0]["value"][1].as_str().unwrap().parse().unwrap();
    // Rank 63 of 126: 21 in the zero bucket, 21 in (0.5,1], so 21 of the 42 in (1,2]:
    // halfway through it on the exponential scale, sqrt(2).
    assert!((value - 2f64.sqrt()).abs() < 1e-9, "{median}");
    let sum = query(server, "sum(http_request_duration_seconds) * 2", at);
    assert_eq!(sum[0]["histogram"][1]["count"], "252", "{sum}");

    // A range query returns histogram points under "histograms".
    let response = TestServer::client()
        .get(server.url("/api/v1/query_range"))
        .query(&[
            ("query", "http_request_duration_seconds".to_string()),
            ("start", format!("{}", T0 as f64 / 1000.0)),
            ("end", format!("{}", at as f64 / 1000.0)),
            ("step", "60".to_string()),
        ])
        .send()
        .unwrap();
    let body: serde_json::Value = response.json().unwrap();
    let series = &body["data"]["result"][0];
    assert_eq!(series["histograms"].as_array().unwrap().len(), 6, "{body}");
    assert!(series.get("values").is_none(), "{body}");
}

#[test]
fn remote_write_histograms_query_and_survive_kill9() {
    let mut server = TestServer::start();
    server.wait_ready();
    let response = post(&server, v1_request(), "application/x-protobuf");
    assert_eq!(response.status(), 204, "{}", response.text().unwrap());
    check_reads(&server);

    // A staleness marker (a histogram whose sum is the stale NaN) ends the series; sent
    // twice (a retry), it is a duplicate, not a conflict.
    let stale_at = T0 + 21 * 15_000;
    let mut request = proto_v1::WriteRequest::decode(&v1_request()[..]).unwrap();
    request.timeseries[0].histograms = vec![proto_v1::Histogram {
        count: Some(proto_v1::histogram::Count::CountFloat(0.0)),
        sum: f64::from_bits(0x7ff0_0000_0000_0002),
        timestamp: stale_at,
        ..proto_v1::Histogram::default()
    }];
    for _ in 0..2 {
        let response = post(&server, request.encode_to_vec(), "application/x-protobuf");
        assert_eq!(response.status(), 204, "{}", response.text().unwrap());
    }
    let after_marker = query(&server, "http_request_duration_seconds", stale_at);
    assert_eq!(after_marker, serde_json::json!([]), "{after_marker}");

    // 2.0: a float histogram with custom buckets (what NHCB senders emit).
    let v2 = proto_v2::Request {
        symbols: vec![
            String::new(),
            "__name__".into(),
            "queue_wait_seconds".into(),
            "job".into(),
            "worker".into(),
        ],
        timeseries: vec![proto_v2::TimeSeries {
            labels_refs: vec![1, 2, 3, 4],
            histograms: vec![proto_v2::Histogram {
                count: Some(proto_v2::histogram::Count::CountFloat(10.0)),
                sum: 4.5,
                schema: -53,
                positive_spans: vec![proto_v2::BucketSpan {
                    offset: 0,
                    length: 3,
                }],
                positive_counts: vec![5.0, 3.0, 2.0],
                custom_values: vec![0.25, 1.0],
                timestamp: T0,
                ..proto_v2::Histogram::default()
            }],
            ..proto_v2::TimeSeries::default()
        }],
    };
    let response = post(
        &server,
        v2.encode_to_vec(),
        "application/x-protobuf;proto=io.prometheus.write.v2.Request",
    );
    assert_eq!(response.status(), 204);
    assert_eq!(
        response.headers()["x-prometheus-remote-write-histograms-written"],
        "1"
    );
    // The first custom bucket counts as closed at -Inf, as Prometheus renders it.
    let custom = query(&server, "queue_wait_seconds", T0);
    assert_eq!(
        custom[0]["histogram"][1]["buckets"],
        serde_json::json!([
            [3, "-Inf", "0.25", "5"],
            [0, "0.25", "1", "3"],
            [0, "1", "+Inf", "2"]
        ]),
        "{custom}"
    );
    let fraction = query(
        &server,
        "histogram_fraction(0, 0.25, queue_wait_seconds)",
        T0,
    );
    assert_eq!(fraction[0]["value"][1], "0.5", "{fraction}");

    // A malformed histogram is refused with its reason; nothing stored before is lost.
    let mut bad = integer_histogram(30);
    bad.positive_deltas.pop();
    let mut request = proto_v1::WriteRequest::decode(&v1_request()[..]).unwrap();
    request.timeseries[0].histograms = vec![bad];
    let response = post(&server, request.encode_to_vec(), "application/x-protobuf");
    assert_eq!(response.status(), 400);
    let text = response.text().unwrap();
    assert!(
        text.contains("invalid native histogram: histogram spans need 3 positive buckets, got 2"),
        "{text}"
    );

    let data_dir = server.data_dir.clone();
    server.kill9();
    let restarted = TestServer::start_with(Launch::default().data_dir(&data_dir));
    restarted.wait_ready();
    check_reads(&restarted);
    let custom = query(&restarted, "histogram_count(queue_wait_seconds)", T0);
    assert_eq!(custom[0]["value"][1], "10", "{custom}");
}
