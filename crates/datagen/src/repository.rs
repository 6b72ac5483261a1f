//! Repositories: how many there are, how many images each gets (Zipf-like), and what each one
//! is (registry, name, base, tag style, owner).

use crate::catalog::{
    own_namespace, Base, Registry, AWS_REGIONS, DOMAINS, OWN_BASES, PUBLIC_REPOSITORIES,
    REGISTRIES, ROLES, TEAMS,
};
use crate::dice::Dice;
use imagedex_model::ImageName;
use std::collections::HashSet;

/// Images per repository, on average; the Zipf tail makes most repositories much smaller.
const IMAGES_PER_REPOSITORY: u64 = 20;
/// Zipf–Mandelbrot offset: weight `1 / (rank + OFFSET)`. It keeps the head from swallowing the
/// dataset (the top repository holds 2–15 % of the images, depending on the size).
const ZIPF_OFFSET: f64 = 2.7;

/// How many images each repository gets, in the order the repositories are generated.
///
/// Every repository gets one image; the rest are shared out by Zipf weights over popularity
/// ranks (largest remainders to the top ranks), and the ranks are then shuffled, so big and
/// small repositories alternate through the dataset.
pub(crate) fn plan(images: u64, dice: &mut Dice) -> Vec<u64> {
    if images == 0 {
        return Vec::new();
    }
    let repositories = (images / IMAGES_PER_REPOSITORY).max(images.min(8));
    let rest = images - repositories;
    let weights: Vec<f64> = (1..=repositories)
        .map(|rank| 1.0 / (rank as f64 + ZIPF_OFFSET))
        .collect();
    let total: f64 = weights.iter().sum();

    let mut counts: Vec<u64> = weights
        .iter()
        .map(|w| 1 + (rest as f64 * w / total) as u64)
        .collect();
    let given: u64 = counts.iter().sum();
    // The floors leave fewer than `repositories` images over; the top ranks take them.
    for count in counts.iter_mut().take((images - given) as usize) {
        *count += 1;
    }

    for i in (1..counts.len()).rev() {
        let j = dice.below(i as u64 + 1) as usize;
        counts.swap(i, j);
    }
    counts
}

/// How an image's tags are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagStyle {
    /// Releases: `1.4.2` (or `v1.4.2`), sometimes `1.4` and `1`.
    Semver { v_prefix: bool },
    /// Continuous delivery: `sha-<commit>`, sometimes a branch or a release tag.
    Commit,
}

/// One repository and what all its images share.
pub(crate) struct Repository {
    pub name: ImageName,
    pub base: Base,
    pub alpine_variants: bool,
    pub style: TagStyle,
    /// Owner, for the `team` and `service` custom tags; public images are often unowned.
    pub team: Option<&'static str>,
    pub service: String,
    /// Base-2 logarithm of the typical size of its images in bytes.
    pub log2_size: f64,
    /// Multiplies the vulnerability counts: well-kept repositories are below 1.
    pub neglect: f64,
    /// For Windows images: the Windows Server build (17763 or 20348).
    pub windows_build: u32,
}

/// Draws repository names so that no two repositories of a dataset share one.
pub(crate) struct Namer {
    taken: HashSet<String>,
    ecr_hosts: Vec<String>,
    public_ecr_alias: String,
}

impl Namer {
    /// The dataset-wide names (private ECR hosts, public ECR alias) come from `dice`.
    pub fn new(dice: &mut Dice) -> Self {
        let ecr_hosts = (0..3)
            .map(|_| {
                let account = dice.between(100_000_000_000, 999_999_999_999);
                format!(
                    "{account}.dkr.ecr.{}.amazonaws.com",
                    dice.pick(&AWS_REGIONS)
                )
            })
            .collect();
        Namer {
            taken: HashSet::new(),
            ecr_hosts,
            public_ecr_alias: format!("a{}", dice.hex(7)),
        }
    }

    /// A new repository, its profile drawn from `dice`.
    pub fn repository(&mut self, dice: &mut Dice) -> Repository {
        let registry = *dice.weighted(&REGISTRIES);
        if dice.chance(registry.public_share()) {
            if let Some(repository) = self.public(registry, dice) {
                return repository;
            }
        }
        self.own(registry, dice)
    }

