//! Native histograms in the evaluator: the `histogram_*` functions on native histogram
//! samples, range functions over windows that hold histograms, and the annotations
//! Prometheus gives where floats and histograms meet.

use super::eval::{Evaluator, Series, Steps};
use super::value::Labels;
use crate::metrics::histogram::{CounterResetHint, FloatHistogram, HistogramError, QuantileNote};

/// A result for one window or sample pair.
pub(super) enum Sample {
    F(f64),
    H(FloatHistogram),
}

/// What a range function does with a window that holds histograms.
pub(super) enum WindowOutcome {
    Value(Sample),
    /// No point at this step.
    Nothing,
    /// Compute the float function on the window's floats alone.
    FloatsOnly,
}

pub(super) fn metric_name(labels: &Labels) -> &str {
    labels
        .iter()
        .find(|(name, _)| name == "__name__")
        .map_or("", |(_, value)| value.as_str())
}

/// ` for metric name "x"`, or nothing for a series without a name.
fn for_metric(labels: &Labels) -> String {
    match metric_name(labels) {
        "" => String::new(),
        name => format!(" for metric name {name:?}"),
    }
}

/// A histogram as Prometheus prints it in labels (`count_values`): count, sum and every
/// non-empty bucket with its boundaries, e.g. `{count:3, sum:5, [-0.001,0.001]:1, (1,2]:2}`.
pub(super) fn histogram_text(h: &FloatHistogram) -> String {
    use super::functions::format_float;
    let mut text = format!(
        "{{count:{}, sum:{}",
        format_float(h.count),
        format_float(h.sum)
    );
    for bucket in h.buckets() {
        text.push_str(&format!(
            ", {}{},{}{}:{}",
            if bucket.lower_inclusive { '[' } else { '(' },
            format_float(bucket.lower),
            format_float(bucket.upper),
            if bucket.upper_inclusive { ']' } else { ')' },
            format_float(bucket.count)
        ));
    }
    text.push('}');
    text
}

/// `histogram_count`, `_sum`, `_avg`, `_stddev`, `_stdvar`: one float per histogram
/// sample; float samples are ignored.
pub(super) fn histogram_stat(name: &str, series: Vec<Series>) -> Vec<Series> {
    let stat = |h: &FloatHistogram| match name {
        "histogram_count" => h.count,
        "histogram_sum" => h.sum,
        "histogram_avg" => h.sum / h.count,
        "histogram_stddev" => h.stddev(),
        _ => h.stdvar(),
    };
    series
        .into_iter()
        .filter(|s| !s.hists.is_empty())
        .map(|s| {
            let points = s.hists.iter().map(|(t, h)| (*t, stat(h))).collect();
            Series::floats(s.labels, points, true)
        })
        .collect()
}

/// `histogram_quantile` on the native histogram samples of `s`.
pub(super) fn quantile_points(
    ev: &Evaluator,
    qs: &[f64],
    s: &Series,
    steps: Steps,
) -> Vec<(i64, f64)> {
    s.hists
        .iter()
        .map(|(t, h)| {
            let (value, note) = h.quantile_with_note(qs[steps.index(*t)]);
            match note {
                Some(QuantileNote::NaNResult) => ev.info(format!(
                    "input to histogram_quantile has NaN observations, result is NaN{}",
                    for_metric(&s.labels)
                )),
                Some(QuantileNote::NaNSkew) => ev.info(format!(
                    "input to histogram_quantile has NaN observations, result is skewed higher{}",
                    for_metric(&s.labels)
                )),
                None => {}
            }
            (*t, value)
        })
        .collect()
}

/// `histogram_fraction` on the native histogram samples of `s`.
pub(super) fn fraction_points(
    ev: &Evaluator,
    lowers: &[f64],
    uppers: &[f64],
    s: &Series,
    steps: Steps,
) -> Vec<(i64, f64)> {
    s.hists
        .iter()
        .map(|(t, h)| {
            let index = steps.index(*t);
            let (value, excluded_nans) = h.fraction_with_note(lowers[index], uppers[index]);
            if excluded_nans {
                ev.info(format!(
                    "input to histogram_fraction has NaN observations, which are excluded from all fractions{}",
                    for_metric(&s.labels)
                ));
            }
            (*t, value)
        })
        .collect()
}

