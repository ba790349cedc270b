//! A log entry and the compact encoding of a run of one stream's entries (a chunk), as
//! stored in the index's document store (which compresses it with zstd).

use crate::metrics::tsdb::wal::record::{put_uvarint, put_varint, VarintReader};

use super::error::LogStoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub timestamp_ns: i64,
    pub line: String,
    pub structured_metadata: Vec<(String, String)>,
}

impl LogEntry {
    /// Bytes the entry takes as raw text (line plus metadata), for size accounting.
    pub fn raw_len(&self) -> usize {
        self.line.len()
            + self
                .structured_metadata
                .iter()
                .map(|(name, value)| name.len() + value.len())
                .sum::<usize>()
    }
}

/// Appends the entries (sorted by time) to `out`: count, then per entry the time delta,
/// the line and the structured metadata pairs, all length-prefixed.
pub fn encode_entries(entries: &[LogEntry], out: &mut Vec<u8>) {
    put_uvarint(out, entries.len() as u64);
    let mut previous = 0i64;
    for entry in entries {
        put_varint(out, entry.timestamp_ns.wrapping_sub(previous));
        previous = entry.timestamp_ns;
        put_bytes(out, entry.line.as_bytes());
        put_uvarint(out, entry.structured_metadata.len() as u64);
        for (name, value) in &entry.structured_metadata {
            put_bytes(out, name.as_bytes());
            put_bytes(out, value.as_bytes());
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_uvarint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Decodes what [`encode_entries`] wrote; returns the entries and the bytes consumed.
pub fn decode_entries(input: &[u8]) -> Result<(Vec<LogEntry>, usize), LogStoreError> {
    let corrupt = |err: crate::metrics::tsdb::wal::record::RecordDecodeError| {
        LogStoreError::Corrupt(err.to_string())
    };
    let mut reader = VarintReader::new(input);
    let count = reader.uvarint().map_err(corrupt)? as usize;
    let mut entries = Vec::with_capacity(count.min(input.len()));
    let mut previous = 0i64;
    for _ in 0..count {
        let timestamp_ns = previous.wrapping_add(reader.varint().map_err(corrupt)?);
        previous = timestamp_ns;
        let line = read_string(&mut reader)?;
        let pairs = reader.uvarint().map_err(corrupt)? as usize;
        let mut structured_metadata = Vec::with_capacity(pairs.min(64));
        for _ in 0..pairs {
            let name = read_string(&mut reader)?;
            let value = read_string(&mut reader)?;
            structured_metadata.push((name, value));
        }
        entries.push(LogEntry {
            timestamp_ns,
            line,
            structured_metadata,
        });
    }
    Ok((entries, reader.offset()))
}

fn read_string(reader: &mut VarintReader<'_>) -> Result<String, LogStoreError> {
    let corrupt = |reason: String| LogStoreError::Corrupt(reason);
    let len = reader.uvarint().map_err(|err| corrupt(err.to_string()))? as usize;
    let bytes = reader.bytes(len).map_err(|err| corrupt(err.to_string()))?;
    String::from_utf8(bytes.to_vec()).map_err(|_| corrupt("line is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let entries = vec![
            LogEntry {
                timestamp_ns: 1_700_000_000_000_000_000,
                line: "GET /index.html 200".into(),
                structured_metadata: vec![("trace_id".into(), "abc".into())],
            },
            LogEntry {
                timestamp_ns: 1_700_000_000_000_000_001,
                line: "ünïcödé ✓".into(),
                structured_metadata: Vec::new(),
            },
        ];
        let mut bytes = Vec::new();
        encode_entries(&entries, &mut bytes);
        let (decoded, used) = decode_entries(&bytes).unwrap();
        assert_eq!(decoded, entries);
        assert_eq!(used, bytes.len());
        assert!(decode_entries(&bytes[..bytes.len() - 3]).is_err());
    }
}
