//! Tombstones: deletions requested through `delete_series`. Each one is a set of matchers
//! and a closed time range; selects drop the samples they cover, so a deletion takes
//! effect at once for the head and every block without rewriting files.
//!
//! They live in `<tsdb>/tombstones.json`, replaced atomically (temp file, fsync, rename,
//! fsync of the folder) before the deletion is acknowledged, and are forgotten once
//! retention has removed everything they could cover.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use super::head::SeriesData;
use super::index::{MatchOp, Matcher};

pub const TOMBSTONES_FILE_NAME: &str = "tombstones.json";

#[derive(Clone)]
pub struct Tombstone {
    pub matchers: Vec<Matcher>,
    pub mint: i64,
    pub maxt: i64,
}

impl Tombstone {
    fn covers_series(&self, labels: &[(String, String)]) -> bool {
        self.matchers.iter().all(|matcher| {
            let value = labels
                .iter()
                .find(|(name, _)| name == matcher.name())
                .map(|(_, value)| value.as_str())
                .unwrap_or("");
            matcher.matches(value)
        })
    }
}

#[derive(Serialize, Deserialize)]
struct StoredTombstone {
    /// `(name, op, value)` with op one of `=`, `!=`, `=~`, `!~`.
    matchers: Vec<(String, String, String)>,
    mint: i64,
    maxt: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum TombstoneError {
    #[error("cannot read tombstones {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("cannot write tombstones {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub struct Tombstones {
    path: PathBuf,
    list: RwLock<Arc<Vec<Tombstone>>>,
}

impl Tombstones {
    /// Loads the tombstones of the database in `dir` (none if the file does not exist).
    pub fn load(dir: &Path) -> Result<Tombstones, TombstoneError> {
        let path = dir.join(TOMBSTONES_FILE_NAME);
        let list = match std::fs::read(&path) {
            Ok(bytes) => decode(&bytes).map_err(|reason| TombstoneError::Read {
                path: path.clone(),
                reason,
            })?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(err) => {
                return Err(TombstoneError::Read {
                    path,
                    reason: err.to_string(),
                })
            }
        };
        Ok(Tombstones {
            path,
            list: RwLock::new(Arc::new(list)),
        })
    }

    fn current(&self) -> Arc<Vec<Tombstone>> {
        self.list
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn is_empty(&self) -> bool {
        self.current().is_empty()
    }

    pub fn len(&self) -> usize {
        self.current().len()
    }

    /// Adds tombstones and makes them durable before returning.
    pub fn add(&self, added: Vec<Tombstone>) -> Result<(), TombstoneError> {
        let mut guard = self
            .list
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut next: Vec<Tombstone> = guard.as_ref().clone();
        next.extend(added);
        self.persist(&next)?;
        *guard = Arc::new(next);
        Ok(())
    }

    /// Forgets tombstones that end before `oldest`: no data that old is kept any more.
    pub fn forget_before(&self, oldest: i64) -> Result<(), TombstoneError> {
        let mut guard = self
            .list
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.iter().all(|tombstone| tombstone.maxt >= oldest) {
            return Ok(());
        }
        let next: Vec<Tombstone> = guard
            .iter()
            .filter(|tombstone| tombstone.maxt >= oldest)
            .cloned()
            .collect();
        self.persist(&next)?;
        *guard = Arc::new(next);
        Ok(())
    }

    /// Drops the samples covered by tombstones; series left without samples are removed.
    pub fn apply(&self, series: &mut Vec<SeriesData>) {
        let list = self.current();
        if list.is_empty() {
            return;
        }
        for data in series.iter_mut() {
            for tombstone in list.iter().filter(|t| t.covers_series(&data.labels)) {
                data.samples
                    .retain(|&(t, _)| t < tombstone.mint || t > tombstone.maxt);
                data.histograms
                    .retain(|(t, _)| *t < tombstone.mint || *t > tombstone.maxt);
            }
        }
        series.retain(|data| !data.samples.is_empty() || !data.histograms.is_empty());
    }

    fn persist(&self, list: &[Tombstone]) -> Result<(), TombstoneError> {
        let write_error = |source| TombstoneError::Write {
            path: self.path.clone(),
            source,
        };
        let stored: Vec<StoredTombstone> = list
            .iter()
            .map(|tombstone| StoredTombstone {
                matchers: tombstone
                    .matchers
                    .iter()
                    .map(|m| {
                        (
                            m.name().to_string(),
                            m.op().as_str().to_string(),
                            m.value().to_string(),
                        )
                    })
                    .collect(),
                mint: tombstone.mint,
                maxt: tombstone.maxt,
            })
            .collect();
        let bytes = serde_json::to_vec_pretty(&stored).map_err(|err| write_error(err.into()))?;
        let tmp = self.path.with_extension("json.tmp");
        {
            use std::io::Write;
            let mut file = std::fs::File::create(&tmp).map_err(write_error)?;
            file.write_all(&bytes).map_err(write_error)?;
            file.sync_all().map_err(write_error)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(write_error)?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)
                .and_then(|dir| dir.sync_all())
                .map_err(write_error)?;
        }
        Ok(())
    }
}

fn decode(bytes: &[u8]) -> Result<Vec<Tombstone>, String> {
    let stored: Vec<StoredTombstone> =
        serde_json::from_slice(bytes).map_err(|err| err.to_string())?;
    stored
        .into_iter()
        .map(|tombstone| {
            let matchers = tombstone
                .matchers
                .into_iter()
                .map(|(name, op, value)| {
                    let op = match op.as_str() {
                        "=" => MatchOp::Equal,
                        "!=" => MatchOp::NotEqual,
                        "=~" => MatchOp::RegexMatch,
                        "!~" => MatchOp::RegexNoMatch,
                        other => return Err(format!("unknown matcher operator {other:?}")),
                    };
                    Matcher::new(op, name, value).map_err(|err| err.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Tombstone {
                matchers,
                mint: tombstone.mint,
                maxt: tombstone.maxt,
            })
        })
        .collect()
}
