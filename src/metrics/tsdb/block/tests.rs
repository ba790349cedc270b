//! Block round trips, damage detection, loading and compaction.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::compaction;
use super::format::{CHUNKS_FILE_NAME, INDEX_FILE_NAME};
use super::meta::{BlockId, BlockMeta, CompactionMeta};
use super::*;
use crate::metrics::tsdb::head::SeriesData;
use crate::metrics::tsdb::index::{MatchOp, Matcher};
use crate::metrics::tsdb::STALE_NAN_BITS;

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// Writes a level-1 block of `series` (any order) covering `[min_time, max_time)`.
pub(crate) fn write_block(
    dir: &Path,
    id: BlockId,
    min_time: i64,
    max_time: i64,
    series: &[(Labels, Vec<(i64, f64)>)],
    per_chunk: usize,
) -> BlockMeta {
    let mut sorted: Vec<&(Labels, Vec<(i64, f64)>)> = series.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let symbols: Vec<String> = series
        .iter()
        .flat_map(|(labels, _)| labels.iter().flat_map(|(n, v)| [n.clone(), v.clone()]))
        .collect();
    let mut writer = BlockWriter::create(dir, id, min_time, max_time, symbols).unwrap();
    for (labels, samples) in sorted {
        let chunks = encode_chunks(samples, per_chunk);
        let bytes: Vec<ChunkBytes<'_>> = chunks.iter().map(OwnedChunk::as_chunk_bytes).collect();
        writer.add_series(labels, &bytes).unwrap();
    }
    writer
        .finish(CompactionMeta {
            level: 1,
            sources: vec![id],
            parents: vec![],
        })
        .unwrap()
}

fn bits(samples: &[(i64, f64)]) -> Vec<(i64, u64)> {
    samples.iter().map(|(t, v)| (*t, v.to_bits())).collect()
}

fn fixture_series() -> Vec<(Labels, Vec<(i64, f64)>)> {
    let stale = f64::from_bits(STALE_NAN_BITS);
    let mut series = Vec::new();
    for job in ["api", "db", "web"] {
        for instance in 0..4 {
            let instance = format!("host-{instance}:9100");
            let mut samples = Vec::new();
            for step in 0..300i64 {
                let value = match step % 50 {
                    49 => stale,
                    17 => -0.0,
                    23 => f64::INFINITY,
                    _ => (step as f64) * 0.25 + job.len() as f64,
                };
                samples.push((1_000_000 + step * 15_000 + (step * 7) % 11, value));
            }
            let mut set = labels(&[
                ("__name__", "http_requests_total"),
                ("instance", &instance),
                ("job", job),
            ]);
            if job == "web" {
                set.push(("zone".to_string(), "eu".to_string()));
            }
            series.push((set, samples));
        }
    }
    series.push((
        labels(&[("__name__", "up"), ("job", "api")]),
        vec![(1_000_000, 1.0)],
    ));
    series.push((
        labels(&[("__name__", "up"), ("job", "db")]),
        vec![(1_000_000, 0.0), (1_015_000, 1.0)],
    ));
    series
}

/// Brute-force selection for comparison.
fn expected(
    series: &[(Labels, Vec<(i64, f64)>)],
    matchers: &[Matcher],
    mint: i64,
    maxt: i64,
) -> Vec<SeriesData> {
    let mut out: Vec<SeriesData> = series
        .iter()
        .filter(|(labels, _)| {
            matchers.iter().all(|matcher| {
                let value = labels
                    .iter()
                    .find(|(name, _)| name == matcher.name())
                    .map(|(_, value)| value.as_str())
                    .unwrap_or("");
                matcher.matches(value)
            })
        })
        .map(|(labels, samples)| SeriesData {
            labels: labels.clone(),
            histograms: Vec::new(),
            samples: samples
                .iter()
                .copied()
                .filter(|(t, _)| *t >= mint && *t <= maxt)
                .collect(),
        })
        .filter(|series| !series.samples.is_empty())
        .collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    out
}

fn assert_same(actual: &[SeriesData], expected: &[SeriesData]) {
    assert_eq!(actual.len(), expected.len());
    for (a, e) in actual.iter().zip(expected) {
        assert_eq!(a.labels, e.labels);
        assert_eq!(bits(&a.samples), bits(&e.samples), "{:?}", a.labels);
    }
}

fn matcher(op: MatchOp, name: &str, value: &str) -> Matcher {
    Matcher::new(op, name, value).unwrap()
}

