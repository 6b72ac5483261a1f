//! The write path every backend shares: store observations, recompute the records they can
//! change, write only what changed, and append each change to the feed. Backends supply
//! batched row operations inside their own transaction ([`Rows`]).
//!
//! An observation can only change the records of its name that share its repo digest or its
//! image id (the identity rules of `imagedex_model::observation`). So an import loads the
//! observations linked to its own by digest or image id, closes that set under the same links,
//! and merges only it: the cost follows the size of the import, not of the repository.

use crate::{ApplyOutcome, OrgId, StoreError};
use async_trait::async_trait;
use imagedex_model::{merge_observations, ImageRecord, Observation};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Which identity column a lookup goes through.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RefColumn {
    /// `<name>@<repo digest>`.
    Digest,
    /// `<name>@<image id>`.
    ImageId,
}

impl RefColumn {
    pub(crate) fn column(self) -> &'static str {
        match self {
            RefColumn::Digest => "digest_ref",
            RefColumn::ImageId => "id_ref",
        }
    }
}

/// One observation as stored.
pub(crate) struct ObservationRow {
    pub key: String,
    pub name: String,
    pub digest_ref: Option<String>,
    pub id_ref: Option<String>,
    pub body: String,
}

/// One record as stored.
pub(crate) struct ImageRow {
    pub id: String,
    pub name: String,
    pub body: String,
}

