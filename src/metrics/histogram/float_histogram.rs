//! The float histogram value itself: its layout (spans), canonical form,
//! bucket iteration and equality.

use super::bounds::bucket_bound;

/// Schema number of histograms whose buckets are given by explicit upper
/// bounds (`custom_values`) instead of an exponential formula.
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;
/// Lowest exponential schema (widest buckets).
pub const EXPONENTIAL_SCHEMA_MIN: i32 = -4;
/// Highest exponential schema (narrowest buckets).
pub const EXPONENTIAL_SCHEMA_MAX: i32 = 8;

/// What is known about a counter reset between this histogram and the
/// previous sample of the same series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CounterResetHint {
    /// Nothing is known; a reset has to be detected by comparing buckets.
    #[default]
    Unknown,
    /// A counter reset happened right before this sample.
    CounterReset,
    /// No counter reset happened right before this sample.
    NotCounterReset,
    /// The histogram is a gauge histogram; resets are meaningless.
    Gauge,
}

/// A run of consecutive buckets. `offset` is the gap to the end of the
/// previous span, or the index of the first bucket for the first span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub offset: i32,
    pub length: u32,
}

/// A histogram with float counts. Bucket counts are absolute, not deltas.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FloatHistogram {
    pub counter_reset_hint: CounterResetHint,
    /// -4..=8 for exponential buckets, [`CUSTOM_BUCKETS_SCHEMA`] for custom
    /// buckets.
    pub schema: i32,
    /// Half-width of the zero bucket (unused with custom buckets).
    pub zero_threshold: f64,
    /// Observations in the zero bucket (unused with custom buckets).
    pub zero_count: f64,
    /// Total number of observations.
    pub count: f64,
    /// Sum of observations.
    pub sum: f64,
    pub positive_spans: Vec<Span>,
    pub negative_spans: Vec<Span>,
    pub positive_buckets: Vec<f64>,
    pub negative_buckets: Vec<f64>,
    /// Upper bounds of the custom buckets, ascending, without the implicit
    /// final +Inf bound. Only used with [`CUSTOM_BUCKETS_SCHEMA`].
    pub custom_values: Vec<f64>,
}

/// One bucket with its boundaries, as seen from outside the histogram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub lower: f64,
    pub upper: f64,
    pub lower_inclusive: bool,
    pub upper_inclusive: bool,
    pub count: f64,
    /// Bucket index within its side (irrelevant for the zero bucket).
    pub index: i32,
}

impl Bucket {
    /// Fraction of the bucket's width that lies below `value`, either on a
    /// linear scale or on a logarithmic one (exponential buckets).
    pub fn fraction_below(&self, value: f64, linear: bool) -> f64 {
        if linear {
            return (value - self.lower) / (self.upper - self.lower);
        }
        let log_lower = self.lower.abs().log2();
        let log_upper = self.upper.abs().log2();
        let log_value = value.abs().log2();
        if value > 0.0 {
            (log_value - log_lower) / (log_upper - log_lower)
        } else {
            1.0 - (log_value - log_upper) / (log_lower - log_upper)
        }
    }
}

/// Expands spans into `(absolute bucket index, count)` pairs in storage
/// order. Surplus counts or span lengths of a malformed histogram are ignored.
pub(crate) fn indexed_buckets(spans: &[Span], counts: &[f64]) -> Vec<(i32, f64)> {
    let mut out = Vec::with_capacity(counts.len());
    let mut index: i32 = 0;
    let mut counts = counts.iter();
    for (n, span) in spans.iter().enumerate() {
        index = if n == 0 {
            span.offset
        } else {
            index.saturating_add(span.offset)
        };
        for _ in 0..span.length {
            let Some(&count) = counts.next() else {
                return out;
            };
            out.push((index, count));
            index = index.saturating_add(1);
        }
    }
    out
}

