//! A hint to the CPU to start loading a cache line that will be read soon.
//!
//! Appends touch a few hash-table slots and series records per series, at random places in
//! hundreds of megabytes; each is a cache miss of about 100 ns. Batched code asks for the
//! lines of the items a few steps ahead so that their misses overlap.

/// Starts loading the cache line holding `value`. Never faults, even for stale addresses.
#[inline(always)]
pub fn prefetch<T>(value: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only hints the cache; it neither reads into the program nor
    // faults on any address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(value.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Starts loading every cache line of `items[index]` if it exists (a record larger than a
/// line, or straddling two, would otherwise still miss on its other fields).
#[inline(always)]
pub fn prefetch_at<T>(items: &[T], index: usize) {
    const LINE: usize = 64;
    if let Some(item) = items.get(index) {
        let start = (item as *const T).cast::<u8>();
        let size = std::mem::size_of::<T>();
        let mut offset = 0;
        while offset < size {
            prefetch(start.wrapping_add(offset));
            offset += LINE;
        }
        if size > 1 {
            prefetch(start.wrapping_add(size - 1));
        }
    }
}
