//! A small JSON scanner for the `json` and `unpack` parsers. It works on the raw text
//! because Loki keeps numbers exactly as written (`1.50` stays `1.50`), keeps the first of
//! duplicate keys in order, returns nested objects/arrays verbatim for `| json x="obj"`, and
//! keeps the labels found before a syntax error. Error texts are those Loki reports.

pub const MALFORMED_OBJECT: &str = "Value looks like object, but can't find closing '}' symbol";
pub const MALFORMED_ARRAY: &str = "Value is array, but can't find closing ']' symbol";
pub const MALFORMED_STRING: &str = "Value is string, but can't find closing '\"' symbol";
pub const MALFORMED_VALUE: &str =
    "Value looks like Number/Boolean/None, but can't find its end: ',' or '}' symbol";
pub const MALFORMED_JSON: &str = "Malformed JSON error";
pub const UNKNOWN_VALUE: &str = "Unknown value type";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Number,
    Bool,
    Null,
    Object,
    Array,
}

/// A value found in the text: its kind and byte span (strings include their quotes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

impl Span {
    /// The label value Loki derives: strings unescaped, null empty, the rest verbatim.
    pub fn label_value(&self, text: &str) -> String {
        let raw = &text[self.start..self.end];
        match self.kind {
            Kind::String => unescape(&raw[1..raw.len() - 1]).unwrap_or_default(),
            Kind::Null => String::new(),
            _ => raw.to_string(),
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// End (exclusive) of the string starting at `b[i] == '"'`.
fn string_end(b: &[u8], i: usize) -> Result<usize, &'static str> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Ok(j + 1),
            _ => j += 1,
        }
    }
    Err(MALFORMED_STRING)
}

/// Scans the value starting at `i` (after whitespace).
pub fn scan_value(b: &[u8], i: usize) -> Result<Span, &'static str> {
    let start = skip_ws(b, i);
    let Some(&c) = b.get(start) else {
        return Err(MALFORMED_JSON);
    };
    let (kind, end) = match c {
        b'"' => (Kind::String, string_end(b, start)?),
        b'{' => (
            Kind::Object,
            container_end(b, start, b'{', b'}', MALFORMED_OBJECT)?,
        ),
        b'[' => (
            Kind::Array,
            container_end(b, start, b'[', b']', MALFORMED_ARRAY)?,
        ),
        b't' | b'f' | b'n' => {
            let word_end = scalar_end(b, start)?;
            let kind = match &b[start..word_end] {
                b"true" | b"false" => Kind::Bool,
                b"null" => Kind::Null,
                _ => return Err(UNKNOWN_VALUE),
            };
            (kind, word_end)
        }
        b'-' | b'0'..=b'9' => {
            let end = scalar_end(b, start)?;
            let ok = b[start..end]
                .iter()
                .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E'));
            if !ok {
                return Err(MALFORMED_VALUE);
            }
            (Kind::Number, end)
        }
        _ => return Err(UNKNOWN_VALUE),
    };
    Ok(Span { kind, start, end })
}

fn scalar_end(b: &[u8], i: usize) -> Result<usize, &'static str> {
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' => return Ok(j),
            _ => j += 1,
        }
    }
    // A scalar running to the end of the text (only valid at top level).
    Ok(j)
}

/// Matching close of a container, skipping strings.
fn container_end(
    b: &[u8],
    i: usize,
    open: u8,
    close: u8,
    err: &'static str,
) -> Result<usize, &'static str> {
    let mut depth = 0usize;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'"' => {
                j = string_end(b, j).map_err(|_| err)?;
                continue;
            }
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return Ok(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
    Err(err)
}

/// Calls `f(key, value)` for each member of the object starting at `i`, in order. Members
/// seen before a syntax error are delivered before the error is returned.
pub fn for_each_member(
    text: &str,
    i: usize,
    f: &mut dyn FnMut(&str, Span),
) -> Result<(), &'static str> {
    let b = text.as_bytes();
    let mut j = skip_ws(b, i);
    if b.get(j) != Some(&b'{') {
        return Err(MALFORMED_OBJECT);
    }
    j = skip_ws(b, j + 1);
    if b.get(j) == Some(&b'}') {
        return Ok(());
    }
    loop {
        if b.get(j) != Some(&b'"') {
            return Err(MALFORMED_OBJECT);
        }
        let key_end = string_end(b, j)?;
        let key = unescape(&text[j + 1..key_end - 1]).ok_or(MALFORMED_JSON)?;
        j = skip_ws(b, key_end);
        if b.get(j) != Some(&b':') {
            return Err(MALFORMED_OBJECT);
        }
        let span = scan_value(b, j + 1)?;
        if span.kind == Kind::Number && span.end == b.len() {
            return Err(MALFORMED_VALUE);
        }
        f(&key, span);
        j = skip_ws(b, span.end);
        match b.get(j) {
            Some(b',') => j = skip_ws(b, j + 1),
            Some(b'}') => return Ok(()),
            _ => return Err(MALFORMED_OBJECT),
        }
    }
}

/// Elements of the array starting at `i`.
fn array_elements(text: &str, i: usize) -> Result<Vec<Span>, &'static str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut j = skip_ws(b, i);
    if b.get(j) != Some(&b'[') {
        return Err(MALFORMED_ARRAY);
    }
    j = skip_ws(b, j + 1);
    if b.get(j) == Some(&b']') {
        return Ok(out);
    }
    loop {
        let span = scan_value(b, j)?;
        out.push(span);
        j = skip_ws(b, span.end);
        match b.get(j) {
            Some(b',') => j += 1,
            Some(b']') => return Ok(out),
            _ => return Err(MALFORMED_ARRAY),
        }
    }
}

