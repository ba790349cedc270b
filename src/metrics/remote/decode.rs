//! From request body to [`DecodedWrite`]: pick the message from the `Content-Type`, check
//! the `Content-Encoding`, undo the snappy block compression under a size limit, then walk
//! the protobuf without allocating per label, validating each series as it goes.
//!
//! A body that is not valid snappy or protobuf fails the whole request; a series that
//! breaks a label rule is rejected on its own and the rest is still decoded, as Prometheus
//! does (it stores the good series and answers 400 naming the bad ones).

use std::fmt;

use super::batch::{BatchBuilder, DecodedWrite, TextSpan, WriteStats};
use super::histogram::decode_histogram;
use super::validate::{
    check_label, check_label_set, render_series, shown, shown_lossy, CheckedLabel, DecodeLimits,
    SeriesProblem,
};
use super::wire::{Reader, WireError, WireType};
use crate::metrics::tsdb::index::SeriesRef;
use crate::metrics::tsdb::{SeriesKey, SeriesKeyHasher};

/// Finds stored series by key (see [`SeriesKey`]), in order. A decoder given one computes
/// the key of each 1.0 series from its label bytes as sent, and does not decode or check
/// the labels of the series it finds: senders repeat the same series in every request.
pub type KnownSeries<'a> = &'a dyn Fn(&[SeriesKey]) -> Vec<Option<SeriesRef>>;

/// Which remote-write message a body holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Remote write 1.0, `prometheus.WriteRequest`.
    V1,
    /// Remote write 2.0, `io.prometheus.write.v2.Request`.
    V2,
}

impl Protocol {
    /// The fully qualified protobuf message name, as in `Content-Type: …;proto=<name>`.
    pub fn message_name(self) -> &'static str {
        match self {
            Protocol::V1 => "prometheus.WriteRequest",
            Protocol::V2 => "io.prometheus.write.v2.Request",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::V1 => "1.0",
            Protocol::V2 => "2.0",
        })
    }
}

const SUPPORTED_CONTENT_TYPES: &str = "application/x-protobuf (remote write 1.0), \
     application/x-protobuf;proto=prometheus.WriteRequest (1.0) and \
     application/x-protobuf;proto=io.prometheus.write.v2.Request (2.0)";

/// A request that cannot be decoded at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RemoteWriteError {
    #[error("unsupported content type {content_type:?}: supported are {supported}", supported = SUPPORTED_CONTENT_TYPES)]
    UnsupportedContentType { content_type: String },
    #[error(
        "unsupported content encoding {content_encoding:?}: only snappy (block format) is supported"
    )]
    UnsupportedContentEncoding { content_encoding: String },
    #[error("decompressed body would be {size} bytes, over the limit of {limit} bytes")]
    BodyTooLarge { size: u64, limit: usize },
    #[error("invalid snappy block: {0}")]
    Snappy(String),
    #[error("invalid remote write {protocol} body ({message}) at byte {offset}: {detail}", message = protocol.message_name())]
    Protobuf {
        protocol: Protocol,
        offset: usize,
        detail: &'static str,
    },
}

/// How the handler should answer a [`RemoteWriteError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoteWriteErrorKind {
    /// Content type or encoding not supported: 415, senders may retry with another.
    UnsupportedMediaType,
    /// Body over the decompressed size limit: 413.
    TooLarge,
    /// Malformed body: 400, never retried.
    BadRequest,
}

impl RemoteWriteError {
    pub fn kind(&self) -> RemoteWriteErrorKind {
        match self {
            RemoteWriteError::UnsupportedContentType { .. }
            | RemoteWriteError::UnsupportedContentEncoding { .. } => {
                RemoteWriteErrorKind::UnsupportedMediaType
            }
            RemoteWriteError::BodyTooLarge { .. } => RemoteWriteErrorKind::TooLarge,
            RemoteWriteError::Snappy(_) | RemoteWriteError::Protobuf { .. } => {
                RemoteWriteErrorKind::BadRequest
            }
        }
    }

    fn protobuf(protocol: Protocol, error: WireError) -> Self {
        RemoteWriteError::Protobuf {
            protocol,
            offset: error.offset,
            detail: error.detail,
        }
    }
}

/// Decodes one remote-write request body: negotiation, decompression, protobuf,
/// validation. `content_type` / `content_encoding` are the raw header values, `None` when
/// absent.
pub fn decode_write_request(
    body: &[u8],
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    limits: &DecodeLimits,
) -> Result<DecodedWrite, RemoteWriteError> {
    let protocol = protocol_from_content_type(content_type)?;
    check_content_encoding(content_encoding)?;
    let decompressed = decompress_snappy(body, limits.max_decompressed_bytes)?;
    decode_protobuf(protocol, decompressed, limits)
}

/// The message a `Content-Type` announces: `application/x-protobuf` or a missing header
/// mean 1.0, `;proto=prometheus.WriteRequest` 1.0, `;proto=io.prometheus.write.v2.Request`
/// 2.0. Media type and parameter names are case-insensitive (RFC 9110), other parameters
/// are ignored; anything else is an error listing what is supported.
pub fn protocol_from_content_type(
    content_type: Option<&str>,
) -> Result<Protocol, RemoteWriteError> {
    let Some(content_type) = content_type.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(Protocol::V1);
    };
    let unsupported = || RemoteWriteError::UnsupportedContentType {
        content_type: shown(content_type),
    };
    let mut parts = content_type.split(';');
    let media_type = parts.next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("application/x-protobuf") {
        return Err(unsupported());
    }
    let mut protocol = Protocol::V1;
    for parameter in parts {
        let parameter = parameter.trim();
        if parameter.is_empty() {
            continue;
        }
        let Some((name, value)) = parameter.split_once('=') else {
            return Err(unsupported());
        };
        if !name.trim().eq_ignore_ascii_case("proto") {
            continue;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|inner| inner.strip_suffix('"'))
            .unwrap_or(value);
        protocol = match value {
            "prometheus.WriteRequest" => Protocol::V1,
            "io.prometheus.write.v2.Request" => Protocol::V2,
            _ => return Err(unsupported()),
        };
    }
    Ok(protocol)
}

/// Accepts `snappy` (any case) and a missing header: 1.0 senders that omit it have always
/// been read as snappy, as Prometheus does.
pub fn check_content_encoding(content_encoding: Option<&str>) -> Result<(), RemoteWriteError> {
    match content_encoding.map(str::trim) {
        None | Some("") => Ok(()),
        Some(encoding) if encoding.eq_ignore_ascii_case("snappy") => Ok(()),
        Some(encoding) => Err(RemoteWriteError::UnsupportedContentEncoding {
            content_encoding: shown(encoding),
        }),
    }
}

/// Undoes snappy block (not framed) compression. The length the block declares is checked
/// against `max_len` (capped at 4 GiB) before anything is allocated.
pub fn decompress_snappy(body: &[u8], max_len: usize) -> Result<Vec<u8>, RemoteWriteError> {
    let limit = max_len.min(u32::MAX as usize);
    let size = snap::raw::decompress_len(body).map_err(snappy_error)?;
    if size > limit {
        return Err(RemoteWriteError::BodyTooLarge {
            size: size as u64,
            limit,
        });
    }
    let mut out = vec![0u8; size];
    let written = snap::raw::Decoder::new()
        .decompress(body, &mut out)
        .map_err(snappy_error)?;
    out.truncate(written);
    Ok(out)
}

fn snappy_error(error: snap::Error) -> RemoteWriteError {
    let message = error.to_string();
    RemoteWriteError::Snappy(message.trim_start_matches("snappy: ").to_owned())
}

/// Decodes an uncompressed protobuf body of the given protocol. The batch keeps `body`:
/// label text is read from it in place.
pub fn decode_protobuf(
    protocol: Protocol,
    body: Vec<u8>,
    limits: &DecodeLimits,
) -> Result<DecodedWrite, RemoteWriteError> {
    decode_protobuf_known(protocol, body, limits, None)
}

/// [`decode_protobuf`] that skips the labels of series `known` finds (1.0 only: 2.0
/// labels are references into a per-request symbol table, so their bytes change).
pub fn decode_protobuf_known(
    protocol: Protocol,
    body: Vec<u8>,
    limits: &DecodeLimits,
    known: Option<KnownSeries<'_>>,
) -> Result<DecodedWrite, RemoteWriteError> {
    let limit = limits.max_decompressed_bytes.min(u32::MAX as usize);
    if body.len() > limit {
        return Err(RemoteWriteError::BodyTooLarge {
            size: body.len() as u64,
            limit,
        });
    }
    let builder = match protocol {
        Protocol::V1 => decode_v1(&body, limits, known),
        Protocol::V2 => decode_v2(&body, limits),
    };
    match builder {
        Ok(builder) => Ok(builder.finish(body)),
        Err(error) => Err(RemoteWriteError::protobuf(protocol, error)),
    }
}

