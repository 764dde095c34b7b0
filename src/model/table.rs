//! The aggregate table: for every series and time bucket of one grain, an
//! [`Aggregate`]. The engine fills one with what a run sends (the expected
//! aggregates), the sink two with what it received.

use super::aggregate::Aggregate;
use super::grain::Grain;
use super::series::Series;
use crate::catalog::Metric;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// One bucket's cells, by packed series.
type Cells = FxHashMap<u64, Aggregate>;

/// Aggregates keyed by bucket start (Unix ms) and series.
///
/// The bucket being written is held apart from the others: streams are
/// (mostly) in time order, so nearly every sample lands in that one small,
/// cache-resident table instead of a random slot of one large table.
#[derive(Clone, Debug)]
pub struct AggregateTable {
    grain: Grain,
    buckets: FxHashMap<i64, Cells>,
    /// The bucket being written; never also a key of `buckets`.
    current: (i64, Cells),
}

impl AggregateTable {
    pub fn new(grain: Grain) -> AggregateTable {
        AggregateTable {
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
    pub(crate) fn absorb(&mut self, series: Series, bucket: i64, sample: &Aggregate) -> bool {
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

    pub(crate) fn add(&mut self, series: Series, bucket: i64, value: u64) {
        self.absorb(series, bucket, &Aggregate::of(value));
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
    pub fn merge(&mut self, other: AggregateTable) {
        for (series, bucket, agg) in other.cells() {
            self.absorb(series, bucket, agg);
        }
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
    use crate::catalog::{ApiVersion, EventType};
    use crate::model::CallbackDims;

    #[test]
    fn samples_land_in_their_bucket_in_any_time_order() {
        let s = Series::Callbacks(CallbackDims {
            event: EventType::ALL[0],
            code: 200,
            sub_code: 0,
            version: ApiVersion::all().next().unwrap(),
        });
        let mut e = AggregateTable::new(Grain::MINUTE);
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
