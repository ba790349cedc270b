//! Metric queries: range aggregations over the samples a log range extracts (count,
//! bytes, or an unwrapped label), then vector aggregations, binary operators and
//! `label_replace`, evaluated on a step grid (a single step for instant queries).

use std::collections::BTreeMap;

use super::{required_tokens, store_matchers, LogQueryError};
use crate::logs::logql::{
    pipeline_error_message, BinaryOp, Grouping, LabelReplace, MetricExpr, RangeAggregation,
    RangeOp, SampleExtractor, VectorAggregation, VectorOp, ERROR_LABEL,
};
use crate::logs::store::LogStore;

type Labels = Vec<(String, String)>;

/// One result series: labels and `(timestamp ns, value)` per step where it has a value.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSeries {
    pub labels: Labels,
    pub points: Vec<(i64, f64)>,
}

/// The grid: `start`, `start + step`, … ≤ `end` (nanoseconds).
#[derive(Clone, Copy)]
struct Grid {
    start: i64,
    end: i64,
    step: i64,
}

impl Grid {
    fn len(&self) -> usize {
        ((self.end - self.start) / self.step) as usize + 1
    }

    fn time(&self, index: usize) -> i64 {
        self.start + index as i64 * self.step
    }
}

enum Val {
    Scalar(Vec<f64>),
    Series(Vec<MetricSeries>),
}

/// Evaluates `expr` at every step; a scalar result comes back as one series without labels.
pub fn run_metric_query(
    store: &LogStore,
    tenant: &str,
    expr: &MetricExpr,
    start_ns: i64,
    end_ns: i64,
    step_ns: i64,
) -> Result<(Vec<MetricSeries>, bool), LogQueryError> {
    let grid = Grid {
        start: start_ns,
        end: end_ns.max(start_ns),
        step: step_ns.max(1),
    };
    let evaluator = Evaluator {
        store,
        tenant,
        grid,
    };
    Ok(match evaluator.eval(expr)? {
        Val::Scalar(values) => (
            vec![MetricSeries {
                labels: Vec::new(),
                points: (0..grid.len()).map(|i| grid.time(i)).zip(values).collect(),
            }],
            true,
        ),
        Val::Series(mut series) => {
            series.retain(|s| !s.points.is_empty());
            series.sort_by(|a, b| a.labels.cmp(&b.labels));
            (series, false)
        }
    })
}

struct Evaluator<'a> {
    store: &'a LogStore,
    tenant: &'a str,
    grid: Grid,
}

