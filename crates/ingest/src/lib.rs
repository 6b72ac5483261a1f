//! Ingest of imagedex: parsers that turn scanner reports into observations, and the import of
//! files into a store (one transaction per file).

pub mod import;
pub mod push;
pub mod report;
pub mod trivy;

pub use import::{import_document, FileOutcome, ImportError};
pub use push::parse_push;
pub use report::{parse_report, ReportError};
