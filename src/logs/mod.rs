//! The logs side: Loki-compatible push decoding, the log store, LogQL (parser and
//! per-entry pipeline) and its evaluation over the store, and the Loki HTTP API.

pub mod api;
pub mod logql;
pub mod push;
pub mod query;
pub mod self_logs;
pub mod store;
