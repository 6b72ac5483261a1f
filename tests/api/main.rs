//! The integration tests: the real router over a real SQLite file, driven through HTTP.

mod cli;
mod compat;
mod errors;
mod formats;
mod generate;
mod groups;
mod import;
mod intake;
mod listing;
mod nodes;
mod oci;
mod snapshots;
mod storage;
mod support;
mod upload;
mod walk;
