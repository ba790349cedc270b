//! Counter reset detection between consecutive samples of a counter
//! histogram.

use super::arithmetic::map_custom_buckets;
use super::bounds::{bucket_bound, index_in_coarser_schema};
use super::float_histogram::{indexed_buckets, CounterResetHint, FloatHistogram, Span};

/// `(index, count)` pairs of one side at `target_schema`, without the
/// leading buckets whose upper bound is at most `threshold` (those belong to
/// the zero bucket).
fn side_at_schema(
    spans: &[Span],
    counts: &[f64],
    schema: i32,
    target_schema: i32,
    threshold: f64,
) -> Vec<(i32, f64)> {
    let mut merged: Vec<(i32, f64)> = Vec::new();
    for (index, count) in indexed_buckets(spans, counts) {
        let target = index_in_coarser_schema(index, schema, target_schema);
        match merged.last_mut() {
            Some(last) if last.0 == target => last.1 += count,
            _ => merged.push((target, count)),
        }
    }
    if threshold != 0.0 {
        let first_kept = merged
            .iter()
            .position(|&(index, _)| bucket_bound(index, target_schema, &[]) > threshold)
            .unwrap_or(merged.len());
        merged.drain(..first_kept);
    }
    merged
}

/// True if any populated bucket of `previous` is missing from `current` or
/// has a higher count there. Both must be ascending by index.
fn any_bucket_decreased(current: &[(i32, f64)], previous: &[(i32, f64)]) -> bool {
    let mut current = current.iter().peekable();
    for &(index, previous_count) in previous {
        while current.next_if(|&&(i, _)| i < index).is_some() {}
        match current.peek() {
            Some(&&(i, count)) if i == index => {
                if count < previous_count {
                    return true;
                }
            }
            _ => {
                if previous_count != 0.0 {
                    return true;
                }
            }
        }
    }
    false
}

impl FloatHistogram {
    /// True if going from `previous` to `self` implies a counter reset.
    ///
    /// An explicit CounterReset / NotCounterReset hint on `self` decides on
    /// its own. Otherwise (also for gauges, which PromQL then treats like
    /// counters) it is a reset if the count or any bucket decreased or a
    /// populated bucket vanished, after bringing `previous` to the schema and
    /// zero threshold of `self`. A higher schema, a lower zero threshold, a
    /// zero threshold cutting through a populated bucket of `previous`, or a
    /// switch to custom buckets is always a reset. Custom buckets with
    /// different bounds are compared on the bounds both have in common.
    pub fn detect_reset(&self, previous: &FloatHistogram) -> bool {
        match self.counter_reset_hint {
            CounterResetHint::CounterReset => return true,
            CounterResetHint::NotCounterReset => return false,
            CounterResetHint::Unknown | CounterResetHint::Gauge => {}
        }
        if self.count < previous.count {
            return true;
        }
        if self.uses_custom_buckets() {
            if !previous.uses_custom_buckets() {
                return true;
            }
            if self.custom_values != previous.custom_values {
                return self.custom_buckets_decreased(previous);
            }
        }
        if self.schema > previous.schema {
            return true;
        }
        if self.zero_threshold < previous.zero_threshold {
            return true;
        }
        let (previous_zero_count, needed_threshold) =
            previous.zero_count_for_larger_threshold(self.zero_threshold);
        if needed_threshold != self.zero_threshold {
            return true;
        }
        if self.zero_count < previous_zero_count {
            return true;
        }
        let sides = [
            (
                &self.positive_spans,
                &self.positive_buckets,
                &previous.positive_spans,
                &previous.positive_buckets,
            ),
            (
                &self.negative_spans,
                &self.negative_buckets,
                &previous.negative_spans,
                &previous.negative_buckets,
            ),
        ];
        // Custom buckets have no zero bucket to skip.
        let threshold = if self.uses_custom_buckets() {
            0.0
        } else {
            self.zero_threshold
        };
        sides
            .iter()
            .any(|(spans, counts, prev_spans, prev_counts)| {
                let current = side_at_schema(spans, counts, self.schema, self.schema, threshold);
                let before = side_at_schema(
                    prev_spans,
                    prev_counts,
                    previous.schema,
                    self.schema,
                    threshold,
                );
                any_bucket_decreased(&current, &before)
            })
    }

