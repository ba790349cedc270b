//! [`Tsdb::snapshot`]: a point-in-time copy of the database for backups (Prometheus's
//! `/api/v1/admin/tsdb/snapshot`): hard links to every block (blocks are immutable, so
//! links cost no space) plus, unless skipped, the head written out as blocks. The live
//! head is left as it is. A snapshot folder is laid out like a database folder (blocks
//! under `blocks/`), so it opens as one: restoring is pointing a database at it.

use std::path::Path;

use super::db::{Tsdb, BLOCKS_DIR_NAME};
use super::error::TsdbError;
use super::tombstones::TOMBSTONES_FILE_NAME;
use crate::metrics::tsdb::block::BlockError;

/// Folder of the snapshots inside the database directory.
pub const SNAPSHOTS_DIR_NAME: &str = "snapshots";

impl Tsdb {
    /// Writes a snapshot into `<tsdb>/snapshots/<name>/` and returns `name`
    /// (`<UTC time>-<random hex>`, as Prometheus names them). Blocking.
    pub fn snapshot(&self, now_ms: i64, skip_head: bool) -> Result<String, TsdbError> {
        // One snapshot or maintenance step at a time: the block list must not change
        // while it is linked.
        let _serialized = self
            .maintenance
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let name = snapshot_name(now_ms);
        let dir = self.dir().join(SNAPSHOTS_DIR_NAME).join(&name);
        let blocks_dir = dir.join(BLOCKS_DIR_NAME);
        std::fs::create_dir_all(&blocks_dir).map_err(BlockError::io(&blocks_dir))?;
        let blocks: Vec<_> = self.blocks().iter().cloned().collect();
        for block in blocks {
            link_tree(block.dir(), &blocks_dir.join(block.id().to_string()))?;
        }
        if !skip_head {
            let range = self.head.chunk_range_ms;
            for start in self.head.windows_before(i64::MAX) {
                self.write_window(&blocks_dir, start, start.saturating_add(range), now_ms)?;
            }
        }
        let tombstones = self.dir().join(TOMBSTONES_FILE_NAME);
        if tombstones.exists() {
            let target = dir.join(TOMBSTONES_FILE_NAME);
            std::fs::copy(&tombstones, &target).map_err(BlockError::io(&target))?;
        }
        Ok(name)
    }
}

fn snapshot_name(now_ms: i64) -> String {
    // 2026-11-24T02:35:36.126Z → 20261124T023536Z
    let stamp: String = crate::time_format::rfc3339_millis(now_ms)
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    let random = std::collections::hash_map::RandomState::new();
    let suffix = std::hash::BuildHasher::hash_one(&random, now_ms);
    format!("{stamp}Z-{suffix:016x}")
}

/// Recreates `from`'s folder tree at `to` with every file hard-linked.
fn link_tree(from: &Path, to: &Path) -> Result<(), TsdbError> {
    std::fs::create_dir_all(to).map_err(BlockError::io(to))?;
    for entry in std::fs::read_dir(from).map_err(BlockError::io(from))? {
        let entry = entry.map_err(BlockError::io(from))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        if entry.file_type().map_err(BlockError::io(&source))?.is_dir() {
            link_tree(&source, &target)?;
        } else {
            std::fs::hard_link(&source, &target).map_err(BlockError::io(&target))?;
        }
    }
    Ok(())
}
