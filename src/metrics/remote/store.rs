//! Hands a decoded request's accepted series to the TSDB appender in one batch.

use super::DecodedWrite;
use crate::metrics::tsdb::{
    AppendHistogramSeries, AppendReport, AppendSeries, AppendSession, TsdbError,
};

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
