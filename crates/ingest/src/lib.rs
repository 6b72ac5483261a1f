//! Ingest of imagedex: parsers that turn scanner reports, agent payloads, OCI image layouts and
//! `docker save` archives into observations, and the import of each into a store (one
//! transaction each).

pub mod agent;
pub mod archive;
pub mod cyclonedx;
pub mod grype;
pub mod import;
pub mod layout;
pub mod names;
pub mod oci;
pub mod push;
pub mod report;
pub mod severity;
pub mod trivy;

pub use import::{import_document, import_observations, FileOutcome, ImportError};
pub use push::parse_push;
pub use report::{parse_report, ReportError};