fn expect_wire_type(
    reader: &Reader<'_>,
    actual: WireType,
    expected: WireType,
) -> Result<(), WireError> {
    if actual == expected {
        Ok(())
    } else {
        Err(reader.error("wrong wire type for a known field"))
    }
}

// ---------------------------------------------------------------------------------------
// Remote write 1.0

/// `WriteRequest`: 1 = TimeSeries, 3 = MetricMetadata.
fn decode_v1(
    body: &[u8],
    limits: &DecodeLimits,
    known: Option<KnownSeries<'_>>,
) -> Result<BatchBuilder, WireError> {
    // A node_exporter-like label takes about 20 bytes on the wire.
    let mut builder = BatchBuilder::new(Protocol::V1, body, 20);
    let mut labels = Vec::with_capacity(32);
    let mut lookups = known.map_or_else(Vec::new, |find| v1_known_series(body, find));
    lookups.reverse();
    let mut reader = Reader::new(body);
    let mut index = 0;
    while !reader.is_empty() {
        let (field, wire_type) = reader.read_key()?;
        match field {
            1 => {
                expect_wire_type(&reader, wire_type, WireType::Len)?;
                let series = reader.read_message()?;
                let lookup = lookups.pop().unwrap_or_default();
                decode_v1_series(series, index, lookup, &mut builder, &mut labels, limits)?;
                index += 1;
            }
            3 => {
                expect_wire_type(&reader, wire_type, WireType::Len)?;
                reader.read_len()?;
                builder.add_metadata(1);
            }
            _ => reader.skip(field, wire_type)?,
        }
    }
    Ok(builder)
}

/// What the key lookup found for one 1.0 series: its key (`None` for a series that carries
/// histograms, whose labels are always decoded) and the stored series with that key.
#[derive(Clone, Copy, Default)]
struct SeriesLookup {
    key: Option<SeriesKey>,
    known: Option<SeriesRef>,
}

/// Keys every 1.0 series of `body` and looks them all up at once, in request order. Empty
/// when the body is malformed: the decode proper then finds and reports the problem.
fn v1_known_series(body: &[u8], find: KnownSeries<'_>) -> Vec<SeriesLookup> {
    let mut keys = Vec::new();
    let mut reader = Reader::new(body);
    while !reader.is_empty() {
        let Ok((field, wire_type)) = reader.read_key() else {
            return Vec::new();
        };
        let scanned = match (field, wire_type) {
            (1, WireType::Len) => reader.read_message().and_then(v1_series_key).map(Some),
            _ => reader.skip(field, wire_type).map(|()| None),
        };
        match scanned {
            Ok(Some(key)) => keys.push(key),
            Ok(None) => {}
            Err(_) => return Vec::new(),
        }
    }
    let wanted: Vec<SeriesKey> = keys.iter().flatten().copied().collect();
    let mut found = find(&wanted).into_iter();
    keys.into_iter()
        .map(|key| SeriesLookup {
            key,
            known: key.and_then(|_| found.next().flatten()),
        })
        .collect()
}

/// The key of a 1.0 `TimeSeries`: its label fields' bytes as sent (key, length and
/// `Label` message each), in order. `None` if it carries histograms.
fn v1_series_key(mut series: Reader<'_>) -> Result<Option<SeriesKey>, WireError> {
    let mut hasher = SeriesKeyHasher::new();
    // Labels normally come as one run of fields: hash runs, not fields.
    let mut run: &[u8] = &[];
    let mut run_len = 0;
    while !series.is_empty() {
        let before = series.remaining();
        let (field, wire_type) = series.read_key()?;
        if field == 1 && wire_type == WireType::Len {
            series.read_len()?;
            if run_len == 0 {
                run = before;
            }
            run_len += before.len() - series.remaining().len();
            continue;
        }
        if field == 4 {
            return Ok(None);
        }
        if run_len > 0 {
            hasher.write(&run[..run_len]);
            run_len = 0;
        }
        series.skip(field, wire_type)?;
    }
    if run_len > 0 {
        hasher.write(&run[..run_len]);
    }
    Ok(Some(hasher.finish()))
}

/// `TimeSeries`: 1 = Label, 2 = Sample, 3 = Exemplar, 4 = Histogram.
#[inline]
fn decode_v1_series<'a>(
    mut series: Reader<'a>,
    index: usize,
    lookup: SeriesLookup,
    builder: &mut BatchBuilder,
    labels: &mut Vec<CheckedLabel<'a>>,
    limits: &DecodeLimits,
) -> Result<(), WireError> {
    let whole_series = series.clone();
    labels.clear();
    builder.open_series();
    if let Some(key) = lookup.key {
        builder.set_series_key(key);
    }
    let mut counts = WriteStats::default();
    let mut problem = None;
    while !series.is_empty() {
        let (field, wire_type) = series.read_key()?;
        match field {
            1 => {
                expect_wire_type(&series, wire_type, WireType::Len)?;
                if lookup.known.is_some() {
                    // The same bytes were decoded and checked when the series was stored.
                    series.read_len()?;
                    continue;
                }
                let (name, value) = read_v1_label(series.read_message()?)?;
                if problem.is_some() {
                    continue;
                }
                let name_span = builder.label_name_span(name);
                let value_span = builder.utf8_span(value);
                if let Err(found) = check_label(name, value, name_span, value_span, limits, labels)
                {
                    problem = Some(found);
                }
            }
            2 => {
                expect_wire_type(&series, wire_type, WireType::Len)?;
                let (timestamp, value) = read_v1_sample(series.read_message()?)?;
                builder.push_sample(timestamp, value, 0);
                counts.samples += 1;
            }
            3 => {
                expect_wire_type(&series, wire_type, WireType::Len)?;
                series.read_len()?;
                counts.exemplars += 1;
            }
            4 => {
                expect_wire_type(&series, wire_type, WireType::Len)?;
                let (bytes, _) = series.read_len()?;
                counts.histograms += 1;
                match decode_histogram(bytes) {
                    Ok((timestamp, histogram)) => builder.push_histogram(timestamp, histogram),
                    Err(message) => {
                        problem.get_or_insert(SeriesProblem::InvalidHistogram(message));
                    }
                }
            }
            _ => series.skip(field, wire_type)?,
        }
    }
    let checked = match problem {
        Some(problem) => Err(problem),
        None if lookup.known.is_some() => Ok(()),
        None => check_label_set(labels, limits),
    };
    match (checked, lookup.known) {
        (Ok(()), Some(series_ref)) => builder.commit_known_series(series_ref, counts),
        (Ok(()), None) => builder.commit_series(labels, counts),
        (Err(problem), _) => {
            builder.reject_series(index, || render_v1_series(whole_series), problem, counts);
        }
    }
    Ok(())
}

/// `Label`: 1 = name, 2 = value; both default to empty.
#[inline(always)]
fn read_v1_label(label: Reader<'_>) -> Result<(&[u8], &[u8]), WireError> {
    // Fast path for the layout every encoder writes for short strings: key 1, one-byte
    // length, name, key 2, one-byte length, value, nothing else.
    let bytes = label.remaining();
    if let [0x0a, name_len, rest @ ..] = bytes {
        let name_len = usize::from(*name_len);
        if name_len < 0x80 {
            if let Some((name, [0x12, value_len, value @ ..])) = rest.split_at_checked(name_len) {
                if usize::from(*value_len) == value.len() && value.len() < 0x80 {
                    return Ok((name, value));
                }
            }
        }
    }
    read_v1_label_fields(label)
}

/// [`read_v1_label`] for any field order, repeated or unknown fields, long strings.
fn read_v1_label_fields(mut label: Reader<'_>) -> Result<(&[u8], &[u8]), WireError> {
    let mut name: &[u8] = &[];
    let mut value: &[u8] = &[];
    while !label.is_empty() {
        let (field, wire_type) = label.read_key()?;
        match field {
            1 => {
                expect_wire_type(&label, wire_type, WireType::Len)?;
                name = label.read_len()?.0;
            }
            2 => {
                expect_wire_type(&label, wire_type, WireType::Len)?;
                value = label.read_len()?.0;
            }
            _ => label.skip(field, wire_type)?,
        }
    }
    Ok((name, value))
}

/// `Sample`: 1 = value (double), 2 = timestamp (int64 ms). Returns `(timestamp, value)`.
#[inline(always)]
fn read_v1_sample(mut sample: Reader<'_>) -> Result<(i64, f64), WireError> {
    let mut timestamp = 0;
    let mut value = 0.0;
    while !sample.is_empty() {
        let (field, wire_type) = sample.read_key()?;
        match field {
            1 => {
                expect_wire_type(&sample, wire_type, WireType::Fixed64)?;
                value = f64::from_bits(sample.read_fixed64()?);
            }
            2 => {
                expect_wire_type(&sample, wire_type, WireType::Varint)?;
                // int64 travels as its two's complement in a varint.
                timestamp = sample.read_varint()? as i64;
            }
            _ => sample.skip(field, wire_type)?,
        }
    }
    Ok((timestamp, value))
}

