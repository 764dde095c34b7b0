//! An app's callback URL, delivered to the way ACS delivers: each callback
//! POSTed at its scheduled time as a JSON array of CloudEvents (one event
//! per request by default), `Content-Type: application/json`, many requests
//! in flight over keep-alive connections. There is no idempotency key on
//! the wire: a retried callback keeps its CloudEvent `id`, which is what an
//! app de-duplicates on.

mod encoder;
pub mod oidc;
pub mod sign;

pub use encoder::CloudEventsEncoder;
pub use oidc::OidcServer;
pub use sign::Signer;

use super::{Target, TargetDefaults, bearer, post, uri};
use crate::client::Retryable;
use crate::emit::deliver::Compression;
use crate::emit::deliver::batcher::Batch;
use axum::body::Bytes;
use http::header::HeaderValue;
use std::sync::Arc;
use std::time::SystemTime;

/// One event per request as ACS posts them, many requests in flight, no
/// retries (what the app refused shows as refused instead of being papered
/// over), and every request tried: the failures are counted by kind.
pub const DEFAULTS: TargetDefaults = TargetDefaults {
    batch_events: 1,
    concurrency: 64,
    retries: 0,
    stop_on_failure: false,
    compression: Compression::None,
    retryable: Retryable::Http,
};

/// A callback URL.
#[derive(Clone)]
pub struct Webhook {
    url: reqwest::Url,
    uri: http::Uri,
    authorization: Authorization,
}

/// What a request's `Authorization` header carries.
#[derive(Clone)]
enum Authorization {
    None,
    /// A fixed bearer token (`--token`).
    Static(HeaderValue),
    /// A fresh signed JWT per request (`--sign`).
    Signed(Arc<Signer>),
}

impl Webhook {
    /// `url` is the full callback URL (`http://127.0.0.1:3000/api/callbacks`).
    pub fn new(url: &str, token: Option<&str>) -> Result<Webhook, String> {
        let url = crate::client::http::http_url("--sink", url)?;
        Ok(Webhook {
            uri: uri(&url)?,
            url,
            authorization: match token {
                Some(token) => Authorization::Static(bearer(token)?),
                None => Authorization::None,
            },
        })
    }

    /// Every request signed by `signer`, as ACS signs callbacks.
    pub fn signed(self, signer: Arc<Signer>) -> Webhook {
        Webhook {
            authorization: Authorization::Signed(signer),
            ..self
        }
    }
}

impl Target for Webhook {
    type Encoder = CloudEventsEncoder;
    const NAME: &'static str = "webhook";

    fn url(&self) -> &reqwest::Url {
        &self.url
    }

    fn encoder(&self, seed: u64, _paced: bool) -> CloudEventsEncoder {
        CloudEventsEncoder::new(seed)
    }

    fn fingerprint(&self) -> String {
        "webhook".into()
    }

    fn request(&self, batch: &Batch) -> http::Request<Bytes> {
        match &self.authorization {
            Authorization::None => post::<CloudEventsEncoder>(&self.uri, batch, None),
            Authorization::Static(value) => {
                post::<CloudEventsEncoder>(&self.uri, batch, Some(value))
            }
            Authorization::Signed(signer) => {
                let token = signer.token(SystemTime::now());
                let value = bearer(&token).ok();
                post::<CloudEventsEncoder>(&self.uri, batch, value.as_ref())
            }
        }
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

    #[test]
    fn signed_requests_carry_a_fresh_token_each() {
        let signer = Arc::new(
            Signer::generate("1b6f2c7a-2a54-4b7e-9f3c-0f1e2d3c4b5a", sign::ACS_ISSUER).unwrap(),
        );
        let hook = Webhook::new("http://127.0.0.1:3000/cb", None)
            .unwrap()
            .signed(signer);
        let auth =
            |r: http::Request<Bytes>| r.headers()["authorization"].to_str().unwrap().to_string();
        let first = auth(hook.request(&Batch::of_body(0, b"[{}]")));
        assert!(first.starts_with("Bearer ey"), "{first}");
        assert_eq!(first.matches('.').count(), 2);
    }
}
