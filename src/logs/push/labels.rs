//! A stream's label set as text: the selector-like string a protobuf push carries
//! (`{app="x", env="p"}`), parsed into name/value pairs, and rendered back for messages
//! and encoders.
//!
//! The parser accepts what Promtail, Alloy, winston-loki (`{level="info",job="x"}`, no
//! spaces) and hand-written clients send: whitespace anywhere between tokens, values in
//! double quotes with Go escapes (`\"`, `\\`, `\n`, `\t`, `\xHH`, octal `\NNN`, `\uHHHH`,
//! `\UHHHHHHHH`, …) or in backquotes (raw), and a trailing comma. Only `=` is allowed
//! between name and value (this is a label set, not a selector). A name is an identifier
//! or a quoted string; whether it is a valid label name is checked later, per stream, by
//! validation, so that one bad stream does not fail the others.

use std::borrow::Cow;
use std::fmt;

/// Why a label string could not be parsed, and where (byte offset into the string).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelsSyntaxError {
    pub offset: usize,
    pub detail: String,
}

impl fmt::Display for LabelsSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.detail, self.offset)
    }
}

impl std::error::Error for LabelsSyntaxError {}

/// Parses `{name="value", …}` into pairs, in the order written. Duplicate names, empty
/// values and invalid names are kept as written: see [`normalize`] and validation.
pub fn parse_labels(text: &str) -> Result<Vec<(String, String)>, LabelsSyntaxError> {
    Parser {
        text: text.as_bytes(),
        position: 0,
    }
    .labels()
}

/// Puts a parsed or JSON label set in canonical order: drops labels whose value is empty
/// (an empty value means the label is absent, as in Prometheus), then sorts by name
/// (byte order, stable, so duplicates keep their order for the message that rejects them).
pub fn normalize(labels: &mut Vec<(String, String)>) {
    labels.retain(|(_, value)| !value.is_empty());
    if !labels.windows(2).all(|pair| pair[0].0 <= pair[1].0) {
        labels.sort_by(|a, b| a.0.cmp(&b.0));
    }
}

/// True for names that match `[a-zA-Z_][a-zA-Z0-9_]*` (Prometheus' legacy rule, which is
/// also what a LogQL stream selector can name without quotes).
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(first) if first.is_ascii_alphabetic() || first == b'_' => {}
        _ => return false,
    }
    bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// Renders labels as `{a="b", c="d"}`, values quoted with Go escapes (names that are not
/// identifiers are quoted too), the form Loki prints streams in and [`parse_labels`] reads.
pub fn render_labels(labels: &[(String, String)]) -> String {
    render(labels, usize::MAX, false)
}

/// How many labels [`render_labels_shown`] shows before `…`.
pub const MAX_SHOWN_LABELS: usize = 32;

/// Like [`render_labels`] but with each name and value cut to `max_bytes` and at most
/// [`MAX_SHOWN_LABELS`] labels (cuts marked `…`): for messages, where a 100 KiB value
/// helps nobody.
pub fn render_labels_shown(labels: &[(String, String)], max_bytes: usize) -> String {
    render(
        &labels[..labels.len().min(MAX_SHOWN_LABELS)],
        max_bytes,
        labels.len() > MAX_SHOWN_LABELS,
    )
}

fn render(labels: &[(String, String)], max_bytes: usize, more: bool) -> String {
    let mut out = String::with_capacity(2 + labels.len() * 16);
    out.push('{');
    for (position, (name, value)) in labels.iter().enumerate() {
        if position > 0 {
            out.push_str(", ");
        }
        let name = cut(name, max_bytes);
        if is_valid_label_name(&name) {
            out.push_str(&name);
        } else {
            push_quoted(&name, &mut out);
        }
        out.push('=');
        push_quoted(&cut(value, max_bytes), &mut out);
    }
    if more {
        out.push_str(", …");
    }
    out.push('}');
    out
}

/// `text` cut at a character boundary to at most `max_bytes`, `…` appended when cut.
pub fn cut(text: &str, max_bytes: usize) -> Cow<'_, str> {
    if text.len() <= max_bytes {
        return Cow::Borrowed(text);
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &text[..end]))
}

