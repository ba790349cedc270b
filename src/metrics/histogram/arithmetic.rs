//! Arithmetic on float histograms: addition and subtraction (reconciling
//! schemas, zero thresholds and custom bucket bounds), scaling, and lowering
//! the resolution of exponential schemas.

use std::fmt;

use super::bounds::{bucket_bound, index_in_coarser_schema};
use super::float_histogram::{
    indexed_buckets, spans_from_indexed, CounterResetHint, FloatHistogram, Span,
    CUSTOM_BUCKETS_SCHEMA,
};

/// Why two histograms could not be combined.
#[derive(Debug, Clone, PartialEq)]
pub enum HistogramError {
    /// One histogram uses exponential buckets and the other custom buckets.
    /// PromQL reports this as "vector contains a mix of histograms with
    /// exponential and custom buckets schemas".
    MixedExponentialAndCustom,
}

impl fmt::Display for HistogramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistogramError::MixedExponentialAndCustom => f.write_str(
                "cannot apply this operation on histograms with a mix of exponential and custom bucket schemas",
            ),
        }
    }
}

impl std::error::Error for HistogramError {}

/// Adds `sign * b` to `a` bucket by bucket (both ascending by index),
/// creating buckets missing in `a`. Leading buckets of `b` whose upper bound
/// is at most `skip_up_to` are ignored: they already went into the zero
/// bucket.
fn merge_indexed(
    a: &[(i32, f64)],
    b: &[(i32, f64)],
    sign: f64,
    skip_up_to: Option<(i32, f64)>,
) -> Vec<(i32, f64)> {
    let first_b = match skip_up_to {
        Some((schema, threshold)) => b
            .iter()
            .position(|&(index, _)| bucket_bound(index, schema, &[]) > threshold)
            .unwrap_or(b.len()),
        None => 0,
    };
    let b = &b[first_b..];
    let signed = |count: f64| if sign < 0.0 { -count } else { count };
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(&(ia, ca)), Some(&(ib, cb))) if ia == ib => {
                out.push((ia, ca + signed(cb)));
                i += 1;
                j += 1;
            }
            (Some(&(ia, ca)), Some(&(ib, _))) if ia < ib => {
                out.push((ia, ca));
                i += 1;
            }
            (Some(&(ia, ca)), None) => {
                out.push((ia, ca));
                i += 1;
            }
            (_, Some(&(ib, cb))) => {
                out.push((ib, signed(cb)));
                j += 1;
            }
            (None, None) => unreachable!("loop condition"),
        }
    }
    out
}

/// Merges buckets of `origin_schema` into the buckets of the coarser
/// `target_schema`.
fn reduce_indexed(pairs: &[(i32, f64)], origin_schema: i32, target_schema: i32) -> Vec<(i32, f64)> {
    let mut out: Vec<(i32, f64)> = Vec::with_capacity(pairs.len());
    for &(index, count) in pairs {
        let target = index_in_coarser_schema(index, origin_schema, target_schema);
        match out.last_mut() {
            Some(last) if last.0 == target => last.1 += count,
            _ => out.push((target, count)),
        }
    }
    out
}

fn reduce_side(spans: &[Span], counts: &[f64], origin: i32, target: i32) -> (Vec<Span>, Vec<f64>) {
    spans_from_indexed(&reduce_indexed(
        &indexed_buckets(spans, counts),
        origin,
        target,
    ))
}

