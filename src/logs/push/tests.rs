//! Decoding and validation end to end: both body formats and every encoding, the shapes
//! real clients send, every error kind, and Loki's validation messages.

use std::io::Write;

use proptest::prelude::*;
use prost::Message;

use super::proto::{EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp};
use super::*;

const NOW_NS: i64 = 1_700_000_000_000_000_000; // 2023-11-14T22:13:20Z
const SECOND_NS: i64 = 1_000_000_000;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

fn entry(timestamp_ns: i64, line: &str) -> PushedEntry {
    PushedEntry {
        timestamp_ns,
        line: line.into(),
        structured_metadata: vec![],
    }
}

fn entry_with(timestamp_ns: i64, line: &str, metadata: &[(&str, &str)]) -> PushedEntry {
    PushedEntry {
        structured_metadata: pairs(metadata),
        ..entry(timestamp_ns, line)
    }
}

fn stream(labels: &[(&str, &str)], entries: Vec<PushedEntry>) -> PushedStream {
    PushedStream {
        labels: pairs(labels),
        entries,
    }
}

fn proto_entry(seconds: i64, nanos: i32, line: &str) -> EntryAdapter {
    EntryAdapter {
        timestamp: Some(Timestamp { seconds, nanos }),
        line: line.into(),
        structured_metadata: vec![],
        parsed: vec![],
    }
}

fn snappy(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(raw).unwrap()
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(raw).unwrap();
    encoder.finish().unwrap()
}

fn decode(body: &[u8], content_type: Option<&str>, encoding: Option<&str>) -> Vec<PushedStream> {
    decode_push(body, content_type, encoding, &PushLimits::default()).unwrap()
}

fn decode_error(body: &[u8], content_type: Option<&str>, encoding: Option<&str>) -> PushError {
    decode_push(body, content_type, encoding, &PushLimits::default()).unwrap_err()
}

const JSON: Option<&str> = Some("application/json");
const PROTOBUF: Option<&str> = Some("application/x-protobuf");

// --- protobuf ----------------------------------------------------------------------------

#[test]
fn protobuf_round_trip_with_structured_metadata_and_merging() {
    let request = PushRequest {
        streams: vec![
            StreamAdapter {
                labels: r#"{job="varlog", host="a", empty=""}"#.into(),
                entries: vec![
                    EntryAdapter {
                        structured_metadata: vec![
                            LabelPairAdapter {
                                name: "trace_id".into(),
                                value: "abc".into(),
                            },
                            LabelPairAdapter {
                                name: "user".into(),
                                value: "é".into(),
                            },
                        ],
                        ..proto_entry(1_700_000_000, 123_456_789, "first")
                    },
                    proto_entry(1_699_999_999, 0, "earlier, kept in place"),
                ],
                hash: 7,
            },
            StreamAdapter {
                labels: r#"{job="other"}"#.into(),
                entries: vec![proto_entry(1_700_000_001, 1, "other stream")],
                hash: 0,
            },
            // The same label set written differently: merged into the first stream.
            StreamAdapter {
                labels: "{ host = \"a\" , job = \"varlog\" }".into(),
                entries: vec![proto_entry(1_700_000_002, 0, "third")],
                hash: 0,
            },
        ],
        format: String::new(),
    };
    let body = snappy(&request.encode_to_vec());
    let expected = vec![
        stream(
            &[("host", "a"), ("job", "varlog")],
            vec![
                entry_with(
                    1_700_000_000_123_456_789,
                    "first",
                    &[("trace_id", "abc"), ("user", "é")],
                ),
                entry(1_699_999_999_000_000_000, "earlier, kept in place"),
                entry(1_700_000_002_000_000_000, "third"),
            ],
        ),
        stream(
            &[("job", "other")],
            vec![entry(1_700_000_001_000_000_001, "other stream")],
        ),
    ];
    for content_type in [
        None,
        Some(""),
        PROTOBUF,
        Some("Application/X-Protobuf; charset=utf-8"),
        Some("application/protobuf"),
        Some("application/octet-stream"),
    ] {
        for encoding in [None, Some("snappy"), Some(" Snappy "), Some("identity")] {
            assert_eq!(
                decode(&body, content_type, encoding),
                expected,
                "{content_type:?} {encoding:?}"
            );
        }
    }
    // gzip around the snappy body, as Loki allows.
    assert_eq!(decode(&gzip(&body), PROTOBUF, Some("gzip")), expected);
    // The encoder gives the same streams back.
    assert_eq!(
        decode(&encode_push_protobuf(&expected), PROTOBUF, None),
        expected
    );
}

#[test]
fn protobuf_timestamps() {
    let cases = [
        (None, 0),
        (Some((0, 0)), 0),
        (Some((-1, 999_999_999)), -1),
        (
            Some((9_223_372_036, 854_775_807)),
            i64::MAX, // 2262-04-11T23:47:16.854775807Z
        ),
        (Some((-9_223_372_037, 145_224_192)), i64::MIN),
    ];
    for (timestamp, expected_ns) in cases {
        let request = PushRequest {
            streams: vec![StreamAdapter {
                labels: r#"{a="b"}"#.into(),
                entries: vec![EntryAdapter {
                    timestamp: timestamp.map(|(seconds, nanos)| Timestamp { seconds, nanos }),
                    ..proto_entry(0, 0, "x")
                }],
                hash: 0,
            }],
            format: String::new(),
        };
        let streams = decode(&snappy(&request.encode_to_vec()), PROTOBUF, None);
        assert_eq!(
            streams[0].entries[0].timestamp_ns, expected_ns,
            "{timestamp:?}"
        );
    }
}

