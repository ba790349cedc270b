//! Binary operators: arithmetic, comparisons (filtering or `bool`), and the set operators
//! `and`/`or`/`unless`, with Prometheus's vector matching (`on`/`ignoring`,
//! `group_left`/`group_right`) and its errors for ambiguous matches.

use std::collections::HashMap;

use promql_parser::parser::token::{
    T_ADD, T_DIV, T_EQLC, T_GTE, T_GTR, T_LAND, T_LOR, T_LSS, T_LTE, T_LUNLESS, T_MOD, T_MUL,
    T_NEQ, T_POW, T_SUB,
};
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::error::QueryError;
use super::eval::{by_step, EvalResult, Evaluator, OutputBuilder, Series, Steps, Val};
use super::native::{self, Operand, Sample};
use super::value::Labels;
use crate::metrics::histogram::FloatHistogram;

pub(super) fn eval_binary(ev: &Evaluator, binary: &BinaryExpr, steps: Steps) -> EvalResult<Val> {
    let op = binary.op.id();
    let return_bool = binary.modifier.as_ref().is_some_and(|m| m.return_bool);
    let lhs = ev.eval(&binary.lhs, steps)?;
    let rhs = ev.eval(&binary.rhs, steps)?;
    let op_text = binary.op.to_string();
    match (lhs, rhs) {
        (Val::Scalar(left), Val::Scalar(right)) => Ok(Val::Scalar(
            left.into_iter()
                .zip(right)
                .map(|(l, r)| {
                    if is_comparison(op) {
                        f64::from(u8::from(compare(op, l, r)))
                    } else {
                        arithmetic(op, l, r)
                    }
                })
                .collect(),
        )),
        (Val::Vector(vector), Val::Scalar(scalar)) => Ok(Val::Vector(vector_scalar(
            ev,
            op,
            &op_text,
            vector,
            &scalar,
            false,
            return_bool,
            steps,
        ))),
        (Val::Scalar(scalar), Val::Vector(vector)) => Ok(Val::Vector(vector_scalar(
            ev,
            op,
            &op_text,
            vector,
            &scalar,
            true,
            return_bool,
            steps,
        ))),
        (Val::Vector(left), Val::Vector(right)) => {
            let modifier = binary.modifier.as_ref();
            let matching = modifier.and_then(|m| m.matching.as_ref());
            match op {
                T_LAND | T_LOR | T_LUNLESS => {
                    let (mut left, mut right) = (left, right);
                    let has_histograms = add_stand_ins(&mut left) | add_stand_ins(&mut right);
                    let mut result = set_operation(op, &left, &right, matching, steps);
                    if has_histograms {
                        restore_histograms(&left, &right, &mut result);
                    }
                    Ok(Val::Vector(result))
                }
                _ => {
                    let card = modifier
                        .map(|m| m.card.clone())
                        .unwrap_or(VectorMatchCardinality::OneToOne);
                    let (mut left, mut right) = (left, right);
                    add_stand_ins(&mut left);
                    add_stand_ins(&mut right);
                    let context = BinaryContext {
                        ev,
                        op,
                        op_text: &op_text,
                        return_bool,
                    };
                    vector_vector(&context, left, right, matching, &card, steps).map(Val::Vector)
                }
            }
        }
        _ => Err(QueryError::bad_data(format!(
            "binary operator \"{}\" not allowed on these operand types",
            binary.op
        ))),
    }
}

fn is_comparison(op: u16) -> bool {
    matches!(op, T_EQLC | T_NEQ | T_GTR | T_LSS | T_GTE | T_LTE)
}

/// Arithmetic operators drop the metric name from their result (delayed).
fn drops_name(op: u16) -> bool {
    !is_comparison(op)
}

fn compare(op: u16, l: f64, r: f64) -> bool {
    match op {
        T_EQLC => l == r,
        T_NEQ => l != r,
        T_GTR => l > r,
        T_LSS => l < r,
        T_GTE => l >= r,
        T_LTE => l <= r,
        _ => false,
    }
}

pub(super) fn arithmetic(op: u16, l: f64, r: f64) -> f64 {
    match op {
        T_ADD => l + r,
        T_SUB => l - r,
        T_MUL => l * r,
        T_DIV => l / r,
        T_MOD => l % r,
        T_POW => l.powf(r),
        // atan2 is the only other arithmetic operator.
        _ => l.atan2(r),
    }
}

