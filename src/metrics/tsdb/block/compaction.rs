//! Compaction: which blocks to merge ([`plan`]) and the merge itself ([`compact`]).
//! See "Compaction" in `docs/format/block.md`.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use super::error::BlockError;
use super::meta::{BlockId, BlockMeta, CompactionMeta};
use super::reader::{Block, ChunkMeta, SeriesChunks};
use super::writer::{
    encode_chunks, encode_mixed_chunks, BlockWriter, ChunkBytes, BLOCK_CHUNK_MAX_SAMPLES,
};
use crate::metrics::histogram::FloatHistogram;
use crate::metrics::tsdb::chunk::{
    decode_histogram_chunk, FloatIter, HISTOGRAM_FORMAT_VERSION, RELATIVE_FORMAT_VERSION,
};

/// The next group of blocks to merge, if any: first blocks whose ranges overlap, then, for
/// each range of `ranges` (ascending), at least two blocks inside one aligned window of
/// that range, once some block ends at or after the window's end.
pub fn plan(metas: &[BlockMeta], ranges: &[i64]) -> Option<Vec<BlockId>> {
    let mut sorted: Vec<&BlockMeta> = metas.iter().collect();
    sorted.sort_by_key(|meta| (meta.min_time, meta.id));
    let (first, rest) = sorted.split_first()?;
    let mut group = vec![*first];
    let mut group_max = first.max_time;
    for meta in rest {
        if meta.min_time < group_max {
            group.push(meta);
            group_max = group_max.max(meta.max_time);
            continue;
        }
        if group.len() >= 2 {
            break;
        }
        group = vec![*meta];
        group_max = meta.max_time;
    }
    if group.len() >= 2 {
        return Some(group.iter().map(|meta| meta.id).collect());
    }

    let newest_max = sorted.iter().map(|meta| meta.max_time).max()?;
    let mut ranges: Vec<i64> = ranges.iter().copied().filter(|range| *range > 0).collect();
    ranges.sort_unstable();
    for range in ranges {
        let mut windows: BTreeMap<i64, Vec<BlockId>> = BTreeMap::new();
        for meta in &sorted {
            let start = meta.min_time.div_euclid(range).saturating_mul(range);
            if meta.max_time <= start.saturating_add(range) {
                windows.entry(start).or_default().push(meta.id);
            }
        }
        for (start, ids) in windows {
            if ids.len() >= 2 && start.saturating_add(range) <= newest_max {
                return Some(ids);
            }
        }
    }
    None
}

/// One input series' chunk during a merge; `priority` is the input's id (later wins).
struct SourceChunk<'a> {
    priority: BlockId,
    meta: ChunkMeta,
    bytes: Cow<'a, [u8]>,
}

/// Merges `inputs` into one new block in `blocks_dir` covering the union of their ranges,
/// and returns its meta. The inputs are left in place (the caller swaps and deletes them).
/// Chunks that fail their checksum are logged and left out.
pub fn compact(
    blocks_dir: &Path,
    inputs: &[Arc<Block>],
    now_ms: i64,
) -> Result<BlockMeta, BlockError> {
    if inputs.is_empty() {
        return Err(BlockError::Invalid("nothing to compact".to_string()));
    }
    let min_time = inputs
        .iter()
        .map(|block| block.meta().min_time)
        .min()
        .unwrap_or(0);
    let max_time = inputs
        .iter()
        .map(|block| block.meta().max_time)
        .max()
        .unwrap_or(0);
    let mut symbols = BTreeSet::new();
    for block in inputs {
        symbols.extend(block.symbols().map(str::to_owned));
    }
    let mut writer = BlockWriter::create(
        blocks_dir,
        BlockId::new(now_ms),
        min_time,
        max_time,
        symbols.into_iter().collect(),
    )?;

    // A k-way merge by label set: one cursor per input, on its next unread series.
    let mut cursors: Vec<(usize, u32, Option<SeriesChunks>)> =
        (0..inputs.len()).map(|input| (input, 0, None)).collect();
    let advance = |input: usize, ordinal: &mut u32| -> Option<SeriesChunks> {
        let block = &inputs[input];
        while *ordinal < block.num_series() {
            let read = block.read_series(*ordinal);
            *ordinal += 1;
            match read {
                Ok(series) => return Some(series),
                Err(error) => {
                    tracing::warn!(block = %block.id(), error, "damaged series entry left out of compaction")
                }
            }
        }
        None
    };
    for (input, ordinal, current) in cursors.iter_mut() {
        *current = advance(*input, ordinal);
    }
    let mut sources: Vec<SourceChunk<'_>> = Vec::new();
    while let Some(labels) = cursors
        .iter()
        .filter_map(|(_, _, current)| current.as_ref().map(|(labels, _)| labels))
        .min()
        .cloned()
    {
        sources.clear();
        for (input, ordinal, current) in cursors.iter_mut() {
            if current
                .as_ref()
                .is_none_or(|(candidate, _)| *candidate != labels)
            {
                continue;
            }
            let block = &inputs[*input];
            if let Some((_, chunks)) = current.take() {
                for meta in chunks {
                    match block
                        .chunk(meta.offset)
                        .and_then(|bytes| standalone(block, bytes))
                    {
                        Ok(bytes) => sources.push(SourceChunk {
                            priority: block.id(),
                            meta,
                            bytes,
                        }),
                        Err(error) => {
                            tracing::warn!(block = %block.id(), error, "damaged chunk left out of compaction")
                        }
                    }
                }
            }
            *current = advance(*input, ordinal);
        }
        write_merged_series(&mut writer, &labels, &mut sources)?;
    }

    let mut source_ids: Vec<BlockId> = inputs
        .iter()
        .flat_map(|block| block.meta().compaction.sources.iter().copied())
        .collect();
    source_ids.sort_unstable();
    source_ids.dedup();
    let mut parents: Vec<BlockId> = inputs.iter().map(|block| block.id()).collect();
    parents.sort_unstable();
    let level = inputs
        .iter()
        .map(|block| block.meta().compaction.level)
        .max()
        .unwrap_or(0)
        + 1;
    writer.finish(CompactionMeta {
        level,
        sources: source_ids,
        parents,
    })
}

