//! The sink's aggregates in two tiers: per second for the newest data, per
//! minute before that. Per-second cells of a long run are most of the
//! sink's memory (one per series per second); past `--per-second-retention`
//! of data time, measured back from the newest sample (as Prometheus'
//! retention is measured from its newest block), they are rolled into
//! minute cells, which hold the same counts, totals, minima and maxima.
//!
//! A question the minute cells cannot answer exactly (a sub-minute
//! interval, or a timespan that does not start on a minute, over the
//! rolled range) is refused by the query, never answered approximately.

use super::sample::Sample;
use crate::model::{Aggregate, AggregateTable, Grain, Series};

/// Rolling moves a sixth of the retention at once (one to ten minutes), so
/// it happens a few times per retention, not after every batch.
const MIN_STEP_MS: i64 = 60_000;
const MAX_STEP_MS: i64 = 600_000;

pub(crate) struct Cells {
    seconds: AggregateTable,
    minutes: AggregateTable,
    retention_ms: i64,
    /// Data time rolled at once, a whole number of minutes.
    step_ms: i64,
    /// The newest sample's time.
    newest: i64,
    /// Data before this time is held per minute (a multiple of a minute).
    rolled_before: i64,
    /// Cells held, both tiers: counted as they are made, since counting
    /// them means visiting every bucket.
    held: usize,
}

impl Cells {
    pub(crate) fn new(retention: std::time::Duration) -> Cells {
        let retention_ms = retention.as_millis().min(i64::MAX as u128) as i64;
        let step = (retention_ms / 6).clamp(MIN_STEP_MS, MAX_STEP_MS);
        Cells {
            seconds: AggregateTable::new(Grain::SECOND),
            minutes: AggregateTable::new(Grain::MINUTE),
            retention_ms,
            step_ms: step - step % MIN_STEP_MS,
            newest: i64::MIN,
            rolled_before: i64::MIN,
            held: 0,
        }
    }

    pub(crate) fn add(&mut self, s: &Sample) {
        self.newest = self.newest.max(s.time_ms);
        let made = self
            .tier_mut(s.time_ms)
            .add_aggregate(s.series, s.time_ms, &s.aggregate);
        self.held += usize::from(made);
    }

    /// Whether `packed`'s cell for `time_ms` is held already.
    pub(crate) fn holds(&self, packed: u64, time_ms: i64) -> bool {
        self.tier(time_ms)
            .cell(packed, self.bucket(time_ms))
            .is_some()
    }

    /// Rolls the cells that fell out of the per-second retention; called
    /// after each batch. Retention is measured back from the newest sample,
    /// but never from later than `now_ms`: one sample stamped far ahead
    /// must not roll everything else.
    pub(crate) fn roll(&mut self, now_ms: i64) {
        if self.newest == i64::MIN {
            return;
        }
        let due = self.newest.min(now_ms).saturating_sub(self.retention_ms);
        let before = due - due.rem_euclid(self.step_ms);
        if before > self.rolled_before {
            self.roll_to(before);
        }
    }

    /// Holds everything before `before` (a multiple of a minute) per
    /// minute: what a compacted log says was rolled.
    pub(crate) fn roll_to(&mut self, before: i64) {
        if before <= self.rolled_before {
            return;
        }
        let minutes = &mut self.minutes;
        let mut gone = 0;
        self.seconds
            .drain_before(before, |series, second, aggregate| {
                gone += 1;
                if minutes.add_aggregate(series, second, &aggregate) {
                    gone -= 1;
                }
            });
        self.held -= gone;
        self.rolled_before = before;
    }

    /// The start of the cell `time_ms` falls in, in the tier holding it.
    pub(crate) fn bucket(&self, time_ms: i64) -> i64 {
        self.tier(time_ms).grain().bucket(time_ms)
    }

