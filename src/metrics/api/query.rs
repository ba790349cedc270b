//! `/api/v1/query`, `/api/v1/query_range`, `/api/v1/format_query` and
//! `/api/v1/query_exemplars`: parameters in, PromQL engine off the async runtime, JSON out
//! in Prometheus's exact shape (values as strings, times as unix seconds).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::params::{collect_params, param, parse_time};
use super::MetricsState;
use crate::api_error::{ApiError, ErrorKind};
use crate::json_text;
use crate::metrics::histogram::FloatHistogram;
use crate::metrics::promql::{
    format_float, Cancel, Engine, QueryError, QueryErrorKind, QueryResult, QueryValue,
};

/// Raises the cancel flag when dropped: axum drops the handler future when the client
/// disconnects, and the evaluator then stops at its next check.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn query_error(err: QueryError) -> ApiError {
    let kind = match err.kind {
        QueryErrorKind::BadData => ErrorKind::BadData,
        QueryErrorKind::Execution => ErrorKind::Execution,
        QueryErrorKind::Timeout => ErrorKind::Timeout,
        QueryErrorKind::Canceled => ErrorKind::Canceled,
    };
    if err.message.starts_with("parse error") {
        return ApiError::new(
            kind,
            format!("invalid parameter \"query\": {}", err.message),
        );
    }
    ApiError::new(kind, err.message)
}

/// A duration parameter: float seconds or Prometheus duration syntax.
pub fn parse_duration_param(name: &str, text: &str) -> Result<i64, ApiError> {
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() {
            let millis = seconds * 1000.0;
            if millis.abs() < i64::MAX as f64 {
                return Ok(millis.round() as i64);
            }
        }
        return Err(ApiError::bad_data(format!(
            "invalid parameter \"{name}\": cannot parse {text:?} to a valid duration. It overflows int64"
        )));
    }
    crate::config::duration::PromDuration::parse(text)
        .map(|duration| duration.as_millis())
        .map_err(|_| {
            ApiError::bad_data(format!(
                "invalid parameter \"{name}\": cannot parse {text:?} to a valid duration"
            ))
        })
}

fn required_time(params: &[(String, String)], name: &str) -> Result<i64, ApiError> {
    match param(params, name) {
        None | Some("") => Err(ApiError::bad_data(format!(
            "invalid parameter \"{name}\": cannot parse \"\" to a valid timestamp"
        ))),
        Some(text) => parse_time(text)
            .map_err(|err| ApiError::bad_data(format!("invalid parameter \"{name}\": {err}"))),
    }
}

fn query_text(params: &[(String, String)]) -> Result<String, ApiError> {
    match param(params, "query") {
        Some(text) if !text.is_empty() => Ok(text.to_string()),
        _ => Err(ApiError::bad_data(
            "invalid parameter \"query\": query must not be empty",
        )),
    }
}

/// An engine for this request: the configured one, with `timeout` and `lookback_delta`
/// parameters applied (a request may shorten the timeout, not lengthen it).
fn request_engine(state: &MetricsState, params: &[(String, String)]) -> Result<Engine, ApiError> {
    let mut options = state.engine_options.clone();
    if let Some(text) = param(params, "timeout").filter(|text| !text.is_empty()) {
        let millis = parse_duration_param("timeout", text)?;
        if millis > 0 {
            options.timeout = options.timeout.min(Duration::from_millis(millis as u64));
        }
    }
    if let Some(text) = param(params, "lookback_delta").filter(|text| !text.is_empty()) {
        let millis = parse_duration_param("lookback_delta", text)?;
        if millis > 0 {
            options.lookback_delta_ms = millis;
        }
    }
    Ok(Engine::with_parse_cache(
        options,
        Arc::clone(&state.parse_cache),
    ))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}

pub async fn instant(
    State(state): State<Arc<MetricsState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = collect_params(query.as_deref(), &headers, &body);
    let outcome = async {
        let text = query_text(&params)?;
        let time = match param(&params, "time") {
            None | Some("") => now_ms(),
            Some(_) => required_time(&params, "time")?,
        };
        let engine = request_engine(&state, &params)?;
        let tsdb = super::tsdb(&state)?;
        let flag = Arc::new(AtomicBool::new(false));
        let _guard = CancelOnDrop(flag.clone());
        let cancel = Cancel::new(flag);
        let result = tokio::task::spawn_blocking(move || {
            engine.instant_query_cancellable(tsdb.as_ref(), &text, time, &cancel)
        })
        .await
        .map_err(|err| ApiError::new(ErrorKind::Internal, format!("query task failed: {err}")))?
        .map_err(query_error)?;
        Ok::<_, ApiError>(result)
    }
    .await;
    respond(outcome)
}

