//! Remote-write decoding throughput: a 10 000-series × 1-sample request with
//! node_exporter-like labels (4 to 7 labels per series, about 150 bytes of protobuf each in
//! 1.0, with an external `cluster` label as Prometheus adds it), decoded end to end
//! (snappy + protobuf + validation) and by stage. Criterion reports elements/s, which here
//! are samples/s. Run: `cargo bench --bench remote_write`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use prost::Message;
use sightline::metrics::remote::{
    decode_protobuf, decode_write_request, decompress_snappy, encode_write_request_v1,
    encode_write_request_v2, proto_v1, DecodeLimits, Protocol, SeriesToEncode,
};

const SERIES: usize = 10_000;

/// Series shaped like node_exporter's: a few families with per-device or per-cpu labels,
/// spread over hosts, labels sorted by name as Prometheus sends them.
fn node_exporter_like_series() -> Vec<SeriesToEncode> {
    let modes = [
        "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
    ];
    let devices = ["nvme0n1", "nvme1n1", "sda", "sdb"];
    let interfaces = ["eth0", "eth1", "lo", "docker0"];
    let mounts = [
        ("/dev/nvme0n1p1", "ext4", "/"),
        ("/dev/nvme1n1p1", "xfs", "/var/lib/data"),
        ("tmpfs", "tmpfs", "/run"),
    ];
    let mut out = Vec::with_capacity(SERIES);
    let mut host = 0usize;
    while out.len() < SERIES {
        let instance = format!("10.40.{}.{}:9100", host / 250, host % 250 + 2);
        let mut family: Vec<(&str, Vec<(&str, String)>)> = Vec::new();
        for cpu in 0..32 {
            for mode in modes {
                family.push((
                    "node_cpu_seconds_total",
                    vec![("cpu", cpu.to_string()), ("mode", mode.to_owned())],
                ));
            }
        }
        for device in devices {
            for name in [
                "node_disk_io_time_seconds_total",
                "node_disk_read_bytes_total",
                "node_disk_written_bytes_total",
                "node_disk_reads_completed_total",
            ] {
                family.push((name, vec![("device", device.to_owned())]));
            }
        }
        for device in interfaces {
            for name in [
                "node_network_receive_bytes_total",
                "node_network_transmit_bytes_total",
                "node_network_receive_packets_total",
                "node_network_transmit_packets_total",
            ] {
                family.push((name, vec![("device", device.to_owned())]));
            }
        }
        for (device, fstype, mountpoint) in mounts {
            for name in [
                "node_filesystem_avail_bytes",
                "node_filesystem_size_bytes",
                "node_filesystem_files_free",
            ] {
                family.push((
                    name,
                    vec![
                        ("device", device.to_owned()),
                        ("fstype", fstype.to_owned()),
                        ("mountpoint", mountpoint.to_owned()),
                    ],
                ));
            }
        }
        for name in [
            "node_load1",
            "node_load5",
            "node_load15",
            "node_memory_MemAvailable_bytes",
            "node_memory_MemTotal_bytes",
            "node_boot_time_seconds",
        ] {
            family.push((name, Vec::new()));
        }
        for (name, extra) in family {
            if out.len() == SERIES {
                break;
            }
            let mut labels: Vec<(String, String)> = vec![
                ("__name__".into(), name.into()),
                ("cluster".into(), "prod-eu-west-1".into()),
                ("instance".into(), instance.clone()),
                ("job".into(), "node".into()),
            ];
            labels.extend(extra.into_iter().map(|(n, v)| (n.to_owned(), v)));
            labels.sort();
            let value = (out.len() as f64) * 1234.5678;
            out.push((labels, vec![(1_700_000_000_000 + host as i64, value)]));
        }
        host += 1;
    }
    out
}

fn bench_decode(c: &mut Criterion) {
    let series = node_exporter_like_series();
    let body_v1 = encode_write_request_v1(&series);
    let body_v2 = encode_write_request_v2(&series);
    let limits = DecodeLimits::default();
    let raw_v1 = decompress_snappy(&body_v1, usize::MAX).expect("valid snappy");
    let raw_v2 = decompress_snappy(&body_v2, usize::MAX).expect("valid snappy");
    eprintln!(
        "request: {SERIES} series, 1.0 body {} bytes ({} decompressed), 2.0 body {} bytes ({} decompressed)",
        body_v1.len(),
        raw_v1.len(),
        body_v2.len(),
        raw_v2.len()
    );

    let mut group = c.benchmark_group("remote_write_decode");
    group.throughput(Throughput::Elements(SERIES as u64));
    group.bench_function("v1_end_to_end", |b| {
        b.iter(|| {
            let decoded = decode_write_request(
                black_box(&body_v1),
                Some("application/x-protobuf"),
                Some("snappy"),
                &limits,
            )
            .expect("valid request");
            assert_eq!(decoded.len(), SERIES);
            decoded
        })
    });
    group.bench_function("v2_end_to_end", |b| {
        b.iter(|| {
            let decoded = decode_write_request(
                black_box(&body_v2),
                Some("application/x-protobuf;proto=io.prometheus.write.v2.Request"),
                Some("snappy"),
                &limits,
            )
            .expect("valid request");
            assert_eq!(decoded.len(), SERIES);
            decoded
        })
    });
    group.bench_function("v1_snappy_only", |b| {
        b.iter(|| decompress_snappy(black_box(&body_v1), usize::MAX).expect("valid snappy"))
    });
    // The decoder takes ownership of the decompressed body; copying it is setup here.
    group.bench_function("v1_protobuf_and_validation", |b| {
        b.iter_batched(
            || raw_v1.clone(),
            |raw| decode_protobuf(Protocol::V1, raw, &limits).expect("valid"),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("v2_protobuf_and_validation", |b| {
        b.iter_batched(
            || raw_v2.clone(),
            |raw| decode_protobuf(Protocol::V2, raw, &limits).expect("valid"),
            BatchSize::LargeInput,
        )
    });
    // For comparison: the derived prost types, one String per label name and value.
    group.bench_function("v1_prost_owned_strings_no_validation", |b| {
        b.iter(|| proto_v1::WriteRequest::decode(black_box(raw_v1.as_slice())).expect("valid"))
    });
    group.finish();
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
