//! `imagedex serve`: the API on one address.

use crate::config::Config;
use anyhow::{Context, Result};
use clap::Args;
use imagedex_server::AppState;
use imagedex_store::Store;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "IMAGEDEX_LISTEN", value_name = "ADDRESS")]
    pub listen: Option<String>,
    /// Base URL of absolute links in responses [default: http:// and the request's Host]
    #[arg(long, env = "IMAGEDEX_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
}

/// The address `serve` listens on when neither a flag nor the configuration file names one.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

pub async fn run(store: Arc<dyn Store>, args: ServeArgs, config: &Config) -> Result<ExitCode> {
    let listen = args
        .listen
        .or_else(|| config.serve.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let public_url = args.public_url.or_else(|| config.serve.public_url.clone());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    serve_on(listener, store, public_url).await
}

/// Serves on a bound listener until Ctrl-C or SIGTERM.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    store: Arc<dyn Store>,
    public_url: Option<String>,
) -> Result<ExitCode> {
    let address = listener
        .local_addr()
        .context("reading the listening address")?;
    let state = AppState::new(store, public_url);
    state
        .catalog
        .watch()
        .await
        .context("listening for changes")?;
    state.catalog.warm();
    tracing::info!(listen = %address, "serving the API");
    imagedex_server::serve(listener, state)
        .await
        .context("serving")?;
    Ok(ExitCode::SUCCESS)
}
