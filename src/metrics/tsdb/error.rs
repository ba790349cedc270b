//! Errors of the time-series database.

use super::block::BlockError;
use super::wal::WalError;

#[derive(Debug, thiserror::Error)]
pub enum TsdbError {
    #[error("cannot create tsdb directory {path}: {source}")]
    CreateDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("write-ahead log: {0}")]
    Wal(#[from] WalError),
    #[error("block: {0}")]
    Block(#[from] BlockError),
    #[error("tombstones: {0}")]
    Tombstones(#[from] super::tombstones::TombstoneError),
    #[error("invalid matcher: {0}")]
    Matcher(String),
}
