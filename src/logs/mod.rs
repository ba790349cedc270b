//! The logs side: Loki-compatible push decoding, the log store and LogQL.

pub mod push;
pub mod store;
