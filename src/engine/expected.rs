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

/// A request to the recording routes: Azure counts them without ApiVersion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordingDims {
    pub operation: Operation,
    pub status: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallbackDims {
    pub event: EventType,
    pub code: u16,
    pub sub_code: u32,
    pub version: ApiVersion,
}

/// One time series: a metric and a full combination of its dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Series {
    Requests(RequestDims),
    Latency(RequestDims),
    Callbacks(CallbackDims),
    Recordings(RecordingDims),
}

/// Series are keyed by one packed word: aggregation looks a series up per
/// sample, and hashing and comparing the enum field by field showed in
/// profiles. Bits: tag 0-1, operation or event type 2-7, api version 8-11,
/// code 12-27, sub-code 28-59.
const _: () = assert!(Operation::ALL.len() <= 64 && EventType::ALL.len() <= 64);
const _: () = assert!(ApiVersion::COUNT <= 16);

impl Series {
    /// The series an event counts in (a request also adds its latency to
    /// the `Latency` twin of this series).
    pub fn of(event: &Event) -> Series {
        match event.kind {
            EventKind::Request {
                operation, status, ..
            } if operation.metric() == Metric::RecordingRequests => {
                Series::Recordings(RecordingDims {
                    operation,
                    status: status.code,
                })
            }
            EventKind::Request {
                operation, status, ..
            } => Series::Requests(RequestDims {
                operation,
                status: status.code,
                version: event.api_version,
            }),
            EventKind::Callback {
                event: ty, result, ..
            } => Series::Callbacks(CallbackDims {
                event: ty,
                code: result.code,
                sub_code: result.sub_code,
                version: event.api_version,
            }),
        }
    }

    /// A lossless one-word key of the series.
    pub fn pack(self) -> u64 {
        let (tag, a, code, sub_code, version) = match self {
            Series::Requests(d) => (0u64, d.operation as u64, d.status, 0, d.version),
            Series::Latency(d) => (1, d.operation as u64, d.status, 0, d.version),
            Series::Callbacks(d) => (2, d.event as u64, d.code, d.sub_code, d.version),
            Series::Recordings(d) => (
                3,
                d.operation as u64,
                d.status,
                0,
                ApiVersion::from_index(0).expect("a version"),
            ),
        };
        tag | a << 2 | (version.index() as u64) << 8 | (code as u64) << 12 | (sub_code as u64) << 28
    }

    fn unpack(bits: u64) -> Series {
        let a = (bits >> 2 & 0x3f) as usize;
        let version =
            ApiVersion::from_index((bits >> 8 & 0xf) as u8).expect("packed from a catalog version");
        let code = (bits >> 12) as u16;
        match bits & 3 {
            0 | 1 => {
                let dims = RequestDims {
                    operation: Operation::ALL[a],
                    status: code,
                    version,
                };
                if bits & 3 == 0 {
                    Series::Requests(dims)
                } else {
                    Series::Latency(dims)
                }
            }
            3 => Series::Recordings(RecordingDims {
                operation: Operation::ALL[a],
                status: code,
            }),
            _ => Series::Callbacks(CallbackDims {
                event: EventType::ALL[a],
                code,
                sub_code: (bits >> 28) as u32,
                version,
            }),
        }
    }
}

