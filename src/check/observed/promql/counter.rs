//! One raw series of a counter as a reset-aware running total.
//!
//! A counter that goes down was restarted (an app that died and came back
//! counts from 0 again). As Prometheus' `resets()` and `increase()` read
//! it, the value after a reset is what was counted since the reset, so the
//! running total adds it whole; what the app counted between its last
//! scrape and its death is lost, and the check then shows exactly that
//! loss. Unlike `increase()`, nothing is extrapolated: the total at a time
//! is the running total of the last sample at or before it, 0 before the
//! first one (a counter not yet created).

/// A reset of one series: the counter read `before`, then `after` at `at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Reset {
    /// Unix ms of the first sample after the reset.
    pub at: i64,
    pub before: u64,
    pub after: u64,
}

/// A series' samples (time-ordered, whole numbers) as running totals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Counter {
    times: Vec<i64>,
    totals: Vec<u64>,
    resets: Vec<Reset>,
}

/// The running total of a series passed what a u64 holds.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Overflow;

impl Counter {
    /// `samples` sorted by time, one per time.
    pub(super) fn new(samples: &[(i64, u64)]) -> Result<Counter, Overflow> {
        let mut counter = Counter {
            times: Vec::with_capacity(samples.len()),
            totals: Vec::with_capacity(samples.len()),
            resets: Vec::new(),
        };
        let mut previous: Option<u64> = None;
        let mut total: u64 = 0;
        for &(at, value) in samples {
            let increase = match previous {
                Some(before) if value < before => {
                    counter.resets.push(Reset {
                        at,
                        before,
                        after: value,
                    });
                    value
                }
                Some(before) => value - before,
                None => value,
            };
            total = total.checked_add(increase).ok_or(Overflow)?;
            previous = Some(value);
            counter.times.push(at);
            counter.totals.push(total);
        }
        Ok(counter)
    }

    /// The running total at `at`: of the last sample at or before it.
    pub(super) fn at(&self, at: i64) -> u64 {
        match self.times.partition_point(|&t| t <= at) {
            0 => 0,
            n => self.totals[n - 1],
        }
    }

    pub(super) fn resets(&self) -> &[Reset] {
        &self.resets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_totals_add_the_value_after_a_reset() {
        // 5, 9, restart, 2, 6: 9 counted before the reset, 6 after it.
        let c = Counter::new(&[(10, 5), (20, 9), (30, 2), (40, 6)]).unwrap();
        assert_eq!(c.at(9), 0);
        assert_eq!(c.at(10), 5);
        assert_eq!(c.at(29), 9);
        assert_eq!(c.at(30), 11);
        assert_eq!(c.at(1_000), 15);
        assert_eq!(
            c.resets(),
            [Reset {
                at: 30,
                before: 9,
                after: 2
            }]
        );
        // Over (10, 40]: 15 - 5 = 10 = 4 + 2 + 4, what Prometheus'
        // increase() would say before extrapolating.
        assert_eq!(c.at(40) - c.at(10), 10);
        // A counter that only grows has no reset.
        assert!(
            Counter::new(&[(1, 1), (2, 1), (3, 7)])
                .unwrap()
                .resets()
                .is_empty()
        );
        // A restart to exactly 0 is a reset too.
        let zero = Counter::new(&[(1, 4), (2, 0), (3, 3)]).unwrap();
        assert_eq!((zero.at(3), zero.resets().len()), (7, 1));
    }

    #[test]
    fn a_running_total_past_u64_is_refused() {
        assert_eq!(Counter::new(&[(1, u64::MAX), (2, 1)]), Err(Overflow));
    }
}
