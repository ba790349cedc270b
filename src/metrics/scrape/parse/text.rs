//! Prometheus text format 0.0.4 (`text/plain`), plus the quoted UTF-8 names of its
//! 1.0.0 successor (`{"my.metric", "label.name"="v"}`, `# TYPE "my.metric" gauge`).
//!
//! Rules, as the format's documentation states them and Prometheus reads them:
//! - lines end with `\n`, the last one too; a `\r` before it is tolerated; blank lines are
//!   skipped; blanks (spaces, tabs) separate tokens in any number and may lead or trail;
//! - `#` starts a comment unless the next token is `HELP` or `TYPE` with a metric name
//!   after it; `# HELP name text` (escapes `\\`, `\n`; an empty text counts as no line),
//!   `# TYPE name type` with `counter`, `gauge`, `histogram`, `summary` or `untyped` in
//!   any case; a second HELP or TYPE for a name, and a TYPE after samples of its family,
//!   are errors;
//! - a sample is `name[{labels}] value [timestamp]`: label values escape `\\`, `\"`, `\n`
//!   (other backslashes stay as written), a comma may end the label list, label names must
//!   be unique and not `__name__`; the value is anything Go's `ParseFloat` reads (`NaN`,
//!   `+Inf`, `Inf`, `-infinity`, hex floats, `_` between digits) but out-of-range
//!   numbers; the timestamp is integer milliseconds;
//! - metrics may be interleaved (not checked), and in a TYPE'd histogram (`_bucket`) or
//!   summary the `le` / `quantile` value must be a float; it is normalized (see
//!   [`ParsedSample::labels`]).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::error::{found, shown, ErrorKind, ParseError};
use super::lex::{
    find_line_feed, is_blank, is_legacy_metric_name, is_metric_name_char, parse_label_set,
    scan_quoted, scan_while, skip_blanks, starts_metric_name, unescape, utf8_body, Escapes,
    NameSlot, TEXT_LABELS,
};
use super::model::{Exposition, Format, Label, MetricMetadata, MetricType, ParsedSample};
use super::number::{canonical_float, parse_go_float, parse_go_int64, NumberError};

/// Parses a text-format body.
pub fn parse(body: &[u8]) -> Result<Exposition<'_>, ParseError> {
    let text = utf8_body(body)?;
    if !text.is_empty() && !text.ends_with('\n') {
        let last_line = text.bytes().filter(|&b| b == b'\n').count() + 1;
        return Err(ParseError::at(last_line, ErrorKind::MissingFinalLineFeed));
    }
    let mut parser = TextParser::new(text);
    let mut start = 0;
    let mut line_number = 0;
    while start < text.len() {
        let end = find_line_feed(text.as_bytes(), start);
        line_number += 1;
        let line = &text[start..end];
        let line = line.strip_suffix('\r').unwrap_or(line);
        parser
            .line(line)
            .map_err(|kind| ParseError::at(line_number, kind))?;
        start = end + 1;
    }
    Ok(Exposition {
        format: Format::PrometheusText,
        samples: parser.samples,
        metadata: parser.metadata,
    })
}

/// What the HELP and TYPE lines said about one name.
struct Family {
    metadata_index: usize,
    has_help: bool,
    has_type: bool,
}

/// Which label of the current sample name holds a bound to validate and normalize.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bound {
    None,
    Le,
    Quantile,
}

struct TextParser<'a> {
    samples: Vec<ParsedSample<'a>>,
    metadata: Vec<MetricMetadata>,
    families: HashMap<Cow<'a, str>, Family>,
    /// Every distinct sample name so far, to refuse a TYPE line after its samples.
    sample_names: HashSet<Cow<'a, str>>,
    /// The bound label of the previous sample's name (names repeat line after line).
    previous_bound: Bound,
    /// Canonical forms of bound values already seen (they repeat across metrics).
    canonical_bounds: HashMap<&'a str, Option<String>>,
    label_buffer: Vec<Label<'a>>,
}

