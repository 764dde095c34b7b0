//! The Prometheus HTTP API backend (Prometheus, VictoriaMetrics): counters
//! read with instant queries at chosen times, never `rate()` or
//! `increase()`, whose extrapolation would make exact counts inexact.
//!
//! For a split by dimensions `d1..dn` (mapped to labels `l1..ln`) the query
//! is `sum by (l1, .., ln) (NAME)` (`sum(NAME)` for the metric total),
//! evaluated with `GET /api/v1/query?query=..&time=T&nocache=1` one
//! millisecond after each instant below (so a sample exactly on it is
//! always inside the lookback window):
//! - per bucket: at every bucket boundary `b0 < b1 < .. < bn` of the
//!   timespan; bucket `[bk, bk+1)` holds `value(bk+1) - value(bk)`. Exact
//!   when samples fall on the boundaries (remote write does that).
//! - totals (`--totals`): at the window's start and at its end (now, by
//!   default); one bucket holding the difference. Exact for counters a
//!   scraper read at any times, once the last scrape is in.
//!
//! A series absent at a time counts as 0 (a counter not yet created). The
//! latency metric reads `NAME_count` and `NAME_sum`. A counter that goes
//! down inside the window is a protocol error: the difference means
//! nothing.

use super::{Limits, Observed, ObservedSeries, Point, answer_body, count_from_float, with_retries};
use crate::catalog::Metric;
use crate::check::mapping::{Mapping, MetricMapping};
use crate::check::query::Query;
use crate::check::report::Field;
use crate::check::{BackendName, CheckError};
use crate::wire::metrics_response::{SeriesLabel, ShowLabel};
use reqwest::Url;
use serde::Deserialize;
use std::collections::BTreeMap;

/// How long after an instant its counters are read.
const READ_AFTER_MS: i64 = 1;

const COUNT: &[Field] = &[Field::Count];
const COUNT_TOTAL: &[Field] = &[Field::Count, Field::Total];

/// A Prometheus-compatible query API.
#[derive(Clone, Debug)]
pub struct PromqlObserved {
    client: reqwest::Client,
    query_url: Url,
    mapping: Mapping,
    /// With totals, the instant the window is read up to (Unix ms).
    totals_end: i64,
    limits: Limits,
}

impl PromqlObserved {
    /// `base_url` is the server's root (`http://127.0.0.1:9090`); `token`,
    /// when given, is sent as `Authorization: Bearer TOKEN`; with totals,
    /// counters are read at the window's start and at `totals_end`.
    pub fn new(
        base_url: &str,
        token: Option<&str>,
        mapping: Mapping,
        totals_end: i64,
        limits: Limits,
    ) -> Result<PromqlObserved, CheckError> {
        let invalid = |reason: String| CheckError::Url {
            url: base_url.to_string(),
            reason,
        };
        let base = crate::client::http::http_url("--observed", base_url).map_err(&invalid)?;
        let query_url = Url::parse(&format!(
            "{}/api/v1/query",
            base.as_str().trim_end_matches('/')
        ))
        .map_err(|e| invalid(e.to_string()))?;
        let client = crate::client::http::client(&base, token, 4, limits.timeout)
            .map_err(CheckError::Usage)?;
        Ok(PromqlObserved {
            client,
            query_url,
            mapping,
            totals_end,
            limits,
        })
    }

