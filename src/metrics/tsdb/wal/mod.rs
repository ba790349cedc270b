//! Write-ahead log of the metrics head.
//!
//! Owns the `<data>/wal` directory: numbered segment files of bounded size, each record framed
//! with its length and a CRC-32, appended with group commit (one `write` + one `fdatasync`
//! shared by all concurrent callers) and acknowledged only once durable. On open it repairs a
//! torn tail, quarantines corruption in older segments and hands back a replay of every record
//! in order. The head decides what records mean (`record` has the shared helpers) and when
//! old segments may go (`Wal::truncate_before`). It depends on nothing else in the crate.
//! The on-disk format is specified in `docs/format/wal.md`.

mod error;
mod reader;
pub mod record;
mod segment;
mod writer;

pub use error::WalError;
pub use reader::{remove_segments_before, replay_segments, ReplayIter, QUARANTINE_DIR_NAME};
pub use segment::{segment_file_name, FrameDefect, FORMAT_VERSION};
pub use writer::{
    SyncMode, Wal, WalOptions, WalStats, DEFAULT_SEGMENT_SIZE_BYTES, MAX_SEGMENT_SIZE_BYTES,
    MIN_SEGMENT_SIZE_BYTES,
};
