//! `histogram_quantile` over classic histograms: `_bucket` series grouped by their labels
//! without `le`, interpolated linearly inside the bucket holding the rank.

use std::collections::HashMap;

use super::eval::{by_step, Evaluator, OutputBuilder, Series, Steps};
use super::value::Labels;

/// Relative difference below which two neighbouring cumulative counts are taken as equal
/// (floating-point noise, not a decrease).
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

pub(super) fn histogram_quantile(
    ev: &Evaluator,
    qs: &[f64],
    series: Vec<Series>,
    steps: Steps,
) -> Vec<Series> {
    let (classic, native) = split_native(ev, series);
    let native = native.iter().map(|s| {
        Series::floats(
            s.labels.clone(),
            super::native::quantile_points(ev, qs, s, steps),
            true,
        )
    });
    let mut result: Vec<Series> = native.collect();
    result.extend(per_histogram(ev, classic, steps, |step_index, buckets, labels| {
        let (value, fixed) = bucket_quantile(qs[step_index], buckets);
        if fixed {
            ev.info(format!(
                "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {:?}",
                metric_name(labels)
            ));
        }
        value
    }));
    result
}

/// `histogram_fraction(lower, upper, buckets)`: the estimated share of observations
/// between the bounds.
pub(super) fn histogram_fraction(
    ev: &Evaluator,
    lowers: &[f64],
    uppers: &[f64],
    series: Vec<Series>,
    steps: Steps,
) -> Vec<Series> {
    let (classic, native) = split_native(ev, series);
    let mut result: Vec<Series> = native
        .iter()
        .map(|s| {
            let points = super::native::fraction_points(ev, lowers, uppers, s, steps);
            Series::floats(s.labels.clone(), points, true)
        })
        .collect();
    result.extend(per_histogram(
        ev,
        classic,
        steps,
        |step_index, buckets, _| bucket_fraction(lowers[step_index], uppers[step_index], buckets),
    ));
    result
}

/// Splits the input into classic bucket series (float samples) and native histogram
/// series (histogram samples). A native series whose labels equal a classic histogram's
/// (its buckets' labels without `le`) is ambiguous: Prometheus warns and drops both.
fn split_native(ev: &Evaluator, series: Vec<Series>) -> (Vec<Series>, Vec<Series>) {
    let mut classic = Vec::new();
    let mut native = Vec::new();
    for mut s in series {
        if !s.hists.is_empty() {
            let mut hist_only = s.clone();
            hist_only.points.clear();
            native.push(hist_only);
            s.hists.clear();
        }
        if !s.points.is_empty() {
            classic.push(s);
        }
    }
    let classic_keys: std::collections::HashSet<Labels> = classic
        .iter()
        .filter(|s| s.labels.iter().any(|(name, _)| name == "le"))
        .map(|s| {
            s.labels
                .iter()
                .filter(|(name, _)| name != "le" && name != "__name__")
                .cloned()
                .collect()
        })
        .collect();
    let key = |labels: &Labels| -> Labels {
        labels
            .iter()
            .filter(|(name, _)| name != "__name__")
            .cloned()
            .collect()
    };
    let ambiguous: std::collections::HashSet<Labels> = native
        .iter()
        .map(|s| key(&s.labels))
        .filter(|labels| classic_keys.contains(labels))
        .collect();
    if ambiguous.is_empty() {
        return (classic, native);
    }
    for s in &native {
        if ambiguous.contains(&key(&s.labels)) {
            ev.warn(format!(
                "vector contains a mix of classic and native histograms for metric name {:?}",
                metric_name(&s.labels)
            ));
        }
    }
    native.retain(|s| !ambiguous.contains(&key(&s.labels)));
    classic.retain(|s| {
        let without_le: Labels = s
            .labels
            .iter()
            .filter(|(name, _)| name != "le" && name != "__name__")
            .cloned()
            .collect();
        !ambiguous.contains(&without_le)
    });
    (classic, native)
}

