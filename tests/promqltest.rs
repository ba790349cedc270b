//! Runs the upstream PromQL acceptance scripts (`*.test` from prometheus/prometheus, see
//! `shared/reference/promqltest/`) against Sightline's PromQL engine and a real TSDB.
//!
//! Every `eval` is one case. Cases listed in `tests/promqltest/known_failures.txt` may
//! fail; the test fails when any other case fails, or when a listed case passes. Set
//! `PROMQLTEST_WRITE_KNOWN_FAILURES=1` to rewrite that file with the current failures
//! instead, `PROMQLTEST_SHOW_KNOWN=1` to print why each listed case fails, and
//! `PROMQLTEST_DIR` to run the scripts of another folder. Unlike upstream's
//! runner, each instant query is evaluated once (no extra step-invariance or range-mode
//! runs). `load_with_nhcb` also stores each classic histogram as a custom-bucket native
//! histogram. Start timestamps (`@st`) cannot be loaded, so the cases after such a
//! `load` fail.

#[path = "promqltest/script.rs"]
mod script;

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use script::{Command, Eval, EvalSpec, Expected, Grid, Labels, Load, Query, Series, Value};
use sightline::config::duration::PromDuration;
use sightline::metrics::histogram::FloatHistogram;
use sightline::metrics::promql::{Engine, EngineOptions, QueryValue, RangeSeries};
use sightline::metrics::tsdb::{
    AppendHistogramSeries, AppendReport, AppendSeries, Tsdb, TsdbOptions, STALE_NAN_BITS,
};
use tempfile::TempDir;

const KNOWN_FAILURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/promqltest/known_failures.txt"
);

/// Written when the known-failures file has no leading comment block of its own.
const DEFAULT_HEADER: &str = "\
# PromQL test-script cases that are known to fail in tests/promqltest.rs.
#
# One case per line: <file>.test:<line>, where <line> is the 1-based line number of
# the case's `eval` line in the script (shared/reference/promqltest by default).
# Lines starting with # and blank lines are ignored. Entries for files that are not
# in the script folder are ignored.
#
# The test fails when a case fails that is not listed here, and when a listed case
# passes. To rewrite this file with the current failures (this header is kept):
#   PROMQLTEST_WRITE_KNOWN_FAILURES=1 cargo test --test promqltest

";

/// The files of the stable PromQL language (no experimental features).
const STABLE_FILES: [&str; 12] = [
    "literals",
    "selectors",
    "staleness",
    "operators",
    "aggregators",
    "functions",
    "subquery",
    "at_modifier",
    "range_queries",
    "trig_functions",
    "collision",
    "histograms",
];

/// Relative tolerance of float comparisons.
const EPSILON: f64 = 1e-6;

/// Longest failure reason printed.
const MAX_REASON_CHARS: usize = 400;

struct Case {
    line: usize,
    expr: String,
    failure: Option<String>,
}

#[test]
fn promqltest() {
    let dir = std::env::var("PROMQLTEST_DIR").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/reference/promqltest"
        )
        .to_string()
    });
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot read {dir}: {error}"))
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.test files in {dir}");

    let engine = Engine::new(EngineOptions {
        lookback_delta_ms: 300_000,
        default_subquery_step_ms: 60_000,
        ..EngineOptions::default()
    });
    let mut results: BTreeMap<String, Vec<Case>> = BTreeMap::new();
    for path in &files {
        let name = file_name(path);
        let cases = match std::fs::read_to_string(path) {
            Ok(text) => run_script(&engine, &text),
            Err(error) => vec![Case {
                line: 0,
                expr: String::new(),
                failure: Some(format!("cannot read the file: {error}")),
            }],
        };
        results.insert(name, cases);
    }

    let known = read_known_failures();
    if std::env::var("PROMQLTEST_WRITE_KNOWN_FAILURES").is_ok_and(|value| value == "1") {
        report_totals(&results);
        write_known_failures(&known, &results);
        return;
    }
    let problems = check_known_failures(&known, &results);
    report_totals(&results);
    assert!(
        problems == 0,
        "{problems} promqltest problem(s), see above (PROMQLTEST_WRITE_KNOWN_FAILURES=1 \
         rewrites {KNOWN_FAILURES})"
    );
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn report_totals(results: &BTreeMap<String, Vec<Case>>) {
    let count = |cases: &[Case]| {
        let passed = cases.iter().filter(|case| case.failure.is_none()).count();
        (passed, cases.len() - passed)
    };
    let (mut passed, mut failed, mut stable_passed, mut stable_failed) = (0, 0, 0, 0);
    for (name, cases) in results {
        let (file_passed, file_failed) = count(cases);
        println!("{name}: {file_passed}/{}", cases.len());
        passed += file_passed;
        failed += file_failed;
        if STABLE_FILES.contains(&name.trim_end_matches(".test")) {
            stable_passed += file_passed;
            stable_failed += file_failed;
        }
    }
    let total = (stable_passed + stable_failed).max(1) as f64;
    let summary = format!(
        "promqltest: {passed} passed, {failed} failed\npromqltest stable: {stable_passed} passed, {stable_failed} failed ({:.1}%)\n",
        100.0 * stable_passed as f64 / total
    );
    // Written to the real stderr, past the test harness's capture, so the figures show
    // on every run, passing or not.
    let _ = std::io::Write::write_all(&mut std::io::stderr(), summary.as_bytes());
}

