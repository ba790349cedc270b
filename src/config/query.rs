//! The `query:` section: PromQL evaluation defaults and limits.

use serde::{Deserialize, Serialize};

use super::duration::PromDuration;
use super::problems::Problems;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    /// How far back an instant selector looks for a sample (Prometheus
    /// `--query.lookback-delta`).
    pub lookback_delta: PromDuration,
    /// Longest a query may run before it fails with `timeout`.
    pub timeout: PromDuration,
    /// Most samples one query may hold in memory (Prometheus `--query.max-samples`).
    pub max_samples: usize,
    /// Most points per series a range query may return.
    pub max_points_per_series: u32,
    /// Most parsed queries kept by their text for the next request with the same text
    /// (dashboards refresh the same queries); 0 parses every query afresh.
    pub parsed_query_cache_size: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            lookback_delta: PromDuration::from_secs(300),
            timeout: PromDuration::from_secs(120),
            max_samples: 50_000_000,
            max_points_per_series: 11_000,
            parsed_query_cache_size: 1024,
        }
    }
}

impl QueryConfig {
    pub fn validate(&self, problems: &mut Problems) {
        for (key, value) in [
            ("query.lookback_delta", &self.lookback_delta),
            ("query.timeout", &self.timeout),
        ] {
            if value.is_zero() {
                problems.push(key, "must be greater than 0");
            }
        }
        if self.max_samples == 0 {
            problems.push("query.max_samples", "must be greater than 0");
        }
        if self.max_points_per_series == 0 {
            problems.push("query.max_points_per_series", "must be greater than 0");
        }
    }
}
