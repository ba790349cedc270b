//! OpenMetrics 1.0 text (`application/openmetrics-text`), following its ABNF exactly:
//! single spaces between tokens, no blank lines, no comments besides `# HELP`, `# TYPE`,
//! `# UNIT` and the final `# EOF` (after which only one `\n` may follow), `\n` line ends
//! without `\r`, no comma before `}`, values as `realnumber` or `NaN` / `[+-]Inf`
//! (any case), timestamps as float seconds (stored as milliseconds), and exemplars
//! ` # {labels} value [timestamp]` of at most 128 characters of label names and values,
//! on counter totals and histogram buckets only.
//!
//! A family starts with its first metadata line or, without any, with a sample whose
//! name the current family does not produce (it is then `unknown`); a family's name may
//! not come back later, its metadata lines come before its samples, once each, and a
//! unit must end the family name (`_seconds` for `seconds`). The sample names a family
//! produces are its name plus `_total`, `_created` (counter); `_bucket`, `_count`,
//! `_sum`, `_created` (histogram); `_bucket`, `_gcount`, `_gsum` (gaugehistogram); ``,
//! `_count`, `_sum`, `_created` (summary); `_info` (info); the name itself (gauge,
//! stateset, unknown). The data-model rules of [`ParseOptions::openmetrics_semantics`]
//! are in `openmetrics_checks`.
//!
//! Quoted UTF-8 names of the OpenMetrics 2.0 draft (`{"my.metric"} 1`, `# TYPE "my.metric"
//! gauge`) are read too.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::error::{found, shown, ErrorKind, ParseError};
use super::lex::{
    find_line_feed, is_legacy_metric_name, is_metric_name_char, parse_label_set, scan_quoted,
    scan_while, starts_metric_name, unescape, utf8_body, Escapes, NameSlot, OPENMETRICS_LABELS,
};
use super::model::{
    Exemplar, Exposition, Format, Label, MetricMetadata, MetricType, ParseOptions, ParsedSample,
};
use super::number::{canonical_float, parse_om_number, parse_om_real, seconds_to_ms, NumberError};
use super::openmetrics_checks::{Bound, Checker, LineError, Observed, Role};

/// Longest exemplar label set, in characters of names and values.
const MAX_EXEMPLAR_CHARS: usize = 128;

/// Parses an OpenMetrics body.
pub fn parse<'a>(body: &'a [u8], options: &ParseOptions) -> Result<Exposition<'a>, ParseError> {
    let text = utf8_body(body)?;
    let mut parser = OpenMetricsParser::new(text, *options);
    let mut rest = text;
    let mut line_number = 0;
    while !rest.is_empty() {
        line_number += 1;
        let end = find_line_feed(rest.as_bytes(), 0);
        let line = &rest[..end];
        let after = rest.get(end + 1..).unwrap_or("");
        rest = after;
        if line == "# EOF" {
            if !rest.is_empty() {
                return Err(ParseError::at(line_number + 1, ErrorKind::TextAfterEof));
            }
            parser
                .close_family()
                .map_err(|(line, kind)| ParseError::at(line, kind))?;
            return Ok(Exposition {
                format: Format::OpenMetrics,
                samples: parser.samples,
                metadata: parser.metadata,
            });
        }
        parser
            .line(line, line_number)
            .map_err(|(line, kind)| ParseError::at(line, kind))?;
    }
    Err(ParseError::at(line_number.max(1), ErrorKind::MissingEof))
}

struct Family<'a> {
    name: Cow<'a, str>,
    kind: MetricType,
    has_type: bool,
    has_help: bool,
    has_unit: bool,
    has_samples: bool,
    metadata_index: Option<usize>,
}

struct OpenMetricsParser<'a> {
    options: ParseOptions,
    samples: Vec<ParsedSample<'a>>,
    metadata: Vec<MetricMetadata>,
    family: Option<Family<'a>>,
    /// Names of all families so far.
    families_seen: HashSet<Cow<'a, str>>,
    /// Sample names (name + suffix) of typed families so far, to the family's name.
    sample_names_claimed: HashMap<String, String>,
    checker: Checker<'a>,
    /// Canonical forms of bound values already seen (they repeat across metrics).
    canonical_bounds: HashMap<&'a str, (Option<String>, Bound)>,
    label_buffer: Vec<Label<'a>>,
}

