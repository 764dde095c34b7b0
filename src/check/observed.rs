//! The observed side of a check: where answers come from ([`Observed`],
//! implemented over HTTP and in memory) and how an answer becomes cells.
//!
//! An answer that cannot be read as the query's series (another grain, no
//! body for the metric, a dimension the metric lacks, a bucket listed
//! twice) is a protocol error, exit 2: comparing it would report noise.
//! A readable answer with wrong series or values is left to the
//! comparison, which reports it as mismatches.

use super::CheckError;
use super::query::{Query, parse_label};
use crate::emit::MetricsResponse;
use crate::emit::metrics_response::{DataPoint, SeriesLabel};
use crate::emit::parse_millis;
use crate::engine::Grain;
use std::collections::BTreeMap;
use std::future::Future;

/// A source of observed aggregates: answers one [`Query`] with a
/// Metrics - List response listing only non-empty buckets.
pub trait Observed {
    fn query(
        &self,
        query: &Query,
    ) -> impl Future<Output = Result<MetricsResponse, CheckError>> + Send;
}

/// One observed bucket; a field the sink left out is `None`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub count: Option<u64>,
    pub total: Option<u64>,
    pub minimum: Option<u64>,
    pub maximum: Option<u64>,
    pub average: Option<f64>,
}

impl From<&DataPoint> for Point {
    fn from(p: &DataPoint) -> Point {
        Point {
            count: p.count,
            total: p.total,
            minimum: p.minimum,
            maximum: p.maximum,
            average: p.average,
        }
    }
}

fn is_empty(p: &DataPoint) -> bool {
    p.count.is_none()
        && p.total.is_none()
        && p.minimum.is_none()
        && p.maximum.is_none()
        && p.average.is_none()
}

/// Observed cells: series label -> bucket start -> point.
pub type ObservedSeries = BTreeMap<SeriesLabel, BTreeMap<i64, Point>>;

/// Reads the answer to `query` into cells.
pub fn series(answer: &MetricsResponse, query: &Query) -> Result<ObservedSeries, CheckError> {
    let fail = |reason: String| CheckError::Protocol {
        query: query.to_string(),
        reason,
    };
    let interval: Result<Grain, _> = answer.interval.parse();
    if interval != Ok(query.grain) {
        return Err(fail(format!(
            "asked for interval {}, the answer is at {:?}; the sink may not support this grain",
            query.grain, answer.interval
        )));
    }
    let name = query.metric.name();
    let mut bodies = answer
        .value
        .iter()
        .filter(|b| b.name.value.eq_ignore_ascii_case(name));
    let body = bodies.next().ok_or_else(|| {
        fail(format!(
            "no metric named {name} in the answer; the sink may not know it"
        ))
    })?;
    if bodies.next().is_some() {
        return Err(fail(format!("metric {name} is listed twice")));
    }
    if !(body.error_code.is_empty() || body.error_code == "Success") {
        return Err(fail(format!("errorCode {:?} for {name}", body.error_code)));
    }
    let mut out = ObservedSeries::new();
    for ts in &body.timeseries {
        let label = parse_label(query.metric, &ts.metadatavalues).map_err(&fail)?;
        let mut buckets = BTreeMap::new();
        // Azure lists empty buckets as a bare timeStamp; they hold no data.
        for p in ts.data.iter().filter(|p| !is_empty(p)) {
            let ms = parse_millis(&p.time_stamp)
                .ok_or_else(|| fail(format!("timeStamp {:?} is not RFC 3339", p.time_stamp)))?;
            if buckets.insert(ms, Point::from(p)).is_some() {
                return Err(fail(format!(
                    "a series lists bucket {} twice",
                    p.time_stamp
                )));
            }
        }
        if buckets.is_empty() {
            continue;
        }
        if out.insert(label, buckets).is_some() {
            return Err(fail(
                "a series is listed twice (the same dimension values)".to_string(),
            ));
        }
    }
    Ok(out)
}
