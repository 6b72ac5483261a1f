//! imagedex over HTTP on loopback: the real router in process, timed with a keep-alive client
//! reading whole bodies; the same bytes served pre-rendered, the limit of the HTTP path; and
//! the first page under concurrent load from `wrk`.

use crate::queries::{Answer, Case, Kind, Mix};
use crate::timing::{Budget, Latencies};
use anyhow::{bail, Context, Result};
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;
use imagedex_server::AppState;
use imagedex_store::{KeyPair, Store};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// The path of the API.
const API_PATH: &str = "/api/v2/container_images";

/// What the HTTP side measured.
#[derive(Debug, Clone)]
pub struct HttpRun {
    /// One entry per query of the mix, in [`Case::ALL`] order.
    pub latencies: Vec<Latencies>,
    /// The size of the `page[size]=10000` response.
    pub large_page_bytes: usize,
    /// Sending those bytes, pre-rendered, from a trivial route.
    pub prerendered: Latencies,
    /// The first page under concurrent load; `None` when `wrk` was skipped or is missing.
    pub load: Option<WrkRun>,
}

/// A server on a loopback port, stopped when dropped.
struct Server {
    base: String,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(app: Router) -> Result<Server> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding a loopback port")?;
        let base = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("the bench server stopped: {error}");
            }
        });
        Ok(Server { base, task })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A keep-alive client sending the organisation's keys.
struct Client {
    http: reqwest::Client,
}

impl Client {
    fn new(keys: &KeyPair) -> Result<Client> {
        let mut headers = HeaderMap::new();
        headers.insert("DD-API-KEY", HeaderValue::from_str(&keys.api_key)?);
        headers.insert("DD-APPLICATION-KEY", HeaderValue::from_str(&keys.app_key)?);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(600))
            .build()?;
        Ok(Client { http })
    }

    /// The whole body of a successful response.
    async fn get(&self, url: &str) -> Result<Bytes> {
        let response = self.http.get(url).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            bail!(
                "GET {url} answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(body)
    }
}

/// Serves the dataset's store with the real router, checks every answer of the mix against the
/// engine's and times it; then the pre-rendered bytes and, when `wrk_seconds` > 0, `wrk`.
pub async fn run(
    store: Arc<dyn Store>,
    org: imagedex_store::OrgId,
    mix: &Mix,
    expected: &[Answer],
    budget: Budget,
    wrk_seconds: u64,
) -> Result<HttpRun> {
    let keys = store
        .create_key_pair(org)
        .await
        .context("creating a key pair for the bench organisation")?;
    let server = Server::start(imagedex_server::router(AppState::new(store, None))).await?;
    let client = Client::new(&keys)?;

    let mut latencies = Vec::new();
    let mut large_page = Bytes::new();
    for (case, expected) in Case::ALL.into_iter().zip(expected) {
        eprintln!("  HTTP: {}", case.label(mix));
        let url = format!("{}{API_PATH}?{}", server.base, case.query_string(mix));
        // The first request also loads the catalog's snapshot; it is not timed.
        let body = client.get(&url).await?;
        let got = answer_of(case, &body).with_context(|| format!("reading GET {url}"))?;
        expected.check(&got, "HTTP", &case.label(mix))?;
        if case == Case::LargePage {
            large_page = body;
        }
        latencies.push(time_get(&client, &url, budget).await?);
    }

    eprintln!("  HTTP: pre-rendered {} bytes", large_page.len());
    let large_page_bytes = large_page.len();
    let prerendered = time_prerendered(&client, large_page, budget).await?;

    let load = if wrk_seconds == 0 {
        None
    } else {
        let url = format!(
            "{}{API_PATH}?{}",
            server.base,
            Case::FirstPage.query_string(mix)
        );
        run_wrk(&url, &keys, wrk_seconds).await?
    };
    Ok(HttpRun {
        latencies,
        large_page_bytes,
        prerendered,
        load,
    })
}

/// Times sending `bytes` from a route that does nothing else.
async fn time_prerendered(client: &Client, bytes: Bytes, budget: Budget) -> Result<Latencies> {
    let app = Router::new().route(
        "/",
        get(move || {
            let bytes = bytes.clone();
            async move { ([(CONTENT_TYPE, "application/json")], bytes) }
        }),
    );
    let server = Server::start(app).await?;
    let url = format!("{}/", server.base);
    client.get(&url).await?;
    time_get(client, &url, budget).await
}

/// Times reading the whole response to `GET url`.
async fn time_get(client: &Client, url: &str, budget: Budget) -> Result<Latencies> {
    let mut timer = budget.timer();
    while timer.more() {
        let lap = Instant::now();
        client.get(url).await?;
        timer.lap(lap);
    }
    Ok(timer.finish())
}

