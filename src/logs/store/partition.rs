//! One time partition of the log index: a tantivy index holding one document per chunk of
//! a stream's entries within one UTC day. A document carries the stream id and the chunk's
//! time span (indexed, for pruning by stream and time), the distinct tokens of its lines
//! (indexed, no positions), and the encoded entries (stored; the document store compresses
//! them with zstd). Retention deletes whole partitions.

use std::collections::HashSet;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tantivy::collector::DocSetCollector;
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery, RegexQuery, TermQuery, TermSetQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{
    Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, TantivyDocument, Term,
};

use super::entry::{decode_entries, encode_entries, LogEntry};
use super::error::LogStoreError;
use super::streams::StreamId;
use super::tokens::{tokens_of, TokenRequirement, LONG_TOKEN_MARKER};

pub const DAY_NS: i64 = 86_400 * 1_000_000_000;

/// Heap for the partition's one indexing thread (tantivy's minimum is 15 MB).
const WRITER_HEAP_BYTES: usize = 20_000_000;

struct Fields {
    stream: Field,
    min_ns: Field,
    max_ns: Field,
    tokens: Field,
    entries: Field,
}

pub struct Partition {
    pub dir: PathBuf,
    index: Index,
    reader: IndexReader,
    writer: Mutex<Option<IndexWriter>>,
    fields: Fields,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let tokens_options = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("whitespace")
            .set_index_option(IndexRecordOption::Basic),
    );
    let fields = Fields {
        stream: builder.add_u64_field("stream", INDEXED | FAST | STORED),
        min_ns: builder.add_i64_field("min_ns", INDEXED | FAST),
        max_ns: builder.add_i64_field("max_ns", INDEXED | FAST),
        tokens: builder.add_text_field("tokens", tokens_options),
        entries: builder.add_bytes_field("entries", STORED),
    };
    (builder.build(), fields)
}