/// `(file, line)` entries of the known-failures file, plus its leading comment block.
struct KnownFailures {
    header: String,
    entries: BTreeSet<(String, usize)>,
    invalid: Vec<String>,
}

fn read_known_failures() -> KnownFailures {
    let text = std::fs::read_to_string(KNOWN_FAILURES).unwrap_or_default();
    let mut known = KnownFailures {
        header: String::new(),
        entries: BTreeSet::new(),
        invalid: Vec::new(),
    };
    let mut in_header = true;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            if in_header {
                known.header.push_str(line);
                known.header.push('\n');
            }
            continue;
        }
        in_header = false;
        let entry = trimmed
            .rsplit_once(':')
            .and_then(|(file, line)| Some((file.to_string(), line.parse().ok()?)));
        match entry {
            Some(entry) => {
                known.entries.insert(entry);
            }
            None => known.invalid.push(trimmed.to_string()),
        }
    }
    known
}

fn write_known_failures(known: &KnownFailures, results: &BTreeMap<String, Vec<Case>>) {
    let mut entries: BTreeSet<(String, usize)> = known
        .entries
        .iter()
        .filter(|(file, _)| !results.contains_key(file))
        .cloned()
        .collect();
    for (file, cases) in results {
        for case in cases.iter().filter(|case| case.failure.is_some()) {
            entries.insert((file.clone(), case.line));
        }
    }
    let mut text = if known.header.trim().is_empty() {
        DEFAULT_HEADER.to_string()
    } else {
        known.header.clone()
    };
    if !text.ends_with("\n\n") {
        text.push('\n');
    }
    for (file, line) in &entries {
        text.push_str(&format!("{file}:{line}\n"));
    }
    std::fs::write(KNOWN_FAILURES, text)
        .unwrap_or_else(|error| panic!("cannot write {KNOWN_FAILURES}: {error}"));
    println!("wrote {} entries to {KNOWN_FAILURES}", entries.len());
}

/// Prints every difference from the known failures; returns how many there are.
fn check_known_failures(known: &KnownFailures, results: &BTreeMap<String, Vec<Case>>) -> usize {
    let show_known = std::env::var("PROMQLTEST_SHOW_KNOWN").is_ok_and(|value| value == "1");
    let mut problems = 0;
    for entry in &known.invalid {
        println!("invalid entry in known_failures.txt: {entry:?}");
        problems += 1;
    }
    for (file, cases) in results {
        for case in cases {
            let listed = known.entries.contains(&(file.clone(), case.line));
            match (&case.failure, listed) {
                (Some(reason), false) => {
                    println!("FAILED {file}:{}: {}", case.line, case.expr);
                    println!("    {}", shorten(reason));
                    problems += 1;
                }
                (Some(reason), true) if show_known => {
                    println!("known {file}:{}: {}", case.line, case.expr);
                    println!("    {}", shorten(reason));
                }
                (None, true) => {
                    println!(
                        "now passes, remove from known_failures.txt: {file}:{}",
                        case.line
                    );
                    problems += 1;
                }
                _ => {}
            }
        }
    }
    for (file, line) in &known.entries {
        let is_case = |cases: &Vec<Case>| cases.iter().any(|case| case.line == *line);
        if results.get(file).is_some_and(|cases| !is_case(cases)) {
            println!("not an eval line, remove from known_failures.txt: {file}:{line}");
            problems += 1;
        }
    }
    problems
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_REASON_CHARS) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

/// A fresh database in its own temporary directory.
struct TestDb {
    db: Tsdb,
    _dir: TempDir,
}

