//! Aggregation operators with `by`/`without`: each input series' group is computed once,
//! then values are folded per step.

use std::collections::HashMap;

use promql_parser::parser::token::{
    T_AVG, T_BOTTOMK, T_COUNT, T_COUNT_VALUES, T_GROUP, T_LIMITK, T_LIMIT_RATIO, T_MAX, T_MIN,
    T_QUANTILE, T_STDDEV, T_STDVAR, T_SUM, T_TOPK,
};
use promql_parser::parser::{AggregateExpr, Expr, LabelModifier};

use super::error::QueryError;
use super::eval::{by_step, EvalResult, Evaluator, OutputBuilder, Series, Steps, Val};
use super::value::Labels;
use crate::metrics::histogram::FloatHistogram;
use crate::metrics::tsdb::labels::is_valid_label_name;

pub(super) fn eval_aggregate(ev: &Evaluator, agg: &AggregateExpr, steps: Steps) -> EvalResult<Val> {
    let op = agg.op.id();
    let mut label_param = None;
    let mut scalar_param = None;
    if let Some(param) = &agg.param {
        if op == T_COUNT_VALUES {
            let Expr::StringLiteral(name) = unparen(param) else {
                return Err(QueryError::bad_data(
                    "count_values needs a string parameter",
                ));
            };
            if !is_valid_label_name(&name.val) {
                return Err(QueryError::execution(format!(
                    "invalid label name {:?}",
                    name.val
                )));
            }
            label_param = Some(name.val.clone());
        } else {
            scalar_param = Some(ev.eval_scalar(param, steps)?);
        }
    }
    let mut input = ev.eval_vector(&agg.expr, steps)?;
    let has_histograms = input.iter().any(|s| !s.hists.is_empty());
    // Histogram samples by step, for `sum`/`avg`; other operators count them, keep them
    // as they are (`limitk`, `limit_ratio`) or ignore them.
    let mut hist_table: Vec<Vec<(u32, FloatHistogram)>> = Vec::new();
    // `count_values` counts histograms by their printed form.
    let mut hist_texts: Vec<Vec<(u32, String)>> = Vec::new();
    if has_histograms {
        match op {
            T_COUNT_VALUES => {
                hist_texts = vec![Vec::new(); steps.len()];
                for (index, s) in input.iter_mut().enumerate() {
                    for (t, h) in std::mem::take(&mut s.hists) {
                        hist_texts[steps.index(t)]
                            .push((index as u32, super::native::histogram_text(&h)));
                    }
                }
            }
            T_SUM | T_AVG => {
                hist_table = vec![Vec::new(); steps.len()];
                for (index, s) in input.iter_mut().enumerate() {
                    for (t, h) in std::mem::take(&mut s.hists) {
                        hist_table[steps.index(t)].push((index as u32, h));
                    }
                }
            }
            T_COUNT | T_GROUP | T_LIMITK | T_LIMIT_RATIO => {
                for s in input.iter_mut() {
                    if s.hists.is_empty() {
                        continue;
                    }
                    // Stand-ins at the histograms' times; `limitk`/`limit_ratio` put the
                    // histograms back afterwards.
                    let times: Vec<i64> = s.hists.iter().map(|(t, _)| *t).collect();
                    s.points.extend(times.into_iter().map(|t| (t, 0.0)));
                    s.points.sort_by_key(|p| p.0);
                }
            }
            _ => {
                ev.info(format!("ignored histogram in {} aggregation", agg.op));
                for s in input.iter_mut() {
                    s.hists.clear();
                }
            }
        }
    }
    let modifier = agg.modifier.as_ref();
    // Groups are found by borrowed label pairs; each group's labels are copied once.
    let mut groups: HashMap<Vec<(&str, &str)>, u32> = HashMap::new();
    let mut group_labels: Vec<Labels> = Vec::new();
    let series_group: Vec<u32> = input
        .iter()
        .map(|s| {
            let key = grouping_labels(&s.labels, modifier);
            let next = group_labels.len() as u32;
            *groups.entry(key).or_insert_with_key(|key| {
                group_labels.push(
                    key.iter()
                        .map(|(name, value)| (name.to_string(), value.to_string()))
                        .collect(),
                );
                next
            })
        })
        .collect();
    drop(groups);
    let mut group_drops_name = vec![false; group_labels.len()];
    for (s, &group) in input.iter().zip(&series_group) {
        group_drops_name[group as usize] |= s.drop_name;
    }
    let ctx = Grouped {
        input: &input,
        series_group: &series_group,
        group_labels: &group_labels,
        group_drops_name: &group_drops_name,
        steps,
    };
    let folds_in_grid = hist_table.is_empty()
        && matches!(
            op,
            T_SUM | T_AVG | T_MIN | T_MAX | T_COUNT | T_GROUP | T_STDDEV | T_STDVAR
        )
        && group_labels.len().saturating_mul(steps.len()) <= FOLD_GRID_MAX_CELLS;
    if folds_in_grid {
        return Ok(Val::Vector(ctx.fold_grid(op)));
    }
    let table = by_step(&input, steps);
    let mut series = match op {
        T_TOPK | T_BOTTOMK | T_LIMITK => {
            ctx.select_k(op, &table, scalar_param.as_deref().unwrap_or(&[]))?
        }
        T_LIMIT_RATIO => ctx.limit_ratio(ev, &table, scalar_param.as_deref().unwrap_or(&[]))?,
        T_QUANTILE => {
            let qs = scalar_param.as_deref().unwrap_or(&[]);
            super::functions::warn_quantile_out_of_range(ev, qs);
            ctx.quantile(&table, qs)
        }
        T_COUNT_VALUES => {
            ctx.count_values(&table, &hist_texts, label_param.as_deref().unwrap_or(""))
        }
        _ => ctx.fold(op, &table),
    };
    if has_histograms && matches!(op, T_LIMITK | T_LIMIT_RATIO) {
        restore_histograms(&input, &mut series);
    }
    if !hist_table.is_empty() {
        ctx.fold_histograms(ev, op, &table, hist_table, &mut series);
    }
    Ok(Val::Vector(series))
}

