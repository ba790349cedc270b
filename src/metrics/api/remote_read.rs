//! `POST /api/v1/read`: remote read with a sampled, snappy-compressed protobuf response.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::{tsdb, MetricsState};
use crate::api_error::{ApiError, ErrorKind};
use crate::metrics::remote::execute_read;

pub async fn read(State(state): State<Arc<MetricsState>>, body: Bytes) -> Response {
    let tsdb = match tsdb(&state) {
        Ok(tsdb) => tsdb,
        Err(err) => return err.into_response(),
    };
    let max_decompressed = state.write_limits.max_decompressed_bytes;
    let max_samples = state.engine_options.max_samples;
    let outcome = tokio::task::spawn_blocking(move || {
        execute_read(&body, &tsdb, max_decompressed, max_samples)
    })
    .await;
    match outcome {
        Ok(Ok(bytes)) => {
            let mut response = bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-protobuf"),
            );
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("snappy"));
            response
        }
        Ok(Err(err)) => ApiError::bad_data(err.to_string()).into_response(),
        Err(err) => {
            ApiError::new(ErrorKind::Internal, format!("remote read failed: {err}")).into_response()
        }
    }
}