/// The label set of a rejected 1.0 series as sent, for its message. Runs again over bytes
/// the first pass already walked, so it cannot meet malformed protobuf; it stops quietly
/// if it did. Keeps `__name__` and the first labels only.
fn render_v1_series(mut series: Reader<'_>) -> String {
    let mut shown_labels: Vec<(String, String)> = Vec::new();
    while !series.is_empty() {
        let Ok((field, wire_type)) = series.read_key() else {
            break;
        };
        if field != 1 || wire_type != WireType::Len {
            if series.skip(field, wire_type).is_err() {
                break;
            }
            continue;
        }
        let Ok((name, value)) = series.read_message().and_then(read_v1_label) else {
            break;
        };
        if shown_labels.len() < RENDERED_LABELS || name == b"__name__" {
            shown_labels.push((shown_lossy(name), shown_lossy(value)));
        }
    }
    render_series(shown_labels.iter().map(|(n, v)| (n.as_str(), v.as_str())))
}

/// Labels collected for a rejected series' message (the renderer shows 32 and `…`).
const RENDERED_LABELS: usize = 33;

// ---------------------------------------------------------------------------------------
// Remote write 2.0

/// One entry of `Request.symbols`, checked once however often it is referenced. Twelve
/// bytes, so that a body of tiny symbols cannot make the table much larger than itself.
#[derive(Clone, Copy)]
enum Symbol {
    /// A valid label name (so also valid text).
    Name(TextSpan),
    /// Valid UTF-8 that is not a label name.
    Text(TextSpan),
    /// Not UTF-8: the byte range, for messages.
    NotUtf8 { start: u32, end: u32 },
}

impl Symbol {
    fn name_span(self) -> Option<TextSpan> {
        match self {
            Symbol::Name(span) => Some(span),
            Symbol::Text(_) | Symbol::NotUtf8 { .. } => None,
        }
    }

    fn text_span(self) -> Option<TextSpan> {
        match self {
            Symbol::Name(span) | Symbol::Text(span) => Some(span),
            Symbol::NotUtf8 { .. } => None,
        }
    }

    fn bytes(self, body: &[u8]) -> &[u8] {
        let range = match self {
            Symbol::Name(span) | Symbol::Text(span) => span.range(),
            Symbol::NotUtf8 { start, end } => start as usize..end as usize,
        };
        body.get(range).unwrap_or_default()
    }
}

/// `Request`: 4 = symbols, 5 = TimeSeries. Symbols may in principle follow the series, so
/// a first pass collects them and a second decodes the series. The spec's `symbols[0] ==
/// ""` is not enforced: nothing here depends on it.
fn decode_v2(body: &[u8], limits: &DecodeLimits) -> Result<BatchBuilder, WireError> {
    // Two bytes per label reference, two references per label.
    let mut builder = BatchBuilder::new(Protocol::V2, body, 4);
    let mut symbols = Vec::new();
    let mut reader = Reader::new(body);
    while !reader.is_empty() {
        let (field, wire_type) = reader.read_key()?;
        match field {
            4 => {
                expect_wire_type(&reader, wire_type, WireType::Len)?;
                let (raw, offset) = reader.read_len()?;
                let symbol = if let Some(span) = builder.label_name_span(raw) {
                    Symbol::Name(span)
                } else if let Some(span) = builder.utf8_span(raw) {
                    Symbol::Text(span)
                } else {
                    // The body is at most 4 GiB, so offsets fit.
                    Symbol::NotUtf8 {
                        start: offset as u32,
                        end: (offset + raw.len()) as u32,
                    }
                };
                symbols.push(symbol);
            }
            5 => {
                expect_wire_type(&reader, wire_type, WireType::Len)?;
                reader.read_len()?;
            }
            _ => reader.skip(field, wire_type)?,
        }
    }

    let mut refs = Vec::with_capacity(64);
    let mut labels = Vec::with_capacity(32);
    let mut reader = Reader::new(body);
    let mut index = 0;
    while !reader.is_empty() {
        let (field, wire_type) = reader.read_key()?;
        if field == 5 {
            let series = reader.read_message()?;
            let scratch = V2Scratch {
                refs: &mut refs,
                labels: &mut labels,
            };
            let table = SymbolTable {
                body,
                symbols: &symbols,
            };
            decode_v2_series(series, index, table, &mut builder, scratch, limits)?;
            index += 1;
        } else {
            // Checked by the first pass.
            reader.skip(field, wire_type)?;
        }
    }
    Ok(builder)
}

#[derive(Clone, Copy)]
struct SymbolTable<'s, 'a> {
    body: &'a [u8],
    symbols: &'s [Symbol],
}

impl<'a> SymbolTable<'_, 'a> {
    fn get(&self, reference: u64) -> Option<(Symbol, &'a [u8])> {
        let symbol = *self.symbols.get(usize::try_from(reference).ok()?)?;
        Some((symbol, symbol.bytes(self.body)))
    }
}

struct V2Scratch<'s, 'a> {
    refs: &'s mut Vec<u64>,
    labels: &'s mut Vec<CheckedLabel<'a>>,
}

/// `TimeSeries`: 1 = labels_refs, 2 = Sample, 3 = Histogram, 4 = Exemplar, 5 = Metadata,
/// 6 = created timestamp of the pre-rc.4 drafts. A series carrying both samples and
/// histograms (which the spec forbids) is not refused: its samples are kept.
#[inline]
fn decode_v2_series<'a>(
    mut series: Reader<'a>,
    index: usize,
    symbols: SymbolTable<'_, 'a>,
    builder: &mut BatchBuilder,
    scratch: V2Scratch<'_, 'a>,
    limits: &DecodeLimits,
) -> Result<(), WireError> {
    let V2Scratch { refs, labels } = scratch;
    refs.clear();
    labels.clear();
    builder.open_series();
    let mut counts = WriteStats::default();
    let mut created_timestamp = 0;
    let mut histogram_problem = None;
    while !series.is_empty() {
        let (field, wire_type) = series.read_key()?;
        match field {
            1 => match wire_type {
                WireType::Varint => refs.push(series.read_varint()?),
                WireType::Len => {
                    let mut packed = series.read_message()?;
                    while !packed.is_empty() {
                        refs.push(packed.read_varint()?);
                    }
                }
                _ => return Err(series.error("wrong wire type for a known field")),
            },
            2 => {
                expect_wire_type(&series, wire_type, WireType::Len)?;
                let sample = read_v2_sample(series.read_message()?)?;
                builder.push_sample(sample.timestamp, sample.value, sample.start_timestamp);
                counts.samples += 1;
            }
            3 => {
                expect_wire_type(&series, wire_type, WireType::Len)?;
                let (bytes, _) = series.read_len()?;
                counts.histograms += 1;
                match decode_histogram(bytes) {
                    Ok((timestamp, histogram)) => builder.push_histogram(timestamp, histogram),
                    Err(message) => {
                        histogram_problem.get_or_insert(SeriesProblem::InvalidHistogram(message));
                    }
                }
            }
            4 => {
                expect_wire_type(&series, wire_type, WireType::Len)?;
                series.read_len()?;
                counts.exemplars += 1;
            }
            5 => {
                expect_wire_type(&series, wire_type, WireType::Len)?;
                if !read_v2_metadata_is_empty(series.read_message()?)? {
                    counts.metadata = 1;
                }
            }
            6 => {
                expect_wire_type(&series, wire_type, WireType::Varint)?;
                created_timestamp = series.read_varint()? as i64;
            }
            _ => series.skip(field, wire_type)?,
        }
    }
    builder.fill_start_timestamps(created_timestamp);

    let checked = resolve_labels(refs, symbols, labels, limits)
        .and_then(|()| check_label_set(labels, limits))
        .and_then(|()| histogram_problem.map_or(Ok(()), Err));
    match checked {
        Ok(()) => builder.commit_series(labels, counts),
        Err(problem) => {
            builder.reject_series(index, || render_v2_series(refs, symbols), problem, counts);
        }
    }
    Ok(())
}

/// Turns name/value symbol references into checked labels, checking every reference.
#[inline]
fn resolve_labels<'a>(
    refs: &[u64],
    symbols: SymbolTable<'_, 'a>,
    labels: &mut Vec<CheckedLabel<'a>>,
    limits: &DecodeLimits,
) -> Result<(), SeriesProblem> {
    if !refs.len().is_multiple_of(2) {
        return Err(SeriesProblem::OddLabelRefs(refs.len()));
    }
    let lookup = |reference: u64| {
        symbols
            .get(reference)
            .ok_or(SeriesProblem::SymbolOutOfRange {
                reference,
                symbols: symbols.symbols.len(),
            })
    };
    for pair in refs.chunks_exact(2) {
        let (name, name_bytes) = lookup(pair[0])?;
        let (value, value_bytes) = lookup(pair[1])?;
        check_label(
            name_bytes,
            value_bytes,
            name.name_span(),
            value.text_span(),
            limits,
            labels,
        )?;
    }
    Ok(())
}