impl Partition {
    /// Opens the partition in `dir`, creating it if needed.
    pub fn open(dir: &Path) -> Result<Partition, LogStoreError> {
        let index_error = |source| LogStoreError::Index {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|source| LogStoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let (schema, fields) = schema();
        let index = if dir.join("meta.json").exists() {
            Index::open_in_dir(dir).map_err(index_error)?
        } else {
            let settings = IndexSettings {
                docstore_compression: Compressor::Zstd(ZstdCompressor::default()),
                ..IndexSettings::default()
            };
            Index::builder()
                .schema(schema)
                .settings(settings)
                .create_in_dir(dir)
                .map_err(index_error)?
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(index_error)?;
        Ok(Partition {
            dir: dir.to_path_buf(),
            index,
            reader,
            writer: Mutex::new(None),
            fields,
        })
    }

    fn index_error(&self, source: tantivy::TantivyError) -> LogStoreError {
        LogStoreError::Index {
            path: self.dir.clone(),
            source,
        }
    }

    /// Adds one chunk (entries of one stream, sorted by time, all within this day).
    pub fn add_chunk(&self, stream: StreamId, entries: &[LogEntry]) -> Result<(), LogStoreError> {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return Ok(());
        };
        let mut tokens = HashSet::new();
        for entry in entries {
            tokens_of(&entry.line, &mut tokens);
        }
        let mut token_text = String::with_capacity(tokens.iter().map(|t| t.len() + 1).sum());
        for token in &tokens {
            token_text.push_str(token);
            token_text.push(' ');
        }
        let mut encoded =
            Vec::with_capacity(entries.iter().map(LogEntry::raw_len).sum::<usize>() + 16);
        encode_entries(entries, &mut encoded);
        let mut document = TantivyDocument::default();
        document.add_u64(self.fields.stream, stream);
        document.add_i64(self.fields.min_ns, first.timestamp_ns);
        document.add_i64(self.fields.max_ns, last.timestamp_ns);
        document.add_text(self.fields.tokens, token_text);
        document.add_bytes(self.fields.entries, &encoded);
        let mut writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if writer.is_none() {
            *writer = Some(
                self.index
                    .writer_with_num_threads(1, WRITER_HEAP_BYTES)
                    .map_err(|err| self.index_error(err))?,
            );
        }
        if let Some(writer) = writer.as_ref() {
            writer
                .add_document(document)
                .map_err(|err| self.index_error(err))?;
        }
        Ok(())
    }

    /// Commits what was added and makes it searchable. With `release_writer`, the writer
    /// (and its memory) is dropped afterwards: older partitions are rarely written.
    pub fn commit(&self, release_writer: bool) -> Result<(), LogStoreError> {
        let mut writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(active) = writer.as_mut() {
            active.commit().map_err(|err| self.index_error(err))?;
        }
        if release_writer {
            if let Some(active) = writer.take() {
                active
                    .wait_merging_threads()
                    .map_err(|err| self.index_error(err))?;
            }
        }
        self.reader.reload().map_err(|err| self.index_error(err))
    }

    /// Entries of chunks of `streams` overlapping `[start_ns, end_ns]` whose lines hold all
    /// `required_tokens`, grouped by stream (entries in each chunk sorted by time).
    pub fn read(
        &self,
        streams: &[StreamId],
        start_ns: i64,
        end_ns: i64,
        required_tokens: &[TokenRequirement],
    ) -> Result<Vec<(StreamId, Vec<LogEntry>)>, LogStoreError> {
        if streams.is_empty() {
            return Ok(Vec::new());
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![
            (
                Occur::Must,
                Box::new(TermSetQuery::new(
                    streams
                        .iter()
                        .map(|&id| Term::from_field_u64(self.fields.stream, id)),
                )),
            ),
            (
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Unbounded,
                    Bound::Included(Term::from_field_i64(self.fields.min_ns, end_ns)),
                )),
            ),
            (
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Included(Term::from_field_i64(self.fields.max_ns, start_ns)),
                    Bound::Unbounded,
                )),
            ),
        ];
        for requirement in required_tokens {
            // Tokens are alphanumeric, so they need no escaping inside a pattern.
            let pattern = match requirement {
                TokenRequirement::Exact(token) => {
                    clauses.push((
                        Occur::Must,
                        Box::new(TermQuery::new(
                            Term::from_field_text(self.fields.tokens, token),
                            IndexRecordOption::Basic,
                        )),
                    ));
                    continue;
                }
                TokenRequirement::EndsWith(piece) => format!(".*{piece}"),
                TokenRequirement::StartsWith(piece) => format!("{piece}.*"),
                TokenRequirement::Contains(piece) => format!(".*{piece}.*"),
            };
            let query = RegexQuery::from_pattern(&pattern, self.fields.tokens)
                .map_err(|err| self.index_error(err))?;
            // A partial piece may lie inside a token too long to be indexed.
            let long = TermQuery::new(
                Term::from_field_text(self.fields.tokens, LONG_TOKEN_MARKER),
                IndexRecordOption::Basic,
            );
            clauses.push((
                Occur::Must,
                Box::new(BooleanQuery::new(vec![
                    (Occur::Should, Box::new(query) as Box<dyn Query>),
                    (Occur::Should, Box::new(long)),
                ])),
            ));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let addresses = searcher
            .search(&query, &DocSetCollector)
            .map_err(|err| self.index_error(err))?;
        let mut chunks = Vec::with_capacity(addresses.len());
        for address in addresses {
            let document: TantivyDocument =
                searcher.doc(address).map_err(|err| self.index_error(err))?;
            let stream = document
                .get_first(self.fields.stream)
                .and_then(|value| value.as_u64())
                .ok_or_else(|| LogStoreError::Corrupt("chunk without stream".into()))?;
            let bytes = document
                .get_first(self.fields.entries)
                .and_then(|value| value.as_bytes())
                .ok_or_else(|| LogStoreError::Corrupt("chunk without entries".into()))?;
            let (entries, _) = decode_entries(bytes)?;
            chunks.push((stream, entries));
        }
        Ok(chunks)
    }

    /// Bytes the partition takes on disk.
    pub fn disk_bytes(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|entry| entry.metadata().ok())
                    .filter(|metadata| metadata.is_file())
                    .map(|metadata| metadata.len())
                    .sum()
            })
            .unwrap_or(0)
    }
}

/// First nanosecond of the UTC day holding `timestamp_ns`.
pub fn day_start(timestamp_ns: i64) -> i64 {
    timestamp_ns.div_euclid(DAY_NS).saturating_mul(DAY_NS)
}
