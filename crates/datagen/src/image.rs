//! The images of one repository, oldest first: versions and tags that move forward, build
//! dates along the repository's life, platforms, sizes, OS versions, custom tags and
//! vulnerability counts.

use crate::catalog::{Base, BRANCHES, ENVIRONMENTS};
use crate::dice::Dice;
use crate::repository::{Repository, TagStyle};
use crate::SOURCE;
use chrono::{DateTime, Utc};
use imagedex_model::{Flavor, Observation, Tag, VulnerabilityCounts};

/// The end of every dataset's time line (2025-06-01T00:00:00Z): dates never depend on the clock.
pub(crate) const END: i64 = 1_748_736_000;
/// Three years (1096 days) before [`END`]: the earliest a repository starts.
pub(crate) const SPAN: i64 = 1096 * 86_400;

/// Share of (non-Windows) images built for several platforms.
const MULTI_ARCH: f64 = 0.15;
/// Share of images no scanner has looked at.
const UNSCANNED: f64 = 0.25;
const MIN_SIZE: i64 = 5 * 1024 * 1024;
const MAX_SIZE: i64 = 2 * 1024 * 1024 * 1024;

/// A repository being generated: its profile, its stream and how far it has got.
pub(crate) struct RepositoryImages {
    repository: Repository,
    dice: Dice,
    images: u64,
    next: u64,
    start: i64,
    version: (u64, u64, u64),
}

impl RepositoryImages {
    pub fn new(repository: Repository, images: u64, mut dice: Dice) -> Self {
        // Popular repositories tend to be old ones; every repository lives until the end.
        let life = (0.2 + 0.8 * dice.unit()).max((images as f64 / 200.0).min(1.0));
        let start = END - (SPAN as f64 * life) as i64;
        let version = (
            *dice.weighted(&[(0, 2), (1, 5), (2, 3), (3, 2), (5, 1), (12, 1)]),
            dice.below(10),
            dice.below(5),
        );
        RepositoryImages {
            repository,
            dice,
            images,
            next: 0,
            start,
            version,
        }
    }

    /// The observations of the next image, one per platform; `None` when all are made.
    pub fn next_image(&mut self) -> Option<Vec<Observation>> {
        if self.next == self.images {
            return None;
        }
        let index = self.next;
        self.next += 1;
        let last = self.next == self.images;
        let repo = &self.repository;
        let dice = &mut self.dice;

        // Evenly along the repository's life, with jitter, so later images are newer.
        let position = (index as f64 + dice.unit()) / self.images as f64;
        let built = self.start + ((END - self.start) as f64 * position) as i64;
        let age = (END - built) as f64 / SPAN as f64;

        if index > 0 {
            self.version = bump(self.version, dice);
        }
        let alpine = repo.alpine_variants && !last && dice.chance(0.3);
        let base = if alpine { Base::Alpine } else { repo.base };

        let image_tags = image_tags(repo.style, self.version, alpine, last, dice);
        let custom_tags = custom_tags(repo, dice);
        // Only a registry knows when an image was pushed, and only some report it.
        let published_at = dice
            .chance(0.4)
            .then(|| time(built + dice.between(120, 86_400) as i64));

        let scanned = !dice.chance(UNSCANNED);
        let counts = scanned.then(|| vulnerability_counts(base, age, repo.neglect, dice));
        let repo_digest = dice.digest();
        let image_log2_size =
            repo.log2_size + 0.15 * dice.normalish() - if alpine { 2.0 } else { 0.0 };
        let os_version = os_version(base, repo.windows_build, 1.0 - age, dice);

        let platforms = platforms(base, dice);
        let observations = platforms
            .iter()
            .enumerate()
            .map(|(i, (os, architecture))| {
                let arm32 = *architecture == "arm/v7";
                Observation {
                    source: SOURCE.to_string(),
                    name: repo.name.clone(),
                    repo_digest: Some(repo_digest.clone()),
                    image_id: Some(dice.digest()),
                    image_tags: image_tags.clone(),
                    flavor: Some(Flavor {
                        os_name: os.to_string(),
                        os_architecture: architecture.to_string(),
                        os_version: os_version.clone(),
                        size: Some(size(image_log2_size - if arm32 { 0.2 } else { 0.0 }, dice)),
                        built_at: Some(time(built + 37 * i as i64)),
                    }),
                    findings: None,
                    custom_tags: custom_tags.clone(),
                    published_at,
                    vulnerability_counts: counts.map(|c| {
                        if i == 0 {
                            c
                        } else {
                            platform_counts(c, dice)
                        }
                    }),
                }
            })
            .collect();
        Some(observations)
    }
}

fn time(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).expect("generated times should be in range")
}

/// The next release: mostly a patch, sometimes a minor, rarely a major version.
fn bump((major, minor, patch): (u64, u64, u64), dice: &mut Dice) -> (u64, u64, u64) {
    let roll = dice.unit();
    if roll < 0.03 {
        (major + 1, 0, 0)
    } else if roll < 0.2 {
        (major, minor + 1, 0)
    } else {
        (major, minor, patch + 1)
    }
}

