//! Parser for the upstream PromQL test scripts (`*.test`), as described in
//! `shared/reference/promqltest/FORMAT.md`. Parsing never fails as a whole: a command it
//! cannot understand becomes [`Command::Invalid`], a bad `load` carries its error, and a
//! bad `eval` carries the reason it cannot be run, so that the runner can report each
//! problem as a failed case.

use regex::Regex;
use sightline::metrics::histogram::{expand_test_series, parse_test_notation, FloatHistogram};

/// Sorted `(name, value)` pairs, `__name__` included.
pub type Labels = Vec<(String, String)>;

/// One item of an expanded value sequence.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `_`: no sample at this position.
    Gap,
    Float(f64),
    /// `stale`: the staleness marker.
    Stale,
    /// `{{...}}`: a native histogram sample, and whether it named its counter reset hint
    /// (expected results compare the hint only then).
    Histogram(Box<FloatHistogram>, bool),
}

pub enum Command {
    /// `load <step>` or `load_with_nhcb <step>`.
    Load {
        line: usize,
        load: Result<Load, String>,
    },
    Clear,
    Eval(Box<Eval>),
    /// A line that is not a command.
    Invalid {
        line: usize,
        message: String,
    },
}

/// Value `i` of each series belongs at `i * step_ms`.
pub struct Load {
    pub step_ms: i64,
    pub series: Vec<Series>,
    /// `load_with_nhcb`: classic histograms are also stored as custom-bucket histograms.
    pub nhcb: bool,
}

/// A series description with its value sequence: loaded data, or an expected result
/// (one value for an instant vector, one per grid step for a matrix).
pub struct Series {
    pub labels: Labels,
    pub values: Vec<Value>,
}

pub struct Eval {
    /// 1-based line number of the `eval` line.
    pub line: usize,
    pub expr: String,
    /// What to run and expect, or why the case cannot be run.
    pub spec: Result<EvalSpec, String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Query {
    Instant { time_ms: i64 },
    Range(Grid),
}

/// Timestamps `start_ms + i * step_ms` up to `end_ms`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grid {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

pub struct EvalSpec {
    pub query: Query,
    /// The grid the expected values of a matrix result are laid on: the range query's
    /// steps, or those of `expect range vector` for an instant query.
    pub grid: Option<Grid>,
    /// `Some` if the query must fail (with an error matching it).
    pub fail: Option<TextMatch>,
    /// Each returned warning must match one of these, and each of these some warning;
    /// unchecked when empty.
    pub warn: Vec<TextMatch>,
    pub info: Vec<TextMatch>,
    pub no_warn: bool,
    pub no_info: bool,
    pub ordered: bool,
    pub result: Expected,
}

pub enum TextMatch {
    Any,
    Exact(String),
    Regex(Regex),
}

impl TextMatch {
    pub fn matches(&self, text: &str) -> bool {
        match self {
            TextMatch::Any => true,
            TextMatch::Exact(expected) => text.trim() == expected,
            TextMatch::Regex(regex) => regex.is_match(text),
        }
    }
}

impl std::fmt::Display for TextMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TextMatch::Any => f.write_str("anything"),
            TextMatch::Exact(text) => write!(f, "{text:?}"),
            TextMatch::Regex(regex) => write!(f, "/{}/", regex.as_str()),
        }
    }
}

pub enum Expected {
    /// Instant vector or matrix; empty means an empty result.
    Series(Vec<Series>),
    Scalar(f64),
    String(String),
}

const COMMANDS: [&str; 8] = [
    "load",
    "load_with_nhcb",
    "clear",
    "eval",
    "eval_fail",
    "eval_warn",
    "eval_info",
    "eval_ordered",
];

/// Most values one sequence item may expand to.
const MAX_EXPANSION: usize = 10_000_000;

