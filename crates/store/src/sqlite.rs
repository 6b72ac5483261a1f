//! The embedded SQLite backend: one file, WAL journal, writes in `BEGIN IMMEDIATE` transactions
//! so concurrent writers (a server and an import command) queue instead of failing.

use crate::apply::{apply, decode, now, WriteTx};
use crate::keys::{hash_key, hashes_match, KeyPair};
use crate::{valid_org_name, ApplyOutcome, ChangeBatch, Org, OrgId, Store, StoreError};
use async_trait::async_trait;
use imagedex_model::{ImageRecord, Observation};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A store in one SQLite file.
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating when missing) the database file and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
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
            .busy_timeout(Duration::from_secs(120));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_org(&self, name: &str) -> Result<Org, StoreError> {
        if !valid_org_name(name) {
            return Err(StoreError::InvalidOrgName(name.to_string()));
        }
        let inserted =
            sqlx::query("INSERT INTO orgs (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING")
                .bind(name)
                .bind(now())
                .execute(&self.pool)
                .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::OrgExists(name.to_string()));
        }
        Ok(Org {
            id: OrgId(inserted.last_insert_rowid()),
            name: name.to_string(),
        })
    }

    async fn find_org(&self, name: &str) -> Result<Option<Org>, StoreError> {
        let row = sqlx::query("SELECT id FROM orgs WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| Org {
            id: OrgId(r.get(0)),
            name: name.to_string(),
        }))
    }

    async fn create_key_pair(&self, org: OrgId) -> Result<KeyPair, StoreError> {
        let pair = KeyPair::generate();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for (kind, key) in [("api", &pair.api_key), ("app", &pair.app_key)] {
            let hashed = hash_key(key);
            sqlx::query("INSERT INTO api_keys (org_id, kind, lookup, hash, created_at) VALUES (?, ?, ?, ?, ?)")
                .bind(org.0)
                .bind(kind)
                .bind(&hashed.lookup)
                .bind(&hashed.hash[..])
                .bind(now())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(pair)
    }

    async fn authenticate(
        &self,
        api_key: &str,
        app_key: &str,
    ) -> Result<Option<OrgId>, StoreError> {
        let mut orgs = [None, None];
        for (slot, (kind, key)) in orgs.iter_mut().zip([("api", api_key), ("app", app_key)]) {
            let presented = hash_key(key);
            let rows =
                sqlx::query("SELECT org_id, hash FROM api_keys WHERE kind = ? AND lookup = ?")
                    .bind(kind)
                    .bind(&presented.lookup)
                    .fetch_all(&self.pool)
                    .await?;
            for row in rows {
                let stored: Vec<u8> = row.get(1);
                if hashes_match(&stored, &presented.hash) {
                    *slot = Some(OrgId(row.get(0)));
                }
            }
        }
        Ok(match orgs {
            [Some(a), Some(b)] if a == b => Some(a),
            _ => None,
        })
    }

    async fn apply_observations(
        &self,
        org: OrgId,
        observations: &[Observation],
    ) -> Result<ApplyOutcome, StoreError> {
        let mut tx = SqliteWrite(self.pool.begin_with("BEGIN IMMEDIATE").await?);
        let outcome = apply(&mut tx, org, observations).await?;
        tx.0.commit().await?;
        Ok(outcome)
    }

    async fn change_seq(&self, org: OrgId) -> Result<i64, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM changes WHERE org_id = ?")
            .bind(org.0)
            .fetch_one(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0))
    }

    async fn load_images(&self, org: OrgId) -> Result<(i64, Vec<ImageRecord>), StoreError> {
        let mut tx = self.pool.begin().await?;
        let seq: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM changes WHERE org_id = ?")
            .bind(org.0)
            .fetch_one(&mut *tx)
            .await?;
        let bodies: Vec<String> =
            sqlx::query_scalar("SELECT body FROM images WHERE org_id = ? ORDER BY id")
                .bind(org.0)
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        let records = bodies
            .iter()
            .map(|b| decode(b))
            .collect::<Result<Vec<ImageRecord>, _>>()?;
        Ok((seq.unwrap_or(0), records))
    }

    async fn changes_since(&self, org: OrgId, seq: i64) -> Result<ChangeBatch, StoreError> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT seq, image_id FROM changes WHERE org_id = ? AND seq > ? ORDER BY seq",
        )
        .bind(org.0)
        .bind(seq)
        .fetch_all(&mut *tx)
        .await?;
        let mut batch = ChangeBatch {
            seq,
            ..ChangeBatch::default()
        };
        let mut ids = BTreeSet::new();
        for row in rows {
            batch.seq = batch.seq.max(row.get(0));
            ids.insert(row.get::<String, _>(1));
        }
        for id in ids {
            let body: Option<String> =
                sqlx::query_scalar("SELECT body FROM images WHERE org_id = ? AND id = ?")
                    .bind(org.0)
                    .bind(&id)
                    .fetch_optional(&mut *tx)
                    .await?;
            match body {
                Some(body) => batch.upserted.push(decode(&body)?),
                None => batch.removed.push(id),
            }
        }
        tx.commit().await?;
        Ok(batch)
    }
}

/// The SQLite side of the shared write path.
struct SqliteWrite(Transaction<'static, Sqlite>);

#[async_trait]
impl WriteTx for SqliteWrite {
    async fn observation_body(
        &mut self,
        org: OrgId,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT body FROM observations WHERE org_id = ? AND obs_key = ?")
                .bind(org.0)
                .bind(key)
                .fetch_optional(&mut *self.0)
                .await?,
        )
    }

    async fn upsert_observation(
        &mut self,
        org: OrgId,
        key: &str,
        name: &str,
        body: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO observations (org_id, obs_key, name, body, updated_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (org_id, obs_key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(org.0)
        .bind(key)
        .bind(name)
        .bind(body)
        .bind(at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn observations_of(
        &mut self,
        org: OrgId,
        name: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT obs_key, body FROM observations WHERE org_id = ? AND name = ?")
                .bind(org.0)
                .bind(name)
                .fetch_all(&mut *self.0)
                .await?,
        )
    }

    async fn delete_observation(&mut self, org: OrgId, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM observations WHERE org_id = ? AND obs_key = ?")
            .bind(org.0)
            .bind(key)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn images_of(
        &mut self,
        org: OrgId,
        name: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT id, body FROM images WHERE org_id = ? AND name = ?")
                .bind(org.0)
                .bind(name)
                .fetch_all(&mut *self.0)
                .await?,
        )
    }

    async fn upsert_image(
        &mut self,
        org: OrgId,
        id: &str,
        name: &str,
        body: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO images (org_id, id, name, body, updated_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (org_id, id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(org.0)
        .bind(id)
        .bind(name)
        .bind(body)
        .bind(at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn delete_image(&mut self, org: OrgId, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM images WHERE org_id = ? AND id = ?")
            .bind(org.0)
            .bind(id)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn record_change(&mut self, org: OrgId, id: &str, at: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO changes (org_id, image_id, at) VALUES (?, ?, ?)")
            .bind(org.0)
            .bind(id)
            .bind(at)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }
}
