//! Self-instrumentation shared by every subsystem: counters, histograms, a registry of
//! collectors and the Prometheus text writer behind `/metrics`. A leaf module: it depends
//! on nothing else in the crate, so engines can report their health without knowing HTTP.

mod exposition;
mod histogram;
mod labeled;
pub mod process;
mod registry;

pub use exposition::{MetricKind, TextWriter};
pub use histogram::{Histogram, LATENCY_BUCKETS};
pub use labeled::{LabeledCounter, LabeledHistogram};
pub use registry::{Collect, Registry};
