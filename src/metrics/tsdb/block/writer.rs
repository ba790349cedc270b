//! [`BlockWriter`]: writes one block into `<blocks>/<id>.tmp/`, then fsyncs and renames it
//! to `<blocks>/<id>/`, so that a block folder without the suffix is always complete.
//!
//! Symbols are given up front; series are added one at a time in label order with their
//! chunks, which go straight to the chunks file. The index's series section is streamed
//! too; only the series offsets (4 bytes a series) and the postings are kept in memory
//! until [`BlockWriter::finish`].

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::error::BlockError;
use super::format::{
    file_header, Toc, CHUNKS_FILE_NAME, CHUNKS_MAGIC, FILE_HEADER_LEN, INDEX_FILE_NAME,
    INDEX_MAGIC, SECTION_COUNT, SECTION_LABEL_NAMES, SECTION_LABEL_PAIRS, SECTION_POSTINGS,
    SECTION_SERIES, SECTION_SERIES_OFFSETS, SECTION_SYMBOLS,
};
use super::meta::{BlockId, BlockMeta, BlockStats, CompactionMeta, BLOCK_FORMAT_VERSION};
use super::relative_chunks::{RelativeChunks, Role};
use super::TMP_SUFFIX;
use crate::metrics::histogram::FloatHistogram;
use crate::metrics::tsdb::chunk::{
    encode_decimal_chunk, encode_histogram_chunk, is_decimal_version, XorChunk,
    HISTOGRAM_FORMAT_VERSION, XOR_FORMAT_VERSION,
};
use crate::metrics::tsdb::wal::record::{put_uvarint, put_varint};

/// Most samples the writer puts in one chunk when it (re-)encodes samples for a block.
/// See "Choices" in `docs/format/block.md`.
pub const BLOCK_CHUNK_MAX_SAMPLES: usize = 480;

const WRITE_BUFFER_BYTES: usize = 1 << 20;

/// Most chunks the writer remembers to find identical ones (about 24 bytes each); the memory
/// is emptied when full, so a huge block shares fewer chunks but never costs more memory.
const SHARED_CHUNKS_MAX: usize = 1 << 20;

/// One encoded chunk handed to the writer: its first and last timestamps and its bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChunkBytes<'a> {
    pub min_time: i64,
    pub max_time: i64,
    pub bytes: &'a [u8],
}

/// An encoded chunk that owns its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedChunk {
    pub min_time: i64,
    pub max_time: i64,
    pub bytes: Vec<u8>,
}

impl OwnedChunk {
    pub fn as_chunk_bytes(&self) -> ChunkBytes<'_> {
        ChunkBytes {
            min_time: self.min_time,
            max_time: self.max_time,
            bytes: &self.bytes,
        }
    }
}

/// Encodes time-ordered samples (strictly increasing timestamps) into as few chunks of at
/// most `max_per_chunk` samples as possible, all of about the same size.
pub fn encode_chunks(samples: &[(i64, f64)], max_per_chunk: usize) -> Vec<OwnedChunk> {
    let max_per_chunk = max_per_chunk.clamp(1, usize::from(u16::MAX));
    let count = samples.len().div_ceil(max_per_chunk);
    let mut chunks = Vec::with_capacity(count);
    let mut start = 0;
    for index in 0..count {
        // Spread the samples evenly: chunk `index` ends at `len * (index + 1) / count`.
        let end = samples.len() * (index + 1) / count;
        let part = &samples[start..end];
        start = end;
        let mut chunk = XorChunk::with_capacity(part.len() * 2 + 16);
        for &(timestamp, value) in part {
            let appended = chunk.append(timestamp, value);
            debug_assert!(
                appended.is_ok(),
                "samples not strictly increasing: {appended:?}"
            );
        }
        let (Some(min_time), Some(max_time)) = (chunk.min_time(), chunk.max_time()) else {
            continue;
        };
        let mut bytes = chunk.into_bytes();
        // The decimal encoding where it is smaller (exporter-shaped values usually are).
        if usize::from(u16::from_be_bytes([bytes[1], bytes[2]])) == part.len() {
            if let Some(decimal) = encode_decimal_chunk(part).filter(|d| d.len() < bytes.len()) {
                bytes = decimal;
            }
        }
        chunks.push(OwnedChunk {
            min_time,
            max_time,
            bytes,
        });
    }
    chunks
}