fn open_db() -> Result<TestDb, String> {
    let dir = TempDir::new().map_err(|error| format!("cannot create a temp dir: {error}"))?;
    let options = TsdbOptions {
        wal_fsync: false,
        // Loads may go back in time; accept everything.
        out_of_order_window: PromDuration::from_secs(100 * 365 * 24 * 3600),
        ..TsdbOptions::default()
    };
    let db =
        Tsdb::open(dir.path(), options).map_err(|error| format!("cannot open tsdb: {error}"))?;
    Ok(TestDb { db, _dir: dir })
}

/// Runs one script; returns its eval cases in order.
fn run_script(engine: &Engine, text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    // The storage, or why the cases until the next `clear` cannot run.
    let mut storage = open_db();
    for command in script::parse(text) {
        match command {
            Command::Clear => storage = open_db(),
            Command::Load { line, load } => {
                if let Ok(db) = &storage {
                    if let Err(error) = load.and_then(|load| append(&db.db, &load)) {
                        storage = Err(format!("load failed (load at line {line}): {error}"));
                    }
                }
            }
            Command::Invalid { line, message } => {
                if storage.is_ok() {
                    storage = Err(format!("script error: line {line}: {message}"));
                }
            }
            Command::Eval(eval) => {
                let Eval { line, expr, spec } = *eval;
                let failure = match (&storage, &spec) {
                    (Err(problem), _) | (_, Err(problem)) => Some(problem.clone()),
                    (Ok(db), Ok(spec)) => run_eval(engine, &db.db, &expr, spec).err(),
                };
                cases.push(Case {
                    line,
                    expr,
                    failure,
                });
            }
        }
    }
    cases
}

fn append(db: &Tsdb, load: &Load) -> Result<(), String> {
    let labels: Vec<Vec<(&str, &str)>> = load
        .series
        .iter()
        .map(|series| {
            series
                .labels
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str()))
                .collect()
        })
        .collect();
    let samples: Vec<Vec<(i64, f64)>> = load
        .series
        .iter()
        .map(|series| {
            (0i64..)
                .zip(&series.values)
                .filter_map(|(index, value)| {
                    let value = match value {
                        Value::Gap | Value::Histogram(..) => return None,
                        Value::Float(value) => *value,
                        Value::Stale => f64::from_bits(STALE_NAN_BITS),
                    };
                    Some((index * load.step_ms, value))
                })
                .collect()
        })
        .collect();
    let batch: Vec<AppendSeries> = labels
        .iter()
        .zip(&samples)
        .map(|(labels, samples)| AppendSeries::new(labels, samples))
        .collect();
    let report = db.append(&batch).map_err(|error| error.to_string())?;
    check_report(&report)?;

    let mut histogram_series: Vec<(Labels, Vec<(i64, FloatHistogram)>)> = load
        .series
        .iter()
        .map(|series| {
            let samples = (0i64..)
                .zip(&series.values)
                .filter_map(|(index, value)| match value {
                    Value::Histogram(h, _) => Some((index * load.step_ms, (**h).clone())),
                    _ => None,
                })
                .collect();
            (series.labels.clone(), samples)
        })
        .filter(|(_, samples): &(Labels, Vec<(i64, FloatHistogram)>)| !samples.is_empty())
        .collect();
    if load.nhcb {
        histogram_series.extend(classic_to_nhcb(load));
    }
    let histogram_labels: Vec<Vec<(&str, &str)>> = histogram_series
        .iter()
        .map(|(labels, _)| {
            labels
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str()))
                .collect()
        })
        .collect();
    let batch: Vec<AppendHistogramSeries> = histogram_labels
        .iter()
        .zip(&histogram_series)
        .map(|(labels, (_, samples))| AppendHistogramSeries { labels, samples })
        .collect();
    let report = db
        .append_histograms(&batch)
        .map_err(|error| error.to_string())?;
    check_report(&report)
}

fn check_report(report: &AppendReport) -> Result<(), String> {
    if report.samples_rejected > 0 || !report.errors.is_empty() {
        return Err(format!(
            "{} samples rejected: {}",
            report.samples_rejected,
            report.errors.join("; ")
        ));
    }
    Ok(())
}

