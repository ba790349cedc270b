//! prometheus.yml's `global` and `scrape_configs` blocks: types, Prometheus defaults, validation;
//! also the HTTP client settings, relabel rules and name/URL checks other sections share.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::bytesize::ByteSize;
use super::duration::PromDuration;
use super::problems::Problems;
use super::secret::Secret;

/// Scrape timeout Prometheus uses when neither `global` nor the scrape config sets one.
const DEFAULT_SCRAPE_TIMEOUT: PromDuration = PromDuration::from_secs(10);

/// Content negotiation order used when no `scrape_protocols` list is configured anywhere.
pub const DEFAULT_SCRAPE_PROTOCOLS: [ScrapeProtocol; 4] = [
    ScrapeProtocol::OpenMetricsText1_0_0,
    ScrapeProtocol::OpenMetricsText0_0_1,
    ScrapeProtocol::PrometheusText1_0_0,
    ScrapeProtocol::PrometheusText0_0_4,
];

/// The `global` block of prometheus.yml: defaults for every scrape config and rule group.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    pub scrape_interval: PromDuration,
    /// When unset: 10s, or `scrape_interval` if that is shorter. Read it through
    /// [`GlobalConfig::effective_scrape_timeout`].
    pub scrape_timeout: Option<PromDuration>,
    /// When unset: [`DEFAULT_SCRAPE_PROTOCOLS`].
    pub scrape_protocols: Option<Vec<ScrapeProtocol>>,
    pub evaluation_interval: PromDuration,
    pub rule_query_offset: PromDuration,
    pub external_labels: BTreeMap<String, String>,
    /// Accepted so that pasted prometheus.yml files load; Sightline writes no query log file.
    pub query_log_file: Option<String>,
    /// Accepted so that pasted prometheus.yml files load; Sightline writes no scrape failure log.
    pub scrape_failure_log_file: Option<String>,
    /// Default of the per-scrape-config limits below; zero means no limit.
    pub body_size_limit: ByteSize,
    pub sample_limit: u64,
    pub label_limit: u64,
    pub label_name_length_limit: u64,
    pub label_value_length_limit: u64,
    pub target_limit: u64,
    pub keep_dropped_targets: u64,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: PromDuration::from_secs(60),
            scrape_timeout: None,
            scrape_protocols: None,
            evaluation_interval: PromDuration::from_secs(60),
            rule_query_offset: PromDuration::from_secs(0),
            external_labels: BTreeMap::new(),
            query_log_file: None,
            scrape_failure_log_file: None,
            body_size_limit: ByteSize(0),
            sample_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            target_limit: 0,
            keep_dropped_targets: 0,
        }
    }
}

impl GlobalConfig {
    /// The configured timeout, or Prometheus's default of 10s capped at `scrape_interval`.
    pub fn effective_scrape_timeout(&self) -> PromDuration {
        match self.scrape_timeout.filter(|timeout| !timeout.is_zero()) {
            Some(timeout) => timeout,
            None => DEFAULT_SCRAPE_TIMEOUT.min(self.scrape_interval),
        }
    }

    pub fn validate(&self, path: &str, problems: &mut Problems) {
        if self.scrape_interval.is_zero() {
            problems.push(
                join_path(path, "scrape_interval"),
                "must be greater than zero",
            );
        }
        if self.evaluation_interval.is_zero() {
            problems.push(
                join_path(path, "evaluation_interval"),
                "must be greater than zero",
            );
        }
        let timeout = self.effective_scrape_timeout();
        if timeout > self.scrape_interval {
            problems.push(
                join_path(path, "scrape_timeout"),
                format!(
                    "scrape_timeout {timeout} is greater than scrape_interval {}",
                    self.scrape_interval
                ),
            );
        }
        check_scrape_protocols(self.scrape_protocols.as_deref(), path, problems);
        for name in self.external_labels.keys() {
            if !is_valid_label_name(name) {
                problems.push(
                    join_path(path, "external_labels"),
                    format!("{name:?} is not a valid label name"),
                );
            }
        }
    }
}

/// Exposition formats a scrape may negotiate, named as in prometheus.yml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
pub enum ScrapeProtocol {
    PrometheusProto,
    #[serde(rename = "OpenMetricsText0.0.1")]
    OpenMetricsText0_0_1,
    #[serde(rename = "OpenMetricsText1.0.0")]
    OpenMetricsText1_0_0,
    #[serde(rename = "PrometheusText0.0.4")]
    PrometheusText0_0_4,
    #[serde(rename = "PrometheusText1.0.0")]
    PrometheusText1_0_0,
}

fn check_scrape_protocols(
    protocols: Option<&[ScrapeProtocol]>,
    path: &str,
    problems: &mut Problems,
) {
    let Some(protocols) = protocols else {
        return;
    };
    let field = join_path(path, "scrape_protocols");
    if protocols.is_empty() {
        problems.push(&field, "must not be empty");
    }
    let mut seen = BTreeSet::new();
    for protocol in protocols {
        if !seen.insert(protocol) {
            problems.push(&field, format!("duplicated protocol {protocol:?}"));
        }
    }
}

/// Outbound HTTP client settings (`http_config` in alertmanager.yml; inline in a scrape config).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpClientConfig {
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    /// Legacy spelling of `authorization` with type `Bearer`; see
    /// [`HttpClientConfig::effective_authorization`].
    pub bearer_token: Option<Secret>,
    pub bearer_token_file: Option<String>,
    pub tls_config: TlsConfig,
    pub proxy_url: Option<String>,
    pub follow_redirects: bool,
    pub enable_http2: bool,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            basic_auth: None,
            authorization: None,
            bearer_token: None,
            bearer_token_file: None,
            tls_config: TlsConfig::default(),
            proxy_url: None,
            follow_redirects: true,
            enable_http2: true,
        }
    }
}

impl HttpClientConfig {
    /// The `Authorization` header settings, with the legacy `bearer_token` fields folded in.
    pub fn effective_authorization(&self) -> Option<Authorization> {
        if let Some(authorization) = &self.authorization {
            return Some(authorization.clone());
        }
        if self.bearer_token.is_none() && self.bearer_token_file.is_none() {
            return None;
        }
        Some(Authorization {
            credentials: self.bearer_token.clone(),
            credentials_file: self.bearer_token_file.clone(),
            ..Authorization::default()
        })
    }

