//! Importing documents into a store: parse first (nothing written), then one transaction.

use crate::oci::OciError;
use crate::report::{add_custom_tags, parse_report, ReportError};
use imagedex_model::{Observation, Tag};
use imagedex_store::{ApplyOutcome, OrgId, Store, StoreError};

/// Why one document was not imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Oci(#[from] OciError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What importing one document did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileOutcome {
    pub observations: u64,
    pub store: ApplyOutcome,
}

/// Parses one report and applies it in one transaction: all of it or nothing.
pub async fn import_document(
    store: &dyn Store,
    org: OrgId,
    bytes: &[u8],
    custom_tags: &[Tag],
) -> Result<FileOutcome, ImportError> {
    let observations = parse_report(bytes, custom_tags)?;
    let outcome = store.apply_observations(org, &observations).await?;
    Ok(FileOutcome {
        observations: observations.len() as u64,
        store: outcome,
    })
}

/// Applies the observations of one layout or archive, with `custom_tags`, in one transaction.
pub async fn import_observations(
    store: &dyn Store,
    org: OrgId,
    mut observations: Vec<Observation>,
    custom_tags: &[Tag],
) -> Result<FileOutcome, ImportError> {
    add_custom_tags(&mut observations, custom_tags);
    let outcome = store.apply_observations(org, &observations).await?;
    Ok(FileOutcome {
        observations: observations.len() as u64,
        store: outcome,
    })
}
