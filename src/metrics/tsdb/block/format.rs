//! Byte-level constants and helpers shared by the block writer and reader: file headers,
//! the index's table of contents, checksums and a bounds-checked varint cursor.
//! The layout is specified in `docs/format/block.md`.

use crate::metrics::tsdb::wal::record::{get_uvarint, get_varint};

pub const INDEX_FILE_NAME: &str = "index";
pub const CHUNKS_FILE_NAME: &str = "chunks";

pub const INDEX_MAGIC: [u8; 4] = *b"SLIX";
pub const CHUNKS_MAGIC: [u8; 4] = *b"SLCH";
pub const FILE_FORMAT_VERSION: u8 = 1;
pub const FILE_HEADER_LEN: usize = 8;
/// CRC-32 after every index section and chunk.
pub const CRC_LEN: usize = 4;

/// Index sections, in file order.
pub const SECTION_SYMBOLS: usize = 0;
pub const SECTION_SERIES: usize = 1;
pub const SECTION_SERIES_OFFSETS: usize = 2;
pub const SECTION_POSTINGS: usize = 3;
pub const SECTION_LABEL_NAMES: usize = 4;
pub const SECTION_LABEL_PAIRS: usize = 5;
pub const SECTION_COUNT: usize = 6;
pub const SECTION_NAMES: [&str; SECTION_COUNT] = [
    "symbols",
    "series",
    "series offsets",
    "postings",
    "label names",
    "label pairs",
];

/// Bytes of one row of the label names table: name ref, first pair, pair count.
pub const LABEL_NAME_ROW: usize = 12;
/// Bytes of one row of the label pairs table: value ref, postings offset.
pub const LABEL_PAIR_ROW: usize = 8;

/// Table of contents without its CRC, and with it.
pub const TOC_BODY_LEN: usize = SECTION_COUNT * 16 + 8 + 4 + 4;
pub const TOC_LEN: usize = TOC_BODY_LEN + CRC_LEN;

pub fn file_header(magic: [u8; 4]) -> [u8; FILE_HEADER_LEN] {
    let mut header = [0u8; FILE_HEADER_LEN];
    header[..4].copy_from_slice(&magic);
    header[4] = FILE_FORMAT_VERSION;
    header
}

/// Checks a file header; the error says what is wrong.
pub fn check_file_header(bytes: &[u8], magic: [u8; 4]) -> Result<(), String> {
    if bytes.len() < FILE_HEADER_LEN {
        return Err(format!("file of {} bytes has no header", bytes.len()));
    }
    if bytes[..4] != magic {
        return Err("bad magic".to_string());
    }
    if bytes[4] != FILE_FORMAT_VERSION {
        return Err(format!(
            "file format version {} (this build reads {FILE_FORMAT_VERSION})",
            bytes[4]
        ));
    }
    Ok(())
}

/// Where each index section lives, plus facts the reader checks against the other files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Toc {
    /// `(offset, length)` of each section's bytes (without its CRC).
    pub sections: [(u64, u64); SECTION_COUNT],
    pub chunks_file_len: u64,
    pub series_count: u32,
}

impl Toc {
    pub fn encode(&self) -> [u8; TOC_LEN] {
        let mut out = [0u8; TOC_LEN];
        for (index, (offset, len)) in self.sections.iter().enumerate() {
            out[index * 16..index * 16 + 8].copy_from_slice(&offset.to_le_bytes());
            out[index * 16 + 8..index * 16 + 16].copy_from_slice(&len.to_le_bytes());
        }
        let tail = SECTION_COUNT * 16;
        out[tail..tail + 8].copy_from_slice(&self.chunks_file_len.to_le_bytes());
        out[tail + 8..tail + 12].copy_from_slice(&self.series_count.to_le_bytes());
        let crc = crc32fast::hash(&out[..TOC_BODY_LEN]);
        out[TOC_BODY_LEN..].copy_from_slice(&crc.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Toc, String> {
        if bytes.len() != TOC_LEN {
            return Err(format!("table of contents of {} bytes", bytes.len()));
        }
        let stored = read_u32(bytes, TOC_BODY_LEN);
        let computed = crc32fast::hash(&bytes[..TOC_BODY_LEN]);
        if stored != computed {
            return Err(format!(
                "table of contents checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ));
        }
        let mut toc = Toc::default();
        for (index, section) in toc.sections.iter_mut().enumerate() {
            *section = (read_u64(bytes, index * 16), read_u64(bytes, index * 16 + 8));
        }
        let tail = SECTION_COUNT * 16;
        toc.chunks_file_len = read_u64(bytes, tail);
        toc.series_count = read_u32(bytes, tail + 8);
        Ok(toc)
    }
}

/// Little-endian `u32` at `at`; the caller guarantees the bounds.
pub fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

pub fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// Reads varints from a byte slice; every error names what was being read.
pub struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8], position: usize) -> Self {
        Cursor { bytes, position }
    }

    pub fn position(&self) -> usize {
        self.position
    }

    pub fn uvarint(&mut self, what: &str) -> Result<u64, String> {
        let rest = self.bytes.get(self.position..).unwrap_or(&[]);
        let (value, used) =
            get_uvarint(rest).map_err(|error| format!("{what} at {}: {error}", self.position))?;
        self.position += used;
        Ok(value)
    }

    pub fn varint(&mut self, what: &str) -> Result<i64, String> {
        let rest = self.bytes.get(self.position..).unwrap_or(&[]);
        let (value, used) =
            get_varint(rest).map_err(|error| format!("{what} at {}: {error}", self.position))?;
        self.position += used;
        Ok(value)
    }

    /// A varint that must fit a `u32`.
    pub fn uvarint_u32(&mut self, what: &str) -> Result<u32, String> {
        let at = self.position;
        let value = self.uvarint(what)?;
        u32::try_from(value).map_err(|_| format!("{what} at {at}: {value} out of range"))
    }

    pub fn bytes(&mut self, len: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self
            .position
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| format!("{what} at {}: {len} bytes run past the end", self.position))?;
        let slice = &self.bytes[self.position..end];
        self.position = end;
        Ok(slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toc_round_trip_and_damage() {
        let mut toc = Toc {
            chunks_file_len: 12345,
            series_count: 7,
            ..Toc::default()
        };
        for (index, section) in toc.sections.iter_mut().enumerate() {
            *section = (index as u64 * 100 + 8, index as u64 + 1);
        }
        let bytes = toc.encode();
        assert_eq!(Toc::decode(&bytes).unwrap(), toc);
        for position in 0..TOC_LEN {
            let mut damaged = bytes;
            damaged[position] ^= 0x10;
            assert!(Toc::decode(&damaged).is_err(), "flip at {position}");
        }
        assert!(check_file_header(&file_header(INDEX_MAGIC), INDEX_MAGIC).is_ok());
        assert!(check_file_header(&file_header(CHUNKS_MAGIC), INDEX_MAGIC).is_err());
        assert!(check_file_header(b"SLIX", INDEX_MAGIC).is_err());
    }
}
