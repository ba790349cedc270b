//! One target's scrape loop: fetch on a fixed interval (spread by a stable per-target
//! offset), parse, attach target labels, metric-relabel, enforce limits, append, write the
//! synthetic `up`/`scrape_*` series, and mark vanished series stale.

use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::config::scrape::ScrapeLimits;
use crate::metrics::tsdb::{AppendSeries, Tsdb, STALE_NAN_BITS};

use super::parse::{self, ACCEPT_HEADER};
use super::relabel::{relabel, CompiledRelabel};
use super::target::{LabelSet, Target};
use crate::config::scrape::ScrapeProtocol;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Unknown,
    Up,
    Down,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// What `/api/v1/targets` and `/api/v1/metadata` show of a target.
#[derive(Debug, Clone)]
pub struct HealthSnapshot {
    pub health: Health,
    pub last_error: String,
    pub last_scrape_ms: i64,
    pub last_duration_seconds: f64,
    pub last_samples: u64,
    /// family → (type, help, unit) from the last successful scrape.
    pub metadata: BTreeMap<String, (String, String, String)>,
}

impl Default for HealthSnapshot {
    fn default() -> Self {
        HealthSnapshot {
            health: Health::Unknown,
            last_error: String::new(),
            last_scrape_ms: 0,
            last_duration_seconds: 0.0,
            last_samples: 0,
            metadata: BTreeMap::new(),
        }
    }
}

/// Everything a loop needs; shared read-only with the manager.
pub struct LoopContext {
    pub target: Target,
    pub client: reqwest::Client,
    pub tsdb: Arc<Tsdb>,
    pub metric_rules: Arc<Vec<CompiledRelabel>>,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    /// Also mark series with explicit timestamps stale when they vanish.
    pub track_timestamps_staleness: bool,
    /// The `Accept` header, from `scrape_protocols`.
    pub accept: String,
    pub limits: ScrapeLimits,
    pub health: Arc<Mutex<HealthSnapshot>>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}

/// A stable offset within the interval, so targets do not all scrape at once.
fn offset_for(target: &Target) -> Duration {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    target.url.hash(&mut hasher);
    target.labels.hash(&mut hasher);
    let interval_ms = target.interval.as_millis().max(1) as u64;
    Duration::from_millis(hasher.finish() % interval_ms)
}

/// Runs until `stop` turns true, then marks every series it wrote stale.
pub async fn run(context: Arc<LoopContext>, mut stop: watch::Receiver<bool>) {
    let mut next = tokio::time::Instant::now() + offset_for(&context.target);
    let mut previous: HashSet<LabelSet> = HashSet::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = stop.wait_for(|stop| *stop) => break,
        }
        next += context.target.interval;
        // After a long stall, skip missed scrapes rather than bursting.
        let now = tokio::time::Instant::now();
        while next <= now {
            next += context.target.interval;
        }
        previous = scrape_once(&context, previous).await;
    }
    if !previous.is_empty() {
        let timestamp = now_ms();
        let stale: Vec<(LabelSet, Vec<(i64, f64)>)> = previous
            .into_iter()
            .map(|labels| (labels, vec![(timestamp, f64::from_bits(STALE_NAN_BITS))]))
            .collect();
        let _ = append(&context.tsdb, stale).await;
    }
}

/// One scrape; returns the series written at scrape time (for staleness next round).
async fn scrape_once(context: &LoopContext, previous: HashSet<LabelSet>) -> HashSet<LabelSet> {
    let scrape_time = now_ms();
    let started = Instant::now();
    let fetched = fetch(context).await;
    let parsed = fetched.and_then(|(body, content_type)| {
        build_series(context, &body, content_type.as_deref(), scrape_time)
    });
    let (mut series, scraped, metadata, error) = match parsed {
        Ok(parsed) => (parsed.series, parsed.scraped, Some(parsed.metadata), None),
        Err(error) => (Vec::new(), 0, None, Some(error)),
    };
    let post_relabel = series.len() as u64;
    let current: HashSet<LabelSet> = series
        .iter()
        .filter(|(_, samples)| {
            context.track_timestamps_staleness
                || samples.first().is_some_and(|(t, _)| *t == scrape_time)
        })
        .map(|(labels, _)| labels.clone())
        .collect();
    // As Prometheus's scrape cache counts it: series this target did not expose last time.
    let series_added = current.difference(&previous).count() as u64;
    for labels in previous.difference(&current) {
        series.push((
            labels.clone(),
            vec![(scrape_time, f64::from_bits(STALE_NAN_BITS))],
        ));
    }
    let mut error = error;
    match append(&context.tsdb, series).await {
        Ok(problems) => {
            if error.is_none() && !problems.is_empty() {
                tracing::debug!(target = %context.target.url, problems = ?problems, "some scraped samples were refused");
            }
        }
        Err(storage_error) => error = Some(storage_error),
    }
    let duration = started.elapsed().as_secs_f64();
    let up = if error.is_none() { 1.0 } else { 0.0 };
    let report = [
        ("up", up),
        ("scrape_duration_seconds", duration),
        ("scrape_samples_scraped", scraped as f64),
        (
            "scrape_samples_post_metric_relabeling",
            if error.is_none() {
                post_relabel as f64
            } else {
                0.0
            },
        ),
        ("scrape_series_added", series_added as f64),
    ];
    let report_series: Vec<(LabelSet, Vec<(i64, f64)>)> = report
        .iter()
        .map(|(name, value)| {
            (
                with_name(&context.target.labels, name),
                vec![(scrape_time, *value)],
            )
        })
        .collect();
    if let Err(storage_error) = append(&context.tsdb, report_series).await {
        tracing::warn!(target = %context.target.url, error = %storage_error, "cannot store scrape report");
    }
    let mut health = context
        .health
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    health.health = if error.is_none() {
        Health::Up
    } else {
        Health::Down
    };
    health.last_error = error.clone().unwrap_or_default();
    health.last_scrape_ms = scrape_time;
    health.last_duration_seconds = duration;
    health.last_samples = scraped;
    if let Some(metadata) = metadata {
        health.metadata = metadata;
    }
    drop(health);
    if let Some(error) = &error {
        tracing::debug!(target = %context.target.url, %error, "scrape failed");
        // A failed scrape makes everything the target exposed stale, as in Prometheus.
        return HashSet::new();
    }
    current
}

