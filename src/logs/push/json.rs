//! The JSON push body of `/loki/api/v1/push`:
//!
//! ```json
//! {"streams": [{"stream": {"app": "x"},
//!               "values": [["1700000000000000000", "line"],
//!                          ["1700000000000000001", "line", {"trace_id": "abc"}]]}]}
//! ```
//!
//! Timestamps are Unix nanoseconds as a decimal string (Loki's form) or a JSON integer.
//! The optional third element of an entry is its structured metadata; `null` there means
//! none. Somewhat more lenient than Loki, so that clients that send what Loki refuses still
//! get their lines in (winston-loki sends its log metadata object there, numbers
//! included): label and metadata values may be numbers or booleans (stored as their JSON
//! text) or `null` (the label or pair is left out), and a metadata value may be an object
//! or array (stored as compact JSON). A label value that is an object or array is an
//! error. Unknown fields are ignored; the legacy format of `/api/prom/push`
//! (`labels`/`entries`) is refused with a message saying so.
//!
//! Errors name where they are, e.g. `streams[2].values[5][0]`: the common path decodes
//! without tracking it, and a body that fails is decoded again with the path tracked.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::error::PushError;
use super::labels::normalize;
use super::stream::{PushedEntry, PushedStream, StreamMerger};

/// Decodes an uncompressed JSON push body.
pub fn decode_json(body: &[u8]) -> Result<Vec<PushedStream>, PushError> {
    let request: JsonPush = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(error) => return Err(located_error(body, error)),
    };
    let mut merger = StreamMerger::with_capacity(request.streams.len());
    for JsonStream {
        mut labels,
        entries,
    } in request.streams
    {
        normalize(&mut labels);
        merger.push(labels, entries);
    }
    Ok(merger.finish())
}

/// Decodes again, tracking the path, to say where `error` is.
fn located_error(body: &[u8], error: serde_json::Error) -> PushError {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, JsonPush>(&mut deserializer) {
        Err(located) => {
            let path = located.path().to_string();
            let detail = located.into_inner().to_string();
            PushError::Json {
                // `.` is the top level, `?` a place serde could not name.
                detail: if path == "." || path == "?" {
                    detail
                } else {
                    format!("at {path}: {detail}")
                },
            }
        }
        // Only trailing characters fail after a successful decode; they have no path.
        Ok(_) => PushError::Json {
            detail: error.to_string(),
        },
    }
}

struct JsonPush {
    streams: Vec<JsonStream>,
}

impl<'de> Deserialize<'de> for JsonPush {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(PushVisitor)
    }
}

struct PushVisitor;

