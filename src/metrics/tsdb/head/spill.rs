//! Closed head chunks, and the settled start of open ones (see `open_chunk.rs`), written
//! out of the heap into memory-mapped files.
//!
//! A closed chunk never changes, and most of them are read only when the head is cut into a
//! block or a query reaches back in time. Kept on the heap they were half of the head's
//! resident memory; in a file they cost a 16-byte reference, and their pages are read
//! through the page cache, which the kernel can reclaim.
//!
//! These files are not a durability mechanism: the WAL is. They are deleted at start-up
//! (replay writes them again) and once every chunk in them is older than the head.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::ops::Deref;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use memmap2::{Mmap, MmapOptions, UncheckedAdvice};

/// Size a spill file grows to before the next one is started; its mapping reserves this
/// much address space (not memory).
const FILE_CAPACITY: u64 = 256 << 20;

/// The bytes of a closed chunk: on the heap, or in a spill file.
pub enum ChunkBytes {
    Heap(Box<[u8]>),
    Spilled(SpilledChunk),
}

impl ChunkBytes {
    pub fn is_spilled(&self) -> bool {
        matches!(self, ChunkBytes::Spilled(_))
    }
}

impl Deref for ChunkBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            ChunkBytes::Heap(bytes) => bytes,
            ChunkBytes::Spilled(chunk) => chunk.bytes(),
        }
    }
}

/// A chunk's place in a spill file. Holding it keeps the file's mapping alive, so the bytes
/// stay readable even after the file was forgotten and unlinked.
pub struct SpilledChunk {
    file: Arc<SpillFile>,
    offset: u32,
    len: u32,
}

impl SpilledChunk {
    pub fn bytes(&self) -> &[u8] {
        let start = self.offset as usize;
        // Only ranges that were completely written are ever handed out.
        &self.file.map[start..start + self.len as usize]
    }

    pub fn byte_len(&self) -> usize {
        self.len as usize
    }

    /// Appends the bytes to `out`, for the write path, which rereads every open chunk's
    /// spilled prefix. It reads through the mapping (a read call each would cost more than
    /// the rest of the spill) but keeps count of the pages that maps into the process, and
    /// drops them once they add up to a few megabytes: mapped pages count as its resident
    /// memory.
    pub fn copy_to(&self, out: &mut Vec<u8>) {
        self.read_counted(|bytes| out.extend_from_slice(bytes));
    }

    /// Calls `read` with the bytes, counting the pages read as [`SpilledChunk::copy_to`]
    /// does.
    pub fn read_counted<R>(&self, read: impl FnOnce(&[u8]) -> R) -> R {
        let result = read(self.bytes());
        self.file
            .note_mapped(self.offset as usize, self.len as usize);
        result
    }
}

/// Where a batch of chunks was written.
pub struct SpilledBatch {
    file: Arc<SpillFile>,
    offset: u32,
    len: usize,
}

impl SpilledBatch {
    /// The chunk at `start..start + len` of the batch's bytes.
    pub fn chunk(&self, start: usize, len: usize) -> Option<SpilledChunk> {
        if start.checked_add(len)? > self.len {
            return None;
        }
        Some(SpilledChunk {
            file: Arc::clone(&self.file),
            offset: self.offset + start as u32,
            len: len as u32,
        })
    }
}

/// The kernel maps a file's pages into a process in aligned groups of this size on a read
/// fault (its fault-around), so a group is the unit counted by [`SpillFile::note_mapped`].
const FAULT_AROUND_BYTES: usize = 64 << 10;
/// Groups the write path may map before the file's pages are dropped from the process.
const MAPPED_GROUPS_BEFORE_DROP: u32 = 64;

struct SpillFile {
    path: PathBuf,
    file: File,
    map: Mmap,
    /// Newest sample time of any chunk written to it.
    max_time: AtomicI64,
    /// One bit per fault-around group the write path has read since the last drop.
    mapped_groups: Box<[AtomicU64]>,
    mapped_count: AtomicU32,
}

