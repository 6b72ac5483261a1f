//! OCI and Docker image documents: image indexes and Docker manifest lists, image manifests
//! (OCI and Docker schema 2), and image configs; what one platform image of them is (flavor,
//! compressed size, build time). Shared by the OCI layout and `docker save` imports, and meant
//! for the registry crawl.

use chrono::{DateTime, SubsecRound, Utc};
use imagedex_model::platform_architecture;
use imagedex_model::reference::is_digest;
use imagedex_model::Flavor;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The largest index, manifest or config accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;
/// The most entries an index may list.
pub const MAX_INDEX_ENTRIES: usize = 1_000;
/// The most layers a manifest may list.
pub const MAX_LAYERS: usize = 1_000;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// The annotation BuildKit puts on the index entry of an attestation manifest.
const REFERENCE_TYPE: &str = "vnd.docker.reference.type";

/// Why a document, or a blob it names, was refused; `place` is a file, path or digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {reason}")]
pub struct OciError {
    pub place: String,
    pub reason: String,
}

impl OciError {
    pub fn new(place: impl Into<String>, reason: impl Into<String>) -> Self {
        OciError {
            place: place.into(),
            reason: reason.into(),
        }
    }
}

/// A content descriptor: what a document says about another blob.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: Option<String>,
    pub digest: String,
    pub size: i64,
    pub platform: Option<Platform>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// The platform an index entry is for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(rename = "os.version")]
    pub os_version: Option<String>,
    pub variant: Option<String>,
}

/// An OCI image index or a Docker manifest list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: i64,
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// An OCI image manifest or a Docker schema 2 manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: i64,
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// The fields of an image config (OCI or Docker) that describe the platform image.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ImageConfig {
    pub os: Option<String>,
    pub architecture: Option<String>,
    pub variant: Option<String>,
    #[serde(rename = "os.version")]
    pub os_version: Option<String>,
    pub created: Option<String>,
}

/// A manifest-type document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Document {
    Index(Index),
    Manifest(Manifest),
}

impl Descriptor {
    /// Whether the entry is a BuildKit attestation (SBOM, provenance), not a runnable image.
    pub fn is_attestation(&self) -> bool {
        let unknown_platform = self
            .platform
            .as_ref()
            .is_some_and(|p| p.os == "unknown" && p.architecture == "unknown");
        let annotated = self
            .annotations
            .get(REFERENCE_TYPE)
            .is_some_and(|t| t == "attestation-manifest");
        unknown_platform || annotated
    }

    /// Whether the descriptor points to an index (or manifest list).
    pub fn is_index(&self) -> bool {
        matches!(
            self.media_type.as_deref(),
            Some(OCI_INDEX | DOCKER_MANIFEST_LIST)
        )
    }

    /// The digest and size checked: a digest imagedex can address, a size within `limit`.
    pub fn check(&self, place: &str, limit: u64) -> Result<(), OciError> {
        if !self.digest.starts_with("sha256:") || !is_digest(&self.digest) {
            return Err(OciError::new(
                place,
                format!(
                    "digest '{}' is not sha256:<64 lowercase hex digits>",
                    self.digest
                ),
            ));
        }
        if self.size < 0 || self.size as u64 > limit {
            return Err(OciError::new(
                place,
                format!(
                    "blob {} has size {}, outside 0 to {limit}",
                    self.digest, self.size
                ),
            ));
        }
        Ok(())
    }
}

impl Index {
    /// The entries that are platform images: attestations left out.
    pub fn images(&self) -> impl Iterator<Item = &Descriptor> {
        self.manifests.iter().filter(|d| !d.is_attestation())
    }
}

impl Manifest {
    /// The compressed size of the platform image: the sum of its layers' sizes.
    pub fn compressed_size(&self) -> Option<i64> {
        self.layers
            .iter()
            .try_fold(0i64, |sum, layer| sum.checked_add(layer.size.max(0)))
    }
}

impl ImageConfig {
    /// The flavor of the image: platform from the config, size as given, `created` as
    /// `built_at` in whole seconds.
    pub fn flavor(&self, size: Option<i64>) -> Result<Flavor, String> {
        let os = self.os.as_deref().map(str::trim).unwrap_or_default();
        let arch = self
            .architecture
            .as_deref()
            .map(str::trim)
            .unwrap_or_default();
        if os.is_empty() || arch.is_empty() {
            return Err("the image config has no os or architecture".into());
        }
        let built_at = match self.created.as_deref() {
            Some(created) => Some(parse_time(created)?),
            None => None,
        };
        Ok(Flavor {
            os_name: os.to_lowercase(),
            os_architecture: platform_architecture(arch, self.variant.as_deref()),
            os_version: self
                .os_version
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string),
            size,
            built_at,
        })
    }
}