impl<'de> Visitor<'de> for PushVisitor {
    type Value = JsonPush;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a push request object {\"streams\": […]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonPush, A::Error> {
        let mut streams = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "streams" {
                if streams.is_some() {
                    return Err(de::Error::duplicate_field("streams"));
                }
                streams = Some(map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        let streams = streams.ok_or_else(|| de::Error::missing_field("streams"))?;
        Ok(JsonPush { streams })
    }
}

struct JsonStream {
    labels: Vec<(String, String)>,
    entries: Vec<PushedEntry>,
}

const LEGACY_FORMAT: &str = "this stream is in the legacy push format of /api/prom/push \
     ({\"labels\": \"{…}\", \"entries\": [{\"ts\": …, \"line\": …}]}); send \
     {\"stream\": {\"name\": \"value\"}, \"values\": [[\"<unix nanoseconds>\", \"<line>\"]]} \
     instead (python-logging-loki: pass version=\"1\")";

impl<'de> Deserialize<'de> for JsonStream {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(StreamVisitor)
    }
}

struct StreamVisitor;

impl<'de> Visitor<'de> for StreamVisitor {
    type Value = JsonStream;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a stream object {\"stream\": {…}, \"values\": […]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonStream, A::Error> {
        let mut labels: Option<Vec<(String, String)>> = None;
        let mut entries: Option<Vec<PushedEntry>> = None;
        let mut legacy = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "stream" => {
                    if labels.is_some() {
                        return Err(de::Error::duplicate_field("stream"));
                    }
                    let value: Option<JsonLabels> = map.next_value()?;
                    labels = Some(value.map(|labels| labels.0).unwrap_or_default());
                }
                "values" => {
                    if entries.is_some() {
                        return Err(de::Error::duplicate_field("values"));
                    }
                    let value: Vec<JsonEntry> = map.next_value()?;
                    entries = Some(value.into_iter().map(|entry| entry.0).collect());
                }
                "labels" | "entries" => {
                    legacy = true;
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let Some(entries) = entries else {
            if legacy {
                return Err(de::Error::custom(LEGACY_FORMAT));
            }
            return Err(de::Error::missing_field("values"));
        };
        Ok(JsonStream {
            // A missing stream object is an empty label set, which validation refuses
            // with Loki's message.
            labels: labels.unwrap_or_default(),
            entries,
        })
    }
}

/// The `stream` object: label pairs in the order sent, duplicates kept (validation
/// reports them), `null` values left out.
struct JsonLabels(Vec<(String, String)>);

impl<'de> Deserialize<'de> for JsonLabels {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(LabelsVisitor)
    }
}

struct LabelsVisitor;

impl<'de> Visitor<'de> for LabelsVisitor {
    type Value = JsonLabels;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of label names to string values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonLabels, A::Error> {
        let mut labels = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(name) = map.next_key::<String>()? {
            if let ScalarText(Some(value)) = map.next_value()? {
                labels.push((name, value));
            }
        }
        Ok(JsonLabels(labels))
    }
}

/// A string, number or boolean as text; `null` as `None`. Objects and arrays are errors.
struct ScalarText(Option<String>);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = ScalarText;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string value")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<ScalarText, E> {
        Ok(ScalarText(Some(value.to_owned())))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<ScalarText, E> {
        Ok(ScalarText(Some(value)))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<ScalarText, E> {
        Ok(ScalarText(Some(value.to_string())))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<ScalarText, E> {
        Ok(ScalarText(Some(value.to_string())))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<ScalarText, E> {
        Ok(ScalarText(Some(value.to_string())))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<ScalarText, E> {
        Ok(ScalarText(Some(
            serde_json::Number::from_f64(value)
                .map(|number| number.to_string())
                .unwrap_or_else(|| value.to_string()),
        )))
    }

    fn visit_unit<E: de::Error>(self) -> Result<ScalarText, E> {
        Ok(ScalarText(None))
    }

    fn visit_none<E: de::Error>(self) -> Result<ScalarText, E> {
        Ok(ScalarText(None))
    }
}

/// One entry of `values`: `[timestamp, line]` or `[timestamp, line, metadata]`.
struct JsonEntry(PushedEntry);

impl<'de> Deserialize<'de> for JsonEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(EntryVisitor)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = JsonEntry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "an entry [\"<unix nanoseconds>\", \"<line>\"] or \
             [\"<unix nanoseconds>\", \"<line>\", {<structured metadata>}]",
        )
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonEntry, A::Error> {
        let JsonTimestamp(timestamp_ns) = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let line: String = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        let structured_metadata = seq
            .next_element::<Option<JsonMetadata>>()?
            .flatten()
            .map(|metadata| metadata.0)
            .unwrap_or_default();
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(
                "an entry has at most 3 elements: timestamp, line and structured metadata",
            ));
        }
        Ok(JsonEntry(PushedEntry {
            timestamp_ns,
            line,
            structured_metadata,
        }))
    }
}

/// Unix nanoseconds: a decimal string (optionally signed) or a JSON integer.
struct JsonTimestamp(i64);

impl<'de> Deserialize<'de> for JsonTimestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TimestampVisitor)
    }
}

struct TimestampVisitor;

const OUT_OF_RANGE: &str =
    "is outside what 64-bit nanoseconds since 1970 hold (years 1678 to 2262)";

impl<'de> Visitor<'de> for TimestampVisitor {
    type Value = JsonTimestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a timestamp in Unix nanoseconds as a string of digits")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<JsonTimestamp, E> {
        let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            let shown = super::labels::cut(text, 64);
            return Err(E::custom(format!(
                "invalid timestamp {shown:?}: expected Unix nanoseconds as a string of digits"
            )));
        }
        text.parse()
            .map(JsonTimestamp)
            .map_err(|_| E::custom(format!("timestamp {text} {OUT_OF_RANGE}")))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<JsonTimestamp, E> {
        Ok(JsonTimestamp(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<JsonTimestamp, E> {
        i64::try_from(value)
            .map(JsonTimestamp)
            .map_err(|_| E::custom(format!("timestamp {value} {OUT_OF_RANGE}")))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<JsonTimestamp, E> {
        Err(E::custom(format!(
            "invalid timestamp {value}: expected whole Unix nanoseconds, best as a string of digits"
        )))
    }
}

/// The structured metadata object of an entry, pairs in the order sent.
struct JsonMetadata(Vec<(String, String)>);

impl<'de> Deserialize<'de> for JsonMetadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MetadataVisitor)
    }
}

struct MetadataVisitor;

impl<'de> Visitor<'de> for MetadataVisitor {
    type Value = JsonMetadata;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of structured metadata names to string values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonMetadata, A::Error> {
        let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(4));
        while let Some(name) = map.next_key::<String>()? {
            let value = match map.next_value::<serde_json::Value>()? {
                serde_json::Value::Null => continue,
                serde_json::Value::String(text) => text,
                serde_json::Value::Bool(flag) => flag.to_string(),
                serde_json::Value::Number(number) => number.to_string(),
                nested @ (serde_json::Value::Array(_) | serde_json::Value::Object(_)) => {
                    nested.to_string()
                }
            };
            pairs.push((name, value));
        }
        Ok(JsonMetadata(pairs))
    }
}
