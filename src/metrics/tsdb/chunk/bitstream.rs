//! Bit-level writing and reading, most significant bit first.
//!
//! Bits fill each byte from its most significant bit down; a field of `n` bits is written
//! with its most significant bit first. The unused low bits of the last byte are zero.
//! [`BitWriter`] appends to a caller-owned `Vec<u8>` so that an open chunk keeps only the
//! byte buffer and one small count (the free bits of its last byte) between appends.
//! [`BitReader`] never panics: a read past the end of the data returns `None`.

/// Appends bits to the end of a `Vec<u8>`.
#[derive(Debug)]
pub struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Unused low bits of the last byte of `out`, `0..=7`; those bits are zero.
    free_bits: u8,
}

impl<'a> BitWriter<'a> {
    /// Starts writing at the next byte boundary: every byte already in `out` is kept whole.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out, free_bits: 0 }
    }

    /// Continues a bit stream whose last byte has `free_bits` unused low bits, as returned
    /// by [`BitWriter::free_bits`] when the previous writer was dropped.
    ///
    /// `free_bits` above 7, or non-zero with an empty `out`, is treated as 0; unused bits
    /// that are not zero are cleared.
    pub fn resume(out: &'a mut Vec<u8>, free_bits: u8) -> Self {
        let free_bits = match out.last_mut() {
            Some(last) if free_bits <= 7 => {
                let keep_mask = !((1u16 << free_bits) - 1) as u8;
                *last &= keep_mask;
                free_bits
            }
            _ => 0,
        };
        Self { out, free_bits }
    }

    /// Unused low bits of the last byte, to pass to [`BitWriter::resume`] later.
    pub fn free_bits(&self) -> u8 {
        self.free_bits
    }

    /// Total number of bits in the buffer (whole earlier bytes included).
    pub fn bit_len(&self) -> u64 {
        self.out.len() as u64 * 8 - u64::from(self.free_bits)
    }

    /// Appends one bit.
    #[inline]
    pub fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Appends the low `count` bits of `value`, most significant first. Bits of `value`
    /// above `count` are ignored. `count` must be at most 64; larger counts write 64 bits.
    #[inline]
    pub fn write_bits(&mut self, value: u64, count: u32) {
        debug_assert!(count <= 64, "bit count {count} above 64");
        let mut remaining = count.min(64);
        if remaining == 0 {
            return;
        }
        if self.free_bits > 0 {
            let take = remaining.min(u32::from(self.free_bits));
            let field = (value >> (remaining - take)) & ((1u64 << take) - 1);
            if let Some(last) = self.out.last_mut() {
                *last |= (field as u8) << (u32::from(self.free_bits) - take);
            }
            self.free_bits -= take as u8;
            remaining -= take;
            if remaining == 0 {
                return;
            }
        }
        // `remaining` is in 1..=64: left-align the field and append the bytes it touches.
        let aligned = value << (64 - remaining);
        let byte_count = remaining.div_ceil(8);
        self.out
            .extend_from_slice(&aligned.to_be_bytes()[..byte_count as usize]);
        self.free_bits = (byte_count * 8 - remaining) as u8;
    }
}