#[test]
fn round_trip_labels_samples_and_matchers() {
    let dir = tempfile::tempdir().unwrap();
    let series = fixture_series();
    let id = BlockId::new(1);
    let meta = write_block(dir.path(), id, 0, 10_000_000, &series, 120);
    assert_eq!(meta.stats.series, series.len() as u64);
    assert_eq!(
        meta.stats.samples,
        series.iter().map(|(_, s)| s.len() as u64).sum::<u64>()
    );
    assert!(!dir.path().join(format!("{id}.tmp")).exists());
    let block = Block::open(&dir.path().join(id.to_string())).unwrap();
    block.verify().unwrap();
    assert_eq!(block.meta(), &meta);

    use MatchOp::*;
    let cases: Vec<Vec<Matcher>> = vec![
        vec![],
        vec![matcher(Equal, "__name__", "http_requests_total")],
        vec![
            matcher(Equal, "__name__", "up"),
            matcher(NotEqual, "job", "api"),
        ],
        vec![matcher(RegexMatch, "job", "api|web")],
        vec![matcher(RegexMatch, "instance", "host-[12].*")],
        vec![matcher(RegexNoMatch, "job", "d.*")],
        vec![matcher(Equal, "zone", "")],
        vec![matcher(NotEqual, "zone", "")],
        vec![matcher(RegexMatch, "zone", "eu|")],
        vec![matcher(Equal, "nope", "x")],
        vec![matcher(Equal, "job", "nope")],
        vec![matcher(NotEqual, "nope", "x"), matcher(Equal, "job", "db")],
        vec![
            matcher(RegexMatch, "__name__", ".+"),
            matcher(RegexNoMatch, "instance", ".*3.*"),
        ],
    ];
    for matchers in &cases {
        for (mint, maxt) in [
            (i64::MIN, i64::MAX),
            (1_100_000, 1_500_000),
            (0, 999_999),
            (1_015_000, 1_015_000),
        ] {
            let actual = block.select(matchers, mint, maxt);
            assert_same(&actual, &expected(&series, matchers, mint, maxt));
        }
    }
    let stale = block.select(&[matcher(Equal, "job", "db")], i64::MIN, i64::MAX);
    assert!(stale[0]
        .samples
        .iter()
        .any(|(_, v)| v.to_bits() == STALE_NAN_BITS));

    assert_eq!(
        block.label_names(),
        vec!["__name__", "instance", "job", "zone"]
    );
    assert_eq!(block.label_values("job"), vec!["api", "db", "web"]);
    assert!(block.label_values("nope").is_empty());
    let names = block.select_labels(&[matcher(Equal, "__name__", "up")], i64::MIN, i64::MAX);
    assert_eq!(names.len(), 2);
    assert_eq!(block.read_errors(), 0);
}

#[test]
fn writer_refuses_bad_input_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let id = BlockId::new(2);
    let symbols = vec!["__name__".to_string(), "a".to_string(), "b".to_string()];
    let mut writer = BlockWriter::create(dir.path(), id, 0, 1000, symbols).unwrap();
    let chunk = encode_chunks(&[(10, 1.0)], 120);
    let bytes = [chunk[0].as_chunk_bytes()];
    writer
        .add_series(&labels(&[("__name__", "b")]), &bytes)
        .unwrap();
    // Out of label order, unknown symbol, out of the range.
    assert!(writer
        .add_series(&labels(&[("__name__", "a")]), &bytes)
        .is_err());
    assert!(writer
        .add_series(&labels(&[("__name__", "zz")]), &bytes)
        .is_err());
    let late = encode_chunks(&[(1000, 1.0)], 120);
    assert!(writer
        .add_series(&labels(&[("b", "b")]), &[late[0].as_chunk_bytes()])
        .is_err());
    assert!(dir.path().join(format!("{id}.tmp")).exists());
    drop(writer);
    assert!(!dir.path().join(format!("{id}.tmp")).exists());
    assert!(!dir.path().join(id.to_string()).exists());
}

fn small_block(dir: &Path) -> PathBuf {
    let id = BlockId::new(3);
    let series = vec![
        (
            labels(&[("__name__", "a"), ("job", "x")]),
            vec![(10, 1.0), (20, 2.0), (30, 3.5)],
        ),
        (
            labels(&[("__name__", "b"), ("job", "y")]),
            vec![(15, f64::from_bits(STALE_NAN_BITS))],
        ),
    ];
    write_block(dir, id, 0, 100, &series, 2);
    dir.join(id.to_string())
}

