//! `--chunk-sizes`: what the workload's samples cost in block chunks, per metric name,
//! without starting any system. Each series' samples become chunks of up to 480 samples
//! (as when the head is written into a block), encoded as XOR and, where it applies, as a
//! decimal chunk; the smaller is kept, as the block writer does. Deterministic: the same
//! seed and sizes always print the same figures.

use std::collections::BTreeMap;

use sightline::metrics::tsdb::chunk::{encode_decimal_chunk, XorChunk};

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
    let mut names: Vec<String> = Vec::new();
    let mut samples: Vec<Vec<(i64, f64)>> = Vec::new();
    for _ in 0..rounds {
        let round = generator.next_round_samples();
        if names.is_empty() {
            names = round.iter().map(|(name, _, _)| name.to_string()).collect();
            samples = vec![Vec::with_capacity(rounds); round.len()];
        }
        for (series, (_, timestamp, value)) in samples.iter_mut().zip(round) {
            series.push((timestamp, value));
        }
    }
    let mut by_name: BTreeMap<&str, Sizes> = BTreeMap::new();
    for (name, series) in names.iter().zip(&samples) {
        let sizes = by_name.entry(name).or_default();
        sizes.series += 1;
        sizes.samples += series.len();
        for part in series.chunks(PER_CHUNK) {
            let mut chunk = XorChunk::new();
            for &(timestamp, value) in part {
                chunk.append(timestamp, value).expect("timestamps increase");
            }
            let xor = chunk.bytes().len();
            let decimal = encode_decimal_chunk(part).map_or(usize::MAX, |bytes| bytes.len());
            sizes.xor_bytes += xor;
            sizes.block_bytes += xor.min(decimal);
        }
    }
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
    let mut rows: Vec<(&str, Sizes)> = by_name.into_iter().collect();
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