/// What winston-loki 6.x sends by default: its own `logproto.proto` (Stream/Entry, no
/// structured metadata), labels built as `{level="…",key="…"}` without spaces, the
/// timestamp from milliseconds, snappy-compressed, `Content-Type: application/x-protobuf`
/// and no `Content-Encoding`.
#[test]
fn winston_loki_protobuf_payload() {
    let ms: i64 = 1_546_977_515_828;
    let request = PushRequest {
        streams: vec![
            StreamAdapter {
                labels: r#"{level="info",job="test"}"#.into(),
                entries: vec![proto_entry(
                    ms / 1000,
                    ((ms % 1000) * 1_000_000) as i32,
                    "testings ",
                )],
                hash: 0,
            },
            StreamAdapter {
                labels: r#"{level="error",job="test",jeejee="ebon"}"#.into(),
                entries: vec![proto_entry(
                    1_546_977_515,
                    858_000_000,
                    r#"you broke everything but not quite {"code":500}"#,
                )],
                hash: 0,
            },
        ],
        format: String::new(),
    };
    let body = snappy(&request.encode_to_vec());
    let streams = decode(&body, PROTOBUF, None);
    assert_eq!(
        streams,
        vec![
            stream(
                &[("job", "test"), ("level", "info")],
                vec![entry(1_546_977_515_828_000_000, "testings ")]
            ),
            stream(
                &[("jeejee", "ebon"), ("job", "test"), ("level", "error")],
                vec![entry(
                    1_546_977_515_858_000_000,
                    r#"you broke everything but not quite {"code":500}"#
                )]
            ),
        ]
    );
    let validated = validate(streams, &PushLimits::unlimited(), NOW_NS);
    assert_eq!(validated.rejected_entries, 0);
    assert_eq!(validated.accepted_entries(), 2);
}

// --- JSON --------------------------------------------------------------------------------

#[test]
fn json_without_and_with_structured_metadata() {
    let body = br#"{"streams":[
        {"stream":{"app":"x","env":"p"},"values":[
            ["1700000000000000000","plain line"],
            ["1700000000000000001","with metadata",{"trace_id":"abc","user":"u1"}],
            [1700000000000000002,"numeric timestamp",null],
            ["+1700000000000000003","signed"]
        ]},
        {"stream":{"env":"p","app":"x","dropped":""},"values":[["1700000000000000004","merged"]]},
        {"stream":{"app":"y"},"values":[],"extra":"ignored"}
    ],"unknown":1}"#;
    let expected = vec![
        stream(
            &[("app", "x"), ("env", "p")],
            vec![
                entry(1_700_000_000_000_000_000, "plain line"),
                entry_with(
                    1_700_000_000_000_000_001,
                    "with metadata",
                    &[("trace_id", "abc"), ("user", "u1")],
                ),
                entry(1_700_000_000_000_000_002, "numeric timestamp"),
                entry(1_700_000_000_000_000_003, "signed"),
                entry(1_700_000_000_000_000_004, "merged"),
            ],
        ),
        stream(&[("app", "y")], vec![]),
    ];
    for content_type in [
        JSON,
        Some("application/json; charset=utf-8"),
        Some("APPLICATION/JSON"),
    ] {
        assert_eq!(decode(body, content_type, None), expected);
    }
    // The encoder gives the same streams back.
    assert_eq!(decode(&encode_push_json(&expected), JSON, None), expected);
}

#[test]
fn json_values_that_loki_refuses_but_clients_send() {
    let body = br#"{"streams":[{"stream":{"app":"x","port":8080,"debug":false,"gone":null},
        "values":[["1","l",{"n":1.5,"ok":true,"none":null,"obj":{"a":[1,"b"]},"s":"t"}]]}]}"#;
    assert_eq!(
        decode(body, JSON, None),
        vec![stream(
            &[("app", "x"), ("debug", "false"), ("port", "8080")],
            vec![entry_with(
                1,
                "l",
                &[
                    ("n", "1.5"),
                    ("ok", "true"),
                    ("obj", r#"{"a":[1,"b"]}"#),
                    ("s", "t")
                ]
            )]
        )]
    );
}

#[test]
fn json_in_every_encoding() {
    let streams = vec![stream(
        &[("app", "x")],
        vec![entry_with(NOW_NS, "line \"quoted\" ü\n", &[("k", "v")])],
    )];
    let body = encode_push_json(&streams);
    assert_eq!(decode(&body, JSON, None), streams);
    assert_eq!(decode(&gzip(&body), JSON, Some("gzip")), streams);
    assert_eq!(decode(&gzip(&body), JSON, Some("x-gzip")), streams);
    // Two gzip members one after the other, as `cat a.gz b.gz` gives.
    let split = body.len() / 2;
    let mut members = gzip(&body[..split]);
    members.extend(gzip(&body[split..]));
    assert_eq!(decode(&members, JSON, Some("GZIP")), streams);
    // deflate: zlib-wrapped (HTTP) and raw (Go's compress/flate).
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    zlib.write_all(&body).unwrap();
    assert_eq!(
        decode(&zlib.finish().unwrap(), JSON, Some("deflate")),
        streams
    );
    let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    raw.write_all(&body).unwrap();
    assert_eq!(
        decode(&raw.finish().unwrap(), JSON, Some("deflate")),
        streams
    );
    // snappy: compressed JSON is decompressed, plain JSON is read as is (Loki ignores
    // the header for JSON).
    assert_eq!(decode(&snappy(&body), JSON, Some("snappy")), streams);
    assert_eq!(decode(&body, JSON, Some("snappy")), streams);
    // No Content-Type: not snappy, but JSON.
    assert_eq!(decode(&body, None, None), streams);
    assert_eq!(decode(&gzip(&body), None, Some("gzip")), streams);
}