/// Groups × steps above which folding aggregations regroup by step instead of holding a
/// grid of running folds (about 50 bytes each).
const FOLD_GRID_MAX_CELLS: usize = 1 << 20;

/// Puts back the histogram samples that stood in as floats for `limitk`/`limit_ratio`
/// (whose output series are input series).
fn restore_histograms(input: &[Series], output: &mut [Series]) {
    for out in output.iter_mut() {
        let Some(source) = input.iter().find(|s| s.labels == out.labels) else {
            continue;
        };
        if source.hists.is_empty() {
            continue;
        }
        let points = std::mem::take(&mut out.points);
        for (t, v) in points {
            match source.hists.binary_search_by_key(&t, |(time, _)| *time) {
                Ok(position) => out.hists.push(source.hists[position].clone()),
                Err(_) => out.points.push((t, v)),
            }
        }
    }
}

fn unparen(expr: &Expr) -> &Expr {
    match expr {
        Expr::Paren(paren) => unparen(&paren.expr),
        other => other,
    }
}

fn grouping_labels<'a>(
    labels: &'a Labels,
    modifier: Option<&LabelModifier>,
) -> Vec<(&'a str, &'a str)> {
    let pair = |(name, value): &'a (String, String)| (name.as_str(), value.as_str());
    match modifier {
        Some(LabelModifier::Include(by)) => labels
            .iter()
            .filter(|(name, _)| by.labels.contains(name))
            .map(pair)
            .collect(),
        Some(LabelModifier::Exclude(without)) => labels
            .iter()
            .filter(|(name, _)| name != "__name__" && !without.labels.contains(name))
            .map(pair)
            .collect(),
        None => Vec::new(),
    }
}

/// Kahan-compensated running sum, as Prometheus sums floats.
#[derive(Clone, Copy, Default)]
pub(super) struct KahanSum {
    sum: f64,
    compensation: f64,
}

impl KahanSum {
    pub fn add(&mut self, value: f64) {
        let total = self.sum + value;
        if total.is_infinite() {
            self.compensation = 0.0;
        } else if self.sum.abs() >= value.abs() {
            self.compensation += (self.sum - total) + value;
        } else {
            self.compensation += (value - total) + self.sum;
        }
        self.sum = total;
    }

