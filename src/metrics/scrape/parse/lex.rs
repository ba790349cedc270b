//! Lexical pieces both formats share: names, quoted strings and their escapes, label
//! sets, splitting a body into lines.

use std::borrow::Cow;

use super::error::{found, shown, ErrorKind, ParseError};
use super::model::Label;

const METRIC_START: u8 = 1;
const METRIC_CHAR: u8 = 2;
const LABEL_START: u8 = 4;
const LABEL_CHAR: u8 = 8;

/// Character classes of the legacy names: metric names `[a-zA-Z_:][a-zA-Z0-9_:]*`,
/// label names `[a-zA-Z_][a-zA-Z0-9_]*`.
static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let letter = c.is_ascii_alphabetic() || c == b'_';
        if letter {
            table[b] = METRIC_START | METRIC_CHAR | LABEL_START | LABEL_CHAR;
        } else if c.is_ascii_digit() {
            table[b] = METRIC_CHAR | LABEL_CHAR;
        } else if c == b':' {
            table[b] = METRIC_START | METRIC_CHAR;
        }
        b += 1;
    }
    table
};

pub(crate) fn is_metric_name_char(b: u8) -> bool {
    CLASS[b as usize] & METRIC_CHAR != 0
}

/// Whether a metric name may start with `b` (given that it is a metric name char).
pub(crate) fn starts_metric_name(b: u8) -> bool {
    CLASS[b as usize] & METRIC_START != 0
}

/// Whether `name` is a legacy metric name.
pub fn is_legacy_metric_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    match bytes.first() {
        Some(&first) if CLASS[first as usize] & METRIC_START != 0 => bytes[1..]
            .iter()
            .all(|&b| CLASS[b as usize] & METRIC_CHAR != 0),
        _ => false,
    }
}

/// Whether `name` is a legacy label name.
pub fn is_legacy_label_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    match bytes.first() {
        Some(&first) if CLASS[first as usize] & LABEL_START != 0 => bytes[1..]
            .iter()
            .all(|&b| CLASS[b as usize] & LABEL_CHAR != 0),
        _ => false,
    }
}

/// The body as UTF-8, or an error naming the line of the first invalid byte.
pub(crate) fn utf8_body(body: &[u8]) -> Result<&str, ParseError> {
    std::str::from_utf8(body).map_err(|error| {
        let line = line_of_offset(body, error.valid_up_to());
        ParseError::at(line, ErrorKind::InvalidUtf8)
    })
}

