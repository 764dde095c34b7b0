//! The embedded sink's `POST /ingest` (and any sink that speaks it): NDJSON
//! sample lines in the events.jsonl format without payloads, thousands per
//! request, each batch with an `Idempotency-Key` so a retry of a batch the
//! sink already applied is acknowledged and not counted twice.

mod encoder;

pub use encoder::NdjsonEncoder;

use super::{Target, TargetDefaults, TargetFlagError, bearer, post, uri};
use crate::catalog::Naming;
use crate::client::Retryable;
use crate::emit::deliver::Compression;
use crate::emit::deliver::batcher::Batch;
use crate::engine::IdKey;
use axum::body::Bytes;
use http::header::{HeaderName, HeaderValue};

/// Thousands of events per request, a few requests in flight (the sink
/// parses on every core it has), retried until delivered; after a batch
/// failed for good there is no point going on.
pub const DEFAULTS: TargetDefaults = TargetDefaults {
    batch_events: 5000,
    concurrency: 4,
    retries: 8,
    stop_on_failure: true,
    compression: Compression::None,
    retryable: Retryable::Http,
};

/// The header carrying a batch's id.
pub(crate) const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// A sink's ingest endpoint.
#[derive(Clone, Debug)]
pub struct Ingest {
    url: reqwest::Url,
    uri: http::Uri,
    authorization: Option<HeaderValue>,
    naming: Naming,
}

impl Ingest {
    /// `base` is the sink's root (`http://127.0.0.1:8650`); batches go to
    /// `{base}/ingest`.
    pub fn new(base: &str, token: Option<&str>, naming: Naming) -> Result<Ingest, TargetFlagError> {
        let base_url = crate::client::http::http_url("--sink", base)?;
        let url = crate::client::http::http_url(
            "--sink",
            &format!("{}/ingest", base_url.as_str().trim_end_matches('/')),
        )?;
        Ok(Ingest {
            uri: uri(&url)?,
            url,
            authorization: token.map(bearer).transpose()?,
            naming,
        })
    }
}

impl Target for Ingest {
    type Encoder = NdjsonEncoder;
    const NAME: &'static str = "ingest";

    fn url(&self) -> &reqwest::Url {
        &self.url
    }

    fn encoder(&self, ids: IdKey, _paced: bool) -> NdjsonEncoder {
        NdjsonEncoder::new(ids, self.naming)
    }

    fn fingerprint(&self) -> String {
        format!("ingest|{:?}", self.naming)
    }

    fn request(&self, batch: &Batch) -> http::Request<Bytes> {
        let mut request = post::<NdjsonEncoder>(&self.uri, batch, self.authorization.as_ref());
        if let Ok(key) = HeaderValue::try_from(batch.idempotency_key()) {
            request.headers_mut().insert(IDEMPOTENCY_KEY, key);
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_url_and_headers() {
        let ok = Ingest::new("http://127.0.0.1:8650/", Some("s3cret"), Naming::Azure).unwrap();
        assert_eq!(ok.url().as_str(), "http://127.0.0.1:8650/ingest");
        let prefixed = Ingest::new("http://h:1/metrics-sink", None, Naming::Azure).unwrap();
        assert_eq!(prefixed.url().as_str(), "http://h:1/metrics-sink/ingest");
        assert!(Ingest::new("127.0.0.1:8650", None, Naming::Azure).is_err());
        assert!(Ingest::new("ftp://127.0.0.1", None, Naming::Azure).is_err());
        assert!(Ingest::new("https://127.0.0.1:8650", None, Naming::Azure).is_ok());

        let batch = Batch::of_body(3, b"{}\n");
        let request = ok.request(&batch);
        let headers = request.headers();
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(request.uri(), "http://127.0.0.1:8650/ingest");
        assert_eq!(headers["content-type"], "application/x-ndjson");
        assert_eq!(headers["authorization"], "Bearer s3cret");
        assert_eq!(headers["idempotency-key"], "cm-00000000000000ab-3");
        assert!(headers.get("content-encoding").is_none());
        assert_eq!(request.body().as_ref(), b"{}\n");
    }
}
