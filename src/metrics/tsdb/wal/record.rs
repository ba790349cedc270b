//! Small helpers for the record payloads the head writes into the WAL.
//!
//! The WAL itself treats payloads as opaque bytes. By convention the head starts every payload
//! with a [`RecordType`] byte and encodes integers as varints: unsigned LEB128 for ids and
//! counts, zigzag for signed values such as timestamp deltas.

/// Errors decoding a record payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordDecodeError {
    #[error("varint at byte {offset} is truncated")]
    TruncatedVarint { offset: usize },
    #[error("varint at byte {offset} overflows 64 bits")]
    VarintOverflow { offset: usize },
    #[error("record is truncated at byte {offset}")]
    Truncated { offset: usize },
    #[error("record field at byte {offset} is invalid: {message}")]
    Invalid { offset: usize, message: String },
    #[error("unknown wal record type {0}")]
    UnknownRecordType(u8),
    #[error("empty wal record: no record type byte")]
    Empty,
}

/// The first byte of a record payload written by the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RecordType {
    /// Series definitions: series id and labels.
    Series = 1,
    /// Samples of known series.
    Samples = 2,
    /// Deletion intervals.
    Tombstones = 3,
    /// Native histogram samples of known series.
    HistogramSamples = 4,
    /// Samples of known series, with references, timestamps and integer values packed
    /// (what the head writes since type 2).
    CompactSamples = 5,
}

impl RecordType {
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The record type of a payload and the bytes that follow it.
    pub fn split(payload: &[u8]) -> Result<(RecordType, &[u8]), RecordDecodeError> {
        let (&first, rest) = payload.split_first().ok_or(RecordDecodeError::Empty)?;
        Ok((RecordType::try_from(first)?, rest))
    }
}

impl TryFrom<u8> for RecordType {
    type Error = RecordDecodeError;

    fn try_from(byte: u8) -> Result<Self, Self::Error> {
        match byte {
            1 => Ok(RecordType::Series),
            2 => Ok(RecordType::Samples),
            3 => Ok(RecordType::Tombstones),
            4 => Ok(RecordType::HistogramSamples),
            5 => Ok(RecordType::CompactSamples),
            other => Err(RecordDecodeError::UnknownRecordType(other)),
        }
    }
}

impl From<RecordType> for u8 {
    fn from(record_type: RecordType) -> u8 {
        record_type.as_u8()
    }
}

/// Most bytes a 64-bit varint takes.
pub const MAX_VARINT_LEN: usize = 10;

/// Appends `value` as an unsigned LEB128 varint.
pub fn put_uvarint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends `value` zigzag-encoded (small magnitudes, either sign, stay short).
pub fn put_varint(out: &mut Vec<u8>, value: i64) {
    put_uvarint(out, zigzag_encode(value));
}

/// Bytes [`put_uvarint`] writes for `value`.
pub fn uvarint_len(value: u64) -> usize {
    let significant_bits = 64 - (value | 1).leading_zeros() as usize;
    significant_bits.div_ceil(7)
}

/// Decodes an unsigned varint from the start of `input`; returns it and the bytes it used.
/// Non-minimal encodings are accepted; values beyond 64 bits are refused.
pub fn get_uvarint(input: &[u8]) -> Result<(u64, usize), RecordDecodeError> {
    let mut value = 0u64;
    for (position, &byte) in input.iter().take(MAX_VARINT_LEN).enumerate() {
        let bits = u64::from(byte & 0x7f);
        if position == MAX_VARINT_LEN - 1 && byte > 1 {
            return Err(RecordDecodeError::VarintOverflow { offset: 0 });
        }
        value |= bits << (7 * position);
        if byte < 0x80 {
            return Ok((value, position + 1));
        }
    }
    if input.len() >= MAX_VARINT_LEN {
        return Err(RecordDecodeError::VarintOverflow { offset: 0 });
    }
    Err(RecordDecodeError::TruncatedVarint { offset: 0 })
}

/// Decodes a zigzag varint written by [`put_varint`].
pub fn get_varint(input: &[u8]) -> Result<(i64, usize), RecordDecodeError> {
    let (raw, used) = get_uvarint(input)?;
    Ok((zigzag_decode(raw), used))
}

fn zigzag_encode(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn zigzag_decode(raw: u64) -> i64 {
    ((raw >> 1) as i64) ^ -((raw & 1) as i64)
}

/// Reads varints one after another from a payload, tracking the offset for error messages.
#[derive(Debug, Clone)]
pub struct VarintReader<'a> {
    input: &'a [u8],
    offset: usize,
}

