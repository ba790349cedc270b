//! The PromQL query set, its timing, and the comparison of results between systems.
//!
//! Every query runs against `/api/v1/query` or `/api/v1/query_range` at fixed times derived
//! from the workload (so every system is asked the same thing); results are reduced to a
//! canonical form (series sorted by label set, timestamps in ms, values as f64) and compared
//! with Prometheus's, which is the reference.

use std::time::{Duration, Instant};

use crate::measure;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Instant,
    Range,
}

pub struct Query {
    pub id: &'static str,
    pub expr: &'static str,
    pub kind: Kind,
}

/// Typical dashboard and alerting queries over the generated metrics.
pub const QUERIES: &[Query] = &[
    Query {
        id: "selector",
        expr: r#"up{job="node"}"#,
        kind: Kind::Instant,
    },
    Query {
        id: "count_by_job",
        expr: r#"count by (job) (up)"#,
        kind: Kind::Instant,
    },
    Query {
        id: "cpu_busy_by_instance",
        expr: r#"sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))"#,
        kind: Kind::Instant,
    },
    Query {
        id: "memory_used_ratio",
        expr: r#"1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes"#,
        kind: Kind::Instant,
    },
    Query {
        id: "topk_network",
        expr: r#"topk(10, rate(node_network_receive_bytes_total{device="eth0"}[5m]))"#,
        kind: Kind::Instant,
    },
    Query {
        id: "requests_by_job_code",
        expr: r#"sum by (job, code) (rate(http_requests_total[5m]))"#,
        kind: Kind::Instant,
    },
    Query {
        id: "error_ratio",
        expr: r#"sum by (job) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (job) (rate(http_requests_total[5m]))"#,
        kind: Kind::Instant,
    },
    Query {
        id: "latency_p99",
        expr: r#"histogram_quantile(0.99, sum by (job, le) (rate(http_request_duration_seconds_bucket[5m])))"#,
        kind: Kind::Instant,
    },
    Query {
        id: "load_avg_over_time",
        expr: r#"avg_over_time(node_load1[5m])"#,
        kind: Kind::Instant,
    },
    Query {
        id: "disk_filter",
        expr: r#"node_filesystem_avail_bytes{mountpoint="/"} / node_filesystem_size_bytes{mountpoint="/"} < 0.5"#,
        kind: Kind::Instant,
    },
    Query {
        id: "count_regex_name",
        expr: r#"count({__name__=~"node_.+"})"#,
        kind: Kind::Instant,
    },
    Query {
        id: "range_request_rate",
        expr: r#"sum(rate(http_requests_total[1m]))"#,
        kind: Kind::Range,
    },
    Query {
        id: "range_memory_by_job",
        expr: r#"avg by (job) (process_resident_memory_bytes)"#,
        kind: Kind::Range,
    },
    Query {
        id: "range_db_p90",
        expr: r#"histogram_quantile(0.9, sum by (le) (rate(db_query_duration_seconds_bucket[1m])))"#,
        kind: Kind::Range,
    },
];

/// When queries are evaluated (unix ms) and the range they cover.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Instant queries: after the last sample, within the 5m lookback.
    pub eval_ms: i64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

/// A result reduced to what must match: label sets (sorted) and their points.
#[derive(Clone, Debug, PartialEq)]
pub struct Canonical {
    pub result_type: String,
    pub series: Vec<(String, Vec<(i64, f64)>)>,
}

#[derive(Clone, Debug)]
pub struct Measured {
    pub latencies_ms: Vec<f64>,
    pub result: Result<Canonical, String>,
}

impl Measured {
    pub fn median_ms(&self) -> f64 {
        measure::median(&self.latencies_ms)
    }

    pub fn p90_ms(&self) -> f64 {
        measure::percentile(&self.latencies_ms, 0.9)
    }
}

/// Whether a system answers PromQL at all: `Err` says why not (e.g. a 404).
pub fn probe(client: &reqwest::blocking::Client, base: &str) -> Result<(), String> {
    let response = client
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", "1")])
        .send()
        .map_err(|error| format!("not reachable: {error}"))?;
    let status = response.status();
    let body: serde_json::Value = response.json().unwrap_or(serde_json::Value::Null);
    if status.is_success() && body["status"] == "success" {
        Ok(())
    } else {
        Err(format!("/api/v1/query answered {status}"))
    }
}

fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// Runs `query` once untimed (warm-up, also the result kept for comparison), then `runs`
/// timed times.
pub fn measure(
    client: &reqwest::blocking::Client,
    base: &str,
    query: &Query,
    window: &Window,
    runs: usize,
) -> Measured {
    let (path, params) = match query.kind {
        Kind::Instant => (
            "/api/v1/query",
            vec![
                ("query", query.expr.to_string()),
                ("time", seconds(window.eval_ms)),
            ],
        ),
        Kind::Range => (
            "/api/v1/query_range",
            vec![
                ("query", query.expr.to_string()),
                ("start", seconds(window.start_ms)),
                ("end", seconds(window.end_ms)),
                ("step", seconds(window.step_ms)),
            ],
        ),
    };
    let url = format!("{base}{path}");
    let run_once = || -> Result<(Duration, serde_json::Value), String> {
        let started = Instant::now();
        let response = client
            .post(&url)
            .form(&params)
            .send()
            .map_err(|error| format!("request failed: {error}"))?;
        let status = response.status();
        let bytes = response.bytes().map_err(|error| format!("body: {error}"))?;
        let elapsed = started.elapsed();
        let body: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|error| format!("{status}: not JSON: {error}"))?;
        if !status.is_success() || body["status"] != "success" {
            return Err(format!(
                "{status}: {}",
                body["error"].as_str().unwrap_or("no error text")
            ));
        }
        Ok((elapsed, body))
    };
    let result = run_once().and_then(|(_, body)| canonical(&body));
    let mut latencies_ms = Vec::with_capacity(runs);
    if result.is_ok() {
        for _ in 0..runs {
            match run_once() {
                Ok((elapsed, _)) => latencies_ms.push(elapsed.as_secs_f64() * 1000.0),
                Err(_) => break,
            }
        }
    }
    Measured {
        latencies_ms,
        result,
    }
}