/// Appends `text` in double quotes with Go-style escapes (what `strconv.Quote` would give
/// for control characters; printable characters, ASCII or not, stay as they are).
pub fn push_quoted(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

struct Parser<'a> {
    text: &'a [u8],
    position: usize,
}

impl Parser<'_> {
    fn labels(mut self) -> Result<Vec<(String, String)>, LabelsSyntaxError> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'{') => self.position += 1,
            Some(_) => return Err(self.error("expected '{' to open the label set")),
            None => return Err(self.error("empty label string, expected '{…}'")),
        }
        let mut labels = Vec::new();
        loop {
            self.skip_whitespace();
            if self.peek() == Some(b'}') {
                self.position += 1;
                break;
            }
            let name = self.name()?;
            self.skip_whitespace();
            self.equals(&name)?;
            self.skip_whitespace();
            let value = self.value(&name)?;
            labels.push((name, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.position += 1,
                Some(b'}') => {
                    self.position += 1;
                    break;
                }
                Some(_) => {
                    return Err(self.error(format!(
                        "expected ',' or '}}' after the value of label {}",
                        quoted(&labels_last_name(&labels))
                    )))
                }
                None => return Err(self.error("missing '}' at the end of the label set")),
            }
        }
        self.skip_whitespace();
        if self.position < self.text.len() {
            return Err(self.error("unexpected text after '}'"));
        }
        Ok(labels)
    }

    fn name(&mut self) -> Result<String, LabelsSyntaxError> {
        match self.peek() {
            Some(b'"') => self.double_quoted("label name"),
            Some(b'`') => self.backquoted("label name"),
            Some(byte) if byte.is_ascii_alphabetic() || byte == b'_' => {
                let start = self.position;
                while matches!(self.peek(), Some(b) if b.is_ascii_alphanumeric() || b == b'_') {
                    self.position += 1;
                }
                // The identifier bytes are ASCII, so this cannot fail.
                Ok(String::from_utf8_lossy(&self.text[start..self.position]).into_owned())
            }
            Some(b',') => Err(self.error("expected a label name, found ','")),
            Some(_) => Err(self.error(format!(
                "expected a label name (matching [a-zA-Z_][a-zA-Z0-9_]* or quoted), found {}",
                self.shown_char()
            ))),
            None => Err(self.error("missing '}' at the end of the label set")),
        }
    }

    fn equals(&mut self, name: &str) -> Result<(), LabelsSyntaxError> {
        let rest = &self.text[self.position..];
        let operator = if rest.starts_with(b"=~") {
            "=~"
        } else if rest.starts_with(b"!=") {
            "!="
        } else if rest.starts_with(b"!~") {
            "!~"
        } else if rest.starts_with(b"==") {
            "=="
        } else if rest.starts_with(b"=") {
            self.position += 1;
            return Ok(());
        } else if rest.is_empty() {
            return Err(self.error(format!(
                "missing '=' and value after label name {}",
                quoted(name)
            )));
        } else {
            return Err(self.error(format!(
                "expected '=' after label name {}, found {}",
                quoted(name),
                self.shown_char()
            )));
        };
        Err(self.error(format!(
            "label {} uses the matcher '{operator}': a stream's labels only take '='",
            quoted(name)
        )))
    }

    fn value(&mut self, name: &str) -> Result<String, LabelsSyntaxError> {
        match self.peek() {
            Some(b'"') => self.double_quoted("label value"),
            Some(b'`') => self.backquoted("label value"),
            Some(_) => Err(self.error(format!(
                "expected a quoted value for label {}, found {}",
                quoted(name),
                self.shown_char()
            ))),
            None => Err(self.error(format!("missing value for label {}", quoted(name)))),
        }
    }

    /// A Go interpreted string literal, from its opening quote.
    fn double_quoted(&mut self, what: &str) -> Result<String, LabelsSyntaxError> {
        let open = self.position;
        self.position += 1;
        let mut out = Vec::new();
        loop {
            let Some(byte) = self.peek() else {
                return Err(LabelsSyntaxError {
                    offset: open,
                    detail: format!("unterminated {what}: missing closing '\"'"),
                });
            };
            match byte {
                b'"' => {
                    self.position += 1;
                    break;
                }
                b'\\' => self.escape(&mut out)?,
                _ => {
                    out.push(byte);
                    self.position += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| LabelsSyntaxError {
            offset: open,
            detail: format!("{what} is not valid UTF-8 once unescaped"),
        })
    }

    /// One escape sequence, from its backslash; appends the bytes it stands for.
    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), LabelsSyntaxError> {
        let start = self.position;
        self.position += 1;
        let Some(kind) = self.peek() else {
            return Err(LabelsSyntaxError {
                offset: start,
                detail: "unterminated escape sequence".into(),
            });
        };
        self.position += 1;
        let simple = match kind {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            b'\\' => Some(b'\\'),
            b'"' => Some(b'"'),
            b'\'' => Some(b'\''),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            return Ok(());
        }
        let bad = |detail: String| LabelsSyntaxError {
            offset: start,
            detail,
        };
        match kind {
            b'x' => {
                let value = self.digits(2, 16).ok_or_else(|| {
                    bad("invalid escape: \\x takes exactly two hex digits".into())
                })?;
                out.push(value as u8);
            }
            b'0'..=b'7' => {
                self.position -= 1;
                let value = self
                    .digits(3, 8)
                    .filter(|value| *value <= 0xff)
                    .ok_or_else(|| {
                        bad("invalid escape: octal escapes take three digits, at most \\377".into())
                    })?;
                out.push(value as u8);
            }
            b'u' | b'U' => {
                let count = if kind == b'u' { 4 } else { 8 };
                let c = self
                    .digits(count, 16)
                    .and_then(char::from_u32)
                    .ok_or_else(|| {
                        bad(format!(
                            "invalid escape: \\{} takes {count} hex digits naming a Unicode scalar value",
                            kind as char
                        ))
                    })?;
                let mut buffer = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            }
            _ => {
                self.position = start;
                let rest = self.text.get(start + 1..).unwrap_or_default();
                let shown = String::from_utf8_lossy(&rest[..rest.len().min(4)])
                    .chars()
                    .next()
                    .map(|c| c.escape_debug().to_string())
                    .unwrap_or_default();
                return Err(bad(format!("unknown escape sequence \\{shown}")));
            }
        }
        Ok(())
    }

    /// Reads exactly `count` digits of `radix`; `None` if fewer are there.
    fn digits(&mut self, count: usize, radix: u32) -> Option<u32> {
        let digits = self.text.get(self.position..self.position + count)?;
        let mut value: u32 = 0;
        for &digit in digits {
            value = value * radix + char::from(digit).to_digit(radix)?;
        }
        self.position += count;
        Some(value)
    }

    /// A Go raw string literal (no escapes), from its opening backquote.
    fn backquoted(&mut self, what: &str) -> Result<String, LabelsSyntaxError> {
        let open = self.position;
        let rest = &self.text[open + 1..];
        let Some(length) = rest.iter().position(|&byte| byte == b'`') else {
            return Err(LabelsSyntaxError {
                offset: open,
                detail: format!("unterminated {what}: missing closing '`'"),
            });
        };
        self.position = open + 1 + length + 1;
        // The input is a &str and backquotes are ASCII, so the slice is UTF-8.
        Ok(String::from_utf8_lossy(&rest[..length]).into_owned())
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.position += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.position).copied()
    }

    /// The character at the current position, quoted, for messages.
    fn shown_char(&self) -> String {
        let rest = self.text.get(self.position..).unwrap_or_default();
        let text = String::from_utf8_lossy(&rest[..rest.len().min(4)]).into_owned();
        match text.chars().next() {
            Some(c) => format!("{c:?}"),
            None => "the end".into(),
        }
    }

    fn error(&self, detail: impl Into<String>) -> LabelsSyntaxError {
        LabelsSyntaxError {
            offset: self.position,
            detail: detail.into(),
        }
    }
}

