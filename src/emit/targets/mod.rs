//! Targets: how events become requests, one folder per wire protocol. A
//! target names its [`Encoder`] (the body, on the generator thread) and
//! builds the request of a batch; pacing, batching, retries, stats and
//! progress are the delivery engine's (`emit::deliver`), written once.
//!
//! Adding a protocol means adding a folder here with a `Target` and an
//! `Encoder`, and one variant to `run --target`.

pub mod influx;
pub mod ingest;
pub mod remote_write;
pub mod webhook;

use super::deliver::batcher::{Batch, Compression, Encoder};
use super::deliver::stats::CarriedEvent;
use crate::client::Retryable;
use crate::engine::Grain;
use axum::body::Bytes;
use http::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};

/// A wire protocol and where it sends to.
pub trait Target: Send + Sync + 'static {
    type Encoder: Encoder;

    /// The target's name in summaries and `--target`.
    const NAME: &'static str;

    /// Where requests go.
    fn url(&self) -> &reqwest::Url;

    /// A fresh encoder for a run with this seed (ids derive from it),
    /// paced or at the maximum rate.
    fn encoder(&self, seed: u64, paced: bool) -> Self::Encoder;

    /// Everything about the target that changes what its batches hold
    /// (naming, ...): part of the run's fingerprint.
    fn fingerprint(&self) -> String;

    /// The request of one attempt of `batch`; built anew per attempt, so a
    /// signed request carries a fresh token.
    fn request(&self, batch: &Batch) -> http::Request<Bytes>;

    /// What a refused batch holds first, for the failure message (remote
    /// write: the first sample, which servers' errors do not always name).
    fn first_item(&self, batch: &Batch) -> Option<String> {
        let _ = batch;
        None
    }

    /// Each event a failed batch carried, as its receiver would log it,
    /// for targets whose receiver logs events one by one (webhook). Read
    /// back from the body, and only for the failures a report lists, so
    /// delivered requests pay nothing for it; `None` describes the batch
    /// by its event count and time range only.
    fn carried(&self, batch: &Batch) -> Option<Vec<CarriedEvent>> {
        let _ = batch;
        None
    }
}

/// The delivery settings a target uses unless told otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetDefaults {
    /// Events per request (`--batch-size`, `--events-per-request`).
    pub batch_events: usize,
    /// Requests in flight (`--concurrency`).
    pub concurrency: usize,
    /// Retries per request (`--retries`).
    pub retries: u32,
    /// Stop at the first request that failed for good, or try them all and
    /// count the failures.
    pub stop_on_failure: bool,
    /// Body compression the protocol calls for (gzip may be asked for
    /// where it is none).
    pub compression: Compression,
    /// Which statuses the protocol retries.
    pub retryable: Retryable,
}

/// A POST of `batch` to `uri` with the headers every target sends: its
/// encoder's content type, the body's encoding and the authorization.
pub fn post<E: Encoder>(
    uri: &http::Uri,
    batch: &Batch,
    authorization: Option<&HeaderValue>,
) -> http::Request<Bytes> {
    let mut request = http::Request::new(batch.body.clone());
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = uri.clone();
    let headers = request.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(E::CONTENT_TYPE));
    if let Some(encoding) = batch.compression.content_encoding() {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    if let Some(auth) = authorization {
        headers.insert(AUTHORIZATION, auth.clone());
    }
    request
}

/// The sample interval of a target that writes at fixed instants of the
/// event timeline (remote write, influx), in ms: at least a second, and a
/// divisor of `grain`, so that every bucket boundary is a sample instant.
pub fn sample_interval_ms(interval: std::time::Duration, grain: Grain) -> Result<i64, String> {
    let ms = interval.as_millis() as i64;
    if ms < 1000 || grain.millis() % ms != 0 {
        return Err(format!(
            "--sample-interval {} must divide the grain {grain} and be at least 1s (e.g. 15s or \
             30s for PT1M), so that every bucket boundary is a sample",
            humantime::format_duration(interval)
        ));
    }
    Ok(ms)
}

/// The first sample instant (a multiple of `interval_ms`) after `time_ms`.
pub fn instant_after(time_ms: i64, interval_ms: i64) -> i64 {
    time_ms.div_euclid(interval_ms) * interval_ms + interval_ms
}

/// `Authorization: Bearer TOKEN`, marked sensitive so it is never logged.
pub fn bearer(token: &str) -> Result<HeaderValue, String> {
    let mut value = HeaderValue::try_from(format!("Bearer {token}"))
        .map_err(|_| "the token contains characters not allowed in a header")?;
    value.set_sensitive(true);
    Ok(value)
}

/// `url` as the request URI type.
fn uri(url: &reqwest::Url) -> Result<http::Uri, String> {
    url.as_str()
        .parse()
        .map_err(|e| format!("{url} cannot be requested: {e}"))
}
