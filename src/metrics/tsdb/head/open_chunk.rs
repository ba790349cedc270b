//! The chunk a series appends to, kept small on the heap: once its settled bytes (those no
//! later append rewrites) reach [`SETTLED_BYTES_TO_SPILL`], the append batch writes the
//! chunk's prefix to the spill file and the heap keeps only the tail. A series then holds
//! a few dozen bytes of samples in memory instead of a whole 120-sample chunk, which was
//! over half of the head's resident memory.
//!
//! Each spill rewrites the whole prefix, so a series needs one reference however often it
//! spills, at the cost of writing each settled byte about four times into a file that
//! lives only as long as the head (a 250-byte chunk spills at 32, 64, ... 224 bytes).

use super::spill::SpilledChunk;
use crate::metrics::tsdb::chunk::{ChunkError, XorChunk, XorIter};

/// Settled bytes at which the append batch spills the open chunk's prefix. At 32 the tail
/// fits malloc's 64-byte class; at 64 it took the 96-byte one, 30 bytes more a series in
/// the head (measured with `--head-memory`), for half the spill writes and no ingest
/// difference measurable on the load bench.
pub const SETTLED_BYTES_TO_SPILL: usize = 32;

/// Most the tail's buffer grows to while spills keep up (one sample a series per batch, as
/// remote write and scrapes send): before an append it holds at most the header, the
/// settled bytes short of a spill and a partly written byte, and an append reserves room
/// for the largest sample first. malloc's 64-byte size class holds it.
pub const TAIL_CAPACITY: usize = 3 + (SETTLED_BYTES_TO_SPILL - 1) + 1 + 20;

#[derive(Default)]
pub struct OpenChunk {
    /// The header and the bytes after the spilled prefix, with the append state.
    tail: XorChunk,
    /// The chunk's bytes after the header up to where the tail starts, in a spill file.
    prefix: Option<SpilledChunk>,
}

impl OpenChunk {
    pub fn num_samples(&self) -> u16 {
        self.tail.num_samples()
    }

    pub fn is_empty(&self) -> bool {
        self.tail.is_empty()
    }

    /// The first timestamp; with a spilled prefix it is read from the spill file's
    /// mapping, as queries read closed chunks, so the append path never asks (see
    /// `MemSeries::append_in_order`).
    pub fn min_time(&self) -> Option<i64> {
        match &self.prefix {
            Some(prefix) => XorChunk::first_timestamp_in_payload(prefix.bytes())
                .or_else(|| self.with_bytes(XorChunk::first_timestamp)),
            None => self.tail.min_time(),
        }
    }

    pub fn max_time(&self) -> Option<i64> {
        self.tail.max_time()
    }

    pub fn last_sample(&self) -> Option<(i64, f64)> {
        self.tail.last_sample()
    }

    /// The memory the next append touches beyond the series record (for prefetching).
    pub fn append_lines(&self) -> [*const u8; 2] {
        self.tail.append_lines()
    }

    pub fn append(&mut self, timestamp: i64, value: f64) -> Result<(), ChunkError> {
        self.tail.append_growing_to(timestamp, value, TAIL_CAPACITY)
    }

    /// Empties the chunk, keeping the tail's allocation.
    pub fn clear(&mut self) {
        self.tail.clear();
        self.prefix = None;
    }

    /// Encoded size, spilled prefix included.
    pub fn byte_len(&self) -> usize {
        self.tail.bytes().len() + self.spilled_len()
    }

    /// Bytes of the chunk on the heap (header and tail) and the buffer's capacity.
    #[cfg(test)]
    pub fn heap_len(&self) -> (usize, usize) {
        (self.tail.bytes().len(), self.tail.buffer_capacity())
    }

    pub fn spilled_len(&self) -> usize {
        self.prefix.as_ref().map_or(0, SpilledChunk::byte_len)
    }

    /// Calls `read` with the whole encoded chunk; a spilled prefix is read through the
    /// mapping, as closed chunks are.
    pub fn with_bytes<R>(&self, read: impl FnOnce(&[u8]) -> R) -> R {
        match &self.prefix {
            None => read(self.tail.bytes()),
            Some(prefix) => {
                let mut whole = Vec::new();
                self.tail.write_with_prefix(prefix.bytes(), &mut whole);
                read(&whole)
            }
        }
    }

    /// The whole encoded chunk, for closing it (see [`SpilledChunk::copy_to`]).
    pub fn copy_bytes(&self) -> Vec<u8> {
        let mut whole = Vec::new();
        match &self.prefix {
            Some(spilled) => {
                spilled.read_counted(|prefix| self.tail.write_with_prefix(prefix, &mut whole))
            }
            None => whole.extend_from_slice(self.tail.bytes()),
        }
        whole
    }

    /// The samples, decoded.
    pub fn samples(&self) -> Vec<(i64, f64)> {
        self.with_bytes(|bytes| {
            XorIter::new(bytes)
                .map(Iterator::collect)
                .unwrap_or_default()
        })
    }

    /// Whether the settled bytes on the heap are worth spilling.
    pub fn wants_spill(&self) -> bool {
        self.tail.settled_len() >= SETTLED_BYTES_TO_SPILL
    }

    /// Appends to `out` what the next spill writes: the spilled prefix and the settled
    /// bytes of the tail; returns how many of the latter were appended.
    pub fn write_spill(&self, out: &mut Vec<u8>) -> usize {
        if let Some(prefix) = &self.prefix {
            prefix.copy_to(out);
        }
        let settled = self.tail.settled_len();
        out.extend_from_slice(self.tail.settled(settled));
        settled
    }

    /// Points the chunk at its newly written prefix (what [`OpenChunk::write_spill`]
    /// wrote) and drops the `moved` settled bytes from the tail.
    pub fn spilled(&mut self, bytes: SpilledChunk, moved: usize) {
        debug_assert_eq!(bytes.byte_len(), self.spilled_len() + moved);
        self.tail.forget_settled(moved);
        self.prefix = Some(bytes);
    }
}
