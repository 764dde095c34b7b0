//! The time-ordered event stream of a whole workload. Calls are simulated
//! as they arrive; an event is released once no call that has not started
//! yet could precede it. Memory is O(concurrent calls), not O(events).

use super::Workload;
use super::arrival::Arrivals;
use super::call::simulate;
use super::event::Event;
use crate::scenario::Scenario;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::binary_heap::PeekMut;

/// One started call's pending events, in order.
struct Pending<'a> {
    events: Vec<Event<'a>>,
    next: usize,
}

pub struct EventStream<'a> {
    scenario: &'a Scenario,
    seed: u64,
    start_ms: i64,
    arrivals: Arrivals,
    /// The next call to start: (index, start time), if any.
    upcoming: Option<(u64, i64)>,
    /// Heap of (next event's merge key, slot) over calls with pending events.
    heap: BinaryHeap<Reverse<(u128, usize)>>,
    slots: Vec<Pending<'a>>,
    free: Vec<usize>,
    calls_started: u64,
}

impl<'a> EventStream<'a> {
    pub fn new(scenario: &'a Scenario, workload: &Workload) -> Self {
        let mut arrivals = workload.arrivals();
        let upcoming = arrivals.next().map(|t| (0, workload.start_ms + t as i64));
        EventStream {
            scenario,
            seed: workload.seed,
            start_ms: workload.start_ms,
            arrivals,
            upcoming,
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            calls_started: 0,
        }
    }

    /// Calls started so far.
    pub fn calls_started(&self) -> u64 {
        self.calls_started
    }

    fn start_call(&mut self, index: u64, start_ms: i64) {
        self.calls_started += 1;
        self.upcoming = self
            .arrivals
            .next()
            .map(|t| (index + 1, self.start_ms + t as i64));
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Pending {
                events: Vec::new(),
                next: 0,
            });
            self.slots.len() - 1
        });
        let pending = &mut self.slots[slot];
        simulate(
            self.scenario,
            self.seed,
            index,
            start_ms,
            &mut pending.events,
        );
        pending.next = 0;
        match pending.events.first() {
            Some(first) => self.heap.push(Reverse((first.merge_key(), slot))),
            None => self.free.push(slot),
        }
    }
}

impl<'a> Iterator for EventStream<'a> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        loop {
            // The head's time is read from its key: following the slot to the
            // event costs two dependent cache misses per event.
            let head = self
                .heap
                .peek()
                .map(|Reverse((key, _))| Event::time_of_merge_key(*key));
            let start = match self.upcoming {
                Some((index, start)) if head.is_none_or(|t| t > start) => Some((index, start)),
                _ => None,
            };
            // A call still to start could produce events before the head (or
            // there is no head yet): start it first.
            if let Some((index, start)) = start {
                self.start_call(index, start);
                continue;
            }
            let mut top = self.heap.peek_mut()?;
            let slot = top.0.1;
            let pending = &mut self.slots[slot];
            let event = pending.events[pending.next];
            pending.next += 1;
            match pending.events.get(pending.next) {
                // Replacing the top sifts it down once, cheaper than pop + push.
                Some(next) => top.0 = (next.merge_key(), slot),
                None => {
                    PeekMut::pop(top);
                    self.free.push(slot);
                }
            }
            return Some(event);
        }
    }
}
