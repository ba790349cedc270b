//! Turns log entries into samples for range aggregations: 1 per line (`count_over_time`,
//! `rate`), the line's bytes (`bytes_*`), or an `unwrap`ped label value with its conversion.

use super::ast::{Grouping, LogRange, RangeOp, Unwrap, UnwrapConversion};
use super::error::pipeline_errors::SAMPLE_EXTRACTION;
use super::error::LogqlError;
use super::labels::LabelsBuilder;
use super::pipeline::{CompiledLabelFilter, Pipeline};
use super::units::{parse_bytes, parse_go_duration, parse_go_float};

/// Converts an unwrapped label value as Loki does: plain floats, `duration(...)` /
/// `duration_seconds(...)` to seconds, `bytes(...)` to bytes. Errors are worded like Go's.
pub fn convert_unwrap_value(value: &str, conversion: UnwrapConversion) -> Result<f64, String> {
    match conversion {
        UnwrapConversion::Float => parse_go_float(value),
        UnwrapConversion::Duration | UnwrapConversion::DurationSeconds => {
            parse_go_duration(value).map(|ns| ns as f64 / 1e9)
        }
        UnwrapConversion::Bytes => parse_bytes(value).map(|b| b as f64),
    }
}

/// What `unwrap` makes of an entry's labels.
#[derive(Debug, Clone, PartialEq)]
pub enum UnwrapOutcome {
    /// The converted value.
    Value(f64),
    /// The label is missing or empty: Loki skips the entry (no sample, no error).
    Skip,
    /// Conversion failed: the sample is kept with value 0 and
    /// `__error__="SampleExtractionErr"`, `__error_details__=<details>`.
    Error { details: String },
}

/// Reads the unwrapped label from an entry's labels (as returned by
/// [`Pipeline::process`]) and converts it.
pub fn extract_unwrap_value(labels: &[(String, String)], unwrap: &Unwrap) -> UnwrapOutcome {
    let value = labels
        .iter()
        .find(|(n, _)| *n == unwrap.label)
        .map_or("", |(_, v)| v.as_str());
    if value.is_empty() {
        return UnwrapOutcome::Skip;
    }
    match convert_unwrap_value(value, unwrap.conversion) {
        Ok(v) => UnwrapOutcome::Value(v),
        Err(details) => UnwrapOutcome::Error { details },
    }
}

#[derive(Debug, Clone)]
enum Source {
    Count,
    Bytes,
    Unwrap {
        label: String,
        conversion: UnwrapConversion,
        post_filters: Vec<CompiledLabelFilter>,
        keep_label: bool,
    },
}

/// Extracts one sample per entry for a range aggregation over a [`LogRange`].
#[derive(Debug, Clone)]
pub struct SampleExtractor {
    pipeline: Pipeline,
    source: Source,
}

impl SampleExtractor {
    /// `grouping` is the range aggregation's own `by`/`without`: with `by (.., x)` naming
    /// the unwrapped label `x` it is kept in the sample labels, otherwise it is removed
    /// (every value would otherwise be its own series).
    pub fn new(
        op: RangeOp,
        range: &LogRange,
        grouping: Option<&Grouping>,
    ) -> Result<SampleExtractor, LogqlError> {
        let pipeline = Pipeline::new(&range.log.stages)?;
        let source = match &range.unwrap {
            Some(u) => Source::Unwrap {
                label: u.label.clone(),
                conversion: u.conversion,
                post_filters: u
                    .post_filters
                    .iter()
                    .map(CompiledLabelFilter::new)
                    .collect::<Result<_, _>>()?,
                keep_label: grouping.is_some_and(|g| !g.without && g.labels.contains(&u.label)),
            },
            None if matches!(op, RangeOp::BytesOverTime | RangeOp::BytesRate) => Source::Bytes,
            None => Source::Count,
        };
        Ok(SampleExtractor { pipeline, source })
    }

    /// The pipeline the entries run through first.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The sample value and labels for one entry, or `None` if the entry yields no sample.
    /// Labels carrying `__error__` mean the metric query must fail (see
    /// [`super::error::pipeline_error_message`]) unless a filter removed the error.
    pub fn process(
        &self,
        timestamp: i64,
        stream_labels: &[(String, String)],
        structured_metadata: &[(String, String)],
        line: &str,
    ) -> Option<(f64, Vec<(String, String)>)> {
        let mut lbs = LabelsBuilder::new(stream_labels, structured_metadata);
        let line = self.pipeline.run(timestamp, line, &mut lbs)?;
        match &self.source {
            Source::Count => Some((1.0, lbs.into_labels())),
            Source::Bytes => Some((line.len() as f64, lbs.into_labels())),
            Source::Unwrap {
                label,
                conversion,
                post_filters,
                keep_label,
            } => {
                let raw = lbs.get(label).unwrap_or("");
                if raw.is_empty() {
                    return None;
                }
                let value = match convert_unwrap_value(raw, *conversion) {
                    Ok(v) => v,
                    Err(details) => {
                        lbs.set_error(SAMPLE_EXTRACTION, Some(&details));
                        0.0
                    }
                };
                for f in post_filters {
                    if !f.eval(&mut lbs) {
                        return None;
                    }
                }
                if !keep_label {
                    lbs.del(label);
                }
                Some((value, lbs.into_labels()))
            }
        }
    }
}
