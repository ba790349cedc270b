//! The label-extracting stages: `json`, `logfmt`, `regexp`, `pattern` and `unpack`.
//! Each adds parsed labels to the entry under Loki's naming rules: keys are sanitized, a
//! name the stream (or structured metadata) already has gets `_extracted`, and a name set
//! earlier for the same entry keeps its first value. Malformed input does not drop the line;
//! it sets `__error__` (and `__error_details__`).

use regex::Regex;

use super::ast::Extraction;
use super::error::pipeline_errors::{JSON_PARSER, LOGFMT_PARSER};
pub use super::json::parse_json_path;
use super::json::{self, Kind, PathPart};
use super::labels::{Category, LabelsBuilder};
use super::logfmt::{self, Item};
pub use super::pattern::{Pattern, PatternMode};

/// Loki's key sanitizing: trims spaces, prefixes a leading digit with `_`, and replaces
/// everything but ASCII letters, digits and `_` by `_`.
pub fn sanitize_label_key(key: &str) -> String {
    let key = key.trim();
    let mut out = String::with_capacity(key.len() + 1);
    if key.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    out.extend(key.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        }
    }));
    out
}

/// Sets a parsed label unless an earlier stage already produced that name.
fn add_parsed(lbs: &mut LabelsBuilder, key: &str, value: &str) {
    if key.is_empty() {
        return;
    }
    let name = lbs.parsed_name(key);
    if lbs.already_extracted(&name) {
        return;
    }
    // Loki swaps invalid UTF-8 for spaces; Rust strings are valid, but U+FFFD marks it.
    if value.contains('\u{FFFD}') {
        lbs.set(Category::Parsed, &name, &value.replace('\u{FFFD}', " "));
    } else {
        lbs.set(Category::Parsed, &name, value);
    }
}

// --- json --------------------------------------------------------------------------------

/// `| json`: every string, number and boolean, nested objects flattened with `_`, arrays
/// and nulls skipped.
pub fn json_all(line: &str, lbs: &mut LabelsBuilder) {
    let mut found: Vec<(String, String)> = Vec::new();
    let result = flatten(line, 0, "", &mut found);
    for (k, v) in &found {
        add_parsed(lbs, k, v);
    }
    if let Err(e) = result {
        lbs.set_error(JSON_PARSER, Some(e));
    }
}

fn flatten(
    text: &str,
    start: usize,
    prefix: &str,
    out: &mut Vec<(String, String)>,
) -> Result<(), &'static str> {
    let mut first_error = Ok(());
    let result = json::for_each_member(text, start, &mut |key, span| {
        if first_error.is_err() {
            return;
        }
        let key = sanitize_label_key(key);
        let name = match (prefix.is_empty(), key.is_empty()) {
            (true, _) => key,
            (false, true) => prefix.to_string(),
            (false, false) => format!("{prefix}_{key}"),
        };
        match span.kind {
            Kind::String | Kind::Number | Kind::Bool => {
                out.push((name, span.label_value(text)));
            }
            Kind::Object => {
                // Recurse now to keep document order.
                if let Err(e) = flatten(text, span.start, &name, out) {
                    first_error = Err(e);
                }
            }
            Kind::Array | Kind::Null => {}
        }
    });
    first_error?;
    result
}

/// `| json a="x.y", b`: only the given paths; missing ones become empty labels.
pub fn json_extract(line: &str, exprs: &[(String, Vec<PathPart>)], lbs: &mut LabelsBuilder) {
    if line.is_empty() {
        return;
    }
    if !matches!(line.as_bytes()[0], b'"' | b'{' | b'[') {
        lbs.set_error(JSON_PARSER, None);
        return;
    }
    for (label, path) in exprs {
        let name = lbs.parsed_name(label);
        match json::lookup(line, path) {
            Ok(Some(span)) => {
                let value = match span.kind {
                    Kind::Object | Kind::Array => line[span.start..span.end].to_string(),
                    _ => span.label_value(line),
                };
                lbs.set(Category::Parsed, &name, &value);
            }
            Ok(None) => {
                if lbs.get(label).is_none() {
                    lbs.set(Category::Parsed, label, "");
                }
            }
            Err(e) => {
                lbs.set_error(JSON_PARSER, Some(e));
                if lbs.get(label).is_none() {
                    lbs.set(Category::Parsed, label, "");
                }
            }
        }
    }
}

