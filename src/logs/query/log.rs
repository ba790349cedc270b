//! Log queries: stream selector → streams → entries (index-pruned by the pipeline's
//! substring filters) → pipeline → the newest (or oldest) `limit` entries, grouped by
//! their resulting label sets.

use std::collections::BTreeMap;

use super::{required_tokens, store_matchers, LogQueryError};
use crate::logs::logql::{LogExpr, Pipeline};
use crate::logs::store::LogStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}

/// One result stream: its labels (after the pipeline) and `(timestamp ns, line)` pairs in
/// the query's direction.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamResult {
    pub labels: Vec<(String, String)>,
    pub entries: Vec<(i64, String)>,
}

type Labels = Vec<(String, String)>;

/// An entry that passed the pipeline: time, stream (for a stable order), labels, line.
type Passed = (i64, usize, Labels, String);

/// Entries in `[start_ns, end_ns)`, at most `limit`, in `direction`.
pub fn run_log_query(
    store: &LogStore,
    tenant: &str,
    expr: &LogExpr,
    start_ns: i64,
    end_ns: i64,
    limit: usize,
    direction: Direction,
) -> Result<Vec<StreamResult>, LogQueryError> {
    let matchers = store_matchers(&expr.matchers)?;
    let pipeline =
        Pipeline::new(&expr.stages).map_err(|err| LogQueryError::BadQuery(err.to_string()))?;
    let streams = store.select_streams(tenant, &matchers, start_ns, end_ns);
    let ids: Vec<u64> = streams.iter().map(|info| info.id).collect();
    let read = store
        .read(
            &ids,
            start_ns,
            end_ns.saturating_sub(1),
            &required_tokens(&pipeline),
        )
        .map_err(|err| LogQueryError::Execution(err.to_string()))?;
    let mut passed: Vec<Passed> = Vec::new();
    for (stream, entries) in read {
        let Some(info) = streams.iter().find(|info| info.id == stream) else {
            continue;
        };
        for entry in entries {
            if let Some((line, labels)) = pipeline.process_at(
                entry.timestamp_ns,
                &info.labels,
                &entry.structured_metadata,
                &entry.line,
            ) {
                passed.push((entry.timestamp_ns, stream as usize, labels, line));
            }
        }
    }
    match direction {
        Direction::Forward => passed.sort_by_key(|entry| (entry.0, entry.1)),
        Direction::Backward => passed.sort_by_key(|entry| (std::cmp::Reverse(entry.0), entry.1)),
    }
    passed.truncate(limit);
    let mut grouped: BTreeMap<Labels, Vec<(i64, String)>> = BTreeMap::new();
    for (timestamp, _, labels, line) in passed {
        grouped.entry(labels).or_default().push((timestamp, line));
    }
    Ok(grouped
        .into_iter()
        .map(|(labels, entries)| StreamResult { labels, entries })
        .collect())
}
