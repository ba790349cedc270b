//! Ingestion throughput of the TSDB with fsync on: samples appended per second through
//! `Tsdb::append` alone, and through remote-write decoding plus append (the path a
//! `POST /api/v1/write` takes, minus HTTP). Realistic node-exporter-like series.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sightline::metrics::remote::{
    decode_and_store, encode_write_request_v1, DecodeLimits, SeriesToEncode,
};
use sightline::metrics::tsdb::{AppendSeries, Tsdb, TsdbOptions};

const SERIES: usize = 10_000;

/// Label sets shaped like node_exporter's: metric name, instance, job and one or two
/// metric-specific labels.
fn label_sets() -> Vec<Vec<(String, String)>> {
    let names = [
        ("node_cpu_seconds_total", "mode"),
        ("node_network_receive_bytes_total", "device"),
        ("node_filesystem_avail_bytes", "mountpoint"),
        ("node_disk_io_time_seconds_total", "device"),
        ("http_requests_total", "code"),
    ];
    (0..SERIES)
        .map(|index| {
            let (name, label) = names[index % names.len()];
            let mut labels = vec![
                ("__name__".to_string(), name.to_string()),
                (
                    "instance".to_string(),
                    format!("10.0.{}.{}:9100", index / 250 % 256, index % 250),
                ),
                ("job".to_string(), "node".to_string()),
                (label.to_string(), format!("v{}", index % 8)),
            ];
            labels.sort();
            labels
        })
        .collect()
}

/// Round `round` of samples: 15 s apart, counters growing with jitter.
fn samples_for(round: i64) -> Vec<Vec<(i64, f64)>> {
    (0..SERIES)
        .map(|index| {
            vec![(
                1_700_000_000_000 + round * 15_000,
                (round * 7 + (index as i64 % 13)) as f64,
            )]
        })
        .collect()
}

fn bench_append(c: &mut Criterion) {
    let labels = label_sets();
    let mut group = c.benchmark_group("tsdb_ingest");
    group.throughput(Throughput::Elements(SERIES as u64));
    group.measurement_time(Duration::from_secs(8));
    group.sample_size(20);

    let dir = tempfile::tempdir().unwrap();
    let tsdb = Tsdb::open(dir.path(), TsdbOptions::default()).unwrap();
    let mut round = 0i64;
    group.bench_function("append_10k_series_fsync", |b| {
        b.iter_batched(
            || {
                round += 1;
                samples_for(round)
            },
            |samples| {
                let label_refs: Vec<Vec<(&str, &str)>> = labels
                    .iter()
                    .map(|set| set.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect())
                    .collect();
                let batch: Vec<AppendSeries<'_>> = label_refs
                    .iter()
                    .zip(&samples)
                    .map(|(labels, samples)| AppendSeries::new(labels, samples))
                    .collect();
                tsdb.append(&batch).unwrap()
            },
            BatchSize::LargeInput,
        )
    });

    let dir = tempfile::tempdir().unwrap();
    let tsdb = Tsdb::open(dir.path(), TsdbOptions::default()).unwrap();
    let limits = DecodeLimits::default();
    let mut round = 0i64;
    group.bench_function("decode_and_append_10k_series_fsync", |b| {
        b.iter_batched(
            || {
                round += 1;
                let series: Vec<SeriesToEncode> =
                    labels.iter().cloned().zip(samples_for(round)).collect();
                encode_write_request_v1(&series)
            },
            |body| {
                let content = (Some("application/x-protobuf"), Some("snappy"));
                let (_, stored) =
                    decode_and_store(&body, content.0, content.1, &limits, &tsdb).unwrap();
                stored.unwrap()
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_append);
criterion_main!(benches);