/// Batched row operations inside one open transaction of one organisation (a write
/// transaction, except `image_bodies`, which reads use too). Each takes any number of rows.
#[async_trait]
pub(crate) trait Rows: Send {
    /// (key, body) of the observations whose `column` is one of `refs`.
    async fn observations_by_ref(
        &mut self,
        org: OrgId,
        column: RefColumn,
        refs: &[String],
    ) -> Result<Vec<(String, String)>, StoreError>;
    async fn upsert_observations(
        &mut self,
        org: OrgId,
        rows: &[ObservationRow],
        at: &str,
    ) -> Result<(), StoreError>;
    async fn delete_observations(&mut self, org: OrgId, keys: &[String]) -> Result<(), StoreError>;
    /// (id, body) of the records among `ids` that exist.
    async fn image_bodies(
        &mut self,
        org: OrgId,
        ids: &[String],
    ) -> Result<Vec<(String, String)>, StoreError>;
    async fn upsert_images(
        &mut self,
        org: OrgId,
        rows: &[ImageRow],
        at: &str,
    ) -> Result<(), StoreError>;
    async fn delete_images(&mut self, org: OrgId, ids: &[String]) -> Result<(), StoreError>;
    /// Appends one change per id to the feed, in the given order.
    async fn record_changes(
        &mut self,
        org: OrgId,
        ids: &[String],
        at: &str,
    ) -> Result<(), StoreError>;
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn decode_record(body: &str) -> Result<ImageRecord, StoreError> {
    ImageRecord::from_json(body).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn encode<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records and observations should always serialise")
}

/// The two record ids an observation can belong to: by repo digest and by image id.
fn refs(obs: &Observation) -> (Option<String>, Option<String>) {
    let name = obs.name.to_string();
    (
        obs.repo_digest.as_ref().map(|d| format!("{name}@{d}")),
        obs.image_id.as_ref().map(|i| format!("{name}@{i}")),
    )
}

/// Applies observations inside `tx`; the caller commits.
pub(crate) async fn apply(
    tx: &mut dyn Rows,
    org: OrgId,
    observations: &[Observation],
) -> Result<ApplyOutcome, StoreError> {
    let mut outcome = ApplyOutcome::default();
    let at = now();

    // The last observation of a key wins within one call, as it would across calls.
    let mut incoming: BTreeMap<String, &Observation> = BTreeMap::new();
    for obs in observations {
        incoming.insert(obs.key(), obs);
    }

    let mut stored = load_linked(tx, org, incoming.values().copied()).await?;

    let mut changed = Vec::new();
    for (key, obs) in &incoming {
        let body = encode(obs);
        if stored.get(key).map(|(b, _)| b) == Some(&body) {
            continue;
        }
        let (digest_ref, id_ref) = refs(obs);
        changed.push(ObservationRow {
            key: key.clone(),
            name: obs.name.to_string(),
            digest_ref,
            id_ref,
            body,
        });
        stored.insert(key.clone(), (String::new(), (*obs).clone()));
    }
    if changed.is_empty() {
        return Ok(outcome);
    }
    outcome.observations_changed = changed.len() as u64;
    tx.upsert_observations(org, &changed, &at).await?;

    // Recompute every name an observation changed, from its linked set.
    let touched: BTreeSet<&str> = changed.iter().map(|row| row.name.as_str()).collect();
    let mut by_name: BTreeMap<String, Vec<(String, Observation)>> = BTreeMap::new();
    for (key, (_, obs)) in stored {
        let name = obs.name.to_string();
        if touched.contains(name.as_str()) {
            by_name.entry(name).or_default().push((key, obs));
        }
    }

    let mut superseded = Vec::new();
    let mut candidates = BTreeSet::new();
    let mut records = Vec::new();
    for observations in by_name.into_values() {
        // An observation that learned the repo digest replaces the same source's one that did not.
        let dropped: BTreeSet<&str> = observations
            .iter()
            .filter(|(_, old)| observations.iter().any(|(_, new)| new.supersedes(old)))
            .map(|(key, _)| key.as_str())
            .collect();
        let mut live = Vec::new();
        for (key, obs) in &observations {
            let (digest_ref, id_ref) = refs(obs);
            candidates.extend(digest_ref);
            candidates.extend(id_ref);
            if dropped.contains(key.as_str()) {
                superseded.push(key.clone());
            } else {
                live.push(obs.clone());
            }
        }
        records.extend(merge_observations(&live));
    }
    tx.delete_observations(org, &superseded).await?;

    let candidates: Vec<String> = candidates.into_iter().collect();
    let mut old: HashMap<String, String> = tx
        .image_bodies(org, &candidates)
        .await?
        .into_iter()
        .collect();
    let mut rows = Vec::new();
    for record in records {
        let body = encode(&record);
        match old.remove(&record.id) {
            Some(previous) if previous == body => continue,
            Some(_) => outcome.images_updated += 1,
            None => outcome.images_created += 1,
        }
        rows.push(ImageRow {
            id: record.id,
            name: record.name,
            body,
        });
    }
    let mut removed: Vec<String> = old.into_keys().collect();
    removed.sort();
    outcome.images_removed = removed.len() as u64;

    tx.upsert_images(org, &rows, &at).await?;
    tx.delete_images(org, &removed).await?;
    let mut feed: Vec<String> = rows.into_iter().map(|row| row.id).collect();
    feed.extend(removed);
    tx.record_changes(org, &feed, &at).await?;
    Ok(outcome)
}

/// Loads the stored observations linked to `seeds` by repo digest or image id, closed under
/// those links, keyed by observation key: (stored body, observation).
async fn load_linked<'a>(
    tx: &mut dyn Rows,
    org: OrgId,
    seeds: impl Iterator<Item = &'a Observation>,
) -> Result<HashMap<String, (String, Observation)>, StoreError> {
    let mut seen_digests = BTreeSet::new();
    let mut seen_ids = BTreeSet::new();
    let mut digests = Vec::new();
    let mut ids = Vec::new();
    let mut learn = |obs: &Observation, digests: &mut Vec<String>, ids: &mut Vec<String>| {
        let (digest_ref, id_ref) = refs(obs);
        if let Some(r) = digest_ref.filter(|r| seen_digests.insert(r.clone())) {
            digests.push(r);
        }
        if let Some(r) = id_ref.filter(|r| seen_ids.insert(r.clone())) {
            ids.push(r);
        }
    };
    for obs in seeds {
        learn(obs, &mut digests, &mut ids);
    }

    let mut stored = HashMap::new();
    while !digests.is_empty() || !ids.is_empty() {
        let mut rows = tx
            .observations_by_ref(org, RefColumn::Digest, &std::mem::take(&mut digests))
            .await?;
        rows.extend(
            tx.observations_by_ref(org, RefColumn::ImageId, &std::mem::take(&mut ids))
                .await?,
        );
        for (key, body) in rows {
            if stored.contains_key(&key) {
                continue;
            }
            let obs: Observation = decode(&body)?;
            learn(&obs, &mut digests, &mut ids);
            stored.insert(key, (body, obs));
        }
    }
    Ok(stored)
}
