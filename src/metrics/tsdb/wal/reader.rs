//! Start-up recovery and replay.
//!
//! [`recover`] checks every segment frame by frame before anything is replayed or appended:
//!
//! - a defect in the **last** segment (partial frame, bad checksum, zero-filled tail, torn
//!   segment header) is a torn tail: the segment is truncated at the last whole frame and a
//!   warning is logged;
//! - a defect in an **earlier** segment, or a missing segment number, stops the replay there;
//!   the bytes from the defect on and all later segments are moved into
//!   `quarantine/<unix seconds>/` and an error is logged. Leaving them in place would make every
//!   later start-up stop at the same point and silently drop what is appended after it.
//!
//! [`ReplayIter`] then yields the surviving payloads in order.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::WalError;
use super::segment::{
    list_segments, open_for_read, segment_file_name, segment_path, sync_dir, truncate_segment,
    FrameDefect, FrameRead, FrameReader, HeaderRead, FORMAT_VERSION, SEGMENT_HEADER_LEN,
};

/// Read buffer per segment during scan and replay.
const READ_BUFFER_BYTES: usize = 1 << 20;
/// Name of the folder (inside the WAL directory) that receives data cut out by recovery.
pub const QUARANTINE_DIR_NAME: &str = "quarantine";

/// A segment that survived recovery: its first `len` bytes are a header and whole frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveSegment {
    pub index: u32,
    pub len: u64,
}

/// The state of the WAL directory after recovery.
#[derive(Debug)]
pub struct Recovered {
    /// Consecutive segments, ascending, each valid up to its `len`.
    pub segments: Vec<LiveSegment>,
    /// The index a newly created segment gets if the writer cannot continue the last one.
    pub next_index: u32,
}

/// Result of checking one segment frame by frame.
#[derive(Debug)]
struct SegmentScan {
    file_len: u64,
    /// End of the last whole, valid frame (or of the header).
    valid_len: u64,
    records: u64,
    defect: Option<(u64, FrameDefect)>,
}

fn scan_segment(path: &Path) -> Result<SegmentScan, WalError> {
    let (file, file_len) = open_for_read(path)?;
    let mut reader = FrameReader::new(
        BufReader::with_capacity(READ_BUFFER_BYTES, file.take(file_len)),
        file_len,
    );
    let read_error = |offset, source| WalError::Read {
        path: path.to_path_buf(),
        offset,
        source,
    };
    match reader
        .read_segment_header()
        .map_err(|source| read_error(0, source))?
    {
        HeaderRead::Valid => {}
        HeaderRead::Defect(defect) => {
            return Ok(SegmentScan {
                file_len,
                valid_len: 0,
                records: 0,
                defect: Some((0, defect)),
            })
        }
        HeaderRead::UnsupportedVersion(found) => {
            return Err(WalError::UnsupportedVersion {
                path: path.to_path_buf(),
                found,
                supported: FORMAT_VERSION,
            })
        }
    }
    let mut payload = Vec::new();
    let mut records = 0u64;
    loop {
        let offset = reader.offset();
        match reader
            .next_frame(&mut payload)
            .map_err(|source| read_error(offset, source))?
        {
            FrameRead::Record => records += 1,
            FrameRead::End => {
                return Ok(SegmentScan {
                    file_len,
                    valid_len: offset,
                    records,
                    defect: None,
                })
            }
            FrameRead::Defect(defect) => {
                return Ok(SegmentScan {
                    file_len,
                    valid_len: offset,
                    records,
                    defect: Some((offset, defect)),
                })
            }
        }
    }
}