impl<'a> OpenMetricsParser<'a> {
    fn new(text: &'a str, options: ParseOptions) -> Self {
        OpenMetricsParser {
            options,
            samples: Vec::with_capacity(text.len() / 64),
            metadata: Vec::new(),
            family: None,
            families_seen: HashSet::new(),
            sample_names_claimed: HashMap::new(),
            checker: Checker::default(),
            canonical_bounds: HashMap::new(),
            label_buffer: Vec::new(),
        }
    }

    fn line(&mut self, line: &'a str, number: usize) -> Result<(), LineError> {
        let at = |kind| (number, kind);
        if line.ends_with('\r') {
            return Err(at(ErrorKind::CarriageReturn));
        }
        match line.as_bytes().first() {
            None => Err(at(ErrorKind::BlankLine)),
            Some(b'#') => self.metadata_line(line, number),
            Some(_) => {
                let result = self.sample(line, number);
                self.label_buffer.clear();
                result
            }
        }
    }

    fn close_family(&mut self) -> Result<(), LineError> {
        if self.options.openmetrics_semantics {
            self.checker.finish_family()?;
        }
        self.family = None;
        Ok(())
    }

    // ---- metadata ----

    fn metadata_line(&mut self, line: &'a str, number: usize) -> Result<(), LineError> {
        let at = |kind| (number, kind);
        let (name, keyword, rest) = split_metadata_line(line).map_err(at)?;
        self.enter_family_for_metadata(name, keyword, number)?;
        match keyword {
            "HELP" => self.help(rest),
            "TYPE" => self.type_line(rest),
            _ => self.unit(rest),
        }
        .map_err(at)
    }

    /// Makes `name` the current family for a metadata line, checking placement.
    fn enter_family_for_metadata(
        &mut self,
        name: Cow<'a, str>,
        keyword: &'static str,
        number: usize,
    ) -> Result<(), LineError> {
        let at = |kind| (number, kind);
        if let Some(family) = &self.family {
            if family.name == name {
                if family.has_samples {
                    return Err(at(ErrorKind::MetadataAfterSamples {
                        keyword,
                        family: shown(&name),
                    }));
                }
                let repeated = match keyword {
                    "HELP" => family.has_help,
                    "TYPE" => family.has_type,
                    _ => family.has_unit,
                };
                if repeated {
                    return Err(at(ErrorKind::DuplicateMetadata {
                        keyword,
                        family: shown(&name),
                    }));
                }
                return Ok(());
            }
        }
        self.start_family(name, false, number)?;
        let family = self.family.as_mut().expect("a family was just started");
        self.metadata.push(MetricMetadata {
            family: family.name.to_string(),
            kind: MetricType::Unknown,
            help: String::new(),
            unit: String::new(),
        });
        family.metadata_index = Some(self.metadata.len() - 1);
        Ok(())
    }

    /// Closes the current family and starts `name`, refusing a name already used, or
    /// (with the semantic checks) one that another family's samples may carry.
    fn start_family(
        &mut self,
        name: Cow<'a, str>,
        by_sample: bool,
        line: usize,
    ) -> Result<(), LineError> {
        self.close_family()?;
        if self.families_seen.contains(&name) {
            return Err((line, ErrorKind::FamilyRepeated(shown(&name))));
        }
        if self.options.openmetrics_semantics {
            if let Some(owner) = self.sample_names_claimed.get(name.as_ref()) {
                let kind = if by_sample {
                    ErrorKind::FamilyRepeated(shown(owner))
                } else {
                    ErrorKind::FamilyNameTaken {
                        family: shown(&name),
                        owner: shown(owner),
                    }
                };
                return Err((line, kind));
            }
        }
        self.families_seen.insert(name.clone());
        self.checker.start_family(MetricType::Unknown);
        self.family = Some(Family {
            name,
            kind: MetricType::Unknown,
            has_type: false,
            has_help: false,
            has_unit: false,
            has_samples: false,
            metadata_index: None,
        });
        Ok(())
    }

