//! Runs a log pipeline over single entries: line filters, parsers, label filters, formatters
//! and label dropping, with Loki's semantics (errors mark the entry instead of dropping it).

use std::collections::BTreeMap;

use regex::Regex;

use super::ast::{
    CmpOp, LabelFilter, LabelFormat, LineFilter, LineFilterOp, LineMatch, MatchOp, Matcher,
    NamedMatcher, Stage,
};
use super::error::pipeline_errors::{LABEL_FILTER, TEMPLATE_FORMAT};
use super::error::{LogqlError, ERROR_DETAILS_LABEL, ERROR_LABEL};
use super::ip::IpMatcher;
use super::json::PathPart;
use super::labels::{Category, LabelsBuilder};
use super::parsers::{self, Pattern, PatternMode};
use super::template::{Context, Template};
use super::units::{parse_bytes, parse_go_duration, parse_go_float};

/// A compiled pipeline, reusable across entries and streams (it holds no per-entry state).
#[derive(Debug, Clone)]
pub struct Pipeline {
    stages: Vec<Compiled>,
}

#[derive(Debug, Clone)]
enum Compiled {
    LineFilter {
        negative: bool,
        alternatives: Vec<LineMatcher>,
    },
    Json(Vec<(String, Vec<PathPart>)>),
    Logfmt {
        strict: bool,
        keep_empty: bool,
        extractions: Vec<super::ast::Extraction>,
    },
    Regexp(Regex),
    Pattern(Pattern),
    Unpack,
    LabelFilter(CompiledLabelFilter),
    LineFormat(Template),
    LabelFormat(Vec<CompiledLabelFormat>),
    Drop(Vec<CompiledNamedMatcher>),
    Keep(Vec<CompiledNamedMatcher>),
    Decolorize,
}

#[derive(Debug, Clone)]
enum LineMatcher {
    Contains(String),
    Regex(Regex),
    Pattern(Pattern),
    Ip(IpMatcher),
}

impl LineMatcher {
    fn matches(&self, line: &str) -> bool {
        match self {
            LineMatcher::Contains(s) => line.contains(s.as_str()),
            LineMatcher::Regex(r) => r.is_match(line),
            LineMatcher::Pattern(p) => p.matches(line),
            LineMatcher::Ip(ip) => ip.matches_text(line),
        }
    }
}

/// A string matcher on a label value (anchored regexes, like stream matchers).
#[derive(Debug, Clone)]
pub struct StringMatcher {
    op: MatchOp,
    value: String,
    regex: Option<Regex>,
}

impl StringMatcher {
    pub fn new(m: &Matcher) -> Result<StringMatcher, LogqlError> {
        let regex = match m.op {
            MatchOp::Re | MatchOp::Nre => Some(
                Regex::new(&format!("^(?:{})$", m.value))
                    .map_err(|e| LogqlError::new(format!("error parsing regexp: {e}")))?,
            ),
            MatchOp::Eq | MatchOp::Neq => None,
        };
        Ok(StringMatcher {
            op: m.op,
            value: m.value.clone(),
            regex,
        })
    }

    pub fn matches(&self, v: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Eq, _) => v == self.value,
            (MatchOp::Neq, _) => v != self.value,
            (MatchOp::Re, Some(r)) => r.is_match(v),
            (MatchOp::Nre, Some(r)) => !r.is_match(v),
            (_, None) => false,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum CompiledLabelFilter {
    And(Box<CompiledLabelFilter>, Box<CompiledLabelFilter>),
    Or(Box<CompiledLabelFilter>, Box<CompiledLabelFilter>),
    Str {
        name: String,
        matcher: StringMatcher,
    },
    Ip {
        name: String,
        negate: bool,
        matcher: IpMatcher,
    },
    Number {
        name: String,
        op: CmpOp,
        value: f64,
    },
    Duration {
        name: String,
        op: CmpOp,
        value: i64,
    },
    Bytes {
        name: String,
        op: CmpOp,
        value: u64,
    },
}

impl CompiledLabelFilter {
    pub(crate) fn new(f: &LabelFilter) -> Result<CompiledLabelFilter, LogqlError> {
        Ok(match f {
            LabelFilter::And(l, r) => CompiledLabelFilter::And(
                Box::new(CompiledLabelFilter::new(l)?),
                Box::new(CompiledLabelFilter::new(r)?),
            ),
            LabelFilter::Or(l, r) => CompiledLabelFilter::Or(
                Box::new(CompiledLabelFilter::new(l)?),
                Box::new(CompiledLabelFilter::new(r)?),
            ),
            LabelFilter::Matcher(m) => CompiledLabelFilter::Str {
                name: m.name.clone(),
                matcher: StringMatcher::new(m)?,
            },
            LabelFilter::Ip {
                name,
                negate,
                pattern,
            } => CompiledLabelFilter::Ip {
                name: name.clone(),
                negate: *negate,
                matcher: IpMatcher::new(pattern).map_err(LogqlError::new)?,
            },
            LabelFilter::Number { name, op, value } => CompiledLabelFilter::Number {
                name: name.clone(),
                op: *op,
                value: *value,
            },
            LabelFilter::Duration { name, op, value } => CompiledLabelFilter::Duration {
                name: name.clone(),
                op: *op,
                value: *value,
            },
            LabelFilter::Bytes { name, op, value } => CompiledLabelFilter::Bytes {
                name: name.clone(),
                op: *op,
                value: *value,
            },
        })
    }

