//! The `{{...}}` histogram literal of the PromQL test language: parsing,
//! printing, and the `{{a}}+{{b}}xN` series expansion.

use std::collections::HashSet;
use std::fmt;

use super::float_histogram::{CounterResetHint, FloatHistogram, Span};

/// Parses a histogram literal such as
/// `{{schema:0 sum:5 count:4 buckets:[1 2 1] counter_reset_hint:gauge}}`.
/// The surrounding braces are optional. Also returns whether a
/// `counter_reset_hint` was given (expected results only compare the hint
/// then).
pub fn parse_test_notation(text: &str) -> Result<(FloatHistogram, bool), String> {
    let trimmed = text.trim();
    let body = match trimmed.strip_prefix("{{") {
        Some(rest) => rest
            .strip_suffix("}}")
            .ok_or_else(|| format!("histogram literal {trimmed:?} does not end with }}}}"))?,
        None => trimmed,
    };

    let mut histogram = FloatHistogram::default();
    let mut hint_given = false;
    let mut seen = HashSet::new();
    let mut positive: (Vec<f64>, i32) = (Vec::new(), 0);
    let mut negative: (Vec<f64>, i32) = (Vec::new(), 0);

    let mut rest = body.trim_start();
    while !rest.is_empty() {
        let colon = rest
            .find(':')
            .ok_or_else(|| format!("expected key:value in histogram, found {rest:?}"))?;
        let key = rest[..colon].trim();
        if !seen.insert(key.to_string()) {
            return Err(format!("duplicate key \"{key}\" in histogram"));
        }
        rest = rest[colon + 1..].trim_start();
        let value;
        if let Some(list) = rest.strip_prefix('[') {
            let end = list
                .find(']')
                .ok_or_else(|| format!("unterminated list for {key} in histogram"))?;
            value = &list[..end];
            rest = &list[end + 1..];
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            value = &rest[..end];
            rest = &rest[end..];
        }
        rest = rest.trim_start();

        match key {
            "schema" => histogram.schema = parse_int(key, value)?,
            "sum" => histogram.sum = parse_float(key, value)?,
            "count" => histogram.count = parse_float(key, value)?,
            "z_bucket" => histogram.zero_count = parse_float(key, value)?,
            "z_bucket_w" => histogram.zero_threshold = parse_float(key, value)?,
            "buckets" => positive.0 = parse_list(key, value)?,
            "offset" => positive.1 = parse_int(key, value)?,
            "n_buckets" => negative.0 = parse_list(key, value)?,
            "n_offset" => negative.1 = parse_int(key, value)?,
            "custom_values" => histogram.custom_values = parse_list(key, value)?,
            "counter_reset_hint" => {
                hint_given = true;
                histogram.counter_reset_hint = match value {
                    "unknown" => CounterResetHint::Unknown,
                    "reset" => CounterResetHint::CounterReset,
                    "not_reset" => CounterResetHint::NotCounterReset,
                    "gauge" => CounterResetHint::Gauge,
                    other => {
                        return Err(format!(
                            "error parsing counter_reset_hint: unknown value {other:?}"
                        ));
                    }
                };
            }
            other => return Err(format!("unknown key {other:?} in histogram")),
        }
    }

    let single_span = |(buckets, offset): (Vec<f64>, i32)| {
        let spans = if buckets.is_empty() {
            Vec::new()
        } else {
            vec![Span {
                offset,
                length: buckets.len() as u32,
            }]
        };
        (spans, buckets)
    };
    (histogram.positive_spans, histogram.positive_buckets) = single_span(positive);
    (histogram.negative_spans, histogram.negative_buckets) = single_span(negative);
    Ok((histogram, hint_given))
}

/// Number syntax of the test language: decimal or hexadecimal integers,
/// floats with optional exponent, and Inf / NaN with optional sign.
fn parse_number(text: &str) -> Option<f64> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = if let Some(hex) = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
    {
        i64::from_str_radix(hex, 16).ok()? as f64
    } else if unsigned.starts_with(['+', '-']) {
        return None;
    } else {
        unsigned.parse::<f64>().ok()?
    };
    Some(if negative { -magnitude } else { magnitude })
}

fn parse_float(key: &str, value: &str) -> Result<f64, String> {
    parse_number(value).ok_or_else(|| format!("error parsing {key} number: {value:?}"))
}