/// Checks and repairs the WAL directory `dir` (which must exist). See the module docs.
pub fn recover(dir: &Path) -> Result<Recovered, WalError> {
    let indices = list_segments(dir)?;
    let mut segments: Vec<LiveSegment> = Vec::with_capacity(indices.len());
    let mut first_removed: Option<u32> = None;

    for (position, &index) in indices.iter().enumerate() {
        let path = segment_path(dir, index);
        let is_last = position + 1 == indices.len();

        if let Some(previous) = segments.last() {
            if Some(index) != previous.index.checked_add(1) {
                let missing = previous.index.saturating_add(1);
                tracing::error!(
                    wal_dir = %dir.display(),
                    missing_segment = %segment_file_name(missing),
                    quarantined_segments = indices.len() - position,
                    "wal segment missing; replay stops before it and later segments are quarantined"
                );
                quarantine(dir, None, &indices[position..])?;
                first_removed = Some(index);
                break;
            }
        }

        let scan = scan_segment(&path)?;
        let Some((offset, defect)) = scan.defect else {
            segments.push(LiveSegment {
                index,
                len: scan.valid_len,
            });
            continue;
        };
        debug_assert_eq!(offset, scan.valid_len);
        let discarded_bytes = scan.file_len - offset;

        if is_last {
            tracing::warn!(
                segment = %path.display(),
                offset,
                discarded_bytes,
                kept_records = scan.records,
                %defect,
                "truncating torn or corrupt tail of the last wal segment"
            );
            if offset < SEGMENT_HEADER_LEN {
                remove_segment(&path)?;
                sync_dir(dir)?;
                first_removed = Some(index);
            } else {
                truncate_segment(&path, offset)?;
                segments.push(LiveSegment { index, len: offset });
            }
            break;
        }

        tracing::error!(
            segment = %path.display(),
            offset,
            discarded_bytes,
            kept_records = scan.records,
            quarantined_later_segments = indices.len() - position - 1,
            %defect,
            "corrupt wal segment before the last one; replay stops here and the rest is quarantined"
        );
        if offset < SEGMENT_HEADER_LEN {
            quarantine(dir, None, &indices[position..])?;
            first_removed = Some(index);
        } else {
            quarantine(dir, Some((index, offset)), &indices[position + 1..])?;
            truncate_segment(&path, offset)?;
            segments.push(LiveSegment { index, len: offset });
        }
        break;
    }

    let next_index = match segments.last() {
        Some(last) => last
            .index
            .checked_add(1)
            .ok_or(WalError::SegmentIndexOverflow { last: last.index })?,
        None => first_removed.unwrap_or(1),
    };
    Ok(Recovered {
        segments,
        next_index,
    })
}

fn remove_segment(path: &Path) -> Result<(), WalError> {
    std::fs::remove_file(path).map_err(|source| WalError::Remove {
        path: path.to_path_buf(),
        source,
    })
}

/// Creates a fresh `quarantine/<unix seconds>[-n]` folder.
fn create_quarantine_dir(dir: &Path) -> Result<PathBuf, WalError> {
    let root = dir.join(QUARANTINE_DIR_NAME);
    let quarantine_error = |source| WalError::Quarantine {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(&root).map_err(quarantine_error)?;
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    let mut attempt = 0u32;
    loop {
        let name = if attempt == 0 {
            seconds.to_string()
        } else {
            format!("{seconds}-{attempt}")
        };
        let candidate = root.join(name);
        match std::fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => attempt += 1,
            Err(error) => return Err(quarantine_error(error)),
        }
    }
}

/// Moves data out of the live WAL: the bytes of segment `partial.0` from offset `partial.1` on
/// are copied (the caller truncates the segment afterwards), and the `whole` segments are
/// renamed. Everything is made durable before returning.
fn quarantine(dir: &Path, partial: Option<(u32, u64)>, whole: &[u32]) -> Result<(), WalError> {
    let target = create_quarantine_dir(dir)?;
    if let Some((index, offset)) = partial {
        let source_path = segment_path(dir, index);
        let copy_error = |source| WalError::Quarantine {
            path: source_path.clone(),
            source,
        };
        let mut source = File::open(&source_path).map_err(copy_error)?;
        source.seek(SeekFrom::Start(offset)).map_err(copy_error)?;
        let copy_path = target.join(format!("{}.from-{offset}", segment_file_name(index)));
        let mut copy = File::create(&copy_path).map_err(copy_error)?;
        std::io::copy(&mut source, &mut copy).map_err(copy_error)?;
        copy.flush().map_err(copy_error)?;
        copy.sync_all().map_err(copy_error)?;
    }
    for &index in whole {
        let source_path = segment_path(dir, index);
        std::fs::rename(&source_path, target.join(segment_file_name(index))).map_err(|source| {
            WalError::Quarantine {
                path: source_path.clone(),
                source,
            }
        })?;
    }
    tracing::error!(quarantine_dir = %target.display(), "corrupt wal data moved aside");
    sync_dir(&target)?;
    sync_dir(dir)
}

