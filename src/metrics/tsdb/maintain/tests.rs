//! The head cut, WAL checkpoints, restarts, query merging, compaction and retention
//! through the database facade.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::config::bytesize::ByteSize;
use crate::config::duration::PromDuration;
use crate::metrics::histogram::{FloatHistogram, Span};
use crate::metrics::tsdb::index::{MatchOp, Matcher};
use crate::metrics::tsdb::{
    AppendHistogramSeries, AppendSeries, SeriesData, Tsdb, TsdbOptions, STALE_NAN_BITS,
};

const HOUR: i64 = 3_600_000;

type Labels = Vec<(String, String)>;
type Dump = BTreeMap<Labels, Vec<(i64, u64)>>;

fn options() -> TsdbOptions {
    TsdbOptions {
        wal_fsync: false,
        wal_segment_size: ByteSize(64 * 1024),
        block_range: PromDuration::from_millis(HOUR as u64),
        compaction_ranges: vec![],
        retention_time: PromDuration::from_millis(0),
        ..TsdbOptions::default()
    }
}

fn series_labels(index: usize) -> Vec<(String, String)> {
    let mut labels = vec![
        (
            "__name__".to_string(),
            if index.is_multiple_of(2) {
                "requests_total"
            } else {
                "temperature"
            }
            .to_string(),
        ),
        ("instance".to_string(), format!("host-{index}")),
    ];
    if index.is_multiple_of(3) {
        labels.push(("zone".to_string(), "eu".to_string()));
    }
    labels
}

fn value(index: usize, timestamp: i64) -> f64 {
    if timestamp % (37 * 60_000) == 0 {
        return f64::from_bits(STALE_NAN_BITS);
    }
    (timestamp / 60_000) as f64 + index as f64 * 0.5
}

/// Appends one sample per series at `timestamp` for series `0..count`.
fn append_at(db: &Tsdb, count: usize, timestamp: i64) {
    let labels: Vec<Vec<(String, String)>> = (0..count).map(series_labels).collect();
    let label_refs: Vec<Vec<(&str, &str)>> = labels
        .iter()
        .map(|set| set.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect())
        .collect();
    let samples: Vec<[(i64, f64); 1]> = (0..count)
        .map(|i| [(timestamp, value(i, timestamp))])
        .collect();
    let batch: Vec<AppendSeries<'_>> = label_refs
        .iter()
        .zip(&samples)
        .map(|(labels, samples)| AppendSeries::new(labels, samples))
        .collect();
    let report = db.append(&batch).unwrap();
    assert_eq!(report.samples_rejected, 0, "{:?}", report.errors);
}

/// Everything, as `labels → [(t, value bits)]`.
fn dump(db: &Tsdb) -> Dump {
    db.select(&[], i64::MIN, i64::MAX)
        .into_iter()
        .map(
            |SeriesData {
                 labels, samples, ..
             }| {
                (
                    labels,
                    samples.into_iter().map(|(t, v)| (t, v.to_bits())).collect(),
                )
            },
        )
        .collect()
}

fn expected(count: usize, timestamps: &[i64]) -> Dump {
    (0..count)
        .map(|i| {
            (
                series_labels(i),
                timestamps
                    .iter()
                    .map(|t| (*t, value(i, *t).to_bits()))
                    .collect(),
            )
        })
        .collect()
}

fn wal_segments(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .flatten()
        .filter(|entry| entry.file_type().unwrap().is_file())
        .count()
}

fn minutes(from: i64, to: i64) -> Vec<i64> {
    (from..to).map(|minute| minute * 60_000).collect()
}