    fn current_family(&mut self) -> (&mut Family<'a>, &mut MetricMetadata) {
        let family = self
            .family
            .as_mut()
            .expect("metadata lines enter a family first");
        let index = family
            .metadata_index
            .expect("families entered by metadata have an entry");
        (family, &mut self.metadata[index])
    }

    fn help(&mut self, text: &str) -> Result<(), ErrorKind> {
        let (family, metadata) = self.current_family();
        family.has_help = true;
        metadata.help = unescape(text, Escapes::Quoted).into_owned();
        Ok(())
    }

    fn type_line(&mut self, token: &str) -> Result<(), ErrorKind> {
        let kind = parse_type(token).ok_or_else(|| ErrorKind::InvalidMetricType(shown(token)))?;
        let semantics = self.options.openmetrics_semantics;
        let family = self
            .family
            .as_ref()
            .expect("metadata lines enter a family first");
        let has_unit = family
            .metadata_index
            .is_some_and(|index| !self.metadata[index].unit.is_empty());
        if has_unit && matches!(kind, MetricType::Info | MetricType::StateSet) {
            return Err(ErrorKind::UnitNotAllowed {
                kind,
                family: shown(&family.name),
            });
        }
        if semantics {
            for suffix in sample_suffixes(kind) {
                let sample_name = format!("{}{suffix}", family.name);
                if self.families_seen.contains(sample_name.as_str()) {
                    return Err(ErrorKind::SampleNameTaken {
                        family: shown(&family.name),
                        sample: shown(&sample_name),
                    });
                }
                self.sample_names_claimed
                    .insert(sample_name, family.name.to_string());
            }
        }
        self.checker.start_family(kind);
        let (family, metadata) = self.current_family();
        family.has_type = true;
        family.kind = kind;
        metadata.kind = kind;
        Ok(())
    }

    fn unit(&mut self, unit: &str) -> Result<(), ErrorKind> {
        let bytes = unit.as_bytes();
        if scan_while(bytes, 0, is_metric_name_char) != bytes.len() {
            return Err(ErrorKind::Syntax {
                expected: "unit of [a-zA-Z0-9_:] characters",
                found: found(unit),
            });
        }
        let (family, metadata) = self.current_family();
        if !unit.is_empty() {
            let suffix_ok = family
                .name
                .strip_suffix(unit)
                .is_some_and(|base| base.ends_with('_'));
            if !suffix_ok {
                return Err(ErrorKind::UnitNotSuffix {
                    unit: shown(unit),
                    family: shown(&family.name),
                });
            }
            if matches!(family.kind, MetricType::Info | MetricType::StateSet) {
                return Err(ErrorKind::UnitNotAllowed {
                    kind: family.kind,
                    family: shown(&family.name),
                });
            }
        }
        family.has_unit = true;
        metadata.unit = unit.to_owned();
        Ok(())
    }

    // ---- samples ----

