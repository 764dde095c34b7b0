//! Batches: events encoded by a target's [`Encoder`] until the batch is
//! full or, when paced, spans the batch window; compressed when asked. Runs
//! on the generator thread, so per event it only appends bytes and counts
//! the event into the batch's expected aggregates.
//!
//! Batch boundaries depend only on the events and the settings, never on the
//! clock, so a batch (its body, and the idempotency key derived from the
//! run's fingerprint and its sequence number) is the same on every attempt
//! and in every replay of the same run.

use super::pacing::Schedule;
use crate::engine::Event;
use crate::model::{AggregateTable, Grain};
use axum::body::Bytes;
use flate2::write::GzEncoder;
use std::io::{Read, Write};
use std::time::Duration;

/// How a target's events become body bytes. Runs on the generator thread
/// and may keep state across batches (ids already rendered, counters).
pub trait Encoder: Send + 'static {
    /// The body's media type.
    const CONTENT_TYPE: &'static str;

    /// True when batches close only where [`Encoder::closes_before`] says
    /// (and at the end), never by size or window: a counter target's body
    /// holds samples at fixed instants, and a batch cut elsewhere would
    /// carry events but no samples.
    const OWN_CUTS: bool = false;

    /// False for events this target does not deliver: they are neither
    /// sent nor expected.
    fn accepts(&self, e: &Event) -> bool;

    /// Appends `e` to the batch's `body` (empty for the first event).
    fn encode(&mut self, body: &mut Vec<u8>, e: &Event);

    /// True when the batch must be closed before `e` (a target that writes
    /// at fixed instants closes one when an event crosses the next). The
    /// batch's size and window still close batches too.
    fn closes_before(&mut self, e: &Event) -> bool {
        let _ = e;
        false
    }

    /// Completes a body that holds at least one event.
    fn finish(&mut self, body: &mut Vec<u8>) {
        let _ = body;
    }

    /// Appends what the end of the stream leaves to write (a counter
    /// target's last samples) to the last body, before `finish`.
    fn end(&mut self, body: &mut Vec<u8>) {
        let _ = body;
    }

    /// The latest event time (Unix ms) the body's content stands for, when
    /// later than its last event (a counter sample at the next boundary):
    /// the batch is not due before it.
    fn stamped_until(&self) -> Option<i64> {
        None
    }
}

/// Body compression, sent as `Content-Encoding`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Compression {
    #[default]
    None,
    /// gzip at its fastest level: the generator thread must keep up.
    Gzip,
    /// snappy's block format, as Prometheus remote write requires.
    Snappy,
}

impl Compression {
    /// The `Content-Encoding` value, if any.
    pub fn content_encoding(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip => Some("gzip"),
            Compression::Snappy => Some("snappy"),
        }
    }

    fn apply(self, raw: Vec<u8>) -> Vec<u8> {
        match self {
            Compression::None => raw,
            Compression::Gzip => {
                let mut gz = GzEncoder::new(
                    Vec::with_capacity(raw.len() / 4),
                    flate2::Compression::fast(),
                );
                gz.write_all(&raw).expect("writing to a Vec cannot fail");
                gz.finish().expect("writing to a Vec cannot fail")
            }
            Compression::Snappy => snap::raw::Encoder::new()
                .compress_vec(&raw)
                .expect("a body is far below snappy's 4 GiB block limit"),
        }
    }
}

/// A closed batch, ready to send as is, as many times as needed.
#[derive(Clone, Debug)]
pub struct Batch {
    /// 0-based position in the run.
    pub seq: u64,
    /// The run's fingerprint: with `seq`, the batch's idempotency key.
    pub run: u64,
    /// The encoded events, compressed when `compression` says so.
    pub body: Bytes,
    pub compression: Compression,
    /// Events in the body.
    pub events: u32,
    /// Body size before compression.
    pub raw_bytes: usize,
    /// Event times (Unix ms) of its first and last event: how a failed
    /// request of a target that does not list its events is described.
    pub first_ms: i64,
    pub last_ms: i64,
    /// The latest timestamp its body writes: `last_ms`, or later for a
    /// target that samples at instants past its events (remote write).
    pub stamped_ms: i64,
    /// When the batch is due, from the schedule's origin: the offset of its
    /// last event, so that no event is sent before its time. Zero unpaced.
    pub due: Duration,
    /// The aggregates of exactly these events.
    pub expected: AggregateTable,
}

