//! `/loki/api/v1/query_range`, `/loki/api/v1/query` and `/loki/api/v1/format_query`:
//! LogQL in, Loki's JSON out (`streams` for log queries, `matrix`/`vector`/`scalar` for
//! metric queries, with a `stats` object).

use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::labels::{time_param, time_range_with_lookback};
use super::{now_ns, store, tenant, LogsState};
use crate::api_error::{ApiError, ErrorKind};
use crate::json_text;
use crate::logs::logql::{parse_expr, Expr};
use crate::logs::query::{
    run_log_query, run_metric_query, Direction, LogQueryError, MetricSeries, StreamResult,
};
use crate::metrics::api::params::{collect_params, param};
use crate::metrics::promql::format_float;

const DEFAULT_LIMIT: usize = 100;
const SECOND_NS: i64 = 1_000_000_000;

pub(super) fn query_error(err: LogQueryError) -> ApiError {
    match err {
        LogQueryError::BadQuery(message) => ApiError::bad_data(message),
        LogQueryError::Execution(message) => ApiError::new(ErrorKind::Execution, message),
    }
}

pub(super) fn parse_query(params: &[(String, String)]) -> Result<Expr, ApiError> {
    let text = param(params, "query")
        .filter(|text| !text.is_empty())
        .ok_or_else(|| ApiError::bad_data("query must not be empty"))?;
    parse_expr(text).map_err(|err| ApiError::bad_data(err.to_string()))
}

pub(super) fn limit(params: &[(String, String)]) -> Result<usize, ApiError> {
    match param(params, "limit") {
        None | Some("") => Ok(DEFAULT_LIMIT),
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| ApiError::bad_data(format!("invalid limit {text:?}"))),
    }
}

fn direction(params: &[(String, String)]) -> Result<Direction, ApiError> {
    match param(params, "direction")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("") | Some("backward") => Ok(Direction::Backward),
        Some("forward") => Ok(Direction::Forward),
        Some(other) => Err(ApiError::bad_data(format!("invalid direction {other:?}"))),
    }
}

/// `step` as seconds (with decimals) or a duration; Loki's default gives about 250 points.
pub(super) fn step(params: &[(String, String)], start: i64, end: i64) -> Result<i64, ApiError> {
    match param(params, "step") {
        None | Some("") => Ok((((end - start) / SECOND_NS / 250).max(1)) * SECOND_NS),
        Some(text) => {
            let millis = crate::metrics::api::query::parse_duration_param("step", text)?;
            if millis <= 0 {
                return Err(ApiError::bad_data(
                    "zero or negative query resolution step widths are not accepted. Try a positive integer",
                ));
            }
            Ok(millis.saturating_mul(1_000_000))
        }
    }
}

pub async fn query_range(
    State(state): State<Arc<LogsState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = collect_params(query.as_deref(), &headers, &body);
    let tenant = tenant(&headers);
    let outcome = async {
        let expr = parse_query(&params)?;
        // Loki's query_range looks back one hour by default.
        let (start, end) = time_range_with_lookback(&params, 3600 * SECOND_NS)?;
        let limit = limit(&params)?;
        let direction = direction(&params)?;
        let step = step(&params, start, end)?;
        if (end - start) / step > 11_000 {
            return Err(ApiError::bad_data(
                "exceeded maximum resolution of 11,000 points per timeseries. Try increasing the value of the step parameter",
            ));
        }
        let store = store(&state)?;
        tokio::task::spawn_blocking(move || match expr {
            Expr::Log(log) => run_log_query(&store, &tenant, &log, start, end, limit, direction)
                .map(|streams| render_streams(&streams)),
            Expr::Metric(metric) => run_metric_query(&store, &tenant, &metric, start, end, step)
                .map(|(series, _)| render_matrix(&series)),
        })
        .await
        .map_err(|err| ApiError::new(ErrorKind::Internal, format!("query task failed: {err}")))?
        .map_err(query_error)
    }
    .await;
    respond(outcome)
}

