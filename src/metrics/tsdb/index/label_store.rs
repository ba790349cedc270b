//! Storage of every series' label set as a run of `(name id, value id)` symbol pairs.
//!
//! Runs are appended to 64 KiB pages that are allocated at full size and never move, so
//! storing a series costs its labels plus an 8-byte [`Location`], with no allocation of
//! its own. Ids are written in 16-bit digits of 15 bits each, the top bit saying another
//! digit follows: ids below 32768 (label names and most values) take 2 bytes instead of 4,
//! which saves about 40 bytes per series of the load bench's shape. Whole 16-bit digits
//! keep decoding to one load and a branch that is almost never taken; byte-wise varints
//! took a third longer per series lookup. Space of removed series is reclaimed only by rebuilding the store (see
//! `MemIndex::compact`).

use super::IndexError;

const PAGE_BYTES: usize = 64 * 1024;
/// Most labels one series may have (the location keeps the count in 16 bits).
pub(crate) const MAX_LABELS: usize = u16::MAX as usize;
const MAX_PAGES: usize = (1 << 24) - 1;
/// The top bit of a digit: another digit follows.
const MORE: u16 = 0x8000;

/// Where a label run lives: page (24 bits) | start byte (24 bits) | label count (16 bits).
/// `u64::MAX` is reserved for "no labels" (a removed series).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Location(u64);

impl Location {
    pub(crate) const REMOVED: Location = Location(u64::MAX);

    fn new(page: usize, start: usize, labels: usize) -> Location {
        debug_assert!(page < MAX_PAGES && start < (1 << 24) && labels <= MAX_LABELS);
        Location(((page as u64) << 40) | ((start as u64) << 16) | labels as u64)
    }

    fn page(self) -> usize {
        (self.0 >> 40) as usize
    }

    fn start(self) -> usize {
        ((self.0 >> 16) & 0xff_ffff) as usize
    }

    pub(crate) fn label_count(self) -> usize {
        (self.0 & 0xffff) as usize
    }
}

#[derive(Debug, Default, Clone)]
pub(crate) struct LabelStore {
    pages: Vec<Vec<u8>>,
    /// The page small runs are appended to.
    open_page: Option<usize>,
}

impl LabelStore {
    /// Appends a run of labels given as `(name id, value id)` pairs; returns where it lives
    /// and how many bytes it took.
    pub(crate) fn push(
        &mut self,
        pairs: impl ExactSizeIterator<Item = (u32, u32)> + Clone,
    ) -> Result<(Location, usize), IndexError> {
        let labels = pairs.len();
        if labels > MAX_LABELS {
            return Err(IndexError::TooManyLabels {
                count: labels,
                limit: MAX_LABELS,
            });
        }
        let encoded_len: usize = pairs
            .clone()
            .map(|(name, value)| id_len(name) + id_len(value))
            .sum();
        let fits_open = self
            .open_page
            .is_some_and(|page| self.pages[page].len() + encoded_len <= PAGE_BYTES);
        let page = match self.open_page {
            Some(page) if fits_open => page,
            _ => {
                if self.pages.len() >= MAX_PAGES {
                    return Err(IndexError::CapacityExceeded {
                        what: "label storage pages",
                    });
                }
                // A run longer than a page gets a page of its own, sized exactly.
                let oversized = encoded_len > PAGE_BYTES;
                self.pages
                    .push(Vec::with_capacity(encoded_len.max(PAGE_BYTES)));
                let page = self.pages.len() - 1;
                if !oversized {
                    self.open_page = Some(page);
                }
                page
            }
        };
        let bytes = &mut self.pages[page];
        let start = bytes.len();
        for (name, value) in pairs {
            put_id(bytes, name);
            put_id(bytes, value);
        }
        Ok((Location::new(page, start, labels), encoded_len))
    }

    /// The pairs stored at `location`; none for [`Location::REMOVED`].
    #[inline]
    pub(crate) fn get(&self, location: Location) -> Pairs<'_> {
        if location == Location::REMOVED {
            return Pairs {
                bytes: &[],
                remaining: 0,
            };
        }
        Pairs {
            bytes: &self.pages[location.page()][location.start()..],
            remaining: location.label_count(),
        }
    }

    /// Bytes the run at `location` takes.
    pub(crate) fn run_len(&self, location: Location) -> usize {
        let mut pairs = self.get(location);
        let total = pairs.bytes.len();
        pairs.by_ref().for_each(drop);
        total - pairs.bytes.len()
    }

    /// Starts loading the first pairs stored at `location`.
    pub(crate) fn prefetch(&self, location: Location) {
        if let Some(page) = self.pages.get(location.page()) {
            crate::prefetch::prefetch_at(page, location.start());
        }
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.pages.iter().map(Vec::capacity).sum::<usize>()
            + self.pages.capacity() * std::mem::size_of::<Vec<u8>>()
    }
}

