//! Values a query returns, and the internal step-indexed series the evaluator passes
//! between nodes.

use crate::metrics::histogram::FloatHistogram;

/// Sorted `(name, value)` pairs.
pub type Labels = Vec<(String, String)>;

/// One sample of an instant vector result: a float, or a native histogram (then `v` is
/// meaningless).
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSample {
    pub labels: Labels,
    pub t: i64,
    pub v: f64,
    pub h: Option<Box<FloatHistogram>>,
}

/// One series of a range (matrix) result; float points and histogram points, each sorted
/// by time.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    pub labels: Labels,
    pub points: Vec<(i64, f64)>,
    pub histograms: Vec<(i64, FloatHistogram)>,
}

/// The result of a query, shaped as the Prometheus HTTP API returns it.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryValue {
    Scalar { t: i64, v: f64 },
    String { t: i64, v: String },
    Vector(Vec<InstantSample>),
    Matrix(Vec<RangeSeries>),
}

impl QueryValue {
    /// The `resultType` name of the HTTP API.
    pub fn type_name(&self) -> &'static str {
        match self {
            QueryValue::Scalar { .. } => "scalar",
            QueryValue::String { .. } => "string",
            QueryValue::Vector(_) => "vector",
            QueryValue::Matrix(_) => "matrix",
        }
    }
}
