//! OCI image layout folders (`oci-layout`, `index.json`, `blobs/sha256/…`), as written by
//! `docker buildx --output type=oci`, `skopeo copy oci:…`, `crane`, `ctr export` and others.
//!
//! Each entry of `index.json` is a tagged image: `org.opencontainers.image.ref.name` is its tag,
//! and its name is, in order: the `io.containerd.image.name` annotation (a full reference, as
//! containerd and Docker write), a `ref.name` that is a full reference rather than a bare tag,
//! else the folder's name. Every platform image under the entry becomes one observation of
//! source `oci-layout`, with the entry's digest as repo digest and the config digest as image
//! id. Every blob read is checked against its descriptor's size and sha256.

use crate::oci::{self, Descriptor, Document, ImageConfig, Manifest, OciError, MAX_DOCUMENT_BYTES};
use imagedex_model::reference::is_tag;
use imagedex_model::{Flavor, ImageName, ImageReference, Observation};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The source name of layout imports.
pub const SOURCE: &str = "oci-layout";
const CONTAINERD_NAME: &str = "io.containerd.image.name";
const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The largest layer blob whose digest is checked; bigger ones are refused.
const MAX_LAYER_BYTES: u64 = 64 * 1024 * 1024 * 1024;

/// Whether `dir` is an OCI image layout: a folder with an `oci-layout` file.
pub fn is_layout(dir: &Path) -> bool {
    dir.is_dir() && dir.join("oci-layout").is_file()
}

/// Reads a layout folder into observations, checking every blob on the way; any problem
/// refuses the whole layout, naming the file.
pub fn read_layout(dir: &Path) -> Result<Vec<Observation>, OciError> {
    let layout = Layout::open(dir)?;
    let marker = layout.read_small(Path::new("oci-layout"))?;
    let version = serde_json::from_slice::<serde_json::Value>(&marker)
        .ok()
        .and_then(|v| v.get("imageLayoutVersion")?.as_str().map(str::to_string));
    if version.as_deref() != Some("1.0.0") {
        return Err(OciError::new(
            layout.show(Path::new("oci-layout")),
            "imageLayoutVersion must be \"1.0.0\"",
        ));
    }
    let index_bytes = layout.read_small(Path::new("index.json"))?;
    let index = match oci::parse_document(&index_bytes, Some(oci::OCI_INDEX)) {
        Ok(Document::Index(index)) => index,
        Ok(Document::Manifest(_)) => {
            return Err(OciError::new(
                layout.show(Path::new("index.json")),
                "is a manifest, not an image index",
            ))
        }
        Err(reason) => return Err(OciError::new(layout.show(Path::new("index.json")), reason)),
    };

    let mut observations: BTreeMap<String, Observation> = BTreeMap::new();
    for (i, entry) in index.manifests.iter().enumerate() {
        let place = format!("{}: manifests[{i}]", layout.show(Path::new("index.json")));
        if entry.is_attestation() {
            continue;
        }
        entry.check(&place, MAX_DOCUMENT_BYTES as u64)?;
        let (name, tag) = layout
            .name_of(entry)
            .map_err(|r| OciError::new(&place, r))?;
        for (image_id, flavor) in layout.platform_images(entry)? {
            let obs = Observation {
                source: SOURCE.into(),
                name: name.clone(),
                repo_digest: Some(entry.digest.clone()),
                image_id: Some(image_id),
                image_tags: Vec::new(),
                flavor: Some(flavor),
                findings: None,
                vulnerability_counts: None,
                custom_tags: Vec::new(),
                published_at: None,
            };
            let obs = observations.entry(obs.key()).or_insert(obs);
            if let Some(tag) = &tag {
                if !obs.image_tags.contains(tag) {
                    obs.image_tags.push(tag.clone());
                    obs.image_tags.sort();
                }
            }
        }
    }
    if observations.is_empty() {
        return Err(OciError::new(
            layout.show(Path::new("index.json")),
            "the layout holds no platform image",
        ));
    }
    Ok(observations.into_values().collect())
}

struct Layout {
    /// The folder as the user named it, for messages.
    shown: PathBuf,
    /// The folder with every link resolved: every file read must resolve to a path inside it.
    root: PathBuf,
}

impl Layout {
    fn open(dir: &Path) -> Result<Self, OciError> {
        let root = dir
            .canonicalize()
            .map_err(|e| OciError::new(dir.display().to_string(), e.to_string()))?;
        Ok(Layout {
            shown: dir.to_path_buf(),
            root,
        })
    }

    fn show(&self, relative: &Path) -> String {
        self.shown.join(relative).display().to_string()
    }

    /// Opens a file of the layout, refusing one that resolves outside it (a symbolic link
    /// pointing elsewhere) or is not a regular file.
    fn open_file(&self, relative: &Path) -> Result<(std::fs::File, u64), OciError> {
        let err = |reason: String| OciError::new(self.show(relative), reason);
        let resolved = self
            .root
            .join(relative)
            .canonicalize()
            .map_err(|e| err(e.to_string()))?;
        if !resolved.starts_with(&self.root) {
            return Err(err("resolves to a path outside the layout".into()));
        }
        let file = std::fs::File::open(&resolved).map_err(|e| err(e.to_string()))?;
        let metadata = file.metadata().map_err(|e| err(e.to_string()))?;
        if !metadata.is_file() {
            return Err(err("not a regular file".into()));
        }
        Ok((file, metadata.len()))
    }