/// 1-based line number of byte `offset`.
pub(crate) fn line_of_offset(body: &[u8], offset: usize) -> usize {
    body[..offset.min(body.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Whether a byte is the text format's blank (space or tab).
#[inline]
pub(crate) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Index of the first byte at or after `from` that is not a blank.
#[inline]
pub(crate) fn skip_blanks(bytes: &[u8], mut from: usize) -> usize {
    while from < bytes.len() && is_blank(bytes[from]) {
        from += 1;
    }
    from
}

/// End (exclusive) of the run of bytes from `from` for which `keep` holds.
#[inline]
pub(crate) fn scan_while(bytes: &[u8], mut from: usize, keep: impl Fn(u8) -> bool) -> usize {
    while from < bytes.len() && keep(bytes[from]) {
        from += 1;
    }
    from
}

/// A quoted string starting at `open` (which holds `"`): the raw text between the
/// quotes, the index just after the closing quote, and whether it has a backslash.
#[inline]
pub(crate) fn scan_quoted(line: &str, open: usize) -> Result<(&str, usize, bool), ErrorKind> {
    let bytes = line.as_bytes();
    debug_assert_eq!(bytes.get(open), Some(&b'"'));
    let mut i = open + 1;
    let mut escaped = false;
    loop {
        i = find_quote_or_backslash(bytes, i);
        match bytes.get(i) {
            Some(b'"') => return Ok((&line[open + 1..i], i + 1, escaped)),
            Some(_) => {
                // A backslash: the next byte is escaped, whatever it is.
                escaped = true;
                i += 2;
            }
            None => return Err(ErrorKind::UnterminatedString),
        }
    }
}

/// Index of the first `"` or `\` at or after `from`, or `bytes.len()`.
#[inline]
fn find_quote_or_backslash(bytes: &[u8], from: usize) -> usize {
    find_either(bytes, from, b'"', b'\\')
}

/// Index of the first `\n` at or after `from`, or `bytes.len()`.
#[inline]
pub(crate) fn find_line_feed(bytes: &[u8], from: usize) -> usize {
    find_either(bytes, from, b'\n', b'\n')
}

/// Index of the first `a` or `b` at or after `from`, or `bytes.len()`; eight bytes at a
/// time.
#[inline(always)]
fn find_either(bytes: &[u8], from: usize, a: u8, b: u8) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let spread_a = ONES * u64::from(a);
    let spread_b = ONES * u64::from(b);
    let mut i = from;
    while i + 8 <= bytes.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[i..i + 8]);
        let word = u64::from_le_bytes(word);
        // A byte of `x` is zero where `word` holds `a`; the lowest byte the classic
        // zero-byte test flags is always exact.
        let x = word ^ spread_a;
        let y = word ^ spread_b;
        let found = (x.wrapping_sub(ONES) & !x & HIGHS) | (y.wrapping_sub(ONES) & !y & HIGHS);
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && bytes[i] != a && bytes[i] != b {
        i += 1;
    }
    i
}

/// Which backslash sequences a string context defines. Any other backslash, and a
/// trailing one, stays as written (both formats' readers do this).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escapes {
    /// `\\`, `\"`, `\n`: label values, quoted names, OpenMetrics HELP.
    Quoted,
    /// `\\`, `\n`: text-format HELP.
    Help,
}

/// `raw` with its escape sequences replaced; borrowed when there are none.
pub(crate) fn unescape(raw: &str, escapes: Escapes) -> Cow<'_, str> {
    if !raw.as_bytes().contains(&b'\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.clone().next() {
            Some('\\') => {
                out.push('\\');
                chars.next();
            }
            Some('n') => {
                out.push('\n');
                chars.next();
            }
            Some('"') if escapes == Escapes::Quoted => {
                out.push('"');
                chars.next();
            }
            _ => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// The whitespace rules of a label set.
#[derive(Clone, Copy)]
pub(crate) struct LabelSyntax {
    /// Blanks allowed around names, `=`, values and commas (text format).
    pub blanks: bool,
    /// A comma allowed before `}` (text format).
    pub trailing_comma: bool,
}

pub(crate) const TEXT_LABELS: LabelSyntax = LabelSyntax {
    blanks: true,
    trailing_comma: true,
};
pub(crate) const OPENMETRICS_LABELS: LabelSyntax = LabelSyntax {
    blanks: false,
    trailing_comma: false,
};

/// What [`parse_label_set`] read.
pub(crate) struct LabelSet<'a> {
    /// Index just after the closing `}`.
    pub end: usize,
    /// A quoted metric name given as the first item (`{"my.metric", a="b"}`).
    pub metric_name: Option<Cow<'a, str>>,
}

/// Where a metric name stands relative to a label set.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameSlot {
    /// No name before the `{`: the first item may be a quoted name without `=`.
    Inside,
    /// The name came before the `{`.
    Before,
    /// An exemplar's label set: no name at all.
    None,
}