/// Decodes JSON string escapes; `None` on an invalid escape.
pub fn unescape(s: &str) -> Option<String> {
    if !s.contains('\\') {
        return Some(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '/' => out.push('/'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                let mut code = u32::from_str_radix(&hex, 16).ok()?;
                if (0xD800..0xDC00).contains(&code) {
                    // A surrogate pair: the low half must follow as another \u escape.
                    let rest = chars.as_str();
                    let low = rest
                        .strip_prefix("\\u")
                        .and_then(|r| r.get(..4))
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .filter(|l| (0xDC00..0xE000).contains(l));
                    match low {
                        Some(low) => {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                            chars = rest[6..].chars();
                        }
                        None => code = 0xFFFD,
                    }
                }
                out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
            _ => return None,
        }
    }
    Some(out)
}

/// One step of a `| json label="path"` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPart {
    Key(String),
    Index(usize),
}

/// Parses `a.b[0]["c d"]` (fields, array indexes, quoted keys in brackets).
pub fn parse_json_path(expr: &str) -> Result<Vec<PathPart>, String> {
    let mut parts = Vec::new();
    let b = expr.as_bytes();
    let mut i = 0;
    let syntax = |what: &str| format!("syntax error: {what}");
    let is_field = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c >= 0x80;
    let mut expect_field = true;
    while i < b.len() {
        match b[i] {
            b'[' => {
                let close = expr[i..]
                    .find(']')
                    .map(|p| p + i)
                    .ok_or_else(|| syntax("unexpected $end, expecting RSB"))?;
                let inner = expr[i + 1..close].trim();
                if let Some(q) = inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                    parts.push(PathPart::Key(
                        unescape(q).ok_or_else(|| syntax("bad string"))?,
                    ));
                } else if let Ok(n) = inner.parse::<usize>() {
                    parts.push(PathPart::Index(n));
                } else {
                    return Err(syntax("unexpected STRING, expecting RSB"));
                }
                i = close + 1;
                expect_field = false;
            }
            b'.' => {
                if expect_field || i + 1 >= b.len() || !is_field(b[i + 1]) {
                    return Err(syntax("unexpected DOT, expecting FIELD"));
                }
                i += 1;
                expect_field = true;
            }
            c if is_field(c) => {
                if !expect_field {
                    return Err(syntax("unexpected FIELD"));
                }
                let start = i;
                while i < b.len() && is_field(b[i]) {
                    i += 1;
                }
                parts.push(PathPart::Key(expr[start..i].to_string()));
                expect_field = false;
            }
            b' ' => return Err(syntax("unexpected FIELD")),
            _ => return Err(syntax("unexpected STRING, expecting LSB or FIELD")),
        }
    }
    if parts.is_empty() || expect_field && !expr.is_empty() && expr.ends_with('.') {
        return Err(syntax("unexpected $end, expecting FIELD"));
    }
    Ok(parts)
}

/// Follows `path` from the top-level value of `text`. `Ok(None)` when the path does not exist.
pub fn lookup(text: &str, path: &[PathPart]) -> Result<Option<Span>, &'static str> {
    let b = text.as_bytes();
    let mut current = scan_value(b, 0)?;
    for part in path {
        let next = match (part, current.kind) {
            (PathPart::Key(k), Kind::Object) => {
                let mut found = None;
                for_each_member(text, current.start, &mut |key, span| {
                    if found.is_none() && key == k {
                        found = Some(span);
                    }
                })?;
                found
            }
            (PathPart::Index(n), Kind::Array) => {
                array_elements(text, current.start)?.get(*n).copied()
            }
            _ => None,
        };
        match next {
            Some(span) => current = span,
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_and_values() {
        let text = r#"{"a": 1.50, "b": "x\"y", "c": {"d": [1, 2]}, "e": null, "f": true}"#;
        let mut seen = Vec::new();
        for_each_member(text, 0, &mut |k, s| {
            seen.push((k.to_string(), s.label_value(text)))
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                ("a".to_string(), "1.50".to_string()),
                ("b".to_string(), "x\"y".to_string()),
                ("c".to_string(), r#"{"d": [1, 2]}"#.to_string()),
                ("e".to_string(), String::new()),
                ("f".to_string(), "true".to_string()),
            ]
        );
        assert_eq!(
            for_each_member("{n}", 0, &mut |_, _| {}),
            Err(MALFORMED_OBJECT)
        );
        assert_eq!(
            for_each_member("plain text", 0, &mut |_, _| {}),
            Err(MALFORMED_OBJECT)
        );
    }

    #[test]
    fn paths() {
        let text = r#"{"servers": ["129.0.1.1","10.2.1.3"], "request": {"headers": {"User-Agent": "curl/7.68.0"}}}"#;
        let p = parse_json_path("servers[0]").unwrap();
        assert_eq!(
            lookup(text, &p).unwrap().unwrap().label_value(text),
            "129.0.1.1"
        );
        let p = parse_json_path(r#"request.headers["User-Agent"]"#).unwrap();
        assert_eq!(
            lookup(text, &p).unwrap().unwrap().label_value(text),
            "curl/7.68.0"
        );
        let p = parse_json_path("request.nope").unwrap();
        assert_eq!(lookup(text, &p).unwrap(), None);
        assert!(parse_json_path("pod..uuid").is_err());
        assert!(parse_json_path("field with space").is_err());
        assert!(parse_json_path(r#"["pod""#).is_err());
        assert_eq!(unescape(r"\u00e9\ud83d\ude00").unwrap(), "é😀");
    }
}
