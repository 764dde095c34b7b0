//! A two-level calendar queue (a hierarchical timing wheel) of pending
//! events. The near wheel has 32 ms buckets covering the current span of
//! about two seconds; the far wheel has one bucket per span, reaching about
//! 35 minutes ahead; anything later waits in an ordered overflow. When the
//! cursor enters a span, that span's far bucket is poured into the near
//! wheel.
//!
//! Why this shape: calls push their events into random future times, and a
//! flat ring of many small buckets turned every push into a cache miss plus
//! a reallocation of the bucket. Here both wheels have few enough buckets
//! for their tails to stay in cache, and buckets are chains of fixed blocks
//! from one pool, so nothing is reallocated or moved as buckets grow.
//! (One-millisecond near buckets need no sort, but touch a block per
//! millisecond and measured slower.)
//!
//! Ordering needs only a counting sort by millisecond: calls are pushed
//! whole, in call order, each call in (time, seq) order, and every move
//! keeps push order; so a bucket holds its events in (call, seq) order.

use super::event::Event;
use std::collections::BTreeMap;

/// Width of a near-wheel bucket.
const TICK_MS: i64 = 32;
/// What the near wheel covers: the width of one far bucket.
const SPAN_MS: i64 = 2048;
/// Far-wheel buckets; far events reach `FAR * SPAN_MS` ahead (~35 min).
const FAR: i64 = 1024;
/// Events per pool block: long enough for reads of a poured or taken chain
/// to stream (16 measured ~10 % slower overall, 128 no better than 64).
const BLOCK: usize = 64;
const NONE: u32 = u32::MAX;

/// A bucket: a chain of blocks, all full but the last.
#[derive(Clone, Copy)]
struct Chain {
    head: u32,
    tail: u32,
    len: u32,
}

const EMPTY: Chain = Chain {
    head: NONE,
    tail: NONE,
    len: 0,
};

/// Fixed-size blocks of events, reused through a free list.
struct Pool<'a> {
    slots: Vec<Event<'a>>,
    next: Vec<u32>,
    free: Vec<u32>,
}

impl<'a> Pool<'a> {
    /// A block whose first slot holds `first`.
    fn block(&mut self, first: Event<'a>) -> u32 {
        if let Some(b) = self.free.pop() {
            self.slots[b as usize * BLOCK] = first;
            self.next[b as usize] = NONE;
            return b;
        }
        let b = self.next.len() as u32;
        // The other slots get copies of `first` as filler until written.
        self.slots.extend(std::iter::repeat_n(first, BLOCK));
        self.next.push(NONE);
        b
    }

    fn push(&mut self, chain: &mut Chain, event: Event<'a>) {
        let at = chain.len as usize % BLOCK;
        if at == 0 {
            let b = self.block(event);
            if chain.len == 0 {
                chain.head = b;
            } else {
                self.next[chain.tail as usize] = b;
            }
            chain.tail = b;
        } else {
            self.slots[chain.tail as usize * BLOCK + at] = event;
        }
        chain.len += 1;
    }

    /// Hands every event of `chain` to `each` in push order and frees its
    /// blocks.
    fn drain(&mut self, chain: Chain, mut each: impl FnMut(&mut Self, Event<'a>)) {
        let mut left = chain.len as usize;
        let mut b = chain.head;
        while left > 0 {
            let n = left.min(BLOCK);
            let start = b as usize * BLOCK;
            for i in start..start + n {
                let event = self.slots[i];
                each(self, event);
            }
            left -= n;
            self.free.push(b);
            b = self.next[b as usize];
        }
    }
}

pub(super) struct Calendar<'a> {
    pool: Pool<'a>,
    near: Vec<Chain>,
    far: Vec<Chain>,
    /// Far buckets beyond the far wheel, by span number.
    overflow: BTreeMap<i64, Vec<Event<'a>>>,
    /// Start of the next near bucket to take (a multiple of `TICK_MS`).
    cursor: i64,
    /// Events in the near wheel, and in all.
    near_len: usize,
    len: usize,
    /// A taken bucket before it is sorted.
    scratch: Vec<Event<'a>>,
}

fn span(time_ms: i64) -> i64 {
    time_ms.div_euclid(SPAN_MS)
}

