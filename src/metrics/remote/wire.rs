//! A borrowing reader for the protobuf wire format: keys, varints, fixed 64-bit values and
//! length-delimited slices straight out of the decompressed body, so that label strings can
//! be validated and interned without a `String` per label. Errors carry the byte offset in
//! the whole message.

/// Protobuf wire types (field type encodings). 3 and 4 are the deprecated groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WireType {
    Varint,
    Fixed64,
    Len,
    StartGroup,
    EndGroup,
    Fixed32,
}

/// Malformed protobuf: what was wrong and at which byte of the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WireError {
    pub offset: usize,
    pub detail: &'static str,
}

/// Nesting depth at which skipping groups gives up (prost uses 100 too).
const MAX_GROUP_DEPTH: u32 = 100;

/// A cursor over one message's bytes. `base` is the offset of `buf[0]` in the whole body.
#[derive(Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            base: 0,
        }
    }

    /// A reader over a nested message that starts at `base` in the whole body.
    pub fn nested(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The bytes not read yet.
    #[inline(always)]
    pub fn remaining(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// Offset of the next byte in the whole body.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub fn error(&self, detail: &'static str) -> WireError {
        WireError {
            offset: self.offset(),
            detail,
        }
    }

    #[inline(always)]
    pub fn read_varint(&mut self) -> Result<u64, WireError> {
        // Fast paths: one byte (keys, short lengths, small symbol references) and two
        // (longer lengths, larger symbol tables).
        if let Some(&first) = self.buf.get(self.pos) {
            if first < 0x80 {
                self.pos += 1;
                return Ok(u64::from(first));
            }
            if let Some(&second) = self.buf.get(self.pos + 1) {
                if second < 0x80 {
                    self.pos += 2;
                    return Ok(u64::from(first & 0x7f) | (u64::from(second) << 7));
                }
            }
        }
        self.read_varint_slow()
    }

    #[cold]
    #[inline(never)]
    fn read_varint_slow(&mut self) -> Result<u64, WireError> {
        let start = self.offset();
        let mut value: u64 = 0;
        for index in 0..10 {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(WireError {
                    offset: start,
                    detail: "truncated varint",
                });
            };
            self.pos += 1;
            if index == 9 && byte > 1 {
                return Err(WireError {
                    offset: start,
                    detail: "varint overflows 64 bits",
                });
            }
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(WireError {
            offset: start,
            detail: "varint longer than 10 bytes",
        })
    }

    /// Field number and wire type of the next field.
    #[inline(always)]
    pub fn read_key(&mut self) -> Result<(u32, WireType), WireError> {
        let start = self.offset();
        let key = self.read_varint()?;
        let wire_type = match key & 7 {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            3 => WireType::StartGroup,
            4 => WireType::EndGroup,
            5 => WireType::Fixed32,
            _ => {
                return Err(WireError {
                    offset: start,
                    detail: "invalid wire type",
                })
            }
        };
        let field = key >> 3;
        if field == 0 || field > u64::from(u32::MAX >> 3) {
            return Err(WireError {
                offset: start,
                detail: "invalid field number",
            });
        }
        // `field` fits in 29 bits, checked above.
        Ok((field as u32, wire_type))
    }

    #[inline(always)]
    pub fn read_fixed64(&mut self) -> Result<u64, WireError> {
        let end = self.pos + 8;
        let Some(bytes) = self.buf.get(self.pos..end) else {
            return Err(self.error("truncated 64-bit value"));
        };
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        self.pos = end;
        Ok(u64::from_le_bytes(array))
    }

    /// A length-delimited payload (string, bytes, message, packed list) and its offset in
    /// the whole body.
    #[inline(always)]
    pub fn read_len(&mut self) -> Result<(&'a [u8], usize), WireError> {
        let start = self.offset();
        let len = self.read_varint()?;
        let remaining = self.buf.len() - self.pos;
        if len > remaining as u64 {
            return Err(WireError {
                offset: start,
                detail: "length runs past the end of the message",
            });
        }
        // `len <= remaining`, so it fits in usize.
        let len = len as usize;
        let payload_offset = self.offset();
        let payload = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok((payload, payload_offset))
    }

    /// A nested message as a reader positioned at its first byte.
    #[inline(always)]
    pub fn read_message(&mut self) -> Result<Reader<'a>, WireError> {
        let (payload, offset) = self.read_len()?;
        Ok(Reader::nested(payload, offset))
    }

    /// Skips the value of an unknown field.
    pub fn skip(&mut self, field: u32, wire_type: WireType) -> Result<(), WireError> {
        self.skip_at_depth(field, wire_type, 0)
    }

    fn skip_at_depth(
        &mut self,
        field: u32,
        wire_type: WireType,
        depth: u32,
    ) -> Result<(), WireError> {
        match wire_type {
            WireType::Varint => self.read_varint().map(drop),
            WireType::Fixed64 => self.read_fixed64().map(drop),
            WireType::Fixed32 => {
                let end = self.pos + 4;
                if end > self.buf.len() {
                    return Err(self.error("truncated 32-bit value"));
                }
                self.pos = end;
                Ok(())
            }
            WireType::Len => self.read_len().map(drop),
            WireType::StartGroup => {
                if depth >= MAX_GROUP_DEPTH {
                    return Err(self.error("groups nested too deeply"));
                }
                loop {
                    if self.is_empty() {
                        return Err(self.error("unterminated group"));
                    }
                    let (inner_field, inner_type) = self.read_key()?;
                    if inner_type == WireType::EndGroup {
                        if inner_field != field {
                            return Err(self.error("mismatched end of group"));
                        }
                        return Ok(());
                    }
                    self.skip_at_depth(inner_field, inner_type, depth + 1)?;
                }
            }
            WireType::EndGroup => Err(self.error("end of group without a start")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_varint(mut value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    #[test]
    fn varints_round_trip_at_every_width() {
        for shift in 0..64 {
            for value in [1u64 << shift, (1u64 << shift) - 1, u64::MAX >> shift] {
                let bytes = encode_varint(value);
                let mut reader = Reader::new(&bytes);
                assert_eq!(reader.read_varint(), Ok(value));
                assert!(reader.is_empty());
            }
        }
    }

    #[test]
    fn overlong_and_truncated_varints_are_errors() {
        let overflow = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(
            Reader::new(&overflow).read_varint().unwrap_err().detail,
            "varint overflows 64 bits"
        );
        assert_eq!(
            Reader::new(&[0x80, 0x80]).read_varint().unwrap_err().detail,
            "truncated varint"
        );
    }

    #[test]
    fn keys_reject_field_zero_and_unknown_wire_types() {
        assert_eq!(
            Reader::new(&[0x02]).read_key().unwrap_err().detail,
            "invalid field number"
        );
        assert_eq!(
            Reader::new(&[0x0e]).read_key().unwrap_err().detail,
            "invalid wire type"
        );
        assert_eq!(Reader::new(&[0x0a]).read_key(), Ok((1, WireType::Len)));
    }

    #[test]
    fn lengths_past_the_end_are_errors_with_offsets() {
        let bytes = [0x0a, 0x05, b'a', b'b'];
        let mut reader = Reader::new(&bytes);
        assert_eq!(reader.read_key(), Ok((1, WireType::Len)));
        let error = reader.read_len().unwrap_err();
        assert_eq!(error.offset, 1);
        assert_eq!(error.detail, "length runs past the end of the message");
    }

    #[test]
    fn groups_are_skipped_and_checked() {
        // field 2 start group, field 1 varint 5, field 2 end group, then field 3 varint 1.
        let bytes = [0x13, 0x08, 0x05, 0x14, 0x18, 0x01];
        let mut reader = Reader::new(&bytes);
        let (field, wire_type) = reader.read_key().unwrap();
        reader.skip(field, wire_type).unwrap();
        assert_eq!(reader.read_key(), Ok((3, WireType::Varint)));
        let mismatched = [0x13, 0x1c];
        let mut reader = Reader::new(&mismatched);
        let (field, wire_type) = reader.read_key().unwrap();
        assert_eq!(
            reader.skip(field, wire_type).unwrap_err().detail,
            "mismatched end of group"
        );
        let deep = vec![0x13; 500];
        let mut reader = Reader::new(&deep);
        let (field, wire_type) = reader.read_key().unwrap();
        assert!(reader.skip(field, wire_type).is_err());
    }
}
