//! Raw samples from the Prometheus HTTP API: a range selector evaluated as
//! an instant query (`NAME{..}[RANGEms]` at time T) answers every stored
//! sample in (T - RANGE, T] as it was written, with no lookback and no
//! extrapolation. A long window is read in consecutive ranges sized from
//! the density of the previous answer, so one request carries about
//! [`SAMPLES_PER_READ`] samples whatever the scrape or sample interval.

use super::super::{Limits, answer_body, count_from_float, with_retries};
use crate::check::{BackendName, CheckError};
use reqwest::Url;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Samples one read aims at: a few MB of JSON, far under Prometheus'
/// default `--query.max-samples` (50 M).
pub(super) const SAMPLES_PER_READ: u64 = 200_000;
/// The first read's range, before the density is known.
const FIRST_RANGE_MS: i64 = 3_600_000;
const MIN_RANGE_MS: i64 = 60_000;
const MAX_RANGE_MS: i64 = 7 * 86_400_000;

/// A series' labels (without `__name__`).
pub(super) type Labels = BTreeMap<String, String>;

/// One series' samples, sorted by time: (Unix ms, whole value).
pub(super) type Samples = Vec<(i64, u64)>;

/// Where and how the API is asked.
#[derive(Clone, Debug)]
pub(super) struct Api {
    pub client: reqwest::Client,
    pub query_url: Url,
    pub limits: Limits,
    /// Requests sent, for the report's note on what a check cost.
    pub requests: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Api {
    /// Every sample of `selector` (`NAME{matchers}`) in `(from, to]`.
    pub(super) async fn samples(
        &self,
        selector: &str,
        from: i64,
        to: i64,
    ) -> Result<BTreeMap<Labels, Samples>, CheckError> {
        let mut out: BTreeMap<Labels, Samples> = BTreeMap::new();
        let mut range = FIRST_RANGE_MS;
        let mut at = from;
        while at < to {
            let end = (at + range).min(to);
            let expr = format!("{selector}[{}ms]", end - at);
            let answer = match with_retries(|| self.matrix(&expr, end)).await {
                Ok(answer) => answer,
                // A server that will not load that many samples at once
                // (Prometheus' --query.max-samples) is asked for less.
                Err(e) if too_many_samples(&e) && end - at > MIN_RANGE_MS => {
                    range = ((end - at) / 2).max(MIN_RANGE_MS);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut read = 0u64;
            for series in answer {
                let mut labels = series.metric;
                labels.remove("__name__");
                let samples = out.entry(labels).or_default();
                for (time, value) in series.values {
                    let t = time_ms(time).ok_or_else(|| protocol(&expr, end, time))?;
                    // Both ends of a range are inclusive on some servers
                    // (Prometheus before 3.0): a sample on a read's start
                    // belongs to the previous read.
                    if t <= at || t > end {
                        continue;
                    }
                    // Stale markers (a NaN) end a series; they count nothing.
                    if value == "NaN" {
                        continue;
                    }
                    let v = parse_count(&value).map_err(|reason| CheckError::Protocol {
                        query: describe(&expr, end),
                        reason: format!("value {value:?}: {reason}"),
                    })?;
                    samples.push((t, v));
                    read += 1;
                }
            }
            range = next_range(end - at, read);
            at = end;
        }
        for samples in out.values_mut() {
            // Reads come in time order and never overlap, but a server may
            // list a series' samples in any order within one answer.
            samples.sort_unstable_by_key(|&(t, _)| t);
            samples.dedup_by_key(|&mut (t, _)| t);
        }
        out.retain(|_, samples| !samples.is_empty());
        Ok(out)
    }

    /// The matrix answer to `expr` at `time_ms`.
    async fn matrix(&self, expr: &str, time_ms: i64) -> Result<Vec<RangeSeries>, CheckError> {
        let mut url = self.query_url.clone();
        url.query_pairs_mut()
            .append_pair("query", expr)
            .append_pair("time", &seconds(time_ms))
            // VictoriaMetrics caches query results; a check must see the data.
            .append_pair("nocache", "1");
        let connect = |cause| CheckError::Connect {
            backend: BackendName::Prometheus,
            url: self.query_url.to_string(),
            cause,
        };
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let response = self.client.get(url).send().await.map_err(connect)?;
        let status = response.status();
        let what = describe(expr, time_ms);
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
                    super::super::sink_error(BackendName::Prometheus, &what, status, &body);
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
                // Prometheus behind an auth proxy may answer 401 in its own
                // JSON shape.
                hint: super::super::auth_hint(status).to_string(),
            });
        }
        let data = answer.data.ok_or_else(|| CheckError::Protocol {
            query: what.clone(),
            reason: "a success without data".into(),
        })?;
        match data.result_type.as_str() {
            "matrix" => Ok(data.result),
            other => Err(CheckError::Protocol {
                query: what,
                reason: format!("expected a matrix of raw samples, got a {other}"),
            }),
        }
    }
}

