//! The `alertmanager:` block, an alertmanager.yml pasted unchanged: routing tree, receivers,
//! inhibition rules, time intervals and templates, with upstream defaults and validation.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::{Deserializer, IgnoredAny};
use serde::{Deserialize, Serialize, Serializer};

use super::duration::PromDuration;
use super::problems::Problems;
use super::scrape::{
    anchored_regex_problem, is_valid_label_name, join_path, split_host_port, url_problem,
    HttpClientConfig, TlsConfig,
};
use super::secret::Secret;

/// Where Slack bot tokens post; also the one `api_url` that may be combined with a token.
pub const SLACK_POST_MESSAGE_URL: &str = "https://slack.com/api/chat.postMessage";

/// The whole alertmanager.yml.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertmanagerConfig {
    pub global: AlertmanagerGlobal,
    pub route: Option<Route>,
    pub receivers: Vec<Receiver>,
    pub inhibit_rules: Vec<InhibitRule>,
    pub time_intervals: Vec<TimeInterval>,
    /// Older name of `time_intervals`; both lists share one namespace.
    pub mute_time_intervals: Vec<TimeInterval>,
    /// Globs of notification template files.
    pub templates: Vec<String>,
    /// Alertmanager's own trace export. Accepted so pasted files load; Sightline's tracing is
    /// configured elsewhere.
    pub tracing: Option<Discarded>,
    /// Alertmanager's event recorder, which upstream only runs behind a feature flag.
    /// Accepted so pasted files load; Sightline has no event recorder.
    pub event_recorder: Option<Discarded>,
}

/// A value that is read and thrown away, for keys accepted only so that pasted files load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Discarded;

impl<'de> Deserialize<'de> for Discarded {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| Discarded)
    }
}

impl Serialize for Discarded {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

/// alertmanager.yml's `global`: defaults for the receivers.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertmanagerGlobal {
    pub resolve_timeout: PromDuration,
    /// Used by receivers without their own `http_config`.
    pub http_config: HttpClientConfig,

    pub smtp_from: Option<String>,
    pub smtp_smarthost: Option<String>,
    pub smtp_hello: String,
    pub smtp_auth_username: Option<String>,
    pub smtp_auth_password: Option<Secret>,
    pub smtp_auth_password_file: Option<String>,
    pub smtp_auth_identity: Option<String>,
    pub smtp_auth_secret: Option<Secret>,
    pub smtp_auth_secret_file: Option<String>,
    pub smtp_require_tls: bool,
    pub smtp_tls_config: Option<TlsConfig>,
    pub smtp_force_implicit_tls: Option<bool>,

    pub slack_api_url: Option<Secret>,
    pub slack_api_url_file: Option<String>,
    pub slack_app_token: Option<Secret>,
    pub slack_app_token_file: Option<String>,
    pub slack_app_url: String,

    // Defaults of integrations Sightline does not support yet. Accepted so pasted files load;
    // a receiver that uses one of those integrations fails validation.
    pub jira_api_url: Option<Discarded>,
    pub victorops_api_key: Option<Discarded>,
    pub victorops_api_key_file: Option<Discarded>,
    pub victorops_api_url: Option<Discarded>,
    pub pagerduty_url: Option<Discarded>,
    pub opsgenie_api_key: Option<Discarded>,
    pub opsgenie_api_key_file: Option<Discarded>,
    pub opsgenie_api_url: Option<Discarded>,
    pub rocketchat_api_url: Option<Discarded>,
    pub rocketchat_token: Option<Discarded>,
    pub rocketchat_token_file: Option<Discarded>,
    pub rocketchat_token_id: Option<Discarded>,
    pub rocketchat_token_id_file: Option<Discarded>,
    pub wechat_api_url: Option<Discarded>,
    pub wechat_api_secret: Option<Discarded>,
    pub wechat_api_secret_file: Option<Discarded>,
    pub wechat_api_corp_id: Option<Discarded>,
    pub telegram_api_url: Option<Discarded>,
    pub telegram_bot_token: Option<Discarded>,
    pub telegram_bot_token_file: Option<Discarded>,
    pub webex_api_url: Option<Discarded>,
    pub mattermost_webhook_url: Option<Discarded>,
    pub mattermost_webhook_url_file: Option<Discarded>,
}

impl Default for AlertmanagerGlobal {
    fn default() -> Self {
        AlertmanagerGlobal {
            resolve_timeout: PromDuration::from_secs(5 * 60),
            http_config: HttpClientConfig::default(),
            smtp_from: None,
            smtp_smarthost: None,
            smtp_hello: "localhost".to_owned(),
            smtp_auth_username: None,
            smtp_auth_password: None,
            smtp_auth_password_file: None,
            smtp_auth_identity: None,
            smtp_auth_secret: None,
            smtp_auth_secret_file: None,
            smtp_require_tls: true,
            smtp_tls_config: None,
            smtp_force_implicit_tls: None,
            slack_api_url: None,
            slack_api_url_file: None,
            slack_app_token: None,
            slack_app_token_file: None,
            slack_app_url: SLACK_POST_MESSAGE_URL.to_owned(),
            jira_api_url: None,
            victorops_api_key: None,
            victorops_api_key_file: None,
            victorops_api_url: None,
            pagerduty_url: None,
            opsgenie_api_key: None,
            opsgenie_api_key_file: None,
            opsgenie_api_url: None,
            rocketchat_api_url: None,
            rocketchat_token: None,
            rocketchat_token_file: None,
            rocketchat_token_id: None,
            rocketchat_token_id_file: None,
            wechat_api_url: None,
            wechat_api_secret: None,
            wechat_api_secret_file: None,
            wechat_api_corp_id: None,
            telegram_api_url: None,
            telegram_bot_token: None,
            telegram_bot_token_file: None,
            webex_api_url: None,
            mattermost_webhook_url: None,
            mattermost_webhook_url_file: None,
        }
    }
}

impl AlertmanagerGlobal {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if self.resolve_timeout.is_zero() {
            problems.push(
                join_path(path, "resolve_timeout"),
                "must be greater than zero",
            );
        }
        self.http_config
            .validate(&join_path(path, "http_config"), problems);
        if let Some(smarthost) = &self.smtp_smarthost {
            if let Some(problem) = smarthost_problem(smarthost) {
                problems.push(join_path(path, "smtp_smarthost"), problem);
            }
        }
        if self.smtp_auth_password.is_some() && self.smtp_auth_password_file.is_some() {
            problems.push(
                path,
                "at most one of smtp_auth_password & smtp_auth_password_file must be configured",
            );
        }
        if self.smtp_auth_secret.is_some() && self.smtp_auth_secret_file.is_some() {
            problems.push(
                path,
                "at most one of smtp_auth_secret & smtp_auth_secret_file must be configured",
            );
        }
        if let Some(tls) = &self.smtp_tls_config {
            tls.validate(&join_path(path, "smtp_tls_config"), problems);
        }

        if self.slack_api_url.is_some() && self.slack_api_url_file.is_some() {
            problems.push(
                path,
                "at most one of slack_api_url & slack_api_url_file must be configured",
            );
        }
        if self.slack_app_token.is_some() && self.slack_app_token_file.is_some() {
            problems.push(
                path,
                "at most one of slack_app_token & slack_app_token_file must be configured",
            );
        }
        let has_token = self.slack_app_token.is_some() || self.slack_app_token_file.is_some();
        let has_webhook = self.slack_api_url_file.is_some()
            || self
                .slack_api_url
                .as_ref()
                .is_some_and(|url| !is_bot_api_url(url.expose(), &self.slack_app_url));
        if has_token && has_webhook {
            problems.push(
                path,
                "at most one of slack_app_token/slack_app_token_file & slack_api_url/slack_api_url_file \
                 must be configured",
            );
        }
        if let Some(problem) = self
            .slack_api_url
            .as_ref()
            .and_then(|url| http_url_problem(url.expose()))
        {
            problems.push(join_path(path, "slack_api_url"), problem);
        }
        if let Some(problem) = http_url_problem(&self.slack_app_url) {
            problems.push(join_path(path, "slack_app_url"), problem);
        }
    }
}

/// Whether a Slack `api_url` is the bot-token API endpoint rather than an incoming webhook.
fn is_bot_api_url(url: &str, app_url: &str) -> bool {
    url == SLACK_POST_MESSAGE_URL || url == app_url
}

fn http_url_problem(url: &str) -> Option<String> {
    url_problem(url, &["http", "https"])
}

fn smarthost_problem(smarthost: &str) -> Option<String> {
    match split_host_port(smarthost) {
        Ok((_, Some(_))) => None,
        Ok((_, None)) => Some(format!(
            "{smarthost:?} is missing a port, e.g. smtp.example.org:587"
        )),
        Err(problem) => Some(format!("{smarthost:?} is not a valid host:port: {problem}")),
    }
}

/// A node of the routing tree. Unset options are inherited from the parent route; read them
/// through [`Route::resolve`].
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Route {
    /// Empty means "the parent's receiver".
    pub receiver: String,
    /// `None` inherits the parent's grouping; `["..."]` groups by all labels.
    pub group_by: Option<Vec<String>>,
    #[serde(rename = "continue")]
    pub continue_matching: bool,
    /// Deprecated equality matchers, label name to value.
    #[serde(rename = "match")]
    pub match_labels: BTreeMap<String, String>,
    /// Deprecated regex matchers, label name to regex.
    pub match_re: BTreeMap<String, String>,
    #[serde(deserialize_with = "deserialize_matchers")]
    pub matchers: Vec<Matcher>,
    /// Template strings made available to notifications, merged from parent to child.
    pub labels: BTreeMap<String, String>,
    pub group_wait: Option<PromDuration>,
    pub group_interval: Option<PromDuration>,
    pub repeat_interval: Option<PromDuration>,
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
    pub routes: Vec<Route>,
}

/// How a route groups alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    Labels(Vec<String>),
    /// `group_by: ['...']`: every distinct label set is its own group.
    All,
}

/// A route's options after inheritance from its ancestors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSettings {
    pub receiver: String,
    pub group_by: GroupBy,
    pub group_wait: PromDuration,
    pub group_interval: PromDuration,
    pub repeat_interval: PromDuration,
    pub labels: BTreeMap<String, String>,
}

impl Default for RouteSettings {
    /// What the root route inherits: Alertmanager's defaults.
    fn default() -> Self {
        RouteSettings {
            receiver: String::new(),
            group_by: GroupBy::Labels(Vec::new()),
            group_wait: PromDuration::from_secs(30),
            group_interval: PromDuration::from_secs(5 * 60),
            repeat_interval: PromDuration::from_secs(4 * 3600),
            labels: BTreeMap::new(),
        }
    }
}

