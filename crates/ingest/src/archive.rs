//! `docker save` archives: a tar with `manifest.json` (`Config`, `RepoTags`, `Layers`), in the
//! layout of any Docker version (`<id>.json` and `<id>/layer.tar` before Docker 25,
//! `blobs/sha256/…` after). Read entry by entry, never unpacked: a first pass over the headers
//! finds every entry and reads `manifest.json`, a second reads only the config blobs.
//!
//! Each image of `manifest.json` becomes one observation of source `docker-archive` per name
//! in its `RepoTags` (or one named after the archive file when it has none), identified by its
//! image id, the sha256 of its config. The archive carries no registry digest, so none is set.

use crate::oci::{self, MAX_DOCUMENT_BYTES};
use imagedex_model::{ImageName, ImageReference, Observation};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

/// The source name of archive imports.
pub const SOURCE: &str = "docker-archive";
/// The most entries an archive may hold.
pub const MAX_ENTRIES: usize = 100_000;
/// The longest entry path accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// The largest entry accepted, in bytes.
pub const MAX_ENTRY_BYTES: u64 = 64 * 1024 * 1024 * 1024;
const MAX_IMAGES: usize = 1_000;
const MAX_LINK_HOPS: usize = 8;
const BLOCK: u64 = 512;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

enum Entry {
    File { position: u64, size: u64 },
    Link(PathBuf),
    Other,
}

/// Whether the file starts with a tar header (the `ustar` magic of POSIX and GNU tar).
pub fn looks_like_tar(head: &[u8]) -> bool {
    head.len() >= 263 && &head[257..262] == b"ustar"
}

/// Reads a `docker save` archive into observations; any problem refuses the whole archive.
pub fn read_archive(path: &Path) -> Result<Vec<Observation>, oci::OciError> {
    let shown = path.display().to_string();
    let err = |reason: String| oci::OciError::new(&shown, reason);
    let mut file = File::open(path).map_err(|e| err(e.to_string()))?;
    let file_len = file.metadata().map_err(|e| err(e.to_string()))?.len();

    let (entries, manifest) = scan(&mut file, file_len).map_err(err)?;
    let manifest =
        manifest.ok_or_else(|| err("no manifest.json: not a docker save archive".into()))?;
    let manifest: Vec<ManifestEntry> = serde_json::from_slice(&manifest)
        .map_err(|e| err(format!("manifest.json is invalid: {e}")))?;
    if manifest.is_empty() || manifest.len() > MAX_IMAGES {
        return Err(err(format!(
            "manifest.json lists {} images, expected 1 to {MAX_IMAGES}",
            manifest.len()
        )));
    }

    let mut observations: BTreeMap<String, Observation> = BTreeMap::new();
    for (i, image) in manifest.iter().enumerate() {
        let place = |reason: String| err(format!("manifest.json[{i}]: {reason}"));
        let (position, size) = resolve(&entries, &image.config).map_err(place)?;
        if size > MAX_DOCUMENT_BYTES as u64 {
            return Err(place(format!(
                "config {} is {size} bytes, over the limit of {MAX_DOCUMENT_BYTES}",
                image.config
            )));
        }
        let config_bytes = read_at(&mut file, position, size).map_err(place)?;
        let image_id = format!("sha256:{}", hex::encode(Sha256::digest(&config_bytes)));
        let config = oci::parse_config(&config_bytes)
            .map_err(|r| place(format!("{}: {r}", image.config)))?;
        let mut total = 0u64;
        for layer in &image.layers {
            let (_, size) = resolve(&entries, layer).map_err(place)?;
            total = total.saturating_add(size);
        }
        let size = i64::try_from(total).ok();
        let flavor = config
            .flavor(size)
            .map_err(|r| place(format!("{}: {r}", image.config)))?;

        for (name, tag) in names_of(image, path).map_err(place)? {
            let obs = Observation {
                source: SOURCE.into(),
                name,
                repo_digest: None,
                image_id: Some(image_id.clone()),
                image_tags: Vec::new(),
                flavor: Some(flavor.clone()),
                findings: None,
                vulnerability_counts: None,
                custom_tags: Vec::new(),
                published_at: None,
            };
            let obs = observations.entry(obs.key()).or_insert(obs);
            if let Some(tag) = tag {
                if !obs.image_tags.contains(&tag) {
                    obs.image_tags.push(tag);
                    obs.image_tags.sort();
                }
            }
        }
    }
    Ok(observations.into_values().collect())
}

