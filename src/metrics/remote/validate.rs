//! The rules a received series must pass, and the limits that bound it.
//!
//! Names follow the legacy Prometheus rules (not the UTF-8 names of Prometheus 3): label
//! names match `[a-zA-Z_][a-zA-Z0-9_]*` and the metric name (`__name__`) matches
//! `[a-zA-Z_:][a-zA-Z0-9_:]*`. The remote write 1.0 spec requires exactly these of
//! senders; 2.0 only recommends them, but PromQL without quoted names cannot select
//! anything else, so we refuse such series rather than store what cannot be queried.
//!
//! A series is rejected for the first of these it breaks. In 2.0 first: an odd number of
//! label references, a reference outside the symbol table. Then for each label in the order
//! sent: an empty name, a name or value longer than its limit, a name outside the rule
//! (which covers names that are not UTF-8), a value that is not UTF-8. Labels with empty
//! values are then dropped (Prometheus treats an empty value as an absent label), and the
//! set is checked: more labels than the limit, a name given twice, no `__name__`, a metric
//! name outside its rule. Accepted labels are sorted by name (byte order) if the sender
//! did not sort them.

use std::fmt::Write as _;

use super::batch::{LabelSpans, TextSpan};

/// Limits applied while decoding one request. Lengths are in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest decompressed body accepted; checked against the length the snappy block
    /// declares, before anything is allocated. Values above 4 GiB act as 4 GiB (offsets
    /// into the body are 32-bit). A decoded batch keeps the body and takes about twice its
    /// size for typical requests, at most about eight times for bodies made of empty
    /// samples or labels.
    pub max_decompressed_bytes: usize,
    /// Most labels one series may have, `__name__` included.
    pub max_labels_per_series: usize,
    pub max_label_name_length: usize,
    pub max_label_value_length: usize,
}

impl Default for DecodeLimits {
    /// 32 MiB decompressed (Prometheus sends well under 1 MiB per request by default),
    /// 30 labels, 1024-byte names and 2048-byte values (Mimir's defaults).
    fn default() -> Self {
        DecodeLimits {
            max_decompressed_bytes: 32 << 20,
            max_labels_per_series: 30,
            max_label_name_length: 1024,
            max_label_value_length: 2048,
        }
    }
}

impl DecodeLimits {
    /// No label limits and the largest body offsets allow; for tests and tools.
    pub fn unlimited() -> Self {
        DecodeLimits {
            max_decompressed_bytes: u32::MAX as usize,
            max_labels_per_series: usize::MAX,
            max_label_name_length: usize::MAX,
            max_label_value_length: usize::MAX,
        }
    }
}

/// Why one series was rejected. Names in messages are cut to [`MAX_SHOWN_BYTES`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SeriesProblem {
    #[error("missing metric name (label __name__)")]
    MissingMetricName,
    #[error("invalid metric name {0:?}: must match [a-zA-Z_:][a-zA-Z0-9_:]*")]
    InvalidMetricName(String),
    #[error("empty label name")]
    EmptyLabelName,
    #[error("invalid label name {0:?}: must match [a-zA-Z_][a-zA-Z0-9_]*")]
    InvalidLabelName(String),
    #[error("duplicate label name {0:?}")]
    DuplicateLabelName(String),
    #[error("value of label {0:?} is not valid utf-8")]
    LabelValueNotUtf8(String),
    #[error("{count} labels, over the limit of {limit} per series")]
    TooManyLabels { count: usize, limit: usize },
    #[error("label name {name:?} is {length} bytes, over the limit of {limit}")]
    LabelNameTooLong {
        name: String,
        length: usize,
        limit: usize,
    },
    #[error("value of label {name:?} is {length} bytes, over the limit of {limit}")]
    LabelValueTooLong {
        name: String,
        length: usize,
        limit: usize,
    },
    #[error("symbol reference {reference} out of range: the symbol table has {symbols} entries")]
    SymbolOutOfRange { reference: u64, symbols: usize },
    #[error("labels_refs has an odd number of entries ({0})")]
    OddLabelRefs(usize),
    #[error("invalid native histogram: {0}")]
    InvalidHistogram(String),
}

/// How much of one name or value a message shows before cutting it with `…`.
pub const MAX_SHOWN_BYTES: usize = 128;
/// How many labels a rendered series shows before `…`.
const MAX_SHOWN_LABELS: usize = 32;

/// A label that passed the per-label rules: its bytes in the body (for sorting and
/// messages) and the checked spans the batch keeps.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CheckedLabel<'a> {
    pub name: &'a [u8],
    pub value: &'a [u8],
    pub spans: LabelSpans,
}

