//! The embedded SQLite backend: one file, WAL journal, writes in `BEGIN IMMEDIATE` transactions
//! so concurrent writers (a server and an import command) queue instead of failing. The queries
//! themselves are shared with PostgreSQL (`sql.rs`).

use crate::apply::{ImageRow, ObservationRow, RefColumn, Rows};
use crate::{ChangeSubscription, OrgId, StoreError, StoreOptions};
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqlitePool, Transaction};
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

crate::sql::impl_sql_store!(SqliteStore, SqliteRows, Sqlite);

/// The most rows one statement carries: 7 bound values per row stay far below SQLite's limit of
/// 32,766.
const CHUNK_ROWS: usize = 1000;

/// The row operations, inside one transaction: multi-row `VALUES` and `IN` lists.
struct SqliteRows(Transaction<'static, Sqlite>);

#[async_trait]
impl Rows for SqliteRows {
    async fn observations_by_ref(
        &mut self,
        org: OrgId,
        column: RefColumn,
        refs: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut found = Vec::new();
        for chunk in refs.chunks(CHUNK_ROWS) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "SELECT obs_key, body FROM observations WHERE org_id = ",
            );
            query.push_bind(org.0);
            query.push(format_args!(" AND {} IN ", column.column()));
            push_list(&mut query, chunk);
            found.extend(query.build_query_as().fetch_all(&mut *self.0).await?);
        }
        Ok(found)
    }

    async fn upsert_observations(
        &mut self,
        org: OrgId,
        rows: &[ObservationRow],
        at: &str,
    ) -> Result<(), StoreError> {
        for chunk in rows.chunks(CHUNK_ROWS) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "INSERT INTO observations \
                 (org_id, obs_key, name, digest_ref, id_ref, body, updated_at) ",
            );
            query.push_values(chunk, |mut row, obs| {
                row.push_bind(org.0)
                    .push_bind(&obs.key)
                    .push_bind(&obs.name)
                    .push_bind(&obs.digest_ref)
                    .push_bind(&obs.id_ref)
                    .push_bind(&obs.body)
                    .push_bind(at);
            });
            query.push(
                " ON CONFLICT (org_id, obs_key) DO UPDATE SET \
                 body = excluded.body, updated_at = excluded.updated_at",
            );
            query.build().execute(&mut *self.0).await?;
        }
        Ok(())
    }

    async fn delete_observations(&mut self, org: OrgId, keys: &[String]) -> Result<(), StoreError> {
        for chunk in keys.chunks(CHUNK_ROWS) {
            let mut query = QueryBuilder::<Sqlite>::new("DELETE FROM observations WHERE org_id = ");
            query.push_bind(org.0).push(" AND obs_key IN ");
            push_list(&mut query, chunk);
            query.build().execute(&mut *self.0).await?;
        }
        Ok(())
    }

    async fn image_bodies(
        &mut self,
        org: OrgId,
        ids: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut found = Vec::new();
        for chunk in ids.chunks(CHUNK_ROWS) {
            let mut query =
                QueryBuilder::<Sqlite>::new("SELECT id, body FROM images WHERE org_id = ");
            query.push_bind(org.0).push(" AND id IN ");
            push_list(&mut query, chunk);
            found.extend(query.build_query_as().fetch_all(&mut *self.0).await?);
        }
        Ok(found)
    }

    async fn upsert_images(
        &mut self,
        org: OrgId,
        rows: &[ImageRow],
        at: &str,
    ) -> Result<(), StoreError> {
        for chunk in rows.chunks(CHUNK_ROWS) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "INSERT INTO images (org_id, id, name, body, updated_at) ",
            );
            query.push_values(chunk, |mut row, image| {
                row.push_bind(org.0)
                    .push_bind(&image.id)
                    .push_bind(&image.name)
                    .push_bind(&image.body)
                    .push_bind(at);
            });
            query.push(
                " ON CONFLICT (org_id, id) DO UPDATE SET \
                 body = excluded.body, updated_at = excluded.updated_at",
            );
            query.build().execute(&mut *self.0).await?;
        }
        Ok(())
    }

    async fn delete_images(&mut self, org: OrgId, ids: &[String]) -> Result<(), StoreError> {
        for chunk in ids.chunks(CHUNK_ROWS) {
            let mut query = QueryBuilder::<Sqlite>::new("DELETE FROM images WHERE org_id = ");
            query.push_bind(org.0).push(" AND id IN ");
            push_list(&mut query, chunk);
            query.build().execute(&mut *self.0).await?;
        }
        Ok(())
    }

    async fn record_changes(
        &mut self,
        org: OrgId,
        ids: &[String],
        at: &str,
    ) -> Result<(), StoreError> {
        for chunk in ids.chunks(CHUNK_ROWS) {
            let mut query =
                QueryBuilder::<Sqlite>::new("INSERT INTO changes (org_id, image_id, at) ");
            query.push_values(chunk, |mut row, id| {
                row.push_bind(org.0).push_bind(id).push_bind(at);
            });
            query.build().execute(&mut *self.0).await?;
        }
        Ok(())
    }
}

/// Appends `(v1, v2, ...)` with each value bound.
fn push_list<'a>(query: &mut QueryBuilder<'a, Sqlite>, values: &'a [String]) {
    query.push("(");
    let mut list = query.separated(", ");
    for value in values {
        list.push_bind(value);
    }
    list.push_unseparated(")");
}