pub fn parse(text: &str) -> Vec<Command> {
    // Comment lines count as empty lines: both end a block.
    let lines: Vec<&str> = text
        .lines()
        .map(|line| {
            let line = line.trim();
            if line.starts_with('#') {
                ""
            } else {
                line
            }
        })
        .collect();
    let is_command = |line: &str| {
        let word = split_word(line).0.to_ascii_lowercase();
        COMMANDS.contains(&word.as_str())
    };
    let mut commands = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let head = lines[index];
        let line = index + 1;
        index += 1;
        if head.is_empty() {
            continue;
        }
        let (word, rest) = split_word(head);
        let word = word.to_ascii_lowercase();
        if word == "clear" {
            commands.push(if rest.is_empty() {
                Command::Clear
            } else {
                Command::Invalid {
                    line,
                    message: format!("unexpected text after clear: {rest:?}"),
                }
            });
            continue;
        }
        let block_start = index;
        while index < lines.len() && !lines[index].is_empty() && !is_command(lines[index]) {
            index += 1;
        }
        let block: Vec<(usize, &str)> = (block_start..index).map(|i| (i + 1, lines[i])).collect();
        commands.push(match word.as_str() {
            "load" | "load_with_nhcb" => Command::Load {
                line,
                load: parse_load(rest, &block).map(|mut load| {
                    load.nhcb = word == "load_with_nhcb";
                    load
                }),
            },
            _ if word.starts_with("eval") => Command::Eval(Box::new(Eval {
                line,
                expr: eval_expr(rest).to_string(),
                spec: parse_eval(&word, rest, &block),
            })),
            _ => Command::Invalid {
                line,
                message: format!("unknown command {head:?}"),
            },
        });
    }
    commands
}

/// Splits off the first whitespace-separated word; the rest is trimmed.
fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.find(char::is_whitespace) {
        Some(end) => (&text[..end], text[end..].trim()),
        None => (text, ""),
    }
}

fn parse_load(rest: &str, block: &[(usize, &str)]) -> Result<Load, String> {
    let step_ms = parse_duration(rest)?;
    let mut series: Vec<Series> = Vec::new();
    for &(line, text) in block {
        let parsed = parse_series_line(text).map_err(|error| format!("line {line}: {error}"))?;
        // A series given twice in one load: the later line wins.
        match series
            .iter_mut()
            .find(|known| known.labels == parsed.labels)
        {
            Some(known) => known.values = parsed.values,
            None => series.push(parsed),
        }
    }
    Ok(Load {
        step_ms,
        series,
        nhcb: false,
    })
}

/// The expression of an `eval` line (after `instant at <t>` or `range ... step <d>`).
fn eval_expr(rest: &str) -> &str {
    let skip = match split_word(rest).0 {
        "instant" => 3,
        "range" => 7,
        _ => 0,
    };
    (0..skip).fold(rest, |text, _| split_word(text).1)
}

