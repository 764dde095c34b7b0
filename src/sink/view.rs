//! The aggregates as a query sees them: the cells, plus the batches applied
//! while other queries held the cells (the store keeps those aside rather
//! than make ingest wait, and adds them to the cells later). Each aside
//! sample is seen in the cell it will be added to, so an answer is the same
//! before and after.

use super::cells::Cells;
use super::sample::Sample;
use crate::model::{Aggregate, Series};
use std::sync::Arc;

pub(crate) struct View<'a> {
    cells: &'a Cells,
    aside: &'a [Arc<[Sample]>],
}

impl<'a> View<'a> {
    pub(crate) fn new(cells: &'a Cells, aside: &'a [Arc<[Sample]>]) -> View<'a> {
        View { cells, aside }
    }

    /// Every cell with its bucket start, in no order; a cell may come more
    /// than once (held and aside), to be summed.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Series, i64, &'a Aggregate)> + '_ {
        self.cells.iter().chain(self.aside_cells())
    }

    /// First and last bucket start, if there is any data.
    pub(crate) fn time_range(&self) -> Option<(i64, i64)> {
        self.aside_cells()
            .map(|(_, bucket, _)| bucket)
            .fold(self.cells.time_range(), |range, t| match range {
                Some((first, last)) => Some((first.min(t), last.max(t))),
                None => Some((t, t)),
            })
    }

    fn aside_cells(&self) -> impl Iterator<Item = (Series, i64, &'a Aggregate)> + '_ {
        let cells = self.cells;
        self.aside
            .iter()
            .flat_map(|batch| batch.iter())
            .map(move |s| (s.series, cells.bucket(s.time_ms), &s.aggregate))
    }

    /// Where the minute cells end, if there are any.
    pub(crate) fn rolled_before(&self) -> Option<i64> {
        self.cells.rolled_before()
    }

    pub(crate) fn retention(&self) -> std::time::Duration {
        self.cells.retention()
    }
}
