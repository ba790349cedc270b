//! What every handler shares: the running config, readiness, metrics, the stores.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock, RwLock};

use crate::config::Config;
use crate::logs::api::LogsState;
use crate::meta::MetaStore;
use crate::metrics::api::MetricsState;
use crate::telemetry::Registry;

use super::http_metrics::HttpMetrics;
use super::reload::{Overrides, ReloadMetrics};

pub struct AppState {
    config: RwLock<Arc<Config>>,
    /// The file reloads re-read; `None` when running on the embedded default.
    pub config_path: Option<PathBuf>,
    pub overrides: Overrides,
    /// Set once storage has opened and replayed; `/-/ready` answers 503 until then.
    pub ready: AtomicBool,
    pub registry: Registry,
    pub http_metrics: Arc<HttpMetrics>,
    pub reload_metrics: Arc<ReloadMetrics>,
    /// Filled in once storage has opened.
    pub meta: OnceLock<MetaStore>,
    pub metrics: Arc<MetricsState>,
    pub logs: Arc<LogsState>,
    /// Serializes reloads so two SIGHUPs cannot interleave.
    pub reload_lock: tokio::sync::Mutex<()>,
    /// RFC 3339 start time, for `/api/v1/status/runtimeinfo`.
    pub started_at: String,
    /// The address actually bound (differs from the config with port 0).
    pub bound_addr: String,
}

impl AppState {
    pub fn new(
        config: Config,
        config_path: Option<PathBuf>,
        overrides: Overrides,
        bound_addr: String,
    ) -> Self {
        let metrics = Arc::new(MetricsState::new(&config));
        let logs = Arc::new(LogsState::new(&config));
        AppState {
            config: RwLock::new(Arc::new(config)),
            config_path,
            overrides,
            ready: AtomicBool::new(false),
            registry: Registry::new(),
            http_metrics: Arc::new(HttpMetrics::default()),
            reload_metrics: Arc::new(ReloadMetrics::default()),
            meta: OnceLock::new(),
            metrics,
            logs,
            reload_lock: tokio::sync::Mutex::new(()),
            started_at: crate::time_format::now_rfc3339(),
            bound_addr,
        }
    }

    /// The running config (a cheap clone of an `Arc`).
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub(super) fn replace_config(&self, config: Config) {
        *self
            .config
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(config);
    }
}