fn labels_last_name(labels: &[(String, String)]) -> String {
    labels
        .last()
        .map(|(name, _)| name.clone())
        .unwrap_or_default()
}

fn quoted(text: &str) -> String {
    let mut out = String::new();
    push_quoted(&cut(text, 128), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn parses_what_clients_send() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            // Promtail / Alloy (Prometheus' String()).
            (r#"{app="x", env="p"}"#, &[("app", "x"), ("env", "p")]),
            // winston-loki: no spaces, level first.
            (
                r#"{level="info",job="test",jeejee="ebon"}"#,
                &[("level", "info"), ("job", "test"), ("jeejee", "ebon")],
            ),
            // Spaces and newlines everywhere, trailing comma.
            (
                " \t{ app = \"x\" ,\n env=\"p\", } \n",
                &[("app", "x"), ("env", "p")],
            ),
            ("{}", &[]),
            ("  { }  ", &[]),
            (r#"{_a1="", B_="v"}"#, &[("_a1", ""), ("B_", "v")]),
            // Backquoted raw values and quoted names.
            (r#"{path=`C:\logs\"x"`}"#, &[("path", r#"C:\logs\"x""#)]),
            (
                r#"{"service.name"="api", `k8s-pod`="p"}"#,
                &[("service.name", "api"), ("k8s-pod", "p")],
            ),
            // Duplicates are kept for validation to report.
            (r#"{a="1", a="2"}"#, &[("a", "1"), ("a", "2")]),
            // Non-ASCII text as is.
            (
                r#"{city="Zürich", emoji="😀"}"#,
                &[("city", "Zürich"), ("emoji", "😀")],
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_labels(text), Ok(pairs(expected)), "{text}");
        }
    }

    #[test]
    fn go_escapes_in_values() {
        let text = r#"{v="q\"b\\n\n t\t a\a b\b f\f v\v r\r s\' x\x41 o\101 u\u00e9 U\U0001F600"}"#;
        let expected = "q\"b\\n\n t\t a\u{7} b\u{8} f\u{c} v\u{b} r\r s' xA oA u\u{e9} U😀";
        assert_eq!(parse_labels(text), Ok(pairs(&[("v", expected)])));
        // \x escapes may spell multi-byte UTF-8, as Go's %q does for nothing but is legal.
        assert_eq!(parse_labels(r#"{v="\xc3\xa9"}"#), Ok(pairs(&[("v", "é")])));
    }

    #[test]
    fn garbage_is_refused_with_a_clear_message() {
        let cases = [
            ("", "empty label string, expected '{…}' at offset 0"),
            ("   ", "empty label string, expected '{…}' at offset 3"),
            (r#"app="x""#, "expected '{' to open the label set at offset 0"),
            (
                r#"{app="x""#,
                "missing '}' at the end of the label set at offset 8",
            ),
            (r#"{app="x}"#, "unterminated label value: missing closing '\"' at offset 5"),
            (
                "{app=x}",
                "expected a quoted value for label \"app\", found 'x' at offset 5",
            ),
            (
                r#"{app!="x"}"#,
                "label \"app\" uses the matcher '!=': a stream's labels only take '=' at offset 4",
            ),
            (
                r#"{app=~"x"}"#,
                "label \"app\" uses the matcher '=~': a stream's labels only take '=' at offset 4",
            ),
            (
                r#"{app:"x"}"#,
                "expected '=' after label name \"app\", found ':' at offset 4",
            ),
            (r#"{app}"#, "expected '=' after label name \"app\", found '}' at offset 4"),
            (r#"{app"#, "missing '=' and value after label name \"app\" at offset 4"),
            (r#"{app="#, "missing value for label \"app\" at offset 5"),
            (
                r#"{app="x" env="y"}"#,
                "expected ',' or '}' after the value of label \"app\" at offset 9",
            ),
            (r#"{app="x"} extra"#, "unexpected text after '}' at offset 10"),
            (r#"{app="x"}}"#, "unexpected text after '}' at offset 9"),
            (r#"{,}"#, "expected a label name, found ',' at offset 1"),
            (
                r#"{app="x",,}"#,
                "expected a label name, found ',' at offset 9",
            ),
            (
                r#"{1app="x"}"#,
                "expected a label name (matching [a-zA-Z_][a-zA-Z0-9_]* or quoted), found '1' at offset 1",
            ),
            (
                r#"{app-name="x"}"#,
                "expected '=' after label name \"app\", found '-' at offset 4",
            ),
            (
                r#"{é="x"}"#,
                "expected a label name (matching [a-zA-Z_][a-zA-Z0-9_]* or quoted), found 'é' at offset 1",
            ),
            (r#"{a="\q"}"#, "unknown escape sequence \\q at offset 4"),
            (
                r#"{a="\xZZ"}"#,
                "invalid escape: \\x takes exactly two hex digits at offset 4",
            ),
            (
                r#"{a="\400"}"#,
                "invalid escape: octal escapes take three digits, at most \\377 at offset 4",
            ),
            (
                r#"{a="\ud800"}"#,
                "invalid escape: \\u takes 4 hex digits naming a Unicode scalar value at offset 4",
            ),
            (
                r#"{a="\U00110000"}"#,
                "invalid escape: \\U takes 8 hex digits naming a Unicode scalar value at offset 4",
            ),
            (r#"{a="\"#, "unterminated escape sequence at offset 4"),
            (
                r#"{a="\xff"}"#,
                "label value is not valid UTF-8 once unescaped at offset 3",
            ),
            (r#"{a=`x}"#, "unterminated label value: missing closing '`' at offset 3"),
            (r#"{"a="x"}"#, "expected '=' after label name \"a=\", found 'x' at offset 5"),
            (r#"{{a="x"}}"#, "expected a label name (matching [a-zA-Z_][a-zA-Z0-9_]* or quoted), found '{' at offset 1"),
        ];
        for (text, message) in cases {
            let error = parse_labels(text).expect_err(text);
            assert_eq!(error.to_string(), message, "{text}");
        }
    }

    #[test]
    fn normalize_drops_empty_values_and_sorts_stably() {
        let mut labels = pairs(&[("b", "1"), ("a", ""), ("c", "3"), ("b", "0"), ("a", "2")]);
        normalize(&mut labels);
        assert_eq!(
            labels,
            pairs(&[("a", "2"), ("b", "1"), ("b", "0"), ("c", "3")])
        );
    }

    #[test]
    fn label_name_rule() {
        for good in ["a", "_", "__name__", "A9_b", "level"] {
            assert!(is_valid_label_name(good), "{good}");
        }
        for bad in ["", "9a", "a-b", "a.b", "é", "a b", "a:b"] {
            assert!(!is_valid_label_name(bad), "{bad}");
        }
    }

    #[test]
    fn renders_like_loki_prints_streams() {
        let labels = pairs(&[
            ("app", "x"),
            ("msg", "say \"hi\"\\\n\t\u{1}\u{7f}\u{85}é"),
            ("service.name", "api"),
        ]);
        assert_eq!(
            render_labels(&labels),
            r#"{app="x", msg="say \"hi\"\\\n\t\x01\x7f\u0085é", "service.name"="api"}"#
        );
        assert_eq!(render_labels(&[]), "{}");
        let long = pairs(&[("v", &"é".repeat(10))]);
        assert_eq!(render_labels_shown(&long, 5), "{v=\"éé…\"}");
        let many: Vec<(String, String)> = (0..40)
            .map(|index| (format!("l{index:02}"), "v".to_string()))
            .collect();
        let shown = render_labels_shown(&many, 8);
        assert!(shown.ends_with(r#"l31="v", …}"#), "{shown}");
    }

    proptest! {
        #[test]
        fn render_then_parse_round_trips(
            labels in prop::collection::vec(
                (prop_oneof!["[a-zA-Z_][a-zA-Z0-9_]{0,8}", any::<String>()], any::<String>()),
                0..6,
            )
        ) {
            prop_assert_eq!(parse_labels(&render_labels(&labels)), Ok(labels));
        }

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = parse_labels(&text);
            let _ = parse_labels(&format!("{{{text}}}"));
            let _ = parse_labels(&format!("{{a=\"{text}"));
        }
    }
}