    pub fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// Running state of one group at one step for the folding aggregations.
#[derive(Clone, Copy, Default)]
struct Fold {
    count: u64,
    sum: KahanSum,
    value: f64,
    mean: f64,
    m2: f64,
    incremental_mean: bool,
}

impl Fold {
    fn add(&mut self, op: u16, v: f64) {
        if self.count == 0 {
            *self = Fold {
                value: v,
                ..Fold::default()
            };
        }
        self.count += 1;
        match op {
            T_SUM => self.sum.add(v),
            T_AVG => {
                if !self.incremental_mean {
                    let mut next = self.sum;
                    next.add(v);
                    if next.value().is_infinite() && v.is_finite() && self.sum.value().is_finite() {
                        // The plain sum overflowed: continue with a running mean.
                        self.incremental_mean = true;
                        self.mean = self.sum.value() / (self.count - 1) as f64;
                    } else {
                        self.sum = next;
                    }
                }
                if self.incremental_mean {
                    self.mean += v / self.count as f64 - self.mean / self.count as f64;
                }
            }
            T_MIN if self.value > v || self.value.is_nan() => self.value = v,
            T_MAX if self.value < v || self.value.is_nan() => self.value = v,
            T_STDDEV | T_STDVAR => {
                let delta = v - self.mean;
                self.mean += delta / self.count as f64;
                self.m2 += delta * (v - self.mean);
            }
            _ => {}
        }
    }

    fn value(&self, op: u16) -> f64 {
        match op {
            T_SUM => self.sum.value(),
            T_AVG if self.incremental_mean => self.mean,
            T_AVG => self.sum.value() / self.count as f64,
            T_MIN | T_MAX => self.value,
            T_COUNT => self.count as f64,
            T_GROUP => 1.0,
            T_STDVAR => self.m2 / self.count as f64,
            T_STDDEV => (self.m2 / self.count as f64).sqrt(),
            _ => f64::NAN,
        }
    }
}

struct Grouped<'a> {
    input: &'a [Series],
    series_group: &'a [u32],
    group_labels: &'a [Labels],
    group_drops_name: &'a [bool],
    steps: Steps,
}

