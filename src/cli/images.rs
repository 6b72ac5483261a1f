//! `imagedex images`: list images or groups from a running server, one page or every page.

use super::output::{Format, Row, Writer};
use crate::client::response::{ContainerImage, ContainerImageGroup, ListResponse};
use crate::client::{Client, ClientError, ListParams, Secret};
use crate::config::Config;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde::de::DeserializeOwned;
use std::io::IsTerminal;
use std::process::ExitCode;

/// The server the client asks when neither a flag, `IMAGEDEX_URL` nor the file names one.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// The server's page size when none is asked for (images and groups alike).
const DEFAULT_PAGE_SIZE: u32 = 1000;

#[derive(Subcommand)]
pub enum ImagesCommand {
    /// List images, one page unless --all or --max-items asks for more.
    List {
        #[command(flatten)]
        query: QueryArgs,
    },
    /// Count images by the values of tag keys (--group-by), one page unless --all or
    /// --max-items asks for more.
    Groups {
        /// Tag keys to group by, such as registry,short_image (comma list, or repeat the flag)
        #[arg(long, value_name = "KEYS", value_delimiter = ',', required = true)]
        group_by: Vec<String>,
        #[command(flatten)]
        query: QueryArgs,
    },
}

#[derive(Args)]
pub struct QueryArgs {
    /// Server base URL; plain http only [default: http://127.0.0.1:8080]. Keys are read from
    /// DD_API_KEY and DD_APP_KEY
    #[arg(long, env = "IMAGEDEX_URL", value_name = "URL")]
    url: Option<String>,
    /// Tags the images must match, in the filter[tags] language: registry:ghcr.io,-env:prod
    #[arg(long, value_name = "TERMS", allow_hyphen_values = true)]
    filter: Option<String>,
    /// Sort key, '-' first for descending: name, -vulnerability_count.critical, -count (groups)
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    sort: Option<String>,
    /// Items per request, 1 to 10000 [default: the server's, 1000]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10000))]
    page_size: Option<u32>,
    /// Stop after N items, following pages as needed
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_items: Option<u64>,
    /// Every page, one after another, never holding more than one
    #[arg(long)]
    all: bool,
    /// Output format [default: table, on a terminal or not: scripts should name json, ndjson
    /// or csv, whose fields stay put while the table's columns may change]
    #[arg(long, short, value_enum, value_name = "FORMAT")]
    output: Option<Format>,
}

pub async fn run(command: ImagesCommand, config: &Config) -> Result<ExitCode> {
    let (query, group_by) = match command {
        ImagesCommand::List { query } => (query, None),
        ImagesCommand::Groups { group_by, query } => (query, Some(group_by.join(","))),
    };
    let url = query
        .url
        .clone()
        .or_else(|| config.client.url.clone())
        .unwrap_or_else(|| DEFAULT_URL.to_string());
    let api_key = key_from_env("DD_API_KEY", "API key")?;
    let app_key = key_from_env("DD_APP_KEY", "application key")?;
    let client = Client::new(&url, &api_key, &app_key)?;

    let params = ListParams {
        filter: query.filter.clone(),
        sort: query.sort.clone(),
        page_size: query.page_size,
        group_by: group_by.clone(),
        cursor: None,
    };
    let walk = Walk {
        client: &client,
        params,
        max_items: query.max_items,
        all: query.all,
        format: query.output.unwrap_or(Format::Table),
    };
    let written = match group_by {
        None => walk.run::<ContainerImage>().await,
        Some(_) => walk.run::<ContainerImageGroup>().await,
    };
    match written {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // A reader that stopped early (`| head`) is not a failure of ours.
        Err(WalkError::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            Ok(ExitCode::SUCCESS)
        }
        Err(WalkError::Write(e)) => Err(e).context("writing to standard output"),
        Err(WalkError::Client(e)) => Err(e.into()),
    }
}