impl Route {
    /// This route's settings given its parent's (`None` for the root route).
    pub fn resolve(&self, parent: Option<&RouteSettings>) -> RouteSettings {
        let inherited = parent.cloned().unwrap_or_default();
        let group_by = match &self.group_by {
            None => inherited.group_by,
            Some(labels) if labels.iter().any(|label| label == "...") => GroupBy::All,
            Some(labels) => GroupBy::Labels(labels.clone()),
        };
        let mut labels = inherited.labels;
        labels.extend(
            self.labels
                .iter()
                .map(|(name, value)| (name.clone(), value.clone())),
        );
        RouteSettings {
            receiver: if self.receiver.is_empty() {
                inherited.receiver
            } else {
                self.receiver.clone()
            },
            group_by,
            group_wait: self.group_wait.unwrap_or(inherited.group_wait),
            group_interval: self.group_interval.unwrap_or(inherited.group_interval),
            repeat_interval: self.repeat_interval.unwrap_or(inherited.repeat_interval),
            labels,
        }
    }

    /// All conditions an alert must meet: `matchers` plus the deprecated `match`/`match_re`.
    pub fn all_matchers(&self) -> Vec<Matcher> {
        combine_matchers(&self.matchers, &self.match_labels, &self.match_re)
    }

    fn validate(&self, path: &str, names: &DefinedNames<'_>, problems: &mut Problems) {
        if !self.receiver.is_empty() && !names.receivers.contains(self.receiver.as_str()) {
            problems.push(
                join_path(path, "receiver"),
                format!("undefined receiver {:?} used in route", self.receiver),
            );
        }
        if let Some(group_by) = &self.group_by {
            check_group_by(group_by, &join_path(path, "group_by"), problems);
        }
        check_legacy_matchers(&self.match_labels, &self.match_re, path, "match", problems);
        for name in self.labels.keys() {
            if !is_valid_label_name(name) {
                problems.push(
                    join_path(path, "labels"),
                    format!("invalid label name {name:?}"),
                );
            }
        }
        if self.group_interval.is_some_and(PromDuration::is_zero) {
            problems.push(
                join_path(path, "group_interval"),
                "group_interval cannot be zero",
            );
        }
        if self.repeat_interval.is_some_and(PromDuration::is_zero) {
            problems.push(
                join_path(path, "repeat_interval"),
                "repeat_interval cannot be zero",
            );
        }
        for (field, intervals) in [
            ("mute_time_intervals", &self.mute_time_intervals),
            ("active_time_intervals", &self.active_time_intervals),
        ] {
            for (index, name) in intervals.iter().enumerate() {
                if !names.time_intervals.contains(name.as_str()) {
                    problems.push(
                        format!("{}[{index}]", join_path(path, field)),
                        format!("undefined time interval {name:?} used in route"),
                    );
                }
            }
        }
        for (index, child) in self.routes.iter().enumerate() {
            child.validate(
                &format!("{}[{index}]", join_path(path, "routes")),
                names,
                problems,
            );
        }
    }
}

fn check_group_by(group_by: &[String], path: &str, problems: &mut Problems) {
    if group_by.iter().any(|label| label == "...") && group_by.len() > 1 {
        problems.push(
            path,
            "cannot have wildcard group_by (`...`) and other labels at the same time",
        );
        return;
    }
    let mut seen = BTreeSet::new();
    for label in group_by.iter().filter(|label| *label != "...") {
        if !is_valid_label_name(label) {
            problems.push(
                path,
                format!("invalid label name {label:?} in group_by list"),
            );
        } else if !seen.insert(label.as_str()) {
            problems.push(path, format!("duplicated label {label:?} in group_by"));
        }
    }
}

/// Checks the deprecated `<prefix>` / `<prefix>_re` maps of a route or inhibit rule.
fn check_legacy_matchers(
    equal: &BTreeMap<String, String>,
    regex: &BTreeMap<String, String>,
    path: &str,
    prefix: &str,
    problems: &mut Problems,
) {
    let regex_key = format!("{prefix}_re");
    for (key, map) in [(prefix, equal), (regex_key.as_str(), regex)] {
        for name in map.keys() {
            if !is_valid_label_name(name) {
                problems.push(join_path(path, key), format!("invalid label name {name:?}"));
            }
        }
    }
    for (name, pattern) in regex {
        if let Some(problem) = anchored_regex_problem(pattern) {
            problems.push(join_path(&join_path(path, &regex_key), name), problem);
        }
    }
}

fn combine_matchers(
    matchers: &[Matcher],
    equal: &BTreeMap<String, String>,
    regex: &BTreeMap<String, String>,
) -> Vec<Matcher> {
    let legacy = |map: &BTreeMap<String, String>, op: MatchOp| -> Vec<Matcher> {
        map.iter()
            .map(|(name, value)| Matcher {
                name: name.clone(),
                op,
                value: value.clone(),
            })
            .collect()
    };
    let mut all = legacy(equal, MatchOp::Equal);
    all.extend(legacy(regex, MatchOp::Regex));
    all.extend_from_slice(matchers);
    all
}

/// The operator of a label matcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }

    /// Splits a leading operator off `text`.
    fn strip_from(text: &str) -> Option<(MatchOp, &str)> {
        [
            MatchOp::Regex,
            MatchOp::NotEqual,
            MatchOp::NotRegex,
            MatchOp::Equal,
        ]
        .into_iter()
        .find_map(|op| text.strip_prefix(op.as_str()).map(|rest| (op, rest)))
    }
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One label condition, e.g. `severity="critical"`. For the regex operators `value` is the
/// regex source; it matches anchored at both ends and is known to compile.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
}

impl Matcher {
    /// Parses one `matchers:` entry, which may hold several comma-separated matchers, optionally
    /// in braces. Accepts what upstream accepts in its default (fallback) mode: the classic
    /// syntax, and failing that the UTF-8 syntax with quoted names and Go string escapes.
    pub fn parse_list(input: &str) -> Result<Vec<Matcher>, String> {
        match parse_classic_matchers(input) {
            Ok(matchers) => Ok(matchers),
            Err(_) => parse_utf8_matchers(input)
                .map_err(|problem| format!("invalid matcher {input:?}: {problem}")),
        }
    }

    fn checked(name: String, op: MatchOp, value: String) -> Result<Matcher, String> {
        if name.is_empty() {
            return Err("label name must not be empty".to_owned());
        }
        if matches!(op, MatchOp::Regex | MatchOp::NotRegex) {
            if let Some(problem) = anchored_regex_problem(&value) {
                return Err(problem);
            }
        }
        Ok(Matcher { name, op, value })
    }
}

impl fmt::Display for Matcher {
    /// Prints a form both matcher syntaxes read back as the same matcher.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_valid_label_name(&self.name) {
            f.write_str(&self.name)?;
        } else {
            write_quoted(f, &self.name)?;
        }
        f.write_str(self.op.as_str())?;
        write_quoted(f, &self.value)
    }
}

fn write_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in text.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '"' => f.write_str("\\\"")?,
            '\n' => f.write_str("\\n")?,
            other => write!(f, "{other}")?,
        }
    }
    f.write_str("\"")
}

impl Serialize for Matcher {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

fn deserialize_matchers<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Matcher>, D::Error> {
    let entries = Vec::<String>::deserialize(deserializer)?;
    let mut matchers = Vec::new();
    for entry in &entries {
        matchers.extend(Matcher::parse_list(entry).map_err(serde::de::Error::custom)?);
    }
    Ok(matchers)
}

fn is_ascii_space(c: char) -> bool {
    c.is_ascii_whitespace()
}

/// The classic syntax: `name op value` items split on commas outside double quotes, braces
/// optional, names in `[a-zA-Z_:][a-zA-Z0-9_:]*`, values optionally quoted with `\"`, `\n`
/// and `\\` escapes (any other backslash is literal).
fn parse_classic_matchers(input: &str) -> Result<Vec<Matcher>, String> {
    let body = input.strip_prefix('{').unwrap_or(input);
    let body = body.strip_suffix('}').unwrap_or(body);
    let mut items = Vec::new();
    let mut current = String::new();
    let (mut in_quotes, mut escaped) = (false, false);
    for c in body.chars() {
        match c {
            ',' if !in_quotes => {
                items.push(std::mem::take(&mut current));
                escaped = false;
                continue;
            }
            '"' if escaped => escaped = false,
            '"' => in_quotes = !in_quotes,
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
        current.push(c);
    }
    if !current.trim_matches(is_ascii_space).is_empty() {
        items.push(current);
    }
    items
        .iter()
        .map(|item| parse_classic_matcher(item))
        .collect()
}

fn parse_classic_matcher(item: &str) -> Result<Matcher, String> {
    let bad_format = || format!("bad matcher format: {item:?}");
    let text = item.trim_matches(is_ascii_space);
    let name_end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(text.len());
    let name = &text[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(bad_format());
    }
    let (op, rest) = MatchOp::strip_from(text[name_end..].trim_start_matches(is_ascii_space))
        .ok_or_else(bad_format)?;
    let value = unescape_classic_value(rest.trim_start_matches(is_ascii_space))?;
    Matcher::checked(name.to_owned(), op, value)
}

fn unescape_classic_value(raw: &str) -> Result<String, String> {
    let (body, mut expect_closing_quote) = match raw.strip_prefix('"') {
        Some(body) => (body, true),
        None => (raw, false),
    };
    let unescaped_quote = || format!("matcher value contains unescaped double quote: {raw}");
    let mut value = String::with_capacity(body.len());
    let mut chars = body.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&(_, next @ ('n' | '"' | '\\'))) => {
                    chars.next();
                    value.push(if next == 'n' { '\n' } else { next });
                }
                _ => value.push('\\'),
            },
            '"' if expect_closing_quote && index + 1 == body.len() => expect_closing_quote = false,
            '"' => return Err(unescaped_quote()),
            other => value.push(other),
        }
    }
    if expect_closing_quote {
        return Err(unescaped_quote());
    }
    Ok(value)
}

#[derive(Debug, PartialEq)]
enum MatcherToken {
    Open,
    Close,
    Comma,
    Op(MatchOp),
    /// A quoted string (escapes resolved) or an unquoted literal.
    Text(String),
}

