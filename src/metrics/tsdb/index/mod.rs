//! In-memory series index of the TSDB head: interns label strings, maps label sets to
//! series references and back, keeps postings per label pair, and selects series by
//! PromQL label matchers. It owns no samples and does no I/O; the head wraps a
//! [`MemIndex`] in its lock and keeps per-series data under the same [`SeriesRef`].
//! Depends only on `regex` for matchers.

mod error;
mod id_table;
mod label_store;
mod matcher;
mod mem_index;
pub mod postings;
pub(crate) mod re2;
mod symbols;

pub use error::IndexError;
pub use matcher::{matches_all_series, MatchOp, Matcher};
pub use mem_index::{CardinalityStats, MemIndex, StatCount};
pub use symbols::SymbolTable;

/// Identifies a series in the head for the life of the process; never reused.
pub type SeriesRef = u32;
