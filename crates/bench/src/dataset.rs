//! The dataset: an imagedex store file in the cache directory, generated once per image count
//! and seed by the deterministic generator (as `imagedex generate` writes it) and reused by
//! every later run.

use anyhow::{bail, Context, Result};
use imagedex_datagen::Generator;
use imagedex_model::ImageRecord;
use imagedex_store::{Org, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The organisation the dataset is generated into.
pub const ORG: &str = "bench";

/// Observations per write transaction, as `imagedex generate` defaults to.
const BATCH_OBSERVATIONS: usize = 5000;

/// A generated dataset in its store.
pub struct Dataset {
    pub path: PathBuf,
    pub images: u64,
    pub seed: u64,
    pub store: Arc<dyn Store>,
    pub org: Org,
}

/// The cache directory: the one given, else `$XDG_CACHE_HOME/imagedex-bench`, else
/// `~/.cache/imagedex-bench`; created when missing, and never inside the repository.
pub fn cache_dir(given: Option<PathBuf>) -> Result<PathBuf> {
    let dir = match given {
        Some(dir) => dir,
        None => match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
            Some(cache) => PathBuf::from(cache).join("imagedex-bench"),
            None => {
                let home = std::env::var_os("HOME")
                    .context("neither XDG_CACHE_HOME nor HOME is set: give --cache-dir")?;
                PathBuf::from(home).join(".cache").join("imagedex-bench")
            }
        },
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating the cache directory {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolving the cache directory {}", dir.display()))?;

    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if let Ok(repository) = repository.canonicalize() {
        if dir.starts_with(&repository) {
            bail!(
                "the cache directory {} is inside the repository {}: give --cache-dir outside it",
                dir.display(),
                repository.display()
            );
        }
    }
    Ok(dir)
}

impl Dataset {
    /// Opens `images-<N>-seed-<S>.db` in the cache directory, generating it when missing.
    pub async fn open_or_generate(dir: &Path, images: u64, seed: u64) -> Result<Dataset> {
        let path = dir.join(format!("images-{images}-seed-{seed}.db"));
        let missing = !path.exists();
        let url = path
            .to_str()
            .with_context(|| format!("the cache path {} is not UTF-8", path.display()))?;
        let store = imagedex_store::open(url)
            .await
            .with_context(|| format!("opening the dataset {}", path.display()))?;
        let org = store
            .ensure_org(ORG)
            .await
            .with_context(|| format!("creating organisation '{ORG}' in {}", path.display()))?;

        let dataset = Dataset {
            path,
            images,
            seed,
            store,
            org,
        };
        if missing {
            dataset.generate().await?;
        }
        Ok(dataset)
    }

    /// Writes the generated observations batch by batch, through the one write path.
    async fn generate(&self) -> Result<()> {
        eprintln!(
            "generating {} images (seed {}) into {}; later runs reuse it",
            self.images,
            self.seed,
            self.path.display()
        );
        let started = Instant::now();
        let mut done = 0u64;
        let mut reported = 0u64;
        for batch in Generator::new(self.images, self.seed).batches(BATCH_OBSERVATIONS) {
            self.store
                .apply_observations(self.org.id, &batch.observations)
                .await
                .with_context(|| {
                    format!(
                        "writing images {} to {} into {}",
                        done + 1,
                        done + batch.images,
                        self.path.display()
                    )
                })?;
            done += batch.images;
            if done * 10 / self.images.max(1) > reported {
                reported = done * 10 / self.images.max(1);
                eprintln!(
                    "  {done} images in {:.0} s",
                    started.elapsed().as_secs_f64()
                );
            }
        }
        Ok(())
    }

    /// Every record of the organisation; fails when the file holds fewer images than asked,
    /// which only an interrupted generation leaves behind.
    pub async fn load_records(&self) -> Result<Vec<ImageRecord>> {
        let (_, records) = self
            .store
            .load_images(self.org.id)
            .await
            .with_context(|| format!("loading the records of {}", self.path.display()))?;
        if records.len() as u64 != self.images {
            bail!(
                "{} holds {} images where {} were generated: an earlier generation was \
                 interrupted; delete the file and run again",
                self.path.display(),
                records.len(),
                self.images
            );
        }
        Ok(records)
    }

    /// The observations the records were merged from.
    pub async fn observations(&self) -> Result<u64> {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&self.path)
            .read_only(true);
        let mut connection = sqlx::ConnectOptions::connect(&options)
            .await
            .with_context(|| format!("opening {} to count observations", self.path.display()))?;
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM observations WHERE org_id = $1")
            .bind(self.org.id.0)
            .fetch_one(&mut connection)
            .await
            .with_context(|| format!("counting observations in {}", self.path.display()))?;
        Ok(count.try_into().unwrap_or_default())
    }
}
