//! Loki push decoding (`POST /loki/api/v1/push`), engine side: turns a request body plus
//! its `Content-Type` / `Content-Encoding` into streams of entries, then validates them
//! as Loki does. Free of HTTP types; calls nothing else in the crate but `time_format`.
//!
//! Owns: content negotiation (snappy-compressed protobuf `logproto.PushRequest`, JSON,
//! gzip/deflate on either), decompression under a size limit, the stream label string
//! parser, merging of streams listed twice, Loki's label/timestamp/line-size rules with
//! Loki's messages, and encoders for tests and the load generator.
//!
//! The handler maps [`PushError::kind`] to 415, 413 or 400; runs [`validate`] with the
//! current time; stores [`Validated::streams`]; then answers 204, or 400 with
//! [`Validated::rejection_summary`] if anything was refused (the rest is still stored, as
//! Loki does).

mod decode;
mod encode;
mod error;
mod json;
pub mod labels;
mod limits;
pub mod proto;
mod stream;
mod validate;

#[cfg(test)]
mod tests;

pub use decode::{
    body_encoding, body_format, decode_protobuf, decode_push, decompress_snappy, BodyEncoding,
    BodyFormat,
};
pub use encode::{encode_push_json, encode_push_protobuf, push_request, snappy_compress};
pub use error::{PushError, PushErrorKind};
pub use json::decode_json;
pub use limits::PushLimits;
pub use stream::{PushedEntry, PushedStream};
pub use validate::{
    rfc3339_seconds, too_far_behind_message, validate, Validated, MAX_LISTED_REJECTIONS,
};
