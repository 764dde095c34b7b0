//! Targets: how events become requests, one folder per wire protocol. A
//! target names its [`Encoder`] (the body, on the generator thread) and
//! builds the request of a batch; pacing, batching, retries, stats and
//! progress are the delivery engine's (`emit::deliver`), written once.
//!
//! Adding a protocol means adding a folder here with a `Target` and an
//! `Encoder`, and one variant of [`Kind`] with its arm in `choice.rs`.

pub(crate) mod azure_monitor;
mod choice;
pub(crate) mod influx;
pub(crate) mod ingest;
pub(crate) mod remote_write;
pub(crate) mod webhook;

pub(crate) use choice::{Deliver, Signing, TargetOptions};

use super::deliver::batcher::{Batch, Compression, Encoder};
use super::deliver::stats::CarriedEvent;
use crate::client::Retryable;
use crate::engine::IdKey;
use crate::model::{AggregateTable, Grain};
use axum::body::Bytes;
use http::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};

/// `User-Agent` of the targets that write into a database, so its logs
/// and limits can tell the load generator from real writers.
pub(crate) const USER_AGENT: &str = concat!("callmetrics/", env!("CARGO_PKG_VERSION"));

/// A flag's value a target refuses, in the words the flag's user reads.
#[derive(Debug, thiserror::Error)]
pub enum TargetFlagError {
    #[error(transparent)]
    Url(#[from] crate::client::http::UrlError),
    #[error("{url} cannot be requested: {reason}")]
    Uri {
        url: reqwest::Url,
        reason: http::uri::InvalidUri,
    },
    #[error("the token contains characters not allowed in a header")]
    Token,
    #[error(
        "--sample-interval {} must divide the grain {grain} and be at least 1s (e.g. 15s or 30s \
         for PT1M), so that every bucket boundary is a sample",
        humantime::format_duration(*interval)
    )]
    SampleInterval {
        interval: std::time::Duration,
        grain: Grain,
    },
    #[error("--sink {0}: name the database, e.g. http://127.0.0.1:8086/write?db=callmetrics")]
    NoDatabase(reqwest::Url),
    #[error(
        "--sink {0}: give the metrics endpoint, \
         https://REGION.monitoring.azure.com/RESOURCE_ID/metrics (a callmetrics sink: \
         http://HOST:PORT/metrics)"
    )]
    NotMetrics(reqwest::Url),
    /// Remote write 1.0 keeps each series' samples in time order only with
    /// one request in flight (see `remote_write::concurrency`).
    #[error(
        "--concurrency {requests} with --target remote-write: remote write 1.0 requires every \
         series' samples in time order, and requests in flight together can land out of order \
         (Prometheus refuses the older ones: 400 \"out of order sample\"); use --concurrency 1 \
         (the default): at --max-rate each request carries about {samples_per_request} \
         samples, enough to keep a receiver busy"
    )]
    RemoteWriteConcurrency {
        requests: usize,
        samples_per_request: usize,
    },
}

/// The wire protocols `run --target` delivers with; each variant's doc
/// comment is its entry in `run --help`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// NDJSON sample batches to a sink's POST {URL}/ingest, with idempotency keys
    /// (defaults: --batch-size 5000, --concurrency 4, --retries 8).
    #[default]
    Ingest,
    /// Each callback POSTed to the URL as ACS posts it: a JSON array of CloudEvents; API
    /// request events are not sent (defaults: --events-per-request 1, --concurrency 64,
    /// --retries 0).
    Webhook,
    /// Prometheus remote write 1.0 to --sink (Prometheus with
    /// --web.enable-remote-write-receiver, VictoriaMetrics): cumulative counters per
    /// dimension combination, sampled every --sample-interval on the event timeline and on
    /// every bucket boundary, snappy protobuf, one request in flight, 429 and every 5xx
    /// retried, a stale marker per series at the end (defaults: --concurrency 1, --retries
    /// 8); check with --backend promql.
    RemoteWrite,
    /// InfluxDB 1.x line protocol to --sink http://HOST:PORT/write?db=NAME: per
    /// --sample-interval and series one point of count/sum/min/max, ms precision (defaults:
    /// --concurrency 4, --retries 8); check with --backend influxql.
    Influx,
    /// Azure Monitor custom metrics to --sink
    /// https://REGION.monitoring.azure.com/RESOURCE_ID/metrics (default: the embedded sink's
    /// /metrics): per minute one request of its ingestion documents (what generate --format
    /// azure-monitor writes), sent as the minute closes; a run that would break Azure's limits
    /// (documents at most 20m old and 5m ahead when sent, 50000 series, 4 MB per request) is
    /// refused before it starts. Token: --token, else AZURE_ACCESS_TOKEN (defaults:
    /// --concurrency 4, --retries 8).
    AzureMonitor,
}

