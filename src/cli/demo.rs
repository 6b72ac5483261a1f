//! `imagedex demo`: a fresh database (always its own `demo.db`, whatever `--database` says) of the bundled real Trivy reports, a key pair, and the
//! server, with a curl line and a Python snippet to try it.

use anyhow::{Context, Result};
use clap::Args;
use imagedex_ingest::import_document;
use imagedex_model::Tag;
use std::process::ExitCode;

/// The real Trivy reports in `fixtures/trivy`, built into the binary.
const REPORTS: &[(&str, &[u8])] = &[
    (
        "almalinux-8",
        include_bytes!("../../fixtures/trivy/almalinux-8.trivy.json"),
    ),
    (
        "alpine-310-registry",
        include_bytes!("../../fixtures/trivy/alpine-310-registry.trivy.json"),
    ),
    (
        "alpine-310",
        include_bytes!("../../fixtures/trivy/alpine-310.trivy.json"),
    ),
    (
        "amazon-2",
        include_bytes!("../../fixtures/trivy/amazon-2.trivy.json"),
    ),
    (
        "centos-7",
        include_bytes!("../../fixtures/trivy/centos-7.trivy.json"),
    ),
    (
        "debian-stretch",
        include_bytes!("../../fixtures/trivy/debian-stretch.trivy.json"),
    ),
    (
        "distroless-base",
        include_bytes!("../../fixtures/trivy/distroless-base.trivy.json"),
    ),
    (
        "photon-30",
        include_bytes!("../../fixtures/trivy/photon-30.trivy.json"),
    ),
    (
        "sl-micro-rancher5.4",
        include_bytes!("../../fixtures/trivy/sl-micro-rancher5.4.trivy.json"),
    ),
    (
        "ubuntu-1804",
        include_bytes!("../../fixtures/trivy/ubuntu-1804.trivy.json"),
    ),
];

#[derive(Args)]
pub struct DemoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
}

pub async fn run(args: DemoArgs) -> Result<ExitCode> {
    // Bind first: a second demo must not wipe the database of one already serving.
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {} (is a demo already running?)", args.listen))?;
    let path = super::data_dir()?.join("demo.db");
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", path.display());
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing the old demo database {file}"));
            }
            _ => {}
        }
    }
    let url = path.display().to_string();
    let store = imagedex_store::open(&url)
        .await
        .with_context(|| format!("creating demo database {url}"))?;

    let org = super::resolve_org(&store, None).await?;
    let tags = [Tag::new("env", "demo")];
    for (name, bytes) in REPORTS {
        import_document(store.as_ref(), org.id, bytes, &tags)
            .await
            .with_context(|| format!("importing the bundled report {name}"))?;
    }
    let pair = store.create_key_pair(org.id).await?;
    let address = listener.local_addr()?;

    println!(
        "imagedex demo: {} bundled Trivy reports imported into {url}",
        REPORTS.len()
    );
    println!();
    println!(
        "  export DD_API_KEY={} DD_APP_KEY={}",
        pair.api_key, pair.app_key
    );
    println!();
    println!("  curl -gs -H \"DD-API-KEY: $DD_API_KEY\" -H \"DD-APPLICATION-KEY: $DD_APP_KEY\" \\");
    println!("    'http://{address}/api/v2/container_images?sort=-vulnerability_count.critical&page[size]=3'");
    println!();
    println!("  # pip install datadog-api-client; then, with the exports above:");
    println!("  python3 - <<'PY'");
    println!("from datadog_api_client import ApiClient, Configuration");
    println!("from datadog_api_client.v2.api.container_images_api import ContainerImagesApi");
    println!("conf = Configuration(host=\"http://{address}\")");
    println!("with ApiClient(conf) as client:");
    println!("    for image in ContainerImagesApi(client).list_container_images_with_pagination(page_size=100):");
    println!("        print(image.id, image.attributes.vulnerability_count)");
    println!("PY");
    println!();
    println!("serving on http://{address} (Ctrl-C to stop)");
    super::serve::serve_on(listener, store, None).await
}
