//! Conversion of classic histograms (`_bucket{le=...}`, `_count`, `_sum`
//! series) into native histograms with custom buckets.

use super::float_histogram::{FloatHistogram, Span, CUSTOM_BUCKETS_SCHEMA};

impl FloatHistogram {
    /// Builds a custom-buckets histogram from one sample of a classic
    /// histogram. `upper_bounds` are the `le` values and `cumulative` the
    /// matching bucket samples, in any order (a repeated bound keeps its last
    /// count). A missing +Inf bucket is taken to hold `count` observations;
    /// without a `_count` series pass `None` and the +Inf bucket's value is
    /// used. The +Inf bound itself is not stored in `custom_values`.
    ///
    /// Fails if the +Inf bucket disagrees with `count`, or the inputs have
    /// different lengths or NaN bounds.
    pub fn from_classic(
        upper_bounds: &[f64],
        cumulative: &[f64],
        count: Option<f64>,
        sum: f64,
    ) -> Result<FloatHistogram, String> {
        if upper_bounds.len() != cumulative.len() {
            return Err(format!(
                "{} bucket bounds but {} bucket counts",
                upper_bounds.len(),
                cumulative.len()
            ));
        }
        if upper_bounds.iter().any(|b| b.is_nan()) {
            return Err("bucket bound is NaN".to_string());
        }
        let mut pairs: Vec<(f64, f64)> = upper_bounds
            .iter()
            .copied()
            .zip(cumulative.iter().copied())
            .collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut buckets: Vec<(f64, f64)> = Vec::with_capacity(pairs.len() + 1);
        for (bound, value) in pairs {
            match buckets.last_mut() {
                Some(last) if last.0 == bound => last.1 = value,
                _ => buckets.push((bound, value)),
            }
        }

        let count = match (count, buckets.last()) {
            (Some(count), _) => count,
            (None, Some(&(_, last))) => last,
            (None, None) => 0.0,
        };
        if buckets
            .last()
            .is_none_or(|&(bound, _)| bound != f64::INFINITY)
        {
            buckets.push((f64::INFINITY, count));
        }
        let inf_count = buckets[buckets.len() - 1].1;
        if inf_count != count {
            return Err(format!(
                "count mismatch: count={count} != le=+Inf count={inf_count}"
            ));
        }

        let mut previous = 0.0;
        let counts: Vec<f64> = buckets
            .iter()
            .map(|&(_, cumulative)| {
                let in_bucket = cumulative - previous;
                previous = cumulative;
                in_bucket
            })
            .collect();
        let mut histogram = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            count,
            sum,
            positive_spans: vec![Span {
                offset: 0,
                length: counts.len() as u32,
            }],
            positive_buckets: counts,
            custom_values: buckets[..buckets.len() - 1]
                .iter()
                .map(|&(bound, _)| bound)
                .collect(),
            ..Default::default()
        };
        histogram.compact(0);
        Ok(histogram)
    }
}

#[cfg(test)]
mod tests {
    use super::super::notation::parse_test_notation;
    use super::*;

    #[test]
    fn converts_cumulative_buckets() {
        // testhistogram2 of histograms.test at its tenth step.
        let h = FloatHistogram::from_classic(
            &[0.0, 2.0, 4.0, 6.0, f64::INFINITY],
            &[0.0, 10.0, 20.0, 30.0, 30.0],
            None,
            0.0,
        )
        .unwrap();
        let (expected, _) = parse_test_notation(
            "{{schema:-53 count:30 buckets:[10 10 10] offset:1 custom_values:[0 2 4 6]}}",
        )
        .unwrap();
        assert!(h.approx_eq(&expected, 0.0), "{h}");
        assert_eq!(h.quantile(1.0 / 6.0), 1.0);
        assert_eq!(h.quantile(0.5), 3.0);
        assert_eq!(h.quantile(5.0 / 6.0), 5.0);
    }

    #[test]
    fn unsorted_input_and_missing_inf_bucket() {
        let h = FloatHistogram::from_classic(&[0.2, 0.1], &[3.0, 1.0], Some(4.0), 1.5).unwrap();
        assert_eq!(h.custom_values, vec![0.1, 0.2]);
        assert_eq!(h.positive_buckets, vec![1.0, 2.0, 1.0]);
        assert_eq!(h.count, 4.0);
        assert_eq!(h.sum, 1.5);
    }

    #[test]
    fn count_mismatch_is_an_error() {
        assert!(
            FloatHistogram::from_classic(&[1.0, f64::INFINITY], &[1.0, 2.0], Some(3.0), 0.0)
                .is_err()
        );
    }
}
