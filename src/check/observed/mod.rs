//! The observed side of a check: a backend answers a [`Query`] in
//! callmetrics' own terms, series (the dimension values of the query's
//! split) to buckets to [`Point`]s, whatever its own wire format. Each
//! backend reads its protocol in its own file: `azure` (the embedded sink's
//! and Azure Monitor's Metrics - List), `promql` (the Prometheus HTTP API,
//! also served by VictoriaMetrics), `memory` (a correct sink in memory, for
//! tests).
//!
//! A backend also says which aggregations it can observe at all (a
//! Prometheus counter has a count but no minimum): the others are not
//! compared, and the report says which were.

pub(super) mod any;
pub(super) mod azure;
mod backend;
#[cfg(test)]
mod fake;
pub(super) mod influxql;
#[cfg(test)]
pub(super) mod memory;
pub(super) mod promql;
mod reading;
mod refusal;

pub(crate) use backend::Backend;
pub(crate) use backend::Where;
pub(crate) use reading::Reading;
pub(crate) use reading::ReadingFlags;
pub(crate) use refusal::{auth_hint, sink_error};

use super::query::Query;
use super::report::{CounterReset, Field};
use super::{BackendName, CheckError};
use crate::catalog::Metric;
use crate::client::{Reply, RetryAction, RetryPolicy, TransportFailure, classify};
use crate::wire::metrics_response::{SeriesLabel, ShowLabel, time_stamp};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::future::Future;

/// How long one query may take and how big its answer may be.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub timeout: std::time::Duration,
    pub max_answer: usize,
}

impl Default for Limits {
    /// 30 s a query (connect to the answer's last byte); 256 MiB an answer.
    fn default() -> Limits {
        Limits {
            timeout: std::time::Duration::from_secs(30),
            max_answer: 256 << 20,
        }
    }
}

/// The body of the answer to `query`, within `limits`.
pub(crate) async fn answer_body(
    response: reqwest::Response,
    limits: &Limits,
    query: &str,
    backend: BackendName,
    url: &str,
) -> Result<Vec<u8>, CheckError> {
    use crate::client::http::{BodyError, body_capped};
    body_capped(response, limits.max_answer)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { limit } => CheckError::Protocol {
                query: query.to_string(),
                reason: format!(
                    "the answer is larger than {limit} bytes (--max-answer-bytes); split the \
                     check (fewer grains) or raise the limit"
                ),
            },
            BodyError::Transport(cause) => CheckError::Connect {
                backend,
                url: url.to_string(),
                cause,
            },
        })
}

/// Retries of a query that met a transient failure.
const QUERY_RETRIES: u32 = 3;

/// A source of observed aggregates.
pub(crate) trait Observed {
    /// The aggregations this backend observes of `metric`, in
    /// [`Field::ALL`] order.
    fn observes(&self, metric: Metric) -> &'static [Field] {
        let _ = metric;
        &Field::ALL
    }

    /// Called once with every query of a check before any is asked, so a
    /// backend can read what they share at once (Prometheus: each name's
    /// raw samples over the whole window).
    fn prepare(&self, queries: &[Query]) -> impl Future<Output = Result<(), CheckError>> + Send {
        let _ = queries;
        async { Ok(()) }
    }

    /// Counter resets seen after `window_start` (Unix ms) in what was read:
    /// the report lists them, since a restarted app explains a loss.
    fn resets(&self, window_start: i64) -> Vec<CounterReset> {
        let _ = window_start;
        Vec::new()
    }

    /// The non-empty buckets of every series the query's split yields.
    fn query(
        &self,
        query: &Query,
    ) -> impl Future<Output = Result<ObservedSeries, CheckError>> + Send;
}

/// One observed bucket; a field the backend did not give is `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Point {
    pub count: Option<u64>,
    pub total: Option<u64>,
    pub minimum: Option<u64>,
    pub maximum: Option<u64>,
    pub average: Option<f64>,
}

