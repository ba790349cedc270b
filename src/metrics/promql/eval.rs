//! The evaluator: walks the AST once for a whole step grid. Every node yields, for each
//! series, its points on the grid (per series across all steps), so a range query reads
//! each series' samples from storage once.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use promql_parser::label::MatchOp as PromMatchOp;
use promql_parser::parser::{self, AtModifier, Expr, Offset, VectorSelector};

use super::engine::{Engine, EngineOptions, QueryResult};
use super::error::QueryError;
use super::storage::Storage;
use super::value::{InstantSample, Labels, QueryValue, RangeSeries};
use crate::metrics::histogram::FloatHistogram;
use crate::metrics::tsdb::index::{MatchOp, Matcher};
use crate::metrics::tsdb::{is_stale_nan, SeriesData};

/// Lets a caller stop a running query (e.g. when the HTTP client went away).
#[derive(Clone, Default)]
pub struct Cancel {
    flag: Option<Arc<AtomicBool>>,
}

impl Cancel {
    pub fn never() -> Cancel {
        Cancel { flag: None }
    }

    pub fn new(flag: Arc<AtomicBool>) -> Cancel {
        Cancel { flag: Some(flag) }
    }

    fn is_cancelled(&self) -> bool {
        self.flag
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
    }
}

/// A series flowing between nodes: points on the evaluation grid, sorted by time.
/// `drop_name` is Prometheus's delayed `__name__` removal: the name stays readable (for
/// `label_replace`, `by (__name__)`) and is removed when the result is shaped.
#[derive(Debug, Clone)]
pub(super) struct Series {
    pub labels: Labels,
    pub points: Vec<(i64, f64)>,
    /// Native histogram points, sorted by time; never at a time `points` also holds.
    pub hists: Vec<(i64, FloatHistogram)>,
    pub drop_name: bool,
}

impl Series {
    pub fn floats(labels: Labels, points: Vec<(i64, f64)>, drop_name: bool) -> Series {
        Series {
            labels,
            points,
            hists: Vec::new(),
            drop_name,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty() && self.hists.is_empty()
    }
}

/// An evaluated node.
pub(super) enum Val {
    /// One value per step.
    Scalar(Vec<f64>),
    String(String),
    /// Points on the step grid.
    Vector(Vec<Series>),
    /// Raw samples of a range selector or subquery (instant evaluation only).
    Matrix(Vec<Series>),
}

/// The evaluation grid: `start`, `start + step`, … up to `end` (inclusive).
#[derive(Debug, Clone, Copy)]
pub(super) struct Steps {
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

impl Steps {
    pub fn len(&self) -> usize {
        ((self.end - self.start) / self.step) as usize + 1
    }

    pub fn time(&self, index: usize) -> i64 {
        self.start + index as i64 * self.step
    }

    pub fn index(&self, t: i64) -> usize {
        ((t - self.start) / self.step) as usize
    }

    pub fn times(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|index| self.time(index))
    }
}

/// Samples of a range argument (range selector or subquery) and where each step's window
/// ends; windows are left-open: `(end - range, end]`.
pub(super) struct RangeInput {
    pub series: Vec<Series>,
    pub range_ms: i64,
    /// Window end per step (the step time minus offset, or the `@` time).
    pub window_ends: Vec<i64>,
}

impl RangeInput {
    /// Calls `f(step index, window samples)` for every step, sliding two cursors so each
    /// sample is visited a bounded number of times.
    pub fn for_each_window<V>(&self, samples: &[(i64, V)], mut f: impl FnMut(usize, &[(i64, V)])) {
        let (mut lo, mut hi) = (0usize, 0usize);
        let monotonic = self.window_ends.windows(2).all(|pair| pair[0] <= pair[1]);
        for (index, &end) in self.window_ends.iter().enumerate() {
            let start = end - self.range_ms;
            if !monotonic {
                lo = 0;
                hi = 0;
            }
            while hi < samples.len() && samples[hi].0 <= end {
                hi += 1;
            }
            while lo < hi && samples[lo].0 <= start {
                lo += 1;
            }
            f(index, &samples[lo..hi.max(lo)]);
        }
    }

