//! [`Block`]: an opened, validated block read through memory maps, and [`load_blocks`],
//! which opens every block of the blocks directory at start-up, setting aside what is
//! half-written, damaged or superseded.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use memmap2::Mmap;

use super::error::BlockError;
use super::format::{
    check_file_header, read_u32, Cursor, Toc, CHUNKS_FILE_NAME, CHUNKS_MAGIC, CRC_LEN,
    FILE_HEADER_LEN, INDEX_FILE_NAME, INDEX_MAGIC, LABEL_NAME_ROW, LABEL_PAIR_ROW,
    SECTION_LABEL_NAMES, SECTION_LABEL_PAIRS, SECTION_NAMES, SECTION_POSTINGS, SECTION_SERIES,
    SECTION_SERIES_OFFSETS, SECTION_SYMBOLS, TOC_LEN,
};
use super::meta::{BlockId, BlockMeta};
use super::{QUARANTINE_DIR_NAME, TMP_SUFFIX};
use crate::metrics::histogram::FloatHistogram;
use crate::metrics::tsdb::chunk::{
    decode_histogram_chunk, decode_relative_chunk, relative_chunk_reference, FloatIter,
    HISTOGRAM_FORMAT_VERSION, RELATIVE_FORMAT_VERSION,
};
use crate::metrics::tsdb::head::SeriesData;
use crate::metrics::tsdb::index::{postings, Matcher};
use crate::metrics::tsdb::PARALLEL_SELECT_MIN;
use crate::parallel;

/// Where one chunk of a series is and which (inclusive) time span it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkMeta {
    pub min_time: i64,
    pub max_time: i64,
    /// Offset of the chunk's entry in the chunks file.
    pub offset: u64,
}

impl ChunkMeta {
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.min_time <= maxt && self.max_time >= mint
    }
}

/// A series' labels and the metas of its chunks, as [`Block::read_series`] returns them.
pub type SeriesChunks = (Vec<(String, String)>, Vec<ChunkMeta>);

/// A decoded series entry: label refs and chunk metas.
struct SeriesEntry {
    labels: Vec<(u32, u32)>,
    chunks: Vec<ChunkMeta>,
}

/// An open block. `Send + Sync`; share it in an `Arc`.
pub struct Block {
    dir: PathBuf,
    meta: BlockMeta,
    index: Mmap,
    chunks: Mmap,
    toc: Toc,
    /// Offset in `index` of each symbol's length varint.
    symbol_offsets: Vec<u32>,
    chunk_errors: AtomicU64,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("dir", &self.dir)
            .field("meta", &self.meta)
            .finish()
    }
}

fn map_file(path: &Path) -> Result<Mmap, BlockError> {
    let file = File::open(path).map_err(BlockError::io(path))?;
    let len = file.metadata().map_err(BlockError::io(path))?.len();
    if len == 0 {
        return Err(BlockError::corrupt(path, "empty file"));
    }
    // SAFETY: a block's files are never written, truncated or renamed over after the block
    // folder was renamed into place, and the data directory is locked to one process, so
    // the mapped bytes cannot change while mapped (deleting the folder only unlinks the
    // files; the mapping keeps its pages). Every read below is bounds-checked.
    unsafe { Mmap::map(&file) }.map_err(BlockError::io(path))
}