    fn sample(&mut self, line: &'a str, number: usize) -> Result<(), LineError> {
        let at = |kind| (number, kind);
        let bytes = line.as_bytes();
        let mut name: Option<Cow<'a, str>> = None;
        let mut i = 0;
        if bytes[0] != b'{' {
            let end = scan_while(bytes, 0, is_metric_name_char);
            let token_end = scan_while(bytes, end, |b| b != b' ' && b != b'{');
            let token = &line[..token_end];
            if token.is_empty() {
                return Err(at(ErrorKind::Syntax {
                    expected: "metric name",
                    found: found(line),
                }));
            }
            if end != token_end || !starts_metric_name(bytes[0]) {
                return Err(at(ErrorKind::InvalidMetricName(shown(token))));
            }
            name = Some(Cow::Borrowed(token));
            i = end;
        }
        if bytes.get(i) == Some(&b'{') {
            let slot = if name.is_some() {
                NameSlot::Before
            } else {
                NameSlot::Inside
            };
            let set = parse_label_set(line, i, OPENMETRICS_LABELS, slot, &mut self.label_buffer)
                .map_err(at)?;
            if set.metric_name.is_some() {
                name = set.metric_name;
            }
            i = set.end;
        }
        let name = name.ok_or(at(ErrorKind::MissingMetricName))?;
        let series_end = i;

        // " value [timestamp] [exemplar]"
        let rest = &line[i..];
        let Some(rest) = rest.strip_prefix(' ') else {
            return Err(at(ErrorKind::Syntax {
                expected: "space and value",
                found: found(rest),
            }));
        };
        let (value_text, rest) = split_token(rest);
        let value =
            parse_om_number(value_text).map_err(|error| at(value_error(value_text, error)))?;
        let mut timestamp: Option<(f64, i64)> = None;
        let mut exemplar_text = None;
        if let Some(rest) = rest.strip_prefix(' ') {
            if rest.starts_with('#') {
                exemplar_text = Some(rest);
            } else {
                let (timestamp_text, rest) = split_token(rest);
                let seconds = parse_om_timestamp(timestamp_text, rest).map_err(at)?;
                timestamp = Some((seconds, seconds_to_ms(seconds)));
                if let Some(rest) = rest.strip_prefix(' ') {
                    exemplar_text = Some(rest);
                } else if !rest.is_empty() {
                    return Err(at(ErrorKind::Syntax {
                        expected: "end of line",
                        found: found(rest),
                    }));
                }
            }
        } else if !rest.is_empty() {
            return Err(at(ErrorKind::Syntax {
                expected: "space or end of line after the value",
                found: found(rest),
            }));
        }
        let exemplar = match exemplar_text {
            Some(text) => Some(Box::new(parse_exemplar(text).map_err(at)?)),
            None => None,
        };

        let role = match self.role_in_current_family(&name, number)? {
            Some(role) => role,
            None => {
                self.start_family(name.clone(), true, number)?;
                Role::Value
            }
        };
        if let Some(family) = &mut self.family {
            family.has_samples = true;
        }
        if exemplar.is_some() && !matches!(role, Role::Total | Role::Bucket) {
            return Err(at(ErrorKind::ExemplarNotAllowed(shown(&name))));
        }
        let (bound, canonical) = match role {
            Role::Bucket => self.read_bound("le"),
            Role::Quantile => self.read_bound("quantile"),
            _ => (Bound::NotApplicable, None),
        };
        let series_text = &line[..series_end];
        if self.options.openmetrics_semantics {
            let family = self.family.as_ref().expect("a sample has a family");
            self.checker.observe(&Observed {
                family: &family.name,
                name: &name,
                role,
                labels: &self.label_buffer,
                value,
                bound,
                timestamp_seconds: timestamp.map(|(seconds, _)| seconds),
                series_text,
                line: number,
            })?;
        }
        if let Some((index, canonical)) = canonical {
            self.label_buffer[index].1 = Cow::Owned(canonical);
        }
        let mut labels = Vec::with_capacity(self.label_buffer.len());
        labels.append(&mut self.label_buffer);
        self.samples.push(ParsedSample {
            name,
            labels,
            value,
            timestamp_ms: timestamp.map(|(_, ms)| ms),
            exemplar,
            series_text,
        });
        Ok(())
    }

    /// The role of sample `name` in the current family; `None` when the family does not
    /// produce that name (a new family starts then).
    fn role_in_current_family(&self, name: &str, number: usize) -> Result<Option<Role>, LineError> {
        let Some(family) = &self.family else {
            return Ok(None);
        };
        if let Some(role) = role_in_family(family.kind, &family.name, name) {
            return Ok(Some(role));
        }
        if family.name == name {
            return Err((
                number,
                ErrorKind::InvalidSampleName {
                    name: shown(name),
                    kind: family.kind,
                    family: shown(&family.name),
                },
            ));
        }
        Ok(None)
    }

    /// Reads the `label` bound of the sample in `label_buffer`, and its canonical float form
    /// (with the label's index) if it is not written so.
    fn read_bound(&mut self, label: &'static str) -> (Bound, Option<(usize, String)>) {
        let Some(index) = self.label_buffer.iter().position(|(name, _)| name == label) else {
            return (Bound::Missing, None);
        };
        let (canonical, bound) = match &self.label_buffer[index].1 {
            Cow::Borrowed(raw) => {
                let raw: &'a str = raw;
                match self.canonical_bounds.get(raw) {
                    Some(known) => known.clone(),
                    None => {
                        let known = canonical_bound(raw);
                        self.canonical_bounds.insert(raw, known.clone());
                        known
                    }
                }
            }
            Cow::Owned(raw) => canonical_bound(raw),
        };
        (bound, canonical.map(|canonical| (index, canonical)))
    }
}

