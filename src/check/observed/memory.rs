//! A correct sink in memory: answers every [`Query`] from expected data the
//! way a backend must. Tests use it as the observed side (alone, or through
//! a fake Azure sink that tampers with its answers), and as the reference a
//! fake HTTP sink serves.

use super::{Observed, ObservedSeries, Point};
use crate::check::CheckError;
use crate::check::expected::{ExpectedData, regroup};
use crate::check::query::Query;
use crate::wire::MetricsResponse;
use crate::wire::metrics_response::{Aggregations, MetricSeries};

/// Answers queries from an expected.json.
#[derive(Clone, Debug)]
pub(crate) struct Reference {
    data: ExpectedData,
}

impl Reference {
    pub(crate) fn new(expected: &MetricsResponse) -> Result<Reference, CheckError> {
        Ok(Reference {
            data: ExpectedData::from_response(expected)?,
        })
    }

    /// The cells a correct sink holds for `query`; a metric the expected
    /// file does not list has none.
    fn cells(&self, query: &Query) -> MetricSeries {
        let empty = MetricSeries::new();
        let full = self.data.metrics().get(&query.metric).unwrap_or(&empty);
        let grouped = regroup(full, query.grain, &query.split.dimensions(query.metric));
        if query.totals {
            crate::check::expected::fold_window(&grouped, query.timespan.0)
        } else {
            grouped
        }
    }

    /// The Metrics - List response a correct sink gives to `query`, in
    /// Azure naming (what fake Azure sinks serve).
    pub(crate) fn answer(&self, query: &Query) -> MetricsResponse {
        MetricsResponse::build(
            &[(query.metric, self.cells(query))],
            query.grain,
            query.timespan,
            crate::catalog::Naming::Azure,
            "callmetrics/reference",
            Aggregations::ALL,
        )
    }
}

impl Observed for Reference {
    async fn query(&self, query: &Query) -> Result<ObservedSeries, CheckError> {
        Ok(self
            .cells(query)
            .into_iter()
            .map(|(label, buckets)| {
                let points = buckets
                    .into_iter()
                    .map(|(bucket, a)| {
                        let point = Point {
                            count: Some(a.count),
                            total: Some(a.total),
                            minimum: Some(a.minimum),
                            maximum: Some(a.maximum),
                            average: Some(a.average()),
                        };
                        (bucket, point)
                    })
                    .collect();
                (label, points)
            })
            .collect())
    }
}