impl Block {
    /// Opens and validates the block in `dir` (see "Validation" in `docs/format/block.md`).
    pub fn open(dir: &Path) -> Result<Block, BlockError> {
        let meta = BlockMeta::read(dir)?;
        let name = dir.file_name().and_then(|name| name.to_str()).unwrap_or("");
        if name != meta.id.to_string() {
            return Err(BlockError::corrupt(
                dir,
                format!("meta.json names block {} but the folder is {name}", meta.id),
            ));
        }
        let index_path = dir.join(INDEX_FILE_NAME);
        let index = map_file(&index_path)?;
        let corrupt = |reason: String| BlockError::corrupt(&index_path, reason);
        check_file_header(&index, INDEX_MAGIC).map_err(corrupt)?;
        if index.len() < FILE_HEADER_LEN + TOC_LEN {
            return Err(corrupt(format!(
                "index of {} bytes is too short",
                index.len()
            )));
        }
        let toc = Toc::decode(&index[index.len() - TOC_LEN..]).map_err(corrupt)?;
        let mut expected_start = FILE_HEADER_LEN as u64;
        for (section, (offset, len)) in toc.sections.iter().enumerate() {
            let name = SECTION_NAMES[section];
            if *offset != expected_start {
                return Err(corrupt(format!(
                    "{name} section starts at {offset}, expected {expected_start}"
                )));
            }
            let end = offset
                .checked_add(*len)
                .and_then(|end| end.checked_add(CRC_LEN as u64))
                .filter(|end| *end <= (index.len() - TOC_LEN) as u64)
                .ok_or_else(|| corrupt(format!("{name} section runs past the end")))?;
            let body = &index[*offset as usize..(offset + len) as usize];
            let stored = read_u32(&index, (offset + len) as usize);
            let computed = crc32fast::hash(body);
            if stored != computed {
                return Err(corrupt(format!(
                    "{name} section checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
                )));
            }
            expected_start = end;
        }
        if expected_start != (index.len() - TOC_LEN) as u64 {
            return Err(corrupt(
                "bytes between the last section and the table of contents".into(),
            ));
        }
        if u64::from(toc.series_count) != meta.stats.series {
            return Err(corrupt(format!(
                "index holds {} series, meta.json says {}",
                toc.series_count, meta.stats.series
            )));
        }
        let section_len = |section: usize| toc.sections[section].1 as usize;
        if section_len(SECTION_SERIES_OFFSETS) != toc.series_count as usize * 4
            || section_len(SECTION_LABEL_NAMES) % LABEL_NAME_ROW != 0
            || section_len(SECTION_LABEL_PAIRS) % LABEL_PAIR_ROW != 0
        {
            return Err(corrupt("table sizes disagree with their counts".into()));
        }
        let symbol_offsets =
            read_symbols(&index, toc.sections[SECTION_SYMBOLS]).map_err(corrupt)?;

        let chunks_path = dir.join(CHUNKS_FILE_NAME);
        let chunks = map_file(&chunks_path)?;
        check_file_header(&chunks, CHUNKS_MAGIC)
            .map_err(|reason| BlockError::corrupt(&chunks_path, reason))?;
        if chunks.len() as u64 != toc.chunks_file_len {
            return Err(BlockError::corrupt(
                &chunks_path,
                format!(
                    "chunks file is {} bytes, the index expects {}",
                    chunks.len(),
                    toc.chunks_file_len
                ),
            ));
        }
        let block = Block {
            dir: dir.to_path_buf(),
            meta,
            index,
            chunks,
            toc,
            symbol_offsets,
            chunk_errors: AtomicU64::new(0),
        };
        block.check_label_tables().map_err(corrupt)?;
        Ok(block)
    }

    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    pub fn id(&self) -> BlockId {
        self.meta.id
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn num_series(&self) -> u32 {
        self.toc.series_count
    }

    /// Bytes of `index` and `chunks`.
    pub fn size_bytes(&self) -> u64 {
        (self.index.len() + self.chunks.len()) as u64
    }

    /// Chunks, series entries and postings found damaged while reading this block.
    pub fn read_errors(&self) -> u64 {
        self.chunk_errors.load(Ordering::Relaxed)
    }

    fn section(&self, section: usize) -> &[u8] {
        let (offset, len) = self.toc.sections[section];
        &self.index[offset as usize..(offset + len) as usize]
    }

    fn report(&self, what: &str, error: &str) {
        self.chunk_errors.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(block = %self.meta.id, what, error, "damaged block data skipped");
    }

    /// The string of symbol `symbol_ref`.
    fn symbol(&self, symbol_ref: u32) -> Result<&str, String> {
        let offset = *self
            .symbol_offsets
            .get(symbol_ref as usize)
            .ok_or_else(|| format!("symbol ref {symbol_ref} out of range"))?;
        let mut cursor = Cursor::new(&self.index, offset as usize);
        let len = cursor.uvarint("symbol length")? as usize;
        let bytes = cursor.bytes(len, "symbol")?;
        std::str::from_utf8(bytes).map_err(|_| "symbol is not utf-8".to_string())
    }

    /// The reference of `value`, if it is a symbol.
    fn lookup_symbol(&self, value: &str) -> Option<u32> {
        let (mut low, mut high) = (0usize, self.symbol_offsets.len());
        while low < high {
            let middle = (low + high) / 2;
            match self.symbol(middle as u32).ok()?.cmp(value) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return Some(middle as u32),
            }
        }
        None
    }