    /// Checks the fields; `path` is the map holding them (the scrape config itself for
    /// prometheus.yml, the `http_config` key in alertmanager.yml).
    pub fn validate(&self, path: &str, problems: &mut Problems) {
        let has_bearer = self.bearer_token.is_some() || self.bearer_token_file.is_some();
        if self.bearer_token.is_some() && self.bearer_token_file.is_some() {
            problems.push(
                path,
                "at most one of bearer_token & bearer_token_file must be configured",
            );
        }
        if let Some(basic_auth) = &self.basic_auth {
            let basic_path = join_path(path, "basic_auth");
            if has_bearer {
                problems.push(
                    path,
                    "at most one of basic_auth, bearer_token & bearer_token_file must be configured",
                );
            }
            if !basic_auth.username.is_empty() && basic_auth.username_file.is_some() {
                problems.push(
                    &basic_path,
                    "at most one of username & username_file must be configured",
                );
            }
            if basic_auth.password.is_some() && basic_auth.password_file.is_some() {
                problems.push(
                    &basic_path,
                    "at most one of password & password_file must be configured",
                );
            }
        }
        if let Some(authorization) = &self.authorization {
            let auth_path = join_path(path, "authorization");
            if has_bearer {
                problems.push(
                    path,
                    "authorization is not compatible with bearer_token & bearer_token_file",
                );
            }
            if self.basic_auth.is_some() {
                problems.push(
                    path,
                    "at most one of basic_auth & authorization must be configured",
                );
            }
            if authorization.credentials.is_some() && authorization.credentials_file.is_some() {
                problems.push(
                    &auth_path,
                    "at most one of credentials & credentials_file must be configured",
                );
            }
            if authorization.scheme().eq_ignore_ascii_case("basic") {
                problems.push(
                    join_path(&auth_path, "type"),
                    "authorization type cannot be \"basic\", use basic_auth instead",
                );
            }
        }
        self.tls_config
            .validate(&join_path(path, "tls_config"), problems);
        if let Some(proxy_url) = &self.proxy_url {
            if let Some(problem) = url_problem(proxy_url, &["http", "https", "socks5", "socks5h"]) {
                problems.push(join_path(path, "proxy_url"), problem);
            }
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BasicAuth {
    pub username: String,
    pub username_file: Option<String>,
    pub password: Option<Secret>,
    pub password_file: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Authorization {
    /// The scheme put before the credentials; read it through [`Authorization::scheme`].
    #[serde(rename = "type")]
    pub credentials_type: String,
    pub credentials: Option<Secret>,
    pub credentials_file: Option<String>,
}

impl Default for Authorization {
    fn default() -> Self {
        Authorization {
            credentials_type: "Bearer".to_owned(),
            credentials: None,
            credentials_file: None,
        }
    }
}

impl Authorization {
    /// The header scheme, `Bearer` when the configured type is blank.
    pub fn scheme(&self) -> &str {
        match self.credentials_type.trim() {
            "" => "Bearer",
            scheme => scheme,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub server_name: Option<String>,
    pub insecure_skip_verify: bool,
    pub min_version: Option<TlsVersion>,
    pub max_version: Option<TlsVersion>,
}

impl TlsConfig {
    pub fn validate(&self, path: &str, problems: &mut Problems) {
        match (&self.cert_file, &self.key_file) {
            (Some(cert), None) => problems.push(
                join_path(path, "cert_file"),
                format!("client cert file {cert:?} specified without client key file"),
            ),
            (None, Some(key)) => problems.push(
                join_path(path, "key_file"),
                format!("client key file {key:?} specified without client cert file"),
            ),
            _ => {}
        }
        if let (Some(min), Some(max)) = (self.min_version, self.max_version) {
            if max < min {
                problems.push(
                    join_path(path, "max_version"),
                    "max_version must be greater than or equal to min_version",
                );
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
pub enum TlsVersion {
    #[serde(rename = "TLS10")]
    Tls10,
    #[serde(rename = "TLS11")]
    Tls11,
    #[serde(rename = "TLS12")]
    Tls12,
    #[serde(rename = "TLS13")]
    Tls13,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    #[default]
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// One entry of `scrape_configs`. Interval, timeout, protocols and limits left unset here
/// come from [`GlobalConfig`]; read them through the `effective_*` methods.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ScrapeConfig {
    pub job_name: String,
    pub scrape_interval: Option<PromDuration>,
    pub scrape_timeout: Option<PromDuration>,
    pub scrape_protocols: Option<Vec<ScrapeProtocol>>,
    pub metrics_path: String,
    pub scheme: Scheme,
    pub params: BTreeMap<String, Vec<String>>,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub track_timestamps_staleness: bool,
    pub enable_compression: bool,
    /// Zero means "inherit from global" for this and the other limits; see
    /// [`ScrapeConfig::effective_limits`].
    pub body_size_limit: ByteSize,
    pub sample_limit: u64,
    pub label_limit: u64,
    pub label_name_length_limit: u64,
    pub label_value_length_limit: u64,
    pub target_limit: u64,
    pub keep_dropped_targets: u64,

    // HTTP client settings sit inline in prometheus.yml; `ScrapeConfig::http_client` gathers them.
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    pub bearer_token: Option<Secret>,
    pub bearer_token_file: Option<String>,
    pub tls_config: TlsConfig,
    pub proxy_url: Option<String>,
    pub follow_redirects: bool,
    pub enable_http2: bool,

    pub static_configs: Vec<StaticConfig>,
    pub file_sd_configs: Vec<FileSdConfig>,
    pub relabel_configs: Vec<RelabelConfig>,
    pub metric_relabel_configs: Vec<RelabelConfig>,
}

impl Default for ScrapeConfig {
    fn default() -> Self {
        let http = HttpClientConfig::default();
        ScrapeConfig {
            job_name: String::new(),
            scrape_interval: None,
            scrape_timeout: None,
            scrape_protocols: None,
            metrics_path: "/metrics".to_owned(),
            scheme: Scheme::Http,
            params: BTreeMap::new(),
            honor_labels: false,
            honor_timestamps: true,
            track_timestamps_staleness: false,
            enable_compression: true,
            body_size_limit: ByteSize(0),
            sample_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            target_limit: 0,
            keep_dropped_targets: 0,
            basic_auth: http.basic_auth,
            authorization: http.authorization,
            bearer_token: http.bearer_token,
            bearer_token_file: http.bearer_token_file,
            tls_config: http.tls_config,
            proxy_url: http.proxy_url,
            follow_redirects: http.follow_redirects,
            enable_http2: http.enable_http2,
            static_configs: Vec::new(),
            file_sd_configs: Vec::new(),
            relabel_configs: Vec::new(),
            metric_relabel_configs: Vec::new(),
        }
    }
}

/// Per-scrape limits after inheritance from `global`; zero means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrapeLimits {
    pub body_size_limit: ByteSize,
    pub sample_limit: u64,
    pub label_limit: u64,
    pub label_name_length_limit: u64,
    pub label_value_length_limit: u64,
    pub target_limit: u64,
    pub keep_dropped_targets: u64,
}

impl ScrapeConfig {
    pub fn effective_interval(&self, global: &GlobalConfig) -> PromDuration {
        self.scrape_interval
            .filter(|interval| !interval.is_zero())
            .unwrap_or(global.scrape_interval)
    }

    /// The configured timeout, else the global one capped at this job's interval.
    pub fn effective_timeout(&self, global: &GlobalConfig) -> PromDuration {
        match self.scrape_timeout.filter(|timeout| !timeout.is_zero()) {
            Some(timeout) => timeout,
            None => global
                .effective_scrape_timeout()
                .min(self.effective_interval(global)),
        }
    }

    pub fn effective_scrape_protocols(&self, global: &GlobalConfig) -> Vec<ScrapeProtocol> {
        self.scrape_protocols
            .as_ref()
            .or(global.scrape_protocols.as_ref())
            .cloned()
            .unwrap_or_else(|| DEFAULT_SCRAPE_PROTOCOLS.to_vec())
    }

    pub fn effective_limits(&self, global: &GlobalConfig) -> ScrapeLimits {
        let inherit = |own: u64, global: u64| if own == 0 { global } else { own };
        ScrapeLimits {
            body_size_limit: ByteSize(inherit(self.body_size_limit.0, global.body_size_limit.0)),
            sample_limit: inherit(self.sample_limit, global.sample_limit),
            label_limit: inherit(self.label_limit, global.label_limit),
            label_name_length_limit: inherit(
                self.label_name_length_limit,
                global.label_name_length_limit,
            ),
            label_value_length_limit: inherit(
                self.label_value_length_limit,
                global.label_value_length_limit,
            ),
            target_limit: inherit(self.target_limit, global.target_limit),
            keep_dropped_targets: inherit(self.keep_dropped_targets, global.keep_dropped_targets),
        }
    }

    /// The inline HTTP client settings as one value.
    pub fn http_client(&self) -> HttpClientConfig {
        HttpClientConfig {
            basic_auth: self.basic_auth.clone(),
            authorization: self.authorization.clone(),
            bearer_token: self.bearer_token.clone(),
            bearer_token_file: self.bearer_token_file.clone(),
            tls_config: self.tls_config.clone(),
            proxy_url: self.proxy_url.clone(),
            follow_redirects: self.follow_redirects,
            enable_http2: self.enable_http2,
        }
    }

    /// Checks this scrape config on its own. Checks that need the other scrape configs or
    /// `global` (unique job names, timeout against interval) are in [`validate_scrape_configs`].
    pub fn validate(&self, path: &str, problems: &mut Problems) {
        if self.job_name.is_empty() {
            problems.push(join_path(path, "job_name"), "job_name must not be empty");
        }
        check_scrape_protocols(self.scrape_protocols.as_deref(), path, problems);
        self.http_client().validate(path, problems);

        // Targets are used as addresses unless relabeling may rewrite `__address__`
        // (e.g. the blackbox exporter pattern, where targets are URLs).
        let address_rewritten = self
            .relabel_configs
            .iter()
            .any(RelabelConfig::may_write_address);
        for (group_index, group) in self.static_configs.iter().enumerate() {
            let group_path = format!("{}[{group_index}]", join_path(path, "static_configs"));
            group.validate(&group_path, !address_rewritten, problems);
        }
        for (index, file_sd) in self.file_sd_configs.iter().enumerate() {
            file_sd.validate(
                &format!("{}[{index}]", join_path(path, "file_sd_configs")),
                problems,
            );
        }
        for (index, rule) in self.relabel_configs.iter().enumerate() {
            rule.validate(
                &format!("{}[{index}]", join_path(path, "relabel_configs")),
                problems,
            );
        }
        for (index, rule) in self.metric_relabel_configs.iter().enumerate() {
            rule.validate(
                &format!("{}[{index}]", join_path(path, "metric_relabel_configs")),
                problems,
            );
        }
    }
}

/// Validates the whole top-level `scrape_configs` list: each entry, unique job names, and each
/// effective timeout against its interval.
pub fn validate_scrape_configs(
    configs: &[ScrapeConfig],
    global: &GlobalConfig,
    problems: &mut Problems,
) {
    let mut job_names = BTreeSet::new();
    for (index, config) in configs.iter().enumerate() {
        let config_path = format!("scrape_configs[{index}]");
        config.validate(&config_path, problems);
        if !config.job_name.is_empty() && !job_names.insert(config.job_name.as_str()) {
            problems.push(
                join_path(&config_path, "job_name"),
                format!(
                    "found multiple scrape configs with job name {:?}",
                    config.job_name
                ),
            );
        }
        let interval = config.effective_interval(global);
        let timeout = config.effective_timeout(global);
        if timeout > interval {
            problems.push(
                join_path(&config_path, "scrape_timeout"),
                format!("scrape_timeout {timeout} is greater than scrape_interval {interval}"),
            );
        }
    }
}

/// A target group: addresses plus labels added to every target.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StaticConfig {
    pub targets: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

impl StaticConfig {
    fn validate(&self, path: &str, targets_are_addresses: bool, problems: &mut Problems) {
        for (index, target) in self.targets.iter().enumerate() {
            let target_path = format!("{}[{index}]", join_path(path, "targets"));
            if target.is_empty() {
                problems.push(target_path, "target must not be empty");
            } else if targets_are_addresses {
                if let Err(problem) = split_host_port(target) {
                    problems.push(
                        target_path,
                        format!("{target:?} is not a valid target: {problem}"),
                    );
                }
            }
        }
        for name in self.labels.keys() {
            if !is_valid_label_name(name) {
                problems.push(
                    join_path(path, "labels"),
                    format!("{name:?} is not a valid label name"),
                );
            }
        }
    }
}

/// Target groups read from JSON or YAML files matching `files`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FileSdConfig {
    pub files: Vec<String>,
    pub refresh_interval: PromDuration,
}

impl Default for FileSdConfig {
    fn default() -> Self {
        FileSdConfig {
            files: Vec::new(),
            refresh_interval: PromDuration::from_secs(300),
        }
    }
}

impl FileSdConfig {
    fn validate(&self, path: &str, problems: &mut Problems) {
        let files_path = join_path(path, "files");
        if self.files.is_empty() {
            problems.push(
                &files_path,
                "file_sd config must contain at least one file pattern",
            );
        }
        for (index, pattern) in self.files.iter().enumerate() {
            if !is_valid_file_sd_pattern(pattern) {
                problems.push(
                    format!("{files_path}[{index}]"),
                    format!(
                        "{pattern:?} is not a valid file pattern: it must end in .json, .yml or .yaml \
                         and only its last path segment may contain a *"
                    ),
                );
            }
        }
    }
}

/// Prometheus's rule: a path ending in .json/.yml/.yaml (either all lowercase or all
/// uppercase) where everything after the first `*` stays within the last path segment.
fn is_valid_file_sd_pattern(pattern: &str) -> bool {
    let Some((stem, extension)) = pattern.rsplit_once('.') else {
        return false;
    };
    if !["json", "yml", "yaml", "JSON", "YML", "YAML"].contains(&extension) {
        return false;
    }
    match stem.find('*') {
        None => true,
        Some(star) => !stem[star + 1..].contains('/'),
    }
}

/// One relabeling step. `regex` is kept as written; it matches anchored at both ends.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RelabelConfig {
    pub source_labels: Vec<String>,
    pub separator: String,
    /// Empty when not set.
    pub target_label: String,
    pub regex: String,
    pub modulus: u64,
    pub replacement: String,
    pub action: RelabelAction,
}

impl Default for RelabelConfig {
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: ";".to_owned(),
            target_label: String::new(),
            regex: "(.*)".to_owned(),
            modulus: 0,
            replacement: "$1".to_owned(),
            action: RelabelAction::Replace,
        }
    }
}

impl RelabelConfig {
    pub fn validate(&self, path: &str, problems: &mut Problems) {
        if let Some(problem) = anchored_regex_problem(&self.regex) {
            problems.push(join_path(path, "regex"), problem);
        }
        for (index, name) in self.source_labels.iter().enumerate() {
            if !is_valid_label_name(name) {
                problems.push(
                    format!("{}[{index}]", join_path(path, "source_labels")),
                    format!("{name:?} is not a valid label name"),
                );
            }
        }
        if let Some((field, message)) = self.action_problem() {
            problems.push(join_path(path, field), message);
        }
    }

    /// The first way this rule breaks its action's requirements, in Prometheus's order,
    /// as (field to blame, or "" for the whole rule; message).
    fn action_problem(&self) -> Option<(&'static str, String)> {
        use RelabelAction::*;
        let action = self.action;
        let defaults = RelabelConfig::default();
        if action == HashMod && self.modulus == 0 {
            return Some((
                "modulus",
                "hashmod action requires a non-zero modulus".to_owned(),
            ));
        }
        let needs_target = matches!(
            action,
            Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual
        );
        if needs_target && self.target_label.is_empty() {
            return Some((
                "target_label",
                format!("{action} action requires a target_label"),
            ));
        }
        let target_is_valid = match action {
            Replace => is_valid_relabel_target(&self.target_label),
            HashMod | Lowercase | Uppercase | KeepEqual | DropEqual => {
                is_valid_label_name(&self.target_label)
            }
            _ => true,
        };
        if !target_is_valid {
            return Some((
                "target_label",
                format!(
                    "{:?} is not a valid target_label for the {action} action",
                    self.target_label
                ),
            ));
        }
        if matches!(action, Lowercase | Uppercase | KeepEqual | DropEqual)
            && self.replacement != defaults.replacement
        {
            return Some((
                "replacement",
                format!("replacement cannot be set for the {action} action"),
            ));
        }
        if action == LabelMap && !is_valid_relabel_target(&self.replacement) {
            return Some((
                "replacement",
                format!(
                    "{:?} is not a valid replacement for the labelmap action",
                    self.replacement
                ),
            ));
        }
        let other_fields_default = self.modulus == defaults.modulus
            && self.separator == defaults.separator
            && self.replacement == defaults.replacement;
        if matches!(action, KeepEqual | DropEqual)
            && !(other_fields_default && self.regex == defaults.regex)
        {
            return Some((
                "",
                format!(
                    "{action} action takes only source_labels and target_label, no other fields"
                ),
            ));
        }
        if matches!(action, LabelDrop | LabelKeep)
            && !(other_fields_default
                && self.source_labels.is_empty()
                && self.target_label.is_empty())
        {
            return Some((
                "",
                format!("{action} action takes only regex, no other fields"),
            ));
        }
        None
    }

    /// Whether applying this rule may set the `__address__` label.
    fn may_write_address(&self) -> bool {
        match self.action {
            RelabelAction::Replace
            | RelabelAction::HashMod
            | RelabelAction::Lowercase
            | RelabelAction::Uppercase => {
                self.target_label == "__address__" || self.target_label.contains('$')
            }
            RelabelAction::LabelMap => true,
            _ => false,
        }
    }
}

/// Relabel actions; prometheus.yml spells them in any letter case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum RelabelAction {
    #[default]
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

impl RelabelAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RelabelAction::Replace => "replace",
            RelabelAction::Keep => "keep",
            RelabelAction::Drop => "drop",
            RelabelAction::KeepEqual => "keepequal",
            RelabelAction::DropEqual => "dropequal",
            RelabelAction::HashMod => "hashmod",
            RelabelAction::LabelMap => "labelmap",
            RelabelAction::LabelDrop => "labeldrop",
            RelabelAction::LabelKeep => "labelkeep",
            RelabelAction::Lowercase => "lowercase",
            RelabelAction::Uppercase => "uppercase",
        }
    }
}

impl fmt::Display for RelabelAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RelabelAction {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let action = match text.to_ascii_lowercase().as_str() {
            "replace" => RelabelAction::Replace,
            "keep" => RelabelAction::Keep,
            "drop" => RelabelAction::Drop,
            "keepequal" => RelabelAction::KeepEqual,
            "dropequal" => RelabelAction::DropEqual,
            "hashmod" => RelabelAction::HashMod,
            "labelmap" => RelabelAction::LabelMap,
            "labeldrop" => RelabelAction::LabelDrop,
            "labelkeep" => RelabelAction::LabelKeep,
            "lowercase" => RelabelAction::Lowercase,
            "uppercase" => RelabelAction::Uppercase,
            _ => return Err(format!("unknown relabel action {text:?}")),
        };
        Ok(action)
    }
}

impl<'de> Deserialize<'de> for RelabelAction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for RelabelAction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// `path.field`, or just `field` at the top level; an empty `field` names `path` itself.
pub(super) fn join_path(path: &str, field: &str) -> String {
    match (path.is_empty(), field.is_empty()) {
        (true, _) => field.to_owned(),
        (false, true) => path.to_owned(),
        (false, false) => format!("{path}.{field}"),
    }
}

/// A label name in the classic character set: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(super) fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(first) if first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A label name that may contain `$1` / `${name}` references to regex groups: each piece is a
/// word character or a reference, and it must not start with a digit.
fn is_valid_relabel_target(target: &str) -> bool {
    let bytes = target.as_bytes();
    let is_word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    let word_run_end = |start: usize| {
        let mut end = start;
        while end < bytes.len() && is_word(bytes[end]) {
            end += 1;
        }
        end
    };
    if bytes.first().is_none_or(|first| first.is_ascii_digit()) {
        return false;
    }
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'$' {
            let braced = bytes.get(index + 1) == Some(&b'{');
            let name_start = if braced { index + 2 } else { index + 1 };
            let name_end = word_run_end(name_start);
            if name_end == name_start {
                return false;
            }
            if braced {
                if bytes.get(name_end) != Some(&b'}') {
                    return false;
                }
                index = name_end + 1;
            } else {
                index = name_end;
            }
        } else if is_word(bytes[index]) {
            index += 1;
        } else {
            return false;
        }
    }
    true
}

