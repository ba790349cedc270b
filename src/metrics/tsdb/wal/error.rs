//! The one error type of the write-ahead log.

use std::io;
use std::path::PathBuf;

use super::segment::FrameDefect;

/// Everything that can go wrong while opening, appending to, replaying or truncating the WAL.
///
/// Messages are lowercase and name the file (and the byte offset where one applies).
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("cannot create wal directory {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },

    #[error("cannot list wal directory {path}: {source}")]
    ListDir { path: PathBuf, source: io::Error },

    #[error("cannot open wal segment {path}: {source}")]
    Open { path: PathBuf, source: io::Error },

    #[error("cannot read wal segment {path} at offset {offset}: {source}")]
    Read {
        path: PathBuf,
        offset: u64,
        source: io::Error,
    },

    #[error("cannot write wal segment {path} at offset {offset}: {source}")]
    Write {
        path: PathBuf,
        offset: u64,
        source: io::Error,
    },

    #[error("cannot fsync {path}: {source}")]
    Sync { path: PathBuf, source: io::Error },

    #[error("cannot truncate wal segment {path} to offset {offset}: {source}")]
    Truncate {
        path: PathBuf,
        offset: u64,
        source: io::Error,
    },

    #[error("cannot remove wal segment {path}: {source}")]
    Remove { path: PathBuf, source: io::Error },

    #[error("cannot move corrupt wal data from {path} into quarantine: {source}")]
    Quarantine { path: PathBuf, source: io::Error },

    #[error("wal segment {path} has format version {found}; this build reads version {supported}")]
    UnsupportedVersion {
        path: PathBuf,
        found: u8,
        supported: u8,
    },

    #[error("wal segment {path} changed during replay: {defect} at offset {offset}")]
    ChangedDuringReplay {
        path: PathBuf,
        offset: u64,
        defect: FrameDefect,
    },

    #[error("wal record of {len} bytes exceeds the maximum of {max} bytes per record")]
    RecordTooLarge { len: usize, max: usize },

    #[error("wal segment size {size} bytes is out of range ({min}..={max} bytes)")]
    SegmentSizeOutOfRange { size: u64, min: u64, max: u64 },

    #[error(
        "cannot truncate wal before segment {requested}: the segment being written is {current}"
    )]
    TruncateBeyondCurrent { requested: u32, current: u32 },

    #[error("wal segment index overflow after segment {last}")]
    SegmentIndexOverflow { last: u32 },

    /// An earlier write or fsync failed. The state of the segment on disk (and of the page
    /// cache after a failed fsync) is unknown, so the WAL refuses further appends; a restart
    /// replays what is durable and truncates whatever the failed write left behind.
    #[error("wal refuses writes after an earlier failure ({cause}); restart to replay and repair")]
    Poisoned { cause: String },
}
