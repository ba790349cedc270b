//! Differential PromQL test: one deterministic dataset goes by remote write into a real
//! Prometheus (the Debian package, 2.42) and into Sightline, then the same instant and range
//! queries go to both over the HTTP API and the answers must agree: the same result type, the
//! same series (label sets), the same timestamps and the same values to a relative 1e-9 (NaN
//! equals NaN, infinities exactly), or, for errors, the same HTTP status and `errorType`.
//! Every mismatch is collected and reported at the end.
//!
//! Prometheus 2.42 selects closed windows `[t - range, t]` (ranges, lookback, subqueries)
//! while Sightline follows Prometheus 3 with left-open `(t - range, t]`. So the samples sit
//! 234 ms past a whole second (a 15 s grid shifted by 1.234 s), while every evaluation time,
//! range start, step, `@` time, offset, range and subquery step is a whole or half second:
//! no window edge ever meets a sample, window edges at half seconds never meet a subquery
//! step, and the one nested subquery is chosen so that its inner edges miss its inner steps.
//! So the difference cannot show.
//!
//! Real 2.x/3.x differences, kept out of the list rather than tolerated:
//! - Counter extrapolation towards zero (`rate`, `increase`, ..) changed in 2.51: the zero
//!   point now only shortens the half-interval extrapolation. A window that starts well
//!   before a counter's first sample answers differently when the zero point lies 7.5 to
//!   16.5 s before that sample (seen on `rate(request_duration_seconds_sum[5m])` and
//!   `histogram_quantile` over bucket rates at the first minute of data). All counters
//!   therefore start high, as if they had been running for a while.
//! - `atan2` keeps `__name__` in 2.42 and drops it since 2.47
//!   (`temperature_celsius atan2 10`): the atan2 queries aggregate by `room`.
//! - Any UTF-8 label name is valid since 3.0, so
//!   `label_replace(http_requests_total, "bad-name", "x", "job", ".*")` is an error only in
//!   2.x: the invalid-name cases use the empty name, invalid in both.
//! - A nested subquery whose inner range is a multiple of its step puts an inner step on the
//!   window edge (`max_over_time(avg_over_time(temperature_celsius[2m:30s])[10m:1m])`),
//!   which 2.42 includes and 3.x does not: the nested case uses `[150s:40s]`.
//! - Functions renamed or added in 3.x are not used (`holt_winters`,
//!   `double_exponential_smoothing`, `mad_over_time`, `ts_of_*`, `limitk`, `sort_by_label`,
//!   `first_over_time`, ...).
//!
//! The series order of an instant vector is compared only after `sort`, `sort_desc` and
//! ungrouped `topk`/`bottomk`, and there only between different values: the order of equal
//! values (ties, NaNs) is unspecified in Prometheus too.

mod common;

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::peers::{free_port, require_binary, Peer};
use common::TestServer;
use prost::Message;
use serde_json::Value;
use sightline::metrics::remote::{encode_write_request_v1, proto_v1, SeriesToEncode};
use sightline::time_format::rfc3339_millis;

const PROMETHEUS: &str = "/usr/bin/prometheus";

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
/// The dataset: `STEPS` samples per series, `STEP_MS` apart, the first at origin plus
/// `GRID_OFFSET_MS` (origin is a whole minute, 50 minutes before the test runs).
const STEP_MS: i64 = 15 * SECOND;
const STEPS: i64 = 180;
const GRID_OFFSET_MS: i64 = 1_234;
/// Samples per remote-write request and series (each request covers one time slice).
const CHUNK_STEPS: i64 = 60;

/// Instant evaluation times after the origin: with full windows; just after the series that
/// stops has stopped (still within lookback); once it has gone; after the last sample (within
/// lookback, windows partly empty); after everything went stale.
const INSTANTS: [i64; 5] = [
    12 * MINUTE + 7_500,
    23 * MINUTE + 37_500,
    30 * MINUTE + 7_500,
    46 * MINUTE + 7_500,
    52 * MINUTE + 7_500,
];
/// Range queries after the origin: (start, end, step as sent). The first one starts before
/// the data and ends after it went stale.
const RANGES: [(i64, i64, &str); 2] = [
    (7_500, 52 * MINUTE + 7_500, "60"),
    (20 * MINUTE + 3_500, 30 * MINUTE + 3_500, "45"),
];
/// The time substituted for `{AT}` in `@` modifiers.
const AT: i64 = 20 * MINUTE + 7_500;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Instant queries at every `INSTANTS` time and range queries over every `RANGES`.
    Both,
    /// Instant queries only (range vectors and strings cannot be range-queried).
    Instant,
    /// Instant queries only, series compared in order.
    Sorted,
    /// Prometheus must reject it at least once; every evaluation is compared.
    Fails,
}

use Mode::{Both, Fails, Instant as InstantOnly, Sorted};

