//! Chunk codecs (XOR, and the decimal encoding blocks use where smaller): bytes per sample,
//! encode and decode throughput on generated series shaped like real scrapes (15 s interval,
//! chunks of 120 samples); and relative chunks, histogram buckets coded against their
//! `+Inf` bucket (`chunk/relative`).
//!
//! Run with `cargo bench --bench chunk`; the size table is printed before the timings
//! (`cargo bench --bench chunk -- size-only` prints only the table).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use sightline::metrics::tsdb::chunk::{
    decode_relative_chunk, encode_decimal_chunk, encode_relative_chunk, DecimalIter, XorChunk,
};

const SAMPLES_PER_CHUNK: usize = 120;
const CHUNKS_PER_SHAPE: usize = 200;
const SCRAPE_INTERVAL_MS: i64 = 15_000;
/// A plausible recent epoch in milliseconds, so first-timestamp varints have real size.
const EPOCH_MS: i64 = 1_760_000_000_000;

/// SplitMix64: small, fast, deterministic.
struct Prng(u64);

impl Prng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    /// Approximately standard normal (Irwin–Hall with 12 terms).
    pub fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.unit()).sum::<f64>() - 6.0
    }
}

/// How scrape timestamps deviate from the ideal grid.
#[derive(Debug, Clone, Copy)]
enum Timing {
    /// Exactly every interval.
    Regular,
    /// Scrape start delayed by a few milliseconds (half-normal, sigma 3 ms), 1% of
    /// scrapes delayed by 10 to 250 ms: what an agent that does not align timestamps sends.
    Jittered,
    /// As `Jittered`, then snapped to the previous timestamp plus the interval when within
    /// 2 ms of it, as Prometheus does by default.
    Aligned,
}

/// How values evolve.
#[derive(Debug, Clone, Copy)]
enum Values {
    /// Request counter: +0 (30%) or +1..=8 per scrape.
    CounterSmall,
    /// Byte counter: +20 000..220 000 per scrape.
    CounterBytes,
    /// CPU seconds with two decimals, +0.05..0.35 per scrape.
    CounterCpuSeconds,
    /// Temperature-like gauge with two decimals, random walk of ±0.20.
    GaugeDecimal,
    /// Memory gauge: random walk of ±10 pages of 4096 bytes.
    GaugeMemoryBytes,
    /// Arbitrary float random walk (recording-rule output): the incompressible case.
    GaugeFloat,
    /// Constant 1 (`up`, `*_info`).
    Constant,
}

struct Shape {
    pub name: &'static str,
    pub timing: Timing,
    pub values: Values,
}

const fn shape(name: &'static str, timing: Timing, values: Values) -> Shape {
    Shape {
        name,
        timing,
        values,
    }
}

const SHAPES: &[Shape] = &[
    shape(
        "counter_small/jittered",
        Timing::Jittered,
        Values::CounterSmall,
    ),
    shape(
        "counter_small/aligned",
        Timing::Aligned,
        Values::CounterSmall,
    ),
    shape(
        "counter_bytes/jittered",
        Timing::Jittered,
        Values::CounterBytes,
    ),
    shape(
        "counter_cpu_seconds/jittered",
        Timing::Jittered,
        Values::CounterCpuSeconds,
    ),
    shape(
        "gauge_decimal/jittered",
        Timing::Jittered,
        Values::GaugeDecimal,
    ),
    shape(
        "gauge_memory_bytes/jittered",
        Timing::Jittered,
        Values::GaugeMemoryBytes,
    ),
    shape("gauge_float/jittered", Timing::Jittered, Values::GaugeFloat),
    shape("constant/jittered", Timing::Jittered, Values::Constant),
    shape("constant/regular", Timing::Regular, Values::Constant),
];

