//! Push bodies from streams, the way clients build them: for tests, the load generator
//! and benchmarks. Not used on the receive path.

use prost::Message;

use super::labels::render_labels;
use super::proto::{EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp};
use super::stream::PushedStream;

/// The `logproto.PushRequest` for `streams`, labels rendered as `{a="b", c="d"}`.
pub fn push_request(streams: &[PushedStream]) -> PushRequest {
    PushRequest {
        streams: streams
            .iter()
            .map(|stream| StreamAdapter {
                labels: render_labels(&stream.labels),
                entries: stream
                    .entries
                    .iter()
                    .map(|entry| EntryAdapter {
                        timestamp: Some(Timestamp {
                            seconds: entry.timestamp_ns.div_euclid(1_000_000_000),
                            nanos: entry.timestamp_ns.rem_euclid(1_000_000_000) as i32,
                        }),
                        line: entry.line.clone(),
                        structured_metadata: entry
                            .structured_metadata
                            .iter()
                            .map(|(name, value)| LabelPairAdapter {
                                name: name.clone(),
                                value: value.clone(),
                            })
                            .collect(),
                        parsed: Vec::new(),
                    })
                    .collect(),
                hash: 0,
            })
            .collect(),
        format: String::new(),
    }
}

/// A protobuf push body (`Content-Type: application/x-protobuf`): the request, snappy
/// block compressed, as Promtail, Alloy and winston-loki send it.
pub fn encode_push_protobuf(streams: &[PushedStream]) -> Vec<u8> {
    snappy_compress(&push_request(streams).encode_to_vec())
}

/// A JSON push body (`Content-Type: application/json`), timestamps as strings of
/// nanoseconds, structured metadata as the third element when there is any. Pairs are
/// written in the order given.
pub fn encode_push_json(streams: &[PushedStream]) -> Vec<u8> {
    let mut out = String::from("{\"streams\":[");
    for (stream_index, stream) in streams.iter().enumerate() {
        if stream_index > 0 {
            out.push(',');
        }
        out.push_str("{\"stream\":");
        push_json_object(&stream.labels, &mut out);
        out.push_str(",\"values\":[");
        for (entry_index, entry) in stream.entries.iter().enumerate() {
            if entry_index > 0 {
                out.push(',');
            }
            out.push_str(&format!("[\"{}\",", entry.timestamp_ns));
            push_json_string(&entry.line, &mut out);
            if !entry.structured_metadata.is_empty() {
                out.push(',');
                push_json_object(&entry.structured_metadata, &mut out);
            }
            out.push(']');
        }
        out.push_str("]}");
    }
    out.push_str("]}");
    out.into_bytes()
}

fn push_json_object(pairs: &[(String, String)], out: &mut String) {
    out.push('{');
    for (index, (name, value)) in pairs.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        push_json_string(name, out);
        out.push(':');
        push_json_string(value, out);
    }
    out.push('}');
}

fn push_json_string(text: &str, out: &mut String) {
    out.push_str(&serde_json::Value::String(text.to_owned()).to_string());
}

/// Snappy block compression (not the framed format).
pub fn snappy_compress(raw: &[u8]) -> Vec<u8> {
    // Compressing into a buffer of `max_compress_len` cannot fail; fall back to an empty
    // body (which decodes as an error) rather than panic.
    snap::raw::Encoder::new()
        .compress_vec(raw)
        .unwrap_or_default()
}