#[test]
fn head_cut_persists_windows_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let before = minutes(0, 200); // 0 to 3h20
    {
        let db = Tsdb::open(dir.path(), options()).unwrap();
        for t in &before {
            append_at(&db, 10, *t);
        }
        assert_eq!(dump(&db), expected(10, &before));
        // The append that closes a chunk moves it to a spill file; it reads back the same.
        assert_eq!(db.spill_head_chunks(), 0, "nothing left on the heap");
        assert!(db.head.spilled_bytes() > db.head.sample_bytes() / 2);
        assert_eq!(dump(&db), expected(10, &before));
        let report = db.maintain(before[before.len() - 1]).unwrap();
        // Reference 3h19: windows ending at or before 2h49 → [0,1h) and [1h,2h).
        assert_eq!(report.blocks_written, 2);
        assert_eq!(db.head.min_valid_time(), 2 * HOUR);
        assert_eq!(db.blocks().len(), 2);
        assert_eq!(dump(&db), expected(10, &before));
        // Too old now: refused, with a message.
        let labels = [("__name__", "requests_total"), ("instance", "host-0")];
        let report = db
            .append(&[AppendSeries::new(&labels, &[(HOUR, 1.0)])])
            .unwrap();
        assert_eq!(report.samples_rejected, 1);
        assert!(
            report.errors[0].contains("persisted in blocks"),
            "{}",
            report.errors[0]
        );
        // A second call has nothing to do.
        assert_eq!(
            db.maintain(before[before.len() - 1])
                .unwrap()
                .blocks_written,
            0
        );
        for t in minutes(200, 230) {
            append_at(&db, 10, t);
        }
    }
    let all = minutes(0, 230);
    let db = Tsdb::open(dir.path(), options()).unwrap();
    assert_eq!(db.blocks().len(), 2);
    assert_eq!(dump(&db), expected(10, &all));
    // Appending after the restart, then a cut of the next window, then a restart again.
    for t in minutes(230, 260) {
        append_at(&db, 10, t);
    }
    let report = db.maintain(260 * 60_000).unwrap();
    assert_eq!(report.blocks_written, 1);
    drop(db);
    let db = Tsdb::open(dir.path(), options()).unwrap();
    assert_eq!(db.blocks().len(), 3);
    assert_eq!(dump(&db), expected(10, &minutes(0, 260)));
}

#[test]
fn wal_stays_bounded_and_replay_skips_persisted_data() {
    let dir = tempfile::tempdir().unwrap();
    let options = TsdbOptions {
        wal_segment_size: ByteSize(4096),
        ..options()
    };
    let db = Tsdb::open(dir.path(), options.clone()).unwrap();
    let mut most_segments = 0;
    let total_minutes = 12 * 60;
    for minute in 0..total_minutes {
        append_at(&db, 20, minute * 60_000);
        if minute % 30 == 29 {
            db.maintain(minute * 60_000).unwrap();
            most_segments = most_segments.max(wal_segments(dir.path()));
        }
    }
    let segments_without_cuts = {
        // 720 minutes × 20 samples at about 10 bytes each, in 4 KiB segments.
        (total_minutes as usize * 20 * 10) / 4096
    };
    assert!(
        most_segments * 3 < segments_without_cuts,
        "{most_segments} vs {segments_without_cuts}"
    );
    let blocks = db.blocks().len();
    assert!(blocks >= 9, "{blocks}");
    let in_memory = db.head.sample_bytes();
    drop(db);
    let db = Tsdb::open(dir.path(), options).unwrap();
    assert_eq!(dump(&db), expected(20, &minutes(0, total_minutes)));
    // Replay rebuilt only the unpersisted part.
    assert!(
        db.head.sample_bytes() <= in_memory + 64,
        "{} vs {in_memory}",
        db.head.sample_bytes()
    );
    assert!(db.head.time_range().unwrap().0 >= db.head.min_valid_time());
}

