//! The repository names a report gives an image, each with the digest and tags it names, and
//! the name of an image scanned from an archive file.

use imagedex_model::{ImageName, ImageReference};
use std::collections::BTreeMap;

const ARCHIVE_SUFFIXES: [&str; 6] = [".tar.gz", ".tgz", ".tar.zst", ".tar.xz", ".tar.bz2", ".tar"];

/// What a report says about one repository name: the repo digest and the tags.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct NameInfo {
    pub digest: Option<String>,
    pub tags: Vec<String>,
}

/// Every repository name of one report; each becomes one observation.
pub type Names = BTreeMap<ImageName, NameInfo>;

/// Adds one parsed reference; the first digest given for a name stays.
pub fn add(names: &mut Names, reference: ImageReference) {
    let info = names.entry(reference.name).or_default();
    if let Some(digest) = reference.digest {
        info.digest.get_or_insert(digest);
    }
    if let Some(tag) = reference.tag {
        if !info.tags.contains(&tag) {
            info.tags.push(tag);
        }
    }
}

/// The name a scanner's target string gives: the file name without its archive extension
/// when the target is an archive, else the reference it holds.
pub fn of_target(target: &str) -> Result<ImageReference, String> {
    if let Some(stem) = archive_stem(target) {
        let name = ImageName::local(stem);
        if name.repository.is_empty() {
            return Err(format!("'{target}' gives no image name"));
        }
        return Ok(ImageReference {
            name,
            tag: None,
            digest: None,
        });
    }
    ImageReference::parse(target).map_err(|e| e.to_string())
}

/// The file name without its archive extension, when `target` is the path of an archive.
pub fn archive_stem(target: &str) -> Option<&str> {
    let file = target.rsplit(['/', '\\']).next().unwrap_or(target);
    ARCHIVE_SUFFIXES
        .iter()
        .find_map(|suffix| file.strip_suffix(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_lose_their_extension() {
        assert_eq!(
            archive_stem("testdata/fixtures/images/alpine-310.tar.gz"),
            Some("alpine-310")
        );
        assert_eq!(archive_stem("img.tar"), Some("img"));
        assert_eq!(archive_stem("alpine:3.10"), None);
    }

    #[test]
    fn a_name_keeps_its_first_digest_and_every_tag_once() {
        let mut names = Names::new();
        for entry in [
            "alpine:3.10",
            "alpine@sha256:1111111111111111111111111111111111111111111111111111111111111111",
            "docker.io/library/alpine:3.10@sha256:2222222222222222222222222222222222222222222222222222222222222222",
            "alpine:latest",
        ] {
            add(&mut names, ImageReference::parse(entry).unwrap());
        }
        assert_eq!(names.len(), 1);
        let info = names.values().next().unwrap();
        assert!(info.digest.as_deref().unwrap().ends_with("1111"));
        assert_eq!(info.tags, ["3.10", "latest"]);
    }

    #[test]
    fn targets_are_archives_or_references() {
        let archive = of_target("images/fluentd.tar.gz").unwrap();
        assert_eq!(archive.name, ImageName::local("fluentd"));
        assert!(of_target("images/.tar")
            .unwrap_err()
            .contains("gives no image name"));
        assert!(of_target("Not A Reference").is_err());
    }
}
