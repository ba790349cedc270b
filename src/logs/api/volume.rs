//! `/loki/api/v1/index/volume` (a vector at `end`) and `/loki/api/v1/index/volume_range`
//! (a matrix on the `step` grid): bytes of log text per group of matching streams, as
//! Grafana's logs volume panels and Logs Drilldown ask for them.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::labels::time_range_with_lookback;
use super::query::{limit, query_error, render_matrix, render_vector, respond, step};
use super::{store, tenant, LogsState};
use crate::api_error::{ApiError, ErrorKind};
use crate::logs::logql::parse_matchers;
use crate::logs::query::{run_volume, VolumeAggregation, VolumeRequest};
use crate::metrics::api::params::{collect_params, param};

const DEFAULT_LOOKBACK_NS: i64 = 3600 * 1_000_000_000;

async fn volume(
    state: Arc<LogsState>,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
    range: bool,
) -> Response {
    let params = collect_params(query.as_deref(), &headers, &body);
    let tenant = tenant(&headers);
    let outcome = async {
        let text = param(&params, "query")
            .filter(|text| !text.is_empty())
            .ok_or_else(|| ApiError::bad_data("query must not be empty"))?;
        let matchers = parse_matchers(text).map_err(|err| ApiError::bad_data(err.to_string()))?;
        let (start, end) = time_range_with_lookback(&params, DEFAULT_LOOKBACK_NS)?;
        let step_ns = if range {
            Some(step(&params, start, end)?)
        } else {
            None
        };
        let limit = limit(&params)?;
        let target_labels = param(&params, "targetLabels")
            .filter(|text| !text.is_empty())
            .map(|text| {
                text.split(',')
                    .map(|name| name.trim().to_string())
                    .collect()
            });
        let aggregation = match param(&params, "aggregateBy") {
            None | Some("") | Some("series") => VolumeAggregation::Series,
            Some("labels") => VolumeAggregation::Labels,
            Some(other) => {
                return Err(ApiError::bad_data(format!(
                    "invalid aggregateBy {other:?}: use series or labels"
                )))
            }
        };
        let store = store(&state)?;
        tokio::task::spawn_blocking(move || {
            let request = VolumeRequest {
                matchers: &matchers,
                start_ns: start,
                end_ns: end,
                step_ns,
                target_labels,
                aggregation,
                limit,
            };
            run_volume(&store, &tenant, &request).map(|series| {
                if range {
                    render_matrix(&series)
                } else {
                    render_vector(&series, end, false)
                }
            })
        })
        .await
        .map_err(|err| ApiError::new(ErrorKind::Internal, format!("volume task failed: {err}")))?
        .map_err(query_error)
    }
    .await;
    respond(outcome)
}

pub async fn volume_instant(
    State(state): State<Arc<LogsState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    volume(state, query, headers, body, false).await
}

pub async fn volume_range(
    State(state): State<Arc<LogsState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    volume(state, query, headers, body, true).await
}
