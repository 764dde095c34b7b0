//! A calendar queue of pending events: a ring of 32 ms buckets reaching
//! about 17 minutes ahead, plus an ordered overflow for anything later.
//! Inserting is a push onto the event's bucket; taking the next bucket is a
//! sequential read and a small sort. A heap over the live calls' buffers did
//! the same job with a cache miss per event (each pop read a different
//! call's buffer), which dominated the merge with thousands of live calls.
//! (One-millisecond buckets would need no sort, but spread pushes over four
//! times the ring memory and measured slower.)

use super::event::Event;
use std::collections::BTreeMap;

/// Bucket width; events within one bucket are sorted when it is taken.
const WIDTH_MS: i64 = 32;
/// Buckets in the ring (a power of two).
const RING: usize = 1 << 15;
/// Empty buffers kept for reuse, so the ring does not keep the capacity of
/// every bucket it ever filled.
const SPARE: usize = 64;

pub struct Calendar<'a> {
    ring: Vec<Vec<Event<'a>>>,
    /// Buckets at or beyond `cursor + RING`, by bucket number.
    overflow: BTreeMap<i64, Vec<Event<'a>>>,
    /// The first key of `overflow` (i64::MAX when empty).
    overflow_first: i64,
    /// The first bucket not yet taken.
    cursor: i64,
    len: usize,
    spare: Vec<Vec<Event<'a>>>,
}

fn bucket(time_ms: i64) -> i64 {
    time_ms.div_euclid(WIDTH_MS)
}

fn slot(bucket: i64) -> usize {
    bucket as usize & (RING - 1)
}

impl<'a> Calendar<'a> {
    pub fn new(start_ms: i64) -> Calendar<'a> {
        Calendar {
            ring: (0..RING).map(|_| Vec::new()).collect(),
            overflow: BTreeMap::new(),
            overflow_first: i64::MAX,
            cursor: bucket(start_ms),
            len: 0,
            spare: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// End (exclusive, Unix ms) of the next bucket to be taken.
    pub fn cursor_end_ms(&self) -> i64 {
        (self.cursor + 1) * WIDTH_MS
    }

    /// Adds an event. It must not be earlier than the next bucket: callers
    /// start every call that could reach a bucket before taking it.
    pub fn push(&mut self, event: Event<'a>) {
        let b = bucket(event.time_ms).max(self.cursor);
        self.len += 1;
        if b - self.cursor < RING as i64 {
            let bucket = &mut self.ring[slot(b)];
            if bucket.capacity() == 0
                && let Some(buffer) = self.spare.pop()
            {
                *bucket = buffer;
            }
            bucket.push(event);
        } else {
            self.overflow.entry(b).or_default().push(event);
            self.overflow_first = self.overflow_first.min(b);
        }
    }

    /// Moves on to the bucket holding `time_ms` when nothing is pending.
    pub fn jump_to(&mut self, time_ms: i64) {
        if self.is_empty() {
            self.cursor = self.cursor.max(bucket(time_ms));
        }
    }

    /// Replaces `out` with the next bucket's events in stream order (time,
    /// call, position in the call) and advances. An empty bucket touches
    /// nothing but the cursor.
    pub fn take_next(&mut self, out: &mut Vec<Event<'a>>) {
        out.clear();
        let bucket = &mut self.ring[slot(self.cursor)];
        if !bucket.is_empty() {
            std::mem::swap(out, bucket);
            let emptied = std::mem::take(bucket);
            if self.spare.len() < SPARE && emptied.capacity() > 0 {
                self.spare.push(emptied);
            }
            self.len -= out.len();
            out.sort_unstable_by_key(|e| (e.time_ms, e.call, e.seq));
        }
        self.cursor += 1;
        // The ring now reaches one bucket further: bring it in from overflow.
        while self.overflow_first < self.cursor + RING as i64 {
            let Some(entry) = self.overflow.first_entry() else {
                break;
            };
            let b = *entry.key();
            self.ring[slot(b)] = entry.remove();
            self.overflow_first = self.overflow.keys().next().copied().unwrap_or(i64::MAX);
        }
    }
}
