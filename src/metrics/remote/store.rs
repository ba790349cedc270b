//! Hands a decoded request's accepted series to the TSDB appender in one batch.

use super::DecodedWrite;
use crate::metrics::tsdb::{AppendReport, AppendSeries, Tsdb, TsdbError};

/// Stores every accepted series of `decoded`; blocking until durable.
pub fn store(decoded: &DecodedWrite, tsdb: &Tsdb) -> Result<AppendReport, TsdbError> {
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
            })
        })
        .collect();
    tsdb.append(&batch)
}
