//! Ingest of imagedex: parsers that turn scanner reports and agent payloads into observations,
//! and the import of files into a store (one transaction per file).

pub mod agent;
pub mod cyclonedx;
pub mod grype;
pub mod import;
pub mod names;
pub mod push;
pub mod report;
pub mod severity;
pub mod trivy;

pub use import::{import_document, FileOutcome, ImportError};
pub use push::parse_push;
pub use report::{parse_report, ReportError};
