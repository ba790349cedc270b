//! One time partition of the log index: a tantivy index holding one document per chunk of
//! a stream's entries within one UTC day. A document carries the stream id and the chunk's
//! time span (indexed, for pruning by stream and time), the distinct tokens of its lines
//! and their character trigrams (indexed, no positions; trigrams let filters on pieces of
//! tokens prune without scanning the term dictionary), and the encoded entries (stored;
//! the document store compresses them with zstd). Retention deletes whole partitions.

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
use super::tokens::{grams_of_piece, tokens_of, GramSet, TokenRequirement, LONG_TOKEN_MARKER};

pub const DAY_NS: i64 = 86_400 * 1_000_000_000;

/// Heap for the partition's one indexing thread (tantivy's minimum is 15 MB).
const WRITER_HEAP_BYTES: usize = 20_000_000;

struct Fields {
    stream: Field,
    min_ns: Field,
    max_ns: Field,
    tokens: Field,
    /// Absent in partitions written before trigrams were indexed.
    grams: Option<Field>,
    entries: Field,
}

pub struct Partition {
    pub dir: PathBuf,
    index: Index,
    reader: IndexReader,
    writer: Mutex<Option<IndexWriter>>,
    fields: Fields,
}

fn schema() -> Schema {
    let mut builder = Schema::builder();
    let tokens_options = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("whitespace")
            .set_index_option(IndexRecordOption::Basic),
    );
    builder.add_u64_field("stream", INDEXED | FAST | STORED);
    builder.add_i64_field("min_ns", INDEXED | FAST);
    builder.add_i64_field("max_ns", INDEXED | FAST);
    builder.add_text_field("tokens", tokens_options.clone());
    builder.add_text_field("grams", tokens_options);
    builder.add_bytes_field("entries", STORED);
    builder.build()
}

/// The fields of an opened index, found by name (older partitions lack some).
fn fields_of(schema: &Schema) -> Result<Fields, tantivy::TantivyError> {
    Ok(Fields {
        stream: schema.get_field("stream")?,
        min_ns: schema.get_field("min_ns")?,
        max_ns: schema.get_field("max_ns")?,
        tokens: schema.get_field("tokens")?,
        grams: schema.get_field("grams").ok(),
        entries: schema.get_field("entries")?,
    })
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
        let index = if dir.join("meta.json").exists() {
            Index::open_in_dir(dir).map_err(index_error)?
        } else {
            let settings = IndexSettings {
                docstore_compression: Compressor::Zstd(ZstdCompressor::default()),
                ..IndexSettings::default()
            };
            Index::builder()
                .schema(schema())
                .settings(settings)
                .create_in_dir(dir)
                .map_err(index_error)?
        };
        let fields = fields_of(&index.schema()).map_err(index_error)?;
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
        let mut tokens = HashSet::with_hasher(foldhash::fast::RandomState::default());
        for entry in entries {
            tokens_of(&entry.line, &mut tokens);
        }
        let mut token_text = String::with_capacity(tokens.iter().map(|t| t.len() + 1).sum());
        let mut grams = GramSet::default();
        for token in &tokens {
            token_text.push_str(token);
            token_text.push(' ');
            if self.fields.grams.is_some() && token != LONG_TOKEN_MARKER {
                grams.add_token(token);
            }
        }
        let mut encoded =
            Vec::with_capacity(entries.iter().map(LogEntry::raw_len).sum::<usize>() + 16);
        encode_entries(entries, &mut encoded);
        let mut document = TantivyDocument::default();
        document.add_u64(self.fields.stream, stream);
        document.add_i64(self.fields.min_ns, first.timestamp_ns);
        document.add_i64(self.fields.max_ns, last.timestamp_ns);
        document.add_text(self.fields.tokens, token_text);
        if let Some(field) = self.fields.grams {
            document.add_text(field, grams.to_text());
        }
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
            let clause = match requirement {
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
                TokenRequirement::EndsWith(piece)
                | TokenRequirement::StartsWith(piece)
                | TokenRequirement::Contains(piece)
                    if self.fields.grams.is_some() =>
                {
                    let Some(grams_field) = self.fields.grams else {
                        continue;
                    };
                    let grams = grams_of_piece(piece);
                    if grams.is_empty() {
                        // Too short to prune cheaply; the other pieces and the exact
                        // filter still apply.
                        continue;
                    }
                    let all_grams: Vec<(Occur, Box<dyn Query>)> = grams
                        .iter()
                        .map(|gram| {
                            (
                                Occur::Must,
                                Box::new(TermQuery::new(
                                    Term::from_field_text(grams_field, gram),
                                    IndexRecordOption::Basic,
                                )) as Box<dyn Query>,
                            )
                        })
                        .collect();
                    self.piece_or_long_token(Box::new(BooleanQuery::new(all_grams)))
                }
                TokenRequirement::EndsWith(piece) => {
                    self.piece_or_long_token(self.regex(&format!(".*{piece}"))?)
                }
                TokenRequirement::StartsWith(piece) => {
                    self.piece_or_long_token(self.regex(&format!("{piece}.*"))?)
                }
                TokenRequirement::Contains(piece) => {
                    self.piece_or_long_token(self.regex(&format!(".*{piece}.*"))?)
                }
            };
            clauses.push((Occur::Must, clause));
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

    /// Tokens matching a pattern, by a scan of the term dictionary (partitions without
    /// trigrams). Tokens are alphanumeric, so they need no escaping inside a pattern.
    fn regex(&self, pattern: &str) -> Result<Box<dyn Query>, LogStoreError> {
        RegexQuery::from_pattern(pattern, self.fields.tokens)
            .map(|query| Box::new(query) as Box<dyn Query>)
            .map_err(|err| self.index_error(err))
    }

    /// `piece` or the marker of a token too long to be indexed, which may hold the piece.
    fn piece_or_long_token(&self, piece: Box<dyn Query>) -> Box<dyn Query> {
        let long = TermQuery::new(
            Term::from_field_text(self.fields.tokens, LONG_TOKEN_MARKER),
            IndexRecordOption::Basic,
        );
        Box::new(BooleanQuery::new(vec![
            (Occur::Should, piece),
            (Occur::Should, Box::new(long)),
        ]))
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
