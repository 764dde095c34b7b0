//! InfluxDB 1.x (`POST /write?db=NAME`): line protocol, per sample
//! interval and series one point of count/sum/min/max (`encoder.rs`),
//! millisecond precision, a few requests in flight (points may arrive in
//! any order), HTTP's retries. Read back with `check --backend influxql`.

mod encoder;

pub use encoder::LineEncoder;

use super::{
    Target, TargetDefaults, TargetFlagError, USER_AGENT, bearer, post, sample_interval_ms, uri,
};
use crate::client::Retryable;
use crate::emit::deliver::Compression;
use crate::emit::deliver::batcher::Batch;
use crate::engine::IdKey;
use crate::model::Grain;
use axum::body::Bytes;
use http::header::{self, HeaderValue};
use std::time::Duration;

pub(crate) const DEFAULTS: TargetDefaults = TargetDefaults {
    batch_events: usize::MAX,
    concurrency: 4,
    retries: 8,
    stop_on_failure: true,
    compression: Compression::None,
    retryable: Retryable::Http,
};

/// An InfluxDB write endpoint.
#[derive(Clone, Debug)]
pub(crate) struct Influx {
    url: reqwest::Url,
    uri: http::Uri,
    authorization: Option<HeaderValue>,
    interval_ms: i64,
}

impl Influx {
    /// `url` is `http://HOST:PORT/write?db=NAME`; `precision=ms` is added.
    /// Points every `interval`, which must divide `grain`.
    pub(crate) fn new(
        url: &str,
        token: Option<&str>,
        interval: Duration,
        grain: Grain,
    ) -> Result<Influx, TargetFlagError> {
        let mut url = crate::client::http::http_url("--sink", url)?;
        if !url.query_pairs().any(|(k, v)| k == "db" && !v.is_empty()) {
            return Err(TargetFlagError::NoDatabase(url));
        }
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "precision")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(pairs)
            .append_pair("precision", "ms");
        let interval_ms = sample_interval_ms(interval, grain)?;
        Ok(Influx {
            uri: uri(&url)?,
            url,
            authorization: token.map(bearer).transpose()?,
            interval_ms,
        })
    }
}

impl Target for Influx {
    type Encoder = LineEncoder;
    const NAME: &'static str = "influx";

    fn url(&self) -> &reqwest::Url {
        &self.url
    }

    /// Paced, every interval goes out as it ends; at the maximum rate,
    /// intervals are gathered into bigger requests.
    fn encoder(&self, _ids: IdKey, paced: bool) -> LineEncoder {
        let encoder = LineEncoder::new(self.interval_ms);
        if paced {
            encoder.lines_per_request(1)
        } else {
            encoder
        }
    }

    fn fingerprint(&self) -> String {
        format!("influx|{}", self.interval_ms)
    }

    /// The last interval's point, stamped at its start.
    fn last_stamp(&self, last_event_ms: i64) -> Option<i64> {
        Some(last_event_ms.div_euclid(self.interval_ms) * self.interval_ms)
    }

    fn request(&self, batch: &Batch) -> http::Request<Bytes> {
        let mut request = post::<LineEncoder>(&self.uri, batch, self.authorization.as_ref());
        request
            .headers_mut()
            .insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_is_required_and_precision_is_ms() {
        let new = |url| Influx::new(url, None, Duration::from_secs(15), Grain::MINUTE);
        let ok = new("http://127.0.0.1:8086/write?db=cm&precision=s").unwrap();
        assert_eq!(
            ok.url().as_str(),
            "http://127.0.0.1:8086/write?db=cm&precision=ms"
        );
        let err = new("http://127.0.0.1:8086/write").unwrap_err().to_string();
        assert!(err.contains("name the database"), "{err}");
        assert!(new("http://127.0.0.1:8086/write?db=").is_err());
    }

    #[test]
    fn requests_name_the_writer() {
        let influx = Influx::new(
            "http://127.0.0.1:8086/write?db=cm",
            None,
            Duration::from_secs(15),
            Grain::MINUTE,
        )
        .unwrap();
        let request = influx.request(&Batch::of_body(0, b"m v=1i 0\n"));
        let agent = request.headers()["user-agent"].to_str().unwrap();
        assert_eq!(agent, format!("callmetrics/{}", env!("CARGO_PKG_VERSION")));
    }
}
