//! Log volume (`/loki/api/v1/index/volume` and `volume_range`): bytes of log text per
//! group of streams, where a group is the streams' values of the selector's label names
//! (or of `targetLabels`), or, aggregated by labels, one group per label name.

use std::collections::BTreeMap;

use super::{store_matchers, LogQueryError, MetricSeries};
use crate::logs::logql::Matcher as LogqlMatcher;
use crate::logs::store::LogStore;

type Labels = Vec<(String, String)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeAggregation {
    /// Groups are label name/value combinations (Loki's `aggregateBy=series`).
    Series,
    /// Groups are label names, each series `{name=""}` (Loki's `aggregateBy=labels`).
    Labels,
}

pub struct VolumeRequest<'a> {
    pub matchers: &'a [LogqlMatcher],
    pub start_ns: i64,
    pub end_ns: i64,
    /// `None`: one point at `end_ns` for the whole range (`volume`); `Some(step)`: points
    /// at `start + k·step`, each summing `(t − step, t]` (`volume_range`).
    pub step_ns: Option<i64>,
    /// Label names to group by instead of the selector's.
    pub target_labels: Option<Vec<String>>,
    pub aggregation: VolumeAggregation,
    /// At most this many series, the largest first.
    pub limit: usize,
}

/// The groups of one stream's labels.
fn groups_of(stream_labels: &Labels, request: &VolumeRequest, names: &[String]) -> Vec<Labels> {
    match request.aggregation {
        VolumeAggregation::Series => vec![stream_labels
            .iter()
            .filter(|(name, _)| names.contains(name))
            .cloned()
            .collect()],
        VolumeAggregation::Labels => stream_labels
            .iter()
            .filter(|(name, _)| request.target_labels.is_none() || names.contains(name))
            .map(|(name, _)| vec![(name.clone(), String::new())])
            .collect(),
    }
}

pub fn run_volume(
    store: &LogStore,
    tenant: &str,
    request: &VolumeRequest,
) -> Result<Vec<MetricSeries>, LogQueryError> {
    let matchers = store_matchers(request.matchers)?;
    let names: Vec<String> = match &request.target_labels {
        Some(targets) => targets.clone(),
        None => request
            .matchers
            .iter()
            .map(|matcher| matcher.name.clone())
            .collect(),
    };
    let streams = store.select_streams(tenant, &matchers, request.start_ns, request.end_ns);
    let ids: Vec<u64> = streams.iter().map(|info| info.id).collect();
    let read = store
        .read(&ids, request.start_ns, request.end_ns, &[])
        .map_err(|err| LogQueryError::Execution(err.to_string()))?;
    // Group → point time → bytes.
    let mut volumes: BTreeMap<Labels, BTreeMap<i64, f64>> = BTreeMap::new();
    for (stream, entries) in read {
        let Some(info) = streams.iter().find(|info| info.id == stream) else {
            continue;
        };
        for group in groups_of(&info.labels, request, &names) {
            let points = volumes.entry(group).or_default();
            for entry in &entries {
                let point = match request.step_ns {
                    None => request.end_ns,
                    Some(step) => {
                        // The first grid point at or after the entry.
                        let offset = entry.timestamp_ns - request.start_ns;
                        let last = (request.end_ns - request.start_ns).div_euclid(step);
                        request.start_ns + (offset + step - 1).div_euclid(step).min(last) * step
                    }
                };
                *points.entry(point).or_default() += entry.raw_len() as f64;
            }
        }
    }
    let mut series: Vec<(f64, MetricSeries)> = volumes
        .into_iter()
        .map(|(labels, points)| {
            let total = points.values().sum();
            let points = points.into_iter().collect();
            (total, MetricSeries { labels, points })
        })
        .collect();
    series.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| a.1.labels.cmp(&b.1.labels))
    });
    series.truncate(request.limit);
    Ok(series.into_iter().map(|(_, series)| series).collect())
}
