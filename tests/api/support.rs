//! The test app: a fresh SQLite store in a temporary folder, an organisation with a key pair,
//! and the real router, reached in process (`get`) or over a port-0 listener (`spawn`).

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use imagedex_ingest::{import_document, FileOutcome};
use imagedex_model::Tag;
use imagedex_server::AppState;
use imagedex_store::{KeyPair, Org, Store};
use serde_json::Value;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower::ServiceExt;

pub const PUBLIC_URL: &str = "http://imagedex.test";

pub struct TestApp {
    _dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    pub state: AppState,
    pub org: Org,
    pub keys: KeyPair,
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("trivy")
}

pub fn fixture(name: &str) -> Value {
    let bytes = std::fs::read(fixtures_dir().join(name)).expect("fixture should be readable");
    serde_json::from_slice(&bytes).expect("fixture should be JSON")
}

/// Every fixture report, in file-name order.
pub fn fixture_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures folder should exist")
        .map(|e| e.expect("entry should be readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

impl TestApp {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir should be created");
        Self::in_dir(dir, "default").await
    }

    /// A test app over `test.db` in `dir`, which a command may already have filled, serving the
    /// organisation `org` (created when missing) with a new key pair.
    pub async fn in_dir(dir: tempfile::TempDir, org: &str) -> Self {
        let url = dir.path().join("test.db").display().to_string();
        let store = imagedex_store::open(&url).await.expect("store should open");
        let org = store.ensure_org(org).await.expect("org should be created");
        let keys = store
            .create_key_pair(org.id)
            .await
            .expect("keys should be created");
        let state = AppState::new(store.clone(), Some(PUBLIC_URL.to_string()));
        TestApp {
            _dir: dir,
            store,
            state,
            org,
            keys,
        }
    }

    /// A test app with every fixture report imported.
    pub async fn with_fixtures() -> Self {
        let app = Self::new().await;
        for file in fixture_files() {
            app.import_bytes(&std::fs::read(&file).unwrap(), &[])
                .await
                .expect("fixture should import");
        }
        app
    }

    pub async fn import_bytes(&self, bytes: &[u8], tags: &[Tag]) -> Result<FileOutcome, String> {
        import_document(self.store.as_ref(), self.org.id, bytes, tags)
            .await
            .map_err(|e| e.to_string())
    }

    pub async fn import_json(&self, report: &Value, tags: &[Tag]) -> Result<FileOutcome, String> {
        self.import_bytes(&serde_json::to_vec(report).unwrap(), tags)
            .await
    }

    /// Imports each `(case, bytes, needle)`, which must be refused with a message mentioning
    /// `needle`; afterwards nothing has been written.
    pub async fn assert_refused(&self, cases: Vec<(&str, Vec<u8>, &str)>) {
        for (case, bytes, needle) in cases {
            let err = self.import_bytes(&bytes, &[]).await.expect_err(case);
            assert!(
                err.contains(needle),
                "{case}: '{err}' should mention '{needle}'"
            );
        }
        assert_eq!(
            self.store.change_seq(self.org.id).await.unwrap(),
            0,
            "nothing was written"
        );
        let (_, body) = self.get("/api/v2/container_images").await;
        assert_eq!(total(&body), 0);
    }

    /// A second organisation with its own key pair.
    pub async fn other_org(&self, name: &str) -> (Org, KeyPair) {
        let org = self.store.create_org(name).await.unwrap();
        let keys = self.store.create_key_pair(org.id).await.unwrap();
        (org, keys)
    }

    /// GET with this app's keys; the body parsed as JSON.
    pub async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.get_with(
            uri,
            &[
                ("DD-API-KEY", &self.keys.api_key),
                ("DD-APPLICATION-KEY", &self.keys.app_key),
            ],
        )
        .await
    }

    /// GET with exactly these headers.
    pub async fn get_with(&self, uri: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
        self.request(Method::GET, uri, headers, Body::empty()).await
    }

    /// POST `body` with exactly these headers; the answer parsed as JSON.
    pub async fn post_with(
        &self,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> (StatusCode, Value) {
        self.request(Method::POST, uri, headers, body.into()).await
    }

    async fn request(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = imagedex_server::router(self.state.clone())
            .oneshot(request.body(body).unwrap())
            .await
            .expect("router should answer");
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "{uri}: body should be JSON, got {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, body)
    }

    /// Serves the real router on a loopback port until the test ends.
    pub async fn spawn(&self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let state = AppState::new(self.store.clone(), None);
        tokio::spawn(async move { imagedex_server::serve(listener, state).await });
        address
    }
}

/// The ids of a page's items.
pub fn ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// The total of a page.
pub fn total(body: &Value) -> u64 {
    body["meta"]["pagination"]["total"].as_u64().unwrap()
}

/// Follows `next_cursor` from `first` to the end; every page's items in order.
pub async fn walk(app: &TestApp, first: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut uri = first.to_string();
    for _ in 0..1000 {
        let (status, body) = app.get(&uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        items.extend(body["data"].as_array().unwrap().iter().cloned());
        let Some(next) = body["meta"]["pagination"]["next_cursor"].as_str() else {
            assert!(
                body["links"]["next"].is_null(),
                "no next_cursor but a next link: {body}"
            );
            return items;
        };
        assert!(!next.is_empty(), "next_cursor must never be empty");
        // Follow the server's own next link, which must carry the query along.
        let link = body["links"]["next"]
            .as_str()
            .expect("next link with next_cursor");
        uri = link
            .strip_prefix(PUBLIC_URL)
            .expect("links use the public URL")
            .to_string();
    }
    panic!("pagination did not end after 1000 pages");
}

/// Fails under `IMAGEDEX_REQUIRE_SERVICES=1`, else prints that the test was skipped.
pub fn skip(test: &str, reason: &str) {
    if std::env::var("IMAGEDEX_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
        panic!("{test}: required but unavailable: {reason}");
    }
    // Written to stderr directly, past the test harness's capture, so a passing run shows it.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
}

/// A PostgreSQL database of its own for one test, on the server `IMAGEDEX_TEST_POSTGRES_URL`
/// names (its user may create databases).
pub struct TestDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    /// A fresh database, or `None` (after [`skip`]) when no server is configured.
    pub async fn create(test: &str) -> Option<TestDatabase> {
        use rand::Rng;
        use sqlx::Connection;

        let Some(admin_url) = std::env::var("IMAGEDEX_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            skip(test, "IMAGEDEX_TEST_POSTGRES_URL is not set");
            return None;
        };
        let name = format!("imagedex_test_{:016x}", rand::thread_rng().gen::<u64>());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("PostgreSQL should accept the admin URL");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let (base, _) = admin_url
            .rsplit_once('/')
            .expect("the URL should name a database");
        Some(TestDatabase {
            url: format!("{base}/{name}"),
            admin_url,
            name,
        })
    }

    /// Runs one statement as the admin user (to watch or cut other connections).
    pub async fn admin(&self, statement: &str) {
        use sqlx::Connection;

        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await.unwrap();
        sqlx::query(statement).execute(&mut admin).await.unwrap();
    }

    pub async fn drop_database(&self) {
        self.admin(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .await;
    }
}