    /// A well-known public repository of `registry` not used yet, if one is left after a few
    /// tries.
    fn public(&mut self, registry: Registry, dice: &mut Dice) -> Option<Repository> {
        let host = registry.public_host()?;
        let candidates: Vec<_> = PUBLIC_REPOSITORIES
            .iter()
            .filter(|(r, ..)| *r == registry)
            .collect();
        for _ in 0..4 {
            let &&(_, path, base, alpine_variants) = dice.pick(&candidates);
            let name = ImageName {
                registry: Some(host.to_string()),
                repository: path.to_string(),
            };
            if !self.taken.insert(name.to_string()) {
                continue;
            }
            let team = dice.chance(0.5).then(|| *dice.pick(&TEAMS));
            let service = name.short_image().to_string();
            return Some(Repository {
                base,
                alpine_variants,
                style: TagStyle::Semver {
                    v_prefix: dice.chance(0.2),
                },
                team,
                service,
                log2_size: log2_size(base, dice),
                neglect: neglect(dice),
                windows_build: 0,
                name,
            });
        }
        None
    }

    /// One of the organisation's own repositories on `registry`.
    fn own(&mut self, registry: Registry, dice: &mut Dice) -> Repository {
        let team = *dice.pick(&TEAMS);
        let host = match registry.public_host() {
            Some(host) => host.to_string(),
            None => dice.pick(&self.ecr_hosts).clone(),
        };
        let mut service = format!("{}-{}", dice.pick(&DOMAINS), dice.pick(&ROLES));
        let path = |service: &str| match (registry, own_namespace(registry)) {
            (_, Some(namespace)) => format!("{namespace}/{service}"),
            (Registry::PublicEcr, None) => format!("{}/{service}", self.public_ecr_alias),
            _ => format!("{team}/{service}"),
        };
        let mut name = ImageName {
            registry: Some(host),
            repository: path(&service),
        };
        // The word lists give a few tens of thousands of names; later ones get a number.
        let stem = service.clone();
        let mut n = 2;
        while self.taken.contains(&name.to_string()) {
            service = format!("{stem}-{n}");
            name.repository = path(&service);
            n += 1;
        }
        self.taken.insert(name.to_string());

        let windows = registry != Registry::DockerHub && dice.chance(0.03);
        let base = if windows {
            Base::Windows
        } else {
            *dice.weighted(&OWN_BASES)
        };
        let style = if dice.chance(0.45) {
            TagStyle::Commit
        } else {
            TagStyle::Semver {
                v_prefix: dice.chance(0.5),
            }
        };
        Repository {
            base,
            alpine_variants: false,
            style,
            team: Some(team),
            service,
            log2_size: log2_size(base, dice),
            neglect: neglect(dice),
            windows_build: if dice.chance(0.5) { 17763 } else { 20348 },
            name,
        }
    }
}

fn log2_size(base: Base, dice: &mut Dice) -> f64 {
    let (mean, spread) = base.log2_size();
    mean + spread * dice.normalish()
}

/// Between 0.25 and 1.75, mostly low: most repositories are rebuilt now and then.
fn neglect(dice: &mut Dice) -> f64 {
    let u = dice.unit();
    0.25 + 1.5 * u * u
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_gives_every_image_to_one_repository_with_a_zipf_like_head() {
        for images in [0, 1, 7, 300, 10_000, 1_000_000] {
            let counts = plan(images, &mut Dice::new(1, 0));
            assert_eq!(counts.iter().sum::<u64>(), images, "{images}");
            assert!(counts.iter().all(|&c| c >= 1));
        }
        let mut counts = plan(1_000_000, &mut Dice::new(1, 0));
        counts.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(counts.len(), 50_000);
        assert!(counts[0] > 10_000, "a head repository: {}", counts[0]);
        assert!(counts[0] > 2 * counts[9], "a head: {:?}", &counts[..10]);
        assert!(
            counts[counts.len() / 2] <= 10,
            "a long tail of small repositories"
        );
    }

    #[test]
    fn names_are_unique_and_valid_references() {
        let mut dice = Dice::new(5, 1);
        let mut namer = Namer::new(&mut dice);
        let mut seen = HashSet::new();
        for _ in 0..5_000 {
            let repository = namer.repository(&mut dice);
            let text = repository.name.to_string();
            let parsed = imagedex_model::ImageReference::parse(&text).expect("a valid name");
            assert_eq!(parsed.name, repository.name);
            assert!(seen.insert(text));
        }
    }
}
