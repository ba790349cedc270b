//! An exclusive lock on the data directory, so two servers never write the same files.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// Held for the life of the server; the OS releases it when the process exits, even on
/// `kill -9`, so a stale lock file never blocks a restart.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    pub path: PathBuf,
}

impl DataDirLock {
    pub fn acquire(data_dir: &Path) -> Result<DataDirLock, String> {
        std::fs::create_dir_all(data_dir)
            .map_err(|err| format!("cannot create data directory {}: {err}", data_dir.display()))?;
        let path = data_dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|err| format!("cannot open lock file {}: {err}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file, path }),
            Err(TryLockError::WouldBlock) => Err(format!(
                "data directory {} is in use by another sightline process (lock file {} is held); \
                 stop that process or choose another --data-dir",
                data_dir.display(),
                path.display()
            )),
            Err(TryLockError::Error(err)) => Err(format!("cannot lock {}: {err}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_fails_until_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let err = DataDirLock::acquire(dir.path()).unwrap_err();
        assert!(err.contains("in use by another sightline process"), "{err}");
        drop(first);
        DataDirLock::acquire(dir.path()).unwrap();
    }
}
