//! An app's callback URL, delivered to the way ACS delivers: each callback
//! POSTed at its scheduled time as a JSON array of CloudEvents (one event
//! per request by default), `Content-Type: application/json`, many requests
//! in flight over keep-alive connections. There is no idempotency key on
//! the wire: a retried callback keeps its CloudEvent `id`, which is what an
//! app de-duplicates on.

mod encoder;
pub(crate) mod oidc;
pub mod sign;

pub(crate) use encoder::CloudEventsEncoder;
pub use oidc::OidcServer;
pub use sign::Signer;

use super::{Target, TargetDefaults, TargetFlagError, bearer, post, uri};
use crate::client::Retryable;
use crate::emit::deliver::Compression;
use crate::emit::deliver::batcher::Batch;
use crate::emit::deliver::stats::CarriedEvent;
use crate::engine::IdKey;
use axum::body::Bytes;
use http::header::HeaderValue;
use std::sync::Arc;
use std::time::SystemTime;

/// One event per request as ACS posts them, many requests in flight, no
/// retries (what the app refused shows as refused instead of being papered
/// over), and every request tried: the failures are counted by kind.
pub(crate) const DEFAULTS: TargetDefaults = TargetDefaults {
    batch_events: 1,
    concurrency: 64,
    retries: 0,
    stop_on_failure: false,
    compression: Compression::None,
    retryable: Retryable::Http,
};

/// A callback URL.
#[derive(Clone)]
pub(crate) struct Webhook {
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
    pub(crate) fn new(url: &str, token: Option<&str>) -> Result<Webhook, TargetFlagError> {
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
    pub(crate) fn signed(self, signer: Arc<Signer>) -> Webhook {
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

    fn encoder(&self, ids: IdKey, _paced: bool) -> CloudEventsEncoder {
        CloudEventsEncoder::new(ids)
    }

    fn fingerprint(&self) -> String {
        "webhook".into()
    }

    /// The body is the array of CloudEvents the app received.
    fn carried(&self, batch: &Batch) -> Option<Vec<CarriedEvent>> {
        serde_json::from_slice(&batch.raw_body().ok()?).ok()
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

    // Issue #18, item 6: a failed request names the CloudEvents it
    // carried, read back from its body (gzipped or not).
    #[test]
    fn a_batch_names_the_cloud_events_it_carried() {
        use crate::emit::deliver::batcher::{Batcher, Cut};
        use crate::engine::{EventStream, Workload};
        use crate::model::Grain;
        let scenario = crate::scenario::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/outbound-notification.json"
        )))
        .unwrap();
        let workload = Workload::calls(5, 3, 10.0);
        let hook = Webhook::new("http://127.0.0.1:3000/cb", None).unwrap();
        for compression in [Compression::None, Compression::Gzip] {
            let cut = Cut {
                max_events: 4,
                window: std::time::Duration::from_secs(1),
                speed: None,
            };
            let encoder = CloudEventsEncoder::new(crate::engine::IdKey::of(&scenario, &workload));
            let mut batcher = Batcher::new(encoder, 1, cut, compression, Grain::MINUTE);
            let batch = EventStream::new(&scenario, &workload)
                .find_map(|e| batcher.push(&e))
                .unwrap();
            let sent: Vec<serde_json::Value> =
                serde_json::from_slice(&batch.raw_body().unwrap()).unwrap();
            let carried = hook.carried(&batch).unwrap();
            assert_eq!(carried.len(), 4);
            for (c, e) in carried.iter().zip(&sent) {
                assert_eq!(c.id, e["id"].as_str().unwrap());
                assert_eq!(c.event_type, e["type"].as_str().unwrap());
                assert_eq!(
                    c.call_connection_id,
                    e["data"]["callConnectionId"].as_str().unwrap()
                );
                assert!(!c.call_connection_id.is_empty());
            }
        }
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