    fn name_rows(&self) -> usize {
        self.section(SECTION_LABEL_NAMES).len() / LABEL_NAME_ROW
    }

    /// `(name ref, first pair, pair count)` of row `row`.
    fn name_row(&self, row: usize) -> (u32, u32, u32) {
        let table = self.section(SECTION_LABEL_NAMES);
        let at = row * LABEL_NAME_ROW;
        (
            read_u32(table, at),
            read_u32(table, at + 4),
            read_u32(table, at + 8),
        )
    }

    /// `(value ref, postings offset)` of pair `pair`.
    fn pair_row(&self, pair: usize) -> (u32, u32) {
        let table = self.section(SECTION_LABEL_PAIRS);
        let at = pair * LABEL_PAIR_ROW;
        (read_u32(table, at), read_u32(table, at + 4))
    }

    /// Checks that the label tables reference valid symbols and pairs, in order.
    fn check_label_tables(&self) -> Result<(), String> {
        let symbols = self.symbol_offsets.len() as u64;
        let pairs = (self.section(SECTION_LABEL_PAIRS).len() / LABEL_PAIR_ROW) as u64;
        let postings_len = self.section(SECTION_POSTINGS).len() as u64;
        let mut next_pair = 0u64;
        let mut previous_name = None;
        for row in 0..self.name_rows() {
            let (name, first, count) = self.name_row(row);
            if u64::from(name) >= symbols
                || previous_name.is_some_and(|previous| previous >= name)
                || u64::from(first) != next_pair
                || count == 0
            {
                return Err(format!("label names table row {row} is invalid"));
            }
            previous_name = Some(name);
            next_pair = u64::from(first) + u64::from(count);
            let mut previous_value = None;
            for pair in first..first + count {
                let (value, postings_offset) = self.pair_row(pair as usize);
                if u64::from(value) >= symbols
                    || previous_value.is_some_and(|previous| previous >= value)
                    || u64::from(postings_offset) >= postings_len
                {
                    return Err(format!("label pairs table row {pair} is invalid"));
                }
                previous_value = Some(value);
            }
        }
        if next_pair != pairs {
            return Err("label pairs not covered by the names table".to_string());
        }
        Ok(())
    }