    /// Whether the entry passes. Conversion failures keep the entry and mark it with
    /// `LabelFilterErr` (unless it already carries an error); a missing label fails numeric
    /// comparisons. Both sides of `and` run, so both can record errors, as in Loki.
    pub(crate) fn eval(&self, lbs: &mut LabelsBuilder) -> bool {
        match self {
            CompiledLabelFilter::And(l, r) => {
                let a = l.eval(lbs);
                let b = r.eval(lbs);
                a && b
            }
            CompiledLabelFilter::Or(l, r) => l.eval(lbs) || r.eval(lbs),
            CompiledLabelFilter::Str { name, matcher } => {
                matcher.matches(lbs.get_with_errors(name).unwrap_or(""))
            }
            CompiledLabelFilter::Ip {
                name,
                negate,
                matcher,
            } => {
                if lbs.has_error() {
                    return true;
                }
                match lbs.get(name) {
                    Some(v) => matcher.matches_text(v) != *negate,
                    None => false,
                }
            }
            CompiledLabelFilter::Number { name, op, value } => {
                compare_label(lbs, name, parse_go_float, |v| op.compare(v, *value))
            }
            CompiledLabelFilter::Duration { name, op, value } => {
                compare_label(lbs, name, parse_go_duration, |v| op.compare(v, *value))
            }
            CompiledLabelFilter::Bytes { name, op, value } => {
                compare_label(lbs, name, parse_bytes, |v| op.compare(v, *value))
            }
        }
    }
}

fn compare_label<T>(
    lbs: &mut LabelsBuilder,
    name: &str,
    parse: fn(&str) -> Result<T, String>,
    cmp: impl Fn(T) -> bool,
) -> bool {
    let Some(raw) = lbs.get(name) else {
        return false;
    };
    match parse(raw) {
        Ok(v) => cmp(v),
        Err(details) => {
            if !lbs.has_error() {
                lbs.set_error(LABEL_FILTER, Some(&details));
            }
            true
        }
    }
}

#[derive(Debug, Clone)]
enum CompiledLabelFormat {
    Rename { dst: String, src: String },
    Template { dst: String, template: Template },
}

#[derive(Debug, Clone)]
enum CompiledNamedMatcher {
    Name(String),
    Matcher {
        name: String,
        matcher: StringMatcher,
    },
}

impl Pipeline {
    /// Compiles the stages of a log query. Queries from [`super::parse_expr`] always compile.
    pub fn new(stages: &[Stage]) -> Result<Pipeline, LogqlError> {
        let mut out = Vec::with_capacity(stages.len());
        for stage in stages {
            out.push(compile(stage)?);
        }
        Ok(Pipeline { stages: out })
    }

    /// Whether the pipeline does nothing (the entry passes unchanged).
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// Runs the stages over one entry; `None` if it is filtered out, else the (possibly
    /// reformatted) line and the resulting labels: stream labels, structured metadata and
    /// parsed labels, sorted, with `__error__`/`__error_details__` when a stage failed.
    pub fn process(
        &self,
        stream_labels: &[(String, String)],
        structured_metadata: &[(String, String)],
        line: &str,
    ) -> Option<(String, Vec<(String, String)>)> {
        self.process_at(0, stream_labels, structured_metadata, line)
    }

    /// [`process`](Self::process) with the entry's timestamp (Unix nanoseconds), which
    /// templates can read through `__timestamp__`.
    pub fn process_at(
        &self,
        timestamp: i64,
        stream_labels: &[(String, String)],
        structured_metadata: &[(String, String)],
        line: &str,
    ) -> Option<(String, Vec<(String, String)>)> {
        let mut lbs = LabelsBuilder::new(stream_labels, structured_metadata);
        let line = self.run(timestamp, line, &mut lbs)?;
        Some((line, lbs.into_labels()))
    }

