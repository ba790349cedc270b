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
mod rate;
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
pub use rate::{human_bytes, Rate, RateLimiter};
pub use stream::{PushedEntry, PushedStream};
pub use validate::{
    rfc3339_seconds, too_far_behind_message, validate, Validated, MAX_LISTED_REJECTIONS,
};

/// One fuzzing input (`fuzz/`, and the corpus replay in `tests/fuzz_corpus.rs`): a body
/// decoded as protobuf and as JSON, and whatever decodes validated with default limits.
#[doc(hidden)]
pub fn fuzz_one(body: &[u8]) {
    let limits = PushLimits::default();
    for streams in [decode_protobuf(body), decode_json(body)]
        .into_iter()
        .flatten()
    {
        let _ = validate(streams, &limits, 1_700_000_000_000_000_000);
    }
    let _ = decompress_snappy(body, 1 << 20);
}
