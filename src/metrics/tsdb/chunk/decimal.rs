//! Decimal chunks: a denser encoding for block chunks whose values are all short
//! decimals, which is what exporters mostly produce (whole counts and bytes, CPU seconds in
//! 1/100 s ticks, load averages with two decimals, milliseconds).
//!
//! XOR encoding compares the bits of consecutive floats, and the binary expansions of
//! `12.34` and `12.57` differ in almost every mantissa bit. Here every value is written as
//! an integer `m` with one exponent per chunk (`value = m / 10^exponent`, checked to give
//! back the exact float), and so is every timestamp. Each integer is predicted from the
//! previous one plus the chunk's average step, and the residuals of each column get the
//! cheaper of two codes, chosen per chunk:
//! - a **frame**: every residual minus the smallest one, in a fixed number of bits. A regular
//!   scrape interval or a constant takes 0 bits a sample; a counter whose step is drawn
//!   from a range of `j` values takes `log2(j)` rounded up.
//! - a **Rice code** (zigzagged residual `u` costs `(u >> k) + 1 + k` bits), which keeps
//!   a rare outlier from widening every sample.
//!
//! Format version 4 writes these; version 3 (Rice codes only) is still read, as blocks
//! written before version 4 hold it.
//!
//! The encoder gives up (returns `None`) on any value that is not such a decimal (NaN,
//! infinities, staleness markers, `-0.0`, full-precision measurements); the block writer
//! then keeps the XOR chunk. It also keeps XOR whenever that is smaller.
//!
//! All integer arithmetic wraps, in the encoder and the decoder alike, so any step and
//! residual round-trips exactly. Layout in `docs/format/chunks.md`.

use super::bitstream::{BitReader, BitWriter};
use super::varint::{put_uvarint, unzigzag, uvarint_len, zigzag};
use super::ChunkError;

/// The version the encoder writes: frame or Rice code per column.
pub const DECIMAL_FORMAT_VERSION: u8 = 4;
/// The first decimal version (Rice codes only), still read.
pub const DECIMAL_V3_FORMAT_VERSION: u8 = 3;

/// Whether a chunk's first byte names a decimal chunk of either version.
pub fn is_decimal_version(version: u8) -> bool {
    version == DECIMAL_FORMAT_VERSION || version == DECIMAL_V3_FORMAT_VERSION
}

/// Largest exponent tried: `10^15` and the mantissas below `2^53` are exact in an f64.
pub(super) const MAX_EXPONENT: usize = 15;
pub(super) const POW10: [f64; MAX_EXPONENT + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];
/// Mantissas must stay below this so that `m as f64` is exact.
const MAX_MANTISSA: f64 = 9_007_199_254_740_992.0; // 2^53
/// A unary prefix of this many ones announces a raw 64-bit residual.
const ESCAPE: u32 = 24;
/// Version, sample count (u16, big-endian, where XOR chunks have it), exponent, and the two
/// column codes.
const FIXED_HEADER: usize = 6;
/// A column code byte with this bit set is a frame whose width is in the low bits.
const FRAME_FLAG: u8 = 0x80;

/// The smallest exponent at which `value` is an exact decimal, if any.
fn exponent_of(value: f64) -> Option<usize> {
    if !value.is_finite() {
        return None;
    }
    for (exponent, scale) in POW10.iter().enumerate() {
        let mantissa = (value * scale).round();
        if mantissa.abs() >= MAX_MANTISSA {
            return None;
        }
        if ((mantissa as i64) as f64 / scale).to_bits() == value.to_bits() {
            return Some(exponent);
        }
    }
    None
}

/// The mantissas of `values` at one common exponent, if every value is an exact decimal.
pub(super) fn mantissas(values: impl Iterator<Item = f64> + Clone) -> Option<(usize, Vec<i64>)> {
    let mut exponent = 0;
    for value in values.clone() {
        exponent = exponent.max(exponent_of(value)?);
    }
    let scale = POW10[exponent];
    let mut out = Vec::new();
    for value in values {
        let mantissa = (value * scale).round();
        if mantissa.abs() >= MAX_MANTISSA {
            return None;
        }
        let mantissa = mantissa as i64;
        // A value exact at a smaller exponent is exact at this one too, but the product
        // above may round differently: check rather than trust.
        if (mantissa as f64 / scale).to_bits() != value.to_bits() {
            return None;
        }
        out.push(mantissa);
    }
    Some((exponent, out))
}

