//! A fixed-bucket histogram updated with atomics (no lock on the observe path).

use std::sync::atomic::{AtomicU64, Ordering};

use super::exposition::TextWriter;

pub struct Histogram {
    upper_bounds: &'static [f64],
    /// Non-cumulative counts per bucket, plus one for +Inf.
    bucket_counts: Box<[AtomicU64]>,
    /// The sum in nanounits, so it fits an atomic integer.
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

/// Request latencies: 1 ms to 60 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

impl Histogram {
    pub fn new(upper_bounds: &'static [f64]) -> Self {
        debug_assert!(upper_bounds.windows(2).all(|pair| pair[0] < pair[1]));
        Histogram {
            upper_bounds,
            bucket_counts: (0..=upper_bounds.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            sum_nanos: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: f64) {
        let bucket = self
            .upper_bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(self.upper_bounds.len());
        self.bucket_counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos
            .fetch_add((value.max(0.0) * 1e9) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Writes `_bucket`, `_sum` and `_count` lines under `name` with `labels`.
    pub fn write(&self, out: &mut TextWriter, name: &str, labels: &[(&str, &str)]) {
        let bucket_name = format!("{name}_bucket");
        let mut cumulative = 0u64;
        for (index, counter) in self.bucket_counts.iter().enumerate() {
            cumulative += counter.load(Ordering::Relaxed);
            let le = match self.upper_bounds.get(index) {
                Some(bound) => bound.to_string(),
                None => "+Inf".to_string(),
            };
            let mut with_le: Vec<(&str, &str)> = labels.to_vec();
            with_le.push(("le", &le));
            out.sample(&bucket_name, &with_le, cumulative as f64);
        }
        out.sample(
            &format!("{name}_sum"),
            labels,
            self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        );
        out.sample(&format!("{name}_count"), labels, cumulative as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::MetricKind;

    #[test]
    fn buckets_are_cumulative() {
        static BOUNDS: &[f64] = &[0.1, 1.0];
        let histogram = Histogram::new(BOUNDS);
        for value in [0.05, 0.5, 0.7, 3.0] {
            histogram.observe(value);
        }
        let mut out = TextWriter::new();
        out.family("h", MetricKind::Histogram, "h");
        histogram.write(&mut out, "h", &[("x", "y")]);
        let text = out.finish();
        assert!(text.contains("h_bucket{x=\"y\",le=\"0.1\"} 1\n"), "{text}");
        assert!(text.contains("h_bucket{x=\"y\",le=\"1\"} 3\n"), "{text}");
        assert!(text.contains("h_bucket{x=\"y\",le=\"+Inf\"} 4\n"), "{text}");
        assert!(text.contains("h_sum{x=\"y\"} 4.25\n"), "{text}");
        assert!(text.contains("h_count{x=\"y\"} 4\n"), "{text}");
    }
}