/// A key from the environment, where Datadog's own tools read it; never from a flag, which
/// would leave it in the shell history and the process list.
fn key_from_env(name: &'static str, what: &str) -> Result<Secret> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(Secret::new(value.trim().to_string())),
        _ => anyhow::bail!(
            "{name} is not set: export the {what} of a key pair (`imagedex keys create` makes one)"
        ),
    }
}

enum WalkError {
    Client(ClientError),
    Write(std::io::Error),
}

impl From<std::io::Error> for WalkError {
    fn from(e: std::io::Error) -> Self {
        WalkError::Write(e)
    }
}

/// One page, or pages one after another until the last one, `--max-items` or an error.
struct Walk<'a> {
    client: &'a Client,
    params: ListParams,
    max_items: Option<u64>,
    all: bool,
    format: Format,
}

impl Walk<'_> {
    async fn run<T: Row + DeserializeOwned>(mut self) -> Result<(), WalkError> {
        let many_pages = self.all || self.max_items.is_some();
        let stdout = std::io::stdout().lock();
        let mut writer = Writer::new(std::io::BufWriter::new(stdout), self.format);
        let mut progress: Option<ProgressBar> = None;
        let mut written = 0u64;
        let asked = self.params.page_size;

        loop {
            let remaining = self.max_items.map(|max| max - written);
            self.params.page_size = page_size(asked, remaining);
            let mut page: ListResponse<T> = self
                .client
                .list(&self.params)
                .await
                .map_err(WalkError::Client)?;
            if let Some(remaining) = remaining {
                let keep = usize::try_from(remaining).unwrap_or(usize::MAX);
                page.data.truncate(keep);
            }

            if many_pages && progress.is_none() {
                let total = match (page.total(), self.max_items) {
                    (Some(total), Some(max)) => Some(total.min(max)),
                    (total, max) => total.or(max),
                };
                progress = Some(progress_bar(total));
            }
            written += page.data.len() as u64;
            let done = self.max_items.is_some_and(|max| written >= max);
            let next = page.next_cursor().filter(|_| many_pages && !done);
            let more = next.is_some();
            match progress.as_ref() {
                Some(bar) => {
                    bar.suspend(|| writer.write_page(&page.data, more))?;
                    bar.set_position(written);
                }
                None => writer.write_page(&page.data, more)?,
            }
            let Some(cursor) = next else {
                break;
            };
            self.params.cursor = Some(cursor.to_string());
        }

        if let Some(bar) = progress {
            bar.finish_and_clear();
        }
        writer.finish::<T>()?;
        Ok(())
    }
}

/// The page size to ask for: never more than `--max-items` still wants, so the last request
/// does not fetch what will be thrown away.
fn page_size(asked: Option<u32>, remaining: Option<u64>) -> Option<u32> {
    let Some(remaining) = remaining else {
        return asked;
    };
    let cap = u32::try_from(remaining).unwrap_or(u32::MAX);
    Some(asked.unwrap_or(DEFAULT_PAGE_SIZE).min(cap))
}

/// A bar on stderr when someone is watching; nothing when stderr is a file or a pipe.
fn progress_bar(total: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::no_length(),
    };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {human_pos}/{human_len} items")
            .expect("the progress template should be valid")
            .progress_chars("=> "),
    );
    bar
}

#[cfg(test)]
mod tests {
    use super::page_size;

    #[test]
    fn the_page_size_never_exceeds_what_max_items_still_wants() {
        assert_eq!(page_size(None, None), None);
        assert_eq!(page_size(Some(50), None), Some(50));
        assert_eq!(page_size(Some(50), Some(7)), Some(7));
        assert_eq!(page_size(Some(5), Some(7)), Some(5));
        assert_eq!(page_size(None, Some(3)), Some(3));
        assert_eq!(page_size(None, Some(5000)), Some(1000));
        assert_eq!(page_size(Some(10_000), Some(u64::MAX)), Some(10_000));
    }
}