/// The average step of `integers` (zero for fewer than two) and the residual of each
/// integer after the first against "previous plus average step".
fn residuals(integers: &[i64]) -> (i64, Vec<i64>) {
    let (Some(first), Some(last)) = (integers.first(), integers.last()) else {
        return (0, Vec::new());
    };
    let steps = integers.len().saturating_sub(1).max(1) as i128;
    let step = ((i128::from(*last) - i128::from(*first)) / steps) as i64;
    let residuals = integers
        .windows(2)
        .map(|pair| pair[1].wrapping_sub(pair[0]).wrapping_sub(step))
        .collect();
    (step, residuals)
}

/// How the residuals of one column are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ResidualCode {
    /// Zigzagged, Rice-coded with parameter `k` (0 to 63).
    Rice(u32),
    /// `residual - base` in `width` bits (0 to 64).
    Frame { width: u32, base: i64 },
}

impl ResidualCode {
    /// The cheapest code for `residuals`.
    pub(super) fn choose(residuals: &[i64]) -> ResidualCode {
        let (Some(min), Some(max)) = (residuals.iter().min(), residuals.iter().max()) else {
            return ResidualCode::Rice(0);
        };
        let zigzagged: Vec<u64> = residuals.iter().map(|r| zigzag(*r)).collect();
        let k = rice_parameter(&zigzagged);
        let rice_bits = rice_cost(&zigzagged, k);
        let width = 64 - ((i128::from(*max) - i128::from(*min)) as u64).leading_zeros();
        let frame_bits =
            u64::from(width) * residuals.len() as u64 + 8 * uvarint_len(zigzag(*min)) as u64;
        if frame_bits <= rice_bits {
            ResidualCode::Frame { width, base: *min }
        } else {
            ResidualCode::Rice(k)
        }
    }

    pub(super) fn code_byte(self) -> u8 {
        match self {
            ResidualCode::Rice(k) => k as u8,
            ResidualCode::Frame { width, .. } => FRAME_FLAG | width as u8,
        }
    }

    /// The code a header byte names (a frame's base is read separately); `None` if the
    /// byte is out of range.
    pub(super) fn from_byte(byte: u8) -> Option<ResidualCode> {
        if byte & FRAME_FLAG == 0 {
            (byte <= 63).then_some(ResidualCode::Rice(u32::from(byte)))
        } else {
            let width = u32::from(byte & !FRAME_FLAG);
            (width <= 64).then_some(ResidualCode::Frame { width, base: 0 })
        }
    }

    pub(super) fn write(self, writer: &mut BitWriter<'_>, residual: i64) {
        match self {
            ResidualCode::Rice(k) => write_rice(writer, zigzag(residual), k),
            ResidualCode::Frame { width, base } => {
                writer.write_bits(residual.wrapping_sub(base) as u64, width)
            }
        }
    }

    /// Reads one residual written by [`ResidualCode::write`]; `None` when the bits run out.
    #[inline(always)]
    pub(super) fn read(self, bits: &mut BitReader<'_>) -> Option<i64> {
        match self {
            ResidualCode::Frame { width, base } => {
                Some(base.wrapping_add(bits.read_bits(width)? as i64))
            }
            ResidualCode::Rice(k) => {
                let quotient = bits.read_ones(ESCAPE)?;
                if quotient == ESCAPE {
                    return bits.read_bits(64).map(unzigzag);
                }
                let low = bits.read_bits(k)?;
                Some(unzigzag(u64::from(quotient).wrapping_shl(k) | low))
            }
        }
    }
}

fn rice_cost(residuals: &[u64], k: u32) -> u64 {
    residuals
        .iter()
        .map(|u| {
            let quotient = u >> k;
            if quotient < u64::from(ESCAPE) {
                quotient + 1 + u64::from(k)
            } else {
                u64::from(ESCAPE) + 64
            }
        })
        .sum()
}

