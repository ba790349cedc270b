//! Why a push body could not be decoded at all, and which HTTP answer that calls for.

/// Media types and encodings accepted, for the 415 messages.
const SUPPORTED_CONTENT_TYPES: &str = "application/x-protobuf (snappy-compressed \
     logproto.PushRequest, also assumed when the header is missing) and application/json";
const SUPPORTED_CONTENT_ENCODINGS: &str = "gzip, deflate, snappy or none";

/// A push request that cannot be decoded. Messages name the problem and, for content
/// errors, the stream and entry (0-based, in request order).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("unsupported content type {content_type:?}: supported are {supported}", supported = SUPPORTED_CONTENT_TYPES)]
    UnsupportedContentType { content_type: String },
    #[error("unsupported content encoding {content_encoding:?}: supported are {supported}", supported = SUPPORTED_CONTENT_ENCODINGS)]
    UnsupportedContentEncoding { content_encoding: String },
    /// The size is known up front: a snappy block declares it, an uncompressed body has it.
    #[error("{what} would be {size} bytes, over the limit of {limit} bytes")]
    BodyTooLarge {
        what: &'static str,
        size: u64,
        limit: usize,
    },
    /// A gzip or deflate stream grew past the limit while being inflated.
    #[error("{encoding} body inflates to more than the limit of {limit} bytes")]
    InflatedTooLarge {
        encoding: &'static str,
        limit: usize,
    },
    /// Not valid snappy (block format), gzip or deflate.
    #[error("invalid {encoding} body: {detail}")]
    Compression {
        encoding: &'static str,
        detail: String,
    },
    #[error("invalid protobuf push request (logproto.PushRequest): {detail}")]
    Protobuf { detail: String },
    #[error("invalid JSON push request: {detail}")]
    Json { detail: String },
    /// A stream whose label string cannot be parsed, or that is not UTF-8.
    #[error("stream {stream}: {detail}")]
    Stream { stream: usize, detail: String },
    /// An entry that cannot be represented: timestamp out of range, text not UTF-8.
    #[error("stream {stream}, entry {entry}: {detail}")]
    Entry {
        stream: usize,
        entry: usize,
        detail: String,
    },
}

/// How the push handler should answer a [`PushError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PushErrorKind {
    /// Content type or encoding not supported: 415.
    UnsupportedMediaType,
    /// Body over the decompressed size limit: 413.
    TooLarge,
    /// Malformed body: 400 (clients do not retry 4xx other than 429).
    BadRequest,
}

impl PushError {
    pub fn kind(&self) -> PushErrorKind {
        match self {
            PushError::UnsupportedContentType { .. }
            | PushError::UnsupportedContentEncoding { .. } => PushErrorKind::UnsupportedMediaType,
            PushError::BodyTooLarge { .. } | PushError::InflatedTooLarge { .. } => {
                PushErrorKind::TooLarge
            }
            PushError::Compression { .. }
            | PushError::Protobuf { .. }
            | PushError::Json { .. }
            | PushError::Stream { .. }
            | PushError::Entry { .. } => PushErrorKind::BadRequest,
        }
    }
}
