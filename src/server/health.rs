//! `/-/healthy` (the process answers) and `/-/ready` (storage has opened and replayed).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;

use super::state::AppState;

pub async fn healthy() -> &'static str {
    "Sightline is Healthy.\n"
}

pub async fn ready(State(state): State<Arc<AppState>>) -> (StatusCode, &'static str) {
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "Sightline is Ready.\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Sightline is not ready: storage is opening or replaying.\n",
        )
    }
}
