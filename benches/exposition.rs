//! Scrape-body parsing throughput: a generated node_exporter-like page of about 10 000
//! samples (CPU, disk, network, filesystem, interrupt and systemd families, a summary and
//! a histogram), parsed as Prometheus text 0.0.4 and as OpenMetrics 1.0; plus the
//! 237-family page of a real Prometheus server from the reference data. Criterion reports
//! elements/s = samples/s.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sightline::metrics::scrape::parse::{openmetrics, text, ParseOptions};

/// One sample of a family: name suffix, labels, value.
type Sample = (&'static str, Vec<(&'static str, String)>, f64);

/// A metric family to render in either format.
struct Family {
    /// Family name (without `_total` for counters).
    name: String,
    kind: &'static str,
    help: String,
    samples: Vec<Sample>,
}

/// A value as Go's client writes it: integers plainly, others shortest `%g`-like.
fn go_value(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else if value.abs() >= 1e6 {
        format!("{value:e}").replace('e', "e+")
    } else {
        format!("{value}")
    }
}

/// A deterministic pseudo-random value stream (xorshift).
struct Values(u64);

impl Values {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        match self.0 % 4 {
            0 => (self.0 % 1000) as f64,
            1 => (self.0 % 100_000_000) as f64 / 100.0,
            2 => (self.0 % 1_000_000_000_000) as f64 * 1.37,
            _ => 0.0,
        }
    }
}

fn node_exporter_families(target_samples: usize) -> Vec<Family> {
    let mut values = Values(0x2545_f491_4f6c_dd1d);
    let mut families = Vec::new();

    let modes = [
        "guest", "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
    ];
    let mut cpu = Family {
        name: "node_cpu_seconds".into(),
        kind: "counter",
        help: "Seconds the CPUs spent in each mode.".into(),
        samples: Vec::new(),
    };
    for core in 0..32 {
        for mode in modes {
            cpu.samples.push((
                "_total",
                vec![("cpu", core.to_string()), ("mode", mode.to_owned())],
                values.next(),
            ));
        }
    }
    families.push(cpu);

    let devices = [
        "dm-0", "dm-1", "nvme0n1", "nvme1n1", "sda", "sdb", "sdc", "sdd",
    ];
    for metric in [
        "node_disk_discard_time_seconds",
        "node_disk_discarded_sectors",
        "node_disk_discards_completed",
        "node_disk_discards_merged",
        "node_disk_flush_requests",
        "node_disk_flush_requests_time_seconds",
        "node_disk_io_time_seconds",
        "node_disk_io_time_weighted_seconds",
        "node_disk_read_bytes",
        "node_disk_read_time_seconds",
        "node_disk_reads_completed",
        "node_disk_reads_merged",
        "node_disk_write_time_seconds",
        "node_disk_writes_completed",
        "node_disk_writes_merged",
        "node_disk_written_bytes",
    ] {
        let mut family = Family {
            name: metric.into(),
            kind: "counter",
            help: format!(
                "The total number of {} as reported by /proc/diskstats.",
                metric
            ),
            samples: Vec::new(),
        };
        for device in devices {
            family
                .samples
                .push(("_total", vec![("device", device.to_owned())], values.next()));
        }
        families.push(family);
    }

    let interfaces = [
        "bond0",
        "docker0",
        "eno1",
        "eno2",
        "eth0",
        "eth1",
        "lo",
        "veth1a2b3c",
        "veth4d5e6f",
        "wlan0",
    ];
    for metric in [
        "receive_bytes",
        "receive_compressed",
        "receive_drop",
        "receive_errs",
        "receive_fifo",
        "receive_frame",
        "receive_multicast",
        "receive_packets",
        "transmit_bytes",
        "transmit_carrier",
        "transmit_colls",
        "transmit_compressed",
        "transmit_drop",
        "transmit_errs",
        "transmit_fifo",
        "transmit_packets",
    ] {
        let mut family = Family {
            name: format!("node_network_{metric}"),
            kind: "counter",
            help: format!("Network device statistic {metric}."),
            samples: Vec::new(),
        };
        for device in interfaces {
            family
                .samples
                .push(("_total", vec![("device", device.to_owned())], values.next()));
        }
        families.push(family);
    }

    let mounts: Vec<(String, &str, String)> = (0..24)
        .map(|i| match i % 3 {
            0 => (format!("/dev/nvme0n1p{i}"), "ext4", format!("/srv/data{i}")),
            1 => (
                "tmpfs".to_owned(),
                "tmpfs",
                format!("/run/user/{}", 1000 + i),
            ),
            _ => (
                format!("/dev/mapper/vg-lv{i}"),
                "xfs",
                format!("/var/lib/docker/volumes/{i}"),
            ),
        })
        .collect();
    for metric in [
        "avail_bytes",
        "device_error",
        "files",
        "files_free",
        "free_bytes",
        "readonly",
        "size_bytes",
    ] {
        let mut family = Family {
            name: format!("node_filesystem_{metric}"),
            kind: "gauge",
            help: format!("Filesystem {metric}."),
            samples: Vec::new(),
        };
        for (device, fstype, mountpoint) in &mounts {
            family.samples.push((
                "",
                vec![
                    ("device", device.clone()),
                    ("fstype", (*fstype).to_owned()),
                    ("mountpoint", mountpoint.clone()),
                ],
                values.next(),
            ));
        }
        families.push(family);
    }

    let mut gc = Family {
        name: "go_gc_duration_seconds".into(),
        kind: "summary",
        help: "A summary of the pause duration of garbage collection cycles.".into(),
        samples: Vec::new(),
    };
    for quantile in ["0", "0.25", "0.5", "0.75", "1"] {
        gc.samples
            .push(("", vec![("quantile", quantile.to_owned())], 2.0e-5));
    }
    gc.samples.push(("_sum", vec![], 0.25));
    gc.samples.push(("_count", vec![], 1234.0));
    families.push(gc);

    let mut scrape = Family {
        name: "node_scrape_collector_duration_seconds".into(),
        kind: "histogram",
        help: "node_exporter: Duration of a collector scrape.".into(),
        samples: Vec::new(),
    };
    for collector in ["cpu", "diskstats", "filesystem", "netdev", "systemd"] {
        let mut cumulative = 0.0;
        for le in [
            "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
        ] {
            cumulative += 3.0;
            scrape.samples.push((
                "_bucket",
                vec![("collector", collector.to_owned()), ("le", le.to_owned())],
                cumulative,
            ));
        }
        scrape
            .samples
            .push(("_sum", vec![("collector", collector.to_owned())], 1.75));
        scrape.samples.push((
            "_count",
            vec![("collector", collector.to_owned())],
            cumulative,
        ));
    }
    families.push(scrape);

    // node_systemd_unit_state is the largest family on many hosts: five states per unit.
    let states = ["activating", "active", "deactivating", "failed", "inactive"];
    let mut units = Family {
        name: "node_systemd_unit_state".into(),
        kind: "gauge",
        help: "Systemd unit".into(),
        samples: Vec::new(),
    };
    let mut interrupts = Family {
        name: "node_interrupts".into(),
        kind: "counter",
        help: "Interrupt details.".into(),
        samples: Vec::new(),
    };
    let fixed: usize = families.iter().map(|family| family.samples.len()).sum();
    let mut unit = 0;
    while fixed + units.samples.len() + interrupts.samples.len() < target_samples {
        if unit % 3 == 0 {
            for core in 0..32 {
                interrupts.samples.push((
                    "_total",
                    vec![
                        ("cpu", core.to_string()),
                        ("devices", format!("nvme0q{}", unit / 3)),
                        ("info", "IR-PCI-MSI-edge".to_owned()),
                        ("type", format!("{}", 120 + unit / 3)),
                    ],
                    values.next(),
                ));
            }
        }
        for state in states {
            let kind = if unit % 4 == 0 { "service" } else { "socket" };
            units.samples.push((
                "",
                vec![
                    ("name", format!("app-instance-{unit}.{kind}")),
                    ("state", state.to_owned()),
                    ("type", "simple".to_owned()),
                ],
                if state == "active" { 1.0 } else { 0.0 },
            ));
        }
        unit += 1;
    }
    families.push(units);
    families.push(interrupts);
    families
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn render(families: &[Family], openmetrics: bool) -> (String, usize) {
    let mut out = String::new();
    let mut samples = 0;
    for family in families {
        // The text format names counter families with their _total suffix.
        let text_name = if family.kind == "counter" && !openmetrics {
            format!("{}_total", family.name)
        } else {
            family.name.clone()
        };
        out.push_str(&format!("# HELP {text_name} {}\n", family.help));
        out.push_str(&format!("# TYPE {text_name} {}\n", family.kind));
        for (suffix, labels, value) in &family.samples {
            out.push_str(&family.name);
            out.push_str(suffix);
            if !labels.is_empty() {
                out.push('{');
                for (index, (name, value)) in labels.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    out.push_str(&format!("{name}=\"{}\"", escape(value)));
                }
                out.push('}');
            }
            out.push(' ');
            out.push_str(&go_value(*value));
            out.push('\n');
            samples += 1;
        }
    }
    if openmetrics {
        out.push_str("# EOF\n");
    }
    (out, samples)
}

