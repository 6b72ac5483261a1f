//! The Datadog Agent's container-image intake (`POST /api/v2/contimage`): the body as the
//! agent sends it (one `ContainerImagePayload`, compressed as a whole), decompressed under a
//! cap, decoded, and turned into observations of the source `agent`.
//!
//! Mapping of one `ContainerImage` (see docs/COMPATIBILITY.md for the reasons):
//!
//! - `name` (else the repository part of `id`) is normalised with Docker's rules; a name that
//!   does not parse makes the image skipped;
//! - each entry of `repo_digests` naming that repository gives one observation keyed by its
//!   digest, with `digest` (the image id) as the alias; with no repo digest, one observation
//!   keyed by the image id; with neither, the image is skipped, not the payload;
//! - `repo_tags` are the image tags (invalid ones dropped);
//! - `os` gives the one flavor (name, architecture, version) with `size` and `builtAt`; the
//!   agent sends no variant;
//! - `dd_tags` are custom tags, except malformed ones and the keys a record derives itself
//!   (`image_name`, `image_tag`, `image_id`, …), which the agent spells unnormalised;
//! - `publishedAt` when present (the agent never sets it). The payload carries no
//!   vulnerabilities: those come from scanners.

pub mod proto;

use chrono::{DateTime, Utc};
use imagedex_model::platform_architecture;
use imagedex_model::reference::{is_digest, is_tag};
use imagedex_model::{Flavor, ImageReference, Observation, Tag};
use prost::Message;
use proto::{ContainerImage, ContainerImagePayload, Timestamp};
use std::borrow::Cow;
use std::io::Read;

/// The source of every observation from the agent.
pub const SOURCE: &str = "agent";
/// Why an intake body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    #[error("unsupported Content-Encoding '{0}' (expected zstd, gzip, deflate, identity or none)")]
    UnsupportedEncoding(String),
    #[error("the body is not valid {encoding}: {reason}")]
    Corrupt {
        encoding: &'static str,
        reason: String,
    },
    #[error("the decompressed body is over the limit of {0} bytes")]
    TooLarge(usize),
    #[error("not a ContainerImagePayload protobuf: {0}")]
    Malformed(String),
    #[error(
        "a JSON body is only accepted as the agent's connectivity probe '{{}}'; payloads are \
         protobuf ContainerImagePayload"
    )]
    NotAProbe,
}

/// How the body is compressed, from `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    /// HTTP's `deflate`: a zlib stream.
    Deflate,
    Zstd,
}

impl Encoding {
    /// Reads a `Content-Encoding` value; absent and empty mean identity.
    pub fn from_header(value: Option<&str>) -> Result<Encoding, AgentError> {
        let value = value.unwrap_or("").trim().to_ascii_lowercase();
        match value.as_str() {
            "" | "identity" => Ok(Encoding::Identity),
            "gzip" | "x-gzip" => Ok(Encoding::Gzip),
            "deflate" => Ok(Encoding::Deflate),
            "zstd" => Ok(Encoding::Zstd),
            _ => Err(AgentError::UnsupportedEncoding(value)),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate (zlib)",
            Encoding::Zstd => "zstd",
        }
    }
}

