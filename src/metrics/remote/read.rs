//! Remote read 1.0 (`prometheus.ReadRequest` → sampled `prometheus.ReadResponse`), so a
//! Prometheus configured with `remote_read` can query Sightline. Streamed XOR chunks are
//! not offered; Prometheus's client reads the sampled response.

use prost::Message;

use super::decode::decompress_snappy;
use super::encode::snappy_compress;
use super::proto_v1::{Label, Sample, TimeSeries};
use crate::metrics::tsdb::index::{MatchOp, Matcher};
use crate::metrics::tsdb::Tsdb;

/// `prometheus.ReadRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadRequest {
    #[prost(message, repeated, tag = "1")]
    pub queries: Vec<Query>,
    #[prost(int32, repeated, tag = "2")]
    pub accepted_response_types: Vec<i32>,
}

/// `prometheus.Query`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Query {
    #[prost(int64, tag = "1")]
    pub start_timestamp_ms: i64,
    #[prost(int64, tag = "2")]
    pub end_timestamp_ms: i64,
    #[prost(message, repeated, tag = "3")]
    pub matchers: Vec<LabelMatcher>,
}

/// `prometheus.LabelMatcher`; `type`: 0 `=`, 1 `!=`, 2 `=~`, 3 `!~`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelMatcher {
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(string, tag = "3")]
    pub value: String,
}

/// `prometheus.ReadResponse`: one result per query, in order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadResponse {
    #[prost(message, repeated, tag = "1")]
    pub results: Vec<QueryResult>,
}

/// `prometheus.QueryResult`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryResult {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// Why a read request was refused; every variant is the client's fault (HTTP 400).
#[derive(Debug, thiserror::Error)]
pub enum RemoteReadError {
    #[error("remote read body: {0}")]
    Body(String),
    #[error("remote read query {index}: {reason}")]
    Matcher { index: usize, reason: String },
    #[error("remote read: the query selects more than {limit} samples (query.max_samples)")]
    TooManySamples { limit: usize },
}

/// Decodes a snappy-compressed `ReadRequest`, runs its queries and returns the
/// snappy-compressed `ReadResponse`.
pub fn execute_read(
    body: &[u8],
    tsdb: &Tsdb,
    max_decompressed_bytes: usize,
    max_samples: usize,
) -> Result<Vec<u8>, RemoteReadError> {
    let raw = decompress_snappy(body, max_decompressed_bytes)
        .map_err(|err| RemoteReadError::Body(err.to_string()))?;
    let request = ReadRequest::decode(raw.as_slice())
        .map_err(|err| RemoteReadError::Body(err.to_string()))?;
    let mut response = ReadResponse::default();
    let mut samples_total = 0usize;
    for (index, query) in request.queries.iter().enumerate() {
        let matchers = query
            .matchers
            .iter()
            .map(|m| {
                let op = match m.r#type {
                    0 => MatchOp::Equal,
                    1 => MatchOp::NotEqual,
                    2 => MatchOp::RegexMatch,
                    3 => MatchOp::RegexNoMatch,
                    other => {
                        return Err(RemoteReadError::Matcher {
                            index,
                            reason: format!("unknown matcher type {other}"),
                        })
                    }
                };
                Matcher::new(op, &m.name, &m.value).map_err(|err| RemoteReadError::Matcher {
                    index,
                    reason: err.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut result = QueryResult::default();
        for series in tsdb.select(&matchers, query.start_timestamp_ms, query.end_timestamp_ms) {
            samples_total += series.samples.len() + series.histograms.len();
            if samples_total > max_samples {
                return Err(RemoteReadError::TooManySamples { limit: max_samples });
            }
            result.timeseries.push(TimeSeries {
                labels: series
                    .labels
                    .into_iter()
                    .map(|(name, value)| Label { name, value })
                    .collect(),
                samples: series
                    .samples
                    .into_iter()
                    .map(|(timestamp, value)| Sample { value, timestamp })
                    .collect(),
                histograms: series
                    .histograms
                    .iter()
                    .map(|(timestamp, h)| super::histogram::encode_histogram_v1(*timestamp, h))
                    .collect(),
                ..TimeSeries::default()
            });
        }
        response.results.push(result);
    }
    Ok(snappy_compress(&response.encode_to_vec()))
}