impl Point {
    /// Two answers for one cell (a series listed twice) as one, as the
    /// backend would have summed them: counts and totals added (a field
    /// one side lacks adds nothing), extremes of both, the average
    /// recomputed from the sums. `None` when a sum passes 2^64-1.
    pub fn merged(self, other: Point) -> Option<Point> {
        let add = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => a.checked_add(b).map(Some),
            (a, b) => Some(a.or(b)),
        };
        let pick = |a: Option<u64>, b: Option<u64>, f: fn(u64, u64) -> u64| match (a, b) {
            (Some(a), Some(b)) => Some(f(a, b)),
            (a, b) => a.or(b),
        };
        let count = add(self.count, other.count)?;
        let total = add(self.total, other.total)?;
        Some(Point {
            count,
            total,
            minimum: pick(self.minimum, other.minimum, u64::min),
            maximum: pick(self.maximum, other.maximum, u64::max),
            average: match (count, total) {
                (Some(c), Some(t)) if c > 0 => Some(t as f64 / c as f64),
                _ => None,
            },
        })
    }
}

/// Adds `point` to the cell of `label` at `at`, summed with what is there
/// already (the series was listed twice); the error names a cell whose sum
/// passes 2^64-1.
pub(crate) fn add_point(
    out: &mut ObservedSeries,
    label: &SeriesLabel,
    at: i64,
    point: Point,
) -> Result<(), String> {
    let Some(buckets) = out.get_mut(label) else {
        out.insert(label.clone(), BTreeMap::from([(at, point)]));
        return Ok(());
    };
    match buckets.entry(at) {
        Entry::Vacant(cell) => {
            cell.insert(point);
        }
        Entry::Occupied(mut cell) => {
            let sum = cell.get().merged(point).ok_or_else(|| {
                format!(
                    "the series {} is listed more than once and its sum at {} passes 2^64-1",
                    ShowLabel(label),
                    time_stamp(at)
                )
            })?;
            cell.insert(sum);
        }
    }
    Ok(())
}

/// 2^53: a float holds every whole number below it, and no longer every
/// one from it on, so a count read as a float may be off by one there.
const EXACT_IN_FLOAT: f64 = 9_007_199_254_740_992.0;

/// A count or value a backend sent as a float (JSON numbers, Prometheus'
/// sample values), refused unless it is a whole number a float holds
/// exactly.
pub(crate) fn count_from_float(v: f64) -> Result<u64, String> {
    if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0) {
        return Err(format!("{v} is not a whole number >= 0"));
    }
    if v >= EXACT_IN_FLOAT {
        return Err(format!(
            "{v} is too large to be exact: read as a floating-point number, a count is exact \
             only below 2^53 (9007199254740992)"
        ));
    }
    Ok(v as u64)
}

/// Observed cells: series label -> bucket start -> point.
pub(crate) type ObservedSeries = BTreeMap<SeriesLabel, BTreeMap<i64, Point>>;

/// Runs `attempt` until it succeeds, fails for good, or runs out of
/// retries. Queries are idempotent, so a dropped connection or a 429/5xx
/// from a busy pipeline is retried with the client's one set of retry
/// rules; anything else (or the last failure) is the answer.
pub(super) async fn with_retries<T, F: Future<Output = Result<T, CheckError>>>(
    mut attempt: impl FnMut() -> F,
) -> Result<T, CheckError> {
    let policy = RetryPolicy::new(QUERY_RETRIES);
    let mut retry = 0;
    loop {
        let result = attempt().await;
        let reply = match &result {
            Err(CheckError::Connect { cause, .. }) => Reply::Transport {
                kind: TransportFailure::Connect,
                message: cause.to_string(),
            },
            Err(CheckError::Sink { status, .. }) => Reply::status(*status),
            _ => return result,
        };
        match classify(&reply, policy.retryable) {
            RetryAction::Retry { after } if retry < policy.max_retries => {
                let wait = policy.delay(retry, after, &mut rand::rng());
                tokio::time::sleep(wait).await;
                retry += 1;
            }
            _ => return result,
        }
    }
}