#[allow(clippy::too_many_arguments)]
fn vector_scalar(
    ev: &Evaluator,
    op: u16,
    op_text: &str,
    mut vector: Vec<Series>,
    scalar: &[f64],
    scalar_on_left: bool,
    return_bool: bool,
    steps: Steps,
) -> Vec<Series> {
    for series in &mut vector {
        let comparison = is_comparison(op);
        series.points.retain_mut(|(t, v)| {
            let s = scalar[steps.index(*t)];
            let (l, r) = if scalar_on_left { (s, *v) } else { (*v, s) };
            if comparison {
                let keep = compare(op, l, r);
                if return_bool {
                    *v = f64::from(u8::from(keep));
                    true
                } else {
                    keep
                }
            } else {
                *v = arithmetic(op, l, r);
                true
            }
        });
        // Histogram samples after the floats, so that a float result of theirs is not
        // operated on again.
        if !series.hists.is_empty() {
            let hists = std::mem::take(&mut series.hists);
            for (t, h) in &hists {
                let s = Operand::F(scalar[steps.index(*t)]);
                let (l, r) = if scalar_on_left {
                    (s, Operand::H(h))
                } else {
                    (Operand::H(h), s)
                };
                match native::binary_op(ev, op_text, l, r, return_bool, &series.labels) {
                    Some(Sample::H(result)) => series.hists.push((*t, result)),
                    Some(Sample::F(value)) => series.points.push((*t, value)),
                    None => {}
                }
            }
            series.points.sort_by_key(|p| p.0);
        }
        if drops_name(op) || return_bool {
            series.drop_name = true;
        }
    }
    vector.retain(|series| !series.is_empty());
    vector
}

/// Computes each series' matching signature once and interns it to a small id.
struct Signatures {
    ids: HashMap<Vec<(String, String)>, u32>,
    names: Vec<Vec<(String, String)>>,
}

impl Signatures {
    fn new() -> Self {
        Signatures {
            ids: HashMap::new(),
            names: Vec::new(),
        }
    }

    fn id(&mut self, labels: &Labels, matching: Option<&LabelModifier>) -> u32 {
        let signature: Vec<(String, String)> = match matching {
            Some(LabelModifier::Include(on)) => labels
                .iter()
                .filter(|(name, _)| on.labels.contains(name))
                .cloned()
                .collect(),
            Some(LabelModifier::Exclude(ignoring)) => labels
                .iter()
                .filter(|(name, _)| name != "__name__" && !ignoring.labels.contains(name))
                .cloned()
                .collect(),
            None => labels
                .iter()
                .filter(|(name, _)| name != "__name__")
                .cloned()
                .collect(),
        };
        if let Some(&id) = self.ids.get(&signature) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(signature.clone());
        self.ids.insert(signature, id);
        id
    }

    fn display(&self, id: u32) -> String {
        crate::metrics::tsdb::labels::format_labels(&self.names[id as usize])
    }
}

/// Per-step lookup from signature id to one series, reset cheaply by a generation stamp.
struct StepMap {
    slots: Vec<(u32, u32)>,
    generation: u32,
}

impl StepMap {
    fn new(size: usize) -> Self {
        StepMap {
            slots: vec![(0, 0); size],
            generation: 0,
        }
    }

    fn next_step(&mut self) {
        self.generation += 1;
    }

    fn get(&self, sig: u32) -> Option<u32> {
        let (generation, value) = self.slots[sig as usize];
        (generation == self.generation).then_some(value)
    }

    fn insert(&mut self, sig: u32, value: u32) {
        self.slots[sig as usize] = (self.generation, value);
    }
}

fn set_operation(
    op: u16,
    left: &[Series],
    right: &[Series],
    matching: Option<&LabelModifier>,
    steps: Steps,
) -> Vec<Series> {
    let mut signatures = Signatures::new();
    let left_sigs: Vec<u32> = left
        .iter()
        .map(|s| signatures.id(&s.labels, matching))
        .collect();
    let right_sigs: Vec<u32> = right
        .iter()
        .map(|s| signatures.id(&s.labels, matching))
        .collect();
    let left_steps = by_step(left, steps);
    let right_steps = by_step(right, steps);
    let mut present = StepMap::new(signatures.names.len());
    // Output keys: (side, series index); side 0 = left, 1 = right.
    let mut out: OutputBuilder<(u8, u32)> = OutputBuilder::new();
    for (step_index, (lefts, rights)) in left_steps.iter().zip(&right_steps).enumerate() {
        let t = steps.time(step_index);
        present.next_step();
        match op {
            T_LAND | T_LUNLESS => {
                for &(index, _) in rights {
                    present.insert(right_sigs[index as usize], 1);
                }
                for &(index, v) in lefts {
                    let matched = present.get(left_sigs[index as usize]).is_some();
                    if matched == (op == T_LAND) {
                        let s = &left[index as usize];
                        out.push((0, index), || (s.labels.clone(), s.drop_name), t, v);
                    }
                }
            }
            _ => {
                for &(index, v) in lefts {
                    present.insert(left_sigs[index as usize], 1);
                    let s = &left[index as usize];
                    out.push((0, index), || (s.labels.clone(), s.drop_name), t, v);
                }
                for &(index, v) in rights {
                    if present.get(right_sigs[index as usize]).is_none() {
                        let s = &right[index as usize];
                        out.push((1, index), || (s.labels.clone(), s.drop_name), t, v);
                    }
                }
            }
        }
    }
    out.series
}

