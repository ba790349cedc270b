//! Series index micro-benchmarks: creating and looking up node_exporter-like series, and
//! selecting with typical dashboard/alert matchers on a million series.
//!
//! `cargo bench --bench index` (all), or add a filter such as `select`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sightline::metrics::tsdb::index::{MatchOp, Matcher, MemIndex};

/// Deterministic node_exporter-like label sets: about 209 series per host with
/// `__name__`, `cluster`, `instance`, `job` and per-metric labels (cpu, mode, device,
/// fstype, mountpoint, …).
pub mod workload {
    pub type LabelSet = Vec<(String, String)>;

    const CPU_MODES: [&str; 8] = [
        "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
    ];
    const NET_DEVICES: [&str; 4] = ["docker0", "eth0", "eth1", "lo"];
    const DISKS: [&str; 3] = ["nvme0n1", "sda", "sdb"];
    const FILESYSTEMS: [(&str, &str, &str); 4] = [
        ("/dev/sda1", "ext4", "/"),
        ("/dev/sda2", "ext4", "/boot"),
        ("tmpfs", "tmpfs", "/run"),
        ("overlay", "overlay", "/var/lib/docker/overlay2"),
    ];
    const MEMORY_GAUGES: [&str; 40] = [
        "Active",
        "Active_anon",
        "Active_file",
        "AnonHugePages",
        "AnonPages",
        "Bounce",
        "Buffers",
        "Cached",
        "CommitLimit",
        "Committed_AS",
        "DirectMap1G",
        "DirectMap2M",
        "DirectMap4k",
        "Dirty",
        "HardwareCorrupted",
        "HugePages_Free",
        "HugePages_Rsvd",
        "HugePages_Surp",
        "HugePages_Total",
        "Hugepagesize",
        "Inactive",
        "Inactive_anon",
        "Inactive_file",
        "KernelStack",
        "Mapped",
        "MemAvailable",
        "MemFree",
        "MemTotal",
        "Mlocked",
        "NFS_Unstable",
        "PageTables",
        "SReclaimable",
        "SUnreclaim",
        "Shmem",
        "Slab",
        "SwapCached",
        "SwapFree",
        "SwapTotal",
        "Unevictable",
        "Writeback",
    ];
    const PLAIN_GAUGES: [&str; 13] = [
        "node_load1",
        "node_load5",
        "node_load15",
        "node_boot_time_seconds",
        "node_time_seconds",
        "node_procs_running",
        "node_procs_blocked",
        "node_context_switches_total",
        "node_intr_total",
        "node_forks_total",
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
    ];

    /// `instance` value of host number `host`.
    pub fn instance(host: usize) -> String {
        format!(
            "10.{}.{}.{}:9100",
            host / 65_536 % 256,
            host / 256 % 256,
            host % 256
        )
    }

    /// Every series of one host, each sorted by label name.
    pub fn host_series(host: usize) -> Vec<LabelSet> {
        let instance = instance(host);
        let cluster = format!("cluster-{}", host % 10);
        let mut out = Vec::with_capacity(210);
        let mut push = |name: &str, extra: &[(&str, &str)]| {
            let mut labels: LabelSet = vec![
                ("__name__".to_owned(), name.to_owned()),
                ("cluster".to_owned(), cluster.clone()),
                ("instance".to_owned(), instance.clone()),
                ("job".to_owned(), "node".to_owned()),
            ];
            labels.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
            labels.sort();
            out.push(labels);
        };
        for cpu in 0..8 {
            let cpu = cpu.to_string();
            for mode in CPU_MODES {
                push("node_cpu_seconds_total", &[("cpu", &cpu), ("mode", mode)]);
            }
            for mode in ["nice", "user"] {
                push(
                    "node_cpu_guest_seconds_total",
                    &[("cpu", &cpu), ("mode", mode)],
                );
            }
        }
        for metric in [
            "avail_bytes",
            "free_bytes",
            "size_bytes",
            "files",
            "files_free",
            "readonly",
            "device_error",
        ] {
            let name = format!("node_filesystem_{metric}");
            for (device, fstype, mountpoint) in FILESYSTEMS {
                push(
                    &name,
                    &[
                        ("device", device),
                        ("fstype", fstype),
                        ("mountpoint", mountpoint),
                    ],
                );
            }
        }
        for direction in ["receive", "transmit"] {
            for unit in ["bytes", "packets", "errs", "drop"] {
                let name = format!("node_network_{direction}_{unit}_total");
                for device in NET_DEVICES {
                    push(&name, &[("device", device)]);
                }
            }
        }
        for metric in [
            "reads_completed",
            "writes_completed",
            "read_bytes",
            "written_bytes",
            "io_time_seconds",
        ] {
            let name = format!("node_disk_{metric}_total");
            for device in DISKS {
                push(&name, &[("device", device)]);
            }
        }
        for gauge in MEMORY_GAUGES {
            push(&format!("node_memory_{gauge}_bytes"), &[]);
        }
        for gauge in PLAIN_GAUGES {
            push(gauge, &[]);
        }
        let nodename = format!("host-{host}");
        push(
            "node_uname_info",
            &[
                ("machine", "x86_64"),
                ("nodename", &nodename),
                ("release", "6.1.0-18-amd64"),
                ("sysname", "Linux"),
            ],
        );
        out
    }