#[test]
fn every_damaged_index_byte_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let block_dir = small_block(dir.path());
    let index_path = block_dir.join(INDEX_FILE_NAME);
    let original = std::fs::read(&index_path).unwrap();
    let reference = Block::open(&block_dir)
        .unwrap()
        .select(&[], i64::MIN, i64::MAX);
    for position in 0..original.len() {
        let mut damaged = original.clone();
        damaged[position] ^= 0x41;
        std::fs::write(&index_path, &damaged).unwrap();
        // Only the reserved header bytes are not checked.
        if let Ok(block) = Block::open(&block_dir) {
            assert!(
                (5..8).contains(&position),
                "flip at {position} not detected"
            );
            assert_same(&block.select(&[], i64::MIN, i64::MAX), &reference);
        }
    }
    for len in [0, 4, 8, 100, original.len() - 1] {
        std::fs::write(&index_path, &original[..len.min(original.len())]).unwrap();
        assert!(Block::open(&block_dir).is_err(), "truncated to {len}");
    }
    std::fs::write(&index_path, &original).unwrap();
    Block::open(&block_dir).unwrap().verify().unwrap();
}

#[test]
fn damaged_chunks_and_meta_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let block_dir = small_block(dir.path());
    let chunks_path = block_dir.join(CHUNKS_FILE_NAME);
    let original = std::fs::read(&chunks_path).unwrap();
    // Truncated or extended chunks file: refused at open.
    std::fs::write(&chunks_path, &original[..original.len() - 1]).unwrap();
    assert!(Block::open(&block_dir).is_err());
    let mut longer = original.clone();
    longer.push(0);
    std::fs::write(&chunks_path, &longer).unwrap();
    assert!(Block::open(&block_dir).is_err());
    // A flipped byte inside chunk data: the block opens, the chunk is skipped on read and
    // `verify` fails.
    for position in 8..original.len() {
        let mut damaged = original.clone();
        damaged[position] ^= 0x08;
        std::fs::write(&chunks_path, &damaged).unwrap();
        let block = Block::open(&block_dir).unwrap();
        let selected = block.select(&[], i64::MIN, i64::MAX);
        let samples: usize = selected.iter().map(|s| s.samples.len()).sum();
        assert!(samples < 4, "flip at {position} not detected");
        assert!(block.read_errors() > 0);
        assert!(block.verify().is_err());
    }
    std::fs::write(&chunks_path, &original).unwrap();
    // meta.json: unparsable, wrong version, wrong id.
    let meta_path = block_dir.join("meta.json");
    let meta_text = std::fs::read_to_string(&meta_path).unwrap();
    for bad in [
        meta_text[..meta_text.len() / 2].to_string(),
        meta_text.replace("\"format_version\": 1", "\"format_version\": 2"),
        meta_text.replace(
            &block_dir.file_name().unwrap().to_string_lossy().to_string(),
            &BlockId::new(9).to_string(),
        ),
        meta_text.replace("\"series\": 2", "\"series\": 3"),
    ] {
        std::fs::write(&meta_path, bad).unwrap();
        assert!(Block::open(&block_dir).is_err());
    }
    std::fs::write(&meta_path, meta_text).unwrap();
    Block::open(&block_dir).unwrap().verify().unwrap();
}

#[test]
fn load_quarantines_damaged_and_removes_unfinished_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let good = small_block(dir.path());
    let bad_id = BlockId::new(4);
    write_block(
        dir.path(),
        bad_id,
        0,
        100,
        &[(labels(&[("__name__", "c")]), vec![(1, 1.0)])],
        120,
    );
    let bad = dir.path().join(bad_id.to_string());
    let index = std::fs::read(bad.join(INDEX_FILE_NAME)).unwrap();
    std::fs::write(bad.join(INDEX_FILE_NAME), &index[..index.len() / 2]).unwrap();
    let unfinished = dir.path().join(format!("{}.tmp", BlockId::new(5)));
    std::fs::create_dir_all(&unfinished).unwrap();
    std::fs::write(unfinished.join(CHUNKS_FILE_NAME), b"SLCH").unwrap();
    std::fs::create_dir_all(dir.path().join("not-a-block")).unwrap();

    let loaded = load_blocks(dir.path()).unwrap();
    assert_eq!(loaded.blocks.len(), 1);
    assert_eq!(loaded.blocks[0].dir(), good);
    assert_eq!(loaded.quarantined, 1);
    assert_eq!(loaded.removed_unfinished, 1);
    assert!(!bad.exists());
    assert!(dir
        .path()
        .join(QUARANTINE_DIR_NAME)
        .join(bad_id.to_string())
        .exists());
    assert!(!unfinished.exists());
    // A second load finds the same.
    let again = load_blocks(dir.path()).unwrap();
    assert_eq!(again.blocks.len(), 1);
    assert_eq!(again.quarantined, 0);
}

