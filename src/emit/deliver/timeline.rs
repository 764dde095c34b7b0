//! A replay over wall time, for `run --report`'s charts: per slot of the
//! run, what was delivered, retried and given up on, and the request
//! latency and schedule lag distributions. Slots start one second wide and
//! double (pairs merged) whenever the run outgrows [`SLOTS_MAX`] of them,
//! so a week-long run costs as much memory as a two-minute one.

use super::send::Sent;
use hdrhistogram::Histogram;
use std::time::Duration;
use tokio::time::Instant;

/// Slots kept at most: enough points for a chart, few enough histograms.
pub(crate) const SLOTS_MAX: usize = 120;

/// Microseconds, up to an hour, two significant digits (1%): a chart's
/// precision at a tenth of the summary's memory per histogram.
fn histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("valid histogram bounds")
}

/// One slot of wall time.
#[derive(Clone, Debug)]
pub struct Slot {
    /// Delivered requests and their events.
    pub requests: u64,
    pub events: u64,
    /// Attempts after the first.
    pub retries: u64,
    /// Requests given up on, and their events.
    pub failed_requests: u64,
    pub failed_events: u64,
    /// Every attempt's latency, µs.
    pub latency: Histogram<u32>,
    /// Every paced request's lag, µs (empty at the maximum rate).
    pub lag: Histogram<u32>,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            requests: 0,
            events: 0,
            retries: 0,
            failed_requests: 0,
            failed_events: 0,
            latency: histogram(),
            lag: histogram(),
        }
    }

    fn absorb(&mut self, other: &Slot) {
        self.requests += other.requests;
        self.events += other.events;
        self.retries += other.retries;
        self.failed_requests += other.failed_requests;
        self.failed_events += other.failed_events;
        // Same bounds on both sides: adding cannot fail.
        let _ = self.latency.add(&other.latency);
        let _ = self.lag.add(&other.lag);
    }
}

/// The run's slots, from its start.
#[derive(Clone, Debug)]
pub struct Timeline {
    start: Instant,
    width: Duration,
    slots: Vec<Slot>,
}

impl Timeline {
    pub fn new(start: Instant) -> Timeline {
        Timeline {
            start,
            width: Duration::from_secs(1),
            slots: Vec::new(),
        }
    }

    /// How wide each slot is.
    pub fn width(&self) -> Duration {
        self.width
    }

    /// The slots, the first starting at the run's start; slots in which
    /// nothing ended are empty, not left out.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// A request that ended at `at`, with the lag it was taken with.
    pub fn record(&mut self, at: Instant, events: u32, lag: Option<Duration>, sent: &Sent) {
        let slot = self.slot(at);
        let events = u64::from(events);
        if sent.result.is_ok() {
            slot.requests += 1;
            slot.events += events;
        } else {
            slot.failed_requests += 1;
            slot.failed_events += events;
        }
        slot.retries += sent.attempts.len().saturating_sub(1) as u64;
        for attempt in &sent.attempts {
            slot.latency
                .saturating_record(attempt.latency.as_micros().max(1) as u64);
        }
        if let Some(lag) = lag {
            slot.lag.saturating_record(lag.as_micros().max(1) as u64);
        }
    }

    fn slot(&mut self, at: Instant) -> &mut Slot {
        let since = at.saturating_duration_since(self.start);
        let mut index = (since.as_nanos() / self.width.as_nanos()) as usize;
        while index >= SLOTS_MAX {
            self.widen();
            index /= 2;
        }
        if self.slots.len() <= index {
            self.slots.resize_with(index + 1, Slot::new);
        }
        &mut self.slots[index]
    }

    /// Doubles the width: slots 2k and 2k+1 become slot k.
    fn widen(&mut self) {
        let old = std::mem::take(&mut self.slots);
        let mut pairs = old.into_iter();
        while let Some(mut first) = pairs.next() {
            if let Some(second) = pairs.next() {
                first.absorb(&second);
            }
            self.slots.push(first);
        }
        self.width *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::deliver::send::Attempt;
    use crate::emit::deliver::stats::ReplyKind;

    fn sent(ok: bool, latencies_ms: &[u64]) -> Sent {
        Sent {
            attempts: latencies_ms
                .iter()
                .map(|&ms| Attempt {
                    reply: ReplyKind::Status(if ok { 204 } else { 500 }),
                    latency: Duration::from_millis(ms),
                    started: Instant::now(),
                })
                .collect(),
            result: if ok {
                Ok(false)
            } else {
                Err("HTTP 500".into())
            },
        }
    }

    #[tokio::test(start_paused = true)]
    async fn requests_land_in_their_second_and_gaps_stay_empty() {
        let start = Instant::now();
        let mut t = Timeline::new(start);
        t.record(
            start + Duration::from_millis(10),
            100,
            None,
            &sent(true, &[2]),
        );
        t.record(
            start + Duration::from_millis(2500),
            40,
            Some(Duration::from_millis(7)),
            &sent(false, &[3, 5, 9]),
        );
        assert_eq!(t.width(), Duration::from_secs(1));
        let slots = t.slots();
        assert_eq!(slots.len(), 3);
        assert_eq!((slots[0].requests, slots[0].events), (1, 100));
        assert_eq!(slots[1].latency.len(), 0);
        assert_eq!(
            (
                slots[2].failed_requests,
                slots[2].failed_events,
                slots[2].retries
            ),
            (1, 40, 2)
        );
        assert_eq!(slots[2].latency.len(), 3);
        // Within the 1% the slots keep.
        assert!(
            (6_930..=7_070).contains(&slots[2].lag.max()),
            "{}",
            slots[2].lag.max()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_run_widens_slots_and_keeps_every_count() {
        let start = Instant::now();
        let mut t = Timeline::new(start);
        // One request a second for 1000 s: 1000 slots of 1 s would be too
        // many, so they widen to 16 s (63 slots).
        for s in 0..1000u64 {
            t.record(start + Duration::from_secs(s), 3, None, &sent(true, &[1]));
        }
        assert_eq!(t.width(), Duration::from_secs(16));
        assert!(t.slots().len() <= SLOTS_MAX);
        assert_eq!(t.slots().len(), 63);
        let events: u64 = t.slots().iter().map(|s| s.events).sum();
        assert_eq!(events, 3000);
        assert_eq!(t.slots()[0].requests, 16);
        assert_eq!(t.slots()[62].requests, 1000 - 62 * 16);
        let latencies: u64 = t.slots().iter().map(|s| s.latency.len()).sum();
        assert_eq!(latencies, 1000);
    }
}
