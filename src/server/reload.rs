//! Re-reading the config file on SIGHUP or `POST /-/reload`. An invalid file keeps the
//! running config; the error is logged, counted and returned.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;

use crate::config::{self, Config};
use crate::telemetry::{Collect, MetricKind, TextWriter};

use super::state::AppState;

/// Command-line flags that win over the file, on start and on every reload.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
}

impl Overrides {
    pub fn apply(&self, config: &mut Config) {
        if let Some(listen) = self.listen {
            let from_file = config.server.listen.clone();
            config.server.listen = listen.to_string();
            config.retarget_static(&from_file, &config.server.listen.clone());
        }
        if let Some(data_dir) = &self.data_dir {
            config.storage.path = data_dir.clone();
            // A flag is relative to the working directory, not to the config file.
            if data_dir.is_relative() {
                if let Ok(cwd) = std::env::current_dir() {
                    config.storage.path = cwd.join(data_dir);
                }
            }
        }
    }
}

#[derive(Default)]
pub struct ReloadMetrics {
    last_success: AtomicU64,
    last_success_timestamp_seconds: AtomicU64,
    failures: AtomicU64,
}

impl ReloadMetrics {
    pub fn record_success(&self) {
        self.last_success.store(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0);
        self.last_success_timestamp_seconds
            .store(now, Ordering::Relaxed);
    }

    pub fn last_reload_successful(&self) -> bool {
        self.last_success.load(Ordering::Relaxed) == 1
    }

    pub fn last_success_rfc3339(&self) -> String {
        let seconds = self.last_success_timestamp_seconds.load(Ordering::Relaxed);
        crate::time_format::rfc3339_millis(seconds as i64 * 1000)
    }

    fn record_failure(&self) {
        self.last_success.store(0, Ordering::Relaxed);
        self.failures.fetch_add(1, Ordering::Relaxed);
    }
}

impl Collect for ReloadMetrics {
    fn collect(&self, out: &mut TextWriter) {
        out.single(
            "sightline_config_last_reload_successful",
            MetricKind::Gauge,
            "Whether the last configuration reload attempt was successful.",
            self.last_success.load(Ordering::Relaxed) as f64,
        );
        out.single(
            "sightline_config_last_reload_success_timestamp_seconds",
            MetricKind::Gauge,
            "Timestamp of the last successful configuration reload.",
            self.last_success_timestamp_seconds.load(Ordering::Relaxed) as f64,
        );
        out.single(
            "sightline_config_reload_failures_total",
            MetricKind::Counter,
            "Configuration reloads that failed and kept the running config.",
            self.failures.load(Ordering::Relaxed) as f64,
        );
    }
}

/// Re-reads the config file. Settings that need a restart (listen address, data
/// directory) keep their running values, with a warning.
pub async fn reload(state: &AppState) -> Result<(), String> {
    let _serialized = state.reload_lock.lock().await;
    let Some(path) = state.config_path.clone() else {
        return Err("running on the embedded default config; there is no file to reload (start with --config FILE)".to_string());
    };
    let loaded = tokio::task::spawn_blocking(move || config::load_file(&path))
        .await
        .map_err(|err| format!("reload task failed: {err}"))?;
    let mut new_config = match loaded {
        Ok(config) => config,
        Err(err) => {
            state.reload_metrics.record_failure();
            tracing::error!(error = %err, "config reload failed; keeping the running config");
            return Err(err.to_string());
        }
    };
    state.overrides.apply(&mut new_config);
    let configured_listen = new_config.server.listen.clone();
    new_config.retarget_static(&configured_listen, &state.bound_addr);
    let running = state.config();
    if new_config.server.listen != running.server.listen
        || new_config.data_dir() != running.data_dir()
    {
        tracing::warn!("server.listen and storage.path changes take effect at the next restart");
        new_config.server.listen = running.server.listen.clone();
        new_config.storage.path = running.storage.path.clone();
        new_config.base_dir = running.base_dir.clone();
    }
    state.metrics.apply_config(&new_config);
    state.replace_config(new_config);
    if let Some(scrape) = state.metrics.scrape.get() {
        scrape.sync(&state.config());
    }
    state.reload_metrics.record_success();
    tracing::info!("config reloaded");
    Ok(())
}

/// `POST /-/reload` (and `PUT`, as Prometheus accepts).
pub async fn reload_handler(State(state): State<Arc<AppState>>) -> (StatusCode, String) {
    match reload(&state).await {
        Ok(()) => (StatusCode::OK, "config reloaded\n".to_string()),
        Err(message) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {message}\n"),
        ),
    }
}
