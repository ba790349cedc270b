//! Native histograms: the float histogram data model and its arithmetic,
//! shared by the TSDB and the PromQL engine.
//!
//! This module owns the bucket layout (exponential schemas and custom
//! buckets), canonical compaction, bucket iteration, addition/subtraction
//! with schema, zero-threshold and custom-bound reconciliation, scaling,
//! counter reset detection, quantile/fraction/variance estimation, the
//! conversion of classic histograms to custom buckets, and the `{{...}}`
//! notation of the PromQL test language.

mod arithmetic;
mod bounds;
mod classic;
mod counter_reset;
mod float_histogram;
mod notation;
mod quantile;

pub use arithmetic::HistogramError;
pub use float_histogram::{
    Bucket, CounterResetHint, FloatHistogram, Span, CUSTOM_BUCKETS_SCHEMA, EXPONENTIAL_SCHEMA_MAX,
    EXPONENTIAL_SCHEMA_MIN,
};
pub use notation::{expand_test_series, parse_test_notation};
pub use quantile::QuantileNote;
