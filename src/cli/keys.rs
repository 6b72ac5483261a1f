//! `imagedex keys`: key pairs, shown once at creation and stored only as hashes.

use anyhow::Result;
use clap::Subcommand;
use imagedex_store::Store;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key pair; the keys are shown this once.
    Create {
        /// Organisation [default: default]
        #[arg(long)]
        org: Option<String>,
        /// Print {"org": ..., "api_key": ..., "app_key": ...}
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(store: Arc<dyn Store>, command: KeysCommand) -> Result<ExitCode> {
    match command {
        KeysCommand::Create { org, json } => {
            let org = super::resolve_org(&store, org.as_deref()).await?;
            let pair = store.create_key_pair(org.id).await?;
            if json {
                let text = |s: &str| serde_json::Value::from(s).to_string();
                println!(
                    "{{\"org\": {}, \"api_key\": {}, \"app_key\": {}}}",
                    text(&org.name),
                    text(&pair.api_key),
                    text(&pair.app_key)
                );
            } else {
                println!("organisation: {}", org.name);
                println!("DD-API-KEY:         {}", pair.api_key);
                println!("DD-APPLICATION-KEY: {}", pair.app_key);
                println!("(shown once: imagedex keeps only their hashes)");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
