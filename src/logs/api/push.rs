//! `POST /loki/api/v1/push` (and the legacy `/api/prom/push`): 204 once every accepted
//! entry is durable; 400 listing refused streams/entries (the others are stored anyway,
//! as Loki does); 413/415 for bodies we cannot take.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{now_ns, store, tenant, LogsState};
use crate::logs::push::{decode_push, validate, PushErrorKind};
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
        let validated = validate(streams, &limits, now_ns());
        let summary = validated.rejection_summary();
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
        Ok::<_, (StatusCode, String)>(summary)
    })
    .await;
    match outcome {
        Ok(Ok(None)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Ok(Some(summary))) => (StatusCode::BAD_REQUEST, summary).into_response(),
        Ok(Err((status, message))) => (status, message).into_response(),
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("push task failed: {err}"),
        )
            .into_response(),
    }
}
