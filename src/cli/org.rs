//! `imagedex org`: organisations.

use anyhow::Result;
use clap::Subcommand;
use imagedex_store::Store;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Subcommand)]
pub enum OrgCommand {
    /// Create an organisation.
    Create {
        /// 1 to 64 of a-z, 0-9, '-', '_' and '.'
        name: String,
    },
}

pub async fn run(store: Arc<dyn Store>, command: OrgCommand) -> Result<ExitCode> {
    match command {
        OrgCommand::Create { name } => {
            let org = store.create_org(&name).await?;
            println!("created organisation {}", org.name);
            Ok(ExitCode::SUCCESS)
        }
    }
}
