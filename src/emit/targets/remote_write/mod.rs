//! Prometheus remote write 1.0 (`POST /api/v1/write` of Prometheus started
//! with `--web.enable-remote-write-receiver`, or of VictoriaMetrics): the
//! events as cumulative counters sampled at fixed instants of the event
//! timeline (`encoder.rs`), protobuf `WriteRequest`, snappy block
//! compression, the spec's headers, one request in flight so every series'
//! samples arrive in time order, a stale marker per series when the
//! stream ends, and the spec's retries: 429 and every 5xx (501 included)
//! with back-off, never another 4xx.

mod encoder;

pub use encoder::CounterEncoder;
#[cfg(test)]
pub(crate) use encoder::STALE_NAN;

use super::{
    Target, TargetDefaults, TargetFlagError, USER_AGENT, bearer, post, sample_interval_ms, uri,
};
use crate::client::Retryable;
use crate::emit::deliver::Compression;
use crate::emit::deliver::batcher::Batch;
use crate::engine::IdKey;
use crate::model::{AggregateTable, Grain};
use crate::wire::remote_write::{VERSION, VERSION_HEADER, WriteRequest};
use axum::body::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use prost::Message;
use std::time::Duration;

/// One request in flight: a series' samples must arrive in time order (a
/// later sample accepted first makes the earlier one "out of order").
pub(crate) const DEFAULTS: TargetDefaults = TargetDefaults {
    batch_events: usize::MAX,
    concurrency: 1,
    retries: 8,
    stop_on_failure: true,
    compression: Compression::Snappy,
    retryable: Retryable::RemoteWrite,
};

/// Refuses more than one request in flight. Remote write 1.0 requires each
/// series' samples in time order, and every request holds every series:
/// two in flight may land out of order, and the receiver refuses the older
/// (real Prometheus answered `--concurrency 4` with 400 "out of order
/// sample"). Sharding series over connections by their labels, as
/// Prometheus' own queue does, would need the driver to keep each shard on
/// one worker; one connection already keeps a receiver busy with requests
/// of thousands of samples.
pub(crate) fn concurrency(requests: usize) -> Result<(), TargetFlagError> {
    if requests <= 1 {
        return Ok(());
    }
    Err(TargetFlagError::RemoteWriteConcurrency {
        requests,
        samples_per_request: encoder::SAMPLES_PER_REQUEST,
    })
}

/// A remote-write receiver.
#[derive(Clone, Debug)]
pub(crate) struct RemoteWrite {
    url: reqwest::Url,
    uri: http::Uri,
    authorization: Option<HeaderValue>,
    interval_ms: i64,
    grain: Grain,
    stale_markers: bool,
}

impl RemoteWrite {
    /// `url` is the full write URL (`http://127.0.0.1:9090/api/v1/write`);
    /// samples every `interval`, which must divide `grain` so that every
    /// bucket boundary is a sample instant.
    pub(crate) fn new(
        url: &str,
        token: Option<&str>,
        interval: Duration,
        grain: Grain,
    ) -> Result<RemoteWrite, TargetFlagError> {
        let url = crate::client::http::http_url("--sink", url)?;
        let interval_ms = sample_interval_ms(interval, grain)?;
        Ok(RemoteWrite {
            uri: uri(&url)?,
            url,
            authorization: token.map(bearer).transpose()?,
            interval_ms,
            grain,
            stale_markers: true,
        })
    }

    /// No stale markers when the stream ends (`--no-stale-markers`): the
    /// series then read as live for the receiver's lookback (5 minutes).
    pub(crate) fn without_stale_markers(self) -> RemoteWrite {
        RemoteWrite {
            stale_markers: false,
            ..self
        }
    }
}

impl Target for RemoteWrite {
    type Encoder = CounterEncoder;
    const NAME: &'static str = "remote-write";

    fn url(&self) -> &reqwest::Url {
        &self.url
    }

    /// Paced, every sample instant goes out as it passes (as a scraper's
    /// would); at the maximum rate, instants are gathered into bigger
    /// requests.
    fn encoder(&self, _ids: IdKey, paced: bool) -> CounterEncoder {
        let mut encoder = CounterEncoder::new(self.interval_ms, self.grain);
        if !self.stale_markers {
            encoder = encoder.without_stale_markers();
        }
        if paced {
            encoder.samples_per_request(1)
        } else {
            encoder
        }
    }

    fn fingerprint(&self) -> String {
        format!(
            "remote-write|{}|{}|{}",
            self.interval_ms, self.grain, self.stale_markers
        )
    }

    fn request(&self, batch: &Batch) -> http::Request<Bytes> {
        let mut request = post::<CounterEncoder>(&self.uri, batch, self.authorization.as_ref());
        let headers = request.headers_mut();
        headers.insert(
            HeaderName::from_static(VERSION_HEADER),
            HeaderValue::from_static(VERSION),
        );
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        request
    }

