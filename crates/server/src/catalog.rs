//! The catalog: each organisation's records in memory and indexed ([`LiveIndex`]), as immutable
//! snapshots brought up to date from the store's change feed. A request holds one snapshot from start to end, so its
//! total, page and next cursor always agree.
//!
//! How a snapshot learns of writes depends on the store. When the store pushes news of writes
//! (PostgreSQL's LISTEN/NOTIFY), a background task catches the named organisation up as soon
//! as news arrives, and requests read the latest snapshot without asking the database. When it
//! cannot (SQLite, whose writers may be other processes), each request first compares the
//! organisation's change sequence number, so a write is visible to the next request after it
//! commits.

use imagedex_model::ImageRecord;
use imagedex_query::LiveIndex;
use imagedex_store::{ChangeEvent, ChangeSubscription, OrgId, Store, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// One organisation's records, indexed, at one point of the change feed.
pub struct Snapshot {
    pub seq: i64,
    pub index: LiveIndex,
}

/// One organisation's place in the catalog: the current snapshot, and a lock that lets one
/// caller at a time bring it up to date.
#[derive(Default)]
struct Slot {
    current: RwLock<Option<Arc<Snapshot>>>,
    refreshing: tokio::sync::Mutex<()>,
    /// Whether a new base index is being built for this organisation.
    rebuilding: AtomicBool,
}

impl Slot {
    fn current(&self) -> Option<Arc<Snapshot>> {
        self.current
            .read()
            .expect("snapshot lock should not be poisoned")
            .clone()
    }

    fn set(&self, snapshot: Arc<Snapshot>) {
        *self
            .current
            .write()
            .expect("snapshot lock should not be poisoned") = Some(snapshot);
    }

    /// Builds a new base index from `from` on a blocking thread, then moves the slot's
    /// current snapshot onto it. Queries meanwhile keep using the overlay.
    fn rebuild(self: Arc<Self>, from: Arc<Snapshot>) {
        if self.rebuilding.swap(true, Ordering::AcqRel) {
            return;
        }
        tokio::spawn(async move {
            let records = from.index.records();
            let built = tokio::task::spawn_blocking(move || LiveIndex::build_base(records)).await;
            match built {
                Ok(base) => {
                    let _only_one = self.refreshing.lock().await;
                    let current = self
                        .current()
                        .expect("a rebuilt slot should have a snapshot");
                    self.set(Arc::new(Snapshot {
                        seq: current.seq,
                        index: current.index.rebase(Arc::new(base), &from.index),
                    }));
                }
                Err(error) => tracing::error!(error = %error, "rebuilding an index failed"),
            }
            self.rebuilding.store(false, Ordering::Release);
        });
    }
}

/// Snapshots of every organisation that has been asked about.
pub struct Catalog {
    store: Arc<dyn Store>,
    slots: Mutex<HashMap<OrgId, Arc<Slot>>>,
    /// Whether news of writes is being pushed to [`Catalog::watch`].
    pushed: AtomicBool,
}

impl Catalog {
    /// A catalog over `store`; call [`Catalog::watch`] to follow pushed news of writes.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Catalog {
            store,
            slots: Mutex::new(HashMap::new()),
            pushed: AtomicBool::new(false),
        }
    }

    /// Follows the store's news of writes from a task of its own, when the store pushes it.
    pub async fn watch(self: &Arc<Self>) -> Result<(), StoreError> {
        if let Some(subscription) = self.store.subscribe().await? {
            tokio::spawn(self.clone().follow(subscription));
        }
        Ok(())
    }

    /// Loads and indexes every organisation from a task of its own, so the first requests
    /// after a start do not wait for it; a request that comes first loads its own.
    pub fn warm(self: &Arc<Self>) {
        let catalog = self.clone();
        tokio::spawn(async move {
            let orgs = match catalog.store.list_orgs().await {
                Ok(orgs) => orgs,
                Err(error) => {
                    tracing::warn!(error = %error, "listing organisations to load failed");
                    return;
                }
            };
            for org in orgs {
                let started = std::time::Instant::now();
                match catalog.snapshot(org.id).await {
                    Ok(snapshot) => tracing::info!(
                        org.id = org.id.0,
                        images = snapshot.index.len(),
                        duration_ms = started.elapsed().as_millis() as u64,
                        "organisation loaded"
                    ),
                    Err(error) => {
                        tracing::warn!(org.id = org.id.0, error = %error, "loading failed")
                    }
                }
            }
        });
    }

    async fn follow(self: Arc<Self>, mut subscription: ChangeSubscription) {
        while let Some(event) = subscription.recv().await {
            let orgs = match event {
                ChangeEvent::Org(org) => vec![org],
                ChangeEvent::Resync => {
                    self.pushed.store(true, Ordering::Release);
                    self.known_orgs()
                }
            };
            for org in orgs {
                if let Err(error) = self.refresh(org).await {
                    tracing::warn!(org.id = org.0, error = %error, "catching up failed");
                }
            }
        }
        // The store is gone; requests fall back to asking it themselves.
        self.pushed.store(false, Ordering::Release);
    }

    fn known_orgs(&self) -> Vec<OrgId> {
        let slots = self
            .slots
            .lock()
            .expect("catalog lock should not be poisoned");
        slots.keys().copied().collect()
    }

    fn slot(&self, org: OrgId) -> Arc<Slot> {
        let mut slots = self
            .slots
            .lock()
            .expect("catalog lock should not be poisoned");
        slots.entry(org).or_default().clone()
    }

    /// The organisation's current snapshot: every write committed before the call is in it
    /// (with pushed news: every write whose news has arrived, within milliseconds).
    pub async fn snapshot(&self, org: OrgId) -> Result<Arc<Snapshot>, StoreError> {
        let slot = self.slot(org);
        if let Some(current) = slot.current() {
            if self.pushed.load(Ordering::Acquire) {
                return Ok(current);
            }
            if current.seq >= self.store.change_seq(org).await? {
                return Ok(current);
            }
        }
        self.refresh(org).await
    }

    /// Brings the organisation's snapshot up to the store's latest change now, without waiting
    /// for news of it: for the node that made a write, so its writer's next request sees it.
    pub async fn catch_up(&self, org: OrgId) -> Result<(), StoreError> {
        self.refresh(org).await.map(|_| ())
    }

    /// Brings the organisation's snapshot up to the store's latest change.
    async fn refresh(&self, org: OrgId) -> Result<Arc<Snapshot>, StoreError> {
        let slot = self.slot(org);
        let _only_one = slot.refreshing.lock().await;
        let next = match slot.current() {
            Some(snapshot) => {
                let batch = self.store.changes_since(org, snapshot.seq).await?;
                if batch.seq == snapshot.seq {
                    return Ok(snapshot);
                }
                let upserted = batch.upserted.into_iter().map(Arc::new);
                Snapshot {
                    seq: batch.seq,
                    index: snapshot.index.apply(upserted, batch.removed),
                }
            }
            None => {
                let (seq, records) = self.store.load_images(org).await?;
                let records: Vec<Arc<ImageRecord>> = records.into_iter().map(Arc::new).collect();
                let index = tokio::task::spawn_blocking(move || LiveIndex::new(records))
                    .await
                    .map_err(|e| StoreError::Corrupt(format!("building the index failed: {e}")))?;
                Snapshot { seq, index }
            }
        };
        let next = Arc::new(next);
        slot.set(next.clone());
        if next.index.needs_rebuild() {
            slot.clone().rebuild(next.clone());
        }
        Ok(next)
    }
}