/// One chunk's worth of samples per series, `CHUNKS_PER_SHAPE` series.
fn generate(shape: &Shape, seed: u64) -> Vec<Vec<(i64, f64)>> {
    let mut rng = Prng::new(seed);
    (0..CHUNKS_PER_SHAPE)
        .map(|_| generate_series(&mut rng, shape))
        .collect()
}

fn scrape_delay(rng: &mut Prng) -> i64 {
    let mut delay = (rng.normal().abs() * 3.0).round() as i64;
    if rng.below(100) == 0 {
        delay += 10 + rng.below(240) as i64;
    }
    delay
}

fn generate_series(rng: &mut Prng, shape: &Shape) -> Vec<(i64, f64)> {
    let start = EPOCH_MS + rng.below(SCRAPE_INTERVAL_MS as u64) as i64;
    let mut samples = Vec::with_capacity(SAMPLES_PER_CHUNK);
    let mut last_t: Option<i64> = None;
    let mut integer = rng.below(1_000_000) as i64;
    let mut float = 100.0 * rng.unit();
    for index in 0..SAMPLES_PER_CHUNK {
        let ideal = start + index as i64 * SCRAPE_INTERVAL_MS;
        let t = match shape.timing {
            Timing::Regular => ideal,
            Timing::Jittered => ideal + scrape_delay(rng),
            Timing::Aligned => {
                let actual = ideal + scrape_delay(rng);
                match last_t {
                    Some(last) if (actual - (last + SCRAPE_INTERVAL_MS)).abs() <= 2 => {
                        last + SCRAPE_INTERVAL_MS
                    }
                    _ => actual,
                }
            }
        };
        last_t = Some(t);
        let v = match shape.values {
            Values::CounterSmall => {
                if rng.below(10) >= 3 {
                    integer += 1 + rng.below(8) as i64;
                }
                integer as f64
            }
            Values::CounterBytes => {
                integer += 20_000 + rng.below(200_000) as i64;
                integer as f64
            }
            Values::CounterCpuSeconds => {
                integer += 5 + rng.below(31) as i64;
                integer as f64 / 100.0
            }
            Values::GaugeDecimal => {
                integer += rng.below(41) as i64 - 20;
                (integer % 10_000) as f64 / 100.0
            }
            Values::GaugeMemoryBytes => {
                integer += rng.below(21) as i64 - 10;
                (integer * 4096) as f64
            }
            Values::GaugeFloat => {
                float += rng.normal() * 0.1;
                float
            }
            Values::Constant => 1.0,
        };
        samples.push((t, v));
    }
    samples
}

fn encode(series: &[Vec<(i64, f64)>]) -> Vec<XorChunk> {
    series
        .iter()
        .map(|samples| {
            let mut chunk = XorChunk::with_capacity(256);
            for &(t, v) in samples {
                if let Err(error) = chunk.append(t, v) {
                    panic!("generated samples must append: {error}");
                }
            }
            chunk
        })
        .collect()
}

fn bytes_per_sample(chunks: &[XorChunk]) -> f64 {
    let bytes: usize = chunks.iter().map(|chunk| chunk.bytes().len()).sum();
    let samples: usize = chunks
        .iter()
        .map(|chunk| usize::from(chunk.num_samples()))
        .sum();
    bytes as f64 / samples as f64
}