/// Rebuilds spans and counts from ascending `(index, count)` pairs, starting
/// a new span wherever indices are not consecutive.
pub(crate) fn spans_from_indexed(pairs: &[(i32, f64)]) -> (Vec<Span>, Vec<f64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut counts = Vec::with_capacity(pairs.len());
    let mut next_index: Option<i32> = None;
    for &(index, count) in pairs {
        match (next_index, spans.last_mut()) {
            (Some(expected), Some(last)) if expected == index => last.length += 1,
            (Some(expected), _) => spans.push(Span {
                offset: index - expected,
                length: 1,
            }),
            (None, _) => spans.push(Span {
                offset: index,
                length: 1,
            }),
        }
        counts.push(count);
        next_index = Some(index.saturating_add(1));
    }
    (spans, counts)
}

/// Drops empty buckets, then re-inserts runs of at most `max_empty_buckets`
/// empty buckets between populated ones so they share a span.
fn compact_side(spans: &mut Vec<Span>, counts: &mut Vec<f64>, max_empty_buckets: usize) {
    let populated: Vec<(i32, f64)> = indexed_buckets(spans, counts)
        .into_iter()
        .filter(|&(_, count)| count != 0.0)
        .collect();
    let mut filled: Vec<(i32, f64)> = Vec::with_capacity(populated.len());
    for (index, count) in populated {
        if let Some(&(previous, _)) = filled.last() {
            let gap = i64::from(index) - i64::from(previous) - 1;
            if gap > 0 && (gap as u64) <= max_empty_buckets as u64 {
                filled.extend((previous + 1..index).map(|empty| (empty, 0.0)));
            }
        }
        filled.push((index, count));
    }
    let (new_spans, new_counts) = spans_from_indexed(&filled);
    *spans = new_spans;
    *counts = new_counts;
}

/// Relative float comparison as used for test expectations: NaN equals NaN,
/// and a value compared with zero must itself be (almost) zero.
pub(crate) fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < epsilon * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

