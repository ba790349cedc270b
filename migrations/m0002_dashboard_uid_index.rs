//! Migration 2: dashboards get a title index (`dashboards/by_title/<lowercase title>` →
//! uid) so the UI can look dashboards up by name without reading every one.

use crate::meta::{MetaStore, WriteBatch};

pub fn plan(store: &MetaStore) -> Result<WriteBatch, String> {
    let mut batch = WriteBatch::new();
    for (key, value) in store
        .scan_prefix(b"dashboards/by_uid/")
        .map_err(|err| err.to_string())?
    {
        let uid = &key[b"dashboards/by_uid/".len()..];
        // A dashboard we cannot read keeps working by uid; it just is not indexed.
        let Ok(dashboard) = serde_json::from_slice::<serde_json::Value>(&value) else {
            tracing::warn!(uid = %String::from_utf8_lossy(uid), "dashboard is not valid JSON; not indexed by title");
            continue;
        };
        if let Some(title) = dashboard.get("title").and_then(|title| title.as_str()) {
            let mut index_key = b"dashboards/by_title/".to_vec();
            index_key.extend_from_slice(title.to_lowercase().as_bytes());
            batch.put(&index_key, uid);
        }
    }
    Ok(batch)
}