/// The next read's range: about [`SAMPLES_PER_READ`] at the density just
/// seen.
fn next_range(range: i64, samples: u64) -> i64 {
    let scaled = (range as u128 * SAMPLES_PER_READ as u128 / samples.max(1) as u128) as i64;
    scaled.clamp(MIN_RANGE_MS, MAX_RANGE_MS)
}

fn too_many_samples(e: &CheckError) -> bool {
    match e {
        CheckError::Sink { message, .. } => message.contains("too many samples"),
        CheckError::Protocol { reason, .. } => reason.contains("--max-answer-bytes"),
        _ => false,
    }
}

/// `time` as the API takes it: Unix seconds with milliseconds.
pub(super) fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

fn describe(expr: &str, time_ms: i64) -> String {
    format!(
        "{expr} at {}",
        crate::wire::metrics_response::time_stamp(time_ms)
    )
}

fn protocol(expr: &str, time_ms: i64, time: f64) -> CheckError {
    CheckError::Protocol {
        query: describe(expr, time_ms),
        reason: format!("sample time {time} is not Unix seconds"),
    }
}

/// A sample's time (Unix seconds with up to millisecond precision) in
/// Unix ms.
fn time_ms(seconds: f64) -> Option<i64> {
    seconds
        .is_finite()
        .then(|| (seconds * 1000.0).round() as i64)
}

/// A counter value: Prometheus sends floats as strings; a count must be a
/// whole number below 2^53, where every whole number is exact in a float.
fn parse_count(text: &str) -> Result<u64, String> {
    let v: f64 = text.parse().map_err(|_| "not a number".to_string())?;
    count_from_float(v)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    status: String,
    data: Option<Data>,
    error_type: Option<String>,
    error: Option<String>,
}

/// Parsed straight into samples: a day of a few hundred series is
/// millions of them, and a JSON tree of them would take ten times the
/// memory. Another result type (a vector's `value`) leaves `values` empty,
/// and is refused by its `resultType`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    #[serde(default)]
    result: Vec<RangeSeries>,
}

#[derive(Deserialize)]
struct RangeSeries {
    #[serde(default)]
    metric: Labels,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_whole_numbers_below_2_pow_53() {
        assert_eq!(parse_count("12"), Ok(12));
        assert_eq!(parse_count("1e+06"), Ok(1_000_000));
        assert_eq!(parse_count("9007199254740991"), Ok((1 << 53) - 1));
        let err = parse_count("9007199254740992").unwrap_err();
        assert!(err.contains("exact only below 2^53"), "{err}");
        for bad in ["1e20", "1.5", "-1", "NaN", "+Inf", "x"] {
            assert!(parse_count(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_are_sized_from_the_density_seen() {
        // One sample a minute for 363 series: an hour holds 21,780, so the
        // next read spans about nine hours.
        assert_eq!(next_range(3_600_000, 21_780), 33_057_851);
        // A dense answer shrinks the range, never below a minute.
        assert_eq!(next_range(3_600_000, 100_000_000), MIN_RANGE_MS);
        // An empty one grows it to a week.
        assert_eq!(next_range(3_600_000, 0), MAX_RANGE_MS);
        assert_eq!(seconds(1_700_000_000_123), "1700000000.123");
        assert_eq!(time_ms(1700000000.123), Some(1_700_000_000_123));
        assert_eq!(time_ms(f64::NAN), None);
    }
}
