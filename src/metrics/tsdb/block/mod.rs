//! Immutable on-disk blocks: the samples of a time range with an index to find them by
//! labels, written once by the head cut or by compaction and read through memory maps.
//!
//! This subsystem owns the `<data>/metrics/blocks/` directory and the block format
//! (`docs/format/block.md`): writing a block atomically ([`BlockWriter`]), opening and
//! validating one and answering selections from it ([`Block`]), merging blocks
//! ([`compaction`]) and choosing which to delete ([`retention`]). It calls only the chunk
//! codec, the label matchers and postings operations of `index`, and the varint helpers of
//! `wal::record`; when and what to persist is decided by the database (`db.rs`, `maintain.rs`).

pub mod compaction;
mod error;
mod format;
mod meta;
mod reader;
mod relative_chunks;
pub mod retention;
mod writer;

pub use error::BlockError;
pub use meta::{BlockId, BlockMeta, BlockStats, CompactionMeta, BLOCK_FORMAT_VERSION};
pub use reader::{load_blocks, quarantine_block, Block, ChunkMeta, LoadedBlocks, SeriesChunks};
pub(crate) use writer::sync_dir;
pub use writer::{
    encode_chunks, encode_mixed_chunks, BlockWriter, ChunkBytes, OwnedChunk,
    BLOCK_CHUNK_MAX_SAMPLES,
};

/// Name of the folder inside `blocks/` that receives blocks failing validation.
pub const QUARANTINE_DIR_NAME: &str = "quarantine";
/// Suffix of a block folder being written.
pub const TMP_SUFFIX: &str = ".tmp";

#[cfg(test)]
mod tests;
