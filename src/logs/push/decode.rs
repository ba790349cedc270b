//! From request body to streams: pick the format from `Content-Type`, undo the
//! `Content-Encoding` and the snappy block compression under a size limit, then decode
//! the protobuf (here) or the JSON ([`super::json`]).
//!
//! Negotiation follows Loki's push parser, with two differences. A content type that is
//! neither JSON nor a protobuf type is refused (415) instead of being read as protobuf,
//! so that e.g. a form-encoded `curl -d` gets a message naming the header rather than a
//! snappy error. And when the header is missing, a body that is not snappy but looks like
//! JSON is read as JSON. `Content-Encoding: gzip` or `deflate` is undone first, for either
//! format; `snappy` changes nothing for protobuf (always snappy) and, for JSON, means the
//! JSON is snappy-compressed unless it starts with `{` (Loki ignores it there).

use std::borrow::Cow;
use std::io::Read;

use prost::Message;

use super::error::PushError;
use super::json::decode_json;
use super::labels::{cut, normalize, parse_labels, push_quoted};
use super::limits::PushLimits;
use super::proto::{receive, Timestamp};
use super::stream::{PushedEntry, PushedStream, StreamMerger};

/// How much of a header or label string a message shows.
const MAX_SHOWN_BYTES: usize = 128;

/// The body format a `Content-Type` announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    /// Snappy-compressed `logproto.PushRequest`.
    Protobuf,
    /// `{"streams": [{"stream": {…}, "values": [[…]]}]}`.
    Json,
    /// No `Content-Type`: protobuf, or JSON if the body is not snappy and looks like it.
    Unspecified,
}

/// A `Content-Encoding` applied on top of the format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyEncoding {
    Identity,
    Snappy,
    Gzip,
    /// HTTP says zlib-wrapped; Go clients (and Loki) use raw deflate. Both are read.
    Deflate,
}

/// Decodes a Loki push body. `content_type` / `content_encoding` are the raw header
/// values, `None` when absent. Streams come back in order of first appearance, those
/// listed more than once merged, entries in the order sent; labels sorted by name with
/// empty values dropped, but not yet validated (see [`validate`](super::validate)).
pub fn decode_push(
    body: &[u8],
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    limits: &PushLimits,
) -> Result<Vec<PushedStream>, PushError> {
    let format = body_format(content_type)?;
    let encoding = body_encoding(content_encoding)?;
    let limit = limits.max_decompressed_bytes;
    let body: Cow<'_, [u8]> = match encoding {
        BodyEncoding::Gzip => Cow::Owned(inflate_gzip(body, limit)?),
        BodyEncoding::Deflate => Cow::Owned(inflate_deflate(body, limit)?),
        BodyEncoding::Identity | BodyEncoding::Snappy => Cow::Borrowed(body),
    };
    match format {
        BodyFormat::Protobuf => decode_protobuf(&decompress_snappy(&body, limit)?),
        BodyFormat::Json => {
            if encoding == BodyEncoding::Snappy && !looks_like_json(&body) {
                return decode_json(&decompress_snappy(&body, limit)?);
            }
            check_size("body", body.len(), limit)?;
            decode_json(&body)
        }
        BodyFormat::Unspecified => match decompress_snappy(&body, limit) {
            Ok(raw) => decode_protobuf(&raw),
            Err(PushError::Compression { .. }) if looks_like_json(&body) => {
                check_size("body", body.len(), limit)?;
                decode_json(&body)
            }
            Err(PushError::Compression { encoding, detail }) => Err(PushError::Compression {
                encoding,
                detail: format!(
                    "{detail}; without a Content-Type the body is read as snappy-compressed protobuf"
                ),
            }),
            Err(error) => Err(error),
        },
    }
}

/// The format a `Content-Type` names: `application/json` for JSON;
/// `application/x-protobuf`, `application/protobuf`, `application/vnd.google.protobuf`
/// and `application/octet-stream` for protobuf; a missing or empty header for
/// [`BodyFormat::Unspecified`]. Case-insensitive; parameters (`charset=…`) are ignored.
pub fn body_format(content_type: Option<&str>) -> Result<BodyFormat, PushError> {
    let Some(content_type) = content_type.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(BodyFormat::Unspecified);
    };
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/json" => Ok(BodyFormat::Json),
        "application/x-protobuf"
        | "application/protobuf"
        | "application/vnd.google.protobuf"
        | "application/octet-stream" => Ok(BodyFormat::Protobuf),
        _ => Err(PushError::UnsupportedContentType {
            content_type: cut(content_type, MAX_SHOWN_BYTES).into_owned(),
        }),
    }
}

/// The encoding a `Content-Encoding` names: none (missing, empty or `identity`),
/// `snappy`, `gzip` (or `x-gzip`), `deflate`; case-insensitive.
pub fn body_encoding(content_encoding: Option<&str>) -> Result<BodyEncoding, PushError> {
    let encoding = content_encoding.map(str::trim).unwrap_or_default();
    let lower = encoding.to_ascii_lowercase();
    match lower.as_str() {
        "" | "identity" => Ok(BodyEncoding::Identity),
        "snappy" => Ok(BodyEncoding::Snappy),
        "gzip" | "x-gzip" => Ok(BodyEncoding::Gzip),
        "deflate" => Ok(BodyEncoding::Deflate),
        _ => Err(PushError::UnsupportedContentEncoding {
            content_encoding: cut(encoding, MAX_SHOWN_BYTES).into_owned(),
        }),
    }
}