    /// The index range of `samples` inside each step's window.
    pub fn window_ranges<V>(&self, samples: &[(i64, V)]) -> Vec<std::ops::Range<usize>> {
        let mut ranges = Vec::with_capacity(self.window_ends.len());
        self.for_each_window(samples, |_, window| {
            // `window` is a subslice of `samples`: its offset is its start index.
            let start = (window.as_ptr() as usize - samples.as_ptr() as usize)
                / std::mem::size_of::<(i64, V)>().max(1);
            ranges.push(start..start + window.len());
        });
        ranges
    }
}

pub(super) struct Evaluator<'a> {
    pub storage: &'a dyn Storage,
    pub options: &'a EngineOptions,
    /// Query start and end, for `@ start()` / `@ end()`.
    pub query_start: i64,
    pub query_end: i64,
    /// The range query's step (0 for instant queries), for `step()`.
    pub query_step: i64,
    deadline: Instant,
    cancel: &'a Cancel,
    samples_loaded: Cell<usize>,
    pub warnings: RefCell<Vec<String>>,
    pub infos: RefCell<Vec<String>>,
}

pub(super) type EvalResult<T> = Result<T, QueryError>;

/// The cancellation and deadline checks of a query, shareable with the threads that split
/// its work (the evaluator itself is not).
#[derive(Clone)]
pub(super) struct LimitCheck {
    deadline: Instant,
    cancel: Cancel,
}

impl LimitCheck {
    pub fn check(&self) -> EvalResult<()> {
        if self.cancel.is_cancelled() {
            return Err(QueryError {
                kind: super::error::QueryErrorKind::Canceled,
                message: "query was canceled in query execution".into(),
            });
        }
        if Instant::now() > self.deadline {
            return Err(QueryError {
                kind: super::error::QueryErrorKind::Timeout,
                message: "query timed out in query execution".into(),
            });
        }
        Ok(())
    }
}

impl<'a> Evaluator<'a> {
    pub fn check_limits(&self) -> EvalResult<()> {
        self.limit_check().check()
    }

    pub fn limit_check(&self) -> LimitCheck {
        LimitCheck {
            deadline: self.deadline,
            cancel: self.cancel.clone(),
        }
    }

    pub fn account_samples(&self, count: usize) -> EvalResult<()> {
        let total = self.samples_loaded.get() + count;
        self.samples_loaded.set(total);
        if total > self.options.max_samples {
            return Err(QueryError::execution(
                "query processing would load too many samples into memory in query execution",
            ));
        }
        Ok(())
    }

    pub fn warn(&self, message: String) {
        let text = format!("PromQL warning: {message}");
        let mut warnings = self.warnings.borrow_mut();
        if !warnings.contains(&text) {
            warnings.push(text);
        }
    }

    pub fn info(&self, message: String) {
        let text = format!("PromQL info: {message}");
        let mut infos = self.infos.borrow_mut();
        if !infos.contains(&text) {
            infos.push(text);
        }
    }

