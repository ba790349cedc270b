//! What a parsed scrape body is made of: samples (with optional exemplars) and the
//! metadata of their metric families. Strings borrow from the body unless unescaping or
//! normalizing had to change them.

use std::borrow::Cow;
use std::fmt;

/// One label: name and value, unescaped.
pub type Label<'a> = (Cow<'a, str>, Cow<'a, str>);

/// The wire format of a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4 (`text/plain`), with the quoted UTF-8 names of 1.0.0.
    PrometheusText,
    /// OpenMetrics 1.0 text (`application/openmetrics-text`).
    OpenMetrics,
}

/// How strictly OpenMetrics bodies are checked. The text format has one behaviour.
///
/// The default is what a scraper wants: the syntax and the structure of families are
/// checked as the specification says, but metric points are taken as they come, as
/// Prometheus takes them (real client libraries expose, for example, histograms with
/// negative buckets and a sum, which the specification forbids). [`ParseOptions::strict`]
/// adds the data-model rules; the upstream conformance suite passes in that mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Check the OpenMetrics data model beyond the syntax: counter, bucket, count and sum
    /// values neither NaN nor negative, info values 1 and stateset values 0 or 1, the
    /// labels each sample kind needs (`le`, `quantile`, the stateset's own label) and
    /// their values, histogram points (ordered cumulative buckets, a `+Inf` bucket,
    /// `_count` equal to it and given exactly when `_sum` is, no sum with negative
    /// buckets), metrics not interleaved, timestamps of a metric all present or all
    /// absent and not decreasing, family names not clashing with other families' sample
    /// names. Checked either way: the syntax, `# EOF`, families not interleaved, sample
    /// names matching their family's type, metadata placement and repetition, unit
    /// suffixes, exemplar syntax, length and placement.
    pub openmetrics_semantics: bool,
}

impl ParseOptions {
    /// Every rule of the OpenMetrics 1.0 specification.
    pub fn strict() -> Self {
        ParseOptions {
            openmetrics_semantics: true,
        }
    }
}

/// A parsed body.
#[derive(Clone, Debug, PartialEq)]
pub struct Exposition<'a> {
    pub format: Format,
    /// Samples in exposition order.
    pub samples: Vec<ParsedSample<'a>>,
    /// One entry per metric family that had a HELP, TYPE or UNIT line, in order of first
    /// appearance.
    pub metadata: Vec<MetricMetadata>,
}

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedSample<'a> {
    /// The sample's metric name as written (`foo_total`, `foo_bucket`), unescaped.
    pub name: Cow<'a, str>,
    /// Labels in exposition order, without `__name__`. Empty values are kept. In
    /// histogram (`le`) and summary (`quantile`) families the bound is rewritten in the
    /// canonical float form (`1` → `1.0`, `1e-04` → `0.0001`) as Prometheus 3 does.
    pub labels: Vec<Label<'a>>,
    pub value: f64,
    /// Milliseconds since the epoch: the text format's integer as is, OpenMetrics'
    /// seconds times 1000, rounded (saturating at the ends of `i64`).
    pub timestamp_ms: Option<i64>,
    /// OpenMetrics only.
    pub exemplar: Option<Box<Exemplar<'a>>>,
    /// The name-and-labels part of the line exactly as exposed; equal texts mean equal
    /// series, so it can key a cache of series across scrapes of one target.
    pub series_text: &'a str,
}

impl ParsedSample<'_> {
    /// The value of label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_ref())
    }
}

/// An OpenMetrics exemplar (` # {labels} value [timestamp]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar<'a> {
    pub labels: Vec<Label<'a>>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

/// The metadata lines of one metric family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricMetadata {
    /// The family name as in the metadata lines (`http_requests` for an OpenMetrics
    /// counter whose samples are `http_requests_total`).
    pub family: String,
    /// `Unknown` when there was no TYPE line (and for the text format's `untyped`).
    pub kind: MetricType,
    /// Unescaped; empty when absent.
    pub help: String,
    /// Empty when absent (always, in the text format).
    pub unit: String,
}

/// The type of a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    /// OpenMetrics `unknown`, text format `untyped`, or no TYPE line.
    Unknown,
}

impl MetricType {
    /// The OpenMetrics spelling, as the Prometheus metadata API reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
