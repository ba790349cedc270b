//! Request counting and latency by handler and status code, and the request log line.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::telemetry::{
    Collect, LabeledCounter, LabeledHistogram, MetricKind, TextWriter, LATENCY_BUCKETS,
};

use super::state::AppState;

pub struct HttpMetrics {
    requests: LabeledCounter<2>,
    durations: LabeledHistogram<1>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics {
            requests: LabeledCounter::new(["handler", "code"]),
            durations: LabeledHistogram::new(["handler"], LATENCY_BUCKETS),
        }
    }
}

impl HttpMetrics {
    pub fn requests_with(&self, handler: &str, code: &str) -> u64 {
        self.requests.get([handler, code])
    }
}

impl Collect for HttpMetrics {
    fn collect(&self, out: &mut TextWriter) {
        out.family(
            "sightline_http_requests_total",
            MetricKind::Counter,
            "HTTP requests served, by route and status code.",
        );
        self.requests.write(out, "sightline_http_requests_total");
        out.family(
            "sightline_http_request_duration_seconds",
            MetricKind::Histogram,
            "HTTP request latency by route.",
        );
        self.durations
            .write(out, "sightline_http_request_duration_seconds");
    }
}

/// Records the request under its route pattern (not the raw path, so cardinality stays
/// bounded); routes served by the UI fallback count as `/`.
pub async fn track(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let handler = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());
    let method = request.method().clone();
    let uri = request.uri().path().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let code = response.status().as_u16().to_string();
    state.http_metrics.requests.inc([&handler, &code]);
    state
        .http_metrics
        .durations
        .observe([&handler], elapsed.as_secs_f64());
    tracing::debug!(%method, path = %uri, status = %code, elapsed_ms = elapsed.as_secs_f64() * 1e3, "request");
    response
}