    pub fn eval(&self, expr: &Expr, steps: Steps) -> EvalResult<Val> {
        self.check_limits()?;
        match expr {
            Expr::NumberLiteral(number) => Ok(Val::Scalar(vec![number.val; steps.len()])),
            Expr::StringLiteral(string) => Ok(Val::String(string.val.clone())),
            Expr::Paren(paren) => self.eval(&paren.expr, steps),
            Expr::Unary(unary) => match self.eval(&unary.expr, steps)? {
                Val::Scalar(values) => Ok(Val::Scalar(values.into_iter().map(|v| -v).collect())),
                Val::Vector(mut series) => {
                    for s in &mut series {
                        s.drop_name = true;
                        for point in &mut s.points {
                            point.1 = -point.1;
                        }
                        for (_, h) in &mut s.hists {
                            h.scale(-1.0);
                        }
                    }
                    Ok(Val::Vector(series))
                }
                _ => Err(QueryError::bad_data(
                    "unary expression only allowed on scalars and vectors",
                )),
            },
            Expr::VectorSelector(selector) => Ok(Val::Vector(
                self.eval_vector_selector(selector, steps, false)?,
            )),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => {
                if steps.len() != 1 {
                    return Err(QueryError::bad_data(
                        "range vectors can only be evaluated at a single time",
                    ));
                }
                let input = self.eval_range_input(expr, steps)?;
                let (end, range) = (input.window_ends[0], input.range_ms);
                let series = input
                    .series
                    .into_iter()
                    .filter_map(|mut s| {
                        s.points.retain(|&(t, _)| t > end - range && t <= end);
                        s.hists.retain(|(t, _)| *t > end - range && *t <= end);
                        (!s.is_empty()).then_some(s)
                    })
                    .collect();
                Ok(Val::Matrix(series))
            }
            Expr::Call(call) => super::functions::eval_call(self, call, steps),
            Expr::Aggregate(aggregate) => super::aggregate::eval_aggregate(self, aggregate, steps),
            Expr::Binary(binary) => super::binary::eval_binary(self, binary, steps),
            Expr::Extension(_) => Err(QueryError::bad_data("unsupported expression")),
        }
    }

    /// Evaluates an expression that must yield an instant vector.
    pub fn eval_vector(&self, expr: &Expr, steps: Steps) -> EvalResult<Vec<Series>> {
        match self.eval(expr, steps)? {
            Val::Vector(series) => Ok(series),
            _ => Err(QueryError::bad_data(format!(
                "expected instant vector, got another type in {expr}"
            ))),
        }
    }

    /// Evaluates an expression that must yield a scalar: one value per step.
    pub fn eval_scalar(&self, expr: &Expr, steps: Steps) -> EvalResult<Vec<f64>> {
        match self.eval(expr, steps)? {
            Val::Scalar(values) => Ok(values),
            _ => Err(QueryError::bad_data(format!(
                "expected scalar, got another type in {expr}"
            ))),
        }
    }

    /// The time a selector reads at for a step at `t`: its `@` time if it has one, minus
    /// its offset.
    fn read_time(&self, t: i64, at: &Option<AtModifier>, offset: &Option<Offset>) -> i64 {
        let base = match at {
            None => t,
            Some(AtModifier::Start) => self.query_start,
            Some(AtModifier::End) => self.query_end,
            Some(AtModifier::At(time)) => system_time_ms(*time),
        };
        base - offset_ms(offset)
    }

