//! Serves the browser UI built from `web/` and embedded at compile time: hashed assets
//! with long-lived cache headers, and `index.html` for every client-side route.

use axum::body::Body;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::RustEmbed)]
#[folder = "web/dist"]
struct Assets;

/// Paths that belong to APIs: an unknown one is a 404, never the UI page.
const API_PREFIXES: [&str; 6] = ["/api/", "/-/", "/loki/", "/metrics", "/federate", "/ready"];

pub async fn serve(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if API_PREFIXES.iter().any(|prefix| path.starts_with(prefix)) {
        let body = serde_json::json!({
            "status": "error",
            "errorType": "not_found",
            "error": format!("no API endpoint at {path}"),
        });
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n").into_response();
    }
    let relative = path.trim_start_matches('/');
    if let Some(asset) = Assets::get(relative).filter(|_| !relative.is_empty()) {
        // Vite puts content hashes in every file name under assets/.
        let cache = if relative.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return file_response(asset, cache);
    }
    // A missing file with an extension is a broken link, not a client route.
    let last_segment = relative.rsplit('/').next().unwrap_or("");
    if last_segment.contains('.') {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    match Assets::get("index.html") {
        Some(index) => file_response(index, "no-cache"),
        None => (
            StatusCode::NOT_FOUND,
            "the web UI was not built into this binary\n",
        )
            .into_response(),
    }
}

fn file_response(file: rust_embed::EmbeddedFile, cache_control: &'static str) -> Response {
    let mime = file.metadata.mimetype().to_string();
    Response::builder()
        .header(header::CONTENT_TYPE, mime)
        .header(header::CACHE_CONTROL, cache_control)
        .body(Body::from(file.data.into_owned()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
