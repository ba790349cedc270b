//! Statistics estimated from a histogram's buckets: quantiles, fractions of
//! observations in a range, and standard deviation / variance.

use super::float_histogram::{Bucket, FloatHistogram};

/// Extra information PromQL attaches (as an info annotation) to a quantile
/// computed from a histogram with NaN observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantileNote {
    /// "input to histogram_quantile has NaN observations, result is NaN"
    NaNResult,
    /// "input to histogram_quantile has NaN observations, result is skewed higher"
    NaNSkew,
}

/// Neumaier-compensated summation step; returns the new sum and compensation.
fn compensated_add(increment: f64, sum: f64, compensation: f64) -> (f64, f64) {
    let total = sum + increment;
    let compensation = if total.is_infinite() {
        0.0
    } else if sum.abs() >= increment.abs() {
        compensation + ((sum - total) + increment)
    } else {
        compensation + ((increment - total) + sum)
    };
    (total, compensation)
}

impl FloatHistogram {
    /// `histogram_quantile(q, h)`: the estimated q-quantile. Exponential
    /// buckets are interpolated on a logarithmic scale, custom buckets and
    /// the zero bucket linearly. q < 0 gives -Inf, q > 1 gives +Inf, a NaN q
    /// or an empty histogram gives NaN.
    pub fn quantile(&self, q: f64) -> f64 {
        self.quantile_with_note(q).0
    }

    /// Like [`Self::quantile`], also telling whether NaN observations
    /// affected the result.
    pub fn quantile_with_note(&self, q: f64) -> (f64, Option<QuantileNote>) {
        if q < 0.0 {
            return (f64::NEG_INFINITY, None);
        }
        if q > 1.0 {
            return (f64::INFINITY, None);
        }
        if self.count == 0.0 || q.is_nan() {
            return (f64::NAN, None);
        }

        // NaN observations count in `count` but in no bucket, so with a NaN
        // sum only the ascending walk finds the right rank.
        let ascending = self.sum.is_nan() || q < 0.5;
        let (buckets, mut rank) = if ascending {
            (self.all_bucket_list(), q * self.count)
        } else {
            (self.all_bucket_list_reversed(), (1.0 - q) * self.count)
        };

        let mut bucket = Bucket {
            lower: 0.0,
            upper: 0.0,
            lower_inclusive: false,
            upper_inclusive: false,
            count: 0.0,
            index: 0,
        };
        let mut count = 0.0;
        let mut position = buckets.len();
        for (i, b) in buckets.iter().enumerate() {
            bucket = *b;
            if b.count == 0.0 {
                continue;
            }
            count += b.count;
            if count >= rank {
                position = i + 1;
                break;
            }
        }

        if !self.uses_custom_buckets() && bucket.lower < 0.0 && bucket.upper > 0.0 {
            // In the zero bucket: with buckets on one side only, the other
            // half of the zero bucket is assumed empty.
            if self.negative_buckets.is_empty() && !self.positive_buckets.is_empty() {
                bucket.lower = 0.0;
            } else if self.positive_buckets.is_empty() && !self.negative_buckets.is_empty() {
                bucket.upper = 0.0;
            }
        } else if self.uses_custom_buckets() {
            if bucket.lower == f64::NEG_INFINITY {
                if bucket.upper <= 0.0 {
                    return (bucket.upper, None);
                }
                bucket.lower = 0.0;
            } else if bucket.upper == f64::INFINITY {
                return (bucket.lower, None);
            }
        }
        // Rounding could push the running count above the total.
        count = count.min(self.count);
        if count < rank {
            if self.sum.is_nan() {
                return (f64::NAN, Some(QuantileNote::NaNResult));
            }
            return (bucket.upper, None);
        }

        if ascending {
            rank -= count - bucket.count;
        } else {
            rank = count - rank;
        }
        let mut note = None;
        if self.sum.is_nan() {
            let bucketed: f64 = count + buckets[position..].iter().map(|b| b.count).sum::<f64>();
            if bucketed < self.count {
                note = Some(QuantileNote::NaNSkew);
            }
        }

        let fraction = rank / bucket.count;
        if self.uses_custom_buckets() || (bucket.lower <= 0.0 && bucket.upper >= 0.0) {
            return (
                bucket.lower + (bucket.upper - bucket.lower) * fraction,
                note,
            );
        }
        // Exponential buckets have equal widths on a logarithmic scale.
        let log_lower = bucket.lower.abs().log2();
        let log_upper = bucket.upper.abs().log2();
        if bucket.lower > 0.0 {
            (
                (log_lower + (log_upper - log_lower) * fraction).exp2(),
                note,
            )
        } else {
            (
                -(log_upper + (log_lower - log_upper) * (1.0 - fraction)).exp2(),
                note,
            )
        }
    }