#[test]
fn compaction_merges_overlapping_blocks_and_dedupes() {
    let dir = tempfile::tempdir().unwrap();
    let x = labels(&[("__name__", "x")]);
    let y = labels(&[("__name__", "y"), ("job", "j")]);
    let z = labels(&[("__name__", "z")]);
    let older = BlockId::new(10);
    let newer = BlockId::new(11);
    // Overlapping ranges; x overlaps in time, with one conflicting timestamp.
    write_block(
        dir.path(),
        older,
        0,
        1000,
        &[
            (x.clone(), vec![(0, 1.0), (100, 1.0), (200, 1.0)]),
            (y.clone(), vec![(50, 5.0)]),
        ],
        120,
    );
    write_block(
        dir.path(),
        newer,
        100,
        2000,
        &[
            (x.clone(), vec![(100, 2.0), (300, 2.0), (1500, 2.0)]),
            (z.clone(), vec![(600, f64::from_bits(STALE_NAN_BITS))]),
        ],
        120,
    );
    let loaded = load_blocks(dir.path()).unwrap();
    let metas: Vec<BlockMeta> = loaded.blocks.iter().map(|b| b.meta().clone()).collect();
    let plan = compaction::plan(&metas, &[]).unwrap();
    assert_eq!(plan.len(), 2);
    let meta = compaction::compact(dir.path(), &loaded.blocks, 1_000).unwrap();
    assert_eq!((meta.min_time, meta.max_time), (0, 2000));
    assert_eq!(meta.compaction.level, 2);
    assert_eq!(meta.compaction.sources, vec![older, newer]);
    let merged = Block::open(&dir.path().join(meta.id.to_string())).unwrap();
    merged.verify().unwrap();
    let all = merged.select(&[], i64::MIN, i64::MAX);
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].labels, x);
    assert_eq!(
        all[0].samples,
        vec![(0, 1.0), (100, 2.0), (200, 1.0), (300, 2.0), (1500, 2.0)]
    );
    assert_eq!(all[1].samples, vec![(50, 5.0)]);
    assert_eq!(all[2].samples[0].1.to_bits(), STALE_NAN_BITS);
    // Until the inputs are deleted, loading removes them as superseded.
    drop(loaded);
    let reloaded = load_blocks(dir.path()).unwrap();
    assert_eq!(reloaded.removed_superseded, 2);
    assert_eq!(reloaded.blocks.len(), 1);
    assert_eq!(reloaded.blocks[0].id(), meta.id);
}

#[test]
fn compaction_of_adjacent_blocks_copies_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let series = |offset: i64| -> Vec<(Labels, Vec<(i64, f64)>)> {
        (0..5)
            .map(|i| {
                let samples = (0..100)
                    .map(|s| (offset + s * 10, (i * s) as f64))
                    .collect();
                (labels(&[("__name__", "m"), ("i", &i.to_string())]), samples)
            })
            .collect()
    };
    let mut inputs = Vec::new();
    for window in 0..3i64 {
        let id = BlockId::new(20 + window);
        write_block(
            dir.path(),
            id,
            window * 1000,
            (window + 1) * 1000,
            &series(window * 1000),
            40,
        );
        inputs.push(Arc::new(
            Block::open(&dir.path().join(id.to_string())).unwrap(),
        ));
    }
    let metas: Vec<BlockMeta> = inputs.iter().map(|b| b.meta().clone()).collect();
    // Window [0, 3000) is complete once a block ends at 3000.
    assert_eq!(
        compaction::plan(&metas, &[3000]).map(|ids| ids.len()),
        Some(3)
    );
    assert_eq!(compaction::plan(&metas[..2], &[3000]), None);
    assert_eq!(compaction::plan(&metas, &[6000]), None);
    let meta = compaction::compact(dir.path(), &inputs, 5).unwrap();
    let input_chunks: u64 = inputs.iter().map(|b| b.meta().stats.chunks).sum();
    assert_eq!(meta.stats.chunks, input_chunks);
    assert_eq!(meta.stats.samples, 1500);
    let input_bytes: u64 = inputs.iter().map(|b| b.meta().stats.chunks_bytes - 8).sum();
    assert_eq!(meta.stats.chunks_bytes - 8, input_bytes);
    let merged = Block::open(&dir.path().join(meta.id.to_string())).unwrap();
    merged.verify().unwrap();
    let selected = merged.select(
        &[Matcher::new(MatchOp::Equal, "i", "3").unwrap()],
        950,
        2050,
    );
    assert_eq!(selected[0].samples.first(), Some(&(950, 3.0 * 95.0)));
    assert_eq!(selected[0].samples.len(), 5 + 100 + 6);
}

#[test]
fn encode_chunks_splits_evenly() {
    let samples: Vec<(i64, f64)> = (0..481).map(|t| (t, t as f64)).collect();
    let chunks = encode_chunks(&samples, 240);
    assert_eq!(chunks.len(), 3);
    let sizes: Vec<u16> = chunks
        .iter()
        .map(|c| u16::from_be_bytes([c.bytes[1], c.bytes[2]]))
        .collect();
    assert_eq!(sizes, vec![160, 160, 161]);
    assert_eq!(chunks[2].max_time, 480);
    assert!(encode_chunks(&[], 240).is_empty());
}