#[test]
fn queries_merge_head_and_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let db = Tsdb::open(dir.path(), options()).unwrap();
    // Series 0..6 through the first 2 h, then only 0..3: series 3..6 end up only in blocks.
    for t in minutes(0, 120) {
        append_at(&db, 6, t);
    }
    for t in minutes(120, 200) {
        append_at(&db, 3, t);
    }
    let report = db.maintain(200 * 60_000).unwrap();
    assert_eq!(report.blocks_written, 2);
    assert_eq!(report.series_removed, 3);
    assert_eq!(db.num_series(), 3);

    let name = |value: &str| vec![Matcher::new(MatchOp::Equal, "__name__", value).unwrap()];
    let temperature = db.select(&name("temperature"), 100 * 60_000, 150 * 60_000);
    assert_eq!(temperature.len(), 3); // host-1 (head + blocks), host-3 and host-5 (blocks)
    assert_eq!(temperature[0].samples.len(), 51);
    assert_eq!(temperature[1].samples.len(), 20);
    assert_eq!(
        db.series(&name("temperature"), 130 * 60_000, 140 * 60_000)
            .len(),
        1
    );
    assert_eq!(db.series(&name("temperature"), 0, 10).len(), 3);
    assert_eq!(
        db.label_names(&[], 0, i64::MAX),
        vec!["__name__", "instance", "zone"]
    );
    assert_eq!(db.label_values("instance", &[], 0, i64::MAX).len(), 6);
    assert_eq!(
        db.label_values("instance", &[], 150 * 60_000, i64::MAX)
            .len(),
        3
    );
    let zone = vec![vec![Matcher::new(MatchOp::Equal, "zone", "eu").unwrap()]];
    assert_eq!(
        db.label_values("instance", &zone, 0, i64::MAX),
        vec!["host-0", "host-3"]
    );
    // A removed series that comes back gets a new reference and survives a restart.
    let labels = series_labels(5);
    let refs: Vec<(&str, &str)> = labels
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let report = db
        .append(&[AppendSeries::new(&refs, &[(201 * 60_000, 7.0)])])
        .unwrap();
    assert_eq!(report.series_created, 1);
    drop(db);
    let db = Tsdb::open(dir.path(), options()).unwrap();
    let host5 = db.select(
        &[Matcher::new(MatchOp::Equal, "instance", "host-5").unwrap()],
        i64::MIN,
        i64::MAX,
    );
    assert_eq!(host5[0].samples.len(), 121);
    assert_eq!(host5[0].samples[120], (201 * 60_000, 7.0));
}

#[test]
fn maintain_compacts_and_applies_retention() {
    let dir = tempfile::tempdir().unwrap();
    let options = TsdbOptions {
        compaction_ranges: vec![PromDuration::from_millis(3 * HOUR as u64)],
        ..options()
    };
    let db = Tsdb::open(dir.path(), options.clone()).unwrap();
    for minute in 0..(8 * 60) {
        append_at(&db, 5, minute * 60_000);
        if minute % 60 == 59 {
            db.maintain(minute * 60_000).unwrap();
        }
    }
    let spans: Vec<(i64, i64)> = db
        .blocks()
        .iter()
        .map(|block| (block.meta().min_time / HOUR, block.meta().max_time / HOUR))
        .collect();
    // [0,3h) and [3h,6h) compacted, [6h,7h) waits for its window to end.
    assert_eq!(spans, vec![(0, 3), (3, 6), (6, 7)]);
    assert_eq!(dump(&db), expected(5, &minutes(0, 8 * 60)));
    drop(db);

    // Retention by time: at 9h with 4h of retention, blocks ending at or before 5h go.
    let db = Tsdb::open(
        dir.path(),
        TsdbOptions {
            retention_time: PromDuration::from_millis(4 * HOUR as u64),
            ..options.clone()
        },
    )
    .unwrap();
    let report = db.maintain(9 * HOUR).unwrap();
    assert_eq!(report.blocks_deleted, 1);
    let oldest = db.select(&[], i64::MIN, i64::MAX)[0].samples[0].0;
    assert_eq!(oldest, 3 * HOUR);
    drop(db);

    // Retention by size: a limit below the remaining blocks plus the WAL leaves nothing
    // older than the head.
    let db = Tsdb::open(
        dir.path(),
        TsdbOptions {
            retention_size: ByteSize(1),
            ..options
        },
    )
    .unwrap();
    let report = db.maintain(9 * HOUR).unwrap();
    assert_eq!(report.blocks_deleted, 2);
    assert!(db.blocks().is_empty());
    let oldest = db.select(&[], i64::MIN, i64::MAX)[0].samples[0].0;
    assert_eq!(oldest, 7 * HOUR);
    let mut text = crate::telemetry::TextWriter::new();
    crate::telemetry::Collect::collect(&db, &mut text);
    let text = text.finish();
    assert!(
        text.contains("sightline_tsdb_retention_deletions_total{reason=\"size\"} 2"),
        "{text}"
    );
    assert!(text.contains("sightline_tsdb_blocks_loaded 0"), "{text}");
}

