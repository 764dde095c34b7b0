//! The time-ordered event stream of a whole workload. Calls are simulated
//! as they arrive and their events filed in a calendar queue; a bucket of
//! the calendar is released once no call that has not started yet could add
//! to it. Memory is O(concurrent calls), not O(events).

use super::Workload;
use super::arrival::Arrivals;
use super::calendar::Calendar;
use super::call::simulate;
use super::event::Event;
use crate::model::LAST_EVENT_MS;
use crate::scenario::Scenario;

/// A workload whose events run past [`LAST_EVENT_MS`].
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error(
    "the workload runs past 9999-12-30T23:59:59.999Z, the last time an event may have (RFC 3339 \
     writes years up to 9999, and every event's day must end by then): give an earlier --start"
)]
pub struct TimeBeyond {
    /// The first event's time past the limit, in Unix milliseconds.
    pub at: i64,
}

pub struct EventStream<'a> {
    scenario: &'a Scenario,
    seed: u64,
    shard: super::Shard,
    start_ms: i64,
    arrivals: Arrivals,
    /// The next call to start: (index, start time), if any.
    upcoming: Option<(u64, i64)>,
    calendar: Calendar<'a>,
    /// The bucket being handed out, in order, and the position in it.
    ready: Vec<Event<'a>>,
    ready_at: usize,
    /// One call's events, reused for every call.
    scratch: Vec<Event<'a>>,
    calls_started: u64,
    /// The time of the first event past [`LAST_EVENT_MS`]; the stream
    /// ends before it.
    beyond: Option<i64>,
}

impl<'a> EventStream<'a> {
    pub fn new(scenario: &'a Scenario, workload: &Workload) -> Self {
        let mut arrivals = workload.arrivals();
        let upcoming = arrivals.next().map(|t| (0, workload.start_ms + t as i64));
        EventStream {
            scenario,
            seed: workload.seed,
            shard: workload.shard,
            start_ms: workload.start_ms,
            arrivals,
            upcoming,
            calendar: Calendar::new(workload.start_ms),
            ready: Vec::new(),
            ready_at: 0,
            scratch: Vec::new(),
            calls_started: 0,
            beyond: None,
        }
    }

    /// Calls started so far.
    pub fn calls_started(&self) -> u64 {
        self.calls_started
    }

    /// Whether the stream ended early at an event past [`LAST_EVENT_MS`]:
    /// a workload that runs past the last day times can be written for.
    pub fn past_the_last_day(&self) -> Result<(), TimeBeyond> {
        self.beyond.map_or(Ok(()), |at| Err(TimeBeyond { at }))
    }

    fn start_call(&mut self, index: u64, start_ms: i64) {
        self.upcoming = self
            .arrivals
            .next()
            .map(|t| (index + 1, self.start_ms + t as i64));
        // Another shard's call: its arrival still counts, so the indices
        // and times of this shard's calls are the unsharded ones.
        if !self.shard.owns(index) {
            return;
        }
        self.calls_started += 1;
        simulate(self.scenario, self.seed, index, start_ms, &mut self.scratch);
        for &event in &self.scratch {
            self.calendar.push(event);
        }
    }
}

impl<'a> Iterator for EventStream<'a> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        loop {
            if self.beyond.is_some() {
                return None;
            }
            if let Some(&event) = self.ready.get(self.ready_at) {
                self.ready_at += 1;
                if event.time_ms > LAST_EVENT_MS {
                    self.beyond = Some(event.time_ms);
                    return None;
                }
                return Some(event);
            }
            // Every call starting before the next bucket ends may add to it.
            let end = self.calendar.cursor_end_ms();
            while let Some((index, start)) = self.upcoming
                && start < end
            {
                self.start_call(index, start);
            }
            if self.calendar.is_empty() {
                let (_, start) = self.upcoming?;
                self.calendar.jump_to(start);
                continue;
            }
            let limit = self.upcoming.map_or(i64::MAX, |(_, start)| start);
            self.calendar.take_next(&mut self.ready, limit);
            self.ready_at = 0;
        }
    }
}