    /// Runs the stages on an existing label state (used by sample extraction).
    pub(crate) fn run(
        &self,
        timestamp: i64,
        line: &str,
        lbs: &mut LabelsBuilder,
    ) -> Option<String> {
        let mut line = line.to_string();
        for stage in &self.stages {
            match stage {
                Compiled::LineFilter {
                    negative,
                    alternatives,
                } => {
                    let any = alternatives.iter().any(|m| m.matches(&line));
                    if any == *negative {
                        return None;
                    }
                }
                Compiled::Json(exprs) => {
                    if exprs.is_empty() {
                        parsers::json_all(&line, lbs);
                    } else {
                        parsers::json_extract(&line, exprs, lbs);
                    }
                }
                Compiled::Logfmt {
                    strict,
                    keep_empty,
                    extractions,
                } => {
                    if extractions.is_empty() {
                        parsers::logfmt_all(&line, *strict, *keep_empty, lbs);
                    } else {
                        parsers::logfmt_extract(&line, *strict, extractions, lbs);
                    }
                }
                Compiled::Regexp(re) => parsers::regexp_extract(&line, re, lbs),
                Compiled::Pattern(p) => parsers::pattern_extract(&line, p, lbs),
                Compiled::Unpack => {
                    if let Some(entry) = parsers::unpack(&line, lbs) {
                        line = entry;
                    }
                }
                Compiled::LabelFilter(f) => {
                    if !f.eval(lbs) {
                        return None;
                    }
                }
                Compiled::LineFormat(t) => {
                    if let Some(field) = t.simple_field() {
                        line = lbs.get(field).unwrap_or("").to_string();
                        continue;
                    }
                    let vars = lbs.snapshot();
                    let ctx = Context {
                        labels: &vars,
                        line: &line,
                        timestamp,
                    };
                    match t.execute(&ctx) {
                        Ok(new_line) => line = new_line,
                        Err(e) => lbs.set_error(TEMPLATE_FORMAT, Some(&e)),
                    }
                }
                Compiled::LabelFormat(items) => label_format(items, timestamp, &line, lbs),
                Compiled::Drop(items) => drop_labels(items, lbs),
                Compiled::Keep(items) => keep_labels(items, lbs),
                Compiled::Decolorize => line = decolorize(&line),
            }
        }
        Some(line)
    }

    /// Literal substrings every matching line must contain: the single-alternative `|=`
    /// filters (and `|>` pattern literals) that run before anything rewrites the line.
    /// Matching is case-sensitive, so the store may use them for exact pruning.
    pub fn required_substrings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for stage in &self.stages {
            match stage {
                Compiled::LineFilter {
                    negative: false,
                    alternatives,
                } if alternatives.len() == 1 => match &alternatives[0] {
                    LineMatcher::Contains(s) if !s.is_empty() => out.push(s.clone()),
                    LineMatcher::Pattern(p) => out.extend(
                        p.literals()
                            .into_iter()
                            .filter(|l| !l.is_empty())
                            .map(str::to_string),
                    ),
                    _ => {}
                },
                Compiled::LineFormat(_) | Compiled::Unpack | Compiled::Decolorize => break,
                _ => {}
            }
        }
        out.dedup();
        out
    }
}

fn compile(stage: &Stage) -> Result<Compiled, LogqlError> {
    Ok(match stage {
        Stage::LineFilter(f) => compile_line_filter(f)?,
        Stage::Json { extractions } => {
            Compiled::Json(parsers::compile_json_extractions(extractions).map_err(LogqlError::new)?)
        }
        Stage::Logfmt {
            strict,
            keep_empty,
            extractions,
        } => Compiled::Logfmt {
            strict: *strict,
            keep_empty: *keep_empty,
            extractions: extractions.clone(),
        },
        Stage::Regexp(re) => Compiled::Regexp(
            parsers::validate_regexp_parser(re)
                .map_err(|e| LogqlError::new(format!("invalid regexp parser: {e}")))?,
        ),
        Stage::Pattern(p) => Compiled::Pattern(
            parsers::validate_pattern(p, PatternMode::Parser)
                .map_err(|e| LogqlError::new(format!("invalid pattern parser: {e}")))?,
        ),
        Stage::Unpack => Compiled::Unpack,
        Stage::LabelFilter(f) => Compiled::LabelFilter(CompiledLabelFilter::new(f)?),
        Stage::LineFormat(t) => Compiled::LineFormat(
            Template::parse(t)
                .map_err(|e| LogqlError::new(format!("invalid line template: {e}")))?,
        ),
        Stage::LabelFormat(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(match item {
                    LabelFormat::Rename { dst, src } => CompiledLabelFormat::Rename {
                        dst: dst.clone(),
                        src: src.clone(),
                    },
                    LabelFormat::Template { dst, template } => CompiledLabelFormat::Template {
                        dst: dst.clone(),
                        template: Template::parse(template).map_err(|e| {
                            LogqlError::new(format!("invalid template for label '{dst}': {e}"))
                        })?,
                    },
                });
            }
            Compiled::LabelFormat(out)
        }
        Stage::Drop(items) => Compiled::Drop(compile_named(items)?),
        Stage::Keep(items) => Compiled::Keep(compile_named(items)?),
        Stage::Decolorize => Compiled::Decolorize,
    })
}