    /// The instant vector of `expr` at `time_ms`: label values -> value.
    async fn instant(&self, expr: &str, time_ms: i64) -> Result<Vec<Sample>, CheckError> {
        // Read a millisecond after the instant: a sample exactly at it is
        // then inside every server's lookback window (VictoriaMetrics may
        // leave out a lone sample at exactly the query time), and nothing
        // is ever written between an instant and the next millisecond.
        let at = time_ms + READ_AFTER_MS;
        let time = format!("{}.{:03}", at.div_euclid(1000), at.rem_euclid(1000));
        let mut url = self.query_url.clone();
        url.query_pairs_mut()
            .append_pair("query", expr)
            .append_pair("time", &time)
            // VictoriaMetrics caches query results; a check must see the data.
            .append_pair("nocache", "1");
        let connect = |cause| CheckError::Connect {
            backend: BackendName::Prometheus,
            url: self.query_url.to_string(),
            cause,
        };
        let response = self.client.get(url).send().await.map_err(connect)?;
        let status = response.status();
        let what = format!(
            "{expr} at {}",
            crate::wire::metrics_response::time_stamp(time_ms)
        );
        let body = answer_body(
            response,
            &self.limits,
            &what,
            BackendName::Prometheus,
            self.query_url.as_str(),
        )
        .await?;
        let answer: Answer = serde_json::from_slice(&body).map_err(|e| {
            if status.is_success() {
                CheckError::Protocol {
                    query: what.clone(),
                    reason: format!("not a Prometheus API answer: {e}"),
                }
            } else {
                let mut err =
                    super::azure::sink_error(BackendName::Prometheus, &what, status, &body);
                if let CheckError::Sink { hint, .. } = &mut err
                    && status == reqwest::StatusCode::NOT_FOUND
                {
                    *hint = "; is --observed a Prometheus or VictoriaMetrics base URL? (for \
                             InfluxDB use --backend influxql)"
                        .into();
                }
                err
            }
        })?;
        if answer.status != "success" || !status.is_success() {
            return Err(CheckError::Sink {
                backend: BackendName::Prometheus,
                query: what,
                status: status.as_u16(),
                code: answer
                    .error_type
                    .map_or(String::new(), |t| format!(", {t}")),
                message: answer.error.unwrap_or_else(|| "no message".into()),
                hint: String::new(),
            });
        }
        let data = answer.data.ok_or_else(|| CheckError::Protocol {
            query: what.clone(),
            reason: "a success without data".into(),
        })?;
        if data.result_type != "vector" {
            return Err(CheckError::Protocol {
                query: what,
                reason: format!("expected a vector, got a {}", data.result_type),
            });
        }
        data.result
            .into_iter()
            .map(|r| {
                let value = parse_count(&r.value.1).map_err(|reason| CheckError::Protocol {
                    query: what.clone(),
                    reason: format!("value {:?}: {reason}", r.value.1),
                })?;
                Ok(Sample {
                    labels: r.metric,
                    value,
                })
            })
            .collect()
    }

    /// Differences of `expr` between consecutive `times`, per series
    /// label, keyed by the earlier time (by the window's start for totals).
    async fn deltas(
        &self,
        expr: &str,
        mapping: &MetricMapping,
        query: &Query,
        times: &[i64],
    ) -> Result<BTreeMap<SeriesLabel, BTreeMap<i64, u64>>, CheckError> {
        let dims = query.split.dimensions(query.metric);
        let mut before: BTreeMap<SeriesLabel, u64> = BTreeMap::new();
        let mut out: BTreeMap<SeriesLabel, BTreeMap<i64, u64>> = BTreeMap::new();
        for (i, &t) in times.iter().enumerate() {
            let samples = with_retries(|| self.instant(expr, t)).await?;
            let mut now: BTreeMap<SeriesLabel, u64> = BTreeMap::new();
            for sample in samples {
                let label: SeriesLabel = dims
                    .iter()
                    .map(|&d| {
                        let value = sample.labels.get(mapping.label(d)).cloned();
                        (d, value.unwrap_or_default())
                    })
                    .collect();
                *now.entry(label).or_default() += sample.value;
            }
            if i > 0 {
                let bucket = if query.totals {
                    query.timespan.0
                } else {
                    times[i - 1]
                };
                for (label, &value) in &now {
                    let old = before.get(label).copied().unwrap_or(0);
                    let delta = value.checked_sub(old).ok_or_else(|| CheckError::Protocol {
                        query: format!(
                            "{expr} at {}",
                            crate::wire::metrics_response::time_stamp(t)
                        ),
                        reason: format!(
                            "the counter of {} went down from {old} to {value} (a \
                             counter reset inside the window cannot be compared)",
                            ShowLabel(label)
                        ),
                    })?;
                    if delta > 0 {
                        out.entry(label.clone()).or_default().insert(bucket, delta);
                    }
                }
                if let Some((label, _)) = before
                    .iter()
                    .find(|(l, v)| **v > 0 && !now.contains_key(*l))
                {
                    return Err(CheckError::Protocol {
                        query: format!(
                            "{expr} at {}",
                            crate::wire::metrics_response::time_stamp(t)
                        ),
                        reason: format!(
                            "the series {} disappeared (stale or deleted): its \
                             counter cannot be read at this time",
                            ShowLabel(label)
                        ),
                    });
                }
            }
            before = now;
        }
        Ok(out)
    }
}