impl Batch {
    /// The `Idempotency-Key`: the same on every attempt and every replay of
    /// the same run.
    pub fn idempotency_key(&self) -> String {
        batch_id(self.run, self.seq)
    }

    /// The body as encoded, before compression.
    pub fn raw_body(&self) -> std::io::Result<std::borrow::Cow<'_, [u8]>> {
        use std::borrow::Cow;
        match self.compression {
            Compression::None => Ok(Cow::Borrowed(&self.body)),
            Compression::Gzip => {
                let mut raw = Vec::with_capacity(self.raw_bytes);
                flate2::read::GzDecoder::new(&self.body[..]).read_to_end(&mut raw)?;
                Ok(Cow::Owned(raw))
            }
            Compression::Snappy => snap::raw::Decoder::new()
                .decompress_vec(&self.body)
                .map(Cow::Owned)
                .map_err(std::io::Error::other),
        }
    }
}

impl Batch {
    /// A target's ending request ([`Target::ending`]) of `raw` bytes
    /// stamped at `stamped_ms`: no events, so nothing to count.
    ///
    /// [`Target::ending`]: crate::emit::targets::Target::ending
    pub fn ending(raw: Vec<u8>, compression: Compression, stamped_ms: i64) -> Batch {
        let raw_bytes = raw.len();
        Batch {
            seq: u64::MAX,
            run: 0,
            body: Bytes::from(compression.apply(raw)),
            compression,
            events: 0,
            raw_bytes,
            first_ms: stamped_ms,
            last_ms: stamped_ms,
            stamped_ms,
            due: Duration::ZERO,
            expected: AggregateTable::new(Grain::MINUTE),
        }
    }
}

#[cfg(test)]
impl Batch {
    /// A batch of one event with this body, of run 0xab.
    pub fn of_body(seq: u64, body: &'static [u8]) -> Batch {
        Batch {
            seq,
            run: 0xab,
            body: Bytes::from_static(body),
            compression: Compression::None,
            events: 1,
            raw_bytes: body.len(),
            first_ms: 0,
            last_ms: 0,
            stamped_ms: 0,
            due: Duration::ZERO,
            expected: AggregateTable::new(Grain::MINUTE),
        }
    }
}

/// The idempotency key of batch `seq` of the run with this fingerprint.
pub(crate) fn batch_id(fingerprint: u64, seq: u64) -> String {
    format!("cm-{fingerprint:016x}-{seq}")
}

/// The first buffer is sized for lines of about this many bytes, later
/// ones from the largest batch so far.
const EVENT_ESTIMATE: usize = 160;

/// How batches are cut.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Cut {
    /// Events per batch at most.
    pub max_events: usize,
    /// Under pacing (`speed` is `Some`), a batch is also closed once its
    /// events span this much schedule time.
    pub window: Duration,
    pub speed: Option<f64>,
}

/// Turns the event stream into batches.
pub(crate) struct Batcher<E> {
    encoder: E,
    fingerprint: u64,
    max_events: u32,
    window: Duration,
    compression: Compression,
    grain: Grain,
    /// Set by the first event when paced.
    schedule: Option<Schedule>,
    paced: Option<f64>,
    /// Event-time span of a batch in ms, once the schedule is known.
    span_ms: i64,
    seq: u64,
    /// Events the encoder did not accept.
    skipped: u64,
    buf: Vec<u8>,
    capacity: usize,
    events: u32,
    first_ms: i64,
    last_ms: i64,
    expected: AggregateTable,
}