/// Undoes snappy block (not framed) compression. The length the block declares is checked
/// against `max_len` (capped at 4 GiB) before anything is allocated.
pub fn decompress_snappy(body: &[u8], max_len: usize) -> Result<Vec<u8>, PushError> {
    let limit = max_len.min(u32::MAX as usize);
    let size = snap::raw::decompress_len(body).map_err(snappy_error)?;
    check_size("decompressed body", size, limit)?;
    let mut out = vec![0u8; size];
    let written = snap::raw::Decoder::new()
        .decompress(body, &mut out)
        .map_err(snappy_error)?;
    out.truncate(written);
    Ok(out)
}

fn snappy_error(error: snap::Error) -> PushError {
    let message = error.to_string();
    PushError::Compression {
        encoding: "snappy (block format)",
        detail: message.trim_start_matches("snappy: ").to_owned(),
    }
}

fn check_size(what: &'static str, size: usize, limit: usize) -> Result<(), PushError> {
    if size > limit {
        return Err(PushError::BodyTooLarge {
            what,
            size: size as u64,
            limit,
        });
    }
    Ok(())
}

/// Inflates a gzip body (several members are read one after the other, as Go does).
fn inflate_gzip(body: &[u8], limit: usize) -> Result<Vec<u8>, PushError> {
    inflate(
        flate2::read::MultiGzDecoder::new(body),
        "gzip",
        body.len(),
        limit,
    )
}

/// Inflates a deflate body: zlib-wrapped when it starts with a zlib header, raw otherwise.
fn inflate_deflate(body: &[u8], limit: usize) -> Result<Vec<u8>, PushError> {
    let zlib_header = match body {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    };
    if zlib_header {
        inflate(
            flate2::read::ZlibDecoder::new(body),
            "deflate",
            body.len(),
            limit,
        )
    } else {
        inflate(
            flate2::read::DeflateDecoder::new(body),
            "deflate",
            body.len(),
            limit,
        )
    }
}

fn inflate(
    reader: impl Read,
    encoding: &'static str,
    compressed_len: usize,
    limit: usize,
) -> Result<Vec<u8>, PushError> {
    // Logs compress about 5 to 10 times; start there and let the vector grow.
    let mut out = Vec::with_capacity(compressed_len.saturating_mul(8).min(limit).min(64 << 20));
    reader
        .take((limit as u64).saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|error| PushError::Compression {
            encoding,
            detail: error.to_string(),
        })?;
    if out.len() > limit {
        return Err(PushError::InflatedTooLarge { encoding, limit });
    }
    Ok(out)
}

/// True when the body starts (after whitespace) with `{`: what a JSON push looks like.
fn looks_like_json(body: &[u8]) -> bool {
    body.iter()
        .find(|byte| !byte.is_ascii_whitespace())
        .is_some_and(|&byte| byte == b'{')
}

/// Decodes an uncompressed `logproto.PushRequest`.
pub fn decode_protobuf(raw: &[u8]) -> Result<Vec<PushedStream>, PushError> {
    let request = receive::PushRequest::decode(raw).map_err(|error| PushError::Protobuf {
        detail: error
            .to_string()
            .trim_start_matches("failed to decode Protobuf message: ")
            .to_owned(),
    })?;
    let mut merger = StreamMerger::with_capacity(request.streams.len());
    for (stream_index, stream) in request.streams.into_iter().enumerate() {
        let labels = stream_labels(&stream.labels).map_err(|detail| PushError::Stream {
            stream: stream_index,
            detail,
        })?;
        let mut entries = Vec::with_capacity(stream.entries.len());
        for (entry_index, entry) in stream.entries.into_iter().enumerate() {
            let entry = pushed_entry(entry).map_err(|detail| PushError::Entry {
                stream: stream_index,
                entry: entry_index,
                detail,
            })?;
            entries.push(entry);
        }
        merger.push(labels, entries);
    }
    Ok(merger.finish())
}

/// Parses and normalizes a stream's label string.
fn stream_labels(raw: &[u8]) -> Result<Vec<(String, String)>, String> {
    let text = std::str::from_utf8(raw).map_err(|error| {
        format!(
            "labels are not valid UTF-8 (invalid byte at offset {})",
            error.valid_up_to()
        )
    })?;
    let mut labels = parse_labels(text).map_err(|error| {
        let mut shown = String::new();
        push_quoted(&cut(text, 2 * MAX_SHOWN_BYTES), &mut shown);
        format!("invalid labels {shown}: {error}")
    })?;
    normalize(&mut labels);
    Ok(labels)
}

fn pushed_entry(entry: receive::EntryAdapter) -> Result<PushedEntry, String> {
    let timestamp_ns = timestamp_ns(entry.timestamp.unwrap_or_default())?;
    let line = utf8(entry.line, "line")?;
    let mut structured_metadata = Vec::with_capacity(entry.structured_metadata.len());
    for pair in entry.structured_metadata {
        let name = utf8(pair.name, "structured metadata name")?;
        let value = utf8(pair.value, "structured metadata value")?;
        structured_metadata.push((name, value));
    }
    Ok(PushedEntry {
        timestamp_ns,
        line,
        structured_metadata,
    })
}

/// Nanoseconds since the epoch; a missing timestamp is the epoch itself (proto3 default),
/// which validation then refuses as too old.
fn timestamp_ns(timestamp: Timestamp) -> Result<i64, String> {
    let Timestamp { seconds, nanos } = timestamp;
    if !(0..1_000_000_000).contains(&nanos) {
        return Err(format!(
            "timestamp nanos {nanos} out of range: must be 0 to 999999999"
        ));
    }
    let total = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
    i64::try_from(total).map_err(|_| {
            format!(
                "timestamp of {seconds} seconds is outside what 64-bit nanoseconds since 1970 hold (years 1678 to 2262)"
            )
        })
}

fn utf8(bytes: Vec<u8>, what: &str) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|error| {
        format!(
            "{what} is not valid UTF-8 (invalid byte at offset {})",
            error.utf8_error().valid_up_to()
        )
    })
}
