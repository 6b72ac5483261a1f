//! The write path every backend shares: store observations, recompute the records of every
//! name they touch, write only what changed, and append each change to the feed. Backends
//! supply the row operations inside their own transaction ([`WriteTx`]).

use crate::{ApplyOutcome, OrgId, StoreError};
use async_trait::async_trait;
use imagedex_model::{merge_observations, Observation};
use std::collections::{BTreeMap, BTreeSet};

/// Row operations inside one open write transaction of one organisation.
#[async_trait]
pub(crate) trait WriteTx: Send {
    async fn observation_body(
        &mut self,
        org: OrgId,
        key: &str,
    ) -> Result<Option<String>, StoreError>;
    async fn upsert_observation(
        &mut self,
        org: OrgId,
        key: &str,
        name: &str,
        body: &str,
        at: &str,
    ) -> Result<(), StoreError>;
    /// (key, body) of every observation of a name.
    async fn observations_of(
        &mut self,
        org: OrgId,
        name: &str,
    ) -> Result<Vec<(String, String)>, StoreError>;
    async fn delete_observation(&mut self, org: OrgId, key: &str) -> Result<(), StoreError>;
    /// (id, body) of every record of a name.
    async fn images_of(
        &mut self,
        org: OrgId,
        name: &str,
    ) -> Result<Vec<(String, String)>, StoreError>;
    async fn upsert_image(
        &mut self,
        org: OrgId,
        id: &str,
        name: &str,
        body: &str,
        at: &str,
    ) -> Result<(), StoreError>;
    async fn delete_image(&mut self, org: OrgId, id: &str) -> Result<(), StoreError>;
    async fn record_change(&mut self, org: OrgId, id: &str, at: &str) -> Result<(), StoreError>;
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn encode<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records and observations should always serialise")
}

/// Applies observations inside `tx`; the caller commits.
pub(crate) async fn apply(
    tx: &mut dyn WriteTx,
    org: OrgId,
    observations: &[Observation],
) -> Result<ApplyOutcome, StoreError> {
    let mut outcome = ApplyOutcome::default();
    let at = now();

    let mut touched = BTreeSet::new();
    for obs in observations {
        let key = obs.key();
        let body = encode(obs);
        if tx.observation_body(org, &key).await?.as_deref() == Some(body.as_str()) {
            continue;
        }
        let name = obs.name.to_string();
        tx.upsert_observation(org, &key, &name, &body, &at).await?;
        outcome.observations_changed += 1;
        touched.insert(name);
    }

    for name in &touched {
        recompute_name(tx, org, name, &at, &mut outcome).await?;
    }
    Ok(outcome)
}

/// Recomputes the records of one name from its observations and writes the difference.
async fn recompute_name(
    tx: &mut dyn WriteTx,
    org: OrgId,
    name: &str,
    at: &str,
    outcome: &mut ApplyOutcome,
) -> Result<(), StoreError> {
    let mut observations = Vec::new();
    for (key, body) in tx.observations_of(org, name).await? {
        observations.push((key, decode::<Observation>(&body)?));
    }

    // An observation that learned the repo digest replaces the same source's one that did not.
    let superseded: Vec<String> = observations
        .iter()
        .filter(|(_, old)| observations.iter().any(|(_, new)| new.supersedes(old)))
        .map(|(key, _)| key.clone())
        .collect();
    for key in &superseded {
        tx.delete_observation(org, key).await?;
    }
    let live: Vec<Observation> = observations
        .into_iter()
        .filter(|(key, _)| !superseded.contains(key))
        .map(|(_, o)| o)
        .collect();

    let mut old: BTreeMap<String, String> = tx.images_of(org, name).await?.into_iter().collect();
    for record in merge_observations(&live) {
        let body = encode(&record);
        match old.remove(&record.id) {
            Some(previous) if previous == body => continue,
            Some(_) => outcome.images_updated += 1,
            None => outcome.images_created += 1,
        }
        tx.upsert_image(org, &record.id, name, &body, at).await?;
        tx.record_change(org, &record.id, at).await?;
    }
    for id in old.into_keys() {
        tx.delete_image(org, &id).await?;
        tx.record_change(org, &id, at).await?;
        outcome.images_removed += 1;
    }
    Ok(())
}
