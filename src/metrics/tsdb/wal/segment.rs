//! Segment files: naming, creation, the segment header and the record framing.
//!
//! A segment is `<wal dir>/<index as 8 decimal digits>` and holds a fixed 8-byte header followed
//! by frames. A frame is `kind: u8 | payload length: u32 LE | crc32: u32 LE | payload`, where
//! the CRC-32 (IEEE) covers the kind byte, the length bytes and the payload. See
//! `docs/format/wal.md` for the full description.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::error::WalError;

/// The first four bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 4] = *b"SLWL";
/// The on-disk format version written into every segment header.
pub const FORMAT_VERSION: u8 = 1;
/// Magic (4 bytes), version (1 byte), reserved (3 zero bytes).
pub const SEGMENT_HEADER_LEN: u64 = 8;
/// Kind (1 byte), payload length (4 bytes), CRC-32 (4 bytes).
pub const FRAME_HEADER_LEN: usize = 9;
/// The frame kind of a record stored whole in one frame. Kind 0 is never written, so a run of
/// zero bytes can never be mistaken for a frame.
pub const FRAME_KIND_FULL: u8 = 1;

/// Number of digits of a segment file name.
const SEGMENT_NAME_DIGITS: usize = 8;

/// Why the bytes at some offset of a segment are not a valid segment header or frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameDefect {
    #[error("incomplete segment header ({available} of 8 bytes)")]
    SegmentHeaderTruncated { available: u64 },
    #[error("segment header does not carry the wal magic and a known version")]
    BadSegmentHeader,
    #[error("zero-filled tail of {len} bytes")]
    ZeroFilled { len: u64 },
    #[error("incomplete frame header ({available} of 9 bytes)")]
    FrameHeaderTruncated { available: u64 },
    #[error("unknown frame kind {kind}")]
    UnknownKind { kind: u8 },
    #[error("frame announces {len} payload bytes but only {available} remain in the file")]
    PayloadTruncated { len: u32, available: u64 },
    #[error("checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    ChecksumMismatch { stored: u32, computed: u32 },
}

/// The file name of segment `index`: eight decimal digits, zero-padded (`00000001`).
pub fn segment_file_name(index: u32) -> String {
    format!("{index:0width$}", width = SEGMENT_NAME_DIGITS)
}

/// The path of segment `index` inside the WAL directory `dir`.
pub fn segment_path(dir: &Path, index: u32) -> PathBuf {
    dir.join(segment_file_name(index))
}

/// The segment index a file name denotes, if it is the canonical name of a segment.
pub fn parse_segment_file_name(name: &str) -> Option<u32> {
    if name.len() < SEGMENT_NAME_DIGITS || !name.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let index: u32 = name.parse().ok()?;
    if segment_file_name(index) != name {
        return None;
    }
    Some(index)
}

/// The indices of all segment files in `dir`, ascending. Other entries are ignored.
pub fn list_segments(dir: &Path) -> Result<Vec<u32>, WalError> {
    let list_error = |source| WalError::ListDir {
        path: dir.to_path_buf(),
        source,
    };
    let mut indices = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(list_error)? {
        let entry = entry.map_err(list_error)?;
        let Some(index) = entry.file_name().to_str().and_then(parse_segment_file_name) else {
            continue;
        };
        if entry.file_type().map_err(list_error)?.is_file() {
            indices.push(index);
        }
    }
    indices.sort_unstable();
    Ok(indices)
}

/// The largest payload a segment of `segment_size` bytes can hold in one frame.
pub fn max_payload_len(segment_size: u64) -> usize {
    let room = segment_size.saturating_sub(SEGMENT_HEADER_LEN + FRAME_HEADER_LEN as u64);
    let room = room.min(u64::from(u32::MAX));
    usize::try_from(room).unwrap_or(usize::MAX)
}

/// The total size on disk of a frame carrying `payload_len` bytes.
pub fn frame_len(payload_len: usize) -> usize {
    FRAME_HEADER_LEN + payload_len
}

/// The 8-byte header written at the start of every segment.
pub fn segment_header() -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
    header[..4].copy_from_slice(&SEGMENT_MAGIC);
    header[4] = FORMAT_VERSION;
    header
}

fn frame_checksum(kind: u8, len_bytes: [u8; 4], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&[kind]);
    hasher.update(&len_bytes);
    hasher.update(payload);
    hasher.finalize()
}

/// The frame header for `payload`. The caller guarantees `payload.len() <= u32::MAX`
/// (enforced by the writer through [`max_payload_len`]).
pub fn frame_header(payload: &[u8]) -> [u8; FRAME_HEADER_LEN] {
    debug_assert!(
        payload.len() <= u32::MAX as usize,
        "payload length must fit in u32"
    );
    let len_bytes = (payload.len() as u32).to_le_bytes();
    let checksum = frame_checksum(FRAME_KIND_FULL, len_bytes, payload);
    let mut header = [0u8; FRAME_HEADER_LEN];
    header[0] = FRAME_KIND_FULL;
    header[1..5].copy_from_slice(&len_bytes);
    header[5..9].copy_from_slice(&checksum.to_le_bytes());
    header
}

