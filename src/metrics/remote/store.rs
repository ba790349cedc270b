//! Hands a decoded request's accepted series to the TSDB appender in one batch.

use super::decode::{
    check_content_encoding, decode_protobuf, decode_protobuf_known, decompress_snappy,
    protocol_from_content_type, Protocol, RemoteWriteError,
};
use super::validate::DecodeLimits;
use super::DecodedWrite;
use crate::metrics::tsdb::{
    AppendHistogramSeries, AppendReport, AppendSeries, AppendSession, Tsdb, TsdbError,
};

/// What [`decode_and_store`] did: the decoded request (its rejections are to be reported)
/// and how storing it went.
pub type Stored = (DecodedWrite, Result<AppendReport, TsdbError>);

/// Decodes one remote-write request body (raw `Content-Type` / `Content-Encoding` header
/// values) and stores it; blocking until durable. In 1.0, series sent before are found by
/// the bytes of their labels and skip label decoding (see `tsdb::SeriesKey`).
pub fn decode_and_store(
    body: &[u8],
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    limits: &DecodeLimits,
    tsdb: &Tsdb,
) -> Result<Stored, RemoteWriteError> {
    let protocol = protocol_from_content_type(content_type)?;
    check_content_encoding(content_encoding)?;
    let body = decompress_snappy(body, limits.max_decompressed_bytes)?;
    // The append session starts as late as it can (the head cut waits for open ones), but
    // the key lookups of a 1.0 decode need it.
    let (decoded, session) = match protocol {
        Protocol::V1 => {
            let session = tsdb.append_session();
            let known = |keys: &[_]| session.known_series(keys);
            let decoded = decode_protobuf_known(protocol, body, limits, Some(&known))?;
            (decoded, session)
        }
        Protocol::V2 => {
            let decoded = decode_protobuf(protocol, body, limits)?;
            (decoded, tsdb.append_session())
        }
    };
    let stored = store(&decoded, &session);
    Ok((decoded, stored))
}

/// Stores every accepted series of `decoded`; blocking until durable. `session` must be
/// the one whose lookups the decoder used, if it used any.
pub fn store(
    decoded: &DecodedWrite,
    session: &AppendSession<'_>,
) -> Result<AppendReport, TsdbError> {
    // Every series' labels in one list (one allocation per request, not per series).
    let mut labels: Vec<(&str, &str)> = Vec::new();
    let mut ends = Vec::with_capacity(decoded.len());
    for series in decoded.series() {
        labels.extend(series.labels());
        ends.push(labels.len());
    }
    let batch: Vec<AppendSeries<'_>> = decoded
        .series()
        .zip(&ends)
        .scan(0, |start, (series, &end)| {
            let range = *start..end;
            *start = end;
            Some(AppendSeries {
                labels: &labels[range],
                samples: series.samples(),
                key: series.key(),
                known: series.known(),
            })
        })
        .collect();
    let mut report = session.append(&batch)?;
    if !decoded.histogram_series.is_empty() {
        let labels: Vec<Vec<(&str, &str)>> = decoded
            .histogram_series
            .iter()
            .map(|series| {
                series
                    .labels
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_str()))
                    .collect()
            })
            .collect();
        let batch: Vec<AppendHistogramSeries<'_>> = decoded
            .histogram_series
            .iter()
            .zip(&labels)
            .map(|(series, labels)| AppendHistogramSeries {
                labels,
                samples: &series.samples,
            })
            .collect();
        let histograms = session.append_histograms(&batch)?;
        report.histograms_stored += histograms.samples_stored;
        report.series_created += histograms.series_created;
        report.samples_rejected += histograms.samples_rejected;
        for error in histograms.errors {
            if report.errors.len() < crate::metrics::tsdb::MAX_REPORTED_ERRORS {
                report.errors.push(error);
            }
        }
    }
    Ok(report)
}
