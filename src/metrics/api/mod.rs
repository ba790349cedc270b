//! The Prometheus-compatible HTTP endpoints of the metrics side. Handlers are thin: they
//! parse the request, call the engines off the async runtime, and shape the response.

mod admin;
mod federate;
pub mod params;
pub mod query;
mod remote_read;
mod remote_write;
mod rules;
mod series;
mod targets;
mod tsdb_status;

use std::sync::{Arc, OnceLock, RwLock};

use axum::routing::{get, post};
use axum::Router;

use super::promql::{EngineOptions, ParseCache};
use super::remote::DecodeLimits;
use super::scrape::ScrapeManager;
use super::tsdb::Tsdb;
use crate::api_error::{ApiError, ErrorKind};

/// What the metrics handlers share. The database is set once storage has opened.
pub struct MetricsState {
    pub tsdb: OnceLock<Arc<Tsdb>>,
    pub scrape: OnceLock<Arc<ScrapeManager>>,
    pub write_limits: DecodeLimits,
    /// Permits for write requests in flight; see `server.limits.max_concurrent_writes`.
    pub write_permits: Arc<tokio::sync::Semaphore>,
    /// PromQL defaults and limits from the `query:` section.
    pub engine_options: EngineOptions,
    /// Parsed queries by their text, shared by all query requests
    /// (`query.parsed_query_cache_size`).
    pub parse_cache: Arc<ParseCache>,
    /// `global.external_labels`, added by `/federate`; replaced on reload.
    external_labels: RwLock<Vec<(String, String)>>,
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
            external_labels: RwLock::new(external_labels(config)),
            parse_cache: Arc::new(ParseCache::new(config.query.parsed_query_cache_size)),
            engine_options: EngineOptions {
                lookback_delta_ms: config.query.lookback_delta.as_millis(),
                max_samples: config.query.max_samples,
                timeout: config.query.timeout.as_duration(),
                max_points_per_series: i64::from(config.query.max_points_per_series),
                // Like Prometheus: subqueries without a step use the evaluation interval.
                default_subquery_step_ms: config.global.evaluation_interval.as_millis(),
            },
            write_limits: DecodeLimits {
                max_decompressed_bytes: usize::try_from(max_decompressed).unwrap_or(usize::MAX),
                max_labels_per_series: limits.max_labels_per_series,
                max_label_name_length: limits.max_label_name_length,
                max_label_value_length: limits.max_label_value_length,
            },
        }
    }
}

impl MetricsState {
    pub fn external_labels(&self) -> Vec<(String, String)> {
        self.external_labels
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Applies the parts of a reloaded config that the handlers read.
    pub fn apply_config(&self, config: &crate::config::Config) {
        *self
            .external_labels
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = external_labels(config);
    }
}

fn external_labels(config: &crate::config::Config) -> Vec<(String, String)> {
    config
        .global
        .external_labels
        .iter()
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

pub fn router(state: Arc<MetricsState>) -> Router {
    Router::new()
        .route("/api/v1/write", post(remote_write::write))
        .route("/api/v1/read", post(remote_read::read))
        .route("/api/v1/query", get(query::instant).post(query::instant))
        .route("/api/v1/query_range", get(query::range).post(query::range))
        .route(
            "/api/v1/format_query",
            get(query::format_query).post(query::format_query),
        )
        .route(
            "/api/v1/query_exemplars",
            get(query::exemplars).post(query::exemplars),
        )
        .route("/api/v1/series", get(series::series).post(series::series))
        .route(
            "/api/v1/labels",
            get(series::label_names).post(series::label_names),
        )
        .route("/api/v1/label/{name}/values", get(series::label_values))
        .route("/api/v1/targets", get(targets::targets))
        .route("/api/v1/rules", get(rules::rules))
        .route("/api/v1/alerts", get(rules::alerts))
        .route("/api/v1/status/tsdb", get(tsdb_status::tsdb_status))
        .route("/federate", get(federate::federate))
        .route(
            "/api/v1/admin/tsdb/delete_series",
            post(admin::delete_series).put(admin::delete_series),
        )
        .route(
            "/api/v1/admin/tsdb/snapshot",
            post(admin::snapshot).put(admin::snapshot),
        )
        .route("/api/v1/metadata", get(targets::metadata))
        .with_state(state)
}

/// The database, or 503 while storage is still opening.
fn tsdb(state: &MetricsState) -> Result<Arc<Tsdb>, ApiError> {
    state
        .tsdb
        .get()
        .cloned()
        .ok_or_else(|| ApiError::new(ErrorKind::Unavailable, "storage is still opening"))
}