/// Appends one complete frame carrying `payload` to `out`.
#[cfg(test)]
pub fn encode_frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&frame_header(payload));
    out.extend_from_slice(payload);
}

/// What reading a segment header found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderRead {
    Valid,
    Defect(FrameDefect),
    /// Magic present, but a format version this build does not know.
    UnsupportedVersion(u8),
}

/// What reading the next frame found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameRead {
    /// A valid frame; its payload was written into the caller's buffer.
    Record,
    /// The readable range ended exactly at a frame boundary.
    End,
    /// The bytes at the current offset are not a valid frame; reading must stop here.
    Defect(FrameDefect),
}

/// Reads a segment header and frames sequentially from `inner`, which must be positioned at
/// the start of the segment and hold `end` readable bytes.
pub struct FrameReader<R> {
    inner: R,
    offset: u64,
    end: u64,
}

impl<R: Read> FrameReader<R> {
    pub fn new(inner: R, end: u64) -> Self {
        Self {
            inner,
            offset: 0,
            end,
        }
    }

    /// The offset of the next unread byte, which is the start of the next frame after a
    /// successful read.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn remaining(&self) -> u64 {
        self.end - self.offset
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_exact(buf)?;
        self.offset += buf.len() as u64;
        debug_assert!(self.offset <= self.end);
        Ok(())
    }

    /// True if every byte from the current offset to the end is zero. Consumes them.
    fn rest_is_zero(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 8192];
        while self.remaining() > 0 {
            let take = self.remaining().min(chunk.len() as u64) as usize;
            self.read_exact(&mut chunk[..take])?;
            if chunk[..take].iter().any(|&byte| byte != 0) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Reads and checks the segment header. Must be the first call.
    pub fn read_segment_header(&mut self) -> io::Result<HeaderRead> {
        debug_assert_eq!(self.offset, 0, "the segment header is at offset 0");
        let available = self.remaining();
        if available < SEGMENT_HEADER_LEN {
            let mut partial = vec![0u8; available as usize];
            self.read_exact(&mut partial)?;
            if available > 0 && partial.iter().all(|&byte| byte == 0) {
                return Ok(HeaderRead::Defect(FrameDefect::ZeroFilled {
                    len: available,
                }));
            }
            return Ok(HeaderRead::Defect(FrameDefect::SegmentHeaderTruncated {
                available,
            }));
        }
        let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
        self.read_exact(&mut header)?;
        if header[..4] != SEGMENT_MAGIC {
            if header.iter().all(|&byte| byte == 0) && self.rest_is_zero()? {
                return Ok(HeaderRead::Defect(FrameDefect::ZeroFilled {
                    len: available,
                }));
            }
            return Ok(HeaderRead::Defect(FrameDefect::BadSegmentHeader));
        }
        let version = header[4];
        if version == FORMAT_VERSION {
            return Ok(HeaderRead::Valid);
        }
        if version == 0 {
            return Ok(HeaderRead::Defect(FrameDefect::BadSegmentHeader));
        }
        Ok(HeaderRead::UnsupportedVersion(version))
    }

    /// Reads the next frame into `payload` (cleared first). After a `Defect` the reader's
    /// position is unspecified; use the offset taken before the call as the defect's offset.
    pub fn next_frame(&mut self, payload: &mut Vec<u8>) -> io::Result<FrameRead> {
        payload.clear();
        let available = self.remaining();
        if available == 0 {
            return Ok(FrameRead::End);
        }
        let mut header = [0u8; FRAME_HEADER_LEN];
        let header_bytes = available.min(FRAME_HEADER_LEN as u64) as usize;
        self.read_exact(&mut header[..header_bytes])?;
        if header[0] == 0 {
            if header[..header_bytes].iter().all(|&byte| byte == 0) && self.rest_is_zero()? {
                return Ok(FrameRead::Defect(FrameDefect::ZeroFilled {
                    len: available,
                }));
            }
            return Ok(FrameRead::Defect(FrameDefect::UnknownKind { kind: 0 }));
        }
        if header_bytes < FRAME_HEADER_LEN {
            return Ok(FrameRead::Defect(FrameDefect::FrameHeaderTruncated {
                available,
            }));
        }
        let kind = header[0];
        if kind != FRAME_KIND_FULL {
            return Ok(FrameRead::Defect(FrameDefect::UnknownKind { kind }));
        }
        let len_bytes = [header[1], header[2], header[3], header[4]];
        let len = u32::from_le_bytes(len_bytes);
        let stored = u32::from_le_bytes([header[5], header[6], header[7], header[8]]);
        let available = self.remaining();
        if u64::from(len) > available {
            return Ok(FrameRead::Defect(FrameDefect::PayloadTruncated {
                len,
                available,
            }));
        }
        payload.resize(len as usize, 0);
        self.inner.read_exact(payload)?;
        self.offset += u64::from(len);
        let computed = frame_checksum(kind, len_bytes, payload);
        if computed != stored {
            payload.clear();
            return Ok(FrameRead::Defect(FrameDefect::ChecksumMismatch {
                stored,
                computed,
            }));
        }
        Ok(FrameRead::Record)
    }
}

