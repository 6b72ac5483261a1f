//! Storage of imagedex: the [`Store`] trait every backend implements, the embedded SQLite
//! backend and the PostgreSQL one, and retries while a database is out of reach. The store is
//! the source of truth; the server's in-memory state is rebuilt from it.

mod apply;
pub mod keys;
mod postgres;
pub mod retry;
mod sql;
mod sqlite;

use async_trait::async_trait;
use imagedex_model::{ImageRecord, Observation};
use std::sync::Arc;
use std::time::Duration;

pub use keys::KeyPair;
pub use postgres::PgStore;
pub use retry::Retrying;
pub use sqlite::SqliteStore;

/// An organisation's numeric id; every stored row carries one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgId(pub i64);

/// An organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
}

/// What one call of [`Store::apply_observations`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyOutcome {
    pub observations_changed: u64,
    pub images_created: u64,
    pub images_updated: u64,
    pub images_removed: u64,
}

impl ApplyOutcome {
    /// Whether any record was created, updated or removed.
    pub fn images_changed(&self) -> bool {
        self.images_created + self.images_updated + self.images_removed > 0
    }
}

/// The records changed since a sequence number, and the sequence number they bring one to.
#[derive(Debug, Clone, Default)]
pub struct ChangeBatch {
    pub seq: i64,
    pub upserted: Vec<ImageRecord>,
    pub removed: Vec<String>,
}

/// What a node hears about writes made by any process on the same database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeEvent {
    /// The organisation's change feed moved on.
    Org(OrgId),
    /// Notifications may have been missed (the connection was lost): catch every organisation
    /// up by sequence number.
    Resync,
}

/// A stream of [`ChangeEvent`]s; it ends when the store is dropped.
pub type ChangeSubscription = tokio::sync::mpsc::Receiver<ChangeEvent>;

/// Connection settings beyond the URL. TLS is set in a PostgreSQL URL
/// (`?sslmode=verify-full&sslrootcert=/path/ca.pem`).
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// Most connections in the pool [default: 8 for PostgreSQL, 4 for SQLite].
    pub pool_size: Option<u32>,
    /// PostgreSQL's `statement_timeout` for every connection [default: none].
    pub statement_timeout: Option<Duration>,
}

/// Failures of the store. Callers branch on the kind; the database detail is for the log.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("organisation '{0}' already exists")]
    OrgExists(String),
    #[error("organisation name '{0}' is invalid: use 1 to 64 of a-z, 0-9, '-', '_' and '.'")]
    InvalidOrgName(String),
    #[error(
        "database URL '{0}' is not supported: use sqlite://PATH, a file path, or postgres://..."
    )]
    UnsupportedUrl(String),
    #[error("stored row is corrupt: {0}")]
    Corrupt(String),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database is out of reach: {0}")]
    Unavailable(String),
}

/// The storage every backend provides; all methods are scoped to one organisation.
#[async_trait]
pub trait Store: Send + Sync {
    /// Finds an organisation by name, creating it when missing.
    async fn ensure_org(&self, name: &str) -> Result<Org, StoreError> {
        if let Some(org) = self.find_org(name).await? {
            return Ok(org);
        }
        match self.create_org(name).await {
            // Another process created it in between.
            Err(StoreError::OrgExists(_)) => self
                .find_org(name)
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("organisation '{name}' vanished"))),
            other => other,
        }
    }
    /// Creates an organisation; fails with [`StoreError::OrgExists`] when the name is taken.
    async fn create_org(&self, name: &str) -> Result<Org, StoreError>;
    /// Finds an organisation by name.
    async fn find_org(&self, name: &str) -> Result<Option<Org>, StoreError>;
    /// Every organisation, by name.
    async fn list_orgs(&self) -> Result<Vec<Org>, StoreError>;
    /// Creates a key pair for an organisation; the secrets are returned once and stored hashed.
    async fn create_key_pair(&self, org: OrgId) -> Result<KeyPair, StoreError>;
    /// The organisation both keys belong to, or `None` when either is unknown or they differ.
    async fn authenticate(&self, api_key: &str, app_key: &str)
        -> Result<Option<OrgId>, StoreError>;
    /// The organisation an API key belongs to, for the routes a collector calls with
    /// `DD-API-KEY` alone (as Datadog's intake does).
    async fn authenticate_api_key(&self, api_key: &str) -> Result<Option<OrgId>, StoreError>;
    /// Stores observations and recomputes the records of every name they touch, atomically.
    async fn apply_observations(
        &self,
        org: OrgId,
        observations: &[Observation],
    ) -> Result<ApplyOutcome, StoreError>;
    /// The organisation's latest change sequence number (0 when nothing was ever written).
    async fn change_seq(&self, org: OrgId) -> Result<i64, StoreError>;
    /// Every record of the organisation, with the sequence number the snapshot is at.
    async fn load_images(&self, org: OrgId) -> Result<(i64, Vec<ImageRecord>), StoreError>;
    /// The records written or removed after `seq`.
    async fn changes_since(&self, org: OrgId, seq: i64) -> Result<ChangeBatch, StoreError>;
    /// Pushed news of writes by any process, when the backend can push it (PostgreSQL's
    /// LISTEN/NOTIFY); `None` means readers must ask [`Store::change_seq`] themselves.
    async fn subscribe(&self) -> Result<Option<ChangeSubscription>, StoreError>;
}

/// Opens the store a database URL names: `postgres://` or `postgresql://` means PostgreSQL;
/// `sqlite://PATH` or a bare path means SQLite.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    open_with(url, &StoreOptions::default()).await
}

/// [`open`] with connection settings. Either backend's calls are retried with backoff while
/// the database is out of reach ([`Retrying`]).
pub async fn open_with(url: &str, options: &StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
    let path = match url.split_once("://") {
        Some(("postgres" | "postgresql", _)) => {
            return Ok(Arc::new(Retrying::new(
                PgStore::connect(url, options).await?,
            )))
        }
        Some(("sqlite", path)) => path,
        Some(_) => return Err(StoreError::UnsupportedUrl(url.to_string())),
        None => url,
    };
    let store = SqliteStore::open(std::path::Path::new(path), options).await?;
    Ok(Arc::new(Retrying::new(store)))
}

/// Whether an organisation name is acceptable.
pub fn valid_org_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}
