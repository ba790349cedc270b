//! The OpenMetrics data-model rules checked on top of the syntax (see
//! [`ParseOptions::openmetrics_semantics`](super::ParseOptions)):
//! - values: counter totals, bucket values, counts and histogram / summary sums neither NaN
//!   nor negative; gaugehistogram sums not NaN; summary quantile values not negative; info
//!   values 1; stateset values 0 or 1;
//! - labels: buckets carry `le` (a `realnumber` or `+Inf`), other histogram samples do
//!   not; summary quantiles carry `quantile` (a `realnumber` from 0 to 1); stateset samples
//!   carry a label named after the family;
//! - metrics (a family's samples with the same labels, bounds and states aside) are not
//!   interleaved; their samples all have a timestamp or none, and timestamps do not
//!   decrease (a larger one starts a new metric point);
//! - histogram and gaugehistogram points: buckets in increasing `le` order with
//!   non-decreasing values, a `+Inf` bucket, a count exactly when there is a sum, equal to
//!   the `+Inf` bucket; no histogram sum with a negative bucket bound, no negative
//!   gaugehistogram sum without one.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use super::error::{shown, ErrorKind};
use super::model::{Label, MetricType};

/// What a sample is within its family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Gauge or unknown value.
    Value,
    /// Counter `_total`.
    Total,
    /// `_created` of a counter, histogram or summary.
    Created,
    /// Histogram or gaugehistogram `_bucket`.
    Bucket,
    /// `_count`, or gaugehistogram `_gcount`.
    Count,
    /// `_sum`, or gaugehistogram `_gsum`.
    Sum,
    /// Summary sample without suffix.
    Quantile,
    /// Info `_info`.
    Info,
    /// Stateset sample.
    State,
}

/// The `le` or `quantile` value of a bucket or quantile sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Bound {
    /// The sample does not need one.
    NotApplicable,
    Missing,
    Invalid,
    Valid(f64),
}

/// One sample as the checker sees it.
pub(crate) struct Observed<'s, 'a> {
    pub family: &'s str,
    pub name: &'s str,
    pub role: Role,
    pub labels: &'s [Label<'a>],
    pub value: f64,
    pub bound: Bound,
    pub timestamp_seconds: Option<f64>,
    pub series_text: &'a str,
    pub line: usize,
}

/// An error and the 1-based line it is about.
pub(crate) type LineError = (usize, ErrorKind);

/// Checking state of the current family.
pub(crate) struct Checker<'a> {
    kind: MetricType,
    metrics_seen: HashSet<u64, BuildHasherDefault<KeyHasher>>,
    /// Key of the current metric.
    metric: Option<u64>,
    /// Timestamp of the current metric's last sample; `None` before its first.
    last_timestamp: Option<Option<f64>>,
    point: HistogramPoint<'a>,
}

impl Default for Checker<'_> {
    fn default() -> Self {
        Checker {
            kind: MetricType::Unknown,
            metrics_seen: HashSet::default(),
            metric: None,
            last_timestamp: None,
            point: HistogramPoint::default(),
        }
    }
}

/// The samples of one histogram or gaugehistogram point so far.
#[derive(Default)]
struct HistogramPoint<'a> {
    active: bool,
    /// Series text and line of the point's first and last sample, for messages.
    series_text: &'a str,
    last_line: usize,
    last_le: Option<f64>,
    last_bucket_value: f64,
    inf_bucket_value: Option<f64>,
    negative_bucket: bool,
    count: Option<f64>,
    sum: Option<f64>,
}

impl<'a> Checker<'a> {
    /// Starts checking a family of `kind` (again, when its TYPE line comes).
    pub fn start_family(&mut self, kind: MetricType) {
        self.kind = kind;
        self.metrics_seen.clear();
        self.metric = None;
        self.last_timestamp = None;
        self.point = HistogramPoint::default();
    }

    /// Checks what can only be checked once the family's samples are all known.
    pub fn finish_family(&mut self) -> Result<(), LineError> {
        let result = self.finish_point();
        self.start_family(MetricType::Unknown);
        result
    }