fn parse_time(value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc).trunc_subsecs(0))
        .map_err(|e| format!("created '{value}' is not RFC 3339: {e}"))
}

/// Parses an index or manifest. The type is the document's own `mediaType`, else `hint`
/// (a descriptor's media type or a `Content-Type`), else its shape.
pub fn parse_document(bytes: &[u8], hint: Option<&str>) -> Result<Document, String> {
    check_len(bytes)?;
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not a JSON document: {e}"))?;
    let media_type = value
        .get("mediaType")
        .and_then(|m| m.as_str())
        .or(hint)
        .map(str::to_string);
    let is_index = match media_type.as_deref() {
        Some(OCI_INDEX | DOCKER_MANIFEST_LIST) => true,
        Some(OCI_MANIFEST | DOCKER_MANIFEST) => false,
        Some(other) => {
            return Err(format!(
                "media type '{other}' is not an image index or manifest (expected {OCI_INDEX}, \
                 {OCI_MANIFEST}, {DOCKER_MANIFEST_LIST} or {DOCKER_MANIFEST})"
            ))
        }
        None if value.get("manifests").is_some() => true,
        None if value.get("config").is_some() => false,
        None => return Err("neither an image index nor an image manifest".into()),
    };
    if value.get("schemaVersion").and_then(|v| v.as_i64()) != Some(2) {
        return Err("schemaVersion must be 2 (Docker schema 1 is not supported)".into());
    }
    if is_index {
        let index: Index =
            serde_json::from_value(value).map_err(|e| format!("invalid image index: {e}"))?;
        if index.manifests.len() > MAX_INDEX_ENTRIES {
            return Err(format!(
                "the index lists {} entries, over the limit of {MAX_INDEX_ENTRIES}",
                index.manifests.len()
            ));
        }
        Ok(Document::Index(index))
    } else {
        let manifest: Manifest =
            serde_json::from_value(value).map_err(|e| format!("invalid image manifest: {e}"))?;
        if manifest.layers.len() > MAX_LAYERS {
            return Err(format!(
                "the manifest lists {} layers, over the limit of {MAX_LAYERS}",
                manifest.layers.len()
            ));
        }
        Ok(Document::Manifest(manifest))
    }
}

/// Parses an image config.
pub fn parse_config(bytes: &[u8]) -> Result<ImageConfig, String> {
    check_len(bytes)?;
    serde_json::from_slice(bytes).map_err(|e| format!("invalid image config: {e}"))
}

