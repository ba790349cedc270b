//! Basic and bearer authentication from `server.auth`. Health endpoints stay open so
//! orchestrators can probe without credentials.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use crate::config::server::AuthConfig;

use super::state::AppState;

const OPEN_PATHS: [&str; 2] = ["/-/healthy", "/-/ready"];

pub async fn require_auth(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let config = state.config();
    let auth = &config.server.auth;
    if !auth.is_enabled() || OPEN_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    if presented.is_some_and(|value| is_authorized(auth, value)) {
        return next.run(request).await;
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        "unauthorized: valid basic or bearer credentials required\n",
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"sightline\""),
    );
    response
}

fn is_authorized(auth: &AuthConfig, authorization: &str) -> bool {
    if let Some(token) = authorization.strip_prefix("Bearer ") {
        return auth.bearer_tokens.iter().any(|expected| {
            constant_time_eq(expected.expose().as_bytes(), token.trim().as_bytes())
        });
    }
    let Some(encoded) = authorization.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return false;
    };
    let Some((user, password)) = decoded.split_once(':') else {
        return false;
    };
    auth.basic_auth_users
        .get(user)
        .is_some_and(|expected| constant_time_eq(expected.expose().as_bytes(), password.as_bytes()))
}

/// Compares without an early exit, so timing does not reveal how much of a secret matched.
fn constant_time_eq(expected: &[u8], given: &[u8]) -> bool {
    let mut difference = expected.len() ^ given.len();
    for (index, byte) in given.iter().enumerate() {
        let expected_byte = expected
            .get(index % expected.len().max(1))
            .copied()
            .unwrap_or(0);
        difference |= usize::from(expected_byte ^ byte);
    }
    difference == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::secret::Secret;

    fn auth() -> AuthConfig {
        AuthConfig {
            basic_auth_users: [("admin".to_string(), Secret::new("pa:ss"))]
                .into_iter()
                .collect(),
            bearer_tokens: vec![Secret::new("tok123")],
            allow_anonymous: false,
        }
    }

    #[test]
    fn accepts_right_credentials_only() {
        let auth = auth();
        let basic = base64::engine::general_purpose::STANDARD.encode("admin:pa:ss");
        assert!(is_authorized(&auth, &format!("Basic {basic}")));
        assert!(is_authorized(&auth, "Bearer tok123"));
        let wrong = base64::engine::general_purpose::STANDARD.encode("admin:pass");
        assert!(!is_authorized(&auth, &format!("Basic {wrong}")));
        assert!(!is_authorized(&auth, "Bearer tok12"));
        assert!(!is_authorized(&auth, "Bearer tok1234"));
        assert!(!is_authorized(&auth, "Basic !!!"));
        assert!(!is_authorized(&auth, "tok123"));
    }
}
