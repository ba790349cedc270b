//! A 128-bit fingerprint of a series as a caller received it (for remote write, the raw
//! protobuf bytes of its labels), so that a series sent again can be recognised without
//! decoding, validating and looking up its labels.
//!
//! Equal bytes give equal keys. Different bytes give different keys except with a
//! probability of about 2^-96 per comparison (the key cache keeps and compares 96 of the
//! bits): far below the odds of a memory error, which is why the
//! cache trusts a match without comparing labels. The hash is seeded at random once per
//! process, so that a sender cannot aim for a collision.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeriesKey {
    pub(crate) high: u64,
    pub(crate) low: u64,
}

/// Independent random 64-bit words: for each of the key's halves a starting state and two
/// block keys. (A starting state equal to a block key would cancel out of the first block
/// and leave it unkeyed.)
struct Seeds {
    start: [u64; 2],
    keys: [u64; 4],
}

fn seeds() -> &'static Seeds {
    static SEEDS: OnceLock<Seeds> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let state = RandomState::new();
        let mut words = [0u64; 6];
        for (position, word) in words.iter_mut().enumerate() {
            let mut hasher = state.build_hasher();
            hasher.write_usize(position);
            *word = hasher.finish();
        }
        let [start_high, start_low, keys @ ..] = words;
        Seeds {
            start: [start_high, start_low],
            keys,
        }
    })
}

/// Multiplies in 128 bits and folds the halves together.
#[inline(always)]
fn fold_multiply(x: u64, y: u64) -> u64 {
    let product = (x as u128).wrapping_mul(y as u128);
    (product as u64) ^ ((product >> 64) as u64)
}

#[inline(always)]
fn word(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(buf)
}

/// Builds a [`SeriesKey`] from one or more byte runs. The two halves are separate hash
/// lanes over the same 16-byte blocks, each with its own seeds, so that they collide
/// independently.
pub struct SeriesKeyHasher {
    high: u64,
    low: u64,
    seeds: &'static Seeds,
}

impl Default for SeriesKeyHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl SeriesKeyHasher {
    pub fn new() -> Self {
        let seeds = seeds();
        SeriesKeyHasher {
            high: seeds.start[0],
            low: seeds.start[1],
            seeds,
        }
    }

    #[inline(always)]
    fn block(&mut self, first: u64, second: u64) {
        let [high_a, high_b, low_a, low_b] = self.seeds.keys;
        self.high = fold_multiply(self.high ^ first ^ high_a, second ^ high_b);
        self.low = fold_multiply(self.low ^ second ^ low_a, first ^ low_b);
    }

    /// Mixes in `bytes` and their length, so that runs hash unambiguously.
    #[inline]
    pub fn write(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while rest.len() >= 16 {
            self.block(word(rest), word(&rest[8..]));
            rest = &rest[16..];
        }
        if !rest.is_empty() {
            let mut tail = [0u8; 16];
            tail[..rest.len()].copy_from_slice(rest);
            self.block(word(&tail), word(&tail[8..]));
        }
        // A block of its own for the length, which tells zero padding from zero bytes and
        // `"ab" + "c"` from `"a" + "bc"`.
        self.block(bytes.len() as u64, u64::MAX);
    }

    pub fn finish(&self) -> SeriesKey {
        let [high_a, high_b, low_a, low_b] = self.seeds.keys;
        SeriesKey {
            high: fold_multiply(self.high ^ high_b, high_a.rotate_left(32) | 1),
            low: fold_multiply(self.low ^ low_b, low_a.rotate_left(32) | 1),
        }
    }
}

impl SeriesKey {
    /// The key of one byte run.
    pub fn of(bytes: &[u8]) -> SeriesKey {
        let mut hasher = SeriesKeyHasher::new();
        hasher.write(bytes);
        hasher.finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn equal_bytes_give_equal_keys_and_runs_are_unambiguous() {
        assert_eq!(SeriesKey::of(b"abc"), SeriesKey::of(b"abc"));
        assert_ne!(SeriesKey::of(b"abc"), SeriesKey::of(b"abd"));
        assert_ne!(SeriesKey::of(b""), SeriesKey::of(b"\0"));
        assert_ne!(SeriesKey::of(b"\0"), SeriesKey::of(b"\0\0"));
        let split = |first: &[u8], second: &[u8]| {
            let mut hasher = SeriesKeyHasher::new();
            hasher.write(first);
            hasher.write(second);
            hasher.finish()
        };
        assert_ne!(split(b"ab", b"c"), split(b"a", b"bc"));
        assert_ne!(split(b"", b"abc"), SeriesKey::of(b"abc"));
        // A shorter input is not its longer self with zero or length-like bytes cut off.
        assert_ne!(SeriesKey::of(b"xxxxxxxx"), SeriesKey::of(b"xxxxxxxx\x01"));
        assert_ne!(SeriesKey::of(b"xxxxxxxx"), SeriesKey::of(b"xxxxxxxx\0"));
        assert_ne!(SeriesKey::of(&[0; 16]), SeriesKey::of(&[0; 17]));
        assert_eq!(split(b"ab", b"c"), split(b"ab", b"c"));
    }

    #[test]
    fn near_identical_inputs_give_distinct_halves() {
        // Label sets that differ in one byte or one position, long and short, as series of
        // one family do: neither half of the key may collide.
        let mut highs = HashSet::new();
        let mut lows = HashSet::new();
        let mut count = 0;
        for length in [1usize, 7, 8, 15, 16, 17, 31, 32, 33, 200] {
            for position in 0..length {
                for byte in 0..=255u8 {
                    let mut bytes = vec![b'x'; length];
                    bytes[position] = byte;
                    let key = SeriesKey::of(&bytes);
                    highs.insert(key.high);
                    lows.insert(key.low);
                    count += 1;
                }
            }
        }
        // Runs of zero bytes of every length.
        // (Length 1 is among the inputs above already.)
        for length in (0..64).filter(|&length| length != 1) {
            let key = SeriesKey::of(&vec![0; length]);
            highs.insert(key.high);
            lows.insert(key.low);
            count += 1;
        }
        // Each length once more with byte 'x' at every position gives the same input.
        let distinct_inputs = count - (1 + 7 + 8 + 15 + 16 + 17 + 31 + 32 + 33 + 200) + 10;
        assert_eq!(distinct_inputs, 91_810 + 63);
        assert_eq!(highs.len(), distinct_inputs);
        assert_eq!(lows.len(), distinct_inputs);
    }
}
