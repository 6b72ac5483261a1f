//! The PostgreSQL backend, for several API nodes on one database. Writers of one organisation
//! are serialised by a transaction-scoped advisory lock on the organisation id, so the change
//! feed of each organisation is in commit order.
//! The queries themselves are shared with SQLite (`sql.rs`).

use crate::{OrgId, StoreError};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, Transaction};
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A store in one PostgreSQL database.
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        // TODO(#4): pool size, statement timeout and TLS from configuration; reconnect backoff.
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(PgStore { pool })
    }

    /// A write transaction holding the organisation's advisory lock until it ends.
    async fn begin_write(&self, org: OrgId) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(org.0)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// A read transaction that sees one snapshot of the database.
    async fn begin_read(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

crate::sql::impl_sql_store!(PgStore, PgWrite, Postgres);
