//! Counts for people to look at (`--report`'s charts): per metric, the
//! expected and the observed number of events per bucket of the finest
//! compared grain, and per value of each dimension over the window. The
//! observed side is taken from the very answers the comparison used, and
//! a bucket or value is marked as differing when the comparison found a
//! mismatch there (any aggregation, within the tolerance), so a chart
//! cannot disagree with the verdict.

use super::expected::{ExpectedData, regroup};
use super::observed::ObservedSeries;
use super::query::Split;
use super::report::Mismatch;
use crate::catalog::{Dimension, Metric};
use crate::model::Grain;
use crate::wire::metrics_response::MetricSeries;
use std::collections::BTreeMap;

/// Events on each side of one bucket or dimension value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counted {
    pub expected: u64,
    /// `None` when the backend was not asked (no check, or a metric it
    /// does not observe the count of).
    pub observed: Option<u64>,
    /// The check found a mismatch here.
    pub differs: bool,
}

/// One metric's counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Traffic {
    pub metric: Metric,
    /// The grain of `buckets`; with `totals`, one bucket spans the window.
    pub grain: Grain,
    pub totals: bool,
    /// Bucket start (Unix ms) -> events.
    pub buckets: BTreeMap<i64, Counted>,
    /// In the metric's dimension order: value -> events over the window.
    pub dimensions: Vec<(Dimension, BTreeMap<String, Counted>)>,
}

impl Traffic {
    pub fn new(metric: Metric, grain: Grain, totals: bool) -> Traffic {
        Traffic {
            metric,
            grain,
            totals,
            buckets: BTreeMap::new(),
            dimensions: Vec::new(),
        }
    }

    /// The expected side of every metric in `data`, at `grain` (nothing
    /// observed: a run that was not checked).
    pub fn expected(data: &ExpectedData, grain: Grain) -> Vec<Traffic> {
        data.metrics()
            .iter()
            .map(|(&metric, series)| {
                let mut traffic = Traffic::new(metric, grain, false);
                for split in Split::all(metric) {
                    let want = regroup(series, grain, &split.dimensions(metric));
                    traffic.add(split, &want, None, &[]);
                }
                traffic
            })
            .collect()
    }

    /// Adds one split (the metric total or one dimension; the full
    /// combinations are not charted): `want` grouped as the check groups
    /// it, the backend's answer when it was asked (an expected bucket or
    /// value the answer does not list was observed as 0), and the
    /// mismatches the check found for it.
    pub fn add(
        &mut self,
        split: Split,
        want: &MetricSeries,
        got: Option<&ObservedSeries>,
        mismatches: &[Mismatch],
    ) {
        match split {
            Split::Full => {}
            Split::Total => {
                let mut cells = BTreeMap::new();
                for buckets in want.values() {
                    for (&ms, a) in buckets {
                        let cell: &mut Counted = cells.entry(ms).or_default();
                        cell.expected = cell.expected.saturating_add(a.count);
                    }
                }
                if let Some(got) = got {
                    fill(&mut cells, observed_by(got, |_, ms| Some(ms)));
                }
                for m in mismatches {
                    cells.entry(m.bucket).or_default().differs = true;
                }
                self.buckets = cells;
            }
            Split::One(d) => {
                // A series without the dimension (a sink that ignored the
                // split) still counts, under a name of its own.
                let value = |label: &[(Dimension, String)]| {
                    label
                        .iter()
                        .find(|(x, _)| *x == d)
                        .map_or_else(|| NO_VALUE.to_string(), |(_, v)| v.clone())
                };
                let mut cells = BTreeMap::new();
                for (label, buckets) in want {
                    let cell: &mut Counted = cells.entry(value(label)).or_default();
                    for a in buckets.values() {
                        cell.expected = cell.expected.saturating_add(a.count);
                    }
                }
                if let Some(got) = got {
                    fill(&mut cells, observed_by(got, |label, _| Some(value(label))));
                }
                for m in mismatches {
                    cells.entry(value(&m.label)).or_default().differs = true;
                }
                self.dimensions.push((d, cells));
            }
        }
    }
}

/// The row of series that lack the dimension they were asked to be split by.
pub(super) const NO_VALUE: &str = "(no value)";

/// Sets the observed side of every cell: the answer's count, or 0.
fn fill<K: Ord>(cells: &mut BTreeMap<K, Counted>, observed: BTreeMap<K, u64>) {
    for c in cells.values_mut() {
        c.observed = Some(0);
    }
    for (key, n) in observed {
        cells.entry(key).or_default().observed = Some(n);
    }
}

/// The answer's counts added up by `key` (of a label and bucket).
fn observed_by<K: Ord>(
    got: &ObservedSeries,
    key: impl Fn(&[(Dimension, String)], i64) -> Option<K>,
) -> BTreeMap<K, u64> {
    let mut out = BTreeMap::new();
    for (label, buckets) in got {
        for (&ms, point) in buckets {
            if let Some(k) = key(label, ms) {
                let n: &mut u64 = out.entry(k).or_default();
                *n = n.saturating_add(point.count.unwrap_or(0));
            }
        }
    }
    out
}