/// Reads a label set whose `{` is at `open`, appending the labels to `out`.
pub(crate) fn parse_label_set<'a>(
    line: &'a str,
    open: usize,
    syntax: LabelSyntax,
    name_slot: NameSlot,
    out: &mut Vec<Label<'a>>,
) -> Result<LabelSet<'a>, ErrorKind> {
    let bytes = line.as_bytes();
    debug_assert_eq!(bytes.get(open), Some(&b'{'));
    let first_label = out.len();
    let mut metric_name = None;
    let mut i = open + 1;
    let mut first_item = true;
    let skip = |i: usize| {
        if syntax.blanks {
            skip_blanks(bytes, i)
        } else {
            i
        }
    };
    loop {
        i = skip(i);
        match bytes.get(i) {
            Some(b'}') if first_item || syntax.trailing_comma => {
                i += 1;
                break;
            }
            None => {
                return Err(ErrorKind::Syntax {
                    expected: "label name or '}'",
                    found: found(""),
                })
            }
            _ => {}
        }
        // A label name, or (first) a quoted metric name.
        let name: Cow<'a, str>;
        if bytes[i] == b'"' {
            let (raw, after, _) = scan_quoted(line, i)?;
            let unquoted = unescape(raw, Escapes::Quoted);
            i = skip(after);
            if bytes.get(i) != Some(&b'=') {
                if !(first_item && name_slot == NameSlot::Inside) {
                    if first_item && name_slot == NameSlot::Before {
                        return Err(ErrorKind::MetricNameTwice);
                    }
                    return Err(ErrorKind::Syntax {
                        expected: "'=' after label name",
                        found: found(&line[i..]),
                    });
                }
                if unquoted.is_empty() {
                    return Err(ErrorKind::EmptyMetricName);
                }
                metric_name = Some(unquoted);
                first_item = false;
                match bytes.get(i) {
                    Some(b',') => {
                        i += 1;
                        continue;
                    }
                    Some(b'}') => {
                        i += 1;
                        break;
                    }
                    _ => {
                        return Err(ErrorKind::Syntax {
                            expected: "',' or '}' after the metric name",
                            found: found(&line[i..]),
                        })
                    }
                }
            }
            if unquoted.is_empty() {
                return Err(ErrorKind::InvalidLabelName(String::new()));
            }
            name = unquoted;
        } else {
            let end = scan_while(bytes, i, |b| CLASS[b as usize] & LABEL_CHAR != 0);
            let token_end = scan_while(bytes, end, |b| {
                !matches!(b, b'=' | b',' | b'}' | b'"' | b' ' | b'\t')
            });
            let token = &line[i..token_end];
            if token.is_empty() {
                return Err(ErrorKind::Syntax {
                    expected: "label name",
                    found: found(&line[i..]),
                });
            }
            // `token` is [a-zA-Z0-9_]+ up to `end`: valid unless more follows or it
            // starts with a digit.
            if end != token_end || CLASS[bytes[i] as usize] & LABEL_START == 0 {
                return Err(ErrorKind::InvalidLabelName(shown(token)));
            }
            name = Cow::Borrowed(token);
            i = skip(token_end);
        }
        if bytes.get(i) != Some(&b'=') {
            return Err(ErrorKind::Syntax {
                expected: "'=' after label name",
                found: found(&line[i..]),
            });
        }
        i = skip(i + 1);
        if bytes.get(i) != Some(&b'"') {
            return Err(ErrorKind::Syntax {
                expected: "'\"' starting the label value",
                found: found(&line[i..]),
            });
        }
        let (raw, after, escaped) = scan_quoted(line, i)?;
        let value = if escaped {
            unescape(raw, Escapes::Quoted)
        } else {
            Cow::Borrowed(raw)
        };
        if name == "__name__" {
            return Err(ErrorKind::ReservedLabelName);
        }
        out.push((name, value));
        first_item = false;
        i = skip(after);
        match bytes.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => {
                i += 1;
                break;
            }
            _ => {
                return Err(ErrorKind::Syntax {
                    expected: "',' or '}' after label value",
                    found: found(&line[i..]),
                })
            }
        }
    }
    check_unique_names(&out[first_label..])?;
    Ok(LabelSet {
        end: i,
        metric_name,
    })
}