struct OpenSegment {
    path: PathBuf,
    reader: FrameReader<BufReader<std::io::Take<File>>>,
}

/// Replays the segments of `dir` numbered below `below` (every segment when `None`) as they
/// are, without recovery and without changing anything: for closed segments of the live WAL
/// (which no longer change) and for checkpoints. A defect ends the replay with an error.
pub fn replay_segments(dir: &Path, below: Option<u32>) -> Result<ReplayIter, WalError> {
    let mut segments = Vec::new();
    for index in list_segments(dir)? {
        if below.is_some_and(|below| index >= below) {
            break;
        }
        let path = segment_path(dir, index);
        let len = std::fs::metadata(&path)
            .map_err(|source| WalError::Open {
                path: path.clone(),
                source,
            })?
            .len();
        segments.push(LiveSegment { index, len });
    }
    Ok(ReplayIter::new(dir, &segments))
}

/// Deletes the segments of `dir` numbered below `below`, oldest first, and fsyncs `dir`;
/// for start-up, before the WAL is opened. Returns how many were deleted.
pub fn remove_segments_before(dir: &Path, below: u32) -> Result<usize, WalError> {
    let mut removed = 0usize;
    for index in list_segments(dir)? {
        if index >= below {
            break;
        }
        let path = segment_path(dir, index);
        match std::fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(WalError::Remove { path, source }),
        }
    }
    if removed > 0 {
        sync_dir(dir)?;
    }
    Ok(removed)
}

/// Yields the payloads of the recovered segments in the order they were appended.
///
/// Replay reads the segment files again after [`recover`]; deleting segments (through
/// `Wal::truncate_before`) while a replay is still running makes it yield an error.
/// After the first error the iterator is exhausted.
pub struct ReplayIter {
    dir: PathBuf,
    pending: VecDeque<LiveSegment>,
    current: Option<OpenSegment>,
    failed: bool,
}

impl ReplayIter {
    pub(crate) fn new(dir: &Path, segments: &[LiveSegment]) -> Self {
        Self {
            dir: dir.to_path_buf(),
            pending: segments.iter().copied().collect(),
            current: None,
            failed: false,
        }
    }

    /// An iterator with nothing to replay.
    pub fn empty() -> Self {
        Self::new(Path::new(""), &[])
    }

    fn open_next(&mut self, segment: LiveSegment) -> Result<(), WalError> {
        let path = segment_path(&self.dir, segment.index);
        let (file, _) = open_for_read(&path)?;
        let mut reader = FrameReader::new(
            BufReader::with_capacity(READ_BUFFER_BYTES, file.take(segment.len)),
            segment.len,
        );
        let header = reader
            .read_segment_header()
            .map_err(|source| WalError::Read {
                path: path.clone(),
                offset: 0,
                source,
            })?;
        if header != HeaderRead::Valid {
            return Err(WalError::ChangedDuringReplay {
                path,
                offset: 0,
                defect: FrameDefect::BadSegmentHeader,
            });
        }
        self.current = Some(OpenSegment { path, reader });
        Ok(())
    }

    fn advance(&mut self) -> Result<Option<Vec<u8>>, WalError> {
        loop {
            let Some(current) = self.current.as_mut() else {
                let Some(segment) = self.pending.pop_front() else {
                    return Ok(None);
                };
                self.open_next(segment)?;
                continue;
            };
            let offset = current.reader.offset();
            let mut payload = Vec::new();
            let outcome =
                current
                    .reader
                    .next_frame(&mut payload)
                    .map_err(|source| WalError::Read {
                        path: current.path.clone(),
                        offset,
                        source,
                    })?;
            match outcome {
                FrameRead::Record => return Ok(Some(payload)),
                FrameRead::End => self.current = None,
                FrameRead::Defect(defect) => {
                    return Err(WalError::ChangedDuringReplay {
                        path: current.path.clone(),
                        offset,
                        defect,
                    })
                }
            }
        }
    }
}

impl Iterator for ReplayIter {
    type Item = Result<Vec<u8>, WalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.advance() {
            Ok(Some(payload)) => Some(Ok(payload)),
            Ok(None) => None,
            Err(error) => {
                self.failed = true;
                self.current = None;
                Some(Err(error))
            }
        }
    }
}

