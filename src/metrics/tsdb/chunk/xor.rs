//! The XOR chunk (format version 1): samples `(i64 timestamp, f64 value)` with strictly
//! increasing timestamps, compressed with delta-of-delta timestamps and, per value, either a
//! decimal integer delta or a Gorilla-style XOR against the previous value.
//!
//! The byte layout is specified in `docs/format/chunks.md`; the constants below are the
//! ones named there. Encoder and decoder share one `CodecState` and update it with the
//! same rules, which is what lets [`XorChunk::from_bytes`] resume appending exactly where
//! the writer of the bytes stopped.

use super::bitstream::{BitReader, BitWriter};
use super::varint::{put_uvarint, unzigzag, zigzag};
use super::ChunkError;

/// Value of the first byte of every chunk in this format.
pub const XOR_FORMAT_VERSION: u8 = 1;

/// Most samples one chunk can hold (the count field is 16 bits).
pub const MAX_SAMPLES: u16 = u16::MAX;

/// Version byte and big-endian sample count.
const FIXED_HEADER_LEN: usize = 3;

/// Payload widths of the delta-of-delta buckets whose prefixes are `10`, `110`, `1110` and
/// `11110`. Prefix `0` means a delta-of-delta of zero, prefix `11111` a raw 64-bit one.
const DOD_WIDTHS: [u32; 4] = [4, 6, 10, 20];
const DOD_RAW_PREFIX_ONES: u32 = DOD_WIDTHS.len() as u32 + 1;

/// Largest decimal scale: 10^22 is the largest power of ten that an f64 holds exactly.
const MAX_SCALE: u8 = 22;
const SCALE_BITS: u32 = 5;
/// Field holding `width - 1` of the scaled integer in a scale code (widths 1..=64).
const WIDTH_BITS: u32 = 6;
/// Fields holding the shift and the width (both 0..=63) of a new integer delta format.
const INT_SHIFT_BITS: u32 = 6;
const INT_WIDTH_BITS: u32 = 6;
const XOR_LEADING_BITS: u32 = 6;
/// Field holding `significant bits - 1` of a new XOR window (1..=64).
const XOR_SIGNIFICANT_BITS: u32 = 6;
/// Scaled integers stay within ±2^53 so that converting them to f64 is exact.
const MAX_SCALED: i64 = 1 << 53;

const POW10: [f64; MAX_SCALE as usize + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Set while the previous value is `scaled / 10^scale`, i.e. integer deltas may follow.
const FLAG_SCALED: u8 = 1;
/// Set while the previous value code was a repeat. With `FLAG_SCALED` it selects the
/// value code table (the two flags are the table's index).
const FLAG_LAST_REPEAT: u8 = 2;
/// Sign of the last integer delta.
const FLAG_NEGATIVE: u8 = 4;
/// Set once an integer delta format was written; until then the encoder picks a shift
/// freely, afterwards it only lowers it.
const FLAG_INT_FORMAT: u8 = 8;
/// Set while the previous sample repeated the one before it exactly (delta-of-delta zero
/// and identical value bits): each sample then starts with a run bit.
const FLAG_RUN: u8 = 16;

// Encoder choices. They change which of several valid encodings is written, never how
// bits are read, so they can be tuned without a format version.
/// Keep the integer width when the delta needs at most this many bits fewer.
const INT_WIDTH_SLACK: u32 = 8;
/// The first integer delta format of a chunk uses a shift only when the delta has at
/// least this many trailing zero bits (a page, block or kibibyte multiple, not chance).
const MIN_FIRST_SHIFT: u32 = 4;
/// Keep the XOR window when the value needs at most this many significant bits fewer.
const XOR_WINDOW_SLACK: u32 = 13;
/// Prefer switching to decimal mode when it costs at most this many bits more than XOR:
/// the following values are likely decimal too and then cost far less.
const SET_SCALE_ALLOWANCE: u32 = 16;
/// The allowance applies only to scaled integers of at most this many bits (about 12
/// decimal digits); a longer decimal form is more likely chance than a decimal series.
const SET_SCALE_MAX_HOPEFUL_WIDTH: u32 = 40;
/// After a value that no scale represents, skip the full scale search for this many
/// values (the last scale is still tried), so arbitrary floats append quickly.
const SEARCH_BACKOFF: u8 = 32;

/// Everything the encoder and decoder carry from one sample to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CodecState {
    /// Last timestamp.
    t: i64,
    /// Last timestamp delta (wrapping arithmetic, so any increasing i64 pair works).
    delta: i64,
    /// Bits of the last value.
    v: u64,
    /// Last value as `scaled / 10^scale`, meaningful while `FLAG_SCALED` is set.
    scaled: i64,
    /// Current XOR window: leading zero bits and significant bits (0 = no window yet).
    xor_leading: u8,
    xor_significant: u8,
    /// Current integer delta format: payload width and shift (magnitude = (payload + 1)
    /// << shift), both `0..=63`.
    int_width: u8,
    int_shift: u8,
    /// Current decimal scale, `0..=MAX_SCALE`; kept when `FLAG_SCALED` is cleared.
    scale: u8,
    flags: u8,
    /// Writer only: free low bits of the last byte.
    free_bits: u8,
    /// Encoder only: values left before the next full scale search.
    search_backoff: u8,
}

impl CodecState {
    /// The state before the first sample: the previous value is +0.0, in decimal mode at
    /// scale 0, so the first value is coded like any other.
    const INITIAL: CodecState = CodecState {
        t: 0,
        delta: 0,
        v: 0,
        scaled: 0,
        xor_leading: 0,
        xor_significant: 0,
        int_width: 0,
        int_shift: 0,
        scale: 0,
        flags: FLAG_SCALED,
        free_bits: 0,
        search_backoff: 0,
    };

    fn is_scaled(&self) -> bool {
        self.flags & FLAG_SCALED != 0
    }

    fn in_run(&self) -> bool {
        self.flags & FLAG_RUN != 0
    }

    fn set_flag(&mut self, flag: u8, on: bool) {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
    }
}

/// The five ways a value is coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueCode {
    Repeat,
    IntDelta,
    XorReuse,
    XorNew,
    SetScale,
}

/// Value code tables, indexed by `flags & (FLAG_SCALED | FLAG_LAST_REPEAT)`: the code at
/// index `i` has the prefix of `i` one bits and a zero bit, the last code of a table (of
/// `VALUE_TABLE_LEN` codes) `len - 1` one bits. Outside decimal mode there is no integer
/// delta code; in either mode the one-bit prefix goes to the code most likely to follow (a
/// repeat after a repeat, a change after a change). Unused slots repeat the last code.
const VALUE_TABLES: [[ValueCode; 5]; 4] = {
    use ValueCode::*;
    [
        [XorReuse, Repeat, XorNew, SetScale, SetScale], // xor mode, after a change
        [IntDelta, Repeat, XorReuse, XorNew, SetScale], // decimal mode, after a change
        [Repeat, XorReuse, XorNew, SetScale, SetScale], // xor mode, after a repeat
        [Repeat, IntDelta, XorReuse, XorNew, SetScale], // decimal mode, after a repeat
    ]
};
const VALUE_TABLE_LEN: [u32; 4] = [4, 5, 4, 5];

impl ValueCode {
    fn table_index(state: &CodecState) -> usize {
        usize::from(state.flags & (FLAG_SCALED | FLAG_LAST_REPEAT))
    }

    /// The prefix of this code in the current table, as `(bits, length)`; `None` when the
    /// table has no such code (integer deltas outside decimal mode).
    fn prefix(self, state: &CodecState) -> Option<(u64, u32)> {
        let index = ValueCode::table_index(state);
        let len = VALUE_TABLE_LEN[index];
        let position = VALUE_TABLES[index][..len as usize]
            .iter()
            .position(|&code| code == self)? as u32;
        Some(if position < len - 1 {
            (((1u64 << position) - 1) << 1, position + 1)
        } else {
            ((1u64 << position) - 1, position)
        })
    }

