//! GET /metrics: Azure Monitor "Metrics - List" over the stored aggregates.
//! metricnames, timespan (start/end), interval, aggregation, $filter,
//! top and orderby, answering in the same shape as expected.json.

use super::filter::{Filter, FilterError};
use super::view::View;
use crate::catalog::{Metric, Naming};
use crate::model::{Aggregate, Grain, Series};
use crate::wire::metrics_response::{Aggregations, MetricSeries, MetricsResponse, SeriesLabel};
use crate::wire::parse_millis;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rank {
    Count,
    Total,
    Minimum,
    Maximum,
    Average,
}

#[derive(Debug)]
pub(super) struct Query {
    metrics: Vec<Metric>,
    timespan: Option<(i64, i64)>,
    interval: Grain,
    aggregations: Aggregations,
    filter: Filter,
    top: Option<usize>,
    order: Option<(Rank, bool)>,
}

fn aggregation(name: &str) -> Option<Rank> {
    match name.trim().to_ascii_lowercase().as_str() {
        "count" => Some(Rank::Count),
        "total" | "sum" => Some(Rank::Total),
        "minimum" | "min" => Some(Rank::Minimum),
        "maximum" | "max" => Some(Rank::Maximum),
        "average" | "avg" => Some(Rank::Average),
        _ => None,
    }
}

/// Why a query is refused (a 400, with this text as its message).
#[derive(Debug, thiserror::Error)]
pub(super) enum QueryError {
    #[error("metricnames is required, e.g. metricnames=APIRequestCallAutomation")]
    NoMetricNames,
    #[error("unknown metric {0:?}; known: {known}", known = known_metrics())]
    UnknownMetric(String),
    #[error("timespan {0:?} must be start/end in RFC 3339")]
    TimespanShape(String),
    #[error("timespan start {0:?} is not RFC 3339")]
    TimespanStart(String),
    #[error("timespan end {0:?} is not RFC 3339")]
    TimespanEnd(String),
    #[error("timespan {0:?} ends before it starts")]
    TimespanBackwards(String),
    /// The grain's own message.
    #[error("{0}")]
    Interval(String),
    #[error("unknown aggregation {0:?}; use Count, Total, Average, Minimum, Maximum")]
    UnknownAggregation(String),
    #[error("$filter: {0}")]
    Filter(FilterError),
    /// A dimension the filter names that a metric asked for lacks.
    #[error(transparent)]
    FilterDimension(FilterError),
    #[error("top {0:?} is not a number")]
    Top(String),
    #[error("orderby {0:?}: name an aggregation, e.g. `count desc`")]
    OrderByAggregation(String),
    #[error("orderby direction {0:?}; use asc or desc")]
    OrderByDirection(String),
    #[error("orderby {orderby:?}: {extra:?} after the direction; use e.g. `count desc`")]
    OrderByExtra { orderby: String, extra: String },
    #[error(
        "the answer would hold {points} points or more (series x buckets), past the sink's \
         {max_points} (--max-answer-points): narrow the timespan or the $filter, use a coarser \
         interval, or top"
    )]
    TooManyPoints { points: usize, max_points: usize },
    #[error(
        "the sink holds data before {at} per minute (it keeps {retention} of data per second, \
         back from the newest sample: --per-second-retention): ask with an interval of PT1M or \
         a multiple of it and a timespan on whole minutes, or for a timespan from {at} on"
    )]
    PerMinute { at: String, retention: String },
}

fn known_metrics() -> String {
    let known: Vec<_> = Metric::ALL.iter().map(|m| m.name()).collect();
    known.join(", ")
}

/// The buckets of each answered series, before they are grouped by
/// metric: cells refer to their series by its index in `labels`.
struct Gathered {
    labels: Vec<(Metric, SeriesLabel)>,
    cells: FxHashMap<(usize, i64), Aggregate>,
}