fn tick_start(time_ms: i64) -> i64 {
    time_ms - time_ms.rem_euclid(TICK_MS)
}

fn near_slot(time_ms: i64) -> usize {
    (time_ms.rem_euclid(SPAN_MS) / TICK_MS) as usize
}

fn far_slot(span: i64) -> usize {
    span.rem_euclid(FAR) as usize
}

impl<'a> Calendar<'a> {
    pub(super) fn new(start_ms: i64) -> Calendar<'a> {
        Calendar {
            pool: Pool {
                slots: Vec::new(),
                next: Vec::new(),
                free: Vec::new(),
            },
            near: vec![EMPTY; (SPAN_MS / TICK_MS) as usize],
            far: vec![EMPTY; FAR as usize],
            overflow: BTreeMap::new(),
            cursor: tick_start(start_ms),
            near_len: 0,
            len: 0,
            scratch: Vec::new(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// End (exclusive, Unix ms) of the next bucket to be taken.
    pub(super) fn cursor_end_ms(&self) -> i64 {
        self.cursor + TICK_MS
    }

    /// Adds an event. It must not be earlier than the next bucket: callers
    /// start every call that could reach a bucket before taking it.
    pub(super) fn push(&mut self, event: Event<'a>) {
        let time = event.time_ms.max(self.cursor);
        self.len += 1;
        let ahead = span(time) - span(self.cursor);
        if ahead == 0 {
            self.near_len += 1;
            self.pool.push(&mut self.near[near_slot(time)], event);
        } else if ahead <= FAR {
            // The far slot of the current span is always empty (it was
            // poured into the near wheel), so FAR spans ahead fit too.
            self.pool.push(&mut self.far[far_slot(span(time))], event);
        } else {
            self.overflow.entry(span(time)).or_default().push(event);
        }
    }

    /// Moves on to the bucket holding `time_ms` when nothing is pending.
    pub(super) fn jump_to(&mut self, time_ms: i64) {
        if self.is_empty() {
            self.cursor = self.cursor.max(tick_start(time_ms));
        }
    }

    /// Replaces `out` with the next bucket's events in stream order (time,
    /// call, position in the call) and moves past it. With the near wheel
    /// empty it instead skips ahead, to the bucket of `limit_ms` (the next
    /// call's start) or to the next span, and leaves `out` empty.
    pub(super) fn take_next(&mut self, out: &mut Vec<Event<'a>>, limit_ms: i64) {
        out.clear();
        if self.near_len == 0 {
            let span_end = (span(self.cursor) + 1) * SPAN_MS;
            let to = span_end.min(tick_start(limit_ms));
            self.advance_to(to.max(self.cursor + TICK_MS));
            return;
        }
        let chain = std::mem::replace(&mut self.near[near_slot(self.cursor)], EMPTY);
        let scratch = &mut self.scratch;
        scratch.clear();
        self.pool.drain(chain, |_, e| scratch.push(e));
        sort_by_offset(scratch, self.cursor, out);
        self.near_len -= out.len();
        self.len -= out.len();
        self.advance_to(self.cursor + TICK_MS);
    }

    /// Moves the cursor forward; on entering a new span, pours that span's
    /// far bucket into the near wheel.
    fn advance_to(&mut self, to: i64) {
        let from = span(self.cursor);
        self.cursor = to;
        let now = span(to);
        if now == from {
            return;
        }
        // Only reached with an empty near wheel, in steps of one span, or
        // by a jump over an empty calendar.
        let chain = std::mem::replace(&mut self.far[far_slot(now)], EMPTY);
        let near = &mut self.near;
        let mut poured = 0;
        self.pool.drain(chain, |pool, e| {
            poured += 1;
            pool.push(&mut near[near_slot(e.time_ms.max(to))], e);
        });
        self.near_len += poured;
        // The far wheel now reaches one span further (into the slot just
        // emptied): bring that span in from the overflow.
        while let Some(entry) = self.overflow.first_entry()
            && *entry.key() <= now + FAR
        {
            let s = *entry.key();
            let events = entry.remove();
            let slot = &mut self.far[far_slot(s)];
            for event in events {
                self.pool.push(slot, event);
            }
        }
    }
}

/// Stable counting sort of one bucket by millisecond: `bucket` is in push
/// order, i.e. (call, seq) order, so sorting by time alone yields stream
/// order. Most buckets are already in order and are only copied.
fn sort_by_offset<'a>(bucket: &[Event<'a>], start_ms: i64, out: &mut Vec<Event<'a>>) {
    let offset = |e: &Event| (e.time_ms - start_ms).clamp(0, TICK_MS - 1) as usize;
    out.extend_from_slice(bucket);
    if bucket.windows(2).all(|w| w[0].time_ms <= w[1].time_ms) {
        return;
    }
    let mut at = [0usize; TICK_MS as usize + 1];
    for e in bucket {
        at[offset(e) + 1] += 1;
    }
    for i in 1..at.len() {
        at[i] += at[i - 1];
    }
    for e in bucket {
        let slot = &mut at[offset(e)];
        out[*slot] = *e;
        *slot += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes calls (each in time order) and drains, as the stream does.
    fn order(calls: &[Vec<i64>]) -> Vec<(i64, u64, u32)> {
        let mut cal = Calendar::new(0);
        for (call, times) in calls.iter().enumerate() {
            for (seq, &t) in times.iter().enumerate() {
                cal.push(Event::request_at(t, call as u64, seq as u32));
            }
        }
        let mut out = Vec::new();
        let mut got = Vec::new();
        while !cal.is_empty() {
            cal.take_next(&mut out, i64::MAX);
            got.extend(out.iter().map(|e| (e.time_ms, e.call, e.seq)));
        }
        got
    }

    #[test]
    fn events_come_out_in_stream_order_across_wheels_and_overflow() {
        let far = SPAN_MS * FAR;
        let calls = vec![
            vec![0, 5, 5, SPAN_MS + 1, far + 7, 3 * far],
            vec![5, SPAN_MS - 1, SPAN_MS + 1, far + 7, 3 * far],
            vec![1, 2 * SPAN_MS, 2 * far + SPAN_MS],
        ];
        let mut want: Vec<(i64, u64, u32)> = calls
            .iter()
            .enumerate()
            .flat_map(|(c, ts)| {
                ts.iter()
                    .enumerate()
                    .map(move |(s, &t)| (t, c as u64, s as u32))
            })
            .collect();
        want.sort();
        assert_eq!(order(&calls), want);
    }

    #[test]
    fn blocks_are_reused_and_chains_span_blocks() {
        let times: Vec<i64> = (0..(BLOCK as i64 * 5)).map(|i| 3 + i / 40).collect();
        let got = order(&[times.clone(), times.clone()]);
        assert_eq!(got.len(), times.len() * 2);
        assert!(got.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn empty_spans_are_skipped_but_not_past_the_limit() {
        let mut cal = Calendar::new(0);
        cal.push(Event::request_at(10 * SPAN_MS + 3, 0, 0));
        let mut out = Vec::new();
        cal.take_next(&mut out, 100);
        assert!(out.is_empty());
        assert_eq!(cal.cursor_end_ms(), 96 + TICK_MS, "the limit's bucket");
        cal.take_next(&mut out, i64::MAX);
        assert_eq!(cal.cursor_end_ms(), SPAN_MS + TICK_MS, "the next span");
        cal.take_next(&mut out, SPAN_MS + 1);
        assert_eq!(
            cal.cursor_end_ms(),
            SPAN_MS + 2 * TICK_MS,
            "at least a bucket"
        );
        while out.is_empty() {
            cal.take_next(&mut out, i64::MAX);
        }
        assert_eq!(out[0].time_ms, 10 * SPAN_MS + 3);
        assert!(cal.is_empty());
    }

    #[test]
    fn a_bucket_is_sorted_by_time_keeping_push_order_within_a_millisecond() {
        let mut out = Vec::new();
        let bucket = [
            Event::request_at(7, 0, 0),
            Event::request_at(3, 1, 0),
            Event::request_at(7, 1, 1),
            Event::request_at(3, 2, 5),
        ];
        sort_by_offset(&bucket, 0, &mut out);
        let got: Vec<_> = out.iter().map(|e| (e.time_ms, e.call, e.seq)).collect();
        assert_eq!(got, [(3, 1, 0), (3, 2, 5), (7, 0, 0), (7, 1, 1)]);
    }
}
