//! `POST /loki/api/v1/push` (and the legacy `/api/prom/push`): 204 once every accepted
//! entry is durable; 400 listing refused streams/entries (the others are stored anyway,
//! as Loki does); 413/415 for bodies we cannot take; 429 over the tenant's ingestion rate
//! (nothing stored) or a stream's rate (that stream's entries refused, the rest stored).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{now_ns, store, tenant, LogsState};
use crate::logs::push::{decode_push, human_bytes, validate, PushErrorKind, PushedStream};
use crate::logs::store::LogEntry;

pub async fn push(
    State(state): State<Arc<LogsState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let store = match store(&state) {
        Ok(store) => store,
        Err(err) => return err.into_response(),
    };
    let header_text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header_text(header::CONTENT_TYPE);
    let content_encoding = header_text(header::CONTENT_ENCODING);
    let limits = state.push_limits;
    let tenant = tenant(&headers);
    let outcome = tokio::task::spawn_blocking(move || {
        let streams = decode_push(
            &body,
            content_type.as_deref(),
            content_encoding.as_deref(),
            &limits,
        )
        .map_err(|err| {
            let status = match err.kind() {
                PushErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                PushErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                PushErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            };
            (status, err.to_string())
        })?;
        let mut validated = validate(streams, &limits, now_ns());
        let mut summary = validated.rejection_summary();
        let rate_limited = apply_rate_limits(&state, &tenant, &mut validated.streams)?;
        if !rate_limited.is_empty() {
            let mut text = summary.take().unwrap_or_default();
            for message in rate_limited {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&message);
            }
            summary = Some(text);
        }
        let status = if summary.is_some() && rate_limited_any(&summary) {
            StatusCode::TOO_MANY_REQUESTS
        } else {
            StatusCode::BAD_REQUEST
        };
        let batch = validated
            .streams
            .into_iter()
            .map(|stream| {
                let entries = stream
                    .entries
                    .into_iter()
                    .map(|entry| LogEntry {
                        timestamp_ns: entry.timestamp_ns,
                        line: entry.line,
                        structured_metadata: entry.structured_metadata,
                    })
                    .collect();
                (stream.labels, entries)
            })
            .collect();
        store.append(&tenant, batch).map_err(|err| {
            tracing::error!(error = %err, "log append failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("log store cannot accept writes: {err}"),
            )
        })?;
        Ok::<_, (StatusCode, String)>(summary.map(|summary| (status, summary)))
    })
    .await;
    match outcome {
        Ok(Ok(None)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Ok(Some((status, summary)))) => (status, summary).into_response(),
        Ok(Err((status, message))) => (status, message).into_response(),
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("push task failed: {err}"),
        )
            .into_response(),
    }
}

const STREAM_RATE_PREFIX: &str = "Per stream rate limit exceeded";

fn rate_limited_any(summary: &Option<String>) -> bool {
    summary
        .as_deref()
        .is_some_and(|text| text.contains(STREAM_RATE_PREFIX))
}

fn stream_bytes(stream: &PushedStream) -> usize {
    stream
        .entries
        .iter()
        .map(|entry| {
            entry.line.len()
                + entry
                    .structured_metadata
                    .iter()
                    .map(|(name, value)| name.len() + value.len())
                    .sum::<usize>()
        })
        .sum()
}

/// Charges the push to its tenant's bucket (refusing it whole when over) and each stream
/// to its own (dropping streams over their rate). Returns a message per dropped stream.
fn apply_rate_limits(
    state: &LogsState,
    tenant: &str,
    streams: &mut Vec<PushedStream>,
) -> Result<Vec<String>, (StatusCode, String)> {
    let now = std::time::Instant::now();
    let total: usize = streams.iter().map(stream_bytes).sum();
    if total == 0 {
        return Ok(Vec::new());
    }
    let tenant_key = tenant.to_string();
    if !state.tenant_rate.try_take(&tenant_key, total, now) {
        let lines: usize = streams.iter().map(|stream| stream.entries.len()).sum();
        return Err((
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Ingestion rate limit exceeded for user {tenant} (limit: {} bytes/sec) while attempting to ingest '{lines}' lines totaling '{total}' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased",
                state.tenant_rate.rate().bytes_per_second as u64
            ),
        ));
    }
    let mut messages = Vec::new();
    let mut refused_bytes = 0;
    streams.retain(|stream| {
        let bytes = stream_bytes(stream);
        let key = (tenant_key.clone(), stream.labels.clone());
        if state.stream_rate.try_take(&key, bytes, now) {
            return true;
        }
        refused_bytes += bytes;
        messages.push(format!(
            "{STREAM_RATE_PREFIX} (limit: {}/sec) while attempting to ingest '{}' lines totaling '{bytes}' bytes for stream '{}', consider splitting a stream via additional labels or contact your Loki administrator to see if the limit can be increased",
            human_bytes(state.stream_rate.rate().bytes_per_second),
            stream.entries.len(),
            crate::logs::push::labels::render_labels_shown(&stream.labels, 1024),
        ));
        false
    });
    if refused_bytes > 0 {
        state.tenant_rate.give_back(&tenant_key, refused_bytes);
    }
    Ok(messages)
}
