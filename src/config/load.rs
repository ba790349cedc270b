//! Reading a config file: env expansion, YAML decoding with the failing key's path and
//! line, then semantic validation.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use super::env::expand_env;
use super::problems::Problems;
use super::Config;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: line {line}: {message}")]
    Env {
        origin: String,
        line: usize,
        message: String,
    },
    /// The YAML does not match the schema; `message` carries the line and column.
    #[error("{origin}: {key_path}: {message}")]
    Syntax {
        origin: String,
        key_path: String,
        message: String,
    },
    #[error("{origin}: invalid config:\n{problems}")]
    Invalid { origin: String, problems: Problems },
}

/// Loads and validates the config file at `path`; relative paths inside it resolve
/// against its folder.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base_dir = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parse_str(&text, &path.display().to_string(), base_dir)
}

/// Parses and validates config text. `origin` names the source in error messages.
pub fn parse_str(text: &str, origin: &str, base_dir: &Path) -> Result<Config, ConfigError> {
    let expanded =
        expand_env(text, |name| std::env::var(name).ok()).map_err(|err| ConfigError::Env {
            origin: origin.to_string(),
            line: err.line,
            message: err.message,
        })?;
    let mut config = decode(&expanded, origin)?;
    config.base_dir = base_dir.to_path_buf();
    let problems = config.validate();
    if !problems.is_empty() {
        return Err(ConfigError::Invalid {
            origin: origin.to_string(),
            problems,
        });
    }
    Ok(config)
}

/// Decodes YAML into [`Config`], recording the key path where decoding failed.
fn decode(text: &str, origin: &str) -> Result<Config, ConfigError> {
    // An empty file is the all-defaults config, as with prometheus.yml.
    if text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "---"
    }) {
        return Ok(Config::default());
    }
    let failing_path = RefCell::new(String::new());
    let result = serde_saphyr::with_deserializer_from_str(text, |deserializer| {
        serde_path_to_error::deserialize(deserializer).map_err(|err| {
            *failing_path.borrow_mut() = err.path().to_string();
            err.into_inner()
        })
    });
    result.map_err(|err| {
        let key_path = failing_path.into_inner();
        ConfigError::Syntax {
            origin: origin.to_string(),
            key_path: if key_path.is_empty() || key_path == "." {
                "(top level)".to_string()
            } else {
                key_path
            },
            message: err.to_string(),
        }
    })
}
