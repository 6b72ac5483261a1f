//! `imagedex generate`: a deterministic, realistic dataset written into the store in batches of
//! whole images, for benchmarks and for measuring bulk-import throughput.

use anyhow::{Context, Result};
use clap::Args;
use imagedex_datagen::{Batch, Generator};
use imagedex_store::{ApplyOutcome, Store};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

#[derive(Args)]
pub struct GenerateArgs {
    /// Image records to generate; a multi-arch image is one record of 2 or 3 observations.
    #[arg(long, value_name = "N")]
    pub images: u64,
    /// Organisation, created when missing.
    #[arg(long, default_value = "bench")]
    pub org: String,
    /// The same seed gives the same dataset on every machine.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Observations per write transaction; an image is never split between two.
    #[arg(long, value_name = "B", default_value_t = 5000, value_parser = parse_batch)]
    pub batch: usize,
}

fn parse_batch(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "'{s}' is not a batch size: use a whole number above 0"
        )),
    }
}

pub async fn run(store: Arc<dyn Store>, args: GenerateArgs) -> Result<ExitCode> {
    let org = store
        .ensure_org(&args.org)
        .await
        .with_context(|| format!("creating organisation '{}'", args.org))?;
    let progress = progress_bar(args.images);
    let started = Instant::now();

    // Generation runs on its own thread, one batch ahead, so the timing is the store's.
    let (sender, mut batches) = tokio::sync::mpsc::channel::<Batch>(1);
    let (images, seed, size) = (args.images, args.seed, args.batch);
    let generator = std::thread::spawn(move || {
        for batch in Generator::new(images, seed).batches(size) {
            if sender.blocking_send(batch).is_err() {
                return; // The writer stopped on an error.
            }
        }
    });

    let mut done = 0u64;
    let mut observations = 0u64;
    let mut total = ApplyOutcome::default();
    while let Some(batch) = batches.recv().await {
        let outcome = store
            .apply_observations(org.id, &batch.observations)
            .await
            .with_context(|| {
                format!(
                    "writing images {} to {} of {images} into organisation '{}'",
                    done + 1,
                    done + batch.images,
                    args.org
                )
            })?;
        done += batch.images;
        observations += batch.observations.len() as u64;
        total.images_created += outcome.images_created;
        total.images_updated += outcome.images_updated;
        total.images_removed += outcome.images_removed;
        progress.inc(batch.images);
    }
    generator
        .join()
        .map_err(|_| anyhow::anyhow!("the generator thread panicked"))?;
    progress.finish_and_clear();

    let seconds = started.elapsed().as_secs_f64();
    println!(
        "generated {done} images ({observations} observations, seed {seed}) into organisation \
         '{}' in {seconds:.1} s: {:.0} records/s; images created {}, updated {}, removed {}",
        args.org,
        done as f64 / seconds.max(1e-9),
        total.images_created,
        total.images_updated,
        total.images_removed
    );
    Ok(ExitCode::SUCCESS)
}

/// A bar on stderr when someone is watching; nothing when stderr is a file or a pipe.
fn progress_bar(images: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(images);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {human_pos}/{human_len} images, {per_sec}, eta {eta}",
        )
        .expect("the progress template should be valid")
        .progress_chars("=> "),
    );
    bar
}
