//! `info(v, [selector])`: adds to each series the data labels of the info series (by
//! default `target_info`) that share its identifying labels `instance` and `job`, step by
//! step, as Prometheus's experimental function does.

use promql_parser::label::{MatchOp, Matcher as PromMatcher, Matchers};
use promql_parser::parser::{Call, Expr, VectorSelector};

use super::error::QueryError;
use super::eval::{EvalResult, Evaluator, OutputBuilder, Series, Steps, Val};
use super::value::Labels;

const IDENTIFYING_LABELS: [&str; 2] = ["instance", "job"];
const DEFAULT_INFO_METRIC: &str = "target_info";

pub(super) fn eval_info(ev: &Evaluator, call: &Call, steps: Steps) -> EvalResult<Val> {
    let base_expr = call
        .args
        .args
        .first()
        .ok_or_else(|| QueryError::bad_data("info() needs an instant vector"))?;
    let base = ev.eval_vector(base_expr, steps)?;
    let (mut name_matchers, data_matchers) = match call.args.args.get(1).map(|arg| unparen(arg)) {
        None => (Vec::new(), Vec::new()),
        Some(Expr::VectorSelector(selector)) => split_matchers(selector),
        Some(other) => {
            return Err(QueryError::bad_data(format!(
                "expected a label selector as the second argument of info(), got {other}"
            )))
        }
    };
    let positive = |m: &PromMatcher| matches!(m.op, MatchOp::Equal | MatchOp::Re(_));
    if name_matchers.is_empty() {
        name_matchers.push(PromMatcher::new(
            MatchOp::Equal,
            "__name__",
            DEFAULT_INFO_METRIC,
        ));
    } else if !name_matchers.iter().any(positive) {
        // Negative name matchers alone narrow the info metrics, the `*_info` ones.
        name_matchers.push(any_info_metric()?);
    }
    let mut selector_matchers = name_matchers.clone();
    selector_matchers.extend(data_matchers.iter().cloned());
    let selector = VectorSelector::new(None, Matchers::new(selector_matchers));
    if ev
        .eval_vector_selector(&selector, steps, false)?
        .iter()
        .any(|s| !s.hists.is_empty())
    {
        return Err(QueryError::execution(
            "info(): the info series selector matched native histogram series; info metrics must be floats",
        ));
    }
    // Values are the info samples' own timestamps: where two info series of one metric
    // overlap, the newer sample wins.
    let infos = ev.eval_vector_selector(&selector, steps, true)?;
    let drop_without_info = data_matchers.iter().any(|m| !m.is_match(""));
    let data_label_names: Vec<&str> = data_matchers.iter().map(|m| m.name.as_str()).collect();

    let mut out: OutputBuilder<Labels> = OutputBuilder::new();
    for s in base {
        let name = label(&s.labels, "__name__");
        // Info series themselves (named by all the name matchers) are left as they are.
        if name_matchers.iter().all(|m| m.is_match(name)) {
            push_all(&mut out, s);
            continue;
        }
        let candidates: Vec<&Series> = infos
            .iter()
            .filter(|info| {
                IDENTIFYING_LABELS
                    .iter()
                    .all(|id| label(&info.labels, id) == label(&s.labels, id))
            })
            .collect();
        let times = s
            .points
            .iter()
            .map(|p| p.0)
            .chain(s.hists.iter().map(|p| p.0));
        let mut enriched: Vec<(i64, Labels)> = Vec::new();
        for t in times {
            let chosen = newest_per_metric(&candidates, t);
            if chosen.is_empty() && drop_without_info {
                continue;
            }
            let mut labels = s.labels.clone();
            let mut added: Vec<(&str, &str)> = Vec::new();
            for info in chosen {
                for (label_name, value) in &info.labels {
                    let is_data_label = label_name != "__name__"
                        && !IDENTIFYING_LABELS.contains(&label_name.as_str())
                        && (data_label_names.is_empty()
                            || data_label_names.contains(&label_name.as_str()));
                    if !is_data_label || !label(&s.labels, label_name).is_empty() {
                        continue;
                    }
                    match added.iter().find(|(n, _)| n == label_name) {
                        Some((_, earlier)) if earlier != value => {
                            return Err(QueryError::execution(format!(
                                "info(): conflicting label {label_name:?} in the info series of {}: {earlier:?} and {value:?}",
                                crate::metrics::tsdb::labels::format_labels(&s.labels)
                            )))
                        }
                        Some(_) => {}
                        None => added.push((label_name, value)),
                    }
                }
            }
            labels.extend(
                added
                    .into_iter()
                    .map(|(n, v)| (n.to_string(), v.to_string())),
            );
            labels.sort();
            enriched.push((t, labels));
        }
        for (t, labels) in enriched {
            let make = || (labels.clone(), s.drop_name);
            if let Ok(position) = s.points.binary_search_by_key(&t, |p| p.0) {
                out.push(labels.clone(), make, t, s.points[position].1);
            } else if let Ok(position) = s.hists.binary_search_by_key(&t, |p| p.0) {
                let index = out.series_for(labels.clone(), make);
                out.series[index].hists.push(s.hists[position].clone());
            }
        }
    }
    for s in &mut out.series {
        s.points.sort_by_key(|p| p.0);
        s.hists.sort_by_key(|p| p.0);
    }
    Ok(Val::Vector(out.series))
}