/// Compiles `pattern` the way label matchers use it, `^(?:pattern)$`, and describes the
/// error in one line if it does not compile.
pub(super) fn anchored_regex_problem(pattern: &str) -> Option<String> {
    // The same RE2 translation the relabel engine and matchers use, so validation accepts
    // exactly what they compile.
    let translated = match crate::metrics::tsdb::index::re2::translate(pattern) {
        Ok(translated) => translated,
        Err(problem) => return Some(format!("invalid regular expression {pattern:?}: {problem}")),
    };
    let error = regex::RegexBuilder::new(&format!("^(?s:{translated})$"))
        .octal(true)
        .build()
        .err()?;
    let detail = match &error {
        regex::Error::Syntax(text) => text
            .lines()
            .find_map(|line| line.trim().strip_prefix("error: "))
            .unwrap_or(text.as_str())
            .to_owned(),
        other => other.to_string(),
    };
    Some(format!("invalid regular expression {pattern:?}: {detail}"))
}

/// Splits `host[:port]` (IPv6 hosts in brackets); the port, when present, must be 0-65535.
pub(super) fn split_host_port(address: &str) -> Result<(&str, Option<u16>), &'static str> {
    if address.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err("expected host or host:port without scheme or path");
    }
    let (host, port) = if let Some(bracketed) = address.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or("missing closing ] after IPv6 address")?;
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(after.strip_prefix(':').ok_or("unexpected text after ]")?),
            ),
        }
    } else {
        match address.split_once(':') {
            None => (address, None),
            Some((_, port)) if port.contains(':') => {
                return Err("IPv6 addresses must be written in brackets, e.g. [::1]:9100");
            }
            Some((host, port)) => (host, Some(port)),
        }
    };
    if host.is_empty() {
        return Err("missing host");
    }
    let port = match port {
        None => None,
        Some(port) => Some(
            port.parse::<u16>()
                .map_err(|_| "port must be a number from 0 to 65535")?,
        ),
    };
    Ok((host, port))
}

