//! A correct sink in memory: answers every [`Query`] from expected data the
//! way the query API must. Tests use it as the observed side (alone, or
//! wrapped to tamper with answers), and as the reference to serve from a
//! fake HTTP sink.

use super::CheckError;
use super::expected::{ExpectedData, regroup};
use super::observed::Observed;
use super::query::Query;
use crate::emit::MetricsResponse;
use crate::emit::metrics_response::{Aggregations, MetricSeries};

/// Answers queries from an expected.json.
#[derive(Clone, Debug)]
pub struct Reference {
    data: ExpectedData,
}

impl Reference {
    pub fn new(expected: &MetricsResponse) -> Result<Reference, CheckError> {
        Ok(Reference {
            data: ExpectedData::from_response(expected)?,
        })
    }

    /// The response a correct sink gives to `query`, in Azure naming; a
    /// metric the expected file does not list has no series.
    pub fn answer(&self, query: &Query) -> MetricsResponse {
        let empty = MetricSeries::new();
        let full = self.data.metrics().get(&query.metric).unwrap_or(&empty);
        let series = regroup(full, query.grain, &query.split.dimensions(query.metric));
        MetricsResponse::build(
            &[(query.metric, series)],
            query.grain,
            query.timespan,
            crate::catalog::Naming::Azure,
            "callmetrics/reference",
            Aggregations::ALL,
        )
    }
}

impl Observed for Reference {
    async fn query(&self, query: &Query) -> Result<MetricsResponse, CheckError> {
        Ok(self.answer(query))
    }
}
