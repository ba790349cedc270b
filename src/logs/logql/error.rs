//! Errors of the LogQL front end, worded like Loki's so clients see familiar messages.

use std::fmt;

/// A query that Loki would refuse at parse time (syntax or validation), or a pipeline that
/// cannot be built. `line`/`col` are 1-based; both 0 means "no position", which Loki prints
/// as `parse error : <msg>` (used for validation errors found after parsing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogqlError {
    pub message: String,
    pub line: usize,
    pub col: usize,
    /// Byte offset into the query of the position above (0 when there is none).
    pub offset: usize,
}

impl LogqlError {
    /// An error without a position, e.g. a semantic check on an already parsed query.
    pub fn new(message: impl Into<String>) -> LogqlError {
        LogqlError {
            message: message.into(),
            line: 0,
            col: 0,
            offset: 0,
        }
    }

    /// An error at a byte offset of `input`; line and column are derived from it
    /// (the column counts characters, as Go's text/scanner does).
    pub fn at(input: &str, offset: usize, message: impl Into<String>) -> LogqlError {
        let offset = offset.min(input.len());
        let mut line = 1;
        let mut col = 1;
        for (i, c) in input.char_indices() {
            if i >= offset {
                break;
            }
            if c == '\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
        }
        LogqlError {
            message: message.into(),
            line,
            col,
            offset,
        }
    }

    /// Whether the error carries a position in the query text.
    pub fn has_position(&self) -> bool {
        self.line != 0 || self.col != 0
    }
}

impl fmt::Display for LogqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.has_position() {
            write!(
                f,
                "parse error at line {}, col {}: {}",
                self.line, self.col, self.message
            )
        } else {
            write!(f, "parse error : {}", self.message)
        }
    }
}

impl std::error::Error for LogqlError {}

/// Values of the `__error__` label that pipeline stages set, as Loki names them.
pub mod pipeline_errors {
    pub const JSON_PARSER: &str = "JSONParserErr";
    pub const LOGFMT_PARSER: &str = "LogfmtParserErr";
    pub const SAMPLE_EXTRACTION: &str = "SampleExtractionErr";
    pub const LABEL_FILTER: &str = "LabelFilterErr";
    pub const TEMPLATE_FORMAT: &str = "TemplateFormatErr";
}

/// The label holding a pipeline error's type.
pub const ERROR_LABEL: &str = "__error__";
/// The label holding a pipeline error's human-readable details.
pub const ERROR_DETAILS_LABEL: &str = "__error_details__";

/// The message Loki returns when a metric query meets a sample whose labels carry
/// `__error__`: metric queries refuse such series instead of silently dropping them.
/// `series` is the series' label set in `{a="b", ...}` form.
pub fn pipeline_error_message(error_type: &str, series: &str) -> String {
    format!(
        "pipeline error: '{error_type}' for series: '{series}'.\n\
         Use a label filter to intentionally skip this error. (e.g | __error__!=\"{error_type}\").\n\
         To skip all potential errors you can match empty errors.(e.g __error__=\"\")\n\
         The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )\n"
    )
}