/// Encodes a series' float and native histogram samples (each list strictly increasing,
/// no timestamp in both) into chunks in time order that never overlap: each run of one
/// kind becomes its own chunks.
pub fn encode_mixed_chunks(
    floats: &[(i64, f64)],
    histograms: &[(i64, FloatHistogram)],
    max_per_chunk: usize,
) -> Vec<OwnedChunk> {
    let max_per_chunk = max_per_chunk.clamp(1, usize::from(u16::MAX));
    let mut chunks = Vec::new();
    let (mut f, mut h) = (0usize, 0usize);
    while f < floats.len() || h < histograms.len() {
        let next_histogram = histograms.get(h).map_or(i64::MAX, |(t, _)| *t);
        let next_float = floats.get(f).map_or(i64::MAX, |(t, _)| *t);
        if f < floats.len() && next_float == next_histogram {
            // Callers never pass both kinds at one timestamp; should damaged input do so,
            // the histogram wins rather than the loop stalling.
            f += 1;
            continue;
        }
        if f < floats.len() && next_float < next_histogram {
            let run = floats[f..].partition_point(|(t, _)| *t < next_histogram);
            chunks.extend(encode_chunks(&floats[f..f + run], max_per_chunk));
            f += run;
        } else {
            let run = histograms[h..].partition_point(|(t, _)| *t < next_float);
            for part in histograms[h..h + run].chunks(max_per_chunk) {
                chunks.push(OwnedChunk {
                    min_time: part[0].0,
                    max_time: part[part.len() - 1].0,
                    bytes: encode_histogram_chunk(part),
                });
            }
            h += run;
        }
    }
    chunks
}

/// A file being written, with the current section's checksum.
struct SectionedFile {
    path: PathBuf,
    out: BufWriter<File>,
    len: u64,
    section_start: u64,
    crc: crc32fast::Hasher,
}

