//! Sightline: one binary for metrics (Prometheus-compatible), logs (Loki-compatible),
//! dashboards and alerting. See DESIGN in the repository for the architecture.

pub mod api_error;
pub mod config;
pub mod json_text;
pub mod logs;
pub mod meta;
pub mod metrics;
pub mod parallel;
pub mod prefetch;
pub mod server;
pub mod telemetry;
pub mod time_format;
pub mod web;