/// `load_with_nhcb`: every classic histogram (`<name>_bucket{le=...}` with `<name>_count`
/// and `<name>_sum` of the same other labels) also becomes a custom-bucket histogram
/// series `<name>{...}`, one sample per step where its buckets have values.
fn classic_to_nhcb(load: &Load) -> Vec<(Labels, Vec<(i64, FloatHistogram)>)> {
    #[derive(Default)]
    struct Family<'a> {
        buckets: Vec<(f64, &'a [Value])>,
        count: Option<&'a [Value]>,
        sum: Option<&'a [Value]>,
    }
    let mut families: BTreeMap<Labels, Family> = BTreeMap::new();
    for series in &load.series {
        let Some(name) = series
            .labels
            .iter()
            .find(|(name, _)| name == "__name__")
            .map(|(_, value)| value.as_str())
        else {
            continue;
        };
        let base_labels = |base: &str| -> Labels {
            let mut labels: Labels = series
                .labels
                .iter()
                .filter(|(name, _)| name != "le" && name != "__name__")
                .cloned()
                .collect();
            labels.push(("__name__".to_string(), base.to_string()));
            labels.sort();
            labels
        };
        if let Some(base) = name.strip_suffix("_bucket") {
            let Some(le) = series
                .labels
                .iter()
                .find(|(name, _)| name == "le")
                .and_then(|(_, value)| value.parse::<f64>().ok())
            else {
                continue;
            };
            families
                .entry(base_labels(base))
                .or_default()
                .buckets
                .push((le, &series.values));
        } else if let Some(base) = name.strip_suffix("_count") {
            families.entry(base_labels(base)).or_default().count = Some(&series.values);
        } else if let Some(base) = name.strip_suffix("_sum") {
            families.entry(base_labels(base)).or_default().sum = Some(&series.values);
        }
    }
    let float_at = |values: &[Value], index: usize| match values.get(index) {
        Some(Value::Float(value)) => Some(*value),
        _ => None,
    };
    let mut result = Vec::new();
    for (labels, family) in families {
        if family.buckets.is_empty() {
            continue;
        }
        let steps = family
            .buckets
            .iter()
            .map(|(_, values)| values.len())
            .max()
            .unwrap_or(0);
        let mut samples = Vec::new();
        for index in 0..steps {
            let (bounds, counts): (Vec<f64>, Vec<f64>) = family
                .buckets
                .iter()
                .filter_map(|(le, values)| Some((*le, float_at(values, index)?)))
                .unzip();
            if bounds.is_empty() {
                continue;
            }
            let count = family.count.and_then(|values| float_at(values, index));
            let sum = family
                .sum
                .and_then(|values| float_at(values, index))
                .unwrap_or(0.0);
            if let Ok(h) = FloatHistogram::from_classic(&bounds, &counts, count, sum) {
                samples.push((index as i64 * load.step_ms, h));
            }
        }
        if !samples.is_empty() {
            result.push((labels, samples));
        }
    }
    result
}

fn run_eval(engine: &Engine, db: &Tsdb, expr: &str, spec: &EvalSpec) -> Result<(), String> {
    // An engine panic fails the case; keep its message out of the output.
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| match spec.query {
        Query::Instant { time_ms } => engine.instant_query(db, expr, time_ms),
        Query::Range(grid) => {
            engine.range_query(db, expr, grid.start_ms, grid.end_ms, grid.step_ms)
        }
    }));
    panic::set_hook(previous_hook);
    let outcome = outcome.map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|text| text.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        format!("panic: {message}")
    })?;
    let result = match (outcome, &spec.fail) {
        (Err(error), Some(expected)) if expected.matches(&error.message) => return Ok(()),
        (Err(error), Some(expected)) => {
            return Err(format!(
                "expected an error matching {expected}, got: {error}"
            ))
        }
        (Err(error), None) => return Err(format!("query failed: {error}")),
        (Ok(_), Some(_)) => return Err("expected the query to fail, but it succeeded".into()),
        (Ok(result), None) => result,
    };
    check_annotations("warning", &spec.warn, spec.no_warn, &result.warnings)?;
    check_annotations("info", &spec.info, spec.no_info, &result.infos)?;
    compare(spec, &result.value)
}

fn check_annotations(
    kind: &str,
    expected: &[script::TextMatch],
    forbidden: bool,
    actual: &[String],
) -> Result<(), String> {
    if forbidden && !actual.is_empty() {
        return Err(format!("unexpected {kind} annotations: {actual:?}"));
    }
    for expectation in expected {
        if !actual.iter().any(|text| expectation.matches(text)) {
            return Err(format!(
                "no {kind} annotation matches {expectation}, got {actual:?}"
            ));
        }
    }
    if !expected.is_empty() {
        if let Some(text) = actual
            .iter()
            .find(|text| !expected.iter().any(|expectation| expectation.matches(text)))
        {
            return Err(format!("unexpected {kind} annotation {text:?}"));
        }
    }
    Ok(())
}