impl SpillFile {
    /// Records that `offset..offset + len` was read through the mapping; drops the file's
    /// pages from the process once enough groups were mapped.
    fn note_mapped(&self, offset: usize, len: usize) {
        let first = offset / FAULT_AROUND_BYTES;
        let last = (offset + len.max(1) - 1) / FAULT_AROUND_BYTES;
        for group in first..=last {
            let Some(word) = self.mapped_groups.get(group / 64) else {
                return;
            };
            let bit = 1u64 << (group % 64);
            if word.fetch_or(bit, Ordering::Relaxed) & bit == 0
                && self.mapped_count.fetch_add(1, Ordering::Relaxed) + 1
                    >= MAPPED_GROUPS_BEFORE_DROP
            {
                self.drop_mapped_pages();
            }
        }
    }

    /// Drops this process's mapping of the file's pages; they stay in the page cache and
    /// the next read maps them again with a minor fault.
    fn drop_mapped_pages(&self) {
        for word in self.mapped_groups.iter() {
            word.store(0, Ordering::Relaxed);
        }
        self.mapped_count.store(0, Ordering::Relaxed);
        // SAFETY: a shared, read-only mapping of a file whose written ranges never change:
        // dropped pages are read back from the page cache or the file with the same
        // bytes, even under a reader that holds a slice of them.
        let dropped = unsafe { self.map.unchecked_advise(UncheckedAdvice::DontNeed) };
        if let Err(error) = dropped {
            tracing::debug!(path = %self.path.display(), %error, "madvise failed");
        }
    }
}

struct SpillState {
    current: Option<(Arc<SpillFile>, u64)>,
    /// Every file still on disk, oldest first.
    files: Vec<Arc<SpillFile>>,
    next_id: u64,
}

/// The spill files of one head.
pub struct ChunkSpill {
    dir: PathBuf,
    file_capacity: u64,
    state: Mutex<SpillState>,
    /// A write failed (disk full?): logged once; chunks then stay on the heap.
    failing: AtomicBool,
}

impl ChunkSpill {
    /// Starts with an empty `dir`, removing what an earlier run left there.
    pub fn open(dir: &Path) -> io::Result<ChunkSpill> {
        ChunkSpill::open_with_capacity(dir, FILE_CAPACITY)
    }

    fn open_with_capacity(dir: &Path, file_capacity: u64) -> io::Result<ChunkSpill> {
        match fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        fs::create_dir_all(dir)?;
        Ok(ChunkSpill {
            dir: dir.to_path_buf(),
            file_capacity: file_capacity.min(u64::from(u32::MAX)),
            state: Mutex::new(SpillState {
                current: None,
                files: Vec::new(),
                next_id: 0,
            }),
            failing: AtomicBool::new(false),
        })
    }

    /// Writes `bytes` (a chunk whose newest sample is at `max_time`) to the current file;
    /// `None` if that failed (the caller keeps the chunk on the heap).
    #[cfg(test)]
    pub fn write(&self, bytes: &[u8], max_time: i64) -> Option<SpilledChunk> {
        let batch = self.write_batch(bytes, max_time)?;
        batch.chunk(0, bytes.len())
    }