/// Opens a segment for reading and returns it with its current length.
pub fn open_for_read(path: &Path) -> Result<(File, u64), WalError> {
    let open_error = |source| WalError::Open {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(open_error)?;
    let len = file.metadata().map_err(open_error)?.len();
    Ok((file, len))
}

/// Truncates the segment at `path` to `len` bytes and makes the new length durable.
pub fn truncate_segment(path: &Path, len: u64) -> Result<(), WalError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|source| WalError::Open {
            path: path.to_path_buf(),
            source,
        })?;
    file.set_len(len).map_err(|source| WalError::Truncate {
        path: path.to_path_buf(),
        offset: len,
        source,
    })?;
    file.sync_all().map_err(|source| WalError::Sync {
        path: path.to_path_buf(),
        source,
    })
}

/// Makes the creation, renaming and removal of entries in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<(), WalError> {
    let sync_error = |source| WalError::Sync {
        path: dir.to_path_buf(),
        source,
    };
    #[cfg(unix)]
    {
        File::open(dir)
            .map_err(sync_error)?
            .sync_all()
            .map_err(sync_error)?;
    }
    #[cfg(not(unix))]
    {
        let _ = sync_error;
    }
    Ok(())
}

/// The segment currently being appended to.
#[derive(Debug)]
pub struct SegmentFile {
    index: u32,
    path: PathBuf,
    file: File,
    len: u64,
}