/// Reads bits from a byte slice. Every read returns `None` instead of reading past the end.
///
/// The reader is `Copy` and its rare paths take and return it by value, so that a decoding
/// loop can keep it in registers.
#[derive(Debug, Clone, Copy)]
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Index of the first byte not yet loaded into `window`.
    next_byte: usize,
    /// Loaded bits, left-aligned: bit 63 is the next bit to read. Bits below the `loaded`
    /// valid ones are either zero or copies of the data bits that follow.
    window: u64,
    /// Number of valid bits at the top of `window`, `0..=64`.
    loaded: u32,
}

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            next_byte: 0,
            window: 0,
            loaded: 0,
        }
    }

    /// Number of bits read so far.
    pub fn bit_position(&self) -> u64 {
        self.next_byte as u64 * 8 - u64::from(self.loaded)
    }

    /// Number of bits left to read.
    pub fn remaining_bits(&self) -> u64 {
        self.data.len() as u64 * 8 - self.bit_position()
    }

    /// Loads whole bytes until at least 57 bits are loaded or the data is exhausted.
    #[inline(always)]
    fn refill(&mut self) {
        if self.loaded > 56 {
            return;
        }
        match self
            .data
            .get(self.next_byte..)
            .and_then(|rest| rest.first_chunk::<8>())
        {
            Some(word) => {
                // One unaligned load; the bits past the whole bytes taken are the
                // following data bits, which keeps the window invariant.
                self.window |= u64::from_be_bytes(*word) >> self.loaded;
                let taken = (63 - self.loaded) / 8;
                self.next_byte += taken as usize;
                self.loaded += taken * 8;
            }
            None => *self = self.refill_tail(),
        }
    }

    /// Refill for the last 7 bytes, one byte at a time.
    #[cold]
    #[inline(never)]
    fn refill_tail(mut self) -> Self {
        while self.loaded <= 56 {
            let Some(&byte) = self.data.get(self.next_byte) else {
                break;
            };
            self.window |= u64::from(byte) << (56 - self.loaded);
            self.next_byte += 1;
            self.loaded += 8;
        }
        self
    }

    /// Makes at least `count` bits (at most 56) available to [`BitReader::peek_word`].
    /// Returns false when the data ends first.
    #[inline(always)]
    pub fn fill(&mut self, count: u32) -> bool {
        debug_assert!(count <= 56);
        if self.loaded < count {
            self.refill();
        }
        self.loaded >= count
    }

    /// The next 64 bits, left-aligned, without consuming them. Only as many as the last
    /// successful [`BitReader::fill`] asked for are guaranteed to be data; past the end of
    /// the data the bits are zero.
    #[inline(always)]
    pub fn peek_word(&self) -> u64 {
        self.window
    }

    /// Consumes `count` bits made available by [`BitReader::fill`] (at most what it made
    /// available; more is clamped to the loaded bits).
    #[inline(always)]
    pub fn skip(&mut self, count: u32) {
        debug_assert!(count <= 56 && count <= self.loaded);
        let count = count.min(56).min(self.loaded);
        self.window <<= count;
        self.loaded -= count;
    }

    /// Reads one bit.
    #[inline(always)]
    pub fn read_bit(&mut self) -> Option<bool> {
        self.read_bits(1).map(|bit| bit == 1)
    }

    /// Reads a `count`-bit field (most significant bit first) into the low bits of the
    /// result. `count` must be at most 64; a larger count returns `None`.
    #[inline(always)]
    pub fn read_bits(&mut self, count: u32) -> Option<u64> {
        if count > 56 {
            let (reader, value) = self.read_long(count);
            *self = reader;
            return value;
        }
        if self.loaded < count {
            self.refill();
            if self.loaded < count {
                return None;
            }
        }
        // Two shifts so that a zero count yields zero without a branch.
        let value = (self.window >> 1) >> (63 - count);
        self.window <<= count;
        self.loaded -= count;
        Some(value)
    }

    #[cold]
    #[inline(never)]
    fn read_long(mut self, count: u32) -> (Self, Option<u64>) {
        if count > 64 {
            return (self, None);
        }
        let value = self
            .read_bits(count - 32)
            .and_then(|high| Some((high << 32) | self.read_bits(32)?));
        (self, value)
    }

    /// Reads a unary prefix: counts consecutive one bits, stopping after the first zero
    /// bit (which is consumed) or after `max` ones (then no zero follows). `max` must be
    /// at most 32.
    #[inline(always)]
    pub fn read_ones(&mut self, max: u32) -> Option<u32> {
        debug_assert!(max <= 32);
        if self.loaded < max + 1 {
            self.refill();
        }
        // Bits past `loaded` are zero or real data; the length check below rejects a
        // prefix that would need bits that are not there.
        let ones = self.window.leading_ones().min(max);
        let length = if ones < max { ones + 1 } else { max };
        if length > self.loaded {
            return None;
        }
        self.window <<= length;
        self.loaded -= length;
        Some(ones)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn writes_most_significant_bit_first() {
        let mut out = Vec::new();
        let mut writer = BitWriter::new(&mut out);
        writer.write_bit(true);
        writer.write_bits(0b01, 2);
        writer.write_bits(0xABC, 12);
        assert_eq!(writer.bit_len(), 15);
        assert_eq!(writer.free_bits(), 1);
        assert_eq!(out, vec![0b1011_0101, 0b0111_1000]);
    }

    #[test]
    fn resume_continues_the_last_byte() {
        let mut out = Vec::new();
        let free = {
            let mut writer = BitWriter::new(&mut out);
            writer.write_bits(0b101, 3);
            writer.free_bits()
        };
        let mut writer = BitWriter::resume(&mut out, free);
        writer.write_bits(0b11111, 5);
        writer.write_bits(u64::MAX, 64);
        assert_eq!(writer.free_bits(), 0);
        assert_eq!(
            out,
            vec![0b1011_1111, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
    }

    #[test]
    fn resume_rejects_nonsense_free_bits() {
        let mut empty = Vec::new();
        assert_eq!(BitWriter::resume(&mut empty, 3).free_bits(), 0);
        let mut one = vec![0xFF];
        let writer = BitWriter::resume(&mut one, 9);
        assert_eq!(writer.free_bits(), 0);
        let mut dirty = vec![0xFF];
        let mut writer = BitWriter::resume(&mut dirty, 4);
        writer.write_bits(0, 4);
        assert_eq!(dirty, vec![0xF0]);
    }

    #[test]
    fn reads_stop_at_the_end() {
        let data = [0b1100_0001u8, 0xFF];
        let mut reader = BitReader::new(&data);
        assert_eq!(reader.read_ones(4), Some(2));
        assert_eq!(reader.read_bits(5), Some(0b00001));
        assert_eq!(reader.bit_position(), 8);
        assert_eq!(reader.read_ones(4), Some(4));
        assert_eq!(reader.read_bits(5), None);
        assert_eq!(reader.read_bits(4), Some(0xF));
        assert_eq!(reader.read_bit(), None);
        assert_eq!(reader.read_bits(0), Some(0));
        assert_eq!(reader.read_bits(65), None);
        assert_eq!(reader.remaining_bits(), 0);
    }

    #[test]
    fn unary_prefix_needs_its_terminating_zero() {
        let data = [0b1110_0000u8];
        let mut reader = BitReader::new(&data);
        assert_eq!(reader.read_bits(5), Some(0b11100));
        assert_eq!(reader.read_ones(4), Some(0));
        assert_eq!(reader.read_ones(4), Some(0));
        assert_eq!(reader.read_ones(4), Some(0));
        assert_eq!(reader.read_ones(4), None);
        let ones = [0xFFu8];
        let mut reader = BitReader::new(&ones);
        assert_eq!(reader.read_ones(8), Some(8));
        assert_eq!(reader.read_ones(1), None);
    }

    fn field_strategy() -> impl Strategy<Value = (u64, u32)> {
        (0u32..=64, any::<u64>()).prop_map(|(count, value)| {
            let value = if count == 64 {
                value
            } else {
                value & ((1u64 << count) - 1)
            };
            (value, count)
        })
    }

    proptest! {
        #[test]
        fn fields_round_trip(prefix in proptest::collection::vec(any::<u8>(), 0..4),
                             fields in proptest::collection::vec(field_strategy(), 0..200)) {
            let mut out = prefix.clone();
            let mut free = 0;
            for chunk in fields.chunks(7) {
                let mut writer = BitWriter::resume(&mut out, free);
                for &(value, count) in chunk {
                    // Bits above `count` must be ignored by the writer.
                    let above = if count == 64 { 0 } else { u64::MAX << count };
                    writer.write_bits(value | above, count);
                }
                free = writer.free_bits();
            }
            let total: u64 = fields.iter().map(|&(_, count)| u64::from(count)).sum();
            prop_assert_eq!(out.len() as u64 * 8, prefix.len() as u64 * 8 + total + u64::from(free));
            let mut reader = BitReader::new(&out[prefix.len()..]);
            for &(value, count) in &fields {
                prop_assert_eq!(reader.read_bits(count), Some(value));
            }
            prop_assert_eq!(reader.remaining_bits(), u64::from(free));
            prop_assert_eq!(reader.read_bits(u32::from(free)), Some(0));
        }

        #[test]
        fn random_reads_never_panic(data in proptest::collection::vec(any::<u8>(), 0..40),
                                    reads in proptest::collection::vec((any::<bool>(), 0u32..=70), 0..60)) {
            let mut reader = BitReader::new(&data);
            for (unary, count) in reads {
                let before = reader.bit_position();
                let result = if unary {
                    reader.read_ones(count.min(32)).map(u64::from)
                } else {
                    reader.read_bits(count)
                };
                prop_assert!(reader.bit_position() <= data.len() as u64 * 8);
                if result.is_none() && count <= 56 {
                    prop_assert_eq!(reader.bit_position(), before);
                }
            }
        }
    }
}
