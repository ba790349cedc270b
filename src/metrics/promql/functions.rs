//! The function library: instant-vector functions (math, clamp, dates, labels, sorting),
//! range-vector functions (`rate` family, `*_over_time`, regression) and the special
//! ones (`absent`, `scalar`, `vector`, `time`, `timestamp`).

use promql_parser::parser::{Call, Expr};

use super::aggregate::{quantile_of, KahanSum};
use super::error::QueryError;
use super::eval::{EvalResult, Evaluator, RangeInput, Series, Steps, Val};
use super::histogram::{histogram_fraction, histogram_quantile};
use super::native;
use super::value::Labels;
use crate::metrics::tsdb::labels::is_valid_label_name;
use crate::parallel;

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`, which Prometheus uses for values in labels
/// and messages.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

const RANGE_SORT_WARNING: &str =
    "sort is ineffective for range queries since results are always ordered by labels";

fn arg(call: &Call, index: usize) -> EvalResult<&Expr> {
    call.args
        .args
        .get(index)
        .map(|boxed| boxed.as_ref())
        .ok_or_else(|| {
            QueryError::bad_data(format!("missing argument {index} of {}", call.func.name))
        })
}

fn string_arg(call: &Call, index: usize) -> EvalResult<String> {
    match unparen(arg(call, index)?) {
        Expr::StringLiteral(literal) => Ok(literal.val.clone()),
        other => Err(QueryError::bad_data(format!(
            "expected string literal as argument {index} of {}, got {other}",
            call.func.name
        ))),
    }
}

fn unparen(expr: &Expr) -> &Expr {
    match expr {
        Expr::Paren(paren) => unparen(&paren.expr),
        other => other,
    }
}

pub(super) fn eval_call(ev: &Evaluator, call: &Call, steps: Steps) -> EvalResult<Val> {
    let name = call.func.name;
    match name {
        "time" => Ok(Val::Scalar(
            steps.times().map(|t| t as f64 / 1000.0).collect(),
        )),
        "pi" => Ok(Val::Scalar(vec![std::f64::consts::PI; steps.len()])),
        "start" | "end" | "range" | "step" => {
            let seconds = |ms: i64| ms as f64 / 1000.0;
            let value = match name {
                "start" => seconds(ev.query_start),
                "end" => seconds(ev.query_end),
                "range" => seconds(ev.query_end - ev.query_start),
                _ => seconds(ev.query_step),
            };
            Ok(Val::Scalar(vec![value; steps.len()]))
        }
        "min_of" | "max_of" => {
            let mut values = ev.eval_scalar(arg(call, 0)?, steps)?;
            for index in 1..call.args.args.len() {
                let other = ev.eval_scalar(arg(call, index)?, steps)?;
                for (value, other) in values.iter_mut().zip(other) {
                    *value = if name == "min_of" {
                        go_min(*value, other)
                    } else {
                        go_max(*value, other)
                    };
                }
            }
            Ok(Val::Scalar(values))
        }
        "vector" => {
            let values = ev.eval_scalar(arg(call, 0)?, steps)?;
            Ok(Val::Vector(vec![Series::floats(
                Vec::new(),
                steps.times().zip(values).collect(),
                false,
            )]))
        }
        "scalar" => {
            let series = ev.eval_vector(arg(call, 0)?, steps)?;
            let mut values = vec![f64::NAN; steps.len()];
            let mut counts = vec![0u32; steps.len()];
            for s in &series {
                for &(t, v) in &s.points {
                    let index = steps.index(t);
                    counts[index] += 1;
                    values[index] = v;
                }
            }
            for (value, count) in values.iter_mut().zip(counts) {
                if count != 1 {
                    *value = f64::NAN;
                }
            }
            Ok(Val::Scalar(values))
        }
        "timestamp" => {
            let series = match unparen(arg(call, 0)?) {
                Expr::VectorSelector(selector) => ev.eval_vector_selector(selector, steps, true)?,
                other => {
                    let mut series = ev.eval_vector(other, steps)?;
                    for s in &mut series {
                        let hists = std::mem::take(&mut s.hists);
                        s.points.extend(hists.into_iter().map(|(t, _)| (t, 0.0)));
                        s.points.sort_by_key(|p| p.0);
                        for point in &mut s.points {
                            point.1 = point.0 as f64 / 1000.0;
                        }
                    }
                    series
                }
            };
            Ok(Val::Vector(drop_names(series)))
        }
        "absent" => {
            let series = ev.eval_vector(arg(call, 0)?, steps)?;
            let mut present = vec![false; steps.len()];
            for s in &series {
                for t in s
                    .points
                    .iter()
                    .map(|p| p.0)
                    .chain(s.hists.iter().map(|p| p.0))
                {
                    present[steps.index(t)] = true;
                }
            }
            Ok(Val::Vector(absent_series(arg(call, 0)?, &present, steps)))
        }
        "label_replace" => label_replace(ev, call, steps),
        "info" => super::info::eval_info(ev, call, steps),
        "label_join" => label_join(ev, call, steps),
        "sort" | "sort_desc" => {
            let mut series = ev.eval_vector(arg(call, 0)?, steps)?;
            // Histogram samples have no value to sort by; Prometheus leaves them out.
            for s in &mut series {
                s.hists.clear();
            }
            series.retain(|s| !s.is_empty());
            if steps.len() > 1 {
                ev.warn(RANGE_SORT_WARNING.into());
            }
            if steps.len() == 1 {
                let descending = name == "sort_desc";
                let key = |s: &Series| s.points.first().map_or(f64::NAN, |p| p.1);
                series.sort_by(|a, b| {
                    let (x, y) = (key(a), key(b));
                    match (x.is_nan(), y.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        _ if descending => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
                        _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                    }
                });
            }
            Ok(Val::Vector(series))
        }
        "sort_by_label" | "sort_by_label_desc" => {
            let mut series = ev.eval_vector(arg(call, 0)?, steps)?;
            let mut names = Vec::new();
            for index in 1..call.args.args.len() {
                names.push(string_arg(call, index)?);
            }
            if steps.len() > 1 {
                ev.warn(RANGE_SORT_WARNING.into());
            }
            // Ties on the named labels are broken by the whole label set; the descending
            // variant reverses the whole order.
            series.sort_by(|a, b| {
                let ordering = names
                    .iter()
                    .map(|name| {
                        natural_cmp(label_value(&a.labels, name), label_value(&b.labels, name))
                    })
                    .find(|ordering| ordering.is_ne())
                    .unwrap_or_else(|| a.labels.cmp(&b.labels));
                if name == "sort_by_label_desc" {
                    ordering.reverse()
                } else {
                    ordering
                }
            });
            Ok(Val::Vector(series))
        }
        "histogram_quantile" => {
            let qs = ev.eval_scalar(arg(call, 0)?, steps)?;
            warn_quantile_out_of_range(ev, &qs);
            let series = ev.eval_vector(arg(call, 1)?, steps)?;
            Ok(Val::Vector(histogram_quantile(ev, &qs, series, steps)))
        }
        "histogram_quantiles" => {
            let series = ev.eval_vector(arg(call, 0)?, steps)?;
            let label = string_arg(call, 1)?;
            if !is_valid_label_name(&label) {
                return Err(QueryError::execution(format!(
                    "invalid label name {label:?}"
                )));
            }
            if series
                .iter()
                .any(|s| !label_value(&s.labels, &label).is_empty())
            {
                return Err(QueryError::execution(format!(
                    "label {label:?} already present in the input of histogram_quantiles"
                )));
            }
            let mut result = Vec::new();
            for index in 2..call.args.args.len() {
                let qs = ev.eval_scalar(arg(call, index)?, steps)?;
                warn_quantile_out_of_range(ev, &qs);
                let mut quantiles = histogram_quantile(ev, &qs, series.clone(), steps);
                for s in &mut quantiles {
                    let q = qs[0];
                    // Whole numbers keep one decimal ("1.0"), like the quantile labels of
                    // summaries.
                    let text = if q.is_finite() && q.fract() == 0.0 {
                        format!("{q:.1}")
                    } else {
                        format_float(q)
                    };
                    set_label(&mut s.labels, &label, text);
                }
                result.extend(quantiles);
            }
            Ok(Val::Vector(result))
        }
        "histogram_fraction" => {
            let lowers = ev.eval_scalar(arg(call, 0)?, steps)?;
            let uppers = ev.eval_scalar(arg(call, 1)?, steps)?;
            let series = ev.eval_vector(arg(call, 2)?, steps)?;
            Ok(Val::Vector(histogram_fraction(
                ev, &lowers, &uppers, series, steps,
            )))
        }
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
        | "histogram_stdvar" => {
            let series = ev.eval_vector(arg(call, 0)?, steps)?;
            Ok(Val::Vector(native::histogram_stat(name, series)))
        }
        "round" => {
            let to_nearest = match call.args.args.len() {
                1 => vec![1.0; steps.len()],
                _ => ev.eval_scalar(arg(call, 1)?, steps)?,
            };
            map_values(ev, call, steps, |v, index| {
                let inverse = 1.0 / to_nearest[index];
                Some((v * inverse + 0.5).floor() / inverse)
            })
        }
        "clamp" => {
            let min = ev.eval_scalar(arg(call, 1)?, steps)?;
            let max = ev.eval_scalar(arg(call, 2)?, steps)?;
            map_values(ev, call, steps, |v, index| {
                let (low, high) = (min[index], max[index]);
                (low <= high || low.is_nan() || high.is_nan()).then(|| go_max(low, go_min(high, v)))
            })
        }
        "clamp_min" => {
            let min = ev.eval_scalar(arg(call, 1)?, steps)?;
            map_values(ev, call, steps, |v, index| Some(go_max(min[index], v)))
        }
        "clamp_max" => {
            let max = ev.eval_scalar(arg(call, 1)?, steps)?;
            map_values(ev, call, steps, |v, index| Some(go_min(max[index], v)))
        }
        "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute"
        | "month" | "year" => date_function(ev, call, steps),
        _ => {
            if let Some(math) = math_function(name) {
                return map_values(ev, call, steps, |v, _| Some(math(v)));
            }
            range_function(ev, call, steps)
        }
    }
}

fn drop_names(mut series: Vec<Series>) -> Vec<Series> {
    for s in &mut series {
        s.drop_name = true;
    }
    series
}

/// Go's `math.Max`/`math.Min`: NaN wins.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn math_function(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sgn" => |v: f64| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        },
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => f64::to_degrees,
        "rad" => f64::to_radians,
        _ => return None,
    })
}

/// Applies `f(value, step index)` to every point of the first argument; `None` drops the
/// point. The metric name is dropped.
fn map_values(
    ev: &Evaluator,
    call: &Call,
    steps: Steps,
    f: impl Fn(f64, usize) -> Option<f64>,
) -> EvalResult<Val> {
    let mut series = ev.eval_vector(arg(call, 0)?, steps)?;
    for s in &mut series {
        s.drop_name = true;
        s.hists.clear();
        s.points = s
            .points
            .iter()
            .filter_map(|&(t, v)| f(v, steps.index(t)).map(|value| (t, value)))
            .collect();
    }
    series.retain(|s| !s.points.is_empty());
    Ok(Val::Vector(series))
}

fn label_value<'a>(labels: &'a Labels, name: &str) -> &'a str {
    labels
        .iter()
        .find(|(existing, _)| existing == name)
        .map(|(_, value)| value.as_str())
        .unwrap_or("")
}

fn set_label(labels: &mut Labels, name: &str, value: String) {
    labels.retain(|(existing, _)| existing != name);
    if !value.is_empty() {
        labels.push((name.to_string(), value));
        labels.sort();
    }
}

/// Compares strings with digit runs ordered by number ("a2" < "a10").
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let a_len = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let b_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let a_num = trim_zeros(&a[..a_len]);
                let b_num = trim_zeros(&b[..b_len]);
                let ordering = a_num.len().cmp(&b_num.len()).then(a_num.cmp(b_num));
                if ordering.is_ne() {
                    return ordering;
                }
                a = &a[a_len..];
                b = &b[b_len..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let start = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[start..]
}

fn label_replace(ev: &Evaluator, call: &Call, steps: Steps) -> EvalResult<Val> {
    let destination = string_arg(call, 1)?;
    let replacement = string_arg(call, 2)?;
    let source = string_arg(call, 3)?;
    let pattern = string_arg(call, 4)?;
    let regex = regex::Regex::new(&format!("^(?s:{pattern})$")).map_err(|_| {
        QueryError::execution(format!(
            "invalid regular expression in label_replace(): {pattern}"
        ))
    })?;
    if !is_valid_label_name(&destination) {
        return Err(QueryError::execution(format!(
            "invalid destination label name in label_replace(): {destination}"
        )));
    }
    let mut series = ev.eval_vector(arg(call, 0)?, steps)?;
    for s in &mut series {
        let captures = regex.captures(label_value(&s.labels, &source));
        if let Some(captures) = captures {
            let mut value = String::new();
            captures.expand(&replacement, &mut value);
            set_label(&mut s.labels, &destination, value);
            if destination == "__name__" {
                s.drop_name = false;
            }
        }
    }
    Ok(Val::Vector(series))
}

fn label_join(ev: &Evaluator, call: &Call, steps: Steps) -> EvalResult<Val> {
    let destination = string_arg(call, 1)?;
    let separator = string_arg(call, 2)?;
    let mut sources = Vec::new();
    for index in 3..call.args.args.len() {
        let source = string_arg(call, index)?;
        if !is_valid_label_name(&source) {
            return Err(QueryError::execution(format!(
                "invalid source label name in label_join(): {source}"
            )));
        }
        sources.push(source);
    }
    if !is_valid_label_name(&destination) {
        return Err(QueryError::execution(format!(
            "invalid destination label name in label_join(): {destination}"
        )));
    }
    let mut series = ev.eval_vector(arg(call, 0)?, steps)?;
    for s in &mut series {
        let joined = sources
            .iter()
            .map(|source| label_value(&s.labels, source))
            .collect::<Vec<_>>()
            .join(&separator);
        set_label(&mut s.labels, &destination, joined);
        if destination == "__name__" {
            s.drop_name = false;
        }
    }
    Ok(Val::Vector(series))
}

/// Labels `absent()` gives its result: the selector's equality matchers, except names
/// matched more than once and the metric name.
fn absent_labels(expr: &Expr) -> Labels {
    let selector = match unparen(expr) {
        Expr::VectorSelector(selector) => selector,
        Expr::MatrixSelector(matrix) => &matrix.vs,
        _ => return Vec::new(),
    };
    let matchers = &selector.matchers.matchers;
    let mut labels: Labels = Vec::new();
    for matcher in matchers {
        if matcher.name == "__name__" {
            continue;
        }
        let repeated = matchers.iter().filter(|m| m.name == matcher.name).count() > 1;
        if !repeated && matches!(matcher.op, promql_parser::label::MatchOp::Equal) {
            labels.push((matcher.name.clone(), matcher.value.clone()));
        }
    }
    labels.sort();
    labels
}

fn absent_series(expr: &Expr, present: &[bool], steps: Steps) -> Vec<Series> {
    let points: Vec<(i64, f64)> = present
        .iter()
        .enumerate()
        .filter(|(_, &present)| !present)
        .map(|(index, _)| (steps.time(index), 1.0))
        .collect();
    if points.is_empty() {
        return Vec::new();
    }
    vec![Series::floats(absent_labels(expr), points, false)]
}

fn date_function(ev: &Evaluator, call: &Call, steps: Steps) -> EvalResult<Val> {
    let series = if call.args.args.is_empty() {
        vec![Series::floats(
            Vec::new(),
            steps.times().map(|t| (t, t as f64 / 1000.0)).collect(),
            false,
        )]
    } else {
        ev.eval_vector(arg(call, 0)?, steps)?
    };
    let name = call.func.name;
    let mut series = drop_names(series);
    for s in &mut series {
        s.hists.clear();
        for point in &mut s.points {
            point.1 = date_part(name, point.1);
        }
    }
    series.retain(|s| !s.is_empty());
    Ok(Val::Vector(series))
}

fn date_part(name: &str, seconds: f64) -> f64 {
    if !seconds.is_finite() {
        return f64::NAN;
    }
    let seconds = seconds as i64;
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_lengths = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let value = match name {
        "day_of_month" => day,
        "day_of_week" => (days + 4).rem_euclid(7),
        "day_of_year" => month_lengths[..(month - 1) as usize].iter().sum::<i64>() + day,
        "days_in_month" => month_lengths[(month - 1) as usize],
        "hour" => second_of_day / 3600,
        "minute" => second_of_day % 3600 / 60,
        "month" => month,
        _ => year,
    };
    value as f64
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// What a range function computes for one window.
struct Window<'a> {
    samples: &'a [(i64, f64)],
    /// The window is `(end - range, end]`.
    end: i64,
    range_ms: i64,
    step_index: usize,
    /// The step's evaluation time (not moved by `@` or `offset`).
    eval_time: i64,
}

fn range_function(ev: &Evaluator, call: &Call, steps: Steps) -> EvalResult<Val> {
    let name = call.func.name;
    let matrix_position = usize::from(name == "quantile_over_time");
    let mut scalars: Vec<Vec<f64>> = Vec::new();
    for (index, argument) in call.args.args.iter().enumerate() {
        if index != matrix_position {
            scalars.push(ev.eval_scalar(argument, steps)?);
        }
    }
    let matrix_expr = arg(call, matrix_position)?;
    let input = ev.eval_range_input(matrix_expr, steps)?;
    if name == "absent_over_time" {
        let mut present = vec![false; steps.len()];
        for s in &input.series {
            input.for_each_window(&s.points, |index, window| {
                if !window.is_empty() {
                    present[index] = true;
                }
            });
            input.for_each_window(&s.hists, |index, window| {
                if !window.is_empty() {
                    present[index] = true;
                }
            });
        }
        return Ok(Val::Vector(absent_series(matrix_expr, &present, steps)));
    }
    if matches!(name, "double_exponential_smoothing" | "holt_winters") {
        for (factor, label) in [(&scalars[0], "smoothing"), (&scalars[1], "trend")] {
            if let Some(bad) = factor.iter().find(|f| !(**f > 0.0 && **f < 1.0)) {
                return Err(QueryError::execution(format!(
                    "invalid {label} factor. Expected: 0 < {} < 1, got: {}",
                    if label == "smoothing" { "sf" } else { "tf" },
                    format_float(*bad)
                )));
            }
        }
    }
    if name == "quantile_over_time" {
        warn_quantile_out_of_range(ev, &scalars[0]);
    }
    let compute = window_function(name)
        .ok_or_else(|| QueryError::bad_data(format!("unknown function {name}")))?;
    if matches!(name, "rate" | "increase") {
        warn_not_counter(ev, &input, matrix_expr);
    }
    let keeps_name = matches!(name, "last_over_time" | "first_over_time");
    let mut input = input;
    let series = std::mem::take(&mut input.series);
    let input = &input;
    let scalars = &scalars;
    let limits = ev.limit_check();
    // Float-only series are computed on as many threads as the work allows; series with
    // histograms come back as they are and are done here, where annotations can be added.
    let parts = parallel::map_parts(series, PARALLEL_SERIES_MIN, |part| {
        let mut out = Vec::with_capacity(part.len());
        for (position, s) in part.into_iter().enumerate() {
            if position % 256 == 0 {
                if let Err(error) = limits.check() {
                    out.push(RangePart::Stopped(error));
                    break;
                }
            }
            if !s.hists.is_empty() {
                out.push(RangePart::Mixed(s));
                continue;
            }
            let mut points = Vec::with_capacity(input.window_ends.len());
            input.for_each_window(&s.points, |index, samples| {
                if samples.is_empty() {
                    return;
                }
                let window = Window {
                    samples,
                    end: input.window_ends[index],
                    range_ms: input.range_ms,
                    step_index: index,
                    eval_time: steps.time(index),
                };
                if let Some(value) = compute(&window, scalars) {
                    points.push((steps.time(index), value));
                }
            });
            if !points.is_empty() {
                out.push(RangePart::Done(Series::floats(
                    s.labels,
                    points,
                    s.drop_name || !keeps_name,
                )));
            }
        }
        out
    });
    let mut result = Vec::with_capacity(parts.len());
    for part in parts {
        match part {
            RangePart::Done(series) => result.push(series),
            RangePart::Mixed(s) => result.extend(range_over_mixed(
                ev, name, &s, input, steps, scalars, compute, keeps_name,
            )),
            RangePart::Stopped(error) => return Err(error),
        }
    }
    Ok(Val::Vector(result))
}

/// Series per thread below which a range function runs on the calling thread alone.
const PARALLEL_SERIES_MIN: usize = 1_000;

/// One input series of a range function after the parallel pass.
enum RangePart {
    Done(Series),
    /// Holds histogram samples: computed afterwards on the evaluator's thread.
    Mixed(Series),
    Stopped(QueryError),
}

/// A range function over a series that holds histogram samples: windows without any
/// take the float path, the others [`native::range_over_histograms`].
#[allow(clippy::too_many_arguments)]
fn range_over_mixed(
    ev: &Evaluator,
    name: &str,
    s: &Series,
    input: &RangeInput,
    steps: Steps,
    scalars: &[Vec<f64>],
    compute: WindowFn,
    keeps_name: bool,
) -> Option<Series> {
    let float_windows = input.window_ranges(&s.points);
    let hist_windows = input.window_ranges(&s.hists);
    let mut out = Series::floats(s.labels.clone(), Vec::new(), s.drop_name || !keeps_name);
    for (index, (floats, hists)) in float_windows.into_iter().zip(hist_windows).enumerate() {
        let (floats, hists) = (&s.points[floats], &s.hists[hists]);
        let t = steps.time(index);
        let outcome = if hists.is_empty() {
            native::WindowOutcome::FloatsOnly
        } else {
            let span = native::WindowSpan {
                end: input.window_ends[index],
                range_ms: input.range_ms,
            };
            native::range_over_histograms(ev, name, floats, hists, &span, &s.labels)
        };
        match outcome {
            native::WindowOutcome::Value(native::Sample::F(value)) => out.points.push((t, value)),
            native::WindowOutcome::Value(native::Sample::H(h)) => out.hists.push((t, h)),
            native::WindowOutcome::Nothing => {}
            native::WindowOutcome::FloatsOnly if floats.is_empty() => {}
            native::WindowOutcome::FloatsOnly => {
                let window = Window {
                    samples: floats,
                    end: input.window_ends[index],
                    range_ms: input.range_ms,
                    step_index: index,
                    eval_time: t,
                };
                if let Some(value) = compute(&window, scalars) {
                    out.points.push((t, value));
                }
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Prometheus warns once when φ is outside `[0, 1]` (or NaN).
pub(super) fn warn_quantile_out_of_range(ev: &Evaluator, qs: &[f64]) {
    if let Some(q) = qs.iter().find(|q| !(0.0..=1.0).contains(*q)) {
        ev.warn(format!(
            "quantile value should be between 0 and 1, got {}",
            format_float(*q)
        ));
    }
}

fn warn_not_counter(ev: &Evaluator, input: &RangeInput, expr: &Expr) {
    if !matches!(unparen(expr), Expr::MatrixSelector(_)) {
        return;
    }
    for s in &input.series {
        let name = label_value(&s.labels, "__name__");
        if !name.is_empty()
            && !["_total", "_sum", "_count", "_bucket"]
                .iter()
                .any(|suffix| name.ends_with(suffix))
        {
            ev.info(format!(
                "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {name:?}"
            ));
        }
    }
}

type WindowFn = fn(&Window, &[Vec<f64>]) -> Option<f64>;

fn window_function(name: &str) -> Option<WindowFn> {
    Some(match name {
        "rate" => |w, _| extrapolated_rate(w, true, true),
        "increase" => |w, _| extrapolated_rate(w, true, false),
        "delta" => |w, _| extrapolated_rate(w, false, false),
        "irate" => |w, _| instant_value(w.samples, true),
        "idelta" => |w, _| instant_value(w.samples, false),
        "changes" => |w, _| {
            let changes = w
                .samples
                .windows(2)
                .filter(|pair| {
                    !(pair[0].1 == pair[1].1 || (pair[0].1.is_nan() && pair[1].1.is_nan()))
                })
                .count();
            Some(changes as f64)
        },
        "resets" => |w, _| {
            Some(
                w.samples
                    .windows(2)
                    .filter(|pair| pair[1].1 < pair[0].1)
                    .count() as f64,
            )
        },
        "deriv" => {
            |w, _| (w.samples.len() >= 2).then(|| linear_regression(w.samples, w.samples[0].0).0)
        }
        "predict_linear" => |w, scalars| {
            if w.samples.len() < 2 {
                return None;
            }
            let (slope, intercept) = linear_regression(w.samples, w.eval_time);
            Some(slope * scalars[0][w.step_index] + intercept)
        },
        "avg_over_time" => |w, _| Some(mean(w.samples.iter().map(|s| s.1))),
        "sum_over_time" => |w, _| {
            let mut sum = KahanSum::default();
            w.samples.iter().for_each(|s| sum.add(s.1));
            Some(sum.value())
        },
        "count_over_time" => |w, _| Some(w.samples.len() as f64),
        "min_over_time" => |w, _| {
            Some(w.samples.iter().fold(
                f64::NAN,
                |min, s| if min.is_nan() || s.1 < min { s.1 } else { min },
            ))
        },
        "max_over_time" => |w, _| {
            Some(w.samples.iter().fold(
                f64::NAN,
                |max, s| if max.is_nan() || s.1 > max { s.1 } else { max },
            ))
        },
        "stddev_over_time" => |w, _| Some(variance(w.samples).sqrt()),
        "stdvar_over_time" => |w, _| Some(variance(w.samples)),
        "quantile_over_time" => |w, scalars| {
            let mut values: Vec<f64> = w.samples.iter().map(|s| s.1).collect();
            Some(quantile_of(scalars[0][w.step_index], &mut values))
        },
        "mad_over_time" => |w, _| {
            let mut values: Vec<f64> = w.samples.iter().map(|s| s.1).collect();
            if values.iter().any(|v| v.is_nan()) {
                return Some(f64::NAN);
            }
            let median = quantile_of(0.5, &mut values);
            let mut deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
            Some(quantile_of(0.5, &mut deviations))
        },
        "last_over_time" => |w, _| w.samples.last().map(|s| s.1),
        "first_over_time" => |w, _| w.samples.first().map(|s| s.1),
        "present_over_time" => |_, _| Some(1.0),
        "ts_of_last_over_time" => |w, _| w.samples.last().map(|s| s.0 as f64 / 1000.0),
        "ts_of_first_over_time" => |w, _| w.samples.first().map(|s| s.0 as f64 / 1000.0),
        "ts_of_max_over_time" => {
            |w, _| extreme_time(w.samples, |candidate, best| candidate >= best)
        }
        "ts_of_min_over_time" => {
            |w, _| extreme_time(w.samples, |candidate, best| candidate <= best)
        }
        "double_exponential_smoothing" | "holt_winters" => |w, scalars| {
            double_exponential_smoothing(
                w.samples,
                scalars[0][w.step_index],
                scalars[1][w.step_index],
            )
        },
        _ => return None,
    })
}

/// Timestamp of the newest sample that is the extreme by `better` (NaN only if all are).
fn extreme_time(samples: &[(i64, f64)], better: fn(f64, f64) -> bool) -> Option<f64> {
    let mut best: Option<(i64, f64)> = None;
    for &(t, v) in samples {
        best = match best {
            None => Some((t, v)),
            Some((_, current)) if current.is_nan() || (!v.is_nan() && better(v, current)) => {
                Some((t, v))
            }
            keep => keep,
        };
    }
    best.map(|(t, _)| t as f64 / 1000.0)
}

/// Mean with Kahan summation, falling back to an incremental mean if the sum overflows.
fn mean(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let mut sum = KahanSum::default();
    let mut count = 0.0;
    for v in values.clone() {
        sum.add(v);
        count += 1.0;
    }
    let result = sum.value() / count;
    if result.is_finite() || values.clone().any(|v| !v.is_finite()) {
        return result;
    }
    let mut running = 0.0;
    for (index, v) in values.enumerate() {
        running += v / (index + 1) as f64 - running / (index + 1) as f64;
    }
    running
}

fn variance(samples: &[(i64, f64)]) -> f64 {
    let (mut count, mut mean, mut aux) = (0.0, KahanSum::default(), KahanSum::default());
    for &(_, v) in samples {
        count += 1.0;
        let delta = v - mean.value();
        mean.add(delta / count);
        aux.add(delta * (v - mean.value()));
    }
    aux.value() / count
}

/// `rate`, `increase` and `delta`: the change over the window, extrapolated towards the
/// window edges as Prometheus does (at most half an average sample interval beyond the
/// outer samples, and never below zero for counters).
fn extrapolated_rate(w: &Window, is_counter: bool, is_rate: bool) -> Option<f64> {
    let samples = w.samples;
    if samples.len() < 2 {
        return None;
    }
    let (first, last) = (samples[0], samples[samples.len() - 1]);
    let mut result = last.1 - first.1;
    if is_counter {
        for pair in samples.windows(2) {
            if pair[1].1 < pair[0].1 {
                result += pair[0].1;
            }
        }
    }
    let duration_to_zero = (is_counter && result > 0.0 && first.1 >= 0.0)
        .then(|| (last.0 - first.0) as f64 / 1000.0 * (first.1 / result));
    let factor = extrapolation_factor(
        w.end,
        w.range_ms,
        first.0,
        last.0,
        samples.len(),
        duration_to_zero,
        is_rate,
    );
    Some(result * factor)
}

/// The factor that extrapolates a change seen between the first and last of `count`
/// samples to the window `(end - range, end]`: towards each edge by at most half an
/// average sample interval (or by the whole gap when it is shorter than 1.1 intervals),
/// and towards the start no further than `duration_to_zero` seconds (a counter does not
/// go below zero). Divided by the range in seconds for rates.
pub(super) fn extrapolation_factor(
    end: i64,
    range_ms: i64,
    first_t: i64,
    last_t: i64,
    count: usize,
    duration_to_zero: Option<f64>,
    is_rate: bool,
) -> f64 {
    let range_start = end - range_ms;
    let mut duration_to_start = (first_t - range_start) as f64 / 1000.0;
    let mut duration_to_end = (end - last_t) as f64 / 1000.0;
    let sampled_interval = (last_t - first_t) as f64 / 1000.0;
    let average_interval = sampled_interval / (count - 1) as f64;
    let threshold = average_interval * 1.1;
    if duration_to_start >= threshold {
        duration_to_start = average_interval / 2.0;
    }
    if let Some(to_zero) = duration_to_zero {
        if to_zero < duration_to_start {
            duration_to_start = to_zero;
        }
    }
    if duration_to_end >= threshold {
        duration_to_end = average_interval / 2.0;
    }
    let mut factor = (sampled_interval + duration_to_start + duration_to_end) / sampled_interval;
    if is_rate {
        factor /= range_ms as f64 / 1000.0;
    }
    factor
}

/// `irate` / `idelta`: from the last two samples.
fn instant_value(samples: &[(i64, f64)], is_rate: bool) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let (previous, last) = (samples[samples.len() - 2], samples[samples.len() - 1]);
    let mut result = if is_rate && last.1 < previous.1 {
        last.1
    } else {
        last.1 - previous.1
    };
    let interval = last.0 - previous.0;
    if interval == 0 {
        return None;
    }
    if is_rate {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

/// Least-squares (slope per second, intercept at `intercept_time`).
fn linear_regression(samples: &[(i64, f64)], intercept_time: i64) -> (f64, f64) {
    let (mut n, mut sum_x, mut sum_y, mut sum_xy, mut sum_x2) = (
        0.0,
        KahanSum::default(),
        KahanSum::default(),
        KahanSum::default(),
        KahanSum::default(),
    );
    let first_y = samples[0].1;
    let mut constant_y = true;
    for &(t, v) in samples {
        if v != first_y {
            constant_y = false;
        }
        n += 1.0;
        let x = (t - intercept_time) as f64 / 1000.0;
        sum_x.add(x);
        sum_y.add(v);
        sum_xy.add(x * v);
        sum_x2.add(x * x);
    }
    if constant_y {
        if first_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, first_y);
    }
    let (sum_x, sum_y, sum_xy, sum_x2) =
        (sum_x.value(), sum_y.value(), sum_xy.value(), sum_x2.value());
    let covariance = sum_xy - sum_x * sum_y / n;
    let variance = sum_x2 - sum_x * sum_x / n;
    let slope = covariance / variance;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

fn double_exponential_smoothing(samples: &[(i64, f64)], sf: f64, tf: f64) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let mut s0 = 0.0;
    let mut s1 = samples[0].1;
    let mut trend = samples[1].1 - samples[0].1;
    for (index, &(_, v)) in samples.iter().enumerate().skip(1) {
        if index > 1 {
            trend = tf * (s1 - s0) + (1.0 - tf) * trend;
        }
        let next = sf * v + (1.0 - sf) * (s1 + trend);
        s0 = s1;
        s1 = next;
    }
    Some(s1)
}