    #[inline(always)]
    fn read(reader: &mut BitReader<'_>, state: &CodecState) -> Result<ValueCode, Fault> {
        let index = ValueCode::table_index(state);
        let ones = reader
            .read_ones(VALUE_TABLE_LEN[index] - 1)
            .ok_or(Fault::Truncated)?;
        Ok(VALUE_TABLES[index][(ones as usize).min(4)])
    }
}

/// A decoding failure before the sample index is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Truncated,
    Corrupt(&'static str),
}

impl Fault {
    fn at(self, sample: u32) -> ChunkError {
        match self {
            Fault::Truncated => ChunkError::Truncated { sample },
            Fault::Corrupt(reason) => ChunkError::Corrupt { sample, reason },
        }
    }
}

/// Most bytes one appended sample can take: a 64-bit timestamp delta-of-delta and a full
/// 64-bit value, with their control bits.
const MAX_SAMPLE_BYTES: usize = 20;
/// Smallest growth of a chunk's buffer.
const GROWTH_STEP: usize = 48;

/// A chunk being appended to, or read back from bytes: the encoded bytes plus the small
/// state needed to append the next sample in O(1). Two chunks are equal when their bytes
/// are.
#[derive(Debug, Clone)]
pub struct XorChunk {
    bytes: Vec<u8>,
    state: CodecState,
}

impl PartialEq for XorChunk {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for XorChunk {}

impl Default for XorChunk {
    fn default() -> Self {
        Self::new()
    }
}

impl XorChunk {
    /// An empty chunk.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty chunk whose buffer has room for `bytes` bytes before reallocating.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buffer = Vec::with_capacity(bytes.max(FIXED_HEADER_LEN));
        buffer.extend_from_slice(&[XOR_FORMAT_VERSION, 0, 0]);
        Self {
            bytes: buffer,
            state: CodecState::INITIAL,
        }
    }

    /// Empties the chunk, keeping its buffer's allocation for the samples to come.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.bytes.extend_from_slice(&[XOR_FORMAT_VERSION, 0, 0]);
        self.state = CodecState::INITIAL;
    }

    /// Copies and fully validates encoded bytes; the chunk can then be appended to.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ChunkError> {
        Self::from_vec(bytes.to_vec())
    }

    /// Validates encoded bytes without copying them; the chunk can then be appended to.
    ///
    /// Validation decodes every sample: the data must hold exactly the announced number
    /// of samples with strictly increasing timestamps, followed only by zero padding bits
    /// in the last byte.
    pub fn from_vec(bytes: Vec<u8>) -> Result<Self, ChunkError> {
        let mut decoder = Decoder::new(&bytes)?;
        while decoder.next_index < decoder.count {
            decoder
                .decode_next()
                .map_err(|fault| fault.at(decoder.next_index))?;
        }
        let end = decoder.count;
        let padding = decoder.reader.remaining_bits();
        if padding >= 8 {
            return Err(Fault::Corrupt("bytes follow the last sample").at(end));
        }
        if decoder.reader.read_bits(padding as u32) != Some(0) {
            return Err(Fault::Corrupt("padding bits after the last sample are not zero").at(end));
        }
        let mut state = decoder.state;
        state.free_bits = padding as u8;
        state.search_backoff = 0;
        Ok(Self { bytes, state })
    }

    /// The encoded chunk, ready to be stored. Appending more samples only adds bytes
    /// (and rewrites the count and the last byte).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// How many bytes after the header no later append rewrites: all of them but a last
    /// byte that still has free bits.
    pub fn settled_len(&self) -> usize {
        self.bytes.len() - FIXED_HEADER_LEN - usize::from(self.state.free_bits > 0)
    }

    /// The first `len` bytes after the header, which must be settled (see
    /// [`XorChunk::settled_len`]).
    pub fn settled(&self, len: usize) -> &[u8] {
        &self.bytes[FIXED_HEADER_LEN..FIXED_HEADER_LEN + len.min(self.settled_len())]
    }

    /// Drops the first `len` settled bytes from memory, keeping the buffer's allocation;
    /// the caller keeps them elsewhere. Appending goes on exactly as before, but from then
    /// on [`XorChunk::bytes`], [`XorChunk::iter`], [`XorChunk::min_time`] and
    /// [`XorChunk::bit_len`] see only the header and the bytes after the dropped ones:
    /// [`XorChunk::write_with_prefix`] puts the whole chunk back together.
    pub fn forget_settled(&mut self, len: usize) {
        let len = len.min(self.settled_len());
        self.bytes.drain(FIXED_HEADER_LEN..FIXED_HEADER_LEN + len);
    }

    /// Appends to `out` the whole encoded chunk of which `prefix` holds the bytes dropped
    /// by [`XorChunk::forget_settled`].
    pub fn write_with_prefix(&self, prefix: &[u8], out: &mut Vec<u8>) {
        out.reserve(self.bytes.len() + prefix.len());
        out.extend_from_slice(&self.bytes[..FIXED_HEADER_LEN]);
        out.extend_from_slice(prefix);
        out.extend_from_slice(&self.bytes[FIXED_HEADER_LEN..]);
    }

    /// Bytes the buffer holds before it reallocates.
    #[cfg(test)]
    pub fn buffer_capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// The encoded chunk, giving up the append state.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    pub fn num_samples(&self) -> u16 {
        debug_assert!(self.bytes.len() >= FIXED_HEADER_LEN);
        u16::from_be_bytes([self.bytes[1], self.bytes[2]])
    }

    /// Encoded size in bits (the last byte may be partly used).
    pub fn bit_len(&self) -> u64 {
        self.bytes.len() as u64 * 8 - u64::from(self.state.free_bits)
    }

    pub fn is_empty(&self) -> bool {
        self.num_samples() == 0
    }

    /// Timestamp of the first sample, `None` for an empty chunk.
    pub fn min_time(&self) -> Option<i64> {
        Self::first_timestamp(&self.bytes)
    }

    /// Timestamp of the first sample of encoded chunk bytes (of which the header and
    /// the first timestamp suffice), `None` for an empty or malformed chunk.
    pub fn first_timestamp(bytes: &[u8]) -> Option<i64> {
        let count = bytes.get(1..FIXED_HEADER_LEN)?;
        if count == [0, 0] {
            return None;
        }
        Self::first_timestamp_in_payload(&bytes[FIXED_HEADER_LEN..])
    }

    /// [`XorChunk::first_timestamp`] of a non-empty chunk's bytes after the header.
    pub fn first_timestamp_in_payload(payload: &[u8]) -> Option<i64> {
        let (zigzagged, _) = read_varint(payload).ok()?;
        Some(unzigzag(zigzagged))
    }

    /// Timestamp of the last sample, `None` for an empty chunk.
    pub fn max_time(&self) -> Option<i64> {
        (!self.is_empty()).then_some(self.state.t)
    }

    /// The newest sample, `None` for an empty chunk.
    /// What an append reads and writes, for prefetching: the header (sample count) and
    /// the last byte written. Addresses only, never dereferenced here.
    pub fn append_lines(&self) -> [*const u8; 2] {
        let start = self.bytes.as_ptr();
        [
            start,
            start.wrapping_add(self.bytes.len().saturating_sub(1)),
        ]
    }

    pub fn last_sample(&self) -> Option<(i64, f64)> {
        (!self.is_empty()).then(|| (self.state.t, f64::from_bits(self.state.v)))
    }

    /// Iterates over the samples in timestamp order.
    pub fn iter(&self) -> XorIter<'_> {
        let mut iter = match XorIter::new(&self.bytes) {
            Ok(iter) => iter,
            // Unreachable: the bytes of an `XorChunk` always have a valid header.
            Err(error) => XorIter::failed(error),
        };
        iter.validated = true;
        iter
    }

    /// Appends a sample. The timestamp must be strictly after the last one; any f64 bit
    /// pattern is stored exactly (NaN payloads, infinities, negative zero).
    pub fn append(&mut self, t: i64, v: f64) -> Result<(), ChunkError> {
        self.append_growing_to(t, v, usize::MAX)
    }

    /// [`XorChunk::append`], growing the buffer to at most `capacity` bytes when that
    /// leaves room for the sample (a buffer the caller keeps from filling up).
    pub fn append_growing_to(&mut self, t: i64, v: f64, capacity: usize) -> Result<(), ChunkError> {
        let count = self.num_samples();
        if count == MAX_SAMPLES {
            return Err(ChunkError::Full { max: MAX_SAMPLES });
        }
        // Grow by small steps rather than doubling: head chunks live for an hour or two,
        // and with hundreds of thousands of them a doubled buffer's unused half was a
        // large share of the head's memory.
        let len = self.bytes.len();
        if self.bytes.capacity() - len < MAX_SAMPLE_BYTES {
            let mut step = (len / 8).max(GROWTH_STEP);
            if capacity.saturating_sub(len) >= MAX_SAMPLE_BYTES {
                step = step.min(capacity - len);
            }
            self.bytes.reserve_exact(step);
        }
        let state = &mut self.state;
        let value_bits = v.to_bits();
        if count == 0 {
            put_uvarint(&mut self.bytes, zigzag(t));
            state.t = t;
            state.delta = 0;
            let mut writer = BitWriter::new(&mut self.bytes);
            encode_value(&mut writer, state, value_bits, true);
            state.free_bits = writer.free_bits();
        } else {
            if t <= state.t {
                return Err(ChunkError::OutOfOrder {
                    timestamp: t,
                    last: state.t,
                });
            }
            let delta = t.wrapping_sub(state.t);
            let dod = delta.wrapping_sub(state.delta);
            let mut writer = BitWriter::resume(&mut self.bytes, state.free_bits);
            let repeats = dod == 0 && value_bits == state.v;
            if state.in_run() {
                writer.write_bit(!repeats);
            }
            if !(repeats && state.in_run()) {
                encode_dod(&mut writer, dod);
                encode_value(&mut writer, state, value_bits, false);
            }
            state.t = t;
            state.delta = delta;
            state.set_flag(FLAG_RUN, repeats);
            state.free_bits = writer.free_bits();
        }
        let [high, low] = (count + 1).to_be_bytes();
        self.bytes[1] = high;
        self.bytes[2] = low;
        Ok(())
    }
}