/// An exemplar: `# {labels} value [timestamp]`.
fn parse_exemplar(text: &str) -> Result<Exemplar<'_>, ErrorKind> {
    let Some(labels_text) = text.strip_prefix("# ") else {
        return Err(ErrorKind::Syntax {
            expected: "exemplar \"# {labels} value\"",
            found: found(text),
        });
    };
    if !labels_text.starts_with('{') {
        return Err(ErrorKind::Syntax {
            expected: "'{' starting the exemplar labels",
            found: found(labels_text),
        });
    }
    let mut labels = Vec::new();
    let set = parse_label_set(
        labels_text,
        0,
        OPENMETRICS_LABELS,
        NameSlot::None,
        &mut labels,
    )?;
    let characters: usize = labels
        .iter()
        .map(|(name, value)| name.chars().count() + value.chars().count())
        .sum();
    if characters > MAX_EXEMPLAR_CHARS {
        return Err(ErrorKind::ExemplarTooLong(characters));
    }
    let rest = &labels_text[set.end..];
    let Some(rest) = rest.strip_prefix(' ') else {
        return Err(ErrorKind::Syntax {
            expected: "space and exemplar value",
            found: found(rest),
        });
    };
    let (value_text, rest) = split_token(rest);
    let value = parse_om_number(value_text).map_err(|error| value_error(value_text, error))?;
    let mut timestamp_ms = None;
    if let Some(rest) = rest.strip_prefix(' ') {
        let (timestamp_text, rest) = split_token(rest);
        let seconds = parse_om_timestamp(timestamp_text, rest)?;
        if !rest.is_empty() {
            return Err(ErrorKind::Syntax {
                expected: "end of line",
                found: found(rest),
            });
        }
        timestamp_ms = Some(seconds_to_ms(seconds));
    } else if !rest.is_empty() {
        return Err(ErrorKind::Syntax {
            expected: "end of line",
            found: found(rest),
        });
    }
    Ok(Exemplar {
        labels,
        value,
        timestamp_ms,
    })
}

/// A bound as OpenMetrics writes it (`+Inf` or a `realnumber`): its canonical form if
/// `raw` is not, and its value.
fn canonical_bound(raw: &str) -> (Option<String>, Bound) {
    let value = if raw == "+Inf" {
        f64::INFINITY
    } else {
        match parse_om_real(raw) {
            Ok(value) => value,
            Err(_) => return (None, Bound::Invalid),
        }
    };
    let canonical = canonical_float(value);
    ((canonical != raw).then_some(canonical), Bound::Valid(value))
}

/// A timestamp token (`rest` is what follows it, for the message when it is empty).
fn parse_om_timestamp(text: &str, rest: &str) -> Result<f64, ErrorKind> {
    if text.is_empty() {
        return Err(ErrorKind::Syntax {
            expected: "timestamp",
            found: found(rest),
        });
    }
    parse_om_real(text).map_err(|_| ErrorKind::InvalidTimestamp(shown(text)))
}

fn value_error(text: &str, error: NumberError) -> ErrorKind {
    match error {
        NumberError::Invalid if text.is_empty() => ErrorKind::Syntax {
            expected: "value",
            found: found(""),
        },
        NumberError::Invalid => ErrorKind::InvalidValue(shown(text)),
        NumberError::OutOfRange => ErrorKind::ValueOutOfRange(shown(text)),
    }
}

/// The text up to the next space, and the rest from that space.
fn split_token(text: &str) -> (&str, &str) {
    match text.find(' ') {
        Some(end) => (&text[..end], &text[end..]),
        None => (text, ""),
    }
}

