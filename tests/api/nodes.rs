//! Several `imagedex serve` processes on one PostgreSQL database: writes through any process
//! reach every node within a second, a restarted node catches up, and a node whose database
//! connections are cut recovers and catches up with nothing lost or doubled.

use crate::support::{fixture_files, TestDatabase};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One `imagedex serve` process and what it has logged.
struct Node {
    child: Child,
    address: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Node {
    /// Starts a node whose database connections carry `application_name` = `name`.
    fn start(url: &str, name: &str) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_imagedex"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env(
                "IMAGEDEX_DATABASE_URL",
                format!("{url}?application_name={name}"),
            )
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped())
            .spawn()
            .expect("imagedex serve should start");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (sender, receiver) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some((_, rest)) = line.split_once("listen=") {
                    let address = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = sender.send(address);
                }
                lines.lock().unwrap().push(line);
            }
        });
        let address = receiver
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{name} should report its address: {:?}", log));
        Node {
            child,
            address,
            log,
        }
    }

    fn stop(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn logged(&self, text: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(text))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the CLI against the database; panics with its output when it fails.
fn cli(url: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_imagedex"))
        .args(args)
        .env(
            "IMAGEDEX_DATABASE_URL",
            format!("{url}?application_name=cli"),
        )
        .env("RUST_LOG", "off")
        .output()
        .expect("imagedex should run");
    assert!(
        out.status.success(),
        "imagedex {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn import(url: &str, files: &[PathBuf]) {
    let mut args = vec!["import", "--org", "acme"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    cli(url, &args);
}

struct Client {
    http: reqwest::Client,
    keys: Value,
}

impl Client {
    /// Every image id a node lists, walking pages of two; `None` when the node answered 503
    /// (the database out of reach), a panic on any other failure.
    async fn ids(&self, node: &Node) -> Option<Vec<String>> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("page[size]", "2".to_string())];
            query.extend(cursor.take().map(|c| ("page[cursor]", c)));
            let response = self
                .http
                .get(format!("http://{}/api/v2/container_images", node.address))
                .query(&query)
                .header("DD-API-KEY", self.keys["api_key"].as_str().unwrap())
                .header("DD-APPLICATION-KEY", self.keys["app_key"].as_str().unwrap())
                .send()
                .await
                .expect("the node should answer");
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("a JSON body");
            match status {
                200 => {}
                503 => {
                    assert!(body["errors"][0].is_string(), "{body}");
                    return None;
                }
                _ => panic!(
                    "{}: {status} {body}; its log: {:#?}",
                    node.address,
                    node.log.lock().unwrap()
                ),
            }
            for item in body["data"].as_array().unwrap() {
                ids.push(item["id"].as_str().unwrap().to_string());
            }
            match body["meta"]["pagination"]["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return Some(ids),
            }
        }
    }

    /// Waits until the node lists exactly `expected`, each once; how long that took.
    async fn converges(
        &self,
        node: &Node,
        expected: &BTreeSet<String>,
        within: Duration,
    ) -> Duration {
        let start = Instant::now();
        let mut last = None;
        while start.elapsed() < within {
            if let Some(ids) = self.ids(node).await {
                let unique: BTreeSet<String> = ids.iter().cloned().collect();
                assert_eq!(unique.len(), ids.len(), "an image listed twice: {ids:?}");
                if &unique == expected {
                    return start.elapsed();
                }
                last = Some(unique);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "{} did not converge within {within:?}: has {last:?}, expected {expected:?}",
            node.address
        );
    }
}

/// The ids the database holds for the organisation: the truth the nodes must reach.
async fn stored_ids(url: &str) -> BTreeSet<String> {
    let store = imagedex_store::open(url).await.unwrap();
    let org = store.find_org("acme").await.unwrap().unwrap();
    let (_, records) = store.load_images(org.id).await.unwrap();
    records.into_iter().map(|r| r.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_on_one_postgres_stay_consistent() {
    let Some(database) = TestDatabase::create("nodes_on_one_postgres_stay_consistent").await else {
        return;
    };
    let url = database.url.clone();
    cli(&url, &["org", "create", "acme"]);
    let keys: Value =
        serde_json::from_str(&cli(&url, &["keys", "create", "--org", "acme", "--json"])).unwrap();
    let client = Client {
        http: reqwest::Client::new(),
        keys,
    };
    let files = fixture_files();
    let second = Duration::from_secs(1);

    // An import by another process reaches both nodes within a second.
    // Node b logs in as a role of its own, so the test can cut it off alone.
    let role = format!("{}_b", url.rsplit('/').next().unwrap());
    database
        .admin(&format!("CREATE ROLE {role} LOGIN SUPERUSER"))
        .await;
    let b_url = url.replacen("://postgres@", &format!("://{role}@"), 1);
    assert_ne!(b_url, url, "the test URL should name the user postgres");
    let a = Node::start(&url, "a");
    let mut b = Node::start(&b_url, "b");
    import(&url, &files[..3]);
    let truth = stored_ids(&url).await;
    assert!(truth.len() >= 3, "{truth:?}");
    client.converges(&a, &truth, second).await;
    client.converges(&b, &truth, second).await;
    import(&url, &files[3..5]);
    let truth = stored_ids(&url).await;
    let waited = client.converges(&b, &truth, second).await;
    eprintln!("node b saw the import after {waited:?}");
    client.converges(&a, &truth, second).await;

    // A restarted node starts from the database as it is now.
    b.stop();
    import(&url, &files[5..7]);
    b = Node::start(&b_url, "b");
    let truth = stored_ids(&url).await;
    client.converges(&b, &truth, second).await;

    // Cut node b off the database for three seconds (its role may not log in, its sessions
    // are ended) while another process imports.
    database.admin(&format!("ALTER ROLE {role} NOLOGIN")).await;
    database
        .admin(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"
        ))
        .await;
    let cut = Instant::now();
    import(&url, &files[7..]);
    // Asked during the cut, b says 503 once its retries run out; it does not exit.
    let answer = client.ids(&b).await;
    assert_eq!(answer, None, "b cannot authenticate while cut off");
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(cut.elapsed())).await;
    assert!(
        b.child.try_wait().unwrap().is_none(),
        "node b must not exit"
    );
    database.admin(&format!("ALTER ROLE {role} LOGIN")).await;

    let truth = stored_ids(&url).await;
    assert!(truth.len() > 3);
    let waited = client.converges(&b, &truth, Duration::from_secs(10)).await;
    eprintln!("node b caught up {waited:?} after its connections came back");
    client.converges(&a, &truth, second).await;
    assert!(
        b.logged("lost the change notification connection"),
        "node b should report the lost connection: {:?}",
        b.log.lock().unwrap()
    );

    a.stop();
    b.stop();
    database.drop_database().await;
    database.admin(&format!("DROP ROLE {role}")).await;
}