impl<'a> IntoIterator for &'a XorChunk {
    type Item = (i64, f64);
    type IntoIter = XorIter<'a>;

    fn into_iter(self) -> XorIter<'a> {
        self.iter()
    }
}

/// Decodes the samples of a chunk in timestamp order.
///
/// Built from unvalidated bytes ([`XorIter::new`]), the iterator stops at the first
/// malformed sample and [`XorIter::error`] tells why; built from an [`XorChunk`] it yields
/// every sample.
#[derive(Debug, Clone)]
pub struct XorIter<'a> {
    decoder: Decoder<'a>,
    /// The bytes are known to decode completely, so `size_hint` is exact.
    validated: bool,
    error: Option<ChunkError>,
}

impl<'a> XorIter<'a> {
    /// Reads the header of encoded chunk bytes; samples are decoded as they are iterated.
    pub fn new(bytes: &'a [u8]) -> Result<Self, ChunkError> {
        Ok(Self {
            decoder: Decoder::new(bytes)?,
            validated: false,
            error: None,
        })
    }

    fn failed(error: ChunkError) -> Self {
        Self {
            decoder: Decoder::empty(),
            validated: false,
            error: Some(error),
        }
    }

    /// Why iteration stopped early, if the data was malformed.
    pub fn error(&self) -> Option<&ChunkError> {
        self.error.as_ref()
    }

    /// Skips the samples before `t` and returns the first sample at or after `t` (which
    /// is consumed like any yielded sample). Samples already yielded are not revisited:
    /// seeking backwards returns the next sample.
    pub fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        self.find(|&(timestamp, _)| timestamp >= t)
    }
}

impl Iterator for XorIter<'_> {
    type Item = (i64, f64);

    #[inline]
    fn next(&mut self) -> Option<(i64, f64)> {
        let decoder = &mut self.decoder;
        if decoder.next_index >= decoder.count {
            return None;
        }
        match decoder.decode_next() {
            Ok(()) => Some((decoder.state.t, f64::from_bits(decoder.state.v))),
            Err(fault) => {
                self.error = Some(fault.at(decoder.next_index));
                decoder.count = decoder.next_index;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = (self.decoder.count - self.decoder.next_index) as usize;
        if self.validated {
            (remaining, Some(remaining))
        } else {
            (0, Some(remaining))
        }
    }
}

/// Sample-by-sample decoding state over the bytes after the header.
#[derive(Debug, Clone, Copy)]
struct Decoder<'a> {
    reader: BitReader<'a>,
    state: CodecState,
    next_index: u32,
    count: u32,
}

impl<'a> Decoder<'a> {
    fn new(bytes: &'a [u8]) -> Result<Self, ChunkError> {
        let header = parse_header(bytes)?;
        let body = bytes.get(header.body_offset..).unwrap_or_default();
        let mut state = CodecState::INITIAL;
        state.t = header.first_time;
        Ok(Self {
            reader: BitReader::new(body),
            state,
            next_index: 0,
            count: u32::from(header.count),
        })
    }

    fn empty() -> Self {
        Self {
            reader: BitReader::new(&[]),
            state: CodecState::INITIAL,
            next_index: 0,
            count: 0,
        }
    }

    /// Decodes the sample at `next_index` into `state`.
    #[inline(always)]
    fn decode_next(&mut self) -> Result<(), Fault> {
        let reader = &mut self.reader;
        let state = &mut self.state;
        if self.next_index == 0 {
            decode_value(reader, state)?;
            self.next_index = 1;
            return Ok(());
        }
        if state.in_run() {
            let run_continues = !reader.read_bit().ok_or(Fault::Truncated)?;
            if run_continues {
                let t = state.t.wrapping_add(state.delta);
                if t <= state.t {
                    return Err(Fault::Corrupt("timestamps do not increase"));
                }
                state.t = t;
                self.next_index += 1;
                return Ok(());
            }
        }
        let dod = decode_dod(reader)?;
        let delta = state.delta.wrapping_add(dod);
        let t = state.t.wrapping_add(delta);
        if t <= state.t {
            return Err(Fault::Corrupt("timestamps do not increase"));
        }
        state.t = t;
        state.delta = delta;
        let repeats = decode_value(reader, state)?;
        state.set_flag(FLAG_RUN, dod == 0 && repeats);
        self.next_index += 1;
        Ok(())
    }
}

struct Header {
    count: u16,
    first_time: i64,
    body_offset: usize,
}

fn parse_header(bytes: &[u8]) -> Result<Header, ChunkError> {
    let Some(&[version, count_high, count_low]) = bytes.first_chunk::<FIXED_HEADER_LEN>() else {
        return Err(ChunkError::TooShort {
            len: bytes.len(),
            min: FIXED_HEADER_LEN,
        });
    };
    if version != XOR_FORMAT_VERSION {
        return Err(ChunkError::UnsupportedVersion { version });
    }
    let count = u16::from_be_bytes([count_high, count_low]);
    if count == 0 {
        return Ok(Header {
            count,
            first_time: 0,
            body_offset: FIXED_HEADER_LEN,
        });
    }
    let (zigzagged, varint_len) =
        read_varint(&bytes[FIXED_HEADER_LEN..]).map_err(|fault| fault.at(0))?;
    Ok(Header {
        count,
        first_time: unzigzag(zigzagged),
        body_offset: FIXED_HEADER_LEN + varint_len,
    })
}