/// The info series present at step time `t`, one per metric name: the one whose sample is
/// newest.
fn newest_per_metric<'a>(candidates: &[&'a Series], t: i64) -> Vec<&'a Series> {
    let mut chosen: Vec<(&str, f64, &'a Series)> = Vec::new();
    for info in candidates {
        let Ok(position) = info.points.binary_search_by_key(&t, |p| p.0) else {
            continue;
        };
        let sample_time = info.points[position].1;
        let name = label(&info.labels, "__name__");
        match chosen.iter_mut().find(|(known, _, _)| *known == name) {
            Some(entry) if entry.1 < sample_time => *entry = (name, sample_time, info),
            Some(_) => {}
            None => chosen.push((name, sample_time, info)),
        }
    }
    chosen.into_iter().map(|(_, _, info)| info).collect()
}

fn push_all(out: &mut OutputBuilder<Labels>, s: Series) {
    let index = out.series_for(s.labels.clone(), || (s.labels.clone(), s.drop_name));
    out.series[index].points.extend(s.points);
    out.series[index].hists.extend(s.hists);
}

/// `__name__=~".+_info"`.
fn any_info_metric() -> EvalResult<PromMatcher> {
    match promql_parser::parser::parse(r#"{__name__=~".+_info"}"#) {
        Ok(Expr::VectorSelector(selector)) => selector
            .matchers
            .matchers
            .into_iter()
            .next()
            .ok_or_else(|| QueryError::execution("info(): no name matcher")),
        _ => Err(QueryError::execution(
            "info(): cannot build the name matcher",
        )),
    }
}

/// The selector's `__name__` matchers and its other (data label) matchers.
fn split_matchers(selector: &VectorSelector) -> (Vec<PromMatcher>, Vec<PromMatcher>) {
    let mut names = Vec::new();
    if let Some(name) = &selector.name {
        names.push(PromMatcher::new(MatchOp::Equal, "__name__", name));
    }
    let mut data = Vec::new();
    for matcher in &selector.matchers.matchers {
        if matcher.name == "__name__" {
            names.push(matcher.clone());
        } else {
            data.push(matcher.clone());
        }
    }
    (names, data)
}

fn label<'a>(labels: &'a Labels, name: &str) -> &'a str {
    labels
        .iter()
        .find(|(existing, _)| existing == name)
        .map_or("", |(_, value)| value.as_str())
}

fn unparen(expr: &Expr) -> &Expr {
    match expr {
        Expr::Paren(paren) => unparen(&paren.expr),
        other => other,
    }
}