fn check_len(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "document is {} bytes, over the limit of {MAX_DOCUMENT_BYTES}",
            bytes.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/oci")
            .join(name);
        std::fs::read(path).expect("fixture should be readable")
    }

    fn index(name: &str) -> Index {
        match parse_document(&fixture(name), None).unwrap() {
            Document::Index(index) => index,
            other => panic!("{name} is not an index: {other:?}"),
        }
    }

    fn manifest(name: &str) -> Manifest {
        match parse_document(&fixture(name), None).unwrap() {
            Document::Manifest(manifest) => manifest,
            other => panic!("{name} is not a manifest: {other:?}"),
        }
    }

    #[test]
    fn attestations_are_left_out_of_an_index() {
        let alpine = index("alpine-3.23.2.image-index-with-attestations.oci.json");
        assert_eq!(alpine.media_type.as_deref(), Some(OCI_INDEX));
        assert_eq!(alpine.manifests.len(), 16);
        let platforms: Vec<String> = alpine
            .images()
            .map(|d| {
                let p = d.platform.as_ref().unwrap();
                format!(
                    "{}/{}",
                    p.os,
                    platform_architecture(&p.architecture, p.variant.as_deref())
                )
            })
            .collect();
        assert_eq!(
            platforms,
            [
                "linux/amd64",
                "linux/arm/v6",
                "linux/arm/v7",
                "linux/arm64",
                "linux/386",
                "linux/ppc64le",
                "linux/riscv64",
                "linux/s390x"
            ]
        );

        let kairos = index("kairos.image-index-single-platform-with-attestation.oci.json");
        let images: Vec<&Descriptor> = kairos.images().collect();
        assert_eq!(images.len(), 1);
        assert!(images[0].digest.ends_with("857f54a"));
        assert!(kairos.manifests[1].is_attestation());
    }

    #[test]
    fn a_docker_manifest_list_is_an_index() {
        let list = index("ubuntu-17.10.manifest-list.docker-v2.json");
        assert_eq!(list.media_type.as_deref(), Some(DOCKER_MANIFEST_LIST));
        assert_eq!(list.images().count(), 6);
        let arm = &list.manifests[1];
        assert_eq!(
            arm.platform.as_ref().unwrap().variant.as_deref(),
            Some("v7")
        );
        assert_eq!(arm.media_type.as_deref(), Some(DOCKER_MANIFEST));
        assert!(!arm.is_index());
    }

    #[test]
    fn manifest_size_is_the_sum_of_compressed_layers() {
        let alpine = manifest("alpine-3.23.2.linux-amd64.image-manifest.oci.json");
        assert_eq!(alpine.compressed_size(), Some(3_860_104));
        assert!(alpine.config.digest.starts_with("sha256:e7b39c54"));
        assert_eq!(alpine.config.size, 611);

        let ubuntu = manifest("ubuntu-17.10.linux-amd64.image-manifest.docker-v2s2.json");
        assert_eq!(ubuntu.media_type.as_deref(), Some(DOCKER_MANIFEST));
        assert_eq!(ubuntu.layers.len(), 5);
        let sum: i64 = ubuntu.layers.iter().map(|l| l.size).sum();
        assert_eq!(ubuntu.compressed_size(), Some(sum));
        assert_eq!(ubuntu.config.size, 3610);
    }

    #[test]
    fn an_attestation_manifest_is_still_a_manifest() {
        let attestation = manifest("alpine-3.23.2.linux-amd64.attestation-manifest.oci.json");
        assert_eq!(attestation.layers.len(), 2);
    }

    #[test]
    fn configs_give_the_flavor() {
        let amd = parse_config(&fixture("alpine-3.23.2.linux-amd64.image-config.oci.json"))
            .unwrap()
            .flavor(Some(3_860_104))
            .unwrap();
        assert_eq!(
            (amd.os_name.as_str(), amd.os_architecture.as_str()),
            ("linux", "amd64")
        );
        assert_eq!(amd.size, Some(3_860_104));
        assert_eq!(
            amd.built_at.unwrap().to_rfc3339(),
            "2025-12-18T00:12:29+00:00"
        );

        let arm = parse_config(&fixture(
            "alpine-3.23.2.linux-arm64-v8.image-config.oci.json",
        ))
        .unwrap();
        assert_eq!(arm.variant.as_deref(), Some("v8"));
        assert_eq!(arm.flavor(None).unwrap().os_architecture, "arm64");

        let httpd = parse_config(&fixture(
            "httpd-2.4.23.linux-amd64.image-config.docker-v2.json",
        ))
        .unwrap()
        .flavor(None)
        .unwrap();
        assert_eq!(httpd.os_architecture, "amd64");
        assert_eq!(
            httpd.built_at.unwrap().to_rfc3339(),
            "2016-09-23T23:20:45+00:00"
        );
    }

    #[test]
    fn other_documents_are_refused() {
        let schema1 = br#"{"schemaVersion": 1, "name": "x", "fsLayers": []}"#;
        assert!(parse_document(schema1, None).is_err());
        let sbom = br#"{"schemaVersion": 2, "mediaType": "application/spdx+json"}"#;
        let err = parse_document(sbom, None).unwrap_err();
        assert!(err.contains("application/spdx+json"), "{err}");
        let config = fixture("httpd-2.4.23.linux-amd64.image-config.docker-v2.json");
        assert!(parse_document(&config, None).is_err());
        let big = vec![b' '; MAX_DOCUMENT_BYTES + 1];
        assert!(parse_document(&big, None)
            .unwrap_err()
            .contains("over the limit"));
        let bad_digest = Descriptor {
            media_type: None,
            digest: "sha256:../../etc/passwd".into(),
            size: 1,
            platform: None,
            annotations: BTreeMap::new(),
        };
        assert!(bad_digest.check("index.json", 10).is_err());
    }
}