impl<E: Encoder> Batcher<E> {
    pub(crate) fn new(
        encoder: E,
        fingerprint: u64,
        cut: Cut,
        compression: Compression,
        grain: Grain,
    ) -> Batcher<E> {
        let max_events = cut.max_events.clamp(1, u32::MAX as usize) as u32;
        let capacity = (max_events as usize)
            .saturating_mul(EVENT_ESTIMATE)
            .min(1 << 20);
        Batcher {
            encoder,
            fingerprint,
            max_events,
            window: cut.window,
            compression,
            grain,
            schedule: None,
            paced: cut.speed,
            span_ms: i64::MAX,
            seq: 0,
            skipped: 0,
            buf: Vec::with_capacity(capacity),
            capacity,
            events: 0,
            first_ms: 0,
            last_ms: 0,
            expected: AggregateTable::new(grain),
        }
    }

    /// Adds `e` if the target delivers it; returns the batch it closed, if
    /// any.
    pub(crate) fn push(&mut self, e: &Event) -> Option<Batch> {
        if !self.encoder.accepts(e) {
            self.skipped += 1;
            return None;
        }
        if self.schedule.is_none()
            && let Some(speed) = self.paced
        {
            let schedule = Schedule::new(e.time_ms, speed);
            self.span_ms = schedule.event_span(self.window);
            self.schedule = Some(schedule);
        }
        // The window is checked before adding, so a batch never spans more.
        let crosses = self.encoder.closes_before(e);
        let spans = !E::OWN_CUTS && e.time_ms - self.first_ms >= self.span_ms;
        let closed = if self.events > 0 && (crosses || spans) {
            self.close()
        } else {
            None
        };
        if self.events == 0 {
            self.first_ms = e.time_ms;
        }
        self.encoder.encode(&mut self.buf, e);
        self.expected.record(e);
        self.events += 1;
        self.last_ms = e.time_ms;
        if !E::OWN_CUTS && self.events >= self.max_events {
            debug_assert!(closed.is_none());
            return self.close();
        }
        closed
    }

    /// Events the target does not deliver, so far.
    pub(crate) fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The last, partly filled batch, with what the end of the stream
    /// leaves the encoder to write.
    pub(crate) fn finish(mut self) -> Option<Batch> {
        if self.events > 0 {
            self.encoder.end(&mut self.buf);
        }
        self.close()
    }