/// The `Accept` header for `protocols`, preferred first, as Prometheus builds it. The
/// protobuf format is not parsed here, so it is not asked for; with nothing left, the
/// default header is used.
pub fn accept_header(protocols: &[ScrapeProtocol]) -> String {
    let media_types: Vec<&str> = protocols
        .iter()
        .filter_map(|protocol| match protocol {
            ScrapeProtocol::PrometheusProto => None,
            ScrapeProtocol::OpenMetricsText1_0_0 => {
                Some("application/openmetrics-text;version=1.0.0")
            }
            ScrapeProtocol::OpenMetricsText0_0_1 => {
                Some("application/openmetrics-text;version=0.0.1")
            }
            ScrapeProtocol::PrometheusText0_0_4 => Some("text/plain;version=0.0.4"),
            ScrapeProtocol::PrometheusText1_0_0 => Some("text/plain;version=1.0.0"),
        })
        .collect();
    if media_types.is_empty() {
        return ACCEPT_HEADER.to_string();
    }
    let mut header: Vec<String> = media_types
        .iter()
        .enumerate()
        .map(|(rank, media_type)| format!("{media_type};q={:.1}", 0.9 - 0.1 * rank as f64))
        .collect();
    header.push("*/*;q=0.1".to_string());
    header.join(",")
}

fn with_name(target_labels: &LabelSet, name: &str) -> LabelSet {
    let mut labels = target_labels.clone();
    let position = labels.partition_point(|(label, _)| label.as_str() < "__name__");
    labels.insert(position, ("__name__".to_string(), name.to_string()));
    labels
}

async fn fetch(context: &LoopContext) -> Result<(Vec<u8>, Option<String>), String> {
    let timeout_seconds = context.target.timeout.as_secs_f64().to_string();
    let request = context
        .client
        .get(&context.target.url)
        .timeout(context.target.timeout)
        .header(reqwest::header::ACCEPT, &context.accept)
        .header("X-Prometheus-Scrape-Timeout-Seconds", timeout_seconds);
    let mut response = request
        .send()
        .await
        .map_err(|err| describe_request_error(&err))?;
    if !response.status().is_success() {
        return Err(format!("server returned HTTP status {}", response.status()));
    }
    let limit = context.limits.body_size_limit.bytes();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| describe_request_error(&err))?
    {
        body.extend_from_slice(&chunk);
        if limit > 0 && body.len() as u64 > limit {
            return Err(format!(
                "body size limit exceeded: more than {limit} bytes (body_size_limit)"
            ));
        }
    }
    Ok((body, content_type))
}

fn describe_request_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "context deadline exceeded (scrape timeout)".to_string();
    }
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

struct BuiltScrape {
    series: Vec<(LabelSet, Vec<(i64, f64)>)>,
    scraped: u64,
    metadata: BTreeMap<String, (String, String, String)>,
}

