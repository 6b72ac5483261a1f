//! `imagedex serve`: the API on one address.

use anyhow::{Context, Result};
use clap::Args;
use imagedex_server::AppState;
use imagedex_store::Store;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "IMAGEDEX_LISTEN")]
    pub listen: String,
    /// Base URL of absolute links in responses [default: http:// and the request's Host]
    #[arg(long, env = "IMAGEDEX_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
}

pub async fn run(store: Arc<dyn Store>, args: ServeArgs) -> Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    serve_on(listener, store, args.public_url).await
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
