//! The Prometheus-compatible HTTP endpoints of the metrics side. Handlers are thin: they
//! parse the request, call the engines off the async runtime, and shape the response.

pub mod params;
mod remote_write;
mod series;
mod targets;

use std::sync::{Arc, OnceLock};

use axum::routing::{get, post};
use axum::Router;

use super::remote::DecodeLimits;
use super::scrape::ScrapeManager;
use super::tsdb::Tsdb;

/// What the metrics handlers share. The database is set once storage has opened.
pub struct MetricsState {
    pub tsdb: OnceLock<Arc<Tsdb>>,
    pub scrape: OnceLock<Arc<ScrapeManager>>,
    pub write_limits: DecodeLimits,
    /// Permits for write requests in flight; see `server.limits.max_concurrent_writes`.
    pub write_permits: Arc<tokio::sync::Semaphore>,
}

impl MetricsState {
    pub fn new(config: &crate::config::Config) -> MetricsState {
        let limits = &config.storage.tsdb.limits;
        let max_decompressed = config.server.limits.max_decompressed_body_size.bytes();
        MetricsState {
            tsdb: OnceLock::new(),
            scrape: OnceLock::new(),
            write_permits: Arc::new(tokio::sync::Semaphore::new(
                config.server.limits.max_concurrent_writes,
            )),
            write_limits: DecodeLimits {
                max_decompressed_bytes: usize::try_from(max_decompressed).unwrap_or(usize::MAX),
                max_labels_per_series: limits.max_labels_per_series,
                max_label_name_length: limits.max_label_name_length,
                max_label_value_length: limits.max_label_value_length,
            },
        }
    }
}

pub fn router(state: Arc<MetricsState>) -> Router {
    Router::new()
        .route("/api/v1/write", post(remote_write::write))
        .route("/api/v1/series", get(series::series).post(series::series))
        .route(
            "/api/v1/labels",
            get(series::label_names).post(series::label_names),
        )
        .route("/api/v1/label/{name}/values", get(series::label_values))
        .route("/api/v1/targets", get(targets::targets))
        .route("/api/v1/metadata", get(targets::metadata))
        .with_state(state)
}
