//! The workload: a deterministic population of series shaped like node_exporter hosts and
//! instrumented HTTP services, and their values round after round.
//!
//! Everything follows from the seed and the series count: which targets exist, their
//! labels, each series' shape and every value. Timestamps follow from `base_ms` (chosen once
//! per run, shared by all systems) plus a per-target scrape offset. Each series has its own
//! random stream, so values do not depend on the batch size, the concurrency or the number of
//! encoder threads ([`self_check`] verifies this at the start of every run).
//!
//! Shapes: counters that grow at a per-series rate with jitter, gauges that random-walk
//! inside bounds, constants (info metrics, sizes, start times), and classic histograms
//! (`_bucket` with `le`, `_sum`, `_count`) whose buckets stay cumulative and whose `+Inf`
//! bucket equals `_count`. Values have the resolution their exporter reports them at:
//! whole counts and bytes, CPU seconds and load averages in hundredths, disk busy time in
//! milliseconds, measured durations (scrape durations, latency sums) at full precision.

use bytes::Bytes;
use sightline::metrics::remote::{encode_write_request_v1, SeriesToEncode};

/// SplitMix64: tiny, fast, and good enough for workload shapes.
#[derive(Clone, Copy, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// An independent stream for `(seed, stream)`.
    pub fn stream(seed: u64, stream: u64) -> Rng {
        let mut mixer = Rng(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        Rng(mixer.next_u64())
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

    /// Uniform in `[low, high)`.
    pub fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// Uniform in `[-1, 1)`.
    pub fn symmetric(&mut self) -> f64 {
        self.unit() * 2.0 - 1.0
    }

    /// Uniform integer in `0..count` (`count > 0`).
    pub fn below(&mut self, count: usize) -> usize {
        debug_assert!(count > 0);
        (self.next_u64() % count as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// `length` characters of lowercase letters and digits, as in pod name suffixes.
    pub fn token(&mut self, length: usize) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..length)
            .map(|_| ALPHABET[self.below(ALPHABET.len())] as char)
            .collect()
    }
}

#[derive(Clone, Copy, Debug)]
enum Shape {
    /// Grows by `per_second * interval`, ±`jitter` (relative), at `resolution`.
    Counter {
        per_second: f64,
        jitter: f64,
        resolution: Resolution,
    },
    /// Random walk with step `sigma`, reflected into `[min, max]`, at `resolution`.
    Gauge {
        sigma: f64,
        min: f64,
        max: f64,
        resolution: Resolution,
    },
    Constant,
    /// Cumulative bucket `index` of histogram `group` (the last index is `+Inf`).
    Bucket {
        group: u32,
        index: u16,
    },
    HistogramSum {
        group: u32,
    },
    HistogramCount {
        group: u32,
    },
}

/// The resolution at which an exporter reports a value: node_exporter reads CPU times in
/// 1/100 s ticks and load averages with two decimals, disk busy time in milliseconds;
/// counts and bytes are whole. Values are formed as exporters form them, `units / per_unit`.
#[derive(Clone, Copy, Debug)]
struct Resolution {
    /// Units per 1.0 of the value; 0 for full precision (measured durations).
    per_unit: f64,
}

impl Resolution {
    fn apply(self, value: f64) -> f64 {
        if self.per_unit == 0.0 {
            value
        } else {
            (value * self.per_unit).round() / self.per_unit
        }
    }
}

const EXACT: Resolution = Resolution { per_unit: 0.0 };
const WHOLE: Resolution = Resolution { per_unit: 1.0 };
const HUNDREDTHS: Resolution = Resolution { per_unit: 100.0 };
const THOUSANDTHS: Resolution = Resolution { per_unit: 1000.0 };

struct Series {
    labels: Vec<(String, String)>,
    shape: Shape,
    target: u32,
}

/// The shared state of one classic histogram: observations follow a log-normal law.
struct Histogram {
    /// Finite upper bounds, ascending; `+Inf` is implied.
    bounds: &'static [f64],
    per_second: f64,
    median: f64,
    spread: f64,
    rng: Rng,
    /// Cumulative counts, one per finite bound and one for `+Inf`.
    cumulative: Vec<f64>,
    sum: f64,
    /// Byte sizes sum to whole numbers, durations do not.
    sum_resolution: Resolution,
}

impl Histogram {
    fn observe_round(&mut self, interval_s: f64, first: bool) {
        let expected = if first {
            // The process has been up for a while: start from a plausible history.
            self.per_second * self.rng.range(3_600.0, 7.0 * 86_400.0)
        } else {
            self.per_second * interval_s * (1.0 + 0.4 * self.rng.symmetric())
        };
        let observations = expected.max(0.0).round();
        let log_median = self.median.ln();
        for (slot, bound) in self.bounds.iter().enumerate() {
            let z = (bound.ln() - log_median) / self.spread;
            self.cumulative[slot] += (observations * normal_cdf(z)).round();
        }
        let last = self.bounds.len();
        self.cumulative[last] += observations;
        let mean = self.median * (self.spread * self.spread / 2.0).exp();
        self.sum = self
            .sum_resolution
            .apply(self.sum + observations * mean * (1.0 + 0.1 * self.rng.symmetric()));
    }
}

/// Standard normal cumulative distribution, from erf (Abramowitz and Stegun 7.1.26).
fn normal_cdf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    0.5 * (1.0 + sign * erf)
}

