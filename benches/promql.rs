//! PromQL evaluation over many series: instant and range queries of the shapes dashboards
//! and alert rules use, against a TSDB holding 2 000 series × 2 h of 15 s samples.
//! Throughput is reported in input samples per second (the samples the query reads).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sightline::metrics::promql::{Engine, EngineOptions};
use sightline::metrics::tsdb::{AppendSeries, Tsdb, TsdbOptions};

const INSTANCES: usize = 100;
const SERIES_PER_INSTANCE: usize = 20;
const STEP_MS: i64 = 15_000;
const SAMPLES: i64 = 480;
const START_MS: i64 = 1_700_000_000_000;

fn fill(db: &Tsdb) {
    let mut labels: Vec<Vec<(String, String)>> = Vec::new();
    for instance in 0..INSTANCES {
        for index in 0..SERIES_PER_INSTANCE {
            let mut set = vec![
                ("__name__".to_string(), "http_requests_total".to_string()),
                ("instance".to_string(), format!("host-{instance}:9100")),
                ("job".to_string(), format!("job-{}", instance % 5)),
                (
                    "code".to_string(),
                    ["200", "404", "500", "503"][index % 4].to_string(),
                ),
                ("handler".to_string(), format!("/api/{}", index / 4)),
            ];
            set.sort();
            labels.push(set);
        }
    }
    let refs: Vec<Vec<(&str, &str)>> = labels
        .iter()
        .map(|set| set.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect())
        .collect();
    for round in 0..SAMPLES {
        let t = START_MS + round * STEP_MS;
        let samples: Vec<[(i64, f64); 1]> = (0..refs.len())
            .map(|index| [(t, (round * (1 + index as i64 % 7)) as f64)])
            .collect();
        let batch: Vec<AppendSeries> = refs
            .iter()
            .zip(&samples)
            .map(|(labels, samples)| AppendSeries::new(labels, samples))
            .collect();
        db.append(&batch).expect("append");
    }
}

fn bench_queries(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = TsdbOptions {
        wal_fsync: false,
        ..TsdbOptions::default()
    };
    let db = Tsdb::open(dir.path(), options).expect("open tsdb");
    fill(&db);
    let engine = Engine::new(EngineOptions::default());
    let end = START_MS + (SAMPLES - 1) * STEP_MS;
    let series = (INSTANCES * SERIES_PER_INSTANCE) as u64;

    let mut group = c.benchmark_group("promql");
    group.measurement_time(Duration::from_secs(6));
    group.sample_size(10);
    // Instant queries read ~5 minutes of samples per series.
    group.throughput(Throughput::Elements(series * 20));
    for (name, query) in [
        ("instant_sum_rate", "sum by (job) (rate(http_requests_total[5m]))"),
        ("instant_topk", "topk(5, rate(http_requests_total[5m]))"),
        (
            "instant_vector_filter",
            "http_requests_total{code=\"200\"} / ignoring(code) http_requests_total{code=\"404\"} < 0.5",
        ),
        (
            "instant_ratio",
            "sum by (instance) (rate(http_requests_total{code=~\"5..\"}[5m])) / sum by (instance) (rate(http_requests_total[5m]))",
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| engine.instant_query(&db, query, end).expect("query"))
        });
    }
    // Range queries over the whole 2 h at a 60 s step read every sample.
    group.throughput(Throughput::Elements(series * SAMPLES as u64));
    for (name, query) in [
        (
            "range_sum_rate",
            "sum by (job) (rate(http_requests_total[5m]))",
        ),
        ("range_selector", "http_requests_total{code=\"200\"}"),
        (
            "range_quantile_over_time",
            "quantile_over_time(0.9, http_requests_total{job=\"job-1\"}[10m])",
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                engine
                    .range_query(&db, query, START_MS, end, 60_000)
                    .expect("query")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_queries);
criterion_main!(benches);
