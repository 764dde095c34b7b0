//! Test data for the check: a small hand-written expected.json whose
//! numbers can be summed by eye, an in-memory sink that tampers with its
//! answers, and a way to run the check on them.

use super::{CheckError, CheckOptions, Observed, ObservedSeries, Query, Reference, Report, check};
use crate::catalog::{Dimension, Metric, Naming};
use crate::model::{Aggregate, Grain};
use crate::wire::MetricsResponse;
use crate::wire::metrics_response::{Aggregations, DataPoint, MetricSeries, SeriesLabel};

/// 2026-01-01T00:00:00Z.
pub(super) const T0: i64 = 1_767_225_600_000;
pub(super) const MINUTE: i64 = 60_000;

pub(super) fn agg(count: u64, total: u64, minimum: u64, maximum: u64) -> Aggregate {
    Aggregate {
        count,
        total,
        minimum,
        maximum,
    }
}

pub(super) fn request(operation: &str, code: &str, class: &str) -> SeriesLabel {
    vec![
        (Dimension::Operation, operation.into()),
        (Dimension::StatusCode, code.into()),
        (Dimension::StatusCodeClass, class.into()),
        (Dimension::ApiVersion, "2025-05-15".into()),
    ]
}

pub(super) fn callback(event: &str, code: &str, class: &str, sub_code: &str) -> SeriesLabel {
    vec![
        (
            Dimension::EventTypeName,
            format!("Microsoft.Communication.{event}"),
        ),
        (Dimension::Code, code.into()),
        (Dimension::CodeClass, class.into()),
        (Dimension::SubCode, sub_code.into()),
        (Dimension::Version, "2025-05-15".into()),
    ]
}

/// Series from (label, [(minute, aggregate)]).
pub(super) fn series(rows: Vec<(SeriesLabel, Vec<(i64, Aggregate)>)>) -> MetricSeries {
    rows.into_iter()
        .map(|(label, buckets)| {
            let buckets = buckets
                .into_iter()
                .map(|(minute, a)| (T0 + minute * MINUTE, a))
                .collect();
            (label, buckets)
        })
        .collect()
}

/// The full-combination series of the fixture, per metric.
pub(super) fn metrics() -> Vec<(Metric, MetricSeries)> {
    let ones = |n| agg(n, n, 1, 1);
    vec![
        (
            Metric::ApiRequests,
            series(vec![
                (
                    request("Play", "202", "2xx"),
                    vec![(0, ones(1200)), (1, ones(900)), (5, ones(10))],
                ),
                (request("Play", "429", "4xx"), vec![(4, ones(12))]),
                (
                    request("Create Call", "201", "2xx"),
                    vec![(0, ones(50)), (3, ones(7))],
                ),
            ]),
        ),
        (
            Metric::ApiRequestLatency,
            series(vec![
                (
                    request("Play", "202", "2xx"),
                    vec![
                        (0, agg(1200, 54_321, 12, 250)),
                        (1, agg(900, 40_000, 11, 300)),
                        (5, agg(10, 433, 20, 90)),
                    ],
                ),
                (
                    request("Play", "429", "4xx"),
                    vec![(4, agg(12, 120, 5, 18))],
                ),
                (
                    request("Create Call", "201", "2xx"),
                    vec![(0, agg(50, 4_000, 40, 160)), (3, agg(7, 600, 60, 120))],
                ),
            ]),
        ),
        (
            Metric::CallbackEvents,
            series(vec![
                (
                    callback("PlayCompleted", "200", "2xx", "0"),
                    vec![(0, ones(1100)), (2, ones(880))],
                ),
                (
                    callback("PlayFailed", "400", "4xx", "8535"),
                    vec![(1, ones(3))],
                ),
            ]),
        ),
    ]
}

pub(super) fn response(metrics: &[(Metric, MetricSeries)], naming: Naming) -> MetricsResponse {
    MetricsResponse::build(
        metrics,
        Grain::MINUTE,
        (T0, T0 + 6 * MINUTE),
        naming,
        "test",
        Aggregations::ALL,
    )
}

/// The fixture as expected.json.
pub(super) fn expected() -> MetricsResponse {
    response(&metrics(), Naming::Azure)
}

/// A sink that answers from `data` and lets `tamper` edit each answer.
pub(super) struct Sink<F> {
    reference: Reference,
    tamper: F,
}

/// Speaks the Azure Metrics - List format, so its tampered answers go
/// through the Azure backend's reading.
impl<F: Fn(&Query, &mut MetricsResponse) + Sync> Observed for Sink<F> {
    async fn query(&self, query: &Query) -> Result<ObservedSeries, CheckError> {
        let mut answer = self.reference.answer(query);
        (self.tamper)(query, &mut answer);
        super::observed::azure::read_answer(&answer, query)
    }
}

pub(super) fn sink<F: Fn(&Query, &mut MetricsResponse) + Sync>(
    data: &MetricsResponse,
    tamper: F,
) -> Sink<F> {
    Sink {
        reference: Reference::new(data).expect("fixture data is valid"),
        tamper,
    }
}

/// Edits the point of `metric` at `minute` in every series whose metadata
/// includes all of `label` (name, value).
pub(super) fn edit_point(
    answer: &mut MetricsResponse,
    label: &[(&str, &str)],
    minute: i64,
    edit: impl Fn(&mut DataPoint),
) {
    let stamp = crate::wire::metrics_response::time_stamp(T0 + minute * MINUTE);
    for body in &mut answer.value {
        for ts in &mut body.timeseries {
            let matches = label.iter().all(|(n, v)| {
                ts.metadatavalues
                    .iter()
                    .any(|m| m.name.value == *n && m.value == *v)
            });
            if matches {
                ts.data
                    .iter_mut()
                    .filter(|p| p.time_stamp == stamp)
                    .for_each(&edit);
            }
        }
    }
}

/// Runs the check on a current-thread runtime.
pub(super) fn run<O: Observed>(
    expected: &MetricsResponse,
    observed: &O,
    options: &CheckOptions,
) -> Result<Report, CheckError> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(check(expected, observed, options))
}