/// The Rice parameter with the fewest bits, searched around `log2` of the mean residual.
fn rice_parameter(residuals: &[u64]) -> u32 {
    if residuals.is_empty() {
        return 0;
    }
    let mean = residuals.iter().map(|u| u128::from(*u)).sum::<u128>() / residuals.len() as u128;
    let guess = 127 - (mean + 1).leading_zeros();
    let low = guess.saturating_sub(2);
    let high = (guess + 1).min(63);
    (low..=high)
        .min_by_key(|k| rice_cost(residuals, *k))
        .unwrap_or(0)
}

fn write_rice(writer: &mut BitWriter<'_>, value: u64, k: u32) {
    let quotient = value >> k;
    if quotient < u64::from(ESCAPE) {
        // `quotient` ones, then a zero.
        let quotient = quotient as u32;
        writer.write_bits((1u64 << (quotient + 1)) - 2, quotient + 1);
        writer.write_bits(value & ((1u64 << k) - 1), k);
    } else {
        writer.write_bits((1u64 << ESCAPE) - 1, ESCAPE);
        writer.write_bits(value, 64);
    }
}

/// Encodes `samples` (timestamps strictly increasing, at most `u16::MAX` of them) as a
/// decimal chunk (format version 4); `None` if some value is not an exact short decimal.
pub fn encode_decimal_chunk(samples: &[(i64, f64)]) -> Option<Vec<u8>> {
    encode(samples, DECIMAL_FORMAT_VERSION, ResidualCode::choose)
}

/// The version 3 layout, which blocks written before version 4 hold: version 4's layout
/// with Rice codes only. Kept to test that such chunks still read.
#[cfg(test)]
pub(crate) fn encode_decimal_v3_chunk(samples: &[(i64, f64)]) -> Option<Vec<u8>> {
    encode(samples, DECIMAL_V3_FORMAT_VERSION, |residuals| {
        let zigzagged: Vec<u64> = residuals.iter().map(|r| zigzag(*r)).collect();
        ResidualCode::Rice(rice_parameter(&zigzagged))
    })
}

fn encode(
    samples: &[(i64, f64)],
    version: u8,
    choose: impl Fn(&[i64]) -> ResidualCode,
) -> Option<Vec<u8>> {
    let count = u16::try_from(samples.len())
        .ok()
        .filter(|count| *count > 0)?;
    let (exponent, values) = mantissas(samples.iter().map(|(_, value)| *value))?;
    let timestamps: Vec<i64> = samples.iter().map(|(timestamp, _)| *timestamp).collect();
    let (time_step, time_residuals) = residuals(&timestamps);
    let (value_step, value_residuals) = residuals(&values);
    let time_code = choose(&time_residuals);
    let value_code = choose(&value_residuals);

    let mut out = Vec::with_capacity(32 + samples.len() * 2);
    out.push(version);
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&[
        exponent as u8,
        time_code.code_byte(),
        value_code.code_byte(),
    ]);
    for (first, step, code) in [
        (timestamps[0], time_step, time_code),
        (values[0], value_step, value_code),
    ] {
        put_uvarint(&mut out, zigzag(first));
        put_uvarint(&mut out, zigzag(step));
        if let ResidualCode::Frame { base, .. } = code {
            put_uvarint(&mut out, zigzag(base));
        }
    }
    let mut writer = BitWriter::new(&mut out);
    for (time, value) in time_residuals.iter().zip(&value_residuals) {
        time_code.write(&mut writer, *time);
        value_code.write(&mut writer, *value);
    }
    Some(out)
}

/// Iterates over the samples of a decimal chunk of either version.
#[derive(Debug, Clone)]
pub struct DecimalIter<'a> {
    bits: BitReader<'a>,
    remaining: u16,
    /// Samples decoded so far (for error positions).
    decoded: u32,
    scale: f64,
    time_code: ResidualCode,
    value_code: ResidualCode,
    time_step: i64,
    value_step: i64,
    time: i64,
    mantissa: i64,
    error: Option<ChunkError>,
}