    /// Series selected by a vector selector, one point per step: the newest sample within
    /// the lookback window `(t - lookback, t]`, unless it is a staleness marker. With
    /// `sample_time`, the value is the sample's timestamp in seconds (for `timestamp()`).
    pub fn eval_vector_selector(
        &self,
        selector: &VectorSelector,
        steps: Steps,
        sample_time: bool,
    ) -> EvalResult<Vec<Series>> {
        let lookback = self.options.lookback_delta_ms;
        let read_times: Vec<i64> = steps
            .times()
            .map(|t| self.read_time(t, &selector.at, &selector.offset))
            .collect();
        let mint = read_times.iter().copied().min().unwrap_or(0) - lookback + 1;
        let maxt = read_times.iter().copied().max().unwrap_or(0);
        // One read time (an instant query, or `@`): only each series' newest sample counts.
        let newest_only = read_times.windows(2).all(|pair| pair[0] == pair[1]);
        let selected = self.select(selector, mint, maxt, newest_only)?;
        let monotonic = read_times.windows(2).all(|pair| pair[0] <= pair[1]);
        let mut result = Vec::with_capacity(selected.len());
        for (index, data) in selected.into_iter().enumerate() {
            if index % 256 == 0 {
                self.check_limits()?;
            }
            let samples = &data.samples;
            let hists = &data.histograms;
            let mut points = Vec::new();
            let mut hist_points = Vec::new();
            let (mut cursor, mut hist_cursor) = (0usize, 0usize);
            for (step_index, &read_at) in read_times.iter().enumerate() {
                if !monotonic {
                    cursor = 0;
                    hist_cursor = 0;
                }
                while cursor < samples.len() && samples[cursor].0 <= read_at {
                    cursor += 1;
                }
                while hist_cursor < hists.len() && hists[hist_cursor].0 <= read_at {
                    hist_cursor += 1;
                }
                let float = cursor.checked_sub(1).map(|i| samples[i]);
                let hist = hist_cursor.checked_sub(1).map(|i| &hists[i]);
                // The newer of the two kinds is the series' current sample.
                match (float, hist) {
                    (Some((t, v)), h) if h.is_none_or(|h| h.0 < t) => {
                        if t <= read_at - lookback || is_stale_nan(v) {
                            continue;
                        }
                        let value = if sample_time { t as f64 / 1000.0 } else { v };
                        points.push((steps.time(step_index), value));
                    }
                    (_, Some((t, h))) => {
                        // A histogram whose sum is the stale NaN is a staleness marker.
                        if *t <= read_at - lookback || is_stale_nan(h.sum) {
                            continue;
                        }
                        if sample_time {
                            points.push((steps.time(step_index), *t as f64 / 1000.0));
                        } else {
                            hist_points.push((steps.time(step_index), h.clone()));
                        }
                    }
                    _ => {}
                }
            }
            if !points.is_empty() || !hist_points.is_empty() {
                result.push(Series {
                    labels: data.labels,
                    points,
                    hists: hist_points,
                    drop_name: false,
                });
            }
        }
        Ok(result)
    }

    /// Reads the storage for a selector; `or`-joined matcher sets are unioned.
    fn select(
        &self,
        selector: &VectorSelector,
        mint: i64,
        maxt: i64,
        newest_only: bool,
    ) -> EvalResult<Vec<SeriesData>> {
        let matcher_sets = selector_matchers(selector)?;
        let mut all: Vec<SeriesData> = Vec::new();
        for matchers in &matcher_sets {
            let selected = if newest_only {
                self.storage.select_newest(matchers, mint, maxt)
            } else {
                self.storage.select(matchers, mint, maxt)
            };
            for data in selected {
                // A histogram weighs as a float per 16 buckets, as in Prometheus.
                let histogram_weight: usize = data
                    .histograms
                    .iter()
                    .map(|(_, h)| 1 + (h.positive_buckets.len() + h.negative_buckets.len()) / 16)
                    .sum();
                self.account_samples(data.samples.len() + histogram_weight)?;
                all.push(data);
            }
        }
        if matcher_sets.len() > 1 {
            all.sort_by(|a, b| a.labels.cmp(&b.labels));
            all.dedup_by(|a, b| a.labels == b.labels);
        }
        Ok(all)
    }

