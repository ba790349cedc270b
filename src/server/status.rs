//! `/api/v1/status/*`: build info, the running config (secrets redacted), flags and
//! runtime info, in the Prometheus JSON envelope.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::build_info::BuildInfo;
use super::state::AppState;

fn success(data: Value) -> Json<Value> {
    Json(json!({ "status": "success", "data": data }))
}

pub async fn buildinfo() -> Json<Value> {
    success(json!(BuildInfo::CURRENT))
}

/// Loki's `/loki/api/v1/status/buildinfo`: the same fields, without an envelope.
pub async fn loki_buildinfo() -> Json<Value> {
    Json(json!(BuildInfo::CURRENT))
}

pub async fn config(State(state): State<Arc<AppState>>) -> Json<Value> {
    success(json!({ "yaml": state.config().to_redacted_yaml() }))
}

/// The effective values of our command-line flags, with Prometheus's flag names where one
/// exists, so tools reading this endpoint find what they look for.
pub async fn flags(State(state): State<Arc<AppState>>) -> Json<Value> {
    let config = state.config();
    let config_file = state
        .config_path
        .as_ref()
        .map(|path| path.display().to_string())
        .unwrap_or_default();
    success(json!({
        "config.file": config_file,
        "web.listen-address": config.server.listen,
        "web.external-url": config.server.external_url.clone().unwrap_or_default(),
        "storage.tsdb.path": config.data_dir().display().to_string(),
        "storage.tsdb.retention.time": config.storage.retention.time.to_string(),
        "storage.tsdb.retention.size": config.storage.retention.size.to_string(),
    }))
}

pub async fn runtimeinfo(State(state): State<Arc<AppState>>) -> Json<Value> {
    let config = state.config();
    success(json!({
        "startTime": state.started_at,
        "CWD": std::env::current_dir().map(|dir| dir.display().to_string()).unwrap_or_default(),
        "reloadConfigSuccess": state.reload_metrics.last_reload_successful(),
        "lastConfigTime": state.reload_metrics.last_success_rfc3339(),
        "storageRetention": config.storage.retention.time.to_string(),
        "ready": state.ready.load(Ordering::Acquire),
        "GOMAXPROCS": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    }))
}
