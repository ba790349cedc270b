//! `POST /api/v1/write`: Prometheus remote write 1.0 and 2.0. 204 once every good series is
//! durable; 400 naming rejected series (the good ones are stored anyway, as Prometheus
//! does); 413/415 for bodies we cannot take; 429 with `Retry-After` over the concurrency
//! limit and 503 with `Retry-After` while starting or when the WAL refuses writes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::MetricsState;
use crate::metrics::remote::{decode_and_store, Protocol, RemoteWriteErrorKind};
use crate::metrics::tsdb::AppendReport;

pub async fn write(
    State(state): State<Arc<MetricsState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(tsdb) = state.tsdb.get().cloned() else {
        return retry_later(StatusCode::SERVICE_UNAVAILABLE, "storage is still opening");
    };
    let Ok(_permit) = state.write_permits.clone().try_acquire_owned() else {
        return retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            "too many concurrent writes (server.limits.max_concurrent_writes)",
        );
    };
    let header_text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header_text(header::CONTENT_TYPE);
    let content_encoding = header_text(header::CONTENT_ENCODING);
    let limits = state.write_limits;
    let outcome = tokio::task::spawn_blocking(move || {
        let (decoded, report) = decode_and_store(
            &body,
            content_type.as_deref(),
            content_encoding.as_deref(),
            &limits,
            &tsdb,
        )?;
        Ok::<_, crate::metrics::remote::RemoteWriteError>((
            decoded.protocol,
            decoded.rejection_summary(10),
            report,
        ))
    })
    .await;
    let (protocol, rejected, report) = match outcome {
        Err(join_error) => {
            tracing::error!(error = %join_error, "remote write task failed");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error storing samples\n",
            )
                .into_response();
        }
        Ok(Err(decode_error)) => {
            let status = match decode_error.kind() {
                RemoteWriteErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                RemoteWriteErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                RemoteWriteErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            };
            return (status, format!("{decode_error}\n")).into_response();
        }
        Ok(Ok(decoded)) => decoded,
    };
    let report = match report {
        Ok(report) => report,
        Err(storage_error) => {
            // The WAL refused the write (disk full, I/O error): nothing was acknowledged,
            // so the sender should retry later.
            tracing::error!(error = %storage_error, "remote write could not be stored");
            return retry_later(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("storage error: {storage_error}"),
            );
        }
    };
    respond(protocol, rejected, &report)
}

fn respond(protocol: Protocol, rejected: Option<String>, report: &AppendReport) -> Response {
    let mut problems: Vec<String> = rejected.into_iter().collect();
    problems.extend(report.errors.iter().cloned());
    let mut response = if problems.is_empty() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (
            StatusCode::BAD_REQUEST,
            format!("{}\n", problems.join("\n")),
        )
            .into_response()
    };
    if protocol == Protocol::V2 {
        let headers = response.headers_mut();
        headers.insert(
            "X-Prometheus-Remote-Write-Samples-Written",
            HeaderValue::from(report.samples_stored),
        );
        headers.insert(
            "X-Prometheus-Remote-Write-Histograms-Written",
            HeaderValue::from(report.histograms_stored),
        );
        headers.insert(
            "X-Prometheus-Remote-Write-Exemplars-Written",
            HeaderValue::from(0u64),
        );
    }
    response
}

fn retry_later(status: StatusCode, message: &str) -> Response {
    let mut response = (status, format!("{message}; retry later\n")).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}