/// Parses the paths of `| json` extractions once (the parser already validated them).
pub fn compile_json_extractions(
    extractions: &[Extraction],
) -> Result<Vec<(String, Vec<PathPart>)>, String> {
    extractions
        .iter()
        .map(|e| {
            parse_json_path(&e.expression)
                .map(|p| (e.label.clone(), p))
                .map_err(|err| format!("cannot parse expression [{}]: {err}", e.expression))
        })
        .collect()
}

// --- logfmt ------------------------------------------------------------------------------

/// `| logfmt [--strict] [--keep-empty]`: every key. Bad pairs are skipped, unless `strict`,
/// which stops at the first one and reports it.
pub fn logfmt_all(line: &str, strict: bool, keep_empty: bool, lbs: &mut LabelsBuilder) {
    for item in logfmt::Scanner::new(line) {
        match item {
            Item::Pair { key, value } => {
                if value.is_empty() && !keep_empty {
                    continue;
                }
                add_parsed(lbs, &sanitize_label_key(key), &value);
            }
            Item::Error { pos, msg } => {
                if strict {
                    lbs.set_error(LOGFMT_PARSER, Some(&Item::error_text(pos, &msg)));
                    return;
                }
            }
        }
    }
}

/// `| logfmt a, b="key"`: only the requested keys (renamed to their labels); requested keys
/// missing from the line become empty labels.
pub fn logfmt_extract(line: &str, strict: bool, exprs: &[Extraction], lbs: &mut LabelsBuilder) {
    for e in exprs {
        if !lbs.base_has(&e.label) && !lbs.metadata_has(&e.label) {
            lbs.set(Category::Parsed, &e.label, "");
        }
    }
    let mut done: Vec<&str> = Vec::new();
    for item in logfmt::Scanner::new(line) {
        match item {
            Item::Pair { key, value } => {
                let key = sanitize_label_key(key);
                for e in exprs.iter().filter(|e| e.expression == key) {
                    if done.contains(&e.label.as_str()) {
                        continue;
                    }
                    done.push(&e.label);
                    let name = lbs.parsed_name(&e.label);
                    lbs.set(Category::Parsed, &name, &value);
                }
            }
            Item::Error { pos, msg } => {
                if strict {
                    lbs.set_error(LOGFMT_PARSER, Some(&Item::error_text(pos, &msg)));
                    return;
                }
            }
        }
    }
}

// --- regexp ------------------------------------------------------------------------------

/// Checks a `| regexp` expression: valid, with at least one named group, names valid.
pub fn validate_regexp_parser(re: &str) -> Result<Regex, String> {
    let regex = Regex::new(re).map_err(|e| e.to_string())?;
    let mut named = 0;
    for name in regex.capture_names().flatten() {
        if !super::parser::is_valid_label_name(name) {
            return Err(format!("invalid extracted label name '{name}'"));
        }
        named += 1;
    }
    if named == 0 {
        return Err("at least one named capture must be supplied".to_string());
    }
    Ok(regex)
}

/// `| regexp`: each named group of the first match becomes a label (empty if the group did
/// not take part); no match adds nothing.
pub fn regexp_extract(line: &str, regex: &Regex, lbs: &mut LabelsBuilder) {
    let Some(caps) = regex.captures(line) else {
        return;
    };
    for name in regex.capture_names().flatten() {
        let value = caps.name(name).map_or("", |m| m.as_str());
        add_parsed(lbs, &sanitize_label_key(name), value);
    }
}

// --- pattern -----------------------------------------------------------------------------

/// Checks a pattern for the given use.
pub fn validate_pattern(text: &str, mode: PatternMode) -> Result<Pattern, String> {
    let p = Pattern::new(text, mode)?;
    if mode == PatternMode::Parser {
        if let Some(bad) = p
            .names()
            .into_iter()
            .find(|n| !super::parser::is_valid_label_name(n))
        {
            return Err(format!("invalid capture label name '{bad}'"));
        }
    }
    Ok(p)
}

/// `| pattern`: the named captures matched.
pub fn pattern_extract(line: &str, pattern: &Pattern, lbs: &mut LabelsBuilder) {
    for (name, value) in pattern.extract(line) {
        add_parsed(lbs, name, value);
    }
}

// --- unpack ------------------------------------------------------------------------------

