//! [`MetaStore`]: get/put/delete, prefix scans and atomic batches, each write durable
//! (fsynced) before it returns.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("cannot open metadata store at {path}: {source}")]
    Open { path: PathBuf, source: sled::Error },
    #[error("metadata store: {0}")]
    Storage(#[from] sled::Error),
    #[error("metadata store migration {version} ({name}) failed: {message}")]
    Migration {
        version: u64,
        name: &'static str,
        message: String,
    },
    #[error("metadata store is at schema version {found}, newer than this binary knows ({known}); refusing to downgrade")]
    TooNew { found: u64, known: u64 },
}

/// A key and its value, as returned by scans.
pub type Entry = (Vec<u8>, Vec<u8>);

/// The durable metadata store. Clones share one database.
#[derive(Clone)]
pub struct MetaStore {
    db: sled::Db,
}

/// Writes applied together or not at all by [`MetaStore::apply`].
#[derive(Default)]
pub struct WriteBatch {
    batch: sled::Batch,
    is_empty: bool,
}

impl WriteBatch {
    pub fn new() -> Self {
        WriteBatch {
            batch: sled::Batch::default(),
            is_empty: true,
        }
    }

    pub fn put(&mut self, key: &[u8], value: &[u8]) {
        self.batch.insert(key, value);
        self.is_empty = false;
    }

    pub fn delete(&mut self, key: &[u8]) {
        self.batch.remove(key);
        self.is_empty = false;
    }

    pub fn is_empty(&self) -> bool {
        self.is_empty
    }
}

impl MetaStore {
    /// Opens (creating if needed) the store in `dir`. Does not run migrations.
    pub fn open(dir: &Path) -> Result<MetaStore, MetaError> {
        // sled releases its file lock from a background thread after the last handle is
        // dropped, so a reopen right after a close (a restart in the same process, a test)
        // can find it still held for a moment: retry briefly. Other processes are kept
        // out by the data directory's own lock.
        let mut attempts = 0;
        loop {
            let opened = sled::Config::new()
                .path(dir)
                .mode(sled::Mode::LowSpace)
                .open();
            match opened {
                Ok(db) => return Ok(MetaStore { db }),
                Err(source) if attempts < 100 && is_lock_contention(&source) => {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(source) => {
                    return Err(MetaError::Open {
                        path: dir.to_path_buf(),
                        source,
                    })
                }
            }
        }
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        Ok(self.db.get(key)?.map(|value| value.to_vec()))
    }

    /// Stores `value` under `key`; durable when this returns.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<(), MetaError> {
        self.db.insert(key, value)?;
        self.db.flush()?;
        Ok(())
    }

    /// Removes `key`; durable when this returns. Removing a missing key is not an error.
    pub fn delete(&self, key: &[u8]) -> Result<(), MetaError> {
        self.db.remove(key)?;
        self.db.flush()?;
        Ok(())
    }

    /// Every (key, value) whose key starts with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, MetaError> {
        self.db
            .scan_prefix(prefix)
            .map(|entry| {
                let (key, value) = entry?;
                Ok((key.to_vec(), value.to_vec()))
            })
            .collect()
    }

    /// Applies every write of `batch` atomically; durable when this returns.
    pub fn apply(&self, batch: WriteBatch) -> Result<(), MetaError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.db.apply_batch(batch.batch)?;
        self.db.flush()?;
        Ok(())
    }

    /// Makes every earlier write durable (each write already is; this is for shutdown).
    pub fn flush(&self) -> Result<(), MetaError> {
        self.db.flush()?;
        Ok(())
    }

    /// On-disk size in bytes, for self-metrics.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

fn is_lock_contention(error: &sled::Error) -> bool {
    matches!(error, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_delete_scan_and_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetaStore::open(dir.path()).unwrap();
        store.put(b"dash/a", b"1").unwrap();
        store.put(b"dash/b", b"2").unwrap();
        store.put(b"silence/x", b"3").unwrap();
        assert_eq!(store.get(b"dash/a").unwrap().as_deref(), Some(&b"1"[..]));
        let dashes = store.scan_prefix(b"dash/").unwrap();
        assert_eq!(dashes.len(), 2);
        assert_eq!(dashes[1], (b"dash/b".to_vec(), b"2".to_vec()));

        let mut batch = WriteBatch::new();
        batch.delete(b"dash/a");
        batch.put(b"dash/c", b"4");
        store.apply(batch).unwrap();
        let keys: Vec<Vec<u8>> = store
            .scan_prefix(b"dash/")
            .unwrap()
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        assert_eq!(keys, vec![b"dash/b".to_vec(), b"dash/c".to_vec()]);

        store.delete(b"dash/b").unwrap();
        store.delete(b"never/there").unwrap();
        assert_eq!(store.get(b"dash/b").unwrap(), None);
        drop(store);

        let reopened = MetaStore::open(dir.path()).unwrap();
        assert_eq!(reopened.get(b"dash/c").unwrap().as_deref(), Some(&b"4"[..]));
        assert_eq!(
            reopened.get(b"silence/x").unwrap().as_deref(),
            Some(&b"3"[..])
        );
    }
}
