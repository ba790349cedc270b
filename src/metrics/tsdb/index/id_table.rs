//! A lean open-addressing hash table of `u32` ids, plus the seeded hash it is fed with.
//!
//! The table stores only `(tag, id)` pairs, 8 bytes a slot: the keys themselves (strings,
//! label sets) live elsewhere and the caller compares them through a closure. The tag is 32
//! bits of the key's 64-bit hash; its high bits pick the home slot, so the table can grow
//! without re-hashing any key. Distinct keys with equal tags are fine: every candidate whose
//! tag matches is checked with the caller's equality closure, so hash collisions only cost a
//! comparison.
//!
//! Linear probing; removal leaves a tombstone, and tombstones are cleared when the table is
//! rebuilt on growth.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// Largest id the table can hold; the two values above it mark empty and deleted slots.
pub(crate) const MAX_ID: u32 = u32::MAX - 2;

const EMPTY: u64 = u64::MAX;
const TOMBSTONE: u64 = u64::MAX - 1;
const MIN_CAPACITY_BITS: u32 = 4;

/// Open-addressing table of `(tag, id)` slots. See the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct IdTable {
    slots: Vec<u64>,
    /// log2 of `slots.len()`.
    capacity_bits: u32,
    live: usize,
    tombstones: usize,
}

impl Default for IdTable {
    fn default() -> Self {
        Self::new()
    }
}

impl IdTable {
    pub(crate) fn new() -> Self {
        Self::with_capacity_bits(MIN_CAPACITY_BITS)
    }

    fn with_capacity_bits(capacity_bits: u32) -> Self {
        IdTable {
            slots: vec![EMPTY; 1usize << capacity_bits],
            capacity_bits,
            live: 0,
            tombstones: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.live
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<u64>()
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn home(&self, tag: u32) -> usize {
        // The high bits of the tag choose the slot; capacity never exceeds 2^32 slots.
        ((tag as u64) >> (32 - self.capacity_bits)) as usize
    }

    /// Returns the first id whose tag equals `tag` and for which `is_key` returns true.
    pub(crate) fn find(&self, tag: u32, mut is_key: impl FnMut(u32) -> bool) -> Option<u32> {
        let mask = self.mask();
        let mut index = self.home(tag);
        loop {
            let slot = self.slots[index];
            if slot == EMPTY {
                return None;
            }
            if slot != TOMBSTONE && (slot >> 32) as u32 == tag {
                let id = slot as u32;
                if is_key(id) {
                    return Some(id);
                }
            }
            index = (index + 1) & mask;
        }
    }

    /// Starts loading the slot where the probe for `tag` begins.
    pub(crate) fn prefetch(&self, tag: u32) {
        crate::prefetch::prefetch_at(&self.slots, self.home(tag));
    }

    /// The first id stored under `tag`, without checking its key: a guess for prefetching.
    pub(crate) fn first_candidate(&self, tag: u32) -> Option<u32> {
        self.find(tag, |_| true)
    }

    /// Adds `id` under `tag`. The caller guarantees the key is not present yet.
    pub(crate) fn insert(&mut self, tag: u32, id: u32) {
        debug_assert!(id <= MAX_ID, "id {id} collides with the slot markers");
        // Keep occupied slots (live and tombstones) at or below 7/8 of the capacity so that
        // probe sequences stay short and every probe loop meets an empty slot.
        if (self.live + self.tombstones + 1) * 8 > self.slots.len() * 7 {
            self.rebuild();
        }
        let mask = self.mask();
        let mut index = self.home(tag);
        loop {
            let slot = self.slots[index];
            if slot == EMPTY || slot == TOMBSTONE {
                if slot == TOMBSTONE {
                    self.tombstones -= 1;
                }
                self.slots[index] = ((tag as u64) << 32) | id as u64;
                self.live += 1;
                return;
            }
            index = (index + 1) & mask;
        }
    }

    /// Removes the entry `(tag, id)`. Returns whether it was present.
    pub(crate) fn remove(&mut self, tag: u32, id: u32) -> bool {
        let wanted = ((tag as u64) << 32) | id as u64;
        let mask = self.mask();
        let mut index = self.home(tag);
        loop {
            let slot = self.slots[index];
            if slot == EMPTY {
                return false;
            }
            if slot == wanted {
                self.slots[index] = TOMBSTONE;
                self.live -= 1;
                self.tombstones += 1;
                return true;
            }
            index = (index + 1) & mask;
        }
    }

    /// Re-inserts every live entry into a table sized for them, dropping tombstones.
    fn rebuild(&mut self) {
        let needed = (self.live + 1) * 2;
        let mut bits = MIN_CAPACITY_BITS;
        while (1usize << bits) < needed {
            bits += 1;
        }
        let bits = bits.min(32);
        let old = std::mem::replace(self, Self::with_capacity_bits(bits));
        for slot in old.slots {
            if slot != EMPTY && slot != TOMBSTONE {
                self.insert((slot >> 32) as u32, slot as u32);
            }
        }
    }
}

/// Seeds for [`KeyHasher`], drawn at random once per table so that hash values cannot be
/// predicted from outside the process (label values are user input).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HashSeed {
    a: u64,
    b: u64,
}

impl HashSeed {
    pub(crate) fn random() -> Self {
        let state = RandomState::new();
        let mut first = state.build_hasher();
        first.write_u64(0x5157_4a1e);
        let mut second = state.build_hasher();
        second.write_u64(0x0b5e_55ed);
        HashSeed {
            a: first.finish(),
            b: second.finish() | 1,
        }
    }

