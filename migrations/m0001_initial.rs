//! Migration 1: a new store records when it was created.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::meta::{MetaStore, WriteBatch};

pub fn plan(store: &MetaStore) -> Result<WriteBatch, String> {
    let mut batch = WriteBatch::new();
    if store
        .get(b"meta/created_at")
        .map_err(|err| err.to_string())?
        .is_none()
    {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|err| err.to_string())?
            .as_millis() as u64;
        batch.put(b"meta/created_at", &now_ms.to_be_bytes());
    }
    Ok(batch)
}
