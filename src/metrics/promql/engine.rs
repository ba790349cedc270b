//! [`Engine`]: parses a query, evaluates it over a time range and shapes the result.

use std::sync::Arc;
use std::time::Duration;

use promql_parser::parser::Expr;

use super::error::QueryError;
use super::parse_cache::{parse_uncached, ParseCache};
use super::storage::Storage;
use super::value::QueryValue;

/// Evaluation limits and defaults; every one is a config value.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (Prometheus default 5m).
    pub lookback_delta_ms: i64,
    /// Most samples a query may hold in memory at once.
    pub max_samples: usize,
    /// Longest a query may run.
    pub timeout: Duration,
    /// Most points per series a range query may return (Prometheus: 11 000).
    pub max_points_per_series: i64,
    /// Resolution of subqueries written without a step (Prometheus: the global
    /// evaluation interval, 1m by default).
    pub default_subquery_step_ms: i64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta_ms: 5 * 60 * 1000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            max_points_per_series: 11_000,
            default_subquery_step_ms: 60 * 1000,
        }
    }
}

/// A query's value plus the annotations Prometheus would return beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub value: QueryValue,
    /// Full texts, e.g. `PromQL warning: …`.
    pub warnings: Vec<String>,
    /// Full texts, e.g. `PromQL info: …`.
    pub infos: Vec<String>,
}

pub struct Engine {
    options: EngineOptions,
    parse_cache: Option<Arc<ParseCache>>,
}

impl Engine {
    pub fn new(options: EngineOptions) -> Engine {
        Engine {
            options,
            parse_cache: None,
        }
    }

    /// An engine that takes parsed queries from `cache` (shared across requests).
    pub fn with_parse_cache(options: EngineOptions, cache: Arc<ParseCache>) -> Engine {
        Engine {
            options,
            parse_cache: Some(cache),
        }
    }

    /// The parsed form of `query`, from the cache when there is one.
    pub(super) fn parse(&self, query: &str) -> Result<Arc<Expr>, QueryError> {
        match &self.parse_cache {
            Some(cache) => cache.parse(query),
            None => parse_uncached(query).map(Arc::new),
        }
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Evaluates `query` at `time_ms`: a scalar, string, vector, or (for a range selector
    /// or subquery at the top) a matrix.
    pub fn instant_query(
        &self,
        storage: &dyn Storage,
        query: &str,
        time_ms: i64,
    ) -> Result<QueryResult, QueryError> {
        self.instant_query_cancellable(storage, query, time_ms, &Cancel::never())
    }

    /// Evaluates `query` at every step from `start_ms` to `end_ms` (inclusive); the result
    /// is always a matrix. Strings and range vectors are refused as Prometheus does.
    pub fn range_query(
        &self,
        storage: &dyn Storage,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, QueryError> {
        self.range_query_cancellable(storage, query, start_ms, end_ms, step_ms, &Cancel::never())
    }
}

pub use super::eval::Cancel;