/// One scrape target: its identity and its scrape offset inside the interval.
pub struct Target {
    pub job: String,
    pub instance: String,
    offset_ms: i64,
}

/// Workload parameters that shape the series and their timestamps.
#[derive(Clone, Debug)]
pub struct WorkloadShape {
    pub seed: u64,
    pub series: usize,
    pub interval_ms: i64,
    /// Timestamp of round 0 before the per-target offset; a multiple of `interval_ms`.
    pub base_ms: i64,
}

/// One encoded remote-write request.
pub struct Request {
    pub body: Bytes,
    pub samples: usize,
}

/// One round (one sample for every series), split into `shards` request lists: shard `k`
/// holds a contiguous range of series, so each sender keeps every series in time order.
pub struct EncodedRound {
    pub round: usize,
    pub shards: Vec<Vec<Request>>,
    pub bytes: usize,
}

const LATENCY_BOUNDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const SIZE_BOUNDS: &[f64] = &[
    100.0,
    1_000.0,
    10_000.0,
    100_000.0,
    1_000_000.0,
    10_000_000.0,
];
const DB_BOUNDS: &[f64] = &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0];

pub struct Generator {
    shape: WorkloadShape,
    series: Vec<Series>,
    rngs: Vec<Rng>,
    values: Vec<f64>,
    histograms: Vec<Histogram>,
    targets: Vec<Target>,
    /// The next round `advance` produces.
    next_round: usize,
}

impl Generator {
    pub fn new(shape: WorkloadShape) -> Generator {
        let mut builder = Builder {
            seed: shape.seed,
            base_s: shape.base_ms as f64 / 1000.0,
            series: Vec::with_capacity(shape.series),
            initial: Vec::with_capacity(shape.series),
            histograms: Vec::new(),
            targets: Vec::new(),
            labels: Vec::new(),
            rng: Rng::new(0),
        };
        let mut picker = Rng::stream(shape.seed, u64::MAX);
        while builder.series.len() < shape.series {
            let index = builder.targets.len() as u64;
            builder.rng = Rng::stream(shape.seed, index | (1 << 62));
            let offset_ms = (builder.rng.unit() * shape.interval_ms as f64) as i64;
            let remaining = shape.series - builder.series.len();
            // App targets hold whole histograms; a target that might not fit entirely is
            // a node target, which can be cut anywhere (its `up` comes first).
            let app = picker.unit() < 0.65 && remaining >= APP_TARGET_MAX_SERIES;
            let start = builder.series.len();
            if app {
                builder.app_target(index);
            } else {
                builder.node_target(index);
            }
            builder.targets.last_mut().expect("target pushed").offset_ms = offset_ms;
            if builder.series.len() > shape.series {
                debug_assert!(!app, "app targets are only started when they fit");
                builder.series.truncate(shape.series);
                builder.initial.truncate(shape.series);
            }
            debug_assert!(builder.series.len() > start);
            // `scrape_samples_scraped` (third series of every target) counts the target.
            if builder.series.len() > start + 2 {
                builder.initial[start + 2] = (builder.series.len() - start) as f64;
            }
        }
        let rngs = (0..builder.series.len() as u64)
            .map(|index| Rng::stream(shape.seed, index))
            .collect();
        Generator {
            shape,
            rngs,
            values: builder.initial,
            series: builder.series,
            histograms: builder.histograms,
            targets: builder.targets,
            next_round: 0,
        }
    }

    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// The first label set that occurs twice, if any (two series with one label set would
    /// be one series getting two values per timestamp).
    pub fn duplicate_label_set(&self) -> Option<String> {
        let mut seen = std::collections::HashSet::with_capacity(self.series.len());
        self.series
            .iter()
            .find(|series| !seen.insert(&series.labels))
            .map(|series| format!("{:?}", series.labels))
    }