fn fixture_v1_series() -> Vec<(Labels, Vec<(i64, f64)>)> {
    let t0 = 1_732_406_400_000;
    vec![
        (
            labels(&[("__name__", "up"), ("job", "node")]),
            vec![
                (t0, 1.0),
                (t0 + 15_000, 1.0),
                (t0 + 30_000, f64::from_bits(STALE_NAN_BITS)),
            ],
        ),
        (
            labels(&[("__name__", "temperature"), ("room", "lab")]),
            vec![
                (t0 + 5_000, 21.5),
                (t0 + 20_003, -0.0),
                (t0 + 35_000, 22.25),
            ],
        ),
    ]
}

const FIXTURE_V1_ID: &str = "01JD3M5X0Q8K7R9T2V4W6Y8Z0A";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    let text: String = text.split_whitespace().collect();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// Prints the version-1 fixture below (run with `--ignored --nocapture` after a format change,
/// then bump the version and keep the old fixture).
#[test]
#[ignore = "generates the fixture"]
fn print_fixture_v1() {
    let dir = tempfile::tempdir().unwrap();
    let id: BlockId = FIXTURE_V1_ID.parse().unwrap();
    write_block(
        dir.path(),
        id,
        1_732_406_400_000,
        1_732_413_600_000,
        &fixture_v1_series(),
        2,
    );
    let block_dir = dir.path().join(FIXTURE_V1_ID);
    println!(
        "index  {}",
        hex(&std::fs::read(block_dir.join(INDEX_FILE_NAME)).unwrap())
    );
    println!(
        "chunks {}",
        hex(&std::fs::read(block_dir.join(CHUNKS_FILE_NAME)).unwrap())
    );
    println!(
        "{}",
        std::fs::read_to_string(block_dir.join("meta.json")).unwrap()
    );
}

const FIXTURE_V1_INDEX: &str = "
534c49580100000007000000085f5f6e616d655f5f036a6f62036c6162046e6f646504726f6f6d0b74656d70
657261747572650275706df043ae020005040202904e00089b759575110200060103020000309875987511840d
7440000000000f0000003fcf413d0100010101010100f119d1ff00000000000000000200000001000000020000
00010000000400000003000000010000002c916bb905000000000000000600000002000000030000000400000002
00000006000000ddb929ae08000000000000002e000000000000003a000000000000001d000000000000005b0000
0000000000080000000000000067000000000000000800000000000000730000000000000024000000000000009b
0000000000000020000000000000005e0000000000000002000000000000001f80ad5d";

const FIXTURE_V1_CHUNKS: &str = "
534c4348010000000c010001909ebfb7eb64f091aeaff074c712010002c688c1b7eb64e000f80ea5788c8b10fd2b
b1b30c01000180d0beb7eb64f00300c20fcd8318010002b0bac0b7eb64f003780ea6381f6000000000000001620e
c8eb";

const FIXTURE_V1_META: &str = r#"{
  "format_version": 1,
  "id": "01JD3M5X0Q8K7R9T2V4W6Y8Z0A",
  "min_time": 1732406400000,
  "max_time": 1732413600000,
  "stats": { "series": 2, "samples": 6, "chunks": 4, "index_bytes": 307, "chunks_bytes": 94 },
  "compaction": { "level": 1, "sources": ["01JD3M5X0Q8K7R9T2V4W6Y8Z0A"], "parents": [] }
}"#;

/// Version-1 blocks stay readable: a block written by the first version of the writer.
#[test]
fn format_version_1_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let block_dir = dir.path().join(FIXTURE_V1_ID);
    std::fs::create_dir_all(&block_dir).unwrap();
    std::fs::write(block_dir.join(INDEX_FILE_NAME), unhex(FIXTURE_V1_INDEX)).unwrap();
    std::fs::write(block_dir.join(CHUNKS_FILE_NAME), unhex(FIXTURE_V1_CHUNKS)).unwrap();
    std::fs::write(block_dir.join("meta.json"), FIXTURE_V1_META).unwrap();
    let block = Block::open(&block_dir).unwrap();
    block.verify().unwrap();
    let expected_series = expected(&fixture_v1_series(), &[], i64::MIN, i64::MAX);
    assert_same(&block.select(&[], i64::MIN, i64::MAX), &expected_series);
    let up = block.select(
        &[matcher(MatchOp::Equal, "job", "node")],
        i64::MIN,
        i64::MAX,
    );
    assert_eq!(up[0].samples[2].1.to_bits(), STALE_NAN_BITS);
    assert_eq!(block.label_values("room"), vec!["lab"]);
}