pub async fn query_instant(
    State(state): State<Arc<LogsState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = collect_params(query.as_deref(), &headers, &body);
    let tenant = tenant(&headers);
    let outcome = async {
        let expr = parse_query(&params)?;
        let time = time_param(&params, "time", now_ns())?;
        let limit = limit(&params)?;
        let direction = direction(&params)?;
        let store = store(&state)?;
        tokio::task::spawn_blocking(move || match expr {
            // Loki answers log queries at an instant with the entries up to that time.
            Expr::Log(log) => run_log_query(
                &store,
                &tenant,
                &log,
                i64::MIN / 2,
                time + 1,
                limit,
                direction,
            )
            .map(|streams| render_streams(&streams)),
            Expr::Metric(metric) => {
                run_metric_query(&store, &tenant, &metric, time, time, SECOND_NS)
                    .map(|(series, scalar)| render_vector(&series, time, scalar))
            }
        })
        .await
        .map_err(|err| ApiError::new(ErrorKind::Internal, format!("query task failed: {err}")))?
        .map_err(query_error)
    }
    .await;
    respond(outcome)
}

pub async fn format_query(RawQuery(query): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    let params = collect_params(query.as_deref(), &headers, &body);
    match parse_query(&params) {
        Ok(expr) => {
            let text = match expr {
                Expr::Log(log) => log.to_string(),
                Expr::Metric(metric) => metric.to_string(),
            };
            json_text::response(format!(
                "{{\"status\":\"success\",\"data\":{}}}",
                json_text::string(&text)
            ))
        }
        Err(err) => err.into_response(),
    }
}

pub(super) fn respond(outcome: Result<String, ApiError>) -> Response {
    match outcome {
        Ok(body) => json_text::response(body),
        Err(err) => err.into_response(),
    }
}

/// Unix seconds with up to nanosecond decimals, as Loki writes sample times.
fn write_seconds(out: &mut String, ns: i64) {
    let seconds = ns.div_euclid(SECOND_NS);
    let fraction = ns.rem_euclid(SECOND_NS);
    if fraction == 0 {
        let _ = write!(out, "{seconds}");
    } else {
        let mut text = format!("{seconds}.{fraction:09}");
        while text.ends_with('0') {
            text.pop();
        }
        out.push_str(&text);
    }
}

const STATS: &str = "{\"summary\":{}}";

fn render_streams(streams: &[StreamResult]) -> String {
    let mut out =
        String::from("{\"status\":\"success\",\"data\":{\"resultType\":\"streams\",\"result\":[");
    write_stream_list(&mut out, streams);
    let _ = write!(out, "],\"stats\":{STATS}}}}}");
    out
}

/// Streams as Loki writes them, comma-separated: `{"stream":{labels},"values":[["<ns>","line"],…]}`.
pub(super) fn write_stream_list(out: &mut String, streams: &[StreamResult]) {
    for (index, stream) in streams.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str("{\"stream\":");
        json_text::write_labels(out, &stream.labels);
        out.push_str(",\"values\":[");
        for (entry_index, (timestamp, line)) in stream.entries.iter().enumerate() {
            if entry_index > 0 {
                out.push(',');
            }
            let _ = write!(out, "[\"{timestamp}\",{}]", json_text::string(line));
        }
        out.push_str("]}");
    }
}

pub(super) fn render_matrix(series: &[MetricSeries]) -> String {
    let mut out =
        String::from("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[");
    for (index, s) in series.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str("{\"metric\":");
        json_text::write_labels(&mut out, &s.labels);
        out.push_str(",\"values\":[");
        for (point_index, &(t, v)) in s.points.iter().enumerate() {
            if point_index > 0 {
                out.push(',');
            }
            out.push('[');
            write_seconds(&mut out, t);
            let _ = write!(out, ",\"{}\"]", format_float(v));
        }
        out.push_str("]}");
    }
    let _ = write!(out, "],\"stats\":{STATS}}}}}");
    out
}

pub(super) fn render_vector(series: &[MetricSeries], time: i64, scalar: bool) -> String {
    let mut out = String::from("{\"status\":\"success\",\"data\":{\"resultType\":");
    if scalar {
        let value = series
            .first()
            .and_then(|s| s.points.first())
            .map_or(f64::NAN, |p| p.1);
        out.push_str("\"scalar\",\"result\":[");
        write_seconds(&mut out, time);
        let _ = write!(out, ",\"{}\"]", format_float(value));
    } else {
        out.push_str("\"vector\",\"result\":[");
        let mut first = true;
        for s in series {
            let Some(&(t, v)) = s.points.first() else {
                continue;
            };
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str("{\"metric\":");
            json_text::write_labels(&mut out, &s.labels);
            out.push_str(",\"value\":[");
            write_seconds(&mut out, t);
            let _ = write!(out, ",\"{}\"]}}", format_float(v));
        }
        out.push(']');
    }
    let _ = write!(out, ",\"stats\":{STATS}}}}}");
    out
}