/// Ascending bounds present in both inputs.
fn intersect_bounds(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(a[i]);
            i += 1;
            j += 1;
        } else if a[i] < b[j] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Sums custom buckets into the layout given by `target_bounds` (a subset of
/// `bounds`): each bucket goes to the first target bucket whose upper bound
/// is at least its own; the last slot is the +Inf bucket.
pub(crate) fn map_custom_buckets(
    spans: &[Span],
    counts: &[f64],
    bounds: &[f64],
    target_bounds: &[f64],
    sign: f64,
    target: &mut [f64],
) {
    let inf_slot = target_bounds.len();
    let mut next_target = 0;
    for (index, count) in indexed_buckets(spans, counts) {
        let slot = match usize::try_from(index).ok().and_then(|i| bounds.get(i)) {
            Some(&bound) => {
                while next_target < target_bounds.len() && target_bounds[next_target] < bound {
                    next_target += 1;
                }
                next_target
            }
            None => inf_slot,
        };
        if sign < 0.0 {
            target[slot] -= count;
        } else {
            target[slot] += count;
        }
    }
}

/// The hint of a sum or difference, and whether the inputs' hints
/// contradicted each other (one says reset, the other says no reset).
fn combined_hint(a: CounterResetHint, b: CounterResetHint) -> (CounterResetHint, bool) {
    use CounterResetHint::*;
    match (a, b) {
        _ if a == b => (a, false),
        (Gauge, _) | (_, Gauge) => (Gauge, false),
        (Unknown, _) | (_, Unknown) => (Unknown, false),
        _ => (Unknown, true),
    }
}

impl FloatHistogram {
    /// Returns `self + other` and whether mismatched custom bucket bounds had
    /// to be reconciled (to the bounds both histograms share).
    ///
    /// Differing exponential schemas are resolved by reducing the finer one,
    /// differing zero thresholds by widening the narrower zero bucket (moving
    /// the buckets it then covers into the zero count). The counter reset
    /// hint becomes Gauge if either input is a gauge, stays if both agree and
    /// is Unknown otherwise (see [`Self::counter_reset_collision`]).
    pub fn add(&self, other: &FloatHistogram) -> Result<(FloatHistogram, bool), HistogramError> {
        self.combine(other, 1.0)
    }

    /// Returns `self - other`, with the same reconciliation rules as
    /// [`Self::add`]. The hint is combined like for addition; PromQL's `-`
    /// operator marks its result as a gauge afterwards.
    pub fn sub(&self, other: &FloatHistogram) -> Result<(FloatHistogram, bool), HistogramError> {
        self.combine(other, -1.0)
    }

    /// True if one histogram claims a counter reset and the other claims
    /// none, which makes their sum or difference questionable (PromQL warns).
    pub fn counter_reset_collision(&self, other: &FloatHistogram) -> bool {
        combined_hint(self.counter_reset_hint, other.counter_reset_hint).1
    }

    fn combine(
        &self,
        other: &FloatHistogram,
        sign: f64,
    ) -> Result<(FloatHistogram, bool), HistogramError> {
        if self.uses_custom_buckets() != other.uses_custom_buckets() {
            return Err(HistogramError::MixedExponentialAndCustom);
        }
        let mut result = self.clone();
        result.counter_reset_hint =
            combined_hint(self.counter_reset_hint, other.counter_reset_hint).0;
        result.count += sign * other.count;
        result.sum += sign * other.sum;

        if result.uses_custom_buckets() {
            let reconciled = result.combine_custom_buckets(other, sign);
            return Ok((result, reconciled));
        }

        let other_zero_count = result.reconcile_zero_buckets(other);
        result.zero_count += sign * other_zero_count;

        let target_schema = result.schema.min(other.schema);
        if result.schema > target_schema {
            result.reduce_resolution(target_schema);
        }
        let threshold = Some((target_schema, result.zero_threshold));
        let other_side = |spans: &[Span], counts: &[f64]| {
            reduce_indexed(&indexed_buckets(spans, counts), other.schema, target_schema)
        };
        let positive = merge_indexed(
            &indexed_buckets(&result.positive_spans, &result.positive_buckets),
            &other_side(&other.positive_spans, &other.positive_buckets),
            sign,
            threshold,
        );
        let negative = merge_indexed(
            &indexed_buckets(&result.negative_spans, &result.negative_buckets),
            &other_side(&other.negative_spans, &other.negative_buckets),
            sign,
            threshold,
        );
        (result.positive_spans, result.positive_buckets) = spans_from_indexed(&positive);
        (result.negative_spans, result.negative_buckets) = spans_from_indexed(&negative);
        Ok((result, false))
    }

    /// Adds `sign * other`'s custom buckets to `self`'s. Returns true if the
    /// bounds differed and both were mapped onto their common bounds.
    fn combine_custom_buckets(&mut self, other: &FloatHistogram, sign: f64) -> bool {
        if self.custom_values == other.custom_values {
            let merged = merge_indexed(
                &indexed_buckets(&self.positive_spans, &self.positive_buckets),
                &indexed_buckets(&other.positive_spans, &other.positive_buckets),
                sign,
                None,
            );
            (self.positive_spans, self.positive_buckets) = spans_from_indexed(&merged);
            return false;
        }
        let common = intersect_bounds(&self.custom_values, &other.custom_values);
        let mut target = vec![0.0; common.len() + 1];
        map_custom_buckets(
            &self.positive_spans,
            &self.positive_buckets,
            &self.custom_values,
            &common,
            1.0,
            &mut target,
        );
        map_custom_buckets(
            &other.positive_spans,
            &other.positive_buckets,
            &other.custom_values,
            &common,
            sign,
            &mut target,
        );
        let populated: Vec<(i32, f64)> = target
            .into_iter()
            .enumerate()
            .filter(|&(_, count)| count != 0.0)
            .map(|(index, count)| (index as i32, count))
            .collect();
        (self.positive_spans, self.positive_buckets) = spans_from_indexed(&populated);
        self.custom_values = common;
        true
    }

    /// What the zero count would be with the given (not smaller) threshold,
    /// and the threshold actually needed: if `larger_threshold` falls inside
    /// a populated bucket, it is raised to that bucket's outer bound.
    pub(crate) fn zero_count_for_larger_threshold(&self, larger_threshold: f64) -> (f64, f64) {
        let mut threshold = larger_threshold;
        if threshold == self.zero_threshold {
            return (self.zero_count, threshold);
        }
        let positive = self.positive_bucket_list();
        let negative = self.negative_bucket_list();
        'restart: loop {
            let mut zero_count = self.zero_count;
            for bucket in &positive {
                if bucket.lower >= threshold {
                    break;
                }
                zero_count += bucket.count;
                if bucket.upper > threshold {
                    if bucket.count != 0.0 {
                        threshold = bucket.upper;
                    }
                    break;
                }
            }
            for bucket in &negative {
                if bucket.upper <= -threshold {
                    break;
                }
                zero_count += bucket.count;
                if bucket.lower < -threshold {
                    if bucket.count != 0.0 {
                        // The positive side has to be redone with the new
                        // threshold.
                        threshold = -bucket.lower;
                        continue 'restart;
                    }
                    break;
                }
            }
            return (zero_count, threshold);
        }
    }

    /// Drops buckets that lie inside the zero bucket; their counts must
    /// already be part of the zero count.
    fn trim_buckets_in_zero_bucket(&mut self) {
        let threshold = self.zero_threshold;
        for (i, bucket) in self.positive_bucket_list().iter().enumerate() {
            if bucket.lower >= threshold {
                break;
            }
            self.positive_buckets[i] = 0.0;
        }
        for (i, bucket) in self.negative_bucket_list().iter().enumerate() {
            if bucket.upper <= -threshold {
                break;
            }
            self.negative_buckets[i] = 0.0;
        }
        self.compact(0);
    }

    /// Widens the zero bucket of `self` and/or (virtually) of `other` until
    /// both have the same threshold, which never cuts through a populated
    /// bucket. Returns the zero count `other` would have with it.
    fn reconcile_zero_buckets(&mut self, other: &FloatHistogram) -> f64 {
        let mut other_zero_count = other.zero_count;
        let mut other_threshold = other.zero_threshold;
        // NaN thresholds can never be reconciled; leave them alone.
        while other_threshold != self.zero_threshold
            && !other_threshold.is_nan()
            && !self.zero_threshold.is_nan()
        {
            if self.zero_threshold > other_threshold {
                (other_zero_count, other_threshold) =
                    other.zero_count_for_larger_threshold(self.zero_threshold);
            }
            if other_threshold > self.zero_threshold {
                (self.zero_count, self.zero_threshold) =
                    self.zero_count_for_larger_threshold(other_threshold);
                self.trim_buckets_in_zero_bucket();
            }
        }
        other_zero_count
    }

    /// Multiplies the count, sum, zero count and every bucket by `factor`
    /// (`h * scalar`). A negative factor turns the result into a gauge.
    pub fn scale(&mut self, factor: f64) {
        self.zero_count *= factor;
        self.count *= factor;
        self.sum *= factor;
        self.positive_buckets.iter_mut().for_each(|b| *b *= factor);
        self.negative_buckets.iter_mut().for_each(|b| *b *= factor);
        if factor < 0.0 {
            self.counter_reset_hint = CounterResetHint::Gauge;
        }
    }

    /// Divides the count, sum, zero count and every bucket by `divisor`
    /// (`h / scalar`). Dividing by zero removes all buckets (count, sum and
    /// zero count become ±Inf or NaN). A negative divisor turns the result
    /// into a gauge.
    pub fn div(&mut self, divisor: f64) {
        self.zero_count /= divisor;
        self.count /= divisor;
        self.sum /= divisor;
        if divisor == 0.0 {
            self.positive_spans.clear();
            self.positive_buckets.clear();
            self.negative_spans.clear();
            self.negative_buckets.clear();
            return;
        }
        self.positive_buckets.iter_mut().for_each(|b| *b /= divisor);
        self.negative_buckets.iter_mut().for_each(|b| *b /= divisor);
        if divisor < 0.0 {
            self.counter_reset_hint = CounterResetHint::Gauge;
        }
    }

    /// Lowers the resolution to the exponential `target_schema` by merging
    /// buckets. Does nothing for custom buckets or if `target_schema` is not
    /// lower than the current schema.
    pub fn reduce_resolution(&mut self, target_schema: i32) {
        if self.uses_custom_buckets()
            || target_schema == CUSTOM_BUCKETS_SCHEMA
            || target_schema >= self.schema
        {
            return;
        }
        (self.positive_spans, self.positive_buckets) = reduce_side(
            &self.positive_spans,
            &self.positive_buckets,
            self.schema,
            target_schema,
        );
        (self.negative_spans, self.negative_buckets) = reduce_side(
            &self.negative_spans,
            &self.negative_buckets,
            self.schema,
            target_schema,
        );
        self.schema = target_schema;
    }
}