/// `| unpack`: string members of a JSON object become labels and `_entry` replaces the
/// line, but only when the line was packed (has `_entry`). Returns the new line.
pub fn unpack(line: &str, lbs: &mut LabelsBuilder) -> Option<String> {
    if line.is_empty() {
        return None;
    }
    let mut entry = None;
    let mut found: Vec<(String, String)> = Vec::new();
    let result = json::for_each_member(line, 0, &mut |key, span| {
        if span.kind != Kind::String {
            return;
        }
        let value = span.label_value(line);
        if key == "_entry" {
            entry = Some(value);
        } else {
            found.push((key.to_string(), value));
        }
    });
    if let Err(e) = result {
        let details = if line.trim_start().starts_with('{') {
            e
        } else {
            "expecting json object(6), but it is not"
        };
        lbs.set_error(JSON_PARSER, Some(details));
        return None;
    }
    let entry = entry?;
    for (k, v) in found {
        add_parsed(lbs, &sanitize_label_key(&k), &v);
    }
    Some(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lbs(stream: &[(&str, &str)]) -> LabelsBuilder {
        let s: Vec<(String, String)> = stream
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        LabelsBuilder::new(&s, &[])
    }

    fn labels(b: LabelsBuilder) -> Vec<(String, String)> {
        b.into_labels()
    }

    fn v(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn sanitizes_keys() {
        assert_eq!(sanitize_label_key("cou-nter"), "cou_nter");
        assert_eq!(sanitize_label_key("1st"), "_1st");
        assert_eq!(sanitize_label_key(" a.b "), "a_b");
    }

    #[test]
    fn json_flattens_like_loki() {
        let mut b = lbs(&[("app", "bar")]);
        json_all(
            r#"{"app":"foo","namespace":"prod","pod":{"uuid":"foo","deployment":{"ref":"foobar"}},"next":{"err":false},"arr":[1,2],"n":null,"price":{"_net_":5.56909}}"#,
            &mut b,
        );
        assert_eq!(
            labels(b),
            v(&[
                ("app", "bar"),
                ("app_extracted", "foo"),
                ("namespace", "prod"),
                ("next_err", "false"),
                ("pod_deployment_ref", "foobar"),
                ("pod_uuid", "foo"),
                ("price__net_", "5.56909"),
            ])
        );
        let mut b = lbs(&[]);
        json_all(r#"{"a":"1","a":"2"}"#, &mut b);
        assert_eq!(labels(b), v(&[("a", "1")]));
        let mut b = lbs(&[]);
        json_all("{n}", &mut b);
        assert_eq!(
            labels(b),
            v(&[
                ("__error__", "JSONParserErr"),
                (
                    "__error_details__",
                    "Value looks like object, but can't find closing '}' symbol"
                )
            ])
        );
    }

    #[test]
    fn logfmt_modes() {
        let mut b = lbs(&[]);
        logfmt_all("a=1 b= c =bad d=\"x y\"", false, false, &mut b);
        assert_eq!(labels(b), v(&[("a", "1"), ("d", "x y")]));
        let mut b = lbs(&[]);
        logfmt_all("a=1 b= c", false, true, &mut b);
        assert_eq!(labels(b), v(&[("a", "1"), ("b", ""), ("c", "")]));
        let mut b = lbs(&[]);
        logfmt_all("a=1 foo=bar=buzz c=3", true, false, &mut b);
        assert_eq!(
            labels(b),
            v(&[
                ("__error__", "LogfmtParserErr"),
                (
                    "__error_details__",
                    "logfmt syntax error at pos 12 : unexpected '='"
                ),
                ("a", "1"),
            ])
        );
    }

    #[test]
    fn unpack_replaces_line() {
        let mut b = lbs(&[("pod", "p")]);
        let line = unpack(
            r#"{"container":"myapp","pod":"pod-3223f","_entry":"original log message"}"#,
            &mut b,
        );
        assert_eq!(line.as_deref(), Some("original log message"));
        assert_eq!(
            labels(b),
            v(&[
                ("container", "myapp"),
                ("pod", "p"),
                ("pod_extracted", "pod-3223f")
            ])
        );
        let mut b = lbs(&[]);
        assert_eq!(unpack(r#"{"a":"b"}"#, &mut b), None);
        assert_eq!(labels(b), vec![]);
    }
}