impl SegmentFile {
    /// Creates segment `index` in `dir` (it must not exist) and writes its header.
    /// Nothing is synced; the caller decides when to fsync the file and the directory.
    pub fn create(dir: &Path, index: u32) -> Result<Self, WalError> {
        let path = segment_path(dir, index);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|source| WalError::Open {
                path: path.clone(),
                source,
            })?;
        let mut segment = Self {
            index,
            path,
            file,
            len: 0,
        };
        segment.write(&segment_header())?;
        Ok(segment)
    }

    /// Opens existing segment `index` to append after its first `len` bytes, which recovery
    /// has verified to be a valid header followed by whole frames.
    pub fn open_for_append(dir: &Path, index: u32, len: u64) -> Result<Self, WalError> {
        debug_assert!(
            len >= SEGMENT_HEADER_LEN,
            "an appendable segment has a header"
        );
        let path = segment_path(dir, index);
        let mut file = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|source| WalError::Open {
                path: path.clone(),
                source,
            })?;
        file.seek(SeekFrom::Start(len))
            .map_err(|source| WalError::Write {
                path: path.clone(),
                offset: len,
                source,
            })?;
        Ok(Self {
            index,
            path,
            file,
            len,
        })
    }

    pub fn index(&self) -> u32 {
        self.index
    }

    /// Bytes in the segment, header included.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True if the segment holds no frame yet.
    pub fn has_no_frames(&self) -> bool {
        self.len <= SEGMENT_HEADER_LEN
    }

    /// Writes `bytes` at the end of the segment (one `write` unless the kernel splits it).
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), WalError> {
        self.file
            .write_all(bytes)
            .map_err(|source| WalError::Write {
                path: self.path.clone(),
                offset: self.len,
                source,
            })?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// `fdatasync`: makes the written bytes (and the file length) durable.
    pub fn sync_data(&self) -> Result<(), WalError> {
        self.file.sync_data().map_err(|source| WalError::Sync {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn read_all(bytes: &[u8]) -> (Vec<Vec<u8>>, FrameRead, u64) {
        let mut reader = FrameReader::new(Cursor::new(bytes), bytes.len() as u64);
        assert_eq!(reader.read_segment_header().unwrap(), HeaderRead::Valid);
        let mut payloads = Vec::new();
        let mut payload = Vec::new();
        loop {
            let offset = reader.offset();
            match reader.next_frame(&mut payload).unwrap() {
                FrameRead::Record => payloads.push(payload.clone()),
                other => return (payloads, other, offset),
            }
        }
    }

    fn segment_bytes(payloads: &[&[u8]]) -> Vec<u8> {
        let mut bytes = segment_header().to_vec();
        for payload in payloads {
            encode_frame(payload, &mut bytes);
        }
        bytes
    }

    #[test]
    fn names_are_eight_zero_padded_digits() {
        assert_eq!(segment_file_name(1), "00000001");
        assert_eq!(segment_file_name(123_456_789), "123456789");
        assert_eq!(parse_segment_file_name("00000001"), Some(1));
        assert_eq!(parse_segment_file_name("123456789"), Some(123_456_789));
        assert_eq!(parse_segment_file_name("0000001"), None);
        assert_eq!(parse_segment_file_name("000000001"), None);
        assert_eq!(parse_segment_file_name("0000000a"), None);
        assert_eq!(parse_segment_file_name("00000001.tmp"), None);
        assert_eq!(parse_segment_file_name("99999999999"), None);
    }

    /// The exact bytes of format version 1 (checksums as zlib's `crc32` computes them), so an
    /// accidental format change fails here.
    #[test]
    fn golden_bytes_of_format_version_1() {
        assert_eq!(segment_header(), *b"SLWL\x01\x00\x00\x00");
        let mut frame = Vec::new();
        encode_frame(b"a", &mut frame);
        assert_eq!(
            frame,
            [0x01, 0x01, 0x00, 0x00, 0x00, 0x78, 0x0a, 0x4b, 0x7d, b'a']
        );
        frame.clear();
        encode_frame(b"", &mut frame);
        assert_eq!(
            frame,
            [0x01, 0x00, 0x00, 0x00, 0x00, 0xad, 0xde, 0x42, 0xfb]
        );
    }

    #[test]
    fn frames_round_trip() {
        let bytes = segment_bytes(&[b"", b"a", &[7u8; 1000]]);
        let (payloads, end, offset) = read_all(&bytes);
        assert_eq!(payloads, vec![b"".to_vec(), b"a".to_vec(), vec![7u8; 1000]]);
        assert_eq!(end, FrameRead::End);
        assert_eq!(offset, bytes.len() as u64);
    }

    #[test]
    fn every_single_bit_flip_in_a_frame_is_detected() {
        let bytes = segment_bytes(&[b"hello wal"]);
        let header_len = SEGMENT_HEADER_LEN as usize;
        for byte in header_len..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[byte] ^= 1 << bit;
                let (payloads, outcome, offset) = read_all(&damaged);
                assert!(
                    payloads.is_empty(),
                    "flip at byte {byte} bit {bit} went unnoticed"
                );
                assert!(matches!(outcome, FrameRead::Defect(_)));
                assert_eq!(offset, SEGMENT_HEADER_LEN);
            }
        }
    }

    #[test]
    fn zero_filled_tail_is_named() {
        let mut bytes = segment_bytes(&[b"x"]);
        let valid = bytes.len() as u64;
        bytes.extend_from_slice(&[0u8; 100]);
        let (payloads, outcome, offset) = read_all(&bytes);
        assert_eq!(payloads, vec![b"x".to_vec()]);
        assert_eq!(offset, valid);
        assert_eq!(
            outcome,
            FrameRead::Defect(FrameDefect::ZeroFilled { len: 100 })
        );
    }

    #[test]
    fn zeros_followed_by_data_are_not_a_zero_filled_tail() {
        let mut bytes = segment_bytes(&[]);
        bytes.extend_from_slice(&[0u8; 20]);
        bytes.push(9);
        let (_, outcome, _) = read_all(&bytes);
        assert_eq!(
            outcome,
            FrameRead::Defect(FrameDefect::UnknownKind { kind: 0 })
        );
    }

    #[test]
    fn segment_header_checks() {
        let check = |bytes: &[u8]| {
            let mut reader = FrameReader::new(Cursor::new(bytes), bytes.len() as u64);
            reader.read_segment_header().unwrap()
        };
        assert_eq!(check(&segment_header()), HeaderRead::Valid);
        assert_eq!(
            check(b"SLW"),
            HeaderRead::Defect(FrameDefect::SegmentHeaderTruncated { available: 3 })
        );
        assert_eq!(
            check(&[0u8; 8]),
            HeaderRead::Defect(FrameDefect::ZeroFilled { len: 8 })
        );
        assert_eq!(
            check(b"NOTAWAL!"),
            HeaderRead::Defect(FrameDefect::BadSegmentHeader)
        );
        let mut future = segment_header();
        future[4] = 2;
        assert_eq!(check(&future), HeaderRead::UnsupportedVersion(2));
    }

    #[test]
    fn max_payload_leaves_room_for_headers() {
        assert_eq!(max_payload_len(4096), 4096 - 8 - 9);
        assert_eq!(max_payload_len(10), 0);
        assert_eq!(max_payload_len(u64::MAX), u32::MAX as usize);
    }
}