impl Evaluator<'_> {
    fn eval(&self, expr: &MetricExpr) -> Result<Val, LogQueryError> {
        match expr {
            MetricExpr::Literal(value) => Ok(Val::Scalar(vec![*value; self.grid.len()])),
            MetricExpr::Vector(value) => Ok(Val::Series(vec![MetricSeries {
                labels: Vec::new(),
                points: (0..self.grid.len())
                    .map(|i| (self.grid.time(i), *value))
                    .collect(),
            }])),
            MetricExpr::RangeAggregation(aggregation) => self.range_aggregation(aggregation),
            MetricExpr::VectorAggregation(aggregation) => self.vector_aggregation(aggregation),
            MetricExpr::Binary(binary) => {
                let lhs = self.eval(&binary.lhs)?;
                let rhs = self.eval(&binary.rhs)?;
                binary_op(
                    binary.op,
                    binary.return_bool,
                    lhs,
                    rhs,
                    &binary.matching,
                    self.grid,
                )
            }
            MetricExpr::LabelReplace(replace) => self.label_replace(replace),
        }
    }

    fn range_aggregation(&self, aggregation: &RangeAggregation) -> Result<Val, LogQueryError> {
        let range = &aggregation.range;
        let range_ns = range.range.as_nanos() as i64;
        let offset_ns = range.offset.as_nanos() as i64;
        let extractor = SampleExtractor::new(aggregation.op, range, aggregation.grouping.as_ref())
            .map_err(|err| LogQueryError::BadQuery(err.to_string()))?;
        let matchers = store_matchers(&range.log.matchers)?;
        let read_start = self.grid.start - offset_ns - range_ns + 1;
        let read_end = self.grid.end - offset_ns;
        let streams = self
            .store
            .select_streams(self.tenant, &matchers, read_start, read_end);
        let ids: Vec<u64> = streams.iter().map(|info| info.id).collect();
        let read = self
            .store
            .read(
                &ids,
                read_start,
                read_end,
                &required_tokens(extractor.pipeline()),
            )
            .map_err(|err| LogQueryError::Execution(err.to_string()))?;
        let mut samples: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
        for (stream, entries) in read {
            let Some(info) = streams.iter().find(|info| info.id == stream) else {
                continue;
            };
            for entry in entries {
                let Some((value, labels)) = extractor.process(
                    entry.timestamp_ns,
                    &info.labels,
                    &entry.structured_metadata,
                    &entry.line,
                ) else {
                    continue;
                };
                if let Some((_, error)) = labels.iter().find(|(name, _)| name == ERROR_LABEL) {
                    return Err(LogQueryError::Execution(pipeline_error_message(
                        error,
                        &render_labels(&labels),
                    )));
                }
                let key = match &aggregation.grouping {
                    Some(grouping) => group_labels(&labels, grouping),
                    None => labels,
                };
                samples
                    .entry(key)
                    .or_default()
                    .push((entry.timestamp_ns, value));
            }
        }
        if aggregation.op == RangeOp::AbsentOverTime {
            return Ok(Val::Series(self.absent(
                &samples,
                range_ns,
                offset_ns,
                &range.log.matchers,
            )));
        }
        let seconds = range_ns as f64 / 1e9;
        let mut result = Vec::with_capacity(samples.len());
        for (labels, mut points) in samples {
            points.sort_by_key(|point| point.0);
            let mut out = Vec::new();
            for index in 0..self.grid.len() {
                let t = self.grid.time(index);
                let end = t - offset_ns;
                let lo = points.partition_point(|p| p.0 <= end - range_ns);
                let hi = points.partition_point(|p| p.0 <= end);
                let window = &points[lo..hi];
                if window.is_empty() {
                    continue;
                }
                if let Some(value) = over_time(aggregation.op, aggregation.param, window, seconds) {
                    out.push((t, value));
                }
            }
            if !out.is_empty() {
                result.push(MetricSeries {
                    labels,
                    points: out,
                });
            }
        }
        Ok(Val::Series(result))
    }

    fn absent(
        &self,
        samples: &BTreeMap<Labels, Vec<(i64, f64)>>,
        range_ns: i64,
        offset_ns: i64,
        matchers: &[crate::logs::logql::Matcher],
    ) -> Vec<MetricSeries> {
        let mut points = Vec::new();
        for index in 0..self.grid.len() {
            let t = self.grid.time(index);
            let end = t - offset_ns;
            let present = samples
                .values()
                .any(|points| points.iter().any(|p| p.0 > end - range_ns && p.0 <= end));
            if !present {
                points.push((t, 1.0));
            }
        }
        if points.is_empty() {
            return Vec::new();
        }
        let mut labels: Labels = matchers
            .iter()
            .filter(|m| m.op == crate::logs::logql::MatchOp::Eq)
            .map(|m| (m.name.clone(), m.value.clone()))
            .collect();
        labels.sort();
        labels.dedup_by(|a, b| a.0 == b.0);
        vec![MetricSeries { labels, points }]
    }

    fn vector_aggregation(&self, aggregation: &VectorAggregation) -> Result<Val, LogQueryError> {
        let inner = match self.eval(&aggregation.expr)? {
            Val::Series(series) => series,
            Val::Scalar(_) => {
                return Err(LogQueryError::BadQuery(
                    "vector aggregation needs a vector argument".into(),
                ))
            }
        };
        let grouping = aggregation.grouping.clone().unwrap_or(Grouping {
            without: false,
            labels: Vec::new(),
        });
        let mut out: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
        let mut kept: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
        for index in 0..self.grid.len() {
            let t = self.grid.time(index);
            let mut groups: BTreeMap<Labels, Vec<(usize, f64)>> = BTreeMap::new();
            for (series_index, series) in inner.iter().enumerate() {
                if let Ok(position) = series.points.binary_search_by_key(&t, |p| p.0) {
                    groups
                        .entry(group_labels(&series.labels, &grouping))
                        .or_default()
                        .push((series_index, series.points[position].1));
                }
            }
            for (group, mut members) in groups {
                match aggregation.op {
                    VectorOp::Topk | VectorOp::Bottomk | VectorOp::ApproxTopk => {
                        let k = aggregation.param.unwrap_or(1).max(0) as usize;
                        let descending = aggregation.op != VectorOp::Bottomk;
                        members.sort_by(|a, b| {
                            let ordering =
                                a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal);
                            if descending {
                                ordering.reverse()
                            } else {
                                ordering
                            }
                        });
                        for (series_index, value) in members.into_iter().take(k) {
                            kept.entry(inner[series_index].labels.clone())
                                .or_default()
                                .push((t, value));
                        }
                    }
                    VectorOp::Sort | VectorOp::SortDesc => {
                        for (series_index, value) in members {
                            kept.entry(inner[series_index].labels.clone())
                                .or_default()
                                .push((t, value));
                        }
                    }
                    op => {
                        let values: Vec<f64> = members.iter().map(|m| m.1).collect();
                        out.entry(group).or_default().push((t, fold(op, &values)));
                    }
                }
            }
        }
        let mut series: Vec<MetricSeries> = out
            .into_iter()
            .chain(kept)
            .map(|(labels, points)| MetricSeries { labels, points })
            .collect();
        if matches!(aggregation.op, VectorOp::Sort | VectorOp::SortDesc) && self.grid.len() == 1 {
            let descending = aggregation.op == VectorOp::SortDesc;
            series.sort_by(|a, b| {
                let ordering = a.points[0]
                    .1
                    .partial_cmp(&b.points[0].1)
                    .unwrap_or(std::cmp::Ordering::Equal);
                if descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            });
        }
        Ok(Val::Series(series))
    }

    fn label_replace(&self, replace: &LabelReplace) -> Result<Val, LogQueryError> {
        let regex = regex::Regex::new(&format!("^(?s:{})$", replace.regex)).map_err(|err| {
            LogQueryError::BadQuery(format!(
                "invalid regular expression in label_replace(): {err}"
            ))
        })?;
        let Val::Series(mut series) = self.eval(&replace.expr)? else {
            return Err(LogQueryError::BadQuery(
                "label_replace needs a vector argument".into(),
            ));
        };
        for s in &mut series {
            let source = s
                .labels
                .iter()
                .find(|(name, _)| *name == replace.src)
                .map(|(_, value)| value.clone())
                .unwrap_or_default();
            if let Some(captures) = regex.captures(&source) {
                let mut value = String::new();
                captures.expand(&replace.replacement, &mut value);
                s.labels.retain(|(name, _)| *name != replace.dst);
                if !value.is_empty() {
                    s.labels.push((replace.dst.clone(), value));
                    s.labels.sort();
                }
            }
        }
        Ok(Val::Series(series))
    }
}