fn parse_int(key: &str, value: &str) -> Result<i32, String> {
    let number =
        parse_number(value).ok_or_else(|| format!("error parsing {key} number: {value:?}"))?;
    if number.fract() != 0.0 || number < f64::from(i32::MIN) || number > f64::from(i32::MAX) {
        return Err(format!("error parsing {key}: {value:?} is not an integer"));
    }
    Ok(number as i32)
}

fn parse_list(key: &str, value: &str) -> Result<Vec<f64>, String> {
    value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|item| !item.is_empty())
        .map(|item| parse_float(key, item))
        .collect()
}

/// Expands the series notation `{{base}}+{{delta}}xN` (or `-` with
/// `subtract`): N+1 histograms, each the previous one plus (minus) `delta`.
pub fn expand_test_series(
    base: &FloatHistogram,
    delta: &FloatHistogram,
    times: usize,
    subtract: bool,
) -> Result<Vec<FloatHistogram>, String> {
    let mut series = Vec::with_capacity(times + 1);
    series.push(base.clone());
    let mut current = base.clone();
    for _ in 0..times {
        if current.schema > delta.schema {
            return Err(format!(
                "error combining histograms: cannot merge from schema {} to {}",
                delta.schema, current.schema
            ));
        }
        let combined = if subtract {
            current.sub(delta)
        } else {
            current.add(delta)
        };
        current = combined.map_err(|e| e.to_string())?.0;
        series.push(current.clone());
    }
    Ok(series)
}

/// Formats a float like Go's `%g`: shortest representation, switching to
/// exponent form (`1e+06`, `1e-05`) for exponents below -4 or above 5.
pub(crate) fn format_go_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if !(-4..6).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    format!("{value}")
}

fn format_list(values: &[f64]) -> String {
    let items: Vec<String> = values.iter().map(|&v| format_go_float(v)).collect();
    format!("[{}]", items.join(" "))
}

