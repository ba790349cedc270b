//! Native histogram samples of remote write (1.0 `prometheus.Histogram` and 2.0
//! `io.prometheus.write.v2.Histogram`, which share their wire layout up to field 16)
//! turned into the TSDB's float histograms, with the structural checks Prometheus makes.

use prost::Message;

use super::proto_v2::histogram::{Count, ResetHint, ZeroCount};
use super::proto_v2::{BucketSpan, Histogram};
use crate::metrics::histogram::{
    CounterResetHint, FloatHistogram, Span, CUSTOM_BUCKETS_SCHEMA, EXPONENTIAL_SCHEMA_MAX,
    EXPONENTIAL_SCHEMA_MIN,
};

/// Decodes one histogram message; returns its timestamp and value, or what is wrong
/// with it.
pub fn decode_histogram(bytes: &[u8]) -> Result<(i64, FloatHistogram), String> {
    let message = Histogram::decode(bytes).map_err(|error| format!("histogram: {error}"))?;
    let schema = message.schema;
    let custom = schema == CUSTOM_BUCKETS_SCHEMA;
    if !custom && !(EXPONENTIAL_SCHEMA_MIN..=EXPONENTIAL_SCHEMA_MAX).contains(&schema) {
        return Err(format!("histogram has an invalid schema {schema}"));
    }
    if !custom && !message.custom_values.is_empty() {
        return Err("histogram has custom bounds but an exponential schema".to_string());
    }
    if custom
        && !message
            .custom_values
            .windows(2)
            .all(|pair| pair[0] < pair[1])
    {
        return Err("histogram custom bounds are not increasing".to_string());
    }
    if message.zero_threshold.is_nan() || message.zero_threshold < 0.0 {
        return Err(format!(
            "histogram zero threshold {} is negative or NaN",
            message.zero_threshold
        ));
    }
    // Bucket indices: the first span's offset is the first index, later offsets are
    // gaps (never negative); all indices fit an i32, and custom buckets fit their bounds.
    for (side, spans) in [
        ("positive", &message.positive_spans),
        ("negative", &message.negative_spans),
    ] {
        let mut next_index = 0i64;
        for (position, span) in spans.iter().enumerate() {
            if position > 0 && span.offset < 0 {
                return Err(format!(
                    "histogram {side} span {position} has a negative offset"
                ));
            }
            let start = next_index + i64::from(span.offset);
            next_index = start + i64::from(span.length);
            let highest = custom.then(|| message.custom_values.len() as i64 + 1);
            let fits = match highest {
                Some(count) => start >= 0 && next_index <= count,
                None => start >= i64::from(i32::MIN) && next_index <= i64::from(i32::MAX),
            };
            if !fits {
                return Err(format!("histogram {side} bucket indices out of range"));
            }
        }
    }
    let integer = matches!(message.count, Some(Count::CountInt(_)));
    let positive_buckets = bucket_counts(
        integer,
        &message.positive_deltas,
        &message.positive_counts,
        &message.positive_spans,
        "positive",
    )?;
    let negative_buckets = bucket_counts(
        integer,
        &message.negative_deltas,
        &message.negative_counts,
        &message.negative_spans,
        "negative",
    )?;
    if custom && !negative_buckets.is_empty() {
        return Err("custom-bucket histogram has negative buckets".to_string());
    }
    let zero_count = match message.zero_count {
        Some(ZeroCount::ZeroCountInt(count)) => count as f64,
        Some(ZeroCount::ZeroCountFloat(count)) => count,
        None => 0.0,
    };
    let count = match message.count {
        Some(Count::CountInt(count)) => count as f64,
        Some(Count::CountFloat(count)) => count,
        None => 0.0,
    };
    if count < 0.0 || zero_count < 0.0 {
        return Err("histogram has a negative count".to_string());
    }
    let observed: f64 =
        zero_count + positive_buckets.iter().sum::<f64>() + negative_buckets.iter().sum::<f64>();
    // Integer counts are exact; the count may exceed the buckets by NaN observations.
    if integer && count < observed {
        return Err(format!(
            "histogram count {count} is below the {observed} observations in its buckets"
        ));
    }
    let histogram = FloatHistogram {
        counter_reset_hint: match ResetHint::try_from(message.reset_hint) {
            Ok(ResetHint::Yes) => CounterResetHint::CounterReset,
            Ok(ResetHint::No) => CounterResetHint::NotCounterReset,
            Ok(ResetHint::Gauge) => CounterResetHint::Gauge,
            _ => CounterResetHint::Unknown,
        },
        schema,
        zero_threshold: message.zero_threshold,
        zero_count,
        count,
        sum: message.sum,
        positive_spans: spans(&message.positive_spans),
        negative_spans: spans(&message.negative_spans),
        positive_buckets,
        negative_buckets,
        custom_values: message.custom_values,
    };
    Ok((message.timestamp, histogram))
}

/// A float histogram as a 1.0 message (float counts), for remote read responses.
pub fn encode_histogram_v1(timestamp: i64, h: &FloatHistogram) -> super::proto_v1::Histogram {
    use super::proto_v1::{self as v1, histogram as v1h};
    let spans = |spans: &[Span]| -> Vec<v1::BucketSpan> {
        spans
            .iter()
            .map(|span| v1::BucketSpan {
                offset: span.offset,
                length: span.length,
            })
            .collect()
    };
    v1::Histogram {
        count: Some(v1h::Count::CountFloat(h.count)),
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: Some(v1h::ZeroCount::ZeroCountFloat(h.zero_count)),
        negative_spans: spans(&h.negative_spans),
        negative_counts: h.negative_buckets.clone(),
        positive_spans: spans(&h.positive_spans),
        positive_counts: h.positive_buckets.clone(),
        reset_hint: match h.counter_reset_hint {
            CounterResetHint::Unknown => v1h::ResetHint::Unknown,
            CounterResetHint::CounterReset => v1h::ResetHint::Yes,
            CounterResetHint::NotCounterReset => v1h::ResetHint::No,
            CounterResetHint::Gauge => v1h::ResetHint::Gauge,
        } as i32,
        timestamp,
        custom_values: h.custom_values.clone(),
        ..v1::Histogram::default()
    }
}