fn parse_value(value: &serde_json::Value) -> Option<f64> {
    match value.as_str()? {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        text => text.parse().ok(),
    }
}

fn parse_point(point: &serde_json::Value) -> Option<(i64, f64)> {
    let time = point.get(0)?.as_f64()?;
    Some(((time * 1000.0).round() as i64, parse_value(point.get(1)?)?))
}

fn label_key(metric: &serde_json::Value) -> String {
    let mut labels: Vec<(String, String)> = metric
        .as_object()
        .map(|object| {
            object
                .iter()
                .map(|(name, value)| (name.clone(), value.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    labels.sort();
    let inner: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}={value:?}"))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

/// Reduces a Prometheus-envelope answer to its canonical form.
pub fn canonical(body: &serde_json::Value) -> Result<Canonical, String> {
    let data = &body["data"];
    let result_type = data["resultType"].as_str().unwrap_or("").to_string();
    let result = &data["result"];
    let bad = || format!("unexpected {result_type} result shape");
    let mut series = Vec::new();
    match result_type.as_str() {
        "vector" => {
            for item in result.as_array().ok_or_else(bad)? {
                let point = parse_point(&item["value"]).ok_or_else(bad)?;
                series.push((label_key(&item["metric"]), vec![point]));
            }
        }
        "matrix" => {
            for item in result.as_array().ok_or_else(bad)? {
                let points = item["values"]
                    .as_array()
                    .ok_or_else(bad)?
                    .iter()
                    .map(parse_point)
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(bad)?;
                series.push((label_key(&item["metric"]), points));
            }
        }
        "scalar" | "string" => {
            let point = parse_point(result).ok_or_else(bad)?;
            series.push(("{}".to_string(), vec![point]));
        }
        _ => return Err(format!("unknown result type {result_type:?}")),
    }
    series.sort_by(|left, right| left.0.cmp(&right.0));
    Ok(Canonical {
        result_type,
        series,
    })
}

fn same_value(left: f64, right: f64) -> bool {
    if left.is_nan() || right.is_nan() {
        return left.is_nan() && right.is_nan();
    }
    if left.is_infinite() || right.is_infinite() {
        return left == right;
    }
    (left - right).abs() <= 1e-9 + 1e-6 * left.abs().max(right.abs())
}

/// `None` when `other` matches `reference` (same series, same points, values within a
/// relative 1e-6), else a short description of the first differences.
pub fn compare(reference: &Canonical, other: &Canonical) -> Option<String> {
    let mut problems = Vec::new();
    if reference.result_type != other.result_type {
        problems.push(format!(
            "result type {} instead of {}",
            other.result_type, reference.result_type
        ));
    }
    let mut missing = 0;
    let mut extra = 0;
    let mut differing = 0;
    let mut first_difference = None;
    let mut first_missing = None;
    let mut first_extra = None;
    let (mut left, mut right) = (0, 0);
    while left < reference.series.len() || right < other.series.len() {
        let ordering = match (reference.series.get(left), other.series.get(right)) {
            (Some(a), Some(b)) => a.0.cmp(&b.0),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match ordering {
            std::cmp::Ordering::Less => {
                missing += 1;
                first_missing.get_or_insert_with(|| reference.series[left].0.clone());
                left += 1;
            }
            std::cmp::Ordering::Greater => {
                extra += 1;
                first_extra.get_or_insert_with(|| other.series[right].0.clone());
                right += 1;
            }
            std::cmp::Ordering::Equal => {
                let (labels, expected) = &reference.series[left];
                let got = &other.series[right].1;
                let same = expected.len() == got.len()
                    && expected
                        .iter()
                        .zip(got)
                        .all(|(a, b)| a.0 == b.0 && same_value(a.1, b.1));
                if !same {
                    differing += 1;
                    if first_difference.is_none() {
                        let show = |points: &[(i64, f64)]| {
                            points
                                .iter()
                                .take(3)
                                .map(|(t, v)| format!("{v}@{t}"))
                                .collect::<Vec<_>>()
                                .join(" ")
                        };
                        first_difference =
                            Some(format!("{labels}: {} vs {}", show(got), show(expected)));
                    }
                }
                left += 1;
                right += 1;
            }
        }
    }
    if missing > 0 {
        problems.push(format!(
            "{missing} of {} series missing (first: {})",
            reference.series.len(),
            first_missing.unwrap_or_default()
        ));
    }
    if extra > 0 {
        problems.push(format!(
            "{extra} series extra (first: {})",
            first_extra.unwrap_or_default()
        ));
    }
    if differing > 0 {
        problems.push(format!(
            "{differing} of {} series differ (first: {})",
            reference.series.len(),
            first_difference.unwrap_or_default()
        ));
    }
    if problems.is_empty() {
        None
    } else {
        Some(problems.join("; "))
    }
}