const LABEL_START: u8 = 1;
const LABEL_REST: u8 = 2;
const METRIC_START: u8 = 4;
const METRIC_REST: u8 = 8;

/// Character classes of the legacy name rules, one bit set per class.
static NAME_CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 256 {
        let c = byte as u8;
        let letter = c.is_ascii_alphabetic() || c == b'_';
        let digit = c.is_ascii_digit();
        let colon = c == b':';
        let mut classes = 0;
        if letter {
            classes |= LABEL_START | LABEL_REST | METRIC_START | METRIC_REST;
        }
        if digit {
            classes |= LABEL_REST | METRIC_REST;
        }
        if colon {
            classes |= METRIC_START | METRIC_REST;
        }
        table[byte] = classes;
        byte += 1;
    }
    table
};

#[inline(always)]
fn matches_rule(name: &[u8], start: u8, rest: u8) -> bool {
    let Some((&first, tail)) = name.split_first() else {
        return false;
    };
    // Accumulate instead of stopping at the first bad byte: names are short and nearly
    // always valid, and a loop without an early exit predicts better.
    let mut tail_classes = rest;
    for &c in tail {
        tail_classes &= NAME_CLASSES[usize::from(c)];
    }
    NAME_CLASSES[usize::from(first)] & start != 0 && tail_classes != 0
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
pub fn is_valid_label_name(name: &str) -> bool {
    is_label_name(name.as_bytes())
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn is_valid_metric_name(name: &str) -> bool {
    is_metric_name(name.as_bytes())
}

/// The label-name rule, checked eight bytes at a time: it runs for every label of every
/// 1.0 series, so it is the decoder's hottest check.
#[inline(always)]
pub(crate) fn is_label_name(name: &[u8]) -> bool {
    let Some(&first) = name.first() else {
        return false;
    };
    NAME_CLASSES[usize::from(first)] & LABEL_START != 0 && all_word_bytes(name)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Whether every byte of `bytes` is in `[a-zA-Z0-9_]`. Words of eight bytes are checked
/// at once; the last word overlaps the previous one, and shorter inputs are spread over
/// one word by repeating bytes, which changes nothing since each byte is judged alone.
#[inline(always)]
fn all_word_bytes(bytes: &[u8]) -> bool {
    let len = bytes.len();
    if len >= 8 {
        let mut ok = true;
        for chunk in bytes.chunks_exact(8) {
            ok &= word_bytes(load_u64(chunk));
        }
        ok & word_bytes(load_u64(&bytes[len - 8..]))
    } else if len >= 4 {
        let low = load_u32(&bytes[..4]);
        let high = load_u32(&bytes[len - 4..]);
        word_bytes(u64::from(low) | (u64::from(high) << 32))
    } else if len > 0 {
        let (a, b, c) = (bytes[0], bytes[len / 2], bytes[len - 1]);
        word_bytes(u64::from_le_bytes([a, b, c, a, b, c, a, b]))
    } else {
        true
    }
}

#[inline(always)]
fn load_u64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}

#[inline(always)]
fn load_u32(bytes: &[u8]) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[..4]);
    u32::from_le_bytes(word)
}

/// Bit 7 of each byte set where `lo <= byte <= hi`, for words of ASCII bytes. Per byte,
/// `byte + 0x80 - lo` reaches bit 7 iff `byte >= lo`, and `0x80 + hi - byte` keeps it iff
/// `byte <= hi`; with bytes below 0x80 and `hi < 0x80` neither carries nor borrows across
/// bytes.
#[inline(always)]
fn bytes_in_range(word: u64, lo: u8, hi: u8) -> u64 {
    let at_least_lo = word + ONES * u64::from(0x80 - lo);
    let at_most_hi = ONES * (0x80 + u64::from(hi)) - word;
    at_least_lo & at_most_hi & HIGH_BITS
}

/// Whether all eight bytes are in `[a-zA-Z0-9_]`.
#[inline(always)]
fn word_bytes(word: u64) -> bool {
    if word & HIGH_BITS != 0 {
        return false;
    }
    // Setting bit 5 folds A-Z onto a-z and maps nothing else into a-z.
    let letters = bytes_in_range(word | (ONES * 0x20), b'a', b'z');
    let digits = bytes_in_range(word, b'0', b'9');
    let underscores = bytes_in_range(word, b'_', b'_');
    letters | digits | underscores == HIGH_BITS
}

fn is_metric_name(name: &[u8]) -> bool {
    matches_rule(name, METRIC_START, METRIC_REST)
}

