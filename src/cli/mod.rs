//! Command-line parsing and dispatch; one module per subcommand.

mod demo;
mod generate;
mod import;
mod keys;
mod org;
mod serve;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use imagedex_store::{Org, Store};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// The organisation commands use when none is named.
pub const DEFAULT_ORG: &str = "default";

#[derive(Parser)]
#[command(
    name = "imagedex",
    version,
    about = "An inventory of container images with a Datadog-compatible API"
)]
pub struct Cli {
    /// Database URL: sqlite://PATH or a file path [default: imagedex.db in the user's data directory]
    #[arg(long, global = true, env = "IMAGEDEX_DATABASE_URL", value_name = "URL")]
    database: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the API.
    Serve(serve::ServeArgs),
    /// Import report files, or folders of them.
    Import(import::ImportArgs),
    /// Manage organisations.
    #[command(subcommand)]
    Org(org::OrgCommand),
    /// Manage key pairs.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Write a deterministic, realistic dataset of N images into an organisation, for
    /// benchmarks and bulk-import measurements.
    Generate(generate::GenerateArgs),
    /// Start afresh on a demo database of bundled real reports, print a key pair, and serve
    /// (always demo.db in the data directory; --database does not apply).
    Demo(demo::DemoArgs),
}

/// Runs the parsed command; the exit code says whether everything it was asked to do worked.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Demo(args) => demo::run(args).await,
        command => {
            let url = match cli.database {
                Some(url) => url,
                None => data_dir()?.join("imagedex.db").display().to_string(),
            };
            let store = imagedex_store::open(&url)
                .await
                .with_context(|| format!("opening database {url}"))?;
            match command {
                Command::Serve(args) => serve::run(store, args).await,
                Command::Import(args) => import::run(store, args).await,
                Command::Generate(args) => generate::run(store, args).await,
                Command::Org(cmd) => org::run(store, cmd).await,
                Command::Keys(cmd) => keys::run(store, cmd).await,
                Command::Demo(_) => unreachable!("demo is handled above"),
            }
        }
    }
}

/// `$XDG_DATA_HOME/imagedex`, else `~/.local/share/imagedex`.
pub fn data_dir() -> Result<PathBuf> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME").context("neither XDG_DATA_HOME nor HOME is set")?;
            PathBuf::from(home).join(".local").join("share")
        }
    };
    Ok(base.join("imagedex"))
}

/// The named organisation, or `default` (created on first use) when none is named.
pub async fn resolve_org(store: &Arc<dyn Store>, name: Option<&str>) -> Result<Org> {
    match name {
        None => Ok(store.ensure_org(DEFAULT_ORG).await?),
        Some(name) => match store.find_org(name).await? {
            Some(org) => Ok(org),
            None if name == DEFAULT_ORG => Ok(store.ensure_org(DEFAULT_ORG).await?),
            None => anyhow::bail!(
                "organisation '{name}' does not exist; create it with `imagedex org create {name}`"
            ),
        },
    }
}

/// Logs go to stderr: request lines for the server, warnings only for one-shot commands.
pub fn init_logging(command: &Command) {
    let default = match command {
        Command::Serve(_) | Command::Demo(_) => "info",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}