struct V2Sample {
    value: f64,
    timestamp: i64,
    start_timestamp: i64,
}

/// `Sample`: 1 = value (double), 2 = timestamp, 3 = start timestamp (int64 ms, 0 = unset).
fn read_v2_sample(mut sample: Reader<'_>) -> Result<V2Sample, WireError> {
    let mut out = V2Sample {
        value: 0.0,
        timestamp: 0,
        start_timestamp: 0,
    };
    while !sample.is_empty() {
        let (field, wire_type) = sample.read_key()?;
        match field {
            1 => {
                expect_wire_type(&sample, wire_type, WireType::Fixed64)?;
                out.value = f64::from_bits(sample.read_fixed64()?);
            }
            2 => {
                expect_wire_type(&sample, wire_type, WireType::Varint)?;
                out.timestamp = sample.read_varint()? as i64;
            }
            3 => {
                expect_wire_type(&sample, wire_type, WireType::Varint)?;
                out.start_timestamp = sample.read_varint()? as i64;
            }
            _ => sample.skip(field, wire_type)?,
        }
    }
    Ok(out)
}

/// `Metadata`: 1 = type, 3 = help_ref, 4 = unit_ref. True when all are zero (unset).
/// References are not resolved: metadata is only counted for now.
fn read_v2_metadata_is_empty(mut metadata: Reader<'_>) -> Result<bool, WireError> {
    let mut empty = true;
    while !metadata.is_empty() {
        let (field, wire_type) = metadata.read_key()?;
        match field {
            1 | 3 | 4 => {
                expect_wire_type(&metadata, wire_type, WireType::Varint)?;
                empty &= metadata.read_varint()? == 0;
            }
            _ => metadata.skip(field, wire_type)?,
        }
    }
    Ok(empty)
}

