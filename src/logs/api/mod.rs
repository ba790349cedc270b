//! The Loki-compatible HTTP endpoints. Handlers are thin: they parse the request, call the
//! log store (and LogQL) off the async runtime, and shape Loki's JSON.

mod labels;
mod push;
mod query;
mod tail;
mod volume;

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;

use super::push::{PushLimits, Rate, RateLimiter};
use super::store::{LogStore, DEFAULT_TENANT};
use crate::api_error::{ApiError, ErrorKind};

/// What the logs handlers share. The store is set once it has opened.
pub struct LogsState {
    pub store: OnceLock<Arc<LogStore>>,
    pub push_limits: PushLimits,
    /// Bytes per second per tenant (`ingestion_rate_mb`, `ingestion_burst_size_mb`).
    pub tenant_rate: RateLimiter<String>,
    /// Bytes per second per stream, keyed by tenant and label set.
    pub stream_rate: RateLimiter<(String, Vec<(String, String)>)>,
    pub tail_limits: TailLimits,
    /// Tail websockets open now.
    pub active_tailers: AtomicUsize,
}

/// Loki's "MB" in `ingestion_rate_mb`.
const MB: f64 = 1_048_576.0;

pub struct TailLimits {
    pub max_concurrent: usize,
    pub max_duration: Duration,
}

impl LogsState {
    pub fn new(config: &crate::config::Config) -> LogsState {
        let limits = &config.logs.limits;
        let to_usize = |value: u64| usize::try_from(value).unwrap_or(usize::MAX);
        LogsState {
            store: OnceLock::new(),
            push_limits: PushLimits {
                max_decompressed_bytes: to_usize(
                    config.server.limits.max_decompressed_body_size.bytes(),
                ),
                max_line_size: to_usize(limits.max_line_size.bytes()),
                max_label_names_per_series: limits.max_label_names_per_series as usize,
                max_label_name_length: limits.max_label_name_length as usize,
                max_label_value_length: limits.max_label_value_length as usize,
                reject_old_samples_max_age_ns: limits.reject_old_samples.then(|| {
                    limits
                        .reject_old_samples_max_age
                        .as_millis()
                        .saturating_mul(1_000_000)
                }),
                creation_grace_period_ns: limits
                    .creation_grace_period
                    .as_millis()
                    .saturating_mul(1_000_000),
            },
            tenant_rate: RateLimiter::new(Rate {
                bytes_per_second: limits.ingestion_rate_mb * MB,
                burst_bytes: limits.ingestion_burst_size_mb * MB,
            }),
            stream_rate: RateLimiter::new(Rate {
                bytes_per_second: limits.per_stream_rate_limit.bytes() as f64,
                burst_bytes: limits.per_stream_rate_limit_burst.bytes() as f64,
            }),
            tail_limits: TailLimits {
                max_concurrent: limits.max_concurrent_tail_requests as usize,
                max_duration: Duration::from_millis(
                    u64::try_from(limits.tail_max_duration.as_millis()).unwrap_or(u64::MAX),
                ),
            },
            active_tailers: AtomicUsize::new(0),
        }
    }
}

/// The store, or 503 while it is still opening.
fn store(state: &LogsState) -> Result<Arc<LogStore>, ApiError> {
    state
        .store
        .get()
        .cloned()
        .ok_or_else(|| ApiError::new(ErrorKind::Unavailable, "log store is still opening"))
}

/// The tenant of a request: `X-Scope-OrgID`, else Loki's single-tenant default.
fn tenant(headers: &axum::http::HeaderMap) -> String {
    headers
        .get("X-Scope-OrgID")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .unwrap_or(DEFAULT_TENANT)
        .to_string()
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as i64)
        .unwrap_or(0)
}

pub fn router(state: Arc<LogsState>) -> Router {
    Router::new()
        .route("/loki/api/v1/push", post(push::push))
        .route("/api/prom/push", post(push::push))
        .route(
            "/loki/api/v1/labels",
            get(labels::label_names).post(labels::label_names),
        )
        .route(
            "/loki/api/v1/label/{name}/values",
            get(labels::label_values),
        )
        .route(
            "/loki/api/v1/series",
            get(labels::series).post(labels::series),
        )
        .route("/loki/api/v1/index/stats", get(labels::index_stats))
        .route("/loki/api/v1/tail", get(tail::tail))
        .route(
            "/loki/api/v1/index/volume",
            get(volume::volume_instant).post(volume::volume_instant),
        )
        .route(
            "/loki/api/v1/index/volume_range",
            get(volume::volume_range).post(volume::volume_range),
        )
        .route(
            "/loki/api/v1/query_range",
            get(query::query_range).post(query::query_range),
        )
        .route(
            "/loki/api/v1/query",
            get(query::query_instant).post(query::query_instant),
        )
        .route(
            "/loki/api/v1/format_query",
            get(query::format_query).post(query::format_query),
        )
        .with_state(state)
}