/// Decompresses `body`, refusing it as soon as the output would pass `limit` bytes, so a small
/// bomb never grows to its full size in memory.
pub fn decompress(
    encoding: Encoding,
    body: &[u8],
    limit: usize,
) -> Result<Cow<'_, [u8]>, AgentError> {
    let read = match encoding {
        Encoding::Identity if body.len() > limit => return Err(AgentError::TooLarge(limit)),
        Encoding::Identity => return Ok(Cow::Borrowed(body)),
        Encoding::Gzip => read_capped(flate2::read::MultiGzDecoder::new(body), limit),
        Encoding::Deflate => read_capped(flate2::read::ZlibDecoder::new(body), limit),
        Encoding::Zstd => {
            // A frame that declares its size is refused before any decoding.
            if let Ok(Some(size)) = zstd::zstd_safe::get_frame_content_size(body) {
                if size > limit as u64 {
                    return Err(AgentError::TooLarge(limit));
                }
            }
            let mut decoder =
                zstd::stream::read::Decoder::with_buffer(body).map_err(|e| corrupt(encoding, e))?;
            // A window larger than the cap helps no body within it, so this bounds the
            // decoder's own buffer whatever a hostile frame asks for; 2^23 is the window of
            // every level up to 19, so a small cap still reads what any encoder writes.
            let window_log = limit
                .checked_next_power_of_two()
                .map_or(27, |p| p.trailing_zeros().clamp(23, 27));
            decoder
                .window_log_max(window_log)
                .map_err(|e| corrupt(encoding, e))?;
            read_capped(decoder, limit)
        }
    };
    match read {
        Ok(bytes) => Ok(Cow::Owned(bytes)),
        Err(ReadError::TooLarge) => Err(AgentError::TooLarge(limit)),
        Err(ReadError::Io(e)) => Err(corrupt(encoding, e)),
    }
}

fn corrupt(encoding: Encoding, e: std::io::Error) -> AgentError {
    AgentError::Corrupt {
        encoding: encoding.name(),
        reason: e.to_string(),
    }
}

enum ReadError {
    TooLarge,
    Io(std::io::Error),
}

fn read_capped(reader: impl Read, limit: usize) -> Result<Vec<u8>, ReadError> {
    let mut out = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(ReadError::Io)?;
    if out.len() > limit {
        return Err(ReadError::TooLarge);
    }
    Ok(out)
}

/// What one intake request carried.
#[derive(Debug)]
pub enum Intake {
    /// The agent's connectivity check (`agent diagnose`): a JSON `{}`, to be answered and
    /// otherwise ignored.
    Probe,
    Payload(AgentPayload),
}

/// The observations of one payload, with counts for the log.
#[derive(Debug, Default)]
pub struct AgentPayload {
    pub observations: Vec<Observation>,
    /// `ContainerImage` messages in the payload.
    pub images: usize,
    /// Of those, the ones without a usable name or identity.
    pub images_skipped: usize,
    /// `dd_tags` entries dropped: malformed, or with a key the record derives itself.
    pub tags_dropped: usize,
}

/// Reads one intake body: decompressed per `Content-Encoding` (at most `limit` bytes), then
/// the JSON probe when `Content-Type` says JSON, else one protobuf `ContainerImagePayload`.
pub fn parse_intake(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
    limit: usize,
) -> Result<Intake, AgentError> {
    let encoding = Encoding::from_header(content_encoding)?;
    let body = decompress(encoding, body, limit)?;

    let is_json = content_type.is_some_and(|t| {
        let essence = t.split(';').next().unwrap_or("").trim();
        essence.eq_ignore_ascii_case("application/json")
    });
    if is_json {
        return match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(serde_json::Value::Object(map)) if map.is_empty() => Ok(Intake::Probe),
            _ => Err(AgentError::NotAProbe),
        };
    }

    let payload = ContainerImagePayload::decode(body.as_ref())
        .map_err(|e| AgentError::Malformed(e.to_string()))?;
    Ok(Intake::Payload(observations(&payload)))
}

/// The observations a decoded payload gives; images without identity are skipped and counted.
pub fn observations(payload: &ContainerImagePayload) -> AgentPayload {
    let mut out = AgentPayload {
        images: payload.images.len(),
        ..AgentPayload::default()
    };
    for image in &payload.images {
        if !image_observations(image, &mut out) {
            out.images_skipped += 1;
        }
    }
    out
}