/// Where a window lies, for the rate family's extrapolation.
pub(super) struct WindowSpan {
    pub end: i64,
    pub range_ms: i64,
}

/// A range function over a window holding at least one histogram sample (and maybe
/// floats). `None` means no output point.
pub(super) fn range_over_histograms(
    ev: &Evaluator,
    name: &str,
    floats: &[(i64, f64)],
    hists: &[(i64, FloatHistogram)],
    span: &WindowSpan,
    labels: &Labels,
) -> WindowOutcome {
    use WindowOutcome::{FloatsOnly, Nothing, Value};
    let mixed = !floats.is_empty();
    let warn_mixed = || {
        ev.warn(format!(
            "encountered a mix of histograms and floats for metric name {:?}",
            metric_name(labels)
        ))
    };
    let newest_float = floats.last();
    let newest_hist = hists.last();
    match name {
        "count_over_time" => Value(Sample::F((floats.len() + hists.len()) as f64)),
        "present_over_time" => Value(Sample::F(1.0)),
        "last_over_time" => match (newest_float, newest_hist) {
            (Some(f), Some(h)) if f.0 > h.0 => Value(Sample::F(f.1)),
            (_, Some(h)) => Value(Sample::H(h.1.clone())),
            _ => Nothing,
        },
        "first_over_time" => match (floats.first(), hists.first()) {
            (Some(f), Some(h)) if f.0 < h.0 => Value(Sample::F(f.1)),
            (_, Some(h)) => Value(Sample::H(h.1.clone())),
            _ => Nothing,
        },
        "ts_of_last_over_time" => {
            let t = newest_float
                .map_or(i64::MIN, |f| f.0)
                .max(newest_hist.map_or(i64::MIN, |h| h.0));
            Value(Sample::F(t as f64 / 1000.0))
        }
        "ts_of_first_over_time" => {
            let t = floats
                .first()
                .map_or(i64::MAX, |f| f.0)
                .min(hists.first().map_or(i64::MAX, |h| h.0));
            Value(Sample::F(t as f64 / 1000.0))
        }
        "sum_over_time" | "avg_over_time" => {
            if mixed {
                warn_mixed();
                return Nothing;
            }
            let Some(mut sum) =
                sum_histograms(ev, hists.iter().map(|(_, h)| h), labels, "aggregation")
            else {
                return Nothing;
            };
            if name == "avg_over_time" {
                sum.div(hists.len() as f64);
            }
            sum.compact(0);
            Value(Sample::H(sum))
        }
        "rate" | "increase" | "delta" => {
            if mixed {
                warn_mixed();
                return Nothing;
            }
            histogram_rate(ev, name, hists, span, labels).map_or(Nothing, |h| Value(Sample::H(h)))
        }
        "irate" | "idelta" => {
            // Only the newest two samples count: two floats take the float path, a
            // float and a histogram have no result.
            let merged = merge_kinds(floats, hists);
            match merged
                .len()
                .checked_sub(2)
                .map(|at| (merged[at].1, merged[at + 1].1))
            {
                None => return Nothing,
                Some((Kind::F(_), Kind::F(_))) => return FloatsOnly,
                Some((Kind::H(_), Kind::H(_))) => {}
                Some(_) => {
                    warn_mixed();
                    return Nothing;
                }
            }
            let (previous, last) = (&hists[hists.len() - 2], &hists[hists.len() - 1]);
            let is_gauge = |h: &FloatHistogram| h.counter_reset_hint == CounterResetHint::Gauge;
            let metric = metric_name(labels);
            if name == "irate" && (is_gauge(&previous.1) || is_gauge(&last.1)) {
                ev.warn(format!(
                    "this native histogram metric is not a counter: {metric:?}"
                ));
            }
            if name == "idelta" && (!is_gauge(&previous.1) || !is_gauge(&last.1)) {
                ev.warn(format!(
                    "this native histogram metric is not a gauge: {metric:?}"
                ));
            }
            let interval = last.0 - previous.0;
            if interval == 0 {
                return Nothing;
            }
            let is_rate = name == "irate";
            let mut result = if is_rate && last.1.detect_reset(&previous.1) {
                last.1.clone()
            } else {
                match last.1.sub(&previous.1) {
                    Ok((difference, reconciled)) => {
                        if reconciled {
                            ev.info(
                                "mismatched custom buckets were reconciled during subtraction"
                                    .into(),
                            );
                        }
                        difference
                    }
                    Err(error) => {
                        warn_histogram_error(ev, &error, labels);
                        return Nothing;
                    }
                }
            };
            if is_rate {
                result.div(interval as f64 / 1000.0);
            }
            result.counter_reset_hint = CounterResetHint::Gauge;
            result.compact(0);
            Value(Sample::H(result))
        }
        "changes" | "resets" => {
            let merged = merge_kinds(floats, hists);
            let mut count = 0usize;
            for pair in merged.windows(2) {
                let counted = match (pair[0].1, pair[1].1) {
                    (Kind::F(a), Kind::F(b)) => {
                        if name == "changes" {
                            !(a == b || (a.is_nan() && b.is_nan()))
                        } else {
                            b < a
                        }
                    }
                    (Kind::H(a), Kind::H(b)) => {
                        if name == "changes" {
                            !a.equals(b)
                        } else {
                            b.detect_reset(a)
                        }
                    }
                    // A switch between floats and histograms is a change, and a reset.
                    _ => true,
                };
                count += usize::from(counted);
            }
            Value(Sample::F(count as f64))
        }
        _ => {
            // Float-only functions: histograms are left out, with a note when floats
            // remain to compute on.
            if !mixed {
                return Nothing;
            }
            ev.info(format!(
                "ignored histograms in a range containing both floats and histograms for metric name {:?}",
                metric_name(labels)
            ));
            FloatsOnly
        }
    }
}