/// The answer a response body gives.
fn answer_of(case: Case, body: &[u8]) -> Result<Answer> {
    let json: Value = serde_json::from_slice(body)?;
    let total = json["meta"]["pagination"]["total"]
        .as_u64()
        .context("the response has no meta.pagination.total")? as usize;
    let data = json["data"]
        .as_array()
        .context("the response has no data array")?;
    Ok(match case.kind() {
        Kind::Images => Answer::Images {
            ids: data
                .iter()
                .map(|item| item["id"].as_str().map(str::to_string))
                .collect::<Option<_>>()
                .context("an image without an id")?,
            total,
        },
        Kind::Groups => {
            let key = case
                .group_key()
                .expect("a group query should have a group key");
            let groups = data
                .iter()
                .map(|item| {
                    let attributes = &item["attributes"];
                    let value = attributes["tags"][key].as_str().map(str::to_string);
                    let count = attributes["count"].as_u64()? as usize;
                    Some((vec![value], count))
                })
                .collect::<Option<_>>()
                .context("a group without a count")?;
            Answer::Groups { groups, total }
        }
    })
}

/// What `wrk` measured.
#[derive(Debug, Clone, PartialEq)]
pub struct WrkRun {
    pub threads: u32,
    pub connections: u32,
    pub seconds: u64,
    /// Requests completed; wrk's latencies are zeros when none did.
    pub requests: u64,
    pub requests_per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Connect, read, write and timeout errors, and responses other than 2xx or 3xx.
    pub errors: u64,
}

/// `wrk`'s threads: one per core of the bench machine.
const WRK_THREADS: u32 = 2;
/// `wrk`'s connections: concurrent clients.
const WRK_CONNECTIONS: u32 = 16;

/// Runs `wrk` against `url`; `None`, with a notice, when it is not installed.
async fn run_wrk(url: &str, keys: &KeyPair, seconds: u64) -> Result<Option<WrkRun>> {
    eprintln!("  wrk: {seconds} s on the first page");
    let output = tokio::process::Command::new("wrk")
        .arg(format!("-t{WRK_THREADS}"))
        .arg(format!("-c{WRK_CONNECTIONS}"))
        .arg(format!("-d{seconds}s"))
        .args(["--latency", "--timeout", "60s"])
        .arg("-H")
        .arg(format!("DD-API-KEY: {}", keys.api_key))
        .arg("-H")
        .arg(format!("DD-APPLICATION-KEY: {}", keys.app_key))
        .arg(url)
        .output()
        .await;
    let output = match output {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("notice: wrk is not installed (apt-get install -y wrk); no load figures");
            return Ok(None);
        }
        Err(error) => return Err(error).context("running wrk"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed ({}): {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse_wrk(&stdout, seconds)
        .with_context(|| format!("reading wrk's output:\n{stdout}"))
        .map(Some)
}

/// Reads requests per second, the latency distribution and the errors from `wrk --latency`.
fn parse_wrk(output: &str, seconds: u64) -> Result<WrkRun> {
    let (mut requests, mut requests_per_second) = (None, None);
    let (mut p50, mut p99) = (None, None);
    let mut errors = 0;
    for line in output.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [n, "requests", "in", ..] => requests = Some(n.parse::<u64>()?),
            ["Requests/sec:", value] => requests_per_second = Some(value.parse::<f64>()?),
            ["50%", value] => p50 = Some(wrk_duration(value)?),
            ["99%", value] => p99 = Some(wrk_duration(value)?),
            ["Non-2xx", "or", "3xx", "responses:", n] => errors += n.parse::<u64>()?,
            ["Socket", "errors:", rest @ ..] => {
                // connect 0, read 0, write 0, timeout 0
                for count in rest.iter().skip(1).step_by(2) {
                    errors += count.trim_end_matches(',').parse::<u64>()?;
                }
            }
            _ => {}
        }
    }
    Ok(WrkRun {
        threads: WRK_THREADS,
        connections: WRK_CONNECTIONS,
        seconds,
        requests: requests.context("no 'N requests in' line")?,
        requests_per_second: requests_per_second.context("no Requests/sec line")?,
        p50: p50.context("no 50% line (was --latency given?)")?,
        p99: p99.context("no 99% line (was --latency given?)")?,
        errors,
    })
}

/// A `wrk` duration: `812.00us`, `4.21ms`, `1.02s`, `2.00m`.
fn wrk_duration(text: &str) -> Result<Duration> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .with_context(|| format!("'{text}' has no unit"))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse()?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => bail!("'{text}' has an unknown unit"),
    };
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "\
Running 10s test @ http://127.0.0.1:40000/api/v2/container_images?page%5Bsize%5D=100
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.21ms    1.02ms  30.10ms   90.00%
    Req/Sec     1.90k   100.00     2.10k    70.00%
  Latency Distribution
     50%    4.10ms
     75%    4.80ms
     90%    5.50ms
     99%  812.00us
  38000 requests in 10.00s, 1.20GB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 3
Requests/sec:   3800.12
Transfer/sec:    122.88MB
";

    #[test]
    fn wrk_output_is_read() {
        let run = parse_wrk(OUTPUT, 10).unwrap();
        assert_eq!(run.requests, 38000);
        assert_eq!(run.requests_per_second, 3800.12);
        assert_eq!(run.p50, Duration::from_micros(4100));
        assert_eq!(run.p99, Duration::from_micros(812));
        assert_eq!(run.errors, 6);
    }

    #[test]
    fn wrk_durations_have_units() {
        assert_eq!(wrk_duration("1.50s").unwrap(), Duration::from_millis(1500));
        assert!(wrk_duration("12").is_err());
        assert!(wrk_duration("3.0weeks").is_err());
    }
}
