//! String interning: every distinct label name and value is stored once and named by a
//! dense `u32` id.
//!
//! Strings are copied into 64 KiB pages that never move or grow once allocated, so there is
//! no per-string allocation; a string longer than a quarter page gets a page of its own. An
//! id maps to a 12-byte span (page, start, length) and the reverse lookup goes through an
//! `IdTable` of 8-byte slots, so the fixed cost is about 22 bytes per distinct string on
//! top of its bytes.
//!
//! The table is append-only: ids stay valid for its whole life. [`MemIndex`] drops unused
//! strings by building a fresh table when enough series have been removed.
//!
//! [`MemIndex`]: super::MemIndex

use super::id_table::{read_u32, read_u64, tag_of, HashSeed, IdTable, MAX_ID};

const PAGE_BYTES: usize = 64 * 1024;
/// Strings longer than this get a page of their own instead of wasting the tail of a page.
const LARGE_STRING_BYTES: usize = PAGE_BYTES / 4;

#[derive(Debug, Clone, Copy)]
struct Span {
    page: u32,
    start: u32,
    len: u32,
}

/// Interns strings as `u32` ids. See the module documentation.
#[derive(Debug, Clone)]
pub struct SymbolTable {
    pages: Vec<String>,
    spans: Vec<Span>,
    /// Index into `pages` of the page that small strings are appended to.
    open_page: Option<u32>,
    table: IdTable,
    seed: HashSeed,
    string_bytes: usize,
}

impl Default for SymbolTable {
    fn default() -> Self {
        Self::new()
    }
}

impl SymbolTable {
    pub fn new() -> Self {
        SymbolTable {
            pages: Vec::new(),
            spans: Vec::new(),
            open_page: None,
            table: IdTable::new(),
            seed: HashSeed::random(),
            string_bytes: 0,
        }
    }

    /// Number of distinct strings interned.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Total bytes of the distinct strings (without bookkeeping).
    pub fn string_bytes(&self) -> usize {
        self.string_bytes
    }

    fn tag(&self, value: &str) -> u32 {
        let mut hasher = self.seed.hasher();
        hasher.write_bytes(value.as_bytes());
        tag_of(hasher.finish())
    }

    /// Returns the id of `value` if it has been interned.
    pub fn lookup(&self, value: &str) -> Option<u32> {
        let tag = self.tag(value);
        self.table.find(tag, |id| self.resolve(id) == value)
    }

    /// Returns the id of `value`, interning it first if needed.
    ///
    /// # Panics
    ///
    /// When more than `u32::MAX - 2` distinct strings are interned, or a single string is
    /// 4 GiB or longer. Both are far beyond what fits in memory next to the rest of an index
    /// whose label sizes are bounded by the ingestion limits.
    pub fn intern(&mut self, value: &str) -> u32 {
        let tag = self.tag(value);
        if let Some(id) = self.table.find(tag, |id| self.resolve(id) == value) {
            return id;
        }
        let id = u32::try_from(self.spans.len())
            .ok()
            .filter(|&id| id <= MAX_ID)
            .expect("symbol table holds at most u32::MAX - 2 strings");
        let span = self.store(value);
        self.spans.push(span);
        self.table.insert(tag, id);
        self.string_bytes += value.len();
        id
    }

    /// Returns the string of `id`.
    ///
    /// # Panics
    ///
    /// When `id` was not returned by this table; ids are internal to the index.
    pub fn resolve(&self, id: u32) -> &str {
        let span = self.spans[id as usize];
        let start = span.start as usize;
        &self.pages[span.page as usize][start..start + span.len as usize]
    }

    /// Whether the string of `id` is `text`. Label names and values are mostly short, and
    /// comparing them with a few word loads inline is several times cheaper than a call
    /// into the C library's `memcmp`, which series lookups otherwise make per label.
    #[inline]
    pub fn is(&self, id: u32, text: &str) -> bool {
        bytes_equal(self.resolve(id).as_bytes(), text.as_bytes())
    }

    /// Approximate heap bytes held by the table.
    pub fn memory_bytes(&self) -> usize {
        let pages: usize = self.pages.iter().map(String::capacity).sum();
        pages
            + self.pages.capacity() * std::mem::size_of::<String>()
            + self.spans.capacity() * std::mem::size_of::<Span>()
            + self.table.memory_bytes()
    }

