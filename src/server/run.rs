//! Start-up and shutdown order: lock the data directory, bind, serve (answering 503 on
//! `/-/ready`), open storage in the background, then wait for a signal and drain within
//! `server.shutdown_timeout`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::logs::store::{LogStore, LogStoreError, LogStoreOptions};
use crate::meta::{self, MetaError, MetaStore};
use crate::metrics::scrape::ScrapeManager;
use crate::metrics::tsdb::{Tsdb, TsdbError, TsdbOptions};
use crate::telemetry::process::ProcessCollector;

use super::build_info::BuildInfoCollector;
use super::data_dir_lock::DataDirLock;
use super::reload::{self, Overrides};
use super::router;
use super::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    DataDir(String),
    #[error("invalid server.listen: {0}")]
    ListenAddress(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    #[error("storage failed to open: {0}")]
    Storage(#[from] MetaError),
    #[error("metrics storage failed to open: {0}")]
    Tsdb(#[from] TsdbError),
    #[error("log storage failed to open: {0}")]
    Logs(#[from] LogStoreError),
    #[error("storage task failed: {0}")]
    StorageTask(String),
    #[error("http server failed: {0}")]
    Serve(std::io::Error),
}

/// Runs the server until SIGTERM/SIGINT (clean exit) or a fatal error.
pub async fn run(
    mut config: Config,
    config_path: Option<PathBuf>,
    overrides: Overrides,
) -> Result<(), ServerError> {
    let data_dir = config.data_dir();
    let _lock = DataDirLock::acquire(&data_dir).map_err(ServerError::DataDir)?;
    let addr = config
        .server
        .listen_addr()
        .map_err(ServerError::ListenAddress)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, source })?;
    tracing::info!(addr = %local_addr, data_dir = %data_dir.display(), "sightline listening");

    let shutdown_timeout = config.server.shutdown_timeout.as_duration();
    let configured_listen = config.server.listen.clone();
    config.retarget_static(&configured_listen, &local_addr.to_string());
    let state = Arc::new(AppState::new(
        config,
        config_path,
        overrides,
        local_addr.to_string(),
    ));
    state.registry.register(Arc::new(BuildInfoCollector));
    state
        .registry
        .register(Arc::new(ProcessCollector::default()));
    state.registry.register(state.http_metrics.clone());
    state.registry.register(state.reload_metrics.clone());
    state.reload_metrics.record_success();

    let (stop_tx, stop_rx) = watch::channel(false);
    let app = router::build(state.clone());
    let mut serve_stop = stop_rx.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = serve_stop.wait_for(|stop| *stop).await;
            })
            .await
    });

    let (fatal_tx, mut fatal_rx) = mpsc::channel::<ServerError>(1);
    let tsdb_options = {
        let config = state.config();
        let mut options = config.storage.tsdb.clone();
        options.retention_time = config.storage.retention.time;
        options.retention_size = config.storage.retention.size;
        options
    };
    let log_options = {
        let config = state.config();
        LogStoreOptions {
            retention_ns: config
                .logs
                .retention
                .time
                .as_millis()
                .saturating_mul(1_000_000),
            retention_bytes: config.logs.retention.size.bytes(),
            ..LogStoreOptions::default()
        }
    };
    tokio::spawn(open_storage(
        state.clone(),
        data_dir,
        tsdb_options,
        log_options,
        fatal_tx,
    ));

    let mut terminate = signal(SignalKind::terminate()).map_err(ServerError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(ServerError::Signals)?;
    let mut hangup = signal(SignalKind::hangup()).map_err(ServerError::Signals)?;
    let outcome = loop {
        tokio::select! {
            _ = terminate.recv() => { tracing::info!("received SIGTERM, shutting down"); break Ok(()); }
            _ = interrupt.recv() => { tracing::info!("received SIGINT, shutting down"); break Ok(()); }
            _ = hangup.recv() => {
                tracing::info!("received SIGHUP, reloading config");
                // Errors are logged and counted inside; the running config stays.
                let _ = reload::reload(&state).await;
            }
            Some(error) = fatal_rx.recv() => break Err(error),
        }
    };

    state.ready.store(false, Ordering::Release);
    let _ = stop_tx.send(true);
    if let Some(scrape) = state.metrics.scrape.get() {
        // Final staleness markers for every scraped series.
        if tokio::time::timeout(shutdown_timeout, scrape.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("scrape loops did not stop within the shutdown timeout");
        }
    }
    match tokio::time::timeout(shutdown_timeout, server).await {
        Ok(Ok(Ok(()))) => tracing::info!("http server drained"),
        Ok(Ok(Err(err))) => return Err(ServerError::Serve(err)),
        Ok(Err(join_err)) => tracing::error!(error = %join_err, "http server task failed"),
        Err(_) => {
            tracing::warn!(timeout = ?shutdown_timeout, "shutdown timeout reached with requests in flight; exiting")
        }
    }
    if let Some(tsdb) = state.metrics.tsdb.get() {
        if let Err(err) = tsdb.flush() {
            tracing::error!(error = %err, "flushing the metrics WAL at shutdown failed");
        }
    }
    if let Some(meta) = state.meta.get() {
        if let Err(err) = meta.flush() {
            tracing::error!(error = %err, "flushing the metadata store at shutdown failed");
        }
    }
    tracing::info!("sightline stopped");
    outcome
}

/// Runs `work` every `period` (the first time one period after the call) until the
/// server stops being ready; a slow round delays the next instead of bunching them.
async fn every_while_ready<F, Fut>(state: Arc<AppState>, period: std::time::Duration, mut work: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        if !state.ready.load(Ordering::Acquire) {
            return;
        }
        work().await;
    }
}