/// What a vector-vector operation applies at each matched pair.
struct BinaryContext<'a> {
    ev: &'a Evaluator<'a>,
    op: u16,
    op_text: &'a str,
    return_bool: bool,
}

/// The bits of the NaN that stands in for a histogram sample in the per-step float
/// tables of vector matching; the histogram itself is looked up in its series at that
/// time. A stored float with these very bits (no arithmetic makes them) finds no
/// histogram there and is used as the float it is. Stand-ins never leave this module.
const HISTOGRAM_STAND_IN: u64 = 0x7ff4_4849_5354_4f47;

fn is_stand_in(value: f64) -> bool {
    value.to_bits() == HISTOGRAM_STAND_IN
}

/// Adds a stand-in point for every histogram sample; returns whether there were any.
fn add_stand_ins(series: &mut [Series]) -> bool {
    let mut any = false;
    for s in series.iter_mut().filter(|s| !s.hists.is_empty()) {
        any = true;
        let stand_in = f64::from_bits(HISTOGRAM_STAND_IN);
        s.points.extend(s.hists.iter().map(|(t, _)| (*t, stand_in)));
        s.points.sort_by_key(|p| p.0);
    }
    any
}

fn histogram_at(series: &Series, t: i64) -> Option<&FloatHistogram> {
    let position = series
        .hists
        .binary_search_by_key(&t, |(time, _)| *time)
        .ok()?;
    Some(&series.hists[position].1)
}

/// Replaces the stand-ins in set-operation results (whose series are input series) by
/// the histograms they stand for.
fn restore_histograms(left: &[Series], right: &[Series], output: &mut [Series]) {
    for out in output.iter_mut() {
        if !out.points.iter().any(|(_, v)| is_stand_in(*v)) {
            continue;
        }
        let sources: Vec<&Series> = left
            .iter()
            .chain(right)
            .filter(|s| s.labels == out.labels)
            .collect();
        let points = std::mem::take(&mut out.points);
        for (t, v) in points {
            if !is_stand_in(v) {
                out.points.push((t, v));
                continue;
            }
            match sources.iter().find_map(|s| histogram_at(s, t)) {
                Some(h) => out.hists.push((t, h.clone())),
                None => out.points.push((t, v)),
            }
        }
    }
}

