//! A deterministic generator of realistic image data, for benchmarks and bulk-import runs.
//!
//! [`Generator::new`]`(images, seed)` yields the observations of `images` image records, one
//! image at a time, and [`Generator::batches`] groups them into batches of whole images, so a
//! dataset of millions of images never has to be held in memory. The same seed gives the same
//! observations on every machine: every draw comes from a ChaCha8 stream and plain arithmetic
//! (no platform maths functions), and dates lie in the three years before a fixed day
//! (2025-06-01), never relative to the clock.
//!
//! What the data looks like:
//!
//! - About one repository per 20 images. Each gets one image, and the rest are shared out with
//!   Zipf-like popularity (weight `1 / (rank + 2.7)`): a few repositories hold thousands of
//!   digests, most hold a handful. Repositories are generated one after another, in shuffled
//!   order, each from its own stream.
//! - Registries: Docker Hub (with `library/` images), ghcr.io, quay.io, gcr.io, public.ecr.aws,
//!   an internal `registry.internal.example:5000` and three private
//!   `<account>.dkr.ecr.<region>.amazonaws.com` hosts; on public registries, mostly well-known
//!   public repositories, otherwise the organisation's own services.
//! - Images of a repository move forward in time and version: semver tags (`1.4.2`, `v1.4`,
//!   `1`, `-alpine` variants) or commit tags (`sha-1a2b3c4`, a branch now and then); the newest
//!   image is `latest`; a few old digests have no tag at all.
//! - About 15 % of images are multi-arch (2–3 observations with one repo digest: amd64, arm64,
//!   arm/v7); the rest are mostly amd64, and a few repositories are windows/amd64.
//! - OS versions follow the base (Alpine, Debian, Ubuntu, distroless, Windows builds; none for
//!   static images) and get newer over time; sizes are log-normal-ish, 5 MiB – 2 GiB.
//! - Custom tags `team`, `service`, `env` and `cluster` on most images.
//! - About 25 % of images have no scanner data; the others carry vulnerability counts
//!   (`Observation::vulnerability_counts`, not findings, to keep stores small): skewed, with
//!   criticals mostly zero, more for older, neglected and Debian-based images.

mod catalog;
mod dice;
mod image;
mod repository;

use dice::Dice;
use image::RepositoryImages;
use imagedex_model::Observation;
use repository::Namer;

/// The `source` of every generated observation.
pub const SOURCE: &str = "datagen";

/// The images of one dataset, each as the observations of its platforms.
pub struct Generator {
    seed: u64,
    /// Images per repository, in generation order.
    plan: Vec<u64>,
    next_repository: usize,
    current: Option<RepositoryImages>,
    namer: Namer,
    remaining: u64,
}

impl Generator {
    /// A dataset of `images` image records from `seed`.
    pub fn new(images: u64, seed: u64) -> Self {
        // Stream 0 plans the dataset; repository k draws from stream k + 1.
        let mut dice = Dice::new(seed, 0);
        let plan = repository::plan(images, &mut dice);
        let namer = Namer::new(&mut dice);
        Generator {
            seed,
            plan,
            next_repository: 0,
            current: None,
            namer,
            remaining: images,
        }
    }

    /// The number of repositories the dataset spreads its images over.
    pub fn repositories(&self) -> usize {
        self.plan.len()
    }

    /// Groups the images into batches of at most `max_observations` observations; an image is
    /// never split, so a batch holds more only when one image alone does.
    pub fn batches(self, max_observations: usize) -> Batches {
        Batches {
            images: self,
            max_observations,
            pending: None,
        }
    }
}

impl Iterator for Generator {
    /// The observations of one image: one per platform, all with the image's repo digest.
    type Item = Vec<Observation>;

    fn next(&mut self) -> Option<Vec<Observation>> {
        loop {
            if let Some(image) = self.current.as_mut().and_then(|r| r.next_image()) {
                self.remaining -= 1;
                return Some(image);
            }
            let &images = self.plan.get(self.next_repository)?;
            let mut dice = Dice::new(self.seed, self.next_repository as u64 + 1);
            let repository = self.namer.repository(&mut dice);
            self.current = Some(RepositoryImages::new(repository, images, dice));
            self.next_repository += 1;
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (remaining, Some(remaining))
    }
}

/// Whole images, grouped for one `apply_observations` call each.
pub struct Batch {
    /// How many image records the observations make.
    pub images: u64,
    /// The observations of those images, each image's together.
    pub observations: Vec<Observation>,
}

/// The batches of a dataset; see [`Generator::batches`].
pub struct Batches {
    images: Generator,
    max_observations: usize,
    /// An image that did not fit in the previous batch.
    pending: Option<Vec<Observation>>,
}

impl Iterator for Batches {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        let mut batch = Batch {
            images: 0,
            observations: Vec::with_capacity(self.max_observations.min(1 << 16)),
        };
        while let Some(image) = self.pending.take().or_else(|| self.images.next()) {
            let full = batch.observations.len() + image.len() > self.max_observations;
            if full && batch.images > 0 {
                self.pending = Some(image);
                break;
            }
            batch.images += 1;
            batch.observations.extend(image);
        }
        (batch.images > 0).then_some(batch)
    }
}

#[cfg(test)]
mod tests;