fn bench_parsers(c: &mut Criterion) {
    let families = node_exporter_families(10_000);
    let (text_page, samples) = render(&families, false);
    let (openmetrics_page, _) = render(&families, true);
    assert_eq!(
        text::parse(text_page.as_bytes())
            .expect("text page")
            .samples
            .len(),
        samples
    );
    assert_eq!(
        openmetrics::parse(openmetrics_page.as_bytes(), &ParseOptions::strict())
            .expect("openmetrics page")
            .samples
            .len(),
        samples
    );

    let mut group = c.benchmark_group("exposition");
    group.throughput(Throughput::Elements(samples as u64));
    group.bench_function("text_node_exporter_10k", |b| {
        b.iter(|| text::parse(black_box(text_page.as_bytes())).map(|e| e.samples.len()))
    });
    group.bench_function("openmetrics_node_exporter_10k", |b| {
        let options = ParseOptions::default();
        b.iter(|| {
            openmetrics::parse(black_box(openmetrics_page.as_bytes()), &options)
                .map(|e| e.samples.len())
        })
    });
    group.bench_function("openmetrics_strict_node_exporter_10k", |b| {
        let options = ParseOptions::strict();
        b.iter(|| {
            openmetrics::parse(black_box(openmetrics_page.as_bytes()), &options)
                .map(|e| e.samples.len())
        })
    });
    group.finish();

    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/reference/exposition/prometheus-textparse/alltypes.237mfs.prom.txt"
    );
    if let Ok(page) = std::fs::read(path) {
        let samples = text::parse(&page).expect("reference page").samples.len();
        let mut group = c.benchmark_group("exposition");
        group.throughput(Throughput::Elements(samples as u64));
        group.bench_function("text_prometheus_237_families", |b| {
            b.iter(|| text::parse(black_box(&page)).map(|e| e.samples.len()))
        });
        group.finish();
    }
}

criterion_group!(benches, bench_parsers);
criterion_main!(benches);