fn compile_line_filter(f: &LineFilter) -> Result<Compiled, LogqlError> {
    let mut alternatives = Vec::with_capacity(f.alternatives.len());
    for alt in &f.alternatives {
        alternatives.push(match (alt, f.op) {
            (LineMatch::Ip(p), _) => LineMatcher::Ip(IpMatcher::new(p).map_err(LogqlError::new)?),
            (LineMatch::Text(s), LineFilterOp::Contains | LineFilterOp::NotContains) => {
                LineMatcher::Contains(s.clone())
            }
            (LineMatch::Text(s), LineFilterOp::Regex | LineFilterOp::NotRegex) => {
                LineMatcher::Regex(
                    Regex::new(s)
                        .map_err(|e| LogqlError::new(format!("error parsing regexp: {e}")))?,
                )
            }
            (LineMatch::Text(s), LineFilterOp::Pattern | LineFilterOp::NotPattern) => {
                LineMatcher::Pattern(
                    parsers::validate_pattern(s, PatternMode::LineFilter)
                        .map_err(LogqlError::new)?,
                )
            }
        });
    }
    Ok(Compiled::LineFilter {
        negative: f.op.is_negative(),
        alternatives,
    })
}

fn compile_named(items: &[NamedMatcher]) -> Result<Vec<CompiledNamedMatcher>, LogqlError> {
    items
        .iter()
        .map(|i| {
            Ok(match i {
                NamedMatcher::Name(n) => CompiledNamedMatcher::Name(n.clone()),
                NamedMatcher::Matcher(m) => CompiledNamedMatcher::Matcher {
                    name: m.name.clone(),
                    matcher: StringMatcher::new(m)?,
                },
            })
        })
        .collect()
}

/// `label_format`: renames move a value (the source goes away); templates see the labels
/// as they were when the first template of the stage ran, as in Loki.
fn label_format(items: &[CompiledLabelFormat], ts: i64, line: &str, lbs: &mut LabelsBuilder) {
    let mut vars: Option<BTreeMap<String, String>> = None;
    for item in items {
        match item {
            CompiledLabelFormat::Rename { dst, src } => {
                if dst == src {
                    continue;
                }
                if let Some(v) = lbs.get(src).map(str::to_string) {
                    lbs.set(Category::Parsed, dst, &v);
                    lbs.del(src);
                }
            }
            CompiledLabelFormat::Template { dst, template } => {
                let vars = vars.get_or_insert_with(|| lbs.snapshot());
                let ctx = Context {
                    labels: vars,
                    line,
                    timestamp: ts,
                };
                match template.execute(&ctx) {
                    Ok(v) => lbs.set(Category::Parsed, dst, &v),
                    Err(e) => lbs.set_error(TEMPLATE_FORMAT, Some(&e)),
                }
            }
        }
    }
}

fn drop_labels(items: &[CompiledNamedMatcher], lbs: &mut LabelsBuilder) {
    for item in items {
        let (name, matcher) = match item {
            CompiledNamedMatcher::Name(n) => (n, None),
            CompiledNamedMatcher::Matcher { name, matcher } => (name, Some(matcher)),
        };
        let hit = matcher.is_none_or(|m| m.matches(lbs.get_with_errors(name).unwrap_or("")));
        if !hit {
            continue;
        }
        match name.as_str() {
            ERROR_LABEL => lbs.reset_error(),
            ERROR_DETAILS_LABEL => lbs.reset_error_details(),
            _ => lbs.del(name),
        }
    }
}

/// `keep`: every other label goes, except the error labels (Loki never drops those here).
fn keep_labels(items: &[CompiledNamedMatcher], lbs: &mut LabelsBuilder) {
    if items.is_empty() {
        return;
    }
    let doomed: Vec<String> = lbs
        .iter()
        .filter(|(name, value)| {
            !items.iter().any(|item| match item {
                CompiledNamedMatcher::Name(n) => n == name,
                CompiledNamedMatcher::Matcher { name: n, matcher } => {
                    n == name && matcher.matches(value)
                }
            })
        })
        .map(|(n, _)| n.to_string())
        .collect();
    for name in doomed {
        lbs.del(&name);
    }
}

/// Strips ANSI escape sequences (colours, cursor movement, OSC titles).
pub fn decolorize(line: &str) -> String {
    static ANSI: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    let re = ANSI.get_or_init(|| {
        // CSI sequences (ESC [ or the 8-bit CSI), OSC sequences ended by BEL or ST, and
        // two-character escapes.
        Regex::new(
            r"(?:\x1b\[|\x{9b})[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]",
        )
        .ok()
    });
    match re {
        Some(re) => re.replace_all(line, "").into_owned(),
        None => line.to_string(),
    }
}
