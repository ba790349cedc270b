//! `/api/v1/rules` and `/api/v1/alerts`. No rule groups are evaluated yet, so both answer
//! with empty lists in Prometheus's shape, which is what Grafana expects from a source
//! without rules.

use axum::Json;
use serde_json::{json, Value};

pub async fn rules() -> Json<Value> {
    Json(json!({ "status": "success", "data": { "groups": [] } }))
}

pub async fn alerts() -> Json<Value> {
    Json(json!({ "status": "success", "data": { "alerts": [] } }))
}