/// Exporter-shaped values go into decimal chunks where those are smaller; a chunk holding a
/// staleness marker stays XOR; both read back bit for bit, also after compaction.
#[test]
fn blocks_store_exporter_values_in_decimal_chunks() {
    use crate::metrics::tsdb::chunk::{DECIMAL_FORMAT_VERSION, XOR_FORMAT_VERSION};
    let dir = tempfile::tempdir().unwrap();
    let stale = f64::from_bits(STALE_NAN_BITS);
    let times = |offset: i64| (0..300i64).map(move |i| 1_000_000 + offset + i * 15_000);
    let cpu_seconds = |i: i64| (12_345_600 + i * 1_234 + (i * 7919) % 131) as f64 / 100.0;
    let series = vec![
        (
            labels(&[("__name__", "node_cpu_seconds_total")]),
            times(0)
                .map(|t| (t, cpu_seconds((t - 1_000_000) / 15_000)))
                .collect(),
        ),
        (
            labels(&[("__name__", "http_requests_total")]),
            times(3)
                .enumerate()
                .map(|(i, t)| {
                    let count = (1_000 + i * 37 + (i * 31) % 17) as f64;
                    (t, if t > 4_750_000 { stale } else { count })
                })
                .collect::<Vec<_>>(),
        ),
    ];
    let first = BlockId::new(20);
    write_block(dir.path(), first, 0, 6_000_000, &series, 120);
    let block = Block::open(&dir.path().join(first.to_string())).unwrap();
    block.verify().unwrap();
    let formats = |ordinal: u32| -> Vec<u8> {
        let (_, chunks) = block.read_series(ordinal).unwrap();
        chunks
            .iter()
            .map(|chunk| block.chunk(chunk.offset).unwrap()[0])
            .collect()
    };
    // Ordinals follow label order: the request counter, then CPU seconds.
    assert_eq!(
        formats(0),
        vec![
            DECIMAL_FORMAT_VERSION,
            DECIMAL_FORMAT_VERSION,
            XOR_FORMAT_VERSION
        ]
    );
    assert_eq!(formats(1), vec![DECIMAL_FORMAT_VERSION; 3]);
    let everything = expected(&series, &[], i64::MIN, i64::MAX);
    assert_same(&block.select(&[], i64::MIN, i64::MAX), &everything);
    assert_same(
        &block.select(&[], 2_000_000, 3_000_000),
        &expected(&series, &[], 2_000_000, 3_000_000),
    );

    // An overlapping block with the same samples and one more: compaction decodes both.
    let mut later = series.clone();
    later[0].1.push((5_500_000, 200_000.07));
    let second = BlockId::new(21);
    write_block(dir.path(), second, 0, 6_000_000, &later, 120);
    drop(block);
    let loaded = load_blocks(dir.path()).unwrap();
    let meta = compaction::compact(dir.path(), &loaded.blocks, 1_000).unwrap();
    let merged = Block::open(&dir.path().join(meta.id.to_string())).unwrap();
    merged.verify().unwrap();
    assert_same(
        &merged.select(&[], i64::MIN, i64::MAX),
        &expected(&later, &[], i64::MIN, i64::MAX),
    );
}