/// The `(name id, value id)` pairs of one run, in label order.
#[derive(Debug, Clone)]
pub(crate) struct Pairs<'a> {
    bytes: &'a [u8],
    remaining: usize,
}

impl Iterator for Pairs<'_> {
    type Item = (u32, u32);

    #[inline]
    fn next(&mut self) -> Option<(u32, u32)> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let name = self.read_id();
        let value = self.read_id();
        Some((name, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Pairs<'_> {}

impl Pairs<'_> {
    /// Reads one id. Runs are written by [`LabelStore::push`] only, so the digits are
    /// well formed.
    #[inline(always)]
    fn read_id(&mut self) -> u32 {
        let first = digit_at(self.bytes, 0);
        if first & MORE == 0 {
            self.bytes = &self.bytes[2..];
            return u32::from(first);
        }
        self.read_long_id(first)
    }

    #[cold]
    fn read_long_id(&mut self, first: u16) -> u32 {
        let mut id = u32::from(first & !MORE);
        let mut at = 2;
        loop {
            let next = digit_at(self.bytes, at);
            id |= u32::from(next & !MORE) << (15 * at / 2);
            at += 2;
            if next & MORE == 0 {
                break;
            }
        }
        self.bytes = &self.bytes[at..];
        id
    }
}

#[inline(always)]
fn digit_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

#[inline]
fn id_len(id: u32) -> usize {
    match id {
        0..0x8000 => 2,
        0x8000..0x4000_0000 => 4,
        _ => 6,
    }
}

#[inline]
fn put_id(out: &mut Vec<u8>, mut id: u32) {
    while id >= 0x8000 {
        out.extend_from_slice(&((id as u16 & !MORE) | MORE).to_le_bytes());
        id >>= 15;
    }
    out.extend_from_slice(&(id as u16).to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs_of(words: &[u32]) -> impl ExactSizeIterator<Item = (u32, u32)> + Clone + '_ {
        words.chunks_exact(2).map(|pair| (pair[0], pair[1]))
    }

    fn words(pairs: Pairs<'_>) -> Vec<u32> {
        pairs.flat_map(|(name, value)| [name, value]).collect()
    }

    #[test]
    fn runs_round_trip_across_pages() {
        let mut store = LabelStore::default();
        let mut locations = Vec::new();
        for i in 0..20_000u32 {
            // Ids of every encoded length, up to u32::MAX.
            let pairs: Vec<u32> = (0..(i % 7) * 2)
                .map(|w| (w + i).wrapping_mul(0x9e37_79b9) >> (w % 32))
                .collect();
            let (location, len) = store.push(pairs_of(&pairs)).unwrap();
            assert_eq!(store.run_len(location), len);
            locations.push((location, pairs));
        }
        // Ids of four bytes: a run far longer than a page.
        let huge: Vec<u32> = (0..MAX_LABELS as u32 * 2)
            .map(|w| w | 0x1000_0000)
            .collect();
        let (huge_location, _) = store.push(pairs_of(&huge)).unwrap();
        let (after, _) = store.push(pairs_of(&[1, 2])).unwrap();
        for (location, pairs) in &locations {
            assert_eq!(words(store.get(*location)), *pairs);
        }
        assert_eq!(words(store.get(huge_location)), huge);
        assert_eq!(words(store.get(after)), vec![1, 2]);
        assert_eq!(store.get(Location::REMOVED).count(), 0);
    }

    #[test]
    fn ids_below_32768_take_two_bytes() {
        let mut store = LabelStore::default();
        let (_, len) = store.push(pairs_of(&[3, 32_767, 32_768, 70_000])).unwrap();
        assert_eq!(len, 2 + 2 + 4 + 4);
        let (location, len) = store
            .push(pairs_of(&[u32::MAX, 0x3fff_ffff, 0x4000_0000, 0]))
            .unwrap();
        assert_eq!(len, 6 + 4 + 6 + 2);
        assert_eq!(
            words(store.get(location)),
            vec![u32::MAX, 0x3fff_ffff, 0x4000_0000, 0]
        );
    }

    #[test]
    fn rejects_too_many_labels() {
        let mut store = LabelStore::default();
        let pairs = vec![0u32; (MAX_LABELS + 1) * 2];
        assert!(matches!(
            store.push(pairs_of(&pairs)),
            Err(IndexError::TooManyLabels { .. })
        ));
    }
}
