//! GET /metrics: Azure Monitor "Metrics - List" over the stored aggregates.
//! metricnames, timespan (start/end), interval, aggregation, $filter,
//! top and orderby, answering in the same shape as expected.json.

use super::filter::Filter;
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

impl Query {
    /// Parses query-string parameters; errors are messages for a 400.
    pub(super) fn parse(params: &HashMap<String, String>, naming: Naming) -> Result<Query, String> {
        let names = params
            .get("metricnames")
            .filter(|s| !s.trim().is_empty())
            .ok_or("metricnames is required, e.g. metricnames=APIRequestCallAutomation")?;
        let metrics = names
            .split(',')
            .map(|n| {
                Metric::from_name(n.trim()).ok_or_else(|| {
                    let known: Vec<_> = Metric::ALL.iter().map(|m| m.name()).collect();
                    format!("unknown metric {:?}; known: {}", n.trim(), known.join(", "))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let timespan = params
            .get("timespan")
            .map(|t| {
                let (a, b) = t
                    .split_once('/')
                    .ok_or(format!("timespan {t:?} must be start/end in RFC 3339"))?;
                let start =
                    parse_millis(a).ok_or(format!("timespan start {a:?} is not RFC 3339"))?;
                let end = parse_millis(b).ok_or(format!("timespan end {b:?} is not RFC 3339"))?;
                if end <= start {
                    return Err(format!("timespan {t:?} ends before it starts"));
                }
                Ok((start, end))
            })
            .transpose()?;
        let interval = match params.get("interval") {
            Some(i) => i.parse::<Grain>()?,
            None => Grain::MINUTE,
        };
        let aggregations = match params.get("aggregation") {
            None => Aggregations::ALL,
            Some(list) => {
                let mut a = Aggregations {
                    count: false,
                    total: false,
                    minimum: false,
                    maximum: false,
                    average: false,
                };
                for name in list.split(',') {
                    match aggregation(name).ok_or(format!(
                        "unknown aggregation {name:?}; use Count, Total, Average, Minimum, Maximum"
                    ))? {
                        Rank::Count => a.count = true,
                        Rank::Total => a.total = true,
                        Rank::Minimum => a.minimum = true,
                        Rank::Maximum => a.maximum = true,
                        Rank::Average => a.average = true,
                    }
                }
                a
            }
        };
        let filter = Filter::parse(params.get("$filter").map_or("", String::as_str))
            .map_err(|e| format!("$filter: {e}"))?;
        for &m in &metrics {
            filter.check_dimensions(m, naming)?;
        }
        let top = params
            .get("top")
            .map(|t| {
                t.parse::<usize>()
                    .map_err(|_| format!("top {t:?} is not a number"))
            })
            .transpose()?;
        let order = params
            .get("orderby")
            .map(|o| {
                let mut words = o.split_whitespace();
                let rank = words.next().and_then(aggregation).ok_or(format!(
                    "orderby {o:?}: name an aggregation, e.g. `count desc`"
                ))?;
                let desc = match words.next().map(str::to_ascii_lowercase).as_deref() {
                    None | Some("desc") => true,
                    Some("asc") => false,
                    Some(other) => {
                        return Err(format!("orderby direction {other:?}; use asc or desc"));
                    }
                };
                if let Some(extra) = words.next() {
                    return Err(format!(
                        "orderby {o:?}: {extra:?} after the direction; use e.g. `count desc`"
                    ));
                }
                Ok((rank, desc))
            })
            .transpose()?;
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

    /// Runs the query over the sink's aggregates. Labels are
    /// worked out once per series (not per cell): a long run has hundreds
    /// of thousands of cells but only hundreds of series.
    ///
    /// An answer of more than `max_points` points (series x buckets) is
    /// refused with the reason: it would take the sink's memory and hold
    /// the store's lock while it is built.
    pub(super) fn run(
        &self,
        data: &View,
        naming: Naming,
        max_points: usize,
    ) -> Result<MetricsResponse, String> {
        self.answerable(data)?;
        let too_many = |points: usize| {
            format!(
                "the answer would hold {points} points or more (series x buckets), past the \
                 sink's {max_points} (--max-answer-points): narrow the timespan or the $filter, \
                 use a coarser interval, or top"
            )
        };
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
                return Err(too_many(cells.len()));
            }
        }
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
            return Err(too_many(points));
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

    /// Refuses a question the minute cells cannot answer exactly: a
    /// sub-minute interval, or a timespan that cuts a minute, over the
    /// range held per minute.
    fn answerable(&self, data: &View) -> Result<(), String> {
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
        let at = crate::wire::metrics_response::time_stamp(rolled);
        Err(format!(
            "the sink holds data before {at} per minute (it keeps {} of data per second, \
             back from the newest sample: --per-second-retention): ask with an interval of \
             PT1M or a multiple of it and a timespan on whole minutes, or for a timespan \
             from {at} on",
            humantime::format_duration(data.retention())
        ))
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