    /// Evaluates the argument of a range function (a range selector or a subquery) for
    /// every step of `steps`.
    pub fn eval_range_input(&self, expr: &Expr, steps: Steps) -> EvalResult<RangeInput> {
        match expr {
            Expr::Paren(paren) => self.eval_range_input(&paren.expr, steps),
            Expr::MatrixSelector(matrix) => {
                let selector = &matrix.vs;
                let range_ms = duration_ms(matrix.range);
                let window_ends: Vec<i64> = steps
                    .times()
                    .map(|t| self.read_time(t, &selector.at, &selector.offset))
                    .collect();
                let mint = window_ends.iter().copied().min().unwrap_or(0) - range_ms + 1;
                let maxt = window_ends.iter().copied().max().unwrap_or(0);
                let series = self
                    .select(selector, mint, maxt, false)?
                    .into_iter()
                    .filter_map(
                        |SeriesData {
                             labels,
                             mut samples,
                             histograms,
                         }| {
                            samples.retain(|&(_, v)| !is_stale_nan(v));
                            let mut histograms = histograms;
                            histograms.retain(|(_, h)| !is_stale_nan(h.sum));
                            let series = Series {
                                labels,
                                points: samples,
                                hists: histograms,
                                drop_name: false,
                            };
                            (!series.is_empty()).then_some(series)
                        },
                    )
                    .collect();
                Ok(RangeInput {
                    series,
                    range_ms,
                    window_ends,
                })
            }
            Expr::Subquery(subquery) => {
                let range_ms = duration_ms(subquery.range);
                let step_ms = subquery
                    .step
                    .map(duration_ms)
                    .filter(|&step| step > 0)
                    .unwrap_or(self.options.default_subquery_step_ms);
                let window_ends: Vec<i64> = steps
                    .times()
                    .map(|t| self.read_time(t, &subquery.at, &subquery.offset))
                    .collect();
                let first_end = window_ends.iter().copied().min().unwrap_or(0);
                let last_end = window_ends.iter().copied().max().unwrap_or(0);
                // The inner grid is aligned to absolute multiples of the step, and only
                // points inside some left-open window are needed.
                let lower = first_end - range_ms;
                let mut inner_start = lower.div_euclid(step_ms) * step_ms;
                if inner_start <= lower {
                    inner_start += step_ms;
                }
                let inner_end = last_end.div_euclid(step_ms) * step_ms;
                let series = if inner_start > inner_end {
                    Vec::new()
                } else {
                    let inner = Steps {
                        start: inner_start,
                        end: inner_end,
                        step: step_ms,
                    };
                    match self.eval(&subquery.expr, inner)? {
                        Val::Vector(series) => series,
                        Val::Scalar(values) => vec![Series::floats(
                            Vec::new(),
                            inner.times().zip(values).collect(),
                            false,
                        )],
                        _ => {
                            return Err(QueryError::bad_data(
                                "subquery is only allowed on instant vector or scalar",
                            ))
                        }
                    }
                };
                Ok(RangeInput {
                    series,
                    range_ms,
                    window_ends,
                })
            }
            other => Err(QueryError::bad_data(format!(
                "expected range vector, got another type in {other}"
            ))),
        }
    }
}

/// The matcher sets of a selector (more than one for `{a="1" or b="2"}`).
pub(super) fn selector_matchers(selector: &VectorSelector) -> EvalResult<Vec<Vec<Matcher>>> {
    let convert = |matcher: &promql_parser::label::Matcher| -> EvalResult<Matcher> {
        let op = match &matcher.op {
            PromMatchOp::Equal => MatchOp::Equal,
            PromMatchOp::NotEqual => MatchOp::NotEqual,
            PromMatchOp::Re(_) => MatchOp::RegexMatch,
            PromMatchOp::NotRe(_) => MatchOp::RegexNoMatch,
        };
        Matcher::new(op, &matcher.name, &matcher.value)
            .map_err(|err| QueryError::bad_data(err.to_string()))
    };
    let mut base = Vec::new();
    if let Some(name) = &selector.name {
        base.push(
            Matcher::new(MatchOp::Equal, "__name__", name)
                .map_err(|err| QueryError::bad_data(err.to_string()))?,
        );
    }
    for matcher in &selector.matchers.matchers {
        base.push(convert(matcher)?);
    }
    if selector.matchers.or_matchers.is_empty() {
        return Ok(vec![base]);
    }
    selector
        .matchers
        .or_matchers
        .iter()
        .map(|alternative| {
            let mut set = base.clone();
            for matcher in alternative {
                set.push(convert(matcher)?);
            }
            Ok(set)
        })
        .collect()
}

pub(super) fn duration_ms(duration: Duration) -> i64 {
    duration.as_millis() as i64
}

fn offset_ms(offset: &Option<Offset>) -> i64 {
    match offset {
        None => 0,
        Some(Offset::Pos(duration)) => duration_ms(*duration),
        Some(Offset::Neg(duration)) => -duration_ms(*duration),
    }
}

fn system_time_ms(time: SystemTime) -> i64 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => after.as_millis() as i64,
        Err(before) => -(before.duration().as_millis() as i64),
    }
}

