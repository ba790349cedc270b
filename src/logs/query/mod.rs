//! LogQL evaluation over the log store: log queries (selected, filtered and parsed lines)
//! and metric queries (range aggregations over extracted samples, then vector aggregations
//! and binary operators), on a step grid. Knows nothing of HTTP; the parser and the
//! per-entry pipeline come from `logql`.

mod log;
mod metric;
mod volume;

pub use log::{run_log_query, Direction, StreamResult};
pub use metric::{run_metric_query, MetricSeries};
pub use volume::{run_volume, VolumeAggregation, VolumeRequest};

use super::logql::{MatchOp as LogqlMatchOp, Matcher as LogqlMatcher};
use super::store::tokens::TokenRequirement;
use crate::metrics::tsdb::index::{MatchOp, Matcher};

/// Why a query failed: the request (400) or the evaluation (422).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogQueryError {
    BadQuery(String),
    Execution(String),
}

impl std::fmt::Display for LogQueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogQueryError::BadQuery(message) | LogQueryError::Execution(message) => {
                f.write_str(message)
            }
        }
    }
}

/// The store's matchers for a stream selector.
pub fn store_matchers(matchers: &[LogqlMatcher]) -> Result<Vec<Matcher>, LogQueryError> {
    matchers
        .iter()
        .map(|matcher| {
            let op = match matcher.op {
                LogqlMatchOp::Eq => MatchOp::Equal,
                LogqlMatchOp::Neq => MatchOp::NotEqual,
                LogqlMatchOp::Re => MatchOp::RegexMatch,
                LogqlMatchOp::Nre => MatchOp::RegexNoMatch,
            };
            Matcher::new(op, &matcher.name, &matcher.value)
                .map_err(|err| LogQueryError::BadQuery(err.to_string()))
        })
        .collect()
}

/// Index terms every line must hold for the pipeline's plain substring filters.
fn required_tokens(pipeline: &super::logql::Pipeline) -> Vec<TokenRequirement> {
    let mut tokens: Vec<TokenRequirement> = pipeline
        .required_substrings()
        .iter()
        .flat_map(|needle| super::store::tokens::required_tokens(needle))
        .collect();
    tokens.sort();
    tokens.dedup();
    tokens
}
