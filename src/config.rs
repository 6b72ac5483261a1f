//! The configuration file, `imagedex.toml`: one typed struct, read once at start.
//!
//! Layers, later ones winning: built-in defaults, then the file, then `IMAGEDEX_*` environment
//! variables, then flags (clap merges the last two, so a flag or its variable overrides the
//! file). Unknown keys are errors, so a misspelt setting is never silently ignored. Each crate
//! owns the settings of its part (`[database]` and `[serve]` are the binary's); a commented
//! sample is `docs/imagedex.example.toml`, checked by a test below.

use anyhow::{Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything the file can say.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub database: DatabaseConfig,
    pub serve: ServeConfig,
    pub client: ClientConfig,
}

/// `[database]`: where the store is and how to reach it.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH`, a bare path, or `postgres://...`.
    pub url: Option<String>,
    pub pool_size: Option<u32>,
    #[serde(with = "optional_duration")]
    pub statement_timeout: Option<Duration>,
}

/// `[serve]`: the API server.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    pub listen: Option<String>,
    pub public_url: Option<String>,
}

/// `[client]`: the server `imagedex images` asks.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    /// Base URL, such as `http://127.0.0.1:8080`.
    pub url: Option<String>,
}

impl Config {
    /// Reads the file at `explicit` (which must exist), else the default file when there is
    /// one, else the defaults. Returns the path read, for the log.
    pub fn load(explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>)> {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None => match default_path() {
                Some(path) if path.is_file() => path,
                _ => return Ok((Config::default(), None)),
            },
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the configuration file {}", path.display()))?;
        let config = Config::parse(&text)
            .with_context(|| format!("in the configuration file {}", path.display()))?;
        Ok((config, Some(path)))
    }

    /// Parses the text of a configuration file.
    pub fn parse(text: &str) -> Result<Config> {
        Ok(toml::from_str(text)?)
    }
}

/// `$XDG_CONFIG_HOME/imagedex/imagedex.toml`, else `~/.config/imagedex/imagedex.toml`.
pub fn default_path() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".config"),
    };
    Some(base.join("imagedex").join("imagedex.toml"))
}

/// Durations written as humans do (`30s`, `5m`, `1h 30m`).
pub mod optional_duration {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        humantime::parse_duration(&text)
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("'{text}' is not a duration: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_file_parses() {
        let sample = include_str!("../docs/imagedex.example.toml");
        let config = Config::parse(sample).expect("the sample configuration should parse");
        assert_eq!(config.serve.listen.as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(config.client.url.as_deref(), Some("http://127.0.0.1:8080"));
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let error = Config::parse("[serve]\nlisten = \"x\"\nlistne = \"y\"\n").unwrap_err();
        assert!(format!("{error:#}").contains("listne"), "{error:#}");
        let error = Config::parse("[sevre]\n").unwrap_err();
        assert!(format!("{error:#}").contains("sevre"), "{error:#}");
    }

    #[test]
    fn durations_are_read_as_humans_write_them() {
        let config = Config::parse("[database]\nstatement_timeout = \"1m 30s\"\n").unwrap();
        assert_eq!(
            config.database.statement_timeout,
            Some(Duration::from_secs(90))
        );
        let error = Config::parse("[database]\nstatement_timeout = \"soon\"\n").unwrap_err();
        assert!(format!("{error:#}").contains("'soon'"), "{error:#}");
    }

    #[test]
    fn an_explicit_file_must_exist() {
        let error = Config::load(Some(Path::new("/nonexistent/imagedex.toml"))).unwrap_err();
        assert!(format!("{error:#}").contains("/nonexistent/imagedex.toml"));
    }
}