    pub fn observe(&mut self, sample: &Observed<'_, 'a>) -> Result<(), LineError> {
        let at = |kind| (sample.line, kind);
        self.check_labels(sample).map_err(at)?;
        self.check_value(sample).map_err(at)?;

        let skipped = match sample.role {
            Role::Bucket => Some("le"),
            Role::Quantile => Some("quantile"),
            Role::State => Some(sample.family),
            _ => None,
        };
        let key = metric_key(sample.labels, skipped);
        if self.metric != Some(key) {
            self.finish_point()?;
            if !self.metrics_seen.insert(key) {
                return Err(at(ErrorKind::MetricRepeated(shown(sample.series_text))));
            }
            self.metric = Some(key);
            self.last_timestamp = None;
        }
        match (self.last_timestamp, sample.timestamp_seconds) {
            (None, _) | (Some(None), None) => {}
            (Some(Some(_)), None) | (Some(None), Some(_)) => {
                return Err(at(ErrorKind::MixedTimestamps(shown(sample.series_text))));
            }
            (Some(Some(previous)), Some(current)) => {
                if current < previous {
                    return Err(at(ErrorKind::TimestampBackwards(shown(sample.series_text))));
                }
                if current > previous {
                    self.finish_point()?;
                }
            }
        }
        self.last_timestamp = Some(sample.timestamp_seconds);

        if matches!(
            self.kind,
            MetricType::Histogram | MetricType::GaugeHistogram
        ) {
            self.add_to_point(sample).map_err(at)?;
        }
        Ok(())
    }

