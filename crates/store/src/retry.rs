//! Retries with backoff: a [`Store`] wrapper that repeats a call whose failure was the
//! database being out of reach (a dropped connection, a restarting server, an exhausted pool),
//! logging each retry, and gives up with [`StoreError::Unavailable`] after a few seconds.
//! Every call is safe to repeat: reads have no effect, and a write is one transaction that
//! either committed (then repeating it changes nothing) or rolled back.

use crate::{
    ApplyOutcome, ChangeBatch, ChangeSubscription, KeyPair, Org, OrgId, Store, StoreError,
};
use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use imagedex_model::{ImageRecord, Observation};
use std::time::Duration;

/// A store whose calls are retried while the database is out of reach.
pub struct Retrying<S> {
    inner: S,
    policy: ExponentialBuilder,
}

impl<S: Store> Retrying<S> {
    /// Retries from 50 ms, doubling up to 1 s between attempts, for about five seconds.
    pub fn new(inner: S) -> Self {
        let policy = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(50))
            .with_max_delay(Duration::from_secs(1))
            .with_max_times(8)
            .with_jitter();
        Retrying { inner, policy }
    }
}

/// Whether an error says the database was out of reach, rather than that the call was wrong.
pub fn is_transient(error: &StoreError) -> bool {
    let StoreError::Database(error) = error else {
        return matches!(error, StoreError::Unavailable(_));
    };
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // PostgreSQL: connection exceptions (08), a login refused (28: the node started,
            // so its settings were right; the server's changed), too many connections and
            // other exhausted resources (53), admin shutdown and crash recovery (57P0x),
            // serialization failure and deadlock (40001, 40P01).
            ["08", "28", "53", "57P0", "40001", "40P01"]
                .iter()
                .any(|class| code.starts_with(class))
        }),
        _ => false,
    }
}

macro_rules! retried {
    ($self:ident, $call:literal, $op:expr) => {
        $op.retry($self.policy)
            .when(is_transient)
            .notify(|error: &StoreError, delay: Duration| {
                tracing::warn!(
                    store.call = $call,
                    error = %error,
                    retry_in_ms = delay.as_millis() as u64,
                    "database out of reach, retrying"
                )
            })
            .await
            .map_err(|error| match error {
                error if is_transient(&error) => StoreError::Unavailable(error.to_string()),
                error => error,
            })
    };
}

#[async_trait]
impl<S: Store> Store for Retrying<S> {
    async fn create_org(&self, name: &str) -> Result<Org, StoreError> {
        retried!(self, "create_org", || self.inner.create_org(name))
    }

    async fn find_org(&self, name: &str) -> Result<Option<Org>, StoreError> {
        retried!(self, "find_org", || self.inner.find_org(name))
    }

    async fn list_orgs(&self) -> Result<Vec<Org>, StoreError> {
        retried!(self, "list_orgs", || self.inner.list_orgs())
    }

    async fn create_key_pair(&self, org: OrgId) -> Result<KeyPair, StoreError> {
        retried!(self, "create_key_pair", || self.inner.create_key_pair(org))
    }

    async fn authenticate(
        &self,
        api_key: &str,
        app_key: &str,
    ) -> Result<Option<OrgId>, StoreError> {
        retried!(self, "authenticate", || self
            .inner
            .authenticate(api_key, app_key))
    }

    async fn authenticate_api_key(&self, api_key: &str) -> Result<Option<OrgId>, StoreError> {
        retried!(self, "authenticate_api_key", || self
            .inner
            .authenticate_api_key(api_key))
    }

    async fn apply_observations(
        &self,
        org: OrgId,
        observations: &[Observation],
    ) -> Result<ApplyOutcome, StoreError> {
        retried!(self, "apply_observations", || self
            .inner
            .apply_observations(org, observations))
    }

    async fn change_seq(&self, org: OrgId) -> Result<i64, StoreError> {
        retried!(self, "change_seq", || self.inner.change_seq(org))
    }

    async fn load_images(&self, org: OrgId) -> Result<(i64, Vec<ImageRecord>), StoreError> {
        retried!(self, "load_images", || self.inner.load_images(org))
    }

    async fn changes_since(&self, org: OrgId, seq: i64) -> Result<ChangeBatch, StoreError> {
        retried!(self, "changes_since", || self.inner.changes_since(org, seq))
    }

    async fn subscribe(&self) -> Result<Option<ChangeSubscription>, StoreError> {
        retried!(self, "subscribe", || self.inner.subscribe())
    }
}
