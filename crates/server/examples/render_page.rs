//! Times whole answers of the router, in process (no socket): `page[size]=N` of a generated
//! organisation, from the request to the last byte of the body. By hand, never in CI:
//!
//! ```sh
//! cargo run -p imagedex-server --release --example render_page -- [IMAGES] [PAGE_SIZE] [RUNS]
//! ```
//!
//! Evaluation of such a page takes well under a millisecond (docs/BENCHMARKS.md), so what this
//! measures is rendering: the items' JSON and the response around it.

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use imagedex_datagen::Generator;
use imagedex_server::{router, AppState};
use std::time::Instant;
use tower::ServiceExt;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>());
    let mut arg = |default| {
        args.next()
            .map_or(Ok(default), |a| a)
            .expect("arguments are numbers")
    };
    let (images, page_size, runs) = (arg(20_000), arg(10_000), arg(50));

    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = imagedex_store::open(&dir.path().join("render.db").display().to_string())
        .await
        .expect("the store opens");
    let org = store.ensure_org("bench").await.expect("the organisation");
    for batch in Generator::new(images, 1).batches(5_000) {
        store
            .apply_observations(org.id, &batch.observations)
            .await
            .expect("the dataset is written");
    }
    let keys = store.create_key_pair(org.id).await.expect("a key pair");
    let app = router(AppState::new(store, Some("http://bench.test".into())));
    let uri = format!("/api/v2/container_images?page[size]={page_size}");

    let mut times = Vec::new();
    let mut bytes = 0;
    for run in 0..=runs {
        let request = Request::get(&uri)
            .header("DD-API-KEY", &keys.api_key)
            .header("DD-APPLICATION-KEY", &keys.app_key)
            .body(Body::empty())
            .expect("a request");
        let started = Instant::now();
        let response = app.clone().oneshot(request).await.expect("an answer");
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        // The first run loads and indexes the organisation.
        if run > 0 {
            times.push(started.elapsed());
        }
        bytes = body.len();
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "{images} images, page[size]={page_size}: {:.1} KiB per answer, {runs} runs: p50 {:.2?}, p99 {:.2?}, {:.0} MB/s at p50",
        bytes as f64 / 1024.0,
        at(0.5),
        at(0.99),
        bytes as f64 / at(0.5).as_secs_f64() / 1e6
    );
}