impl Query {
    /// Parses query-string parameters; errors are messages for a 400.
    pub(super) fn parse(
        params: &HashMap<String, String>,
        naming: Naming,
    ) -> Result<Query, QueryError> {
        let metrics = metrics_named(params)?;
        let timespan = params.get("timespan").map(|t| timespan(t)).transpose()?;
        let interval = match params.get("interval") {
            Some(i) => i.parse::<Grain>().map_err(QueryError::Interval)?,
            None => Grain::MINUTE,
        };
        let aggregations = match params.get("aggregation") {
            None => Aggregations::ALL,
            Some(list) => aggregations(list)?,
        };
        let filter = Filter::parse(params.get("$filter").map_or("", String::as_str))
            .map_err(QueryError::Filter)?;
        for &m in &metrics {
            filter
                .check_dimensions(m, naming)
                .map_err(QueryError::FilterDimension)?;
        }
        let top = params
            .get("top")
            .map(|t| t.parse::<usize>().map_err(|_| QueryError::Top(t.clone())))
            .transpose()?;
        let order = params.get("orderby").map(|o| order(o)).transpose()?;
        Ok(Query {
            metrics,
            timespan,
            interval,
            aggregations,
            filter,
            top,
            order,
        })
    }

    /// Runs the query over the sink's aggregates.
    ///
    /// An answer of more than `max_points` points (series x buckets) is
    /// refused with the reason: it would take the sink's memory and hold
    /// the store's lock while it is built.
    pub(super) fn run(
        &self,
        data: &View,
        naming: Naming,
        max_points: usize,
    ) -> Result<MetricsResponse, QueryError> {
        self.answerable(data)?;
        let Gathered { labels, cells } = self.gather(data, max_points)?;
        let mut grouped: BTreeMap<Metric, MetricSeries> = self
            .metrics
            .iter()
            .map(|&m| (m, MetricSeries::new()))
            .collect();
        for ((label, bucket), agg) in cells {
            let (metric, values) = &labels[label];
            if let Some(series) = grouped.get_mut(metric) {
                series
                    .entry(values.clone())
                    .or_default()
                    .insert(bucket, agg);
            }
        }
        let metrics: Vec<(Metric, MetricSeries)> = grouped
            .into_iter()
            .map(|(m, s)| (m, self.ranked(s)))
            .collect();
        let points: usize = metrics
            .iter()
            .flat_map(|(_, series)| series.values().map(|b| b.len()))
            .sum();
        if points > max_points {
            return Err(QueryError::TooManyPoints { points, max_points });
        }
        let (start, end) = self.timespan.unwrap_or_else(|| {
            let range = data.time_range().unwrap_or((0, 0));
            (
                self.interval.bucket(range.0),
                self.interval.bucket(range.1) + self.interval.millis(),
            )
        });
        Ok(MetricsResponse::build(
            &metrics,
            self.interval,
            (start, end),
            naming,
            "callmetrics/sink",
            self.aggregations,
        ))
    }

    /// The cells the query answers, added up per answered series and
    /// bucket. Labels are worked out once per series (not per cell): a
    /// long run has hundreds of thousands of cells but only hundreds of
    /// series.
    fn gather(&self, data: &View, max_points: usize) -> Result<Gathered, QueryError> {
        let mut labels: Vec<(Metric, SeriesLabel)> = Vec::new();
        let mut label_index: FxHashMap<(Metric, SeriesLabel), usize> = FxHashMap::default();
        let mut label_of: FxHashMap<Series, Option<usize>> = FxHashMap::default();
        let mut cells: FxHashMap<(usize, i64), Aggregate> = FxHashMap::default();
        for (series, second, agg) in data.iter() {
            if self
                .timespan
                .is_some_and(|(start, end)| second < start || second >= end)
            {
                continue;
            }
            let label = *label_of.entry(series).or_insert_with(|| {
                let metric = series.metric();
                let values = series.dimension_values();
                if !self.metrics.contains(&metric) || !self.filter.matches(&values) {
                    return None;
                }
                let label = values
                    .into_iter()
                    .filter(|(d, _)| self.filter.split.contains(d))
                    .collect();
                let key = (metric, label);
                if let Some(&i) = label_index.get(&key) {
                    return Some(i);
                }
                labels.push(key.clone());
                label_index.insert(key, labels.len() - 1);
                Some(labels.len() - 1)
            });
            let Some(label) = label else { continue };
            cells
                .entry((label, self.interval.bucket(second)))
                .and_modify(|a| a.absorb(agg))
                .or_insert(*agg);
            // Without top every cell is answered: stop as soon as too many.
            if self.top.is_none() && cells.len() > max_points {
                return Err(QueryError::TooManyPoints {
                    points: cells.len(),
                    max_points,
                });
            }
        }
        Ok(Gathered { labels, cells })
    }