fn render_labels(labels: &Labels) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}={value:?}"))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

fn group_labels(labels: &Labels, grouping: &Grouping) -> Labels {
    labels
        .iter()
        .filter(|(name, _)| grouping.labels.contains(name) != grouping.without)
        .cloned()
        .collect()
}

fn over_time(op: RangeOp, param: Option<f64>, window: &[(i64, f64)], seconds: f64) -> Option<f64> {
    let values = || window.iter().map(|p| p.1);
    let count = window.len() as f64;
    Some(match op {
        RangeOp::CountOverTime => count,
        RangeOp::Rate => count / seconds,
        RangeOp::BytesOverTime | RangeOp::SumOverTime => values().sum(),
        RangeOp::BytesRate => values().sum::<f64>() / seconds,
        RangeOp::AvgOverTime => values().sum::<f64>() / count,
        RangeOp::MinOverTime => {
            values().fold(
                f64::NAN,
                |min, v| if min.is_nan() || v < min { v } else { min },
            )
        }
        RangeOp::MaxOverTime => {
            values().fold(
                f64::NAN,
                |max, v| if max.is_nan() || v > max { v } else { max },
            )
        }
        RangeOp::StdvarOverTime | RangeOp::StddevOverTime => {
            let mean = values().sum::<f64>() / count;
            let variance = values().map(|v| (v - mean) * (v - mean)).sum::<f64>() / count;
            if op == RangeOp::StddevOverTime {
                variance.sqrt()
            } else {
                variance
            }
        }
        RangeOp::QuantileOverTime => {
            let mut sorted: Vec<f64> = values().collect();
            sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
            let q = param.unwrap_or(0.5);
            if q < 0.0 {
                return Some(f64::NEG_INFINITY);
            }
            if q > 1.0 {
                return Some(f64::INFINITY);
            }
            let rank = q * (sorted.len() - 1) as f64;
            let lower = rank.floor() as usize;
            let upper = (lower + 1).min(sorted.len() - 1);
            let weight = rank - rank.floor();
            sorted[lower] * (1.0 - weight) + sorted[upper] * weight
        }
        RangeOp::FirstOverTime => window.first()?.1,
        RangeOp::LastOverTime => window.last()?.1,
        RangeOp::RateCounter => {
            // Counter increase (resets corrected) per second over the window.
            let mut increase = 0.0;
            for pair in window.windows(2) {
                increase += if pair[1].1 < pair[0].1 {
                    pair[1].1
                } else {
                    pair[1].1 - pair[0].1
                };
            }
            increase / seconds
        }
        RangeOp::AbsentOverTime => return None,
    })
}

