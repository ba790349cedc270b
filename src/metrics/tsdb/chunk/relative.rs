//! Relative chunks (format version 5): a block chunk whose values are predicted from
//! another chunk of the same block, its *reference*, which has the same timestamps.
//!
//! Made for classic histograms. Every bucket of one histogram (and its `_count`) is
//! scraped at the same instants, and over an interval each bucket grows by about a fixed
//! share of what the `+Inf` bucket grows by: the observations that landed below its bound.
//! Coded on their own, a bucket's increments cost as many bits as their spread; predicted
//! as `share × increment of +Inf`, only the deviation from that share is left, a bit or two.
//!
//! Values are decimal mantissas at one exponent per chunk, as in decimal chunks, and so
//! are the reference's. Increment `i` is predicted as `round(d(i) × p / q)`, where `d(i)`
//! is the reference's mantissa increment and `p / q` the ratio of the two chunks' total
//! increases; the residuals get the cheaper of the decimal chunks' two codes. Timestamps
//! are not stored: they are the reference's. All integer arithmetic wraps, so any input
//! round-trips exactly. Layout in `docs/format/chunks.md`.
//!
//! A relative chunk cannot be read alone: the reader fetches its reference by the offset
//! in its header (an offset in the block's chunk file) and passes the reference's bytes
//! to [`decode_relative_chunk`]. A reference is never itself relative.

use super::bitstream::{BitReader, BitWriter};
use super::decimal::{mantissas, read_uvarint, ResidualCode, MAX_EXPONENT, POW10};
use super::float::FloatIter;
use super::varint::{put_uvarint, unzigzag, zigzag};
use super::ChunkError;

pub const RELATIVE_FORMAT_VERSION: u8 = 5;

/// Version, sample count (u16, big-endian), value exponent, reference exponent, residual
/// code.
const FIXED_HEADER: usize = 6;

/// `round(delta × numerator / denominator)`, halves rounded up, wrapped to 64 bits.
#[inline(always)]
fn predict(delta: i64, numerator: i64, denominator: i64) -> i64 {
    let scaled = 2 * i128::from(delta) * i128::from(numerator) + i128::from(denominator);
    scaled.div_euclid(2 * i128::from(denominator)) as i64
}

/// Encodes `samples` relative to `reference` (the samples of the chunk stored at
/// `reference_offset`). `None` unless both have the same timestamps and all values of both
/// are exact short decimals (see [`super::decimal`]).
pub fn encode_relative_chunk(
    samples: &[(i64, f64)],
    reference: &[(i64, f64)],
    reference_offset: u64,
) -> Option<Vec<u8>> {
    let count = u16::try_from(samples.len())
        .ok()
        .filter(|count| *count > 0)?;
    if samples.len() != reference.len()
        || samples
            .iter()
            .zip(reference)
            .any(|(own, other)| own.0 != other.0)
    {
        return None;
    }
    let (exponent, own) = mantissas(samples.iter().map(|(_, value)| *value))?;
    let (reference_exponent, other) = mantissas(reference.iter().map(|(_, value)| *value))?;
    let own_total = own[own.len() - 1].wrapping_sub(own[0]);
    let other_total = other[other.len() - 1].wrapping_sub(other[0]);
    // The ratio of the totals; a reference that did not grow predicts nothing.
    let (numerator, denominator) = if other_total > 0 {
        (own_total, other_total)
    } else {
        (0, 1)
    };
    let residuals: Vec<i64> = own
        .windows(2)
        .zip(other.windows(2))
        .map(|(own, other)| {
            let predicted = predict(other[1].wrapping_sub(other[0]), numerator, denominator);
            own[1].wrapping_sub(own[0]).wrapping_sub(predicted)
        })
        .collect();
    let code = ResidualCode::choose(&residuals);

    let mut out = Vec::with_capacity(24 + samples.len() / 4);
    out.push(RELATIVE_FORMAT_VERSION);
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&[exponent as u8, reference_exponent as u8, code.code_byte()]);
    put_uvarint(&mut out, reference_offset);
    put_uvarint(&mut out, zigzag(own[0]));
    put_uvarint(&mut out, zigzag(numerator));
    put_uvarint(&mut out, denominator as u64);
    if let ResidualCode::Frame { base, .. } = code {
        put_uvarint(&mut out, zigzag(base));
    }
    let mut writer = BitWriter::new(&mut out);
    for residual in &residuals {
        code.write(&mut writer, *residual);
    }
    Some(out)
}

/// The header of a relative chunk, up to its residual bits.
struct Header {
    count: u16,
    scale: f64,
    reference_scale: f64,
    code: ResidualCode,
    reference_offset: u64,
    first: i64,
    numerator: i64,
    denominator: i64,
    bits_start: usize,
}

