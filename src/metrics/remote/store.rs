//! Hands a decoded request's accepted series to the TSDB appender in one batch.

use super::DecodedWrite;
use crate::metrics::tsdb::{AppendReport, AppendSeries, Tsdb, TsdbError};

/// Stores every accepted series of `decoded`; blocking until durable.
pub fn store(decoded: &DecodedWrite, tsdb: &Tsdb) -> Result<AppendReport, TsdbError> {
    let label_sets: Vec<Vec<(&str, &str)>> = decoded
        .series()
        .map(|series| series.labels().collect())
        .collect();
    let batch: Vec<AppendSeries<'_>> = decoded
        .series()
        .zip(&label_sets)
        .map(|(series, labels)| AppendSeries {
            labels,
            samples: series.samples(),
        })
        .collect();
    tsdb.append(&batch)
}
