//! The embedded SQLite backend: one file, WAL journal, writes in `BEGIN IMMEDIATE` transactions
//! so concurrent writers (a server and an import command) queue instead of failing. The queries
//! themselves are shared with PostgreSQL (`sql.rs`).

use crate::{ChangeSubscription, OrgId, StoreError, StoreOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::path::Path;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A store in one SQLite file.
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating when missing) the database file and brings its schema up to date.
    pub async fn open(path: &Path, settings: &StoreOptions) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(120))
            // A bulk import's transaction spills a small page cache to disk mid-way, and each
            // multi-row statement keeps a statement journal: 32 MiB of cache and journals in
            // memory keep both off the disk.
            .pragma("cache_size", "-32768")
            .pragma("temp_store", "memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.pool_size.unwrap_or(4))
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// A write transaction that takes SQLite's write lock at once (`BEGIN IMMEDIATE`), so
    /// writers queue on the busy timeout instead of failing when they upgrade a read lock.
    async fn begin_write(&self, _org: OrgId) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// A read transaction: in WAL mode it sees one snapshot from its first read on.
    async fn begin_read(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// Nothing to announce: readers in other processes ask for the change sequence number.
    async fn announce_write(
        &self,
        _tx: &mut Transaction<'static, Sqlite>,
        _org: OrgId,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// SQLite cannot push news of other processes' writes.
    async fn subscribe_changes(&self) -> Result<Option<ChangeSubscription>, StoreError> {
        Ok(None)
    }
}

crate::sql::impl_sql_store!(SqliteStore, SqliteWrite, Sqlite);
