//! Sample chunks: the compressed unit in which the TSDB keeps samples, both in the head
//! (one open chunk per active series) and inside on-disk blocks.
//!
//! This subsystem owns the byte layout of a chunk (documented in `docs/format/chunks.md`)
//! and nothing else: it knows no series, labels, files or locks, and calls nothing but the
//! standard library and the histogram data model. The head appends to an open [`XorChunk`]; blocks store
//! [`XorChunk::bytes`] verbatim and read them back with [`XorIter::new`] (no copy) or
//! [`XorChunk::from_bytes`] (copy, full validation, ready for further appends).
//! Native histogram samples go into histogram chunks ([`histogram`], format version 2);
//! a chunk's first byte says which kind it is. Blocks may also hold float chunks in the
//! denser [`decimal`] encoding (format version 4; version 3 is still read), chosen when a
//! block is written;
//! [`FloatIter`] reads either float encoding. Blocks also hold [`relative`] chunks (format
//! version 5), whose values are predicted from another chunk of the block (histogram
//! buckets from their `+Inf` bucket); those are read with their reference.

pub mod bitstream;
pub mod decimal;
mod float;
pub mod histogram;
pub mod relative;
mod varint;
pub mod xor;

pub use bitstream::{BitReader, BitWriter};
pub use decimal::{encode_decimal_chunk, is_decimal_version, DecimalIter, DECIMAL_FORMAT_VERSION};
pub use float::FloatIter;
pub use histogram::{decode_histogram_chunk, encode_histogram_chunk, HISTOGRAM_FORMAT_VERSION};
pub use relative::{
    decode_relative_chunk, encode_relative_chunk, relative_chunk_reference, RELATIVE_FORMAT_VERSION,
};
pub use xor::{XorChunk, XorIter, MAX_SAMPLES, XOR_FORMAT_VERSION};

/// Why a chunk could not be appended to or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The appended timestamp is not strictly after the chunk's last one.
    #[error("sample timestamp {timestamp} is not after the chunk's last timestamp {last}")]
    OutOfOrder { timestamp: i64, last: i64 },

    /// The chunk already holds [`MAX_SAMPLES`] samples.
    #[error("chunk is full: it holds the maximum of {max} samples")]
    Full { max: u16 },

    /// Fewer bytes than the fixed part of the header.
    #[error("chunk of {len} bytes is shorter than its {min}-byte header")]
    TooShort { len: usize, min: usize },

    /// The first byte names a format this code does not know.
    #[error("unsupported chunk format version {version}")]
    UnsupportedVersion { version: u8 },

    /// The data ends before all the samples announced by the header were read.
    #[error("chunk data ends inside sample {sample}")]
    Truncated { sample: u32 },

    /// The data cannot have been written by the encoder.
    #[error("corrupt chunk at sample {sample}: {reason}")]
    Corrupt { sample: u32, reason: &'static str },
}