#[test]
fn concurrent_appends_queries_and_maintenance_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Tsdb::open(dir.path(), options()).unwrap());
    let total = 6 * 60;
    let writer_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || {
            for minute in 0..total {
                append_at(&db, 8, minute * 60_000);
            }
        })
    };
    let reader = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || {
            for _ in 0..200 {
                for series in db.select(&[], i64::MIN, i64::MAX) {
                    assert!(series.samples.windows(2).all(|pair| pair[0].0 < pair[1].0));
                }
            }
        })
    };
    let spiller = {
        let db = Arc::clone(&db);
        let writer_done = Arc::clone(&writer_done);
        std::thread::spawn(move || {
            while !writer_done.load(std::sync::atomic::Ordering::Acquire) {
                db.spill_head_chunks();
            }
        })
    };
    let mut cuts = 0;
    while !writer.is_finished() {
        let newest = db.head.time_range().map(|(_, max)| max).unwrap_or(0);
        cuts += db.maintain(newest).unwrap().blocks_written;
    }
    writer.join().unwrap();
    writer_done.store(true, std::sync::atomic::Ordering::Release);
    reader.join().unwrap();
    spiller.join().unwrap();
    assert_eq!(
        db.spill_head_chunks(),
        0,
        "the appends spilled every chunk they closed"
    );
    cuts += db.maintain(total * 60_000).unwrap().blocks_written;
    assert!(cuts >= 4, "{cuts}");
    assert_eq!(dump(&db), expected(8, &minutes(0, total)));
    drop(db);
    let db = Tsdb::open(dir.path(), options()).unwrap();
    assert_eq!(dump(&db), expected(8, &minutes(0, total)));
}

#[test]
fn crashes_between_the_steps_of_a_cut_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let timestamps = minutes(0, 200);
    // Crash after the block was written, before the head dropped it and before the
    // checkpoint: the WAL still holds the block's samples.
    {
        let db = Tsdb::open(dir.path(), options()).unwrap();
        for t in &timestamps {
            append_at(&db, 4, *t);
        }
        db.persist_window(0, HOUR, 200 * 60_000).unwrap().unwrap();
    }
    let wal_copy = tempfile::tempdir().unwrap();
    {
        let db = Tsdb::open(dir.path(), options()).unwrap();
        assert_eq!(db.head.min_valid_time(), HOUR);
        assert_eq!(dump(&db), expected(4, &timestamps));
        for entry in std::fs::read_dir(dir.path().join("wal")).unwrap().flatten() {
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), wal_copy.path().join(entry.file_name())).unwrap();
            }
        }
        let report = db.maintain(200 * 60_000).unwrap();
        assert_eq!(report.blocks_written, 1);
        assert!(report.wal_segments_removed > 0);
    }
    // Crash after the checkpoint was renamed into place, before the old segments were
    // deleted: put them back. A half-written checkpoint and block are left over too.
    for entry in std::fs::read_dir(wal_copy.path()).unwrap().flatten() {
        let target = dir.path().join("wal").join(entry.file_name());
        if !target.exists() {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
    std::fs::create_dir_all(dir.path().join("wal").join("checkpoint.99999999.tmp")).unwrap();
    let unfinished = dir.path().join("blocks").join(format!(
        "{}.tmp",
        crate::metrics::tsdb::block::BlockId::new(1)
    ));
    std::fs::create_dir_all(&unfinished).unwrap();
    let db = Tsdb::open(dir.path(), options()).unwrap();
    assert_eq!(dump(&db), expected(4, &timestamps));
    assert!(!unfinished.exists());
    assert!(!dir
        .path()
        .join("wal")
        .join("checkpoint.99999999.tmp")
        .exists());
}

#[test]
fn a_damaged_block_is_quarantined_and_the_rest_opens() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Tsdb::open(dir.path(), options()).unwrap();
        for t in minutes(0, 200) {
            append_at(&db, 3, t);
        }
        assert_eq!(db.maintain(200 * 60_000).unwrap().blocks_written, 2);
    }
    let blocks_dir = dir.path().join("blocks");
    let mut block_dirs: Vec<_> = std::fs::read_dir(&blocks_dir)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .collect();
    block_dirs.sort();
    let first = crate::metrics::tsdb::block::Block::open(&block_dirs[0]).unwrap();
    let damaged = if first.meta().min_time == 0 {
        &block_dirs[0]
    } else {
        &block_dirs[1]
    };
    drop(first);
    let index = damaged.join("index");
    let bytes = std::fs::read(&index).unwrap();
    std::fs::write(&index, &bytes[..bytes.len() - 10]).unwrap();
    let db = Tsdb::open(dir.path(), options()).unwrap();
    assert_eq!(db.blocks().len(), 1);
    assert!(blocks_dir
        .join("quarantine")
        .join(damaged.file_name().unwrap())
        .exists());
    // The first hour is gone with its block; everything else is there once.
    assert_eq!(dump(&db), expected(3, &minutes(60, 200)));
    let mut text = crate::telemetry::TextWriter::new();
    crate::telemetry::Collect::collect(&db, &mut text);
    assert!(text
        .finish()
        .contains("sightline_tsdb_blocks_quarantined_total 1"));
}