impl std::fmt::Debug for ReplayIter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ReplayIter")
            .field("dir", &self.dir)
            .field("pending_segments", &self.pending.len())
            .field("failed", &self.failed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::segment::{encode_frame, segment_header};
    use super::*;

    /// Writes segment `index` holding `payloads`; returns the offset of each frame.
    fn write_segment(dir: &Path, index: u32, payloads: &[&[u8]]) -> Vec<u64> {
        let mut bytes = segment_header().to_vec();
        let mut offsets = Vec::new();
        for payload in payloads {
            offsets.push(bytes.len() as u64);
            encode_frame(payload, &mut bytes);
        }
        std::fs::write(segment_path(dir, index), bytes).unwrap();
        offsets
    }

    fn replay(dir: &Path) -> (Recovered, Vec<Vec<u8>>) {
        let recovered = recover(dir).unwrap();
        let payloads = ReplayIter::new(dir, &recovered.segments)
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        (recovered, payloads)
    }

    fn owned(payloads: &[&[u8]]) -> Vec<Vec<u8>> {
        payloads.iter().map(|payload| payload.to_vec()).collect()
    }

    fn quarantined_files(dir: &Path) -> Vec<String> {
        let mut names = Vec::new();
        let root = dir.join(QUARANTINE_DIR_NAME);
        let Ok(incidents) = std::fs::read_dir(root) else {
            return names;
        };
        for incident in incidents {
            for file in std::fs::read_dir(incident.unwrap().path()).unwrap() {
                names.push(file.unwrap().file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        names
    }

    /// A segment of format version 1 kept in the repository: it must keep replaying.
    #[test]
    fn reads_the_version_1_fixture() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wal/v1/00000001");
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(&fixture, segment_path(dir.path(), 1)).unwrap();
        let (recovered, payloads) = replay(dir.path());
        let expected: Vec<Vec<u8>> = vec![
            b"\x01series:up".to_vec(),
            vec![0x02, 0x81, 0x01, 0x02],
            Vec::new(),
        ];
        assert_eq!(payloads, expected);
        let fixture_len = std::fs::metadata(&fixture).unwrap().len();
        assert_eq!(
            recovered.segments,
            vec![LiveSegment {
                index: 1,
                len: fixture_len
            }]
        );
    }

    #[test]
    fn empty_directory_recovers_to_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (recovered, payloads) = replay(dir.path());
        assert!(recovered.segments.is_empty());
        assert_eq!(recovered.next_index, 1);
        assert!(payloads.is_empty());
    }

    #[test]
    fn replays_across_segments_in_order() {
        let dir = tempfile::tempdir().unwrap();
        write_segment(dir.path(), 3, &[b"a", b"b"]);
        write_segment(dir.path(), 4, &[]);
        write_segment(dir.path(), 5, &[b"c"]);
        std::fs::write(dir.path().join("README"), b"not a segment").unwrap();
        let (recovered, payloads) = replay(dir.path());
        assert_eq!(payloads, owned(&[b"a", b"b", b"c"]));
        assert_eq!(recovered.next_index, 6);
        assert_eq!(recovered.segments.len(), 3);
    }

    #[test]
    fn corrupt_checksum_in_the_middle_of_the_last_segment_truncates_there() {
        let dir = tempfile::tempdir().unwrap();
        write_segment(dir.path(), 1, &[b"one"]);
        let offsets = write_segment(dir.path(), 2, &[b"two", b"three", b"four"]);
        let path = segment_path(dir.path(), 2);
        let mut bytes = std::fs::read(&path).unwrap();
        let last_payload_byte = offsets[2] as usize - 1; // inside "three"
        bytes[last_payload_byte] ^= 0x40;
        std::fs::write(&path, bytes).unwrap();

        let (recovered, payloads) = replay(dir.path());
        assert_eq!(payloads, owned(&[b"one", b"two"]));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), offsets[1]);
        assert_eq!(recovered.segments.last().unwrap().len, offsets[1]);
        assert!(quarantined_files(dir.path()).is_empty());
    }

    #[test]
    fn zero_filled_tail_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        write_segment(dir.path(), 1, &[b"kept"]);
        let path = segment_path(dir.path(), 1);
        let valid_len = std::fs::metadata(&path).unwrap().len();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(valid_len + 4096).unwrap();
        drop(file);

        let (_, payloads) = replay(dir.path());
        assert_eq!(payloads, owned(&[b"kept"]));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), valid_len);
    }

    #[test]
    fn torn_header_of_the_last_segment_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        write_segment(dir.path(), 1, &[b"kept"]);
        std::fs::write(segment_path(dir.path(), 2), b"SLW").unwrap();
        let (recovered, payloads) = replay(dir.path());
        assert_eq!(payloads, owned(&[b"kept"]));
        assert!(!segment_path(dir.path(), 2).exists());
        assert_eq!(recovered.next_index, 2);
    }

    #[test]
    fn corruption_before_the_last_segment_quarantines_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let offsets = write_segment(dir.path(), 1, &[b"one", b"two", b"three"]);
        write_segment(dir.path(), 2, &[b"four"]);
        write_segment(dir.path(), 3, &[b"five"]);
        let path = segment_path(dir.path(), 1);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[offsets[1] as usize + 2] ^= 0xff; // length field of "two"
        std::fs::write(&path, bytes).unwrap();

        let (recovered, payloads) = replay(dir.path());
        assert_eq!(payloads, owned(&[b"one"]));
        assert_eq!(
            recovered.segments,
            vec![LiveSegment {
                index: 1,
                len: offsets[1]
            }]
        );
        assert_eq!(recovered.next_index, 2);
        assert_eq!(list_segments(dir.path()).unwrap(), vec![1]);
        assert_eq!(
            quarantined_files(dir.path()),
            vec![
                format!("00000001.from-{}", offsets[1]),
                "00000002".to_string(),
                "00000003".to_string()
            ]
        );
        // A second start-up finds a clean WAL.
        let (_, again) = replay(dir.path());
        assert_eq!(again, owned(&[b"one"]));
    }

    #[test]
    fn missing_segment_stops_replay_and_quarantines_later_ones() {
        let dir = tempfile::tempdir().unwrap();
        write_segment(dir.path(), 1, &[b"one"]);
        write_segment(dir.path(), 2, &[b"two"]);
        write_segment(dir.path(), 4, &[b"four"]);
        let (recovered, payloads) = replay(dir.path());
        assert_eq!(payloads, owned(&[b"one", b"two"]));
        assert_eq!(recovered.next_index, 3);
        assert_eq!(quarantined_files(dir.path()), vec!["00000004".to_string()]);
    }

    #[test]
    fn bad_header_of_the_first_segment_quarantines_everything() {
        let dir = tempfile::tempdir().unwrap();
        write_segment(dir.path(), 7, &[b"one"]);
        write_segment(dir.path(), 8, &[b"two"]);
        let path = segment_path(dir.path(), 7);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[0] = b'X';
        std::fs::write(&path, bytes).unwrap();
        let (recovered, payloads) = replay(dir.path());
        assert!(payloads.is_empty());
        assert!(recovered.segments.is_empty());
        assert_eq!(recovered.next_index, 7);
        assert_eq!(
            quarantined_files(dir.path()),
            vec!["00000007".to_string(), "00000008".to_string()]
        );
    }

    #[test]
    fn newer_format_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        write_segment(dir.path(), 1, &[b"one"]);
        let path = segment_path(dir.path(), 1);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[4] = FORMAT_VERSION + 1;
        std::fs::write(&path, bytes).unwrap();
        let error = recover(dir.path()).unwrap_err();
        assert!(matches!(
            error,
            WalError::UnsupportedVersion { found: 2, .. }
        ));
        assert!(error.to_string().contains("00000001"), "{error}");
    }

    #[test]
    fn replay_reports_a_segment_that_vanished() {
        let dir = tempfile::tempdir().unwrap();
        write_segment(dir.path(), 1, &[b"one"]);
        write_segment(dir.path(), 2, &[b"two"]);
        let recovered = recover(dir.path()).unwrap();
        let mut replay = ReplayIter::new(dir.path(), &recovered.segments);
        assert_eq!(replay.next().unwrap().unwrap(), b"one");
        std::fs::remove_file(segment_path(dir.path(), 2)).unwrap();
        let error = replay.next().unwrap().unwrap_err();
        assert!(error.to_string().contains("00000002"), "{error}");
        assert!(replay.next().is_none());
    }
}