/// A wire protocol and where it sends to.
pub trait Target: Send + Sync + 'static {
    type Encoder: Encoder;

    /// The target's name in summaries and `--target`.
    const NAME: &'static str;

    /// Where requests go.
    fn url(&self) -> &reqwest::Url;

    /// A fresh encoder for a run whose ids derive from `ids`, paced or at
    /// the maximum rate.
    fn encoder(&self, ids: IdKey, paced: bool) -> Self::Encoder;

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

    /// The latest timestamp written for a stream whose last event is at
    /// `last_event_ms`, for targets that write into a time-series database
    /// at the events' times (whose receivers may refuse samples too far
    /// ahead of their clock); `None` for the others.
    fn last_stamp(&self, last_event_ms: i64) -> Option<i64> {
        let _ = last_event_ms;
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

    /// The request that ends a stream cut short (Ctrl-C, a request that
    /// failed for good), whose last request, carrying the stream's ending,
    /// was never delivered: `delivered` is what was acknowledged, and
    /// requests sent wrote timestamps up to `stamped_ms`. With what it
    /// carries, for the summary. `None` for targets whose streams need no
    /// ending.
    fn ending(&self, delivered: &AggregateTable, stamped_ms: i64) -> Option<(Batch, String)> {
        let _ = (delivered, stamped_ms);
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
pub(crate) fn post<E: Encoder>(
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
pub(crate) fn sample_interval_ms(
    interval: std::time::Duration,
    grain: Grain,
) -> Result<i64, TargetFlagError> {
    let ms = interval.as_millis() as i64;
    if ms < 1000 || grain.millis() % ms != 0 {
        return Err(TargetFlagError::SampleInterval { interval, grain });
    }
    Ok(ms)
}

/// The first sample instant (a multiple of `interval_ms`) after `time_ms`.
pub(crate) fn instant_after(time_ms: i64, interval_ms: i64) -> i64 {
    time_ms.div_euclid(interval_ms) * interval_ms + interval_ms
}

/// How far ahead of the clock a run may write before it is said: Mimir
/// refuses samples more than 10 minutes ahead by default, and a run takes
/// a while to reach its last ones.
pub(crate) const AHEAD_WARNING: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// A warning, when a run would write timestamps more than
/// [`AHEAD_WARNING`] ahead of `now_ms`. Its events span `first_ms` to
/// `last_ms` (`last_stamp` its latest timestamp written), from a workload
/// starting at `start_ms`; `speed` is `None` at the maximum rate, where
/// everything is written at once. A paced event is written `(t - first) /
/// speed` after the start, so the lead is greatest at the last event when
/// faster than real time, at the first otherwise.
pub(crate) fn ahead_of_clock(
    (first_ms, last_ms): (i64, i64),
    last_stamp: i64,
    start_ms: i64,
    now_ms: i64,
    speed: Option<f64>,
) -> Option<String> {
    let written = |t: i64| match speed {
        None => now_ms,
        Some(speed) => now_ms + ((t - first_ms) as f64 / speed) as i64,
    };
    let lead = (first_ms - written(first_ms)).max(last_stamp - written(last_ms));
    if lead <= AHEAD_WARNING.as_millis() as i64 {
        return None;
    }
    // The same schedule moved back by the lead ends by now; on a whole
    // minute, so bucket boundaries stay where they were.
    let start = (start_ms - lead).div_euclid(60_000) * 60_000;
    let mut at = Vec::new();
    crate::wire::rfc3339::TimeWriter::default().write_millis(&mut at, last_stamp);
    let mut suggested = Vec::new();
    crate::wire::rfc3339::TimeWriter::default().write_millis(&mut suggested, start);
    let lead = std::time::Duration::from_secs(lead as u64 / 1000);
    Some(format!(
        "warning: this run writes timestamps up to {} ahead of the clock (the last at {}), \
         which a receiver with a limit on future samples refuses (Mimir: more than 10m \
         ahead); start the workload in the past, e.g. --start {}, so that the whole \
         schedule has already happened",
        humantime::format_duration(lead),
        String::from_utf8_lossy(&at),
        String::from_utf8_lossy(&suggested).replace(".000Z", "Z"),
    ))
}

/// `Authorization: Bearer TOKEN`, marked sensitive so it is never logged.
pub(crate) fn bearer(token: &str) -> Result<HeaderValue, TargetFlagError> {
    let mut value =
        HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| TargetFlagError::Token)?;
    value.set_sensitive(true);
    Ok(value)
}

/// `url` as the request URI type.
fn uri(url: &reqwest::Url) -> Result<http::Uri, TargetFlagError> {
    url.as_str().parse().map_err(|reason| TargetFlagError::Uri {
        url: url.clone(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    const MIN: i64 = 60_000;

    #[test]
    fn a_run_far_ahead_of_the_clock_is_said_with_a_start_in_the_past() {
        // At the maximum rate, the last sample of a 53-minute schedule
        // starting now is written 53 minutes ahead.
        let span = (NOW + 1000, NOW + 52 * MIN);
        let warning = ahead_of_clock(span, NOW + 53 * MIN, NOW, NOW, None).unwrap();
        assert!(
            warning.contains("up to 53m ahead of the clock (the last at 2026-01-01T00:53:00.000Z)")
                && warning.contains("--start 2025-12-31T23:07:00Z"),
            "{warning}"
        );
        // In real time nothing is ahead; ten times faster, 90% of it is.
        assert_eq!(
            ahead_of_clock(span, NOW + 53 * MIN, NOW, NOW, Some(1.0)),
            None
        );
        let fast = ahead_of_clock(span, NOW + 53 * MIN, NOW, NOW, Some(10.0)).unwrap();
        assert!(fast.contains("up to 47m 48s ahead"), "{fast}");
        // The suggested start writes it all in the past.
        assert_eq!(
            ahead_of_clock(
                (span.0 - 53 * MIN, span.1 - 53 * MIN),
                NOW,
                NOW - 53 * MIN,
                NOW,
                None
            ),
            None
        );
        // A start in the future leads by itself, even in real time.
        let later = (NOW + 20 * MIN, NOW + 25 * MIN);
        assert!(ahead_of_clock(later, NOW + 26 * MIN, NOW + 20 * MIN, NOW, Some(1.0)).is_some());
        // Five minutes ahead is still fine.
        let short = (NOW, NOW + 4 * MIN);
        assert_eq!(ahead_of_clock(short, NOW + 5 * MIN, NOW, NOW, None), None);
    }
}