    pub(crate) fn hasher(self) -> KeyHasher {
        KeyHasher {
            state: self.a,
            finish_key: self.b,
        }
    }
}

const MUL_A: u64 = 0x9e37_79b9_7f4a_7c15;
const MUL_B: u64 = 0xc2b2_ae3d_27d4_eb4f;
const MUL_C: u64 = 0x1656_67b1_9e37_79f9;

/// Multiplies in 128 bits and folds the halves together: a cheap, well-mixing step.
#[inline]
fn fold_multiply(x: u64, y: u64) -> u64 {
    let product = (x as u128).wrapping_mul(y as u128);
    (product as u64) ^ ((product >> 64) as u64)
}

#[inline]
pub(super) fn read_u64(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(buf)
}

#[inline]
pub(super) fn read_u32(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 4];
    buf.copy_from_slice(&bytes[..4]);
    u32::from_le_bytes(buf) as u64
}

/// A fast seeded hash over byte strings. Each `write_bytes` call mixes the length in, so a
/// sequence of writes hashes unambiguously (`"ab","c"` differs from `"a","bc"`).
#[derive(Debug, Clone)]
pub(crate) struct KeyHasher {
    state: u64,
    finish_key: u64,
}

impl KeyHasher {
    #[inline]
    pub(crate) fn write_bytes(&mut self, bytes: &[u8]) {
        let (low, high) = covering_words(bytes, self.state);
        self.state = fold_multiply(
            self.state ^ low ^ MUL_A,
            high ^ MUL_B ^ ((bytes.len() as u64) << 32 | MUL_C >> 32),
        );
    }

    /// Mixes in one label: name and value are each reduced to a word independently of the
    /// running state, so their multiplies overlap and only one multiply per label waits on
    /// the previous one (a label set hashes in about half the time of two `write_bytes`).
    #[inline]
    pub(crate) fn write_pair(&mut self, name: &[u8], value: &[u8]) {
        let (name_low, name_high) = covering_words(name, self.finish_key);
        let (value_low, value_high) = covering_words(value, self.finish_key ^ MUL_C);
        let name_word = fold_multiply(
            name_low ^ MUL_A ^ self.finish_key,
            name_high ^ MUL_B ^ (name.len() as u64) << 32,
        );
        let value_word = fold_multiply(
            value_low ^ MUL_C ^ self.finish_key,
            value_high ^ MUL_A ^ (value.len() as u64) << 32,
        );
        self.state = fold_multiply(self.state ^ name_word, value_word ^ MUL_B);
    }

    #[inline]
    pub(crate) fn finish(&self) -> u64 {
        fold_multiply(self.state ^ MUL_C, self.finish_key)
    }
}

/// Two words that together cover every byte of `bytes`: the first and last eight (or
/// four) bytes, which may overlap; the length, mixed in by the caller, keeps that
/// unambiguous. Bytes before the last sixteen of a longer string are folded in with `key`.
#[inline(always)]
fn covering_words(bytes: &[u8], key: u64) -> (u64, u64) {
    let len = bytes.len();
    if len > 16 {
        let mut folded = key;
        let mut rest = bytes;
        while rest.len() > 16 {
            folded = fold_multiply(
                folded ^ read_u64(rest) ^ MUL_A,
                read_u64(&rest[8..]) ^ MUL_B,
            );
            rest = &rest[16..];
        }
        (
            read_u64(&bytes[len - 16..]) ^ folded,
            read_u64(&bytes[len - 8..]),
        )
    } else if len >= 8 {
        (read_u64(bytes), read_u64(&bytes[len - 8..]))
    } else if len >= 4 {
        (read_u32(bytes), read_u32(&bytes[len - 4..]))
    } else if len > 0 {
        let spread = bytes[0] as u64 | (bytes[len / 2] as u64) << 8 | (bytes[len - 1] as u64) << 16;
        (spread, 0)
    } else {
        (0, 0)
    }
}