/// A small deterministic generator (xorshift64*), so the benchmark needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Scrape delay in milliseconds: half-normal with sigma 3, 1 % of them 10 to 250 more.
    fn delay(&mut self) -> i64 {
        let (u1, u2) = (self.unit().max(1e-12), self.unit());
        let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        let mut delay = (normal.abs() * 3.0) as i64;
        if self.below(100) == 0 {
            delay += 10 + self.below(241) as i64;
        }
        delay
    }
}

/// 10 000 series × 480 samples at 15 s (one 2 h window): 40 % counters, 30 % gauges,
/// 20 % constants, 10 % arbitrary floats; 100 targets scraped at their own phase with
/// jittered timestamps. Returns labels and samples.
fn benchmark_set(start: i64) -> Vec<(Labels, Vec<(i64, f64)>)> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut set = Vec::with_capacity(10_000);
    for metric in 0..100u64 {
        for host in 0..100u64 {
            let labels = vec![
                ("__name__".to_string(), format!("node_metric_{metric}")),
                ("env".to_string(), "prod".to_string()),
                (
                    "instance".to_string(),
                    format!("10.0.{}.{}:9100", host / 16, host % 16 * 8),
                ),
                ("job".to_string(), "node".to_string()),
                ("region".to_string(), format!("eu-{}", host % 3)),
            ];
            let phase = host as i64 * 140;
            let mut value = (rng.below(1_000_000)) as f64;
            let step_kind = metric % 10;
            let mut samples = Vec::with_capacity(480);
            for step in 0..480i64 {
                let timestamp = start + phase + step * 15_000 + rng.delay();
                value = match step_kind {
                    // Request counters: mostly small increments, often none.
                    0 | 1 => {
                        value
                            + if rng.below(3) == 0 {
                                0.0
                            } else {
                                rng.below(9) as f64
                            }
                    }
                    // Byte counters.
                    2 => value + (20_000 + rng.below(200_000)) as f64,
                    // CPU seconds with two decimals.
                    3 => ((value * 100.0).round() + (rng.below(1500) as f64)) / 100.0,
                    // Two-decimal gauge random walk.
                    4 | 5 => ((value * 100.0).round() + rng.below(201) as f64 - 100.0) / 100.0,
                    // Memory in pages of 4096.
                    6 => ((value / 4096.0).round() + rng.below(64) as f64 - 32.0) * 4096.0,
                    // Constants (build info, limits, up).
                    7 | 8 => (metric * 7 + host) as f64,
                    // Arbitrary floats (recording-rule ratios).
                    _ => rng.unit() * 0.01 + 0.5,
                };
                samples.push((timestamp, value));
            }
            set.push((labels, samples));
        }
    }
    set
}

