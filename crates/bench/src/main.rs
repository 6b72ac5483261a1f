//! `imagedex-bench`: measures imagedex's query mix through the engine alone and over HTTP, side
//! by side with the same queries in PostgreSQL and SQLite over the same data, and prints one
//! table. Run by hand (docs/BENCHMARKS.md), never in CI.

mod baseline;
mod dataset;
mod engine;
mod http;
mod queries;
mod report;
mod timing;

use anyhow::Result;
use clap::Parser;
use dataset::Dataset;
use imagedex_model::ImageRecord;
use queries::{DeepPage, Mix};
use report::{DatasetInfo, Machine, Report};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use timing::Budget;

/// Benchmarks imagedex's query mix against PostgreSQL and SQLite designs of the same queries.
#[derive(Parser)]
#[command(name = "imagedex-bench")]
struct Args {
    /// Images in the generated dataset (generated once, then cached).
    #[arg(long, value_name = "N")]
    images: u64,
    /// Seed of the generated dataset.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where datasets are cached [default: $XDG_CACHE_HOME/imagedex-bench or
    /// ~/.cache/imagedex-bench]; never inside the repository.
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Most timed repetitions per query and system; each also stops after 20 s.
    #[arg(long, value_name = "N", default_value_t = 200)]
    reps: usize,
    /// A PostgreSQL server where a scratch database may be created and dropped.
    #[arg(
        long,
        value_name = "URL",
        env = "IMAGEDEX_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_url: String,
    /// Leave PostgreSQL out.
    #[arg(long)]
    skip_postgres: bool,

    /// Measure the reference engine (a scan of every record per query) instead of the index.
    #[arg(long)]
    reference: bool,
    /// Leave the SQLite baseline out (the dataset's own store is SQLite either way).
    #[arg(long)]
    skip_sqlite_baseline: bool,
    /// Seconds of `wrk` load on the first page; 0 skips it.
    #[arg(long, value_name = "S", default_value_t = 10)]
    wrk_seconds: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<()> {
    let machine = Machine::read();
    let budget = Budget::new(args.reps);
    let cache = dataset::cache_dir(args.cache_dir)?;
    let dataset = Dataset::open_or_generate(&cache, args.images, args.seed).await?;
    let info = DatasetInfo {
        images: args.images,
        seed: args.seed,
        observations: dataset.observations().await?,
        org: dataset::ORG.to_string(),
    };

    eprintln!("loading {} images", args.images);
    let rss_before_load = engine::rss_bytes();
    let started = Instant::now();
    let records: Vec<Arc<ImageRecord>> = dataset
        .load_records()
        .await?
        .into_iter()
        .map(Arc::new)
        .collect();
    let (engine, build) =
        engine::build_measured(&records, started.elapsed(), rss_before_load, args.reference);

    let scope = dataset.org.id.0.to_string();
    let depth = DeepPage::depth(records.len());
    let mix = Mix {
        org_id: dataset.org.id.0,
        deep: engine::deep_page(engine.as_ref(), &scope, depth)?,
        scope,
    };
    let engine_runs = engine::time_mix(engine.as_ref(), &mix, budget)?;
    let (expected, engine_latencies): (Vec<_>, Vec<_>) = engine_runs.into_iter().unzip();

    let sqlite = if args.skip_sqlite_baseline {
        None
    } else {
        let path = cache.join(format!(
            "baseline-{}-seed-{}.sqlite",
            args.images, args.seed
        ));
        Some(baseline::run_sqlite(&path, &records, &mix, &expected, budget).await?)
    };
    let postgres = if args.skip_postgres {
        None
    } else {
        Some(baseline::run_postgres(&args.postgres_url, &records, &mix, &expected, budget).await?)
    };
    // The server loads its own copy of the records.
    drop((engine, records));

    let http = http::run(
        dataset.store.clone(),
        dataset.org.id,
        &mix,
        &expected,
        budget,
        args.wrk_seconds,
    )
    .await?;

    let report = Report {
        machine: &machine,
        dataset: &info,
        mix: &mix,
        max_reps: args.reps,
        build: &build,
        engine: &engine_latencies,
        http: &http,
        sqlite: sqlite.as_ref(),
        postgres: postgres.as_ref(),
    };
    print!("{}", report.render());
    Ok(())
}