/// The table tag of a 64-bit hash.
#[inline]
pub(crate) fn tag_of(hash: u64) -> u32 {
    (hash >> 32) as u32 ^ hash as u32
}

/// `BuildHasher` for maps keyed by small integers (symbol ids): one multiply, no seed needed
/// because the keys are assigned by us, not chosen by users.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IntKeyHash;

impl BuildHasher for IntKeyHash {
    type Hasher = IntKeyHasher;

    fn build_hasher(&self) -> IntKeyHasher {
        IntKeyHasher(0)
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IntKeyHasher(u64);

impl Hasher for IntKeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = fold_multiply(self.0 ^ byte as u64, MUL_A);
        }
    }

    fn write_u32(&mut self, value: u32) {
        self.0 = fold_multiply(self.0 ^ value as u64, MUL_A);
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = fold_multiply(self.0 ^ value, MUL_A);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_of(seed: HashSeed, parts: &[&str]) -> u64 {
        let mut hasher = seed.hasher();
        for part in parts {
            hasher.write_bytes(part.as_bytes());
        }
        hasher.finish()
    }

    #[test]
    fn hash_separates_field_boundaries() {
        let seed = HashSeed::random();
        assert_ne!(hash_of(seed, &["ab", "c"]), hash_of(seed, &["a", "bc"]));
        assert_ne!(hash_of(seed, &["", "a"]), hash_of(seed, &["a", ""]));
        assert_ne!(hash_of(seed, &["a"]), hash_of(seed, &["a", ""]));
        assert_eq!(hash_of(seed, &["x", "yz"]), hash_of(seed, &["x", "yz"]));
        let long = "0123456789abcdef0123456789abcdef-";
        assert_ne!(hash_of(seed, &[long]), hash_of(seed, &[&long[..32]]));
    }

    #[test]
    fn label_pairs_hash_by_name_and_value_not_their_concatenation() {
        let seed = HashSeed::random();
        let pairs_hash = |pairs: &[(&str, &str)]| {
            let mut hasher = seed.hasher();
            for (name, value) in pairs {
                hasher.write_pair(name.as_bytes(), value.as_bytes());
            }
            hasher.finish()
        };
        let long = "0123456789abcdef0123456789abcdef-";
        let distinct: Vec<Vec<(&str, &str)>> = vec![
            vec![("ab", "c")],
            vec![("a", "bc")],
            vec![("", "a")],
            vec![("a", "")],
            vec![("a", "b"), ("c", "d")],
            vec![("c", "d"), ("a", "b")],
            vec![("a", "b")],
            vec![(long, "x")],
            vec![(&long[..32], "x")],
            vec![("x", long)],
            vec![("x", &long[1..])],
        ];
        let hashes: Vec<u64> = distinct.iter().map(|pairs| pairs_hash(pairs)).collect();
        for (i, a) in hashes.iter().enumerate() {
            for b in &hashes[i + 1..] {
                assert_ne!(a, b, "{distinct:?}");
            }
        }
        assert_eq!(pairs_hash(&[("x", "yz")]), pairs_hash(&[("x", "yz")]));
    }

    #[test]
    fn table_finds_inserts_and_removes_with_equal_tags() {
        let mut table = IdTable::new();
        // Every id under the same tag: the equality closure must tell them apart.
        for id in 0..100u32 {
            table.insert(7, id);
        }
        for id in 0..100u32 {
            assert_eq!(table.find(7, |candidate| candidate == id), Some(id));
        }
        assert_eq!(table.find(7, |candidate| candidate == 1000), None);
        assert!(table.remove(7, 50));
        assert!(!table.remove(7, 50));
        assert_eq!(table.find(7, |candidate| candidate == 50), None);
        assert_eq!(table.find(7, |candidate| candidate == 51), Some(51));
        assert_eq!(table.len(), 99);
    }

    #[test]
    fn table_grows_and_survives_churn() {
        let seed = HashSeed::random();
        let tag = |id: u32| tag_of(hash_of(seed, &[&id.to_string()]));
        let mut table = IdTable::new();
        for round in 0..5u32 {
            let base = round * 10_000;
            for id in base..base + 10_000 {
                table.insert(tag(id), id);
            }
            if round > 0 {
                let previous = base - 10_000;
                for id in previous..base {
                    assert!(table.remove(tag(id), id));
                }
            }
            for id in base..base + 10_000 {
                assert_eq!(table.find(tag(id), |candidate| candidate == id), Some(id));
            }
            assert_eq!(table.len(), 10_000);
        }
        // Tombstones are reclaimed: capacity stays proportional to the live entries.
        assert!(
            table.slots.len() <= 64 * 1024,
            "capacity {}",
            table.slots.len()
        );
    }
}
