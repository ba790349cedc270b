//! The scrape manager: one pool per `scrape_configs` entry, one loop per target. `sync`
//! is called at start, on reload and periodically (for file_sd): unchanged targets keep
//! their loops, new ones start, vanished ones stop (and mark their series stale).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::metrics::tsdb::Tsdb;

use super::discovery::discover;
use super::http_client::build_client;
use super::relabel::compile_all;
use super::scrape_loop::{self, HealthSnapshot, LoopContext};
use super::target::{build_targets, DroppedTarget, LabelSet};

struct RunningLoop {
    context: Arc<LoopContext>,
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

#[derive(Default)]
struct Pool {
    /// The pool's config as JSON: when it changes, every loop of the pool restarts.
    fingerprint: String,
    loops: HashMap<(String, LabelSet), RunningLoop>,
    dropped: Vec<DroppedTarget>,
    errors: Vec<String>,
}

/// A target as `/api/v1/targets` shows it.
#[derive(Debug, Clone)]
pub struct TargetStatus {
    pub scrape_pool: String,
    pub url: String,
    pub labels: LabelSet,
    pub discovered_labels: LabelSet,
    pub interval_seconds: f64,
    pub timeout_seconds: f64,
    pub health: HealthSnapshot,
}

pub struct ScrapeManager {
    tsdb: Arc<Tsdb>,
    pools: Mutex<BTreeMap<String, Pool>>,
}

impl ScrapeManager {
    pub fn new(tsdb: Arc<Tsdb>) -> ScrapeManager {
        ScrapeManager {
            tsdb,
            pools: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Pool>> {
        self.pools
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Brings running loops in line with `config`. Must be called inside the runtime.
    pub fn sync(&self, config: &Config) {
        let mut pools = self.lock();
        let wanted: Vec<&str> = config
            .scrape_configs
            .iter()
            .map(|job| job.job_name.as_str())
            .collect();
        let removed: Vec<String> = pools
            .keys()
            .filter(|name| !wanted.contains(&name.as_str()))
            .cloned()
            .collect();
        for name in removed {
            if let Some(pool) = pools.remove(&name) {
                stop_loops(pool.loops.into_values());
            }
        }
        for job in &config.scrape_configs {
            let fingerprint = format!(
                "{}|{}",
                serde_json::to_string(job).unwrap_or_default(),
                serde_json::to_string(&config.global).unwrap_or_default()
            );
            let pool = pools.entry(job.job_name.clone()).or_default();
            if pool.fingerprint != fingerprint {
                stop_loops(std::mem::take(&mut pool.loops).into_values());
                pool.fingerprint = fingerprint;
            }
            pool.errors.clear();
            let rules = match compile_all(&job.relabel_configs) {
                Ok(rules) => rules,
                Err(err) => {
                    pool.errors.push(format!("relabel_configs: {err}"));
                    continue;
                }
            };
            let metric_rules = match compile_all(&job.metric_relabel_configs) {
                Ok(rules) => Arc::new(rules),
                Err(err) => {
                    pool.errors.push(format!("metric_relabel_configs: {err}"));
                    continue;
                }
            };
            let (groups, problems) = discover(job, &config.base_dir);
            pool.errors.extend(problems);
            let (targets, dropped) = build_targets(job, &config.global, &groups, &rules);
            pool.dropped = dropped;
            let limits = job.effective_limits(&config.global);
            let mut keep: HashMap<(String, LabelSet), RunningLoop> = HashMap::new();
            for target in targets {
                let key = (target.url.clone(), target.labels.clone());
                if let Some(running) = pool.loops.remove(&key) {
                    keep.insert(key, running);
                    continue;
                }
                if limits.target_limit > 0 && keep.len() as u64 >= limits.target_limit {
                    pool.errors.push(format!(
                        "target_limit of {} exceeded; further targets are not scraped",
                        limits.target_limit
                    ));
                    break;
                }
                let client = match build_client(
                    &job.http_client(),
                    &config.base_dir,
                    target.timeout,
                    job.enable_compression,
                ) {
                    Ok(client) => client,
                    Err(err) => {
                        pool.errors.push(err);
                        continue;
                    }
                };
                let context = Arc::new(LoopContext {
                    target,
                    client,
                    tsdb: self.tsdb.clone(),
                    metric_rules: metric_rules.clone(),
                    honor_labels: job.honor_labels,
                    honor_timestamps: job.honor_timestamps,
                    track_timestamps_staleness: job.track_timestamps_staleness,
                    accept: scrape_loop::accept_header(
                        &job.effective_scrape_protocols(&config.global),
                    ),
                    limits,
                    health: Arc::new(Mutex::new(HealthSnapshot::default())),
                });
                let (stop, stop_rx) = watch::channel(false);
                let handle = tokio::spawn(scrape_loop::run(context.clone(), stop_rx));
                keep.insert(
                    key,
                    RunningLoop {
                        context,
                        stop,
                        handle,
                    },
                );
            }
            stop_loops(std::mem::replace(&mut pool.loops, keep).into_values());
            for error in &pool.errors {
                tracing::warn!(job = %job.job_name, %error, "scrape pool problem");
            }
        }
    }

    /// Active targets, sorted by pool and URL.
    pub fn active_targets(&self) -> Vec<TargetStatus> {
        let pools = self.lock();
        let mut targets: Vec<TargetStatus> = pools
            .values()
            .flat_map(|pool| pool.loops.values())
            .map(|running| {
                let target = &running.context.target;
                TargetStatus {
                    scrape_pool: target.scrape_pool.clone(),
                    url: target.url.clone(),
                    labels: target.labels.clone(),
                    discovered_labels: target.discovered_labels.clone(),
                    interval_seconds: target.interval.as_secs_f64(),
                    timeout_seconds: target.timeout.as_secs_f64(),
                    health: running
                        .context
                        .health
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .clone(),
                }
            })
            .collect();
        targets.sort_by(|a, b| {
            (&a.scrape_pool, &a.url, &a.labels).cmp(&(&b.scrape_pool, &b.url, &b.labels))
        });
        targets
    }

    /// Targets relabeling dropped, with their pool.
    pub fn dropped_targets(&self) -> Vec<(String, DroppedTarget)> {
        self.lock()
            .iter()
            .flat_map(|(name, pool)| {
                pool.dropped
                    .iter()
                    .map(move |dropped| (name.clone(), dropped.clone()))
            })
            .collect()
    }

    /// Problems per pool (unreadable file_sd files, client set-up errors).
    pub fn pool_errors(&self) -> Vec<(String, String)> {
        self.lock()
            .iter()
            .flat_map(|(name, pool)| {
                pool.errors
                    .iter()
                    .map(move |error| (name.clone(), error.clone()))
            })
            .collect()
    }

    /// Stops every loop and waits for their final staleness writes.
    pub async fn shutdown(&self) {
        let handles: Vec<JoinHandle<()>> = {
            let mut pools = self.lock();
            let loops: Vec<RunningLoop> = std::mem::take(&mut *pools)
                .into_values()
                .flat_map(|pool| pool.loops.into_values())
                .collect();
            loops
                .into_iter()
                .map(|running| {
                    let _ = running.stop.send(true);
                    running.handle
                })
                .collect()
        };
        for handle in handles {
            let _ = handle.await;
        }
    }
}

fn stop_loops(loops: impl Iterator<Item = RunningLoop>) {
    for running in loops {
        let _ = running.stop.send(true);
    }
}