    /// Every cell of both tiers with its bucket start, in no order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Series, i64, &Aggregate)> {
        self.minutes.cells().chain(self.seconds.cells())
    }

    /// First and last bucket start, if there is any data.
    pub(crate) fn time_range(&self) -> Option<(i64, i64)> {
        match (self.minutes.time_range(), self.seconds.time_range()) {
            (Some(m), Some(s)) => Some((m.0.min(s.0), m.1.max(s.1))),
            (m, s) => m.or(s),
        }
    }

    /// Where the minute cells end, if there are any.
    pub(crate) fn rolled_before(&self) -> Option<i64> {
        (!self.minutes.is_empty()).then_some(self.rolled_before)
    }

    /// The boundary to write into a compacted log, if anything was rolled.
    pub(crate) fn boundary(&self) -> Option<i64> {
        (self.rolled_before != i64::MIN).then_some(self.rolled_before)
    }

    pub(crate) fn retention(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.retention_ms as u64)
    }

    /// Number of cells held, both tiers.
    pub(crate) fn len(&self) -> usize {
        self.held
    }

    fn tier(&self, time_ms: i64) -> &AggregateTable {
        if time_ms < self.rolled_before {
            &self.minutes
        } else {
            &self.seconds
        }
    }

    fn tier_mut(&mut self, time_ms: i64) -> &mut AggregateTable {
        if time_ms < self.rolled_before {
            &mut self.minutes
        } else {
            &mut self.seconds
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::sample::play_failed;

    const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    fn at(time_ms: i64, value: u64) -> Sample {
        Sample::one(play_failed(400), time_ms, value)
    }

    fn sum(cells: &Cells) -> Aggregate {
        let mut all = cells.iter().map(|(_, _, a)| *a);
        let first = all.next().expect("cells");
        all.fold(first, |mut s, a| {
            s.absorb(&a);
            s
        })
    }

    #[test]
    fn old_seconds_roll_into_minutes_with_the_same_aggregates() {
        let mut cells = Cells::new(std::time::Duration::from_secs(3600));
        // Two hours, one sample every 7 s with a varying value.
        for i in 0..(7200 / 7) {
            cells.add(&at(T0 + i * 7_000, (i % 13) as u64));
            cells.roll(i64::MAX);
        }
        let before = sum(&cells);
        let held = cells.len();
        assert_eq!(held, cells.minutes.len() + cells.seconds.len());
        // Newest is 2 h - 7 s in: everything before 0:50 is per minute.
        assert_eq!(cells.rolled_before(), Some(T0 + 50 * 60_000));
        assert_eq!(cells.minutes.len(), 50);
        assert!(cells.seconds.time_range().unwrap().0 >= T0 + 50 * 60_000);
        assert!(held < 7200 / 7);
        // A late sample into the rolled range lands in its minute.
        cells.add(&at(T0 + 61_000, 99));
        assert_eq!(cells.bucket(T0 + 61_000), T0 + 60_000);
        let packed = at(0, 0).series.pack();
        assert_eq!(cells.minutes.cell(packed, T0 + 60_000).unwrap().maximum, 99);
        let after = sum(&cells);
        assert_eq!(cells.len(), cells.minutes.len() + cells.seconds.len());
        assert_eq!(after.count, before.count + 1);
        assert_eq!(after.total, before.total + 99);
        assert_eq!((after.minimum, after.maximum), (0, 99));
    }

    #[test]
    fn nothing_rolls_before_data_or_past_now() {
        let mut cells = Cells::new(std::time::Duration::from_secs(60));
        cells.roll(T0);
        assert_eq!(cells.boundary(), None);
        cells.add(&at(T0, 1));
        // A sample a year ahead of now does not roll what came before it.
        cells.add(&at(T0 + 365 * 86_400_000, 1));
        cells.roll(T0 + 30_000);
        assert_eq!(cells.rolled_before(), None);
        assert_eq!(cells.seconds.len(), 2);
        cells.roll(T0 + 600_000);
        assert_eq!(cells.rolled_before(), Some(T0 + 540_000));
    }

    #[test]
    fn a_boundary_from_a_compacted_log_rolls_what_lies_before_it() {
        let mut cells = Cells::new(std::time::Duration::from_secs(365 * 86_400));
        cells.add(&at(T0 + 1_000, 1));
        cells.add(&at(T0 + 2_000, 2));
        cells.add(&at(T0 + 600_000, 3));
        cells.roll(i64::MAX);
        assert_eq!(cells.rolled_before(), None);
        cells.roll_to(T0 + 600_000);
        assert_eq!(cells.rolled_before(), Some(T0 + 600_000));
        assert_eq!(cells.minutes.len(), 1);
        assert_eq!(cells.seconds.len(), 1);
        // Never back: a longer retention after a restart keeps the minutes.
        cells.roll_to(T0);
        assert_eq!(cells.boundary(), Some(T0 + 600_000));
    }
}