/// Number of bits needed to write `value`, at least 1.
fn bit_width(value: u64) -> u32 {
    (64 - value.leading_zeros()).max(1)
}

/// Reads an unsigned LEB128 varint of at most 10 bytes: `(value, bytes used)`.
fn read_varint(bytes: &[u8]) -> Result<(u64, usize), Fault> {
    let mut value = 0u64;
    for (index, &byte) in bytes.iter().take(10).enumerate() {
        if index == 9 && byte > 1 {
            return Err(Fault::Corrupt("first timestamp varint overflows 64 bits"));
        }
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte < 0x80 {
            return Ok((value, index + 1));
        }
    }
    if bytes.len() < 10 {
        Err(Fault::Truncated)
    } else {
        Err(Fault::Corrupt(
            "first timestamp varint is longer than 10 bytes",
        ))
    }
}

fn fits_signed(value: i64, width: u32) -> bool {
    let half = 1i64 << (width - 1);
    (-half..half).contains(&value)
}

fn encode_dod(writer: &mut BitWriter<'_>, dod: i64) {
    if dod == 0 {
        writer.write_bits(0, 1);
        return;
    }
    for (index, &width) in DOD_WIDTHS.iter().enumerate() {
        if fits_signed(dod, width) {
            let ones = index as u32 + 1;
            let prefix = ((1u64 << ones) - 1) << 1;
            let payload = (dod as u64) & ((1u64 << width) - 1);
            writer.write_bits((prefix << width) | payload, ones + 1 + width);
            return;
        }
    }
    writer.write_bits((1 << DOD_RAW_PREFIX_ONES) - 1, DOD_RAW_PREFIX_ONES);
    writer.write_bits(dod as u64, 64);
}

/// Payload width by number of leading one bits, for the short timestamp codes.
const DOD_WIDTH_BY_ONES: [u32; 5] = [
    0,
    DOD_WIDTHS[0],
    DOD_WIDTHS[1],
    DOD_WIDTHS[2],
    DOD_WIDTHS[3],
];
/// Longest timestamp code other than the raw one.
const DOD_LONGEST_SHORT_CODE: u32 = DOD_RAW_PREFIX_ONES + DOD_WIDTHS[3];

#[inline(always)]
fn decode_dod(reader: &mut BitReader<'_>) -> Result<i64, Fault> {
    if reader.fill(DOD_LONGEST_SHORT_CODE) {
        let word = reader.peek_word();
        let ones = word.leading_ones();
        if ones < DOD_RAW_PREFIX_ONES {
            let width = DOD_WIDTH_BY_ONES[ones as usize];
            // Sign-extending shift of the payload; a zero width means a zero dod.
            let payload = ((word << (ones + 1)) as i64) >> ((64 - width) & 63);
            reader.skip(ones + 1 + width);
            return Ok(if width == 0 { 0 } else { payload });
        }
    }
    let (after, dod) = decode_dod_slow(*reader);
    *reader = after;
    dod
}

/// The raw code, and any code near the end of the data.
#[cold]
#[inline(never)]
fn decode_dod_slow(mut reader: BitReader<'_>) -> (BitReader<'_>, Result<i64, Fault>) {
    let dod = decode_dod_checked(&mut reader);
    (reader, dod)
}

fn decode_dod_checked(reader: &mut BitReader<'_>) -> Result<i64, Fault> {
    let ones = reader
        .read_ones(DOD_RAW_PREFIX_ONES)
        .ok_or(Fault::Truncated)?;
    let width = match DOD_WIDTH_BY_ONES.get(ones as usize) {
        Some(0) => return Ok(0),
        Some(&width) => width,
        None => 64,
    };
    let raw = reader.read_bits(width).ok_or(Fault::Truncated)?;
    let shift = 64 - width;
    Ok(((raw << shift) as i64) >> shift)
}

/// `value` as `scaled / 10^scale` with the division reproducing the exact bits, if any.
#[inline]
fn to_scaled(value: f64, scale: u8) -> Option<i64> {
    let power = POW10[usize::from(scale.min(MAX_SCALE))];
    let product = value * power;
    // NaN and infinities fail this test too.
    let in_range = product.abs() <= MAX_SCALED as f64;
    if !in_range {
        return None;
    }
    let scaled = product.round() as i64;
    (from_scaled(scaled, scale).to_bits() == value.to_bits()).then_some(scaled)
}

/// The value of `scaled / 10^scale` as the decoder computes it: one correctly rounded
/// IEEE division of two exactly represented numbers.
#[inline]
fn from_scaled(scaled: i64, scale: u8) -> f64 {
    if scale == 0 {
        scaled as f64
    } else {
        scaled as f64 / POW10[usize::from(scale.min(MAX_SCALE))]
    }
}

/// Finds a scale that represents `value`, trying the current one first.
fn find_scale(state: &mut CodecState, value: f64) -> Option<(u8, i64)> {
    if !value.is_finite() || value.to_bits() == (-0.0f64).to_bits() {
        return None;
    }
    if !state.is_scaled() {
        if let Some(scaled) = to_scaled(value, state.scale) {
            return Some((state.scale, scaled));
        }
    }
    if state.search_backoff > 0 {
        state.search_backoff -= 1;
        return None;
    }
    let magnitude = value.abs();
    for scale in 0..=MAX_SCALE {
        if magnitude * POW10[usize::from(scale)] > MAX_SCALED as f64 {
            break;
        }
        if let Some(scaled) = to_scaled(value, scale) {
            return Some((scale, scaled));
        }
    }
    state.search_backoff = SEARCH_BACKOFF;
    None
}

/// A planned XOR code: the code, its payload and the window it sets.
struct XorPlan {
    code: ValueCode,
    leading: u32,
    significant: u32,
    payload: u64,
}

impl XorPlan {
    fn new(state: &CodecState, value_bits: u64) -> XorPlan {
        let xor = value_bits ^ state.v;
        debug_assert!(xor != 0, "a repeated value is coded as a repeat");
        let leading = xor.leading_zeros();
        let trailing = xor.trailing_zeros();
        let significant = 64 - leading - trailing;
        if state.xor_significant != 0 {
            let window_leading = u32::from(state.xor_leading);
            let window_significant = u32::from(state.xor_significant);
            let window_trailing = 64 - window_leading - window_significant;
            if leading >= window_leading
                && trailing >= window_trailing
                && window_significant - significant <= XOR_WINDOW_SLACK
            {
                return XorPlan {
                    code: ValueCode::XorReuse,
                    leading: window_leading,
                    significant: window_significant,
                    payload: xor >> window_trailing,
                };
            }
        }
        XorPlan {
            code: ValueCode::XorNew,
            leading,
            significant,
            payload: xor >> trailing,
        }
    }

    /// Bits this code takes after its prefix.
    fn body_len(&self) -> u32 {
        match self.code {
            ValueCode::XorNew => XOR_LEADING_BITS + XOR_SIGNIFICANT_BITS + self.significant,
            _ => self.significant,
        }
    }
}

fn write_prefix(writer: &mut BitWriter<'_>, code: ValueCode, state: &CodecState) {
    let (bits, len) = code.prefix(state).unwrap_or((0, 0));
    debug_assert!(len > 0, "{code:?} is not in the current table");
    writer.write_bits(bits, len);
}

fn prefix_len(code: ValueCode, state: &CodecState) -> u32 {
    code.prefix(state).map_or(u32::MAX / 2, |(_, len)| len)
}

