//! The PostgreSQL backend, for several API nodes on one database. Writers of one organisation
//! are serialised by a transaction-scoped advisory lock on the organisation id, so the change
//! feed of each organisation is in commit order. A write that changed records notifies
//! [`CHANNEL`] with the organisation id when it commits; each node listens there, and after a
//! lost connection it says [`ChangeEvent::Resync`] so readers catch up by sequence number.
//! The queries themselves are shared with SQLite (`sql.rs`).

use crate::apply::{ImageRow, ObservationRow, RefColumn, Rows};
use crate::{ChangeEvent, ChangeSubscription, OrgId, StoreError, StoreOptions};
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The notification channel of committed writes; the payload is the organisation id.
pub const CHANNEL: &str = "imagedex_changes";

/// A store in one PostgreSQL database.
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects and brings the schema up to date. TLS and the application name come from the
    /// URL (`sslmode`, `sslrootcert`, `application_name`).
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        // A bulk import starts on empty tables: a cached generic plan made then would keep
        // scanning whole tables long after they have grown. Plan each statement for its values.
        let mut connect =
            PgConnectOptions::from_str(url)?.options([("plan_cache_mode", "force_custom_plan")]);
        if let Some(timeout) = options.statement_timeout {
            let millis = timeout.as_millis().to_string();
            connect = connect.options([("statement_timeout", millis.as_str())]);
        }
        let pool = PgPoolOptions::new()
            // One connection is the listener's for as long as the node runs.
            .max_connections(options.pool_size.unwrap_or(8).max(2))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(connect)
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

    /// Notifies every listening node when the transaction commits (and not if it rolls back).
    async fn announce_write(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        org: OrgId,
    ) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(org.0.to_string())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Listens on [`CHANNEL`] from a task of its own until the receiver is dropped. The first
    /// event, and the first after every reconnection, is [`ChangeEvent::Resync`]: it comes once
    /// the listener is in place, so a catch-up after it misses nothing.
    async fn subscribe_changes(&self) -> Result<Option<ChangeSubscription>, StoreError> {
        let (sender, receiver) = tokio::sync::mpsc::channel(1024);
        let mut listener = listen(&self.pool).await?;
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let mut failures = 0u32;
            loop {
                if sender.send(ChangeEvent::Resync).await.is_err() {
                    return;
                }
                loop {
                    let event = match listener.try_recv().await {
                        Ok(Some(notice)) => match notice.payload().parse() {
                            Ok(id) => ChangeEvent::Org(OrgId(id)),
                            Err(_) => continue,
                        },
                        Ok(None) => break,
                        Err(error) => {
                            tracing::warn!(error = %error, "change notifications failed");
                            break;
                        }
                    };
                    if sender.send(event).await.is_err() {
                        return;
                    }
                }
                tracing::warn!("lost the change notification connection, reconnecting");
                listener = loop {
                    match listen(&pool).await {
                        Ok(listener) => break listener,
                        Err(error) => {
                            failures += 1;
                            // At most a second apart, so news resumes soon after the database does.
                            let delay = Duration::from_millis((50 << failures.min(5)).min(1000));
                            tracing::warn!(
                                error = %error,
                                retry_in_ms = delay.as_millis() as u64,
                                "cannot listen for changes, retrying"
                            );
                            tokio::time::sleep(delay).await;
                        }
                    }
                    if sender.is_closed() {
                        return;
                    }
                };
                failures = 0;
                tracing::info!("listening for changes again");
            }
        });
        Ok(Some(receiver))
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener, StoreError> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

crate::sql::impl_sql_store!(PgStore, PgRows, Postgres);

/// The row operations, inside one transaction: each binds whole arrays (`UNNEST`, `= ANY`), so
/// one statement carries any batch and its plan does not depend on the batch size.
struct PgRows(Transaction<'static, Postgres>);

#[async_trait]
impl Rows for PgRows {
    async fn observations_by_ref(
        &mut self,
        org: OrgId,
        column: RefColumn,
        refs: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        if refs.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT obs_key, body FROM observations WHERE org_id = $1 AND {} = ANY($2)",
            column.column()
        );
        Ok(sqlx::query_as(&sql)
            .bind(org.0)
            .bind(refs)
            .fetch_all(&mut *self.0)
            .await?)
    }

    async fn upsert_observations(
        &mut self,
        org: OrgId,
        rows: &[ObservationRow],
        at: &str,
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let column = |f: fn(&ObservationRow) -> &String| rows.iter().map(f).collect::<Vec<_>>();
        let refs =
            |f: fn(&ObservationRow) -> &Option<String>| rows.iter().map(f).collect::<Vec<_>>();
        sqlx::query(
            "INSERT INTO observations (org_id, obs_key, name, digest_ref, id_ref, body, updated_at) \
             SELECT $1, k, n, d, i, b, $7 \
             FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS r(k, n, d, i, b) \
             ON CONFLICT (org_id, obs_key) \
             DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(org.0)
        .bind(column(|r| &r.key))
        .bind(column(|r| &r.name))
        .bind(refs(|r| &r.digest_ref))
        .bind(refs(|r| &r.id_ref))
        .bind(column(|r| &r.body))
        .bind(at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn delete_observations(&mut self, org: OrgId, keys: &[String]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        sqlx::query("DELETE FROM observations WHERE org_id = $1 AND obs_key = ANY($2)")
            .bind(org.0)
            .bind(keys)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn image_bodies(
        &mut self,
        org: OrgId,
        ids: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(
            sqlx::query_as("SELECT id, body FROM images WHERE org_id = $1 AND id = ANY($2)")
                .bind(org.0)
                .bind(ids)
                .fetch_all(&mut *self.0)
                .await?,
        )
    }

    async fn upsert_images(
        &mut self,
        org: OrgId,
        rows: &[ImageRow],
        at: &str,
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let column = |f: fn(&ImageRow) -> &String| rows.iter().map(f).collect::<Vec<_>>();
        sqlx::query(
            "INSERT INTO images (org_id, id, name, body, updated_at) \
             SELECT $1, i, n, b, $5 FROM UNNEST($2::text[], $3::text[], $4::text[]) AS r(i, n, b) \
             ON CONFLICT (org_id, id) \
             DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(org.0)
        .bind(column(|r| &r.id))
        .bind(column(|r| &r.name))
        .bind(column(|r| &r.body))
        .bind(at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn delete_images(&mut self, org: OrgId, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query("DELETE FROM images WHERE org_id = $1 AND id = ANY($2)")
            .bind(org.0)
            .bind(ids)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn record_changes(
        &mut self,
        org: OrgId,
        ids: &[String],
        at: &str,
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        // WITH ORDINALITY keeps the given order in the feed's sequence numbers.
        sqlx::query(
            "INSERT INTO changes (org_id, image_id, at) \
             SELECT $1, id, $3 FROM UNNEST($2::text[]) WITH ORDINALITY AS r(id, n) ORDER BY n",
        )
        .bind(org.0)
        .bind(ids)
        .bind(at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }
}
