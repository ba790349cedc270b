//! The HTTP server: assembles the axum router, middleware (auth, body limits, request
//! metrics and logs, gzip), health and readiness, self-metrics, config reload, the
//! data-directory lock and graceful shutdown. It owns start-up order and wires the engines
//! together; it holds no engine logic itself.

mod auth;
mod body_limit;
mod build_info;
mod data_dir_lock;
mod health;
mod http_metrics;
mod memory;
mod reload;
mod router;
mod run;
mod state;
mod status;

pub use crate::api_error::{ApiError, ErrorKind};
pub use build_info::BuildInfo;
pub use data_dir_lock::DataDirLock;
pub use reload::Overrides;
pub use run::{run, ServerError};
pub use state::AppState;