/// The UTF-8 syntax: tokens are braces, commas, operators, double-quoted strings with Go escapes
/// and unquoted literals of any characters but whitespace and `{}!=~,\"'` and backquote.
fn lex_matchers(input: &str) -> Result<Vec<MatcherToken>, String> {
    let is_literal_char = |c: char| !c.is_whitespace() && !"{}!=~,\\\"'`".contains(c);
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some((position, c)) = chars.next() {
        let token = match c {
            c if c.is_whitespace() => continue,
            '{' => MatcherToken::Open,
            '}' => MatcherToken::Close,
            ',' => MatcherToken::Comma,
            '=' if chars.next_if(|&(_, next)| next == '~').is_some() => {
                MatcherToken::Op(MatchOp::Regex)
            }
            '=' => MatcherToken::Op(MatchOp::Equal),
            '!' => match chars.next() {
                Some((_, '=')) => MatcherToken::Op(MatchOp::NotEqual),
                Some((_, '~')) => MatcherToken::Op(MatchOp::NotRegex),
                _ => return Err(format!("expected != or !~ at offset {position}")),
            },
            '"' => MatcherToken::Text(read_quoted(&mut chars)?),
            c if is_literal_char(c) => {
                let mut end = position + c.len_utf8();
                while let Some((index, next)) = chars.next_if(|&(_, next)| is_literal_char(next)) {
                    end = index + next.len_utf8();
                }
                MatcherToken::Text(input[position..end].to_owned())
            }
            other => return Err(format!("unexpected {other:?} at offset {position}")),
        };
        tokens.push(token);
    }
    Ok(tokens)
}

/// Reads the rest of a double-quoted string (the opening quote is consumed) with Go's escapes.
fn read_quoted(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<String, String> {
    let unterminated = || "unterminated quoted string".to_owned();
    let mut bytes = Vec::new();
    let take_digits =
        |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>, count: usize, radix: u32| {
            let mut value: u32 = 0;
            for _ in 0..count {
                let digit = chars
                    .next()
                    .and_then(|(_, c)| c.to_digit(radix))
                    .ok_or_else(|| "invalid escape sequence in quoted string".to_owned())?;
                value = value * radix + digit;
            }
            Ok::<u32, String>(value)
        };
    loop {
        let (_, c) = chars.next().ok_or_else(unterminated)?;
        let escaped = match c {
            '"' => break,
            '\\' => chars.next().ok_or_else(unterminated)?.1,
            other => {
                let mut buffer = [0; 4];
                bytes.extend_from_slice(other.encode_utf8(&mut buffer).as_bytes());
                continue;
            }
        };
        let simple = match escaped {
            'a' => Some(0x07),
            'b' => Some(0x08),
            'f' => Some(0x0c),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(0x0b),
            '\\' => Some(b'\\'),
            '"' => Some(b'"'),
            _ => None,
        };
        if let Some(byte) = simple {
            bytes.push(byte);
            continue;
        }
        let invalid = || format!("invalid escape sequence \\{escaped} in quoted string");
        match escaped {
            'x' => bytes.push(u8::try_from(take_digits(chars, 2, 16)?).map_err(|_| invalid())?),
            '0'..='7' => {
                let high = escaped.to_digit(8).unwrap_or_default();
                let value = high * 64 + take_digits(chars, 2, 8)?;
                bytes.push(u8::try_from(value).map_err(|_| invalid())?);
            }
            'u' | 'U' => {
                let digits = if escaped == 'u' { 4 } else { 8 };
                let scalar = char::from_u32(take_digits(chars, digits, 16)?).ok_or_else(invalid)?;
                let mut buffer = [0; 4];
                bytes.extend_from_slice(scalar.encode_utf8(&mut buffer).as_bytes());
            }
            _ => return Err(invalid()),
        }
    }
    String::from_utf8(bytes).map_err(|_| "quoted string is not valid UTF-8".to_owned())
}

fn parse_utf8_matchers(input: &str) -> Result<Vec<Matcher>, String> {
    let mut tokens = lex_matchers(input)?.into_iter().peekable();
    let braced = tokens.next_if_eq(&MatcherToken::Open).is_some();
    let mut matchers = Vec::new();
    loop {
        match tokens.next() {
            None if braced => return Err("missing closing }".to_owned()),
            None => break,
            Some(MatcherToken::Close) if braced => {
                if tokens.next().is_some() {
                    return Err("unexpected input after }".to_owned());
                }
                break;
            }
            Some(MatcherToken::Text(name)) => {
                let Some(MatcherToken::Op(op)) = tokens.next() else {
                    return Err(format!("expected an operator after {name:?}"));
                };
                let Some(MatcherToken::Text(value)) = tokens.next() else {
                    return Err(format!("expected a value after {name}{op}"));
                };
                matchers.push(Matcher::checked(name, op, value)?);
                match tokens.peek() {
                    Some(MatcherToken::Comma) => {
                        tokens.next();
                    }
                    None | Some(MatcherToken::Close) => {}
                    Some(_) => return Err("expected , between matchers".to_owned()),
                }
            }
            Some(token) => return Err(format!("expected a label name, found {token:?}")),
        }
    }
    Ok(matchers)
}

/// A named notification target with its integrations.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Receiver {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub slack_configs: Vec<SlackConfig>,
    pub email_configs: Vec<EmailConfig>,
    pub webhook_configs: Vec<WebhookConfig>,

    // Alertmanager integrations Sightline does not support yet: read so that validation can
    // say so instead of a generic unknown-key error.
    pub discord_configs: Vec<Discarded>,
    pub incidentio_configs: Vec<Discarded>,
    pub jira_configs: Vec<Discarded>,
    pub mattermost_configs: Vec<Discarded>,
    pub msteams_configs: Vec<Discarded>,
    pub msteamsv2_configs: Vec<Discarded>,
    pub opsgenie_configs: Vec<Discarded>,
    pub pagerduty_configs: Vec<Discarded>,
    pub pushover_configs: Vec<Discarded>,
    pub rocketchat_configs: Vec<Discarded>,
    pub sns_configs: Vec<Discarded>,
    pub telegram_configs: Vec<Discarded>,
    pub victorops_configs: Vec<Discarded>,
    pub webex_configs: Vec<Discarded>,
    pub wechat_configs: Vec<Discarded>,
}

impl Receiver {
    /// (key, number of entries) of each unsupported integration.
    fn unsupported_integrations(&self) -> [(&'static str, usize); 15] {
        [
            ("discord_configs", self.discord_configs.len()),
            ("incidentio_configs", self.incidentio_configs.len()),
            ("jira_configs", self.jira_configs.len()),
            ("mattermost_configs", self.mattermost_configs.len()),
            ("msteams_configs", self.msteams_configs.len()),
            ("msteamsv2_configs", self.msteamsv2_configs.len()),
            ("opsgenie_configs", self.opsgenie_configs.len()),
            ("pagerduty_configs", self.pagerduty_configs.len()),
            ("pushover_configs", self.pushover_configs.len()),
            ("rocketchat_configs", self.rocketchat_configs.len()),
            ("sns_configs", self.sns_configs.len()),
            ("telegram_configs", self.telegram_configs.len()),
            ("victorops_configs", self.victorops_configs.len()),
            ("webex_configs", self.webex_configs.len()),
            ("wechat_configs", self.wechat_configs.len()),
        ]
    }
}

/// A Slack notification, by incoming webhook (`api_url`) or bot token (`app_token`).
/// The template fields default to the templates in Alertmanager's default.tmpl.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SlackConfig {
    pub send_resolved: bool,
    pub api_url: Option<Secret>,
    pub api_url_file: Option<String>,
    pub app_token: Option<Secret>,
    pub app_token_file: Option<String>,
    pub app_url: Option<String>,
    pub channel: Option<String>,
    pub username: String,
    pub color: String,
    pub title: String,
    pub title_link: String,
    pub pretext: String,
    pub text: String,
    /// Sent as the message's top-level `text` when set.
    pub message_text: Option<String>,
    pub fields: Vec<SlackField>,
    pub short_fields: bool,
    pub footer: String,
    pub fallback: String,
    pub callback_id: String,
    pub icon_emoji: String,
    pub icon_url: String,
    pub image_url: Option<String>,
    pub thumb_url: Option<String>,
    pub link_names: bool,
    pub mrkdwn_in: Vec<String>,
    pub actions: Vec<SlackAction>,
    pub http_config: Option<HttpClientConfig>,
    /// Zero means no timeout of its own.
    pub timeout: PromDuration,
    /// Edit the first message of a group instead of posting new ones; bot tokens only.
    pub update_message: bool,
}

impl Default for SlackConfig {
    fn default() -> Self {
        let template = |name: &str| format!("{{{{ template \"slack.default.{name}\" . }}}}");
        SlackConfig {
            send_resolved: false,
            api_url: None,
            api_url_file: None,
            app_token: None,
            app_token_file: None,
            app_url: None,
            channel: None,
            username: template("username"),
            color: template("color"),
            title: template("title"),
            title_link: template("titlelink"),
            pretext: template("pretext"),
            text: template("text"),
            message_text: None,
            fields: Vec::new(),
            short_fields: false,
            footer: template("footer"),
            fallback: template("fallback"),
            callback_id: template("callbackid"),
            icon_emoji: template("iconemoji"),
            icon_url: template("iconurl"),
            image_url: None,
            thumb_url: None,
            link_names: false,
            mrkdwn_in: vec![
                "fallback".to_owned(),
                "pretext".to_owned(),
                "text".to_owned(),
            ],
            actions: Vec::new(),
            http_config: None,
            timeout: PromDuration::from_secs(0),
            update_message: false,
        }
    }
}

impl SlackConfig {
    fn has_own_webhook(&self) -> bool {
        self.api_url.is_some() || self.api_url_file.is_some()
    }

    fn has_own_token(&self) -> bool {
        self.app_token.is_some() || self.app_token_file.is_some()
    }

    /// Fills in the global webhook or token the way upstream does: a config with neither
    /// takes the global token (unless it brings its own `authorization`), else the global
    /// webhook; token configs post to `app_url`, by default the global one.
    fn apply_globals(&mut self, global: &AlertmanagerGlobal) {
        let own_authorization = self
            .http_config
            .as_ref()
            .is_some_and(|http| http.authorization.is_some());
        if self.http_config.is_none() {
            self.http_config = Some(global.http_config.clone());
        }
        if !self.has_own_webhook() && !self.has_own_token() {
            let global_token =
                global.slack_app_token.is_some() || global.slack_app_token_file.is_some();
            if global_token && !own_authorization {
                self.app_token = global.slack_app_token.clone();
                self.app_token_file = global.slack_app_token_file.clone();
            } else {
                self.api_url = global.slack_api_url.clone();
                self.api_url_file = global.slack_api_url_file.clone();
            }
        }
        if self.has_own_token() && self.app_url.is_none() {
            self.app_url = Some(global.slack_app_url.clone());
        }
    }