#[cfg(test)]
mod tests {
    use super::super::notation::parse_test_notation;
    use super::*;

    fn h(text: &str) -> FloatHistogram {
        parse_test_notation(text).unwrap().0
    }

    fn assert_same(actual: &FloatHistogram, expected: &str) {
        let expected = h(expected);
        assert!(
            actual.approx_eq(&expected, 1e-9),
            "got {actual}, want {expected}"
        );
    }

    #[test]
    fn add_same_layout() {
        let (sum, reconciled) = h("{{schema:0 sum:5 count:4 buckets:[1 2 1]}}")
            .add(&h("{{schema:0 sum:2 count:1 buckets:[1] offset:1}}"))
            .unwrap();
        assert!(!reconciled);
        assert_same(&sum, "{{schema:0 sum:7 count:5 buckets:[1 3 1]}}");
    }

    #[test]
    fn add_reduces_the_finer_schema() {
        // Schema 1 buckets 1..=4 are (1,√2] (√2,2] (2,2√2] (2√2,4]; at
        // schema 0 they become (1,2] (2,4].
        let fine = h("{{schema:1 count:10 sum:20 buckets:[1 2 3 4] offset:1}}");
        let coarse = h("{{schema:0 count:3 sum:5 buckets:[1 1 1]}}");
        let expected = "{{schema:0 count:13 sum:25 buckets:[1 4 8]}}";
        assert_same(&fine.add(&coarse).unwrap().0, expected);
        assert_same(&coarse.add(&fine).unwrap().0, expected);
    }