/// Whether two of `series` have the same label set.
fn has_equal_label_sets(series: &[Series]) -> bool {
    let mut label_sets: Vec<&Labels> = series.iter().map(|s| &s.labels).collect();
    label_sets.sort_unstable();
    label_sets.windows(2).any(|pair| pair[0] == pair[1])
}

/// Removes names marked for delayed removal (with `__type__`/`__unit__`, which belong to
/// the name) and refuses results where two series then share a label set.
fn finish_names(series: &mut Vec<Series>, merge_disjoint: bool) -> EvalResult<()> {
    for s in series.iter_mut() {
        if s.drop_name {
            s.labels
                .retain(|(name, _)| name != "__name__" && name != "__type__" && name != "__unit__");
            s.drop_name = false;
        }
    }
    // Most results have no two series alike: found by sorting references, that costs no
    // hashing of every label and no copy of every label set.
    if !has_equal_label_sets(series) {
        return Ok(());
    }
    let mut seen: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    let mut merged: Vec<Series> = Vec::with_capacity(series.len());
    for s in series.drain(..) {
        match seen.get(&s.labels) {
            None => {
                seen.insert(s.labels.clone(), merged.len());
                merged.push(s);
            }
            Some(&index) => {
                let existing = &mut merged[index];
                let times = |series: &Series| -> Vec<i64> {
                    let mut times: Vec<i64> = series.points.iter().map(|p| p.0).collect();
                    times.extend(series.hists.iter().map(|p| p.0));
                    times.sort_unstable();
                    times
                };
                let existing_times = times(existing);
                let overlaps = times(&s)
                    .iter()
                    .any(|t| existing_times.binary_search(t).is_ok());
                if !merge_disjoint || overlaps {
                    return Err(QueryError::execution(
                        "vector cannot contain metrics with the same labelset",
                    ));
                }
                existing.points.extend(s.points);
                existing.points.sort_by_key(|p| p.0);
                existing.hists.extend(s.hists);
                existing.hists.sort_by_key(|p| p.0);
            }
        }
    }
    *series = merged;
    Ok(())
}