/// Writes the value code for `value_bits` and updates the value part of `state`.
/// Returns whether the value repeats the previous one. `first` marks the chunk's first
/// value, whose delta from the initial +0.0 says nothing about the deltas to come.
fn encode_value(
    writer: &mut BitWriter<'_>,
    state: &mut CodecState,
    value_bits: u64,
    first: bool,
) -> bool {
    let repeats = value_bits == state.v;
    if repeats {
        write_prefix(writer, ValueCode::Repeat, state);
    } else {
        encode_changed_value(writer, state, value_bits, first);
    }
    state.set_flag(FLAG_LAST_REPEAT, repeats);
    repeats
}

fn encode_changed_value(
    writer: &mut BitWriter<'_>,
    state: &mut CodecState,
    value_bits: u64,
    first: bool,
) {
    let value = f64::from_bits(value_bits);
    if state.is_scaled() && !first {
        if let Some(scaled) = to_scaled(value, state.scale) {
            write_prefix(writer, ValueCode::IntDelta, state);
            encode_int_delta(writer, state, scaled - state.scaled);
            state.scaled = scaled;
            state.v = value_bits;
            return;
        }
    }
    let plan = XorPlan::new(state, value_bits);
    let xor_cost = prefix_len(plan.code, state) + plan.body_len();
    if let Some((scale, scaled)) = find_scale(state, value) {
        let zigzagged = zigzag(scaled);
        let width = bit_width(zigzagged);
        let cost = prefix_len(ValueCode::SetScale, state) + SCALE_BITS + WIDTH_BITS + width;
        let allowance = if width <= SET_SCALE_MAX_HOPEFUL_WIDTH {
            SET_SCALE_ALLOWANCE
        } else {
            0
        };
        if cost <= xor_cost + allowance {
            write_prefix(writer, ValueCode::SetScale, state);
            writer.write_bits(u64::from(scale), SCALE_BITS);
            writer.write_bits(u64::from(width - 1), WIDTH_BITS);
            writer.write_bits(zigzagged, width);
            state.scale = scale;
            state.scaled = scaled;
            state.set_flag(FLAG_SCALED, true);
            state.v = value_bits;
            return;
        }
    }
    write_prefix(writer, plan.code, state);
    if plan.code == ValueCode::XorNew {
        writer.write_bits(u64::from(plan.leading), XOR_LEADING_BITS);
        writer.write_bits(u64::from(plan.significant - 1), XOR_SIGNIFICANT_BITS);
        state.xor_leading = plan.leading as u8;
        state.xor_significant = plan.significant as u8;
    }
    writer.write_bits(plan.payload, plan.significant);
    state.set_flag(FLAG_SCALED, false);
    state.v = value_bits;
}

/// Writes a non-zero integer delta as sign and magnitude: `0` (same sign as the last
/// delta) or `10` (the other sign) and `(magnitude >> shift) - 1` in the current width, or,
/// when that does not fit, `11`, the sign, a new shift, a new width and the payload.
fn encode_int_delta(writer: &mut BitWriter<'_>, state: &mut CodecState, delta: i64) {
    debug_assert!(delta != 0);
    let magnitude = delta.unsigned_abs();
    let negative = delta < 0;
    let trailing = magnitude.trailing_zeros();
    let shift = u32::from(state.int_shift);
    let width = u32::from(state.int_width);
    if trailing >= shift {
        let payload = (magnitude >> shift) - 1;
        let needed = 64 - payload.leading_zeros();
        if needed <= width && width - needed <= INT_WIDTH_SLACK {
            if negative == (state.flags & FLAG_NEGATIVE != 0) {
                writer.write_bits(0b0, 1);
            } else {
                writer.write_bits(0b10, 2);
                state.set_flag(FLAG_NEGATIVE, negative);
            }
            writer.write_bits(payload, width);
            return;
        }
    }
    let new_shift = if state.flags & FLAG_INT_FORMAT != 0 {
        trailing.min(shift)
    } else if trailing >= MIN_FIRST_SHIFT {
        trailing
    } else {
        0
    };
    let payload = (magnitude >> new_shift) - 1;
    let new_width = 64 - payload.leading_zeros();
    writer.write_bits(0b11, 2);
    writer.write_bit(negative);
    writer.write_bits(u64::from(new_shift), INT_SHIFT_BITS);
    writer.write_bits(u64::from(new_width), INT_WIDTH_BITS);
    writer.write_bits(payload, new_width);
    state.int_shift = new_shift as u8;
    state.int_width = new_width as u8;
    state.set_flag(FLAG_NEGATIVE, negative);
    state.set_flag(FLAG_INT_FORMAT, true);
}

fn checked_scaled(previous: i64, delta: i64) -> Result<i64, Fault> {
    match previous.checked_add(delta) {
        Some(scaled) if (-MAX_SCALED..=MAX_SCALED).contains(&scaled) => Ok(scaled),
        _ => Err(Fault::Corrupt("decimal value out of range")),
    }
}

/// Reads one value code and updates the value part of `state`. Returns whether the code
/// was a repeat.
#[inline(always)]
fn decode_value(reader: &mut BitReader<'_>, state: &mut CodecState) -> Result<bool, Fault> {
    let code = ValueCode::read(reader, state)?;
    let repeats = code == ValueCode::Repeat;
    state.set_flag(FLAG_LAST_REPEAT, repeats);
    match code {
        ValueCode::Repeat => {}
        ValueCode::IntDelta => decode_int_delta(reader, state)?,
        ValueCode::XorReuse => {
            if state.xor_significant == 0 {
                return Err(Fault::Corrupt("xor window reused before one was set"));
            }
            let significant = u32::from(state.xor_significant);
            let trailing = 64 - u32::from(state.xor_leading) - significant;
            let payload = reader.read_bits(significant).ok_or(Fault::Truncated)?;
            state.v ^= payload << trailing;
            state.set_flag(FLAG_SCALED, false);
        }
        ValueCode::XorNew | ValueCode::SetScale => {
            let (after, result) = decode_rare_value(*reader, *state, code);
            *reader = after;
            *state = result?;
        }
    }
    Ok(repeats)
}

#[inline(always)]
fn decode_int_delta(reader: &mut BitReader<'_>, state: &mut CodecState) -> Result<(), Fault> {
    match reader.read_ones(2).ok_or(Fault::Truncated)? {
        0 => {}
        1 => state.flags ^= FLAG_NEGATIVE,
        _ => {
            let (after, result) = decode_int_format(*reader, *state);
            *reader = after;
            *state = result?;
        }
    }
    let payload = reader
        .read_bits(u32::from(state.int_width))
        .ok_or(Fault::Truncated)?;
    let shift = u32::from(state.int_shift);
    // The width is at most 63, so `payload + 1` cannot overflow; the shifted magnitude
    // must stay below 2^63.
    if (payload + 1).leading_zeros() <= shift {
        return Err(Fault::Corrupt("integer delta out of range"));
    }
    let magnitude = ((payload + 1) << shift) as i64;
    let delta = if state.flags & FLAG_NEGATIVE != 0 {
        -magnitude
    } else {
        magnitude
    };
    let scaled = checked_scaled(state.scaled, delta)?;
    state.scaled = scaled;
    state.v = from_scaled(scaled, state.scale).to_bits();
    Ok(())
}

#[cold]
#[inline(never)]
fn decode_int_format(
    mut reader: BitReader<'_>,
    mut state: CodecState,
) -> (BitReader<'_>, Result<CodecState, Fault>) {
    let result = read_int_format(&mut reader, &mut state).map(|()| state);
    (reader, result)
}

