//! The SQL every backend shares. One text serves SQLite and PostgreSQL alike (numbered `$n`
//! placeholders, `ON CONFLICT`, `RETURNING`); what differs (connecting, migrating, and how a
//! transaction begins, how other nodes hear of a write) stays in each backend's module as
//! inherent methods: `begin_write(&self, org)`, which must serialise the organisation's writers
//! so its change feed is in commit order; `begin_read(&self)`, which must read one consistent
//! state; `announce_write(&self, tx, org)`, run inside a write that changed records; and
//! `subscribe_changes(&self)`, the other end of those announcements.
//!
//! The batched row operations of the write path are each backend's own (`Rows` in
//! `sqlite.rs` and `postgres.rs`): SQLite binds multi-row `VALUES` and `IN` lists, PostgreSQL
//! binds whole arrays (`UNNEST`, `= ANY`), one statement per operation whatever the batch size.
//!
//! sqlx's generic bounds over "any database" would be longer than the code, so a macro stamps
//! the one implementation out for each backend's concrete types.

/// Implements [`crate::Store`] for `$store` (with a `pool` field of `$db`), over the backend's
/// batched row operations: `$rows`, a wrapper of one transaction implementing [`crate::apply::Rows`].
macro_rules! impl_sql_store {
    ($store:ident, $rows:ident, $db:ty) => {
        // One anonymous scope per backend, so the shared code can name things briefly.
        const _: () = {
            use $crate::apply::{apply, decode_record, now, Rows};
            use $crate::keys::{hash_key, hashes_match};
            use $crate::{
                valid_org_name, ApplyOutcome, ChangeBatch, ChangeSubscription, KeyPair, Org, OrgId, Store, StoreError,
            };
            use async_trait::async_trait;
            use imagedex_model::{ImageRecord, Observation};
            use sqlx::Row;
            use std::collections::{BTreeSet, HashMap};

            #[async_trait]
            impl Store for $store {
                async fn create_org(&self, name: &str) -> Result<Org, StoreError> {
                    if !valid_org_name(name) {
                        return Err(StoreError::InvalidOrgName(name.to_string()));
                    }
                    let id: Option<i64> =
                        sqlx::query_scalar("INSERT INTO orgs (name, created_at) VALUES ($1, $2) \
                             ON CONFLICT DO NOTHING RETURNING id")
                            .bind(name)
                            .bind(now())
                            .fetch_optional(&self.pool)
                            .await?;
                    match id {
                        Some(id) => Ok(Org {
                            id: OrgId(id),
                            name: name.to_string(),
                        }),
                        None => Err(StoreError::OrgExists(name.to_string())),
                    }
                }

                async fn find_org(&self, name: &str) -> Result<Option<Org>, StoreError> {
                    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM orgs WHERE name = $1")
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await?;
                    Ok(id.map(|id| Org {
                        id: OrgId(id),
                        name: name.to_string(),
                    }))
                }

                async fn list_orgs(&self) -> Result<Vec<Org>, StoreError> {
                    let rows: Vec<(i64, String)> =
                        sqlx::query_as("SELECT id, name FROM orgs ORDER BY name")
                            .fetch_all(&self.pool)
                            .await?;
                    Ok(rows
                        .into_iter()
                        .map(|(id, name)| Org { id: OrgId(id), name })
                        .collect())
                }

                async fn create_key_pair(&self, org: OrgId) -> Result<KeyPair, StoreError> {
                    let pair = KeyPair::generate();
                    let mut tx = self.begin_write(org).await?;
                    for (kind, key) in [("api", &pair.api_key), ("app", &pair.app_key)] {
                        let hashed = hash_key(key);
                        sqlx::query("INSERT INTO api_keys (org_id, kind, lookup, hash, created_at) \
                             VALUES ($1, $2, $3, $4, $5)")
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
                    let api = self.key_owner("api", api_key).await?;
                    let app = self.key_owner("app", app_key).await?;
                    Ok(match (api, app) {
                        (Some(a), Some(b)) if a == b => Some(a),
                        _ => None,
                    })
                }

                async fn authenticate_api_key(
                    &self,
                    api_key: &str,
                ) -> Result<Option<OrgId>, StoreError> {
                    self.key_owner("api", api_key).await
                }

                async fn apply_observations(
                    &self,
                    org: OrgId,
                    observations: &[Observation],
                ) -> Result<ApplyOutcome, StoreError> {
                    let mut tx = $rows(self.begin_write(org).await?);
                    let outcome = apply(&mut tx, org, observations).await?;
                    if outcome.images_changed() {
                        self.announce_write(&mut tx.0, org).await?;
                    }
                    tx.0.commit().await?;
                    Ok(outcome)
                }

                async fn change_seq(&self, org: OrgId) -> Result<i64, StoreError> {
                    let seq: Option<i64> =
                        sqlx::query_scalar("SELECT max(seq) FROM changes WHERE org_id = $1")
                            .bind(org.0)
                            .fetch_one(&self.pool)
                            .await?;
                    Ok(seq.unwrap_or(0))
                }

                async fn load_images(&self, org: OrgId) -> Result<(i64, Vec<ImageRecord>), StoreError> {
                    let mut tx = self.begin_read().await?;
                    let seq: Option<i64> =
                        sqlx::query_scalar("SELECT max(seq) FROM changes WHERE org_id = $1")
                            .bind(org.0)
                            .fetch_one(&mut *tx)
                            .await?;
                    let bodies: Vec<String> =
                        sqlx::query_scalar("SELECT body FROM images WHERE org_id = $1 ORDER BY id")
                            .bind(org.0)
                            .fetch_all(&mut *tx)
                            .await?;
                    tx.commit().await?;
                    let records = bodies
                        .iter()
                        .map(|b| decode_record(b))
                        .collect::<Result<Vec<ImageRecord>, _>>()?;
                    Ok((seq.unwrap_or(0), records))
                }

                async fn changes_since(&self, org: OrgId, seq: i64) -> Result<ChangeBatch, StoreError> {
                    let mut tx = self.begin_read().await?;
                    let rows = sqlx::query(
                        "SELECT seq, image_id FROM changes WHERE org_id = $1 AND seq > $2 ORDER BY seq",
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
                    let ids: Vec<String> = ids.into_iter().collect();
                    let mut rows = $rows(tx);
                    let mut bodies: HashMap<String, String> =
                        rows.image_bodies(org, &ids).await?.into_iter().collect();
                    rows.0.commit().await?;
                    for id in ids {
                        match bodies.remove(&id) {
                            Some(body) => batch.upserted.push(decode_record(&body)?),
                            None => batch.removed.push(id),
                        }
                    }
                    Ok(batch)
                }

                async fn subscribe(&self) -> Result<Option<ChangeSubscription>, StoreError> {
                    self.subscribe_changes().await
                }
            }

            impl $store {
                /// The organisation a key of this kind (`api` or `app`) belongs to. Every stored
                /// hash under the key's lookup prefix is compared, in constant time each.
                async fn key_owner(&self, kind: &str, key: &str) -> Result<Option<OrgId>, StoreError> {
                    let presented = hash_key(key);
                    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
                        "SELECT org_id, hash FROM api_keys WHERE kind = $1 AND lookup = $2",
                    )
                    .bind(kind)
                    .bind(&presented.lookup)
                    .fetch_all(&self.pool)
                    .await?;
                    let mut owner = None;
                    for (org, stored) in rows {
                        if hashes_match(&stored, &presented.hash) {
                            owner = Some(OrgId(org));
                        }
                    }
                    Ok(owner)
                }
            }

        };
    };
}

pub(crate) use impl_sql_store;