/// Groups `_bucket` series into histograms (labels without `le`) and calls `compute`
/// with each histogram's `(upper bound, cumulative count)` pairs at each step.
fn per_histogram(
    ev: &Evaluator,
    series: Vec<Series>,
    steps: Steps,
    mut compute: impl FnMut(usize, &mut [(f64, f64)], &Labels) -> f64,
) -> Vec<Series> {
    let mut groups: HashMap<Labels, u32> = HashMap::new();
    let mut group_labels: Vec<Labels> = Vec::new();
    // Per input series: (group, upper bound), or None when `le` is missing or malformed.
    let buckets: Vec<Option<(u32, f64)>> = series
        .iter()
        .map(|s| {
            let le = s.labels.iter().find(|(name, _)| name == "le")?;
            let Some(upper) = parse_bound(&le.1) else {
                ev.warn(format!(
                    "bucket label \"le\" is missing or has a malformed value of {:?} for metric name {:?}",
                    le.1,
                    metric_name(&s.labels)
                ));
                return None;
            };
            let labels: Labels = s.labels.iter().filter(|(name, _)| name != "le").cloned().collect();
            let next = group_labels.len() as u32;
            let group = *groups.entry(labels.clone()).or_insert_with(|| {
                group_labels.push(labels);
                next
            });
            Some((group, upper))
        })
        .collect();
    for s in &series {
        if !s.labels.iter().any(|(name, _)| name == "le") {
            ev.warn(format!(
                "bucket label \"le\" is missing or has a malformed value of \"\" for metric name {:?}",
                metric_name(&s.labels)
            ));
        }
    }
    let table = by_step(&series, steps);
    let mut out: OutputBuilder<u32> = OutputBuilder::new();
    let mut per_group: Vec<Vec<(f64, f64)>> = vec![Vec::new(); group_labels.len()];
    for (step_index, samples) in table.iter().enumerate() {
        let mut touched: Vec<u32> = Vec::new();
        for &(index, v) in samples {
            if let Some((group, upper)) = buckets[index as usize] {
                if per_group[group as usize].is_empty() {
                    touched.push(group);
                }
                per_group[group as usize].push((upper, v));
            }
        }
        let t = steps.time(step_index);
        for group in touched {
            let mut group_buckets = std::mem::take(&mut per_group[group as usize]);
            let value = compute(
                step_index,
                &mut group_buckets,
                &group_labels[group as usize],
            );
            out.push(
                group,
                || (group_labels[group as usize].clone(), true),
                t,
                value,
            );
        }
    }
    out.series
}

fn metric_name(labels: &Labels) -> &str {
    labels
        .iter()
        .find(|(name, _)| name == "__name__")
        .map(|(_, value)| value.as_str())
        .unwrap_or("")
}

fn parse_bound(text: &str) -> Option<f64> {
    match text.trim() {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

fn bucket_fraction(lower: f64, upper: f64, buckets: &mut [(f64, f64)]) -> f64 {
    if lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|last| last.0 != f64::INFINITY) {
        return f64::NAN;
    }
    let total = buckets[buckets.len() - 1].1;
    if total == 0.0 {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let mut inside = 0.0;
    let mut previous_bound = f64::NEG_INFINITY;
    let mut previous_count = 0.0;
    for (index, &(bound, cumulative)) in buckets.iter().enumerate() {
        // The first bucket starts at 0 when its bound is positive (observations are
        // assumed non-negative then), else at -Inf.
        let low = if index == 0 && bound > 0.0 {
            0.0
        } else {
            previous_bound
        };
        let count = cumulative - previous_count;
        let (from, to) = (lower.max(low), upper.min(bound));
        if to > from {
            if low.is_finite() && bound.is_finite() {
                inside += count * (to - from) / (bound - low);
            } else if (lower <= low && upper >= bound)
                || (bound == f64::INFINITY && upper == f64::INFINITY)
                || (low == f64::NEG_INFINITY && lower == f64::NEG_INFINITY)
            {
                // A bucket of infinite width cannot be interpolated: it counts whole when
                // the range reaches its infinite end (or covers it entirely).
                inside += count;
            }
        }
        previous_bound = bound;
        previous_count = cumulative;
    }
    inside / total
}

/// The q-quantile of cumulative `(upper bound, count)` buckets, and whether the counts had
/// to be forced monotonic.
fn bucket_quantile(q: f64, buckets: &mut [(f64, f64)]) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|last| last.0 != f64::INFINITY) {
        return (f64::NAN, false);
    }
    // Buckets with the same bound (e.g. "1" and "1.0") are added together.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for &(upper, count) in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.0 == upper => last.1 += count,
            _ => merged.push((upper, count)),
        }
    }
    let buckets = merged;
    let fixed = ensure_monotonic(&mut buckets.clone());
    let mut buckets = buckets;
    ensure_monotonic(&mut buckets);
    if buckets.len() < 2 {
        return (f64::NAN, fixed);
    }
    let observations = buckets[buckets.len() - 1].1;
    if observations == 0.0 {
        return (f64::NAN, fixed);
    }
    let mut rank = q * observations;
    let b = buckets.partition_point(|bucket| bucket.1 < rank);
    if b == buckets.len() - 1 {
        return (buckets[buckets.len() - 2].0, fixed);
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return (buckets[0].0, fixed);
    }
    let (mut start, end, mut count) = (0.0, buckets[b].0, buckets[b].1);
    if b > 0 {
        start = buckets[b - 1].0;
        count -= buckets[b - 1].1;
        rank -= buckets[b - 1].1;
    }
    (start + (end - start) * (rank / count), fixed)
}

/// Raises counts that dip below an earlier bucket's; tiny relative dips are noise and are
/// smoothed without counting as a fix.
fn ensure_monotonic(buckets: &mut [(f64, f64)]) -> bool {
    let mut fixed = false;
    let mut previous = match buckets.first() {
        Some(first) => first.1,
        None => return false,
    };
    for bucket in buckets.iter_mut().skip(1) {
        let current = bucket.1;
        if current == previous {
            continue;
        }
        if (current - previous).abs() <= SMALL_DELTA_TOLERANCE * current.abs().max(previous.abs()) {
            bucket.1 = previous;
            continue;
        }
        if current < previous {
            bucket.1 = previous;
            fixed = true;
            continue;
        }
        previous = current;
    }
    fixed
}