/// `cargo test --release --lib block_size_benchmark -- --ignored --nocapture`
#[test]
#[ignore = "benchmark: run in release with --nocapture"]
fn block_size_benchmark() {
    let dir = tempfile::tempdir().unwrap();
    let start = 1_732_406_400_000; // aligned to 2 h
    let options = TsdbOptions {
        wal_fsync: false,
        ..TsdbOptions::default()
    };
    let db = Tsdb::open(dir.path(), options).unwrap();
    let set = benchmark_set(start);
    let label_refs: Vec<Vec<(&str, &str)>> = set
        .iter()
        .map(|(labels, _)| {
            labels
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect()
        })
        .collect();
    for step in 0..480 {
        let batch: Vec<AppendSeries<'_>> = set
            .iter()
            .zip(&label_refs)
            .map(|((_, samples), labels)| {
                AppendSeries::new(labels, std::slice::from_ref(&samples[step]))
            })
            .collect();
        db.append(&batch).unwrap();
    }
    let samples: u64 = set.iter().map(|(_, s)| s.len() as u64).sum();
    let head_bytes = db.head.sample_bytes();

    let started = std::time::Instant::now();
    let block = db
        .persist_window(start, start + 2 * HOUR, start + 3 * HOUR)
        .unwrap()
        .unwrap();
    let write_seconds = started.elapsed().as_secs_f64();
    let meta = block.meta().clone();
    assert_eq!(meta.stats.samples, samples);
    let started = std::time::Instant::now();
    let read = block.select(&[], i64::MIN, i64::MAX);
    let read_seconds = started.elapsed().as_secs_f64();
    assert_eq!(
        read.iter().map(|s| s.samples.len() as u64).sum::<u64>(),
        samples
    );
    let total = meta.size_bytes() as f64;
    println!(
        "series {} samples {samples} chunks {}",
        meta.stats.series, meta.stats.chunks
    );
    println!(
        "block bytes/sample {:.3} (chunks file {:.3}, index {:.3}); index bytes/series {:.1}",
        total / samples as f64,
        meta.stats.chunks_bytes as f64 / samples as f64,
        meta.stats.index_bytes as f64 / samples as f64,
        meta.stats.index_bytes as f64 / meta.stats.series as f64
    );
    println!(
        "head chunk bytes/sample {:.3}",
        head_bytes as f64 / samples as f64
    );
    println!("write block {write_seconds:.3} s; read all back {read_seconds:.3} s");

    // Chunk bytes (with framing) per kind of series.
    let kinds = [
        "request counter",
        "byte counter",
        "cpu seconds",
        "gauge",
        "memory pages",
        "constant",
        "arbitrary float",
    ];
    let kind_of = |metric: u64| match metric % 10 {
        0 | 1 => 0,
        2 => 1,
        3 => 2,
        4 | 5 => 3,
        6 => 4,
        7 | 8 => 5,
        _ => 6,
    };
    let mut per_kind = [(0u64, 0u64); 7];
    for ordinal in 0..block.num_series() {
        let (labels, chunks) = block.read_series(ordinal).unwrap();
        let metric: u64 = labels[0]
            .1
            .trim_start_matches("node_metric_")
            .parse()
            .unwrap();
        for chunk in chunks {
            let bytes = block.chunk(chunk.offset).unwrap();
            let entry = &mut per_kind[kind_of(metric)];
            entry.0 += bytes.len() as u64 + 6;
            entry.1 += u64::from(u16::from_be_bytes([bytes[1], bytes[2]]));
        }
    }
    for (kind, (bytes, count)) in kinds.iter().zip(per_kind) {
        println!(
            "  {kind:<16} {:.3} bytes/sample",
            bytes as f64 / count as f64
        );
    }

    // The same window with the head's 120-sample chunks copied verbatim, for comparison.
    let series = db.head.series_in_window(start, start + 2 * HOUR);
    let mut symbols = std::collections::BTreeSet::new();
    for (_, labels) in &series {
        for (n, v) in labels {
            symbols.insert(n.clone());
            symbols.insert(v.clone());
        }
    }
    let blocks_dir = dir.path().join("verbatim");
    std::fs::create_dir_all(&blocks_dir).unwrap();
    let id = crate::metrics::tsdb::block::BlockId::new(1);
    let mut writer = crate::metrics::tsdb::block::BlockWriter::create(
        &blocks_dir,
        id,
        start,
        start + 2 * HOUR,
        symbols.into_iter().collect(),
    )
    .unwrap();
    for (series_ref, labels) in &series {
        let Some(crate::metrics::tsdb::head::WindowData::Chunks(chunks)) =
            db.head.window_data(*series_ref, start, start + 2 * HOUR)
        else {
            panic!("window straddled");
        };
        let bytes: Vec<crate::metrics::tsdb::block::ChunkBytes<'_>> = chunks
            .iter()
            .map(
                |(min_time, max_time, bytes)| crate::metrics::tsdb::block::ChunkBytes {
                    min_time: *min_time,
                    max_time: *max_time,
                    bytes,
                },
            )
            .collect();
        writer.add_series(labels, &bytes).unwrap();
    }
    let verbatim = writer
        .finish(crate::metrics::tsdb::block::CompactionMeta {
            level: 1,
            sources: vec![id],
            parents: vec![],
        })
        .unwrap();
    println!(
        "with 120-sample head chunks: bytes/sample {:.3} ({} chunks)",
        verbatim.size_bytes() as f64 / samples as f64,
        verbatim.stats.chunks
    );
}

