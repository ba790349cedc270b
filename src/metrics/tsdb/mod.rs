//! The time-series database: series interned to references with an inverted label index,
//! samples in per-series XOR chunks, a write-ahead log with group commit so every
//! acknowledged append is durable, and a querier over it all. It knows nothing of HTTP,
//! scraping or PromQL: callers hand it label sets and samples, and matchers to select.
//! The head is cut into immutable on-disk blocks every block range; blocks are compacted
//! and deleted by retention ([`Tsdb::maintain`]). On-disk formats are specified in
//! `docs/format/`.

pub mod block;
mod checkpoint;
pub mod chunk;
mod db;
mod error;
mod head;
pub mod index;
mod key_cache;
pub mod labels;
mod maintain;
mod options;
mod querier;
mod records;
mod series_key;
mod session;
mod snapshot;
mod tombstones;
pub mod wal;

pub use db::{
    AppendHistogramSeries, AppendReport, AppendSeries, HeadStats, Tsdb, MAX_REPORTED_ERRORS,
};
pub use error::TsdbError;
pub use head::SeriesData;
pub use maintain::MaintainReport;
pub use options::TsdbOptions;
pub use series_key::{SeriesKey, SeriesKeyHasher};
pub use session::AppendSession;
pub use snapshot::SNAPSHOTS_DIR_NAME;

/// Series per thread below which a selection is decoded on the calling thread alone.
const PARALLEL_SELECT_MIN: usize = 2_000;

/// The NaN Prometheus writes to mark a series stale; compared by bits, never by value.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

pub fn is_stale_nan(value: f64) -> bool {
    value.to_bits() == STALE_NAN_BITS
}
