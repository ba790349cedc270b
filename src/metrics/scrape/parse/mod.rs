//! Scrape-format parsers: turn a scraped body into samples and family metadata.
//!
//! Owns the Prometheus text format 0.0.4 ([`text`]) and OpenMetrics 1.0 text
//! ([`openmetrics`]) readers, the choice between them from the response `Content-Type`
//! ([`parse`]), and the `Accept` header a scraper sends ([`ACCEPT_HEADER`]). Pure
//! functions over bytes, no I/O: a body is accepted or refused whole, with an error naming
//! the line. Strings borrow from the body (only unescaped or normalized ones are owned),
//! so a sample costs one allocation, its label list. Calls nothing else in the crate; the
//! scrape loop decompresses the body before, and relabels and appends what comes out.
//!
//! Names: the legacy character sets (`[a-zA-Z_:][a-zA-Z0-9_:]*` for metrics,
//! `[a-zA-Z_][a-zA-Z0-9_]*` for labels) unquoted, and any UTF-8 when quoted as the newer
//! formats allow (`{"my.metric","a.b"="c"}`); whether such names are stored is the
//! caller's decision ([`is_legacy_metric_name`], [`is_legacy_label_name`]). Bucket bounds
//! (`le`) of histograms and quantiles of summaries are rewritten in canonical float form
//! (`le="1"` becomes `le="1.0"`), as Prometheus 3 does, so both formats give the same
//! series. OpenMetrics' data-model rules (values, histogram points, metric order) are
//! checked only on request ([`ParseOptions::strict`]): Prometheus does not check them
//! either, and real client libraries break some.

mod error;
mod lex;
mod model;
mod number;
pub mod openmetrics;
mod openmetrics_checks;
pub mod text;

#[cfg(test)]
mod conformance_tests;
#[cfg(test)]
mod tests;

pub use error::{ErrorKind, ParseError, MAX_SHOWN_BYTES};
pub use lex::{is_legacy_label_name, is_legacy_metric_name};
pub use model::{
    Exemplar, Exposition, Format, Label, MetricMetadata, MetricType, ParseOptions, ParsedSample,
};

/// The `Accept` header of a scrape: OpenMetrics 1.0.0 preferred, then OpenMetrics 0.0.1,
/// then the text format 0.0.4, then anything, weighted as Prometheus weights them. No
/// `escaping` parameter is sent, so targets escape UTF-8 names to legacy ones.
pub const ACCEPT_HEADER: &str = "application/openmetrics-text;version=1.0.0;q=0.6,\
application/openmetrics-text;version=0.0.1;q=0.5,\
text/plain;version=0.0.4;q=0.3,\
*/*;q=0.2";

impl Format {
    /// The format a response's `Content-Type` announces: `application/openmetrics-text`
    /// (any version) is OpenMetrics; `text/plain` (any version) or no header is the text
    /// format. Anything else, the protobuf format included, is refused.
    pub fn from_content_type(content_type: Option<&str>) -> Result<Format, ParseError> {
        let Some(content_type) = content_type else {
            return Ok(Format::PrometheusText);
        };
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        if media_type.is_empty() || media_type.eq_ignore_ascii_case("text/plain") {
            return Ok(Format::PrometheusText);
        }
        if media_type.eq_ignore_ascii_case("application/openmetrics-text") {
            return Ok(Format::OpenMetrics);
        }
        Err(ParseError::UnsupportedContentType(error::shown(
            content_type,
        )))
    }
}

/// Parses a scraped body in the format its `Content-Type` announces, with the default
/// options (OpenMetrics data-model rules as lenient as Prometheus, see [`ParseOptions`]).
pub fn parse<'a>(body: &'a [u8], content_type: Option<&str>) -> Result<Exposition<'a>, ParseError> {
    parse_as(
        body,
        Format::from_content_type(content_type)?,
        &ParseOptions::default(),
    )
}

/// Parses a body in a given format.
pub fn parse_as<'a>(
    body: &'a [u8],
    format: Format,
    options: &ParseOptions,
) -> Result<Exposition<'a>, ParseError> {
    match format {
        Format::PrometheusText => text::parse(body),
        Format::OpenMetrics => openmetrics::parse(body, options),
    }
}

/// One fuzzing input (`fuzz/`, and the corpus replay in `tests/fuzz_corpus.rs`): the body
/// read in every format and mode. Must never panic, whatever the bytes.
#[doc(hidden)]
pub fn fuzz_one(body: &[u8]) {
    let _ = text::parse(body);
    let _ = openmetrics::parse(body, &ParseOptions::default());
    let _ = openmetrics::parse(body, &ParseOptions::strict());
}
