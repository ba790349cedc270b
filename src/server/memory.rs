//! Handing memory the allocator holds free back to the operating system.
//!
//! glibc's malloc keeps freed memory inside its arenas: after WAL replay, a burst of
//! remote writes or a large query, tens of megabytes of free pages stayed resident (on the
//! load bench, a third of the process's anonymous memory after replay). `malloc_trim`
//! returns whole free pages anywhere in the arenas, not only at their top.

/// Returns free allocator pages to the OS; a no-op where the allocator is not glibc's.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only inspects and releases the allocator's own free memory; it is
    // thread-safe (it takes each arena's lock).
    unsafe {
        libc::malloc_trim(0);
    }
}
