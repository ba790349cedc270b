//! `/api/v1/admin/tsdb/delete_series`: deletes samples of the series matching `match[]`
//! between `start` and `end` (all of time by default), 204 once the deletion is durable;
//! `/api/v1/admin/tsdb/snapshot`: a backup copy under the database's `snapshots/`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::params::{collect_params, required_selectors, time_range};
use super::{tsdb, MetricsState};
use crate::api_error::{ApiError, ErrorKind};

pub async fn delete_series(
    State(state): State<Arc<MetricsState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = collect_params(query.as_deref(), &headers, &body);
    let outcome = async {
        let selectors = required_selectors(&params)?;
        let (start, end) = time_range(&params)?;
        let tsdb = tsdb(&state)?;
        tokio::task::spawn_blocking(move || tsdb.delete_series(&selectors, start, end))
            .await
            .map_err(|err| ApiError::new(ErrorKind::Internal, format!("delete failed: {err}")))?
            .map_err(|err| ApiError::new(ErrorKind::Internal, err.to_string()))
    }
    .await;
    match outcome {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => err.into_response(),
    }
}

pub async fn snapshot(
    State(state): State<Arc<MetricsState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = collect_params(query.as_deref(), &headers, &body);
    let outcome = async {
        let skip_head = match super::params::param(&params, "skip_head") {
            None | Some("") | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(other) => {
                return Err(ApiError::bad_data(format!(
                    "invalid parameter \"skip_head\": cannot parse {other:?} as a boolean"
                )))
            }
        };
        let tsdb = tsdb(&state)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_millis() as i64)
            .unwrap_or(0);
        tokio::task::spawn_blocking(move || tsdb.snapshot(now, skip_head))
            .await
            .map_err(|err| ApiError::new(ErrorKind::Internal, format!("snapshot failed: {err}")))?
            .map_err(|err| ApiError::new(ErrorKind::Internal, format!("snapshot failed: {err}")))
    }
    .await;
    match outcome {
        Ok(name) => Json(json!({ "status": "success", "data": { "name": name } })).into_response(),
        Err(err) => err.into_response(),
    }
}