    fn store(&mut self, value: &str) -> Span {
        let len = u32::try_from(value.len()).expect("interned strings are shorter than 4 GiB");
        if value.len() > LARGE_STRING_BYTES {
            let page = self.push_page(value.to_owned());
            return Span {
                page,
                start: 0,
                len,
            };
        }
        let page = match self.open_page {
            Some(page) if self.pages[page as usize].len() + value.len() <= PAGE_BYTES => page,
            _ => {
                let page = self.push_page(String::with_capacity(PAGE_BYTES));
                self.open_page = Some(page);
                page
            }
        };
        let text = &mut self.pages[page as usize];
        // Pages hold at most PAGE_BYTES, so the offset fits in u32.
        let start = text.len() as u32;
        text.push_str(value);
        debug_assert!(text.len() <= PAGE_BYTES, "a page never reallocates");
        Span { page, start, len }
    }

    fn push_page(&mut self, page: String) -> u32 {
        let index = u32::try_from(self.pages.len()).expect("fewer than 2^32 string pages");
        self.pages.push(page);
        index
    }
}

/// `a == b`, with strings of up to 16 bytes compared by two (possibly overlapping) loads
/// from each end.
#[inline(always)]
fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
    let len = a.len();
    if len != b.len() {
        return false;
    }
    let word = |bytes: &[u8], at: usize| read_u64(&bytes[at..]);
    let half = |bytes: &[u8], at: usize| read_u32(&bytes[at..]);
    match len {
        0 => true,
        1..=3 => a[0] == b[0] && a[len / 2] == b[len / 2] && a[len - 1] == b[len - 1],
        4..=7 => half(a, 0) == half(b, 0) && half(a, len - 4) == half(b, len - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, len - 8) == word(b, len - 8),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bytes_equal_agrees_with_slice_equality_at_every_length_and_position() {
        for len in 0..40usize {
            let base: Vec<u8> = (0..len as u8).map(|i| b'a' + i % 26).collect();
            assert!(bytes_equal(&base, &base.clone()));
            for at in 0..len {
                let mut changed = base.clone();
                changed[at] ^= 0x20;
                assert!(!bytes_equal(&base, &changed), "len {len}, byte {at}");
            }
            let mut longer = base.clone();
            longer.push(b'z');
            assert!(!bytes_equal(&base, &longer));
        }
    }

    #[test]
    fn is_compares_the_interned_string() {
        let mut table = SymbolTable::new();
        let id = table.intern("instance");
        assert!(table.is(id, "instance"));
        assert!(!table.is(id, "instancf"));
        assert!(!table.is(id, "instanc"));
    }

    #[test]
    fn interns_each_string_once() {
        let mut table = SymbolTable::new();
        let a = table.intern("job");
        let b = table.intern("instance");
        assert_ne!(a, b);
        assert_eq!(table.intern("job"), a);
        assert_eq!(table.lookup("instance"), Some(b));
        assert_eq!(table.lookup("absent"), None);
        assert_eq!(table.resolve(a), "job");
        assert_eq!(table.len(), 2);
        assert_eq!(table.string_bytes(), "job".len() + "instance".len());
    }

    #[test]
    fn empty_unicode_and_large_strings() {
        let mut table = SymbolTable::new();
        let large = "x".repeat(LARGE_STRING_BYTES * 3);
        let ids = [
            table.intern(""),
            table.intern("grüße, 世界 🌍"),
            table.intern(&large),
            table.intern("after-large"),
        ];
        assert_eq!(table.resolve(ids[0]), "");
        assert_eq!(table.resolve(ids[1]), "grüße, 世界 🌍");
        assert_eq!(table.resolve(ids[2]), large);
        assert_eq!(table.resolve(ids[3]), "after-large");
        assert_eq!(table.lookup(&large), Some(ids[2]));
    }

    #[test]
    fn fills_many_pages() {
        let mut table = SymbolTable::new();
        let ids: Vec<u32> = (0..50_000)
            .map(|i| table.intern(&format!("value-{i:08}")))
            .collect();
        assert!(table.pages.len() > 5);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(table.resolve(*id), format!("value-{i:08}"));
            assert_eq!(table.lookup(&format!("value-{i:08}")), Some(*id));
        }
    }

    proptest! {
        #[test]
        fn behaves_like_a_map(values in proptest::collection::vec(".{0,12}", 0..200)) {
            let mut table = SymbolTable::new();
            let mut reference = std::collections::HashMap::new();
            for value in &values {
                let id = table.intern(value);
                let expected = *reference.entry(value.clone()).or_insert(id);
                prop_assert_eq!(id, expected);
            }
            prop_assert_eq!(table.len(), reference.len());
            for (value, id) in &reference {
                prop_assert_eq!(table.resolve(*id), value.as_str());
                prop_assert_eq!(table.lookup(value), Some(*id));
            }
        }
    }
}
