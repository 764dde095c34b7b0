//! One of the backends, chosen at run time (`--backend`): the commands
//! build it from flags, the check stays generic over [`Observed`].

use super::{Observed, ObservedSeries};
use crate::catalog::Metric;
use crate::check::report::{CounterReset, Field};
use crate::check::{AzureObserved, CheckError, InfluxqlObserved, PromqlObserved, Query};

/// A backend of any kind.
#[derive(Debug)]
pub(crate) enum AnyObserved {
    Azure(AzureObserved),
    Promql(PromqlObserved),
    Influxql(InfluxqlObserved),
}

impl Observed for AnyObserved {
    fn observes(&self, metric: Metric) -> &'static [Field] {
        match self {
            AnyObserved::Azure(o) => o.observes(metric),
            AnyObserved::Promql(o) => o.observes(metric),
            AnyObserved::Influxql(o) => o.observes(metric),
        }
    }

    async fn prepare(&self, queries: &[Query]) -> Result<(), CheckError> {
        match self {
            AnyObserved::Azure(o) => o.prepare(queries).await,
            AnyObserved::Promql(o) => o.prepare(queries).await,
            AnyObserved::Influxql(o) => o.prepare(queries).await,
        }
    }

    fn resets(&self, window_start: i64) -> Vec<CounterReset> {
        match self {
            AnyObserved::Azure(o) => o.resets(window_start),
            AnyObserved::Promql(o) => o.resets(window_start),
            AnyObserved::Influxql(o) => o.resets(window_start),
        }
    }

    async fn query(&self, query: &Query) -> Result<ObservedSeries, CheckError> {
        match self {
            AnyObserved::Azure(o) => o.query(query).await,
            AnyObserved::Promql(o) => o.query(query).await,
            AnyObserved::Influxql(o) => o.query(query).await,
        }
    }
}
