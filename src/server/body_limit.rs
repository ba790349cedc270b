//! Rejects request bodies over `server.limits.max_body_size` with a 413 that says so.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::state::AppState;
use crate::api_error::{ApiError, ErrorKind};

pub async fn limit_body(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let limit = state.config().server.limits.max_body_size.bytes();
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if let Some(length) = declared.filter(|length| *length > limit) {
        return too_large(length, limit);
    }
    // Bodies without a declared length are cut off while streaming; extractors then
    // answer 413 themselves.
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    let request = request.map(|body| Body::new(http_body_util::Limited::new(body, limit_usize)));
    next.run(request).await
}

fn too_large(length: u64, limit: u64) -> Response {
    ApiError::new(
        ErrorKind::TooLarge,
        format!("request body of {length} bytes exceeds the limit of {limit} bytes (server.limits.max_body_size)"),
    )
    .into_response()
}
