//! Azure Monitor "Metrics - List" over the stored aggregates: metricnames,
//! timespan, interval, aggregation, $filter, top and orderby, answering in
//! the same shape as expected.json. Two dialects share it: the sink's own
//! `GET /metrics` (timespan start/end, buckets with data only, every series
//! unless `top`), and Azure's, at `{resourceUri}/providers/
//! Microsoft.Insights/metrics` (every timespan form, `FULL`, `resultType`,
//! `rollupby`, every bucket listed, `top` 10 by default), which `arm/`
//! serves as Azure Monitor does.

use super::arm::timespan::format_duration;
use super::arm::timespan::{TimespanError, duration_millis, timespan as azure_timespan};
use super::filter::{Filter, FilterError};
use super::view::View;
use crate::catalog::{Dimension, Metric, Naming};
use crate::model::{Aggregate, Grain, Series};
use crate::wire::metrics_response::{
    Aggregations, DataPoint, MetricSeries, MetricsResponse, SeriesLabel, TimeSeries, time_stamp,
};
use crate::wire::{CUSTOM_METRICS_NAMESPACE, parse_millis};
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

/// Which of the two query APIs a query came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    /// The sink's own `GET /metrics`.
    Sink,
    /// Azure Monitor's; `now` is when a bare-duration timespan ends.
    Azure { now: i64 },
}

/// The time grain of the answer's buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interval {
    Grain(Grain),
    /// Azure's `FULL`: one bucket for the whole timespan.
    Full,
}

/// The grains Azure Monitor answers these metrics at (the supported
/// metrics table's time grains; docs/sources.md).
pub(super) const AZURE_GRAINS: [&str; 8] = [
    "PT1M", "PT5M", "PT15M", "PT30M", "PT1H", "PT6H", "PT12H", "P1D",
];

/// What Azure answers when a query names no timespan: the last hour.
const AZURE_DEFAULT_TIMESPAN_MS: i64 = 3_600_000;

/// Metric names one Azure query may ask for (Metrics - List's spec:
/// "At most 20 metric names can be specified").
const AZURE_MAX_METRICS: usize = 20;

/// How far back Azure keeps platform metrics: 93 days.
const AZURE_RETENTION_MS: i64 = 93 * 86_400_000;

/// Azure's default `top` (series per metric when splitting).
pub(super) const AZURE_DEFAULT_TOP: usize = 10;