/// A chunk's bytes as they can be copied into another block: a relative chunk refers to a
/// chunk of its own block by offset, so it is decoded and encoded on its own again (the
/// new block's writer may make it relative to its own copy of the reference).
fn standalone<'a>(block: &Block, bytes: &'a [u8]) -> Result<Cow<'a, [u8]>, String> {
    if bytes.first() != Some(&RELATIVE_FORMAT_VERSION) {
        return Ok(Cow::Borrowed(bytes));
    }
    let samples = block.relative_samples(bytes)?;
    let mut encoded = encode_chunks(&samples, usize::from(u16::MAX));
    match (encoded.pop(), encoded.is_empty()) {
        (Some(chunk), true) => Ok(Cow::Owned(chunk.bytes)),
        _ => Err("relative chunk without samples".to_string()),
    }
}

/// Writes one series from its inputs' chunks: verbatim when they do not overlap in time,
/// otherwise decoded, merged (for equal timestamps the input with the later id wins) and
/// re-encoded.
fn write_merged_series(
    writer: &mut BlockWriter,
    labels: &[(String, String)],
    sources: &mut Vec<SourceChunk<'_>>,
) -> Result<(), BlockError> {
    sources.sort_by_key(|chunk| (chunk.meta.min_time, chunk.priority));
    let disjoint = sources
        .windows(2)
        .all(|pair| pair[1].meta.min_time > pair[0].meta.max_time);
    if disjoint {
        let chunks: Vec<ChunkBytes<'_>> = sources
            .iter()
            .map(|chunk| ChunkBytes {
                min_time: chunk.meta.min_time,
                max_time: chunk.meta.max_time,
                bytes: &chunk.bytes,
            })
            .collect();
        if chunks.is_empty() {
            return Ok(());
        }
        return writer.add_series(labels, &chunks);
    }
    // (timestamp, priority, value): sorting puts the winning sample of each timestamp last.
    let mut samples: Vec<(i64, BlockId, MergedValue)> = Vec::new();
    for chunk in sources.iter() {
        if chunk.bytes.first() == Some(&HISTOGRAM_FORMAT_VERSION) {
            match decode_histogram_chunk(&chunk.bytes) {
                Ok(decoded) => samples.extend(
                    decoded
                        .into_iter()
                        .map(|(t, h)| (t, chunk.priority, MergedValue::Histogram(Box::new(h)))),
                ),
                Err(error) => {
                    tracing::warn!(block = %chunk.priority, error = %error, "undecodable chunk left out of compaction")
                }
            }
            continue;
        }
        let Ok(mut iter) = FloatIter::new(&chunk.bytes) else {
            tracing::warn!(block = %chunk.priority, "undecodable chunk left out of compaction");
            continue;
        };
        samples.extend(
            iter.by_ref()
                .map(|(t, v)| (t, chunk.priority, MergedValue::Float(v))),
        );
        if let Some(error) = iter.error() {
            tracing::warn!(block = %chunk.priority, error = %error, "chunk decoded partly during compaction");
        }
    }
    samples.sort_by_key(|(t, priority, _)| (*t, *priority));
    let mut floats: Vec<(i64, f64)> = Vec::with_capacity(samples.len());
    let mut histograms = Vec::new();
    let mut samples = samples.into_iter().peekable();
    while let Some((timestamp, _, value)) = samples.next() {
        if samples.peek().is_some_and(|next| next.0 == timestamp) {
            continue;
        }
        match value {
            MergedValue::Float(v) => floats.push((timestamp, v)),
            MergedValue::Histogram(h) => histograms.push((timestamp, *h)),
        }
    }
    if floats.is_empty() && histograms.is_empty() {
        return Ok(());
    }
    let encoded = if histograms.is_empty() {
        encode_chunks(&floats, BLOCK_CHUNK_MAX_SAMPLES)
    } else {
        encode_mixed_chunks(&floats, &histograms, BLOCK_CHUNK_MAX_SAMPLES)
    };
    let chunks: Vec<ChunkBytes<'_>> = encoded.iter().map(|chunk| chunk.as_chunk_bytes()).collect();
    writer.add_series(labels, &chunks)
}

/// A sample being merged: a float or a native histogram.
enum MergedValue {
    Float(f64),
    Histogram(Box<FloatHistogram>),
}