/// `sum by (l1, ..) (NAME)`, or `sum(NAME)` without labels.
fn expression(name: &str, labels: &[&str]) -> String {
    if labels.is_empty() {
        format!("sum({name})")
    } else {
        format!("sum by ({}) ({name})", labels.join(", "))
    }
}

/// The times a query reads its counters at.
fn times(query: &Query, totals_end: i64) -> Vec<i64> {
    let (start, end) = query.timespan;
    if query.totals {
        return vec![start, totals_end.max(start)];
    }
    let step = query.grain.millis();
    let mut out: Vec<i64> = (0..)
        .map(|k| start + k * step)
        .take_while(|t| *t < end)
        .collect();
    // A coarser grain's last boundary can lie beyond the last sample (and
    // a server's lookback): read the counters where the data ends.
    out.push(end.min(query.data_end));
    out
}

impl Observed for PromqlObserved {
    fn observes(&self, metric: Metric) -> &'static [Field] {
        match (self.mapping.get(metric), metric) {
            (None, _) => &[],
            (Some(_), Metric::ApiRequestLatency) => COUNT_TOTAL,
            (Some(_), _) => COUNT,
        }
    }

    async fn query(&self, query: &Query) -> Result<ObservedSeries, CheckError> {
        let mapping = self.mapping.get(query.metric).ok_or_else(|| {
            CheckError::Usage(format!("the mapping does not map {}", query.metric))
        })?;
        let labels: Vec<&str> = query
            .split
            .dimensions(query.metric)
            .iter()
            .map(|&d| mapping.label(d))
            .collect();
        let times = times(query, self.totals_end);
        let (count_name, total_name) = match query.metric {
            Metric::ApiRequestLatency => (
                format!("{}_count", mapping.name),
                Some(format!("{}_sum", mapping.name)),
            ),
            _ => (mapping.name.clone(), None),
        };
        let counts = self
            .deltas(&expression(&count_name, &labels), mapping, query, &times)
            .await?;
        let totals = match total_name {
            Some(name) => {
                self.deltas(&expression(&name, &labels), mapping, query, &times)
                    .await?
            }
            None => BTreeMap::new(),
        };
        let mut out = ObservedSeries::new();
        for (label, buckets) in counts {
            for (bucket, count) in buckets {
                let point = out
                    .entry(label.clone())
                    .or_default()
                    .entry(bucket)
                    .or_default();
                point.count = Some(count);
            }
        }
        for (label, buckets) in totals {
            for (bucket, total) in buckets {
                let point: &mut Point = out
                    .entry(label.clone())
                    .or_default()
                    .entry(bucket)
                    .or_default();
                point.total = Some(total);
            }
        }
        Ok(out)
    }
}

/// A counter value: Prometheus sends floats as strings; counts must be
/// whole and below 2^53, where floats stop being exact integers.
fn parse_count(text: &str) -> Result<u64, String> {
    let v: f64 = text.parse().map_err(|_| "not a number".to_string())?;
    count_from_float(v)
}

struct Sample {
    labels: BTreeMap<String, String>,
    value: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    status: String,
    data: Option<Data>,
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    #[serde(default)]
    result: Vec<VectorSample>,
}