impl Series {
    pub fn metric(self) -> Metric {
        match self {
            Series::Requests(_) => Metric::ApiRequests,
            Series::Latency(_) => Metric::ApiRequestLatency,
            Series::Callbacks(_) => Metric::CallbackEvents,
            Series::Recordings(_) => Metric::RecordingRequests,
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
            Series::Recordings(d) => vec![
                (Dimension::Operation, d.operation.name().to_string()),
                (Dimension::StatusCode, d.status.to_string()),
                (Dimension::StatusCodeClass, class(d.status)),
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
    /// The aggregate of one sample.
    pub fn of(value: u64) -> Aggregate {
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

/// One bucket's cells, by packed series.
type Cells = FxHashMap<u64, Aggregate>;

/// Aggregates keyed by bucket start (Unix ms) and series.
///
/// The bucket being written is held apart from the others: streams are
/// (mostly) in time order, so nearly every sample lands in that one small,
/// cache-resident table instead of a random slot of one large table.
#[derive(Clone, Debug)]
pub struct Expected {
    grain: Grain,
    buckets: FxHashMap<i64, Cells>,
    /// The bucket being written; never also a key of `buckets`.
    current: (i64, Cells),
}

impl Expected {
    pub fn new(grain: Grain) -> Expected {
        Expected {
            grain,
            buckets: FxHashMap::default(),
            current: (i64::MIN, Cells::default()),
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

    /// Adds samples of `series` at `time_ms` already aggregated (count,
    /// total, minimum and maximum); true when that made a new cell.
    pub fn add_aggregate(&mut self, series: Series, time_ms: i64, aggregate: &Aggregate) -> bool {
        let bucket = self.grain.bucket(time_ms);
        self.absorb(series, bucket, aggregate)
    }

    /// Every bucket with its cells, the current one included.
    fn all_buckets(&self) -> impl Iterator<Item = (i64, &Cells)> {
        let current = (!self.current.1.is_empty()).then_some((self.current.0, &self.current.1));
        self.buckets.iter().map(|(&b, c)| (b, c)).chain(current)
    }

    /// First and last bucket start, if there is any data.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let first = self.all_buckets().map(|(b, _)| b).min()?;
        let last = self.all_buckets().map(|(b, _)| b).max()?;
        Some((first, last))
    }

    /// The cell of a packed series ([`Series::pack`]) in `bucket`.
    pub fn cell(&self, series: u64, bucket: i64) -> Option<&Aggregate> {
        if self.current.0 == bucket {
            self.current.1.get(&series)
        } else {
            self.buckets.get(&bucket)?.get(&series)
        }
    }

    /// Every cell, in no particular order.
    pub fn cells(&self) -> impl Iterator<Item = (Series, i64, &Aggregate)> {
        self.all_buckets()
            .flat_map(|(b, cells)| cells.iter().map(move |(&s, a)| (Series::unpack(s), b, a)))
    }

    /// The cells of `bucket`, made the current bucket.
    fn bucket_mut(&mut self, bucket: i64) -> &mut Cells {
        if self.current.0 != bucket {
            let cells = self.buckets.remove(&bucket).unwrap_or_default();
            let (old, old_cells) = std::mem::replace(&mut self.current, (bucket, cells));
            if !old_cells.is_empty() {
                self.buckets.insert(old, old_cells);
            }
        }
        &mut self.current.1
    }

    /// True when the cell is new.
    fn absorb(&mut self, series: Series, bucket: i64, sample: &Aggregate) -> bool {
        match self.bucket_mut(bucket).entry(series.pack()) {
            std::collections::hash_map::Entry::Occupied(mut cell) => {
                cell.get_mut().absorb(sample);
                false
            }
            std::collections::hash_map::Entry::Vacant(cell) => {
                cell.insert(*sample);
                true
            }
        }
    }

    fn add(&mut self, series: Series, bucket: i64, value: u64) {
        self.absorb(series, bucket, &Aggregate::of(value));
    }

    /// Counts one event.
    pub fn record(&mut self, event: &Event) {
        let bucket = self.grain().bucket(event.time_ms);
        let series = Series::of(event);
        self.add(series, bucket, 1);
        if let (Series::Requests(dims), EventKind::Request { latency_ms, .. }) =
            (series, event.kind)
        {
            self.add(Series::Latency(dims), bucket, latency_ms as u64);
        }
    }

    /// Removes every bucket that starts before `end`, handing each of its
    /// cells to `f`.
    pub fn drain_before(&mut self, end: i64, mut f: impl FnMut(Series, i64, Aggregate)) {
        let old: Vec<i64> = self.buckets.keys().copied().filter(|&b| b < end).collect();
        for bucket in old {
            if let Some(cells) = self.buckets.remove(&bucket) {
                cells
                    .into_iter()
                    .for_each(|(s, a)| f(Series::unpack(s), bucket, a));
            }
        }
        if self.current.0 < end {
            let (bucket, cells) =
                std::mem::replace(&mut self.current, (i64::MIN, Cells::default()));
            cells
                .into_iter()
                .for_each(|(s, a)| f(Series::unpack(s), bucket, a));
        }
    }

    /// Adds another set of aggregates of the same grain (e.g. another thread's).
    pub fn merge(&mut self, other: Expected) {
        for (series, bucket, agg) in other.cells() {
            self.absorb(series, bucket, agg);
        }
    }

    /// The same aggregates at a coarser grain, which must be a multiple of ours.
    pub fn rollup(&self, coarser: Grain) -> Option<Expected> {
        if !self.grain().divides(coarser) {
            return None;
        }
        let mut out = Expected::new(coarser);
        for (series, bucket, agg) in self.cells() {
            out.absorb(series, coarser.bucket(bucket), agg);
        }
        Some(out)
    }

    /// Series in a fixed order, each with its buckets in time order.
    pub fn sorted(&self) -> BTreeMap<Series, BTreeMap<i64, Aggregate>> {
        let mut out: BTreeMap<Series, BTreeMap<i64, Aggregate>> = BTreeMap::new();
        for (series, bucket, agg) in self.cells() {
            out.entry(series).or_default().insert(bucket, *agg);
        }
        out
    }

    /// Number of (series, bucket) cells.
    pub fn len(&self) -> usize {
        self.all_buckets().map(|(_, cells)| cells.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sum of `count` over all cells of a metric.
    pub fn total_count(&self, metric: Metric) -> u64 {
        self.cells()
            .filter(|(s, _, _)| s.metric() == metric)
            .map(|(_, _, a)| a.count)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_pack_and_unpack_losslessly() {
        let version = ApiVersion::all().last().unwrap();
        let req = RequestDims {
            operation: *Operation::ALL.last().unwrap(),
            status: u16::MAX,
            version,
        };
        let cb = CallbackDims {
            event: *EventType::ALL.last().unwrap(),
            code: 599,
            sub_code: u32::MAX,
            version,
        };
        let rec = RecordingDims {
            operation: Operation::GetRecording,
            status: u16::MAX,
        };
        for s in [
            Series::Requests(req),
            Series::Latency(req),
            Series::Callbacks(cb),
            Series::Recordings(rec),
        ] {
            assert_eq!(Series::unpack(s.pack()), s);
        }
    }

    #[test]
    fn samples_land_in_their_bucket_in_any_time_order() {
        let s = Series::Callbacks(CallbackDims {
            event: EventType::ALL[0],
            code: 200,
            sub_code: 0,
            version: ApiVersion::all().next().unwrap(),
        });
        let mut e = Expected::new(Grain::MINUTE);
        for t in [0, 120_000, 1_000, 60_000, 121_000, 2_000] {
            e.add_sample(s, t, t as u64);
        }
        let got: Vec<_> = e.sorted()[&s]
            .iter()
            .map(|(&b, a)| (b, a.count, a.total))
            .collect();
        assert_eq!(
            got,
            [(0, 3, 3_000), (60_000, 1, 60_000), (120_000, 2, 241_000)]
        );
        assert_eq!(e.len(), 3);
        assert_eq!(e.time_range(), Some((0, 120_000)));
    }
}