impl SectionedFile {
    fn create(path: PathBuf) -> Result<Self, BlockError> {
        // Readable too: the writer compares new chunks with ones already written.
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(BlockError::io(&path))?;
        Ok(SectionedFile {
            path,
            out: BufWriter::with_capacity(WRITE_BUFFER_BYTES, file),
            len: 0,
            section_start: 0,
            crc: crc32fast::Hasher::new(),
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), BlockError> {
        self.out
            .write_all(bytes)
            .map_err(BlockError::io(&self.path))?;
        self.crc.update(bytes);
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn begin_section(&mut self) {
        self.section_start = self.len;
        self.crc = crc32fast::Hasher::new();
    }

    /// Writes the section's CRC; returns its `(offset, length)`.
    fn end_section(&mut self) -> Result<(u64, u64), BlockError> {
        let crc = std::mem::take(&mut self.crc).finalize();
        let section = (self.section_start, self.len - self.section_start);
        self.write(&crc.to_le_bytes())?;
        Ok(section)
    }

    /// Whether the file holds `expected` at `offset`, whether those bytes are still
    /// buffered or already written.
    fn holds_at(&self, offset: u64, expected: &[u8]) -> Result<bool, BlockError> {
        use std::os::unix::fs::FileExt;
        let buffered = self.out.buffer();
        let flushed = self.len - buffered.len() as u64;
        let end = offset + expected.len() as u64;
        if end > self.len {
            return Ok(false);
        }
        let (in_file, in_buffer) =
            expected.split_at((flushed.clamp(offset, end) - offset) as usize);
        let buffer_start = (offset.max(flushed) - flushed) as usize;
        if buffered[buffer_start..buffer_start + in_buffer.len()] != *in_buffer {
            return Ok(false);
        }
        if in_file.is_empty() {
            return Ok(true);
        }
        let mut stored = vec![0; in_file.len()];
        self.out
            .get_ref()
            .read_exact_at(&mut stored, offset)
            .map_err(BlockError::io(&self.path))?;
        Ok(stored == in_file)
    }

    fn sync(mut self) -> Result<u64, BlockError> {
        self.out.flush().map_err(BlockError::io(&self.path))?;
        let file = self.out.into_inner().map_err(|error| BlockError::Io {
            path: self.path.clone(),
            source: error.into_error(),
        })?;
        file.sync_all().map_err(BlockError::io(&self.path))?;
        Ok(self.len)
    }
}

/// Writes one block. Dropping it before [`BlockWriter::finish`] removes the partial folder.
pub struct BlockWriter {
    id: BlockId,
    blocks_dir: PathBuf,
    tmp_dir: PathBuf,
    min_time: i64,
    max_time: i64,
    symbols: Vec<String>,
    chunks: Option<SectionedFile>,
    index: Option<SectionedFile>,
    sections: [(u64, u64); SECTION_COUNT],
    series_offsets: Vec<u32>,
    postings: HashMap<(u32, u32), Vec<u32>>,
    /// Chunks written so far by `(CRC, length)` of their entry: a series whose chunk is
    /// byte for byte one already written refers to that one instead of writing it again.
    written_chunks: HashMap<(u32, usize), u64>,
    /// `+Inf` bucket chunks, which later buckets of their histogram are coded against.
    relative: RelativeChunks,
    last_labels: Vec<(u32, u32)>,
    entry: Vec<u8>,
    stats: BlockStats,
    finished: bool,
}

impl BlockWriter {
    /// Starts block `id` for the half-open range `[min_time, max_time)` in `blocks_dir`.
    /// `symbols` must hold every label name and value of the series to come (any order,
    /// duplicates allowed).
    pub fn create(
        blocks_dir: &Path,
        id: BlockId,
        min_time: i64,
        max_time: i64,
        symbols: Vec<String>,
    ) -> Result<BlockWriter, BlockError> {
        if min_time >= max_time {
            return Err(BlockError::Invalid(format!(
                "empty time range [{min_time}, {max_time})"
            )));
        }
        let tmp_dir = blocks_dir.join(format!("{id}{TMP_SUFFIX}"));
        if tmp_dir.exists() {
            std::fs::remove_dir_all(&tmp_dir).map_err(BlockError::io(&tmp_dir))?;
        }
        std::fs::create_dir_all(&tmp_dir).map_err(BlockError::io(&tmp_dir))?;
        let mut writer = BlockWriter {
            id,
            blocks_dir: blocks_dir.to_path_buf(),
            tmp_dir: tmp_dir.clone(),
            min_time,
            max_time,
            symbols,
            chunks: None,
            index: None,
            sections: [(0, 0); SECTION_COUNT],
            series_offsets: Vec::new(),
            postings: HashMap::new(),
            written_chunks: HashMap::new(),
            relative: RelativeChunks::default(),
            last_labels: Vec::new(),
            entry: Vec::new(),
            stats: BlockStats::default(),
            finished: false,
        };
        writer.symbols.sort_unstable();
        writer.symbols.dedup();
        if u32::try_from(writer.symbols.len()).is_err() {
            return Err(BlockError::Invalid("more than 2^32 symbols".to_string()));
        }
        let mut chunks = SectionedFile::create(tmp_dir.join(CHUNKS_FILE_NAME))?;
        chunks.write(&file_header(CHUNKS_MAGIC))?;
        let mut index = SectionedFile::create(tmp_dir.join(INDEX_FILE_NAME))?;
        index.write(&file_header(INDEX_MAGIC))?;
        index.begin_section();
        index.write(&(writer.symbols.len() as u32).to_le_bytes())?;
        let mut buffer = Vec::new();
        for symbol in &writer.symbols {
            buffer.clear();
            put_uvarint(&mut buffer, symbol.len() as u64);
            buffer.extend_from_slice(symbol.as_bytes());
            index.write(&buffer)?;
        }
        writer.sections[SECTION_SYMBOLS] = index.end_section()?;
        index.begin_section();
        writer.chunks = Some(chunks);
        writer.index = Some(index);
        Ok(writer)
    }

    pub fn id(&self) -> BlockId {
        self.id
    }

    fn symbol_ref(&self, value: &str) -> Result<u32, BlockError> {
        self.symbols
            .binary_search_by(|symbol| symbol.as_str().cmp(value))
            .map(|position| position as u32)
            .map_err(|_| BlockError::Invalid(format!("label string {value:?} is not a symbol")))
    }

    /// Adds the next series: labels sorted by name, greater than the previous series'
    /// labels; chunks in time order, not overlapping, inside the block's range.
    pub fn add_series<S: AsRef<str>>(
        &mut self,
        labels: &[(S, S)],
        chunks: &[ChunkBytes<'_>],
    ) -> Result<(), BlockError> {
        if labels.is_empty() || chunks.is_empty() {
            return Err(BlockError::Invalid(
                "a series needs labels and at least one chunk".to_string(),
            ));
        }
        let mut refs = Vec::with_capacity(labels.len());
        for (name, value) in labels {
            refs.push((
                self.symbol_ref(name.as_ref())?,
                self.symbol_ref(value.as_ref())?,
            ));
        }
        if !refs.windows(2).all(|pair| pair[0].0 < pair[1].0) {
            return Err(BlockError::Invalid(
                "label names not strictly increasing".to_string(),
            ));
        }
        // Symbol refs order like the strings, so comparing refs compares label sets.
        if !self.series_offsets.is_empty() && refs <= self.last_labels {
            return Err(BlockError::Invalid(
                "series not added in increasing label order".to_string(),
            ));
        }
        let ordinal = u32::try_from(self.series_offsets.len())
            .map_err(|_| BlockError::Invalid("more than 2^32 series".to_string()))?;
        let mut previous: Option<&ChunkBytes<'_>> = None;
        for chunk in chunks {
            let well_formed = chunk.min_time <= chunk.max_time
                && chunk.min_time >= self.min_time
                && chunk.max_time < self.max_time
                && chunk.bytes.len() >= 3
                && (is_decimal_version(chunk.bytes[0])
                    || [XOR_FORMAT_VERSION, HISTOGRAM_FORMAT_VERSION].contains(&chunk.bytes[0]))
                && previous.is_none_or(|previous| chunk.min_time > previous.max_time);
            if !well_formed {
                return Err(BlockError::Invalid(format!(
                    "chunk [{}, {}] out of order, outside [{}, {}) or malformed",
                    chunk.min_time, chunk.max_time, self.min_time, self.max_time
                )));
            }
            previous = Some(chunk);
        }

        let role = Role::of(labels, &refs, |value| self.symbol_ref(value).ok());
        let entry = &mut self.entry;
        entry.clear();
        put_uvarint(entry, refs.len() as u64);
        for (name, value) in &refs {
            put_uvarint(entry, u64::from(*name));
            put_uvarint(entry, u64::from(*value));
        }
        put_uvarint(entry, chunks.len() as u64);
        let chunks_file = self
            .chunks
            .as_mut()
            .ok_or_else(|| BlockError::Invalid("writer already finished".to_string()))?;
        let mut entry_bytes = Vec::with_capacity(512);
        let mut previous: Option<(i64, u64)> = None;
        for chunk in chunks {
            let relative = match &role {
                Role::Dependent(key) => {
                    self.relative
                        .encode(key, chunk.min_time, chunk.max_time, chunk.bytes)
                }
                _ => None,
            };
            let bytes = relative.as_deref().unwrap_or(chunk.bytes);
            entry_bytes.clear();
            put_uvarint(&mut entry_bytes, bytes.len() as u64);
            entry_bytes.extend_from_slice(bytes);
            let crc = crc32fast::hash(&entry_bytes);
            let key = (crc, entry_bytes.len());
            // References within a series must increase, so an earlier copy is used only
            // after the series' previous chunk.
            let shared = match self.written_chunks.get(&key) {
                Some(&offset)
                    if previous.is_none_or(|(_, previous)| offset > previous)
                        && chunks_file.holds_at(offset, &entry_bytes)? =>
                {
                    Some(offset)
                }
                _ => None,
            };
            let offset = match shared {
                Some(offset) => {
                    self.stats.shared_chunks += 1;
                    offset
                }
                None => {
                    let offset = chunks_file.len;
                    chunks_file.write(&entry_bytes)?;
                    chunks_file.write(&crc.to_le_bytes())?;
                    if self.written_chunks.len() >= SHARED_CHUNKS_MAX {
                        self.written_chunks.clear();
                    }
                    self.written_chunks.insert(key, offset);
                    offset
                }
            };
            let span = chunk.max_time.wrapping_sub(chunk.min_time) as u64;
            match previous {
                None => {
                    put_varint(entry, chunk.min_time.wrapping_sub(self.min_time));
                    put_uvarint(entry, span);
                    put_uvarint(entry, offset);
                }
                Some((previous_max, previous_offset)) => {
                    put_uvarint(entry, chunk.min_time.wrapping_sub(previous_max) as u64);
                    put_uvarint(entry, span);
                    put_uvarint(entry, offset - previous_offset);
                }
            }
            previous = Some((chunk.max_time, offset));
            if let Role::Reference(key) = &role {
                self.relative
                    .remember(key, chunk.min_time, chunk.max_time, offset, bytes);
            }
            self.stats.samples += u64::from(u16::from_be_bytes([bytes[1], bytes[2]]));
            self.stats.chunks += 1;
        }

        let index = self
            .index
            .as_mut()
            .ok_or_else(|| BlockError::Invalid("writer already finished".to_string()))?;
        let offset = u32::try_from(index.len - index.section_start)
            .map_err(|_| BlockError::Invalid("series section exceeds 4 GiB".to_string()))?;
        index.write(&self.entry)?;
        self.series_offsets.push(offset);
        for pair in &refs {
            self.postings.entry(*pair).or_default().push(ordinal);
        }
        self.last_labels = refs;
        self.stats.series += 1;
        Ok(())
    }

    /// Number of series added so far.
    pub fn num_series(&self) -> u64 {
        self.stats.series
    }

    /// Writes the rest of the index and `meta.json`, fsyncs, and renames the folder into
    /// place. Returns the block's meta.
    pub fn finish(mut self, compaction: CompactionMeta) -> Result<BlockMeta, BlockError> {
        let (Some(chunks), Some(mut index)) = (self.chunks.take(), self.index.take()) else {
            return Err(BlockError::Invalid("writer already finished".to_string()));
        };
        self.sections[SECTION_SERIES] = index.end_section()?;

        index.begin_section();
        let mut table = Vec::with_capacity(self.series_offsets.len() * 4);
        for offset in &self.series_offsets {
            table.extend_from_slice(&offset.to_le_bytes());
        }
        index.write(&table)?;
        self.sections[SECTION_SERIES_OFFSETS] = index.end_section()?;

        let mut pairs: Vec<((u32, u32), Vec<u32>)> =
            std::mem::take(&mut self.postings).into_iter().collect();
        pairs.sort_unstable_by_key(|(pair, _)| *pair);
        index.begin_section();
        let mut pair_rows = Vec::with_capacity(pairs.len() * 8);
        let mut name_rows: Vec<u8> = Vec::new();
        let mut buffer = Vec::new();
        let mut postings_len = 0u64;
        let mut current_name: Option<(u32, u32, u32)> = None;
        for (pair_index, ((name, value), list)) in pairs.iter().enumerate() {
            let pair_index = pair_index as u32;
            let postings_offset = u32::try_from(postings_len)
                .map_err(|_| BlockError::Invalid("postings section exceeds 4 GiB".to_string()))?;
            buffer.clear();
            put_uvarint(&mut buffer, list.len() as u64);
            let mut last = None;
            for &ordinal in list {
                match last {
                    None => put_uvarint(&mut buffer, u64::from(ordinal)),
                    Some(last) => put_uvarint(&mut buffer, u64::from(ordinal - last)),
                }
                last = Some(ordinal);
            }
            index.write(&buffer)?;
            postings_len += buffer.len() as u64;
            pair_rows.extend_from_slice(&value.to_le_bytes());
            pair_rows.extend_from_slice(&postings_offset.to_le_bytes());
            match &mut current_name {
                Some((current, _, count)) if current == name => *count += 1,
                _ => {
                    if let Some(row) = current_name.take() {
                        push_name_row(&mut name_rows, row);
                    }
                    current_name = Some((*name, pair_index, 1));
                }
            }
        }
        if let Some(row) = current_name.take() {
            push_name_row(&mut name_rows, row);
        }
        self.sections[SECTION_POSTINGS] = index.end_section()?;
        index.begin_section();
        index.write(&name_rows)?;
        self.sections[SECTION_LABEL_NAMES] = index.end_section()?;
        index.begin_section();
        index.write(&pair_rows)?;
        self.sections[SECTION_LABEL_PAIRS] = index.end_section()?;

        let chunks_len = chunks.sync()?;
        let toc = Toc {
            sections: self.sections,
            chunks_file_len: chunks_len,
            series_count: self.series_offsets.len() as u32,
        };
        index.write(&toc.encode())?;
        let index_len = index.sync()?;
        debug_assert!(chunks_len >= FILE_HEADER_LEN as u64);

        self.stats.index_bytes = index_len;
        self.stats.chunks_bytes = chunks_len;
        let meta = BlockMeta {
            format_version: BLOCK_FORMAT_VERSION,
            id: self.id,
            min_time: self.min_time,
            max_time: self.max_time,
            stats: self.stats.clone(),
            compaction,
        };
        meta.write(&self.tmp_dir)?;
        sync_dir(&self.tmp_dir)?;
        let final_dir = self.blocks_dir.join(self.id.to_string());
        std::fs::rename(&self.tmp_dir, &final_dir).map_err(BlockError::io(&final_dir))?;
        self.finished = true;
        sync_dir(&self.blocks_dir)?;
        Ok(meta)
    }
}

fn push_name_row(rows: &mut Vec<u8>, (name, first, count): (u32, u32, u32)) {
    rows.extend_from_slice(&name.to_le_bytes());
    rows.extend_from_slice(&first.to_le_bytes());
    rows.extend_from_slice(&count.to_le_bytes());
}

impl Drop for BlockWriter {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        self.chunks = None;
        self.index = None;
        if let Err(error) = std::fs::remove_dir_all(&self.tmp_dir) {
            tracing::warn!(dir = %self.tmp_dir.display(), error = %error, "cannot remove unfinished block");
        }
    }
}

/// Makes the creation and renaming of entries in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), BlockError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|dir_file| dir_file.sync_all())
            .map_err(BlockError::io(dir))?;
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
    }
    Ok(())
}
