//! Prometheus remote write (receive) and remote read (serve), engine side: turns a request body plus its
//! `Content-Type` / `Content-Encoding` into a validated batch of series, free of HTTP types.
//!
//! Owns: content negotiation (remote write 1.0 `prometheus.WriteRequest` and 2.0
//! `io.prometheus.write.v2.Request`), snappy block decompression under a size limit, a
//! borrowing protobuf decoder for both messages, label validation with per-series
//! rejections, and encoders for tests and the load generator. The handler maps
//! [`RemoteWriteError::kind`] to a status (415, 413, 400), stores [`DecodedWrite::series`]
//! through the TSDB appender and answers 400 with [`DecodedWrite::rejection_summary`] if
//! any series was rejected. Calls nothing else in the crate.
//!
//! Decoding does not allocate per label: the batch keeps the decompressed body and
//! [`DecodedSeries::labels`] borrows `&str` from it; [`DecodedSeries::to_owned_series`]
//! gives owned strings where needed.
//!
//! Label rules are the legacy (pre-UTF-8) Prometheus ones, see [`validate`]. Native
//! histograms, exemplars and metadata are decoded far enough to be counted in
//! [`WriteStats`]; they are not handed on yet (histogram storage comes with the TSDB's
//! histogram chunks).

mod batch;
mod decode;
mod encode;
mod histogram;
pub mod proto_v1;
pub mod proto_v2;
pub mod read;
mod store;
pub mod validate;
mod wire;

pub use batch::{
    DecodedSeries, DecodedWrite, OwnedSeries, RejectedSeries, SeriesIter, WriteStats,
    MAX_REJECTED_LISTED,
};
pub use decode::{
    check_content_encoding, decode_protobuf, decode_protobuf_known, decode_write_request,
    decompress_snappy, protocol_from_content_type, KnownSeries, Protocol, RemoteWriteError,
    RemoteWriteErrorKind,
};
pub use encode::{
    encode_write_request_v1, encode_write_request_v2, snappy_compress, SeriesToEncode,
};
pub use read::{execute_read, RemoteReadError};
pub use store::{decode_and_store, store, Stored};
pub use validate::{DecodeLimits, SeriesProblem};

/// One fuzzing input (`fuzz/`, and the corpus replay in `tests/fuzz_corpus.rs`): an
/// uncompressed body decoded as both protocol versions, and snappy-decompressed as sent.
#[doc(hidden)]
pub fn fuzz_one(body: &[u8]) {
    let limits = DecodeLimits::default();
    let _ = decode_protobuf(Protocol::V1, body.to_vec(), &limits);
    let _ = decode_protobuf(Protocol::V2, body.to_vec(), &limits);
    let _ = decompress_snappy(body, 1 << 20);
}