/// The label set of a rejected 2.0 series as sent; bad references show as `<ref N>`.
fn render_v2_series(refs: &[u64], symbols: SymbolTable<'_, '_>) -> String {
    let text = |reference: u64| match symbols.get(reference) {
        Some((_, bytes)) => shown_lossy(bytes),
        None => format!("<ref {reference}>"),
    };
    let mut shown_labels: Vec<(String, String)> = Vec::new();
    for pair in refs.chunks(2) {
        let name = text(pair[0]);
        if shown_labels.len() >= RENDERED_LABELS && name != "__name__" {
            continue;
        }
        let value = pair
            .get(1)
            .map(|&reference| text(reference))
            .unwrap_or_default();
        shown_labels.push((name, value));
    }
    render_series(shown_labels.iter().map(|(n, v)| (n.as_str(), v.as_str())))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use prost::Message;

    use super::*;
    use crate::metrics::remote::batch::OwnedSeries;
    use crate::metrics::remote::encode::{
        encode_write_request_v1, encode_write_request_v2, snappy_compress, SeriesToEncode,
    };
    use crate::metrics::remote::{proto_v1, proto_v2};

    const V2_TYPE: &str = "application/x-protobuf;proto=io.prometheus.write.v2.Request";

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|&(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
    }

    fn series(pairs: &[(&str, &str)], samples: &[(i64, f64)]) -> SeriesToEncode {
        (labels(pairs), samples.to_vec())
    }

    fn decode(protocol: Protocol, body: &[u8]) -> DecodedWrite {
        let content_type = match protocol {
            Protocol::V1 => None,
            Protocol::V2 => Some(V2_TYPE),
        };
        decode_write_request(body, content_type, Some("snappy"), &DecodeLimits::default())
            .expect("request decodes")
    }

    fn encode(protocol: Protocol, input: &[SeriesToEncode]) -> Vec<u8> {
        match protocol {
            Protocol::V1 => encode_write_request_v1(input),
            Protocol::V2 => encode_write_request_v2(input),
        }
    }

    /// Samples compared by bit pattern, so NaNs (stale markers) compare too.
    fn sample_bits(samples: &[(i64, f64)]) -> Vec<(i64, u64)> {
        samples
            .iter()
            .map(|&(timestamp, value)| (timestamp, value.to_bits()))
            .collect()
    }

    fn assert_same(decoded: &[OwnedSeries], expected: &[SeriesToEncode]) {
        assert_eq!(decoded.len(), expected.len());
        for (got, (want_labels, want_samples)) in decoded.iter().zip(expected) {
            assert_eq!(&got.labels, want_labels);
            assert_eq!(sample_bits(&got.samples), sample_bits(want_samples));
        }
    }

    const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

    fn node_series() -> Vec<SeriesToEncode> {
        vec![
            series(
                &[
                    ("__name__", "node_cpu_seconds_total"),
                    ("cpu", "0"),
                    ("instance", "host-1:9100"),
                    ("job", "node"),
                    ("mode", "idle"),
                ],
                &[(1_700_000_000_000, 1234.5), (1_700_000_015_000, 1249.5)],
            ),
            series(
                &[
                    ("__name__", "up"),
                    ("instance", "host-1:9100"),
                    ("job", "node"),
                ],
                &[(1_700_000_000_000, 1.0), (-5, f64::from_bits(STALE_NAN))],
            ),
            series(
                &[
                    ("__name__", "temperature_celsius"),
                    ("room", "café \"ü\"\n"),
                ],
                &[
                    (0, -0.0),
                    (i64::MAX, f64::INFINITY),
                    (i64::MIN, f64::MIN_POSITIVE),
                ],
            ),
        ]
    }

    #[test]
    fn v1_round_trip() {
        let input = node_series();
        let decoded = decode(Protocol::V1, &encode_write_request_v1(&input));
        assert_eq!(decoded.protocol, Protocol::V1);
        assert!(decoded.rejected.is_empty());
        assert_eq!(decoded.stats.samples, 7);
        assert_eq!(decoded.sample_count(), 7);
        assert_same(&decoded.to_owned_series(), &expected(&input));
        let first = decoded.get(0).unwrap();
        assert_eq!(first.metric_name(), "node_cpu_seconds_total");
        assert_eq!(first.get("mode"), Some("idle"));
        assert_eq!(first.get("absent"), None);
        assert_eq!(first.start_timestamps(), None);
        assert_eq!(
            first.to_string(),
            r#"node_cpu_seconds_total{cpu="0", instance="host-1:9100", job="node", mode="idle"}"#
        );
        assert_eq!(decoded.series().len(), 3);
    }

    #[test]
    fn v2_round_trip() {
        let input = node_series();
        let decoded = decode(Protocol::V2, &encode_write_request_v2(&input));
        assert_eq!(decoded.protocol, Protocol::V2);
        assert!(decoded.rejected.is_empty());
        assert_same(&decoded.to_owned_series(), &expected(&input));
    }

    #[test]
    fn unsorted_labels_are_sorted_and_empty_values_dropped() {
        for protocol in [Protocol::V1, Protocol::V2] {
            let input = [series(
                &[("job", "node"), ("env", ""), ("__name__", "up"), ("a", "1")],
                &[(1, 1.0)],
            )];
            let decoded = decode(protocol, &encode(protocol, &input));
            assert_same(
                &decoded.to_owned_series(),
                &[series(
                    &[("__name__", "up"), ("a", "1"), ("job", "node")],
                    &[(1, 1.0)],
                )],
            );
        }
    }

    /// Every rule, through the whole decoder, with the message the handler will send.
    #[test]
    fn each_rule_rejects_the_series_with_its_message() {
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (
                vec![("job", "x")],
                r#"series {job="x"}: missing metric name (label __name__)"#,
            ),
            (
                vec![("__name__", ""), ("job", "x")],
                r#"series {__name__="", job="x"}: missing metric name (label __name__)"#,
            ),
            (
                vec![("__name__", "up-time")],
                r#"series {__name__="up-time"}: invalid metric name "up-time": must match [a-zA-Z_:][a-zA-Z0-9_:]*"#,
            ),
            (
                vec![("__name__", "up"), ("", "x")],
                r#"series up{="x"}: empty label name"#,
            ),
            (
                vec![("__name__", "up"), ("a-b", "x")],
                r#"series up{a-b="x"}: invalid label name "a-b": must match [a-zA-Z_][a-zA-Z0-9_]*"#,
            ),
            (
                vec![("__name__", "up"), ("été", "x")],
                r#"series up{été="x"}: invalid label name "été": must match [a-zA-Z_][a-zA-Z0-9_]*"#,
            ),
            (
                vec![("__name__", "up"), ("job", "a"), ("job", "b")],
                r#"series up{job="a", job="b"}: duplicate label name "job""#,
            ),
            (
                vec![("job", "a"), ("__name__", "up"), ("job", "a")],
                r#"series up{job="a", job="a"}: duplicate label name "job""#,
            ),
        ];
        for protocol in [Protocol::V1, Protocol::V2] {
            for (bad_labels, message) in &cases {
                let good = series(&[("__name__", "ok")], &[(1, 1.0)]);
                let input = [
                    good.clone(),
                    series(bad_labels, &[(1, 1.0), (2, 2.0)]),
                    good.clone(),
                ];
                let decoded = decode(protocol, &encode(protocol, &input));
                assert_eq!(decoded.len(), 2, "{protocol} {bad_labels:?}");
                assert_eq!(decoded.rejected.len(), 1);
                let rejected = &decoded.rejected[0];
                assert_eq!(rejected.to_string(), *message, "{protocol}");
                assert_eq!(rejected.index, 1);
                assert_eq!(rejected.dropped.samples, 2);
                assert_eq!(decoded.stats.samples, 2);
            }
        }
    }

    #[test]
    fn limits_reject_with_messages_naming_the_limit() {
        let limits = DecodeLimits {
            max_labels_per_series: 2,
            max_label_name_length: 8,
            max_label_value_length: 3,
            ..DecodeLimits::default()
        };
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>);
        let cases: [Case; 4] = [
            (
                &[("__name__", "up"), ("a", "1"), ("b", "2")],
                Some("3 labels, over the limit of 2 per series"),
            ),
            // Empty values are dropped before counting.
            (&[("__name__", "up"), ("a", "1"), ("b", "")], None),
            (
                &[("__name__", "up"), ("abcdefghi", "1")],
                Some(r#"label name "abcdefghi" is 9 bytes, over the limit of 8"#),
            ),
            (
                &[("__name__", "up"), ("job", "abcd")],
                Some(r#"value of label "job" is 4 bytes, over the limit of 3"#),
            ),
        ];
        for protocol in [Protocol::V1, Protocol::V2] {
            for (pairs, problem) in cases {
                let body = encode(protocol, &[series(pairs, &[(1, 1.0)])]);
                let raw = decompress_snappy(&body, usize::MAX).unwrap();
                let decoded = decode_protobuf(protocol, raw, &limits).unwrap();
                match problem {
                    None => assert_eq!(decoded.len(), 1),
                    Some(problem) => {
                        assert_eq!(decoded.len(), 0);
                        assert_eq!(decoded.rejected[0].problem.to_string(), problem);
                    }
                }
            }
        }
    }

    #[test]
    fn rejection_summary_lists_the_first_series() {
        let input = [
            series(&[("job", "a")], &[(1, 1.0)]),
            series(&[("__name__", "up")], &[(1, 1.0)]),
            series(&[("job", "b")], &[(1, 1.0), (2, 1.0)]),
            series(&[("job", "c")], &[(1, 1.0)]),
        ];
        let decoded = decode(Protocol::V1, &encode_write_request_v1(&input));
        assert_eq!(
            decoded.rejection_summary(2).unwrap(),
            r#"3 series rejected (4 samples, 0 histograms): series {job="a"}: missing metric name (label __name__); series {job="b"}: missing metric name (label __name__); and 1 more"#
        );
        assert_eq!(decoded.rejected_stats().samples, 4);
        let clean = decode(Protocol::V1, &encode_write_request_v1(&input[1..2]));
        assert_eq!(clean.rejection_summary(2), None);
    }

    #[test]
    fn only_the_first_rejected_series_are_listed() {
        use crate::metrics::remote::batch::MAX_REJECTED_LISTED;
        let input: Vec<SeriesToEncode> = (0..MAX_REJECTED_LISTED + 50)
            .map(|index| series(&[("job", &index.to_string())], &[(1, 1.0)]))
            .chain([series(&[("__name__", "up")], &[(1, 1.0)])])
            .collect();
        let decoded = decode(Protocol::V2, &encode_write_request_v2(&input));
        assert_eq!(decoded.len(), 1);
        assert_eq!(decoded.rejected.len(), MAX_REJECTED_LISTED);
        assert_eq!(decoded.rejected_total, MAX_REJECTED_LISTED as u64 + 50);
        assert_eq!(
            decoded.rejected_stats().samples,
            MAX_REJECTED_LISTED as u64 + 50
        );
        let summary = decoded.rejection_summary(1).unwrap();
        assert!(summary
            .starts_with("150 series rejected (150 samples, 0 histograms): series {job=\"0\"}"));
        assert!(summary.ends_with("; and 149 more"), "{summary}");
    }

    // --- hand-made protobuf, for what the typed encoders cannot express ------------------

    fn varint(mut value: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    fn len_field(field: u32, payload: &[u8], out: &mut Vec<u8>) {
        varint((u64::from(field) << 3) | 2, out);
        varint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }

    fn varint_field(field: u32, value: u64, out: &mut Vec<u8>) {
        varint(u64::from(field) << 3, out);
        varint(value, out);
    }

    fn v1_label(name: &[u8], value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        len_field(1, name, &mut out);
        len_field(2, value, &mut out);
        out
    }

    fn v1_sample(timestamp: i64, value: f64) -> Vec<u8> {
        proto_v1::Sample { value, timestamp }.encode_to_vec()
    }

    #[test]
    fn labels_in_any_field_layout_decode_alike() {
        let mut value_first = Vec::new();
        len_field(2, b"node", &mut value_first);
        len_field(1, b"job", &mut value_first);
        let mut with_unknown_field = Vec::new();
        len_field(1, b"job", &mut with_unknown_field);
        varint_field(7, 1, &mut with_unknown_field);
        len_field(2, b"node", &mut with_unknown_field);
        let mut repeated = Vec::new();
        len_field(1, b"jab", &mut repeated);
        len_field(2, b"nope", &mut repeated);
        len_field(1, b"job", &mut repeated);
        len_field(2, b"node", &mut repeated);
        let long_value = "v".repeat(300);
        for (label, value) in [
            (value_first, "node"),
            (with_unknown_field, "node"),
            (repeated, "node"),
            (v1_label(b"job", long_value.as_bytes()), long_value.as_str()),
        ] {
            let mut series = Vec::new();
            len_field(1, &v1_label(b"__name__", b"up"), &mut series);
            len_field(1, &label, &mut series);
            len_field(2, &v1_sample(1, 1.0), &mut series);
            let mut body = Vec::new();
            len_field(1, &series, &mut body);
            let decoded = decode_protobuf(Protocol::V1, body, &DecodeLimits::unlimited()).unwrap();
            assert_eq!(decoded.get(0).unwrap().get("job"), Some(value));
        }
        // A label whose declared value length disagrees with its message is malformed.
        let mut series = Vec::new();
        len_field(1, &[0x0a, 0x01, b'a', 0x12, 0x05, b'x'], &mut series);
        let mut body = Vec::new();
        len_field(1, &series, &mut body);
        assert!(decode_protobuf(Protocol::V1, body, &DecodeLimits::default()).is_err());
    }

    /// Decodes a 1.0 body with a lookup that knows `stored` (key → ref) and records the
    /// keys it was asked for.
    fn decode_known(
        body: Vec<u8>,
        stored: &[(SeriesKey, SeriesRef)],
        asked: &std::cell::RefCell<Vec<SeriesKey>>,
    ) -> Result<DecodedWrite, RemoteWriteError> {
        let find = |keys: &[SeriesKey]| {
            asked.borrow_mut().extend_from_slice(keys);
            keys.iter()
                .map(|key| stored.iter().find(|(k, _)| k == key).map(|(_, r)| *r))
                .collect()
        };
        decode_protobuf_known(Protocol::V1, body, &DecodeLimits::default(), Some(&find))
    }

    #[test]
    fn series_found_by_key_skip_their_labels_and_keep_their_samples() {
        let input = node_series();
        let v1 = |series: &[SeriesToEncode]| {
            decompress_snappy(&encode_write_request_v1(series), 1 << 20).unwrap()
        };
        let body = v1(&input);
        let asked = std::cell::RefCell::new(Vec::new());
        // Nothing stored yet: every series decodes in full and carries its key.
        let first = decode_known(body.clone(), &[], &asked).unwrap();
        // Owned series with samples as bits (stale markers are NaNs).
        let comparable = |decoded: &DecodedWrite| -> Vec<_> {
            decoded
                .series()
                .map(|s| (s.to_owned_series().labels, sample_bits(s.samples())))
                .collect()
        };
        let plain = decode_protobuf(Protocol::V1, body.clone(), &DecodeLimits::default());
        assert_eq!(comparable(&first), comparable(&plain.unwrap()));
        let keys: Vec<SeriesKey> = first.series().map(|s| s.key().unwrap()).collect();
        assert_eq!(*asked.borrow(), keys);
        assert!(first.series().all(|s| s.known().is_none()));
        assert_eq!(
            keys.iter().collect::<std::collections::HashSet<_>>().len(),
            3,
            "distinct series, distinct keys"
        );

        // The same series again, with other samples: the two stored ones are found, their
        // labels skipped, their samples kept; the third decodes in full.
        let mut again = input.clone();
        for (_, samples) in &mut again {
            samples
                .iter_mut()
                .for_each(|(t, _)| *t = t.wrapping_add(15_000));
        }
        let stored = [(keys[0], 7), (keys[2], 9)];
        asked.borrow_mut().clear();
        let second = decode_known(v1(&again), &stored, &asked).unwrap();
        assert_eq!(*asked.borrow(), keys, "same labels, same keys");
        let got: Vec<_> = second.series().collect();
        assert_eq!(got.len(), 3);
        assert_eq!((got[0].known(), got[0].label_count()), (Some(7), 0));
        assert_eq!((got[1].known(), got[1].label_count()), (None, 3));
        assert_eq!((got[2].known(), got[2].label_count()), (Some(9), 0));
        let plain = decode_protobuf(Protocol::V1, v1(&again), &DecodeLimits::default()).unwrap();
        for (series, plain) in got.iter().zip(plain.series()) {
            assert_eq!(sample_bits(series.samples()), sample_bits(plain.samples()));
        }
        assert_eq!(
            got[1].to_owned_series().labels,
            plain.get(1).unwrap().to_owned_series().labels
        );
        assert_eq!(second.stats.samples, first.stats.samples);
    }

    #[test]
    fn keys_follow_label_bytes_and_skip_series_with_histograms_or_bad_bodies() {
        let asked = std::cell::RefCell::new(Vec::new());
        let key_of = |series_bytes: Vec<u8>| {
            let mut body = Vec::new();
            len_field(1, &series_bytes, &mut body);
            let decoded = decode_known(body, &[], &asked).unwrap();
            decoded.get(0).and_then(|s| s.key())
        };
        let with = |labels: &[(&[u8], &[u8])], extra: &dyn Fn(&mut Vec<u8>)| {
            let mut series = Vec::new();
            for (name, value) in labels {
                len_field(1, &v1_label(name, value), &mut series);
            }
            extra(&mut series);
            series
        };
        let sample = |out: &mut Vec<u8>| len_field(2, &v1_sample(1, 1.0), out);
        let up: &[(&[u8], &[u8])] = &[(b"__name__", b"up"), (b"job", b"a")];
        let base = key_of(with(up, &sample)).unwrap();
        // Samples, exemplars and the order of samples and labels do not change the key.
        let samples_first = {
            let mut series = Vec::new();
            sample(&mut series);
            series.extend(with(up, &|_| {}));
            series
        };
        assert_eq!(key_of(samples_first), Some(base));
        let exemplar = |out: &mut Vec<u8>| {
            sample(out);
            len_field(3, b"", out);
        };
        assert_eq!(key_of(with(up, &exemplar)), Some(base));
        // Any other label byte does.
        let other: &[(&[u8], &[u8])] = &[(b"__name__", b"up"), (b"job", b"b")];
        assert_ne!(key_of(with(other, &sample)), Some(base));
        // Labels split by a sample hash as two runs, not as one.
        let split = {
            let mut series = with(&up[..1], &sample);
            series.extend(with(&up[1..], &|_| {}));
            series
        };
        assert_ne!(key_of(split), Some(base));

        // A series with histograms gets no key and always decodes its labels.
        asked.borrow_mut().clear();
        let histogram = |out: &mut Vec<u8>| {
            sample(out);
            len_field(4, b"", out);
        };
        let mut body = Vec::new();
        len_field(1, &with(up, &histogram), &mut body);
        let stored = [(base, 3)];
        let decoded = decode_known(body, &stored, &asked);
        assert!(asked.borrow().is_empty());
        if let Ok(decoded) = decoded {
            assert!(decoded
                .series()
                .all(|s| s.known().is_none() && s.key().is_none()));
        }

        // A malformed body is looked up not at all, and fails as without a lookup.
        let mut body = Vec::new();
        len_field(1, &with(up, &sample), &mut body);
        body.extend_from_slice(&[0x0a, 0x05, 0x0a]);
        asked.borrow_mut().clear();
        let with_lookup = decode_known(body.clone(), &stored, &asked).err();
        assert!(asked.borrow().is_empty());
        let without = decode_protobuf(Protocol::V1, body, &DecodeLimits::default()).err();
        assert!(with_lookup.is_some());
        assert_eq!(with_lookup, without);
    }

    #[test]
    fn label_values_that_are_not_utf8_reject_the_series() {
        let mut bad = Vec::new();
        len_field(1, &v1_label(b"__name__", b"up"), &mut bad);
        len_field(1, &v1_label(b"job", b"a\xffb"), &mut bad);
        len_field(2, &v1_sample(1, 1.0), &mut bad);
        let mut good = Vec::new();
        len_field(1, &v1_label(b"__name__", b"ok"), &mut good);
        len_field(2, &v1_sample(1, 1.0), &mut good);
        let mut body = Vec::new();
        len_field(1, &bad, &mut body);
        len_field(1, &good, &mut body);
        let decoded = decode_protobuf(Protocol::V1, body, &DecodeLimits::default()).unwrap();
        assert_eq!(decoded.len(), 1);
        assert_eq!(
            decoded.rejected[0].to_string(),
            "series up{job=\"a\u{fffd}b\"}: value of label \"job\" is not valid utf-8"
        );
        let mut bad_name = Vec::new();
        len_field(1, &v1_label(b"__name__", b"up"), &mut bad_name);
        len_field(1, &v1_label(b"j\xffb", b"x"), &mut bad_name);
        len_field(2, &v1_sample(1, 1.0), &mut bad_name);
        let mut body = Vec::new();
        len_field(1, &bad_name, &mut body);
        let decoded = decode_protobuf(Protocol::V1, body, &DecodeLimits::default()).unwrap();
        assert_eq!(
            decoded.rejected[0].problem,
            SeriesProblem::InvalidLabelName("j\u{fffd}b".into())
        );
    }

    /// A 2.0 body with the given symbols and series given as (labels_refs, sample count).
    fn v2_body(symbols: &[&[u8]], series: &[(&[u64], usize)]) -> Vec<u8> {
        let mut body = Vec::new();
        for symbol in symbols {
            len_field(4, symbol, &mut body);
        }
        for (refs, samples) in series {
            let mut message = Vec::new();
            let mut packed = Vec::new();
            for &reference in *refs {
                varint(reference, &mut packed);
            }
            len_field(1, &packed, &mut message);
            for index in 0..*samples {
                let sample = proto_v2::Sample {
                    value: index as f64,
                    timestamp: index as i64,
                    start_timestamp: 0,
                };
                len_field(2, &sample.encode_to_vec(), &mut message);
            }
            len_field(5, &message, &mut body);
        }
        body
    }

    #[test]
    fn v2_bad_symbol_references_reject_the_series_never_panic() {
        let symbols: [&[u8]; 5] = [b"", b"__name__", b"up", b"job", b"\xff"];
        let cases: [(&[u64], &str); 6] = [
            (
                &[1, 2, 3, 7],
                r#"series up{job="<ref 7>"}: symbol reference 7 out of range: the symbol table has 5 entries"#,
            ),
            (
                &[1, 2, 9, 2],
                r#"series up{<ref 9>="up"}: symbol reference 9 out of range: the symbol table has 5 entries"#,
            ),
            (
                &[1, 2, u64::MAX, 2],
                r#"series up{<ref 18446744073709551615>="up"}: symbol reference 18446744073709551615 out of range: the symbol table has 5 entries"#,
            ),
            (
                &[1, 2, 3],
                r#"series up{job=""}: labels_refs has an odd number of entries (3)"#,
            ),
            (
                &[1, 2, 3, 4],
                "series up{job=\"\u{fffd}\"}: value of label \"job\" is not valid utf-8",
            ),
            (
                &[1, 2, 4, 2],
                "series up{\u{fffd}=\"up\"}: invalid label name \"\u{fffd}\": must match [a-zA-Z_][a-zA-Z0-9_]*",
            ),
        ];
        for (refs, message) in cases {
            let body = v2_body(&symbols, &[(&[1, 2], 1), (refs, 2), (&[1, 2, 3, 2], 1)]);
            let decoded = decode_protobuf(Protocol::V2, body, &DecodeLimits::default()).unwrap();
            assert_eq!(decoded.len(), 2, "{refs:?}");
            assert_eq!(decoded.rejected.len(), 1);
            assert_eq!(decoded.rejected[0].to_string(), message);
            assert_eq!(decoded.rejected[0].dropped.samples, 2);
        }
        // No symbols at all.
        let body = v2_body(&[], &[(&[0, 0], 1)]);
        let decoded = decode_protobuf(Protocol::V2, body, &DecodeLimits::default()).unwrap();
        assert_eq!(
            decoded.rejected[0].problem,
            SeriesProblem::SymbolOutOfRange {
                reference: 0,
                symbols: 0
            }
        );
    }

    #[test]
    fn a_symbol_table_entry_stays_small() {
        assert_eq!(std::mem::size_of::<Symbol>(), 12);
    }

    #[test]
    fn v2_symbols_after_series_and_unpacked_refs_decode() {
        let mut message = Vec::new();
        for reference in [1u64, 2, 3, 4] {
            varint_field(1, reference, &mut message);
        }
        len_field(2, &v1_sample(7, 7.0), &mut message);
        let mut body = Vec::new();
        len_field(5, &message, &mut body);
        for symbol in ["", "__name__", "up", "job", "node"] {
            len_field(4, symbol.as_bytes(), &mut body);
        }
        let decoded = decode_protobuf(Protocol::V2, body, &DecodeLimits::default()).unwrap();
        assert_same(
            &decoded.to_owned_series(),
            &[series(&[("__name__", "up"), ("job", "node")], &[(7, 7.0)])],
        );
    }

    #[test]
    fn v2_start_timestamps_metadata_exemplars_and_histograms() {
        let request = proto_v2::Request {
            symbols: [
                "",
                "__name__",
                "a_total",
                "b_total",
                "h",
                "help text",
                "trace_id",
                "x",
            ]
            .map(String::from)
            .to_vec(),
            timeseries: vec![
                proto_v2::TimeSeries {
                    labels_refs: vec![1, 2],
                    samples: vec![
                        proto_v2::Sample {
                            value: 1.0,
                            timestamp: 10,
                            start_timestamp: 5,
                        },
                        proto_v2::Sample {
                            value: 2.0,
                            timestamp: 20,
                            start_timestamp: 0,
                        },
                    ],
                    exemplars: vec![proto_v2::Exemplar {
                        labels_refs: vec![6, 7],
                        value: 1.0,
                        timestamp: 10,
                    }],
                    metadata: Some(proto_v2::Metadata {
                        r#type: proto_v2::MetricType::Counter as i32,
                        help_ref: 5,
                        unit_ref: 0,
                    }),
                    ..Default::default()
                },
                // Pre-rc.4 sender: one created timestamp for the series.
                proto_v2::TimeSeries {
                    labels_refs: vec![1, 3],
                    samples: vec![proto_v2::Sample {
                        value: 3.0,
                        timestamp: 30,
                        start_timestamp: 0,
                    }],
                    created_timestamp: 25,
                    metadata: Some(proto_v2::Metadata::default()),
                    ..Default::default()
                },
                // Histogram-only series: counted, not listed.
                proto_v2::TimeSeries {
                    labels_refs: vec![1, 4],
                    histograms: vec![proto_v2::Histogram {
                        count: Some(proto_v2::histogram::Count::CountInt(3)),
                        schema: 3,
                        positive_spans: vec![proto_v2::BucketSpan {
                            offset: 0,
                            length: 2,
                        }],
                        positive_deltas: vec![1, 1],
                        timestamp: 40,
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
        };
        let body = snappy_compress(&request.encode_to_vec());
        let decoded = decode(Protocol::V2, &body);
        assert_eq!(
            decoded.stats,
            WriteStats {
                samples: 3,
                histograms: 1,
                exemplars: 1,
                metadata: 1,
            }
        );
        assert_eq!(decoded.len(), 2);
        assert_eq!(
            decoded.get(0).unwrap().start_timestamps(),
            Some(&[5, 0][..])
        );
        assert_eq!(decoded.get(1).unwrap().start_timestamps(), Some(&[25][..]));
    }

    #[test]
    fn v1_counts_exemplars_histograms_and_metadata_and_skips_unknown_fields() {
        let request = proto_v1::WriteRequest {
            timeseries: vec![proto_v1::TimeSeries {
                labels: vec![proto_v1::Label {
                    name: "__name__".into(),
                    value: "rpc_seconds".into(),
                }],
                samples: vec![proto_v1::Sample {
                    value: 0.5,
                    timestamp: 1,
                }],
                exemplars: vec![proto_v1::Exemplar {
                    labels: vec![proto_v1::Label {
                        name: "trace_id".into(),
                        value: "abc".into(),
                    }],
                    value: 0.4,
                    timestamp: 1,
                }],
                histograms: vec![proto_v1::Histogram {
                    count: Some(proto_v1::histogram::Count::CountFloat(2.0)),
                    ..Default::default()
                }],
            }],
            metadata: vec![proto_v1::MetricMetadata {
                r#type: proto_v1::MetricType::Histogram as i32,
                metric_family_name: "rpc_seconds".into(),
                help: "RPC latency.".into(),
                unit: "seconds".into(),
            }],
        };
        let mut raw = request.encode_to_vec();
        // Unknown fields of every wire type, at the top level.
        varint_field(9, 300, &mut raw);
        raw.extend_from_slice(&[0x51, 1, 2, 3, 4, 5, 6, 7, 8]); // field 10, fixed64
        raw.extend_from_slice(&[0x5d, 1, 2, 3, 4]); // field 11, fixed32
        len_field(12, b"ignored", &mut raw);
        raw.extend_from_slice(&[0x6b, 0x08, 0x01, 0x6c]); // field 13, group
        let decoded = decode_protobuf(Protocol::V1, raw, &DecodeLimits::default()).unwrap();
        assert_eq!(
            decoded.stats,
            WriteStats {
                samples: 1,
                histograms: 1,
                exemplars: 1,
                metadata: 1,
            }
        );
        assert_eq!(decoded.len(), 1);
    }

    #[test]
    fn a_body_read_as_the_other_protocol_is_empty() {
        let raw = decompress_snappy(&encode_write_request_v2(&node_series()), usize::MAX).unwrap();
        let decoded = decode_protobuf(Protocol::V1, raw, &DecodeLimits::default()).unwrap();
        assert!(decoded.is_empty() && decoded.rejected.is_empty());
        let raw = decompress_snappy(&encode_write_request_v1(&node_series()), usize::MAX).unwrap();
        let decoded = decode_protobuf(Protocol::V2, raw, &DecodeLimits::default()).unwrap();
        assert!(decoded.is_empty() && decoded.rejected.is_empty());
    }

    // --- negotiation, decompression, malformed input ----------------------------------

    #[test]
    fn content_types_select_the_protocol() {
        let cases = [
            (None, Protocol::V1),
            (Some(""), Protocol::V1),
            (Some("application/x-protobuf"), Protocol::V1),
            (Some("Application/X-Protobuf"), Protocol::V1),
            (
                Some("application/x-protobuf;proto=prometheus.WriteRequest"),
                Protocol::V1,
            ),
            (Some(V2_TYPE), Protocol::V2),
            (
                Some("application/x-protobuf; proto=\"io.prometheus.write.v2.Request\""),
                Protocol::V2,
            ),
            (
                Some("application/x-protobuf; charset=utf-8; Proto=io.prometheus.write.v2.Request"),
                Protocol::V2,
            ),
        ];
        for (content_type, protocol) in cases {
            assert_eq!(protocol_from_content_type(content_type), Ok(protocol));
        }
        for bad in [
            "application/json",
            "text/plain",
            "application/x-protobuf;proto=io.prometheus.write.v3.Request",
            "application/x-protobuf;proto",
            "application/x-protobufx",
        ] {
            let error = protocol_from_content_type(Some(bad)).unwrap_err();
            assert_eq!(error.kind(), RemoteWriteErrorKind::UnsupportedMediaType);
            let message = error.to_string();
            assert!(message.starts_with(&format!("unsupported content type {bad:?}")));
            assert!(
                message.contains("proto=io.prometheus.write.v2.Request (2.0)"),
                "{message}"
            );
        }
    }

    #[test]
    fn content_encodings_other_than_snappy_are_refused() {
        for ok in [None, Some(""), Some("snappy"), Some(" Snappy ")] {
            assert_eq!(check_content_encoding(ok), Ok(()));
        }
        let error = check_content_encoding(Some("gzip")).unwrap_err();
        assert_eq!(error.kind(), RemoteWriteErrorKind::UnsupportedMediaType);
        assert_eq!(
            error.to_string(),
            "unsupported content encoding \"gzip\": only snappy (block format) is supported"
        );
        let body = encode_write_request_v1(&node_series());
        assert!(decode_write_request(&body, None, Some("zstd"), &DecodeLimits::default()).is_err());
    }

    #[test]
    fn the_decompressed_size_limit_is_checked_before_allocating() {
        let body = encode_write_request_v1(&node_series());
        let size = decompress_snappy(&body, usize::MAX).unwrap().len();
        let limits = DecodeLimits {
            max_decompressed_bytes: size - 1,
            ..DecodeLimits::default()
        };
        let error = decode_write_request(&body, None, None, &limits).unwrap_err();
        assert_eq!(error.kind(), RemoteWriteErrorKind::TooLarge);
        assert_eq!(
            error.to_string(),
            format!(
                "decompressed body would be {size} bytes, over the limit of {} bytes",
                size - 1
            )
        );
        // A block that claims 4 GiB is refused from its header alone.
        let mut huge_claim = Vec::new();
        varint(u64::from(u32::MAX), &mut huge_claim);
        huge_claim.push(0);
        let error = decompress_snappy(&huge_claim, 32 << 20).unwrap_err();
        assert_eq!(error.kind(), RemoteWriteErrorKind::TooLarge);
    }

    #[test]
    fn malformed_bodies_are_errors() {
        let limits = DecodeLimits::default();
        let error = decode_write_request(b"", None, None, &limits).unwrap_err();
        assert_eq!(error.kind(), RemoteWriteErrorKind::BadRequest);
        assert!(
            error.to_string().starts_with("invalid snappy block"),
            "{error}"
        );
        // Framed snappy (stream identifier chunk) is not the block format.
        let framed = b"\xff\x06\x00\x00sNaPpY";
        assert!(decode_write_request(framed, None, None, &limits).is_err());
        // Valid snappy around a protobuf with a wrong wire type.
        let body = snappy_compress(&[0x08, 0x01]);
        let error = decode_write_request(&body, None, None, &limits).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid remote write 1.0 body (prometheus.WriteRequest) at byte 1: wrong wire type for a known field"
        );
        // A series whose length runs past the end.
        let body = snappy_compress(&[0x2a, 0x05, 0x0a]);
        let error = decode_write_request(&body, Some(V2_TYPE), None, &limits).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid remote write 2.0 body (io.prometheus.write.v2.Request) at byte 1: length runs past the end of the message"
        );
    }

    #[test]
    fn every_truncation_of_a_valid_body_fails_cleanly() {
        let limits = DecodeLimits::default();
        for protocol in [Protocol::V1, Protocol::V2] {
            let body = encode(protocol, &node_series());
            let content_type = match protocol {
                Protocol::V1 => None,
                Protocol::V2 => Some(V2_TYPE),
            };
            for end in 0..body.len() {
                let result = decode_write_request(&body[..end], content_type, None, &limits);
                assert!(result.is_err(), "{protocol} snappy prefix {end}");
            }
            let raw = decompress_snappy(&body, usize::MAX).unwrap();
            for end in 0..raw.len() {
                // A protobuf prefix can be a valid shorter message; it must never panic.
                let _ = decode_protobuf(protocol, raw[..end].to_vec(), &limits);
            }
        }
    }

    // --- properties ---------------------------------------------------------------------

    fn label_name() -> impl Strategy<Value = String> {
        "[a-zA-Z_][a-zA-Z0-9_]{0,12}"
    }

    /// Label sets with unique valid names and any values (empty ones included).
    fn label_set() -> impl Strategy<Value = Vec<(String, String)>> {
        (
            "[a-zA-Z_:][a-zA-Z0-9_:]{0,20}",
            prop::collection::btree_map(label_name(), any::<String>(), 0..12),
        )
            .prop_map(|(metric_name, others)| {
                let mut labels = vec![("__name__".to_owned(), metric_name)];
                labels.extend(others.into_iter().filter(|(name, _)| name != "__name__"));
                labels
            })
            .prop_shuffle()
    }

    fn samples() -> impl Strategy<Value = Vec<(i64, f64)>> {
        prop::collection::vec((any::<i64>(), any::<u64>().prop_map(f64::from_bits)), 1..4)
    }

    /// What decoding `input` must give: labels sorted, empty values dropped. A sample
    /// value of -0.0 comes back as 0.0: proto3 encoders (prost and Go's alike) leave a
    /// zero field out, and -0.0 compares equal to zero.
    fn expected(input: &[SeriesToEncode]) -> Vec<SeriesToEncode> {
        input
            .iter()
            .map(|(labels, samples)| {
                let mut labels: Vec<_> = labels
                    .iter()
                    .filter(|(_, value)| !value.is_empty())
                    .cloned()
                    .collect();
                labels.sort();
                let samples = samples
                    .iter()
                    .map(|&(timestamp, value)| (timestamp, if value == 0.0 { 0.0 } else { value }))
                    .collect();
                (labels, samples)
            })
            .collect()
    }

    proptest! {
        #[test]
        fn random_series_round_trip(
            input in prop::collection::vec((label_set(), samples()), 0..20)
        ) {
            for protocol in [Protocol::V1, Protocol::V2] {
                let decoded = decode(protocol, &encode(protocol, &input));
                prop_assert!(decoded.rejected.is_empty());
                assert_same(&decoded.to_owned_series(), &expected(&input));
                let samples: usize = input.iter().map(|(_, samples)| samples.len()).sum();
                prop_assert_eq!(decoded.stats.samples, samples as u64);
            }
        }

        /// Arbitrary names and values: the decoder accepts exactly what a plain reading
        /// of the rules accepts, in both protocols.
        #[test]
        fn acceptance_matches_the_rules(
            input in prop::collection::vec(
                (
                    prop::collection::vec(
                        (
                            prop_oneof!["__name__", "[a-z]{1,3}", "[a-z:.\\-é9 ]{0,4}"],
                            prop_oneof!["[a-z_:]{0,4}", any::<String>()],
                        ),
                        0..6,
                    ),
                    samples(),
                ),
                1..8,
            )
        ) {
            let limits = DecodeLimits {
                max_labels_per_series: 4,
                max_label_name_length: 3,
                max_label_value_length: 8,
                ..DecodeLimits::default()
            };
            let accepted: Vec<bool> = input
                .iter()
                .map(|(labels, _)| rules_accept(labels, &limits))
                .collect();
            for protocol in [Protocol::V1, Protocol::V2] {
                let raw = decompress_snappy(&encode(protocol, &input), usize::MAX).unwrap();
                let decoded = decode_protobuf(protocol, raw, &limits).unwrap();
                let rejected: Vec<usize> =
                    decoded.rejected.iter().map(|rejected| rejected.index).collect();
                let expected_rejected: Vec<usize> = accepted
                    .iter()
                    .enumerate()
                    .filter(|(_, ok)| !**ok)
                    .map(|(index, _)| index)
                    .collect();
                prop_assert_eq!(rejected, expected_rejected);
                let kept: Vec<SeriesToEncode> = input
                    .iter()
                    .zip(&accepted)
                    .filter(|(_, ok)| **ok)
                    .map(|(series, _)| series.clone())
                    .collect();
                assert_same(&decoded.to_owned_series(), &expected(&kept));
            }
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let limits = DecodeLimits::default();
            for protocol in [Protocol::V1, Protocol::V2] {
                let _ = decode_protobuf(protocol, bytes.clone(), &limits);
                let _ = decode_write_request(&bytes, Some(V2_TYPE), None, &limits);
                let _ = decode_write_request(&bytes, None, None, &limits);
                // Garbage that is valid snappy reaches the protobuf decoder.
                let _ = decode_write_request(&snappy_compress(&bytes), Some(V2_TYPE), None, &limits);
                let _ = decode_write_request(&snappy_compress(&bytes), None, None, &limits);
            }
        }

        #[test]
        fn flipped_bytes_never_panic(
            input in prop::collection::vec((label_set(), samples()), 1..4),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        ) {
            for protocol in [Protocol::V1, Protocol::V2] {
                let mut raw = decompress_snappy(&encode(protocol, &input), usize::MAX).unwrap();
                for (position, byte) in &flips {
                    let index = position.index(raw.len());
                    raw[index] = *byte;
                }
                if let Ok(decoded) = decode_protobuf(protocol, raw, &DecodeLimits::default()) {
                    // Whatever survives is well-formed.
                    for series in decoded.series() {
                        prop_assert!(series.labels().any(|(name, _)| name == "__name__"));
                        let names: Vec<&str> = series.labels().map(|(name, _)| name).collect();
                        prop_assert!(names.windows(2).all(|pair| pair[0] < pair[1]));
                    }
                }
            }
        }
    }

    /// The rules, read plainly, over owned strings.
    fn rules_accept(labels: &[(String, String)], limits: &DecodeLimits) -> bool {
        use crate::metrics::remote::validate::{is_valid_label_name, is_valid_metric_name};
        let mut kept = Vec::new();
        for (name, value) in labels {
            if name.is_empty()
                || name.len() > limits.max_label_name_length
                || value.len() > limits.max_label_value_length
                || !is_valid_label_name(name)
            {
                return false;
            }
            if !value.is_empty() {
                kept.push((name.as_str(), value.as_str()));
            }
        }
        if kept.len() > limits.max_labels_per_series {
            return false;
        }
        kept.sort();
        if kept.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return false;
        }
        match kept.iter().find(|(name, _)| *name == "__name__") {
            Some((_, value)) => is_valid_metric_name(value),
            None => false,
        }
    }
}
