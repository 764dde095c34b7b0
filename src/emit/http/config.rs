//! Settings of the HTTP emitter, one field per `run` flag, with the defaults
//! as named constants so the CLI and the docs cannot drift from them.

use super::retry::RetryPolicy;
use crate::catalog::Naming;
use std::time::Duration;

/// Events per batch at most (`--batch-size`).
pub const DEFAULT_BATCH_EVENTS: usize = 5000;
/// A paced batch is closed once its events span this much schedule time
/// (`--batch-window`).
pub const DEFAULT_BATCH_WINDOW: Duration = Duration::from_millis(50);
/// Batches in flight at once (`--concurrency`).
pub const DEFAULT_CONCURRENCY: usize = 4;
/// Retries per batch (`--retries`).
pub const DEFAULT_RETRIES: u32 = 8;
/// gzip bodies (`--gzip`): off, on loopback it costs more than it saves.
pub const DEFAULT_GZIP: bool = false;
/// Longest one request may take, connect to last byte of the answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a connection attempt may take.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How `run` talks to a sink's `/ingest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpSinkConfig {
    /// Base URL of the sink (`http://host:port`); batches go to `{base_url}/ingest`.
    pub base_url: String,
    /// Events per batch at most.
    pub batch_events: usize,
    /// Under scheduled pacing, a batch is closed once its events span this
    /// much schedule time (event time divided by speed). Ignored under
    /// `Pacing::Max`, where batches close by size only.
    pub batch_window: Duration,
    /// Batches in flight at once; the generator waits when all are busy.
    pub concurrency: usize,
    /// Compress bodies with gzip (`Content-Encoding: gzip`).
    pub gzip: bool,
    /// Retries and back-off.
    pub retry: RetryPolicy,
    /// Sent as `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Dimension naming of the sample lines.
    pub naming: Naming,
    /// Live progress on stderr.
    pub progress: bool,
    /// Stop sending after the first batch that failed for good (the batches
    /// already in flight still finish).
    pub stop_on_failure: bool,
}

impl HttpSinkConfig {
    /// The defaults, sending to `base_url`.
    pub fn new(base_url: impl Into<String>) -> HttpSinkConfig {
        HttpSinkConfig {
            base_url: base_url.into(),
            batch_events: DEFAULT_BATCH_EVENTS,
            batch_window: DEFAULT_BATCH_WINDOW,
            concurrency: DEFAULT_CONCURRENCY,
            gzip: DEFAULT_GZIP,
            retry: RetryPolicy::new(DEFAULT_RETRIES),
            token: None,
            timeout: DEFAULT_TIMEOUT,
            naming: Naming::default(),
            progress: false,
            stop_on_failure: true,
        }
    }

    /// The ingest URL, or why the settings cannot work.
    pub fn check(&self) -> Result<reqwest::Url, String> {
        if self.batch_events == 0 {
            return Err("--batch-size must be at least 1".into());
        }
        if self.concurrency == 0 {
            return Err("--concurrency must be at least 1".into());
        }
        let base = reqwest::Url::parse(&self.base_url)
            .map_err(|e| format!("--sink {:?} is not a URL: {e}", self.base_url))?;
        if base.scheme() != "http" {
            return Err(format!(
                "--sink {:?}: only http:// is supported (this build has no TLS)",
                self.base_url
            ));
        }
        let ingest = format!("{}/ingest", self.base_url.trim_end_matches('/'));
        reqwest::Url::parse(&ingest).map_err(|e| format!("--sink {:?}: {e}", self.base_url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_settings() {
        let ok = HttpSinkConfig::new("http://127.0.0.1:8650/");
        assert_eq!(ok.check().unwrap().as_str(), "http://127.0.0.1:8650/ingest");
        let prefixed = HttpSinkConfig::new("http://h:1/metrics-sink");
        assert_eq!(
            prefixed.check().unwrap().as_str(),
            "http://h:1/metrics-sink/ingest"
        );
        assert!(HttpSinkConfig::new("127.0.0.1:8650").check().is_err());
        assert!(HttpSinkConfig::new("https://example.com").check().is_err());
        let zero = HttpSinkConfig {
            concurrency: 0,
            ..HttpSinkConfig::new("http://h:1")
        };
        assert!(zero.check().is_err());
    }
}