/// A `# HELP|TYPE|UNIT name rest` line's name, keyword and rest.
fn split_metadata_line(line: &str) -> Result<(Cow<'_, str>, &'static str, &str), ErrorKind> {
    let (keyword, rest) = if let Some(rest) = line.strip_prefix("# HELP") {
        ("HELP", rest)
    } else if let Some(rest) = line.strip_prefix("# TYPE") {
        ("TYPE", rest)
    } else if let Some(rest) = line.strip_prefix("# UNIT") {
        ("UNIT", rest)
    } else {
        return Err(ErrorKind::CommentLine);
    };
    let Some(rest) = rest.strip_prefix(' ') else {
        if rest.is_empty() {
            return Err(ErrorKind::Syntax {
                expected: "space and metric name",
                found: found(rest),
            });
        }
        return Err(ErrorKind::CommentLine);
    };
    let (name, rest) = metadata_name(rest)?;
    let Some(rest) = rest.strip_prefix(' ') else {
        return Err(ErrorKind::Syntax {
            expected: "space after the metric name",
            found: found(rest),
        });
    };
    Ok((name, keyword, rest))
}

/// The metric name at the start of a metadata line's remainder, and what follows it.
fn metadata_name(rest: &str) -> Result<(Cow<'_, str>, &str), ErrorKind> {
    if rest.starts_with('"') {
        let (raw, end, _) = scan_quoted(rest, 0)?;
        let name = unescape(raw, Escapes::Quoted);
        if name.is_empty() {
            return Err(ErrorKind::EmptyMetricName);
        }
        return Ok((name, &rest[end..]));
    }
    let end = rest.find(' ').unwrap_or(rest.len());
    let name = &rest[..end];
    if name.is_empty() {
        return Err(ErrorKind::Syntax {
            expected: "metric name",
            found: found(rest),
        });
    }
    if !is_legacy_metric_name(name) {
        return Err(ErrorKind::InvalidMetricName(shown(name)));
    }
    Ok((Cow::Borrowed(name), &rest[end..]))
}

fn parse_type(token: &str) -> Option<MetricType> {
    Some(match token {
        "counter" => MetricType::Counter,
        "gauge" => MetricType::Gauge,
        "histogram" => MetricType::Histogram,
        "gaugehistogram" => MetricType::GaugeHistogram,
        "summary" => MetricType::Summary,
        "info" => MetricType::Info,
        "stateset" => MetricType::StateSet,
        "unknown" => MetricType::Unknown,
        _ => return None,
    })
}

/// The suffixes that a family of `kind` appends to its name for its samples, the empty
/// one excepted.
fn sample_suffixes(kind: MetricType) -> &'static [&'static str] {
    match kind {
        MetricType::Counter => &["_total", "_created"],
        MetricType::Histogram => &["_bucket", "_count", "_sum", "_created"],
        MetricType::GaugeHistogram => &["_bucket", "_gcount", "_gsum"],
        MetricType::Summary => &["_count", "_sum", "_created"],
        MetricType::Info => &["_info"],
        MetricType::Gauge | MetricType::StateSet | MetricType::Unknown => &[],
    }
}

/// What sample `name` is in a family `family` of `kind`, if the family produces it.
fn role_in_family(kind: MetricType, family: &str, name: &str) -> Option<Role> {
    let suffix = name.strip_prefix(family)?;
    Some(match (kind, suffix) {
        (MetricType::Gauge | MetricType::Unknown, "") => Role::Value,
        (MetricType::StateSet, "") => Role::State,
        (MetricType::Counter, "_total") => Role::Total,
        (MetricType::Info, "_info") => Role::Info,
        (MetricType::Summary, "") => Role::Quantile,
        (MetricType::Histogram | MetricType::GaugeHistogram, "_bucket") => Role::Bucket,
        (MetricType::Histogram | MetricType::Summary, "_count") => Role::Count,
        (MetricType::Histogram | MetricType::Summary, "_sum") => Role::Sum,
        (MetricType::GaugeHistogram, "_gcount") => Role::Count,
        (MetricType::GaugeHistogram, "_gsum") => Role::Sum,
        (MetricType::Counter | MetricType::Histogram | MetricType::Summary, "_created") => {
            Role::Created
        }
        _ => return None,
    })
}