/// What python-logging-loki 0.3 sends with `version="1"`: `requests.post(url,
/// json=payload)` (so `Content-Type: application/json`), one entry per request, the
/// timestamp `str(int(time.time() * 1e9))`, labels from the handler's tags plus
/// `severity` and `logger`.
#[test]
fn python_logging_loki_payload() {
    let body = br#"{"streams": [{"stream": {"application": "my-app", "severity": "error", "logger": "my-logger", "service": "my-service"}, "values": [["1700000000123456768", "Something happened"]]}]}"#;
    let streams = decode(body, JSON, None);
    assert_eq!(
        streams,
        vec![stream(
            &[
                ("application", "my-app"),
                ("logger", "my-logger"),
                ("service", "my-service"),
                ("severity", "error"),
            ],
            vec![entry(1_700_000_000_123_456_768, "Something happened")]
        )]
    );
    let validated = validate(streams, &PushLimits::default(), NOW_NS);
    assert_eq!(
        (validated.accepted_entries(), validated.rejected_entries),
        (1, 0)
    );

    // Its default emitter (version "0") posts the legacy /api/prom/push body.
    let legacy = br#"{"streams": [{"labels": "{severity=\"error\",logger=\"my-logger\"}", "entries": [{"ts": "2023-11-14T22:13:20.123456Z", "line": "Something happened"}]}]}"#;
    let error = decode_error(legacy, JSON, None);
    assert_eq!(error.kind(), PushErrorKind::BadRequest);
    let message = error.to_string();
    assert!(
        message.starts_with(
            "invalid JSON push request: at streams[0]: this stream is in the legacy push format of /api/prom/push"
        ),
        "{message}"
    );
    assert!(
        message.contains("python-logging-loki: pass version=\"1\""),
        "{message}"
    );
}