fn spans(spans: &[BucketSpan]) -> Vec<Span> {
    spans
        .iter()
        .map(|span| Span {
            offset: span.offset,
            length: span.length,
        })
        .collect()
}

/// Absolute bucket counts: integer histograms send deltas from the previous bucket,
/// float histograms absolute counts. Their number must match the spans.
fn bucket_counts(
    integer: bool,
    deltas: &[i64],
    counts: &[f64],
    spans: &[BucketSpan],
    side: &str,
) -> Result<Vec<f64>, String> {
    let expected: u64 = spans.iter().map(|span| u64::from(span.length)).sum();
    let buckets: Vec<f64> = if integer {
        let mut current = 0i64;
        deltas
            .iter()
            .map(|delta| {
                current = current.wrapping_add(*delta);
                current as f64
            })
            .collect()
    } else {
        counts.to_vec()
    };
    if buckets.len() as u64 != expected {
        return Err(format!(
            "histogram spans need {expected} {side} buckets, got {}",
            buckets.len()
        ));
    }
    if buckets.iter().any(|count| *count < 0.0) {
        return Err(format!("histogram has a negative {side} bucket count"));
    }
    Ok(buckets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_deltas_become_absolute_counts() {
        let message = Histogram {
            count: Some(Count::CountInt(7)),
            sum: 12.5,
            schema: 1,
            zero_threshold: 0.001,
            zero_count: Some(ZeroCount::ZeroCountInt(1)),
            positive_spans: vec![BucketSpan {
                offset: -1,
                length: 3,
            }],
            positive_deltas: vec![1, 2, -1],
            reset_hint: ResetHint::Gauge as i32,
            timestamp: 1_000,
            ..Histogram::default()
        };
        let (t, h) = decode_histogram(&message.encode_to_vec()).unwrap();
        assert_eq!(t, 1_000);
        assert_eq!(h.positive_buckets, vec![1.0, 3.0, 2.0]);
        assert_eq!((h.count, h.zero_count, h.sum), (7.0, 1.0, 12.5));
        assert_eq!(h.counter_reset_hint, CounterResetHint::Gauge);
    }

    #[test]
    fn remote_read_encoding_round_trips() {
        let message = Histogram {
            count: Some(Count::CountInt(7)),
            sum: 12.5,
            schema: 1,
            zero_count: Some(ZeroCount::ZeroCountInt(1)),
            positive_spans: vec![BucketSpan {
                offset: -1,
                length: 3,
            }],
            positive_deltas: vec![1, 2, -1],
            timestamp: 5,
            ..Histogram::default()
        };
        let (t, h) = decode_histogram(&message.encode_to_vec()).unwrap();
        let encoded = encode_histogram_v1(t, &h).encode_to_vec();
        assert_eq!(decode_histogram(&encoded).unwrap(), (t, h));
    }

    #[test]
    fn malformed_histograms_are_named() {
        let wrong_spans = Histogram {
            count: Some(Count::CountFloat(2.0)),
            schema: 0,
            positive_spans: vec![BucketSpan {
                offset: 0,
                length: 2,
            }],
            positive_counts: vec![2.0],
            ..Histogram::default()
        };
        let error = decode_histogram(&wrong_spans.encode_to_vec()).unwrap_err();
        assert!(error.contains("need 2 positive buckets, got 1"), "{error}");
        let bad_schema = Histogram {
            schema: 9,
            ..Histogram::default()
        };
        assert!(decode_histogram(&bad_schema.encode_to_vec())
            .unwrap_err()
            .contains("invalid schema 9"));
        let spans = |offsets: &[i32]| {
            offsets
                .iter()
                .map(|offset| BucketSpan {
                    offset: *offset,
                    length: 1,
                })
                .collect::<Vec<_>>()
        };
        let backwards = Histogram {
            count: Some(Count::CountInt(2)),
            positive_spans: spans(&[3, -2]),
            positive_deltas: vec![1, 0],
            ..Histogram::default()
        };
        assert!(decode_histogram(&backwards.encode_to_vec())
            .unwrap_err()
            .contains("negative offset"));
        let overflowing = Histogram {
            count: Some(Count::CountInt(2)),
            positive_spans: spans(&[i32::MAX, 5]),
            positive_deltas: vec![1, 0],
            ..Histogram::default()
        };
        assert!(decode_histogram(&overflowing.encode_to_vec())
            .unwrap_err()
            .contains("out of range"));
        let beyond_bounds = Histogram {
            count: Some(Count::CountFloat(1.0)),
            schema: -53,
            custom_values: vec![1.0],
            positive_spans: spans(&[2]),
            positive_counts: vec![1.0],
            ..Histogram::default()
        };
        assert!(decode_histogram(&beyond_bounds.encode_to_vec())
            .unwrap_err()
            .contains("out of range"));
        let undercounted = Histogram {
            count: Some(Count::CountInt(1)),
            positive_spans: spans(&[0]),
            positive_deltas: vec![3],
            ..Histogram::default()
        };
        assert!(decode_histogram(&undercounted.encode_to_vec())
            .unwrap_err()
            .contains("below the 3 observations"));
        let nan_threshold = Histogram {
            zero_threshold: f64::NAN,
            ..Histogram::default()
        };
        assert!(decode_histogram(&nan_threshold.encode_to_vec()).is_err());
    }
}