#[derive(Debug)]
pub(super) struct Query {
    metrics: Vec<Metric>,
    timespan: Option<(i64, i64)>,
    interval: Interval,
    aggregations: Aggregations,
    filter: Filter,
    top: Option<usize>,
    order: Option<(Rank, bool)>,
    dialect: Dialect,
    /// `resultType=Metadata`: the series without their data.
    metadata_only: bool,
    /// `rollupby`: split dimensions whose values are added together.
    rollup: Vec<Dimension>,
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
    /// Azure's timespan forms, or an ISO 8601 duration.
    #[error(transparent)]
    Timespan(TimespanError),
    #[error(
        "interval {0:?} is not supported; use one of {grains} or FULL (or set \
         AutoAdjustTimegrain=true for the nearest supported one)",
        grains = AZURE_GRAINS.join(", ")
    )]
    AzureInterval(String),
    #[error("{name}={value:?}: use true or false")]
    Boolean { name: &'static str, value: String },
    #[error("{0} metric names; at most {AZURE_MAX_METRICS} can be asked at once")]
    TooManyMetrics(usize),
    #[error(
        "Query startTime: {start} is out of the Max metrics retention period: 93.00:00:00; ask \
         for times from {first} on (the sink's own GET /metrics answers any time it holds)"
    )]
    OutOfRetention { start: String, first: String },
    #[error("resultType {0:?}: use Data or Metadata")]
    ResultType(String),
    #[error("rollupby {0:?} is not a dimension of the metrics asked for")]
    RollUp(String),
    #[error(
        "metricnamespace {0:?} holds none of these metrics; use {known}",
        known = AZURE_NAMESPACES.join(" or ")
    )]
    Namespace(String),
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
        dialect: Dialect,
    ) -> Result<Query, QueryError> {
        let metrics = metrics_named(params)?;
        let interval = interval(params, dialect)?;
        let timespan = match (params.get("timespan"), dialect) {
            (Some(t), Dialect::Sink) => Some(timespan(t)?),
            (Some(t), Dialect::Azure { now }) => {
                Some(azure_timespan(t, now).map_err(QueryError::Timespan)?)
            }
            (None, Dialect::Sink) => None,
            (None, Dialect::Azure { now }) => Some((now - AZURE_DEFAULT_TIMESPAN_MS, now)),
        };
        // Azure's buckets start on the grain: the first is the one the
        // timespan's start falls in.
        let timespan = match (dialect, interval, timespan) {
            (Dialect::Azure { .. }, Interval::Grain(g), Some((start, end))) => {
                Some((g.bucket(start), end))
            }
            (_, _, timespan) => timespan,
        };
        let aggregations = match params.get("aggregation") {
            None => Aggregations::ALL,
            Some(list) => aggregations(list)?,
        };
        let text = params.get("$filter").map_or("", String::as_str);
        // Azure ignores terms on dimensions the metric lacks when told
        // ValidateDimensions=false.
        let lenient = matches!(dialect, Dialect::Azure { .. })
            && params
                .get("ValidateDimensions")
                .is_some_and(|v| v.eq_ignore_ascii_case("false"));
        let filter = if lenient {
            Filter::parse_lenient(text)
        } else {
            Filter::parse(text)
        }
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
        let mut query = Query {
            metrics,
            timespan,
            interval,
            aggregations,
            filter,
            top,
            order,
            dialect,
            metadata_only: false,
            rollup: Vec::new(),
        };
        if let Dialect::Azure { now } = dialect {
            query.azure_parameters(params, now)?;
        }
        Ok(query)
    }

    /// The parameters only Azure's dialect has, and its defaults.
    fn azure_parameters(
        &mut self,
        params: &HashMap<String, String>,
        now: i64,
    ) -> Result<(), QueryError> {
        if self.metrics.len() > AZURE_MAX_METRICS {
            return Err(QueryError::TooManyMetrics(self.metrics.len()));
        }
        // A day's slack: a bare `P93D` starts on a bucket boundary before it.
        if let Some((start, _)) = self.timespan
            && start < now - AZURE_RETENTION_MS - 86_400_000
        {
            return Err(QueryError::OutOfRetention {
                start: time_stamp(start),
                first: time_stamp(now - AZURE_RETENTION_MS),
            });
        }
        self.metadata_only = match params.get("resultType").map(|r| r.to_ascii_lowercase()) {
            None => false,
            Some(r) if r == "data" => false,
            Some(r) if r == "metadata" => true,
            Some(_) => return Err(QueryError::ResultType(params["resultType"].clone())),
        };
        for name in ["AutoAdjustTimegrain", "ValidateDimensions"] {
            if let Some(v) = params.get(name)
                && !v.eq_ignore_ascii_case("true")
                && !v.eq_ignore_ascii_case("false")
            {
                return Err(QueryError::Boolean {
                    name,
                    value: v.clone(),
                });
            }
        }
        if let Some(list) = params.get("rollupby") {
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let dimension = Dimension::from_name(name)
                    .filter(|d| self.metrics.iter().any(|m| m.dimensions().contains(d)))
                    .ok_or_else(|| QueryError::RollUp(name.to_string()))?;
                self.rollup.push(dimension);
            }
        }
        let namespace = params.get("metricnamespace");
        if let Some(namespace) = namespace
            && !AZURE_NAMESPACES
                .iter()
                .any(|n| n.eq_ignore_ascii_case(namespace))
        {
            return Err(QueryError::Namespace(namespace.clone()));
        }
        // callmetrics' own latency metric is a custom metric at most:
        // the resource's platform metrics do not have it.
        let custom = namespace.is_some_and(|n| n.eq_ignore_ascii_case(CUSTOM_METRICS_NAMESPACE));
        if let Some(m) = self.metrics.iter().find(|m| !m.is_azure_metric())
            && !custom
        {
            return Err(QueryError::UnknownMetric(m.name().to_string()));
        }
        // Azure ranks and cuts split series to 10 unless told otherwise.
        let split = self.filter.split.iter().any(|d| !self.rollup.contains(d));
        if self.top.is_none() && split {
            self.top = Some(AZURE_DEFAULT_TOP);
        }
        Ok(())
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
        resource: &str,
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
        let (metrics, orders): (Vec<(Metric, MetricSeries)>, Vec<Vec<SeriesLabel>>) = grouped
            .into_iter()
            .map(|(m, s)| {
                let (kept, order) = self.ranked(s);
                ((m, kept), order)
            })
            .unzip();
        let (start, end) = self.timespan.unwrap_or_else(|| {
            let range = data.time_range().unwrap_or((0, 0));
            (self.bucket(range.0), self.bucket(range.1) + self.step(0))
        });
        let buckets = match self.dialect {
            Dialect::Sink => None,
            Dialect::Azure { .. } => Some(self.buckets(start, end)),
        };
        let points: usize = metrics
            .iter()
            .flat_map(|(_, series)| {
                series
                    .values()
                    .map(|b| buckets.as_ref().map_or(b.len(), Vec::len))
            })
            .sum();
        if points > max_points {
            return Err(QueryError::TooManyPoints { points, max_points });
        }
        let grain = match self.interval {
            Interval::Grain(g) => g,
            Interval::Full => Grain::MINUTE,
        };
        let mut response = MetricsResponse::build(
            &metrics,
            grain,
            (start, end),
            naming,
            resource,
            self.aggregations,
        );
        if let Some(buckets) = buckets {
            // Azure lists ranked series in rank order; the sink's own API
            // in label order, as it always has.
            for ((body, (_, series)), order) in response.value.iter_mut().zip(&metrics).zip(&orders)
            {
                let labels: Vec<&SeriesLabel> = series.keys().collect();
                let mut listed: Vec<Option<TimeSeries>> =
                    body.timeseries.drain(..).map(Some).collect();
                body.timeseries = order
                    .iter()
                    .filter_map(|l| labels.binary_search(&l).ok())
                    .filter_map(|i| listed[i].take())
                    .collect();
            }
            self.as_azure_answers(&mut response, &buckets, end - start);
        }
        Ok(response)
    }

    /// Azure's answer from the sink's: every bucket of the timespan listed
    /// (those without data with their time alone; a metric without any
    /// data has no series, `"timeseries": []`), `FULL` named by its
    /// length, the namespace and dimension names in lower case as Azure
    /// writes them, descriptions, and no data for `resultType=Metadata`.
    fn as_azure_answers(&self, response: &mut MetricsResponse, buckets: &[i64], length: i64) {
        if self.interval == Interval::Full {
            response.interval = format_duration(length);
        }
        response.namespace = response.namespace.to_ascii_lowercase();
        let stamps: Vec<String> = buckets.iter().map(|&b| time_stamp(b)).collect();
        for (body, metric) in response.value.iter_mut().zip(&self.metrics) {
            body.display_description = metric.description().to_string();
            for series in &mut body.timeseries {
                for meta in &mut series.metadatavalues {
                    meta.name.value.make_ascii_lowercase();
                    meta.name.localized_value.make_ascii_lowercase();
                }
                if self.metadata_only {
                    series.data.clear();
                    continue;
                }
                let mut held = std::mem::take(&mut series.data).into_iter().peekable();
                series.data = stamps
                    .iter()
                    .map(|stamp| {
                        held.next_if(|p| &p.time_stamp == stamp)
                            .unwrap_or_else(|| DataPoint::empty(stamp.clone()))
                    })
                    .collect();
            }
        }
    }

    /// The bucket holding `time`.
    fn bucket(&self, time: i64) -> i64 {
        match (self.interval, self.timespan) {
            (Interval::Grain(g), _) => g.bucket(time),
            (Interval::Full, Some((start, _))) => start,
            (Interval::Full, None) => time,
        }
    }

    /// The length of the bucket starting at `start`.
    fn step(&self, start: i64) -> i64 {
        match (self.interval, self.timespan) {
            (Interval::Grain(g), _) => g.millis(),
            (Interval::Full, Some((from, to))) => (to - from).max(1) - (start - from),
            (Interval::Full, None) => 1,
        }
    }

    /// Every bucket start of `[start, end)`.
    fn buckets(&self, start: i64, end: i64) -> Vec<i64> {
        let mut out = Vec::new();
        let mut at = self.bucket(start);
        while at < end {
            out.push(at);
            at += self.step(at);
        }
        out
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
                    .filter(|(d, _)| self.filter.split.contains(d) && !self.rollup.contains(d))
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
                .entry((label, self.bucket(second)))
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
        let whole_minutes = match self.interval {
            Interval::Grain(g) => Grain::MINUTE.divides(g),
            Interval::Full => true,
        };
        if whole_minutes && !cut(start) && !cut(end) {
            return Ok(());
        }
        Err(QueryError::PerMinute {
            at: crate::wire::metrics_response::time_stamp(rolled),
            retention: humantime::format_duration(data.retention()).to_string(),
        })
    }
    /// Applies orderby and top (top alone ranks by count, descending);
    /// also returns the kept series' labels in rank order (label order
    /// without top).
    fn ranked(&self, series: MetricSeries) -> (MetricSeries, Vec<SeriesLabel>) {
        let Some(top) = self.top else {
            let order = series.keys().cloned().collect();
            return (series, order);
        };
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
        scored.truncate(top);
        let order = scored.iter().map(|(_, l, _)| l.clone()).collect();
        let kept = scored.into_iter().map(|(_, l, b)| (l, b)).collect();
        (kept, order)
    }
}

