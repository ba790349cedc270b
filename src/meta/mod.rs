//! The metadata store: small, durable key-value state (dashboards, silences, alert state,
//! tokens) in sled under `<data_dir>/meta`, behind [`MetaStore`], plus the migration runner
//! that brings an older store's layout up to date at start-up. Depends on nothing else in
//! the crate; subsystems own their key prefixes.

mod migrate;
mod store;

pub use migrate::{run_migrations, Migration, MIGRATIONS, SCHEMA_VERSION_KEY};
pub use store::{MetaError, MetaStore, WriteBatch};
