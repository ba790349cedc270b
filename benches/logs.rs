//! Log store hot paths on real Apache access logs: ingestion (WAL with fsync + head, then
//! the flush into the index) in bytes of raw log text per second, a needle query (a token
//! present in one line) against a brute-force scan of the same text, and the index size
//! as a fraction of the raw text (printed once).

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sightline::logs::store::{tokens, Labels, LogEntry, LogStore, LogStoreOptions, DEFAULT_TENANT};

const APACHE_LOGS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/reference/logs/elastic-examples/apache_logs"
);
const T0: i64 = 1_700_000_000_000_000_000;
/// Copies of the sample file in the needle-query store (~2.3 MB each).
const COPIES: usize = 40;
const NEEDLE: &str = "needle-7f3a9c";

fn lines() -> Vec<String> {
    std::fs::read_to_string(APACHE_LOGS)
        .expect("reference apache logs")
        .lines()
        .map(str::to_string)
        .collect()
}

fn batch(lines: &[String], offset: usize) -> Vec<(Labels, Vec<LogEntry>)> {
    let entries = lines
        .iter()
        .enumerate()
        .map(|(i, line)| LogEntry {
            timestamp_ns: T0 + ((offset + i) as i64) * 1_000_000,
            line: line.clone(),
            structured_metadata: Vec::new(),
        })
        .collect();
    vec![(vec![("job".to_string(), "apache".to_string())], entries)]
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| {
                    let path = entry.path();
                    if path.is_dir() {
                        dir_bytes(&path)
                    } else {
                        entry.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn bench_ingest(c: &mut Criterion) {
    let lines = lines();
    let raw: usize = lines.iter().map(|line| line.len() + 1).sum();
    let mut group = c.benchmark_group("logs_ingest");
    group.throughput(Throughput::Bytes(raw as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("append_fsync_1000_line_batches", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("temp dir");
                let store = LogStore::open(dir.path(), LogStoreOptions::default()).expect("open");
                (dir, store)
            },
            |(dir, store)| {
                for (index, chunk) in lines.chunks(1000).enumerate() {
                    store
                        .append(DEFAULT_TENANT, batch(chunk, index * 1000))
                        .expect("append");
                }
                (dir, store)
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("append_and_flush_into_index", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("temp dir");
                let store = LogStore::open(dir.path(), LogStoreOptions::default()).expect("open");
                (dir, store)
            },
            |(dir, store)| {
                for (index, chunk) in lines.chunks(1000).enumerate() {
                    store
                        .append(DEFAULT_TENANT, batch(chunk, index * 1000))
                        .expect("append");
                }
                store.flush().expect("flush");
                (dir, store)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn bench_needle(c: &mut Criterion) {
    let lines = lines();
    let dir = tempfile::tempdir().expect("temp dir");
    let options = LogStoreOptions {
        wal_fsync: false,
        ..LogStoreOptions::default()
    };
    let store = LogStore::open(dir.path(), options).expect("open");
    let mut raw_text = String::new();
    for copy in 0..COPIES {
        let mut copy_lines = lines.clone();
        if copy == COPIES / 2 {
            copy_lines[1234] = format!("{} {NEEDLE} ", copy_lines[1234]);
        }
        for line in &copy_lines {
            raw_text.push_str(line);
            raw_text.push('\n');
        }
        store
            .append(DEFAULT_TENANT, batch(&copy_lines, copy * lines.len()))
            .expect("append");
        store.flush().expect("flush");
    }
    let index_bytes = dir_bytes(&dir.path().join("index"));
    eprintln!(
        "logs: {:.1} MB raw, index {:.1} MB = {:.1}% of raw",
        raw_text.len() as f64 / 1e6,
        index_bytes as f64 / 1e6,
        100.0 * index_bytes as f64 / raw_text.len() as f64
    );
    let started = Instant::now();
    let grep_count = raw_text
        .lines()
        .filter(|line| line.contains(NEEDLE))
        .count();
    eprintln!(
        "logs: brute-force scan of the raw text: {:.1} ms ({grep_count} match)",
        started.elapsed().as_secs_f64() * 1e3
    );
    let streams: Vec<u64> = store
        .select_streams(DEFAULT_TENANT, &[], i64::MIN, i64::MAX)
        .iter()
        .map(|info| info.id)
        .collect();
    let needle = format!(" {NEEDLE} ");
    let required = tokens::required_tokens(&needle);
    let mut group = c.benchmark_group("logs_query");
    group.sample_size(20);
    group.bench_function("needle_over_index", |b| {
        b.iter(|| {
            let found: usize = store
                .read(&streams, i64::MIN, i64::MAX, &required)
                .expect("read")
                .iter()
                .flat_map(|(_, entries)| entries)
                .filter(|entry| entry.line.contains(&needle))
                .count();
            assert_eq!(found, 1);
        })
    });
    group.finish();
}

criterion_group!(benches, bench_ingest, bench_needle);
criterion_main!(benches);