/// What winston-loki 6.x sends with `json: true`: `Content-Type: application/json`, the
/// timestamp as milliseconds with `000000` appended, and the rest of winston's info
/// object (level and any metadata, numbers and objects included) as the third element,
/// `null` when there is none. Label values are strings, except falsy ones.
#[test]
fn winston_loki_json_payload() {
    let body = br#"{"streams":[{"stream":{"level":"info","job":"test","retries":0},"values":[["1546977515828000000","testings {\"userId\":42}",{"level":"info","userId":42,"ctx":{"ip":"10.0.0.1"}}],["1546977515829000000","no meta ",null]]}]}"#;
    assert_eq!(
        decode(body, JSON, None),
        vec![stream(
            &[("job", "test"), ("level", "info"), ("retries", "0")],
            vec![
                entry_with(
                    1_546_977_515_828_000_000,
                    r#"testings {"userId":42}"#,
                    &[
                        ("level", "info"),
                        ("userId", "42"),
                        ("ctx", r#"{"ip":"10.0.0.1"}"#)
                    ]
                ),
                entry(1_546_977_515_829_000_000, "no meta "),
            ]
        )]
    );
}

// --- errors ------------------------------------------------------------------------------

#[test]
fn unsupported_media_types_are_415() {
    let body = encode_push_json(&[stream(&[("a", "b")], vec![entry(1, "x")])]);
    for (content_type, shown) in [
        (Some("text/plain"), "\"text/plain\""),
        (
            Some("application/x-www-form-urlencoded"),
            "\"application/x-www-form-urlencoded\"",
        ),
        (Some("application/jsonx"), "\"application/jsonx\""),
    ] {
        let error = decode_error(&body, content_type, None);
        assert_eq!(error.kind(), PushErrorKind::UnsupportedMediaType);
        assert_eq!(
            error.to_string(),
            format!(
                "unsupported content type {shown}: supported are application/x-protobuf \
                 (snappy-compressed logproto.PushRequest, also assumed when the header is \
                 missing) and application/json"
            )
        );
    }
    for encoding in ["br", "zstd", "gzip, snappy"] {
        let error = decode_error(&body, JSON, Some(encoding));
        assert_eq!(error.kind(), PushErrorKind::UnsupportedMediaType);
        assert_eq!(
            error.to_string(),
            format!(
                "unsupported content encoding {encoding:?}: supported are gzip, deflate, snappy or none"
            )
        );
    }
}

#[test]
fn bodies_over_the_limit_are_413() {
    let streams = vec![stream(&[("a", "b")], vec![entry(1, &"x".repeat(1000))])];
    let json = encode_push_json(&streams);
    let protobuf = encode_push_protobuf(&streams);
    let raw_len = decompress_snappy(&protobuf, usize::MAX).unwrap().len();
    let limits = PushLimits {
        max_decompressed_bytes: 900,
        ..PushLimits::default()
    };
    let cases = [
        (
            decode_push(&protobuf, PROTOBUF, None, &limits),
            format!("decompressed body would be {raw_len} bytes, over the limit of 900 bytes"),
        ),
        (
            decode_push(&json, JSON, None, &limits),
            format!(
                "body would be {} bytes, over the limit of 900 bytes",
                json.len()
            ),
        ),
        (
            decode_push(&gzip(&json), JSON, Some("gzip"), &limits),
            "gzip body inflates to more than the limit of 900 bytes".to_string(),
        ),
        (
            decode_push(&snappy(&json), JSON, Some("snappy"), &limits),
            format!(
                "decompressed body would be {} bytes, over the limit of 900 bytes",
                json.len()
            ),
        ),
    ];
    for (result, message) in cases {
        let error = result.unwrap_err();
        assert_eq!(error.kind(), PushErrorKind::TooLarge);
        assert_eq!(error.to_string(), message);
    }
    // A snappy block that claims 4 GiB is refused from its header alone.
    let huge_claim = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
    let error = decode_error(&huge_claim, PROTOBUF, None);
    assert_eq!(error.kind(), PushErrorKind::TooLarge);
    // Exactly at the limit is fine.
    let limits = PushLimits {
        max_decompressed_bytes: json.len(),
        ..PushLimits::default()
    };
    assert!(decode_push(&gzip(&json), JSON, Some("gzip"), &limits).is_ok());
}

fn bad_request(body: &[u8], content_type: Option<&str>, encoding: Option<&str>) -> String {
    let error = decode_error(body, content_type, encoding);
    assert_eq!(error.kind(), PushErrorKind::BadRequest, "{error}");
    error.to_string()
}

fn proto_body(labels: &str, entries: Vec<EntryAdapter>) -> Vec<u8> {
    let request = PushRequest {
        streams: vec![
            StreamAdapter {
                labels: r#"{ok="1"}"#.into(),
                entries: vec![proto_entry(1, 0, "fine")],
                hash: 0,
            },
            StreamAdapter {
                labels: labels.into(),
                entries,
                hash: 0,
            },
        ],
        format: String::new(),
    };
    snappy(&request.encode_to_vec())
}

#[test]
fn malformed_protobuf_bodies_are_400_naming_the_problem() {
    assert_eq!(
        bad_request(b"", PROTOBUF, None),
        "invalid snappy (block format) body: corrupt input (empty)"
    );
    let framed = b"\xff\x06\x00\x00sNaPpY";
    assert!(bad_request(framed, PROTOBUF, None).starts_with("invalid snappy (block format) body: "));
    assert!(bad_request(b"not gzip", PROTOBUF, Some("gzip")).starts_with("invalid gzip body: "));
    // Valid snappy around bytes that are not a PushRequest: field 1 with a varint.
    assert_eq!(
        bad_request(&snappy(&[0x08, 0x01]), PROTOBUF, None),
        "invalid protobuf push request (logproto.PushRequest): PushRequest.streams: invalid wire type: Varint (expected LengthDelimited)"
    );
    assert_eq!(
        bad_request(&proto_body("{app=x}", vec![]), PROTOBUF, None),
        "stream 1: invalid labels \"{app=x}\": expected a quoted value for label \"app\", found 'x' at offset 5"
    );
    assert_eq!(
        bad_request(&proto_body("app=\"x\"", vec![]), PROTOBUF, None),
        "stream 1: invalid labels \"app=\\\"x\\\"\": expected '{' to open the label set at offset 0"
    );
    assert_eq!(
        bad_request(&proto_body("", vec![]), PROTOBUF, None),
        "stream 1: invalid labels \"\": empty label string, expected '{…}' at offset 0"
    );
    assert_eq!(
        bad_request(
            &proto_body(
                r#"{a="b"}"#,
                vec![proto_entry(1, 0, "ok"), proto_entry(1, -1, "x")]
            ),
            PROTOBUF,
            None
        ),
        "stream 1, entry 1: timestamp nanos -1 out of range: must be 0 to 999999999"
    );
    assert_eq!(
        bad_request(
            &proto_body(r#"{a="b"}"#, vec![proto_entry(i64::MAX / 1000, 0, "x")]),
            PROTOBUF,
            None
        ),
        format!(
            "stream 1, entry 0: timestamp of {} seconds is outside what 64-bit nanoseconds since 1970 hold (years 1678 to 2262)",
            i64::MAX / 1000
        )
    );
    // Text that is not UTF-8, hand-assembled since prost strings cannot hold it.
    let not_utf8_line = receive_body(b"{a=\"b\"}", b"ok\xffno", b"k", b"v");
    assert_eq!(
        bad_request(&not_utf8_line, PROTOBUF, None),
        "stream 0, entry 0: line is not valid UTF-8 (invalid byte at offset 2)"
    );
    let not_utf8_labels = receive_body(b"{a=\"\xc3\"}", b"line", b"k", b"v");
    assert_eq!(
        bad_request(&not_utf8_labels, PROTOBUF, None),
        "stream 0: labels are not valid UTF-8 (invalid byte at offset 4)"
    );
    let not_utf8_metadata = receive_body(b"{a=\"b\"}", b"line", b"k", b"\x80");
    assert_eq!(
        bad_request(&not_utf8_metadata, PROTOBUF, None),
        "stream 0, entry 0: structured metadata value is not valid UTF-8 (invalid byte at offset 0)"
    );
}

/// A snappy PushRequest with one stream and one entry, from raw bytes.
fn receive_body(labels: &[u8], line: &[u8], name: &[u8], value: &[u8]) -> Vec<u8> {
    use super::proto::receive;
    let request = receive::PushRequest {
        streams: vec![receive::StreamAdapter {
            labels: labels.to_vec(),
            entries: vec![receive::EntryAdapter {
                timestamp: Some(Timestamp {
                    seconds: 1,
                    nanos: 0,
                }),
                line: line.to_vec(),
                structured_metadata: vec![receive::LabelPairAdapter {
                    name: name.to_vec(),
                    value: value.to_vec(),
                }],
            }],
        }],
    };
    snappy(&request.encode_to_vec())
}

#[test]
fn malformed_json_bodies_are_400_naming_where() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "EOF while parsing a value at line 1 column 0"),
        (b"{", "EOF while parsing an object at line 1 column 1"),
        (
            b"[]",
            "invalid type: sequence, expected a push request object {\"streams\": […]} at line 1 column 0",
        ),
        (
            br#"{"streams":[],"streams":[]}"#,
            "duplicate field `streams` at line 1 column 23",
        ),
        (b"{}", "missing field `streams` at line 1 column 2"),
        (
            br#"{"streams":{}}"#,
            "at streams: invalid type: map, expected a sequence at line 1 column 11",
        ),
        (
            br#"{"streams":[{"stream":{"a":"b"}}]}"#,
            "at streams[0]: missing field `values` at line 1 column 32",
        ),
        (
            br#"{"streams":[{"stream":{"a":"b"},"values":[["1","x"],["abc","y"]]}]}"#,
            "at streams[0].values[1][0]: invalid timestamp \"abc\": expected Unix nanoseconds as a string of digits at line 1 column 58",
        ),
        (
            br#"{"streams":[{"stream":{"a":"b"},"values":[["2023-11-14T22:13:20Z","y"]]}]}"#,
            "at streams[0].values[0][0]: invalid timestamp \"2023-11-14T22:13:20Z\": expected Unix nanoseconds as a string of digits at line 1 column 65",
        ),
        (
            br#"{"streams":[{"stream":{"a":"b"},"values":[["99999999999999999999","y"]]}]}"#,
            "at streams[0].values[0][0]: timestamp 99999999999999999999 is outside what 64-bit nanoseconds since 1970 hold (years 1678 to 2262) at line 1 column 65",
        ),
        (
            br#"{"streams":[{"stream":{"a":"b"},"values":[[1.7e18,"y"]]}]}"#,
            "at streams[0].values[0][0]: invalid timestamp 1700000000000000000: expected whole Unix nanoseconds, best as a string of digits at line 1 column 49",
        ),
        (
            br#"{"streams":[{"stream":{"a":"b"},"values":[["1"]]}]}"#,
            "at streams[0].values[0]: invalid length 1, expected an entry [\"<unix nanoseconds>\", \"<line>\"] or [\"<unix nanoseconds>\", \"<line>\", {<structured metadata>}] at line 1 column 47",
        ),
        (
            br#"{"streams":[{"stream":{"a":"b"},"values":[["1","x",{},"extra"]]}]}"#,
            "at streams[0].values[0]: an entry has at most 3 elements: timestamp, line and structured metadata at line 1 column 62",
        ),
        (
            br#"{"streams":[{"stream":{"a":"b"},"values":[["1",2]]}]}"#,
            "at streams[0].values[0][1]: invalid type: integer `2`, expected a string at line 1 column 48",
        ),
        (
            br#"{"streams":[{"stream":{"a":"b"},"values":[["1","x","meta"]]}]}"#,
            "at streams[0].values[0][2]: invalid type: string \"meta\", expected an object of structured metadata names to string values at line 1 column 57",
        ),
        (
            br#"{"streams":[{"stream":{"a":{"nested":1}},"values":[]}]}"#,
            "at streams[0].stream.a: invalid type: map, expected a string value at line 1 column 28",
        ),
        (
            br#"{"streams":[{"stream":"{a=\"b\"}","values":[]}]}"#,
            "at streams[0].stream: invalid type: string \"{a=\\\"b\\\"}\", expected an object of label names to string values at line 1 column 33",
        ),
        (
            br#"{"streams":[{"values":[],"values":[]}]}"#,
            "at streams[0]: duplicate field `values` at line 1 column 33",
        ),
        (
            br#"{"streams":[]} trailing"#,
            "trailing characters at line 1 column 16",
        ),
        (
            b"{\"streams\":[{\"stream\":{\"a\":\"\\ud800\"},\"values\":[]}]}",
            "at streams[0].stream.a: unexpected end of hex escape at line 1 column 35",
        ),
    ];
    for (body, detail) in cases {
        let message = bad_request(body, JSON, None);
        assert_eq!(
            message,
            format!("invalid JSON push request: {detail}"),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    // Invalid UTF-8 inside a JSON string.
    let message = bad_request(
        b"{\"streams\":[{\"stream\":{\"a\":\"\xff\"},\"values\":[]}]}",
        JSON,
        None,
    );
    assert!(
        message.starts_with(
            "invalid JSON push request: at streams[0].stream.a: invalid unicode code point"
        ),
        "{message}"
    );
    // No Content-Type, neither snappy nor JSON: the snappy error, saying why snappy.
    assert_eq!(
        bad_request(b"hello", None, None),
        "invalid snappy (block format) body: corrupt input (expected valid offset but got \
         offset 876; dst position: 0); without a Content-Type the body is read as \
         snappy-compressed protobuf"
    );
}

#[test]
fn every_truncation_of_a_valid_body_fails_cleanly() {
    let streams = vec![
        stream(
            &[("app", "x"), ("env", "p")],
            vec![
                entry_with(NOW_NS, "line one", &[("k", "v")]),
                entry(NOW_NS + 1, "two"),
            ],
        ),
        stream(&[("app", "y")], vec![entry(NOW_NS, "three")]),
    ];
    let protobuf = encode_push_protobuf(&streams);
    let raw = decompress_snappy(&protobuf, usize::MAX).unwrap();
    for end in 0..protobuf.len() {
        assert!(decode_push(&protobuf[..end], PROTOBUF, None, &PushLimits::default()).is_err());
    }
    for end in 0..raw.len() {
        // A protobuf prefix may be a shorter valid message; it must never panic.
        let _ = decode_protobuf(&raw[..end]);
    }
    let json = encode_push_json(&streams);
    for end in 0..json.len() {
        assert!(decode_push(&json[..end], JSON, None, &PushLimits::default()).is_err());
    }
    let gzipped = gzip(&json);
    for end in 0..gzipped.len() {
        assert!(decode_push(&gzipped[..end], JSON, Some("gzip"), &PushLimits::default()).is_err());
    }
}

// --- validation --------------------------------------------------------------------------

fn validate_one(stream: PushedStream, limits: &PushLimits) -> Validated {
    validate(vec![stream], limits, NOW_NS)
}

fn only_rejection(stream: PushedStream, limits: &PushLimits) -> String {
    let entries = stream.entries.len();
    let validated = validate_one(stream, limits);
    assert_eq!(validated.rejected_entries, entries);
    assert!(validated.streams.is_empty());
    assert_eq!(validated.rejections.len(), 1, "{:?}", validated.rejections);
    validated.rejections[0].clone()
}

#[test]
fn valid_streams_pass_unchanged() {
    let streams = vec![
        stream(
            &[("app", "x"), ("env", "p")],
            vec![entry(NOW_NS, "a"), entry(NOW_NS - SECOND_NS, "b")],
        ),
        stream(&[("app", "y")], vec![]),
        stream(&[("app", "z")], vec![entry(NOW_NS, "c")]),
    ];
    let validated = validate(streams.clone(), &PushLimits::default(), NOW_NS);
    assert_eq!(
        validated,
        Validated {
            streams: vec![streams[0].clone(), streams[2].clone()],
            ..Validated::default()
        }
    );
    assert_eq!(validated.rejection_summary(), None);
    assert_eq!(validated.accepted_entries(), 3);
}

#[test]
fn stream_label_rules_use_lokis_messages() {
    let limits = PushLimits {
        max_label_names_per_series: 3,
        max_label_name_length: 10,
        max_label_value_length: 12,
        ..PushLimits::default()
    };
    let entries = || vec![entry(NOW_NS, "a"), entry(NOW_NS, "b")];
    let cases = [
        (
            stream(&[], entries()),
            "error at least one label pair is required per stream".to_string(),
        ),
        (
            stream(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")], entries()),
            r#"entry for stream '{a="1", b="2", c="3", d="4"}' has 4 label names; limit 3"#.into(),
        ),
        (
            stream(&[("app", "x"), ("service.name", "api")], entries()),
            r#"stream '{app="x", "service.name"="api"}' has invalid label name: 'service.name' (must match [a-zA-Z_][a-zA-Z0-9_]*)"#.into(),
        ),
        (
            stream(&[("", "x")], entries()),
            r#"stream '{""="x"}' has invalid label name: '' (must match [a-zA-Z_][a-zA-Z0-9_]*)"#.into(),
        ),
        (
            stream(&[("a_very_long_name", "x")], entries()),
            r#"stream '{a_very_long_name="x"}' has label name too long: 'a_very_long_name' (16 bytes; limit 10)"#.into(),
        ),
        (
            stream(&[("app", "much too long value")], entries()),
            r#"stream '{app="much too long value"}' has label value too long: 'much too long value' (19 bytes; limit 12)"#.into(),
        ),
        (
            stream(&[("app", "x"), ("app", "y")], entries()),
            r#"stream '{app="x", app="y"}' has duplicate label name: 'app'"#.into(),
        ),
    ];
    for (stream, message) in cases {
        assert_eq!(only_rejection(stream, &limits), message);
    }
    // 16 labels against Loki's default of 15.
    let many: Vec<(String, String)> = (0..16)
        .map(|index| (format!("l{index:02}"), "v".to_string()))
        .collect();
    let message = only_rejection(
        PushedStream {
            labels: many,
            entries: entries(),
        },
        &PushLimits::default(),
    );
    assert!(
        message.starts_with("entry for stream '{l00=\"v\", l01=\"v\""),
        "{message}"
    );
    assert!(
        message.ends_with("l15=\"v\"}' has 16 label names; limit 15"),
        "{message}"
    );
}

#[test]
fn decoded_label_problems_are_rejected_per_stream() {
    // Labels that parse but break the rules reject their stream only.
    let request = PushRequest {
        streams: vec![
            StreamAdapter {
                labels: r#"{app="ok"}"#.into(),
                entries: vec![proto_entry(NOW_NS / SECOND_NS, 0, "kept")],
                hash: 0,
            },
            StreamAdapter {
                labels: r#"{"k8s-pod"="p"}"#.into(),
                entries: vec![proto_entry(NOW_NS / SECOND_NS, 0, "dropped")],
                hash: 0,
            },
            StreamAdapter {
                labels: r#"{a="1", a="2"}"#.into(),
                entries: vec![proto_entry(NOW_NS / SECOND_NS, 0, "dropped")],
                hash: 0,
            },
            StreamAdapter {
                labels: r#"{empty=""}"#.into(),
                entries: vec![proto_entry(NOW_NS / SECOND_NS, 0, "dropped")],
                hash: 0,
            },
        ],
        format: String::new(),
    };
    let streams = decode(&snappy(&request.encode_to_vec()), PROTOBUF, None);
    let validated = validate(streams, &PushLimits::default(), NOW_NS);
    assert_eq!(
        validated.streams,
        vec![stream(&[("app", "ok")], vec![entry(NOW_NS, "kept")])]
    );
    assert_eq!(validated.rejected_entries, 3);
    assert_eq!(
        validated.rejections,
        vec![
            r#"stream '{"k8s-pod"="p"}' has invalid label name: 'k8s-pod' (must match [a-zA-Z_][a-zA-Z0-9_]*)"#,
            r#"stream '{a="1", a="2"}' has duplicate label name: 'a'"#,
            "error at least one label pair is required per stream",
        ]
    );
    // The same from JSON: duplicate keys in the stream object are kept for the check.
    let body = br#"{"streams":[{"stream":{"a":"1","a":"2"},"values":[["1700000000000000000","x"]]},{"values":[["1700000000000000000","y"]]}]}"#;
    let validated = validate(decode(body, JSON, None), &PushLimits::default(), NOW_NS);
    assert_eq!(
        validated.rejections,
        vec![
            r#"stream '{a="1", a="2"}' has duplicate label name: 'a'"#,
            "error at least one label pair is required per stream",
        ]
    );
}

#[test]
fn entry_rules_use_lokis_messages() {
    let limits = PushLimits {
        max_line_size: 262_144,
        ..PushLimits::default()
    };
    let old = 1_577_836_800 * SECOND_NS; // 2020-01-01T00:00:00Z
    let labels = [("app", "x")];
    let streams = vec![stream(
        &labels,
        vec![
            entry(NOW_NS, "kept 1"),
            entry(old, "too old"),
            entry(NOW_NS + 11 * 60 * SECOND_NS, "too new"),
            entry(NOW_NS + 10 * 60 * SECOND_NS, "kept 2 (at the grace limit)"),
            entry(NOW_NS - 7 * 86_400 * SECOND_NS, "kept 3 (at the age limit)"),
            entry(NOW_NS, &"x".repeat(300_000)),
            entry(NOW_NS, &"y".repeat(262_144)),
        ],
    )];
    let validated = validate(streams, &limits, NOW_NS);
    let kept: Vec<&str> = validated.streams[0]
        .entries
        .iter()
        .map(|entry| &entry.line[..entry.line.len().min(6)])
        .collect();
    assert_eq!(kept, ["kept 1", "kept 2", "kept 3", "yyyyyy"]);
    assert_eq!(validated.rejected_entries, 3);
    assert_eq!(
        validated.rejections,
        vec![
            "entry for stream '{app=\"x\"}' has timestamp too old: 2020-01-01T00:00:00Z, oldest acceptable timestamp is: 2023-11-07T22:13:20Z",
            "entry for stream '{app=\"x\"}' has timestamp too new: 2023-11-14T22:24:20Z, newest acceptable timestamp is: 2023-11-14T22:23:20Z",
            "Max entry size '262144' bytes exceeded for stream '{app=\"x\"}' while adding an entry with length '300000' bytes",
        ]
    );
    // Limits switched off.
    let off = PushLimits {
        max_line_size: 0,
        reject_old_samples_max_age_ns: None,
        ..PushLimits::default()
    };
    let validated = validate_one(
        stream(
            &labels,
            vec![
                entry(0, "epoch"),
                entry(i64::MIN, "min"),
                entry(NOW_NS, &"z".repeat(1 << 20)),
            ],
        ),
        &off,
    );
    assert_eq!(
        (validated.accepted_entries(), validated.rejected_entries),
        (3, 0)
    );
    // Saturating arithmetic at the ends of time.
    let extreme = PushLimits {
        reject_old_samples_max_age_ns: Some(i64::MAX),
        creation_grace_period_ns: i64::MAX,
        ..PushLimits::default()
    };
    let validated = validate(
        vec![stream(
            &labels,
            vec![entry(i64::MIN, "a"), entry(i64::MAX, "b")],
        )],
        &extreme,
        0,
    );
    assert_eq!(validated.accepted_entries(), 1);
    assert_eq!(
        validated.rejections,
        vec!["entry for stream '{app=\"x\"}' has timestamp too old: 1677-09-21T00:12:43Z, oldest acceptable timestamp is: 1677-09-21T00:12:43Z"]
    );
    let validated = validate(
        vec![stream(
            &labels,
            vec![entry(i64::MIN, "a"), entry(i64::MAX, "b")],
        )],
        &extreme,
        i64::MIN,
    );
    assert_eq!(validated.rejected_entries, 1);
}

#[test]
fn rejections_are_capped_and_summarized() {
    let streams: Vec<PushedStream> = (0..5)
        .map(|index| {
            stream(
                &[("app", &format!("s{index}"))],
                (0..3)
                    .map(|line| entry(0, &format!("old {line}")))
                    .collect(),
            )
        })
        .chain([stream(
            &[("bad-name", "x")],
            vec![entry(NOW_NS, "a"), entry(NOW_NS, "b")],
        )])
        .chain([stream(&[("app", "good")], vec![entry(NOW_NS, "fine")])])
        .collect();
    let validated = validate(streams, &PushLimits::default(), NOW_NS);
    assert_eq!(validated.rejected_entries, 17);
    assert_eq!(validated.rejections.len(), MAX_LISTED_REJECTIONS);
    assert_eq!(validated.unlisted_rejections, 6);
    assert_eq!(validated.accepted_entries(), 1);
    let summary = validated.rejection_summary().unwrap();
    assert_eq!(summary.lines().count(), MAX_LISTED_REJECTIONS + 1);
    assert!(summary.starts_with(
        "entry for stream '{app=\"s0\"}' has timestamp too old: 1970-01-01T00:00:00Z, oldest acceptable timestamp is: 2023-11-07T22:13:20Z\n"
    ));
    assert!(summary.ends_with("\n(and 6 more)"), "{summary}");
}

#[test]
fn long_values_are_cut_in_messages() {
    let value = "v".repeat(5000);
    let message = only_rejection(
        stream(&[("app", &value)], vec![entry(NOW_NS, "x")]),
        &PushLimits::default(),
    );
    let shown = format!("{}…", "v".repeat(128));
    assert_eq!(
        message,
        format!("stream '{{app=\"{shown}\"}}' has label value too long: '{shown}' (5000 bytes; limit 2048)")
    );
}

#[test]
fn time_formatting_for_messages() {
    assert_eq!(rfc3339_seconds(0), "1970-01-01T00:00:00Z");
    assert_eq!(
        rfc3339_seconds(NOW_NS + 999_999_999),
        "2023-11-14T22:13:20Z"
    );
    assert_eq!(rfc3339_seconds(-1), "1969-12-31T23:59:59Z");
    assert_eq!(rfc3339_seconds(i64::MAX), "2262-04-11T23:47:16Z");
    assert_eq!(rfc3339_seconds(i64::MIN), "1677-09-21T00:12:43Z");
    assert_eq!(
        too_far_behind_message(NOW_NS - 3600 * SECOND_NS, NOW_NS - 1800 * SECOND_NS),
        "entry too far behind, entry timestamp is: 2023-11-14T21:13:20Z, oldest acceptable timestamp is: 2023-11-14T21:43:20Z"
    );
}

// --- properties ----------------------------------------------------------------------------

fn label_set() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,10}", ".{1,12}", 1..6)
        .prop_map(|labels| labels.into_iter().collect())
}