    /// Row of the label name `name`, if present.
    fn find_name(&self, name: &str) -> Option<(u32, u32)> {
        let name_ref = self.lookup_symbol(name)?;
        let (mut low, mut high) = (0usize, self.name_rows());
        while low < high {
            let middle = (low + high) / 2;
            let (candidate, first, count) = self.name_row(middle);
            match candidate.cmp(&name_ref) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return Some((first, count)),
            }
        }
        None
    }

    /// Pair index of `name=value` inside the name's pair range, if present.
    fn find_pair(&self, (first, count): (u32, u32), value: &str) -> Option<usize> {
        let value_ref = self.lookup_symbol(value)?;
        let (mut low, mut high) = (first as usize, (first + count) as usize);
        while low < high {
            let middle = (low + high) / 2;
            match self.pair_row(middle).0.cmp(&value_ref) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return Some(middle),
            }
        }
        None
    }

    /// Decodes the postings list of pair `pair`.
    fn postings(&self, pair: usize) -> Result<Vec<u32>, String> {
        let (_, offset) = self.pair_row(pair);
        let section = self.section(SECTION_POSTINGS);
        let mut cursor = Cursor::new(section, offset as usize);
        let count = cursor.uvarint("postings count")?;
        if count == 0 || count > u64::from(self.toc.series_count) {
            return Err(format!("postings count {count} is invalid"));
        }
        let mut list = Vec::with_capacity(count as usize);
        let mut previous: Option<u32> = None;
        for _ in 0..count {
            let step = cursor.uvarint_u32("postings entry")?;
            let ordinal = match previous {
                None => step,
                Some(_) if step == 0 => return Err("postings not increasing".to_string()),
                Some(previous) => previous
                    .checked_add(step)
                    .ok_or_else(|| "postings entry overflows".to_string())?,
            };
            if ordinal >= self.toc.series_count {
                return Err(format!("postings entry {ordinal} out of range"));
            }
            list.push(ordinal);
            previous = Some(ordinal);
        }
        Ok(list)
    }

    /// Union of the postings of the given pairs; damaged lists are reported and skipped.
    fn union_of(&self, pairs: impl Iterator<Item = usize>) -> Vec<u32> {
        let lists: Vec<Vec<u32>> = pairs
            .filter_map(|pair| match self.postings(pair) {
                Ok(list) => Some(list),
                Err(error) => {
                    self.report("postings", &error);
                    None
                }
            })
            .collect();
        match lists.len() {
            0 => Vec::new(),
            1 => lists.into_iter().next().unwrap_or_default(),
            _ => {
                let slices: Vec<&[u32]> = lists.iter().map(Vec::as_slice).collect();
                postings::union_many(&slices)
            }
        }
    }

    /// Pairs of the name whose value satisfies `keep`.
    fn scan_pairs(&self, (first, count): (u32, u32), keep: impl Fn(&str) -> bool) -> Vec<usize> {
        (first as usize..(first + count) as usize)
            .filter(|&pair| match self.symbol(self.pair_row(pair).0) {
                Ok(value) => keep(value),
                Err(_) => false,
            })
            .collect()
    }

    /// Ordinals of the series matching every matcher, increasing (Prometheus semantics: a
    /// missing label has the value `""`).
    pub fn select_ordinals(&self, matchers: &[Matcher]) -> Vec<u32> {
        let mut includes: Vec<Vec<u32>> = Vec::new();
        let mut excludes: Vec<Vec<u32>> = Vec::new();
        for matcher in matchers {
            let name = self.find_name(matcher.name());
            if matcher.matches_empty() {
                // Remove the series carrying a value the matcher rejects.
                let Some(name) = name else { continue };
                if !matcher.op().is_negative() && matcher.pattern_matches_everything() {
                    continue;
                }
                let rejected: Vec<usize> = match matcher.pattern_set() {
                    Some(set) if matcher.op().is_negative() => set
                        .iter()
                        .filter_map(|value| self.find_pair(name, value))
                        .collect(),
                    _ => self.scan_pairs(name, |value| !matcher.matches(value)),
                };
                if !rejected.is_empty() {
                    excludes.push(self.union_of(rejected.into_iter()));
                }
            } else {
                let Some(name) = name else { return Vec::new() };
                let accepted: Vec<usize> = match matcher.set_matches() {
                    Some(set) => set
                        .iter()
                        .filter_map(|value| self.find_pair(name, value))
                        .collect(),
                    None => self.scan_pairs(name, |value| matcher.matches(value)),
                };
                let list = self.union_of(accepted.into_iter());
                if list.is_empty() {
                    return Vec::new();
                }
                includes.push(list);
            }
        }
        includes.sort_by_key(Vec::len);
        let mut includes = includes.into_iter();
        let mut result = match includes.next() {
            Some(first) => first,
            None => (0..self.toc.series_count).collect(),
        };
        for list in includes {
            result = postings::intersect(&result, &list);
        }
        for list in &excludes {
            if result.is_empty() {
                break;
            }
            result = postings::subtract(&result, list);
        }
        result
    }

    fn series_entry(&self, ordinal: u32) -> Result<SeriesEntry, String> {
        if ordinal >= self.toc.series_count {
            return Err(format!("series ordinal {ordinal} out of range"));
        }
        let offset = read_u32(self.section(SECTION_SERIES_OFFSETS), ordinal as usize * 4);
        let mut cursor = Cursor::new(self.section(SECTION_SERIES), offset as usize);
        let symbols = self.symbol_offsets.len() as u32;
        let label_count = cursor.uvarint("label count")?;
        if label_count == 0 || label_count > 0xffff {
            return Err(format!("label count {label_count} is invalid"));
        }
        let mut labels = Vec::with_capacity(label_count as usize);
        for _ in 0..label_count {
            let name = cursor.uvarint_u32("label name")?;
            let value = cursor.uvarint_u32("label value")?;
            if name >= symbols || value >= symbols {
                return Err("label symbol out of range".to_string());
            }
            labels.push((name, value));
        }
        let chunk_count = cursor.uvarint("chunk count")?;
        if chunk_count == 0 || chunk_count > self.chunks.len() as u64 {
            return Err(format!("chunk count {chunk_count} is invalid"));
        }
        let mut chunks = Vec::with_capacity(chunk_count as usize);
        let mut previous: Option<ChunkMeta> = None;
        for _ in 0..chunk_count {
            // The first chunk is relative to the block, the others to the previous chunk.
            let min_time = match previous {
                None => self
                    .meta
                    .min_time
                    .wrapping_add(cursor.varint("chunk start")?),
                Some(previous) => previous
                    .max_time
                    .wrapping_add(cursor.uvarint("chunk gap")? as i64),
            };
            let span = cursor.uvarint("chunk span")?;
            let offset_field = cursor.uvarint("chunk offset")?;
            let offset = match previous {
                None => offset_field,
                Some(previous) => previous.offset.wrapping_add(offset_field),
            };
            let max_time = min_time.wrapping_add(span as i64);
            if max_time < min_time || offset >= self.chunks.len() as u64 {
                return Err("chunk meta out of range".to_string());
            }
            let meta = ChunkMeta {
                min_time,
                max_time,
                offset,
            };
            chunks.push(meta);
            previous = Some(meta);
        }
        Ok(SeriesEntry { labels, chunks })
    }

    fn labels_of(&self, refs: &[(u32, u32)]) -> Result<Vec<(String, String)>, String> {
        refs.iter()
            .map(|(name, value)| {
                Ok((
                    self.symbol(*name)?.to_owned(),
                    self.symbol(*value)?.to_owned(),
                ))
            })
            .collect()
    }

    /// Labels and chunk metas of the series `ordinal` (for compaction).
    pub fn read_series(&self, ordinal: u32) -> Result<SeriesChunks, String> {
        let entry = self.series_entry(ordinal)?;
        Ok((self.labels_of(&entry.labels)?, entry.chunks))
    }

    /// The bytes of the chunk at `offset`, after checking its CRC.
    pub fn chunk(&self, offset: u64) -> Result<&[u8], String> {
        let start = usize::try_from(offset).map_err(|_| "chunk offset out of range".to_string())?;
        if start < FILE_HEADER_LEN {
            return Err(format!("chunk offset {offset} inside the file header"));
        }
        let mut cursor = Cursor::new(&self.chunks, start);
        let len = cursor.uvarint("chunk length")? as usize;
        let bytes = cursor.bytes(len, "chunk")?;
        let framed_end = cursor.position();
        let stored = cursor.bytes(CRC_LEN, "chunk checksum")?;
        let computed = crc32fast::hash(&self.chunks[start..framed_end]);
        if read_u32(stored, 0) != computed {
            return Err(format!("chunk at {offset}: checksum mismatch"));
        }
        Ok(bytes)
    }

    /// The samples of a relative chunk (format version 5) of this block, read with the
    /// chunk it refers to.
    pub fn relative_samples(&self, bytes: &[u8]) -> Result<Vec<(i64, f64)>, String> {
        let reference = relative_chunk_reference(bytes).map_err(|error| error.to_string())?;
        let reference_bytes = self.chunk(reference)?;
        decode_relative_chunk(bytes, reference_bytes)
            .map_err(|error| format!("relative chunk with reference at {reference}: {error}"))
    }

    /// Appends the samples of `chunks` within `[mint, maxt]` to `out` (floats) and
    /// `histograms`; damaged chunks are reported and skipped.
    fn collect_samples(
        &self,
        chunks: &[ChunkMeta],
        mint: i64,
        maxt: i64,
        out: &mut Vec<(i64, f64)>,
        histograms: &mut Vec<(i64, FloatHistogram)>,
    ) {
        for chunk in chunks.iter().filter(|chunk| chunk.overlaps(mint, maxt)) {
            let start = out.len();
            let decoded = self.chunk(chunk.offset).and_then(|bytes| {
                if bytes.first() == Some(&HISTOGRAM_FORMAT_VERSION) {
                    let samples = decode_histogram_chunk(bytes)
                        .map_err(|error| format!("chunk at {}: {error}", chunk.offset))?;
                    histograms.extend(
                        samples
                            .into_iter()
                            .filter(|(t, _)| (mint..=maxt).contains(t)),
                    );
                    return Ok(());
                }
                if bytes.first() == Some(&RELATIVE_FORMAT_VERSION) {
                    let samples = self
                        .relative_samples(bytes)
                        .map_err(|error| format!("chunk at {}: {error}", chunk.offset))?;
                    out.extend(
                        samples
                            .into_iter()
                            .filter(|(t, _)| (mint..=maxt).contains(t)),
                    );
                    return Ok(());
                }
                let mut samples = FloatIter::new(bytes).map_err(|error| error.to_string())?;
                for (timestamp, value) in samples.by_ref() {
                    if timestamp > maxt {
                        break;
                    }
                    if timestamp >= mint {
                        out.push((timestamp, value));
                    }
                }
                match samples.error() {
                    Some(error) => Err(format!("chunk at {}: {error}", chunk.offset)),
                    None => Ok(()),
                }
            });
            if let Err(error) = decoded {
                out.truncate(start);
                self.report("chunk", &error);
            }
        }
    }

    /// Series matching every matcher with their samples in `[mint, maxt]` (inclusive),
    /// sorted by labels; series without samples in range are left out.
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesData> {
        if !self.meta.overlaps(mint, maxt) {
            return Vec::new();
        }
        parallel::map_parts(
            self.select_ordinals(matchers),
            PARALLEL_SELECT_MIN,
            |part| {
                part.into_iter()
                    .filter_map(|ordinal| self.series_data(ordinal, mint, maxt))
                    .collect()
            },
        )
    }

    /// One series' samples in `[mint, maxt]`; `None` if it has none there or is unreadable
    /// (reported).
    fn series_data(&self, ordinal: u32, mint: i64, maxt: i64) -> Option<SeriesData> {
        let entry = match self.series_entry(ordinal) {
            Ok(entry) => entry,
            Err(error) => {
                self.report("series", &error);
                return None;
            }
        };
        if !entry.chunks.iter().any(|chunk| chunk.overlaps(mint, maxt)) {
            return None;
        }
        let mut samples = Vec::new();
        let mut histograms = Vec::new();
        self.collect_samples(&entry.chunks, mint, maxt, &mut samples, &mut histograms);
        if samples.is_empty() && histograms.is_empty() {
            return None;
        }
        match self.labels_of(&entry.labels) {
            Ok(labels) => Some(SeriesData {
                labels,
                samples,
                histograms,
            }),
            Err(error) => {
                self.report("series labels", &error);
                None
            }
        }
    }

    /// Label sets of the series matching every matcher that have a chunk overlapping
    /// `[mint, maxt]`, sorted.
    pub fn select_labels(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Vec<Vec<(String, String)>> {
        if !self.meta.overlaps(mint, maxt) {
            return Vec::new();
        }
        let mut result = Vec::new();
        for ordinal in self.select_ordinals(matchers) {
            let labels = self.series_entry(ordinal).and_then(|entry| {
                if entry.chunks.iter().any(|chunk| chunk.overlaps(mint, maxt)) {
                    self.labels_of(&entry.labels).map(Some)
                } else {
                    Ok(None)
                }
            });
            match labels {
                Ok(Some(labels)) => result.push(labels),
                Ok(None) => {}
                Err(error) => self.report("series", &error),
            }
        }
        result
    }

    /// Every symbol (label name or value) of the block, in increasing order.
    pub fn symbols(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.symbol_offsets.len() as u32).filter_map(|symbol| self.symbol(symbol).ok())
    }

    /// Every label name in the block, sorted.
    pub fn label_names(&self) -> Vec<String> {
        (0..self.name_rows())
            .filter_map(|row| self.symbol(self.name_row(row).0).ok().map(str::to_owned))
            .collect()
    }

    /// Every value of label `name` in the block, sorted.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        let Some((first, count)) = self.find_name(name) else {
            return Vec::new();
        };
        (first as usize..(first + count) as usize)
            .filter_map(|pair| self.symbol(self.pair_row(pair).0).ok().map(str::to_owned))
            .collect()
    }

    /// Reads every series entry and chunk, checking checksums and decoding every sample.
    pub fn verify(&self) -> Result<(), BlockError> {
        let corrupt = |reason: String| BlockError::corrupt(&self.dir, reason);
        let mut samples = 0u64;
        let mut chunks = 0u64;
        let mut previous_labels: Option<Vec<(u32, u32)>> = None;
        for ordinal in 0..self.toc.series_count {
            let entry = self.series_entry(ordinal).map_err(corrupt)?;
            if previous_labels
                .as_ref()
                .is_some_and(|previous| *previous >= entry.labels)
            {
                return Err(corrupt(format!("series {ordinal} out of order")));
            }
            for chunk in &entry.chunks {
                let bytes = self.chunk(chunk.offset).map_err(corrupt)?;
                let times: Vec<i64> = if bytes.first() == Some(&HISTOGRAM_FORMAT_VERSION) {
                    decode_histogram_chunk(bytes)
                        .map_err(|error| corrupt(format!("chunk at {}: {error}", chunk.offset)))?
                        .into_iter()
                        .map(|(t, _)| t)
                        .collect()
                } else if bytes.first() == Some(&RELATIVE_FORMAT_VERSION) {
                    self.relative_samples(bytes)
                        .map_err(|error| corrupt(format!("chunk at {}: {error}", chunk.offset)))?
                        .into_iter()
                        .map(|(t, _)| t)
                        .collect()
                } else {
                    let mut iter =
                        FloatIter::new(bytes).map_err(|error| corrupt(error.to_string()))?;
                    let times = iter.by_ref().map(|(t, _)| t).collect();
                    if let Some(error) = iter.error() {
                        return Err(corrupt(format!("chunk at {}: {error}", chunk.offset)));
                    }
                    times
                };
                let span = times.first().copied().zip(times.last().copied());
                if span != Some((chunk.min_time, chunk.max_time))
                    || chunk.min_time < self.meta.min_time
                    || chunk.max_time >= self.meta.max_time
                {
                    return Err(corrupt(format!(
                        "chunk at {} disagrees with its meta",
                        chunk.offset
                    )));
                }
                samples += times.len() as u64;
                chunks += 1;
            }
            previous_labels = Some(entry.labels);
        }
        if samples != self.meta.stats.samples || chunks != self.meta.stats.chunks {
            return Err(corrupt(
                "sample or chunk count disagrees with meta.json".to_string(),
            ));
        }
        Ok(())
    }
}

