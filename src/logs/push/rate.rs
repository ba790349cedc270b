//! Loki's ingestion rate limits as token buckets of bytes: one per tenant
//! (`ingestion_rate_mb` refilled per second, `ingestion_burst_size_mb` deep) and one per
//! stream (`per_stream_rate_limit`, `per_stream_rate_limit_burst`). A push over the tenant
//! limit is refused whole with 429; entries of a stream over its limit are refused and the
//! rest stored. Buckets idle for a while are forgotten so the maps stay small.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A bucket full for this long is dropped (it would be full again when recreated).
const IDLE_FORGET: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub bytes_per_second: f64,
    pub burst_bytes: f64,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

pub struct RateLimiter<K> {
    rate: Rate,
    buckets: Mutex<HashMap<K, Bucket>>,
    last_sweep: Mutex<Instant>,
}

impl<K: std::hash::Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(rate: Rate) -> RateLimiter<K> {
        RateLimiter {
            rate,
            buckets: Mutex::new(HashMap::new()),
            last_sweep: Mutex::new(Instant::now()),
        }
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Takes `bytes` from `key`'s bucket if it holds them; a request larger than the
    /// burst never passes, as in Loki.
    pub fn try_take(&self, key: &K, bytes: usize, now: Instant) -> bool {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.sweep(&mut buckets, now);
        let rate = self.rate;
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: rate.burst_bytes,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate.bytes_per_second).min(rate.burst_bytes);
        bucket.updated = now;
        let wanted = bytes as f64;
        if wanted <= bucket.tokens {
            bucket.tokens -= wanted;
            true
        } else {
            false
        }
    }

    /// Gives back what a refused request had taken from another bucket's point of view
    /// (used when a push is refused after its streams were charged).
    pub fn give_back(&self, key: &K, bytes: usize) {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(bucket) = buckets.get_mut(key) {
            bucket.tokens = (bucket.tokens + bytes as f64).min(self.rate.burst_bytes);
        }
    }

    fn sweep(&self, buckets: &mut HashMap<K, Bucket>, now: Instant) {
        let mut last_sweep = self
            .last_sweep
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if now.saturating_duration_since(*last_sweep) < IDLE_FORGET {
            return;
        }
        *last_sweep = now;
        buckets.retain(|_, bucket| now.saturating_duration_since(bucket.updated) < IDLE_FORGET);
    }
}

/// Bytes as Loki prints them in limit messages (`3.0 MB`, base 1000 as Go's humanize).
pub fn human_bytes(bytes: f64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1000.0 && unit < units.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let limiter = RateLimiter::new(Rate {
            bytes_per_second: 100.0,
            burst_bytes: 300.0,
        });
        let start = Instant::now();
        assert!(limiter.try_take(&"a", 200, start));
        assert!(limiter.try_take(&"a", 100, start));
        assert!(!limiter.try_take(&"a", 1, start));
        assert!(limiter.try_take(&"b", 300, start), "buckets are per key");
        let later = start + Duration::from_millis(500);
        assert!(limiter.try_take(&"a", 50, later));
        assert!(!limiter.try_take(&"a", 1, later));
        assert!(
            !limiter.try_take(&"c", 301, start),
            "more than the burst never passes"
        );
        limiter.give_back(&"a", 40);
        assert!(limiter.try_take(&"a", 40, later));
    }

    #[test]
    fn bytes_are_shown_as_loki_shows_them() {
        assert_eq!(human_bytes(512.0), "512 B");
        assert_eq!(human_bytes(3_145_728.0), "3.1 MB");
    }
}
