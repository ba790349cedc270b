//! `/api/v1/status/tsdb`: head cardinality statistics in Prometheus's shape.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::params::param;
use super::{tsdb, MetricsState};
use crate::api_error::ApiError;
use crate::metrics::tsdb::index::StatCount;

fn counts(list: &[StatCount]) -> Value {
    Value::Array(
        list.iter()
            .map(|count| json!({ "name": count.name, "value": count.value }))
            .collect(),
    )
}

pub async fn tsdb_status(
    State(state): State<Arc<MetricsState>>,
    RawQuery(query): RawQuery,
) -> Response {
    let params: Vec<(String, String)> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let outcome = (|| {
        let limit = match param(&params, "limit") {
            None | Some("") => 10,
            Some(text) => match text.parse::<usize>() {
                Ok(limit) if limit > 0 => limit,
                _ => {
                    return Err(ApiError::bad_data(format!(
                        "limit must be a positive number, got {text:?}"
                    )))
                }
            },
        };
        let stats = tsdb(&state)?.head_stats(limit);
        let cardinality = &stats.cardinality;
        let (min_time, max_time) = stats.time_range.unwrap_or((i64::MAX, i64::MIN));
        Ok(json!({
            "headStats": {
                "numSeries": cardinality.num_series,
                "numLabelPairs": cardinality.num_label_pairs,
                "chunkCount": Value::Null,
                "minTime": min_time,
                "maxTime": max_time,
            },
            "seriesCountByMetricName": counts(&cardinality.series_count_by_metric_name),
            "labelValueCountByLabelName": counts(&cardinality.label_value_count_by_label_name),
            "memoryInBytesByLabelName": counts(&cardinality.memory_in_bytes_by_label_name),
            "seriesCountByLabelValuePair": counts(&cardinality.series_count_by_label_value_pair),
        }))
    })();
    match outcome {
        Ok(data) => Json(json!({ "status": "success", "data": data })).into_response(),
        Err(err) => err.into_response(),
    }
}
