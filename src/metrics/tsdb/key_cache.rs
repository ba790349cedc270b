//! Series keys → series references, for callers that send the same series again and again
//! (remote write senders do, once per scrape). A hit skips decoding, validating, hashing and
//! comparing the labels: the index lookup costs about as much as all the rest of an append.
//!
//! An open-addressing table of 16-byte slots, linear probing. A slot holds 96 bits of the
//! key and a lookup compares those, never the labels (see [`SeriesKey`] for why that is
//! safe). There is no removal: the database
//! clears the whole table when series leave the head (once per head cut), and when it
//! holds far more keys than the head has series, as happens with a sender that encodes the
//! same series in changing ways (label order, field layout), one key per encoding.

use super::index::SeriesRef;
use super::series_key::SeriesKey;

const EMPTY: u32 = u32::MAX;
const MIN_CAPACITY_BITS: u32 = 10;

#[derive(Clone, Copy)]
struct Slot {
    high: u64,
    low: u32,
    series: u32,
}

const EMPTY_SLOT: Slot = Slot {
    high: 0,
    low: 0,
    series: EMPTY,
};

/// See the module documentation.
pub(crate) struct KeyCache {
    slots: Vec<Slot>,
    /// log2 of `slots.len()`.
    capacity_bits: u32,
    live: usize,
}

impl Default for KeyCache {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyCache {
    pub(crate) fn new() -> Self {
        KeyCache {
            slots: vec![EMPTY_SLOT; 1 << MIN_CAPACITY_BITS],
            capacity_bits: MIN_CAPACITY_BITS,
            live: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.live
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
    }

    /// The slot a key starts probing at: the top bits of its stored high word, so that a
    /// grown table can place slots without their keys.
    fn home_of(high: u64, capacity_bits: u32) -> usize {
        (high >> (64 - capacity_bits)) as usize
    }

    fn home(&self, key: &SeriesKey) -> usize {
        Self::home_of(key.high, self.capacity_bits)
    }

    fn is(slot: &Slot, key: &SeriesKey) -> bool {
        slot.high == key.high && slot.low == key.low as u32
    }

    pub(crate) fn find(&self, key: &SeriesKey) -> Option<SeriesRef> {
        let mask = self.slots.len() - 1;
        let mut index = self.home(key);
        loop {
            let slot = &self.slots[index];
            if slot.series == EMPTY {
                return None;
            }
            if Self::is(slot, key) {
                return Some(slot.series);
            }
            index = (index + 1) & mask;
        }
    }

    /// [`KeyCache::find`] for many keys, requesting each key's slot a few keys ahead so
    /// that the cache misses of a large batch overlap.
    pub(crate) fn find_many(&self, keys: &[SeriesKey]) -> Vec<Option<SeriesRef>> {
        const AHEAD: usize = 8;
        for key in keys.iter().take(AHEAD) {
            crate::prefetch::prefetch_at(&self.slots, self.home(key));
        }
        keys.iter()
            .enumerate()
            .map(|(at, key)| {
                if let Some(ahead) = keys.get(at + AHEAD) {
                    crate::prefetch::prefetch_at(&self.slots, self.home(ahead));
                }
                self.find(key)
            })
            .collect()
    }

    /// Remembers `key` → `series`, replacing what the key pointed at.
    pub(crate) fn insert(&mut self, key: &SeriesKey, series: SeriesRef) {
        debug_assert_ne!(series, EMPTY);
        // Grows at seven eighths full: probes stay short for hits, and misses are rare
        // (they are new series).
        if (self.live + 1) * 8 > self.slots.len() * 7 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut index = self.home(key);
        loop {
            let slot = &mut self.slots[index];
            if slot.series == EMPTY {
                *slot = Slot {
                    high: key.high,
                    low: key.low as u32,
                    series,
                };
                self.live += 1;
                return;
            }
            if Self::is(slot, key) {
                slot.series = series;
                return;
            }
            index = (index + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        self.capacity_bits += 1;
        self.slots = vec![EMPTY_SLOT; 1 << self.capacity_bits];
        self.live = 0;
        let mask = self.slots.len() - 1;
        for slot in old.into_iter().filter(|slot| slot.series != EMPTY) {
            let mut index = Self::home_of(slot.high, self.capacity_bits);
            while self.slots[index].series != EMPTY {
                index = (index + 1) & mask;
            }
            self.slots[index] = slot;
            self.live += 1;
        }
    }

    /// Forgets every key, sized for `expected` keys to come (so that refilling it after a
    /// head cut does not rehash over and over under the write lock).
    pub(crate) fn clear_for(&mut self, expected: usize) {
        let mut capacity_bits = MIN_CAPACITY_BITS;
        while (1usize << capacity_bits) * 7 < expected * 8 {
            capacity_bits += 1;
        }
        self.slots.clear();
        self.slots.shrink_to(1 << capacity_bits);
        self.slots.resize(1 << capacity_bits, EMPTY_SLOT);
        self.capacity_bits = capacity_bits;
        self.live = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> SeriesKey {
        SeriesKey::of(&n.to_le_bytes())
    }

    #[test]
    fn finds_what_was_inserted_across_growth_and_forgets_on_clear() {
        let mut cache = KeyCache::new();
        for n in 0..50_000u64 {
            cache.insert(&key(n), n as u32);
        }
        assert_eq!(cache.len(), 50_000);
        assert!(cache.memory_bytes() >= 50_000 * 16);
        let keys: Vec<SeriesKey> = (0..60_000u64).map(key).collect();
        let found = cache.find_many(&keys);
        for (n, found) in found.iter().enumerate() {
            assert_eq!(*found, (n < 50_000).then_some(n as u32), "key {n}");
        }
        // Inserting a known key repoints it instead of adding a slot.
        cache.insert(&key(7), 1_000_000);
        assert_eq!(cache.find(&key(7)), Some(1_000_000));
        assert_eq!(cache.len(), 50_000);
        cache.clear_for(10);
        assert_eq!(cache.len(), 0);
        assert_eq!(cache.find(&key(7)), None);
        assert_eq!(cache.memory_bytes(), 1024 * 16);
        cache.clear_for(50_000);
        assert_eq!(cache.memory_bytes(), 65_536 * 16);
        for n in 0..50_000u64 {
            cache.insert(&key(n), n as u32);
        }
        assert_eq!(
            cache.memory_bytes(),
            65_536 * 16,
            "no growth when sized up front"
        );
        assert_eq!(cache.find(&key(49_999)), Some(49_999));
    }

    #[test]
    fn keys_sharing_a_home_or_a_word_stay_apart() {
        let mut cache = KeyCache::new();
        // Same high word (same home, long probe run), different low words.
        for low in 0..100u64 {
            cache.insert(&SeriesKey { high: 42, low }, low as u32);
        }
        // Same low word, different high words.
        for high in 0..100u64 {
            cache.insert(
                &SeriesKey {
                    high: high << 40,
                    low: 5,
                },
                1000 + high as u32,
            );
        }
        for low in 0..100u64 {
            assert_eq!(cache.find(&SeriesKey { high: 42, low }), Some(low as u32));
        }
        for high in 1..100u64 {
            assert_eq!(
                cache.find(&SeriesKey {
                    high: high << 40,
                    low: 5
                }),
                Some(1000 + high as u32)
            );
        }
        assert_eq!(cache.find(&SeriesKey { high: 42, low: 100 }), None);
        assert_eq!(cache.find(&SeriesKey { high: 43, low: 5 }), None);
    }
}