    /// Reads a small file of the layout (`oci-layout`, `index.json`), size-capped.
    fn read_small(&self, relative: &Path) -> Result<Vec<u8>, OciError> {
        let (file, _) = self.open_file(relative)?;
        let mut bytes = Vec::new();
        file.take(MAX_DOCUMENT_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| OciError::new(self.show(relative), e.to_string()))?;
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(OciError::new(
                self.show(relative),
                format!("over the limit of {MAX_DOCUMENT_BYTES} bytes"),
            ));
        }
        Ok(bytes)
    }

    fn blob_path(descriptor: &Descriptor) -> PathBuf {
        let hex = descriptor.digest.trim_start_matches("sha256:");
        Path::new("blobs").join("sha256").join(hex)
    }

    /// Streams a blob through sha256, keeping its bytes when `keep`; checks size and digest.
    fn read_blob(
        &self,
        descriptor: &Descriptor,
        limit: u64,
        keep: bool,
    ) -> Result<Vec<u8>, OciError> {
        descriptor.check(&self.show(Path::new("blobs/sha256")), limit)?;
        let relative = Self::blob_path(descriptor);
        let err = |reason: String| OciError::new(self.show(&relative), reason);
        let (file, len) = self.open_file(&relative)?;
        if len != descriptor.size as u64 {
            return Err(err(format!(
                "is {len} bytes, but its descriptor says {}",
                descriptor.size
            )));
        }
        let mut reader = file.take(limit + 1);
        let mut hasher = Sha256::new();
        let mut kept = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = reader.read(&mut buffer).map_err(|e| err(e.to_string()))?;
            if n == 0 {
                break;
            }
            total += n as u64;
            hasher.update(&buffer[..n]);
            if keep {
                kept.extend_from_slice(&buffer[..n]);
            }
        }
        if total != descriptor.size as u64 {
            return Err(err(format!(
                "changed size while read: {total} bytes, expected {}",
                descriptor.size
            )));
        }
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if actual != descriptor.digest {
            return Err(err(format!(
                "content does not match its digest: sha256 is {actual}, expected {}",
                descriptor.digest
            )));
        }
        Ok(kept)
    }

    fn read_document(&self, descriptor: &Descriptor) -> Result<Document, OciError> {
        let bytes = self.read_blob(descriptor, MAX_DOCUMENT_BYTES as u64, true)?;
        oci::parse_document(&bytes, descriptor.media_type.as_deref())
            .map_err(|r| OciError::new(self.show(&Self::blob_path(descriptor)), r))
    }

    /// The (image id, flavor) of every platform image an index entry points to.
    fn platform_images(&self, entry: &Descriptor) -> Result<Vec<(String, Flavor)>, OciError> {
        match self.read_document(entry)? {
            Document::Manifest(manifest) => Ok(vec![self.platform_image(entry, &manifest)?]),
            Document::Index(index) => {
                let mut images = Vec::new();
                for child in index.images() {
                    let place = self.show(&Self::blob_path(child));
                    match self.read_document(child)? {
                        Document::Manifest(manifest) => {
                            images.push(self.platform_image(child, &manifest)?)
                        }
                        Document::Index(_) => {
                            return Err(OciError::new(
                                place,
                                "an index inside an index inside index.json is not supported",
                            ))
                        }
                    }
                }
                Ok(images)
            }
        }
    }

    fn platform_image(
        &self,
        descriptor: &Descriptor,
        manifest: &Manifest,
    ) -> Result<(String, Flavor), OciError> {
        let config_bytes = self.read_blob(&manifest.config, MAX_DOCUMENT_BYTES as u64, true)?;
        let config: ImageConfig = oci::parse_config(&config_bytes)
            .map_err(|r| OciError::new(self.show(&Self::blob_path(&manifest.config)), r))?;
        for layer in &manifest.layers {
            self.read_blob(layer, MAX_LAYER_BYTES, false)?;
        }
        let flavor = config
            .flavor(manifest.compressed_size())
            .map_err(|r| OciError::new(self.show(&Self::blob_path(descriptor)), r))?;
        Ok((manifest.config.digest.clone(), flavor))
    }

    /// The name and tag of an index.json entry, by the rule in the module's documentation.
    fn name_of(&self, entry: &Descriptor) -> Result<(ImageName, Option<String>), String> {
        let ref_name = entry.annotations.get(REF_NAME).map(|r| r.trim());
        if let Some(full) = entry.annotations.get(CONTAINERD_NAME) {
            let reference = ImageReference::parse(full.trim())
                .map_err(|e| format!("annotation {CONTAINERD_NAME}: {e}"))?;
            let tag = reference
                .tag
                .or_else(|| ref_name.filter(|r| is_tag(r)).map(str::to_string));
            return Ok((reference.name, tag));
        }
        match ref_name {
            Some(tag) if is_tag(tag) => Ok((self.folder_name()?, Some(tag.to_string()))),
            Some(reference) => {
                let reference = ImageReference::parse(reference)
                    .map_err(|e| format!("annotation {REF_NAME}: {e}"))?;
                Ok((reference.name, reference.tag))
            }
            None => Ok((self.folder_name()?, None)),
        }
    }

    fn folder_name(&self) -> Result<ImageName, String> {
        let name = self
            .root
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let name = ImageName::local(name.trim());
        if name.repository.is_empty() {
            return Err("the layout folder has no name to give the image".into());
        }
        Ok(name)
    }
}