    /// Refuses a question the minute cells cannot answer exactly: a
    /// sub-minute interval, or a timespan that cuts a minute, over the
    /// range held per minute.
    fn answerable(&self, data: &View) -> Result<(), QueryError> {
        let Some(rolled) = data.rolled_before() else {
            return Ok(());
        };
        let (start, end) = self.timespan.unwrap_or((i64::MIN, i64::MAX));
        if start >= rolled {
            return Ok(());
        }
        let cut =
            |t: i64| t < rolled && t != i64::MIN && t != i64::MAX && t.rem_euclid(60_000) != 0;
        if Grain::MINUTE.divides(self.interval) && !cut(start) && !cut(end) {
            return Ok(());
        }
        Err(QueryError::PerMinute {
            at: crate::wire::metrics_response::time_stamp(rolled),
            retention: humantime::format_duration(data.retention()).to_string(),
        })
    }
    /// Applies orderby and top (top alone ranks by count, descending).
    fn ranked(&self, series: MetricSeries) -> MetricSeries {
        let Some(top) = self.top else { return series };
        let (rank, desc) = self.order.unwrap_or((Rank::Count, true));
        let score = |buckets: &BTreeMap<i64, Aggregate>| -> f64 {
            let mut all = buckets.values();
            let Some(first) = all.next() else { return 0.0 };
            let mut sum = *first;
            all.for_each(|a| sum.absorb(a));
            match rank {
                Rank::Count => sum.count as f64,
                Rank::Total => sum.total as f64,
                Rank::Minimum => sum.minimum as f64,
                Rank::Maximum => sum.maximum as f64,
                Rank::Average => sum.average(),
            }
        };
        let mut scored: Vec<(f64, SeriesLabel, BTreeMap<i64, Aggregate>)> =
            series.into_iter().map(|(l, b)| (score(&b), l, b)).collect();
        scored.sort_by(|a, b| {
            let by_score = if desc {
                b.0.total_cmp(&a.0)
            } else {
                a.0.total_cmp(&b.0)
            };
            by_score.then_with(|| a.1.cmp(&b.1))
        });
        scored
            .into_iter()
            .take(top)
            .map(|(_, l, b)| (l, b))
            .collect()
    }
}

/// `metricnames`: a comma-separated list of metric names.
fn metrics_named(params: &HashMap<String, String>) -> Result<Vec<Metric>, QueryError> {
    let names = params
        .get("metricnames")
        .filter(|s| !s.trim().is_empty())
        .ok_or(QueryError::NoMetricNames)?;
    names
        .split(',')
        .map(|n| {
            Metric::from_name(n.trim()).ok_or_else(|| QueryError::UnknownMetric(n.trim().into()))
        })
        .collect()
}

/// `timespan`: START/END in RFC 3339, END after START.
fn timespan(t: &str) -> Result<(i64, i64), QueryError> {
    let (a, b) = t
        .split_once('/')
        .ok_or_else(|| QueryError::TimespanShape(t.into()))?;
    let start = parse_millis(a).ok_or_else(|| QueryError::TimespanStart(a.into()))?;
    let end = parse_millis(b).ok_or_else(|| QueryError::TimespanEnd(b.into()))?;
    if end <= start {
        return Err(QueryError::TimespanBackwards(t.into()));
    }
    Ok((start, end))
}

/// `aggregation`: a comma-separated list of the aggregations answered.
fn aggregations(list: &str) -> Result<Aggregations, QueryError> {
    let mut a = Aggregations {
        count: false,
        total: false,
        minimum: false,
        maximum: false,
        average: false,
    };
    for name in list.split(',') {
        match aggregation(name).ok_or_else(|| QueryError::UnknownAggregation(name.into()))? {
            Rank::Count => a.count = true,
            Rank::Total => a.total = true,
            Rank::Minimum => a.minimum = true,
            Rank::Maximum => a.maximum = true,
            Rank::Average => a.average = true,
        }
    }
    Ok(a)
}

/// `orderby`: an aggregation, then `asc` or `desc` (the default).
fn order(o: &str) -> Result<(Rank, bool), QueryError> {
    let mut words = o.split_whitespace();
    let rank = words
        .next()
        .and_then(aggregation)
        .ok_or_else(|| QueryError::OrderByAggregation(o.into()))?;
    let desc = match words.next().map(str::to_ascii_lowercase).as_deref() {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(other) => return Err(QueryError::OrderByDirection(other.into())),
    };
    if let Some(extra) = words.next() {
        return Err(QueryError::OrderByExtra {
            orderby: o.into(),
            extra: extra.into(),
        });
    }
    Ok((rank, desc))
}