pub async fn range(
    State(state): State<Arc<MetricsState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = collect_params(query.as_deref(), &headers, &body);
    let outcome = async {
        let text = query_text(&params)?;
        let start = required_time(&params, "start")?;
        let end = required_time(&params, "end")?;
        if end < start {
            return Err(ApiError::bad_data(
                "invalid parameter \"end\": end timestamp must not be before start time",
            ));
        }
        let step = match param(&params, "step") {
            None | Some("") => {
                return Err(ApiError::bad_data(
                    "invalid parameter \"step\": cannot parse \"\" to a valid duration",
                ))
            }
            Some(text) => parse_duration_param("step", text)?,
        };
        if step <= 0 {
            return Err(ApiError::bad_data(
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        let max_points = state.engine_options.max_points_per_series;
        if (end - start) / step > max_points {
            return Err(ApiError::bad_data(format!(
                "exceeded maximum resolution of {} points per timeseries. Try decreasing the query resolution (?step=XX)",
                group_thousands(max_points)
            )));
        }
        let engine = request_engine(&state, &params)?;
        let tsdb = super::tsdb(&state)?;
        let flag = Arc::new(AtomicBool::new(false));
        let _guard = CancelOnDrop(flag.clone());
        let cancel = Cancel::new(flag);
        let result = tokio::task::spawn_blocking(move || {
            engine.range_query_cancellable(tsdb.as_ref(), &text, start, end, step, &cancel)
        })
        .await
        .map_err(|err| ApiError::new(ErrorKind::Internal, format!("query task failed: {err}")))?
        .map_err(query_error)?;
        Ok::<_, ApiError>(result)
    }
    .await;
    respond(outcome)
}

fn group_thousands(value: i64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

pub async fn format_query(RawQuery(query): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    let params = collect_params(query.as_deref(), &headers, &body);
    let outcome = query_text(&params).and_then(|text| {
        promql_parser::parser::parse(&text)
            .map(|expr| expr.prettify())
            .map_err(|err| ApiError::bad_data(format!("invalid parameter \"query\": {err}")))
    });
    match outcome {
        Ok(formatted) => json_text::response(format!(
            "{{\"status\":\"success\",\"data\":{}}}",
            json_text::string(&formatted)
        )),
        Err(err) => err.into_response(),
    }
}

/// Exemplars are not stored, so every valid query has none.
pub async fn exemplars(RawQuery(query): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    let params = collect_params(query.as_deref(), &headers, &body);
    let outcome = query_text(&params).and_then(|text| {
        promql_parser::parser::parse(&text)
            .map_err(|err| ApiError::bad_data(format!("invalid parameter \"query\": {err}")))
    });
    match outcome {
        Ok(_) => json_text::response("{\"status\":\"success\",\"data\":[]}".to_string()),
        Err(err) => err.into_response(),
    }
}

fn respond(outcome: Result<QueryResult, ApiError>) -> Response {
    match outcome {
        Ok(result) => json_text::response(render_result(&result)),
        Err(err) => err.into_response(),
    }
}

/// Unix seconds as Prometheus writes them: `1435781451.781`, `1435781451`.
fn write_time(out: &mut String, t: i64) {
    let seconds = t.div_euclid(1000);
    let millis = t.rem_euclid(1000);
    if millis == 0 {
        let _ = write!(out, "{seconds}");
    } else if t < 0 && seconds == -1 {
        let _ = write!(out, "-0.{:03}", 1000 - millis);
        trim_trailing_zeros(out);
    } else if t < 0 {
        let _ = write!(out, "{}.{:03}", seconds + 1, 1000 - millis);
        trim_trailing_zeros(out);
    } else {
        let _ = write!(out, "{seconds}.{millis:03}");
        trim_trailing_zeros(out);
    }
}

fn trim_trailing_zeros(out: &mut String) {
    while out.ends_with('0') {
        out.pop();
    }
}

fn write_point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    write_time(out, t);
    out.push_str(",\"");
    out.push_str(&format_float(v));
    out.push_str("\"]");
}

/// `[t, {"count": ..., "sum": ..., "buckets": [[boundary rule, lower, upper, count]]}]`:
/// the HTTP API's form of a native histogram sample. Rules: 0 open left, 1 open right,
/// 2 open both, 3 closed both.
fn write_histogram_point(out: &mut String, t: i64, h: &FloatHistogram) {
    out.push('[');
    write_time(out, t);
    let _ = write!(
        out,
        ",{{\"count\":\"{}\",\"sum\":\"{}\"",
        format_float(h.count),
        format_float(h.sum)
    );
    let buckets = h.buckets();
    if !buckets.is_empty() {
        out.push_str(",\"buckets\":[");
        for (index, bucket) in buckets.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let rule = match (bucket.lower_inclusive, bucket.upper_inclusive) {
                (false, true) => 0,
                (true, false) => 1,
                (false, false) => 2,
                (true, true) => 3,
            };
            let _ = write!(
                out,
                "[{rule},\"{}\",\"{}\",\"{}\"]",
                format_float(bucket.lower),
                format_float(bucket.upper),
                format_float(bucket.count)
            );
        }
        out.push(']');
    }
    out.push_str("}]");
}

/// The success envelope with `resultType`, `result`, and any warnings/infos.
pub fn render_result(result: &QueryResult) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("{\"status\":\"success\",\"data\":{\"resultType\":\"");
    out.push_str(result.value.type_name());
    out.push_str("\",\"result\":");
    match &result.value {
        QueryValue::Scalar { t, v } => write_point(&mut out, *t, *v),
        QueryValue::String { t, v } => {
            out.push('[');
            write_time(&mut out, *t);
            out.push(',');
            out.push_str(&json_text::string(v));
            out.push(']');
        }
        QueryValue::Vector(samples) => {
            out.push('[');
            for (index, sample) in samples.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                json_text::write_labels(&mut out, &sample.labels);
                match &sample.h {
                    Some(h) => {
                        out.push_str(",\"histogram\":");
                        write_histogram_point(&mut out, sample.t, h);
                    }
                    None => {
                        out.push_str(",\"value\":");
                        write_point(&mut out, sample.t, sample.v);
                    }
                }
                out.push('}');
            }
            out.push(']');
        }
        QueryValue::Matrix(series) => {
            out.push('[');
            for (index, s) in series.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                json_text::write_labels(&mut out, &s.labels);
                if !s.points.is_empty() || s.histograms.is_empty() {
                    out.push_str(",\"values\":[");
                    for (point_index, &(t, v)) in s.points.iter().enumerate() {
                        if point_index > 0 {
                            out.push(',');
                        }
                        write_point(&mut out, t, v);
                    }
                    out.push(']');
                }
                if !s.histograms.is_empty() {
                    out.push_str(",\"histograms\":[");
                    for (point_index, (t, h)) in s.histograms.iter().enumerate() {
                        if point_index > 0 {
                            out.push(',');
                        }
                        write_histogram_point(&mut out, *t, h);
                    }
                    out.push(']');
                }
                out.push('}');
            }
            out.push(']');
        }
    }
    out.push('}');
    for (key, notes) in [("warnings", &result.warnings), ("infos", &result.infos)] {
        if !notes.is_empty() {
            let _ = write!(out, ",\"{key}\":[");
            for (index, note) in notes.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&json_text::string(note));
            }
            out.push(']');
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_like_prometheus() {
        let render = |t: i64| {
            let mut out = String::new();
            write_time(&mut out, t);
            out
        };
        assert_eq!(render(1_435_781_451_781), "1435781451.781");
        assert_eq!(render(1_435_781_451_000), "1435781451");
        assert_eq!(render(1_435_781_451_500), "1435781451.5");
        assert_eq!(render(-1500), "-1.5");
        assert_eq!(render(-500), "-0.5");
        assert_eq!(render(0), "0");
    }

    #[test]
    fn durations_accept_seconds_and_prometheus_syntax() {
        assert_eq!(parse_duration_param("step", "15").unwrap(), 15_000);
        assert_eq!(parse_duration_param("step", "0.5").unwrap(), 500);
        assert_eq!(parse_duration_param("step", "1m30s").unwrap(), 90_000);
        assert!(parse_duration_param("step", "abc").is_err());
        assert_eq!(group_thousands(11_000), "11,000");
    }
}
