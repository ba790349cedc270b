//! Storage of every series' label set as a run of `(name id, value id)` symbol pairs.
//!
//! Runs are appended to 64 KiB pages that are allocated at full size and never move, so
//! storing a series costs its 8 bytes a label plus an 8-byte [`Location`], with no
//! allocation of its own. Space of removed series is reclaimed only by rebuilding the
//! store (see `MemIndex::compact`).

use super::IndexError;

const PAGE_WORDS: usize = 16 * 1024;
/// Most labels one series may have (the location keeps the count in 16 bits).
pub(crate) const MAX_LABELS: usize = u16::MAX as usize;
const MAX_PAGES: usize = (1 << 24) - 1;

/// Where a label run lives: page (24 bits) | start word (24 bits) | label count (16 bits).
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
    pages: Vec<Vec<u32>>,
    /// The page small runs are appended to.
    open_page: Option<usize>,
}

impl LabelStore {
    /// Appends a run of `pairs.len() / 2` labels.
    pub(crate) fn push(&mut self, pairs: &[u32]) -> Result<Location, IndexError> {
        debug_assert!(pairs.len().is_multiple_of(2));
        let labels = pairs.len() / 2;
        if labels > MAX_LABELS {
            return Err(IndexError::TooManyLabels {
                count: labels,
                limit: MAX_LABELS,
            });
        }
        let fits_open = self
            .open_page
            .is_some_and(|page| self.pages[page].len() + pairs.len() <= PAGE_WORDS);
        let page = match self.open_page {
            Some(page) if fits_open => page,
            _ => {
                if self.pages.len() >= MAX_PAGES {
                    return Err(IndexError::CapacityExceeded {
                        what: "label storage pages",
                    });
                }
                // A run longer than a page gets a page of its own, sized exactly.
                let oversized = pairs.len() > PAGE_WORDS;
                self.pages
                    .push(Vec::with_capacity(pairs.len().max(PAGE_WORDS)));
                let page = self.pages.len() - 1;
                if !oversized {
                    self.open_page = Some(page);
                }
                page
            }
        };
        let text = &mut self.pages[page];
        let start = text.len();
        text.extend_from_slice(pairs);
        Ok(Location::new(page, start, labels))
    }

    /// The pairs stored at `location`; empty for [`Location::REMOVED`].
    pub(crate) fn get(&self, location: Location) -> &[u32] {
        if location == Location::REMOVED {
            return &[];
        }
        let start = location.start();
        &self.pages[location.page()][start..start + 2 * location.label_count()]
    }

    /// Starts loading the first pairs stored at `location`.
    pub(crate) fn prefetch(&self, location: Location) {
        if let Some(page) = self.pages.get(location.page()) {
            crate::prefetch::prefetch_at(page, location.start());
        }
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.pages
            .iter()
            .map(|page| page.capacity() * 4)
            .sum::<usize>()
            + self.pages.capacity() * std::mem::size_of::<Vec<u32>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_round_trip_across_pages() {
        let mut store = LabelStore::default();
        let mut locations = Vec::new();
        for i in 0..20_000u32 {
            let pairs: Vec<u32> = (0..(i % 7) * 2).map(|w| w + i).collect();
            locations.push((store.push(&pairs).unwrap(), pairs));
        }
        let huge: Vec<u32> = (0..(PAGE_WORDS as u32 + 10) * 2).collect();
        let huge_location = store.push(&huge).unwrap();
        let after = store.push(&[1, 2]).unwrap();
        for (location, pairs) in &locations {
            assert_eq!(store.get(*location), pairs.as_slice());
        }
        assert_eq!(store.get(huge_location), huge.as_slice());
        assert_eq!(store.get(after), &[1, 2]);
        assert_eq!(store.get(Location::REMOVED), &[] as &[u32]);
    }

    #[test]
    fn rejects_too_many_labels() {
        let mut store = LabelStore::default();
        let pairs = vec![0u32; (MAX_LABELS + 1) * 2];
        assert!(matches!(
            store.push(&pairs),
            Err(IndexError::TooManyLabels { .. })
        ));
    }
}