impl Grouped<'_> {
    fn group_series(&self, group: u32) -> (Labels, bool) {
        (
            self.group_labels[group as usize].clone(),
            self.group_drops_name[group as usize],
        )
    }

    fn fold(&self, op: u16, table: &[Vec<(u32, f64)>]) -> Vec<Series> {
        let mut out: OutputBuilder<u32> = OutputBuilder::new();
        let mut folds: Vec<Fold> = vec![Fold::default(); self.group_labels.len()];
        let mut touched: Vec<u32> = Vec::new();
        for (step_index, samples) in table.iter().enumerate() {
            touched.clear();
            for &(index, v) in samples {
                let group = self.series_group[index as usize];
                let fold = &mut folds[group as usize];
                if fold.count == 0 {
                    touched.push(group);
                }
                fold.add(op, v);
            }
            let t = self.steps.time(step_index);
            for &group in &touched {
                let fold = std::mem::take(&mut folds[group as usize]);
                out.push(group, || self.group_series(group), t, fold.value(op));
            }
        }
        out.series
    }

    /// [`Grouped::fold`] computed series by series into a groups × steps grid instead of
    /// step by step: no per-step regrouping of the input. Each cell still receives its
    /// values in series order, so sums round exactly as on the per-step path, and groups
    /// come out in the order of their first series.
    fn fold_grid(&self, op: u16) -> Vec<Series> {
        let steps = self.steps.len();
        let mut grid: Vec<Fold> = vec![Fold::default(); self.group_labels.len() * steps];
        for (s, &group) in self.input.iter().zip(self.series_group) {
            let row = &mut grid[group as usize * steps..(group as usize + 1) * steps];
            for &(t, v) in &s.points {
                row[self.steps.index(t)].add(op, v);
            }
        }
        grid.chunks(steps.max(1))
            .enumerate()
            .filter_map(|(group, row)| {
                let points: Vec<(i64, f64)> = row
                    .iter()
                    .enumerate()
                    .filter(|(_, fold)| fold.count > 0)
                    .map(|(step_index, fold)| (self.steps.time(step_index), fold.value(op)))
                    .collect();
                if points.is_empty() {
                    return None;
                }
                let (labels, drop_name) = self.group_series(group as u32);
                Some(Series::floats(labels, points, drop_name))
            })
            .collect()
    }

    /// `sum`/`avg` of histogram samples per group and step. A group that has floats too
    /// at a step gets no result there (Prometheus warns).
    fn fold_histograms(
        &self,
        ev: &Evaluator,
        op: u16,
        float_table: &[Vec<(u32, f64)>],
        hist_table: Vec<Vec<(u32, FloatHistogram)>>,
        output: &mut Vec<Series>,
    ) {
        let mut by_group: HashMap<u32, usize> = output
            .iter()
            .enumerate()
            .filter_map(|(position, s)| {
                let group = self
                    .group_labels
                    .iter()
                    .position(|labels| *labels == s.labels)?;
                Some((group as u32, position))
            })
            .collect();
        for (step_index, samples) in hist_table.into_iter().enumerate() {
            if samples.is_empty() {
                continue;
            }
            let t = self.steps.time(step_index);
            let mut groups: Vec<(u32, Vec<FloatHistogram>)> = Vec::new();
            for (index, h) in samples {
                let group = self.series_group[index as usize];
                match groups.iter_mut().find(|(g, _)| *g == group) {
                    Some((_, members)) => members.push(h),
                    None => groups.push((group, vec![h])),
                }
            }
            for (group, members) in groups {
                let has_floats = float_table[step_index]
                    .iter()
                    .any(|(index, _)| self.series_group[*index as usize] == group);
                let position = by_group.get(&group).copied();
                if has_floats {
                    ev.warn("encountered a mix of histograms and floats for aggregation".into());
                    if let Some(position) = position {
                        output[position].points.retain(|(time, _)| *time != t);
                    }
                    continue;
                }
                let labels = &self.group_labels[group as usize];
                let count = members.len();
                let Some(mut total) =
                    super::native::sum_histograms(ev, members.iter(), labels, "aggregation")
                else {
                    continue;
                };
                if op == T_AVG {
                    total.div(count as f64);
                }
                total.compact(0);
                let position = match position {
                    Some(position) => position,
                    None => {
                        let (labels, drop_name) = self.group_series(group);
                        output.push(Series::floats(labels, Vec::new(), drop_name));
                        by_group.insert(group, output.len() - 1);
                        output.len() - 1
                    }
                };
                output[position].hists.push((t, total));
            }
        }
        for s in output.iter_mut() {
            s.hists.sort_by_key(|(t, _)| *t);
        }
        output.retain(|s| !s.is_empty());
    }

    /// Samples of one step split by group, groups in order of first appearance.
    fn per_group(&self, samples: &[(u32, f64)]) -> Vec<(u32, Vec<(u32, f64)>)> {
        let mut order: Vec<(u32, Vec<(u32, f64)>)> = Vec::new();
        let mut position: HashMap<u32, usize> = HashMap::new();
        for &(index, v) in samples {
            let group = self.series_group[index as usize];
            let slot = *position.entry(group).or_insert_with(|| {
                order.push((group, Vec::new()));
                order.len() - 1
            });
            order[slot].1.push((index, v));
        }
        order
    }

    fn select_k(&self, op: u16, table: &[Vec<(u32, f64)>], ks: &[f64]) -> EvalResult<Vec<Series>> {
        let mut out: OutputBuilder<u32> = OutputBuilder::new();
        for (step_index, samples) in table.iter().enumerate() {
            let k_value = ks.get(step_index).copied().unwrap_or(f64::NAN);
            if k_value.is_nan() {
                return Err(QueryError::execution("Parameter value is NaN"));
            }
            if !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&k_value) {
                return Err(QueryError::execution(format!(
                    "Scalar value {} overflows int64",
                    super::functions::format_float(k_value)
                )));
            }
            if k_value < 1.0 {
                continue;
            }
            let k = k_value as usize;
            let t = self.steps.time(step_index);
            for (_, mut members) in self.per_group(samples) {
                match op {
                    T_TOPK => members.sort_by(|a, b| descending_nan_last(a.1, b.1)),
                    T_BOTTOMK => members.sort_by(|a, b| ascending_nan_last(a.1, b.1)),
                    _ => {}
                }
                for &(index, v) in members.iter().take(k) {
                    let s = &self.input[index as usize];
                    out.push(index, || (s.labels.clone(), s.drop_name), t, v);
                }
            }
        }
        Ok(out.series)
    }

    fn limit_ratio(
        &self,
        ev: &Evaluator,
        table: &[Vec<(u32, f64)>],
        ratios: &[f64],
    ) -> EvalResult<Vec<Series>> {
        let mut out: OutputBuilder<u32> = OutputBuilder::new();
        for (step_index, samples) in table.iter().enumerate() {
            let mut ratio = ratios.get(step_index).copied().unwrap_or(f64::NAN);
            if ratio.is_nan() {
                return Err(QueryError::execution("Ratio value is NaN"));
            }
            if !(-1.0..=1.0).contains(&ratio) {
                ev.warn(format!(
                    "ratio value should be between -1 and 1, got {}, capping to {}",
                    super::functions::format_float(ratio),
                    if ratio < 0.0 { -1 } else { 1 }
                ));
                ratio = ratio.clamp(-1.0, 1.0);
            }
            let t = self.steps.time(step_index);
            for &(index, v) in samples {
                let s = &self.input[index as usize];
                let offset = label_set_fraction(&s.labels);
                let keep = if ratio >= 0.0 {
                    offset < ratio
                } else {
                    offset >= 1.0 + ratio
                };
                if keep {
                    out.push(index, || (s.labels.clone(), s.drop_name), t, v);
                }
            }
        }
        Ok(out.series)
    }

    fn quantile(&self, table: &[Vec<(u32, f64)>], qs: &[f64]) -> Vec<Series> {
        let mut out: OutputBuilder<u32> = OutputBuilder::new();
        for (step_index, samples) in table.iter().enumerate() {
            let q = qs.get(step_index).copied().unwrap_or(f64::NAN);
            let t = self.steps.time(step_index);
            for (group, members) in self.per_group(samples) {
                let mut values: Vec<f64> = members.iter().map(|m| m.1).collect();
                let value = quantile_of(q, &mut values);
                out.push(group, || self.group_series(group), t, value);
            }
        }
        out.series
    }

    fn count_values(
        &self,
        table: &[Vec<(u32, f64)>],
        hist_texts: &[Vec<(u32, String)>],
        label: &str,
    ) -> Vec<Series> {
        // Keyed by the output label set: the value label may overwrite a grouping label,
        // merging groups (as Prometheus does).
        let mut out: OutputBuilder<Labels> = OutputBuilder::new();
        for (step_index, samples) in table.iter().enumerate() {
            let t = self.steps.time(step_index);
            let mut counts: Vec<(Labels, f64)> = Vec::new();
            let floats = samples
                .iter()
                .map(|&(index, v)| (index, super::functions::format_float(v)));
            let hists = hist_texts.get(step_index).into_iter().flatten().cloned();
            for (index, text) in floats.chain(hists) {
                let group = self.series_group[index as usize];
                let mut labels = self.group_labels[group as usize].clone();
                labels.retain(|(name, _)| name != label);
                labels.push((label.to_string(), text));
                labels.sort();
                match counts.iter_mut().find(|(existing, _)| *existing == labels) {
                    Some((_, count)) => *count += 1.0,
                    None => counts.push((labels, 1.0)),
                }
            }
            for (labels, count) in counts {
                out.push(labels.clone(), || (labels, false), t, count);
            }
        }
        out.series
    }
}

fn descending_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal),
    }
}

fn ascending_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// A stable fraction in `[0, 1)` derived from a label set, for `limit_ratio` sampling.
fn label_set_fraction(labels: &Labels) -> f64 {
    // FNV-1a over names and values.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, value) in labels {
        for byte in name
            .bytes()
            .chain([0xff])
            .chain(value.bytes())
            .chain([0xff])
        {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    (hash % (1u64 << 52)) as f64 / (1u64 << 52) as f64
}

/// The φ-quantile of `values` by linear interpolation between closest ranks, with
/// Prometheus's conventions for φ outside `[0, 1]` and NaN (sorted first).
pub(super) fn quantile_of(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len();
    let rank = q * (n - 1) as f64;
    let lower = rank.floor().max(0.0) as usize;
    let upper = (lower + 1).min(n - 1);
    let weight = rank - rank.floor();
    values[lower] * (1.0 - weight) + values[upper] * weight
}