#[test]
fn deletions_cover_head_and_blocks_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let name = |value: &str| vec![Matcher::new(MatchOp::Equal, "__name__", value).unwrap()];
    {
        let db = Tsdb::open(dir.path(), options()).unwrap();
        for t in minutes(0, 200) {
            append_at(&db, 4, t);
        }
        assert_eq!(db.maintain(200 * 60_000).unwrap().blocks_written, 2);
        // Minutes 50..=150 span a block and the head.
        db.delete_series(&[name("temperature")], 50 * 60_000, 150 * 60_000)
            .unwrap();
    }
    let db = Tsdb::open(dir.path(), options()).unwrap();
    let mut kept: Vec<i64> = minutes(0, 50);
    kept.extend(minutes(151, 200));
    let mut want = expected(4, &minutes(0, 200));
    for (labels, samples) in want.iter_mut() {
        if labels[0].1 == "temperature" {
            *samples = kept.iter().map(|&t| (t, value(0, t).to_bits())).collect();
        }
    }
    let got = dump(&db);
    for (labels, samples) in &want {
        let index: usize = labels[1].1.trim_start_matches("host-").parse().unwrap();
        let want_samples: Vec<(i64, u64)> = samples
            .iter()
            .map(|&(t, _)| (t, value(index, t).to_bits()))
            .collect();
        assert_eq!(got[labels], want_samples, "{labels:?}");
    }
    // A range wholly deleted leaves no series to list there.
    assert!(db
        .series(&name("temperature"), 60 * 60_000, 140 * 60_000)
        .is_empty());
    assert_eq!(
        db.label_values("__name__", &[], 60 * 60_000, 140 * 60_000),
        vec!["requests_total"]
    );
}

#[test]
fn a_snapshot_opens_as_a_database_with_everything() {
    let dir = tempfile::tempdir().unwrap();
    let db = Tsdb::open(dir.path(), options()).unwrap();
    for t in minutes(0, 150) {
        append_at(&db, 4, t);
    }
    // One block from the head cut; the rest stays in the head.
    assert_eq!(db.maintain(150 * 60_000).unwrap().blocks_written, 1);
    let name = db.snapshot(150 * 60_000, false).unwrap();
    let snapshot = dir
        .path()
        .join(crate::metrics::tsdb::SNAPSHOTS_DIR_NAME)
        .join(&name);
    let copy = Tsdb::open(&snapshot, options()).unwrap();
    assert_eq!(dump(&copy), expected(4, &minutes(0, 150)));
    // The live database is unchanged, and skipping the head copies only blocks.
    assert_eq!(dump(&db), expected(4, &minutes(0, 150)));
    let blocks_only = db.snapshot(150 * 60_000, true).unwrap();
    assert_ne!(blocks_only, name);
    let copy = Tsdb::open(
        &dir.path()
            .join(crate::metrics::tsdb::SNAPSHOTS_DIR_NAME)
            .join(&blocks_only),
        options(),
    )
    .unwrap();
    assert_eq!(dump(&copy), expected(4, &minutes(0, 60)));
}

fn test_histogram(minute: i64) -> FloatHistogram {
    FloatHistogram {
        schema: 2,
        count: minute as f64 * 3.0,
        sum: minute as f64 * 1.5,
        zero_threshold: 0.001,
        zero_count: minute as f64,
        positive_spans: vec![Span {
            offset: -1,
            length: 2,
        }],
        positive_buckets: vec![minute as f64, minute as f64],
        ..FloatHistogram::default()
    }
}