/// Every entry by normalised path, and `manifest.json`'s bytes; checks the count, path names,
/// sizes, and that no entry runs past the end of the file.
#[allow(clippy::type_complexity)]
fn scan(
    file: &mut File,
    file_len: u64,
) -> Result<(HashMap<PathBuf, Entry>, Option<Vec<u8>>), String> {
    let mut archive = tar::Archive::new(&mut *file);
    let mut entries = HashMap::new();
    let mut manifest = None;
    let mut end = 0u64;
    let iter = archive
        .entries_with_seek()
        .map_err(|e| format!("not a tar archive: {e}"))?;
    for entry in iter {
        let mut entry = entry.map_err(|e| format!("the archive is truncated or corrupt: {e}"))?;
        if entries.len() >= MAX_ENTRIES {
            return Err(format!("over the limit of {MAX_ENTRIES} entries"));
        }
        let raw = entry.path_bytes().into_owned();
        let path = normalise(&raw)?;
        let shown = path.display().to_string();
        let size = entry.size();
        let position = entry.raw_file_position();
        if size > MAX_ENTRY_BYTES {
            return Err(format!(
                "entry {shown} is {size} bytes, over the limit of {MAX_ENTRY_BYTES}"
            ));
        }
        let padded = size.div_ceil(BLOCK) * BLOCK;
        end = end.max(position.saturating_add(padded));
        if position.saturating_add(size) > file_len {
            return Err(format!(
                "entry {shown} is cut short: the archive is truncated"
            ));
        }
        let kind = entry.header().entry_type();
        let record = if kind.is_file() {
            Entry::File { position, size }
        } else if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .ok_or_else(|| format!("link {shown} has no target"))?;
            let target = if kind.is_symlink() {
                let base = path.parent().unwrap_or(Path::new(""));
                normalise(&join_bytes(base, &target))?
            } else {
                normalise(&target)?
            };
            Entry::Link(target)
        } else {
            Entry::Other
        };
        if path == Path::new("manifest.json") && kind.is_file() {
            if size > MAX_DOCUMENT_BYTES as u64 {
                return Err(format!(
                    "manifest.json is {size} bytes, over the limit of {MAX_DOCUMENT_BYTES}"
                ));
            }
            let mut bytes = Vec::new();
            (&mut entry)
                .take(size)
                .read_to_end(&mut bytes)
                .map_err(|e| format!("manifest.json is unreadable: {e}"))?;
            if bytes.len() as u64 != size {
                return Err("manifest.json is cut short: the archive is truncated".into());
            }
            manifest = Some(bytes);
        }
        entries.insert(path, record);
    }
    // A tar ends with two zero blocks; without them the file was cut after an entry.
    if file_len < end.saturating_add(2 * BLOCK) {
        return Err("the archive is truncated: it lacks the end-of-archive blocks".into());
    }
    Ok((entries, manifest))
}

/// An entry path made relative and clean: no `..`, no absolute path, bounded length.
fn normalise(raw: &[u8]) -> Result<PathBuf, String> {
    let text = std::str::from_utf8(raw)
        .map_err(|_| format!("entry path {} is not UTF-8", String::from_utf8_lossy(raw)))?;
    if text.len() > MAX_PATH_BYTES {
        return Err(format!(
            "entry path of {} bytes is over the limit of {MAX_PATH_BYTES}",
            text.len()
        ));
    }
    let mut clean = PathBuf::new();
    for component in Path::new(text).components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(format!("entry path {text} leaves the archive"))
            }
        }
    }
    Ok(clean)
}