    /// The samples closing the last bucket, or their stale markers.
    fn last_stamp(&self, last_event_ms: i64) -> Option<i64> {
        let end = self.grain.bucket(last_event_ms) + self.grain.millis();
        Some(
            end + if self.stale_markers {
                self.interval_ms
            } else {
                0
            },
        )
    }

    /// A stale marker for every delivered series at the first sample
    /// instant after any timestamp a request wrote (one a receiver may have
    /// applied without its answer arriving included, so no marker is ever
    /// out of order): remote write 1.0 requires it of a sender whose series
    /// stop, however they stop.
    fn ending(&self, delivered: &AggregateTable, stamped_ms: i64) -> Option<(Batch, String)> {
        if !self.stale_markers {
            return None;
        }
        let series: std::collections::BTreeSet<_> = delivered.cells().map(|(s, ..)| s).collect();
        let at_ms = super::instant_after(stamped_ms, self.interval_ms);
        let (raw, counters) =
            CounterEncoder::new(self.interval_ms, self.grain).stale_markers(series, at_ms);
        if counters == 0 {
            return None;
        }
        let mut at = Vec::new();
        crate::wire::rfc3339::TimeWriter::default().write_millis(&mut at, at_ms);
        let what = format!(
            "stale markers for {counters} series at {}",
            String::from_utf8_lossy(&at)
        );
        Some((Batch::ending(raw, Compression::Snappy, at_ms), what))
    }

    /// The first sample: `name{label="value",..} 12 @ 2026-01-01T00:00:15.000Z`.
    fn first_item(&self, batch: &Batch) -> Option<String> {
        let raw = snap::raw::Decoder::new().decompress_vec(&batch.body).ok()?;
        let request = WriteRequest::decode(&raw[..]).ok()?;
        let series = request.timeseries.first()?;
        let sample = series.samples.first()?;
        let name = series.labels.iter().find(|l| l.name == "__name__")?;
        let labels: Vec<String> = series
            .labels
            .iter()
            .filter(|l| l.name != "__name__")
            .map(|l| format!("{}={:?}", l.name, l.value))
            .collect();
        let mut at = Vec::new();
        crate::wire::rfc3339::TimeWriter::default().write_millis(&mut at, sample.timestamp);
        Some(format!(
            "{}{{{}}} {} @ {}",
            name.value,
            labels.join(","),
            sample.value,
            String::from_utf8_lossy(&at)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_of_the_spec() {
        let rw = RemoteWrite::new(
            "http://127.0.0.1:9090/api/v1/write",
            None,
            Duration::from_secs(15),
            Grain::MINUTE,
        )
        .unwrap();
        let mut batch = Batch::of_body(0, b"x");
        batch.compression = Compression::Snappy;
        let request = rw.request(&batch);
        let h = request.headers();
        assert_eq!(h["content-type"], "application/x-protobuf");
        assert_eq!(h["content-encoding"], "snappy");
        assert_eq!(h["x-prometheus-remote-write-version"], "0.1.0");
        assert!(h.get("idempotency-key").is_none());
    }

    #[test]
    fn a_refused_request_names_its_first_sample() {
        use crate::wire::remote_write::{Label, Sample, TimeSeries};
        let rw = RemoteWrite::new(
            "http://h:1/api/v1/write",
            None,
            Duration::from_secs(15),
            Grain::MINUTE,
        )
        .unwrap();
        let body = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![
                    Label {
                        name: "__name__".into(),
                        value: "c_total".into(),
                    },
                    Label {
                        name: "code".into(),
                        value: "200".into(),
                    },
                ],
                samples: vec![Sample {
                    value: 12.0,
                    timestamp: 1_767_225_615_000,
                }],
            }],
        }
        .encode_to_vec();
        let mut batch = Batch::of_body(0, b"");
        batch.body = snap::raw::Encoder::new()
            .compress_vec(&body)
            .unwrap()
            .into();
        assert_eq!(
            rw.first_item(&batch).unwrap(),
            "c_total{code=\"200\"} 12 @ 2026-01-01T00:00:15.000Z"
        );
    }

    #[test]
    fn one_request_in_flight_at_most() {
        assert!(concurrency(1).is_ok());
        let err = concurrency(4).unwrap_err().to_string();
        assert!(
            err.starts_with("--concurrency 4 with --target remote-write")
                && err.contains("out of order")
                && err.contains("use --concurrency 1"),
            "{err}"
        );
    }

    #[test]
    fn the_sample_interval_must_divide_the_grain() {
        let new = |secs| {
            RemoteWrite::new(
                "http://h:1/api/v1/write",
                None,
                Duration::from_secs(secs),
                Grain::MINUTE,
            )
        };
        assert!(new(15).is_ok() && new(60).is_ok() && new(1).is_ok());
        let err = new(7).unwrap_err().to_string();
        assert!(err.contains("must divide the grain PT1M"), "{err}");
        assert!(new(0).is_err() && new(120).is_err());
    }
}