impl<'a> DecimalIter<'a> {
    /// Reads the header; samples are decoded as they are iterated.
    pub fn new(bytes: &'a [u8]) -> Result<Self, ChunkError> {
        if bytes.len() < FIXED_HEADER {
            return Err(ChunkError::TooShort {
                len: bytes.len(),
                min: FIXED_HEADER,
            });
        }
        if !is_decimal_version(bytes[0]) {
            return Err(ChunkError::UnsupportedVersion { version: bytes[0] });
        }
        let version_3 = bytes[0] == DECIMAL_V3_FORMAT_VERSION;
        let corrupt = |reason| ChunkError::Corrupt { sample: 0, reason };
        let count = u16::from_be_bytes([bytes[1], bytes[2]]);
        if count == 0 {
            return Err(corrupt("decimal chunk without samples"));
        }
        let exponent = usize::from(bytes[3]);
        let codes = if version_3 {
            // Version 3 names Rice parameters only.
            [bytes[4], bytes[5]].map(|k| (k <= 63).then_some(ResidualCode::Rice(u32::from(k))))
        } else {
            [bytes[4], bytes[5]].map(ResidualCode::from_byte)
        };
        let (Some(mut time_code), Some(mut value_code)) = (codes[0], codes[1]) else {
            return Err(corrupt("decimal chunk parameters out of range"));
        };
        if exponent > MAX_EXPONENT {
            return Err(corrupt("decimal chunk parameters out of range"));
        }
        let mut at = FIXED_HEADER;
        let mut read_varint = || {
            let (value, used) =
                read_uvarint(&bytes[at..]).ok_or(ChunkError::Truncated { sample: 0 })?;
            at += used;
            Ok::<i64, ChunkError>(unzigzag(value))
        };
        let mut column = |code: &mut ResidualCode| {
            let first = read_varint()?;
            let step = read_varint()?;
            if let ResidualCode::Frame { base, .. } = code {
                *base = read_varint()?;
            }
            Ok::<(i64, i64), ChunkError>((first, step))
        };
        let (time, time_step) = column(&mut time_code)?;
        let (mantissa, value_step) = column(&mut value_code)?;
        Ok(DecimalIter {
            bits: BitReader::new(&bytes[at..]),
            remaining: count,
            decoded: 0,
            scale: POW10[exponent],
            time_code,
            value_code,
            time_step,
            value_step,
            time,
            mantissa,
            error: None,
        })
    }

    /// The error that ended iteration early, if any.
    pub fn error(&self) -> Option<&ChunkError> {
        self.error.as_ref()
    }

    #[inline(always)]
    fn read_residual(&mut self, code: ResidualCode) -> Option<i64> {
        code.read(&mut self.bits)
    }

    fn next_sample(&mut self) -> Option<(i64, f64)> {
        if self.decoded > 0 {
            let time = self.read_residual(self.time_code)?;
            let value = self.read_residual(self.value_code)?;
            self.time = self.time.wrapping_add(self.time_step).wrapping_add(time);
            self.mantissa = self
                .mantissa
                .wrapping_add(self.value_step)
                .wrapping_add(value);
        }
        Some((self.time, self.mantissa as f64 / self.scale))
    }
}

pub(super) fn read_uvarint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (index, byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Some((value, index + 1));
        }
    }
    None
}

