//! `imagedex import`: report files and folders, OCI image layouts and `docker save` archives,
//! one transaction per file, layout or archive. A bad one is reported with its path and reason,
//! the others still import, and the exit code says so.

use anyhow::Result;
use clap::Args;
use imagedex_ingest::oci::OciError;
use imagedex_ingest::report::MAX_REPORT_BYTES;
use imagedex_ingest::{archive, import_document, import_observations, layout, FileOutcome};
use imagedex_model::Tag;
use imagedex_store::{OrgId, Store};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use tokio::io::AsyncReadExt;

#[derive(Args)]
pub struct ImportArgs {
    /// Organisation [default: default]
    #[arg(long)]
    pub org: Option<String>,
    /// A tag to put on every imported image (key:value); repeatable.
    #[arg(long = "tag", value_name = "KEY:VALUE", value_parser = parse_tag)]
    pub tags: Vec<Tag>,
    /// Report files, `docker save` archives, OCI image layout folders, or folders to search
    /// for *.json reports and layouts.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

fn parse_tag(s: &str) -> Result<Tag, String> {
    Tag::parse(s).map_err(|e| e.to_string())
}

/// What importing several files did.
#[derive(Default)]
pub struct ImportSummary {
    pub files: u64,
    pub failed: u64,
    pub created: u64,
    pub updated: u64,
    pub removed: u64,
}

pub async fn run(store: Arc<dyn Store>, args: ImportArgs) -> Result<ExitCode> {
    let org = super::resolve_org(&store, args.org.as_deref()).await?;
    let files = collect_files(&args.paths);
    let summary = import_files(store.as_ref(), org.id, &files, &args.tags).await;
    println!(
        "{} file(s): {} failed; images created {}, updated {}, removed {}",
        summary.files, summary.failed, summary.created, summary.updated, summary.removed
    );
    Ok(if summary.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every file named, and every `*.json` and OCI layout folder below every folder named, in path
/// order. A path that cannot be read is kept so that the import reports it.
pub fn collect_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() && !layout::is_layout(path) {
            walk(path, &mut files);
        } else {
            files.push(path.clone());
        }
    }
    files
}

/// Walks a folder without following symbolic links to folders, so a link loop cannot make it
/// run forever or import a file twice; linked files are read like any other file.
fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        files.push(dir.to_path_buf());
        return;
    };
    let mut entries: Vec<(PathBuf, bool)> = entries
        .filter_map(|e| e.ok())
        .map(|e| (e.path(), e.file_type().is_ok_and(|t| t.is_dir())))
        .collect();
    entries.sort();
    for (path, is_dir) in entries {
        if is_dir && layout::is_layout(&path) {
            files.push(path);
        } else if is_dir {
            walk(&path, files);
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            files.push(path);
        }
    }
}

/// Imports each file in its own transaction, printing one line per file.
pub async fn import_files(
    store: &dyn Store,
    org: OrgId,
    files: &[PathBuf],
    tags: &[Tag],
) -> ImportSummary {
    let mut summary = ImportSummary::default();
    for path in files {
        summary.files += 1;
        match import_file(store, org, path, tags).await {
            Ok(outcome) => {
                let s = outcome.store;
                summary.created += s.images_created;
                summary.updated += s.images_updated;
                summary.removed += s.images_removed;
                let what = if s.observations_changed == 0 {
                    "unchanged".to_string()
                } else {
                    format!(
                        "images created {}, updated {}, removed {}",
                        s.images_created, s.images_updated, s.images_removed
                    )
                };
                println!("imported {}: {what}", path.display());
            }
            Err(reason) => {
                summary.failed += 1;
                eprintln!("error: {}: {reason}", path.display());
            }
        }
    }
    summary
}

async fn import_file(
    store: &dyn Store,
    org: OrgId,
    path: &Path,
    tags: &[Tag],
) -> Result<FileOutcome, String> {
    let metadata = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if metadata.is_dir() && layout::is_layout(path) {
        let dir = path.to_path_buf();
        let observations = tokio::task::spawn_blocking(move || layout::read_layout(&dir))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| oci_message(path, e))?;
        return import_observations(store, org, observations, tags)
            .await
            .map_err(|e| e.to_string());
    }
    if !metadata.is_file() {
        return Err("not a regular file".to_string());
    }
    // Read at most one byte past the limit: the reported size of a file can change under us.
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    let mut file = file.take(MAX_REPORT_BYTES as u64 + 1);
    let mut head = [0u8; 512];
    let mut head_len = 0;
    while head_len < head.len() {
        match file.read(&mut head[head_len..]).await {
            Ok(0) => break,
            Ok(n) => head_len += n,
            Err(e) => return Err(e.to_string()),
        }
    }
    if archive::looks_like_tar(&head[..head_len]) {
        let archive_path = path.to_path_buf();
        let observations =
            tokio::task::spawn_blocking(move || archive::read_archive(&archive_path))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| oci_message(path, e))?;
        return import_observations(store, org, observations, tags)
            .await
            .map_err(|e| e.to_string());
    }
    bytes.extend_from_slice(&head[..head_len]);
    file.read_to_end(&mut bytes)
        .await
        .map_err(|e| e.to_string())?;
    if bytes.len() > MAX_REPORT_BYTES {
        return Err(format!(
            "file is over the limit of {MAX_REPORT_BYTES} bytes"
        ));
    }
    import_document(store, org, &bytes, tags)
        .await
        .map_err(|e| e.to_string())
}

/// The reason alone when it is about the path the import line already names.
fn oci_message(path: &Path, error: OciError) -> String {
    if error.place == path.display().to_string() {
        error.reason
    } else {
        error.to_string()
    }
}
