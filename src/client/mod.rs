//! A small client of imagedex's (and Datadog's) `GET /api/v2/container_images`, for the CLI.
//!
//! Plain HTTP only: reqwest is built without TLS here, so an `https://` URL is refused up front
//! rather than failing on the first request.

pub mod response;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use reqwest::{StatusCode, Url};
use response::{ErrorResponse, ListResponse};
use serde::de::DeserializeOwned;
use std::time::Duration;

const PATH: &str = "api/v2/container_images";

/// A key read from the environment; it has no `Display` and its `Debug` hides it.
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Why a request got no usable answer. Messages are one line and never carry a key.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("'{url}' is not a server URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("{name} is not usable as an HTTP header value (printable ASCII only)")]
    BadKey { name: &'static str },
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the server refused the keys ({status}): {message}")]
    Refused { status: StatusCode, message: String },
    /// A 400: the server's own message names the parameter and what would be valid.
    #[error("{message}")]
    Rejected { message: String },
    #[error("the server answered {status}: {message}")]
    Failed { status: StatusCode, message: String },
    #[error("the answer from {url} is not a container images response: {reason}")]
    Malformed { url: String, reason: String },
}

/// The query of one page, as `GET /api/v2/container_images` takes it.
#[derive(Debug, Default, Clone)]
pub struct ListParams {
    pub filter: Option<String>,
    pub group_by: Option<String>,
    pub sort: Option<String>,
    pub page_size: Option<u32>,
    pub cursor: Option<String>,
}

impl ListParams {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        let fields = [
            ("filter[tags]", &self.filter),
            ("group_by", &self.group_by),
            ("sort", &self.sort),
        ];
        for (name, value) in fields {
            if let Some(value) = value {
                pairs.push((name, value.clone()));
            }
        }
        if let Some(size) = self.page_size {
            pairs.push(("page[size]", size.to_string()));
        }
        if let Some(cursor) = &self.cursor {
            pairs.push(("page[cursor]", cursor.clone()));
        }
        pairs
    }
}

/// A server and the key pair to present to it.
pub struct Client {
    http: reqwest::Client,
    /// The server's base URL, as the user wrote it (for messages).
    base: String,
    endpoint: Url,
}

impl Client {
    pub fn new(base: &str, api_key: &Secret, app_key: &Secret) -> Result<Self, ClientError> {
        let endpoint = endpoint(base)?;
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert("DD-API-KEY", key_header(&api_key.0, "DD_API_KEY")?);
        headers.insert("DD-APPLICATION-KEY", key_header(&app_key.0, "DD_APP_KEY")?);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("imagedex/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| ClientError::BadUrl {
                url: base.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            endpoint,
        })
    }

    /// One page: of `ContainerImage`s, or of `ContainerImageGroup`s when `group_by` is set.
    pub async fn list<T: DeserializeOwned>(
        &self,
        params: &ListParams,
    ) -> Result<ListResponse<T>, ClientError> {
        let response = self
            .http
            .get(self.endpoint.clone())
            .query(&params.pairs())
            .send()
            .await
            .map_err(|e| ClientError::Unreachable {
                url: self.base.clone(),
                reason: transport_reason(&e),
            })?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable {
                url: self.base.clone(),
                reason: transport_reason(&e),
            })?;

        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| ClientError::Malformed {
                url: self.base.clone(),
                reason: e.to_string(),
            });
        }
        let message = error_message(&body);
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                ClientError::Refused { status, message }
            }
            StatusCode::BAD_REQUEST => ClientError::Rejected { message },
            _ => ClientError::Failed { status, message },
        })
    }
}

/// `<base>/api/v2/container_images`, keeping any path prefix of the base (a proxy's).
fn endpoint(base: &str) -> Result<Url, ClientError> {
    let bad = |reason: &str| ClientError::BadUrl {
        url: base.to_string(),
        reason: reason.to_string(),
    };
    let mut url = Url::parse(base).map_err(|e| bad(&e.to_string()))?;
    match url.scheme() {
        "http" => {}
        "https" => {
            return Err(bad(
                "https is not supported yet; use http:// (or a local proxy)",
            ))
        }
        _ => return Err(bad("use http://HOST:PORT")),
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(bad("use http://HOST:PORT"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url.set_query(None);
    url.set_fragment(None);
    url.join(PATH).map_err(|e| bad(&e.to_string()))
}

fn key_header(key: &str, name: &'static str) -> Result<HeaderValue, ClientError> {
    let mut value = HeaderValue::from_str(key).map_err(|_| ClientError::BadKey { name })?;
    value.set_sensitive(true);
    Ok(value)
}

/// The root cause of a transport failure in a few words: reqwest's own message wraps it in
/// layers that repeat the URL.
fn transport_reason(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "no answer in time".to_string();
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut innermost = error.to_string();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                std::io::ErrorKind::ConnectionReset => "connection reset".to_string(),
                std::io::ErrorKind::TimedOut => "timed out".to_string(),
                _ => io.to_string(),
            };
        }
        innermost = e.to_string();
        source = e.source();
    }
    innermost
}

/// The server's `{"errors": [...]}` joined on one line, else the start of whatever it sent.
fn error_message(body: &[u8]) -> String {
    if let Ok(envelope) = serde_json::from_slice::<ErrorResponse>(body) {
        if !envelope.errors.is_empty() {
            return one_line(&envelope.errors.join("; "));
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = one_line(text.trim());
    if text.is_empty() {
        return "no explanation given".to_string();
    }
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_keeps_a_path_prefix_and_drops_a_query() {
        let url = |base: &str| endpoint(base).map(|u| u.to_string());
        assert_eq!(
            url("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080/api/v2/container_images"
        );
        assert_eq!(
            url("http://proxy/imagedex/?x=1").unwrap(),
            "http://proxy/imagedex/api/v2/container_images"
        );
        assert_eq!(
            url("http://proxy/imagedex").unwrap(),
            "http://proxy/imagedex/api/v2/container_images"
        );
        let https = url("https://images.example.com").unwrap_err().to_string();
        assert!(https.contains("https is not supported"), "{https}");
        assert!(url("127.0.0.1:8080").is_err());
        assert!(url("not a url").is_err());
    }

    #[test]
    fn error_messages_are_one_line() {
        assert_eq!(
            error_message(br#"{"errors":["filter[tags]: bad\nterm","two"]}"#),
            "filter[tags]: bad term; two"
        );
        assert_eq!(
            error_message(b"<html>\n oops\n</html>"),
            "<html> oops </html>"
        );
        assert_eq!(error_message(b""), "no explanation given");
        assert_eq!(error_message(&[b'x'; 300]).chars().count(), 201);
    }

    #[test]
    fn keys_never_show_in_debug_output() {
        let key = Secret::new("abcdef0123456789".to_string());
        assert!(!format!("{key:?}").contains("abcdef"));
    }

    #[test]
    fn parameters_keep_the_contract_order() {
        let params = ListParams {
            filter: Some("a:b".into()),
            sort: Some("-name".into()),
            page_size: Some(2),
            cursor: Some("c".into()),
            ..ListParams::default()
        };
        let names: Vec<&str> = params.pairs().iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            ["filter[tags]", "sort", "page[size]", "page[cursor]"]
        );
    }
}
