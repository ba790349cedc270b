//! Errors of block writing, reading, compaction and retention.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error("block i/o on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("corrupt block {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("block {path} has format version {found}, this build reads version {supported}")]
    UnsupportedVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("block writer: {0}")]
    Invalid(String),
}

impl BlockError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> BlockError {
        let path = path.into();
        move |source| BlockError::Io { path, source }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> BlockError {
        BlockError::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
