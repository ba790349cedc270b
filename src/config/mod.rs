//! The one YAML config file: its types, defaults, loading (with `${ENV}` expansion and
//! errors that name the key path and line) and semantic validation. Nothing here starts
//! anything; the server reads a validated [`Config`] and hands each engine its section.

pub mod alertmanager;
pub mod bytesize;
pub mod dashboards;
pub mod duration;
pub mod env;
mod load;
pub mod logs;
pub mod problems;
pub mod query;
pub mod scrape;
pub mod secret;
pub mod server;
pub mod storage;
pub mod uptime;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use load::{load_file, parse_str, ConfigError};
use problems::Problems;

/// The embedded default: loopback, `./data`, scraping itself every 15 s.
pub const DEFAULT_CONFIG_YAML: &str = include_str!("../../config/default.yaml");

/// The whole config. Top-level keys are chosen so that blocks of prometheus.yml
/// (`global`, `scrape_configs`, `rule_files`) and a whole alertmanager.yml (under
/// `alertmanager`) paste in unchanged.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: server::ServerConfig,
    pub storage: storage::StorageConfig,
    /// PromQL evaluation defaults and limits.
    pub query: query::QueryConfig,
    pub global: scrape::GlobalConfig,
    pub scrape_configs: Vec<scrape::ScrapeConfig>,
    pub rule_files: Vec<String>,
    pub log_rule_files: Vec<String>,
    pub alertmanager: alertmanager::AlertmanagerConfig,
    pub logs: logs::LogsConfig,
    pub uptime: uptime::UptimeConfig,
    pub dashboards: dashboards::DashboardsConfig,
    /// The folder relative paths resolve against: the config file's, or the working
    /// directory for the embedded default.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

impl Config {
    /// The embedded default config, resolved against the working directory.
    pub fn embedded_default() -> Result<Config, ConfigError> {
        parse_str(
            DEFAULT_CONFIG_YAML,
            "<embedded default config>",
            Path::new("."),
        )
    }

    /// Resolves a path from the config against [`Config::base_dir`].
    pub fn resolve(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.resolve(&self.storage.path)
    }

    /// Every semantic problem in the config, each naming its key path.
    pub fn validate(&self) -> Problems {
        let mut problems = Problems::default();
        self.server.validate(&mut problems);
        self.storage.validate(&mut problems);
        self.query.validate(&mut problems);
        self.global.validate("global", &mut problems);
        scrape::validate_scrape_configs(&self.scrape_configs, &self.global, &mut problems);
        for (key, patterns) in [
            ("rule_files", &self.rule_files),
            ("log_rule_files", &self.log_rule_files),
        ] {
            for (index, pattern) in patterns.iter().enumerate() {
                if pattern.trim().is_empty() {
                    problems.push(format!("{key}[{index}]"), "must not be empty");
                }
            }
        }
        self.alertmanager.validate("alertmanager", &mut problems);
        self.logs.validate(&mut problems);
        self.uptime.validate(&mut problems);
        problems
    }

    /// Points static scrape targets at `to` where they name `from`: the default config
    /// scrapes "itself" at the listen address, which a flag or an ephemeral port changes.
    pub fn retarget_static(&mut self, from: &str, to: &str) {
        if from == to {
            return;
        }
        for job in &mut self.scrape_configs {
            for static_config in &mut job.static_configs {
                for target in &mut static_config.targets {
                    if target == from {
                        *target = to.to_string();
                    }
                }
            }
        }
    }

    /// The config as YAML with every secret replaced by `<secret>`, for
    /// `/api/v1/status/config`.
    pub fn to_redacted_yaml(&self) -> String {
        serde_saphyr::to_string(self)
            .unwrap_or_else(|err| format!("# config could not be rendered: {err}\n"))
    }
}