    /// `histogram_fraction(lower, upper, h)`: the estimated fraction of
    /// observations between `lower` and `upper`. NaN for an empty histogram
    /// or NaN bounds, 0 if `lower >= upper`.
    pub fn fraction(&self, lower: f64, upper: f64) -> f64 {
        self.fraction_with_note(lower, upper).0
    }

    /// Like [`Self::fraction`], also returning true if NaN observations were
    /// excluded (PromQL reports "input to histogram_fraction has NaN
    /// observations, which are excluded from all fractions").
    pub fn fraction_with_note(&self, lower: f64, upper: f64) -> (f64, bool) {
        if self.count == 0.0 || lower.is_nan() || upper.is_nan() {
            return (f64::NAN, false);
        }
        if lower >= upper {
            return (0.0, false);
        }
        let buckets = self.all_bucket_list();
        let custom = self.uses_custom_buckets();
        let (mut count, mut rank) = (0.0, 0.0);
        let (mut lower_rank, mut upper_rank) = (0.0, 0.0);
        let (mut lower_set, mut upper_set) = (false, false);
        let mut position = buckets.len();

        for (i, original) in buckets.iter().enumerate() {
            let mut b = *original;
            count += b.count;
            let mut in_zero_bucket = false;
            if b.lower <= 0.0 && b.upper >= 0.0 {
                in_zero_bucket = true;
                if self.negative_buckets.is_empty() && !self.positive_buckets.is_empty() {
                    b.lower = 0.0;
                } else if self.positive_buckets.is_empty() && !self.negative_buckets.is_empty() {
                    b.upper = 0.0;
                }
            }
            let linear = custom || in_zero_bucket;
            let rank_at = |value: f64| {
                // Buckets reaching down to -Inf cannot be interpolated; they
                // count fully, just as a +Inf bucket contributes nothing.
                if linear && b.lower == f64::NEG_INFINITY {
                    b.count
                } else {
                    rank + b.count * b.fraction_below(value, linear)
                }
            };
            if !lower_set && b.lower >= lower {
                lower_rank = rank;
                lower_set = true;
            }
            if !upper_set && b.lower >= upper {
                upper_rank = rank;
                upper_set = true;
            }
            if lower_set && upper_set {
                position = i + 1;
                break;
            }
            if !lower_set && b.lower < lower && b.upper > lower {
                lower_rank = rank_at(lower);
                lower_set = true;
            }
            if !upper_set && b.lower < upper && b.upper > upper {
                upper_rank = rank_at(upper);
                upper_set = true;
            }
            if lower_set && upper_set {
                position = i + 1;
                break;
            }
            rank += b.count;
        }

        let mut nan_observations = false;
        if self.sum.is_nan() {
            count += buckets[position..].iter().map(|b| b.count).sum::<f64>();
            nan_observations = count < self.count;
        } else {
            count = self.count;
        }
        if !lower_set || lower_rank > count {
            lower_rank = count;
        }
        if !upper_set || upper_rank > count {
            upper_rank = count;
        }
        ((upper_rank - lower_rank) / self.count, nan_observations)
    }