/// Parses the symbols section; returns each symbol's offset in the index file.
fn read_symbols(index: &[u8], (offset, len): (u64, u64)) -> Result<Vec<u32>, String> {
    let end = (offset + len) as usize;
    let section = &index[..end];
    if len < 4 {
        return Err("symbols section too short".to_string());
    }
    let count = read_u32(index, offset as usize) as usize;
    if count > len as usize {
        return Err(format!("symbol count {count} exceeds the section"));
    }
    let mut offsets = Vec::with_capacity(count);
    let mut cursor = Cursor::new(section, offset as usize + 4);
    let mut previous: Option<&[u8]> = None;
    for _ in 0..count {
        let at =
            u32::try_from(cursor.position()).map_err(|_| "symbols beyond 4 GiB".to_string())?;
        let symbol_len = cursor.uvarint("symbol length")? as usize;
        let bytes = cursor.bytes(symbol_len, "symbol")?;
        if std::str::from_utf8(bytes).is_err() {
            return Err(format!("symbol at {at} is not utf-8"));
        }
        if previous.is_some_and(|previous| previous >= bytes) {
            return Err(format!("symbol at {at} is out of order"));
        }
        previous = Some(bytes);
        offsets.push(at);
    }
    if cursor.position() != end {
        return Err("bytes after the last symbol".to_string());
    }
    Ok(offsets)
}