fn read_int_format(reader: &mut BitReader<'_>, state: &mut CodecState) -> Result<(), Fault> {
    let negative = reader.read_bit().ok_or(Fault::Truncated)?;
    let shift = reader.read_bits(INT_SHIFT_BITS).ok_or(Fault::Truncated)?;
    let width = reader.read_bits(INT_WIDTH_BITS).ok_or(Fault::Truncated)?;
    state.set_flag(FLAG_NEGATIVE, negative);
    state.int_shift = shift as u8;
    state.int_width = width as u8;
    state.set_flag(FLAG_INT_FORMAT, true);
    Ok(())
}

#[cold]
#[inline(never)]
fn decode_rare_value(
    mut reader: BitReader<'_>,
    mut state: CodecState,
    code: ValueCode,
) -> (BitReader<'_>, Result<CodecState, Fault>) {
    let result = read_rare_value(&mut reader, &mut state, code).map(|()| state);
    (reader, result)
}

fn read_rare_value(
    reader: &mut BitReader<'_>,
    state: &mut CodecState,
    code: ValueCode,
) -> Result<(), Fault> {
    if code == ValueCode::XorNew {
        let leading = reader.read_bits(XOR_LEADING_BITS).ok_or(Fault::Truncated)? as u32;
        let significant = reader
            .read_bits(XOR_SIGNIFICANT_BITS)
            .ok_or(Fault::Truncated)? as u32
            + 1;
        if leading + significant > 64 {
            return Err(Fault::Corrupt("xor window wider than 64 bits"));
        }
        let payload = reader.read_bits(significant).ok_or(Fault::Truncated)?;
        state.v ^= payload << (64 - leading - significant);
        state.xor_leading = leading as u8;
        state.xor_significant = significant as u8;
        state.set_flag(FLAG_SCALED, false);
        return Ok(());
    }
    let scale = reader.read_bits(SCALE_BITS).ok_or(Fault::Truncated)? as u8;
    if scale > MAX_SCALE {
        return Err(Fault::Corrupt("decimal scale above 22"));
    }
    let width = reader.read_bits(WIDTH_BITS).ok_or(Fault::Truncated)? as u32 + 1;
    let zigzagged = reader.read_bits(width).ok_or(Fault::Truncated)?;
    let scaled = checked_scaled(0, unzigzag(zigzagged))?;
    state.scale = scale;
    state.scaled = scaled;
    state.v = from_scaled(scaled, scale).to_bits();
    state.set_flag(FLAG_SCALED, true);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The Prometheus staleness marker.
    const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

    fn encode(samples: &[(i64, f64)]) -> XorChunk {
        let mut chunk = XorChunk::new();
        for &(t, v) in samples {
            chunk.append(t, v).expect("increasing timestamps append");
        }
        chunk
    }

    fn bits(samples: impl IntoIterator<Item = (i64, f64)>) -> Vec<(i64, u64)> {
        samples.into_iter().map(|(t, v)| (t, v.to_bits())).collect()
    }

    #[test]
    fn a_cleared_chunk_keeps_its_buffer_and_encodes_like_a_new_one() {
        let first: Vec<(i64, f64)> = (0..120).map(|i| (i * 15_000, i as f64 * 1.5)).collect();
        let second: Vec<(i64, f64)> = (0..50)
            .map(|i| {
                (
                    1_800_000 + i * 15_000,
                    f64::from_bits(STALE_NAN + (i % 2) as u64),
                )
            })
            .collect();
        let mut chunk = encode(&first);
        let capacity = chunk.bytes.capacity();
        chunk.clear();
        assert!(chunk.is_empty());
        assert_eq!(chunk.min_time(), None);
        assert_eq!(chunk.last_sample(), None);
        assert_eq!(chunk.bytes.capacity(), capacity, "the allocation is kept");
        for &(t, v) in &second {
            chunk.append(t, v).unwrap();
        }
        assert_eq!(chunk.bytes(), encode(&second).bytes());
        assert_eq!(bits(chunk.iter()), bits(second.iter().copied()));
    }

    /// Encodes, then checks every way of reading the chunk back, bit for bit.
    fn assert_round_trip(samples: &[(i64, f64)]) -> XorChunk {
        let chunk = encode(samples);
        let expected = bits(samples.iter().copied());
        assert_eq!(usize::from(chunk.num_samples()), samples.len());
        assert_eq!(bits(chunk.iter()), expected);
        assert_eq!(
            chunk.iter().size_hint(),
            (samples.len(), Some(samples.len()))
        );
        assert_eq!(chunk.min_time(), samples.first().map(|&(t, _)| t));
        assert_eq!(chunk.max_time(), samples.last().map(|&(t, _)| t));
        assert_eq!(
            chunk.last_sample().map(|(t, v)| (t, v.to_bits())),
            expected.last().copied()
        );
        assert_eq!(chunk.bit_len().div_ceil(8), chunk.bytes().len() as u64);

        let mut iter = XorIter::new(chunk.bytes()).expect("valid header");
        assert_eq!(bits(iter.by_ref()), expected);
        assert_eq!(iter.error(), None);

        let restored = XorChunk::from_bytes(chunk.bytes()).expect("valid chunk");
        assert_eq!(restored, chunk);
        assert_eq!(restored.state.t, chunk.state.t);
        assert_eq!(restored.max_time(), chunk.max_time());
        assert_eq!(
            restored.last_sample().map(|(t, v)| (t, v.to_bits())),
            expected.last().copied()
        );
        chunk
    }

    fn samples_at_15s(values: &[f64]) -> Vec<(i64, f64)> {
        values
            .iter()
            .enumerate()
            .map(|(index, &v)| (1_700_000_000_000 + 15_000 * index as i64, v))
            .collect()
    }

    #[test]
    fn empty_chunk() {
        let chunk = XorChunk::new();
        assert_eq!(chunk.bytes(), &[XOR_FORMAT_VERSION, 0, 0]);
        assert!(chunk.is_empty());
        assert_eq!(chunk.min_time(), None);
        assert_eq!(chunk.max_time(), None);
        assert_eq!(chunk.last_sample(), None);
        assert_eq!(chunk.iter().next(), None);
        assert_eq!(XorChunk::from_bytes(chunk.bytes()), Ok(chunk));
    }

    #[test]
    fn special_values_round_trip_bit_exactly() {
        let values = [
            f64::from_bits(STALE_NAN),
            0.0,
            -0.0,
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff8_0000_dead_beef),
            f64::from_bits(0xfff0_0000_0000_0001),
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            -f64::from_bits(1),
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            1.0,
            1.0,
            f64::from_bits(STALE_NAN),
            0.1,
            0.1 + 0.2,
            12.34,
            -12.34,
            9_007_199_254_740_992.0,
            9_007_199_254_740_994.0,
            -9_007_199_254_740_992.0,
            1e22,
            1e-22,
            1e300,
            123_456_789.123,
            0.0,
            -0.0,
        ];
        assert_round_trip(&samples_at_15s(&values));
        // Each value also as the first one of a chunk.
        for &value in &values {
            assert_round_trip(&[(0, value), (1, value), (2, 1.0)]);
        }
    }

    #[test]
    fn extreme_timestamps_round_trip() {
        assert_round_trip(&[(i64::MIN, 1.0), (i64::MAX, 2.0)]);
        assert_round_trip(&[
            (i64::MIN, 1.0),
            (i64::MIN + 1, 1.0),
            (0, 1.0),
            (i64::MAX, 1.0),
        ]);
        assert_round_trip(&[
            (-5, 1.0),
            (-4, 1.0),
            (-3, 1.0),
            (1 << 40, 1.0),
            ((1 << 40) + 1, 1.0),
        ]);
        assert_round_trip(&[(i64::MAX, f64::NAN)]);
        assert_round_trip(&[(i64::MIN, f64::NAN)]);
        // Every dod bucket boundary, both signs.
        let mut t = 0i64;
        let mut delta = 1_000_000i64;
        let mut samples = vec![(t, 0.0)];
        for width in DOD_WIDTHS {
            let half = 1i64 << (width - 1);
            for dod in [half - 1, half, -half, -half - 1, 1, -1] {
                delta += dod;
                t += delta;
                samples.push((t, 0.0));
            }
        }
        assert_round_trip(&samples);
    }

    #[test]
    fn rejects_timestamps_that_do_not_increase() {
        let mut chunk = XorChunk::new();
        chunk.append(1000, 1.0).expect("first sample");
        let before = chunk.clone();
        assert_eq!(
            chunk.append(1000, 2.0),
            Err(ChunkError::OutOfOrder {
                timestamp: 1000,
                last: 1000
            })
        );
        assert_eq!(
            chunk.append(999, 2.0),
            Err(ChunkError::OutOfOrder {
                timestamp: 999,
                last: 1000
            })
        );
        assert_eq!(chunk, before);
        assert_eq!(chunk.num_samples(), 1);
        assert_eq!(
            ChunkError::OutOfOrder {
                timestamp: 999,
                last: 1000
            }
            .to_string(),
            "sample timestamp 999 is not after the chunk's last timestamp 1000"
        );
    }

    #[test]
    fn full_chunk_rejects_more_samples() {
        let mut chunk = XorChunk::new();
        for index in 0..i64::from(MAX_SAMPLES) {
            chunk
                .append(index * 10, (index % 7) as f64)
                .expect("room left");
        }
        assert_eq!(
            chunk.append(i64::MAX, 0.0),
            Err(ChunkError::Full { max: MAX_SAMPLES })
        );
        let restored = XorChunk::from_bytes(chunk.bytes()).expect("valid");
        assert_eq!(restored.iter().count(), usize::from(MAX_SAMPLES));
        assert_eq!(restored.max_time(), Some((i64::from(MAX_SAMPLES) - 1) * 10));
    }

    #[test]
    fn open_chunk_state_is_compact() {
        assert!(std::mem::size_of::<CodecState>() <= 40);
        assert!(std::mem::size_of::<XorChunk>() <= 64);
    }

    #[test]
    fn constant_regular_series_is_tiny() {
        let chunk = assert_round_trip(&samples_at_15s(&[1.0; 120]));
        assert!(chunk.bytes().len() <= 36, "{} bytes", chunk.bytes().len());
    }

    #[test]
    fn decimal_and_integer_series_use_integer_deltas() {
        let counter: Vec<f64> = (0..120).map(|i| (1_000_000 + 3 * i) as f64).collect();
        let counter_chunk = assert_round_trip(&samples_at_15s(&counter));
        assert!(
            counter_chunk.bytes().len() <= 100,
            "{} bytes",
            counter_chunk.bytes().len()
        );

        let gauge: Vec<f64> = (0..120)
            .map(|i| f64::from(2_000 + (i * 37 % 23) - 11) / 100.0)
            .collect();
        let gauge_chunk = assert_round_trip(&samples_at_15s(&gauge));
        assert!(
            gauge_chunk.bytes().len() <= 160,
            "{} bytes",
            gauge_chunk.bytes().len()
        );

        let pages: Vec<f64> = (0..120)
            .map(|i| f64::from((1 << 20) + (i * 7 % 11)) * 4096.0)
            .collect();
        assert_round_trip(&samples_at_15s(&pages));
    }

    #[test]
    fn staleness_marker_between_decimal_values() {
        let mut values = vec![0.25, 0.5, 0.75];
        values.push(f64::from_bits(STALE_NAN));
        values.extend([0.75, 1.0, 1.25]);
        values.push(f64::from_bits(STALE_NAN));
        values.push(f64::from_bits(STALE_NAN));
        values.push(3.0);
        assert_round_trip(&samples_at_15s(&values));
    }

    /// A fixed chunk of format version 1: the encoder must keep producing it and the
    /// decoder must keep reading it.
    #[test]
    fn format_version_1_fixture() {
        let samples = [
            (1_700_000_000_000, 1.0),
            (1_700_000_015_000, 1.0),
            (1_700_000_030_000, 1.0),
            (1_700_000_045_000, 3.0),
            (1_700_000_060_004, 12.5),
            (1_700_000_074_999, f64::from_bits(STALE_NAN)),
            (1_700_000_090_000, -0.0),
            (1_700_000_105_000, 12.75),
        ];
        let fixture: &[u8] = &[
            0x01, 0x00, 0x08, 0x80, 0xA0, 0xAB, 0xFE, 0xF9, 0x62, 0xF0, 0x03, 0x78, 0x0E, 0xA6,
            0x22, 0xB0, 0x00, 0xE4, 0xF0, 0x8F, 0xF5, 0xB7, 0xE0, 0xBC, 0xFF, 0x64, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x0C, 0xD8, 0x0F, 0xBF, 0xFC, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0xDF, 0xC4, 0x5C, 0xFB, 0x00,
        ];
        let chunk = encode(&samples);
        assert_eq!(
            chunk.bytes(),
            fixture,
            "encoder output changed: {:02X?}",
            chunk.bytes()
        );
        let decoded = XorChunk::from_bytes(fixture).expect("fixture is valid");
        assert_eq!(bits(decoded.iter()), bits(samples));
    }

    #[test]
    fn header_errors() {
        assert_eq!(
            XorChunk::from_bytes(&[1, 0]),
            Err(ChunkError::TooShort { len: 2, min: 3 })
        );
        assert_eq!(
            XorChunk::from_bytes(&[2, 0, 0]),
            Err(ChunkError::UnsupportedVersion { version: 2 })
        );
        assert_eq!(
            XorChunk::from_bytes(&[1, 0, 1]),
            Err(ChunkError::Truncated { sample: 0 })
        );
        assert!(matches!(
            XorChunk::from_bytes(&[
                1, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F
            ]),
            Err(ChunkError::Corrupt { sample: 0, .. })
        ));
        assert!(matches!(
            XorChunk::from_bytes(&[1, 0, 0, 0]),
            Err(ChunkError::Corrupt { sample: 0, .. })
        ));
    }

    #[test]
    fn rejects_bytes_after_the_last_sample_and_dirty_padding() {
        let chunk = encode(&samples_at_15s(&[1.0, 2.0, 3.0]));
        let mut longer = chunk.bytes().to_vec();
        longer.push(0);
        assert!(matches!(
            XorChunk::from_bytes(&longer),
            Err(ChunkError::Corrupt { sample: 3, .. })
        ));
        let free = chunk.state.free_bits;
        assert!(free > 0, "test needs a partly used last byte");
        let mut dirty = chunk.bytes().to_vec();
        if let Some(last) = dirty.last_mut() {
            *last |= 1;
        }
        assert!(matches!(
            XorChunk::from_bytes(&dirty),
            Err(ChunkError::Corrupt { sample: 3, .. })
        ));
    }

    #[test]
    fn seek_finds_the_first_sample_at_or_after() {
        let samples = samples_at_15s(&[1.0, 2.0, 3.0, 4.0]);
        let chunk = encode(&samples);
        let start = samples[0].0;
        assert_eq!(chunk.iter().seek(i64::MIN), Some((start, 1.0)));
        assert_eq!(chunk.iter().seek(start), Some((start, 1.0)));
        assert_eq!(chunk.iter().seek(start + 1), Some((start + 15_000, 2.0)));
        assert_eq!(
            chunk.iter().seek(start + 45_000),
            Some((start + 45_000, 4.0))
        );
        assert_eq!(chunk.iter().seek(start + 45_001), None);
        let mut iter = chunk.iter();
        assert_eq!(iter.seek(start + 20_000), Some((start + 30_000, 3.0)));
        // Seeking backwards does not rewind.
        assert_eq!(iter.seek(start), Some((start + 45_000, 4.0)));
        assert_eq!(iter.next(), None);
    }

    // ---- property tests ----

    fn timestamps_strategy() -> impl Strategy<Value = Vec<i64>> {
        let arbitrary = proptest::collection::btree_set(any::<i64>(), 0..150)
            .prop_map(|set| set.into_iter().collect::<Vec<_>>());
        let scraped = (
            any::<i64>(),
            proptest::collection::vec(
                prop_oneof![
                    4 => 14_990i64..15_010,
                    2 => Just(15_000i64),
                    1 => 1i64..100_000,
                    1 => 1i64..i64::MAX,
                ],
                0..150,
            ),
        )
            .prop_map(|(start, deltas)| {
                let mut t = start / 2;
                let mut out = vec![t];
                for delta in deltas {
                    match t.checked_add(delta) {
                        Some(next) => {
                            t = next;
                            out.push(t);
                        }
                        None => break,
                    }
                }
                out
            });
        prop_oneof![arbitrary, scraped]
    }

    /// A value, or `None` for "repeat the previous one".
    fn value_strategy() -> impl Strategy<Value = Option<f64>> {
        prop_oneof![
            3 => Just(None),
            2 => any::<u64>().prop_map(|bits| Some(f64::from_bits(bits))),
            2 => (-1_000_000i64..1_000_000).prop_map(|i| Some(i as f64)),
            2 => ((-100_000i64..100_000), 0u32..6)
                .prop_map(|(i, scale)| Some(i as f64 / 10f64.powi(scale as i32))),
            1 => (any::<i64>(), 0usize..23)
                .prop_map(|(i, scale)| Some((i >> 11) as f64 / POW10[scale])),
            1 => prop_oneof![
                Just(f64::from_bits(STALE_NAN)),
                Just(f64::NAN),
                Just(-0.0),
                Just(0.0),
                Just(f64::INFINITY),
                Just(f64::NEG_INFINITY),
                Just(f64::MAX),
                Just(f64::from_bits(1)),
            ].prop_map(Some),
            1 => (1i64..1_000, 0u32..20).prop_map(|(i, shift)| Some((i << shift) as f64)),
        ]
    }

    fn samples_strategy() -> impl Strategy<Value = Vec<(i64, f64)>> {
        (
            timestamps_strategy(),
            proptest::collection::vec(value_strategy(), 150),
        )
            .prop_map(|(timestamps, values)| {
                let mut previous = 0.0;
                timestamps
                    .into_iter()
                    .zip(values)
                    .map(|(t, value)| {
                        let v = value.unwrap_or(previous);
                        previous = v;
                        (t, v)
                    })
                    .collect()
            })
    }

    proptest! {
        #[test]
        fn arbitrary_samples_round_trip(samples in samples_strategy()) {
            assert_round_trip(&samples);
        }

        #[test]
        fn appending_after_from_bytes_continues_the_chunk(
            samples in samples_strategy(),
            split in any::<prop::sample::Index>(),
        ) {
            let split = if samples.is_empty() { 0 } else { split.index(samples.len() + 1) };
            let head = encode(&samples[..split]);
            let mut resumed = XorChunk::from_bytes(head.bytes()).expect("valid");
            for &(t, v) in &samples[split..] {
                resumed.append(t, v).expect("increasing");
            }
            prop_assert_eq!(bits(resumed.iter()), bits(samples.iter().copied()));
            let reread = XorChunk::from_bytes(resumed.bytes());
            prop_assert!(reread.is_ok());
        }

        #[test]
        fn forgotten_settled_bytes_put_back_give_the_same_chunk(
            samples in samples_strategy(),
            forget_after in proptest::collection::vec(any::<bool>(), 0..64),
        ) {
            let whole = encode(&samples);
            let mut tail = XorChunk::new();
            let mut prefix = Vec::new();
            for (at, &(t, v)) in samples.iter().enumerate() {
                tail.append(t, v).expect("increasing");
                if forget_after.get(at).copied().unwrap_or(false) {
                    let settled = tail.settled_len();
                    prefix.extend_from_slice(tail.settled(settled));
                    let capacity = tail.bytes.capacity();
                    tail.forget_settled(settled);
                    prop_assert_eq!(tail.settled_len(), 0);
                    prop_assert_eq!(tail.bytes.capacity(), capacity);
                }
            }
            let mut rebuilt = Vec::new();
            tail.write_with_prefix(&prefix, &mut rebuilt);
            prop_assert_eq!(&rebuilt[..], whole.bytes());
            prop_assert_eq!(tail.num_samples(), whole.num_samples());
            prop_assert_eq!(tail.last_sample().map(|(t, v)| (t, v.to_bits())),
                whole.last_sample().map(|(t, v)| (t, v.to_bits())));
        }

        #[test]
        fn truncated_chunks_are_rejected_without_panic(samples in samples_strategy()) {
            let chunk = encode(&samples);
            let bytes = chunk.bytes();
            for len in 0..bytes.len() {
                let prefix = &bytes[..len];
                prop_assert!(XorChunk::from_bytes(prefix).is_err(), "prefix of {} bytes accepted", len);
                if let Ok(iter) = XorIter::new(prefix) {
                    let decoded = bits(iter);
                    let expected = bits(samples.iter().copied());
                    prop_assert!(decoded.len() <= expected.len());
                }
            }
        }

        #[test]
        fn corrupted_chunks_never_panic(
            samples in samples_strategy(),
            flips in proptest::collection::vec(any::<prop::sample::Index>(), 1..4),
        ) {
            let chunk = encode(&samples);
            let mut bytes = chunk.bytes().to_vec();
            let bit_count = bytes.len() * 8;
            for flip in flips {
                let bit = flip.index(bit_count);
                bytes[bit / 8] ^= 0x80 >> (bit % 8);
            }
            let result = XorChunk::from_bytes(&bytes);
            if let Ok(iter) = XorIter::new(&bytes) {
                let decoded = bits(iter);
                // Whatever decodes has increasing timestamps.
                prop_assert!(decoded.windows(2).all(|pair| pair[0].0 < pair[1].0));
            }
            if let Ok(restored) = result {
                let mut restored = restored;
                let next = restored.max_time().map_or(0, |t| t.saturating_add(1));
                if next != i64::MAX || restored.is_empty() {
                    let _ = restored.append(next, 1.5);
                    prop_assert!(XorChunk::from_bytes(restored.bytes()).is_ok());
                }
            }
        }

        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..64),
                                    count in any::<u16>(), raw in any::<bool>()) {
            let mut bytes = body.clone();
            if !raw {
                let [high, low] = count.to_be_bytes();
                bytes.splice(0..0, [XOR_FORMAT_VERSION, high, low]);
            }
            let _ = XorChunk::from_bytes(&bytes);
            if let Ok(mut iter) = XorIter::new(&bytes) {
                let mut last = None;
                for (t, _) in iter.by_ref() {
                    prop_assert!(last.is_none_or(|previous| previous < t));
                    last = Some(t);
                }
                let _ = iter.error();
            }
        }

        #[test]
        fn seek_matches_a_linear_search(samples in samples_strategy(), target in any::<i64>(),
                                        pick in any::<prop::sample::Index>(), exact in any::<bool>()) {
            let chunk = encode(&samples);
            let target = if exact && !samples.is_empty() { samples[pick.index(samples.len())].0 } else { target };
            let expected = samples.iter().find(|&&(t, _)| t >= target).map(|&(t, v)| (t, v.to_bits()));
            let mut iter = chunk.iter();
            let found = iter.seek(target).map(|(t, v)| (t, v.to_bits()));
            prop_assert_eq!(found, expected);
            let rest = bits(iter);
            let position = samples.iter().position(|&(t, _)| t >= target).map_or(samples.len(), |p| p + 1);
            prop_assert_eq!(rest, bits(samples[position..].iter().copied()));
        }
    }
}