/// Size of the same samples in the classic Gorilla layout as Prometheus writes it (2-byte
/// count, varint first timestamp, raw first value, varint first delta, delta-of-delta
/// buckets of 14, 17 and 20 bits, XOR with a 5-bit leading count): a size model for
/// comparison, no codec.
fn stock_gorilla_bytes(samples: &[(i64, f64)]) -> usize {
    fn varint_len(mut value: u64) -> usize {
        let mut len = 1;
        while value >= 0x80 {
            value >>= 7;
            len += 1;
        }
        len
    }
    let Some(&(first_t, first_v)) = samples.first() else {
        return 2;
    };
    let header = 2 + varint_len(((first_t << 1) ^ (first_t >> 63)) as u64);
    let mut bits = 64usize;
    let mut window: Option<(u32, u32)> = None;
    let mut previous_value = first_v.to_bits();
    let mut previous_delta = 0i64;
    for (index, pair) in samples.windows(2).enumerate() {
        let delta = pair[1].0 - pair[0].0;
        if index == 0 {
            bits += 8 * varint_len(delta as u64);
        } else {
            let dod = delta - previous_delta;
            bits += match dod {
                0 => 1,
                -8191..=8192 => 16,
                -65535..=65536 => 20,
                -524_287..=524_288 => 24,
                _ => 68,
            };
        }
        previous_delta = delta;
        let value = pair[1].1.to_bits();
        let xor = value ^ previous_value;
        previous_value = value;
        if xor == 0 {
            bits += 1;
            continue;
        }
        let leading = xor.leading_zeros().min(31);
        let trailing = xor.trailing_zeros();
        match window {
            Some((window_leading, window_trailing))
                if leading >= window_leading && trailing >= window_trailing =>
            {
                bits += 2 + (64 - window_leading - window_trailing) as usize;
            }
            _ => {
                window = Some((leading, trailing));
                bits += 2 + 5 + 6 + (64 - leading - trailing) as usize;
            }
        }
    }
    header + bits.div_ceil(8)
}

fn print_sizes() {
    println!(
        "bytes/sample, chunks of {SAMPLES_PER_CHUNK} samples at a {SCRAPE_INTERVAL_MS} ms interval \
         (stock Gorilla layout for comparison):"
    );
    for (index, shape) in SHAPES.iter().enumerate() {
        let series = generate(shape, index as u64 + 1);
        let chunks = encode(&series);
        let samples: usize = series.iter().map(Vec::len).sum();
        let stock: usize = series
            .iter()
            .map(|samples| stock_gorilla_bytes(samples))
            .sum();
        // What a block stores: the decimal encoding where it applies and is smaller.
        let block: usize = series
            .iter()
            .zip(&chunks)
            .map(|(samples, chunk)| {
                let decimal = encode_decimal_chunk(samples).map_or(usize::MAX, |d| d.len());
                decimal.min(chunk.bytes().len())
            })
            .sum();
        println!(
            "  {:<30} {:.3}   (stock {:.3}, in a block {:.3})",
            shape.name,
            bytes_per_sample(&chunks),
            stock as f64 / samples as f64,
            block as f64 / samples as f64
        );
    }
}

fn bench_codec(criterion: &mut Criterion) {
    for (index, shape) in SHAPES.iter().enumerate() {
        let series = generate(shape, index as u64 + 1);
        let samples: usize = series.iter().map(Vec::len).sum();
        let chunks = encode(&series);

        let mut group = criterion.benchmark_group("chunk");
        group.throughput(Throughput::Elements(samples as u64));
        group.bench_function(BenchmarkId::new("append", shape.name), |bencher| {
            bencher.iter(|| encode(black_box(&series)))
        });
        group.bench_function(BenchmarkId::new("decode", shape.name), |bencher| {
            bencher.iter(|| {
                let mut checksum = 0u64;
                for chunk in black_box(&chunks) {
                    for (t, v) in chunk.iter() {
                        checksum = checksum.wrapping_add(t as u64 ^ v.to_bits());
                    }
                }
                checksum
            })
        });
        let decimal: Vec<Vec<u8>> = series
            .iter()
            .filter_map(|samples| encode_decimal_chunk(samples))
            .collect();
        if decimal.len() == series.len() {
            group.bench_function(BenchmarkId::new("decimal_encode", shape.name), |bencher| {
                bencher.iter(|| {
                    black_box(&series)
                        .iter()
                        .map(|samples| encode_decimal_chunk(samples).map_or(0, |d| d.len()))
                        .sum::<usize>()
                })
            });
            group.bench_function(BenchmarkId::new("decimal_decode", shape.name), |bencher| {
                bencher.iter(|| {
                    let mut checksum = 0u64;
                    for bytes in black_box(&decimal) {
                        for (t, v) in DecimalIter::new(bytes).expect("encoded here") {
                            checksum = checksum.wrapping_add(t as u64 ^ v.to_bits());
                        }
                    }
                    checksum
                })
            });
        }
        group.bench_function(BenchmarkId::new("seek_last", shape.name), |bencher| {
            bencher.iter(|| {
                let mut found = 0usize;
                for (chunk, samples) in black_box(&chunks).iter().zip(&series) {
                    let last = samples[samples.len() - 1].0;
                    found += usize::from(chunk.iter().seek(last).is_some());
                }
                found
            })
        });
        group.finish();
    }
}

