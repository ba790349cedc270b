//! Loki push messages (`package logproto`, `pkg/push/push.proto`) and
//! `google.protobuf.Timestamp`, declared by hand from the field numbers of the interface
//! definitions. Only what a push request carries is here.
//!
//! The public messages mirror the `.proto` (strings are `String`); they are the shape used
//! by the encoders, the tests and the load generator. The receive path decodes through
//! [`receive`], the same messages with text fields as bytes, so that a line or label that
//! is not UTF-8 is reported with its stream and entry index instead of failing inside
//! prost without saying where. `string` and `bytes` are the same on the wire.

/// `logproto.PushRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<StreamAdapter>,
    /// `loki` or `otlp`: set by Loki itself, not by push clients; ignored.
    #[prost(string, tag = "2")]
    pub format: String,
}

/// `logproto.StreamAdapter`: one stream, its label set as selector text such as
/// `{job="varlog", host="a"}`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StreamAdapter {
    #[prost(string, tag = "1")]
    pub labels: String,
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<EntryAdapter>,
    /// Internal to Loki, never sent by clients; ignored.
    #[prost(uint64, tag = "3")]
    pub hash: u64,
}

/// `logproto.EntryAdapter`: one log line.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EntryAdapter {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    #[prost(string, tag = "2")]
    pub line: String,
    /// Name/value pairs attached to this line only; not part of the stream's labels.
    #[prost(message, repeated, tag = "3")]
    pub structured_metadata: Vec<LabelPairAdapter>,
    /// Only used by Loki in query responses; ignored on push.
    #[prost(message, repeated, tag = "4")]
    pub parsed: Vec<LabelPairAdapter>,
}

/// `logproto.LabelPairAdapter`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct LabelPairAdapter {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `google.protobuf.Timestamp`: seconds since the Unix epoch and a non-negative nanosecond
/// part below one second.
#[derive(Clone, Copy, PartialEq, Eq, Hash, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// The receive-side messages: the same field numbers, text as bytes, and the fields
/// Loki ignores on push (`format`, `hash`, `parsed`) left out, so prost skips them without
/// allocating. Named as in the `.proto` so that prost's decode errors read
/// `StreamAdapter.entries: EntryAdapter.timestamp: …`.
pub mod receive {
    pub use super::Timestamp;

    /// `logproto.PushRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PushRequest {
        #[prost(message, repeated, tag = "1")]
        pub streams: Vec<StreamAdapter>,
    }

    /// `logproto.StreamAdapter`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StreamAdapter {
        #[prost(bytes = "vec", tag = "1")]
        pub labels: Vec<u8>,
        #[prost(message, repeated, tag = "2")]
        pub entries: Vec<EntryAdapter>,
    }

    /// `logproto.EntryAdapter`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct EntryAdapter {
        #[prost(message, optional, tag = "1")]
        pub timestamp: Option<Timestamp>,
        #[prost(bytes = "vec", tag = "2")]
        pub line: Vec<u8>,
        #[prost(message, repeated, tag = "3")]
        pub structured_metadata: Vec<LabelPairAdapter>,
    }

    /// `logproto.LabelPairAdapter`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LabelPairAdapter {
        #[prost(bytes = "vec", tag = "1")]
        pub name: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        pub value: Vec<u8>,
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    fn request() -> PushRequest {
        PushRequest {
            streams: vec![StreamAdapter {
                labels: r#"{app="x"}"#.into(),
                entries: vec![EntryAdapter {
                    timestamp: Some(Timestamp {
                        seconds: 1_700_000_000,
                        nanos: 5,
                    }),
                    line: "héllo".into(),
                    structured_metadata: vec![LabelPairAdapter {
                        name: "trace_id".into(),
                        value: "abc".into(),
                    }],
                    parsed: vec![LabelPairAdapter {
                        name: "ignored".into(),
                        value: "on push".into(),
                    }],
                }],
                hash: 42,
            }],
            format: "loki".into(),
        }
    }

    #[test]
    fn receive_messages_read_the_public_ones() {
        let bytes = request().encode_to_vec();
        let received = receive::PushRequest::decode(bytes.as_slice()).unwrap();
        let stream = &received.streams[0];
        assert_eq!(stream.labels, br#"{app="x"}"#);
        let entry = &stream.entries[0];
        assert_eq!(
            entry.timestamp,
            Some(Timestamp {
                seconds: 1_700_000_000,
                nanos: 5
            })
        );
        assert_eq!(entry.line, "héllo".as_bytes());
        assert_eq!(entry.structured_metadata.len(), 1);
        assert_eq!(entry.structured_metadata[0].name, b"trace_id");
        assert_eq!(entry.structured_metadata[0].value, b"abc");
    }

    #[test]
    fn field_numbers_match_the_proto() {
        // Hand-assembled: StreamAdapter{labels=1, entries=2{timestamp=1{seconds=1,
        // nanos=2}, line=2, structuredMetadata=3{name=1, value=2}}}.
        let entry = [
            0x0a, 0x04, 0x08, 0x01, 0x10, 0x02, // timestamp {seconds: 1, nanos: 2}
            0x12, 0x01, b'l', // line "l"
            0x1a, 0x06, 0x0a, 0x01, b'k', 0x12, 0x01, b'v', // metadata k=v
        ];
        let mut stream = vec![0x0a, 0x02, b'{', b'}', 0x12, entry.len() as u8];
        stream.extend_from_slice(&entry);
        let mut body = vec![0x0a, stream.len() as u8];
        body.extend_from_slice(&stream);
        let decoded = PushRequest::decode(body.as_slice()).unwrap();
        let expected = PushRequest {
            streams: vec![StreamAdapter {
                labels: "{}".into(),
                entries: vec![EntryAdapter {
                    timestamp: Some(Timestamp {
                        seconds: 1,
                        nanos: 2,
                    }),
                    line: "l".into(),
                    structured_metadata: vec![LabelPairAdapter {
                        name: "k".into(),
                        value: "v".into(),
                    }],
                    parsed: vec![],
                }],
                hash: 0,
            }],
            format: String::new(),
        };
        assert_eq!(decoded, expected);
        assert_eq!(expected.encode_to_vec(), body);
    }
}