#[derive(Deserialize)]
struct VectorSample {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    value: (serde_json::Value, String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Split;
    use crate::engine::Grain;

    #[test]
    fn expressions_and_times() {
        assert_eq!(expression("c_total", &[]), "sum(c_total)");
        assert_eq!(
            expression("c_total", &["code", "version"]),
            "sum by (code, version) (c_total)"
        );
        let q = Query {
            metric: Metric::CallbackEvents,
            grain: Grain::MINUTE,
            split: Split::Total,
            timespan: (60_000, 240_000),
            totals: false,
            data_end: i64::MAX,
        };
        assert_eq!(times(&q, 0), [60_000, 120_000, 180_000, 240_000]);
        let totals = Query { totals: true, ..q };
        assert_eq!(times(&totals, 900_000), [60_000, 900_000]);
        // A window end before the start reads nothing new.
        assert_eq!(times(&totals, 0), [60_000, 60_000]);
        // An hour bucket whose data ends after 3 minutes is read where the
        // data ends, not at its end an hour later (past every sample).
        let hour = Query {
            grain: "PT1H".parse().unwrap(),
            timespan: (0, 3_600_000),
            data_end: 180_000,
            ..q
        };
        assert_eq!(times(&hour, 0), [0, 180_000]);
    }

    /// A server answering every query with `status` and `body`.
    async fn answering(status: u16, body: &'static str) -> String {
        let app = axum::Router::new().fallback(move || async move {
            (axum::http::StatusCode::from_u16(status).unwrap(), body)
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    fn totals_query() -> Query {
        Query {
            metric: Metric::CallbackEvents,
            grain: Grain::MINUTE,
            split: Split::Total,
            timespan: (60_000, 120_000),
            totals: true,
            data_end: i64::MAX,
        }
    }

    #[tokio::test]
    async fn a_prometheus_error_is_reported_with_its_message() {
        let url = answering(
            422,
            r#"{"status":"error","errorType":"execution","error":"query timed out in expression evaluation"}"#,
        )
        .await;
        let observed = PromqlObserved::new(
            &url,
            None,
            Mapping::default_naming(),
            120_000,
            Limits::default(),
        )
        .unwrap();
        let err = observed
            .query(&totals_query())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("the Prometheus server rejected the query for ")
                && err.contains("sum(acs_callautomation_callback_events_total)")
                && err.contains("(HTTP 422, execution): query timed out in expression evaluation"),
            "{err}"
        );
        let url = answering(200, "<html>not prometheus</html>").await;
        let observed = PromqlObserved::new(
            &url,
            None,
            Mapping::default_naming(),
            120_000,
            Limits::default(),
        )
        .unwrap();
        let err = observed
            .query(&totals_query())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a Prometheus API answer"), "{err}");
    }

    // Issue #17: a Prometheus behind auth got no token.
    #[tokio::test]
    async fn the_token_is_sent_as_a_bearer_header() {
        let fake = super::super::fake::serve(
            200,
            r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
        )
        .await;
        let observed = PromqlObserved::new(
            &fake.url,
            Some("s3cret"),
            Mapping::default_naming(),
            120_000,
            Limits::default(),
        )
        .unwrap();
        observed.query(&totals_query()).await.unwrap();
        let asked = fake.asked();
        assert_eq!(asked.len(), 2, "the window's start and end");
        for request in asked {
            assert_eq!(request.authorization.as_deref(), Some("Bearer s3cret"));
        }
    }

    #[test]
    fn counts_are_whole_numbers() {
        assert_eq!(parse_count("12"), Ok(12));
        assert_eq!(parse_count("1e+06"), Ok(1_000_000));
        assert!(parse_count("1.5").is_err());
        assert!(parse_count("-1").is_err());
        assert!(parse_count("NaN").is_err());
        assert!(parse_count("+Inf").is_err());
        // 2^53 + 1 reads as 2^53: from there on a float is no exact count.
        assert_eq!(parse_count("9007199254740991"), Ok(9_007_199_254_740_991));
        let err = parse_count("9007199254740992").unwrap_err();
        assert!(err.contains("exact only below 2^53"), "{err}");
    }
}