impl Iterator for DecimalIter<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        if self.remaining == 0 || self.error.is_some() {
            return None;
        }
        match self.next_sample() {
            Some(sample) => {
                self.remaining -= 1;
                self.decoded += 1;
                Some(sample)
            }
            None => {
                self.error = Some(ChunkError::Truncated {
                    sample: self.decoded,
                });
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.remaining)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decodes_to(bytes: &[u8], samples: &[(i64, f64)]) {
        let mut iter = DecimalIter::new(bytes).unwrap();
        let decoded: Vec<(i64, f64)> = iter.by_ref().collect();
        assert_eq!(iter.error(), None);
        assert_eq!(decoded.len(), samples.len());
        for (got, want) in decoded.iter().zip(samples) {
            assert_eq!(got.0, want.0);
            assert_eq!(got.1.to_bits(), want.1.to_bits(), "{} vs {}", got.1, want.1);
        }
    }

    /// Encodes in the current version and in version 3, checks that both decode to
    /// `samples` and returns the current version's size.
    fn round_trip(samples: &[(i64, f64)]) -> Option<usize> {
        let bytes = encode_decimal_chunk(samples)?;
        assert_eq!(bytes[0], DECIMAL_FORMAT_VERSION);
        decodes_to(&bytes, samples);
        let v3 = encode_decimal_v3_chunk(samples).expect("same values, same verdict");
        assert_eq!(v3[0], DECIMAL_V3_FORMAT_VERSION);
        decodes_to(&v3, samples);
        Some(bytes.len())
    }

    fn header_bytes(values: &[i64]) -> usize {
        values
            .iter()
            .map(|v| uvarint_len(zigzag(*v)))
            .sum::<usize>()
            + FIXED_HEADER
    }

    #[test]
    fn regular_timestamps_and_constants_take_no_bits() {
        let start = 1_700_000_000_000i64;
        let constant: Vec<(i64, f64)> = (0..480).map(|i| (start + i * 15_000, 42.5)).collect();
        let size = round_trip(&constant).unwrap();
        // Both columns are frames of width 0: the header is all there is.
        assert_eq!(size, header_bytes(&[start, 15_000, 0, 425, 0, 0]));
        let bytes = encode_decimal_chunk(&constant).unwrap();
        assert_eq!((bytes[3], bytes[4], bytes[5]), (1, FRAME_FLAG, FRAME_FLAG));
    }

    #[test]
    fn each_column_takes_the_cheaper_code() {
        let start = 1_700_000_000_000i64;
        // A counter whose step is 100 + 0..=15: a frame of 4 bits a sample beats Rice.
        let mut count = 5_000i64;
        let counter: Vec<(i64, f64)> = (0..240)
            .map(|i| {
                count += 100 + (i * 7919) % 16;
                (start + i * 15_000, count as f64)
            })
            .collect();
        let bytes = encode_decimal_chunk(&counter).unwrap();
        assert_eq!(bytes[4], FRAME_FLAG, "regular timestamps: width 0");
        assert_eq!(bytes[5], FRAME_FLAG | 4, "value residuals span 16 values");
        let size = round_trip(&counter).unwrap();
        assert!(
            size <= 24 + 239 * 4 / 8,
            "{size} bytes: header, then 4 bits a sample"
        );
        assert!(size < encode_decimal_v3_chunk(&counter).unwrap().len());

        // A flat gauge with two far outliers: a frame would need wide fields for every
        // sample, Rice spends them on the outliers only.
        let gauge: Vec<(i64, f64)> = (0..240)
            .map(|i| {
                let value = match i {
                    100 => 1e9,
                    _ => (i % 3) as f64,
                };
                (start + i * 15_000 + (i % 2), value)
            })
            .collect();
        let bytes = encode_decimal_chunk(&gauge).unwrap();
        assert!(bytes[5] & FRAME_FLAG == 0, "value code {:#x}", bytes[5]);
        round_trip(&gauge).unwrap();
    }

    #[test]
    fn column_codes_out_of_range_are_corrupt() {
        let samples: Vec<(i64, f64)> = (0..10).map(|i| (i * 1000, i as f64)).collect();
        let bytes = encode_decimal_chunk(&samples).unwrap();
        for (at, byte) in [(4, 64), (5, 64), (4, FRAME_FLAG | 65), (5, 0xff)] {
            let mut bad = bytes.clone();
            bad[at] = byte;
            assert!(
                matches!(DecimalIter::new(&bad), Err(ChunkError::Corrupt { .. })),
                "byte {at} = {byte:#x}"
            );
        }
        // Version 3 has no frames.
        let mut bad = encode_decimal_v3_chunk(&samples).unwrap();
        bad[5] = FRAME_FLAG;
        assert!(DecimalIter::new(&bad).is_err());
    }

    #[test]
    fn exporter_shaped_values_are_dense() {
        // CPU seconds in 1/100 s ticks, growing about 12 ticks per 15 s scrape.
        let mut ticks = 123_456_789i64;
        let cpu: Vec<(i64, f64)> = (0..480)
            .map(|i| {
                ticks += 10 + (i * 7919 % 5);
                (1_700_000_000_000 + i * 15_000, ticks as f64 / 100.0)
            })
            .collect();
        let size = round_trip(&cpu).unwrap();
        assert!(size < 480 * 6 / 8, "{size} bytes for 480 samples");

        let constant: Vec<(i64, f64)> = (0..480).map(|i| (i * 15_000, 1.0)).collect();
        let size = round_trip(&constant).unwrap();
        assert!(size < 480 * 2 / 8 + 16, "{size} bytes for a constant");
    }

    #[test]
    fn non_decimal_values_are_refused() {
        for value in [
            f64::NAN,
            f64::INFINITY,
            f64::from_bits(crate::metrics::tsdb::STALE_NAN_BITS),
            -0.0,
            1.0 / 3.0,
            0.1 + 0.2,
            1e300,
        ] {
            assert_eq!(
                encode_decimal_chunk(&[(0, 1.0), (1, value)]),
                None,
                "{value}"
            );
        }
        assert_eq!(encode_decimal_chunk(&[]), None);
    }

    #[test]
    fn extremes_round_trip() {
        round_trip(&[(i64::MIN, 0.0), (0, 1.0), (i64::MAX, 2.0)]).unwrap();
        round_trip(&[(5, 9_007_199_254_740_991.0), (6, -9_007_199_254_740_991.0)]).unwrap();
        round_trip(&[(5, 1e-15), (6, 0.001), (7, -0.5), (8, 0.0)]).unwrap();
        round_trip(&[(5, 123_456.789_012_345), (6, 0.5)]).unwrap();
        // Each is a short decimal, but at a common exponent the mantissa is too long.
        assert_eq!(encode_decimal_chunk(&[(5, 1e-15), (6, 123_456.789)]), None);
        round_trip(&[(42, 7.25)]).unwrap();
        // Big jumps take the escape path.
        round_trip(&[
            (0, 0.0),
            (1, 1e15),
            (2, -3.0),
            (3, 4e14),
            (1_000_000_000_000, 1.0),
        ])
        .unwrap();
    }

    #[test]
    fn damaged_chunks_are_errors_not_panics() {
        let samples: Vec<(i64, f64)> = (0..50)
            .map(|i| (i * 1000 + i % 3, (i * i % 7) as f64 * 0.25))
            .collect();
        let bytes = encode_decimal_chunk(&samples).unwrap();
        for whole in [bytes.clone(), encode_decimal_v3_chunk(&samples).unwrap()] {
            for cut in 0..whole.len() {
                if let Ok(mut iter) = DecimalIter::new(&whole[..cut]) {
                    let decoded = iter.by_ref().count();
                    assert!(decoded < 50 || iter.error().is_none());
                }
            }
        }
        let mut bad = bytes.clone();
        bad[3] = 99;
        assert!(DecimalIter::new(&bad).is_err());
    }

    proptest! {
        #[test]
        fn decimals_round_trip(
            start in any::<i64>(),
            steps in proptest::collection::vec((1i64..100_000, -1_000_000i64..1_000_000), 1..300),
            exponent in 0usize..=6,
        ) {
            let mut time = start.min(i64::MAX - 100_000 * 300);
            let mut samples = Vec::new();
            for (gap, mantissa) in steps {
                time += gap;
                samples.push((time, mantissa as f64 / POW10[exponent]));
            }
            prop_assert!(round_trip(&samples).is_some());
        }

        #[test]
        fn frames_round_trip_at_any_width(
            start in any::<i64>(),
            base in any::<i64>(),
            width in 0u32..=64,
            raw in proptest::collection::vec(any::<u64>(), 1..100),
        ) {
            // Timestamps whose steps spread over `width` bits, wrapping as they may.
            let mask = if width == 64 { u64::MAX } else { (1u64 << width) - 1 };
            let mut time = start;
            let mut samples = vec![(time, 1.0)];
            for bits in raw {
                time = time.wrapping_add(base).wrapping_add((bits & mask) as i64);
                samples.push((time, 1.0));
            }
            let bytes = encode_decimal_chunk(&samples).unwrap();
            decodes_to(&bytes, &samples);
        }

        #[test]
        fn any_float_round_trips_or_is_refused(
            values in proptest::collection::vec(any::<f64>(), 1..50),
        ) {
            let samples: Vec<(i64, f64)> =
                values.iter().enumerate().map(|(i, v)| (i as i64 * 15_000, *v)).collect();
            round_trip(&samples);
        }
    }
}
