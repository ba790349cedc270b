//! Hand-written JSON for the query APIs, whose result bodies can be large: a string
//! literal, a label object, and the response carrying an already-rendered body.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

/// A JSON string literal.
pub fn string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_string())
}

/// Appends `{"name":"value",…}`.
pub fn write_labels(out: &mut String, labels: &[(String, String)]) {
    out.push('{');
    for (index, (name, value)) in labels.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(&string(name));
        out.push(':');
        out.push_str(&string(value));
    }
    out.push('}');
}

/// A 200 response with an already-rendered JSON body.
pub fn response(body: String) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