/// What [`load_blocks`] found.
#[derive(Debug, Default)]
pub struct LoadedBlocks {
    /// Sorted by `(min_time, id)`.
    pub blocks: Vec<Arc<Block>>,
    pub quarantined: usize,
    pub removed_unfinished: usize,
    pub removed_superseded: usize,
}

/// Opens every block in `blocks_dir` (created if missing). Unfinished (`.tmp`) folders are
/// deleted, blocks failing validation are moved to `quarantine/`, and blocks whose data a
/// compacted block also holds are deleted; each with a log line. Only a failure to list
/// the directory is an error.
pub fn load_blocks(blocks_dir: &Path) -> Result<LoadedBlocks, BlockError> {
    std::fs::create_dir_all(blocks_dir).map_err(BlockError::io(blocks_dir))?;
    let mut loaded = LoadedBlocks::default();
    let mut blocks = Vec::new();
    for entry in std::fs::read_dir(blocks_dir).map_err(BlockError::io(blocks_dir))? {
        let entry = entry.map_err(BlockError::io(blocks_dir))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !path.is_dir() || name == QUARANTINE_DIR_NAME {
            continue;
        }
        if name.ends_with(TMP_SUFFIX) {
            match std::fs::remove_dir_all(&path) {
                Ok(()) => {
                    loaded.removed_unfinished += 1;
                    tracing::warn!(dir = %path.display(), "removed unfinished block");
                }
                Err(error) => {
                    tracing::warn!(dir = %path.display(), error = %error, "cannot remove unfinished block")
                }
            }
            continue;
        }
        if name.parse::<BlockId>().is_err() {
            continue;
        }
        match Block::open(&path) {
            Ok(block) => blocks.push(block),
            Err(error) => {
                tracing::warn!(block = %path.display(), error = %error, "invalid block quarantined");
                if let Err(move_error) = quarantine_block(blocks_dir, &path) {
                    tracing::warn!(block = %path.display(), error = %move_error, "cannot quarantine block; skipped");
                }
                loaded.quarantined += 1;
            }
        }
    }
    let superseded: HashSet<BlockId> = blocks
        .iter()
        .filter(|block| {
            blocks
                .iter()
                .any(|other| supersedes(other.meta(), block.meta()))
        })
        .map(|block| block.id())
        .collect();
    for block in blocks {
        if superseded.contains(&block.id()) {
            let dir = block.dir().to_path_buf();
            drop(block);
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {
                    tracing::info!(block = %dir.display(), "removed block superseded by a compacted block")
                }
                Err(error) => {
                    tracing::warn!(block = %dir.display(), error = %error, "cannot remove superseded block")
                }
            }
            loaded.removed_superseded += 1;
            continue;
        }
        loaded.blocks.push(Arc::new(block));
    }
    loaded
        .blocks
        .sort_by_key(|block| (block.meta().min_time, block.id()));
    Ok(loaded)
}

/// Whether `newer` holds all the data of `older` (a compaction finished but its inputs
/// were not yet deleted).
fn supersedes(newer: &BlockMeta, older: &BlockMeta) -> bool {
    if newer.id == older.id {
        return false;
    }
    let covers = older
        .compaction
        .sources
        .iter()
        .all(|source| newer.compaction.sources.contains(source));
    let strictly = newer.compaction.sources.len() > older.compaction.sources.len()
        || (newer.compaction.level, newer.id) > (older.compaction.level, older.id);
    covers && strictly
}

/// Moves the block folder `dir` into `<blocks_dir>/quarantine/`.
pub fn quarantine_block(blocks_dir: &Path, dir: &Path) -> Result<PathBuf, BlockError> {
    let quarantine = blocks_dir.join(QUARANTINE_DIR_NAME);
    std::fs::create_dir_all(&quarantine).map_err(BlockError::io(&quarantine))?;
    let name = dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut target = quarantine.join(&name);
    let mut attempt = 1;
    while target.exists() {
        target = quarantine.join(format!("{name}-{attempt}"));
        attempt += 1;
    }
    std::fs::rename(dir, &target).map_err(BlockError::io(&target))?;
    Ok(target)
}
