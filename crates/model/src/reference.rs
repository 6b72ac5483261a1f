//! Image references, parsed and normalised with Docker's reference grammar.
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [ domain "/" ] component ( "/" component )*
//! domain     := host [ ":" port ]      first part with "." or ":", or "localhost"
//! component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//! tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//! digest     := algorithm ":" hex      (sha256 with 64 lowercase hex digits)
//! ```
//!
//! A name without a domain belongs to `docker.io`, and a one-component Docker Hub name gets the
//! `library/` prefix, so `alpine:3.10` is `docker.io/library/alpine` with tag `3.10`.

use std::fmt;

/// The registry every name without a domain belongs to.
pub const DEFAULT_REGISTRY: &str = "docker.io";
const MAX_NAME_LEN: usize = 255;

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("image reference is empty")]
    Empty,
    #[error("image reference '{0}' is longer than 255 characters")]
    TooLong(String),
    #[error("image reference '{reference}' has an invalid {part} '{value}'")]
    Invalid {
        reference: String,
        part: &'static str,
        value: String,
    },
}

/// A repository name, normalised: the registry (absent only for names that come from a file
/// name rather than a reference) and the repository path within it.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ImageName {
    pub registry: Option<String>,
    pub repository: String,
}

impl ImageName {
    /// A name known only from an archive's file name: no registry, the stem as repository.
    pub fn local(repository: &str) -> Self {
        ImageName {
            registry: None,
            repository: repository.to_ascii_lowercase(),
        }
    }

    /// The last path component, Datadog's `short_image`.
    pub fn short_image(&self) -> &str {
        self.repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository)
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.registry {
            Some(registry) => write!(f, "{registry}/{}", self.repository),
            None => f.write_str(&self.repository),
        }
    }
}

/// A parsed reference: a normalised name with an optional tag and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    pub name: ImageName,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageReference {
    /// Parses `input` with Docker's grammar and normalises the Docker Hub defaults.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        if input.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let invalid = |part: &'static str, value: &str| ReferenceError::Invalid {
            reference: input.to_string(),
            part,
            value: value.to_string(),
        };

        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => {
                if !is_digest(digest) {
                    return Err(invalid("digest", digest));
                }
                (rest, Some(digest.to_string()))
            }
            None => (input, None),
        };
        // A ':' after the last '/' starts the tag; one before it belongs to a registry port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            if !is_tag(tag) {
                return Err(invalid("tag", tag));
            }
        }
        if name.len() > MAX_NAME_LEN {
            return Err(ReferenceError::TooLong(input.to_string()));
        }

        let (domain, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (Some(first), path)
            }
            _ => (None, name),
        };
        if let Some(domain) = domain {
            if !is_domain(domain) {
                return Err(invalid("registry", domain));
            }
        }
        if path.is_empty() || !path.split('/').all(is_component) {
            return Err(invalid("repository", path));
        }

        let mut registry = domain.map_or(DEFAULT_REGISTRY.to_string(), str::to_ascii_lowercase);
        if registry == "index.docker.io" || registry == "registry-1.docker.io" {
            registry = DEFAULT_REGISTRY.to_string();
        }
        let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        Ok(ImageReference {
            name: ImageName {
                registry: Some(registry),
                repository,
            },
            tag: tag.map(str::to_string),
            digest,
        })
    }
}

/// `sha256:` followed by 64 lowercase hex digits, or another algorithm with at least 32.
pub fn is_digest(s: &str) -> bool {
    let Some((algorithm, hex)) = s.split_once(':') else {
        return false;
    };
    let algorithm_ok = !algorithm.is_empty()
        && algorithm
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
    let hex_ok = hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    match algorithm {
        "sha256" => hex_ok && hex.len() == 64,
        "sha512" => hex_ok && hex.len() == 128,
        _ => algorithm_ok && hex_ok && hex.len() >= 32,
    }
}

/// A Docker tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_tag(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(b))
}

fn is_component(s: &str) -> bool {
    let bytes = s.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    // Separators: one '.', one or two '_', or any run of '-', always between alphanumerics.
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_domain(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || s.starts_with('[') => (host, Some(port)),
        _ => (s, None),
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    if host.starts_with('[') && host.ends_with(']') {
        return host[1..host.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':');
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(input: &str) -> String {
        ImageReference::parse(input)
            .expect("reference should parse")
            .name
            .to_string()
    }

    #[test]
    fn docker_hub_defaults_are_filled_in() {
        assert_eq!(name("alpine"), "docker.io/library/alpine");
        assert_eq!(name("alpine:3.10"), "docker.io/library/alpine");
        assert_eq!(name("bitnami/redis:7"), "docker.io/bitnami/redis");
        assert_eq!(name("docker.io/alpine"), "docker.io/library/alpine");
        assert_eq!(
            name("index.docker.io/library/alpine"),
            "docker.io/library/alpine"
        );
    }

    #[test]
    fn registries_are_recognised_by_dot_colon_or_localhost() {
        let r = ImageReference::parse("ghcr.io/aquasecurity/trivy-test-images:alpine-310").unwrap();
        assert_eq!(r.name.registry.as_deref(), Some("ghcr.io"));
        assert_eq!(r.name.repository, "aquasecurity/trivy-test-images");
        assert_eq!(r.name.short_image(), "trivy-test-images");
        assert_eq!(r.tag.as_deref(), Some("alpine-310"));

        let r = ImageReference::parse("localhost:5000/team/api:v1").unwrap();
        assert_eq!(r.name.to_string(), "localhost:5000/team/api");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(name("localhost/api"), "localhost/api");
    }

    #[test]
    fn digests_are_split_off() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let r = ImageReference::parse(&format!("alpine@{digest}")).unwrap();
        assert_eq!(r.digest.as_deref(), Some(digest.as_str()));
        assert_eq!(r.tag, None);
        let r = ImageReference::parse(&format!("alpine:3@{digest}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("3"));
    }

    #[test]
    fn bad_references_name_the_bad_part() {
        for bad in [
            "",
            "Alpine",
            "alpine:",
            "alpine@sha256:12",
            "a//b",
            "-a",
            "a..b",
            "a:b c",
        ] {
            assert!(
                ImageReference::parse(bad).is_err(),
                "{bad} should be rejected"
            );
        }
        let err = ImageReference::parse("alpine@md5").unwrap_err();
        assert!(err.to_string().contains("digest 'md5'"), "{err}");
    }
}
