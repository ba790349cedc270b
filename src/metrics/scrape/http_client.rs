//! The HTTP client of a scrape pool, from its prometheus.yml client settings: basic and
//! bearer auth (inline or from files), TLS (see `tls.rs`), proxy and redirects.

use std::path::Path;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};

use crate::config::scrape::HttpClientConfig;

fn read_secret_file(base_dir: &Path, file: &str) -> Result<String, String> {
    let path = if Path::new(file).is_absolute() {
        Path::new(file).to_path_buf()
    } else {
        base_dir.join(file)
    };
    std::fs::read_to_string(&path)
        .map(|text| text.trim().to_string())
        .map_err(|err| format!("cannot read {}: {err}", path.display()))
}

/// The `Authorization` header value, if the config asks for one. Files are read on every
/// call so rotated credentials are picked up.
pub fn authorization_header(
    config: &HttpClientConfig,
    base_dir: &Path,
) -> Result<Option<String>, String> {
    if let Some(basic) = &config.basic_auth {
        let username = match &basic.username_file {
            Some(file) => read_secret_file(base_dir, file)?,
            None => basic.username.clone(),
        };
        let password = match (&basic.password, &basic.password_file) {
            (_, Some(file)) => read_secret_file(base_dir, file)?,
            (Some(password), None) => password.expose().to_string(),
            (None, None) => String::new(),
        };
        use base64::Engine;
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        return Ok(Some(format!("Basic {encoded}")));
    }
    if let Some(authorization) = config.effective_authorization() {
        let credentials = match (&authorization.credentials, &authorization.credentials_file) {
            (_, Some(file)) => read_secret_file(base_dir, file)?,
            (Some(credentials), None) => credentials.expose().to_string(),
            (None, None) => return Ok(None),
        };
        return Ok(Some(format!("{} {credentials}", authorization.scheme())));
    }
    Ok(None)
}

/// Builds the pool's client. `timeout` bounds each whole request; `compression` asks
/// targets for gzip (`enable_compression`).
pub fn build_client(
    config: &HttpClientConfig,
    base_dir: &Path,
    timeout: Duration,
    compression: bool,
) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("Sightline/", env!("CARGO_PKG_VERSION")))
        .gzip(compression)
        .redirect(if config.follow_redirects {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        });
    builder =
        builder.use_preconfigured_tls(super::tls::client_config(&config.tls_config, base_dir)?);
    if let Some(proxy_url) = &config.proxy_url {
        builder = builder.proxy(
            reqwest::Proxy::all(proxy_url)
                .map_err(|err| format!("proxy_url {proxy_url}: {err}"))?,
        );
    } else {
        builder = builder.no_proxy();
    }
    let mut headers = HeaderMap::new();
    if let Some(value) = authorization_header(config, base_dir)? {
        let mut value = HeaderValue::from_str(&value)
            .map_err(|_| "credentials contain characters not allowed in a header".to_string())?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    builder
        .default_headers(headers)
        .build()
        .map_err(|err| format!("cannot build http client: {err}"))
}
