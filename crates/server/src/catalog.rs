//! The catalog: each organisation's records in memory, as immutable snapshots brought up to
//! date from the store's change feed before a request reads them. A request holds one snapshot
//! from start to end, so its total, page and next cursor always agree.

use imagedex_model::ImageRecord;
use imagedex_store::{OrgId, Store, StoreError};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// One organisation's records at one point of the change feed.
pub struct Snapshot {
    pub seq: i64,
    by_id: BTreeMap<String, Arc<ImageRecord>>,
    records: Vec<Arc<ImageRecord>>,
}

impl Snapshot {
    fn new(seq: i64, by_id: BTreeMap<String, Arc<ImageRecord>>) -> Self {
        let records = by_id.values().cloned().collect();
        Snapshot {
            seq,
            by_id,
            records,
        }
    }

    /// The records, ordered by id.
    pub fn records(&self) -> &[Arc<ImageRecord>] {
        &self.records
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Arc<Snapshot>>>>;

/// Snapshots of every organisation that has been asked about.
pub struct Catalog {
    store: Arc<dyn Store>,
    slots: Mutex<HashMap<OrgId, Slot>>,
}

impl Catalog {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Catalog {
            store,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The organisation's current snapshot: every write committed before the call is in it.
    pub async fn snapshot(&self, org: OrgId) -> Result<Arc<Snapshot>, StoreError> {
        let seq = self.store.change_seq(org).await?;
        let slot = {
            let mut slots = self
                .slots
                .lock()
                .expect("catalog lock should not be poisoned");
            slots.entry(org).or_default().clone()
        };
        let mut current = slot.lock().await;
        let next = match current.as_ref() {
            Some(snapshot) if snapshot.seq >= seq => return Ok(snapshot.clone()),
            Some(snapshot) => {
                let batch = self.store.changes_since(org, snapshot.seq).await?;
                let mut by_id = snapshot.by_id.clone();
                for id in batch.removed {
                    by_id.remove(&id);
                }
                for record in batch.upserted {
                    by_id.insert(record.id.clone(), Arc::new(record));
                }
                Snapshot::new(batch.seq, by_id)
            }
            None => {
                let (seq, records) = self.store.load_images(org).await?;
                Snapshot::new(
                    seq,
                    records
                        .into_iter()
                        .map(|r| (r.id.clone(), Arc::new(r)))
                        .collect(),
                )
            }
        };
        let next = Arc::new(next);
        *current = Some(next.clone());
        Ok(next)
    }
}
