//! The expected side of a check: expected.json read into full-combination
//! cells (metric -> series label -> bucket -> aggregate), and everything
//! else derived locally from them by grouping: marginal totals, the metric
//! total and coarser grains. Deriving them here, rather than trusting the
//! file for them, is what lets the check catch a sink that groups wrong.
//!
//! All of it is one pass over the cells per query, O(cells · log), so the
//! size of expected.json (series × buckets), not the number of events,
//! bounds the cost.

use super::CheckError;
use super::query::parse_label;
use crate::catalog::{Dimension, Metric, Naming};
use crate::model::{Aggregate, Grain};
use crate::wire::MetricsResponse;
use crate::wire::metrics_response::{
    DataPoint, MetadataValue, MetricSeries, SeriesLabel, ShowLabel,
};
use crate::wire::parse_millis;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

/// expected.json as full-combination cells at its own grain.
#[derive(Clone, Debug)]
pub struct ExpectedData {
    grain: Grain,
    timespan: (i64, i64),
    naming: Naming,
    metrics: BTreeMap<Metric, MetricSeries>,
}

impl ExpectedData {
    /// Reads an expected.json. Every series must list every dimension of
    /// its metric once (under either naming) and every bucket must carry
    /// count, total, minimum and maximum at a start aligned to `interval`.
    pub fn from_response(response: &MetricsResponse) -> Result<ExpectedData, CheckError> {
        let grain: Grain = response
            .interval
            .parse()
            .map_err(|e| CheckError::Expected(format!("interval: {e}")))?;
        let mut timespan = parse_timespan(&response.timespan).ok_or_else(|| {
            CheckError::Expected(format!(
                "timespan {:?} is not START/END in RFC 3339 (2026-01-01T00:00:00Z/2026-01-01T01:00:00Z)",
                response.timespan
            ))
        })?;
        let mut naming = Naming::Azure;
        let mut metrics = BTreeMap::new();
        for body in &response.value {
            let metric = metric_named(&body.name.value)?;
            let Entry::Vacant(slot) = metrics.entry(metric) else {
                return Err(CheckError::Expected(format!(
                    "metric {metric} is listed twice"
                )));
            };
            let series: &mut MetricSeries = slot.insert(BTreeMap::new());
            // Marginals and totals add cells up: all of a metric's must fit.
            let mut sums = (0u128, 0u128);
            for ts in &body.timeseries {
                if ts
                    .metadatavalues
                    .iter()
                    .any(|m| m.name.value == Dimension::StatusCodeClass.name(Naming::Overview))
                {
                    naming = Naming::Overview;
                }
                let label = full_label(metric, &ts.metadatavalues)?;
                if ts.data.is_empty() {
                    continue;
                }
                let where_ = || format!("{metric} {}", show_label(&label));
                if series.contains_key(&label) {
                    return Err(CheckError::Expected(format!(
                        "series {} is listed twice",
                        where_()
                    )));
                }
                let mut buckets = BTreeMap::new();
                for point in &ts.data {
                    let (ms, aggregate) = read_point(point, grain, &where_)?;
                    sums.0 += aggregate.count as u128;
                    sums.1 += aggregate.total as u128;
                    if sums.0 > u64::MAX as u128 || sums.1 > u64::MAX as u128 {
                        return Err(CheckError::Expected(format!(
                            "the counts or totals of {metric} add up past 2^64-1 (at series {} \
                             {}); their sums could not be compared",
                            where_(),
                            point.time_stamp
                        )));
                    }
                    if buckets.insert(ms, aggregate).is_some() {
                        return Err(CheckError::Expected(format!(
                            "series {} lists bucket {} twice",
                            where_(),
                            point.time_stamp
                        )));
                    }
                    timespan = (timespan.0.min(ms), timespan.1.max(ms + grain.millis()));
                }
                series.insert(label, buckets);
            }
        }
        Ok(ExpectedData {
            grain,
            timespan,
            naming,
            metrics,
        })
    }
    /// The file's grain.
    pub fn grain(&self) -> Grain {
        self.grain
    }

    /// `[start, end)` in Unix ms: the file's timespan, widened to cover
    /// every bucket it lists.
    pub fn timespan(&self) -> (i64, i64) {
        self.timespan
    }

    /// The timespan widened to whole buckets of `grain`.
    pub fn timespan_at(&self, grain: Grain) -> (i64, i64) {
        let (start, end) = self.timespan;
        let start = grain.bucket(start);
        (start, (grain.bucket(end - 1) + grain.millis()).max(start))
    }