    #[test]
    fn add_reduces_negative_buckets_too() {
        let fine = h("{{schema:2 count:4 n_buckets:[1 1 1 1] n_offset:1}}");
        let coarse = h("{{schema:0 count:1 n_buckets:[1] n_offset:1}}");
        assert_same(
            &fine.add(&coarse).unwrap().0,
            "{{schema:0 count:5 n_buckets:[5] n_offset:1}}",
        );
    }

    #[test]
    fn add_widens_the_zero_bucket() {
        // The wider zero bucket [-1, 1] swallows bucket (0.5, 1] of `narrow`.
        let narrow =
            h("{{schema:0 count:6 sum:3 z_bucket:1 z_bucket_w:0.001 buckets:[2 3] offset:0}}");
        let wide = h("{{schema:0 count:2 sum:1 z_bucket:2 z_bucket_w:1}}");
        let expected = "{{schema:0 count:8 sum:4 z_bucket:5 z_bucket_w:1 buckets:[3] offset:1}}";
        assert_same(&narrow.add(&wide).unwrap().0, expected);
        assert_same(&wide.add(&narrow).unwrap().0, expected);
    }

    #[test]
    fn zero_threshold_inside_a_populated_bucket_is_raised() {
        // Threshold 0.75 cuts (0.5, 1]: the zero bucket grows to 1.
        let a = h("{{schema:0 count:3 z_bucket:0 z_bucket_w:0.1 buckets:[3]}}");
        let b = h("{{schema:0 count:1 z_bucket:1 z_bucket_w:0.75}}");
        assert_same(
            &a.add(&b).unwrap().0,
            "{{schema:0 count:4 z_bucket:4 z_bucket_w:1}}",
        );
    }