impl<'a> TextParser<'a> {
    fn new(text: &'a str) -> Self {
        TextParser {
            // Sample lines are rarely shorter than 64 bytes; growth covers the others.
            samples: Vec::with_capacity(text.len() / 64),
            metadata: Vec::new(),
            families: HashMap::new(),
            sample_names: HashSet::new(),
            previous_bound: Bound::None,
            canonical_bounds: HashMap::new(),
            label_buffer: Vec::new(),
        }
    }

    fn line(&mut self, line: &'a str) -> Result<(), ErrorKind> {
        let bytes = line.as_bytes();
        let start = skip_blanks(bytes, 0);
        match bytes.get(start) {
            None => Ok(()),
            Some(b'#') => self.comment(line, start + 1),
            Some(_) => self.sample(line, start),
        }
    }

    /// A `#` line; `at` is just after the `#`.
    fn comment(&mut self, line: &'a str, at: usize) -> Result<(), ErrorKind> {
        let bytes = line.as_bytes();
        let keyword_start = skip_blanks(bytes, at);
        let keyword_end = scan_while(bytes, keyword_start, |b| !is_blank(b));
        let keyword = &line[keyword_start..keyword_end];
        if keyword != "HELP" && keyword != "TYPE" {
            return Ok(());
        }
        let name_start = skip_blanks(bytes, keyword_end);
        if name_start == bytes.len() {
            // "# HELP" alone is a plain comment.
            return Ok(());
        }
        let (name, name_end) = if bytes[name_start] == b'"' {
            let (raw, end, _) = scan_quoted(line, name_start)?;
            let name = unescape(raw, Escapes::Quoted);
            if name.is_empty() {
                return Err(ErrorKind::EmptyMetricName);
            }
            if end < bytes.len() && !is_blank(bytes[end]) {
                return Err(ErrorKind::Syntax {
                    expected: "blank after the metric name",
                    found: found(&line[end..]),
                });
            }
            (name, end)
        } else {
            let end = scan_while(bytes, name_start, |b| !is_blank(b));
            let name = &line[name_start..end];
            if !is_legacy_metric_name(name) {
                return Err(ErrorKind::InvalidMetricName(shown(name)));
            }
            (Cow::Borrowed(name), end)
        };
        let rest_start = skip_blanks(bytes, name_end);
        if keyword == "HELP" {
            let text = line[rest_start..].trim_end_matches([' ', '\t']);
            self.help(name, text)
        } else {
            let type_end = scan_while(bytes, rest_start, |b| !is_blank(b));
            let type_token = &line[rest_start..type_end];
            let after = skip_blanks(bytes, type_end);
            if type_token.is_empty() {
                return Err(ErrorKind::Syntax {
                    expected: "metric type",
                    found: found(""),
                });
            }
            if after != bytes.len() {
                return Err(ErrorKind::Syntax {
                    expected: "end of line after the metric type",
                    found: found(&line[after..]),
                });
            }
            let kind = parse_type(type_token)
                .ok_or_else(|| ErrorKind::InvalidMetricType(shown(type_token)))?;
            self.type_line(name, kind)
        }
    }

    fn family(&mut self, name: Cow<'a, str>) -> &mut Family {
        let metadata = &mut self.metadata;
        self.families.entry(name).or_insert_with_key(|name| {
            metadata.push(MetricMetadata {
                family: name.to_string(),
                kind: MetricType::Unknown,
                help: String::new(),
                unit: String::new(),
            });
            Family {
                metadata_index: metadata.len() - 1,
                has_help: false,
                has_type: false,
            }
        })
    }

    fn help(&mut self, name: Cow<'a, str>, text: &str) -> Result<(), ErrorKind> {
        if text.is_empty() {
            return Ok(());
        }
        let family_name = shown(&name);
        let family = self.family(name);
        if family.has_help {
            return Err(ErrorKind::DuplicateMetadata {
                keyword: "HELP",
                family: family_name,
            });
        }
        family.has_help = true;
        let index = family.metadata_index;
        self.metadata[index].help = unescape(text, Escapes::Help).into_owned();
        Ok(())
    }