impl Engine {
    fn evaluator<'a>(
        &'a self,
        storage: &'a dyn Storage,
        start: i64,
        end: i64,
        step: i64,
        cancel: &'a Cancel,
    ) -> Evaluator<'a> {
        Evaluator {
            storage,
            options: self.options(),
            query_start: start,
            query_end: end,
            query_step: step,
            deadline: Instant::now() + self.options().timeout,
            cancel,
            samples_loaded: Cell::new(0),
            warnings: RefCell::new(Vec::new()),
            infos: RefCell::new(Vec::new()),
        }
    }

    /// [`Engine::instant_query`] that stops when `cancel` is raised.
    pub fn instant_query_cancellable(
        &self,
        storage: &dyn Storage,
        query: &str,
        time_ms: i64,
        cancel: &Cancel,
    ) -> Result<QueryResult, QueryError> {
        let expr = self.parse(query)?;
        let evaluator = self.evaluator(storage, time_ms, time_ms, 0, cancel);
        let steps = Steps {
            start: time_ms,
            end: time_ms,
            step: 1,
        };
        let value = match evaluator.eval(&expr, steps)? {
            Val::Scalar(values) => QueryValue::Scalar {
                t: time_ms,
                v: values[0],
            },
            Val::String(v) => QueryValue::String { t: time_ms, v },
            Val::Vector(mut series) => {
                finish_names(&mut series, false)?;
                QueryValue::Vector(
                    series
                        .into_iter()
                        .filter_map(|mut s| {
                            if let Some(&(t, v)) = s.points.first() {
                                return Some(InstantSample {
                                    labels: s.labels,
                                    t,
                                    v,
                                    h: None,
                                });
                            }
                            let (t, h) = s.hists.pop()?;
                            Some(InstantSample {
                                labels: s.labels,
                                t,
                                v: 0.0,
                                h: Some(Box::new(h)),
                            })
                        })
                        .collect(),
                )
            }
            Val::Matrix(mut series) => {
                finish_names(&mut series, false)?;
                series.sort_by(|a, b| a.labels.cmp(&b.labels));
                QueryValue::Matrix(into_range_series(series))
            }
        };
        Ok(QueryResult {
            value,
            warnings: evaluator.warnings.into_inner(),
            infos: evaluator.infos.into_inner(),
        })
    }

    /// [`Engine::range_query`] that stops when `cancel` is raised.
    pub fn range_query_cancellable(
        &self,
        storage: &dyn Storage,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        cancel: &Cancel,
    ) -> Result<QueryResult, QueryError> {
        if step_ms <= 0 {
            return Err(QueryError::bad_data(
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        if end_ms < start_ms {
            return Err(QueryError::bad_data(
                "end timestamp must not be before start time",
            ));
        }
        let expr = self.parse(query)?;
        match expr.value_type() {
            parser::value::ValueType::Vector | parser::value::ValueType::Scalar => {}
            other => {
                return Err(QueryError::bad_data(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                type_display(other)
            )))
            }
        }
        let evaluator = self.evaluator(storage, start_ms, end_ms, step_ms, cancel);
        let steps = Steps {
            start: start_ms,
            end: end_ms,
            step: step_ms,
        };
        let mut series = match evaluator.eval(&expr, steps)? {
            Val::Scalar(values) => vec![Series::floats(
                Vec::new(),
                steps.times().zip(values).collect(),
                false,
            )],
            Val::Vector(series) => series,
            _ => {
                return Err(QueryError::bad_data(
                    "range query must return a vector or scalar",
                ))
            }
        };
        finish_names(&mut series, true)?;
        series.retain(|s| !s.is_empty());
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(QueryResult {
            value: QueryValue::Matrix(into_range_series(series)),
            warnings: evaluator.warnings.into_inner(),
            infos: evaluator.infos.into_inner(),
        })
    }
}

fn into_range_series(series: Vec<Series>) -> Vec<RangeSeries> {
    series
        .into_iter()
        .map(|s| RangeSeries {
            labels: s.labels,
            points: s.points,
            histograms: s.hists,
        })
        .collect()
}

fn type_display(value_type: parser::value::ValueType) -> &'static str {
    match value_type {
        parser::value::ValueType::Vector => "instant vector",
        parser::value::ValueType::Scalar => "scalar",
        parser::value::ValueType::Matrix => "range vector",
        parser::value::ValueType::String => "string",
    }
}

/// Regroups series points by step: for each step, `(series index, value)` pairs in series
/// order. Operators that combine series (aggregations, vector matching) work per step on
/// this view while computing each series' grouping key only once.
pub(super) fn by_step(series: &[Series], steps: Steps) -> Vec<Vec<(u32, f64)>> {
    let mut table: Vec<Vec<(u32, f64)>> = vec![Vec::new(); steps.len()];
    for (index, s) in series.iter().enumerate() {
        for &(t, v) in &s.points {
            table[steps.index(t)].push((index as u32, v));
        }
    }
    table
}

/// Assembles output series point by point; each output series is created once, on its
/// first point, under a caller-chosen key.
pub(super) struct OutputBuilder<K> {
    index: HashMap<K, usize>,
    pub series: Vec<Series>,
}

impl<K: std::hash::Hash + Eq> OutputBuilder<K> {
    pub fn new() -> Self {
        OutputBuilder {
            index: HashMap::new(),
            series: Vec::new(),
        }
    }

    /// Index of the series for `key`, created by `make` if new.
    pub fn series_for(&mut self, key: K, make: impl FnOnce() -> (Labels, bool)) -> usize {
        let next = self.series.len();
        let index = *self.index.entry(key).or_insert(next);
        if index == next {
            let (labels, drop_name) = make();
            self.series
                .push(Series::floats(labels, Vec::new(), drop_name));
        }
        index
    }

    pub fn push(&mut self, key: K, make: impl FnOnce() -> (Labels, bool), t: i64, v: f64) {
        let index = self.series_for(key, make);
        self.series[index].points.push((t, v));
    }
}
