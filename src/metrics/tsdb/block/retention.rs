//! Retention: which whole blocks to delete, by age and by total size.
//! See "Retention" in `docs/format/block.md`.

use super::meta::{BlockId, BlockMeta};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionReason {
    /// All samples older than the retention time.
    Time,
    /// The oldest block while the total size exceeds the limit.
    Size,
}

impl RetentionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionReason::Time => "time",
            RetentionReason::Size => "size",
        }
    }
}

/// Blocks to delete: those with `max_time <= now_ms − retention_ms` (when `retention_ms >
/// 0`), then, oldest first, while the remaining blocks plus `other_bytes` (the WAL) exceed
/// `size_limit` (when `size_limit > 0`).
pub fn plan(
    blocks: &[BlockMeta],
    now_ms: i64,
    retention_ms: i64,
    size_limit: u64,
    other_bytes: u64,
) -> Vec<(BlockId, RetentionReason)> {
    let mut sorted: Vec<&BlockMeta> = blocks.iter().collect();
    sorted.sort_by_key(|meta| (meta.max_time, meta.min_time, meta.id));
    let mut doomed = Vec::new();
    let mut kept = Vec::new();
    let cutoff = now_ms.saturating_sub(retention_ms);
    for meta in sorted {
        if retention_ms > 0 && meta.max_time <= cutoff {
            doomed.push((meta.id, RetentionReason::Time));
        } else {
            kept.push(meta);
        }
    }
    if size_limit > 0 {
        let mut total: u64 = other_bytes + kept.iter().map(|meta| meta.size_bytes()).sum::<u64>();
        for meta in kept {
            if total <= size_limit {
                break;
            }
            total -= meta.size_bytes();
            doomed.push((meta.id, RetentionReason::Size));
        }
    }
    doomed
}

#[cfg(test)]
mod tests {
    use super::super::meta::{BlockStats, CompactionMeta, BLOCK_FORMAT_VERSION};
    use super::*;

    fn meta(min_time: i64, max_time: i64, bytes: u64) -> BlockMeta {
        let id = BlockId::new(min_time);
        BlockMeta {
            format_version: BLOCK_FORMAT_VERSION,
            id,
            min_time,
            max_time,
            stats: BlockStats {
                chunks_bytes: bytes,
                ..BlockStats::default()
            },
            compaction: CompactionMeta {
                level: 1,
                sources: vec![id],
                parents: vec![],
            },
        }
    }

    #[test]
    fn by_age_and_by_size() {
        let blocks = vec![meta(0, 100, 10), meta(100, 200, 10), meta(200, 300, 10)];
        // Age: now 350, keep 150 → cutoff 200: blocks ending at or before 200 go.
        let doomed = plan(&blocks, 350, 150, 0, 0);
        assert_eq!(
            doomed,
            vec![
                (blocks[0].id, RetentionReason::Time),
                (blocks[1].id, RetentionReason::Time)
            ]
        );
        // Nothing is old enough at 150 with a retention of 1000.
        assert!(plan(&blocks, 150, 1000, 0, 0).is_empty());
        // Size: 30 bytes of blocks + 5 of WAL above a limit of 22: the two oldest go.
        let doomed = plan(&blocks, 0, 0, 22, 5);
        assert_eq!(
            doomed,
            vec![
                (blocks[0].id, RetentionReason::Size),
                (blocks[1].id, RetentionReason::Size)
            ]
        );
        assert!(plan(&blocks, 0, 0, 35, 5).is_empty());
        // Both: age takes the first, size then the second.
        let doomed = plan(&blocks, 250, 150, 15, 0);
        assert_eq!(
            doomed,
            vec![
                (blocks[0].id, RetentionReason::Time),
                (blocks[1].id, RetentionReason::Size)
            ]
        );
    }
}