/// Adds the observations of one image; false when it has no usable name or identity.
fn image_observations(image: &ContainerImage, out: &mut AgentPayload) -> bool {
    let raw_name = match image.name.trim() {
        "" => image.id.split('@').next().unwrap_or("").trim(),
        name => name,
    };
    let Ok(reference) = ImageReference::parse(raw_name) else {
        return false;
    };
    let name = reference.name;

    let image_id = [
        image.digest.trim(),
        image.id.rsplit('@').next().unwrap_or(""),
    ]
    .into_iter()
    .find(|d| is_digest(d))
    .map(str::to_string);
    let mut repo_digests: Vec<String> = image
        .repo_digests
        .iter()
        .filter_map(|entry| {
            let entry = entry.trim();
            if is_digest(entry) {
                return Some(entry.to_string());
            }
            // Digests under another repository belong to that repository's own message.
            let parsed = ImageReference::parse(entry).ok()?;
            parsed
                .digest
                .filter(|d| parsed.name == name && is_digest(d))
        })
        .collect();
    repo_digests.sort();
    repo_digests.dedup();
    if repo_digests.is_empty() && image_id.is_none() {
        return false;
    }

    let mut image_tags: Vec<String> = image
        .repo_tags
        .iter()
        .map(|t| t.trim().to_string())
        .filter(|t| is_tag(t))
        .collect();
    image_tags.sort();
    image_tags.dedup();

    let mut custom_tags = Vec::new();
    for raw in &image.dd_tags {
        match Tag::parse(raw) {
            Ok(tag) => custom_tags.push(tag),
            // Malformed tags, and the agent's spelling of tags the record derives itself.
            Err(_) => out.tags_dropped += 1,
        }
    }
    custom_tags.sort();
    custom_tags.dedup();

    let flavor = image.os.as_ref().and_then(|os| {
        let (os_name, arch) = (os.name.trim(), os.architecture.trim());
        if os_name.is_empty() || arch.is_empty() {
            return None;
        }
        Some(Flavor {
            os_name: os_name.to_lowercase(),
            os_architecture: platform_architecture(arch, None),
            os_version: Some(os.version.trim().to_string()).filter(|v| !v.is_empty()),
            size: (image.size > 0).then_some(image.size),
            built_at: image.built_at.and_then(time),
        })
    });

    let observation = |repo_digest: Option<String>| Observation {
        source: SOURCE.to_string(),
        name: name.clone(),
        repo_digest,
        image_id: image_id.clone(),
        image_tags: image_tags.clone(),
        flavor: flavor.clone(),
        findings: None,
        vulnerability_counts: None,
        custom_tags: custom_tags.clone(),
        published_at: image.published_at.and_then(time),
    };
    if repo_digests.is_empty() {
        out.observations.push(observation(None));
    } else {
        out.observations
            .extend(repo_digests.into_iter().map(|d| observation(Some(d))));
    }
    true
}

/// A protobuf time, to the second; unset (zero) and pre-1970 times mean unknown.
fn time(t: Timestamp) -> Option<DateTime<Utc>> {
    if t.seconds <= 0 {
        return None;
    }
    DateTime::from_timestamp(t.seconds, 0)
}

#[cfg(test)]
mod tests {
    use super::proto::OperatingSystem;
    use super::*;
    use std::io::Write;

    const INDEX: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const ID: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    fn image() -> ContainerImage {
        ContainerImage {
            id: format!("redis@{ID}"),
            name: "redis".into(),
            repo_tags: vec!["7.4".into(), "-bad".into(), "7.4".into()],
            digest: ID.into(),
            size: 42,
            repo_digests: vec![
                format!("redis@{INDEX}"),
                format!("quay.io/redis@{ID}"),
                "redis@garbage".into(),
            ],
            os: Some(OperatingSystem {
                name: "Linux".into(),
                version: " ".into(),
                architecture: "ARM64".into(),
            }),
            built_at: Some(Timestamp {
                seconds: 1_700_000_000,
                nanos: 999,
            }),
            dd_tags: vec![
                "env:prod".into(),
                "image_tag:7.4".into(),
                "size:12".into(),
                "junk".into(),
            ],
            ..ContainerImage::default()
        }
    }

    fn map(images: Vec<ContainerImage>) -> AgentPayload {
        observations(&ContainerImagePayload {
            images,
            ..ContainerImagePayload::default()
        })
    }