#[derive(Clone, Copy)]
enum Kind<'a> {
    F(f64),
    H(&'a FloatHistogram),
}

fn merge_kinds<'a>(
    floats: &[(i64, f64)],
    hists: &'a [(i64, FloatHistogram)],
) -> Vec<(i64, Kind<'a>)> {
    let mut merged: Vec<(i64, Kind<'a>)> = floats
        .iter()
        .map(|(t, v)| (*t, Kind::F(*v)))
        .chain(hists.iter().map(|(t, h)| (*t, Kind::H(h))))
        .collect();
    merged.sort_by_key(|(t, _)| *t);
    merged
}

/// Sums histograms; reports (and gives `None` for) a mix of exponential and custom
/// buckets, notes reconciled custom bounds and conflicting counter reset hints.
pub(super) fn sum_histograms<'a>(
    ev: &Evaluator,
    mut hists: impl Iterator<Item = &'a FloatHistogram>,
    labels: &Labels,
    reconciled_during: &str,
) -> Option<FloatHistogram> {
    let mut sum = hists.next()?.clone();
    for h in hists {
        if sum.counter_reset_collision(h) {
            ev.warn("conflicting counter resets during histogram aggregation".into());
        }
        match sum.add(h) {
            Ok((total, reconciled)) => {
                if reconciled {
                    ev.info(format!(
                        "mismatched custom buckets were reconciled during {reconciled_during}"
                    ));
                }
                sum = total;
            }
            Err(error) => {
                warn_histogram_error(ev, &error, labels);
                return None;
            }
        }
    }
    Some(sum)
}

pub(super) fn warn_histogram_error(ev: &Evaluator, error: &HistogramError, labels: &Labels) {
    match error {
        HistogramError::MixedExponentialAndCustom => ev.warn(format!(
            "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {:?}",
            metric_name(labels)
        )),
    }
}

