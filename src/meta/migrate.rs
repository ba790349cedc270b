//! The migration runner: applies the numbered steps in `migrations/` that a store has not
//! seen yet, in order, each atomically together with the new schema version.

use super::store::{MetaError, MetaStore, WriteBatch};

/// Key holding the store's schema version as a big-endian u64.
pub const SCHEMA_VERSION_KEY: &[u8] = b"meta/schema_version";

/// One forward-only step. `plan` reads the store and returns the writes that bring it to
/// `version`; the runner adds the version bump to the same batch, so a crash mid-way
/// leaves the store at the previous version and the step runs again next start.
pub struct Migration {
    pub version: u64,
    pub name: &'static str,
    pub plan: fn(&MetaStore) -> Result<WriteBatch, String>,
}

#[path = "../../migrations/m0001_initial.rs"]
mod m0001_initial;
#[path = "../../migrations/m0002_dashboard_uid_index.rs"]
mod m0002_dashboard_uid_index;

/// Every migration, in version order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        plan: m0001_initial::plan,
    },
    Migration {
        version: 2,
        name: "dashboard_uid_index",
        plan: m0002_dashboard_uid_index::plan,
    },
];

pub fn schema_version(store: &MetaStore) -> Result<u64, MetaError> {
    Ok(store
        .get(SCHEMA_VERSION_KEY)?
        .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0))
}

/// Applies every migration newer than the store's version; returns the final version.
/// Running it again is a no-op.
pub fn run_migrations(store: &MetaStore, migrations: &[Migration]) -> Result<u64, MetaError> {
    debug_assert!(migrations
        .windows(2)
        .all(|pair| pair[0].version < pair[1].version));
    let known = migrations.last().map_or(0, |migration| migration.version);
    let stored = schema_version(store)?;
    if stored > known {
        return Err(MetaError::TooNew {
            found: stored,
            known,
        });
    }
    let mut version = stored;
    for migration in migrations
        .iter()
        .filter(|migration| migration.version > stored)
    {
        let mut batch = (migration.plan)(store).map_err(|message| MetaError::Migration {
            version: migration.version,
            name: migration.name,
            message,
        })?;
        batch.put(SCHEMA_VERSION_KEY, &migration.version.to_be_bytes());
        store.apply(batch)?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "applied metadata migration"
        );
        version = migration.version;
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_store_reaches_latest_and_rerun_is_noop() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetaStore::open(dir.path()).unwrap();
        let latest = MIGRATIONS.last().unwrap().version;
        assert_eq!(run_migrations(&store, MIGRATIONS).unwrap(), latest);
        let created = store.get(b"meta/created_at").unwrap();
        assert!(created.is_some());
        assert_eq!(run_migrations(&store, MIGRATIONS).unwrap(), latest);
        assert_eq!(
            store.get(b"meta/created_at").unwrap(),
            created,
            "rerun must not rewrite"
        );
    }

    #[test]
    fn version_one_store_with_dashboards_gets_uid_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetaStore::open(dir.path()).unwrap();
        // A store as version 1 left it: dashboards keyed by uid, no title index.
        run_migrations(&store, &MIGRATIONS[..1]).unwrap();
        store
            .put(
                b"dashboards/by_uid/abc",
                br#"{"uid":"abc","title":"Node Exporter Full"}"#,
            )
            .unwrap();
        store.put(b"dashboards/by_uid/bad", b"not json").unwrap();
        assert_eq!(schema_version(&store).unwrap(), 1);

        assert_eq!(run_migrations(&store, MIGRATIONS).unwrap(), 2);
        assert_eq!(
            store
                .get(b"dashboards/by_title/node exporter full")
                .unwrap()
                .as_deref(),
            Some(&b"abc"[..])
        );
        assert_eq!(store.scan_prefix(b"dashboards/by_title/").unwrap().len(), 1);
    }

    #[test]
    fn newer_store_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetaStore::open(dir.path()).unwrap();
        store.put(SCHEMA_VERSION_KEY, &99u64.to_be_bytes()).unwrap();
        let err = run_migrations(&store, MIGRATIONS).unwrap_err();
        assert!(err.to_string().contains("newer"), "{err}");
    }

    #[test]
    fn failing_step_leaves_previous_version() {
        fn fails(_: &MetaStore) -> Result<WriteBatch, String> {
            Err("boom".to_string())
        }
        let dir = tempfile::tempdir().unwrap();
        let store = MetaStore::open(dir.path()).unwrap();
        let steps = [
            Migration {
                version: 1,
                name: "initial",
                plan: m0001_initial::plan,
            },
            Migration {
                version: 2,
                name: "fails",
                plan: fails,
            },
        ];
        let err = run_migrations(&store, &steps).unwrap_err();
        assert!(err.to_string().contains("boom"));
        assert_eq!(schema_version(&store).unwrap(), 1);
    }
}