/// Parses the body and turns samples into labelled series, applying honor_labels,
/// metric relabeling and the limits.
fn build_series(
    context: &LoopContext,
    body: &[u8],
    content_type: Option<&str>,
    scrape_time: i64,
) -> Result<BuiltScrape, String> {
    let exposition =
        parse::parse(body, content_type).map_err(|err| format!("parse error: {err}"))?;
    let metadata = exposition
        .metadata
        .iter()
        .map(|entry| {
            (
                entry.family.clone(),
                (
                    entry.kind.as_str().to_string(),
                    entry.help.clone(),
                    entry.unit.clone(),
                ),
            )
        })
        .collect();
    let target_labels = &context.target.labels;
    let limits = &context.limits;
    let mut series = Vec::with_capacity(exposition.samples.len());
    for sample in &exposition.samples {
        let mut labels: LabelSet = target_labels.clone();
        for (name, value) in &sample.labels {
            insert_scraped_label(&mut labels, name, value, context.honor_labels);
        }
        insert_scraped_label(&mut labels, "__name__", &sample.name, true);
        labels.retain(|(_, value)| !value.is_empty());
        if !relabel(&mut labels, &context.metric_rules) {
            continue;
        }
        if limits.label_limit > 0 && labels.len() as u64 > limits.label_limit {
            return Err(format!(
                "label_limit exceeded: {} labels on {}",
                labels.len(),
                sample.name
            ));
        }
        for (name, value) in &labels {
            if limits.label_name_length_limit > 0
                && name.len() as u64 > limits.label_name_length_limit
            {
                return Err(format!(
                    "label_name_length_limit exceeded: label {name:?} on {}",
                    sample.name
                ));
            }
            if limits.label_value_length_limit > 0
                && value.len() as u64 > limits.label_value_length_limit
            {
                return Err(format!(
                    "label_value_length_limit exceeded: label {name} on {}",
                    sample.name
                ));
            }
        }
        let timestamp = match sample.timestamp_ms {
            Some(explicit) if context.honor_timestamps => explicit,
            _ => scrape_time,
        };
        series.push((labels, vec![(timestamp, sample.value)]));
    }
    if limits.sample_limit > 0 && series.len() as u64 > limits.sample_limit {
        return Err(format!(
            "sample_limit exceeded: {} samples, limit {}",
            series.len(),
            limits.sample_limit
        ));
    }
    Ok(BuiltScrape {
        scraped: exposition.samples.len() as u64,
        series,
        metadata,
    })
}

/// Adds a scraped label to the sorted target labels. On a clash the target label wins and
/// the scraped one becomes `exported_<name>`, unless `honor_labels` keeps the scraped one.
fn insert_scraped_label(labels: &mut LabelSet, name: &str, value: &str, honor: bool) {
    let mut name = name.to_string();
    loop {
        match labels.binary_search_by(|(label, _)| label.as_str().cmp(&name)) {
            Ok(position) if honor => {
                labels[position].1 = value.to_string();
                return;
            }
            Ok(_) => name = format!("exported_{name}"),
            Err(position) => {
                labels.insert(position, (name, value.to_string()));
                return;
            }
        }
    }
}

/// Appends off the async runtime; returns (series created, refused-sample messages).
async fn append(
    tsdb: &Arc<Tsdb>,
    series: Vec<(LabelSet, Vec<(i64, f64)>)>,
) -> Result<Vec<String>, String> {
    if series.is_empty() {
        return Ok(Vec::new());
    }
    let tsdb = tsdb.clone();
    tokio::task::spawn_blocking(move || {
        let label_refs: Vec<Vec<(&str, &str)>> = series
            .iter()
            .map(|(labels, _)| {
                labels
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect()
            })
            .collect();
        let batch: Vec<AppendSeries<'_>> = series
            .iter()
            .zip(&label_refs)
            .map(|((_, samples), labels)| AppendSeries::new(labels, samples))
            .collect();
        tsdb.append(&batch)
            .map(|report| report.errors)
            .map_err(|err| format!("storage error: {err}"))
    })
    .await
    .map_err(|err| format!("append task failed: {err}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn clashing_labels_are_exported_unless_honored() {
        let mut set = labels(&[("instance", "t:1"), ("job", "node")]);
        insert_scraped_label(&mut set, "job", "app", false);
        assert_eq!(
            set,
            labels(&[
                ("exported_job", "app"),
                ("instance", "t:1"),
                ("job", "node")
            ])
        );
        insert_scraped_label(&mut set, "job", "other", false);
        assert!(set.contains(&("exported_exported_job".to_string(), "other".to_string())));
        let mut honored = labels(&[("instance", "t:1"), ("job", "node")]);
        insert_scraped_label(&mut honored, "job", "app", true);
        assert_eq!(honored, labels(&[("instance", "t:1"), ("job", "app")]));
    }

    #[test]
    fn accept_header_follows_scrape_protocols() {
        assert_eq!(
            accept_header(&[ScrapeProtocol::PrometheusText0_0_4, ScrapeProtocol::OpenMetricsText1_0_0]),
            "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.8,*/*;q=0.1"
        );
        assert_eq!(
            accept_header(&[ScrapeProtocol::PrometheusProto]),
            ACCEPT_HEADER
        );
    }

    #[test]
    fn name_goes_in_sorted_place() {
        let set = with_name(&labels(&[("a", "1"), ("job", "x")]), "up");
        assert_eq!(set, labels(&[("__name__", "up"), ("a", "1"), ("job", "x")]));
    }
}