impl<'a> VarintReader<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        Self { input, offset: 0 }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The bytes not consumed yet.
    pub fn remaining(&self) -> &'a [u8] {
        &self.input[self.offset..]
    }

    pub fn is_empty(&self) -> bool {
        self.offset == self.input.len()
    }

    pub fn uvarint(&mut self) -> Result<u64, RecordDecodeError> {
        let (value, used) = get_uvarint(self.remaining()).map_err(|error| self.at(error))?;
        self.offset += used;
        Ok(value)
    }

    pub fn varint(&mut self) -> Result<i64, RecordDecodeError> {
        let (value, used) = get_varint(self.remaining()).map_err(|error| self.at(error))?;
        self.offset += used;
        Ok(value)
    }

    /// The next `len` raw bytes.
    pub fn bytes(&mut self, len: usize) -> Result<&'a [u8], RecordDecodeError> {
        let end = self
            .offset
            .checked_add(len)
            .filter(|end| *end <= self.input.len())
            .ok_or(RecordDecodeError::Truncated {
                offset: self.offset,
            })?;
        let bytes = &self.input[self.offset..end];
        self.offset = end;
        Ok(bytes)
    }

    /// A little-endian u64 (float bits are stored this way).
    pub fn u64_le(&mut self) -> Result<u64, RecordDecodeError> {
        let bytes = self.bytes(8)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(array))
    }

    fn at(&self, error: RecordDecodeError) -> RecordDecodeError {
        match error {
            RecordDecodeError::TruncatedVarint { .. } => RecordDecodeError::TruncatedVarint {
                offset: self.offset,
            },
            RecordDecodeError::VarintOverflow { .. } => RecordDecodeError::VarintOverflow {
                offset: self.offset,
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        let encode = |value: u64| {
            let mut out = Vec::new();
            put_uvarint(&mut out, value);
            out
        };
        assert_eq!(encode(0), vec![0x00]);
        assert_eq!(encode(1), vec![0x01]);
        assert_eq!(encode(127), vec![0x7f]);
        assert_eq!(encode(128), vec![0x80, 0x01]);
        assert_eq!(encode(300), vec![0xac, 0x02]);
        assert_eq!(encode(u64::MAX).len(), MAX_VARINT_LEN);
        let mut signed = Vec::new();
        for value in [0i64, -1, 1, -2, 2] {
            put_varint(&mut signed, value);
        }
        assert_eq!(signed, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn malformed_varints() {
        assert_eq!(
            get_uvarint(&[]),
            Err(RecordDecodeError::TruncatedVarint { offset: 0 })
        );
        assert_eq!(
            get_uvarint(&[0x80, 0x80]),
            Err(RecordDecodeError::TruncatedVarint { offset: 0 })
        );
        let mut too_big = vec![0xff; 9];
        too_big.push(0x02);
        assert_eq!(
            get_uvarint(&too_big),
            Err(RecordDecodeError::VarintOverflow { offset: 0 })
        );
        assert_eq!(
            get_uvarint(&[0x80; 11]),
            Err(RecordDecodeError::VarintOverflow { offset: 0 })
        );
        // Non-minimal but in range.
        assert_eq!(get_uvarint(&[0x81, 0x00]), Ok((1, 2)));
    }

    #[test]
    fn reader_reports_offsets() {
        let mut bytes = Vec::new();
        put_uvarint(&mut bytes, 5);
        put_varint(&mut bytes, -300);
        bytes.push(0x80);
        let mut reader = VarintReader::new(&bytes);
        assert_eq!(reader.uvarint(), Ok(5));
        assert_eq!(reader.varint(), Ok(-300));
        assert_eq!(reader.offset(), 3);
        assert_eq!(
            reader.uvarint(),
            Err(RecordDecodeError::TruncatedVarint { offset: 3 })
        );
    }

    #[test]
    fn record_types() {
        for record_type in [
            RecordType::Series,
            RecordType::Samples,
            RecordType::Tombstones,
            RecordType::HistogramSamples,
        ] {
            assert_eq!(RecordType::try_from(record_type.as_u8()), Ok(record_type));
        }
        assert_eq!(RecordType::Series.as_u8(), 1);
        assert_eq!(RecordType::Samples.as_u8(), 2);
        assert_eq!(RecordType::Tombstones.as_u8(), 3);
        assert_eq!(
            RecordType::try_from(0),
            Err(RecordDecodeError::UnknownRecordType(0))
        );
        assert_eq!(
            RecordType::split(&[2, 9]),
            Ok((RecordType::Samples, &[9u8][..]))
        );
        assert_eq!(RecordType::split(&[]), Err(RecordDecodeError::Empty));
    }

    proptest! {
        #[test]
        fn uvarints_round_trip(values in proptest::collection::vec(any::<u64>(), 0..50)) {
            let mut bytes = Vec::new();
            for &value in &values {
                let before = bytes.len();
                put_uvarint(&mut bytes, value);
                prop_assert_eq!(bytes.len() - before, uvarint_len(value));
            }
            let mut reader = VarintReader::new(&bytes);
            for &value in &values {
                prop_assert_eq!(reader.uvarint(), Ok(value));
            }
            prop_assert!(reader.is_empty());
        }

        #[test]
        fn varints_round_trip(values in proptest::collection::vec(any::<i64>(), 0..50)) {
            let mut bytes = Vec::new();
            for &value in &values {
                put_varint(&mut bytes, value);
            }
            let mut reader = VarintReader::new(&bytes);
            for &value in &values {
                prop_assert_eq!(reader.varint(), Ok(value));
            }
            prop_assert!(reader.is_empty());
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            if let Ok((value, used)) = get_uvarint(&bytes) {
                prop_assert!((1..=MAX_VARINT_LEN).contains(&used));
                prop_assert!(uvarint_len(value) <= used);
            }
        }
    }
}