    /// `self` is the config as written, `resolved` the same after [`SlackConfig::apply_globals`].
    fn validate(&self, resolved: &SlackConfig, path: &str, problems: &mut Problems) {
        if self.api_url.is_some() && self.api_url_file.is_some() {
            problems.push(
                path,
                "at most one of api_url & api_url_file must be configured",
            );
        }
        if self.app_token.is_some() && self.app_token_file.is_some() {
            problems.push(
                path,
                "at most one of app_token & app_token_file must be configured",
            );
        }
        let app_url = resolved
            .app_url
            .as_deref()
            .unwrap_or(SLACK_POST_MESSAGE_URL);
        let own_webhook = self.api_url_file.is_some()
            || self
                .api_url
                .as_ref()
                .is_some_and(|url| !is_bot_api_url(url.expose(), app_url));
        if self.has_own_token() && own_webhook {
            problems.push(
                path,
                "at most one of app_token/app_token_file & api_url/api_url_file must be configured",
            );
        }
        if !resolved.has_own_webhook() && !resolved.has_own_token() {
            problems.push(
                path,
                "no Slack API URL nor App token set either inline or in a file",
            );
        }
        let posts_to_webhook = !resolved.has_own_token()
            && resolved
                .api_url
                .as_ref()
                .is_some_and(|url| !is_bot_api_url(url.expose(), app_url));
        if resolved.update_message && posts_to_webhook {
            problems.push(
                join_path(path, "update_message"),
                format!(
                    "update_message can only be used with bot tokens. api_url must be set to \
                     {SLACK_POST_MESSAGE_URL}"
                ),
            );
        }
        if let Some(problem) = self
            .api_url
            .as_ref()
            .and_then(|url| http_url_problem(url.expose()))
        {
            problems.push(join_path(path, "api_url"), problem);
        }
        if let Some(problem) = self.app_url.as_deref().and_then(http_url_problem) {
            problems.push(join_path(path, "app_url"), problem);
        }
        for (index, field) in self.fields.iter().enumerate() {
            let field_path = format!("{}[{index}]", join_path(path, "fields"));
            if field.title.is_empty() {
                problems.push(&field_path, "missing title in Slack field configuration");
            }
            if field.value.is_empty() {
                problems.push(&field_path, "missing value in Slack field configuration");
            }
        }
        for (index, action) in self.actions.iter().enumerate() {
            action.validate(
                &format!("{}[{index}]", join_path(path, "actions")),
                problems,
            );
        }
        if let Some(http) = &self.http_config {
            http.validate(&join_path(path, "http_config"), problems);
        }
    }
}

/// An attachment field of a Slack message.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SlackField {
    pub title: String,
    pub value: String,
    /// Unset means the config's `short_fields`.
    pub short: Option<bool>,
}

/// A button of a Slack message (legacy interactive attachments).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SlackAction {
    #[serde(rename = "type")]
    pub action_type: String,
    pub text: String,
    pub url: Option<String>,
    pub name: Option<String>,
    pub value: Option<String>,
    pub style: Option<String>,
    pub confirm: Option<SlackConfirmationField>,
}

impl SlackAction {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if self.action_type.is_empty() {
            problems.push(path, "missing type in Slack action configuration");
        }
        if self.text.is_empty() {
            problems.push(path, "missing text in Slack action configuration");
        }
        if self.url.is_none() && self.name.is_none() {
            problems.push(path, "missing name or url in Slack action configuration");
        }
        if self
            .confirm
            .as_ref()
            .is_some_and(|confirm| confirm.text.is_empty())
        {
            problems.push(
                join_path(path, "confirm"),
                "missing text in Slack confirmation configuration",
            );
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SlackConfirmationField {
    pub text: String,
    pub title: String,
    pub ok_text: String,
    pub dismiss_text: String,
}

/// An e-mail notification. Unset SMTP settings come from `global`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    pub send_resolved: bool,
    /// Comma-separated addresses; a template.
    pub to: String,
    pub from: Option<String>,
    pub smarthost: Option<String>,
    pub hello: Option<String>,
    pub auth_username: Option<String>,
    pub auth_password: Option<Secret>,
    pub auth_password_file: Option<String>,
    pub auth_secret: Option<Secret>,
    pub auth_secret_file: Option<String>,
    pub auth_identity: Option<String>,
    pub require_tls: Option<bool>,
    /// Unset: implicit TLS on port 465, STARTTLS elsewhere.
    pub force_implicit_tls: Option<bool>,
    pub tls_config: Option<TlsConfig>,
    pub html: String,
    pub text: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub threading: EmailThreading,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            send_resolved: false,
            to: String::new(),
            from: None,
            smarthost: None,
            hello: None,
            auth_username: None,
            auth_password: None,
            auth_password_file: None,
            auth_secret: None,
            auth_secret_file: None,
            auth_identity: None,
            require_tls: None,
            force_implicit_tls: None,
            tls_config: None,
            html: "{{ template \"email.default.html\" . }}".to_owned(),
            text: None,
            headers: BTreeMap::new(),
            threading: EmailThreading::default(),
        }
    }
}

impl EmailConfig {
    fn apply_globals(&mut self, global: &AlertmanagerGlobal) {
        let fill = |own: &mut Option<String>, global: &Option<String>| {
            if own.is_none() {
                own.clone_from(global);
            }
        };
        fill(&mut self.from, &global.smtp_from);
        fill(&mut self.smarthost, &global.smtp_smarthost);
        fill(&mut self.auth_username, &global.smtp_auth_username);
        fill(&mut self.auth_identity, &global.smtp_auth_identity);
        if self.hello.is_none() {
            self.hello = Some(global.smtp_hello.clone());
        }
        if self.auth_password.is_none() && self.auth_password_file.is_none() {
            self.auth_password.clone_from(&global.smtp_auth_password);
            self.auth_password_file
                .clone_from(&global.smtp_auth_password_file);
        }
        if self.auth_secret.is_none() && self.auth_secret_file.is_none() {
            self.auth_secret.clone_from(&global.smtp_auth_secret);
            self.auth_secret_file
                .clone_from(&global.smtp_auth_secret_file);
        }
        self.require_tls.get_or_insert(global.smtp_require_tls);
        if self.force_implicit_tls.is_none() {
            self.force_implicit_tls = global.smtp_force_implicit_tls;
        }
        if self.tls_config.is_none() {
            self.tls_config.clone_from(&global.smtp_tls_config);
        }
    }

    /// `self` is the config as written, `resolved` the same after [`EmailConfig::apply_globals`].
    fn validate(&self, resolved: &EmailConfig, path: &str, problems: &mut Problems) {
        if self.to.is_empty() {
            problems.push(join_path(path, "to"), "missing to address in email config");
        }
        match &resolved.smarthost {
            None => problems.push(join_path(path, "smarthost"), "no global SMTP smarthost set"),
            Some(smarthost) => {
                if let Some(problem) = smarthost_problem(smarthost) {
                    problems.push(join_path(path, "smarthost"), problem);
                }
            }
        }
        if resolved.from.is_none() {
            problems.push(join_path(path, "from"), "no global SMTP from set");
        }
        if self.auth_password.is_some() && self.auth_password_file.is_some() {
            problems.push(
                path,
                "at most one of auth_password & auth_password_file must be configured",
            );
        }
        if self.auth_secret.is_some() && self.auth_secret_file.is_some() {
            problems.push(
                path,
                "at most one of auth_secret & auth_secret_file must be configured",
            );
        }
        let mut header_names = BTreeSet::new();
        for name in self.headers.keys() {
            if !header_names.insert(name.to_ascii_lowercase()) {
                problems.push(
                    join_path(path, "headers"),
                    format!("duplicate header {name:?} in email config"),
                );
            }
        }
        if let Some(tls) = &self.tls_config {
            tls.validate(&join_path(path, "tls_config"), problems);
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EmailThreading {
    pub enabled: bool,
    pub thread_by_date: ThreadByDate,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ThreadByDate {
    #[default]
    Daily,
    None,
}

/// A POST of the alert group as JSON to `url`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    pub send_resolved: bool,
    pub url: Option<Secret>,
    pub url_file: Option<String>,
    pub http_config: Option<HttpClientConfig>,
    /// Zero sends all alerts.
    pub max_alerts: u64,
    /// Zero means no timeout of its own.
    pub timeout: PromDuration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            send_resolved: true,
            url: None,
            url_file: None,
            http_config: None,
            max_alerts: 0,
            timeout: PromDuration::from_secs(0),
        }
    }
}

impl WebhookConfig {
    fn validate(&self, path: &str, problems: &mut Problems) {
        match (&self.url, &self.url_file) {
            (None, None) => problems.push(path, "one of url or url_file must be configured"),
            (Some(_), Some(_)) => {
                problems.push(path, "at most one of url & url_file must be configured")
            }
            (Some(url), None) => {
                if let Some(problem) = http_url_problem(url.expose()) {
                    problems.push(join_path(path, "url"), problem);
                }
            }
            (None, Some(_)) => {}
        }
        if let Some(http) = &self.http_config {
            http.validate(&join_path(path, "http_config"), problems);
        }
    }
}

/// Mutes alerts matching the target side while an alert matching the source side fires
/// with equal values of the `equal` labels.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct InhibitRule {
    pub name: Option<String>,
    #[serde(deserialize_with = "deserialize_matchers")]
    pub source_matchers: Vec<Matcher>,
    /// Deprecated.
    pub source_match: BTreeMap<String, String>,
    /// Deprecated.
    pub source_match_re: BTreeMap<String, String>,
    #[serde(deserialize_with = "deserialize_matchers")]
    pub target_matchers: Vec<Matcher>,
    /// Deprecated.
    pub target_match: BTreeMap<String, String>,
    /// Deprecated.
    pub target_match_re: BTreeMap<String, String>,
    pub equal: Vec<String>,
}

impl InhibitRule {
    pub fn all_source_matchers(&self) -> Vec<Matcher> {
        combine_matchers(
            &self.source_matchers,
            &self.source_match,
            &self.source_match_re,
        )
    }

    pub fn all_target_matchers(&self) -> Vec<Matcher> {
        combine_matchers(
            &self.target_matchers,
            &self.target_match,
            &self.target_match_re,
        )
    }

    fn validate(&self, path: &str, problems: &mut Problems) {
        check_legacy_matchers(
            &self.source_match,
            &self.source_match_re,
            path,
            "source_match",
            problems,
        );
        check_legacy_matchers(
            &self.target_match,
            &self.target_match_re,
            path,
            "target_match",
            problems,
        );
        for name in &self.equal {
            if !is_valid_label_name(name) {
                problems.push(
                    join_path(path, "equal"),
                    format!("invalid label name {name:?} in equal list"),
                );
            }
        }
    }
}

/// Named times that routes refer to in `mute_time_intervals` / `active_time_intervals`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TimeInterval {
    pub name: String,
    /// The interval is in effect when any of these matches.
    pub time_intervals: Vec<TimeIntervalSpec>,
}