/// The metric namespaces a query may name: the platform metrics', and
/// the custom namespace `generate --format azure-monitor` documents use.
pub(super) const AZURE_NAMESPACES: [&str; 2] = [
    "Microsoft.Communication/CommunicationServices",
    CUSTOM_METRICS_NAMESPACE,
];

/// `interval`: a grain of the dialect's (PT1M when absent); in Azure's,
/// one of Azure's grains or `FULL`, an unsupported one moved to the
/// nearest supported grain if `AutoAdjustTimegrain=true`.
fn interval(params: &HashMap<String, String>, dialect: Dialect) -> Result<Interval, QueryError> {
    let Some(text) = params.get("interval") else {
        return Ok(Interval::Grain(Grain::MINUTE));
    };
    if dialect == Dialect::Sink {
        return text
            .parse::<Grain>()
            .map(Interval::Grain)
            .map_err(QueryError::Interval);
    }
    if text.eq_ignore_ascii_case("FULL") {
        return Ok(Interval::Full);
    }
    let millis = duration_millis(text).map_err(QueryError::Timespan)?;
    let grains = AZURE_GRAINS.map(|g| g.parse::<Grain>().expect("Azure's grains are grains"));
    if let Some(&grain) = grains.iter().find(|g| g.millis() == millis) {
        return Ok(Interval::Grain(grain));
    }
    let adjust = params
        .get("AutoAdjustTimegrain")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !adjust {
        return Err(QueryError::AzureInterval(text.clone()));
    }
    let nearest = grains
        .iter()
        .min_by_key(|g| (g.millis() - millis).abs())
        .copied()
        .unwrap_or(Grain::MINUTE);
    Ok(Interval::Grain(nearest))
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