    /// Writes several chunks at once (`bytes` is their concatenation, `max_time` the newest
    /// sample time among them) with one system call; `None` if that failed (the caller
    /// keeps the chunks on the heap).
    pub fn write_batch(&self, bytes: &[u8], max_time: i64) -> Option<SpilledBatch> {
        if bytes.len() as u64 > self.file_capacity {
            return None;
        }
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let result = self.write_locked(&mut state, bytes, max_time);
        match result {
            Ok((file, offset)) => {
                self.failing.store(false, Ordering::Relaxed);
                Some(SpilledBatch {
                    file,
                    offset,
                    len: bytes.len(),
                })
            }
            Err(error) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        dir = %self.dir.display(),
                        %error,
                        "head chunks stay in memory: writing them to a spill file failed"
                    );
                }
                None
            }
        }
    }

    fn write_locked(
        &self,
        state: &mut SpillState,
        bytes: &[u8],
        max_time: i64,
    ) -> io::Result<(Arc<SpillFile>, u32)> {
        let fits = state
            .current
            .as_ref()
            .is_some_and(|(_, written)| written + bytes.len() as u64 <= self.file_capacity);
        if !fits {
            let file = self.create_file(state.next_id)?;
            state.next_id += 1;
            state.files.push(Arc::clone(&file));
            state.current = Some((file, 0));
        }
        let Some((file, written)) = state.current.as_mut() else {
            return Err(io::Error::other("no spill file"));
        };
        let offset = *written;
        file.file.write_all_at(bytes, offset)?;
        *written += bytes.len() as u64;
        file.max_time.fetch_max(max_time, Ordering::Relaxed);
        Ok((Arc::clone(file), offset as u32))
    }

    fn create_file(&self, id: u64) -> io::Result<Arc<SpillFile>> {
        let path = self.dir.join(format!("{id:08}"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        // SAFETY: the file is private to this process and only ever appended to; the
        // mapping reserves the file's final size up front and only ranges already written
        // are read, so no page beyond the end of the file is touched.
        let map = unsafe {
            MmapOptions::new()
                .len(self.file_capacity as usize)
                .map(&file)?
        };
        let groups = (self.file_capacity as usize).div_ceil(FAULT_AROUND_BYTES);
        Ok(Arc::new(SpillFile {
            path,
            file,
            map,
            max_time: AtomicI64::new(i64::MIN),
            mapped_groups: (0..groups.div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
            mapped_count: AtomicU32::new(0),
        }))
    }

    /// Drops this process's mapping of the spill files' pages; the pages stay in the page
    /// cache and the next read maps them again with a minor fault. Reads map whole
    /// neighbourhoods of pages (the kernel's fault-around), so without this a few queries
    /// would leave most of the spilled chunks counted as the process's resident memory.
    pub fn unmap_cached_pages(&self) {
        let files = self
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .files
            .clone();
        for file in files {
            file.drop_mapped_pages();
        }
    }

    /// Deletes the files whose every chunk is older than `end` (dropped from the head).
    /// Chunks still referring to them keep their mapping until they are dropped.
    pub fn forget_before(&self, end: i64) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let current = state.current.as_ref().map(|(file, _)| Arc::clone(file));
        state.files.retain(|file| {
            let is_current = current.as_ref().is_some_and(|c| Arc::ptr_eq(c, file));
            let keep = is_current || file.max_time.load(Ordering::Relaxed) >= end;
            if !keep {
                if let Err(error) = fs::remove_file(&file.path) {
                    tracing::warn!(path = %file.path.display(), %error, "spill file not removed");
                }
            }
            keep
        });
    }

    /// How many spill files are on disk.
    #[cfg(test)]
    pub fn files(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .files
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spilled_chunks_read_back_and_outlive_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let spill_dir = dir.path().join("chunks_head");
        fs::create_dir_all(&spill_dir).unwrap();
        fs::write(spill_dir.join("leftover"), b"old").unwrap();
        let spill = ChunkSpill::open(&spill_dir).unwrap();
        assert!(
            !spill_dir.join("leftover").exists(),
            "earlier files are removed"
        );
        let old = ChunkBytes::Spilled(spill.write(b"first chunk", 100).unwrap());
        let new = ChunkBytes::Spilled(spill.write(b"second", 5_000).unwrap());
        assert_eq!(&old[..], b"first chunk");
        assert_eq!(&new[..], b"second");
        assert!(old.is_spilled());
        assert_eq!(spill.files(), 1);
        // The current file is kept even when all its chunks are old.
        spill.forget_before(10_000);
        assert_eq!(spill.files(), 1);
        assert_eq!(&old[..], b"first chunk");
    }

    #[test]
    fn full_files_rotate_and_old_ones_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let spill = ChunkSpill::open_with_capacity(dir.path(), 4096).unwrap();
        // Fill the first file up to its capacity with one large chunk, then start another.
        let big = vec![7u8; 4090];
        let first = ChunkBytes::Spilled(spill.write(&big, 100).unwrap());
        let second = ChunkBytes::Spilled(spill.write(&[1u8; 20], 9_000).unwrap());
        assert_eq!(spill.files(), 2);
        spill.forget_before(1_000);
        assert_eq!(spill.files(), 1, "the first file held only older chunks");
        assert!(!dir.path().join("00000000").exists());
        assert!(
            first.iter().all(|byte| *byte == 7),
            "still mapped after the unlink"
        );
        assert_eq!(&second[..], &[1u8; 20]);
    }
}