/// Errors on the first label name given twice.
pub(crate) fn check_unique_names(labels: &[Label<'_>]) -> Result<(), ErrorKind> {
    if labels.len() <= 16 {
        for (index, (name, _)) in labels.iter().enumerate() {
            if labels[..index].iter().any(|(other, _)| other == name) {
                return Err(ErrorKind::DuplicateLabelName(shown(name)));
            }
        }
        return Ok(());
    }
    let mut names: Vec<&str> = labels.iter().map(|(name, _)| name.as_ref()).collect();
    names.sort_unstable();
    match names.windows(2).find(|pair| pair[0] == pair[1]) {
        Some(pair) => Err(ErrorKind::DuplicateLabelName(shown(pair[0]))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = (Vec<(String, String)>, Option<String>);

    fn labels(text: &str, syntax: LabelSyntax) -> Result<Parsed, ErrorKind> {
        let mut out = Vec::new();
        let set = parse_label_set(text, 0, syntax, NameSlot::Inside, &mut out)?;
        assert_eq!(
            set.end,
            text.len(),
            "label set should end the input: {text:?}"
        );
        Ok((
            out.into_iter()
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect(),
            set.metric_name.map(Cow::into_owned),
        ))
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_follow_the_legacy_character_sets() {
        assert!(is_legacy_metric_name("a"));
        assert!(is_legacy_metric_name("_a:b_1"));
        assert!(is_legacy_metric_name(":a"));
        assert!(!is_legacy_metric_name("0a"));
        assert!(!is_legacy_metric_name("a.b"));
        assert!(!is_legacy_metric_name("a-b"));
        assert!(!is_legacy_metric_name(""));
        assert!(!is_legacy_metric_name("é"));
        assert!(is_legacy_label_name("_a1"));
        assert!(!is_legacy_label_name("a:b"));
        assert!(!is_legacy_label_name("1a"));
    }

    #[test]
    fn quoted_strings_end_at_the_first_unescaped_quote() {
        for (line, inner) in [
            (r#""""#, ""),
            (r#""abc" rest"#, "abc"),
            (r#""0123456789abcdefghij"x"#, "0123456789abcdefghij"),
            (r#""01234567\"89abcdef" "#, r#"01234567\"89abcdef"#),
            (r#""0123456\\"x"#, r#"0123456\\"#),
            ("\"héllo wörld ✓ \\\\ done\"", "héllo wörld ✓ \\\\ done"),
        ] {
            let (raw, end, _) = scan_quoted(line, 0).unwrap();
            assert_eq!(raw, inner, "{line}");
            assert_eq!(&line[end - 1..end], "\"");
        }
        for bad in [r#"""#, r#""abc"#, r#""0123456789\""#, "\"trailing\\"] {
            assert_eq!(
                scan_quoted(bad, 0),
                Err(ErrorKind::UnterminatedString),
                "{bad}"
            );
        }
    }

    #[test]
    fn escapes_in_quoted_strings() {
        assert_eq!(unescape(r#"a\\b"#, Escapes::Quoted), "a\\b");
        assert_eq!(unescape(r#"a\"b"#, Escapes::Quoted), "a\"b");
        assert_eq!(unescape(r#"a\nb"#, Escapes::Quoted), "a\nb");
        assert_eq!(unescape(r#"\\\n"#, Escapes::Quoted), "\\\n");
        assert_eq!(unescape(r#"\\n"#, Escapes::Quoted), "\\n");
        // Undefined sequences and a trailing backslash stay as written.
        assert_eq!(unescape(r#"b\\a\z"#, Escapes::Quoted), "b\\a\\z");
        assert_eq!(unescape(r#"\t"#, Escapes::Quoted), "\\t");
        assert_eq!(unescape("a\\", Escapes::Quoted), "a\\");
        // Text-format HELP has no \" escape.
        assert_eq!(unescape(r#"say \"hi\""#, Escapes::Help), r#"say \"hi\""#);
        assert_eq!(unescape(r#"two\nlines \\"#, Escapes::Help), "two\nlines \\");
        assert!(matches!(
            unescape("plain", Escapes::Quoted),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn openmetrics_label_sets_are_strict() {
        let om = |t: &str| labels(t, OPENMETRICS_LABELS);
        assert_eq!(om("{}").unwrap().0, pairs(&[]));
        assert_eq!(
            om(r#"{a="1",b="x\"y"}"#).unwrap().0,
            pairs(&[("a", "1"), ("b", "x\"y")])
        );
        assert_eq!(
            om(r#"{foo="} foo # bar # "}"#).unwrap().0,
            pairs(&[("foo", "} foo # bar # ")])
        );
        for bad in [
            r#"{a="1",}"#,
            r#"{a="1" }"#,
            r#"{ a="1"}"#,
            r#"{a ="1"}"#,
            r#"{a="1",,b="2"}"#,
            r#"{a="1"b="2"}"#,
            r#"{a=1}"#,
            r#"{a='1'}"#,
            r#"{a="1}"#,
            r#"{a}"#,
            r#"{a=}"#,
            r#"{1="1"}"#,
            r#"{,}"#,
        ] {
            assert!(om(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_label_sets_allow_blanks_and_a_trailing_comma() {
        let text = |t: &str| labels(t, TEXT_LABELS);
        assert_eq!(
            text("{ labelname = \"val1\" , }").unwrap().0,
            pairs(&[("labelname", "val1")])
        );
        assert_eq!(
            text("{labelname=\"val2\"\t,basename   =   \"basevalue2\"\t\t}")
                .unwrap()
                .0,
            pairs(&[("labelname", "val2"), ("basename", "basevalue2")])
        );
        assert!(text("{,}").is_err());
        assert!(text("{a=\"1\",,}").is_err());
    }

    #[test]
    fn duplicate_and_reserved_label_names_are_refused() {
        assert_eq!(
            labels(r#"{a="1",a="2"}"#, OPENMETRICS_LABELS).unwrap_err(),
            ErrorKind::DuplicateLabelName("a".into())
        );
        assert_eq!(
            labels(r#"{a="1","a"="2"}"#, OPENMETRICS_LABELS).unwrap_err(),
            ErrorKind::DuplicateLabelName("a".into())
        );
        assert_eq!(
            labels(r#"{__name__="x"}"#, TEXT_LABELS).unwrap_err(),
            ErrorKind::ReservedLabelName
        );
        let many: Vec<String> = (0..40).map(|i| format!("l{i}=\"v\"")).collect();
        let text = format!("{{{},l7=\"again\"}}", many.join(","));
        assert_eq!(
            labels(&text, OPENMETRICS_LABELS).unwrap_err(),
            ErrorKind::DuplicateLabelName("l7".into())
        );
    }

    #[test]
    fn quoted_names() {
        let (list, name) = labels(
            r#"{"my.dotted.metric", "error.message"="Not Found"}"#,
            TEXT_LABELS,
        )
        .unwrap();
        assert_eq!(name.as_deref(), Some("my.dotted.metric"));
        assert_eq!(list, pairs(&[("error.message", "Not Found")]));
        let (list, name) =
            labels(r#"{"\"bar\".seconds.count","b\\"="x"}"#, OPENMETRICS_LABELS).unwrap();
        assert_eq!(name.as_deref(), Some("\"bar\".seconds.count"));
        assert_eq!(list, pairs(&[("b\\", "x")]));
        assert_eq!(
            labels(r#"{"a"}"#, OPENMETRICS_LABELS).unwrap().1.as_deref(),
            Some("a")
        );
        assert!(labels(r#"{a="1","m"}"#, OPENMETRICS_LABELS).is_err());
        assert_eq!(
            labels(r#"{""}"#, OPENMETRICS_LABELS).unwrap_err(),
            ErrorKind::EmptyMetricName
        );
        let mut out = Vec::new();
        assert_eq!(
            parse_label_set(
                r#"{"m"}"#,
                0,
                OPENMETRICS_LABELS,
                NameSlot::Before,
                &mut out
            )
            .err(),
            Some(ErrorKind::MetricNameTwice)
        );
        assert!(matches!(
            parse_label_set(r#"{"m"}"#, 0, OPENMETRICS_LABELS, NameSlot::None, &mut out),
            Err(ErrorKind::Syntax { .. })
        ));
    }
}
