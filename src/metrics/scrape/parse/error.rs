//! Errors of the exposition parsers: which line, and what is wrong with it.

use super::model::MetricType;

/// Longest piece of input quoted in an error message, in bytes (cut at a char boundary).
pub const MAX_SHOWN_BYTES: usize = 64;

/// Why a scrape body was refused. A body is accepted or refused as a whole.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ParseError {
    /// The body (or one of its lines) breaks the format. `line` is 1-based.
    #[error("line {line}: {kind}")]
    Line { line: usize, kind: ErrorKind },
    /// The `Content-Type` names a format these parsers do not read.
    #[error("unsupported content type {0:?}: expected text/plain or application/openmetrics-text")]
    UnsupportedContentType(String),
}

impl ParseError {
    pub(crate) fn at(line: usize, kind: ErrorKind) -> ParseError {
        ParseError::Line { line, kind }
    }

    /// The 1-based line the problem is on, if it is about a line.
    pub fn line(&self) -> Option<usize> {
        match self {
            ParseError::Line { line, .. } => Some(*line),
            ParseError::UnsupportedContentType(_) => None,
        }
    }

    /// What is wrong, if it is about a line.
    pub fn kind(&self) -> Option<&ErrorKind> {
        match self {
            ParseError::Line { kind, .. } => Some(kind),
            ParseError::UnsupportedContentType(_) => None,
        }
    }
}

/// What is wrong with a line. Quoted input is cut to [`MAX_SHOWN_BYTES`].
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    // --- both formats: encoding and lexical structure ---
    #[error("invalid utf-8")]
    InvalidUtf8,
    #[error("missing line feed at the end of the last line")]
    MissingFinalLineFeed,
    #[error("expected {expected}, found {found}")]
    Syntax {
        expected: &'static str,
        found: String,
    },
    #[error("unterminated quoted string")]
    UnterminatedString,
    #[error("invalid metric name {0:?}")]
    InvalidMetricName(String),
    #[error("empty metric name")]
    EmptyMetricName,
    #[error("missing metric name")]
    MissingMetricName,
    #[error("metric name given twice")]
    MetricNameTwice,
    #[error("invalid label name {0:?}")]
    InvalidLabelName(String),
    #[error("duplicate label name {0:?}")]
    DuplicateLabelName(String),
    #[error("label name \"__name__\" is reserved for the metric name")]
    ReservedLabelName,
    #[error("invalid value {0:?}")]
    InvalidValue(String),
    #[error("value {0:?} is out of the range of a 64-bit float")]
    ValueOutOfRange(String),
    #[error("invalid timestamp {0:?}")]
    InvalidTimestamp(String),
    #[error("invalid metric type {0:?}")]
    InvalidMetricType(String),
    #[error("second {keyword} line for metric family {family:?}")]
    DuplicateMetadata {
        keyword: &'static str,
        family: String,
    },
    #[error("{keyword} line for metric family {family:?} after its samples")]
    MetadataAfterSamples {
        keyword: &'static str,
        family: String,
    },
    #[error("invalid {label:?} label value {value:?}")]
    InvalidLabelValue { label: &'static str, value: String },

    // --- OpenMetrics: exposition structure ---
    #[error("carriage return in line ending: openmetrics lines end with \\n only")]
    CarriageReturn,
    #[error("blank line")]
    BlankLine,
    #[error("comment line: only HELP, TYPE, UNIT and EOF may follow '#'")]
    CommentLine,
    #[error("missing \"# EOF\" line at the end")]
    MissingEof,
    #[error("text after \"# EOF\"")]
    TextAfterEof,
    #[error("unit {unit:?} is not a suffix of metric family name {family:?}")]
    UnitNotSuffix { unit: String, family: String },
    #[error("{kind} metric family {family:?} must not have a unit")]
    UnitNotAllowed { kind: MetricType, family: String },
    #[error(
        "metric family {0:?} appears again after another family (families must not be interleaved)"
    )]
    FamilyRepeated(String),
    #[error("metric family {family:?} would name samples {sample:?}, the name of another family")]
    SampleNameTaken { family: String, sample: String },
    #[error("metric family name {family:?} is a sample name of metric family {owner:?}")]
    FamilyNameTaken { family: String, owner: String },
    #[error("sample name {name:?} is not valid in {kind} metric family {family:?}")]
    InvalidSampleName {
        name: String,
        kind: MetricType,
        family: String,
    },
    #[error("{name:?} in {kind} metric family must have a {label:?} label")]
    MissingLabel {
        name: String,
        kind: MetricType,
        label: String,
    },
    #[error("{name:?} must not have a {label:?} label")]
    UnexpectedLabel { name: String, label: &'static str },
    #[error("exemplars are only allowed on counter totals and histogram buckets, not on {0:?}")]
    ExemplarNotAllowed(String),
    #[error("exemplar labels are {0} characters long, more than 128")]
    ExemplarTooLong(usize),
    #[error("invalid value {value} for {name:?}: {rule}")]
    InvalidSampleValue {
        name: String,
        value: f64,
        rule: &'static str,
    },
    #[error("metric {0} appears again after other metrics of its family (metrics must not be interleaved)")]
    MetricRepeated(String),
    #[error("samples of metric {0} must all have a timestamp or none")]
    MixedTimestamps(String),
    #[error("timestamps of metric {0} go backwards")]
    TimestampBackwards(String),
    #[error("{kind} metric point {metric}: {problem}")]
    InvalidMetricPoint {
        kind: MetricType,
        metric: String,
        problem: &'static str,
    },
}

/// `text` cut to at most [`MAX_SHOWN_BYTES`] bytes, for quoting in a message.
pub(crate) fn shown(text: &str) -> String {
    if text.len() <= MAX_SHOWN_BYTES {
        return text.to_owned();
    }
    let mut end = MAX_SHOWN_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// The `found` part of a syntax error: the rest of the line, or "end of line".
pub(crate) fn found(rest: &str) -> String {
    if rest.is_empty() {
        return "end of line".to_owned();
    }
    format!("{:?}", shown(rest))
}
