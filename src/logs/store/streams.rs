//! The stream index: label set → stream id per tenant, with each stream's time span, kept
//! in memory and made durable in its own small write-ahead log (`streams/`), which is
//! never truncated. Label APIs answer from here without touching log lines.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, RwLock};

use crate::metrics::tsdb::index::Matcher;
use crate::metrics::tsdb::wal::record::{put_uvarint, put_varint, VarintReader};
use crate::metrics::tsdb::wal::{SyncMode, Wal, WalOptions};

use super::error::LogStoreError;

pub type StreamId = u64;
pub type Labels = Vec<(String, String)>;

#[derive(Debug, Clone)]
pub struct StreamInfo {
    pub id: StreamId,
    pub tenant: String,
    pub labels: Arc<Labels>,
    /// Oldest and newest entry time seen (nanoseconds).
    pub min_ns: i64,
    pub max_ns: i64,
}

#[derive(Default)]
struct Table {
    by_labels: HashMap<(String, Labels), StreamId>,
    streams: Vec<StreamInfo>,
}

pub struct StreamIndex {
    wal: Wal,
    table: RwLock<Table>,
}

impl StreamIndex {
    /// Opens `dir`, replaying every stream definition.
    pub fn open(dir: &Path, fsync: bool) -> Result<StreamIndex, LogStoreError> {
        let options = WalOptions {
            sync_mode: if fsync {
                SyncMode::Always
            } else {
                SyncMode::Never
            },
            ..WalOptions::default()
        };
        let (wal, replay) = Wal::open(dir, options)?;
        let mut table = Table::default();
        for payload in replay {
            let payload = payload?;
            match decode_stream(&payload) {
                Ok(info) => {
                    if info.id as usize != table.streams.len() {
                        tracing::warn!(id = info.id, "log stream record out of sequence skipped");
                        continue;
                    }
                    table
                        .by_labels
                        .insert((info.tenant.clone(), info.labels.as_ref().clone()), info.id);
                    table.streams.push(info);
                }
                Err(reason) => tracing::warn!(%reason, "undecodable log stream record skipped"),
            }
        }
        Ok(StreamIndex {
            wal,
            table: RwLock::new(table),
        })
    }

    fn table(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        self.table
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn len(&self) -> usize {
        self.table().streams.len()
    }

    /// The stream of `labels`, created (durably) if new.
    pub fn get_or_create(
        &self,
        tenant: &str,
        labels: &Labels,
        first_ns: i64,
    ) -> Result<StreamId, LogStoreError> {
        if let Some(&id) = self
            .table()
            .by_labels
            .get(&(tenant.to_string(), labels.clone()))
        {
            return Ok(id);
        }
        let mut table = self
            .table
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = (tenant.to_string(), labels.clone());
        if let Some(&id) = table.by_labels.get(&key) {
            return Ok(id);
        }
        let info = StreamInfo {
            id: table.streams.len() as StreamId,
            tenant: tenant.to_string(),
            labels: Arc::new(labels.clone()),
            min_ns: first_ns,
            max_ns: first_ns,
        };
        // Durable before anyone can write entries that name it.
        self.wal.append(&encode_stream(&info))?;
        table.by_labels.insert(key, info.id);
        table.streams.push(info.clone());
        Ok(info.id)
    }

    /// Widens a stream's known time span.
    pub fn observe(&self, id: StreamId, min_ns: i64, max_ns: i64) {
        let mut table = self
            .table
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(info) = table.streams.get_mut(id as usize) {
            info.min_ns = info.min_ns.min(min_ns);
            info.max_ns = info.max_ns.max(max_ns);
        }
    }

    pub fn info(&self, id: StreamId) -> Option<StreamInfo> {
        self.table().streams.get(id as usize).cloned()
    }

    /// Streams of `tenant` matching every matcher and overlapping `[start_ns, end_ns]`.
    pub fn select(
        &self,
        tenant: &str,
        matchers: &[Matcher],
        start_ns: i64,
        end_ns: i64,
    ) -> Vec<StreamInfo> {
        self.table()
            .streams
            .iter()
            .filter(|info| {
                info.tenant == tenant
                    && info.min_ns <= end_ns
                    && info.max_ns >= start_ns
                    && matchers.iter().all(|matcher| {
                        let value = info
                            .labels
                            .iter()
                            .find(|(name, _)| name == matcher.name())
                            .map(|(_, value)| value.as_str())
                            .unwrap_or("");
                        matcher.matches(value)
                    })
            })
            .cloned()
            .collect()
    }

    /// Sorted label names of the matching streams.
    pub fn label_names(
        &self,
        tenant: &str,
        matchers: &[Matcher],
        start_ns: i64,
        end_ns: i64,
    ) -> Vec<String> {
        let names: BTreeSet<String> = self
            .select(tenant, matchers, start_ns, end_ns)
            .iter()
            .flat_map(|info| {
                info.labels
                    .iter()
                    .map(|(name, _)| name.clone())
                    .collect::<Vec<_>>()
            })
            .collect();
        names.into_iter().collect()
    }

    /// Sorted values of label `name` over the matching streams.
    pub fn label_values(
        &self,
        tenant: &str,
        name: &str,
        matchers: &[Matcher],
        start_ns: i64,
        end_ns: i64,
    ) -> Vec<String> {
        let values: BTreeSet<String> = self
            .select(tenant, matchers, start_ns, end_ns)
            .iter()
            .filter_map(|info| {
                info.labels
                    .iter()
                    .find(|(label, _)| label == name)
                    .map(|(_, value)| value.clone())
            })
            .collect();
        values.into_iter().collect()
    }
}

fn encode_stream(info: &StreamInfo) -> Vec<u8> {
    let mut out = Vec::new();
    put_uvarint(&mut out, info.id);
    put_varint(&mut out, info.min_ns);
    put_str(&mut out, &info.tenant);
    put_uvarint(&mut out, info.labels.len() as u64);
    for (name, value) in info.labels.iter() {
        put_str(&mut out, name);
        put_str(&mut out, value);
    }
    out
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_uvarint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn decode_stream(payload: &[u8]) -> Result<StreamInfo, String> {
    let mut reader = VarintReader::new(payload);
    let id = reader.uvarint().map_err(|err| err.to_string())?;
    let min_ns = reader.varint().map_err(|err| err.to_string())?;
    let tenant = get_str(&mut reader)?;
    let count = reader.uvarint().map_err(|err| err.to_string())? as usize;
    let mut labels = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let name = get_str(&mut reader)?;
        let value = get_str(&mut reader)?;
        labels.push((name, value));
    }
    Ok(StreamInfo {
        id,
        tenant,
        labels: Arc::new(labels),
        min_ns,
        max_ns: min_ns,
    })
}

fn get_str(reader: &mut VarintReader<'_>) -> Result<String, String> {
    let len = reader.uvarint().map_err(|err| err.to_string())? as usize;
    let bytes = reader.bytes(len).map_err(|err| err.to_string())?;
    String::from_utf8(bytes.to_vec()).map_err(|_| "label is not UTF-8".to_string())
}
