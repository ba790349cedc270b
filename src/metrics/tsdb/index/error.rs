//! Errors of the series index.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IndexError {
    /// A `=~` / `!~` matcher whose value does not compile; `matcher` is shown as in PromQL.
    #[error("invalid regex in matcher {matcher}: {reason}")]
    InvalidRegex { matcher: String, reason: String },
    #[error("empty label name")]
    EmptyLabelName,
    #[error("label names are not sorted: {previous:?} comes before {name:?}")]
    UnsortedLabels { previous: String, name: String },
    #[error("duplicate label name {name:?}")]
    DuplicateLabelName { name: String },
    /// Every label was missing or had an empty value (empty values count as absent).
    #[error("empty label set")]
    EmptyLabelSet,
    #[error("series has {count} labels, more than the index limit of {limit}")]
    TooManyLabels { count: usize, limit: usize },
    #[error("series reference {series} is already in use")]
    RefInUse { series: u32 },
    #[error("label set is already indexed as series {existing}")]
    DuplicateSeries { existing: u32 },
    #[error("index capacity exceeded: {what}")]
    CapacityExceeded { what: &'static str },
}
