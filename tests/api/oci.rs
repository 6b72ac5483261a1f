//! OCI image layouts and `docker save` archives, built here byte by byte, imported with the
//! real `imagedex` binary and read back through the API: one record per tagged index with a
//! flavor per platform (attestations skipped), sizes from layers, and broken inputs refused
//! whole with a message naming the file.

use crate::support::{ids, TestApp};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PATH: &str = "/api/v2/container_images";

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn config(arch: &str, variant: Option<&str>, created: &str) -> Vec<u8> {
    let mut config = json!({
        "architecture": arch,
        "os": "linux",
        "created": created,
        "config": {"Env": ["PATH=/usr/bin"]},
        "rootfs": {"type": "layers", "diff_ids": []}
    });
    if let Some(variant) = variant {
        config["variant"] = json!(variant);
    }
    serde_json::to_vec(&config).unwrap()
}

/// An OCI layout folder being written.
struct LayoutBuilder {
    root: PathBuf,
}

impl LayoutBuilder {
    fn new(root: PathBuf) -> Self {
        std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
        std::fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        LayoutBuilder { root }
    }

    /// Writes a blob; its descriptor.
    fn blob(&self, media_type: &str, bytes: &[u8]) -> Value {
        let digest = digest(bytes);
        let hex = digest.trim_start_matches("sha256:");
        std::fs::write(self.root.join("blobs/sha256").join(hex), bytes).unwrap();
        json!({"mediaType": media_type, "digest": digest, "size": bytes.len()})
    }

    fn manifest(&self, config: &[u8], layers: &[&[u8]]) -> Value {
        let config = self.blob("application/vnd.oci.image.config.v1+json", config);
        let layers: Vec<Value> = layers
            .iter()
            .map(|l| self.blob("application/vnd.oci.image.layer.v1.tar+gzip", l))
            .collect();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config,
            "layers": layers
        });
        self.blob(
            "application/vnd.oci.image.manifest.v1+json",
            &serde_json::to_vec(&manifest).unwrap(),
        )
    }

    fn index_json(&self, manifests: Vec<Value>) {
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests
        });
        std::fs::write(
            self.root.join("index.json"),
            serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();
    }
}

fn with(mut descriptor: Value, extra: Value) -> Value {
    for (key, value) in extra.as_object().unwrap() {
        descriptor[key] = value.clone();
    }
    descriptor
}

/// A two-platform index with an attestation manifest, tagged `1.0` and `latest` under
/// `ghcr.io/acme/api`; returns the index digest and the two config digests.
fn two_platform_layout(root: PathBuf) -> (LayoutBuilder, String, [String; 2]) {
    let layout = LayoutBuilder::new(root);
    let amd_config = config("amd64", None, "2026-11-30T10:00:00.123456789Z");
    let arm_config = config("arm64", Some("v8"), "2026-11-30T10:05:00Z");
    let amd = layout.manifest(&amd_config, &[&[1u8; 1000], &[2u8; 234]]);
    let arm = layout.manifest(&arm_config, &[&[3u8; 500]]);
    let attestation = layout.manifest(
        b"{}",
        &[b"{\"predicateType\":\"https://spdx.dev/Document\"}"],
    );
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            with(amd.clone(), json!({"platform": {"architecture": "amd64", "os": "linux"}})),
            with(arm, json!({"platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}})),
            with(attestation, json!({
                "platform": {"architecture": "unknown", "os": "unknown"},
                "annotations": {
                    "vnd.docker.reference.type": "attestation-manifest",
                    "vnd.docker.reference.digest": amd["digest"]
                }
            }))
        ]
    });
    let index = layout.blob(
        "application/vnd.oci.image.index.v1+json",
        &serde_json::to_vec(&index).unwrap(),
    );
    let index_digest = index["digest"].as_str().unwrap().to_string();
    layout.index_json(vec![
        with(index.clone(), json!({"annotations": {
            "io.containerd.image.name": "ghcr.io/acme/api:1.0",
            "org.opencontainers.image.ref.name": "1.0"
        }})),
        with(index, json!({"annotations": {"org.opencontainers.image.ref.name": "ghcr.io/acme/api:latest"}})),
    ]);
    (
        layout,
        index_digest,
        [digest(&amd_config), digest(&arm_config)],
    )
}