/// Matches an instant when every non-empty list has an entry that contains it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TimeIntervalSpec {
    pub times: Vec<TimeRange>,
    pub weekdays: Vec<WeekdayRange>,
    pub days_of_month: Vec<DayOfMonthRange>,
    pub months: Vec<MonthRange>,
    pub years: Vec<YearRange>,
    /// IANA time zone name, `Local` or `UTC`; unset means UTC.
    pub location: Option<String>,
}

/// Minutes of the day, start inclusive, end exclusive; written `start_time: "HH:MM"`,
/// `end_time: "HH:MM"` with `24:00` allowed as an end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "TimeRangeText", into = "TimeRangeText")]
pub struct TimeRange {
    pub start_minute: u16,
    pub end_minute: u16,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TimeRangeText {
    start_time: String,
    end_time: String,
}

impl TryFrom<TimeRangeText> for TimeRange {
    type Error = String;
    fn try_from(text: TimeRangeText) -> Result<Self, Self::Error> {
        let start_minute = parse_clock(&text.start_time)?;
        let end_minute = parse_clock(&text.end_time)?;
        if start_minute >= end_minute {
            return Err(format!(
                "start_time {:?} must be before end_time {:?}",
                text.start_time, text.end_time
            ));
        }
        Ok(TimeRange {
            start_minute,
            end_minute,
        })
    }
}

impl From<TimeRange> for TimeRangeText {
    fn from(range: TimeRange) -> Self {
        let clock = |minute: u16| format!("{:02}:{:02}", minute / 60, minute % 60);
        TimeRangeText {
            start_time: clock(range.start_minute),
            end_time: clock(range.end_minute),
        }
    }
}

/// `HH:MM` with a two-digit hour, from 00:00 to 24:00, as minutes since midnight.
fn parse_clock(text: &str) -> Result<u16, String> {
    let invalid = || format!("{text:?} is not a valid time, expected HH:MM from 00:00 to 24:00");
    let (hours, minutes) = text.split_once(':').ok_or_else(invalid)?;
    let two_digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(hours) || !two_digits(minutes) {
        return Err(invalid());
    }
    let hours: u16 = hours.parse().map_err(|_| invalid())?;
    let minutes: u16 = minutes.parse().map_err(|_| invalid())?;
    if minutes > 59 || hours > 24 || (hours == 24 && minutes != 0) {
        return Err(invalid());
    }
    Ok(hours * 60 + minutes)
}

/// Splits `begin:end` or a single `value` (begin = end) and parses both ends.
fn parse_range<T: Copy>(
    text: &str,
    parse_one: impl Fn(&str) -> Result<T, String>,
) -> Result<(T, T), String> {
    match text.split_once(':') {
        Some((begin, end)) => Ok((parse_one(begin.trim())?, parse_one(end.trim())?)),
        None => parse_one(text.trim()).map(|value| (value, value)),
    }
}

fn format_range(begin: impl fmt::Display, end: impl fmt::Display, same: bool) -> String {
    if same {
        begin.to_string()
    } else {
        format!("{begin}:{end}")
    }
}

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Days of the week, 0 = Sunday to 6 = Saturday, inclusive; written `monday:friday` or `sunday`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct WeekdayRange {
    pub begin: u8,
    pub end: u8,
}

impl TryFrom<String> for WeekdayRange {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        let (begin, end) = parse_range(&text, |day| {
            WEEKDAYS
                .iter()
                .position(|name| name.eq_ignore_ascii_case(day))
                .and_then(|index| u8::try_from(index).ok())
                .ok_or_else(|| format!("{day:?} is not a valid weekday"))
        })?;
        if begin > end {
            return Err(format!("weekday range {text:?} starts after it ends"));
        }
        Ok(WeekdayRange { begin, end })
    }
}

impl From<WeekdayRange> for String {
    fn from(range: WeekdayRange) -> Self {
        let name = |day: u8| WEEKDAYS.get(usize::from(day)).copied().unwrap_or("?");
        format_range(name(range.begin), name(range.end), range.begin == range.end)
    }
}

/// Days of the month, inclusive; negative values count from the end (-1 = last day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct DayOfMonthRange {
    pub begin: i8,
    pub end: i8,
}

impl TryFrom<String> for DayOfMonthRange {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        let (begin, end) = parse_range(&text, |day| {
            day.parse::<i8>()
                .ok()
                .filter(|day| *day != 0 && (-31..=31).contains(day))
                .ok_or_else(|| format!("{day:?} is not a valid day of the month"))
        })?;
        let same_sign = (begin > 0) == (end > 0);
        if (same_sign && begin > end) || (begin < 0 && end > 0) {
            return Err(format!("day of month range {text:?} starts after it ends"));
        }
        Ok(DayOfMonthRange { begin, end })
    }
}

impl From<DayOfMonthRange> for String {
    fn from(range: DayOfMonthRange) -> Self {
        format_range(range.begin, range.end, range.begin == range.end)
    }
}

/// Months, 1 = January to 12 = December, inclusive; written by name or number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct MonthRange {
    pub begin: u8,
    pub end: u8,
}

impl TryFrom<String> for MonthRange {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        let (begin, end) = parse_range(&text, |month| {
            let by_name = MONTHS
                .iter()
                .position(|name| name.eq_ignore_ascii_case(month))
                .and_then(|index| u8::try_from(index + 1).ok());
            by_name
                .or_else(|| {
                    month
                        .parse::<u8>()
                        .ok()
                        .filter(|number| (1..=12).contains(number))
                })
                .ok_or_else(|| format!("{month:?} is not a valid month"))
        })?;
        if begin > end {
            return Err(format!("month range {text:?} starts after it ends"));
        }
        Ok(MonthRange { begin, end })
    }
}

impl From<MonthRange> for String {
    fn from(range: MonthRange) -> Self {
        format_range(range.begin, range.end, range.begin == range.end)
    }
}

/// Calendar years, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct YearRange {
    pub begin: u16,
    pub end: u16,
}

impl TryFrom<String> for YearRange {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        let (begin, end) = parse_range(&text, |year| {
            year.parse::<u16>()
                .ok()
                .filter(|year| *year > 0)
                .ok_or_else(|| format!("{year:?} is not a valid year"))
        })?;
        if begin > end {
            return Err(format!("year range {text:?} starts after it ends"));
        }
        Ok(YearRange { begin, end })
    }
}

impl From<YearRange> for String {
    fn from(range: YearRange) -> Self {
        format_range(range.begin, range.end, range.begin == range.end)
    }
}

/// Names other parts of the config refer to.
struct DefinedNames<'a> {
    receivers: BTreeSet<&'a str>,
    time_intervals: BTreeSet<&'a str>,
}

impl AlertmanagerConfig {
    /// A copy with `global` applied to every receiver the way upstream does on load: SMTP
    /// settings, `http_config`, and the Slack webhook/token. The notifier should use this copy.
    pub fn with_global_defaults(&self) -> AlertmanagerConfig {
        let mut resolved = self.clone();
        for receiver in &mut resolved.receivers {
            for slack in &mut receiver.slack_configs {
                slack.apply_globals(&self.global);
            }
            for email in &mut receiver.email_configs {
                email.apply_globals(&self.global);
            }
            for webhook in &mut receiver.webhook_configs {
                if webhook.http_config.is_none() {
                    webhook.http_config = Some(self.global.http_config.clone());
                }
            }
        }
        resolved
    }

    /// Checks everything alertmanager.yml's loader checks, plus one problem per use of an
    /// integration Sightline does not support yet. `path` is the key of this block. An empty
    /// block (no route, no receivers) is valid: alerting then notifies nobody.
    pub fn validate(&self, path: &str, problems: &mut Problems) {
        self.global.validate(&join_path(path, "global"), problems);
        let names = DefinedNames {
            receivers: self.check_receivers(path, problems),
            time_intervals: self.check_time_intervals(path, problems),
        };
        for (index, rule) in self.inhibit_rules.iter().enumerate() {
            rule.validate(
                &format!("{}[{index}]", join_path(path, "inhibit_rules")),
                problems,
            );
        }

        let route_path = join_path(path, "route");
        let Some(route) = &self.route else {
            // Without receivers either, the block is absent: nothing is sent anywhere.
            if !self.receivers.is_empty() {
                problems.push(route_path, "no route provided");
            }
            return;
        };
        if route.receiver.is_empty() {
            problems.push(&route_path, "root route must specify a default receiver");
        }
        if !route.all_matchers().is_empty() {
            problems.push(&route_path, "root route must not have any matchers");
        }
        if !route.mute_time_intervals.is_empty() {
            problems.push(
                &route_path,
                "root route must not have any mute time intervals",
            );
        }
        if !route.active_time_intervals.is_empty() {
            problems.push(
                &route_path,
                "root route must not have any active time intervals",
            );
        }
        route.validate(&route_path, &names, problems);
    }

    /// Validates the receivers and returns their names.
    fn check_receivers(&self, path: &str, problems: &mut Problems) -> BTreeSet<&str> {
        let resolved = self.with_global_defaults();
        let mut names = BTreeSet::new();
        for (index, (receiver, resolved)) in
            self.receivers.iter().zip(&resolved.receivers).enumerate()
        {
            let receiver_path = format!("{}[{index}]", join_path(path, "receivers"));
            if receiver.name.is_empty() {
                problems.push(
                    join_path(&receiver_path, "name"),
                    "missing name in receiver",
                );
            } else if !names.insert(receiver.name.as_str()) {
                problems.push(
                    join_path(&receiver_path, "name"),
                    format!("notification config name {:?} is not unique", receiver.name),
                );
            }
            for (key, count) in receiver.unsupported_integrations() {
                if count > 0 {
                    let integration = key.trim_end_matches("_configs");
                    problems.push(
                        join_path(&receiver_path, key),
                        format!("the {integration} integration is not supported yet"),
                    );
                }
            }
            let configs = receiver
                .slack_configs
                .iter()
                .zip(&resolved.slack_configs)
                .enumerate();
            for (config_index, (slack, resolved_slack)) in configs {
                let config_path = format!(
                    "{}[{config_index}]",
                    join_path(&receiver_path, "slack_configs")
                );
                slack.validate(resolved_slack, &config_path, problems);
            }
            let configs = receiver
                .email_configs
                .iter()
                .zip(&resolved.email_configs)
                .enumerate();
            for (config_index, (email, resolved_email)) in configs {
                let config_path = format!(
                    "{}[{config_index}]",
                    join_path(&receiver_path, "email_configs")
                );
                email.validate(resolved_email, &config_path, problems);
            }
            for (config_index, webhook) in receiver.webhook_configs.iter().enumerate() {
                let config_path = format!(
                    "{}[{config_index}]",
                    join_path(&receiver_path, "webhook_configs")
                );
                webhook.validate(&config_path, problems);
            }
        }
        names
    }