fn compare(spec: &EvalSpec, value: &QueryValue) -> Result<(), String> {
    match (&spec.result, value) {
        (Expected::String(expected), QueryValue::String { v, .. }) => {
            if expected == v {
                Ok(())
            } else {
                Err(format!("expected string {expected:?}, got {v:?}"))
            }
        }
        (Expected::Scalar(expected), QueryValue::Scalar { v, .. }) => {
            if value_matches(&Value::Float(*expected), *v) {
                Ok(())
            } else {
                Err(format!(
                    "expected scalar {}, got {}",
                    format_value(*expected),
                    format_value(*v)
                ))
            }
        }
        (Expected::Series(expected), QueryValue::Vector(samples)) if spec.grid.is_none() => {
            let actual: Vec<(&Labels, Actual)> = samples
                .iter()
                .map(|sample| {
                    let value = match &sample.h {
                        Some(h) => Actual::H(h),
                        None => Actual::F(sample.v),
                    };
                    (&sample.labels, value)
                })
                .collect();
            compare_vector(expected, &actual, spec.ordered)
        }
        (Expected::Series(expected), QueryValue::Matrix(series)) => match spec.grid {
            _ if spec.ordered => Err("expect ordered, but the result is a matrix".into()),
            Some(grid) => compare_matrix(expected, series, grid),
            None if expected.is_empty() && series.is_empty() => Ok(()),
            None => Err(format!(
                "got a matrix of {} series without `expect range vector`",
                series.len()
            )),
        },
        (expected, value) => Err(format!(
            "expected {}, got {}",
            match (expected, spec.grid) {
                (Expected::String(_), _) => "a string",
                (Expected::Scalar(_), _) => "a scalar",
                (Expected::Series(_), None) => "an instant vector",
                (Expected::Series(_), Some(_)) => "a matrix",
            },
            describe(value)
        )),
    }
}

fn describe(value: &QueryValue) -> String {
    match value {
        QueryValue::Scalar { v, .. } => format!("scalar {}", format_value(*v)),
        QueryValue::String { v, .. } => format!("string {v:?}"),
        QueryValue::Vector(samples) => format!("a vector of {} samples", samples.len()),
        QueryValue::Matrix(series) => format!("a matrix of {} series", series.len()),
    }
}

/// A returned sample value.
#[derive(Clone, Copy)]
enum Actual<'a> {
    F(f64),
    H(&'a FloatHistogram),
}

fn format_actual(value: Actual) -> String {
    match value {
        Actual::F(v) => format_value(v),
        Actual::H(h) => h.to_string(),
    }
}

fn compare_vector(
    expected: &[Series],
    actual: &[(&Labels, Actual)],
    ordered: bool,
) -> Result<(), String> {
    let mut seen = vec![false; expected.len()];
    for (position, (labels, value)) in actual.iter().enumerate() {
        let Some(index) = expected.iter().position(|series| &series.labels == *labels) else {
            return Err(format!(
                "unexpected series {} {}",
                format_labels(labels),
                format_actual(*value)
            ));
        };
        if std::mem::replace(&mut seen[index], true) {
            return Err(format!("series {} returned twice", format_labels(labels)));
        }
        if ordered && index != position {
            return Err(format!(
                "series {} at position {position}, expected at {index}",
                format_labels(labels)
            ));
        }
        let want = &expected[index].values[0];
        if !actual_matches(want, *value) {
            return Err(format!(
                "{}: expected {}, got {}",
                format_labels(labels),
                format_expected(want),
                format_actual(*value)
            ));
        }
    }
    match seen.iter().position(|seen| !seen) {
        Some(index) => Err(format!(
            "missing series {} (got {} series)",
            format_labels(&expected[index].labels),
            actual.len()
        )),
        None => Ok(()),
    }
}