/// Runs `imagedex import` on the database the test app of `dir` reads.
fn import(dir: &Path, paths: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_imagedex"))
        .arg("import")
        .args(paths)
        .env("IMAGEDEX_DATABASE_URL", dir.join("test.db"))
        .env("RUST_LOG", "off")
        .output()
        .expect("imagedex should run")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test]
async fn a_layout_becomes_one_record_per_tagged_index_with_a_flavor_per_platform() {
    let dir = tempfile::tempdir().unwrap();
    let layouts = dir.path().join("layouts");
    let (_, index_digest, [amd_id, arm_id]) = two_platform_layout(layouts.join("api-layout"));
    let (_, other_digest, _) = two_platform_layout(dir.path().join("unused"));
    assert_eq!(index_digest, other_digest, "the builder is deterministic");
    let plain = LayoutBuilder::new(layouts.join("nested").join("WebApp"));
    let manifest = plain.manifest(
        &config("arm", Some("v7"), "2026-01-02T03:04:05Z"),
        &[&[9u8; 77]],
    );
    plain.index_json(vec![with(
        manifest.clone(),
        json!({"annotations": {"org.opencontainers.image.ref.name": "2.0"}}),
    )]);

    // A folder of layouts is walked; each layout found is imported whole, not walked.
    let out = import(dir.path(), &[&layouts]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("2 file(s): 0 failed; images created 2"),
        "{stdout}"
    );

    let db_dir = dir.path().to_path_buf();
    let app = TestApp::in_dir(dir, "default").await;
    let (_, body) = app.get(&format!("{PATH}?sort=name")).await;
    assert_eq!(
        ids(&body),
        [
            format!("ghcr.io/acme/api@{index_digest}"),
            format!("webapp@{}", manifest["digest"].as_str().unwrap()),
        ],
        "{body}"
    );
    let api = &body["data"][0]["attributes"];
    assert_eq!(api["name"], "ghcr.io/acme/api");
    assert_eq!(api["repo_digest"], index_digest.as_str());
    assert_eq!(api["image_tags"], json!(["1.0", "latest"]));
    assert_eq!(api["sources"], json!(["oci-layout"]));
    assert_eq!(
        api["image_flavors"],
        json!([
            {"built_at": "2026-11-30T10:00:00Z", "os_architecture": "amd64", "os_name": "linux", "size": 1234},
            {"built_at": "2026-11-30T10:05:00Z", "os_architecture": "arm64", "os_name": "linux", "size": 500}
        ]),
        "the attestation manifest is no flavor: {api}"
    );
    assert_eq!(api["sizes"], json!([1234, 500]));
    assert!(
        api.get("published_at").is_none(),
        "no push time is known: {api}"
    );
    let tags: Vec<&str> = api["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for id in [&amd_id, &arm_id] {
        assert!(
            tags.contains(&format!("image_id:{id}").as_str()),
            "{tags:?}"
        );
    }

    let web = &body["data"][1]["attributes"];
    assert_eq!(web["name"], "webapp", "the folder names an untagged layout");
    assert_eq!(web["repo_digest"], manifest["digest"]);
    assert_eq!(web["image_tags"], json!(["2.0"]));
    assert_eq!(web["os_architectures"], json!(["arm/v7"]));
    assert_eq!(web["sizes"], json!([77]));

    let out = import(&db_dir, &[&layouts]);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("images created 0, updated 0, removed 0"),
        "{stdout}"
    );
    let (_, again) = app.get(&format!("{PATH}?sort=name")).await;
    assert_eq!(
        again["data"], body["data"],
        "importing twice changes nothing"
    );
}