/// The queries; `{AT}` stands for the `@` time.
const QUERIES: &[(Mode, &str)] = &[
    // Selectors with every matcher type, offset and @.
    (Both, r#"http_requests_total"#),
    (Both, r#"http_requests_total{job="api"}"#),
    (Both, r#"http_requests_total{code!="200"}"#),
    (Both, r#"http_requests_total{instance=~"a:80|c:80"}"#),
    (Both, r#"http_requests_total{method!~"GET|PUT"}"#),
    (
        Both,
        r#"{__name__=~"temperature_.*|node_memory_free_bytes"}"#,
    ),
    (
        Both,
        r#"http_requests_total{job="api",code=~"2..",instance!~"b.*"}"#,
    ),
    (
        Both,
        r#"http_requests_total{method=~"G.*|P.*", code!~"5.."}"#,
    ),
    (Both, r#"http_requests_total{instance!="", job!~"web"}"#),
    (Both, r#"http_requests_total{instance=~"a"}"#),
    (Both, r#"http_requests_total{instance=~"A:80"}"#),
    (Both, r#"http_requests_total{instance=~"(?i)A:80"}"#),
    (Both, r#"http_requests_total{instance=~"a:80|"}"#),
    (
        Both,
        r#"http_requests_total{instance=~".*80", job=~"api|"}"#,
    ),
    (Both, r#"{instance!~"", __name__=~"up|app_info"}"#),
    (Both, r#"{job!="", __name__!~"http_.*|request_.*|rpc_.*"}"#),
    (Both, r#"app_info{missing=""}"#),
    (Both, r#"http_requests_total{job=""}"#),
    (Both, r#"http_requests_total offset 5m"#),
    (Both, r#"temperature_celsius offset -3m"#),
    (Both, r#"sum(http_requests_total offset 1h)"#),
    (
        Both,
        r#"http_requests_total - http_requests_total offset 5m"#,
    ),
    (Both, r#"http_requests_total @ {AT}"#),
    (Both, r#"http_requests_total offset 1m @ {AT}"#),
    (Both, r#"http_requests_total @ end() offset 5m"#),
    (Both, r#"temperature_celsius @ start()"#),
    (Both, r#"node_memory_free_bytes @ end()"#),
    (Both, r#"batch_jobs_processed_total"#),
    (Both, r#"queue_length"#),
    (
        InstantOnly,
        r#"http_requests_total{instance="a:80",method="GET"}[2m]"#,
    ),
    (InstantOnly, r#"temperature_celsius[1m] offset 10m"#),
    // Counter and gauge range functions.
    (Both, r#"rate(http_requests_total[5m])"#),
    (Both, r#"rate(http_requests_total[1m] offset 30s)"#),
    (Both, r#"rate(http_requests_total[5m] @ {AT} offset 2m)"#),
    (
        Both,
        r#"rate(http_requests_total{method="POST",code="200",instance="b:80"}[2m])"#,
    ),
    (Both, r#"rate(batch_jobs_processed_total[5m])"#),
    (Both, r#"irate(http_requests_total[1m])"#),
    (
        Both,
        r#"irate(http_requests_total{method="POST",code="200",instance="b:80"}[1m])"#,
    ),
    (Both, r#"irate(batch_jobs_processed_total[5m])"#),
    (Both, r#"increase(http_requests_total[10m])"#),
    (
        Both,
        r#"increase(http_requests_total{method="POST",code="200",instance="b:80"}[20m])"#,
    ),
    (Both, r#"increase(batch_jobs_processed_total[1m])"#),
    (Both, r#"delta(temperature_celsius[10m])"#),
    (Both, r#"delta(http_requests_total[90s])"#),
    (Both, r#"idelta(node_memory_free_bytes[2m])"#),
    (Both, r#"deriv(node_memory_free_bytes[10m])"#),
    (Both, r#"deriv(temperature_celsius[1m])"#),
    (Both, r#"deriv(app_info[5m])"#),
    (Both, r#"deriv(queue_length[1m])"#),
    (Both, r#"predict_linear(node_memory_free_bytes[15m], 3600)"#),
    (Both, r#"predict_linear(node_memory_free_bytes[5m], 0)"#),
    (Both, r#"predict_linear(temperature_celsius[10m], -600)"#),
    (Both, r#"resets(http_requests_total[30m])"#),
    (Both, r#"resets(edge_values[10m])"#),
    (Both, r#"changes(temperature_celsius[10m])"#),
    (Both, r#"changes(app_info[10m])"#),
    (Both, r#"changes(http_requests_total{code="500"}[10m])"#),
    (Both, r#"changes(queue_length[20m])"#),
    (Both, r#"changes(edge_values[5m])"#),
    // *_over_time.
    (Both, r#"avg_over_time(temperature_celsius[10m])"#),
    (Both, r#"avg_over_time(edge_values[5m])"#),
    (Both, r#"avg_over_time(up[10m]) < 1"#),
    (Both, r#"min_over_time(temperature_celsius[10m])"#),
    (Both, r#"min_over_time(edge_values[5m])"#),
    (Both, r#"max_over_time(node_memory_free_bytes[7m])"#),
    (Both, r#"max_over_time(edge_values[5m])"#),
    (Both, r#"sum_over_time(queue_length[5m])"#),
    (Both, r#"sum_over_time(edge_values[1m])"#),
    (Both, r#"count_over_time(batch_jobs_processed_total[10m])"#),
    (Both, r#"count_over_time(edge_values[2m])"#),
    (Both, r#"last_over_time(batch_jobs_processed_total[10m])"#),
    (Both, r#"last_over_time(queue_length[1m] offset -2m)"#),
    (Both, r#"last_over_time(temperature_celsius[2m] @ start())"#),
    (Both, r#"quantile_over_time(0.9, temperature_celsius[15m])"#),
    (
        Both,
        r#"quantile_over_time(0.25, node_memory_free_bytes[5m])"#,
    ),
    (Both, r#"quantile_over_time(0, temperature_celsius[5m])"#),
    (Both, r#"quantile_over_time(1, temperature_celsius[5m])"#),
    (Both, r#"quantile_over_time(-0.5, temperature_celsius[5m])"#),
    (Both, r#"quantile_over_time(NaN, temperature_celsius[5m])"#),
    (Both, r#"quantile_over_time(0.5, edge_values[5m])"#),
    (Both, r#"stddev_over_time(temperature_celsius[10m])"#),
    (Both, r#"stddev_over_time(edge_values[5m])"#),
    (Both, r#"stddev_over_time(queue_length[1m])"#),
    (Both, r#"stdvar_over_time(node_memory_free_bytes[10m])"#),
    (Both, r#"present_over_time(queue_length[3m])"#),
    (Both, r#"absent_over_time(queue_length[3m])"#),
    (Both, r#"absent_over_time(batch_jobs_processed_total[5m])"#),
    (Both, r#"absent_over_time(nonexistent_metric{job="x"}[5m])"#),
    // Aggregations.
    (Both, r#"sum(rate(http_requests_total[5m]))"#),
    (Both, r#"sum by (job) (rate(http_requests_total[5m]))"#),
    (
        Both,
        r#"sum without (le) (request_duration_seconds_bucket)"#,
    ),
    (Both, r#"sum without (__name__) (http_requests_total)"#),
    (Both, r#"sum by (nonexistent) (up)"#),
    (
        Both,
        r#"sum by (__name__) ({__name__=~"request_duration_seconds_(sum|count)"})"#,
    ),
    (Both, r#"sum(edge_values)"#),
    (Both, r#"sum(edge_values{kind=~"inf|neginf"})"#),
    (
        Both,
        r#"avg without (instance, method) (rate(http_requests_total[5m]))"#,
    ),
    (Both, r#"avg(node_memory_free_bytes)"#),
    (Both, r#"avg(edge_values{kind=~"inf|zero"})"#),
    (Both, r#"avg by () (up)"#),
    (Both, r#"min by (code) (http_requests_total)"#),
    (Both, r#"min(edge_values)"#),
    (Both, r#"max(temperature_celsius)"#),
    (Both, r#"max by (kind) (edge_values)"#),
    (Both, r#"max without () (up)"#),
    (
        Both,
        r#"max by (job) (http_requests_total{job="nonexistent"})"#,
    ),
    (Both, r#"count by (job) (http_requests_total)"#),
    (Both, r#"count by (le) (request_duration_seconds_bucket)"#),
    (Both, r#"count(count by (instance) (http_requests_total))"#),
    (Both, r#"count(edge_values > -Inf)"#),
    (Both, r#"group by (instance) (http_requests_total)"#),
    (Both, r#"group(temperature_celsius) by (room)"#),
    (Both, r#"stddev by (job) (rate(http_requests_total[5m]))"#),
    (Both, r#"stddev(edge_values)"#),
    (Both, r#"stdvar(temperature_celsius)"#),
    (Both, r#"stdvar by (job) (http_requests_total)"#),
    (Sorted, r#"topk(3, rate(http_requests_total[5m]))"#),
    (Sorted, r#"topk(2, edge_values)"#),
    (Both, r#"topk(1, edge_values)"#),
    (Both, r#"topk by (job) (2, http_requests_total)"#),
    (Both, r#"topk(0, temperature_celsius)"#),
    (
        Both,
        r#"topk(scalar(count(app_info)) - 1, temperature_celsius)"#,
    ),
    (Sorted, r#"bottomk(2, node_memory_free_bytes)"#),
    (Sorted, r#"bottomk(3, edge_values)"#),
    // The two web 500 counters often tie here; Prometheus keeps the first in series order.
    (
        Both,
        r#"bottomk without (instance) (1, rate(http_requests_total[5m]))"#,
    ),
    (Both, r#"bottomk(1, http_requests_total) by (code)"#),
    (Both, r#"quantile(0.75, temperature_celsius)"#),
    (
        Both,
        r#"quantile by (job) (0.5, rate(http_requests_total[5m]))"#,
    ),
    (Both, r#"quantile by (job) (0.9, http_requests_total)"#),
    (Both, r#"quantile(-1, temperature_celsius)"#),
    (Both, r#"quantile(2, temperature_celsius)"#),
    (Both, r#"quantile(0.5, edge_values)"#),
    (Both, r#"count_values("value", round(temperature_celsius))"#),
    (
        Both,
        r#"count_values by (job) ("requests", http_requests_total{code="500"})"#,
    ),
    (Both, r#"count_values("job", app_info)"#),
    (Both, r#"count_values("v", edge_values)"#),
    (Both, r#"count_values("v", node_memory_free_bytes * 1e15)"#),
    (Both, r#"count_values("v", temperature_celsius / 1e9)"#),
    // Binary operators: arithmetic, comparisons, matching, set operators, scalars.
    (Both, r#"http_requests_total + 1"#),
    (Both, r#"2 * node_memory_free_bytes / 1024 / 1024"#),
    (Both, r#"temperature_celsius % 7"#),
    (Both, r#"temperature_celsius % 0"#),
    (Both, r#"temperature_celsius ^ 2"#),
    (Both, r#"-temperature_celsius"#),
    (Both, r#"-edge_values"#),
    (Both, r#"1 - temperature_celsius"#),
    (Both, r#"edge_values / 0"#),
    (Both, r#"temperature_celsius > 0"#),
    (Both, r#"0 < temperature_celsius"#),
    (Both, r#"(temperature_celsius > 0) + 0"#),
    (Both, r#"temperature_celsius > bool 0"#),
    (Both, r#"1 < bool temperature_celsius"#),
    (Both, r#"node_memory_free_bytes <= 5e9"#),
    (
        Both,
        r#"temperature_celsius != bool temperature_celsius offset 1m"#,
    ),
    (Both, r#"edge_values > 0"#),
    (Both, r#"edge_values == bool edge_values"#),
    (
        Both,
        r#"request_duration_seconds_sum / request_duration_seconds_count"#,
    ),
    (
        Both,
        r#"rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])"#,
    ),
    (
        Both,
        r#"rate(http_requests_total[5m]) * on(instance) group_left(version) app_info"#,
    ),
    (
        Both,
        r#"app_info * on(instance) group_right(version) rate(http_requests_total[5m])"#,
    ),
    (
        Both,
        r#"http_requests_total * on(instance) group_left(nonexistent) app_info"#,
    ),
    (Both, r#"app_info * on(version) group_left app_info"#),
    (
        Both,
        r#"http_requests_total / ignoring(code) group_left sum without (code) (http_requests_total)"#,
    ),
    (
        Both,
        r#"http_requests_total{code="500"} / ignoring(code) http_requests_total{code="200"}"#,
    ),
    (
        Both,
        r#"http_requests_total == on(job, instance, method, code) group_left http_requests_total offset 5m"#,
    ),
    (
        Both,
        r#"sum by (job) (rate(http_requests_total[5m])) / ignoring(job) group_left sum(rate(http_requests_total[5m]))"#,
    ),
    (
        Both,
        r#"node_memory_free_bytes > on(instance) group_left() (node_memory_free_bytes offset 10m)"#,
    ),
    (
        Both,
        r#"max by (instance) (node_memory_free_bytes) / on(instance) group_left() min by (instance) (node_memory_free_bytes offset 30m)"#,
    ),
    (
        Both,
        r#"sum by (instance) (rate(http_requests_total[5m])) > bool on(instance) sum by (instance) (rate(http_requests_total[5m] offset 5m))"#,
    ),
    (
        Both,
        r#"avg by (room) (temperature_celsius) - on(room) avg_over_time(temperature_celsius[30m])"#,
    ),
    (
        Both,
        r#"http_requests_total and on(instance) app_info{version="1.0"}"#,
    ),
    (
        Both,
        r#"sum by (instance) (http_requests_total) and on(instance) app_info"#,
    ),
    (
        Both,
        r#"sum by (job) (http_requests_total) and on(job) count by (job) (http_requests_total) > 4"#,
    ),
    (
        Both,
        r#"temperature_celsius > 10 or temperature_celsius < -10"#,
    ),
    (Both, r#"http_requests_total or app_info"#),
    (Both, r#"app_info or on(instance) http_requests_total"#),
    (
        Both,
        r#"http_requests_total unless http_requests_total{code="500"}"#,
    ),
    (
        Both,
        r#"http_requests_total{instance=~"a:.*"} unless on(instance, job) http_requests_total{method="POST"}"#,
    ),
    (
        Both,
        r#"temperature_celsius unless on(room) temperature_celsius > 0 or on(room) vector(0)"#,
    ),
    (Both, r#"up == 0 or on() vector(0)"#),
    (Both, r#"count(up == 1) / count(up)"#),
    (Both, r#"1 + http_requests_total{job="none"}"#),
    (Both, r#"scalar(sum(app_info)) * temperature_celsius"#),
    (
        Both,
        r#"sum(rate(http_requests_total[5m])) by (code) * on() group_left scalar(sum(app_info))"#,
    ),
    (Both, r#"time() - last_success_timestamp_seconds"#),
    (
        Both,
        r#"vector(time()) - on() group_right timestamp(temperature_celsius)"#,
    ),
    (Both, r#"vector(1) and on() absent(nonexistent_metric)"#),
    (Both, r#"sum by (room) (temperature_celsius atan2 10)"#),
    (
        Both,
        r#"sum by (room) (temperature_celsius atan2 on(room) temperature_celsius offset 1m)"#,
    ),
    (Both, r#"2 > bool 1"#),
    (Both, r#"time() > bool 0"#),
    (Both, r#"0 / 0"#),
    (Both, r#"-(-1)"#),
    (Both, r#"2 ^ 3 ^ 2"#),
    (Both, r#"-2 ^ 2"#),
    (Both, r#"1 + 2 * 3 % 4"#),
    (Both, r#"0x10 + .5 * 1e1"#),
    (Both, r#"1"#),
    (Both, r#"-1.5e3"#),
    (Both, r#"NaN"#),
    (Both, r#"-Inf"#),
    (InstantOnly, r#""hello""#),
    // Math functions.
    (Both, r#"abs(temperature_celsius)"#),
    (Both, r#"abs(edge_values)"#),
    (Both, r#"ceil(temperature_celsius)"#),
    (Both, r#"floor(temperature_celsius)"#),
    (Both, r#"round(temperature_celsius)"#),
    (Both, r#"round(temperature_celsius, 0.5)"#),
    (Both, r#"round(temperature_celsius, 0.1)"#),
    (Both, r#"round(vector(-2.5))"#),
    (Both, r#"round(vector(2.5))"#),
    (Both, r#"sqrt(temperature_celsius)"#),
    (Both, r#"sqrt(edge_values)"#),
    (Both, r#"exp(temperature_celsius / 10)"#),
    (Both, r#"exp(vector(1000))"#),
    (Both, r#"ln(node_memory_free_bytes)"#),
    (Both, r#"ln(vector(0))"#),
    (Both, r#"ln(vector(-1))"#),
    (Both, r#"log2(temperature_celsius)"#),
    (Both, r#"log10(abs(temperature_celsius))"#),
    (Both, r#"sgn(temperature_celsius)"#),
    (Both, r#"sgn(edge_values)"#),
    (Both, r#"clamp(temperature_celsius, -5, 15)"#),
    (Both, r#"clamp(temperature_celsius, 5, -5)"#),
    (Both, r#"clamp_min(temperature_celsius, 0)"#),
    (Both, r#"clamp_min(edge_values, 0)"#),
    (Both, r#"clamp_max(temperature_celsius, 0)"#),
    (Both, r#"clamp_max(edge_values, 1)"#),
    // Trigonometry.
    (Both, r#"sin(temperature_celsius)"#),
    (Both, r#"cos(temperature_celsius)"#),
    (Both, r#"tan(temperature_celsius)"#),
    (Both, r#"asin(clamp(temperature_celsius / 30, -1, 1))"#),
    (Both, r#"acos(clamp(temperature_celsius / 30, -1, 1))"#),
    (Both, r#"atan(temperature_celsius)"#),
    (Both, r#"sinh(temperature_celsius / 10)"#),
    (Both, r#"cosh(temperature_celsius / 10)"#),
    (Both, r#"tanh(temperature_celsius)"#),
    (Both, r#"asinh(temperature_celsius)"#),
    (Both, r#"acosh(abs(temperature_celsius))"#),
    (Both, r#"atanh(temperature_celsius / 30)"#),
    (Both, r#"deg(temperature_celsius)"#),
    (Both, r#"rad(temperature_celsius)"#),
    (Both, r#"pi()"#),
    // Date functions.
    (Both, r#"hour(last_success_timestamp_seconds)"#),
    (Both, r#"minute(last_success_timestamp_seconds)"#),
    (Both, r#"month(last_success_timestamp_seconds)"#),
    (Both, r#"year(last_success_timestamp_seconds)"#),
    (Both, r#"day_of_month(last_success_timestamp_seconds)"#),
    (Both, r#"day_of_week(last_success_timestamp_seconds)"#),
    (Both, r#"day_of_year(last_success_timestamp_seconds)"#),
    (Both, r#"days_in_month(last_success_timestamp_seconds)"#),
    (Both, r#"hour(timestamp(temperature_celsius))"#),
    (Both, r#"minute(vector(1700000000.999))"#),
    (Both, r#"day_of_week(vector(0))"#),
    (Both, r#"days_in_month(vector(951782400))"#),
    (Both, r#"minute()"#),
    (Both, r#"year()"#),
    // Labels.
    (
        Both,
        r#"label_replace(http_requests_total, "host", "${1}", "instance", "(.*):.*")"#,
    ),
    (
        Both,
        r#"label_replace(http_requests_total, "job", "", "job", ".*")"#,
    ),
    (
        Both,
        r#"label_replace(http_requests_total, "host", "$1", "instance", "nomatch(.*)")"#,
    ),
    (
        Both,
        r#"label_replace(app_info, "dst", "$1-$2", "version", "(\d+)\.(\d+)")"#,
    ),
    (
        Both,
        r#"label_replace(temperature_celsius, "__name__", "renamed", "", "")"#,
    ),
    (Both, r#"label_replace(up, "x", "a", "instance", "a:9100")"#),
    (
        Both,
        r#"label_join(http_requests_total, "id", "/", "job", "instance", "method")"#,
    ),
    (
        Both,
        r#"label_join(app_info, "version", "-", "instance", "version")"#,
    ),
    (
        Both,
        r#"label_join(app_info, "joined", ",", "missing", "version", "missing")"#,
    ),
    // Sorting.
    (Sorted, r#"sort(node_memory_free_bytes)"#),
    (Sorted, r#"sort_desc(rate(http_requests_total[5m]))"#),
    (Sorted, r#"sort(edge_values)"#),
    (Sorted, r#"sort_desc(edge_values)"#),
    (Both, r#"sort(vector(1))"#),
    // absent, scalar, vector, time, timestamp.
    (Both, r#"absent(nonexistent_metric{job="x"})"#),
    (Both, r#"absent(nonexistent_metric{job=~"x"})"#),
    (
        Both,
        r#"absent(nonexistent_metric{job="x", instance=~"y"})"#,
    ),
    (Both, r#"absent(sum(nonexistent_metric))"#),
    (Both, r#"absent(http_requests_total)"#),
    (Both, r#"absent(batch_jobs_processed_total)"#),
    (Both, r#"scalar(app_info{instance="a:80"})"#),
    (Both, r#"scalar(app_info)"#),
    (Both, r#"scalar(http_requests_total)"#),
    (Both, r#"scalar(sum(rate(http_requests_total[5m])))"#),
    (Both, r#"vector(1)"#),
    (Both, r#"time()"#),
    (
        Both,
        r#"time() - scalar(max(timestamp(batch_jobs_processed_total)))"#,
    ),
    (Both, r#"timestamp(temperature_celsius)"#),
    (Both, r#"timestamp(batch_jobs_processed_total)"#),
    (Both, r#"timestamp(http_requests_total @ {AT})"#),
    (Both, r#"timestamp(timestamp(temperature_celsius))"#),
    (Both, r#"timestamp(vector(1))"#),
    (Both, r#"timestamp(sum(temperature_celsius))"#),
    // Classic histograms.
    (
        Both,
        r#"histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))"#,
    ),
    (
        Both,
        r#"histogram_quantile(0.5, sum by (job, le) (rate(request_duration_seconds_bucket[5m])))"#,
    ),
    (
        Both,
        r#"histogram_quantile(0.99, rate(request_duration_seconds_bucket[10m]))"#,
    ),
    (
        Both,
        r#"histogram_quantile(0, rate(request_duration_seconds_bucket[10m]))"#,
    ),
    (
        Both,
        r#"histogram_quantile(1.5, rate(request_duration_seconds_bucket[10m]))"#,
    ),
    (
        Both,
        r#"histogram_quantile(0.9, request_duration_seconds_bucket)"#,
    ),
    (
        Both,
        r#"histogram_quantile(0.5, sum by (le) (rate(request_duration_seconds_bucket{le!="+Inf"}[5m])))"#,
    ),
    (Both, r#"histogram_quantile(0.5, up)"#),
    // Subqueries (steps are aligned to absolute multiples of the step in both).
    (
        Both,
        r#"max_over_time(rate(http_requests_total[1m])[10m:1m])"#,
    ),
    (Both, r#"avg_over_time(temperature_celsius[5m:30s])"#),
    (
        Both,
        r#"min_over_time(sum(rate(http_requests_total[2m]))[15m:])"#,
    ),
    (
        Both,
        r#"max_over_time(deriv(node_memory_free_bytes[5m])[20m:2m] offset 3m)"#,
    ),
    (Both, r#"max_over_time(temperature_celsius[10m:1m] @ {AT})"#),
    (
        Both,
        r#"max_over_time(avg_over_time(temperature_celsius[150s:40s])[10m:1m])"#,
    ),
    (Both, r#"rate(http_requests_total[5m:1m])"#),
    (Both, r#"sum_over_time(http_requests_total[5m:] offset 1m)"#),
    (Both, r#"absent_over_time(nonexistent_metric[5m:1m])"#),
    (
        Both,
        r#"min_over_time(timestamp(temperature_celsius)[5m:1m])"#,
    ),
    (
        Both,
        r#"predict_linear(sum(node_memory_free_bytes)[10m:1m], 600)"#,
    ),
    (
        InstantOnly,
        r#"rate(http_requests_total{job="web"}[5m])[10m:1m]"#,
    ),
    (
        InstantOnly,
        r#"rate(http_requests_total{code="500"}[5m])[5m:]"#,
    ),
    (InstantOnly, r#"vector(1)[5m:1m]"#),
    // Errors: parse errors (bad_data) and evaluation errors (execution).
    (Fails, r#"http_requests_total{"#),
    (Fails, r#"sum(rate(http_requests_total[5m]) by (job)"#),
    (Fails, r#"sum(http_requests_total) by"#),
    (Fails, r#"topk(1, temperature_celsius) by"#),
    (Fails, r#"nonexistent_function(up)"#),
    (Fails, r#"rate(temperature_celsius)"#),
    (Fails, r#"quantile_over_time(0.5, temperature_celsius)"#),
    (Fails, r#"rate(http_requests_total[5m]) [1m]"#),
    (Fails, r#"http_requests_total[5m] + 1"#),
    (Fails, r#"{job=~".*"}"#),
    (Fails, r#"vector(1) @ 100"#),
    (Fails, r#"1 > 2"#),
    (Fails, r#"sum(1)"#),
    (Fails, r#"up and bool up"#),
    (
        Fails,
        r#"http_requests_total * on(job) http_requests_total"#,
    ),
    (
        Fails,
        r#"http_requests_total{code="200"} + on(code) group_left http_requests_total"#,
    ),
    (
        Fails,
        r#"{__name__=~"request_duration_seconds_(sum|count)"} * 2"#,
    ),
    (
        Fails,
        r#"rate({__name__=~"request_duration_seconds_(sum|count)"}[5m])"#,
    ),
    (
        Fails,
        r#"label_replace(http_requests_total, "instance", "x", "instance", ".*")"#,
    ),
    (
        Fails,
        r#"label_replace(http_requests_total, "", "x", "job", ".*")"#,
    ),
    (
        Fails,
        r#"label_replace(http_requests_total, "dst", "x", "job", "(")"#,
    ),
    (Fails, r#"label_join(http_requests_total, "", "-", "job")"#),
    // Native histograms (sent as integer histograms, as Prometheus agents send them).
    // Queries end in floats: quantile and fraction estimates interpolate differently
    // since 3.0, so counts and sums are compared. 2.42 had no histogram arithmetic
    // (`*`, `/`, `-`), `avg`, `last_over_time` or `resets` over histograms: those are
    // covered by the upstream test files instead.
    (Both, r#"histogram_count(rpc_duration_seconds)"#),
    (Both, r#"histogram_sum(rpc_duration_seconds{instance="1"})"#),
    (Both, r#"histogram_count(rate(rpc_duration_seconds[5m]))"#),
    (Both, r#"histogram_sum(increase(rpc_duration_seconds[2m]))"#),
    (
        Both,
        r#"histogram_count(sum by (job) (rate(rpc_duration_seconds[5m])))"#,
    ),
    (Both, r#"count_over_time(rpc_duration_seconds[3m])"#),
    (Both, r#"timestamp(rpc_duration_seconds)"#),
    (Both, r#"count(rpc_duration_seconds) by (job)"#),
];

/// Native histogram series: three counters of request durations (schema 1, a zero bucket,
/// positive buckets whose span grows as larger durations appear), one with a reset, sent
/// as remote write 1.0 integer histograms on the same grid as the floats.
fn histogram_dataset(first: i64) -> Vec<proto_v1::TimeSeries> {
    let mut rng = Lcg(7);
    (0..3)
        .map(|instance| {
            let mut buckets = [0u64; 6];
            let mut zero = 0u64;
            let mut sum = 0.0f64;
            let histograms = (0..STEPS)
                .map(|step| {
                    if instance == 2 && step == 100 {
                        buckets.iter_mut().for_each(|b| *b = 0);
                        zero = 0;
                        sum = 0.0;
                    }
                    zero += (rng.uniform() * 3.0) as u64;
                    // Bucket 4 and 5 only fill later, so the span changes over time.
                    let used = if step < 60 { 4 } else { 6 };
                    for (index, bucket) in buckets.iter_mut().enumerate().take(used) {
                        let added = (rng.uniform() * (8 - index) as f64) as u64;
                        *bucket += added;
                        sum += added as f64 * 0.3 * (index + 1) as f64;
                    }
                    let first_used = buckets.iter().position(|b| *b > 0).unwrap_or(0);
                    let last_used = buckets.iter().rposition(|b| *b > 0).unwrap_or(0);
                    let kept = &buckets[first_used..=last_used.max(first_used)];
                    let mut previous = 0i64;
                    let deltas: Vec<i64> = kept
                        .iter()
                        .map(|count| {
                            let delta = *count as i64 - previous;
                            previous = *count as i64;
                            delta
                        })
                        .collect();
                    proto_v1::Histogram {
                        count: Some(proto_v1::histogram::Count::CountInt(
                            zero + buckets.iter().sum::<u64>(),
                        )),
                        sum,
                        schema: 1,
                        zero_threshold: 0.001,
                        zero_count: Some(proto_v1::histogram::ZeroCount::ZeroCountInt(zero)),
                        positive_spans: vec![proto_v1::BucketSpan {
                            offset: first_used as i32 - 2,
                            length: kept.len() as u32,
                        }],
                        positive_deltas: deltas,
                        timestamp: first + step * STEP_MS,
                        ..proto_v1::Histogram::default()
                    }
                })
                .collect();
            let label = |name: &str, value: &str| proto_v1::Label {
                name: name.to_string(),
                value: value.to_string(),
            };
            proto_v1::TimeSeries {
                labels: vec![
                    label("__name__", "rpc_duration_seconds"),
                    label("instance", &instance.to_string()),
                    label("job", if instance == 0 { "db" } else { "api" }),
                ],
                histograms,
                ..proto_v1::TimeSeries::default()
            }
        })
        .collect()
}

/// A tiny linear congruential generator: the dataset is the same on every run.
struct Lcg(u64);

impl Lcg {
    /// Uniform in `[0, 1)`.
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn series(labels: &[(&str, &str)], samples: Vec<(i64, f64)>) -> SeriesToEncode {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    labels.sort();
    (labels, samples)
}

/// The dataset, samples in time order, the first at `first` (ms).
fn dataset(first: i64) -> Vec<SeriesToEncode> {
    let mut rng = Lcg(42);
    let at = |step: i64| first + step * STEP_MS;
    let mut out = Vec::new();

    // Counters. They start high, as if running for a while (see the module comment on
    // extrapolation); the 500s grow slowly with many flat stretches; one counter resets.
    let counters = [
        ("api", "a:80", "GET", "200"),
        ("api", "a:80", "POST", "200"),
        ("api", "b:80", "GET", "200"),
        ("api", "b:80", "POST", "200"),
        ("api", "c:80", "GET", "200"),
        ("api", "c:80", "POST", "200"),
        ("web", "a:80", "GET", "200"),
        ("web", "a:80", "GET", "500"),
        ("web", "b:80", "GET", "200"),
        ("web", "b:80", "GET", "500"),
        ("api", "a:80", "GET", "500"),
        ("api", "b:80", "POST", "500"),
    ];
    for (index, (job, instance, method, code)) in counters.into_iter().enumerate() {
        let per_second = if code == "500" {
            0.05
        } else {
            1.0 + 0.7 * index as f64
        };
        let mut value = 5000.0 + 100.0 * index as f64 + (rng.uniform() * 50.0).floor();
        let mut samples = vec![(at(0), value)];
        for step in 1..STEPS {
            let increment = (per_second * 15.0 * (0.5 + rng.uniform())).floor();
            if index == 3 && step == 100 {
                value = increment % 7.0;
            } else {
                value += increment;
            }
            samples.push((at(step), value));
        }
        out.push(series(
            &[
                ("__name__", "http_requests_total"),
                ("code", code),
                ("instance", instance),
                ("job", job),
                ("method", method),
            ],
            samples,
        ));
    }

    // Gauges: a random walk in whole bytes, and temperatures, one room below zero and one
    // crossing zero.
    for (index, instance) in ["a:9100", "b:9100", "c:9100"].into_iter().enumerate() {
        let mut value = 4e9 + 1e9 * index as f64;
        let mut samples = Vec::new();
        for step in 0..STEPS {
            if step > 0 {
                value += ((rng.uniform() - 0.5) * 1e8).round();
            }
            samples.push((at(step), value));
        }
        out.push(series(
            &[
                ("__name__", "node_memory_free_bytes"),
                ("instance", instance),
                ("job", "node"),
            ],
            samples,
        ));
    }
    let rooms = [
        ("kitchen", 21.0, 3.0, 20.0, 1.0),
        ("garage", 2.0, 6.0, 15.0, 2.0),
        ("freezer", -18.0, 0.0, 1.0, 1.0),
    ];
    for (room, centre, swing, period, noise) in rooms {
        let samples = (0..STEPS)
            .map(|step| {
                let wave = swing * (step as f64 / period).sin();
                (at(step), centre + wave + (rng.uniform() - 0.5) * noise)
            })
            .collect();
        out.push(series(
            &[("__name__", "temperature_celsius"), ("room", room)],
            samples,
        ));
    }

    // A classic histogram per job: cumulative buckets, _sum and _count, only increasing.
    let les = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"];
    let histograms = [
        ("api", 10.0, [0.2, 0.45, 0.7, 0.85, 0.95, 0.99, 1.0], 0.2),
        ("web", 5.0, [0.05, 0.15, 0.4, 0.7, 0.9, 0.98, 1.0], 0.45),
    ];
    for (job, base, fractions, mean) in histograms {
        let mut buckets: Vec<f64> = fractions
            .iter()
            .map(|&f| (5000.0_f64 * f).floor())
            .collect();
        let mut bucket_samples: Vec<Vec<(i64, f64)>> = vec![Vec::new(); les.len()];
        let mut count = 5000.0;
        let mut sum = 5000.0 * mean;
        let mut sum_samples = Vec::new();
        let mut count_samples = Vec::new();
        for step in 0..STEPS {
            let observations = (rng.uniform() * 20.0).floor() + base;
            for ((bucket, fraction), samples) in buckets
                .iter_mut()
                .zip(fractions)
                .zip(bucket_samples.iter_mut())
            {
                *bucket += (observations * fraction).floor();
                samples.push((at(step), *bucket));
            }
            count += observations;
            sum += observations * mean * (0.8 + 0.4 * rng.uniform());
            sum_samples.push((at(step), sum));
            count_samples.push((at(step), count));
        }
        for (le, samples) in les.into_iter().zip(bucket_samples) {
            out.push(series(
                &[
                    ("__name__", "request_duration_seconds_bucket"),
                    ("job", job),
                    ("le", le),
                ],
                samples,
            ));
        }
        out.push(series(
            &[("__name__", "request_duration_seconds_sum"), ("job", job)],
            sum_samples,
        ));
        out.push(series(
            &[("__name__", "request_duration_seconds_count"), ("job", job)],
            count_samples,
        ));
    }

    // A counter that stops a little after the middle (no staleness marker: remote write
    // just stops sending), and a gauge that starts at a third.
    let mut value = 3000.0;
    let mut samples = Vec::new();
    for step in 0..=90 {
        value += (rng.uniform() * 4.0).floor();
        samples.push((at(step), value));
    }
    out.push(series(
        &[("__name__", "batch_jobs_processed_total"), ("job", "batch")],
        samples,
    ));
    let samples = (60..STEPS)
        .map(|step| (at(step), (rng.uniform() * 10.0).floor()))
        .collect();
    out.push(series(
        &[("__name__", "queue_length"), ("queue", "late")],
        samples,
    ));

    // Constant series.
    let constant =
        |value: f64| -> Vec<(i64, f64)> { (0..STEPS).map(|step| (at(step), value)).collect() };
    for (instance, version) in [("a:80", "1.0"), ("b:80", "1.1"), ("c:80", "2.0")] {
        out.push(series(
            &[
                ("__name__", "app_info"),
                ("instance", instance),
                ("version", version),
            ],
            constant(1.0),
        ));
    }
    for (instance, value) in [("a:9100", 1.0), ("b:9100", 1.0), ("c:9100", 0.0)] {
        out.push(series(
            &[("__name__", "up"), ("instance", instance), ("job", "node")],
            constant(value),
        ));
    }
    // Unix times for the date functions: a leap day, a year's last second, 2000's leap day,
    // and one with a fraction.
    let times = [
        ("a", 1_709_164_800.0),
        ("b", 1_735_689_599.0),
        ("c", 951_782_400.0),
        ("d", 1_700_000_000.75),
    ];
    for (job, value) in times {
        out.push(series(
            &[("__name__", "last_success_timestamp_seconds"), ("job", job)],
            constant(value),
        ));
    }
    // Special values. f64::NAN is a plain NaN, not Prometheus's staleness marker.
    for kind in ["nan", "inf", "neginf", "zero", "mixed"] {
        let samples = (0..STEPS)
            .map(|step| {
                let value = match kind {
                    "nan" => f64::NAN,
                    "inf" => f64::INFINITY,
                    "neginf" => f64::NEG_INFINITY,
                    "zero" => 0.0,
                    _ if step % 4 == 0 => f64::NAN,
                    _ => step as f64,
                };
                (at(step), value)
            })
            .collect();
        out.push(series(
            &[("__name__", "edge_values"), ("kind", kind)],
            samples,
        ));
    }
    out
}

/// Unix milliseconds as the API takes them: `1435781451.500`.
fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// One HTTP request, sent alike to both servers.
struct Request {
    /// What the report calls it.
    what: String,
    path: &'static str,
    params: Vec<(&'static str, String)>,
    post: bool,
    ordered: bool,
}

impl Request {
    fn instant(query: &str, time: i64, ordered: bool) -> Request {
        Request {
            what: format!("instant {query}  @ time={}", seconds(time)),
            path: "/api/v1/query",
            params: vec![("query", query.to_string()), ("time", seconds(time))],
            post: false,
            ordered,
        }
    }

    fn range(query: &str, start: i64, end: i64, step: &str) -> Request {
        Request {
            what: format!(
                "range {query}  @ start={} end={} step={step}",
                seconds(start),
                seconds(end)
            ),
            path: "/api/v1/query_range",
            params: vec![
                ("query", query.to_string()),
                ("start", seconds(start)),
                ("end", seconds(end)),
                ("step", step.to_string()),
            ],
            post: false,
            ordered: false,
        }
    }

    /// A request with hand-made parameters (for parameter errors and encodings).
    fn raw(path: &'static str, params: &[(&'static str, String)], post: bool) -> Request {
        let shown: Vec<String> = params
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        Request {
            what: format!(
                "{} {path}?{}",
                if post { "POST" } else { "GET" },
                shown.join("&")
            ),
            path,
            params: params.to_vec(),
            post,
            ordered: false,
        }
    }
}

/// What a server answered.
struct Answer {
    status: u16,
    body: Value,
    text: String,
}

impl Answer {
    fn is_error(&self) -> bool {
        self.body["status"] == "error"
    }

    /// Status and body, cut to a readable length.
    fn show(&self) -> String {
        const LIMIT: usize = 1500;
        match self.text.char_indices().nth(LIMIT) {
            Some((cut, _)) => format!(
                "{} {}… ({} bytes)",
                self.status,
                &self.text[..cut],
                self.text.len()
            ),
            None => format!("{} {}", self.status, self.text),
        }
    }
}

fn ask(client: &reqwest::blocking::Client, base: &str, request: &Request) -> Answer {
    let url = format!("{base}{}", request.path);
    let builder = if request.post {
        client.post(url).form(&request.params)
    } else {
        client.get(url).query(&request.params)
    };
    match builder.send() {
        Ok(response) => {
            let status = response.status().as_u16();
            let text = response.text().unwrap_or_default();
            let body = serde_json::from_str(&text).unwrap_or(Value::Null);
            Answer { status, body, text }
        }
        Err(err) => Answer {
            status: 0,
            body: Value::Null,
            text: format!("request failed: {err}"),
        },
    }
}

/// Equal to a relative 1e-9; NaN equals NaN; infinities only themselves.
fn same_value(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a.is_infinite() && b.is_infinite() && a.is_sign_positive() == b.is_sign_positive();
    }
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn parse_value(value: &Value) -> Result<f64, String> {
    let text = value
        .as_str()
        .ok_or_else(|| format!("sample value {value} is not a string"))?;
    match text {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => text
            .parse::<f64>()
            .map_err(|_| format!("sample value {text:?} is not a number")),
    }
}

/// `[<unix seconds>, "<value>"]` as (ms, value).
fn parse_point(point: &Value) -> Result<(i64, f64), String> {
    let unix = point[0]
        .as_f64()
        .ok_or_else(|| format!("point {point} has no numeric time"))?;
    Ok(((unix * 1000.0).round() as i64, parse_value(&point[1])?))
}

struct Series {
    labels: BTreeMap<String, String>,
    points: Vec<(i64, f64)>,
}

fn parse_series(result: &Value, matrix: bool) -> Result<Vec<Series>, String> {
    let items = result
        .as_array()
        .ok_or_else(|| format!("result {result} is not an array"))?;
    items
        .iter()
        .map(|item| -> Result<Series, String> {
            let labels: BTreeMap<String, String> = item["metric"]
                .as_object()
                .ok_or_else(|| format!("series {item} has no metric"))?
                .iter()
                .map(|(name, value)| (name.clone(), value.as_str().unwrap_or("").to_string()))
                .collect();
            let points = if matrix {
                item["values"]
                    .as_array()
                    .ok_or_else(|| format!("series {item} has no values"))?
                    .iter()
                    .map(parse_point)
                    .collect::<Result<Vec<_>, _>>()?
            } else {
                vec![parse_point(&item["value"])?]
            };
            Ok(Series { labels, points })
        })
        .collect()
}

fn show_labels(labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}={value:?}"))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

fn by_labels(a: &Series, b: &Series) -> Ordering {
    a.labels.cmp(&b.labels)
}

/// Puts the series in a comparable order: by labels, or, for sorted results, keeps the order
/// and sorts only runs of equal values by labels.
fn arrange(series: &mut [Series], ordered: bool) {
    if !ordered {
        series.sort_by(by_labels);
        return;
    }
    let mut start = 0;
    while start < series.len() {
        let value = series[start].points[0].1;
        let mut end = start + 1;
        while end < series.len() && same_value(series[end].points[0].1, value) {
            end += 1;
        }
        series[start..end].sort_by(by_labels);
        start = end;
    }
}

fn compare_series(
    prometheus: &Value,
    sightline: &Value,
    matrix: bool,
    ordered: bool,
) -> Result<(), String> {
    let mut expected = parse_series(prometheus, matrix)?;
    let mut got = parse_series(sightline, matrix).map_err(|err| format!("sightline: {err}"))?;
    if expected.len() != got.len() {
        return Err(format!(
            "{} series from Prometheus, {} from Sightline",
            expected.len(),
            got.len()
        ));
    }
    if ordered {
        for (index, (a, b)) in expected.iter().zip(&got).enumerate() {
            if !same_value(a.points[0].1, b.points[0].1) {
                return Err(format!(
                    "order differs at position {index}: Prometheus has {} {}, Sightline has {} {}",
                    show_labels(&a.labels),
                    a.points[0].1,
                    show_labels(&b.labels),
                    b.points[0].1
                ));
            }
        }
    }
    arrange(&mut expected, ordered);
    arrange(&mut got, ordered);
    for (a, b) in expected.iter().zip(&got) {
        if a.labels != b.labels {
            return Err(format!(
                "series {} from Prometheus, {} from Sightline",
                show_labels(&a.labels),
                show_labels(&b.labels)
            ));
        }
        if a.points.len() != b.points.len() {
            return Err(format!(
                "{}: {} points from Prometheus, {} from Sightline",
                show_labels(&a.labels),
                a.points.len(),
                b.points.len()
            ));
        }
        for (&(ta, va), &(tb, vb)) in a.points.iter().zip(&b.points) {
            if ta != tb || !same_value(va, vb) {
                return Err(format!(
                    "{}: Prometheus has [{}, {va}], Sightline has [{}, {vb}]",
                    show_labels(&a.labels),
                    seconds(ta),
                    seconds(tb)
                ));
            }
        }
    }
    Ok(())
}

/// `Ok` when Sightline answered like Prometheus, else what differs.
fn compare(prometheus: &Answer, sightline: &Answer, ordered: bool) -> Result<(), String> {
    if prometheus.status != sightline.status {
        return Err(format!(
            "HTTP status {} from Prometheus, {} from Sightline",
            prometheus.status, sightline.status
        ));
    }
    let (p, s) = (&prometheus.body, &sightline.body);
    if p.is_null() || s.is_null() {
        return Err("an answer is not JSON".to_string());
    }
    if p["status"] != s["status"] {
        return Err(format!("status {} vs {}", p["status"], s["status"]));
    }
    if prometheus.is_error() {
        if p["errorType"] != s["errorType"] {
            return Err(format!(
                "errorType {} from Prometheus, {} from Sightline",
                p["errorType"], s["errorType"]
            ));
        }
        return Ok(());
    }
    let result_type = p["data"]["resultType"].as_str().unwrap_or_default();
    if s["data"]["resultType"] != p["data"]["resultType"] {
        return Err(format!(
            "resultType {} from Prometheus, {} from Sightline",
            p["data"]["resultType"], s["data"]["resultType"]
        ));
    }
    let (expected, got) = (&p["data"]["result"], &s["data"]["result"]);
    match result_type {
        "scalar" => {
            let a = parse_point(expected)?;
            let b = parse_point(got).map_err(|err| format!("sightline: {err}"))?;
            if a.0 != b.0 || !same_value(a.1, b.1) {
                return Err(format!(
                    "scalar [{}, {}] from Prometheus, [{}, {}] from Sightline",
                    seconds(a.0),
                    a.1,
                    seconds(b.0),
                    b.1
                ));
            }
            Ok(())
        }
        "string" => {
            let millis = |time: &Value| time.as_f64().map(|t| (t * 1000.0).round() as i64);
            let same_time = millis(&expected[0]) == millis(&got[0]);
            if !same_time || expected[1] != got[1] {
                return Err(format!(
                    "string {expected} from Prometheus, {got} from Sightline"
                ));
            }
            Ok(())
        }
        "vector" => compare_series(expected, got, false, ordered),
        "matrix" => compare_series(expected, got, true, false),
        other => Err(format!("unexpected resultType {other:?}")),
    }
}

/// Requests whose parameters matter more than the expression: bad ones must be refused
/// alike, good ones (RFC 3339 times, duration steps, fractional steps, POST forms) answered
/// alike.
fn parameter_requests(origin: i64) -> Vec<Request> {
    let time = |offset: i64| seconds(origin + offset);
    let (start, end) = (time(RANGES[0].0), time(RANGES[0].1));
    let q = |text: &str| ("query", text.to_string());
    let range = "/api/v1/query_range";
    let instant = "/api/v1/query";
    vec![
        Request::raw(
            range,
            &[
                q(r#""hello""#),
                ("start", start.clone()),
                ("end", end.clone()),
                ("step", "60".into()),
            ],
            false,
        ),
        Request::raw(
            range,
            &[
                q("up"),
                ("start", start.clone()),
                ("end", end.clone()),
                ("step", "0".into()),
            ],
            false,
        ),
        Request::raw(
            range,
            &[
                q("up"),
                ("start", start.clone()),
                ("end", end.clone()),
                ("step", "-60".into()),
            ],
            false,
        ),
        Request::raw(
            range,
            &[
                q("up"),
                ("start", start.clone()),
                ("end", end.clone()),
                ("step", "abc".into()),
            ],
            false,
        ),
        Request::raw(
            range,
            &[q("up"), ("start", start.clone()), ("end", end.clone())],
            false,
        ),
        // 52 minutes at 0.2 s is over 11,000 points.
        Request::raw(
            range,
            &[
                q("up"),
                ("start", start.clone()),
                ("end", end.clone()),
                ("step", "0.2".into()),
            ],
            false,
        ),
        Request::raw(
            range,
            &[
                q("up"),
                ("start", end.clone()),
                ("end", start.clone()),
                ("step", "60".into()),
            ],
            false,
        ),
        Request::raw(
            range,
            &[
                q("up"),
                ("start", "abc".into()),
                ("end", end.clone()),
                ("step", "60".into()),
            ],
            false,
        ),
        Request::raw(
            range,
            &[q("up"), ("end", end.clone()), ("step", "60".into())],
            false,
        ),
        Request::raw(instant, &[q("up"), ("time", "abc".into())], false),
        Request::raw(instant, &[q(""), ("time", time(INSTANTS[0]))], false),
        Request::raw(
            instant,
            &[
                q("up"),
                ("time", time(INSTANTS[0])),
                ("timeout", "abc".into()),
            ],
            false,
        ),
        Request::raw(
            instant,
            &[
                q("sum by (job) (rate(http_requests_total[5m]))"),
                ("time", rfc3339_millis(origin + INSTANTS[0])),
            ],
            false,
        ),
        Request::raw(
            range,
            &[
                q("sum(temperature_celsius)"),
                ("start", rfc3339_millis(origin + RANGES[0].0)),
                ("end", rfc3339_millis(origin + RANGES[0].1)),
                ("step", "5m".into()),
            ],
            false,
        ),
        Request::raw(
            range,
            &[
                q("avg by (room) (temperature_celsius)"),
                ("start", time(RANGES[1].0)),
                ("end", time(RANGES[1].1)),
                ("step", "22.5".into()),
            ],
            false,
        ),
        Request::raw(
            instant,
            &[
                q("topk(2, rate(http_requests_total[5m]))"),
                ("time", time(INSTANTS[1])),
            ],
            true,
        ),
        Request::raw(
            range,
            &[
                q("sum by (code) (increase(http_requests_total[10m]))"),
                ("start", time(RANGES[1].0)),
                ("end", time(RANGES[1].1)),
                ("step", "1m30s".into()),
            ],
            true,
        ),
        Request::raw(
            instant,
            &[q("http_requests_total{"), ("time", time(INSTANTS[0]))],
            true,
        ),
    ]
}

struct Mismatch {
    what: String,
    difference: String,
    prometheus: String,
    sightline: String,
}

fn remote_write(client: &reqwest::blocking::Client, url: &str, body: &[u8]) -> (u16, String) {
    let response = client
        .post(url)
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body.to_vec())
        .send()
        .unwrap_or_else(|err| panic!("remote write to {url}: {err}"));
    let status = response.status().as_u16();
    (status, response.text().unwrap_or_default())
}

fn wait_prometheus_ready(client: &reqwest::blocking::Client, prometheus: &Peer) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = client.get(prometheus.url("/-/ready")).send() {
            if response.status() == 200 {
                return;
            }
        }
        assert!(Instant::now() < deadline, "prometheus not ready in time");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn promql_answers_match_a_real_prometheus() {
    require_binary(PROMETHEUS, "prometheus");
    let client = TestServer::client();
    let sightline = TestServer::start();
    sightline.wait_ready();

    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, "scrape_configs: []\n").unwrap();
    let prometheus_port = free_port();
    let prometheus = Peer::spawn(
        "prometheus",
        PROMETHEUS,
        &[
            format!("--config.file={}", config_path.display()),
            format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            format!("--web.listen-address=127.0.0.1:{prometheus_port}"),
            "--web.enable-remote-write-receiver".to_string(),
            "--enable-feature=native-histograms".to_string(),
        ],
        prometheus_port,
    );
    wait_prometheus_ready(&client, &prometheus);

    // Recent data: Prometheus's head refuses samples far behind what it already holds.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let origin = now / MINUTE * MINUTE - 50 * MINUTE;
    let first = origin + GRID_OFFSET_MS;
    let data = dataset(first);
    for chunk in 0..STEPS / CHUNK_STEPS {
        let from = first + chunk * CHUNK_STEPS * STEP_MS;
        let to = from + CHUNK_STEPS * STEP_MS;
        let slice: Vec<SeriesToEncode> = data
            .iter()
            .map(|(labels, samples)| {
                let kept = samples
                    .iter()
                    .copied()
                    .filter(|&(t, _)| (from..to).contains(&t))
                    .collect::<Vec<_>>();
                (labels.clone(), kept)
            })
            .filter(|(_, samples)| !samples.is_empty())
            .collect();
        let body = encode_write_request_v1(&slice);
        for (name, url) in [
            ("prometheus", prometheus.url("/api/v1/write")),
            ("sightline", sightline.url("/api/v1/write")),
        ] {
            let (status, text) = remote_write(&client, &url, &body);
            assert!(
                (200..300).contains(&status),
                "{name} refused remote-write chunk {chunk}: {status} {text}"
            );
        }
    }

    let histograms = proto_v1::WriteRequest {
        timeseries: histogram_dataset(first),
        ..proto_v1::WriteRequest::default()
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&histograms.encode_to_vec())
        .unwrap();
    for (name, url) in [
        ("prometheus", prometheus.url("/api/v1/write")),
        ("sightline", sightline.url("/api/v1/write")),
    ] {
        let (status, text) = remote_write(&client, &url, &body);
        assert!(
            (200..300).contains(&status),
            "{name} refused the native histograms: {status} {text}"
        );
    }

    // The setup is sound before the comparisons start: Prometheus holds the data.
    let probe = ask(
        &client,
        &prometheus.url(""),
        &Request::instant("count(http_requests_total)", origin + INSTANTS[0], false),
    );
    assert_eq!(
        probe.body["data"]["result"][0]["value"][1],
        "12",
        "prometheus does not hold the dataset: {}",
        probe.show()
    );

    let at = seconds(origin + AT);
    let mut requests: Vec<(usize, Request)> = Vec::new();
    for (index, &(mode, query)) in QUERIES.iter().enumerate() {
        let query = query.replace("{AT}", &at);
        for offset in INSTANTS {
            requests.push((
                index,
                Request::instant(&query, origin + offset, mode == Sorted),
            ));
        }
        if mode == Both || mode == Fails {
            for (start, end, step) in RANGES {
                requests.push((
                    index,
                    Request::range(&query, origin + start, origin + end, step),
                ));
            }
        }
    }
    let extra = parameter_requests(origin);
    let cases = QUERIES.len() + extra.len();
    requests.extend(
        extra
            .into_iter()
            .enumerate()
            .map(|(index, request)| (QUERIES.len() + index, request)),
    );

    let mut mismatches = Vec::new();
    let mut refused = vec![false; QUERIES.len()];
    let mut differing = vec![false; cases];
    for (index, request) in &requests {
        let expected = ask(&client, &prometheus.url(""), request);
        let got = ask(&client, &sightline.url(""), request);
        if expected.is_error() && *index < QUERIES.len() {
            refused[*index] = true;
        }
        if let Err(difference) = compare(&expected, &got, request.ordered) {
            differing[*index] = true;
            mismatches.push(Mismatch {
                what: request.what.clone(),
                difference,
                prometheus: expected.show(),
                sightline: got.show(),
            });
        }
    }
    for (index, &(mode, query)) in QUERIES.iter().enumerate() {
        if mode == Fails && !refused[index] {
            differing[index] = true;
            mismatches.push(Mismatch {
                what: format!("query list: {query}"),
                difference: "listed as failing, but Prometheus answered every evaluation"
                    .to_string(),
                prometheus: String::new(),
                sightline: String::new(),
            });
        }
    }

    let differing_cases = differing.iter().filter(|&&differs| differs).count();
    let summary = format!(
        "differential: {cases} queries, {differing_cases} mismatches ({} requests, {} differing)",
        requests.len(),
        mismatches.len()
    );
    println!("{summary}");
    if !mismatches.is_empty() {
        let mut report = String::new();
        for mismatch in &mismatches {
            report.push_str(&format!(
                "\n--- {}\n    difference: {}\n    prometheus: {}\n    sightline:  {}\n",
                mismatch.what, mismatch.difference, mismatch.prometheus, mismatch.sightline
            ));
        }
        panic!("{summary}\n{report}\n{summary}");
    }
}