/// Re-runs discovery so file_sd changes are picked up without a reload.
async fn resync_periodically(state: Arc<AppState>, scrape: Arc<ScrapeManager>) {
    let config_source = state.clone();
    every_while_ready(state, FILE_SD_RESYNC, || {
        scrape.sync(&config_source.config());
        std::future::ready(())
    })
    .await;
}

/// Cuts the head into blocks, compacts and applies retention, off the async runtime.
async fn maintain_periodically(state: Arc<AppState>) {
    let source = state.clone();
    every_while_ready(state, TSDB_MAINTENANCE, || {
        let tsdb = source.metrics.tsdb.get().cloned();
        async move {
            let Some(tsdb) = tsdb else {
                return;
            };
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|elapsed| elapsed.as_millis() as i64)
                .unwrap_or(0);
            match tokio::task::spawn_blocking(move || tsdb.maintain(now_ms)).await {
                Ok(Ok(report)) => tracing::debug!(?report, "tsdb maintenance done"),
                Ok(Err(err)) => {
                    tracing::error!(error = %err, "tsdb maintenance failed; retrying next round")
                }
                Err(err) => tracing::error!(error = %err, "tsdb maintenance task failed"),
            }
        }
    })
    .await;
}

/// Moves closed head chunks out of the heap, then returns the allocator's free pages to
/// the OS, now and then: resident memory follows what the engines hold rather than their
/// past peaks.
async fn release_memory_periodically(state: Arc<AppState>) {
    let source = state.clone();
    every_while_ready(state, MEMORY_RELEASE, || {
        let tsdb = source.metrics.tsdb.get().cloned();
        async move {
            let _ = tokio::task::spawn_blocking(move || {
                if let Some(tsdb) = tsdb {
                    tsdb.spill_head_chunks();
                }
                super::memory::release_free_memory();
            })
            .await;
        }
    })
    .await;
}

/// Moves the log head into the index every second (so the WAL stays short) and applies
/// log retention right after the first flush, then every minute.
async fn flush_logs_periodically(logs: Arc<LogStore>) {
    let mut ticker = tokio::time::interval(LOG_FLUSH);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks = 0u64;
    loop {
        ticker.tick().await;
        ticks += 1;
        let store = logs.clone();
        let retention_due = ticks % 60 == 1;
        let outcome = tokio::task::spawn_blocking(move || {
            store.flush()?;
            if retention_due {
                let now_ns = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|elapsed| elapsed.as_nanos() as i64)
                    .unwrap_or(0);
                store.apply_retention(now_ns)?;
            }
            Ok::<_, crate::logs::store::LogStoreError>(())
        })
        .await;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::error!(error = %err, "log flush failed; retrying next round"),
            Err(err) => tracing::error!(error = %err, "log flush task failed"),
        }
    }
}

/// How often the log head is flushed into the log index.
const LOG_FLUSH: std::time::Duration = std::time::Duration::from_secs(1);

/// How often the head is checked for data to persist into blocks.
const TSDB_MAINTENANCE: std::time::Duration = std::time::Duration::from_secs(60);

/// How often closed head chunks are spilled and the allocator's free pages returned.
const MEMORY_RELEASE: std::time::Duration = std::time::Duration::from_secs(10);

/// How often file_sd files are re-read.
const FILE_SD_RESYNC: std::time::Duration = std::time::Duration::from_secs(5);

/// Opens the stores off the async runtime, then marks the server ready.
async fn open_storage(
    state: Arc<AppState>,
    data_dir: PathBuf,
    tsdb_options: TsdbOptions,
    log_options: LogStoreOptions,
    fatal: mpsc::Sender<ServerError>,
) {
    let opened = tokio::task::spawn_blocking(
        move || -> Result<(MetaStore, Tsdb, LogStore), ServerError> {
            let store = MetaStore::open(&data_dir.join("meta"))?;
            let version = meta::run_migrations(&store, meta::MIGRATIONS)?;
            tracing::info!(schema_version = version, "metadata store open");
            let tsdb = Tsdb::open(&data_dir.join("metrics"), tsdb_options)?;
            let logs = LogStore::open(&data_dir.join("logs"), log_options)?;
            // Replay's temporary buffers are gone; their pages need not stay resident.
            super::memory::release_free_memory();
            Ok((store, tsdb, logs))
        },
    )
    .await;
    let (store, tsdb, logs) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(err)) => {
            let _ = fatal.send(err).await;
            return;
        }
        Err(join_err) => {
            let _ = fatal
                .send(ServerError::StorageTask(join_err.to_string()))
                .await;
            return;
        }
    };
    let _ = state.meta.set(store);
    let logs = Arc::new(logs);
    state.registry.register(logs.clone());
    let _ = state.logs.store.set(logs.clone());
    crate::logs::self_logs::start_forwarding(logs.clone(), state.config().logs.self_logs);
    tokio::spawn(flush_logs_periodically(logs));
    let tsdb = Arc::new(tsdb);
    state.registry.register(tsdb.clone());
    let _ = state.metrics.tsdb.set(tsdb.clone());
    let scrape = Arc::new(ScrapeManager::new(tsdb));
    scrape.sync(&state.config());
    let _ = state.metrics.scrape.set(scrape.clone());
    tokio::spawn(resync_periodically(state.clone(), scrape));
    tokio::spawn(maintain_periodically(state.clone()));
    tokio::spawn(release_memory_periodically(state.clone()));
    state.ready.store(true, Ordering::Release);
    tracing::info!("sightline ready");
}