    fn type_line(&mut self, name: Cow<'a, str>, kind: MetricType) -> Result<(), ErrorKind> {
        let suffixes: &[&str] = match kind {
            MetricType::Histogram => &["", "_bucket", "_count", "_sum"],
            MetricType::Summary => &["", "_count", "_sum"],
            _ => &[""],
        };
        for suffix in suffixes {
            if self
                .sample_names
                .contains(format!("{name}{suffix}").as_str())
            {
                return Err(ErrorKind::MetadataAfterSamples {
                    keyword: "TYPE",
                    family: shown(&name),
                });
            }
        }
        let family_name = shown(&name);
        let family = self.family(name);
        if family.has_type {
            return Err(ErrorKind::DuplicateMetadata {
                keyword: "TYPE",
                family: family_name,
            });
        }
        family.has_type = true;
        let index = family.metadata_index;
        self.metadata[index].kind = kind;
        // The bound of a name already sampled cannot change here: a TYPE line after
        // samples of its family was refused above.
        Ok(())
    }

    /// A sample line starting at `start`.
    fn sample(&mut self, line: &'a str, start: usize) -> Result<(), ErrorKind> {
        let bytes = line.as_bytes();
        let mut i = start;
        let mut name: Option<Cow<'a, str>> = None;
        let mut name_end = i;
        if bytes[i] != b'{' {
            let end = scan_while(bytes, i, is_metric_name_char);
            let token_end = scan_while(bytes, end, |b| !is_blank(b) && b != b'{');
            let token = &line[i..token_end];
            if token.is_empty() {
                return Err(ErrorKind::Syntax {
                    expected: "metric name",
                    found: found(&line[i..]),
                });
            }
            if end != token_end || !starts_metric_name(bytes[i]) {
                return Err(ErrorKind::InvalidMetricName(shown(token)));
            }
            name = Some(Cow::Borrowed(token));
            name_end = end;
            i = skip_blanks(bytes, end);
        }
        debug_assert!(self.label_buffer.is_empty());
        let mut series_end = i;
        if bytes.get(i) == Some(&b'{') {
            let slot = if name.is_some() {
                NameSlot::Before
            } else {
                NameSlot::Inside
            };
            let set = parse_label_set(line, i, TEXT_LABELS, slot, &mut self.label_buffer);
            let set = match set {
                Ok(set) => set,
                Err(error) => {
                    self.label_buffer.clear();
                    return Err(error);
                }
            };
            if set.metric_name.is_some() {
                name = set.metric_name;
            }
            i = set.end;
            series_end = i;
        } else if name.is_some() {
            // The series text ends with the name, before the blanks.
            series_end = name_end;
        }
        let Some(name) = name else {
            self.label_buffer.clear();
            return Err(ErrorKind::MissingMetricName);
        };
        let result = self.finish_sample(line, start, series_end, i, name);
        self.label_buffer.clear();
        result
    }