/// Prints the histogram in test notation, with each side compacted into a
/// single span (empty buckets fill the gaps), e.g.
/// `{{schema:1 count:4 sum:5 buckets:[1 0 1]}}`.
impl fmt::Display for FloatHistogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut h = self.clone();
        h.compact(usize::MAX);
        let mut parts: Vec<String> = Vec::new();
        if h.schema != 0 {
            parts.push(format!("schema:{}", h.schema));
        }
        let scalars = [
            ("count", h.count),
            ("sum", h.sum),
            ("z_bucket", h.zero_count),
            ("z_bucket_w", h.zero_threshold),
        ];
        for (key, value) in scalars {
            if value != 0.0 {
                parts.push(format!("{key}:{}", format_go_float(value)));
            }
        }
        if h.uses_custom_buckets() {
            parts.push(format!("custom_values:{}", format_list(&h.custom_values)));
        }
        let hint = match h.counter_reset_hint {
            CounterResetHint::Unknown => None,
            CounterResetHint::CounterReset => Some("reset"),
            CounterResetHint::NotCounterReset => Some("not_reset"),
            CounterResetHint::Gauge => Some("gauge"),
        };
        if let Some(hint) = hint {
            parts.push(format!("counter_reset_hint:{hint}"));
        }
        let sides = [
            ("offset", "buckets", &h.positive_spans, &h.positive_buckets),
            (
                "n_offset",
                "n_buckets",
                &h.negative_spans,
                &h.negative_buckets,
            ),
        ];
        for (offset_key, buckets_key, spans, buckets) in sides {
            if let Some(first) = spans.first().filter(|s| s.offset != 0) {
                parts.push(format!("{offset_key}:{}", first.offset));
            }
            if !buckets.is_empty() {
                parts.push(format!("{buckets_key}:{}", format_list(buckets)));
            }
        }
        write!(f, "{{{{{}}}}}", parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_keys() {
        let (h, hint_given) = parse_test_notation(
            "{{schema:1 sum:-2.5 count:1e3 z_bucket:4 z_bucket_w:0.001 buckets:[1 2] offset:-1 n_buckets:[3] n_offset:2 counter_reset_hint:gauge}}",
        )
        .unwrap();
        assert!(hint_given);
        assert_eq!(h.schema, 1);
        assert_eq!(h.sum, -2.5);
        assert_eq!(h.count, 1000.0);
        assert_eq!(h.zero_count, 4.0);
        assert_eq!(h.zero_threshold, 0.001);
        assert_eq!(
            h.positive_spans,
            vec![Span {
                offset: -1,
                length: 2
            }]
        );
        assert_eq!(h.positive_buckets, vec![1.0, 2.0]);
        assert_eq!(
            h.negative_spans,
            vec![Span {
                offset: 2,
                length: 1
            }]
        );
        assert_eq!(h.negative_buckets, vec![3.0]);
        assert_eq!(h.counter_reset_hint, CounterResetHint::Gauge);
    }

    #[test]
    fn parses_empty_and_special_values() {
        let (h, hint_given) = parse_test_notation("{{}}").unwrap();
        assert_eq!(h, FloatHistogram::default());
        assert!(!hint_given);
        let (h, _) = parse_test_notation("{{sum:NaN count:+Inf buckets:[-Inf 0x10 Inf]}}").unwrap();
        assert!(h.sum.is_nan());
        assert_eq!(h.count, f64::INFINITY);
        assert_eq!(
            h.positive_buckets,
            vec![f64::NEG_INFINITY, 16.0, f64::INFINITY]
        );
        let (h, _) = parse_test_notation("{{schema:-53 custom_values:[-2 3]}}").unwrap();
        assert_eq!(h.custom_values, vec![-2.0, 3.0]);
        assert!(h.positive_spans.is_empty());
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse_test_notation("{{schema:1 schema:2}}").is_err());
        assert!(parse_test_notation("{{foo:1}}").is_err());
        assert!(parse_test_notation("{{count:x}}").is_err());
        assert!(parse_test_notation("{{schema:1.5}}").is_err());
        assert!(parse_test_notation("{{buckets:[1 2}}").is_err());
        assert!(parse_test_notation("{{counter_reset_hint:maybe}}").is_err());
        assert!(parse_test_notation("{{count:1").is_err());
    }

    #[test]
    fn prints_like_the_test_language() {
        let text = "{{schema:1 count:4 sum:5 buckets:[1 2 1] offset:-1 n_buckets:[3] n_offset:2 counter_reset_hint:gauge}}";
        let (h, _) = parse_test_notation(text).unwrap();
        assert_eq!(
            h.to_string(),
            "{{schema:1 count:4 sum:5 counter_reset_hint:gauge offset:-1 buckets:[1 2 1] n_offset:2 n_buckets:[3]}}"
        );
        assert_eq!(FloatHistogram::default().to_string(), "{{}}");
        let (custom, _) = parse_test_notation("{{schema:-53 custom_values:[-2 3]}}").unwrap();
        assert_eq!(custom.to_string(), "{{schema:-53 custom_values:[-2 3]}}");
        let (gappy, _) = parse_test_notation("{{buckets:[1 0 0 2]}}").unwrap();
        assert_eq!(gappy.to_string(), "{{buckets:[1 0 0 2]}}");
        let (round_trip, _) = parse_test_notation(&h.to_string()).unwrap();
        assert!(round_trip.approx_eq(&h, 0.0));
    }

    #[test]
    fn go_float_formatting() {
        assert_eq!(format_go_float(1.0), "1");
        assert_eq!(format_go_float(0.001), "0.001");
        assert_eq!(format_go_float(0.00001), "1e-05");
        assert_eq!(format_go_float(123456.0), "123456");
        assert_eq!(format_go_float(1234567.0), "1.234567e+06");
        assert_eq!(format_go_float(-2.5), "-2.5");
        assert_eq!(format_go_float(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn expands_series() {
        let (base, _) = parse_test_notation("{{schema:0 sum:4 count:4 buckets:[1 2 1]}}").unwrap();
        let (delta, _) = parse_test_notation("{{sum:2 count:1 buckets:[1] offset:1}}").unwrap();
        let series = expand_test_series(&base, &delta, 10, false).unwrap();
        assert_eq!(series.len(), 11);
        let (expected, _) = parse_test_notation("{{count:14 sum:24 buckets:[1 12 1]}}").unwrap();
        assert!(series[10].approx_eq(&expected, 1e-9));
        let down = expand_test_series(&series[10], &delta, 10, true).unwrap();
        assert!(down[10].approx_eq(&base, 1e-9));
        let (fine, _) = parse_test_notation("{{schema:1}}").unwrap();
        assert!(expand_test_series(&fine, &base, 1, false).is_err());
    }
}