    /// Label sets of the first hosts, at least `series` of them in total.
    pub fn label_sets(series: usize) -> Vec<LabelSet> {
        let mut out = Vec::with_capacity(series + 256);
        let mut host = 0;
        while out.len() < series {
            out.extend(host_series(host));
            host += 1;
        }
        out.truncate(series);
        out
    }

    pub fn borrowed(labels: &LabelSet) -> Vec<(&str, &str)> {
        labels
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    /// A matcher as (label name, operator, value).
    pub type MatcherSpec = (&'static str, &'static str, &'static str);

    /// Typical selectors: (description, matchers).
    pub fn queries() -> Vec<(&'static str, Vec<MatcherSpec>)> {
        vec![
            ("name_only", vec![("__name__", "=", "node_load1")]),
            (
                "name_instance",
                vec![
                    ("__name__", "=", "node_cpu_seconds_total"),
                    ("instance", "=", "10.0.7.42:9100"),
                ],
            ),
            (
                "name_instance_neq",
                vec![
                    ("__name__", "=", "node_cpu_seconds_total"),
                    ("instance", "=", "10.0.7.42:9100"),
                    ("mode", "!=", "idle"),
                ],
            ),
            (
                "name_set",
                vec![
                    ("__name__", "=", "node_cpu_seconds_total"),
                    ("mode", "=~", "user|system"),
                ],
            ),
            (
                "name_negative_regexes",
                vec![
                    ("__name__", "=", "node_filesystem_avail_bytes"),
                    ("fstype", "!~", "tmpfs|overlay"),
                    ("mountpoint", "!=", "/boot"),
                ],
            ),
            (
                "name_not_prefix",
                vec![
                    ("__name__", "=", "node_network_receive_bytes_total"),
                    ("device", "!~", "lo|docker.*"),
                ],
            ),
            (
                "name_prefix_regex",
                vec![("__name__", "=~", "node_memory_.*")],
            ),
            (
                "instance_prefix_job",
                vec![("instance", "=~", "10\\.0\\.1\\..*"), ("job", "=", "node")],
            ),
            (
                "cluster_mode",
                vec![
                    ("__name__", "=", "node_cpu_seconds_total"),
                    ("cluster", "=", "cluster-3"),
                    ("mode", "=", "idle"),
                ],
            ),
            (
                "regex_engine",
                vec![
                    ("__name__", "=", "node_cpu_seconds_total"),
                    ("cpu", "=~", "[0-3]"),
                    ("instance", "=~", "10\\.0\\.(1|2)\\..+"),
                ],
            ),
            ("job_all", vec![("job", "=", "node")]),
        ]
    }

    pub fn op(op: &str) -> super::MatchOp {
        match op {
            "=" => super::MatchOp::Equal,
            "!=" => super::MatchOp::NotEqual,
            "=~" => super::MatchOp::RegexMatch,
            _ => super::MatchOp::RegexNoMatch,
        }
    }
}

fn build(sets: &[workload::LabelSet]) -> MemIndex {
    let mut index = MemIndex::new();
    for labels in sets {
        let _ = index.get_or_create(&workload::borrowed(labels));
    }
    index
}

fn bench_create_and_lookup(c: &mut Criterion) {
    const SERIES: usize = 200_000;
    let sets = workload::label_sets(SERIES);
    let borrowed: Vec<Vec<(&str, &str)>> = sets.iter().map(workload::borrowed).collect();
    let mut group = c.benchmark_group("index");
    group.throughput(Throughput::Elements(SERIES as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("get_or_create_200k_new", |b| {
        b.iter_batched(
            MemIndex::new,
            |mut index| {
                for labels in &borrowed {
                    let _ = black_box(index.get_or_create(labels));
                }
                index
            },
            BatchSize::LargeInput,
        )
    });
    let mut index = build(&sets);
    group.bench_function("get_200k_existing", |b| {
        b.iter(|| {
            for labels in &borrowed {
                black_box(index.get(labels));
            }
        })
    });
    // Requests of 2000 series, as the load bench's remote write sends them.
    let slices: Vec<&[(&str, &str)]> = borrowed.iter().map(Vec::as_slice).collect();
    group.bench_function("get_many_200k_existing_in_2000s", |b| {
        b.iter(|| {
            for request in slices.chunks(2000) {
                black_box(index.get_many(request));
            }
        })
    });
    group.bench_function("get_or_create_200k_existing", |b| {
        b.iter(|| {
            for labels in &borrowed {
                let _ = black_box(index.get_or_create(labels));
            }
        })
    });
    group.finish();
}

fn bench_select(c: &mut Criterion) {
    const SERIES: usize = 1_000_000;
    let index = build(&workload::label_sets(SERIES));
    let mut group = c.benchmark_group("select_1m");
    group.sample_size(20);
    for (name, spec) in workload::queries() {
        let matchers: Vec<Matcher> = spec
            .iter()
            .filter_map(|(label, op, value)| Matcher::new(workload::op(op), *label, *value).ok())
            .collect();
        group.bench_function(name, |b| b.iter(|| black_box(index.select(&matchers))));
    }
    group.finish();
}

criterion_group!(benches, bench_create_and_lookup, bench_select);
criterion_main!(benches);