fn vector_vector(
    context: &BinaryContext<'_>,
    left: Vec<Series>,
    right: Vec<Series>,
    matching: Option<&LabelModifier>,
    card: &VectorMatchCardinality,
    steps: Steps,
) -> EvalResult<Vec<Series>> {
    let (op, return_bool) = (context.op, context.return_bool);
    let one_is_left = matches!(card, VectorMatchCardinality::OneToMany(_));
    let (many, one) = if one_is_left {
        (&right, &left)
    } else {
        (&left, &right)
    };
    let mut signatures = Signatures::new();
    let many_sigs: Vec<u32> = many
        .iter()
        .map(|s| signatures.id(&s.labels, matching))
        .collect();
    let one_sigs: Vec<u32> = one
        .iter()
        .map(|s| signatures.id(&s.labels, matching))
        .collect();
    let many_steps = by_step(many, steps);
    let one_steps = by_step(one, steps);
    let mut one_by_sig = StepMap::new(signatures.names.len());
    let mut matched_sigs = StepMap::new(signatures.names.len());
    let mut out: OutputBuilder<(u32, u32)> = OutputBuilder::new();
    let mut seen_outputs: HashMap<usize, usize> = HashMap::new();
    let comparison = is_comparison(op);
    let one_to_one = matches!(card, VectorMatchCardinality::OneToOne);
    for (step_index, (manys, ones)) in many_steps.iter().zip(&one_steps).enumerate() {
        let t = steps.time(step_index);
        one_by_sig.next_step();
        matched_sigs.next_step();
        let mut one_values: Vec<f64> = Vec::new();
        for &(index, v) in ones {
            let sig = one_sigs[index as usize];
            if let Some(previous) = one_by_sig.get(sig) {
                let side = if one_is_left { "left" } else { "right" };
                let (a, b) = (&one[previous as usize], &one[index as usize]);
                return Err(QueryError::execution(format!(
                    "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    signatures.display(sig),
                    crate::metrics::tsdb::labels::format_labels(&a.labels),
                    crate::metrics::tsdb::labels::format_labels(&b.labels),
                )));
            }
            one_by_sig.insert(sig, one_values.len() as u32);
            one_values.push(v);
        }
        let one_index_of: HashMap<u32, u32> = ones
            .iter()
            .map(|&(index, _)| (one_sigs[index as usize], index))
            .collect();
        seen_outputs.clear();
        for &(many_index, many_value) in manys {
            let sig = many_sigs[many_index as usize];
            let Some(slot) = one_by_sig.get(sig) else {
                continue;
            };
            let one_value = one_values[slot as usize];
            let one_index = one_index_of[&sig];
            if one_to_one {
                if matched_sigs.get(sig).is_some() {
                    return Err(QueryError::execution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    ));
                }
                matched_sigs.insert(sig, 1);
            }
            let (l, r) = if one_is_left {
                (one_value, many_value)
            } else {
                (many_value, one_value)
            };
            let many_series = &many[many_index as usize];
            let one_series = &one[one_index as usize];
            if is_stand_in(l) || is_stand_in(r) {
                let (left_series, right_series) = if one_is_left {
                    (one_series, many_series)
                } else {
                    (many_series, one_series)
                };
                fn operand(series: &Series, t: i64, value: f64) -> Option<Operand<'_>> {
                    if is_stand_in(value) {
                        histogram_at(series, t).map(Operand::H)
                    } else {
                        Some(Operand::F(value))
                    }
                }
                let (Some(lo), Some(ro)) =
                    (operand(left_series, t, l), operand(right_series, t, r))
                else {
                    continue;
                };
                let Some(sample) = native::binary_op(
                    context.ev,
                    context.op_text,
                    lo,
                    ro,
                    return_bool,
                    &many_series.labels,
                ) else {
                    continue;
                };
                let output = out.series_for((many_index, one_index), || {
                    result_labels(many_series, one_series, op, return_bool, matching, card)
                });
                if !one_to_one && seen_outputs.insert(output, many_index as usize).is_some() {
                    return Err(QueryError::execution(
                        "multiple matches for labels: grouping labels must ensure unique matches",
                    ));
                }
                match sample {
                    Sample::F(value) => out.series[output].points.push((t, value)),
                    Sample::H(h) => out.series[output].hists.push((t, h)),
                }
                continue;
            }
            let value = if comparison {
                let keep = compare(op, l, r);
                if return_bool {
                    f64::from(u8::from(keep))
                } else if keep {
                    l
                } else {
                    continue;
                }
            } else {
                arithmetic(op, l, r)
            };
            let output = out.series_for((many_index, one_index), || {
                result_labels(many_series, one_series, op, return_bool, matching, card)
            });
            if !one_to_one {
                if let Some(_previous) = seen_outputs.insert(output, many_index as usize) {
                    return Err(QueryError::execution(
                        "multiple matches for labels: grouping labels must ensure unique matches",
                    ));
                }
            }
            out.series[output].points.push((t, value));
        }
    }
    // Different (many, one) pairs can produce the same labels; join them when their steps
    // are disjoint, as Prometheus's per-step evaluation would.
    let mut merged: OutputBuilder<Labels> = OutputBuilder::new();
    for series in out.series {
        let index = merged.series_for(series.labels.clone(), || {
            (series.labels.clone(), series.drop_name)
        });
        let target = &mut merged.series[index];
        target.drop_name |= series.drop_name;
        target.points.extend(series.points);
        target.hists.extend(series.hists);
    }
    for series in &mut merged.series {
        series.points.sort_by_key(|p| p.0);
        series.hists.sort_by_key(|p| p.0);
        let mut times: Vec<i64> = series.points.iter().map(|p| p.0).collect();
        times.extend(series.hists.iter().map(|p| p.0));
        times.sort_unstable();
        if times.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(QueryError::execution(
                "multiple matches for labels: grouping labels must ensure unique matches",
            ));
        }
    }
    Ok(merged.series)
}

fn result_labels(
    many: &Series,
    one: &Series,
    op: u16,
    return_bool: bool,
    matching: Option<&LabelModifier>,
    card: &VectorMatchCardinality,
) -> (Labels, bool) {
    let mut labels = many.labels.clone();
    let drop_name = many.drop_name || drops_name(op) || return_bool;
    if matches!(card, VectorMatchCardinality::OneToOne) {
        match matching {
            Some(LabelModifier::Include(on)) => labels.retain(|(name, _)| on.labels.contains(name)),
            Some(LabelModifier::Exclude(ignoring)) => {
                labels.retain(|(name, _)| !ignoring.labels.contains(name))
            }
            None => {}
        }
    }
    if let Some(include) = card.labels() {
        for name in &include.labels {
            labels.retain(|(existing, _)| existing != name);
            if let Some((_, value)) = one.labels.iter().find(|(existing, _)| existing == name) {
                if !value.is_empty() {
                    labels.push((name.clone(), value.clone()));
                }
            }
        }
        labels.sort();
    }
    (labels, drop_name)
}