    fn check_labels(&self, sample: &Observed<'_, 'a>) -> Result<(), ErrorKind> {
        let missing = |label: &str| ErrorKind::MissingLabel {
            name: shown(sample.name),
            kind: self.kind,
            label: shown(label),
        };
        match sample.role {
            Role::Bucket => match sample.bound {
                Bound::Valid(_) => Ok(()),
                Bound::Missing => Err(missing("le")),
                _ => Err(invalid_bound("le", sample)),
            },
            Role::Quantile => match sample.bound {
                Bound::Valid(quantile) if (0.0..=1.0).contains(&quantile) => Ok(()),
                Bound::Missing => Err(missing("quantile")),
                _ => Err(invalid_bound("quantile", sample)),
            },
            Role::State => {
                if sample.labels.iter().any(|(name, _)| name == sample.family) {
                    Ok(())
                } else {
                    Err(missing(sample.family))
                }
            }
            _ if matches!(
                self.kind,
                MetricType::Histogram | MetricType::GaugeHistogram
            ) =>
            {
                if sample.labels.iter().any(|(name, _)| name == "le") {
                    return Err(ErrorKind::UnexpectedLabel {
                        name: shown(sample.name),
                        label: "le",
                    });
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn check_value(&self, sample: &Observed<'_, 'a>) -> Result<(), ErrorKind> {
        let value = sample.value;
        let rule: &'static str = match sample.role {
            Role::Total | Role::Bucket | Role::Count if value.is_nan() || value < 0.0 => {
                "must not be NaN or negative"
            }
            Role::Sum if value.is_nan() => "must not be NaN",
            Role::Sum if value < 0.0 && self.kind != MetricType::GaugeHistogram => {
                "must not be negative"
            }
            Role::Quantile if value < 0.0 => "quantile values must not be negative",
            Role::Info if value != 1.0 => "info values must be 1",
            Role::State if value != 0.0 && value != 1.0 => "stateset values must be 0 or 1",
            _ => return Ok(()),
        };
        Err(ErrorKind::InvalidSampleValue {
            name: shown(sample.name),
            value,
            rule,
        })
    }

    fn add_to_point(&mut self, sample: &Observed<'_, 'a>) -> Result<(), ErrorKind> {
        let point = &mut self.point;
        if !point.active {
            point.active = true;
            point.series_text = sample.series_text;
        }
        point.last_line = sample.line;
        let problem = match sample.role {
            Role::Bucket => {
                let Bound::Valid(le) = sample.bound else {
                    debug_assert!(false, "check_labels lets only valid bounds through");
                    return Ok(());
                };
                if point.last_le.is_some_and(|last| le <= last) {
                    Some("buckets must be in increasing order of le, each le once")
                } else if sample.value < point.last_bucket_value {
                    Some("bucket values must not decrease (buckets are cumulative)")
                } else {
                    point.last_le = Some(le);
                    point.last_bucket_value = sample.value;
                    point.negative_bucket |= le < 0.0;
                    if le == f64::INFINITY {
                        point.inf_bucket_value = Some(sample.value);
                    }
                    None
                }
            }
            Role::Count => point
                .count
                .replace(sample.value)
                .map(|_| "count given twice"),
            Role::Sum => point.sum.replace(sample.value).map(|_| "sum given twice"),
            _ => None,
        };
        match problem {
            Some(problem) => Err(ErrorKind::InvalidMetricPoint {
                kind: self.kind,
                metric: shown(sample.series_text),
                problem,
            }),
            None => Ok(()),
        }
    }

    /// Checks and clears the current histogram point.
    fn finish_point(&mut self) -> Result<(), LineError> {
        if !self.point.active {
            return Ok(());
        }
        let point = std::mem::take(&mut self.point);
        let gauge = self.kind == MetricType::GaugeHistogram;
        let problem = if point.inf_bucket_value.is_none() {
            Some("no +Inf bucket")
        } else if point.count.is_some() != point.sum.is_some() {
            Some(if gauge {
                "_gcount and _gsum must be given together"
            } else {
                "_count and _sum must be given together"
            })
        } else if point.count.is_some() && point.count != point.inf_bucket_value {
            Some("the count differs from the +Inf bucket")
        } else if !gauge && point.negative_bucket && point.sum.is_some() {
            Some("a histogram with negative bucket bounds must not have a sum")
        } else if gauge && !point.negative_bucket && point.sum.is_some_and(|sum| sum < 0.0) {
            Some("_gsum must not be negative without negative bucket bounds")
        } else {
            None
        };
        match problem {
            Some(problem) => Err((
                point.last_line,
                ErrorKind::InvalidMetricPoint {
                    kind: self.kind,
                    metric: shown(point.series_text),
                    problem,
                },
            )),
            None => Ok(()),
        }
    }
}

fn invalid_bound(label: &'static str, sample: &Observed<'_, '_>) -> ErrorKind {
    let value = sample
        .labels
        .iter()
        .find(|(name, _)| name == label)
        .map(|(_, value)| shown(value))
        .unwrap_or_default();
    ErrorKind::InvalidLabelValue { label, value }
}

/// Hashes the metric keys of [`metric_key`], which are hashes already, to themselves.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

/// A hash of a label set that ignores label order and the label named `skipped`.
fn metric_key(labels: &[Label<'_>], skipped: Option<&str>) -> u64 {
    let mut sum: u64 = 0;
    let mut count: u64 = 0;
    for (name, value) in labels {
        if Some(name.as_ref()) == skipped {
            continue;
        }
        sum = sum.wrapping_add(hash_bytes(
            hash_bytes(0x51_7c_c1_b7, name.as_bytes()),
            value.as_bytes(),
        ));
        count += 1;
    }
    finalize(sum ^ count.wrapping_mul(MULTIPLIER))
}

const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    let mut hash = seed ^ (bytes.len() as u64).wrapping_mul(MULTIPLIER);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        hash = (hash ^ u64::from_le_bytes(word))
            .wrapping_mul(MULTIPLIER)
            .rotate_left(31);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut word = [0u8; 8];
        word[..tail.len()].copy_from_slice(tail);
        hash = (hash ^ u64::from_le_bytes(word))
            .wrapping_mul(MULTIPLIER)
            .rotate_left(31);
    }
    finalize(hash)
}

/// Murmur3's 64-bit finalizer.
fn finalize(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn labels(pairs: &[(&'static str, &'static str)]) -> Vec<Label<'static>> {
        pairs
            .iter()
            .map(|&(n, v)| (Cow::Borrowed(n), Cow::Borrowed(v)))
            .collect()
    }

    #[test]
    fn metric_keys_ignore_order_and_the_skipped_label() {
        let a = labels(&[("a", "1"), ("b", "2")]);
        let b = labels(&[("b", "2"), ("a", "1")]);
        let c = labels(&[("a", "1"), ("le", "0.5"), ("b", "2")]);
        assert_eq!(metric_key(&a, None), metric_key(&b, None));
        assert_eq!(metric_key(&a, None), metric_key(&c, Some("le")));
        assert_ne!(metric_key(&a, None), metric_key(&c, None));
        let swapped = labels(&[("a", "2"), ("b", "1")]);
        assert_ne!(metric_key(&a, None), metric_key(&swapped, None));
        let moved = labels(&[("a1", ""), ("b", "2")]);
        let other = labels(&[("a", "1"), ("b", "2")]);
        assert_ne!(metric_key(&moved, None), metric_key(&other, None));
        assert_ne!(
            metric_key(&[], None),
            metric_key(&labels(&[("", "")]), None)
        );
    }
}
