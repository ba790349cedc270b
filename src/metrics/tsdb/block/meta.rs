//! Block identity and `meta.json`: the id (ULID layout), the time range, statistics and the
//! compaction lineage of a block.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::BlockError;

pub const BLOCK_FORMAT_VERSION: u32 = 1;
pub const META_FILE_NAME: &str = "meta.json";

/// Crockford's base 32 alphabet (no I, L, O, U).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const ID_LEN: usize = 26;

/// A block id: 48 bits of creation time in Unix milliseconds, then 80 random bits, written
/// as 26 characters of Crockford base 32. Ids order by creation time.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockId(u128);

impl BlockId {
    /// A new id for a block created at `created_ms`.
    pub fn new(created_ms: i64) -> BlockId {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let state = std::collections::hash_map::RandomState::new();
        let mut high = state.build_hasher();
        high.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        high.write_i64(created_ms);
        high.write_u32(std::process::id());
        let mut low = state.build_hasher();
        low.write_u64(high.finish());
        let random =
            ((u128::from(high.finish()) << 64) | u128::from(low.finish())) & ((1 << 80) - 1);
        let time = (created_ms.max(0) as u128) & ((1 << 48) - 1);
        BlockId((time << 80) | random)
    }

    /// Creation time in Unix milliseconds.
    pub fn created_ms(self) -> i64 {
        (self.0 >> 80) as i64
    }
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = [0u8; ID_LEN];
        for (position, byte) in text.iter_mut().enumerate() {
            // 26 × 5 = 130 bits: the first character carries the top 3 bits.
            let shift = 5 * (ID_LEN - 1 - position);
            *byte = ALPHABET[((self.0 >> shift) & 31) as usize];
        }
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for BlockId {
    type Err = String;

    /// Parses the canonical form only (upper case, 26 characters, first at most `7`).
    fn from_str(text: &str) -> Result<BlockId, String> {
        if text.len() != ID_LEN {
            return Err(format!("block id {text:?} is not {ID_LEN} characters"));
        }
        let mut value = 0u128;
        for (position, byte) in text.bytes().enumerate() {
            let digit = ALPHABET
                .iter()
                .position(|&candidate| candidate == byte)
                .ok_or_else(|| format!("block id {text:?} has an invalid character"))?;
            if position == 0 && digit > 7 {
                return Err(format!("block id {text:?} overflows 128 bits"));
            }
            value = (value << 5) | digit as u128;
        }
        Ok(BlockId(value))
    }
}

impl Serialize for BlockId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BlockId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<BlockId, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockStats {
    pub series: u64,
    pub samples: u64,
    pub chunks: u64,
    /// Chunk references that point at an identical chunk of another series instead of a
    /// copy of their own (absent in blocks written before chunks were shared).
    #[serde(default)]
    pub shared_chunks: u64,
    pub index_bytes: u64,
    pub chunks_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionMeta {
    pub level: u32,
    /// Level-1 blocks whose data this block holds, sorted.
    pub sources: Vec<BlockId>,
    /// Blocks merged into this one.
    #[serde(default)]
    pub parents: Vec<BlockId>,
}

/// The contents of `meta.json`. The time range is half-open: `min_time <= t < max_time`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMeta {
    pub format_version: u32,
    pub id: BlockId,
    pub min_time: i64,
    pub max_time: i64,
    pub stats: BlockStats,
    pub compaction: CompactionMeta,
}

impl BlockMeta {
    /// Whether the block may hold samples in the inclusive range `[mint, maxt]`.
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.min_time <= maxt && self.max_time > mint
    }

    pub fn size_bytes(&self) -> u64 {
        self.stats.index_bytes + self.stats.chunks_bytes
    }

    pub(crate) fn read(dir: &Path) -> Result<BlockMeta, BlockError> {
        let path = dir.join(META_FILE_NAME);
        let text = std::fs::read(&path).map_err(BlockError::io(&path))?;
        let meta: BlockMeta = serde_json::from_slice(&text)
            .map_err(|error| BlockError::corrupt(&path, format!("meta.json: {error}")))?;
        if meta.format_version != BLOCK_FORMAT_VERSION {
            return Err(BlockError::UnsupportedVersion {
                path,
                found: meta.format_version,
                supported: BLOCK_FORMAT_VERSION,
            });
        }
        if meta.compaction.sources.is_empty() || meta.compaction.level == 0 {
            return Err(BlockError::corrupt(
                &path,
                "compaction level or sources missing",
            ));
        }
        if meta.min_time >= meta.max_time {
            return Err(BlockError::corrupt(
                &path,
                format!("empty time range [{}, {})", meta.min_time, meta.max_time),
            ));
        }
        Ok(meta)
    }

    /// Writes `meta.json` into `dir` and fsyncs it.
    pub(crate) fn write(&self, dir: &Path) -> Result<(), BlockError> {
        let path = dir.join(META_FILE_NAME);
        let text = serde_json::to_vec_pretty(self)
            .map_err(|error| BlockError::Invalid(format!("meta.json: {error}")))?;
        let mut file = std::fs::File::create(&path).map_err(BlockError::io(&path))?;
        file.write_all(&text).map_err(BlockError::io(&path))?;
        file.write_all(b"\n").map_err(BlockError::io(&path))?;
        file.sync_all().map_err(BlockError::io(&path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_order_by_time() {
        let a = BlockId::new(1_732_406_400_000);
        let b = BlockId::new(1_732_406_400_001);
        assert!(a < b);
        assert_eq!(a.created_ms(), 1_732_406_400_000);
        let text = a.to_string();
        assert_eq!(text.len(), 26);
        assert_eq!(text.parse::<BlockId>().unwrap(), a);
        assert!(text < b.to_string());
        assert_ne!(BlockId::new(5), BlockId::new(5));
        assert!("01JD3M5X0Q8K7R9T2V4W6Y8Z0A".parse::<BlockId>().is_ok());
        for bad in [
            "",
            "01JD3M5X0Q8K7R9T2V4W6Y8Z0",
            "81JD3M5X0Q8K7R9T2V4W6Y8Z0A",
            "01JD3M5X0Q8K7R9T2V4W6Y8Z0I",
            "quarantine",
        ] {
            assert!(bad.parse::<BlockId>().is_err(), "{bad}");
        }
    }
}
