//! PromQL: evaluates `promql-parser` ASTs against the TSDB with Prometheus 3 semantics.
//! Owns the value model, the evaluator (per series across all steps), aggregations,
//! binary operators and the function library. Knows nothing of HTTP.

mod aggregate;
mod binary;
mod engine;
mod error;
mod eval;
mod functions;
mod histogram;
mod info;
mod native;
mod parse_cache;
mod storage;
mod value;

pub use engine::{Cancel, Engine, EngineOptions, QueryResult};
pub use error::{QueryError, QueryErrorKind};
pub use functions::format_float;
pub use parse_cache::ParseCache;
pub use storage::Storage;
pub use value::{InstantSample, Labels, QueryValue, RangeSeries};