/// A chunk identical to one already written (a histogram's `+Inf` bucket and its `_count`,
/// saturated buckets, equal constants of one target) is stored once and referenced by both
/// series, whether the earlier copy is still buffered or already in the file; a copy that
/// would make a series' references go backwards is written again. Compaction shares again.
#[test]
fn identical_chunks_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let times = |offset: i64| (0..480i64).map(move |i| 1_000_000 + offset + i * 15_000);
    // Full-precision values keep the chunks XOR and large (about 8 bytes a sample), so the
    // 1 MiB write buffer is flushed many times over and most earlier copies are in the file.
    let noise = |seed: u64, i: i64| {
        let mixed = (seed ^ i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (mixed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut series = Vec::new();
    for target in 0..300u64 {
        let instance = format!("host-{target:03}");
        let samples: Vec<(i64, f64)> = times(target as i64)
            .enumerate()
            .map(|(i, t)| (t, noise(target, i as i64)))
            .collect();
        // `a_bucket` and `b_count` sort far apart: every `a_bucket` comes first.
        for name in ["a_bucket", "b_count"] {
            series.push((
                labels(&[("__name__", name), ("instance", &instance)]),
                samples.clone(),
            ));
        }
    }
    // A series whose second chunk equals another series' first chunk, written before its
    // own first chunk: sharing it would make its references decrease.
    let first_half: Vec<(i64, f64)> = times(0).take(240).map(|t| (t, 1.0)).collect();
    let second_half: Vec<(i64, f64)> = times(0).skip(240).map(|t| (t, 2.0)).collect();
    series.push((labels(&[("__name__", "c_later")]), second_half.clone()));
    let mut both = first_half.clone();
    both.extend(second_half);
    series.push((labels(&[("__name__", "d_both")]), both));

    let id = BlockId::new(30);
    let meta = write_block(dir.path(), id, 0, 10_000_000, &series, 240);
    // 300 `b_count` series share both of their chunks; `d_both`'s second chunk is copied.
    assert_eq!(meta.stats.chunks, 300 * 2 * 2 + 1 + 2);
    assert_eq!(meta.stats.shared_chunks, 300 * 2);
    let block = Block::open(&dir.path().join(id.to_string())).unwrap();
    block.verify().unwrap();
    let everything = expected(&series, &[], i64::MIN, i64::MAX);
    assert_same(&block.select(&[], i64::MIN, i64::MAX), &everything);
    let unshared = dir.path().join("unshared");
    std::fs::create_dir(&unshared).unwrap();
    let distinct: Vec<_> = series
        .iter()
        .enumerate()
        .map(|(i, (labels, samples))| {
            let mut samples = samples.clone();
            samples[0].1 = i as f64;
            (labels.clone(), samples)
        })
        .collect();
    let alone = write_block(&unshared, BlockId::new(31), 0, 10_000_000, &distinct, 240);
    assert!(
        meta.stats.chunks_bytes * 10 < alone.stats.chunks_bytes * 6,
        "{} bytes shared against {} without",
        meta.stats.chunks_bytes,
        alone.stats.chunks_bytes
    );

    // Compaction with a second, later block keeps every sample and shares again.
    let later: Vec<_> = series
        .iter()
        .map(|(labels, samples)| {
            let moved: Vec<(i64, f64)> = samples.iter().map(|(t, v)| (t + 8_000_000, *v)).collect();
            (labels.clone(), moved)
        })
        .collect();
    write_block(
        dir.path(),
        BlockId::new(32),
        9_000_000,
        20_000_000,
        &later,
        240,
    );
    drop(block);
    let loaded = load_blocks(dir.path()).unwrap();
    let merged = compaction::compact(dir.path(), &loaded.blocks, 1_000).unwrap();
    assert_eq!(merged.stats.shared_chunks, 300 * 4);
    let merged = Block::open(&dir.path().join(merged.id.to_string())).unwrap();
    merged.verify().unwrap();
    let mut all = series.clone();
    for ((_, samples), (_, moved)) in all.iter_mut().zip(&later) {
        samples.extend(moved);
    }
    assert_same(
        &merged.select(&[], i64::MIN, i64::MAX),
        &expected(&all, &[], i64::MIN, i64::MAX),
    );
}

/// A classic histogram of one target: buckets, `_count` and `_sum`, scraped every 15 s
/// from `start` for `scrapes` rounds, plus a histogram whose buckets were scraped at other
/// instants than its `+Inf` bucket.
fn histogram_series(start: i64, scrapes: i64) -> Vec<(Labels, Vec<(i64, f64)>)> {
    let bounds = ["0.1", "0.5", "1", "+Inf"];
    let shares = [0.2, 0.7, 0.93, 1.0];
    let mut series = Vec::new();
    let mut totals = vec![0.0f64; bounds.len()];
    let mut buckets: Vec<Vec<(i64, f64)>> = vec![Vec::new(); bounds.len()];
    let mut sum = Vec::new();
    for round in 0..scrapes {
        let t = start + round * 15_000;
        let observations = (200 + (round * 7_919) % 150) as f64;
        for (slot, share) in shares.iter().enumerate() {
            totals[slot] += (observations * share).round();
            buckets[slot].push((t, totals[slot]));
        }
        sum.push((t, totals[3] * 0.123_456_789_1));
    }
    for (bound, samples) in bounds.iter().zip(&buckets) {
        series.push((
            labels(&[
                ("__name__", "rpc_seconds_bucket"),
                ("job", "api"),
                ("le", bound),
                ("method", "get"),
            ]),
            samples.clone(),
        ));
    }
    let count = buckets[3].clone();
    series.push((
        labels(&[
            ("__name__", "rpc_seconds_count"),
            ("job", "api"),
            ("method", "get"),
        ]),
        count,
    ));
    series.push((
        labels(&[
            ("__name__", "rpc_seconds_sum"),
            ("job", "api"),
            ("method", "get"),
        ]),
        sum,
    ));
    // Another histogram whose finite bucket is offset by a millisecond: no reference.
    let shifted: Vec<(i64, f64)> = buckets[1].iter().map(|(t, v)| (t + 1, *v)).collect();
    series.push((
        labels(&[("__name__", "other_bucket"), ("le", "+Inf")]),
        buckets[3].clone(),
    ));
    series.push((
        labels(&[("__name__", "other_bucket"), ("le", "1")]),
        shifted,
    ));
    series
}

#[test]
fn histogram_buckets_are_stored_relative_to_their_inf_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let series = histogram_series(0, 240);
    let id = BlockId::new(30);
    let meta = write_block(dir.path(), id, 0, 4_000_000, &series, 120);
    let block = Block::open(&dir.path().join(id.to_string())).unwrap();
    block.verify().unwrap();
    let everything = block.select(&[], i64::MIN, i64::MAX);
    assert_same(&everything, &expected(&series, &[], i64::MIN, i64::MAX));
    let in_range = block.select(
        &[matcher(MatchOp::Equal, "le", "0.5")],
        1_000_000,
        2_000_000,
    );
    assert_same(
        &in_range,
        &expected(
            &series,
            &[matcher(MatchOp::Equal, "le", "0.5")],
            1_000_000,
            2_000_000,
        ),
    );
    let format_of = |wanted: &[(&str, &str)]| -> Vec<u8> {
        let ordinal = (0..block.num_series())
            .find(|ordinal| block.read_series(*ordinal).unwrap().0 == labels(wanted))
            .unwrap();
        let (_, chunks) = block.read_series(ordinal).unwrap();
        chunks
            .iter()
            .map(|chunk| block.chunk(chunk.offset).unwrap()[0])
            .collect()
    };
    let relative = crate::metrics::tsdb::chunk::RELATIVE_FORMAT_VERSION;
    let bucket = |le| {
        format_of(&[
            ("__name__", "rpc_seconds_bucket"),
            ("job", "api"),
            ("le", le),
            ("method", "get"),
        ])
    };
    assert_eq!(bucket("0.5"), [relative, relative]);
    assert_eq!(bucket("1"), [relative, relative]);
    assert!(!bucket("+Inf").contains(&relative));
    let count = format_of(&[
        ("__name__", "rpc_seconds_count"),
        ("job", "api"),
        ("method", "get"),
    ]);
    assert_eq!(count, [relative, relative]);
    let sum = format_of(&[
        ("__name__", "rpc_seconds_sum"),
        ("job", "api"),
        ("method", "get"),
    ]);
    assert!(!sum.contains(&relative));
    assert!(!format_of(&[("__name__", "other_bucket"), ("le", "1")]).contains(&relative));

    // The same series without relative chunks take more room (the `_sum`, a
    // full-precision float, is most of what is left).
    let plain: u64 = series
        .iter()
        .flat_map(|(_, samples)| encode_chunks(samples, 120))
        .map(|chunk| chunk.bytes.len() as u64)
        .sum();
    assert!(
        meta.stats.chunks_bytes * 4 < plain * 3,
        "{} vs {plain}",
        meta.stats.chunks_bytes
    );

    // Compaction decodes relative chunks and codes them again against the new block's
    // copy of the reference, whether it copies or merges.
    let later = histogram_series(4_000_000, 100);
    let next = BlockId::new(31);
    write_block(dir.path(), next, 4_000_000, 8_000_000, &later, 120);
    let overlapping = BlockId::new(32);
    write_block(dir.path(), overlapping, 0, 4_000_000, &series[..2], 120);
    let inputs: Vec<Arc<Block>> = [id, next, overlapping]
        .iter()
        .map(|id| Arc::new(Block::open(&dir.path().join(id.to_string())).unwrap()))
        .collect();
    let merged = compaction::compact(dir.path(), &inputs, 40).unwrap();
    let merged = Block::open(&dir.path().join(merged.id.to_string())).unwrap();
    merged.verify().unwrap();
    let mut all = series.clone();
    for (labels, samples) in later {
        let entry = all.iter_mut().find(|(l, _)| *l == labels).unwrap();
        entry.1.extend(samples);
    }
    assert_same(
        &merged.select(&[], i64::MIN, i64::MAX),
        &expected(&all, &[], i64::MIN, i64::MAX),
    );
    // Ordinals: other_bucket +Inf and 1, then rpc_seconds_bucket +Inf, 0.1, 0.5, 1. The
    // `le="1"` bucket was copied chunk by chunk, so its chunks still match the reference's
    // (0.1 and 0.5 were merged with the overlapping block and cut differently).
    let (names, chunks) = merged.read_series(5).unwrap();
    assert_eq!(names[2], ("le".to_string(), "1".to_string()));
    let formats: Vec<u8> = chunks
        .iter()
        .map(|chunk| merged.chunk(chunk.offset).unwrap()[0])
        .collect();
    assert_eq!(formats, [relative; 3], "{formats:?}");
}
