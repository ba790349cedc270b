//! `/api/v1/series`, `/api/v1/labels` and `/api/v1/label/<name>/values`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::params::{
    collect_params, param, params_named, parse_selectors, required_selectors, time_range,
};
use super::{tsdb, MetricsState};
use crate::api_error::{ApiError, ErrorKind};
use crate::metrics::tsdb::labels::is_valid_label_name;

fn limit(params: &[(String, String)]) -> Result<usize, ApiError> {
    match param(params, "limit") {
        None | Some("") | Some("0") => Ok(usize::MAX),
        Some(text) => text.parse::<usize>().map_err(|_| {
            ApiError::bad_data(format!(
                "invalid parameter \"limit\": cannot parse {text:?} as a non-negative integer"
            ))
        }),
    }
}

fn success(data: Value) -> Response {
    Json(json!({ "status": "success", "data": data })).into_response()
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| ApiError::new(ErrorKind::Internal, format!("query task failed: {err}")))
}

pub async fn series(
    State(state): State<Arc<MetricsState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = collect_params(query.as_deref(), &headers, &body);
    let outcome = async {
        let matchers = required_selectors(&params)?;
        let (start, end) = time_range(&params)?;
        let limit = limit(&params)?;
        let tsdb = tsdb(&state)?;
        let mut sets = blocking(move || {
            let mut all: Vec<Vec<(String, String)>> = matchers
                .iter()
                .flat_map(|matchers| tsdb.series(matchers, start, end))
                .collect();
            all.sort();
            all.dedup();
            all
        })
        .await?;
        sets.truncate(limit);
        let data: Vec<Value> = sets
            .into_iter()
            .map(|labels| {
                Value::Object(
                    labels
                        .into_iter()
                        .map(|(name, value)| (name, Value::String(value)))
                        .collect::<Map<_, _>>(),
                )
            })
            .collect();
        Ok::<_, ApiError>(success(Value::Array(data)))
    }
    .await;
    outcome.unwrap_or_else(IntoResponse::into_response)
}

pub async fn label_names(
    State(state): State<Arc<MetricsState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = collect_params(query.as_deref(), &headers, &body);
    let outcome = async {
        let selectors = parse_selectors(&params_named(&params, "match[]"))?;
        let (start, end) = time_range(&params)?;
        let limit = limit(&params)?;
        let tsdb = tsdb(&state)?;
        let mut names = blocking(move || tsdb.label_names(&selectors, start, end)).await?;
        names.truncate(limit);
        Ok::<_, ApiError>(success(json!(names)))
    }
    .await;
    outcome.unwrap_or_else(IntoResponse::into_response)
}

pub async fn label_values(
    State(state): State<Arc<MetricsState>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = collect_params(query.as_deref(), &headers, &Bytes::new());
    let outcome = async {
        if !is_valid_label_name(&name) {
            return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
        }
        let selectors = parse_selectors(&params_named(&params, "match[]"))?;
        let (start, end) = time_range(&params)?;
        let limit = limit(&params)?;
        let tsdb = tsdb(&state)?;
        let mut values = blocking(move || tsdb.label_values(&name, &selectors, start, end)).await?;
        values.truncate(limit);
        Ok(success(json!(values)))
    }
    .await;
    outcome.unwrap_or_else(IntoResponse::into_response)
}