fn fold(op: VectorOp, values: &[f64]) -> f64 {
    let count = values.len() as f64;
    match op {
        VectorOp::Sum => values.iter().sum(),
        VectorOp::Avg => values.iter().sum::<f64>() / count,
        VectorOp::Count => count,
        VectorOp::Max => {
            values.iter().copied().fold(
                f64::NAN,
                |max, v| if max.is_nan() || v > max { v } else { max },
            )
        }
        VectorOp::Min => {
            values.iter().copied().fold(
                f64::NAN,
                |min, v| if min.is_nan() || v < min { v } else { min },
            )
        }
        VectorOp::Stddev | VectorOp::Stdvar => {
            let mean = values.iter().sum::<f64>() / count;
            let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / count;
            if op == VectorOp::Stddev {
                variance.sqrt()
            } else {
                variance
            }
        }
        _ => f64::NAN,
    }
}

fn binary_op(
    op: BinaryOp,
    return_bool: bool,
    lhs: Val,
    rhs: Val,
    matching: &Option<crate::logs::logql::VectorMatching>,
    grid: Grid,
) -> Result<Val, LogQueryError> {
    let step_of = |t: i64| ((t - grid.start) / grid.step) as usize;
    let apply = |l: f64, r: f64| -> Option<f64> {
        let value = op.apply_scalar(l, r);
        if op.is_comparison() && !return_bool {
            (value == 1.0).then_some(l)
        } else {
            Some(value)
        }
    };
    match (lhs, rhs) {
        (Val::Scalar(l), Val::Scalar(r)) => Ok(Val::Scalar(
            l.iter()
                .zip(&r)
                .map(|(l, r)| op.apply_scalar(*l, *r))
                .collect(),
        )),
        (Val::Series(_), Val::Scalar(_)) | (Val::Scalar(_), Val::Series(_))
            if op.is_set_operator() =>
        {
            Err(LogQueryError::BadQuery(format!(
                "set operator {} not allowed with a scalar",
                op.as_str()
            )))
        }
        (Val::Series(mut series), Val::Scalar(scalar)) => {
            for s in &mut series {
                s.points = s
                    .points
                    .iter()
                    .enumerate()
                    .filter_map(|(i, &(t, v))| {
                        apply(v, scalar[i.min(scalar.len() - 1)]).map(|value| (t, value))
                    })
                    .collect();
            }
            Ok(Val::Series(series))
        }
        (Val::Scalar(scalar), Val::Series(mut series)) => {
            for s in &mut series {
                s.points = s
                    .points
                    .iter()
                    .filter_map(|&(t, v)| {
                        let value = op.apply_scalar(scalar[step_of(t)], v);
                        if op.is_comparison() && !return_bool {
                            (value == 1.0).then_some((t, v))
                        } else {
                            Some((t, value))
                        }
                    })
                    .collect();
            }
            Ok(Val::Series(series))
        }
        (Val::Series(left), Val::Series(right)) => {
            let signature = |labels: &Labels| -> Labels {
                match matching {
                    Some(m) if m.on => labels
                        .iter()
                        .filter(|(n, _)| m.labels.contains(n))
                        .cloned()
                        .collect(),
                    Some(m) => labels
                        .iter()
                        .filter(|(n, _)| !m.labels.contains(n))
                        .cloned()
                        .collect(),
                    None => labels.clone(),
                }
            };
            let right_by_sig: BTreeMap<Labels, &MetricSeries> =
                right.iter().map(|s| (signature(&s.labels), s)).collect();
            if op.is_set_operator() {
                let mut out: Vec<MetricSeries> = Vec::new();
                for s in &left {
                    let other = right_by_sig.get(&signature(&s.labels));
                    let points: Vec<(i64, f64)> = s
                        .points
                        .iter()
                        .filter(|(t, _)| {
                            let present = other.is_some_and(|o| o.points.iter().any(|p| p.0 == *t));
                            match op {
                                BinaryOp::And => present,
                                BinaryOp::Unless => !present,
                                _ => true,
                            }
                        })
                        .copied()
                        .collect();
                    out.push(MetricSeries {
                        labels: s.labels.clone(),
                        points,
                    });
                }
                if op == BinaryOp::Or {
                    let left_sigs: Vec<Labels> =
                        left.iter().map(|s| signature(&s.labels)).collect();
                    for s in right
                        .iter()
                        .filter(|s| !left_sigs.contains(&signature(&s.labels)))
                    {
                        out.push(s.clone());
                    }
                }
                return Ok(Val::Series(out));
            }
            let mut out = Vec::new();
            for s in &left {
                let Some(other) = right_by_sig.get(&signature(&s.labels)) else {
                    continue;
                };
                let points: Vec<(i64, f64)> = s
                    .points
                    .iter()
                    .filter_map(|&(t, l)| {
                        let r = other.points.iter().find(|p| p.0 == t)?.1;
                        apply(l, r).map(|value| (t, value))
                    })
                    .collect();
                let labels = match matching {
                    Some(m) if m.on => signature(&s.labels),
                    _ => s.labels.clone(),
                };
                out.push(MetricSeries { labels, points });
            }
            Ok(Val::Series(out))
        }
    }
}