#[test]
fn histograms_go_through_head_cut_compaction_checkpoint_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let options = TsdbOptions {
        compaction_ranges: vec![PromDuration::from_millis(3 * HOUR as u64)],
        ..options()
    };
    let labels = [("__name__", "latency_seconds"), ("job", "api")];
    // One series that switches kind every 50 minutes, so blocks hold chunks of both.
    let is_histogram_minute = |minute: i64| (minute / 50) % 2 == 1;
    let db = Tsdb::open(dir.path(), options.clone()).unwrap();
    for minute in 0..(7 * 60) {
        let t = minute * 60_000;
        let report = if is_histogram_minute(minute) {
            let samples = [(t, test_histogram(minute))];
            db.append_histograms(&[AppendHistogramSeries {
                labels: &labels,
                samples: &samples,
            }])
            .unwrap()
        } else {
            let samples = [(t, minute as f64)];
            db.append(&[AppendSeries::new(&labels, &samples)]).unwrap()
        };
        assert_eq!(report.samples_rejected, 0, "{:?}", report.errors);
        if minute % 60 == 59 {
            db.maintain(t).unwrap();
        }
    }
    // A float at a histogram's timestamp conflicts.
    let conflict = db
        .append(&[AppendSeries::new(&labels, &[(380 * 60_000, 1.0)])])
        .unwrap();
    assert_eq!(conflict.samples_rejected, 1);

    let check = |db: &Tsdb| {
        let selected = db.select(&[], i64::MIN, i64::MAX);
        assert_eq!(selected.len(), 1);
        let data = &selected[0];
        let floats: Vec<i64> = (0..7 * 60).filter(|m| !is_histogram_minute(*m)).collect();
        let hists: Vec<i64> = (0..7 * 60).filter(|m| is_histogram_minute(*m)).collect();
        assert_eq!(
            data.samples,
            floats
                .iter()
                .map(|m| (m * 60_000, *m as f64))
                .collect::<Vec<_>>()
        );
        let got: Vec<i64> = data.histograms.iter().map(|(t, _)| t / 60_000).collect();
        let missing: Vec<&i64> = hists.iter().filter(|m| !got.contains(m)).collect();
        assert_eq!(
            data.histograms.len(),
            hists.len(),
            "missing minutes {missing:?}"
        );
        for ((t, h), minute) in data.histograms.iter().zip(&hists) {
            assert_eq!(*t, minute * 60_000);
            assert_eq!(*h, test_histogram(*minute));
        }
    };
    let spans: Vec<(i64, i64)> = db
        .blocks()
        .iter()
        .map(|block| (block.meta().min_time / HOUR, block.meta().max_time / HOUR))
        .collect();
    assert_eq!(spans, vec![(0, 3), (3, 6)]);
    for block in db.blocks().iter() {
        block.verify().unwrap();
    }
    check(&db);
    drop(db);
    // The head's histograms come back from the WAL (and its checkpoint).
    let db = Tsdb::open(dir.path(), options).unwrap();
    check(&db);
}

#[test]
fn select_newest_returns_the_head_sample_or_falls_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = Tsdb::open(dir.path(), options()).unwrap();
    for minute in 0..150 {
        append_at(&db, 2, minute * 60_000);
        if minute == 130 {
            db.maintain(minute * 60_000).unwrap();
        }
    }
    assert!(!db.blocks().is_empty());
    let newest = |mint: i64, maxt: i64| -> Vec<Vec<i64>> {
        db.select_newest(&[], mint, maxt)
            .into_iter()
            .map(|data| data.samples.iter().map(|(t, _)| *t).collect())
            .collect()
    };
    // The head's newest sample lies in range: only it comes back.
    assert_eq!(
        newest(145 * 60_000, 149 * 60_000),
        vec![vec![149 * 60_000]; 2]
    );
    // A range before the head's newest sample: every sample in it, from the blocks.
    let older = newest(10 * 60_000, 12 * 60_000);
    assert_eq!(older, vec![vec![600_000, 660_000, 720_000]; 2]);
    // After a deletion the full selection answers (the newest may be gone).
    let matcher = Matcher::new(MatchOp::Equal, "instance", "host-0").unwrap();
    db.delete_series(&[vec![matcher]], 149 * 60_000, 149 * 60_000)
        .unwrap();
    let after = newest(145 * 60_000, 149 * 60_000);
    assert_eq!(after[0].last(), Some(&(148 * 60_000)));
}