    /// StatusSubClass when the file uses it, else Azure naming.
    pub fn naming(&self) -> Naming {
        self.naming
    }

    /// Full-combination series of each metric the file lists.
    pub fn metrics(&self) -> &BTreeMap<Metric, MetricSeries> {
        &self.metrics
    }

    /// Series with at least one bucket, over all metrics.
    pub fn series_count(&self) -> usize {
        self.metrics.values().map(|s| s.len()).sum()
    }

    /// The grains to compare: the requested ones, sorted, or the file's.
    pub fn grains(&self, requested: &[Grain]) -> Result<Vec<Grain>, CheckError> {
        if requested.is_empty() {
            return Ok(vec![self.grain]);
        }
        let mut grains = requested.to_vec();
        grains.sort();
        grains.dedup();
        match grains.iter().find(|g| !self.grain.divides(**g)) {
            Some(&grain) => Err(CheckError::Grain {
                grain,
                base: self.grain,
            }),
            None => Ok(grains),
        }
    }
}

/// Groups full-combination `series` to `grain` buckets and to the labels of
/// `dims` (all dimensions, one, or none for the total).
pub(super) fn regroup(series: &MetricSeries, grain: Grain, dims: &[Dimension]) -> MetricSeries {
    let mut out = MetricSeries::new();
    for (label, buckets) in series {
        let key: SeriesLabel = label
            .iter()
            .filter(|(d, _)| dims.contains(d))
            .cloned()
            .collect();
        let target = out.entry(key).or_default();
        for (&ms, aggregate) in buckets {
            target
                .entry(grain.bucket(ms))
                .and_modify(|a| a.absorb(aggregate))
                .or_insert(*aggregate);
        }
    }
    out
}

/// `series` with every series' buckets folded into one at `start`: the
/// totals over a window.
pub(super) fn fold_window(series: &MetricSeries, start: i64) -> MetricSeries {
    series
        .iter()
        .map(|(label, buckets)| {
            let mut all = buckets.values();
            let mut total = *all.next().expect("a listed series has a bucket");
            all.for_each(|a| total.absorb(a));
            (label.clone(), BTreeMap::from([(start, total)]))
        })
        .collect()
}

fn parse_timespan(text: &str) -> Option<(i64, i64)> {
    let (start, end) = text.split_once('/')?;
    Some((parse_millis(start)?, parse_millis(end)?))
}

fn show_label(label: &SeriesLabel) -> String {
    format!("{{{}}}", ShowLabel(label))
}

fn metric_named(name: &str) -> Result<Metric, CheckError> {
    Metric::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        CheckError::Expected(format!(
            "unknown metric {name:?}; callmetrics checks {}",
            known.join(", ")
        ))
    })
}

/// A series' label, which must name every dimension of its metric.
fn full_label(metric: Metric, values: &[MetadataValue]) -> Result<SeriesLabel, CheckError> {
    let label = parse_label(metric, values).map_err(CheckError::Expected)?;
    if label.len() != metric.dimensions().len() {
        return Err(CheckError::Expected(format!(
            "a series of {metric} lists {} of its {} dimensions; expected.json holds full \
             combinations only",
            label.len(),
            metric.dimensions().len()
        )));
    }
    Ok(label)
}

/// A bucket's start and its aggregate; `where_` names its series.
fn read_point(
    point: &DataPoint,
    grain: Grain,
    where_: &dyn Fn() -> String,
) -> Result<(i64, Aggregate), CheckError> {
    let ms = parse_millis(&point.time_stamp)
        .filter(|&ms| grain.bucket(ms) == ms)
        .ok_or_else(|| {
            CheckError::Expected(format!(
                "series {}: timeStamp {:?} is not the start of a {grain} bucket",
                where_(),
                point.time_stamp
            ))
        })?;
    // A later bucket would end past what RFC 3339 writes.
    if ms > crate::model::LAST_EVENT_MS {
        return Err(CheckError::Expected(format!(
            "series {}: timeStamp {:?} is past 9999-12-30T23:59:59.999Z, the last time an event \
             may have",
            where_(),
            point.time_stamp
        )));
    }
    let need = |v: Option<u64>, field: &str| {
        v.ok_or_else(|| {
            CheckError::Expected(format!(
                "series {} at {}: no {field}",
                where_(),
                point.time_stamp
            ))
        })
    };
    let aggregate = Aggregate {
        count: need(point.count, "count")?,
        total: need(point.total, "total")?,
        minimum: need(point.minimum, "minimum")?,
        maximum: need(point.maximum, "maximum")?,
    };
    Ok((ms, aggregate))
}