type Samples = Vec<(i64, f64)>;

/// `CHUNKS_PER_SHAPE` pairs of a histogram's `+Inf` bucket and one finite bucket that
/// gets about 70 % of its observations: `(+Inf samples, bucket samples)`.
fn histogram_pairs() -> Vec<(Samples, Samples)> {
    let mut rng = Prng::new(99);
    (0..CHUNKS_PER_SHAPE)
        .map(|_| {
            let (mut total, mut below) = (1e6, 7e5);
            let mut infinite = Vec::new();
            let mut bucket = Vec::new();
            for i in 0..SAMPLES_PER_CHUNK as i64 {
                let observations = 800.0 + rng.below(400) as f64;
                total += observations;
                below += (observations * 0.7).round();
                let t = EPOCH_MS + i * SCRAPE_INTERVAL_MS;
                infinite.push((t, total));
                bucket.push((t, below));
            }
            (infinite, bucket)
        })
        .collect()
}

fn bench_relative(criterion: &mut Criterion) {
    let pairs = histogram_pairs();
    let references: Vec<Vec<u8>> = pairs
        .iter()
        .map(|(infinite, _)| encode_decimal_chunk(infinite).expect("decimal"))
        .collect();
    let relative: Vec<Vec<u8>> = pairs
        .iter()
        .map(|(infinite, bucket)| encode_relative_chunk(bucket, infinite, 0).expect("relative"))
        .collect();
    let bytes: usize = relative.iter().map(Vec::len).sum();
    let alone: usize = pairs
        .iter()
        .map(|(_, bucket)| encode_decimal_chunk(bucket).expect("decimal").len())
        .sum();
    let samples = CHUNKS_PER_SHAPE * SAMPLES_PER_CHUNK;
    println!(
        "histogram bucket against its +Inf bucket: {:.3} bytes/sample relative, {:.3} decimal alone",
        bytes as f64 / samples as f64,
        alone as f64 / samples as f64
    );
    let mut group = criterion.benchmark_group("chunk");
    group.throughput(Throughput::Elements(samples as u64));
    group.bench_function("relative_encode/histogram_bucket", |bencher| {
        bencher.iter(|| {
            black_box(&pairs)
                .iter()
                .map(|(infinite, bucket)| {
                    encode_relative_chunk(bucket, infinite, 0).map_or(0, |chunk| chunk.len())
                })
                .sum::<usize>()
        })
    });
    // Includes decoding the reference, as a block read does.
    group.bench_function("relative_decode/histogram_bucket", |bencher| {
        bencher.iter(|| {
            let mut checksum = 0u64;
            for (chunk, reference) in black_box(&relative).iter().zip(&references) {
                for (t, v) in decode_relative_chunk(chunk, reference).expect("encoded here") {
                    checksum = checksum.wrapping_add(t as u64 ^ v.to_bits());
                }
            }
            checksum
        })
    });
    group.finish();
}

fn main() {
    print_sizes();
    if std::env::args().any(|arg| arg == "size-only") {
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    bench_codec(&mut criterion);
    bench_relative(&mut criterion);
    criterion.final_summary();
}
