//! The expected aggregates: for every metric, dimension combination and time
//! bucket, count / total / minimum / maximum (average derives from them).
//! All sample values are whole numbers (1 per request or callback, latency
//! in ms), so totals are kept as integers and are exact at any volume.

use super::event::{Event, EventKind};
use super::grain::Grain;
use crate::catalog::{ApiVersion, Dimension, EventType, Metric, Operation, StatusClass};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestDims {
    pub operation: Operation,
    pub status: u16,
    pub version: ApiVersion,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallbackDims {
    pub event: EventType,
    pub code: u16,
    pub sub_code: u32,
    pub version: ApiVersion,
}

/// One time series: a metric and a full combination of its dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Series {
    Requests(RequestDims),
    Latency(RequestDims),
    Callbacks(CallbackDims),
}

/// Hashes the series as one packed word: aggregation hashes a series per
/// sample, and the derived Hash (a round per field) showed in profiles.
impl std::hash::Hash for Series {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let (tag, a, code, sub_code, version) = match *self {
            Series::Requests(d) => (0u64, d.operation as u64, d.status, 0, d.version),
            Series::Latency(d) => (1, d.operation as u64, d.status, 0, d.version),
            Series::Callbacks(d) => (2, d.event as u64, d.code, d.sub_code, d.version),
        };
        // Distinct for every real series (codes < 1024, < 64 operations or
        // event types, < 16 versions); a collision would only cost speed.
        state.write_u64(
            tag | a << 2
                | (code as u64 & 0x3ff) << 8
                | (version.index() as u64 & 0xf) << 18
                | (sub_code as u64) << 22,
        );
    }
}

impl Series {
    pub fn metric(self) -> Metric {
        match self {
            Series::Requests(_) => Metric::ApiRequests,
            Series::Latency(_) => Metric::ApiRequestLatency,
            Series::Callbacks(_) => Metric::CallbackEvents,
        }
    }

    /// Dimension values in the metric's dimension order.
    pub fn dimension_values(self) -> Vec<(Dimension, String)> {
        let class = |code| {
            StatusClass::of(code)
                .map_or("", StatusClass::as_str)
                .to_string()
        };
        match self {
            Series::Requests(d) | Series::Latency(d) => vec![
                (Dimension::Operation, d.operation.name().to_string()),
                (Dimension::StatusCode, d.status.to_string()),
                (Dimension::StatusCodeClass, class(d.status)),
                (Dimension::ApiVersion, d.version.as_str().to_string()),
            ],
            Series::Callbacks(d) => vec![
                (Dimension::EventTypeName, d.event.name().to_string()),
                (Dimension::Code, d.code.to_string()),
                (Dimension::CodeClass, class(d.code)),
                (Dimension::SubCode, d.sub_code.to_string()),
                (Dimension::Version, d.version.as_str().to_string()),
            ],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aggregate {
    pub count: u64,
    pub total: u64,
    pub minimum: u64,
    pub maximum: u64,
}

impl Aggregate {
    fn of(value: u64) -> Aggregate {
        Aggregate {
            count: 1,
            total: value,
            minimum: value,
            maximum: value,
        }
    }

    /// Folds another aggregate of the same series into this one.
    pub fn absorb(&mut self, other: &Aggregate) {
        self.count += other.count;
        self.total += other.total;
        self.minimum = self.minimum.min(other.minimum);
        self.maximum = self.maximum.max(other.maximum);
    }

    pub fn average(&self) -> f64 {
        self.total as f64 / self.count as f64
    }
}

/// Aggregates keyed by series and bucket start (Unix ms).
#[derive(Clone, Debug)]
pub struct Expected {
    grain: Grain,
    cells: FxHashMap<(Series, i64), Aggregate>,
}

impl Expected {
    pub fn new(grain: Grain) -> Expected {
        Expected {
            grain,
            cells: FxHashMap::default(),
        }
    }

    pub fn grain(&self) -> Grain {
        self.grain
    }

    /// Adds one sample of `series` at `time_ms`.
    pub fn add_sample(&mut self, series: Series, time_ms: i64, value: u64) {
        let bucket = self.grain.bucket(time_ms);
        self.add(series, bucket, value);
    }

    /// First and last bucket start, if there is any data.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let first = self.cells.keys().map(|(_, b)| *b).min()?;
        let last = self.cells.keys().map(|(_, b)| *b).max()?;
        Some((first, last))
    }

    /// Every cell, in no particular order.
    pub fn cells(&self) -> impl Iterator<Item = (Series, i64, &Aggregate)> {
        self.cells.iter().map(|(&(s, b), a)| (s, b, a))
    }

    fn add(&mut self, series: Series, bucket: i64, value: u64) {
        let sample = Aggregate::of(value);
        self.cells
            .entry((series, bucket))
            .and_modify(|a| a.absorb(&sample))
            .or_insert(sample);
    }

    /// Counts one event.
    pub fn record(&mut self, event: &Event) {
        let bucket = self.grain().bucket(event.time_ms);
        match event.kind {
            EventKind::Request {
                operation,
                status,
                latency_ms,
            } => {
                let dims = RequestDims {
                    operation,
                    status: status.code,
                    version: event.api_version,
                };
                self.add(Series::Requests(dims), bucket, 1);
                self.add(Series::Latency(dims), bucket, latency_ms as u64);
            }
            EventKind::Callback {
                event: ty, result, ..
            } => {
                let dims = CallbackDims {
                    event: ty,
                    code: result.code,
                    sub_code: result.sub_code,
                    version: event.api_version,
                };
                self.add(Series::Callbacks(dims), bucket, 1);
            }
        }
    }

    /// Adds another set of aggregates of the same grain (e.g. another thread's).
    pub fn merge(&mut self, other: Expected) {
        for ((series, bucket), agg) in other.cells {
            self.cells
                .entry((series, bucket))
                .and_modify(|a| a.absorb(&agg))
                .or_insert(agg);
        }
    }

    /// The same aggregates at a coarser grain, which must be a multiple of ours.
    pub fn rollup(&self, coarser: Grain) -> Option<Expected> {
        if !self.grain().divides(coarser) {
            return None;
        }
        let mut out = Expected::new(coarser);
        for (&(series, bucket), agg) in &self.cells {
            out.cells
                .entry((series, coarser.bucket(bucket)))
                .and_modify(|a| a.absorb(agg))
                .or_insert(*agg);
        }
        Some(out)
    }

    /// Series in a fixed order, each with its buckets in time order.
    pub fn sorted(&self) -> BTreeMap<Series, BTreeMap<i64, Aggregate>> {
        let mut out: BTreeMap<Series, BTreeMap<i64, Aggregate>> = BTreeMap::new();
        for (&(series, bucket), agg) in &self.cells {
            out.entry(series).or_default().insert(bucket, *agg);
        }
        out
    }

    /// Number of (series, bucket) cells.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Sum of `count` over all cells of a metric.
    pub fn total_count(&self, metric: Metric) -> u64 {
        self.cells
            .iter()
            .filter(|((s, _), _)| s.metric() == metric)
            .map(|(_, a)| a.count)
            .sum()
    }
}