fn read_header(bytes: &[u8]) -> Result<Header, ChunkError> {
    if bytes.len() < FIXED_HEADER {
        return Err(ChunkError::TooShort {
            len: bytes.len(),
            min: FIXED_HEADER,
        });
    }
    if bytes[0] != RELATIVE_FORMAT_VERSION {
        return Err(ChunkError::UnsupportedVersion { version: bytes[0] });
    }
    let corrupt = |reason| ChunkError::Corrupt { sample: 0, reason };
    let count = u16::from_be_bytes([bytes[1], bytes[2]]);
    let (exponent, reference_exponent) = (usize::from(bytes[3]), usize::from(bytes[4]));
    if count == 0 || exponent > MAX_EXPONENT || reference_exponent > MAX_EXPONENT {
        return Err(corrupt("relative chunk header out of range"));
    }
    let mut code =
        ResidualCode::from_byte(bytes[5]).ok_or(corrupt("relative chunk header out of range"))?;
    let mut at = FIXED_HEADER;
    let mut next = || {
        let (value, used) = read_uvarint(bytes.get(at..).unwrap_or_default())
            .ok_or(ChunkError::Truncated { sample: 0 })?;
        at += used;
        Ok::<u64, ChunkError>(value)
    };
    let reference_offset = next()?;
    let first = unzigzag(next()?);
    let numerator = unzigzag(next()?);
    let denominator = i64::try_from(next()?)
        .ok()
        .filter(|denominator| *denominator > 0)
        .ok_or(corrupt("relative chunk ratio out of range"))?;
    if let ResidualCode::Frame { base, .. } = &mut code {
        *base = unzigzag(next()?);
    }
    Ok(Header {
        count,
        scale: POW10[exponent],
        reference_scale: POW10[reference_exponent],
        code,
        reference_offset,
        first,
        numerator,
        denominator,
        bits_start: at,
    })
}

/// Where the reference of the relative chunk `bytes` lies in the block's chunk file.
pub fn relative_chunk_reference(bytes: &[u8]) -> Result<u64, ChunkError> {
    read_header(bytes).map(|header| header.reference_offset)
}

