//! An app's callback URL, delivered to the way ACS delivers: each callback
//! POSTed at its scheduled time as a JSON array of CloudEvents (one event
//! per request by default), `Content-Type: application/json`, many requests
//! in flight over keep-alive connections. There is no idempotency key on
//! the wire: a retried callback keeps its CloudEvent `id`, which is what an
//! app de-duplicates on.

mod encoder;

pub use encoder::CloudEventsEncoder;

use super::{Target, TargetDefaults, bearer, post, uri};
use crate::emit::deliver::batcher::Batch;
use axum::body::Bytes;
use http::header::HeaderValue;

/// One event per request as ACS posts them, many requests in flight, no
/// retries (what the app refused shows as refused instead of being papered
/// over), and every request tried: the failures are counted by kind.
pub const DEFAULTS: TargetDefaults = TargetDefaults {
    batch_events: 1,
    concurrency: 64,
    retries: 0,
    stop_on_failure: false,
};

/// A callback URL.
#[derive(Clone, Debug)]
pub struct Webhook {
    url: reqwest::Url,
    uri: http::Uri,
    authorization: Option<HeaderValue>,
}

impl Webhook {
    /// `url` is the full callback URL (`http://127.0.0.1:3000/api/callbacks`).
    pub fn new(url: &str, token: Option<&str>) -> Result<Webhook, String> {
        let url = crate::client::http::http_url("--sink", url)?;
        Ok(Webhook {
            uri: uri(&url)?,
            url,
            authorization: token.map(bearer).transpose()?,
        })
    }
}

impl Target for Webhook {
    type Encoder = CloudEventsEncoder;
    const NAME: &'static str = "webhook";

    fn url(&self) -> &reqwest::Url {
        &self.url
    }

    fn encoder(&self, seed: u64) -> CloudEventsEncoder {
        CloudEventsEncoder::new(seed)
    }

    fn fingerprint(&self) -> String {
        "webhook".into()
    }

    fn request(&self, batch: &Batch) -> http::Request<Bytes> {
        post::<CloudEventsEncoder>(&self.uri, batch, self.authorization.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posts_to_the_url_as_given() {
        let hook = Webhook::new("http://127.0.0.1:3000/api/callbacks?x=1", None).unwrap();
        let request = hook.request(&Batch::of_body(0, b"[{}]"));
        assert_eq!(request.uri(), "http://127.0.0.1:3000/api/callbacks?x=1");
        assert_eq!(request.headers()["content-type"], "application/json");
        assert!(request.headers().get("idempotency-key").is_none());
        assert!(request.headers().get("authorization").is_none());
        assert!(Webhook::new("ftp://h/x", None).is_err());
    }
}