fn parse_eval(word: &str, rest: &str, block: &[(usize, &str)]) -> Result<EvalSpec, String> {
    let mut spec = EvalSpec {
        query: parse_query(rest)?,
        grid: None,
        fail: None,
        warn: Vec::new(),
        info: Vec::new(),
        no_warn: false,
        no_info: false,
        ordered: false,
        result: Expected::Series(Vec::new()),
    };
    if eval_expr(rest).is_empty() {
        return Err("eval line has no expression".into());
    }
    if let Query::Range(grid) = spec.query {
        spec.grid = Some(grid);
    }
    let mut fail_count = 0;
    match word {
        "eval" => {}
        "eval_fail" => {
            spec.fail = Some(TextMatch::Any);
            fail_count += 1;
        }
        "eval_warn" => spec.warn.push(TextMatch::Any),
        "eval_info" => spec.info.push(TextMatch::Any),
        "eval_ordered" => spec.ordered = true,
        _ => return Err(format!("unknown command {word:?}")),
    }
    let mut scalars = Vec::new();
    let mut series: Vec<Series> = Vec::new();
    let mut string = None;
    for &(line, text) in block {
        let at_line = |error: String| format!("line {line}: {error}");
        let (first, tail) = split_word(text);
        match first {
            "expect" => {
                parse_expect(tail, &mut spec, &mut string, &mut fail_count).map_err(at_line)?
            }
            "expected_fail_message" => spec.fail = Some(TextMatch::Exact(tail.to_string())),
            "expected_fail_regexp" => {
                spec.fail = Some(TextMatch::Regex(compile(tail).map_err(at_line)?))
            }
            _ => match parse_number(text) {
                Ok(value) => scalars.push(value),
                Err(_) => {
                    let parsed = parse_series_line(text).map_err(at_line)?;
                    if series.iter().any(|known| known.labels == parsed.labels) {
                        return Err(at_line("series listed twice".into()));
                    }
                    series.push(parsed);
                }
            },
        }
    }
    if !spec.warn.is_empty() && spec.no_warn {
        return Err("expect warn and expect no_warn cannot be combined".into());
    }
    if !spec.info.is_empty() && spec.no_info {
        return Err("expect info and expect no_info cannot be combined".into());
    }
    if fail_count > 1 {
        return Err("more than one expect fail".into());
    }
    spec.result = match (string, scalars.as_slice(), series.is_empty()) {
        (Some(text), [], true) => Expected::String(text),
        (None, [value], true) => Expected::Scalar(*value),
        (None, [], _) => Expected::Series(series),
        _ => return Err("mixed or repeated scalar/string/series expectations".into()),
    };
    check_series_shape(&spec)?;
    Ok(spec)
}

fn check_series_shape(spec: &EvalSpec) -> Result<(), String> {
    let Expected::Series(series) = &spec.result else {
        return Ok(());
    };
    for expected in series {
        match spec.grid {
            None => {
                if expected.values.len() != 1 || expected.values[0] == Value::Gap {
                    return Err(format!(
                        "instant evaluation needs exactly one value per series ({} values given)",
                        expected.values.len()
                    ));
                }
            }
            Some(grid) => {
                let steps = (grid.end_ms - grid.start_ms) / grid.step_ms + 1;
                if expected.values.len() as i64 > steps {
                    return Err(format!(
                        "{} values given but the time range has only {steps} steps",
                        expected.values.len()
                    ));
                }
            }
        }
    }
    Ok(())
}

/// `instant at <t> <expr>` or `range from <s> to <e> step <d> <expr>`.
fn parse_query(rest: &str) -> Result<Query, String> {
    let words: Vec<&str> = rest.split_whitespace().take(7).collect();
    match words.as_slice() {
        ["instant", "at", time, ..] => Ok(Query::Instant {
            time_ms: parse_duration(time)?,
        }),
        ["range", "from", start, "to", end, "step", step, ..] => {
            Ok(Query::Range(parse_grid(start, end, step)?))
        }
        _ => Err("expected `instant at <time> <expr>` or `range from <start> to <end> step <step> <expr>`".into()),
    }
}

fn parse_grid(start: &str, end: &str, step: &str) -> Result<Grid, String> {
    let grid = Grid {
        start_ms: parse_duration(start)?,
        end_ms: parse_duration(end)?,
        step_ms: parse_duration(step)?,
    };
    if grid.end_ms < grid.start_ms {
        return Err(format!("end {end} is before start {start}"));
    }
    if grid.step_ms <= 0 {
        return Err(format!("step {step} is not positive"));
    }
    Ok(grid)
}