fn entries() -> impl Strategy<Value = Vec<PushedEntry>> {
    prop::collection::vec(
        (
            any::<i64>(),
            any::<String>(),
            prop::collection::vec((".{0,6}", ".{0,6}"), 0..3),
        )
            .prop_map(|(timestamp_ns, line, structured_metadata)| PushedEntry {
                timestamp_ns,
                line,
                structured_metadata,
            }),
        0..5,
    )
}

/// Streams with distinct label sets, as a decoder gives them back.
fn distinct_streams() -> impl Strategy<Value = Vec<PushedStream>> {
    prop::collection::btree_map(label_set(), entries(), 0..5).prop_map(|streams| {
        streams
            .into_iter()
            .map(|(labels, entries)| PushedStream { labels, entries })
            .collect()
    })
}

proptest! {
    #[test]
    fn random_streams_round_trip(streams in distinct_streams()) {
        let protobuf = encode_push_protobuf(&streams);
        prop_assert_eq!(&decode(&protobuf, PROTOBUF, None), &streams);
        let json = encode_push_json(&streams);
        prop_assert_eq!(&decode(&json, JSON, None), &streams);
        prop_assert_eq!(&decode(&gzip(&json), JSON, Some("gzip")), &streams);
    }

    #[test]
    fn validation_keeps_exactly_what_the_rules_allow(
        streams in distinct_streams(),
        max_age_s in 0i64..1_000,
        grace_s in 0i64..1_000,
        max_line in 0usize..8,
    ) {
        let limits = PushLimits {
            max_line_size: max_line,
            reject_old_samples_max_age_ns: Some(max_age_s * SECOND_NS),
            creation_grace_period_ns: grace_s * SECOND_NS,
            ..PushLimits::default()
        };
        let now = 0;
        let total: usize = streams.iter().map(|stream| stream.entries.len()).sum();
        let expected: Vec<PushedStream> = streams
            .iter()
            .map(|stream| PushedStream {
                labels: stream.labels.clone(),
                entries: stream
                    .entries
                    .iter()
                    .filter(|entry| {
                        entry.timestamp_ns >= now - max_age_s * SECOND_NS
                            && entry.timestamp_ns <= now + grace_s * SECOND_NS
                            && (max_line == 0 || entry.line.len() <= max_line)
                    })
                    .cloned()
                    .collect(),
            })
            .filter(|stream| !stream.entries.is_empty())
            .collect();
        let validated = validate(streams, &limits, now);
        prop_assert_eq!(validated.accepted_entries() + validated.rejected_entries, total);
        prop_assert_eq!(
            validated.rejections.len() + validated.unlisted_rejections,
            validated.rejected_entries
        );
        prop_assert_eq!(validated.streams, expected);
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let limits = PushLimits::default();
        for content_type in [None, PROTOBUF, JSON] {
            for encoding in [None, Some("gzip"), Some("deflate"), Some("snappy")] {
                let _ = decode_push(&bytes, content_type, encoding, &limits);
            }
            let _ = decode_push(&snappy(&bytes), content_type, None, &limits);
        }
    }

    #[test]
    fn flipped_bytes_never_panic(
        streams in distinct_streams(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut raw = push_request(&streams).encode_to_vec();
        let mut json = encode_push_json(&streams);
        for (position, byte) in &flips {
            if !raw.is_empty() {
                let index = position.index(raw.len());
                raw[index] = *byte;
            }
            let index = position.index(json.len());
            json[index] = *byte;
        }
        if let Ok(decoded) = decode_protobuf(&raw) {
            let validated = validate(decoded, &PushLimits::unlimited(), 0);
            for stream in &validated.streams {
                prop_assert!(stream.labels.windows(2).all(|pair| pair[0].0 < pair[1].0));
            }
        }
        let _ = decode_push(&json, JSON, None, &PushLimits::default());
    }
}