/// Why `url` is not an absolute URL with one of `schemes` and a host. The URL itself is
/// left out of the message because it may carry credentials.
pub(super) fn url_problem(url: &str, schemes: &[&str]) -> Option<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Some(format!(
            "invalid URL: expected an absolute {} URL",
            schemes.join("/")
        ));
    };
    if !schemes
        .iter()
        .any(|allowed| scheme.eq_ignore_ascii_case(allowed))
    {
        return Some(format!(
            "invalid URL: unsupported scheme {scheme:?}, expected {}",
            schemes.join("/")
        ));
    }
    if url.contains(char::is_whitespace) {
        return Some("invalid URL: contains whitespace".to_owned());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() {
        return Some("invalid URL: missing host".to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_scrape(text: &str) -> ScrapeConfig {
        serde_saphyr::from_str(text).unwrap_or_else(|error| panic!("{error}\n---\n{text}"))
    }

    fn problems_of(configs: &[ScrapeConfig], global: &GlobalConfig) -> Vec<String> {
        let mut problems = Problems::default();
        global.validate("global", &mut problems);
        validate_scrape_configs(configs, global, &mut problems);
        problems.messages().to_vec()
    }

    fn relabel_problems(rule_yaml: &str) -> Vec<String> {
        let rule: RelabelConfig = serde_saphyr::from_str(rule_yaml).unwrap();
        let mut problems = Problems::default();
        rule.validate("scrape_configs[1].relabel_configs[0]", &mut problems);
        problems.messages().to_vec()
    }

    /// A prometheus.yml-style document exercising every supported field.
    const FULL: &str = r#"
global:
  scrape_interval: 15s
  scrape_timeout: 5s
  scrape_protocols: [OpenMetricsText1.0.0, PrometheusText0.0.4]
  evaluation_interval: 30s
  rule_query_offset: 1m
  external_labels:
    cluster: eu-1
    replica: a
  query_log_file: /var/log/queries.log
  scrape_failure_log_file: /var/log/scrape-failures.log
  body_size_limit: 100MB
  sample_limit: 50000
  label_limit: 64
  label_name_length_limit: 128
  label_value_length_limit: 2048
  target_limit: 1000
  keep_dropped_targets: 100
scrape_configs:
  - job_name: node
    scrape_interval: 30s
    scrape_timeout: 20s
    scrape_protocols: [PrometheusProto, OpenMetricsText0.0.1, PrometheusText1.0.0]
    metrics_path: /custom/metrics
    scheme: https
    params:
      module: [http_2xx, tcp]
      debug: ["true"]
    honor_labels: true
    honor_timestamps: false
    track_timestamps_staleness: true
    enable_compression: false
    body_size_limit: 10MB
    sample_limit: 1000
    label_limit: 30
    label_name_length_limit: 100
    label_value_length_limit: 500
    target_limit: 20
    keep_dropped_targets: 5
    basic_auth:
      username: prometheus
      password: hunter2
    tls_config:
      ca_file: /etc/ssl/ca.pem
      cert_file: /etc/ssl/client.pem
      key_file: /etc/ssl/client-key.pem
      server_name: node.internal
      insecure_skip_verify: true
      min_version: TLS12
      max_version: TLS13
    proxy_url: http://proxy.internal:3128
    follow_redirects: false
    enable_http2: false
    static_configs:
      - targets: ['localhost:9100', '10.0.0.2:9100', '[::1]:9100', 'node-3']
        labels:
          env: prod
          __metrics_path__: /other
    file_sd_configs:
      - files: ['targets/*.json', '/etc/prometheus/nodes.yml', 'more/tg_*.yaml']
        refresh_interval: 1m
      - files: [single.json]
    relabel_configs:
      - source_labels: [__meta_filepath, __address__]
        separator: '|'
        regex: '(.*)\|(.*):\d+'
        target_label: host
        replacement: '${2}'
      - action: keep
        source_labels: [env]
        regex: prod|staging
      - action: drop
        source_labels: [__meta_drop]
        regex: 'true'
      - action: keepequal
        source_labels: [__port__]
        target_label: port
      - action: dropequal
        source_labels: [instance]
        target_label: exported_instance
      - action: hashmod
        source_labels: [__address__]
        modulus: 8
        target_label: __tmp_hash
      - action: labelmap
        regex: __meta_kubernetes_pod_label_(.+)
        replacement: k8s_$1
      - action: labeldrop
        regex: __meta_unused_.*
      - action: labelkeep
        regex: __.*|job|instance|env|host|port|k8s_.*
      - action: lowercase
        source_labels: [env]
        target_label: env_lower
      - action: uppercase
        source_labels: [env]
        target_label: env_upper
      - target_label: shard_$1
        source_labels: [__tmp_hash]
        regex: (\d+)
        replacement: yes
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: go_gc_.*
        action: drop
  - job_name: token-auth
    authorization:
      type: Token
      credentials_file: /run/secrets/token
    static_configs:
      - targets: [app:8080]
  - job_name: legacy-bearer
    bearer_token: s3cr3t-token
    static_configs:
      - targets: [app:8081]
"#;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct PrometheusFile {
        global: GlobalConfig,
        scrape_configs: Vec<ScrapeConfig>,
    }

    fn full() -> PrometheusFile {
        serde_saphyr::from_str(FULL).unwrap()
    }

    #[test]
    fn full_example_parses_every_field_and_validates() {
        let file = full();
        assert_eq!(
            problems_of(&file.scrape_configs, &file.global),
            Vec::<String>::new()
        );

        let global = &file.global;
        assert_eq!(global.scrape_interval, PromDuration::from_secs(15));
        assert_eq!(
            global.effective_scrape_timeout(),
            PromDuration::from_secs(5)
        );
        assert_eq!(global.rule_query_offset, PromDuration::from_secs(60));
        assert_eq!(global.external_labels["cluster"], "eu-1");
        assert_eq!(global.body_size_limit, ByteSize(100 << 20));
        assert_eq!(global.keep_dropped_targets, 100);

        let node = &file.scrape_configs[0];
        assert_eq!(node.effective_interval(global), PromDuration::from_secs(30));
        assert_eq!(node.effective_timeout(global), PromDuration::from_secs(20));
        assert_eq!(node.metrics_path, "/custom/metrics");
        assert_eq!(node.scheme, Scheme::Https);
        assert_eq!(node.params["module"], ["http_2xx", "tcp"]);
        assert_eq!(node.params["debug"], ["true"]);
        assert!(node.honor_labels && !node.honor_timestamps && node.track_timestamps_staleness);
        assert!(!node.enable_compression);
        assert_eq!(
            node.effective_scrape_protocols(global),
            [
                ScrapeProtocol::PrometheusProto,
                ScrapeProtocol::OpenMetricsText0_0_1,
                ScrapeProtocol::PrometheusText1_0_0
            ]
        );
        assert_eq!(
            node.effective_limits(global),
            ScrapeLimits {
                body_size_limit: ByteSize(10 << 20),
                sample_limit: 1000,
                label_limit: 30,
                label_name_length_limit: 100,
                label_value_length_limit: 500,
                target_limit: 20,
                keep_dropped_targets: 5,
            }
        );
        let http = node.http_client();
        let basic_auth = http.basic_auth.as_ref().unwrap();
        assert_eq!(basic_auth.username, "prometheus");
        assert_eq!(basic_auth.password.as_ref().unwrap().expose(), "hunter2");
        assert_eq!(http.tls_config.min_version, Some(TlsVersion::Tls12));
        assert_eq!(http.tls_config.max_version, Some(TlsVersion::Tls13));
        assert_eq!(
            http.tls_config.server_name.as_deref(),
            Some("node.internal")
        );
        assert!(http.tls_config.insecure_skip_verify);
        assert_eq!(
            http.proxy_url.as_deref(),
            Some("http://proxy.internal:3128")
        );
        assert!(!http.follow_redirects && !http.enable_http2);
        assert_eq!(node.static_configs[0].targets.len(), 4);
        assert_eq!(node.static_configs[0].labels["env"], "prod");
        assert_eq!(
            node.file_sd_configs[0].refresh_interval,
            PromDuration::from_secs(60)
        );
        assert_eq!(
            node.file_sd_configs[1].refresh_interval,
            PromDuration::from_secs(300)
        );

        let actions: Vec<RelabelAction> = node
            .relabel_configs
            .iter()
            .map(|rule| rule.action)
            .collect();
        use RelabelAction::*;
        assert_eq!(
            actions,
            [
                Replace, Keep, Drop, KeepEqual, DropEqual, HashMod, LabelMap, LabelDrop, LabelKeep,
                Lowercase, Uppercase, Replace
            ]
        );
        assert_eq!(node.relabel_configs[0].separator, "|");
        assert_eq!(node.relabel_configs[5].modulus, 8);
        assert_eq!(node.metric_relabel_configs[0].action, Drop);

        let token = &file.scrape_configs[1];
        let authorization = token.http_client().effective_authorization().unwrap();
        assert_eq!(authorization.scheme(), "Token");
        assert_eq!(
            authorization.credentials_file.as_deref(),
            Some("/run/secrets/token")
        );
        // Inherits everything from global.
        assert_eq!(
            token.effective_interval(global),
            PromDuration::from_secs(15)
        );
        assert_eq!(token.effective_timeout(global), PromDuration::from_secs(5));
        assert_eq!(token.effective_limits(global).sample_limit, 50000);
        assert_eq!(
            token.effective_scrape_protocols(global),
            [
                ScrapeProtocol::OpenMetricsText1_0_0,
                ScrapeProtocol::PrometheusText0_0_4
            ]
        );

        let legacy = file.scrape_configs[2]
            .http_client()
            .effective_authorization()
            .unwrap();
        assert_eq!(legacy.scheme(), "Bearer");
        assert_eq!(legacy.credentials.unwrap().expose(), "s3cr3t-token");
    }

    #[test]
    fn defaults_match_prometheus() {
        let global = GlobalConfig::default();
        assert_eq!(global.scrape_interval, PromDuration::from_secs(60));
        assert_eq!(
            global.effective_scrape_timeout(),
            PromDuration::from_secs(10)
        );
        assert_eq!(global.evaluation_interval, PromDuration::from_secs(60));
        assert_eq!(
            serde_saphyr::from_str::<GlobalConfig>("{}").unwrap(),
            global
        );

        let config = parse_scrape("job_name: x\nrelabel_configs: [{target_label: a}]\nfile_sd_configs: [{files: [a.json]}]");
        assert_eq!(config.metrics_path, "/metrics");
        assert_eq!(config.scheme, Scheme::Http);
        assert!(config.honor_timestamps && config.enable_compression);
        assert!(!config.honor_labels && !config.track_timestamps_staleness);
        assert!(config.follow_redirects && config.enable_http2);
        assert_eq!(
            config.effective_interval(&global),
            PromDuration::from_secs(60)
        );
        assert_eq!(
            config.effective_timeout(&global),
            PromDuration::from_secs(10)
        );
        assert_eq!(
            config.effective_scrape_protocols(&global),
            DEFAULT_SCRAPE_PROTOCOLS
        );
        assert_eq!(
            config.file_sd_configs[0].refresh_interval,
            PromDuration::from_secs(300)
        );
        let rule = &config.relabel_configs[0];
        assert_eq!(rule.separator, ";");
        assert_eq!(rule.regex, "(.*)");
        assert_eq!(rule.replacement, "$1");
        assert_eq!(rule.action, RelabelAction::Replace);
        assert!(config.http_client().effective_authorization().is_none());
        assert_eq!(
            serde_saphyr::from_str::<Authorization>("credentials: x")
                .unwrap()
                .scheme(),
            "Bearer"
        );
    }

    #[test]
    fn timeout_inherits_and_is_capped_like_prometheus() {
        // Global interval shorter than the default timeout: the timeout follows the interval.
        let global: GlobalConfig = serde_saphyr::from_str("scrape_interval: 5s").unwrap();
        assert_eq!(
            global.effective_scrape_timeout(),
            PromDuration::from_secs(5)
        );
        let config = parse_scrape("job_name: fast\nscrape_interval: 2s");
        assert_eq!(
            config.effective_timeout(&global),
            PromDuration::from_secs(2)
        );
        assert!(problems_of(&[config], &global).is_empty());

        let explicit = parse_scrape("job_name: slow\nscrape_interval: 10s\nscrape_timeout: 15s");
        assert_eq!(
            problems_of(&[explicit], &GlobalConfig::default()),
            ["scrape_configs[0].scrape_timeout: scrape_timeout 15s is greater than scrape_interval 10s"]
        );
        let bad_global: GlobalConfig =
            serde_saphyr::from_str("scrape_interval: 5s\nscrape_timeout: 6s").unwrap();
        assert_eq!(
            problems_of(&[], &bad_global),
            ["global.scrape_timeout: scrape_timeout 6s is greater than scrape_interval 5s"]
        );
    }

    #[test]
    fn job_names_must_be_unique_and_present() {
        let configs = [
            parse_scrape("job_name: a"),
            parse_scrape("job_name: b"),
            parse_scrape("job_name: a"),
            parse_scrape("{}"),
        ];
        assert_eq!(
            problems_of(&configs, &GlobalConfig::default()),
            [
                "scrape_configs[2].job_name: found multiple scrape configs with job name \"a\"",
                "scrape_configs[3].job_name: job_name must not be empty",
            ]
        );
    }

    #[test]
    fn unknown_keys_are_rejected_everywhere() {
        for text in [
            "job_name: x\nscrape_intervall: 1m",
            "job_name: x\nkubernetes_sd_configs: [{role: pod}]",
            "job_name: x\nrelabel_configs: [{action: keep, regexp: a}]",
            "job_name: x\nbasic_auth: {user: a}",
            "job_name: x\nauthorization: {token: a}",
            "job_name: x\ntls_config: {ca: a}",
            "job_name: x\nstatic_configs: [{target: ['a:1']}]",
            "job_name: x\nfile_sd_configs: [{files: [a.json], refresh: 1m}]",
            "job_name: x\nscheme: ftp",
            "job_name: x\nscrape_protocols: [PrometheusText9]",
            "job_name: x\nbody_size_limit: 10 apples",
            "job_name: x\nrelabel_configs: [{action: rename}]",
        ] {
            let error = serde_saphyr::from_str::<ScrapeConfig>(text).expect_err(text);
            assert!(!error.to_string().is_empty());
        }
        assert!(serde_saphyr::from_str::<GlobalConfig>("scrape_intervals: 1m").is_err());
        assert!(serde_saphyr::from_str::<GlobalConfig>("remote_write: []").is_err());
    }

    #[test]
    fn every_action_is_accepted_in_any_case() {
        let names = [
            "replace",
            "keep",
            "drop",
            "keepequal",
            "dropequal",
            "hashmod",
            "labelmap",
            "labeldrop",
            "labelkeep",
            "lowercase",
            "uppercase",
        ];
        for name in names {
            let action: RelabelAction = name.parse().unwrap();
            assert_eq!(action.as_str(), name);
            assert_eq!(name.to_uppercase().parse::<RelabelAction>(), Ok(action));
        }
        let rule: RelabelConfig =
            serde_saphyr::from_str("action: LabelDrop\nregex: tmp_.*").unwrap();
        assert_eq!(rule.action, RelabelAction::LabelDrop);
        assert_eq!(
            serde_json::to_string(&rule.action).unwrap(),
            "\"labeldrop\""
        );
    }

    #[test]
    fn relabel_rules_are_checked_per_action() {
        let cases: &[(&str, &str)] = &[
            (
                "action: replace",
                ".target_label: replace action requires a target_label",
            ),
            (
                "target_label: 1abc",
                ".target_label: \"1abc\" is not a valid target_label for the replace action",
            ),
            (
                "target_label: foo-bar",
                ".target_label: \"foo-bar\" is not a valid target_label for the replace action",
            ),
            (
                "target_label: 'x_$'",
                ".target_label: \"x_$\" is not a valid target_label for the replace action",
            ),
            (
                "target_label: '${1'",
                ".target_label: \"${1\" is not a valid target_label for the replace action",
            ),
            (
                "action: hashmod\ntarget_label: h",
                ".modulus: hashmod action requires a non-zero modulus",
            ),
            (
                "action: hashmod\nmodulus: 2",
                ".target_label: hashmod action requires a target_label",
            ),
            (
                "action: hashmod\nmodulus: 2\ntarget_label: '$1'",
                ".target_label: \"$1\" is not a valid target_label for the hashmod action",
            ),
            (
                "action: lowercase",
                ".target_label: lowercase action requires a target_label",
            ),
            (
                "action: uppercase\ntarget_label: u\nreplacement: x",
                ".replacement: replacement cannot be set for the uppercase action",
            ),
            (
                "action: keepequal",
                ".target_label: keepequal action requires a target_label",
            ),
            (
                "action: dropequal\ntarget_label: a\nregex: b",
                ": dropequal action takes only source_labels and target_label, no other fields",
            ),
            (
                "action: keepequal\ntarget_label: a\nseparator: ','",
                ": keepequal action takes only source_labels and target_label, no other fields",
            ),
            (
                "action: keepequal\ntarget_label: a\nreplacement: b",
                ".replacement: replacement cannot be set for the keepequal action",
            ),
            (
                "action: labelmap\nreplacement: 'bad-name'",
                ".replacement: \"bad-name\" is not a valid replacement for the labelmap action",
            ),
            (
                "action: labeldrop\nsource_labels: [a]",
                ": labeldrop action takes only regex, no other fields",
            ),
            (
                "action: labelkeep\ntarget_label: a",
                ": labelkeep action takes only regex, no other fields",
            ),
            (
                "action: labelkeep\nreplacement: x",
                ": labelkeep action takes only regex, no other fields",
            ),
            (
                "action: labeldrop\nmodulus: 3",
                ": labeldrop action takes only regex, no other fields",
            ),
            (
                "action: keep\nsource_labels: [bad.name]",
                ".source_labels[0]: \"bad.name\" is not a valid label name",
            ),
        ];
        for (rule, expected) in cases {
            let problems = relabel_problems(rule);
            assert_eq!(problems.len(), 1, "{rule}: {problems:?}");
            assert_eq!(
                problems[0],
                format!("scrape_configs[1].relabel_configs[0]{expected}"),
                "{rule}"
            );
        }
        for valid in [
            "target_label: '${1}_$2x'",
            "target_label: '$host'",
            "action: labelmap\nregex: (.*)",
            "action: labelmap\nregex: __meta_(.+)\nreplacement: 'meta_${1}'",
            "action: keep",
            "action: drop\nsource_labels: [a, b]\nseparator: ','\nregex: x,y",
        ] {
            assert_eq!(relabel_problems(valid), Vec::<String>::new(), "{valid}");
        }
    }

    #[test]
    fn relabel_regex_must_compile_anchored() {
        let problems = relabel_problems("action: keep\nregex: 'foo(bar'");
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("scrape_configs[1].relabel_configs[0].regex: invalid regular expression \"foo(bar\": "),
            "{problems:?}"
        );
        assert!(!problems[0].contains('\n'));
        // Valid RE2 alternations stay valid once wrapped in the anchors.
        assert!(relabel_problems("action: keep\nregex: 'a|b'").is_empty());
        assert!(anchored_regex_problem("a)|(b").is_none());
    }

    #[test]
    fn static_targets_must_be_addresses_unless_relabeled() {
        let config = parse_scrape(
            "job_name: x\nstatic_configs:\n  - targets: ['', 'http://example.com', 'host:99999', 'a:b:c', '[::1', ':9100', 'ok:1']\n    labels: {'bad-label': x}",
        );
        let problems = problems_of(&[config], &GlobalConfig::default());
        assert_eq!(
            problems,
            [
                "scrape_configs[0].static_configs[0].targets[0]: target must not be empty",
                "scrape_configs[0].static_configs[0].targets[1]: \"http://example.com\" is not a valid target: expected host or host:port without scheme or path",
                "scrape_configs[0].static_configs[0].targets[2]: \"host:99999\" is not a valid target: port must be a number from 0 to 65535",
                "scrape_configs[0].static_configs[0].targets[3]: \"a:b:c\" is not a valid target: IPv6 addresses must be written in brackets, e.g. [::1]:9100",
                "scrape_configs[0].static_configs[0].targets[4]: \"[::1\" is not a valid target: missing closing ] after IPv6 address",
                "scrape_configs[0].static_configs[0].targets[5]: \":9100\" is not a valid target: missing host",
                "scrape_configs[0].static_configs[0].labels: \"bad-label\" is not a valid label name",
            ]
        );

        // The blackbox exporter pattern: URLs as targets, the address set by relabeling.
        let blackbox = parse_scrape(
            r#"
job_name: blackbox
metrics_path: /probe
params:
  module: [http_2xx]
static_configs:
  - targets: ['http://prometheus.io', 'https://prometheus.io']
relabel_configs:
  - source_labels: [__address__]
    target_label: __param_target
  - source_labels: [__param_target]
    target_label: instance
  - target_label: __address__
    replacement: 127.0.0.1:9115
"#,
        );
        assert!(problems_of(&[blackbox], &GlobalConfig::default()).is_empty());
    }

    #[test]
    fn file_sd_patterns_follow_prometheus_rules() {
        for good in [
            "a.json",
            "dir/*.yml",
            "/etc/p/tg_*.yaml",
            "X.JSON",
            "dir/a*b*.json",
            "*.yml",
        ] {
            assert!(is_valid_file_sd_pattern(good), "{good}");
        }
        for bad in ["a.txt", "dir*/a.json", "a", "a.Json", "targets/*"] {
            assert!(!is_valid_file_sd_pattern(bad), "{bad}");
        }
        let config = parse_scrape("job_name: x\nfile_sd_configs: [{files: []}, {files: [a.conf]}]");
        assert_eq!(
            problems_of(&[config], &GlobalConfig::default()),
            [
                "scrape_configs[0].file_sd_configs[0].files: file_sd config must contain at least one file pattern",
                "scrape_configs[0].file_sd_configs[1].files[0]: \"a.conf\" is not a valid file pattern: it must end in .json, .yml or .yaml and only its last path segment may contain a *",
            ]
        );
    }

    #[test]
    fn http_client_conflicts_are_reported() {
        let cases: &[(&str, &str)] = &[
            ("basic_auth: {username: u, password: p, password_file: f}", "scrape_configs[0].basic_auth: at most one of password & password_file must be configured"),
            ("basic_auth: {username: u, username_file: f}", "scrape_configs[0].basic_auth: at most one of username & username_file must be configured"),
            ("bearer_token: a\nbearer_token_file: b", "scrape_configs[0]: at most one of bearer_token & bearer_token_file must be configured"),
            ("bearer_token: a\nbasic_auth: {username: u}", "scrape_configs[0]: at most one of basic_auth, bearer_token & bearer_token_file must be configured"),
            ("bearer_token: a\nauthorization: {credentials: b}", "scrape_configs[0]: authorization is not compatible with bearer_token & bearer_token_file"),
            ("basic_auth: {username: u}\nauthorization: {credentials: b}", "scrape_configs[0]: at most one of basic_auth & authorization must be configured"),
            ("authorization: {credentials: a, credentials_file: b}", "scrape_configs[0].authorization: at most one of credentials & credentials_file must be configured"),
            ("authorization: {type: Basic, credentials: a}", "scrape_configs[0].authorization.type: authorization type cannot be \"basic\", use basic_auth instead"),
            ("tls_config: {cert_file: c.pem}", "scrape_configs[0].tls_config.cert_file: client cert file \"c.pem\" specified without client key file"),
            ("tls_config: {key_file: k.pem}", "scrape_configs[0].tls_config.key_file: client key file \"k.pem\" specified without client cert file"),
            ("tls_config: {min_version: TLS13, max_version: TLS12}", "scrape_configs[0].tls_config.max_version: max_version must be greater than or equal to min_version"),
            ("proxy_url: proxy.internal:3128", "scrape_configs[0].proxy_url: invalid URL: expected an absolute http/https/socks5/socks5h URL"),
            ("proxy_url: 'ftp://proxy'", "scrape_configs[0].proxy_url: invalid URL: unsupported scheme \"ftp\", expected http/https/socks5/socks5h"),
            ("scrape_protocols: []", "scrape_configs[0].scrape_protocols: must not be empty"),
            ("scrape_protocols: [PrometheusProto, PrometheusProto]", "scrape_configs[0].scrape_protocols: duplicated protocol PrometheusProto"),
        ];
        for (fields, expected) in cases {
            let config = parse_scrape(&format!("job_name: x\n{fields}"));
            assert_eq!(
                problems_of(&[config], &GlobalConfig::default()),
                [*expected],
                "{fields}"
            );
        }
    }

    #[test]
    fn global_labels_and_intervals_are_checked() {
        let global: GlobalConfig = serde_saphyr::from_str(
            "scrape_interval: 0s\nevaluation_interval: 0s\nexternal_labels: {'a.b': x, ok: y}",
        )
        .unwrap();
        assert_eq!(
            problems_of(&[], &global),
            [
                "global.scrape_interval: must be greater than zero",
                "global.evaluation_interval: must be greater than zero",
                "global.external_labels: \"a.b\" is not a valid label name",
            ]
        );
    }

    #[test]
    fn secrets_never_show_in_debug_or_serialized_output() {
        let file = full();
        let printed = format!("{:?}", file.scrape_configs);
        assert!(
            !printed.contains("hunter2") && !printed.contains("s3cr3t-token"),
            "{printed}"
        );
        let serialized = serde_json::to_string(&file.scrape_configs).unwrap();
        assert!(!serialized.contains("hunter2") && !serialized.contains("s3cr3t-token"));
    }

    #[test]
    fn serialization_round_trips() {
        let file = full();
        let round_trip = |config: &ScrapeConfig| -> ScrapeConfig {
            serde_json::from_value(serde_json::to_value(config).unwrap()).unwrap()
        };
        // Secrets serialize redacted, so compare a config without them.
        let token = &file.scrape_configs[1];
        assert_eq!(&round_trip(token), token);
        let mut node = file.scrape_configs[0].clone();
        node.basic_auth = None;
        assert_eq!(round_trip(&node), node);
        let global: GlobalConfig =
            serde_json::from_value(serde_json::to_value(&file.global).unwrap()).unwrap();
        assert_eq!(global, file.global);
    }

    #[test]
    fn host_port_and_url_helpers() {
        assert_eq!(split_host_port("a:80"), Ok(("a", Some(80))));
        assert_eq!(split_host_port("a"), Ok(("a", None)));
        assert_eq!(
            split_host_port("[fe80::1]:9100"),
            Ok(("fe80::1", Some(9100)))
        );
        assert_eq!(split_host_port("[fe80::1]"), Ok(("fe80::1", None)));
        assert!(split_host_port("[::1]x").is_err());
        assert!(split_host_port("a:").is_err());
        assert_eq!(
            url_problem("https://user:pw@hooks.example.com/x?y", &["https"]),
            None
        );
        assert_eq!(
            url_problem("http:///path", &["http"]).as_deref(),
            Some("invalid URL: missing host")
        );
        assert!(url_problem("https://exa mple.com", &["https"]).is_some());
        assert_eq!(join_path("", "a"), "a");
        assert_eq!(join_path("a", ""), "a");
        assert_eq!(join_path("a", "b"), "a.b");
    }
}