#[tokio::test]
async fn a_broken_layout_is_refused_whole_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, _, [amd_id, _]) = two_platform_layout(dir.path().join("tampered"));
    let hex = amd_id.trim_start_matches("sha256:");
    let config_path = layout.root.join("blobs/sha256").join(hex);
    let mut bytes = std::fs::read(&config_path).unwrap();
    bytes[2] ^= 0x20;
    std::fs::write(&config_path, &bytes).unwrap();

    let (escaping, _, [_, arm_id]) = two_platform_layout(dir.path().join("escaping"));
    let arm_hex = arm_id.trim_start_matches("sha256:");
    let outside = dir.path().join("outside-config.json");
    let arm_path = escaping.root.join("blobs/sha256").join(arm_hex);
    std::fs::copy(&arm_path, &outside).unwrap();
    std::fs::remove_file(&arm_path).unwrap();
    std::os::unix::fs::symlink(&outside, &arm_path).unwrap();

    let traversal = LayoutBuilder::new(dir.path().join("traversal"));
    traversal.index_json(vec![json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:../../../outside-config.json",
        "size": 10
    })]);

    let cases: [(&Path, &str, &str); 3] = [
        (&layout.root, hex, "content does not match its digest"),
        (
            &escaping.root,
            arm_hex,
            "resolves to a path outside the layout",
        ),
        (
            &traversal.root,
            "index.json",
            "is not sha256:<64 lowercase hex digits>",
        ),
    ];
    for (path, file, reason) in cases {
        let out = import(dir.path(), &[path]);
        let (stdout, stderr) = text(&out);
        assert!(!out.status.success(), "{stdout}");
        assert!(
            stderr.contains(file) && stderr.contains(reason),
            "{path:?}: expected {file} and '{reason}' in {stderr}"
        );
    }

    let app = TestApp::in_dir(dir, "default").await;
    let (_, body) = app.get(PATH).await;
    assert_eq!(body["data"], json!([]), "nothing was written: {body}");
}

/// A `docker save` archive in Docker 25's layout: blobs, `manifest.json`, `index.json`.
fn docker_save(path: &Path, tamper: impl FnOnce(&mut Vec<u8>)) -> String {
    let config = config("amd64", None, "2025-05-06T07:08:09Z");
    let config_id = digest(&config);
    let layers: [&[u8]; 2] = [&[5u8; 3000], &[6u8; 1500]];
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |name: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, name, bytes).unwrap();
    };
    let blob_name = |d: &str| format!("blobs/sha256/{}", d.trim_start_matches("sha256:"));
    add(&blob_name(&config_id), &config);
    let mut layer_names = Vec::new();
    for layer in layers {
        let name = blob_name(&digest(layer));
        add(&name, layer);
        layer_names.push(name);
    }
    let manifest = json!([{
        "Config": blob_name(&config_id),
        "RepoTags": ["alpine:3.19", "registry.example.com/tools/alpine:3.19", "alpine:latest"],
        "Layers": layer_names
    }]);
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    let mut bytes = builder.into_inner().unwrap();
    tamper(&mut bytes);
    std::fs::write(path, bytes).unwrap();
    config_id
}

#[tokio::test]
async fn a_docker_save_archive_is_read_without_unpacking() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("images.tar");
    let config_id = docker_save(&archive, |_| {});
    let no_end = dir.path().join("no-end.tar");
    docker_save(&no_end, |bytes| bytes.truncate(bytes.len() - 2048));
    let halved = dir.path().join("halved.tar");
    docker_save(&halved, |bytes| bytes.truncate(bytes.len() / 2));
    let before: Vec<PathBuf> = listing(dir.path());

    for cut in [&no_end, &halved] {
        let out = import(dir.path(), &[cut]);
        let (_, stderr) = text(&out);
        assert!(!out.status.success());
        let file = cut.file_name().unwrap().to_str().unwrap();
        assert!(
            stderr.contains(file) && stderr.contains("truncated"),
            "{stderr}"
        );
    }
    let out = import(dir.path(), &[&archive]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("images created 2"), "{stdout}");
    let mut after = listing(dir.path());
    after.retain(|p| !p.to_string_lossy().contains("test.db"));
    assert_eq!(
        after, before,
        "nothing from the archive was written to disk"
    );

    let app = TestApp::in_dir(dir, "default").await;
    let (_, body) = app.get(&format!("{PATH}?sort=name")).await;
    assert_eq!(
        ids(&body),
        [
            format!("docker.io/library/alpine@{config_id}"),
            format!("registry.example.com/tools/alpine@{config_id}"),
        ],
        "{body}"
    );
    let a = &body["data"][0]["attributes"];
    assert_eq!(a["image_tags"], json!(["3.19", "latest"]));
    assert_eq!(a["sources"], json!(["docker-archive"]));
    assert!(
        a.get("repo_digest").is_none(),
        "docker save carries no repo digest: {a}"
    );
    assert_eq!(
        a["image_flavors"],
        json!([{"built_at": "2025-05-06T07:08:09Z", "os_architecture": "amd64", "os_name": "linux", "size": 4500}])
    );
    assert_eq!(body["data"][1]["attributes"]["image_tags"], json!(["3.19"]));
}

fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths
}