/// One `expect ...` line (without the `expect`).
fn parse_expect(
    rest: &str,
    spec: &mut EvalSpec,
    string: &mut Option<String>,
    fail_count: &mut usize,
) -> Result<(), String> {
    let (kind, tail) = split_word(rest);
    match kind {
        "range" => {
            let words: Vec<&str> = tail.split_whitespace().collect();
            let ["vector", "from", start, "to", end, "step", step] = words.as_slice() else {
                return Err(
                    "expected `expect range vector from <start> to <end> step <step>`".into(),
                );
            };
            if matches!(spec.query, Query::Range(_)) {
                return Err("expect range vector is only valid for instant queries".into());
            }
            spec.grid = Some(parse_grid(start, end, step)?);
            return Ok(());
        }
        "string" => {
            let (text, after) = parse_quoted(tail)?;
            if !after.trim().is_empty() || string.is_some() {
                return Err("expected one quoted string after `expect string`".into());
            }
            *string = Some(text);
            return Ok(());
        }
        _ => {}
    }
    let matcher = if tail.is_empty() {
        TextMatch::Any
    } else if let Some(text) = tail.strip_prefix("msg:") {
        TextMatch::Exact(text.trim().to_string())
    } else if let Some(pattern) = tail.strip_prefix("regex:") {
        TextMatch::Regex(compile(pattern)?)
    } else {
        return Err(format!("expected `msg:` or `regex:`, got {tail:?}"));
    };
    let no_text = || -> Result<(), String> {
        if tail.is_empty() {
            Ok(())
        } else {
            Err(format!("expect {kind} takes no message"))
        }
    };
    match kind {
        "fail" => {
            *fail_count += 1;
            spec.fail = Some(matcher);
        }
        "warn" => spec.warn.push(matcher),
        "info" => spec.info.push(matcher),
        "no_warn" => {
            no_text()?;
            spec.no_warn = true;
        }
        "no_info" => {
            no_text()?;
            spec.no_info = true;
        }
        "ordered" => {
            no_text()?;
            spec.ordered = true;
        }
        _ => return Err(format!("unknown expectation {kind:?}")),
    }
    Ok(())
}

fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern.trim()).map_err(|error| format!("invalid regex {pattern:?}: {error}"))
}

/// Prometheus duration (`1h30m`, `100ms`, `0`) in milliseconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let invalid = || format!("invalid duration {text:?}");
    if text == "0" {
        return Ok(0);
    }
    if text.is_empty() {
        return Err(invalid());
    }
    let mut total: i64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let letters = rest[digits..]
            .find(|c: char| !c.is_ascii_alphabetic())
            .map_or(rest.len(), |end| digits + end);
        let number: i64 = rest[..digits].parse().map_err(|_| invalid())?;
        let unit_ms: i64 = match &rest[digits..letters] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return Err(invalid()),
        };
        total = number
            .checked_mul(unit_ms)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(invalid)?;
        rest = &rest[letters..];
    }
    Ok(total)
}

/// A number as written in scripts: decimal, exponent, `Inf`/`NaN` in any case, or a
/// hexadecimal integer.
pub fn parse_number(text: &str) -> Result<f64, String> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(unsigned) => (true, unsigned),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let hex = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"));
    let value = match hex {
        Some(digits) => {
            i64::from_str_radix(digits, 16)
                .ok()
                .map(|n| if negative { -(n as f64) } else { n as f64 })
        }
        None => text.parse::<f64>().ok(),
    };
    value.ok_or_else(|| format!("invalid number {text:?}"))
}

/// `<series> <values>`, for `load` blocks and expected results.
fn parse_series_line(text: &str) -> Result<Series, String> {
    let (labels, rest) = parse_series_desc(text)?;
    Ok(Series {
        labels,
        values: parse_values(rest)?,
    })
}

/// `name`, `name{l="v", ...}` or `{__name__="name", ...}` / `{"name", ...}`; returns the
/// sorted labels and the text after the description.
pub fn parse_series_desc(text: &str) -> Result<(Labels, &str), String> {
    let is_name_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':';
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut labels: Labels = Vec::new();
    let mut rest = text.trim_start();
    let mut name = None;
    if rest.starts_with(is_name_start) {
        let end = rest.find(|c| !is_name_char(c)).unwrap_or(rest.len());
        name = Some(rest[..end].to_string());
        rest = &rest[end..];
    }
    if let Some(inner) = rest.strip_prefix('{') {
        rest = parse_label_list(inner, &mut name, &mut labels)?;
    } else if name.is_none() {
        return Err(format!("expected a series description, got {text:?}"));
    }
    if rest.starts_with("@st") {
        return Err("start timestamps (@st lines) are not supported".into());
    }
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return Err(format!(
            "unexpected text after series description: {rest:?}"
        ));
    }
    if let Some(name) = name {
        labels.push(("__name__".to_string(), name));
    }
    // An empty value means the label is absent (the TSDB refuses to store such labels).
    labels.retain(|(_, value)| !value.is_empty());
    labels.sort();
    if labels.windows(2).any(|pair| pair[0].0 == pair[1].0) {
        return Err(format!("label given twice in {text:?}"));
    }
    Ok((labels, rest))
}