    /// Distinct metric names in the workload.
    pub fn metric_names(&self) -> usize {
        let mut names: Vec<&str> = self
            .series
            .iter()
            .filter_map(|series| {
                series
                    .labels
                    .iter()
                    .find(|(name, _)| name == "__name__")
                    .map(|(_, value)| value.as_str())
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        names.len()
    }

    /// Computes the values of the next round (round 0 keeps the initial values).
    fn advance(&mut self) -> usize {
        let round = self.next_round;
        let interval_s = self.shape.interval_ms as f64 / 1000.0;
        for histogram in &mut self.histograms {
            histogram.observe_round(interval_s, round == 0);
        }
        for (index, series) in self.series.iter().enumerate() {
            let rng = &mut self.rngs[index];
            let value = &mut self.values[index];
            match series.shape {
                Shape::Counter {
                    per_second,
                    jitter,
                    resolution,
                } => {
                    if round > 0 {
                        let step = per_second * interval_s * (1.0 + jitter * rng.symmetric());
                        // Rounding the total keeps it a multiple of the resolution and,
                        // rounding being monotonic, never lets it go down.
                        *value = resolution.apply(*value + step.max(0.0));
                    }
                }
                Shape::Gauge {
                    sigma,
                    min,
                    max,
                    resolution,
                } => {
                    if round > 0 {
                        let mut next = *value + sigma * rng.normal();
                        if next > max {
                            next = max - (next - max);
                        }
                        if next < min {
                            next = min + (min - next);
                        }
                        next = next.clamp(min, max);
                        *value = resolution.apply(next);
                    }
                }
                Shape::Constant => {}
                Shape::Bucket { group, index } => {
                    *value = self.histograms[group as usize].cumulative[index as usize];
                }
                Shape::HistogramSum { group } => {
                    *value = self.histograms[group as usize].sum;
                }
                Shape::HistogramCount { group } => {
                    let histogram = &self.histograms[group as usize];
                    *value = histogram.cumulative[histogram.bounds.len()];
                }
            }
        }
        self.next_round += 1;
        round
    }

    /// The timestamp of `round` for series `index`.
    fn timestamp(&self, round: usize, index: usize) -> i64 {
        let target = &self.targets[self.series[index].target as usize];
        self.shape.base_ms + target.offset_ms + round as i64 * self.shape.interval_ms
    }

    /// Advances one round and encodes it as remote write 1.0 requests of at most
    /// `batch` samples, split into `shards` contiguous shards, using up to `threads`
    /// threads.
    pub fn encode_next_round(
        &mut self,
        shards: usize,
        batch: usize,
        threads: usize,
    ) -> EncodedRound {
        let round = self.advance();
        let total = self.series.len();
        let shards = shards.max(1);
        let batch = batch.max(1);
        // Work items: (shard, start, end).
        let mut jobs = Vec::new();
        for shard in 0..shards {
            let shard_start = total * shard / shards;
            let shard_end = total * (shard + 1) / shards;
            let mut start = shard_start;
            while start < shard_end {
                let end = (start + batch).min(shard_end);
                jobs.push((shard, start, end));
                start = end;
            }
        }
        let threads = threads.clamp(1, jobs.len().max(1));
        let this = &*self;
        let mut encoded: Vec<(usize, usize, Request)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|worker| {
                    let jobs = &jobs;
                    scope.spawn(move || {
                        let mut out = Vec::new();
                        for &(shard, start, end) in jobs.iter().skip(worker).step_by(threads) {
                            out.push((shard, start, this.encode_range(round, start, end)));
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|handle| handle.join().expect("encoder thread"))
                .collect()
        });
        encoded.sort_by_key(|(shard, start, _)| (*shard, *start));
        let mut out: Vec<Vec<Request>> = (0..shards).map(|_| Vec::new()).collect();
        let mut bytes = 0;
        for (shard, _, request) in encoded {
            bytes += request.body.len();
            out[shard].push(request);
        }
        EncodedRound {
            round,
            shards: out,
            bytes,
        }
    }

    fn encode_range(&self, round: usize, start: usize, end: usize) -> Request {
        let batch: Vec<SeriesToEncode> = (start..end)
            .map(|index| {
                (
                    self.series[index].labels.clone(),
                    vec![(self.timestamp(round, index), self.values[index])],
                )
            })
            .collect();
        Request {
            body: Bytes::from(encode_write_request_v1(&batch)),
            samples: end - start,
        }
    }
}

/// The most series an app target can have (its size is fixed; checked in a test below).
const APP_TARGET_MAX_SERIES: usize = 200;

const CPU_MODES: &[(&str, f64, f64)] = &[
    ("idle", 0.55, 0.95),
    ("iowait", 0.0, 0.04),
    ("irq", 0.0, 0.004),
    ("nice", 0.0, 0.01),
    ("softirq", 0.0, 0.01),
    ("steal", 0.0, 0.02),
    ("system", 0.01, 0.08),
    ("user", 0.02, 0.3),
];

const APP_JOBS: &[(&str, &[(&str, &str)])] = &[
    (
        "api",
        &[
            ("GET", "/api/v1/users"),
            ("GET", "/api/v1/orders"),
            ("POST", "/api/v1/orders"),
            ("GET", "/api/v1/products"),
            ("GET", "/healthz"),
        ],
    ),
    (
        "checkout",
        &[
            ("POST", "/checkout"),
            ("GET", "/cart"),
            ("POST", "/cart/items"),
            ("GET", "/payment/methods"),
            ("GET", "/healthz"),
        ],
    ),
    (
        "search",
        &[
            ("GET", "/search"),
            ("GET", "/suggest"),
            ("GET", "/facets"),
            ("POST", "/index"),
            ("GET", "/healthz"),
        ],
    ),
    (
        "auth",
        &[
            ("POST", "/login"),
            ("POST", "/logout"),
            ("POST", "/token"),
            ("GET", "/userinfo"),
            ("GET", "/healthz"),
        ],
    ),
];

struct Builder {
    seed: u64,
    base_s: f64,
    series: Vec<Series>,
    initial: Vec<f64>,
    histograms: Vec<Histogram>,
    targets: Vec<Target>,
    /// Common labels of the current target (without `__name__`).
    labels: Vec<(String, String)>,
    /// The current target's stream, for its shapes and initial values.
    rng: Rng,
}

impl Builder {
    fn start_target(&mut self, job: &str, instance: String, extra: &[(&str, String)]) {
        self.labels = vec![
            ("instance".to_string(), instance.clone()),
            ("job".to_string(), job.to_string()),
        ];
        for (name, value) in extra {
            self.labels.push((name.to_string(), value.clone()));
        }
        self.targets.push(Target {
            job: job.to_string(),
            instance,
            offset_ms: 0,
        });
    }

    fn push(&mut self, name: &str, extra: &[(&str, &str)], shape: Shape, initial: f64) {
        let mut labels = Vec::with_capacity(self.labels.len() + extra.len() + 1);
        labels.push(("__name__".to_string(), name.to_string()));
        labels.extend(self.labels.iter().cloned());
        labels.extend(
            extra
                .iter()
                .map(|(label, value)| (label.to_string(), value.to_string())),
        );
        labels.sort_by(|left, right| left.0.cmp(&right.0));
        self.series.push(Series {
            labels,
            shape,
            target: (self.targets.len() - 1) as u32,
        });
        self.initial.push(initial);
    }

    fn constant(&mut self, name: &str, extra: &[(&str, &str)], value: f64) {
        self.push(name, extra, Shape::Constant, value);
    }

    /// A counter at `per_second` (relative jitter 30%), started as if up for hours to weeks.
    fn counter(
        &mut self,
        name: &str,
        extra: &[(&str, &str)],
        per_second: f64,
        resolution: Resolution,
    ) {
        let uptime = self.rng.range(3_600.0, 30.0 * 86_400.0);
        let start = resolution.apply(per_second * uptime);
        self.push(
            name,
            extra,
            Shape::Counter {
                per_second,
                jitter: 0.3,
                resolution,
            },
            start,
        );
    }

    /// A counter whose rate is drawn from `[low, high)`.
    fn counter_between(
        &mut self,
        name: &str,
        extra: &[(&str, &str)],
        (low, high): (f64, f64),
        resolution: Resolution,
    ) {
        let per_second = self.rng.range(low, high);
        self.counter(name, extra, per_second, resolution);
    }

    fn gauge(
        &mut self,
        name: &str,
        extra: &[(&str, &str)],
        range: (f64, f64),
        sigma: f64,
        resolution: Resolution,
    ) {
        let (min, max) = range;
        let start = resolution.apply(self.rng.range(min, max));
        self.push(
            name,
            extra,
            Shape::Gauge {
                sigma,
                min,
                max,
                resolution,
            },
            start,
        );
    }

    /// A classic histogram: `_bucket` for every bound and `+Inf`, then `_sum` and `_count`.
    fn histogram(
        &mut self,
        name: &str,
        extra: &[(&str, &str)],
        bounds: &'static [f64],
        per_second: f64,
        (median, spread): (f64, f64),
        sum_resolution: Resolution,
    ) {
        let group = self.histograms.len() as u32;
        self.histograms.push(Histogram {
            bounds,
            per_second,
            median,
            spread,
            rng: Rng::stream(self.seed, (1 << 61) | group as u64),
            cumulative: vec![0.0; bounds.len() + 1],
            sum: 0.0,
            sum_resolution,
        });
        let bucket_name = format!("{name}_bucket");
        for index in 0..=bounds.len() {
            let le = match bounds.get(index) {
                Some(bound) => format_le(*bound),
                None => "+Inf".to_string(),
            };
            let mut labels: Vec<(&str, &str)> = extra.to_vec();
            labels.push(("le", &le));
            self.push(
                &bucket_name,
                &labels,
                Shape::Bucket {
                    group,
                    index: index as u16,
                },
                0.0,
            );
        }
        self.push(
            &format!("{name}_sum"),
            extra,
            Shape::HistogramSum { group },
            0.0,
        );
        self.push(
            &format!("{name}_count"),
            extra,
            Shape::HistogramCount { group },
            0.0,
        );
    }

    /// `up`, `scrape_duration_seconds` and `scrape_samples_scraped` (set once the target
    /// is complete), in this order.
    fn scrape_meta(&mut self) {
        self.constant("up", &[], 1.0);
        self.gauge("scrape_duration_seconds", &[], (0.003, 0.25), 0.01, EXACT);
        self.constant("scrape_samples_scraped", &[], 0.0);
    }

    fn node_target(&mut self, index: u64) {
        let instance = format!(
            "10.{}.{}.{}:9100",
            16 + index / 62_500 % 200,
            index / 250 % 250,
            index % 250 + 2
        );
        self.start_target("node", instance, &[]);
        let cpus = *self.rng.pick(&[2usize, 4, 4, 8, 8, 16]);
        let memory = *self.rng.pick(&[8.0, 16.0, 32.0, 64.0]) * 1024.0 * 1024.0 * 1024.0;
        // `up` first: a node target cut short still reports it.
        self.scrape_meta();
        let release = *self
            .rng
            .pick(&["6.1.0-18-amd64", "6.1.0-21-amd64", "5.10.0-28-amd64"]);
        let nodename = format!("node-{index:06}");
        self.constant(
            "node_uname_info",
            &[
                ("machine", "x86_64"),
                ("nodename", &nodename),
                ("release", release),
                ("sysname", "Linux"),
            ],
            1.0,
        );
        let boot = (self.base_s - self.rng.range(3_600.0, 90.0 * 86_400.0)).round();
        self.constant("node_boot_time_seconds", &[], boot);
        let load_max = cpus as f64 * 1.5;
        self.gauge("node_load1", &[], (0.0, load_max), 0.15, HUNDREDTHS);
        self.gauge("node_load5", &[], (0.0, load_max), 0.05, HUNDREDTHS);
        self.gauge("node_load15", &[], (0.0, load_max), 0.02, HUNDREDTHS);
        self.constant("node_memory_MemTotal_bytes", &[], memory);
        let page = 4096.0 * 256.0;
        self.gauge(
            "node_memory_MemAvailable_bytes",
            &[],
            (0.1 * memory, 0.9 * memory),
            200.0 * page,
            WHOLE,
        );
        self.gauge(
            "node_memory_MemFree_bytes",
            &[],
            (0.02 * memory, 0.5 * memory),
            200.0 * page,
            WHOLE,
        );
        self.gauge(
            "node_memory_Cached_bytes",
            &[],
            (0.05 * memory, 0.6 * memory),
            100.0 * page,
            WHOLE,
        );
        self.gauge(
            "node_memory_Buffers_bytes",
            &[],
            (0.001 * memory, 0.05 * memory),
            10.0 * page,
            WHOLE,
        );
        for cpu in 0..cpus {
            let cpu = cpu.to_string();
            for &(mode, low, high) in CPU_MODES {
                let share = self.rng.range(low, high);
                self.counter(
                    "node_cpu_seconds_total",
                    &[("cpu", &cpu), ("mode", mode)],
                    share,
                    HUNDREDTHS,
                );
            }
        }
        for (device, fstype, mountpoint, size_gb) in [
            ("/dev/nvme0n1p1", "ext4", "/", 100.0),
            ("/dev/nvme1n1p1", "xfs", "/var/lib/data", 1000.0),
            ("tmpfs", "tmpfs", "/run", 1.0),
        ] {
            let size = size_gb * 1024.0 * 1024.0 * 1024.0;
            let labels = [
                ("device", device),
                ("fstype", fstype),
                ("mountpoint", mountpoint),
            ];
            self.constant("node_filesystem_size_bytes", &labels, size);
            self.gauge(
                "node_filesystem_avail_bytes",
                &labels,
                (0.05 * size, 0.95 * size),
                0.001 * size,
                WHOLE,
            );
            self.gauge(
                "node_filesystem_free_bytes",
                &labels,
                (0.1 * size, 0.99 * size),
                0.001 * size,
                WHOLE,
            );
        }
        for device in ["nvme0n1", "nvme1n1"] {
            let labels = [("device", device)];
            let busy = self.rng.range(0.001, 0.4);
            self.counter_between("node_disk_read_bytes_total", &labels, (1e4, 5e6), WHOLE);
            self.counter_between("node_disk_written_bytes_total", &labels, (1e4, 8e6), WHOLE);
            self.counter_between(
                "node_disk_reads_completed_total",
                &labels,
                (1.0, 300.0),
                WHOLE,
            );
            self.counter_between(
                "node_disk_writes_completed_total",
                &labels,
                (1.0, 500.0),
                WHOLE,
            );
            self.counter(
                "node_disk_io_time_seconds_total",
                &labels,
                busy,
                THOUSANDTHS,
            );
        }
        for device in ["eth0", "lo"] {
            let labels = [("device", device)];
            self.counter_between(
                "node_network_receive_bytes_total",
                &labels,
                (1e3, 1e7),
                WHOLE,
            );
            self.counter_between(
                "node_network_transmit_bytes_total",
                &labels,
                (1e3, 1e7),
                WHOLE,
            );
            self.counter_between(
                "node_network_receive_packets_total",
                &labels,
                (10.0, 1e4),
                WHOLE,
            );
            self.counter_between(
                "node_network_transmit_packets_total",
                &labels,
                (10.0, 1e4),
                WHOLE,
            );
        }
        self.counter_between("node_context_switches_total", &[], (1e3, 5e4), WHOLE);
        self.counter_between("node_intr_total", &[], (500.0, 2e4), WHOLE);
        self.counter_between("node_forks_total", &[], (0.1, 20.0), WHOLE);
        self.gauge("node_procs_running", &[], (0.0, cpus as f64), 1.0, WHOLE);
        self.gauge("node_procs_blocked", &[], (0.0, 4.0), 0.5, WHOLE);
        self.gauge(
            "node_filefd_allocated",
            &[],
            (1_000.0, 20_000.0),
            50.0,
            WHOLE,
        );
        self.gauge("node_sockstat_TCP_inuse", &[], (10.0, 2_000.0), 10.0, WHOLE);
    }

    fn app_target(&mut self, index: u64) {
        let (job, routes) = *self.rng.pick(APP_JOBS);
        let instance = format!(
            "10.{}.{}.{}:8080",
            64 + index / 62_500 % 150,
            index / 250 % 250,
            index % 250 + 2
        );
        let pod = format!("{job}-{}-{}", self.rng.token(10), self.rng.token(5));
        self.start_target(job, instance, &[("pod", pod)]);
        self.scrape_meta();
        let version = *self.rng.pick(&["1.14.2", "1.15.0", "1.15.1"]);
        let revision = format!("{:07x}", self.rng.next_u64() & 0xfff_ffff);
        self.constant(
            "app_build_info",
            &[("revision", &revision), ("version", version)],
            1.0,
        );
        let traffic = self.rng.range(1.0, 150.0);
        for &(method, path) in routes {
            let weight = if path == "/healthz" {
                0.2
            } else {
                self.rng.range(0.2, 1.0)
            };
            let per_second = traffic * weight;
            let codes: &[(&str, f64)] = if method == "GET" {
                &[("200", 0.95), ("304", 0.03), ("404", 0.015), ("500", 0.005)]
            } else {
                &[("201", 0.96), ("400", 0.03), ("500", 0.01)]
            };
            for &(code, share) in codes {
                self.counter(
                    "http_requests_total",
                    &[("code", code), ("method", method), ("path", path)],
                    per_second * share,
                    WHOLE,
                );
            }
        }
        for &(method, path) in routes {
            let median = if path == "/healthz" {
                0.002
            } else {
                self.rng.range(0.01, 0.2)
            };
            let per_second = traffic * self.rng.range(0.2, 1.0);
            self.histogram(
                "http_request_duration_seconds",
                &[("method", method), ("path", path)],
                LATENCY_BOUNDS,
                per_second,
                (median, 0.8),
                EXACT,
            );
        }
        for &(method, path) in routes {
            let median = self.rng.range(500.0, 50_000.0);
            let per_second = traffic * self.rng.range(0.2, 1.0);
            self.histogram(
                "http_response_size_bytes",
                &[("method", method), ("path", path)],
                SIZE_BOUNDS,
                per_second,
                (median, 1.2),
                WHOLE,
            );
        }
        for query in ["select_user", "insert_order", "update_stock"] {
            let median = self.rng.range(0.002, 0.03);
            let per_second = traffic * self.rng.range(0.1, 0.8);
            self.histogram(
                "db_query_duration_seconds",
                &[("query", query)],
                DB_BOUNDS,
                per_second,
                (median, 1.0),
                EXACT,
            );
        }
        self.gauge("http_requests_in_flight", &[], (0.0, 64.0), 2.0, WHOLE);
        self.counter_between("process_cpu_seconds_total", &[], (0.01, 1.5), HUNDREDTHS);
        let resident = self.rng.range(5e7, 2e9);
        self.gauge(
            "process_resident_memory_bytes",
            &[],
            (0.5 * resident, 1.5 * resident),
            0.01 * resident,
            WHOLE,
        );
        self.gauge(
            "process_virtual_memory_bytes",
            &[],
            (2.0 * resident, 4.0 * resident),
            0.01 * resident,
            WHOLE,
        );
        self.gauge("process_open_fds", &[], (20.0, 2_000.0), 5.0, WHOLE);
        self.constant("process_max_fds", &[], 1_048_576.0);
        let started = (self.base_s - self.rng.range(600.0, 14.0 * 86_400.0)).round();
        self.constant("process_start_time_seconds", &[], started);
        self.gauge("go_goroutines", &[], (20.0, 5_000.0), 20.0, WHOLE);
        self.gauge("go_threads", &[], (8.0, 64.0), 1.0, WHOLE);
        self.gauge("go_memstats_heap_alloc_bytes", &[], (1e7, 1e9), 5e6, WHOLE);
        self.counter_between("go_memstats_alloc_bytes_total", &[], (1e5, 5e7), WHOLE);
        self.gauge("go_memstats_gc_sys_bytes", &[], (1e6, 5e7), 1e5, WHOLE);
        for cache in ["session", "template"] {
            let lookups = traffic * self.rng.range(0.5, 3.0);
            let hit_ratio = self.rng.range(0.6, 0.99);
            self.counter(
                "cache_hits_total",
                &[("cache", cache)],
                lookups * hit_ratio,
                WHOLE,
            );
            self.counter(
                "cache_misses_total",
                &[("cache", cache)],
                lookups * (1.0 - hit_ratio),
                WHOLE,
            );
        }
        self.gauge(
            "queue_depth",
            &[("queue", "events")],
            (0.0, 10_000.0),
            50.0,
            WHOLE,
        );
    }
}

/// `le` values as Prometheus client libraries print them.
fn format_le(bound: f64) -> String {
    if bound.fract() == 0.0 && bound.abs() < 1e15 {
        format!("{bound:.1}")
    } else {
        format!("{bound}")
    }
}

/// Checks the generator's promises on a small workload: the exact series count, values and
/// request bodies independent of sharding and threads, app targets within
/// `APP_TARGET_MAX_SERIES`, and histograms whose buckets are cumulative with `+Inf` equal
/// to `_count`.
pub fn self_check() -> Result<(), String> {
    let shape = WorkloadShape {
        seed: 7,
        series: 5_003,
        interval_ms: 15_000,
        base_ms: 1_700_000_010_000,
    };
    let mut one = Generator::new(shape.clone());
    let mut two = Generator::new(shape.clone());
    let mut three = Generator::new(shape.clone());
    if one.series_count() != shape.series {
        return Err(format!(
            "asked for {} series, got {}",
            shape.series,
            one.series_count()
        ));
    }
    for round in 0..4 {
        let encoded_one = one.encode_next_round(3, 500, 2);
        two.encode_next_round(2, 701, 1);
        let encoded_three = three.encode_next_round(3, 500, 1);
        let same_values = one
            .values
            .iter()
            .zip(&two.values)
            .all(|(left, right)| left.to_bits() == right.to_bits());
        if !same_values {
            return Err(format!("round {round}: values depend on sharding"));
        }
        let same_bodies = encoded_one
            .shards
            .iter()
            .flatten()
            .zip(encoded_three.shards.iter().flatten())
            .all(|(left, right)| left.body == right.body);
        if !same_bodies {
            return Err(format!(
                "round {round}: request bodies depend on encoder threads"
            ));
        }
        for (group, histogram) in one.histograms.iter().enumerate() {
            let cumulative = histogram
                .cumulative
                .windows(2)
                .all(|pair| pair[0] <= pair[1]);
            if !cumulative {
                return Err(format!(
                    "round {round}: histogram {group} is not cumulative"
                ));
            }
        }
    }
    if let Some(labels) = one.duplicate_label_set() {
        return Err(format!("label set {labels} occurs twice"));
    }
    let mut per_target = vec![0usize; one.targets.len()];
    for series in &one.series {
        per_target[series.target as usize] += 1;
    }
    for (target, count) in one.targets.iter().zip(&per_target) {
        if target.job != "node" && *count > APP_TARGET_MAX_SERIES {
            return Err(format!(
                "app target {} has {count} series, over APP_TARGET_MAX_SERIES",
                target.instance
            ));
        }
    }
    for (index, series) in one.series.iter().enumerate() {
        if let Shape::HistogramCount { group } = series.shape {
            let histogram = &one.histograms[group as usize];
            let infinite_bucket = histogram.cumulative[histogram.bounds.len()];
            if one.values[index] != infinite_bucket {
                return Err(format!(
                    "histogram {group}: _count differs from the +Inf bucket"
                ));
            }
        }
    }
    Ok(())
}

impl Generator {
    /// Series `index`'s labels, `__name__` included.
    pub fn labels(&self, index: usize) -> &[(String, String)] {
        &self.series[index].labels
    }

    /// Advances one round and returns every series' metric name, timestamp and value
    /// (for `--chunk-sizes`, which encodes chunks without a server).
    pub fn next_round_samples(&mut self) -> Vec<(&str, i64, f64)> {
        let round = self.advance();
        (0..self.series.len())
            .map(|index| {
                let series = &self.series[index];
                let name = series
                    .labels
                    .iter()
                    .find(|(label, _)| label == "__name__")
                    .map_or("", |(_, value)| value.as_str());
                (name, self.timestamp(round, index), self.values[index])
            })
            .collect()
    }
}
