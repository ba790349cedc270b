//! `/loki/api/v1/labels`, `/loki/api/v1/label/<name>/values` and `/loki/api/v1/series`,
//! answered from the stream index (no log line is read).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::{now_ns, store, tenant, LogsState};
use crate::api_error::ApiError;
use crate::metrics::api::params::{collect_params, param, params_named, parse_selectors};
use crate::metrics::tsdb::index::Matcher;

/// Default look-back of the label endpoints when `start` is absent (Loki: 6 hours).
const DEFAULT_LOOKBACK_NS: i64 = 6 * 3600 * 1_000_000_000;

/// A Loki time parameter: unix nanoseconds, unix seconds with decimals, or RFC 3339.
pub fn parse_loki_time(name: &str, text: &str) -> Result<i64, ApiError> {
    if let Ok(integer) = text.parse::<i64>() {
        // Loki reads integers as nanoseconds, except small ones (seconds).
        return Ok(if integer.abs() < 100_000_000_000 {
            integer.saturating_mul(1_000_000_000)
        } else {
            integer
        });
    }
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() {
            return Ok((seconds * 1e9) as i64);
        }
    }
    crate::time_format::parse_rfc3339_millis(text)
        .map(|millis| millis.saturating_mul(1_000_000))
        .ok_or_else(|| {
            ApiError::bad_data(format!(
                "invalid parameter \"{name}\": cannot parse {text:?} as a time"
            ))
        })
}

/// A time parameter, or `default` when absent or empty.
pub fn time_param(params: &[(String, String)], name: &str, default: i64) -> Result<i64, ApiError> {
    match param(params, name) {
        None | Some("") => Ok(default),
        Some(text) => parse_loki_time(name, text),
    }
}

/// `start`/`end` with Loki's defaults for the label endpoints (`end` = now, `start` =
/// end − 6 h).
pub fn time_range(params: &[(String, String)]) -> Result<(i64, i64), ApiError> {
    time_range_with_lookback(params, DEFAULT_LOOKBACK_NS)
}

/// `start`/`end` with `end` defaulting to now and `start` to `end - lookback_ns`.
pub fn time_range_with_lookback(
    params: &[(String, String)],
    lookback_ns: i64,
) -> Result<(i64, i64), ApiError> {
    let end = time_param(params, "end", now_ns())?;
    let start = time_param(params, "start", end - lookback_ns)?;
    if end < start {
        return Err(ApiError::bad_data(
            "end timestamp must not be before start time",
        ));
    }
    Ok((start, end))
}

/// The matchers of a `query` parameter (a stream selector), if given.
fn query_matchers(params: &[(String, String)]) -> Result<Vec<Vec<Matcher>>, ApiError> {
    let mut selectors = params_named(params, "match[]");
    if let Some(query) = param(params, "query").filter(|query| !query.is_empty()) {
        selectors.push(query);
    }
    if selectors.is_empty() {
        return Ok(vec![Vec::new()]);
    }
    parse_selectors(&selectors)
}

fn success(data: Value) -> Response {
    Json(json!({ "status": "success", "data": data })).into_response()
}

pub async fn label_names(
    State(state): State<Arc<LogsState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = collect_params(query.as_deref(), &headers, &body);
    let outcome = (|| {
        let (start, end) = time_range(&params)?;
        let selectors = query_matchers(&params)?;
        let store = store(&state)?;
        let tenant = tenant(&headers);
        let mut names: Vec<String> = selectors
            .iter()
            .flat_map(|matchers| store.label_names(&tenant, matchers, start, end))
            .collect();
        names.sort();
        names.dedup();
        Ok::<_, ApiError>(names)
    })();
    match outcome {
        Ok(names) => success(json!(names)),
        Err(err) => err.into_response(),
    }
}

pub async fn label_values(
    State(state): State<Arc<LogsState>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = collect_params(query.as_deref(), &headers, &Bytes::new());
    let outcome = (|| {
        let (start, end) = time_range(&params)?;
        let selectors = query_matchers(&params)?;
        let store = store(&state)?;
        let tenant = tenant(&headers);
        let mut values: Vec<String> = selectors
            .iter()
            .flat_map(|matchers| store.label_values(&tenant, &name, matchers, start, end))
            .collect();
        values.sort();
        values.dedup();
        Ok::<_, ApiError>(values)
    })();
    match outcome {
        Ok(values) => success(json!(values)),
        Err(err) => err.into_response(),
    }
}

pub async fn series(
    State(state): State<Arc<LogsState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = collect_params(query.as_deref(), &headers, &body);
    let outcome = (|| {
        let (start, end) = time_range(&params)?;
        if params_named(&params, "match[]").is_empty() && param(&params, "match").is_none() {
            return Err(ApiError::bad_data(
                "at least one match[] argument must be provided",
            ));
        }
        let mut selectors: Vec<&str> = params_named(&params, "match[]");
        selectors.extend(params_named(&params, "match"));
        let selectors = parse_selectors(&selectors)?;
        let store = store(&state)?;
        let tenant = tenant(&headers);
        let mut all: Vec<Vec<(String, String)>> = selectors
            .iter()
            .flat_map(|matchers| store.select_streams(&tenant, matchers, start, end))
            .map(|info| info.labels.as_ref().clone())
            .collect();
        all.sort();
        all.dedup();
        Ok::<_, ApiError>(all)
    })();
    match outcome {
        Ok(all) => success(Value::Array(
            all.into_iter()
                .map(|labels| {
                    Value::Object(
                        labels
                            .into_iter()
                            .map(|(name, value)| (name, Value::String(value)))
                            .collect::<Map<_, _>>(),
                    )
                })
                .collect(),
        )),
        Err(err) => err.into_response(),
    }
}

/// `/loki/api/v1/index/stats`: streams, chunks, entries and bytes a selector covers in the
/// time range (chunks counted as one per stream and day, which is how the store groups).
pub async fn index_stats(
    State(state): State<Arc<LogsState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = collect_params(query.as_deref(), &headers, &Bytes::new());
    let tenant = tenant(&headers);
    let outcome = async {
        let (start, end) = time_range(&params)?;
        let selectors = query_matchers(&params)?;
        let store = store(&state)?;
        tokio::task::spawn_blocking(move || {
            let mut streams: Vec<u64> = selectors
                .iter()
                .flat_map(|matchers| store.select_streams(&tenant, matchers, start, end))
                .map(|info| info.id)
                .collect();
            streams.sort_unstable();
            streams.dedup();
            let read = store.read(&streams, start, end, &[]).map_err(|err| {
                ApiError::new(crate::api_error::ErrorKind::Internal, err.to_string())
            })?;
            let mut days = std::collections::BTreeSet::new();
            let (mut entries, mut bytes) = (0u64, 0u64);
            for (stream, stream_entries) in &read {
                for entry in stream_entries {
                    days.insert((*stream, entry.timestamp_ns.div_euclid(86_400_000_000_000)));
                    entries += 1;
                    bytes += entry.raw_len() as u64;
                }
            }
            Ok::<_, ApiError>(json!({
                "streams": streams.len(),
                "chunks": days.len(),
                "entries": entries,
                "bytes": bytes,
            }))
        })
        .await
        .map_err(|err| ApiError::new(crate::api_error::ErrorKind::Internal, err.to_string()))?
    }
    .await;
    match outcome {
        Ok(stats) => Json(stats).into_response(),
        Err(err) => err.into_response(),
    }
}