/// The label list after `{`, up to and including `}`; returns the text after it.
fn parse_label_list<'a>(
    mut rest: &'a str,
    name: &mut Option<String>,
    labels: &mut Labels,
) -> Result<&'a str, String> {
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return Ok(after);
        }
        let quoted_key = rest.starts_with(['"', '\'', '`']);
        let key = if quoted_key {
            let (key, after) = parse_quoted(rest)?;
            rest = after;
            key
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if end == 0 || rest.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(format!("expected a label name at {rest:?}"));
            }
            let key = rest[..end].to_string();
            rest = &rest[end..];
            key
        };
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('=') {
            let (value, after) = parse_quoted(after.trim_start())?;
            labels.push((key, value));
            rest = after;
        } else if quoted_key && name.is_none() {
            *name = Some(key);
        } else {
            return Err(format!("expected `=\"value\"` after label {key:?}"));
        }
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return Err(format!("expected `,` or `}}` at {rest:?}"));
        }
    }
}

/// A Go-style quoted string at the start of `text` (`"..."` or `'...'` with escapes, or
/// `` `...` `` raw); returns its value and the text after it.
pub fn parse_quoted(text: &str) -> Result<(String, &str), String> {
    let unterminated = || format!("unterminated string in {text:?}");
    let quote = text
        .chars()
        .next()
        .filter(|c| matches!(c, '"' | '\'' | '`'))
        .ok_or_else(|| format!("expected a quoted string at {text:?}"))?;
    let body = &text[1..];
    if quote == '`' {
        let end = body.find('`').ok_or_else(unterminated)?;
        return Ok((body[..end].to_string(), &body[end + 1..]));
    }
    let mut bytes = Vec::new();
    let mut chars = body.char_indices();
    loop {
        let (_, c) = chars.next().ok_or_else(unterminated)?;
        if c == quote {
            break;
        }
        if c != '\\' {
            let mut buffer = [0; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            continue;
        }
        let (position, escape) = chars.next().ok_or_else(unterminated)?;
        let simple = match escape {
            'a' => Some(0x07),
            'b' => Some(0x08),
            'f' => Some(0x0c),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(0x0b),
            '\\' | '\'' | '"' => Some(escape as u8),
            _ => None,
        };
        if let Some(byte) = simple {
            bytes.push(byte);
            continue;
        }
        let (digits, radix) = match escape {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='7' => (3, 8),
            _ => return Err(format!("unknown escape \\{escape} in {text:?}")),
        };
        let start = if radix == 8 { position } else { position + 1 };
        let code = body
            .get(start..start + digits)
            .and_then(|digits| u32::from_str_radix(digits, radix).ok())
            .ok_or_else(|| format!("bad escape in {text:?}"))?;
        for _ in 0..(start + digits - position - 1) {
            chars.next();
        }
        if matches!(escape, 'u' | 'U') {
            let c = char::from_u32(code).ok_or_else(|| format!("bad escape in {text:?}"))?;
            let mut buffer = [0; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
        } else {
            bytes.push(u8::try_from(code).map_err(|_| format!("bad escape in {text:?}"))?);
        }
    }
    let rest = chars.as_str();
    let value = String::from_utf8(bytes).map_err(|_| format!("invalid UTF-8 in {text:?}"))?;
    Ok((value, rest))
}

/// A value sequence: space-separated items, `{{...}}` histograms kept whole.
fn parse_values(text: &str) -> Result<Vec<Value>, String> {
    let mut values = Vec::new();
    let mut depth = 0usize;
    let mut start = None;
    for (position, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            c if c.is_whitespace() && depth == 0 => {
                if let Some(begin) = start.take() {
                    expand_item(&text[begin..position], &mut values)?;
                }
                continue;
            }
            _ => {}
        }
        start.get_or_insert(position);
    }
    Ok(values)
}

/// `{{...}}`, optionally followed by `xN` or `+{{...}}xN` / `-{{...}}xN`.
fn expand_histograms(item: &str, values: &mut Vec<Value>) -> Result<(), String> {
    let first_end = item
        .find("}}")
        .map(|end| end + 2)
        .ok_or_else(|| format!("unclosed histogram in {item:?}"))?;
    let (base, hint_given) = parse_test_notation(&item[..first_end])?;
    let rest = &item[first_end..];
    if rest.is_empty() {
        values.push(Value::Histogram(Box::new(base), hint_given));
        return Ok(());
    }
    let (delta, count, subtract) = if let Some(count) = rest.strip_prefix('x') {
        (FloatHistogram::default(), count, false)
    } else {
        let subtract = rest.starts_with('-');
        let delta_text = rest
            .get(1..)
            .filter(|_| rest.starts_with(['+', '-']))
            .ok_or_else(|| format!("bad histogram series {item:?}"))?;
        let (delta_text, count) = delta_text
            .rsplit_once("}}x")
            .ok_or_else(|| format!("bad histogram series {item:?}"))?;
        let (delta, _) = parse_test_notation(&format!("{delta_text}}}}}"))?;
        (delta, count, subtract)
    };
    let count: usize = count
        .parse()
        .ok()
        .filter(|&count| count < MAX_EXPANSION)
        .ok_or_else(|| format!("bad repeat count in {item:?}"))?;
    let expanded = if rest.starts_with('x') {
        vec![base; count + 1]
    } else {
        expand_test_series(&base, &delta, count, subtract)?
    };
    values.extend(
        expanded
            .into_iter()
            .map(|h| Value::Histogram(Box::new(h), hint_given)),
    );
    Ok(())
}

/// Appends the values of one item: `v`, `_`, `stale`, `_xn`, `axn`, `a+bxn`, `a-bxn`.
fn expand_item(item: &str, values: &mut Vec<Value>) -> Result<(), String> {
    if item.starts_with("{{") {
        return expand_histograms(item, values);
    }
    match item {
        "_" => values.push(Value::Gap),
        "stale" => values.push(Value::Stale),
        _ => match item.rsplit_once('x') {
            Some((head, count))
                if !head.is_empty()
                    && !count.is_empty()
                    && count.bytes().all(|b| b.is_ascii_digit()) =>
            {
                let count: usize = count
                    .parse()
                    .ok()
                    .filter(|&count| count < MAX_EXPANSION)
                    .ok_or_else(|| format!("repeat count too large in {item:?}"))?;
                if head == "_" {
                    values.extend(std::iter::repeat_n(Value::Gap, count));
                    return Ok(());
                }
                // The operator of `a+b`/`a-b`: a sign after the first character that
                // does not belong to an exponent.
                let operator = head
                    .char_indices()
                    .skip(1)
                    .find(|&(i, c)| matches!(c, '+' | '-') && !head[..i].ends_with(['e', 'E']))
                    .map(|(i, _)| i);
                let (mut current, delta) = match operator {
                    Some(i) => (parse_number(&head[..i])?, parse_number(&head[i..])?),
                    None => (parse_number(head)?, 0.0),
                };
                for _ in 0..=count {
                    values.push(Value::Float(current));
                    current += delta;
                }
            }
            _ => values.push(Value::Float(parse_number(item)?)),
        },
    }
    Ok(())
}