/// `text` cut to at most [`MAX_SHOWN_BYTES`] on a char boundary, with `…` if cut.
pub(crate) fn shown(text: &str) -> String {
    if text.len() <= MAX_SHOWN_BYTES {
        return text.to_owned();
    }
    let mut end = MAX_SHOWN_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// [`shown`] for bytes that may not be UTF-8.
pub(crate) fn shown_lossy(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(MAX_SHOWN_BYTES)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if cut.len() < bytes.len() {
        text.push('…');
    }
    text
}

/// The per-label rules, in order: empty name, name length, value length, name rule, value
/// UTF-8. `name_span` / `value_span` are the batch's checked spans of the same bytes,
/// `None` when the name breaks the name rule / the value is not UTF-8. A label that passes
/// is pushed to `labels`; one with an empty value is dropped, as Prometheus treats it as
/// absent.
#[inline(always)]
pub(crate) fn check_label<'a>(
    name: &'a [u8],
    value: &'a [u8],
    name_span: Option<TextSpan>,
    value_span: Option<TextSpan>,
    limits: &DecodeLimits,
    labels: &mut Vec<CheckedLabel<'a>>,
) -> Result<(), SeriesProblem> {
    // Fast path for the usual good label; a valid name is never empty.
    if let (Some(name_span), Some(value_span)) = (name_span, value_span) {
        if !value.is_empty()
            && name.len() <= limits.max_label_name_length
            && value.len() <= limits.max_label_value_length
        {
            labels.push(CheckedLabel {
                name,
                value,
                spans: LabelSpans {
                    name: name_span,
                    value: value_span,
                },
            });
            return Ok(());
        }
    }
    check_label_in_order(name, value, name_span, value_span, limits, labels)
}

#[cold]
#[inline(never)]
fn check_label_in_order<'a>(
    name: &'a [u8],
    value: &'a [u8],
    name_span: Option<TextSpan>,
    value_span: Option<TextSpan>,
    limits: &DecodeLimits,
    labels: &mut Vec<CheckedLabel<'a>>,
) -> Result<(), SeriesProblem> {
    if name.is_empty() {
        return Err(SeriesProblem::EmptyLabelName);
    }
    if name.len() > limits.max_label_name_length {
        return Err(SeriesProblem::LabelNameTooLong {
            name: shown_lossy(name),
            length: name.len(),
            limit: limits.max_label_name_length,
        });
    }
    if value.len() > limits.max_label_value_length {
        return Err(SeriesProblem::LabelValueTooLong {
            name: shown_lossy(name),
            length: value.len(),
            limit: limits.max_label_value_length,
        });
    }
    let Some(name_span) = name_span else {
        return Err(SeriesProblem::InvalidLabelName(shown_lossy(name)));
    };
    if value.is_empty() {
        return Ok(());
    }
    let Some(value_span) = value_span else {
        return Err(SeriesProblem::LabelValueNotUtf8(shown_lossy(name)));
    };
    labels.push(CheckedLabel {
        name,
        value,
        spans: LabelSpans {
            name: name_span,
            value: value_span,
        },
    });
    Ok(())
}

