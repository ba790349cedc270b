//! Encoders for remote-write requests (protobuf, then snappy block), for tests and the load
//! generator. Labels are written as given, unsorted or duplicated if so, so that tests can
//! send what a careless sender would.

use std::collections::HashMap;

use prost::Message;

use super::{proto_v1, proto_v2};

/// A series to encode: `(labels as (name, value), samples as (timestamp ms, value))`.
pub type SeriesToEncode = (Vec<(String, String)>, Vec<(i64, f64)>);

/// A snappy-compressed `prometheus.WriteRequest` holding `series`.
pub fn encode_write_request_v1(series: &[SeriesToEncode]) -> Vec<u8> {
    let request = proto_v1::WriteRequest {
        timeseries: series
            .iter()
            .map(|(labels, samples)| proto_v1::TimeSeries {
                labels: labels
                    .iter()
                    .map(|(name, value)| proto_v1::Label {
                        name: name.clone(),
                        value: value.clone(),
                    })
                    .collect(),
                samples: samples
                    .iter()
                    .map(|&(timestamp, value)| proto_v1::Sample { value, timestamp })
                    .collect(),
                exemplars: Vec::new(),
                histograms: Vec::new(),
            })
            .collect(),
        metadata: Vec::new(),
    };
    snappy_compress(&request.encode_to_vec())
}

/// A snappy-compressed `io.prometheus.write.v2.Request` holding `series`, with a symbol
/// table that starts with `""` and holds each distinct string once.
pub fn encode_write_request_v2(series: &[SeriesToEncode]) -> Vec<u8> {
    let mut symbols: Vec<String> = vec![String::new()];
    let mut positions: HashMap<&str, u32> = HashMap::from([("", 0)]);
    let mut timeseries = Vec::with_capacity(series.len());
    for (labels, samples) in series {
        let mut labels_refs = Vec::with_capacity(labels.len() * 2);
        for text in labels.iter().flat_map(|(name, value)| [name, value]) {
            let position = *positions.entry(text.as_str()).or_insert_with(|| {
                symbols.push(text.clone());
                (symbols.len() - 1) as u32
            });
            labels_refs.push(position);
        }
        timeseries.push(proto_v2::TimeSeries {
            labels_refs,
            samples: samples
                .iter()
                .map(|&(timestamp, value)| proto_v2::Sample {
                    value,
                    timestamp,
                    start_timestamp: 0,
                })
                .collect(),
            ..proto_v2::TimeSeries::default()
        });
    }
    let request = proto_v2::Request {
        symbols,
        timeseries,
    };
    snappy_compress(&request.encode_to_vec())
}

/// Snappy block compression.
///
/// # Panics
/// If `bytes` is over snappy's block limit (4 GiB), far beyond any remote-write body.
pub fn snappy_compress(bytes: &[u8]) -> Vec<u8> {
    match snap::raw::Encoder::new().compress_vec(bytes) {
        Ok(compressed) => compressed,
        Err(error) => panic!("snappy cannot compress {} bytes: {error}", bytes.len()),
    }
}
