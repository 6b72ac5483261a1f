//! Absolute links of a list response: `self` as received, `first`, `next`, and the `related`
//! link of a group. Brackets stay unencoded, as in Datadog's own links.

use axum::http::{HeaderMap, Uri};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

/// Characters escaped in a link's parameter value; `:`, `,`, `*`, `/` and `@` stay readable.
const VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'>')
    .add(b'=')
    .add(b'?')
    .add(b'[')
    .add(b']')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^');

/// Builds links for one request.
pub struct LinkBuilder {
    base: String,
    path: String,
    self_link: String,
}

impl LinkBuilder {
    /// `public_url` when configured, else `http://` and the request's Host.
    pub fn new(public_url: Option<&str>, headers: &HeaderMap, uri: &Uri) -> Self {
        let base = match public_url {
            Some(url) => url.to_string(),
            None => {
                let host = headers
                    .get(axum::http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .filter(|h| {
                        h.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
                    })
                    .unwrap_or("localhost");
                format!("http://{host}")
            }
        };
        let path = uri.path().to_string();
        let self_link = format!(
            "{base}{}",
            uri.path_and_query().map_or(path.as_str(), |pq| pq.as_str())
        );
        LinkBuilder {
            base,
            path,
            self_link,
        }
    }

    pub fn self_link(&self) -> String {
        self.self_link.clone()
    }

    /// A link to this path with these parameters, in order, values escaped.
    pub fn with_params(&self, params: &[(&str, &str)]) -> String {
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, VALUE)))
            .collect();
        if query.is_empty() {
            format!("{}{}", self.base, self.path)
        } else {
            format!("{}{}?{}", self.base, self.path, query.join("&"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_but_brackets_in_keys_stay() {
        let uri: Uri = "/api/v2/container_images?page%5Bsize%5D=2".parse().unwrap();
        let links = LinkBuilder::new(Some("https://x.test"), &HeaderMap::new(), &uri);
        assert_eq!(
            links.self_link(),
            "https://x.test/api/v2/container_images?page%5Bsize%5D=2"
        );
        assert_eq!(
            links.with_params(&[("filter[tags]", "team:a b&c,env:*"), ("page[size]", "2")]),
            "https://x.test/api/v2/container_images?filter[tags]=team:a%20b%26c,env:*&page[size]=2"
        );
    }
}