    #[test]
    fn sub_keeps_hint_logic_and_subtracts() {
        let a = h("{{schema:0 count:5 sum:10 buckets:[2 3] counter_reset_hint:not_reset}}");
        let b = h("{{schema:0 count:1 sum:1 buckets:[0 1] offset:0 counter_reset_hint:not_reset}}");
        let (diff, _) = a.sub(&b).unwrap();
        assert_same(&diff, "{{schema:0 count:4 sum:9 buckets:[2 2]}}");
        assert_eq!(diff.counter_reset_hint, CounterResetHint::NotCounterReset);
        // New buckets from the subtrahend become negative.
        let (diff, _) = b.sub(&a).unwrap();
        assert_same(&diff, "{{schema:0 count:-4 sum:-9 buckets:[-2 -2]}}");
    }

    #[test]
    fn hint_combination() {
        use CounterResetHint::*;
        assert_eq!(combined_hint(Gauge, CounterReset), (Gauge, false));
        assert_eq!(combined_hint(NotCounterReset, Gauge), (Gauge, false));
        assert_eq!(combined_hint(Unknown, CounterReset), (Unknown, false));
        assert_eq!(combined_hint(NotCounterReset, Unknown), (Unknown, false));
        assert_eq!(
            combined_hint(CounterReset, NotCounterReset),
            (Unknown, true)
        );
        assert_eq!(
            combined_hint(CounterReset, CounterReset),
            (CounterReset, false)
        );
        let a = h("{{counter_reset_hint:reset}}");
        let b = h("{{counter_reset_hint:not_reset}}");
        assert!(a.counter_reset_collision(&b));
        assert_eq!(a.add(&b).unwrap().0.counter_reset_hint, Unknown);
    }

    #[test]
    fn mixing_exponential_and_custom_fails() {
        let exp = h("{{schema:0 count:1 buckets:[1]}}");
        let custom = h("{{schema:-53 count:1 buckets:[1] custom_values:[1]}}");
        assert_eq!(
            exp.add(&custom),
            Err(HistogramError::MixedExponentialAndCustom)
        );
        assert_eq!(
            custom.sub(&exp),
            Err(HistogramError::MixedExponentialAndCustom)
        );
    }

    #[test]
    fn custom_buckets_with_equal_bounds() {
        let a = h("{{schema:-53 count:3 sum:3 buckets:[1 2] custom_values:[1 2]}}");
        let b = h("{{schema:-53 count:2 sum:4 buckets:[1 1] offset:1 custom_values:[1 2]}}");
        let (sum, reconciled) = a.add(&b).unwrap();
        assert!(!reconciled);
        assert_same(
            &sum,
            "{{schema:-53 count:5 sum:7 buckets:[1 3 1] custom_values:[1 2]}}",
        );
    }

    #[test]
    fn custom_buckets_with_different_bounds_use_the_common_ones() {
        // Common bounds are [2 4]: buckets (-Inf,1] and (1,2] merge, (4,5]
        // and (5,+Inf] merge into +Inf.
        let a = h("{{schema:-53 count:10 sum:1 buckets:[1 2 3 4] custom_values:[1 2 4]}}");
        let b = h("{{schema:-53 count:6 sum:2 buckets:[1 1 1 1 2] custom_values:[2 3 4 5]}}");
        let (sum, reconciled) = a.add(&b).unwrap();
        assert!(reconciled);
        assert_same(
            &sum,
            "{{schema:-53 count:16 sum:3 buckets:[4 5 7] custom_values:[2 4]}}",
        );
        let (diff, reconciled) = a.sub(&b).unwrap();
        assert!(reconciled);
        assert_same(
            &diff,
            "{{schema:-53 count:4 sum:-1 buckets:[2 1 1] custom_values:[2 4]}}",
        );
    }

    #[test]
    fn custom_buckets_without_common_bounds_collapse_into_inf_bucket() {
        let a = h("{{schema:-53 count:3 buckets:[1 2] custom_values:[1]}}");
        let b = h("{{schema:-53 count:1 buckets:[1] custom_values:[2]}}");
        let (sum, reconciled) = a.add(&b).unwrap();
        assert!(reconciled);
        assert!(sum.custom_values.is_empty());
        assert_same(&sum, "{{schema:-53 count:4 buckets:[4]}}");
    }