/// The samples of the relative chunk `bytes`, given the bytes of its reference chunk.
pub fn decode_relative_chunk(
    bytes: &[u8],
    reference: &[u8],
) -> Result<Vec<(i64, f64)>, ChunkError> {
    let header = read_header(bytes)?;
    // A float chunk that is not itself relative (`FloatIter` reads no relative chunk).
    let mut reference = FloatIter::new(reference)?;
    let mut bits = BitReader::new(&bytes[header.bits_start..]);
    let mut out = Vec::with_capacity(usize::from(header.count));
    let mut mantissa = header.first;
    let mut previous_other: Option<i64> = None;
    for (sample, (timestamp, value)) in reference.by_ref().enumerate() {
        let sample = sample as u32;
        if sample >= u32::from(header.count) {
            return Err(ChunkError::Corrupt {
                sample,
                reason: "reference chunk holds more samples",
            });
        }
        let other = (value * header.reference_scale).round() as i64;
        if let Some(previous) = previous_other {
            let residual = header
                .code
                .read(&mut bits)
                .ok_or(ChunkError::Truncated { sample })?;
            let predicted = predict(
                other.wrapping_sub(previous),
                header.numerator,
                header.denominator,
            );
            mantissa = mantissa.wrapping_add(predicted).wrapping_add(residual);
        }
        previous_other = Some(other);
        out.push((timestamp, mantissa as f64 / header.scale));
    }
    if let Some(error) = reference.error() {
        return Err(error.clone());
    }
    if out.len() != usize::from(header.count) {
        return Err(ChunkError::Corrupt {
            sample: out.len() as u32,
            reason: "reference chunk holds fewer samples",
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::metrics::tsdb::chunk::encode_decimal_chunk;

    fn same_bits(got: &[(i64, f64)], want: &[(i64, f64)]) {
        assert_eq!(got.len(), want.len());
        for (got, want) in got.iter().zip(want) {
            assert_eq!(got.0, want.0);
            assert_eq!(got.1.to_bits(), want.1.to_bits(), "{} vs {}", got.1, want.1);
        }
    }

    /// A classic histogram's `+Inf` bucket and one finite bucket that gets about `share`
    /// of its observations, 120 scrapes at 15 s.
    type Samples = Vec<(i64, f64)>;

    fn histogram_pair(share: f64) -> (Samples, Samples) {
        let start = 1_700_000_000_000i64;
        let (mut total, mut below) = (5_000_000.0f64, (5_000_000.0 * share).round());
        let mut infinite = Vec::new();
        let mut bucket = Vec::new();
        for i in 0..120i64 {
            let observations = 1_000.0 + ((i * 7_919) % 400) as f64;
            total += observations;
            below += (observations * share).round() + ((i % 3) - 1) as f64;
            infinite.push((start + i * 15_000, total));
            bucket.push((start + i * 15_000, below));
        }
        (infinite, bucket)
    }

    #[test]
    fn buckets_predicted_from_the_inf_bucket_cost_a_fraction_of_a_decimal_chunk() {
        let (infinite, bucket) = histogram_pair(0.73);
        let reference = encode_decimal_chunk(&infinite).unwrap();
        let relative = encode_relative_chunk(&bucket, &infinite, 12_345).unwrap();
        assert_eq!(relative[0], RELATIVE_FORMAT_VERSION);
        assert_eq!(relative_chunk_reference(&relative), Ok(12_345));
        same_bits(
            &decode_relative_chunk(&relative, &reference).unwrap(),
            &bucket,
        );
        let alone = encode_decimal_chunk(&bucket).unwrap();
        // Residuals of -1..=1 take 2 bits a sample against about 9 for the increments.
        assert!(
            relative.len() * 3 < alone.len(),
            "{} vs {}",
            relative.len(),
            alone.len()
        );
        // `_count` equals the `+Inf` bucket: nothing but the header.
        let count = encode_relative_chunk(&infinite, &infinite, 12_345).unwrap();
        assert_eq!(count[5], 0x80, "a frame of width 0");
        assert!(count.len() <= 24, "{}", count.len());
        same_bits(
            &decode_relative_chunk(&count, &reference).unwrap(),
            &infinite,
        );
    }

    #[test]
    fn refuses_what_it_cannot_predict_exactly() {
        let (infinite, bucket) = histogram_pair(0.5);
        let mut shifted = bucket.clone();
        shifted[7].0 += 1;
        assert_eq!(encode_relative_chunk(&shifted, &infinite, 0), None);
        assert_eq!(encode_relative_chunk(&bucket[1..], &infinite, 0), None);
        let mut measured = bucket.clone();
        measured[3].1 = 0.1 + 0.2;
        assert_eq!(encode_relative_chunk(&measured, &infinite, 0), None);
        let mut stale = infinite.clone();
        stale[9].1 = f64::from_bits(crate::metrics::tsdb::STALE_NAN_BITS);
        assert_eq!(encode_relative_chunk(&bucket, &stale, 0), None);
        assert_eq!(encode_relative_chunk(&[], &[], 0), None);
    }

    #[test]
    fn damaged_chunks_and_wrong_references_are_errors_not_panics() {
        let (infinite, bucket) = histogram_pair(0.25);
        let reference = encode_decimal_chunk(&infinite).unwrap();
        let relative = encode_relative_chunk(&bucket, &infinite, 99).unwrap();
        for cut in 0..relative.len() {
            let _ = decode_relative_chunk(&relative[..cut], &reference);
        }
        assert!(decode_relative_chunk(&relative[..relative.len() - 1], &reference).is_err());
        let shorter = encode_decimal_chunk(&infinite[..100]).unwrap();
        assert!(decode_relative_chunk(&relative, &shorter).is_err());
        let longer_samples: Vec<_> = (0..130)
            .map(|i| (1_700_000_000_000 + i * 15_000, i as f64))
            .collect();
        let longer = encode_decimal_chunk(&longer_samples).unwrap();
        assert!(decode_relative_chunk(&relative, &longer).is_err());
        // A relative chunk is no reference.
        assert!(decode_relative_chunk(&relative, &relative).is_err());
    }

    proptest! {
        #[test]
        fn any_decimal_pair_round_trips(
            start in -1_000_000_000_000i64..2_000_000_000_000,
            steps in proptest::collection::vec((1i64..100_000, -1_000_000i64..1_000_000, -5_000i64..5_000), 1..200),
            exponents in (0u32..4, 0u32..4),
        ) {
            let (mut time, mut own, mut other) = (start, 0i64, 1_000i64);
            let mut samples = Vec::new();
            let mut reference = Vec::new();
            for (gap, own_step, other_step) in steps {
                time += gap;
                own = own.wrapping_add(own_step).clamp(-(1 << 50), 1 << 50);
                other = other.wrapping_add(other_step).clamp(-(1 << 50), 1 << 50);
                samples.push((time, own as f64 / 10f64.powi(exponents.0 as i32)));
                reference.push((time, other as f64 / 10f64.powi(exponents.1 as i32)));
            }
            let reference_bytes = encode_decimal_chunk(&reference).unwrap();
            let relative = encode_relative_chunk(&samples, &reference, 7).unwrap();
            let decoded = decode_relative_chunk(&relative, &reference_bytes).unwrap();
            prop_assert_eq!(decoded.len(), samples.len());
            for (got, want) in decoded.iter().zip(&samples) {
                prop_assert_eq!(got.0, want.0);
                prop_assert_eq!(got.1.to_bits(), want.1.to_bits());
            }
        }
    }
}