    /// The value and timestamp after the series part (which ends at `series_end`, `i`
    /// being where to continue), and the bookkeeping of a new sample.
    fn finish_sample(
        &mut self,
        line: &'a str,
        start: usize,
        series_end: usize,
        i: usize,
        name: Cow<'a, str>,
    ) -> Result<(), ErrorKind> {
        let bytes = line.as_bytes();
        let value_start = skip_blanks(bytes, i);
        let value_end = scan_while(bytes, value_start, |b| !is_blank(b));
        let value_text = &line[value_start..value_end];
        if value_text.is_empty() {
            return Err(ErrorKind::Syntax {
                expected: "value",
                found: found(""),
            });
        }
        let value = parse_go_float(value_text).map_err(|error| match error {
            NumberError::Invalid => ErrorKind::InvalidValue(shown(value_text)),
            NumberError::OutOfRange => ErrorKind::ValueOutOfRange(shown(value_text)),
        })?;
        let timestamp_start = skip_blanks(bytes, value_end);
        let mut timestamp_ms = None;
        if timestamp_start < bytes.len() {
            let timestamp_end = scan_while(bytes, timestamp_start, |b| !is_blank(b));
            let timestamp_text = &line[timestamp_start..timestamp_end];
            timestamp_ms = Some(
                parse_go_int64(timestamp_text)
                    .ok_or_else(|| ErrorKind::InvalidTimestamp(shown(timestamp_text)))?,
            );
            let after = skip_blanks(bytes, timestamp_end);
            if after != bytes.len() {
                return Err(ErrorKind::Syntax {
                    expected: "end of line after the timestamp",
                    found: found(&line[after..]),
                });
            }
        }

        let same_name = self
            .samples
            .last()
            .is_some_and(|previous| previous.name == name);
        if !same_name {
            self.previous_bound = self.bound_of(&name);
            if !self.sample_names.contains(name.as_ref()) {
                self.sample_names.insert(name.clone());
            }
        }
        match self.previous_bound {
            Bound::None => {}
            Bound::Le => self.normalize_bound("le")?,
            Bound::Quantile => self.normalize_bound("quantile")?,
        }
        let mut labels = Vec::with_capacity(self.label_buffer.len());
        labels.append(&mut self.label_buffer);
        self.samples.push(ParsedSample {
            name,
            labels,
            value,
            timestamp_ms,
            exemplar: None,
            series_text: &line[start..series_end],
        });
        Ok(())
    }

    /// Which bound label samples named `name` carry, from the TYPE lines so far.
    fn bound_of(&self, name: &str) -> Bound {
        let kind_of = |family: &str| {
            self.families
                .get(family)
                .map(|family| self.metadata[family.metadata_index].kind)
        };
        if let Some(base) = name.strip_suffix("_bucket") {
            if kind_of(base) == Some(MetricType::Histogram) {
                return Bound::Le;
            }
        }
        if kind_of(name) == Some(MetricType::Summary) {
            return Bound::Quantile;
        }
        Bound::None
    }

    /// Checks that the `label` value of the sample in `label_buffer` is a float and rewrites it
    /// in canonical form. A missing label is left to the consumer.
    fn normalize_bound(&mut self, label: &'static str) -> Result<(), ErrorKind> {
        let Some(slot) = self.label_buffer.iter_mut().find(|(name, _)| name == label) else {
            return Ok(());
        };
        let raw = &slot.1;
        let canonical = match raw {
            Cow::Borrowed(raw) => {
                let raw: &'a str = raw;
                match self.canonical_bounds.get(raw) {
                    Some(known) => known.clone(),
                    None => {
                        let canonical = canonical_bound(raw, label)?;
                        self.canonical_bounds.insert(raw, canonical.clone());
                        canonical
                    }
                }
            }
            Cow::Owned(raw) => canonical_bound(raw, label)?,
        };
        if let Some(canonical) = canonical {
            slot.1 = Cow::Owned(canonical);
        }
        Ok(())
    }
}

/// The canonical form of a bound, `None` when `raw` already is.
fn canonical_bound(raw: &str, label: &'static str) -> Result<Option<String>, ErrorKind> {
    let value = parse_go_float(raw).map_err(|_| ErrorKind::InvalidLabelValue {
        label,
        value: shown(raw),
    })?;
    let canonical = canonical_float(value);
    Ok((canonical != raw).then_some(canonical))
}

fn parse_type(token: &str) -> Option<MetricType> {
    let kinds = [
        ("counter", MetricType::Counter),
        ("gauge", MetricType::Gauge),
        ("histogram", MetricType::Histogram),
        ("summary", MetricType::Summary),
        ("untyped", MetricType::Unknown),
    ];
    kinds
        .iter()
        .find(|(word, _)| token.eq_ignore_ascii_case(word))
        .map(|&(_, kind)| kind)
}
