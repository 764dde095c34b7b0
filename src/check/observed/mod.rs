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

pub mod any;
pub mod azure;
pub mod influxql;
pub mod memory;
pub mod promql;

use super::CheckError;
use super::query::Query;
use super::report::{CounterReset, Field};
use crate::catalog::Metric;
use crate::client::{Reply, RetryAction, RetryPolicy, TransportFailure, classify};
use crate::wire::metrics_response::SeriesLabel;
use std::collections::BTreeMap;
use std::future::Future;

/// How long one query may take and how big its answer may be.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
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
            BodyError::Transport(source) => CheckError::Connect {
                url: url.to_string(),
                source,
            },
        })
}

/// Retries of a query that met a transient failure.
const QUERY_RETRIES: u32 = 3;

/// A source of observed aggregates.
pub trait Observed {
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

/// Observed cells: series label -> bucket start -> point.
pub type ObservedSeries = BTreeMap<SeriesLabel, BTreeMap<i64, Point>>;

/// Runs `attempt` until it succeeds, fails for good, or runs out of
/// retries. Queries are idempotent, so a dropped connection or a 429/5xx
/// from a busy pipeline is retried with the client's one set of retry
/// rules; anything else (or the last failure) is the answer.
pub async fn with_retries<T, F: Future<Output = Result<T, CheckError>>>(
    mut attempt: impl FnMut() -> F,
) -> Result<T, CheckError> {
    let policy = RetryPolicy::new(QUERY_RETRIES);
    let mut retry = 0;
    loop {
        let result = attempt().await;
        let reply = match &result {
            Err(CheckError::Connect { source, .. }) => Reply::Transport {
                kind: TransportFailure::Connect,
                message: source.to_string(),
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