fn compare_matrix(expected: &[Series], actual: &[RangeSeries], grid: Grid) -> Result<(), String> {
    if let Some(pair) = actual
        .windows(2)
        .find(|pair| pair[0].labels > pair[1].labels)
    {
        return Err(format!(
            "matrix not sorted by labels: {} before {}",
            format_labels(&pair[0].labels),
            format_labels(&pair[1].labels)
        ));
    }
    let mut seen = vec![false; expected.len()];
    for series in actual {
        let labels = format_labels(&series.labels);
        let Some(index) = expected.iter().position(|e| e.labels == series.labels) else {
            return Err(format!(
                "unexpected series {labels} with {} points",
                series.points.len() + series.histograms.len()
            ));
        };
        if std::mem::replace(&mut seen[index], true) {
            return Err(format!("series {labels} returned twice"));
        }
        let want: Vec<(i64, &Value)> = (0i64..)
            .zip(&expected[index].values)
            .filter(|(_, value)| **value != Value::Gap)
            .map(|(step, value)| (grid.start_ms + step * grid.step_ms, value))
            .collect();
        let mut points: Vec<(i64, Actual)> = series
            .points
            .iter()
            .map(|(t, v)| (*t, Actual::F(*v)))
            .chain(series.histograms.iter().map(|(t, h)| (*t, Actual::H(h))))
            .collect();
        points.sort_by_key(|(t, _)| *t);
        if want.len() != points.len() {
            return Err(format!(
                "{labels}: expected {} points, got {}: {}",
                want.len(),
                points.len(),
                format_points(&points)
            ));
        }
        for ((want_t, want_v), (t, v)) in want.iter().zip(&points) {
            if want_t != t || !actual_matches(want_v, *v) {
                return Err(format!(
                    "{labels}: expected {} @{want_t}, got {} @{t}",
                    format_expected(want_v),
                    format_actual(*v)
                ));
            }
        }
    }
    // Series without any point are never returned.
    let missing = expected
        .iter()
        .zip(&seen)
        .find(|(series, seen)| !**seen && series.values.iter().any(|v| *v != Value::Gap));
    match missing {
        Some((series, _)) => Err(format!(
            "missing series {} (got {} series)",
            format_labels(&series.labels),
            actual.len()
        )),
        None => Ok(()),
    }
}

fn is_stale(value: f64) -> bool {
    value.to_bits() == STALE_NAN_BITS
}

/// Histograms compare compacted, with [`EPSILON`] on counts, and on the counter reset hint
/// only when the expectation names one.
fn actual_matches(expected: &Value, actual: Actual) -> bool {
    match (expected, actual) {
        (Value::Histogram(want, hint_given), Actual::H(got)) => {
            want.approx_eq(got, EPSILON)
                && (!hint_given || want.counter_reset_hint == got.counter_reset_hint)
        }
        (_, Actual::H(_)) | (Value::Histogram(..), _) => false,
        (_, Actual::F(value)) => value_matches(expected, value),
    }
}

/// Equal within [`EPSILON`] (relative); NaN equals NaN, but the stale marker only itself.
fn value_matches(expected: &Value, actual: f64) -> bool {
    let expected = match expected {
        Value::Gap | Value::Histogram(..) => return false,
        Value::Stale => return is_stale(actual),
        Value::Float(expected) => *expected,
    };
    if expected.is_nan() || actual.is_nan() {
        return expected.is_nan() && actual.is_nan() && !is_stale(actual);
    }
    if expected == actual {
        return true;
    }
    if expected.is_infinite() || actual.is_infinite() {
        return false;
    }
    let difference = (expected - actual).abs();
    let magnitude = expected.abs() + actual.abs();
    if expected == 0.0 || actual == 0.0 || magnitude < f64::MIN_POSITIVE {
        return difference < EPSILON * f64::MIN_POSITIVE;
    }
    difference / magnitude.min(f64::MAX) < EPSILON
}

fn format_value(value: f64) -> String {
    match value {
        _ if is_stale(value) => "stale".into(),
        f64::INFINITY => "+Inf".into(),
        f64::NEG_INFINITY => "-Inf".into(),
        _ => format!("{value:?}"),
    }
}

fn format_expected(value: &Value) -> String {
    match value {
        Value::Gap => "_".into(),
        Value::Histogram(h, _) => h.to_string(),
        Value::Stale => "stale".into(),
        Value::Float(value) => format_value(*value),
    }
}

fn format_points(points: &[(i64, Actual)]) -> String {
    let shown: Vec<String> = points
        .iter()
        .map(|(t, v)| format!("{} @{t}", format_actual(*v)))
        .collect();
    format!("[{}]", shown.join(", "))
}

fn format_labels(labels: &[(String, String)]) -> String {
    let name = labels
        .iter()
        .find(|(name, _)| name == "__name__")
        .map_or("", |(_, value)| value.as_str());
    let rest: Vec<String> = labels
        .iter()
        .filter(|(name, _)| name != "__name__")
        .map(|(name, value)| format!("{name}={value:?}"))
        .collect();
    format!("{name}{{{}}}", rest.join(", "))
}