fn join_bytes(base: &Path, target: &[u8]) -> Vec<u8> {
    let mut joined = base.to_string_lossy().into_owned().into_bytes();
    if !joined.is_empty() {
        joined.push(b'/');
    }
    joined.extend_from_slice(target);
    joined
}

/// The position and size of the file at `name`, following links within the archive.
fn resolve(entries: &HashMap<PathBuf, Entry>, name: &str) -> Result<(u64, u64), String> {
    let mut path = normalise(name.as_bytes())?;
    for _ in 0..MAX_LINK_HOPS {
        match entries.get(&path) {
            Some(Entry::File { position, size }) => return Ok((*position, *size)),
            Some(Entry::Link(target)) => path = target.clone(),
            Some(Entry::Other) => return Err(format!("{name} is not a file in the archive")),
            None => return Err(format!("{name} is missing from the archive")),
        }
    }
    Err(format!("{name}: too many links"))
}

fn read_at(file: &mut File, position: u64, size: u64) -> Result<Vec<u8>, String> {
    file.seek(SeekFrom::Start(position))
        .map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(size)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 != size {
        return Err("the archive is truncated".into());
    }
    Ok(bytes)
}

/// The names and tags of one image: its `RepoTags`, else the archive's file name.
fn names_of(
    image: &ManifestEntry,
    archive: &Path,
) -> Result<Vec<(ImageName, Option<String>)>, String> {
    let tags = image.repo_tags.as_deref().unwrap_or_default();
    if tags.is_empty() {
        let file = archive.display().to_string();
        let stem = crate::names::archive_stem(&file).unwrap_or_else(|| {
            archive
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
        });
        let name = ImageName::local(stem.trim());
        if name.repository.is_empty() {
            return Err(format!("no RepoTags, and '{file}' gives no image name"));
        }
        return Ok(vec![(name, None)]);
    }
    tags.iter()
        .map(|t| {
            let reference = ImageReference::parse(t).map_err(|e| format!("RepoTags: {e}"))?;
            Ok((reference.name, reference.tag))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths_stay_inside_the_archive() {
        assert_eq!(
            normalise(b"./blobs/sha256/ab").unwrap(),
            Path::new("blobs/sha256/ab")
        );
        for bad in [&b"../x"[..], b"/etc/passwd", b"a/../../x"] {
            let err = normalise(bad).unwrap_err();
            assert!(err.contains("leaves the archive"), "{err}");
        }
        assert!(normalise(&[b'a'; MAX_PATH_BYTES + 1])
            .unwrap_err()
            .contains("over the limit"));
    }

    #[test]
    fn links_are_followed_within_the_archive_only_so_far() {
        let mut entries = HashMap::new();
        entries.insert(
            PathBuf::from("a/layer.tar"),
            Entry::File {
                position: 512,
                size: 3,
            },
        );
        entries.insert(
            PathBuf::from("b/layer.tar"),
            Entry::Link(PathBuf::from("a/layer.tar")),
        );
        entries.insert(PathBuf::from("loop"), Entry::Link(PathBuf::from("loop")));
        assert_eq!(resolve(&entries, "b/layer.tar"), Ok((512, 3)));
        assert!(resolve(&entries, "loop")
            .unwrap_err()
            .contains("too many links"));
        assert!(resolve(&entries, "c").unwrap_err().contains("missing"));
    }

    #[test]
    fn only_tar_headers_look_like_tar() {
        let mut header = [0u8; 512];
        header[257..263].copy_from_slice(b"ustar\0");
        assert!(looks_like_tar(&header));
        assert!(!looks_like_tar(b"{\"SchemaVersion\": 2}"));
    }
}
