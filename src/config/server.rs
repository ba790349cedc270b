//! The `server:` section: where we listen, who may talk to us, and request limits.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::bytesize::ByteSize;
use super::duration::PromDuration;
use super::problems::Problems;
use super::secret::Secret;

/// Chosen to collide with none of Prometheus (9090), Loki (3100), Grafana (3000),
/// Alertmanager (9093), node_exporter (9100) or VictoriaMetrics (8428).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9470";

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// `host:port` to bind; `:0` picks a free port (the chosen one is logged).
    pub listen: String,
    /// The URL people use to reach us, for links in notifications.
    pub external_url: Option<String>,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    /// How long a SIGTERM waits for in-flight requests and flushes before exiting anyway.
    pub shutdown_timeout: PromDuration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: DEFAULT_LISTEN.to_string(),
            external_url: None,
            auth: AuthConfig::default(),
            limits: LimitsConfig::default(),
            shutdown_timeout: PromDuration::from_secs(10),
        }
    }
}

/// Authentication for every endpoint except `/-/healthy` and `/-/ready`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// username → password for HTTP basic auth.
    pub basic_auth_users: BTreeMap<String, Secret>,
    /// Accepted `Authorization: Bearer <token>` values.
    pub bearer_tokens: Vec<Secret>,
    /// Serve without authentication on a non-loopback address (off by default: without
    /// credentials we only listen on loopback).
    pub allow_anonymous: bool,
}

impl AuthConfig {
    pub fn is_enabled(&self) -> bool {
        !self.basic_auth_users.is_empty() || !self.bearer_tokens.is_empty()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest accepted request body (after transfer decoding, before content decoding).
    pub max_body_size: ByteSize,
    /// Largest body after decompression (snappy remote write, gzip pushes).
    pub max_decompressed_body_size: ByteSize,
    /// Write requests (remote write, pushes) decoded and stored at once; more are answered
    /// 429 with `Retry-After`, so senders back off and retry instead of piling up memory.
    pub max_concurrent_writes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_body_size: ByteSize::mib(32),
            max_decompressed_body_size: ByteSize::mib(128),
            max_concurrent_writes: 32,
        }
    }
}

impl ServerConfig {
    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        self.listen
            .parse()
            .map_err(|err| format!("not a valid host:port address {:?}: {err}", self.listen))
    }

    pub fn validate(&self, problems: &mut Problems) {
        match self.listen_addr() {
            Err(message) => problems.push("server.listen", message),
            Ok(addr) => {
                if !addr.ip().is_loopback() && !self.auth.is_enabled() && !self.auth.allow_anonymous
                {
                    problems.push(
                        "server.auth",
                        format!(
                            "listening on non-loopback address {addr} needs credentials \
                             (basic_auth_users or bearer_tokens) or allow_anonymous: true"
                        ),
                    );
                }
            }
        }
        if let Some(url) = &self.external_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                problems.push(
                    "server.external_url",
                    format!("must be an http(s) URL, got {url:?}"),
                );
            }
        }
        if self.limits.max_concurrent_writes == 0 {
            problems.push("server.limits.max_concurrent_writes", "must be at least 1");
        }
        if self.limits.max_body_size.bytes() == 0 {
            problems.push("server.limits.max_body_size", "must be greater than zero");
        }
        for (index, token) in self.auth.bearer_tokens.iter().enumerate() {
            if token.is_empty() {
                problems.push(
                    format!("server.auth.bearer_tokens[{index}]"),
                    "must not be empty",
                );
            }
        }
    }
}
