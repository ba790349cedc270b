//! The route table and middleware stack. Handlers live with their subsystems.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use tower_http::compression::CompressionLayer;

use super::state::AppState;
use super::{auth, body_limit, health, http_metrics, reload, status};

pub fn build(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/-/healthy", get(health::healthy))
        .route("/-/ready", get(health::ready))
        // Loki's readiness path, for clients and probes written for Loki.
        .route("/ready", get(health::ready))
        .route(
            "/-/reload",
            post(reload::reload_handler).put(reload::reload_handler),
        )
        .route("/metrics", get(metrics))
        .route("/api/v1/status/buildinfo", get(status::buildinfo))
        .route("/loki/api/v1/status/buildinfo", get(status::loki_buildinfo))
        .route("/api/v1/status/config", get(status::config))
        .route("/api/v1/status/flags", get(status::flags))
        .route("/api/v1/status/runtimeinfo", get(status::runtimeinfo))
        .with_state(state.clone())
        .merge(crate::metrics::api::router(state.metrics.clone()))
        .merge(crate::logs::api::router(state.logs.clone()))
        .fallback(crate::web::serve)
        // Innermost first: the body limit sees only authenticated requests, and request
        // metrics count rejections too.
        .layer(from_fn_with_state(state.clone(), body_limit::limit_body))
        .layer(from_fn_with_state(state.clone(), auth::require_auth))
        .layer(from_fn_with_state(state.clone(), http_metrics::track))
        .layer(CompressionLayer::new().gzip(true))
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.registry.render(),
    )
}