    #[test]
    fn an_image_becomes_one_observation_per_repo_digest_of_its_repository() {
        let mapped = map(vec![image()]);
        assert_eq!((mapped.images, mapped.images_skipped), (1, 0));
        assert_eq!(mapped.tags_dropped, 3);
        let [obs] = mapped.observations.as_slice() else {
            panic!("one observation expected: {:?}", mapped.observations)
        };
        assert_eq!(obs.source, "agent");
        assert_eq!(obs.name.to_string(), "docker.io/library/redis");
        assert_eq!(obs.repo_digest.as_deref(), Some(INDEX));
        assert_eq!(obs.image_id.as_deref(), Some(ID));
        assert_eq!(obs.image_tags, ["7.4"]);
        let flavor = obs.flavor.as_ref().expect("a flavor");
        assert_eq!(
            (flavor.os_name.as_str(), flavor.os_architecture.as_str()),
            ("linux", "arm64")
        );
        assert_eq!(
            (flavor.os_version.as_deref(), flavor.size),
            (None, Some(42))
        );
        assert_eq!(flavor.built_at.map(|t| t.timestamp()), Some(1_700_000_000));
        let tags: Vec<String> = obs.custom_tags.iter().map(|t| t.to_string()).collect();
        assert_eq!(tags, ["env:prod"]);
    }

    #[test]
    fn without_repo_digest_the_image_id_is_the_identity() {
        let mut bare = image();
        bare.repo_digests.clear();
        bare.os = None;
        let mapped = map(vec![bare]);
        let obs = &mapped.observations[0];
        assert_eq!(
            (obs.repo_digest.as_deref(), obs.image_id.as_deref()),
            (None, Some(ID))
        );
        assert_eq!(obs.flavor, None);

        let mut nothing = image();
        nothing.repo_digests.clear();
        nothing.digest.clear();
        nothing.id = "redis".into();
        let mapped = map(vec![nothing]);
        assert_eq!((mapped.images_skipped, mapped.observations.len()), (1, 0));
    }

    #[test]
    fn encodings_are_read_from_the_header() {
        for (value, expected) in [
            (None, Encoding::Identity),
            (Some(""), Encoding::Identity),
            (Some("identity"), Encoding::Identity),
            (Some("Gzip"), Encoding::Gzip),
            (Some("deflate"), Encoding::Deflate),
            (Some("zstd"), Encoding::Zstd),
        ] {
            assert_eq!(Encoding::from_header(value), Ok(expected), "{value:?}");
        }
        assert!(matches!(
            Encoding::from_header(Some("br")),
            Err(AgentError::UnsupportedEncoding(v)) if v == "br"
        ));
    }

    #[test]
    fn decompression_stops_at_the_limit() {
        let data = vec![7u8; 5000];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&data[..], 1).unwrap();

        for (encoding, body) in [
            (Encoding::Gzip, &gz),
            (Encoding::Zstd, &zst),
            (Encoding::Identity, &data),
        ] {
            assert_eq!(
                decompress(encoding, body, 5000).unwrap().as_ref(),
                &data[..]
            );
            assert_eq!(
                decompress(encoding, body, 4999),
                Err(AgentError::TooLarge(4999)),
                "{encoding:?}"
            );
        }
        assert!(matches!(
            decompress(Encoding::Deflate, &gz, 5000),
            Err(AgentError::Corrupt { .. })
        ));
    }

    #[test]
    fn json_is_only_the_probe() {
        let json = Some("application/json; charset=utf-8");
        assert!(matches!(
            parse_intake(json, None, b" {} ", 100),
            Ok(Intake::Probe)
        ));
        assert_eq!(
            parse_intake(json, None, b"[]", 100).unwrap_err(),
            AgentError::NotAProbe
        );
        assert!(matches!(
            parse_intake(None, None, b"\x1a\x05", 100),
            Err(AgentError::Malformed(_))
        ));
    }
}