fn image_tags(
    style: TagStyle,
    (major, minor, patch): (u64, u64, u64),
    alpine: bool,
    last: bool,
    dice: &mut Dice,
) -> Vec<String> {
    let suffix = if alpine { "-alpine" } else { "" };
    let mut tags = Vec::new();
    match style {
        TagStyle::Semver { v_prefix } => {
            let v = if v_prefix { "v" } else { "" };
            tags.push(format!("{v}{major}.{minor}.{patch}{suffix}"));
            if dice.chance(0.5) {
                tags.push(format!("{v}{major}.{minor}{suffix}"));
            }
            if dice.chance(0.2) {
                tags.push(format!("{v}{major}{suffix}"));
            }
        }
        TagStyle::Commit => {
            tags.push(format!("sha-{}", dice.hex(7)));
            if dice.chance(0.15) {
                tags.push(dice.pick(&BRANCHES).to_string());
            }
            if dice.chance(0.1) {
                tags.push(format!("v{major}.{minor}.{patch}"));
            }
        }
    }
    if last {
        tags.push("latest".to_string());
    } else if alpine && dice.chance(0.1) {
        tags.push("alpine".to_string());
    } else if dice.chance(0.04) {
        // A digest nobody points a tag at any more.
        tags.clear();
    }
    tags
}

/// `team` and `service` for owned repositories; `env` and usually `cluster` for most images.
fn custom_tags(repo: &Repository, dice: &mut Dice) -> Vec<Tag> {
    let mut tags = Vec::new();
    if let Some(team) = repo.team {
        tags.push(Tag::new("team", team));
        tags.push(Tag::new("service", &repo.service));
    }
    if repo.team.is_some() || dice.chance(0.3) {
        let &(env, clusters) = dice.weighted(&ENVIRONMENTS);
        tags.push(Tag::new("env", env));
        if dice.chance(0.7) {
            let cluster = *dice.pick::<&str>(clusters);
            tags.push(Tag::new("cluster", cluster));
        }
    }
    tags
}

/// (os, architecture) of each platform image, the first one amd64 unless it is alone.
fn platforms(base: Base, dice: &mut Dice) -> Vec<(&'static str, &'static str)> {
    if base == Base::Windows {
        return vec![("windows", "amd64")];
    }
    if dice.chance(MULTI_ARCH) {
        let mut platforms = vec![("linux", "amd64"), ("linux", "arm64")];
        if dice.chance(0.25) {
            platforms.push(("linux", "arm/v7"));
        }
        return platforms;
    }
    let architecture = *dice.weighted(&[("amd64", 92), ("arm64", 7), ("arm/v7", 1)]);
    vec![("linux", architecture)]
}

/// The OS version at `progress` (0 = three years ago, 1 = the end), sometimes lagging behind.
fn os_version(base: Base, windows_build: u32, progress: f64, dice: &mut Dice) -> Option<String> {
    if base == Base::Windows {
        let first_patch = if windows_build == 17763 {
            3000.0
        } else {
            1500.0
        };
        let patch = first_patch + 1800.0 * progress + dice.below(40) as f64;
        return Some(format!("10.0.{windows_build}.{}", patch as u64));
    }
    let versions = base.os_versions();
    if versions.is_empty() {
        return None;
    }
    let newest = ((versions.len() as f64 * progress) as usize).min(versions.len() - 1);
    let lag = if dice.chance(0.3) { 1 } else { 0 };
    Some(versions[newest.saturating_sub(lag)].to_string())
}

/// Bytes for a base-2 logarithm, `2^e * (1 + f)` (linear between powers of two), clamped to
/// 5 MiB – 2 GiB, with a little jitter so sizes are not round.
fn size(log2: f64, dice: &mut Dice) -> i64 {
    let log2 = log2.clamp(22.0, 31.0);
    let exponent = log2 as i64;
    let fraction = log2 - exponent as f64;
    let bytes = (1i64 << exponent) as f64 * (1.0 + fraction) + dice.below(1 << 16) as f64;
    (bytes as i64).clamp(MIN_SIZE, MAX_SIZE)
}

/// Counts of one scan: older and neglected images carry more; criticals are often zero.
fn vulnerability_counts(
    base: Base,
    age: f64,
    neglect: f64,
    dice: &mut Dice,
) -> VulnerabilityCounts {
    let factor = (1.0 + 2.0 * age) * neglect;
    let [critical, high, medium, low, unknown] = base.exposure().0;
    let mut draw = |expected: f64| (expected * factor * dice.skewed()) as i64;
    let critical = draw(critical);
    let (high, medium, low, unknown) = (draw(high), draw(medium), draw(low), draw(unknown));
    VulnerabilityCounts {
        critical: if dice.chance(0.45) { 0 } else { critical },
        high,
        medium,
        low,
        none: if dice.chance(0.03) {
            dice.between(1, 3) as i64
        } else {
            0
        },
        unknown,
    }
}

/// Another platform of the same image: the same packages, a few of them missing.
fn platform_counts(counts: VulnerabilityCounts, dice: &mut Dice) -> VulnerabilityCounts {
    let mut fewer = |n: i64| n - dice.below(n as u64 / 8 + 1) as i64;
    VulnerabilityCounts {
        critical: fewer(counts.critical),
        high: fewer(counts.high),
        medium: fewer(counts.medium),
        low: fewer(counts.low),
        none: fewer(counts.none),
        unknown: fewer(counts.unknown),
    }
}
