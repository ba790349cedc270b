//! [`FloatIter`]: the samples of a float chunk in either encoding a block may hold, XOR
//! (format 1, also the head's) or decimal (formats 3 and 4), told apart by the first byte.

use super::decimal::{is_decimal_version, DecimalIter};
use super::xor::XorIter;
use super::ChunkError;

/// Iterates over the samples of a float chunk of any encoding.
#[derive(Debug, Clone)]
pub enum FloatIter<'a> {
    Xor(XorIter<'a>),
    Decimal(DecimalIter<'a>),
}

impl<'a> FloatIter<'a> {
    /// Reads the header of encoded chunk bytes; samples are decoded as they are iterated.
    pub fn new(bytes: &'a [u8]) -> Result<Self, ChunkError> {
        if bytes.first().copied().is_some_and(is_decimal_version) {
            return DecimalIter::new(bytes).map(FloatIter::Decimal);
        }
        XorIter::new(bytes).map(FloatIter::Xor)
    }

    /// The error that ended iteration early, if any.
    pub fn error(&self) -> Option<&ChunkError> {
        match self {
            FloatIter::Xor(iter) => iter.error(),
            FloatIter::Decimal(iter) => iter.error(),
        }
    }
}

impl Iterator for FloatIter<'_> {
    type Item = (i64, f64);

    #[inline]
    fn next(&mut self) -> Option<(i64, f64)> {
        match self {
            FloatIter::Xor(iter) => iter.next(),
            FloatIter::Decimal(iter) => iter.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            FloatIter::Xor(iter) => iter.size_hint(),
            FloatIter::Decimal(iter) => iter.size_hint(),
        }
    }
}