    /// Reset check for custom buckets with different bounds: both are summed
    /// onto their common bounds and compared there.
    fn custom_buckets_decreased(&self, previous: &FloatHistogram) -> bool {
        let common: Vec<f64> = self
            .custom_values
            .iter()
            .copied()
            .filter(|bound| previous.custom_values.contains(bound))
            .collect();
        let mut current = vec![0.0; common.len() + 1];
        let mut before = vec![0.0; common.len() + 1];
        map_custom_buckets(
            &self.positive_spans,
            &self.positive_buckets,
            &self.custom_values,
            &common,
            1.0,
            &mut current,
        );
        map_custom_buckets(
            &previous.positive_spans,
            &previous.positive_buckets,
            &previous.custom_values,
            &common,
            1.0,
            &mut before,
        );
        current.iter().zip(&before).any(|(now, then)| now < then)
    }
}

#[cfg(test)]
mod tests {
    use super::super::notation::parse_test_notation;
    use super::*;

    fn h(text: &str) -> FloatHistogram {
        parse_test_notation(text).unwrap().0
    }

    fn reset(previous: &str, current: &str) -> bool {
        h(current).detect_reset(&h(previous))
    }

    #[test]
    fn growing_counter_is_not_a_reset() {
        assert!(!reset(
            "{{schema:0 count:4 sum:5 buckets:[1 2 1]}}",
            "{{schema:0 count:6 sum:4 buckets:[1 3 1 1]}}"
        ));
    }

    #[test]
    fn decreasing_count_or_bucket_is_a_reset() {
        assert!(reset("{{count:4 buckets:[4]}}", "{{count:3 buckets:[3]}}"));
        assert!(reset(
            "{{count:4 buckets:[2 2]}}",
            "{{count:5 buckets:[1 4]}}"
        ));
        assert!(reset("{{count:4 z_bucket:2}}", "{{count:5 z_bucket:1}}"));
    }

    #[test]
    fn vanished_populated_bucket_is_a_reset_but_empty_one_is_not() {
        assert!(reset(
            "{{count:2 buckets:[1 1]}}",
            "{{count:2 buckets:[2]}}"
        ));
        assert!(!reset(
            "{{count:2 buckets:[2 0]}}",
            "{{count:2 buckets:[2]}}"
        ));
    }

    #[test]
    fn hints_decide_on_their_own() {
        assert!(reset("{{count:1}}", "{{count:2 counter_reset_hint:reset}}"));
        assert!(!reset(
            "{{count:5}}",
            "{{count:2 counter_reset_hint:not_reset}}"
        ));
        assert!(reset("{{count:5}}", "{{count:2 counter_reset_hint:gauge}}"));
    }

    #[test]
    fn schema_changes() {
        // Higher resolution is always a reset.
        assert!(reset(
            "{{schema:0 count:1 buckets:[1]}}",
            "{{schema:1 count:2 buckets:[2]}}"
        ));
        // Lower resolution compares merged buckets.
        assert!(!reset(
            "{{schema:1 count:3 buckets:[1 2] offset:1}}",
            "{{schema:0 count:3 buckets:[3] offset:1}}"
        ));
        assert!(reset(
            "{{schema:1 count:3 buckets:[1 2] offset:1}}",
            "{{schema:0 count:3 buckets:[2 1] offset:1}}"
        ));
    }

    #[test]
    fn zero_threshold_changes() {
        assert!(reset(
            "{{count:1 z_bucket_w:0.5 z_bucket:1}}",
            "{{count:1 z_bucket_w:0.25 z_bucket:1}}"
        ));
        // Bucket (0.5, 1] moves into the widened zero bucket.
        assert!(!reset(
            "{{count:3 z_bucket_w:0.1 z_bucket:1 buckets:[2]}}",
            "{{count:3 z_bucket_w:1 z_bucket:3}}"
        ));
        // New threshold would cut (0.5, 1] which is populated.
        assert!(reset(
            "{{count:3 z_bucket_w:0.1 z_bucket:1 buckets:[2]}}",
            "{{count:3 z_bucket_w:0.75 z_bucket:3}}"
        ));
    }

    #[test]
    fn custom_bucket_changes() {
        assert!(reset(
            "{{count:1 buckets:[1]}}",
            "{{schema:-53 count:1 buckets:[1] custom_values:[1]}}"
        ));
        assert!(!reset(
            "{{schema:-53 count:3 buckets:[1 1 1] custom_values:[1 2]}}",
            "{{schema:-53 count:3 buckets:[2 1] custom_values:[2]}}"
        ));
        assert!(reset(
            "{{schema:-53 count:3 buckets:[1 1 1] custom_values:[1 2]}}",
            "{{schema:-53 count:3 buckets:[1 2] custom_values:[2]}}"
        ));
    }
}