    /// `histogram_stdvar(h)`: estimated variance of the observations, taking
    /// each bucket's observations to sit at its geometric mean (exponential
    /// buckets), arithmetic mean (custom buckets) or at zero (zero bucket).
    pub fn stdvar(&self) -> f64 {
        let mean = self.sum / self.count;
        let (mut variance, mut compensation) = (0.0, 0.0);
        for bucket in self.all_bucket_list() {
            if bucket.count == 0.0 {
                continue;
            }
            let value = if self.uses_custom_buckets() {
                (bucket.upper + bucket.lower) / 2.0
            } else if bucket.lower <= 0.0 && bucket.upper >= 0.0 {
                0.0
            } else {
                let geometric_mean = (bucket.upper * bucket.lower).sqrt();
                if bucket.upper < 0.0 {
                    -geometric_mean
                } else {
                    geometric_mean
                }
            };
            let delta = value - mean;
            (variance, compensation) =
                compensated_add(bucket.count * delta * delta, variance, compensation);
        }
        (variance + compensation) / self.count
    }

    /// `histogram_stddev(h)`: square root of [`Self::stdvar`].
    pub fn stddev(&self) -> f64 {
        self.stdvar().sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::super::notation::parse_test_notation;
    use super::*;

    fn h(text: &str) -> FloatHistogram {
        parse_test_notation(text).unwrap().0
    }

    fn close(actual: f64, expected: f64) -> bool {
        super::super::float_histogram::almost_equal(actual, expected, 1e-6)
    }

    #[track_caller]
    fn assert_close(actual: f64, expected: f64) {
        assert!(close(actual, expected), "got {actual}, want {expected}");
    }

    #[test]
    fn quantile_special_arguments() {
        let single = h("{{schema:0 sum:5 count:4 buckets:[1 2 1]}}");
        assert_eq!(single.quantile(-0.1), f64::NEG_INFINITY);
        assert_eq!(single.quantile(1.1), f64::INFINITY);
        assert!(single.quantile(f64::NAN).is_nan());
        assert!(h("{{}}").quantile(0.5).is_nan());
        assert_eq!(h("{{}}").quantile(-1.0), f64::NEG_INFINITY);
    }

    #[test]
    fn quantile_of_single_histogram_from_promql_test_suite() {
        let single = h("{{schema:0 sum:5 count:4 buckets:[1 2 1]}}");
        assert_close(single.quantile(0.5), std::f64::consts::SQRT_2);
        assert_close(single.quantile(1.0), 4.0);
        assert_close(single.quantile(0.0), 0.5);
    }

    #[test]
    fn quantile_in_zero_bucket_and_negative_buckets() {
        // Only positive buckets: the zero bucket is taken as [0, threshold].
        let positive = h("{{schema:0 count:4 z_bucket:2 z_bucket_w:0.5 buckets:[2]}}");
        assert_close(positive.quantile(0.25), 0.25);
        // Negative bucket (-2, -1] interpolated logarithmically.
        let negative = h("{{schema:0 count:2 n_buckets:[2] n_offset:1}}");
        assert_close(negative.quantile(0.5), -std::f64::consts::SQRT_2);
        assert_close(negative.quantile(0.0), -2.0);
    }

    #[test]
    fn quantile_of_custom_buckets() {
        let custom = h("{{schema:-53 count:10 sum:20 buckets:[2 4 4] custom_values:[1 5]}}");
        // First bucket (-Inf, 1] is treated as (0, 1].
        assert_close(custom.quantile(0.1), 0.5);
        assert_close(custom.quantile(0.4), 3.0);
        // Quantiles in the +Inf bucket return its lower bound.
        assert_close(custom.quantile(0.9), 5.0);
        let below_zero = h("{{schema:-53 count:2 buckets:[2] custom_values:[-1]}}");
        assert_close(below_zero.quantile(0.5), -1.0);
    }

    #[test]
    fn quantile_with_nan_observations_from_promql_test_suite() {
        let all_nan = h("{{schema:0 count:3 sum:NaN}}");
        assert_eq!(
            all_nan.quantile_with_note(1.0).1,
            Some(QuantileNote::NaNResult)
        );
        assert!(all_nan.quantile(0.81).is_nan());
        let some_nan = h("{{schema:0 count:15 sum:NaN buckets:[12]}}");
        let (value, note) = some_nan.quantile_with_note(0.8);
        assert_close(value, 1.0);
        assert_eq!(note, Some(QuantileNote::NaNSkew));
        assert_close(some_nan.quantile(0.4), 0.7071067811865475);
        assert!(some_nan.quantile(0.81).is_nan());
    }

    #[test]
    fn fraction_from_promql_test_suite() {
        let single = h("{{schema:0 sum:5 count:4 buckets:[1 2 1]}}");
        assert_close(single.fraction(1.0, 2.0), 0.5);
        assert_close(single.fraction(0.0, 8.0), 1.0);
        assert!(h("{{}}")
            .fraction(f64::NEG_INFINITY, f64::INFINITY)
            .is_nan());
        assert!(single.fraction(f64::NAN, 1.0).is_nan());
        assert_eq!(single.fraction(2.0, 1.0), 0.0);

        let all_nan = h("{{schema:0 count:3 sum:NaN}}");
        assert_eq!(
            all_nan.fraction_with_note(f64::NEG_INFINITY, 0.7071067811865475),
            (0.0, true)
        );
        let some_nan = h("{{schema:0 count:15 sum:NaN buckets:[12]}}");
        let (value, note) = some_nan.fraction_with_note(f64::NEG_INFINITY, 0.7071067811865475);
        assert_close(value, 0.4);
        assert!(note);
        assert_close(some_nan.fraction(f64::NEG_INFINITY, f64::INFINITY), 0.8);
    }

    #[test]
    fn fraction_is_the_inverse_of_quantile() {
        let h = h(
            "{{schema:1 count:12 sum:30 z_bucket:2 z_bucket_w:0.001 buckets:[1 2 3 2] n_buckets:[1 1] offset:1}}",
        );
        for q in [0.1, 0.25, 0.5, 0.75, 0.9] {
            let v = h.quantile(q);
            assert_close(h.fraction(f64::NEG_INFINITY, v), q);
        }
    }

    #[test]
    fn fraction_of_custom_buckets() {
        let custom = h("{{schema:-53 count:10 sum:20 buckets:[2 4 4] custom_values:[1 5]}}");
        assert_close(custom.fraction(1.0, 3.0), 0.2);
        // The -Inf bucket is not interpolated, +Inf contributes nothing above 5.
        assert_close(custom.fraction(f64::NEG_INFINITY, 0.5), 0.1);
        assert_close(custom.fraction(6.0, f64::INFINITY), 0.4);
    }

    #[test]
    fn stddev_and_stdvar() {
        // Observations at the geometric means √2 and 2√2 of (1,2] and (2,4].
        let h1 = h("{{schema:0 count:2 sum:4.242640687119286 buckets:[1 1] offset:1}}");
        assert_close(h1.stdvar(), 0.5);
        assert_close(h1.stddev(), 0.5f64.sqrt());
        // Zero bucket observations count as 0.
        let h2 = h(
            "{{schema:0 count:2 sum:1.4142135623730951 z_bucket:1 z_bucket_w:0.001 buckets:[1] offset:1}}",
        );
        assert_close(h2.stdvar(), 0.5);
        // Custom buckets use the arithmetic mean.
        let h3 = h("{{schema:-53 count:2 sum:4 buckets:[1 1] offset:1 custom_values:[0 2 4]}}");
        assert_close(h3.stdvar(), 1.0);
        assert!(h("{{}}").stdvar().is_nan());
    }

    #[test]
    fn stddev_from_promql_test_suite() {
        let low_res = h("{{schema:2 count:4 sum:10 buckets:[1 0 0 0 1 0 0 1 1]}}");
        assert_close(low_res.stddev(), 1.0787993180043811);
        assert_close(low_res.stdvar(), 1.163807968526718);
        let high_res = h("{{schema:8 count:10 sum:10 buckets:[1 2 3 4]}}");
        assert_close(high_res.stddev(), 0.0048960313898237465);
        assert_close(high_res.stdvar(), 2.3971123370139447e-05);
    }
}
