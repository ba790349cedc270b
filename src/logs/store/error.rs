//! Errors of the log store.

use crate::metrics::tsdb::wal::WalError;

#[derive(Debug, thiserror::Error)]
pub enum LogStoreError {
    #[error("log write-ahead log: {0}")]
    Wal(#[from] WalError),
    #[error("log index {path}: {source}")]
    Index {
        path: std::path::PathBuf,
        source: tantivy::TantivyError,
    },
    #[error("log store directory {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("corrupt log chunk: {0}")]
    Corrupt(String),
}