impl FloatHistogram {
    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }

    /// Removes empty buckets (keeping runs of at most `max_empty_buckets`
    /// empty buckets between populated ones), merges adjacent spans and drops
    /// zero-length spans. `compact(0)` is the canonical form.
    pub fn compact(&mut self, max_empty_buckets: usize) {
        compact_side(
            &mut self.positive_spans,
            &mut self.positive_buckets,
            max_empty_buckets,
        );
        compact_side(
            &mut self.negative_spans,
            &mut self.negative_buckets,
            max_empty_buckets,
        );
    }

    /// The zero bucket `[-threshold, threshold]`.
    pub fn zero_bucket(&self) -> Bucket {
        Bucket {
            lower: -self.zero_threshold,
            upper: self.zero_threshold,
            lower_inclusive: true,
            upper_inclusive: true,
            count: self.zero_count,
            index: 0,
        }
    }

    fn make_bucket(&self, index: i32, count: f64, positive: bool) -> Bucket {
        let upper_bound = bucket_bound(index, self.schema, &self.custom_values);
        let lower_bound = bucket_bound(index.saturating_sub(1), self.schema, &self.custom_values);
        let (lower, upper) = if positive {
            (lower_bound, upper_bound)
        } else {
            (-upper_bound, -lower_bound)
        };
        let (lower_inclusive, upper_inclusive) = if self.uses_custom_buckets() {
            (index == 0, true)
        } else {
            (lower < 0.0, upper > 0.0)
        };
        Bucket {
            lower,
            upper,
            lower_inclusive,
            upper_inclusive,
            count,
            index,
        }
    }

    /// Positive buckets in storage order, i.e. ascending, including empty
    /// ones that are part of a span.
    pub fn positive_bucket_list(&self) -> Vec<Bucket> {
        indexed_buckets(&self.positive_spans, &self.positive_buckets)
            .into_iter()
            .map(|(index, count)| self.make_bucket(index, count, true))
            .collect()
    }

    /// Negative buckets in storage order, i.e. starting next to the zero
    /// bucket and going down.
    pub fn negative_bucket_list(&self) -> Vec<Bucket> {
        if self.uses_custom_buckets() {
            return Vec::new();
        }
        indexed_buckets(&self.negative_spans, &self.negative_buckets)
            .into_iter()
            .map(|(index, count)| self.make_bucket(index, count, false))
            .collect()
    }

    /// Buckets overlapping the zero bucket are cut at the zero threshold.
    fn clamp_to_zero_bucket(&self, mut bucket: Bucket) -> Bucket {
        let threshold = self.zero_threshold;
        if bucket.upper < 0.0 && bucket.upper > -threshold {
            bucket.upper = -threshold;
        } else if bucket.lower > 0.0 && bucket.lower < threshold {
            bucket.lower = threshold;
        }
        bucket
    }

    fn populated_zero_bucket(&self) -> Option<Bucket> {
        (!self.uses_custom_buckets() && self.zero_count > 0.0).then(|| self.zero_bucket())
    }

    /// All buckets in ascending order: negative buckets (lowest first), the
    /// zero bucket if its count is positive, then the positive buckets.
    /// Empty buckets inside spans are included.
    pub fn all_bucket_list(&self) -> Vec<Bucket> {
        let mut all: Vec<Bucket> = self
            .negative_bucket_list()
            .into_iter()
            .rev()
            .map(|b| self.clamp_to_zero_bucket(b))
            .collect();
        all.extend(self.populated_zero_bucket());
        all.extend(
            self.positive_bucket_list()
                .into_iter()
                .map(|b| self.clamp_to_zero_bucket(b)),
        );
        all
    }

    /// Like [`Self::all_bucket_list`], but in descending order.
    pub fn all_bucket_list_reversed(&self) -> Vec<Bucket> {
        let mut all: Vec<Bucket> = self
            .positive_bucket_list()
            .into_iter()
            .rev()
            .map(|b| self.clamp_to_zero_bucket(b))
            .collect();
        all.extend(self.populated_zero_bucket());
        all.extend(
            self.negative_bucket_list()
                .into_iter()
                .map(|b| self.clamp_to_zero_bucket(b)),
        );
        all
    }

    /// The buckets as the HTTP API reports them: ascending, skipping buckets
    /// with a count of zero.
    pub fn buckets(&self) -> Vec<Bucket> {
        self.all_bucket_list()
            .into_iter()
            .filter(|b| b.count != 0.0)
            .collect()
    }

    /// Exact equality of the data (bit patterns of all floats), ignoring the
    /// counter reset hint and how the bucket layout is cut into spans. Empty
    /// buckets still count as part of the layout, so compact first if that
    /// is not wanted. This is what PromQL's `==` between histograms uses.
    pub fn equals(&self, other: &FloatHistogram) -> bool {
        let same_bits = |a: f64, b: f64| a.to_bits() == b.to_bits();
        let same_side = |a: Vec<(i32, f64)>, b: Vec<(i32, f64)>| {
            a.len() == b.len()
                && a.iter()
                    .zip(&b)
                    .all(|(x, y)| x.0 == y.0 && same_bits(x.1, y.1))
        };
        self.schema == other.schema
            && same_bits(self.count, other.count)
            && same_bits(self.sum, other.sum)
            && (!self.uses_custom_buckets() || self.custom_values == other.custom_values)
            && self.zero_threshold == other.zero_threshold
            && same_bits(self.zero_count, other.zero_count)
            && same_side(
                indexed_buckets(&self.negative_spans, &self.negative_buckets),
                indexed_buckets(&other.negative_spans, &other.negative_buckets),
            )
            && same_side(
                indexed_buckets(&self.positive_spans, &self.positive_buckets),
                indexed_buckets(&other.positive_spans, &other.positive_buckets),
            )
    }

    /// Structural equality of the canonical forms (see [`Self::compact`]),
    /// with relative tolerance `epsilon` on counts and sum; NaN equals NaN.
    /// Schema, zero threshold, spans and custom bounds must match exactly.
    /// The counter reset hint is not compared.
    pub fn approx_eq(&self, other: &FloatHistogram, epsilon: f64) -> bool {
        let mut a = self.clone();
        let mut b = other.clone();
        a.compact(0);
        b.compact(0);
        let close = |x: f64, y: f64| almost_equal(x, y, epsilon);
        let close_all = |xs: &[f64], ys: &[f64]| {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(&x, &y)| close(x, y))
        };
        a.schema == b.schema
            && a.zero_threshold == b.zero_threshold
            && close(a.zero_count, b.zero_count)
            && close(a.count, b.count)
            && close(a.sum, b.sum)
            && a.positive_spans == b.positive_spans
            && a.negative_spans == b.negative_spans
            && close_all(&a.positive_buckets, &b.positive_buckets)
            && close_all(&a.negative_buckets, &b.negative_buckets)
            && (!a.uses_custom_buckets() || a.custom_values == b.custom_values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exponential(schema: i32, spans: Vec<Span>, buckets: Vec<f64>) -> FloatHistogram {
        FloatHistogram {
            schema,
            count: buckets.iter().sum(),
            positive_spans: spans,
            positive_buckets: buckets,
            ..Default::default()
        }
    }

    fn span(offset: i32, length: u32) -> Span {
        Span { offset, length }
    }

    #[test]
    fn indexed_buckets_follow_span_offsets() {
        let pairs = indexed_buckets(&[span(-2, 2), span(3, 1)], &[1.0, 2.0, 3.0]);
        assert_eq!(pairs, vec![(-2, 1.0), (-1, 2.0), (3, 3.0)]);
    }

    #[test]
    fn compact_removes_empty_buckets_and_merges_spans() {
        let mut h = exponential(
            0,
            vec![span(0, 3), span(0, 2), span(0, 0), span(2, 2)],
            vec![0.0, 1.0, 0.0, 0.0, 2.0, 3.0, 0.0],
        );
        h.compact(0);
        assert_eq!(h.positive_spans, vec![span(1, 1), span(2, 1), span(2, 1)]);
        assert_eq!(h.positive_buckets, vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn compact_keeps_short_runs_of_empty_buckets() {
        let mut h = exponential(
            0,
            vec![span(0, 1), span(2, 1), span(3, 1)],
            vec![1.0, 2.0, 3.0],
        );
        h.compact(2);
        assert_eq!(h.positive_spans, vec![span(0, 4), span(3, 1)]);
        assert_eq!(h.positive_buckets, vec![1.0, 0.0, 0.0, 2.0, 3.0]);
    }

    #[test]
    fn compact_of_all_empty_buckets_leaves_nothing() {
        let mut h = exponential(0, vec![span(5, 2)], vec![0.0, 0.0]);
        h.compact(0);
        assert!(h.positive_spans.is_empty());
        assert!(h.positive_buckets.is_empty());
    }

    #[test]
    fn compact_keeps_nan_buckets() {
        let mut h = exponential(0, vec![span(0, 2)], vec![f64::NAN, 0.0]);
        h.compact(0);
        assert_eq!(h.positive_spans, vec![span(0, 1)]);
        assert!(h.positive_buckets[0].is_nan());
    }

    #[test]
    fn bucket_boundaries_for_schema_zero() {
        let h = FloatHistogram {
            zero_threshold: 0.001,
            zero_count: 2.0,
            positive_spans: vec![span(0, 2)],
            positive_buckets: vec![1.0, 0.0],
            negative_spans: vec![span(1, 1)],
            negative_buckets: vec![3.0],
            ..Default::default()
        };
        let all = h.all_bucket_list();
        let bounds: Vec<(f64, f64, f64)> =
            all.iter().map(|b| (b.lower, b.upper, b.count)).collect();
        assert_eq!(
            bounds,
            vec![
                (-2.0, -1.0, 3.0),
                (-0.001, 0.001, 2.0),
                (0.5, 1.0, 1.0),
                (1.0, 2.0, 0.0)
            ]
        );
        assert!(all[0].lower_inclusive && !all[0].upper_inclusive);
        assert!(!all[2].lower_inclusive && all[2].upper_inclusive);
        // The JSON view skips the empty bucket.
        assert_eq!(h.buckets().len(), 3);
        let reversed: Vec<f64> = h
            .all_bucket_list_reversed()
            .iter()
            .map(|b| b.upper)
            .collect();
        assert_eq!(reversed, vec![2.0, 1.0, 0.001, -1.0]);
    }

    #[test]
    fn buckets_overlapping_the_zero_bucket_are_clamped() {
        let h = FloatHistogram {
            zero_threshold: 0.7,
            zero_count: 1.0,
            positive_spans: vec![span(0, 1)],
            positive_buckets: vec![1.0],
            negative_spans: vec![span(0, 1)],
            negative_buckets: vec![1.0],
            ..Default::default()
        };
        let bounds: Vec<(f64, f64)> = h
            .all_bucket_list()
            .iter()
            .map(|b| (b.lower, b.upper))
            .collect();
        assert_eq!(bounds, vec![(-1.0, -0.7), (-0.7, 0.7), (0.7, 1.0)]);
    }

    #[test]
    fn custom_bucket_boundaries() {
        let h = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            positive_spans: vec![span(0, 3)],
            positive_buckets: vec![1.0, 2.0, 3.0],
            custom_values: vec![1.0, 5.0],
            ..Default::default()
        };
        let all = h.all_bucket_list();
        let bounds: Vec<(f64, f64)> = all.iter().map(|b| (b.lower, b.upper)).collect();
        assert_eq!(
            bounds,
            vec![(f64::NEG_INFINITY, 1.0), (1.0, 5.0), (5.0, f64::INFINITY)]
        );
        assert!(all[0].lower_inclusive && all[0].upper_inclusive);
        assert!(!all[1].lower_inclusive);
    }

    #[test]
    fn approx_eq_ignores_layout_and_hint_but_not_values() {
        let a = exponential(0, vec![span(0, 3)], vec![1.0, 0.0, 2.0]);
        let mut b = exponential(0, vec![span(0, 1), span(1, 1)], vec![1.0, 2.0 + 1e-9]);
        b.count = a.count;
        b.counter_reset_hint = CounterResetHint::Gauge;
        assert!(a.approx_eq(&b, 1e-6));
        b.positive_buckets[1] = 2.1;
        assert!(!a.approx_eq(&b, 1e-6));
        let mut c = a.clone();
        c.sum = f64::NAN;
        let mut d = a.clone();
        d.sum = f64::NAN;
        assert!(c.approx_eq(&d, 1e-6));
        assert!(!c.approx_eq(&a, 1e-6));
    }

    #[test]
    fn equals_is_exact_but_layout_agnostic() {
        let a = exponential(0, vec![span(0, 2)], vec![1.0, 2.0]);
        let b = exponential(0, vec![span(0, 1), span(0, 0), span(0, 1)], vec![1.0, 2.0]);
        assert!(a.equals(&b));
        let c = exponential(0, vec![span(0, 3)], vec![1.0, 2.0, 0.0]);
        assert!(!a.equals(&c));
    }

    #[test]
    fn fraction_below_linear_and_logarithmic() {
        let b = Bucket {
            lower: 1.0,
            upper: 4.0,
            lower_inclusive: false,
            upper_inclusive: true,
            count: 1.0,
            index: 0,
        };
        assert_eq!(b.fraction_below(2.5, true), 0.5);
        assert_eq!(b.fraction_below(2.0, false), 0.5);
        let n = Bucket {
            lower: -4.0,
            upper: -1.0,
            ..b
        };
        assert_eq!(n.fraction_below(-2.0, false), 0.5);
    }
}
