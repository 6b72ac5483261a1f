//! Command-line parsing and dispatch; one module per subcommand.

mod demo;
mod generate;
mod images;
mod import;
mod keys;
mod org;
mod output;
mod serve;

use crate::config::Config;
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use imagedex_store::{Org, Store, StoreOptions};
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
    /// Configuration file [default: imagedex.toml in the user's config directory, when present]
    #[arg(long, global = true, env = "IMAGEDEX_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,

    /// Database URL: sqlite://PATH, a file path, or postgres://USER@HOST/DB (TLS with
    /// ?sslmode=verify-full&sslrootcert=CA.pem) [default: imagedex.db in the user's data directory]
    #[arg(long, global = true, env = "IMAGEDEX_DATABASE_URL", value_name = "URL")]
    database: Option<String>,

    /// Most database connections this process opens [default: 8 for PostgreSQL, 4 for SQLite]
    #[arg(long, global = true, env = "IMAGEDEX_DB_POOL_SIZE", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    db_pool_size: Option<u32>,

    /// PostgreSQL statement timeout, such as 30s or 500ms [default: none]
    #[arg(long, global = true, env = "IMAGEDEX_DB_STATEMENT_TIMEOUT", value_name = "DURATION",
          value_parser = humantime::parse_duration)]
    db_statement_timeout: Option<std::time::Duration>,

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
    /// Ask a running server for images or groups (keys from DD_API_KEY and DD_APP_KEY).
    #[command(subcommand)]
    Images(images::ImagesCommand),
    /// Start afresh on a demo database of bundled real reports, print a key pair, and serve
    /// (always demo.db in the data directory; --database does not apply).
    Demo(demo::DemoArgs),
}

/// Runs the parsed command; the exit code says whether everything it was asked to do worked.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Demo(args) => demo::run(args).await,
        // A client of a server: the database is the server's business.
        Command::Images(command) => {
            let (config, _) = load_config(cli.config.as_deref())?;
            images::run(command, &config).await
        }
        command => {
            let (config, _) = load_config(cli.config.as_deref())?;
            let url = match cli.database.or(config.database.url.clone()) {
                Some(url) => url,
                None => data_dir()?.join("imagedex.db").display().to_string(),
            };
            let options = StoreOptions {
                pool_size: cli.db_pool_size.or(config.database.pool_size),
                statement_timeout: cli
                    .db_statement_timeout
                    .or(config.database.statement_timeout),
            };
            let store = imagedex_store::open_with(&url, &options)
                .await
                .with_context(|| format!("opening database {}", redact_password(&url)))?;
            match command {
                Command::Serve(args) => serve::run(store, args, &config).await,
                Command::Import(args) => import::run(store, args).await,
                Command::Generate(args) => generate::run(store, args).await,
                Command::Org(cmd) => org::run(store, cmd).await,
                Command::Keys(cmd) => keys::run(store, cmd).await,
                Command::Demo(_) | Command::Images(_) => unreachable!("handled above"),
            }
        }
    }
}

fn load_config(explicit: Option<&std::path::Path>) -> Result<(Config, Option<PathBuf>)> {
    let (config, path) = Config::load(explicit)?;
    if let Some(path) = &path {
        tracing::info!(config.file = %path.display(), "configuration read");
    }
    Ok((config, path))
}

/// The URL with any password replaced by `***`, for messages and logs.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_string(),
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

#[cfg(test)]
mod tests {
    use super::redact_password;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_password("postgres://app:s3cr%40t@db:5432/x?sslmode=require"),
            "postgres://app:***@db:5432/x?sslmode=require"
        );
        assert_eq!(
            redact_password("postgres://app@db/x?a=b@c"),
            "postgres://app@db/x?a=b@c"
        );
        assert_eq!(
            redact_password("/var/lib/imagedex.db"),
            "/var/lib/imagedex.db"
        );
    }
}