    /// Validates both time interval lists and returns their names.
    fn check_time_intervals(&self, path: &str, problems: &mut Problems) -> BTreeSet<&str> {
        let mut names = BTreeSet::new();
        for (key, intervals) in [
            ("time_intervals", &self.time_intervals),
            ("mute_time_intervals", &self.mute_time_intervals),
        ] {
            for (index, interval) in intervals.iter().enumerate() {
                let name_path = format!("{}[{index}].name", join_path(path, key));
                if interval.name.is_empty() {
                    problems.push(name_path, "missing name in time interval");
                } else if !names.insert(interval.name.as_str()) {
                    problems.push(
                        name_path,
                        format!("time interval {:?} is not unique", interval.name),
                    );
                }
                for (spec_index, spec) in interval.time_intervals.iter().enumerate() {
                    if spec.location.as_deref().is_some_and(str::is_empty) {
                        problems.push(
                            format!(
                                "{}[{index}].time_intervals[{spec_index}].location",
                                join_path(path, key)
                            ),
                            "location must not be empty",
                        );
                    }
                }
            }
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(relative: &str) -> String {
        let path = format!(
            "{}/../shared/reference/alertmanager/{relative}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    fn parse(text: &str) -> AlertmanagerConfig {
        serde_saphyr::from_str(text).unwrap_or_else(|error| panic!("{error}\n---\n{text}"))
    }

    fn problems_of(config: &AlertmanagerConfig) -> Vec<String> {
        let mut problems = Problems::default();
        config.validate("alertmanager", &mut problems);
        problems.messages().to_vec()
    }

    fn unsupported(receiver: usize, key: &str) -> String {
        let integration = key.trim_end_matches("_configs");
        format!("alertmanager.receivers[{receiver}].{key}: the {integration} integration is not supported yet")
    }

    /// A small valid config to which tests append or in which they replace parts.
    const BASE: &str = r#"
route:
  receiver: team
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
receivers:
  - name: team
    webhook_configs:
      - url: http://127.0.0.1:5001/
  - name: pager
    webhook_configs:
      - url: http://127.0.0.1:5002/
"#;

    #[test]
    fn every_reference_file_has_the_expected_outcome() {
        let slack = "alertmanager.receivers[0].slack_configs[0]";
        let expected: Vec<(&str, Vec<String>)> = vec![
            ("route_labels.yml", vec![]),
            // The doc's placeholder URL is not a URL; upstream rejects it as well.
            ("slack-notifications.yml", vec![
                "alertmanager.global.slack_api_url: invalid URL: expected an absolute http/https URL".into(),
            ]),
            ("simple.yml", vec![
                unsupported(1, "pagerduty_configs"),
                unsupported(3, "pagerduty_configs"),
                unsupported(4, "pagerduty_configs"),
            ]),
            ("config-testdata/conf.good.yml", vec![
                unsupported(1, "pagerduty_configs"),
                unsupported(3, "pagerduty_configs"),
                unsupported(4, "pagerduty_configs"),
                unsupported(5, "victorops_configs"),
                unsupported(6, "opsgenie_configs"),
                unsupported(7, "pushover_configs"),
            ]),
            ("config-testdata/conf.slack-both-file-and-token.yml", vec![
                "alertmanager.global: at most one of slack_app_token & slack_app_token_file must be configured".into(),
            ]),
            ("config-testdata/conf.slack-both-file-and-url.yml", vec![
                "alertmanager.global: at most one of slack_api_url & slack_api_url_file must be configured".into(),
            ]),
            ("config-testdata/conf.slack-both-url-and-token.yml", vec![
                "alertmanager.global: at most one of slack_app_token/slack_app_token_file & slack_api_url/slack_api_url_file must be configured".into(),
            ]),
            ("config-testdata/conf.slack-default-api-url-file.yml", vec![]),
            ("config-testdata/conf.slack-default-app-token.yml", vec![]),
            ("config-testdata/conf.slack-no-api-url-or-token.yml", vec![
                format!("{slack}: no Slack API URL nor App token set either inline or in a file"),
            ]),
            ("config-testdata/conf.slack-update-message-and-webhook.yml", vec![
                format!("{slack}.update_message: update_message can only be used with bot tokens. api_url must be set to https://slack.com/api/chat.postMessage"),
            ]),
        ];

        // Every .yml file in the reference folders is covered by the table.
        let base = format!(
            "{}/../shared/reference/alertmanager",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut on_disk = BTreeSet::new();
        for folder in ["", "config-testdata/"] {
            for entry in std::fs::read_dir(format!("{base}/{folder}")).unwrap() {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                if name.ends_with(".yml") {
                    on_disk.insert(format!("{folder}{name}"));
                }
            }
        }
        let covered: BTreeSet<String> = expected.iter().map(|(file, _)| file.to_string()).collect();
        assert_eq!(on_disk, covered);

        for (file, expected_problems) in &expected {
            let config = parse(&reference(file));
            assert_eq!(&problems_of(&config), expected_problems, "{file}");
        }

        // With a real URL in place of the placeholder, the Slack example is valid.
        let fixed = reference("slack-notifications.yml").replace(
            "<slack_webhook_url>",
            "https://hooks.slack.com/services/T0/B0/X",
        );
        assert!(problems_of(&parse(&fixed)).is_empty());
    }

    #[test]
    fn reference_files_parse_into_the_expected_shape() {
        let simple = parse(&reference("simple.yml"));
        let route = simple.route.as_ref().unwrap();
        assert_eq!(route.receiver, "team-X-mails");
        assert_eq!(
            route.repeat_interval,
            Some(PromDuration::from_secs(3 * 3600))
        );
        assert_eq!(route.routes.len(), 3);
        assert_eq!(
            route.routes[0].matchers,
            [Matcher {
                name: "service".into(),
                op: MatchOp::Regex,
                value: "foo1|foo2|baz".into()
            }]
        );
        assert!(route.routes[2].routes[0].continue_matching);
        assert_eq!(
            simple.inhibit_rules[0].equal,
            ["alertname", "cluster", "service"]
        );
        assert_eq!(
            simple.inhibit_rules[0].source_matchers[0].to_string(),
            "severity=\"critical\""
        );
        assert_eq!(simple.templates, ["/etc/alertmanager/template/*.tmpl"]);
        assert_eq!(simple.tracing, Some(Discarded));
        let password = simple.global.smtp_auth_password.as_ref().unwrap();
        assert_eq!(password.expose(), "password");

        let good = parse(&reference("config-testdata/conf.good.yml"));
        let good_route = good.route.as_ref().unwrap();
        assert_eq!(
            good_route.routes[0].match_re["service"],
            "^(foo1|foo2|baz)$"
        );
        assert_eq!(
            good_route.routes[1].all_matchers(),
            [Matcher {
                name: "service".into(),
                op: MatchOp::Equal,
                value: "files".into()
            }]
        );
        assert_eq!(
            good.inhibit_rules[0].all_source_matchers(),
            [Matcher {
                name: "severity".into(),
                op: MatchOp::Equal,
                value: "critical".into()
            }]
        );
        assert_eq!(
            good.inhibit_rules[0].all_target_matchers()[0].value,
            "warning"
        );
        assert_eq!(good.global.smtp_hello, "host.example.org");
        assert_eq!(
            good.global.http_config.proxy_url.as_deref(),
            Some("http://127.0.0.1:1025")
        );
        let slack = &good.receivers[8].slack_configs[0];
        assert_eq!(slack.channel.as_deref(), Some("#my-channel"));
        assert_eq!(
            slack.image_url.as_deref(),
            Some("http://some.img.com/img.png")
        );
        // Receivers without their own http_config get the global one.
        let resolved = good.with_global_defaults();
        let resolved_slack = &resolved.receivers[8].slack_configs[0];
        assert_eq!(
            resolved_slack.http_config.as_ref(),
            Some(&good.global.http_config)
        );
        assert_eq!(
            resolved_slack.api_url.as_ref().unwrap().expose(),
            "http://mysecret.example.com/"
        );
        let email = &resolved.receivers[0].email_configs[0];
        assert_eq!(email.smarthost.as_deref(), Some("localhost:25"));
        assert_eq!(email.from.as_deref(), Some("alertmanager@example.org"));
        assert_eq!(email.hello.as_deref(), Some("host.example.org"));
        assert_eq!(email.auth_username.as_deref(), Some("alertmanager"));
        assert_eq!(
            email.auth_password.as_ref().unwrap().expose(),
            "multiline\nmysecret"
        );
        assert_eq!(email.require_tls, Some(true));
    }

    #[test]
    fn route_labels_and_settings_are_inherited() {
        let config = parse(&reference("route_labels.yml"));
        let root = config.route.as_ref().unwrap();
        let root_settings = root.resolve(None);
        assert_eq!(root_settings.receiver, "default");
        assert_eq!(root_settings.group_wait, PromDuration::from_secs(30));
        assert_eq!(root_settings.group_interval, PromDuration::from_secs(300));
        assert_eq!(
            root_settings.repeat_interval,
            PromDuration::from_secs(4 * 3600)
        );
        assert_eq!(
            root_settings.group_by,
            GroupBy::Labels(vec!["alertname".into()])
        );
        let database = root.routes[0].resolve(Some(&root_settings));
        assert_eq!(database.receiver, "dba");
        assert_eq!(
            database.group_by,
            GroupBy::Labels(vec!["alertname".into(), "database".into()])
        );
        assert_eq!(
            database.labels["reason"],
            "database {{ .GroupLabels.database }}"
        );
        assert_eq!(
            database.labels["description"],
            root_settings.labels["description"]
        );
        let network = &root.routes[1];
        assert_eq!(network.matchers.len(), 2);
        assert_eq!(network.matchers[1].name, "link_z_device");

        let tree = parse(
            r#"
route:
  receiver: a
  group_by: [cluster]
  group_wait: 10s
  routes:
    - receiver: b
      group_by: ['...']
      repeat_interval: 1h
      routes:
        - group_interval: 1m
    - group_by: []
receivers: [{name: a}, {name: b}]
"#,
        );
        assert!(problems_of(&tree).is_empty(), "{:?}", problems_of(&tree));
        let root = tree.route.as_ref().unwrap();
        let root_settings = root.resolve(None);
        let child = root.routes[0].resolve(Some(&root_settings));
        let grandchild = root.routes[0].routes[0].resolve(Some(&child));
        assert_eq!(
            grandchild,
            RouteSettings {
                receiver: "b".into(),
                group_by: GroupBy::All,
                group_wait: PromDuration::from_secs(10),
                group_interval: PromDuration::from_secs(60),
                repeat_interval: PromDuration::from_secs(3600),
                labels: BTreeMap::new(),
            }
        );
        let ungrouped = root.routes[1].resolve(Some(&root_settings));
        assert_eq!(ungrouped.group_by, GroupBy::Labels(vec![]));
        assert_eq!(ungrouped.receiver, "a");
    }

    #[test]
    fn slack_globals_are_inherited_like_upstream() {
        let config = parse(&reference(
            "config-testdata/conf.slack-default-api-url-file.yml",
        ));
        let resolved = config.with_global_defaults();
        let slack = &resolved.receivers[0].slack_configs;
        assert_eq!(slack[0].api_url_file.as_deref(), Some("/global_file"));
        assert!(slack[0].api_url.is_none());
        assert_eq!(slack[1].api_url_file.as_deref(), Some("/override_file"));
        assert_eq!(
            slack[2].api_url.as_ref().unwrap().expose(),
            "http://mysecret.example.com/"
        );
        assert!(slack[2].api_url_file.is_none());

        let config = parse(&reference(
            "config-testdata/conf.slack-default-app-token.yml",
        ));
        let resolved = config.with_global_defaults();
        let slack = &resolved.receivers[0].slack_configs;
        let token = |index: usize| {
            slack[index]
                .app_token
                .as_ref()
                .map(|token| token.expose().to_owned())
        };
        assert_eq!(token(0).as_deref(), Some("xoxb-1234-abcdefgh"));
        assert_eq!(slack[0].app_url.as_deref(), Some(SLACK_POST_MESSAGE_URL));
        assert_eq!(token(1).as_deref(), Some("xoxb-1234-xxxxxx"));
        assert_eq!(slack[1].app_url.as_deref(), Some(SLACK_POST_MESSAGE_URL));
        assert_eq!(token(2).as_deref(), Some("xoxb-1234-abcdefgh"));
        assert_eq!(
            slack[2].app_url.as_deref(),
            Some("http://api.fakeslack.example/")
        );
        // Its own authorization header: no global token, posts to the global URL.
        assert_eq!(token(3), None);
        assert_eq!(
            slack[3].api_url.as_ref().unwrap().expose(),
            SLACK_POST_MESSAGE_URL
        );
        let authorization = slack[3]
            .http_config
            .as_ref()
            .unwrap()
            .effective_authorization()
            .unwrap();
        assert_eq!(
            authorization.credentials.unwrap().expose(),
            "xoxb-my-bot-token"
        );
        // An explicit webhook keeps its URL and gets no token.
        assert_eq!(token(4), None);
        assert!(slack[4]
            .api_url
            .as_ref()
            .unwrap()
            .expose()
            .starts_with("https://hooks.slack.com/"));
        assert!(slack[4].send_resolved);
    }

    #[test]
    fn slack_receiver_level_conflicts() {
        let cases: &[(&str, &str)] = &[
            ("api_url: https://a.example/x\napi_url_file: /f", ": at most one of api_url & api_url_file must be configured"),
            ("app_token: x\napp_token_file: /f", ": at most one of app_token & app_token_file must be configured"),
            ("app_token: x\napi_url: https://hooks.slack.com/services/x", ": at most one of app_token/app_token_file & api_url/api_url_file must be configured"),
            ("api_url: hooks.slack.com/services/x", ".api_url: invalid URL: expected an absolute http/https URL"),
            ("api_url: https://a.example/x\nfields: [{title: t}]", ".fields[0]: missing value in Slack field configuration"),
            ("api_url: https://a.example/x\nactions: [{type: button, text: t}]", ".actions[0]: missing name or url in Slack action configuration"),
            ("api_url: https://a.example/x\nactions: [{type: button, text: t, url: u, confirm: {title: x}}]", ".actions[0].confirm: missing text in Slack confirmation configuration"),
        ];
        for (fields, expected) in cases {
            let indented = fields.replace('\n', "\n        ");
            let text = format!("route: {{receiver: r}}\nreceivers:\n  - name: r\n    slack_configs:\n      - {indented}\n");
            assert_eq!(
                problems_of(&parse(&text)),
                [format!(
                    "alertmanager.receivers[0].slack_configs[0]{expected}"
                )],
                "{fields}"
            );
        }
        // A bot token with update_message is fine; so is the legacy bot-token URL with a token.
        let ok = "route: {receiver: r}\nreceivers:\n  - name: r\n    slack_configs:\n      - app_token: x\n        update_message: true\n      - app_token: y\n        api_url: https://slack.com/api/chat.postMessage\n";
        assert!(
            problems_of(&parse(ok)).is_empty(),
            "{:?}",
            problems_of(&parse(ok))
        );
    }

    #[test]
    fn defaults_match_upstream() {
        let config = parse(
            "route: {receiver: r}\nreceivers:\n  - name: r\n    slack_configs: [{api_url: 'https://hooks.example/x'}]\n    webhook_configs: [{url: 'http://h/'}]\n    email_configs: [{to: a@b.c, smarthost: 'smtp:25', from: x@y.z}]\n",
        );
        assert_eq!(config.global.resolve_timeout, PromDuration::from_secs(300));
        assert_eq!(config.global.smtp_hello, "localhost");
        assert!(config.global.smtp_require_tls);
        assert_eq!(config.global.slack_app_url, SLACK_POST_MESSAGE_URL);
        let receiver = &config.receivers[0];
        let slack = &receiver.slack_configs[0];
        assert!(!slack.send_resolved);
        assert_eq!(slack.title, "{{ template \"slack.default.title\" . }}");
        assert_eq!(
            slack.title_link,
            "{{ template \"slack.default.titlelink\" . }}"
        );
        assert_eq!(
            slack.callback_id,
            "{{ template \"slack.default.callbackid\" . }}"
        );
        assert_eq!(slack.mrkdwn_in, ["fallback", "pretext", "text"]);
        assert!(slack.timeout.is_zero());
        assert!(receiver.webhook_configs[0].send_resolved);
        assert_eq!(receiver.webhook_configs[0].max_alerts, 0);
        let email = &receiver.email_configs[0];
        assert!(!email.send_resolved);
        assert_eq!(email.html, "{{ template \"email.default.html\" . }}");
        assert_eq!(email.threading.thread_by_date, ThreadByDate::Daily);
        assert!(problems_of(&config).is_empty());
        let resolved = config.with_global_defaults();
        assert_eq!(
            resolved.receivers[0].email_configs[0].hello.as_deref(),
            Some("localhost")
        );
        assert_eq!(
            resolved.receivers[0].webhook_configs[0].http_config,
            Some(HttpClientConfig::default())
        );
    }

    #[test]
    fn routing_problems_are_reported_with_paths() {
        let config = parse(
            r#"
route:
  matchers: [a="b"]
  mute_time_intervals: [offhours]
  active_time_intervals: [offhours]
  routes:
    - receiver: nobody
      group_by: [a, a, 'b-c']
      group_interval: 0s
      repeat_interval: 0s
      labels: {'x-y': z}
      mute_time_intervals: [offhours, holidays]
    - group_by: ['...', a]
      match: {'bad-name': x}
      match_re: {a: '(unclosed'}
receivers: [{name: r}, {name: r}, {}]
time_intervals: [{name: offhours}]
mute_time_intervals: [{name: offhours}]
inhibit_rules:
  - equal: ['not valid']
    source_match_re: {a: '['}
"#,
        );
        let problems = problems_of(&config);
        let expected = [
            "alertmanager.receivers[1].name: notification config name \"r\" is not unique",
            "alertmanager.receivers[2].name: missing name in receiver",
            "alertmanager.mute_time_intervals[0].name: time interval \"offhours\" is not unique",
            "alertmanager.inhibit_rules[0].source_match_re.a: invalid regular expression \"[\": missing closing ]",
            "alertmanager.inhibit_rules[0].equal: invalid label name \"not valid\" in equal list",
            "alertmanager.route: root route must specify a default receiver",
            "alertmanager.route: root route must not have any matchers",
            "alertmanager.route: root route must not have any mute time intervals",
            "alertmanager.route: root route must not have any active time intervals",
            "alertmanager.route.routes[0].receiver: undefined receiver \"nobody\" used in route",
            "alertmanager.route.routes[0].group_by: duplicated label \"a\" in group_by",
            "alertmanager.route.routes[0].group_by: invalid label name \"b-c\" in group_by list",
            "alertmanager.route.routes[0].labels: invalid label name \"x-y\"",
            "alertmanager.route.routes[0].group_interval: group_interval cannot be zero",
            "alertmanager.route.routes[0].repeat_interval: repeat_interval cannot be zero",
            "alertmanager.route.routes[0].mute_time_intervals[1]: undefined time interval \"holidays\" used in route",
            "alertmanager.route.routes[1].group_by: cannot have wildcard group_by (`...`) and other labels at the same time",
            "alertmanager.route.routes[1].match: invalid label name \"bad-name\"",
        ];
        let (regex_problems, others): (Vec<_>, Vec<_>) = problems
            .iter()
            .partition(|problem| problem.contains("route.routes[1].match_re.a"));
        assert_eq!(others, expected);
        assert_eq!(regex_problems.len(), 1);
        assert!(regex_problems[0].contains("invalid regular expression \"(unclosed\""));

        assert_eq!(
            problems_of(&parse("receivers: [{name: r}]")),
            ["alertmanager.route: no route provided"]
        );
        assert!(problems_of(&AlertmanagerConfig::default()).is_empty());
    }

    #[test]
    fn unsupported_integrations_are_rejected_and_unknown_keys_fail_to_parse() {
        let config = parse(&format!(
            "{BASE}  - name: other\n    telegram_configs: [{{bot_token: x, chat_id: 1}}]\n    msteamsv2_configs: []\n"
        ));
        assert_eq!(problems_of(&config), [unsupported(2, "telegram_configs")]);

        for text in [
            "route: {receiver: r, recevier: x}",
            "receivers: [{name: r, foo_configs: [{}]}]",
            "receivers: [{name: r, slack_configs: [{channel: x, colour: red}]}]",
            "receivers: [{name: r, email_configs: [{to: x, subject: y}]}]",
            "receivers: [{name: r, webhook_configs: [{url: 'http://h', payload: {a: b}}]}]",
            "global: {smtp_host: x}",
            "global: {http_config: {oauth2: {client_id: x}}}",
            "inhibit_rules: [{source: x}]",
            "time_intervals: [{name: x, time_intervals: [{days: [monday]}]}]",
            "unknown_top_level: 1",
            "route: {receiver: r, matchers: ['foo=bar\"']}",
            "inhibit_rules: [{target_matchers: ['a=~\"(\"']}]",
        ] {
            assert!(
                serde_saphyr::from_str::<AlertmanagerConfig>(text).is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn matchers_parse_like_upstream() {
        let m = |name: &str, op: MatchOp, value: &str| Matcher {
            name: name.into(),
            op,
            value: value.into(),
        };
        let cases: Vec<(&str, Vec<Matcher>)> = vec![
            (
                "severity=\"critical\"",
                vec![m("severity", MatchOp::Equal, "critical")],
            ),
            (
                "alertname=~\"A|B\"",
                vec![m("alertname", MatchOp::Regex, "A|B")],
            ),
            (
                "env !~ preprod",
                vec![m("env", MatchOp::NotRegex, "preprod")],
            ),
            ("dings != bums", vec![m("dings", MatchOp::NotEqual, "bums")]),
            ("foo=", vec![m("foo", MatchOp::Equal, "")]),
            ("foo = bar baz", vec![m("foo", MatchOp::Equal, "bar baz")]),
            (
                "a=\"x,y\", b=~\"[0-9]+\"",
                vec![
                    m("a", MatchOp::Equal, "x,y"),
                    m("b", MatchOp::Regex, "[0-9]+"),
                ],
            ),
            (
                "{alertname=\"Watchdog\", severity=~\"warning|critical\",}",
                vec![
                    m("alertname", MatchOp::Equal, "Watchdog"),
                    m("severity", MatchOp::Regex, "warning|critical"),
                ],
            ),
            // Classic escapes: \" \n \\ resolve, other backslashes stay literal.
            (
                r#"re=~"\d+\.\"x\"""#,
                vec![m("re", MatchOp::Regex, r#"\d+\."x""#)],
            ),
            (
                r#"a="line\nbreak\\""#,
                vec![m("a", MatchOp::Equal, "line\nbreak\\")],
            ),
            // Only the UTF-8 syntax accepts these: quoted or non-classic names.
            (
                "\"service.name\"=\"api\"",
                vec![m("service.name", MatchOp::Equal, "api")],
            ),
            (
                "Προμηθεύς=fire",
                vec![m("Προμηθεύς", MatchOp::Equal, "fire")],
            ),
            (
                "{\n   alertname = \"Watchdog\",\n   severity =~ \"warning|critical\",\n}\n",
                vec![
                    m("alertname", MatchOp::Equal, "Watchdog"),
                    m("severity", MatchOp::Regex, "warning|critical"),
                ],
            ),
            (
                "{quote=~\"She said: \\\"Hi, all!( How're you…)?\\\"\"}\n",
                vec![m(
                    "quote",
                    MatchOp::Regex,
                    "She said: \"Hi, all!( How're you…)?\"",
                )],
            ),
            (
                "\"smile\"=\"\\xf0\\x9f\\x99\\x82 \\u00e9\"",
                vec![m("smile", MatchOp::Equal, "🙂 é")],
            ),
            ("", vec![]),
            ("{}", vec![]),
            // Upstream's fallback mode is this lenient too.
            ("foo==bar", vec![m("foo", MatchOp::Equal, "=bar")]),
            ("{a=b", vec![m("a", MatchOp::Equal, "b")]),
            ("1abc=x", vec![m("1abc", MatchOp::Equal, "x")]),
        ];
        for (input, expected) in cases {
            assert_eq!(
                Matcher::parse_list(input).as_ref(),
                Ok(&expected),
                "{input:?}"
            );
            for matcher in &expected {
                let printed = matcher.to_string();
                assert_eq!(
                    Matcher::parse_list(&printed),
                    Ok(vec![matcher.clone()]),
                    "{printed}"
                );
            }
        }
        for bad in [
            "foo",
            "=bar",
            "foo=bar\"",
            "foo=\"bar",
            "foo=\"bar\"baz",
            "a=b,,c=d",
            "{{a=b}}",
            "a=~\"(\"",
            "a!b",
            "\"\"=x",
        ] {
            let error = Matcher::parse_list(bad).expect_err(bad);
            assert!(error.starts_with("invalid matcher"), "{bad}: {error}");
        }
    }

    #[test]
    fn time_intervals_parse_and_check_ranges() {
        let config = parse(
            r#"
route:
  receiver: r
  routes:
    - receiver: r
      mute_time_intervals: [offhours]
      active_time_intervals: [holidays]
receivers: [{name: r}]
time_intervals:
  - name: offhours
    time_intervals:
      - times:
          - start_time: '00:00'
            end_time: 09:00
          - start_time: '17:00'
            end_time: '24:00'
        weekdays: ['monday:friday', Sunday]
        location: Europe/Berlin
mute_time_intervals:
  - name: holidays
    time_intervals:
      - days_of_month: ['1:5', '-3:-1', 25, '1:-1']
        months: ['december', '1:3', 'May:august']
        years: ['2020:2022', 2030]
"#,
        );
        assert!(
            problems_of(&config).is_empty(),
            "{:?}",
            problems_of(&config)
        );
        let spec = &config.time_intervals[0].time_intervals[0];
        assert_eq!(
            spec.times[0],
            TimeRange {
                start_minute: 0,
                end_minute: 540
            }
        );
        assert_eq!(
            spec.times[1],
            TimeRange {
                start_minute: 1020,
                end_minute: 1440
            }
        );
        assert_eq!(
            spec.weekdays,
            [
                WeekdayRange { begin: 1, end: 5 },
                WeekdayRange { begin: 0, end: 0 }
            ]
        );
        assert_eq!(spec.location.as_deref(), Some("Europe/Berlin"));
        let holidays = &config.mute_time_intervals[0].time_intervals[0];
        assert_eq!(
            holidays.days_of_month[1],
            DayOfMonthRange { begin: -3, end: -1 }
        );
        assert_eq!(
            holidays.days_of_month[2],
            DayOfMonthRange { begin: 25, end: 25 }
        );
        assert_eq!(
            holidays.days_of_month[3],
            DayOfMonthRange { begin: 1, end: -1 }
        );
        assert_eq!(
            holidays.months,
            [
                MonthRange { begin: 12, end: 12 },
                MonthRange { begin: 1, end: 3 },
                MonthRange { begin: 5, end: 8 },
            ]
        );
        assert_eq!(
            holidays.years,
            [
                YearRange {
                    begin: 2020,
                    end: 2022
                },
                YearRange {
                    begin: 2030,
                    end: 2030
                }
            ]
        );

        let json = serde_json::to_value(&config.time_intervals).unwrap();
        assert_eq!(
            json[0]["time_intervals"][0]["times"][0]["end_time"],
            "09:00"
        );
        assert_eq!(json[0]["time_intervals"][0]["weekdays"][0], "monday:friday");
        let back: Vec<TimeInterval> = serde_json::from_value(json).unwrap();
        assert_eq!(back, config.time_intervals);

        for bad in [
            "times: [{start_time: '10:00', end_time: '09:00'}]",
            "times: [{start_time: '9:00', end_time: '10:00'}]",
            "times: [{start_time: '00:00', end_time: '24:01'}]",
            "times: [{start_time: '00:00'}]",
            "weekdays: ['friday:monday']",
            "weekdays: [funday]",
            "days_of_month: [0]",
            "days_of_month: ['5:1']",
            "days_of_month: ['-1:5']",
            "days_of_month: [32]",
            "months: [13]",
            "months: ['march:january']",
            "years: ['2022:2020']",
        ] {
            let text = format!("time_intervals: [{{name: x, time_intervals: [{{{bad}}}]}}]");
            assert!(
                serde_saphyr::from_str::<AlertmanagerConfig>(&text).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn email_and_webhook_problems() {
        let config = parse(
            r#"
global:
  smtp_auth_password: a
  smtp_auth_password_file: b
route: {receiver: r}
receivers:
  - name: r
    email_configs:
      - to: ''
        auth_secret: x
        auth_secret_file: y
        headers: {Subject: a, subject: b}
      - to: a@example.org
        smarthost: mail.example.org
        from: me@example.org
    webhook_configs:
      - send_resolved: false
      - url: http://a/
        url_file: /f
      - url: 'ftp://example.org/'
"#,
        );
        assert_eq!(
            problems_of(&config),
            [
                "alertmanager.global: at most one of smtp_auth_password & smtp_auth_password_file must be configured",
                "alertmanager.receivers[0].email_configs[0].to: missing to address in email config",
                "alertmanager.receivers[0].email_configs[0].smarthost: no global SMTP smarthost set",
                "alertmanager.receivers[0].email_configs[0].from: no global SMTP from set",
                "alertmanager.receivers[0].email_configs[0]: at most one of auth_secret & auth_secret_file must be configured",
                "alertmanager.receivers[0].email_configs[0].headers: duplicate header \"subject\" in email config",
                "alertmanager.receivers[0].email_configs[1].smarthost: \"mail.example.org\" is missing a port, e.g. smtp.example.org:587",
                "alertmanager.receivers[0].webhook_configs[0]: one of url or url_file must be configured",
                "alertmanager.receivers[0].webhook_configs[1]: at most one of url & url_file must be configured",
                "alertmanager.receivers[0].webhook_configs[2].url: invalid URL: unsupported scheme \"ftp\", expected http/https",
            ]
        );
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let config = parse(
            r#"
global:
  smtp_auth_password: smtp-pass-1
  smtp_auth_secret: smtp-secret-2
  slack_app_token: xoxb-global-3
  opsgenie_api_key: opsgenie-4
  http_config: {basic_auth: {username: u, password: http-pass-5}}
route: {receiver: r}
receivers:
  - name: r
    slack_configs: [{api_url: 'https://hooks.slack.com/services/SECRET-6'}, {app_token: xoxb-local-7}]
    webhook_configs: [{url: 'http://user:webhook-pass-8@h/'}]
    email_configs: [{to: a@b.c, auth_password: email-pass-9}]
"#,
        );
        for printed in [
            format!("{config:?}"),
            format!("{:?}", config.with_global_defaults()),
        ] {
            for secret in [
                "smtp-pass-1",
                "smtp-secret-2",
                "xoxb-global-3",
                "opsgenie-4",
                "http-pass-5",
                "SECRET-6",
                "xoxb-local-7",
                "webhook-pass-8",
                "email-pass-9",
            ] {
                assert!(!printed.contains(secret), "{secret} leaked");
            }
        }
        let mut problems = Problems::default();
        config.validate("alertmanager", &mut problems);
        assert!(!problems.to_string().contains("webhook-pass-8"));
    }

    #[test]
    fn serialization_round_trips_without_secrets() {
        let config = parse(&reference("route_labels.yml"));
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(
            json["route"]["routes"][0]["matchers"][0],
            "service=\"database\""
        );
        // Webhook URLs are secrets and serialize redacted; everything else survives.
        let mut back: AlertmanagerConfig = serde_json::from_value(json).unwrap();
        assert_eq!(
            back.receivers[0].webhook_configs[0]
                .url
                .as_ref()
                .unwrap()
                .expose(),
            "<secret>"
        );
        for (receiver, original) in back.receivers.iter_mut().zip(&config.receivers) {
            receiver.webhook_configs[0]
                .url
                .clone_from(&original.webhook_configs[0].url);
        }
        assert_eq!(back, config);
    }
}
