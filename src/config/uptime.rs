//! The `uptime:` section: HTTP and TCP checks that become probe metrics and alerts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::duration::PromDuration;
use super::problems::Problems;

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct UptimeConfig {
    pub checks: Vec<UptimeCheck>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UptimeCheck {
    pub name: String,
    /// `http://…`, `https://…` or `tcp://host:port`.
    pub url: String,
    #[serde(default = "default_interval")]
    pub interval: PromDuration,
    #[serde(default = "default_timeout")]
    pub timeout: PromDuration,
    #[serde(default = "default_method")]
    pub method: String,
    /// Status codes counted as up; empty means any 2xx.
    #[serde(default)]
    pub expected_status: Vec<u16>,
    /// Substring that must appear in the response body.
    #[serde(default)]
    pub expected_body: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn default_interval() -> PromDuration {
    PromDuration::from_secs(30)
}

fn default_timeout() -> PromDuration {
    PromDuration::from_secs(10)
}

fn default_method() -> String {
    "GET".to_string()
}

impl UptimeConfig {
    pub fn validate(&self, problems: &mut Problems) {
        let mut names = std::collections::HashSet::new();
        for (index, check) in self.checks.iter().enumerate() {
            let path = format!("uptime.checks[{index}]");
            if check.name.is_empty() {
                problems.push(format!("{path}.name"), "must not be empty");
            } else if !names.insert(check.name.as_str()) {
                problems.push(
                    format!("{path}.name"),
                    format!("duplicate check name {:?}", check.name),
                );
            }
            let known_scheme = ["http://", "https://", "tcp://"]
                .iter()
                .any(|scheme| check.url.starts_with(scheme));
            if !known_scheme {
                problems.push(
                    format!("{path}.url"),
                    format!(
                        "must start with http://, https:// or tcp://, got {:?}",
                        check.url
                    ),
                );
            }
            if check.interval.is_zero() {
                problems.push(format!("{path}.interval"), "must be greater than zero");
            }
            if check.timeout > check.interval {
                problems.push(
                    format!("{path}.timeout"),
                    format!(
                        "{} is longer than the interval {}",
                        check.timeout, check.interval
                    ),
                );
            }
            if let Some(code) = check
                .expected_status
                .iter()
                .find(|code| !(100..=599).contains(*code))
            {
                problems.push(
                    format!("{path}.expected_status"),
                    format!("{code} is not an HTTP status code"),
                );
            }
        }
    }
}