    fn close(&mut self) -> Option<Batch> {
        if self.events == 0 {
            return None;
        }
        self.encoder.finish(&mut self.buf);
        self.capacity = self.capacity.max(self.buf.len());
        let raw = std::mem::replace(&mut self.buf, Vec::with_capacity(self.capacity));
        let raw_bytes = raw.len();
        let stamped_ms = self
            .last_ms
            .max(self.encoder.stamped_until().unwrap_or(i64::MIN));
        let batch = Batch {
            seq: self.seq,
            run: self.fingerprint,
            body: Bytes::from(self.compression.apply(raw)),
            compression: self.compression,
            events: self.events,
            raw_bytes,
            first_ms: self.first_ms,
            last_ms: self.last_ms,
            stamped_ms,
            due: self
                .schedule
                .map_or(Duration::ZERO, |s| s.offset(stamped_ms)),
            expected: std::mem::replace(&mut self.expected, AggregateTable::new(self.grain)),
        };
        self.seq += 1;
        self.events = 0;
        Some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Naming;
    use crate::emit::targets::ingest::NdjsonEncoder;
    use crate::engine::{EventStream, Workload};

    fn events(calls: u64) -> (crate::scenario::Scenario, Workload) {
        let scenario = crate::scenario::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/outbound-notification.json"
        )))
        .unwrap();
        let workload = Workload::calls(3, calls, 20.0);
        (scenario, workload)
    }

    fn encode(calls: u64, size: usize, speed: Option<f64>, gzip: bool) -> Vec<Batch> {
        let (scenario, workload) = events(calls);
        let lines = NdjsonEncoder::new(
            crate::engine::IdKey::of(&scenario, &workload),
            Naming::default(),
        );
        let cut = Cut {
            max_events: size,
            window: Duration::from_millis(500),
            speed,
        };
        let compression = if gzip {
            Compression::Gzip
        } else {
            Compression::None
        };
        let mut enc = Batcher::new(lines, 0xabc, cut, compression, Grain::MINUTE);
        let mut out: Vec<Batch> = EventStream::new(&scenario, &workload)
            .filter_map(|e| enc.push(&e))
            .collect();
        out.extend(enc.finish());
        out
    }

    fn plain(b: &Batch) -> Vec<u8> {
        b.raw_body().unwrap().to_vec()
    }

    #[test]
    fn batches_close_by_size_with_stable_ids() {
        let batches = encode(50, 64, None, false);
        assert!(batches.len() > 2);
        for (i, b) in batches.iter().enumerate() {
            assert_eq!(b.seq, i as u64);
            assert_eq!(b.idempotency_key(), format!("cm-0000000000000abc-{i}"));
            assert_eq!(b.due, Duration::ZERO);
            let lines = b.body.iter().filter(|&&c| c == b'\n').count();
            assert_eq!(lines, b.events as usize);
            assert_eq!(b.raw_bytes, b.body.len());
        }
        let (last, full) = batches.split_last().unwrap();
        assert!(full.iter().all(|b| b.events == 64));
        assert!(last.events <= 64);
        // Same inputs, same batches.
        let again = encode(50, 64, None, false);
        assert!(batches.iter().zip(&again).all(|(a, b)| a.body == b.body));
    }

    #[test]
    fn paced_batches_close_by_window_and_carry_their_due_time() {
        let (scenario, workload) = events(50);
        let times: Vec<i64> = EventStream::new(&scenario, &workload)
            .map(|e| e.time_ms)
            .collect();
        let first = times[0];
        let batches = encode(50, 100_000, Some(1.0), false);
        let batches_fast = encode(50, 100_000, Some(2.0), false);
        let mut at = 0;
        for b in &batches {
            let mine = &times[at..at + b.events as usize];
            at += b.events as usize;
            assert!(mine.last().unwrap() - mine[0] < 500, "window is 500 ms");
            let last = *mine.last().unwrap();
            assert_eq!((b.first_ms, b.last_ms), (mine[0], last));
            assert_eq!(b.due, Duration::from_millis((last - first) as u64));
        }
        assert_eq!(at, times.len());
        // Twice the speed: a 500 ms window spans 1000 ms of events, and every
        // due time is half the event-time offset.
        assert!(batches_fast.len() < batches.len());
        for b in &batches_fast {
            assert!(b.due.as_micros() % 500 == 0);
        }
    }

    #[test]
    fn gzip_bodies_hold_the_same_lines() {
        let plain_batches = encode(30, 50, None, false);
        let gz_batches = encode(30, 50, None, true);
        assert_eq!(plain_batches.len(), gz_batches.len());
        for (p, g) in plain_batches.iter().zip(&gz_batches) {
            assert!(g.compression == Compression::Gzip && g.body.len() < p.body.len());
            assert_eq!(g.raw_bytes, p.body.len());
            assert_eq!(plain(g), p.body.to_vec());
            assert_eq!(g.idempotency_key(), p.idempotency_key());
        }
    }

    #[test]
    fn batch_expectations_sum_to_the_whole_run() {
        let (scenario, workload) = events(40);
        let whole = crate::engine::expected_only(&scenario, &workload, Grain::MINUTE, 1);
        let mut sum = AggregateTable::new(Grain::MINUTE);
        for b in encode(40, 37, None, false) {
            sum.merge(b.expected);
        }
        assert_eq!(sum.sorted(), whole.sorted());
    }
}