/// The rules on the whole label set, after [`check_label`] on each: the label count,
/// unique names, `__name__` present and well-formed. Sorts by name (byte order) when the
/// sender did not.
pub(crate) fn check_label_set(
    labels: &mut [CheckedLabel<'_>],
    limits: &DecodeLimits,
) -> Result<(), SeriesProblem> {
    if labels.len() > limits.max_labels_per_series {
        return Err(SeriesProblem::TooManyLabels {
            count: labels.len(),
            limit: limits.max_labels_per_series,
        });
    }
    let strictly_sorted = labels
        .windows(2)
        .all(|pair| name_precedes(pair[0].name, pair[1].name));
    if !strictly_sorted {
        labels.sort_unstable_by(|a, b| a.name.cmp(b.name));
        if let Some(pair) = labels.windows(2).find(|pair| pair[0].name == pair[1].name) {
            return Err(SeriesProblem::DuplicateLabelName(shown_lossy(pair[0].name)));
        }
    }
    let Some(name) = labels.iter().find(|label| is_metric_name_label(label.name)) else {
        return Err(SeriesProblem::MissingMetricName);
    };
    if !is_metric_name(name.value) {
        return Err(SeriesProblem::InvalidMetricName(shown_lossy(name.value)));
    }
    Ok(())
}

/// `a < b` in byte order, deciding on the first byte without a `memcmp` call when it can
/// (label names of a series nearly always differ there).
#[inline(always)]
fn name_precedes(a: &[u8], b: &[u8]) -> bool {
    match (a.first(), b.first()) {
        (Some(x), Some(y)) if x != y => x < y,
        _ => a < b,
    }
}

#[inline(always)]
fn is_metric_name_label(name: &[u8]) -> bool {
    name.len() == 8 && name[0] == b'_' && name == b"__name__"
}

/// Writes a label set the way Prometheus prints one, `up{instance="a:9100", job="node"}`,
/// for messages and logs. Without a usable `__name__` all labels go inside the braces.
/// Long values and long label sets are cut with `…`.
pub(crate) fn render_series<'a, I>(labels: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)> + Clone,
{
    let metric_name = labels
        .clone()
        .into_iter()
        .find(|(name, _)| *name == "__name__")
        .map(|(_, value)| value)
        .filter(|value| is_valid_metric_name(value));
    let mut out = String::new();
    if let Some(metric_name) = metric_name {
        out.push_str(&shown(metric_name));
    }
    out.push('{');
    let mut written = 0;
    for (name, value) in labels {
        if metric_name.is_some() && name == "__name__" {
            continue;
        }
        if written == MAX_SHOWN_LABELS {
            out.push_str(", …");
            break;
        }
        if written > 0 {
            out.push_str(", ");
        }
        out.push_str(&shown(name));
        out.push_str("=\"");
        for c in shown(value).chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c if c.is_control() => {
                    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                }
                c => out.push(c),
            }
        }
        out.push('"');
        written += 1;
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules_are_the_legacy_ones() {
        for good in ["a", "_", "A_9", "__name__", "le"] {
            assert!(is_valid_label_name(good), "{good}");
        }
        for bad in ["", "9a", "a-b", "a:b", "é", "a b", "a.b"] {
            assert!(!is_valid_label_name(bad), "{bad}");
        }
        for good in ["up", "job:rate5m:sum", ":a", "_x9"] {
            assert!(is_valid_metric_name(good), "{good}");
        }
        for bad in ["", "9up", "up-time", "up.time", "ü"] {
            assert!(!is_valid_metric_name(bad), "{bad}");
        }
    }

    fn plain_label_name_rule(name: &[u8]) -> bool {
        match name.split_first() {
            None => false,
            Some((first, rest)) => {
                (first.is_ascii_alphabetic() || *first == b'_')
                    && rest.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
            }
        }
    }

    #[test]
    fn word_at_a_time_name_check_matches_the_rule_on_every_byte() {
        for byte in 0..=255u8 {
            for len in 1..=20 {
                for position in 0..len {
                    let mut name = vec![b'a'; len];
                    name[position] = byte;
                    assert_eq!(
                        is_label_name(&name),
                        plain_label_name_rule(&name),
                        "{name:?}"
                    );
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn word_at_a_time_name_check_matches_the_rule(
            name in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::any::<u8>(),
                    proptest::sample::select(b"aZ09_:-".to_vec()),
                ],
                0..40,
            )
        ) {
            proptest::prop_assert_eq!(is_label_name(&name), plain_label_name_rule(&name));
        }
    }

    #[test]
    fn rendering_names_the_metric_and_escapes_values() {
        let labels = [("__name__", "up"), ("job", "a\"b\\c\nd"), ("x", "y")];
        assert_eq!(
            render_series(labels.iter().copied()),
            r#"up{job="a\"b\\c\nd", x="y"}"#
        );
        let no_name = [("job", "a")];
        assert_eq!(render_series(no_name.iter().copied()), r#"{job="a"}"#);
        let bad_name = [("__name__", "1x"), ("job", "a")];
        assert_eq!(
            render_series(bad_name.iter().copied()),
            r#"{__name__="1x", job="a"}"#
        );
        let long = "x".repeat(500);
        let rendered = render_series([("__name__", "up"), ("v", long.as_str())]);
        assert!(
            rendered.len() < 200 && rendered.ends_with("…\"}"),
            "{rendered}"
        );
        let many: Vec<(String, String)> = (0..100).map(|i| (format!("l{i}"), "v".into())).collect();
        let rendered = render_series(many.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        assert!(rendered.ends_with(", …}"), "{rendered}");
    }

    #[test]
    fn shown_text_is_cut_on_char_boundaries() {
        let text = "é".repeat(100);
        let cut = shown(&text);
        assert!(cut.ends_with('…') && cut.len() <= MAX_SHOWN_BYTES + 3);
        assert_eq!(shown("short"), "short");
        assert_eq!(shown_lossy(b"a\xffb"), "a\u{fffd}b");
    }
}