/// `rate`, `increase`, `delta` over histogram samples: the last minus the first, with
/// counter resets added back for the counter functions, extrapolated like floats.
fn histogram_rate(
    ev: &Evaluator,
    name: &str,
    hists: &[(i64, FloatHistogram)],
    span: &WindowSpan,
    labels: &Labels,
) -> Option<FloatHistogram> {
    if hists.len() < 2 {
        return None;
    }
    let is_counter = name != "delta";
    let metric = metric_name(labels);
    let is_gauge = |h: &FloatHistogram| h.counter_reset_hint == CounterResetHint::Gauge;
    if is_counter && hists.iter().any(|(_, h)| is_gauge(h)) {
        ev.warn(format!(
            "this native histogram metric is not a counter: {metric:?}"
        ));
    }
    if !is_counter && hists.iter().any(|(_, h)| !is_gauge(h)) {
        ev.warn(format!(
            "this native histogram metric is not a gauge: {metric:?}"
        ));
    }
    let (first, last) = (&hists[0], &hists[hists.len() - 1]);
    let mut result = match last.1.sub(&first.1) {
        Ok((difference, reconciled)) => {
            if reconciled {
                ev.info("mismatched custom buckets were reconciled during subtraction".into());
            }
            difference
        }
        Err(error) => {
            warn_histogram_error(ev, &error, labels);
            return None;
        }
    };
    if is_counter {
        for pair in hists.windows(2) {
            if pair[1].1.detect_reset(&pair[0].1) {
                match result.add(&pair[0].1) {
                    Ok((total, _)) => result = total,
                    Err(error) => {
                        warn_histogram_error(ev, &error, labels);
                        return None;
                    }
                }
            }
        }
    }
    let factor = super::functions::extrapolation_factor(
        span.end,
        span.range_ms,
        first.0,
        last.0,
        hists.len(),
        None,
        name == "rate",
    );
    result.scale(factor);
    result.counter_reset_hint = CounterResetHint::Gauge;
    result.compact(0);
    Some(result)
}

/// One side of a binary operation on single samples.
#[derive(Clone, Copy)]
pub(super) enum Operand<'a> {
    F(f64),
    H(&'a FloatHistogram),
}

impl Operand<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            Operand::F(_) => "float",
            Operand::H(_) => "histogram",
        }
    }
}

/// A binary operator applied to two samples of which at least one is a histogram:
/// `+`/`-` of two histograms, scaling by `*` and `/`, and `==`/`!=` between histograms.
/// Anything else has no result and an info note. A comparison result without `bool`
/// is the left sample (the filter keeps it).
pub(super) fn binary_op(
    ev: &Evaluator,
    op_text: &str,
    left: Operand<'_>,
    right: Operand<'_>,
    return_bool: bool,
    labels: &Labels,
) -> Option<Sample> {
    let incompatible = || {
        ev.info(format!(
            "incompatible sample types encountered for binary operator {op_text:?}: {} {op_text} {}",
            left.type_name(),
            right.type_name()
        ));
        None
    };
    match (op_text, left, right) {
        ("+" | "-", Operand::H(a), Operand::H(b)) => {
            let outcome = if op_text == "+" { a.add(b) } else { a.sub(b) };
            match outcome {
                Ok((mut result, reconciled)) => {
                    if reconciled {
                        let during = if op_text == "+" {
                            "addition"
                        } else {
                            "subtraction"
                        };
                        ev.info(format!(
                            "mismatched custom buckets were reconciled during {during}"
                        ));
                    }
                    if op_text == "-" {
                        result.counter_reset_hint = CounterResetHint::Gauge;
                    }
                    result.compact(0);
                    Some(Sample::H(result))
                }
                Err(error) => {
                    warn_histogram_error(ev, &error, labels);
                    None
                }
            }
        }
        ("*", Operand::H(h), Operand::F(factor)) | ("*", Operand::F(factor), Operand::H(h)) => {
            let mut result = h.clone();
            result.scale(factor);
            result.compact(0);
            Some(Sample::H(result))
        }
        ("/", Operand::H(h), Operand::F(divisor)) => {
            let mut result = h.clone();
            result.div(divisor);
            result.compact(0);
            Some(Sample::H(result))
        }
        ("==" | "!=", Operand::H(a), Operand::H(b)) => {
            let equal = a.equals(b);
            let keep = equal == (op_text == "==");
            if return_bool {
                Some(Sample::F(f64::from(u8::from(keep))))
            } else if keep {
                Some(Sample::H(a.clone()))
            } else {
                None
            }
        }
        _ => incompatible(),
    }
}