    #[test]
    fn scale_and_div() {
        let mut a =
            h("{{schema:0 count:4 sum:6 z_bucket:1 z_bucket_w:0.5 buckets:[1 2] n_buckets:[1]}}");
        a.scale(2.0);
        assert_same(
            &a,
            "{{schema:0 count:8 sum:12 z_bucket:2 z_bucket_w:0.5 buckets:[2 4] n_buckets:[2]}}",
        );
        assert_eq!(a.counter_reset_hint, CounterResetHint::Unknown);
        a.scale(-0.5);
        assert_same(
            &a,
            "{{schema:0 count:-4 sum:-6 z_bucket:-1 z_bucket_w:0.5 buckets:[-1 -2] n_buckets:[-1]}}",
        );
        assert_eq!(a.counter_reset_hint, CounterResetHint::Gauge);
        a.div(-2.0);
        assert_same(
            &a,
            "{{schema:0 count:2 sum:3 z_bucket:0.5 z_bucket_w:0.5 buckets:[0.5 1] n_buckets:[0.5]}}",
        );
        a.div(0.0);
        assert_eq!(a.count, f64::INFINITY);
        assert!(a.positive_buckets.is_empty() && a.negative_spans.is_empty());
    }

    #[test]
    fn reduce_resolution_merges_buckets() {
        let mut a = h("{{schema:2 count:8 buckets:[1 1 1 1 1 1 1 1] offset:-3}}");
        a.reduce_resolution(0);
        // Indices -3..=4 at schema 2 map to 0,0,0,0,1,1,1,1 at schema 0.
        assert_same(&a, "{{schema:0 count:8 buckets:[4 4]}}");
        a.reduce_resolution(1);
        assert_eq!(a.schema, 0);
    }

    #[test]
    fn notation_series_add_from_promql_test_suite() {
        // incr_histogram in native_histograms.test after ten increments.
        let mut cur = h("{{schema:0 sum:4 count:4 buckets:[1 2 1]}}");
        let inc = h("{{sum:2 count:1 buckets:[1] offset:1}}");
        for _ in 0..10 {
            cur = cur.add(&inc).unwrap().0;
        }
        assert_same(&cur, "{{count:14 sum:24 buckets:[1 12 1]}}");
    }

    #[test]
    fn add_of_different_schemas_from_promql_test_suite() {
        let low = h("{{schema:-1 sum:4 count:1 buckets:[1] offset:1}}");
        let high = h("{{schema:0 sum:4 count:4 buckets:[2 2] offset:1}}");
        assert_same(
            &low.add(&high).unwrap().0,
            "{{schema:-1 count:5 sum:8 offset:1 buckets:[5]}}",
        );
    }

    #[test]
    fn sub_from_promql_test_suite() {
        let s0 = "{{schema:0 count:41 sum:2345.6 z_bucket:5 z_bucket_w:0.001 buckets:[1 3 1 2 1 1 1] n_buckets:[0 1 4 2 7 0 0 0 0 5 5 2]}}";
        let s1_0 = "{{schema:0 count:11 sum:1234.5 z_bucket:3 z_bucket_w:0.001 buckets:[0 2 1] n_buckets:[0 0 3 2]}}";
        let s1_1 = "{{schema:1 count:11 sum:1234.5 z_bucket:3 z_bucket_w:0.001 buckets:[0 2 1] n_buckets:[0 0 3 2]}}";
        assert_same(
            &h(s0).sub(&h(s1_0)).unwrap().0,
            "{{schema:0 count:30 sum:1111.1 z_bucket:2 z_bucket_w:0.001 buckets:[1 1 0 2 1 1 1] n_buckets:[0 1 1 0 7 0 0 0 0 5 5 2]}}",
        );
        assert_same(
            &h(s0).sub(&h(s1_1)).unwrap().0,
            "{{schema:0 count:30 sum:1111.1 z_bucket:2 z_bucket_w:0.001 buckets:[1 0 1 2 1 1 1] n_buckets:[0 -2 2 2 7 0 0 0 0 5 5 2]}}",
        );
        assert_same(
            &h(s1_1).sub(&h(s0)).unwrap().0,
            "{{schema:0 count:-30 sum:-1111.1 z_bucket:-2 z_bucket_w:0.001 buckets:[-1 0 -1 -2 -1 -1 -1] n_buckets:[0 2 -2 -2 -7 0 0 0 0 -5 -5 -2]}}",
        );
    }
}
