//! `GET /federate`: the newest sample of every series matching `match[]`, in the text
//! exposition format, so a Prometheus can scrape Sightline as a federation source.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::params::{collect_params, params_named, parse_selectors};
use super::{tsdb, MetricsState};
use crate::api_error::{ApiError, ErrorKind};
use crate::metrics::promql::format_float;
use crate::metrics::tsdb::is_stale_nan;

pub async fn federate(
    State(state): State<Arc<MetricsState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = collect_params(query.as_deref(), &headers, &body);
    let outcome = async {
        let selectors = parse_selectors(&params_named(&params, "match[]"))?;
        let tsdb = tsdb(&state)?;
        let lookback = state.engine_options.lookback_delta_ms;
        let external = state.external_labels();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_millis() as i64)
            .unwrap_or(0);
        tokio::task::spawn_blocking(move || {
            // Newest non-stale sample per series, grouped by metric name.
            let mut latest: BTreeMap<Vec<(String, String)>, (i64, f64)> = BTreeMap::new();
            for matchers in &selectors {
                for series in tsdb.select(matchers, now - lookback + 1, now) {
                    // The text format cannot carry native histograms: a series whose
                    // newest sample is one is left out rather than shown stale.
                    let newest_histogram = series.histograms.last().map(|(t, _)| *t);
                    if let Some(&(t, v)) = series.samples.last() {
                        if !is_stale_nan(v) && newest_histogram.is_none_or(|h| h < t) {
                            latest.insert(series.labels, (t, v));
                        }
                    }
                }
            }
            render(&latest, &external)
        })
        .await
        .map_err(|err| ApiError::new(ErrorKind::Internal, format!("federate failed: {err}")))
    }
    .await;
    match outcome {
        Ok(text) => {
            let mut response = text.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        }
        Err(err) => err.into_response(),
    }
}

/// A series' labels and its newest `(timestamp, value)`.
type LatestSample<'a> = (&'a Vec<(String, String)>, (i64, f64));

fn render(
    latest: &BTreeMap<Vec<(String, String)>, (i64, f64)>,
    external: &[(String, String)],
) -> String {
    let mut by_name: BTreeMap<&str, Vec<LatestSample>> = BTreeMap::new();
    for (labels, &sample) in latest {
        let name = labels
            .iter()
            .find(|(label, _)| label == "__name__")
            .map(|(_, value)| value.as_str())
            .unwrap_or("");
        by_name.entry(name).or_default().push((labels, sample));
    }
    let mut out = String::new();
    for (name, series) in by_name {
        let _ = writeln!(out, "# TYPE {name} untyped");
        for (labels, (t, v)) in series {
            out.push_str(name);
            let mut all: Vec<(&str, &str)> = labels
                .iter()
                .filter(|(label, _)| label != "__name__")
                .map(|(label, value)| (label.as_str(), value.as_str()))
                .collect();
            // External labels are added unless the series has the label already.
            for (label, value) in external {
                if !all.iter().any(|(existing, _)| existing == label) {
                    all.push((label, value));
                }
            }
            all.sort();
            if !all.is_empty() {
                out.push('{');
                for (index, (label, value)) in all.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{label}=\"{}\"", escape_label_value(value));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {} {t}", format_float(v));
        }
    }
    out
}

fn escape_label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
