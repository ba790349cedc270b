//! `--chunk-sizes`: what the workload's samples cost in a block, per metric name, without
//! starting any system. All series go into one real block, written by the block writer as
//! the head cut writes one (chunks of up to 480 samples, XOR or decimal, whichever is
//! smaller, and histogram buckets relative to their `+Inf` bucket where that is smaller),
//! and are read back to count each series' chunk bytes. The XOR column is what the same
//! chunks cost in XOR alone. Deterministic: the same seed and sizes print the same figures.

use std::collections::BTreeMap;

use sightline::metrics::tsdb::block::{
    encode_chunks, Block, BlockId, BlockWriter, ChunkBytes, CompactionMeta,
};
use sightline::metrics::tsdb::chunk::XorChunk;

use crate::generator::{Generator, WorkloadShape};

/// Samples per block chunk, as `BLOCK_CHUNK_MAX_SAMPLES` in the block writer.
const PER_CHUNK: usize = 480;

#[derive(Default)]
struct Sizes {
    series: usize,
    samples: usize,
    xor_bytes: usize,
    block_bytes: usize,
}

pub fn run(shape: WorkloadShape, rounds: usize) {
    let mut generator = Generator::new(shape);
    let mut samples: Vec<Vec<(i64, f64)>> = Vec::new();
    for _ in 0..rounds {
        let round = generator.next_round_samples();
        if samples.is_empty() {
            samples = vec![Vec::with_capacity(rounds); round.len()];
        }
        for (series, (_, timestamp, value)) in samples.iter_mut().zip(round) {
            series.push((timestamp, value));
        }
    }
    let mut order: Vec<usize> = (0..samples.len()).collect();
    order.sort_by(|a, b| generator.labels(*a).cmp(generator.labels(*b)));
    let min_time = samples.iter().flatten().map(|(t, _)| *t).min().unwrap_or(0);
    let max_time = samples.iter().flatten().map(|(t, _)| *t).max().unwrap_or(0);
    let symbols: Vec<String> = order
        .iter()
        .flat_map(|index| generator.labels(*index).iter())
        .flat_map(|(name, value)| [name.clone(), value.clone()])
        .collect();
    let dir = tempfile::tempdir().expect("temporary directory");
    let id = BlockId::new(1);
    let mut writer =
        BlockWriter::create(dir.path(), id, min_time, max_time + 1, symbols).expect("block writer");
    let mut by_name: BTreeMap<String, Sizes> = BTreeMap::new();
    for index in &order {
        let series = &samples[*index];
        let chunks = encode_chunks(series, PER_CHUNK);
        let bytes: Vec<ChunkBytes<'_>> =
            chunks.iter().map(|chunk| chunk.as_chunk_bytes()).collect();
        writer
            .add_series(generator.labels(*index), &bytes)
            .expect("series added");
        let name = generator
            .labels(*index)
            .iter()
            .find(|(n, _)| n == "__name__");
        let sizes = by_name
            .entry(name.map(|(_, v)| v.clone()).unwrap_or_default())
            .or_default();
        sizes.series += 1;
        sizes.samples += series.len();
        for part in series.chunks(PER_CHUNK) {
            let mut chunk = XorChunk::new();
            for &(timestamp, value) in part {
                chunk.append(timestamp, value).expect("timestamps increase");
            }
            sizes.xor_bytes += chunk.bytes().len();
        }
    }
    writer
        .finish(CompactionMeta {
            level: 1,
            sources: vec![id],
            parents: vec![],
        })
        .expect("block written");
    let block = Block::open(&dir.path().join(id.to_string())).expect("block opens");
    for ordinal in 0..block.num_series() {
        let (labels, chunks) = block.read_series(ordinal).expect("series reads");
        let name = labels
            .iter()
            .find(|(n, _)| n == "__name__")
            .map(|(_, v)| v.clone());
        let sizes = by_name.entry(name.unwrap_or_default()).or_default();
        for chunk in chunks {
            sizes.block_bytes += block.chunk(chunk.offset).expect("chunk reads").len();
        }
    }
    let all_samples: usize = samples.iter().map(Vec::len).sum();
    println!(
        "whole block (index and chunk files): {:.3} bytes per sample",
        block.size_bytes() as f64 / all_samples.max(1) as f64
    );
    let total = by_name.values().fold(Sizes::default(), |sum, sizes| Sizes {
        series: sum.series + sizes.series,
        samples: sum.samples + sizes.samples,
        xor_bytes: sum.xor_bytes + sizes.xor_bytes,
        block_bytes: sum.block_bytes + sizes.block_bytes,
    });
    let per_sample = |bytes: usize, samples: usize| bytes as f64 / samples.max(1) as f64;
    println!(
        "chunk bytes per sample, {} series x {rounds} samples, chunks of up to {PER_CHUNK}: \
         {:.3} as written to blocks, {:.3} XOR only",
        total.series,
        per_sample(total.block_bytes, total.samples),
        per_sample(total.xor_bytes, total.samples)
    );
    let mut rows: Vec<(String, Sizes)> = by_name.into_iter().collect();
    rows.sort_by_key(|(_, sizes)| std::cmp::Reverse(sizes.block_bytes));
    println!(
        "{:<45} {:>7} {:>9} {:>8} {:>8}",
        "metric name", "series", "% bytes", "block", "XOR"
    );
    for (name, sizes) in rows {
        println!(
            "{name:<45} {:>7} {:>8.1}% {:>8.3} {:>8.3}",
            sizes.series,
            100.0 * sizes.block_bytes as f64 / total.block_bytes.max(1) as f64,
            per_sample(sizes.block_bytes, sizes.samples),
            per_sample(sizes.xor_bytes, sizes.samples)
        );
    }
}
