//! Batches: sample lines (the /ingest NDJSON) accumulated until the batch is
//! full or, when paced, spans the batch window; gzip when asked. Runs on the
//! generator thread, so per event it only appends bytes and counts the
//! event into the batch's expected aggregates: no allocation per event.
//!
//! Batch boundaries depend only on the events and the settings, never on the
//! clock, and a batch's id is derived from the run's fingerprint and its
//! sequence number: the same batch always has the same idempotency key.

use super::super::JsonlEncoder;
use super::super::pacing::Schedule;
use crate::engine::{Event, Expected, Grain};
use axum::body::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::time::Duration;

/// A closed batch, ready to send as is, as many times as needed.
#[derive(Clone, Debug)]
pub struct Batch {
    /// 0-based position in the run.
    pub seq: u64,
    /// The `Idempotency-Key`: the same on every attempt.
    pub id: String,
    /// NDJSON, gzipped when `gzip`.
    pub body: Bytes,
    pub gzip: bool,
    /// Events (lines) in the body.
    pub events: u32,
    /// Body size before compression.
    pub raw_bytes: usize,
    /// When the batch is due, from the schedule's origin: the offset of its
    /// last event, so that no event is sent before its time. Zero unpaced.
    pub due: Duration,
    /// The aggregates of exactly these events.
    pub expected: Expected,
}

/// The idempotency key of batch `seq` of the run with this fingerprint.
pub fn batch_id(fingerprint: u64, seq: u64) -> String {
    format!("cm-{fingerprint:016x}-{seq}")
}

/// Average sample line is ~150 bytes; the first buffer is sized from it,
/// later ones from the largest batch so far.
const LINE_ESTIMATE: usize = 160;

/// Turns the event stream into batches.
pub struct BatchEncoder {
    lines: JsonlEncoder,
    fingerprint: u64,
    max_events: u32,
    window: Duration,
    gzip: bool,
    grain: Grain,
    /// Set by the first event when paced.
    schedule: Option<Schedule>,
    paced: Option<f64>,
    /// Event-time span of a batch in ms, once the schedule is known.
    span_ms: i64,
    seq: u64,
    buf: Vec<u8>,
    capacity: usize,
    events: u32,
    first_ms: i64,
    last_ms: i64,
    expected: Expected,
}

impl BatchEncoder {
    /// `speed` is `Some` when paced: the window then closes batches too.
    pub fn new(
        lines: JsonlEncoder,
        fingerprint: u64,
        max_events: usize,
        window: Duration,
        speed: Option<f64>,
        gzip: bool,
        grain: Grain,
    ) -> BatchEncoder {
        let max_events = max_events.clamp(1, u32::MAX as usize) as u32;
        let capacity = (max_events as usize)
            .saturating_mul(LINE_ESTIMATE)
            .min(16 << 20);
        BatchEncoder {
            lines,
            fingerprint,
            max_events,
            window,
            gzip,
            grain,
            schedule: None,
            paced: speed,
            span_ms: i64::MAX,
            seq: 0,
            buf: Vec::with_capacity(capacity),
            capacity,
            events: 0,
            first_ms: 0,
            last_ms: 0,
            expected: Expected::new(grain),
        }
    }

    /// Adds `e`; returns the batch it closed, if any.
    pub fn push(&mut self, e: &Event) -> Option<Batch> {
        if self.schedule.is_none()
            && let Some(speed) = self.paced
        {
            let schedule = Schedule::new(e.time_ms, speed);
            self.span_ms = schedule.event_span(self.window);
            self.schedule = Some(schedule);
        }
        // The window is checked before adding, so a batch never spans more.
        let closed = if self.events > 0 && e.time_ms - self.first_ms >= self.span_ms {
            self.close()
        } else {
            None
        };
        if self.events == 0 {
            self.first_ms = e.time_ms;
        }
        self.lines.encode(&mut self.buf, e);
        self.expected.record(e);
        self.events += 1;
        self.last_ms = e.time_ms;
        if self.events >= self.max_events {
            debug_assert!(closed.is_none());
            return self.close();
        }
        closed
    }

    /// The last, partly filled batch.
    pub fn finish(mut self) -> Option<Batch> {
        self.close()
    }

    /// Batches closed so far.
    pub fn batches(&self) -> u64 {
        self.seq
    }

    fn close(&mut self) -> Option<Batch> {
        if self.events == 0 {
            return None;
        }
        self.capacity = self.capacity.max(self.buf.len());
        let raw = std::mem::replace(&mut self.buf, Vec::with_capacity(self.capacity));
        let raw_bytes = raw.len();
        let body = if self.gzip { gzip(&raw) } else { raw };
        let batch = Batch {
            seq: self.seq,
            id: batch_id(self.fingerprint, self.seq),
            body: Bytes::from(body),
            gzip: self.gzip,
            events: self.events,
            raw_bytes,
            due: self
                .schedule
                .map_or(Duration::ZERO, |s| s.offset(self.last_ms)),
            expected: std::mem::replace(&mut self.expected, Expected::new(self.grain)),
        };
        self.seq += 1;
        self.events = 0;
        Some(batch)
    }
}

/// Fast compression: on a network worth compressing for, the generator
/// thread must still keep up.
fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::with_capacity(raw.len() / 4), Compression::fast());
    gz.write_all(raw).expect("writing to a Vec cannot fail");
    gz.finish().expect("writing to a Vec cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Naming;
    use crate::engine::{EventStream, Workload};
    use flate2::read::GzDecoder;
    use std::io::Read;

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
        let lines = JsonlEncoder::samples_only(workload.seed, Naming::default());
        let mut enc = BatchEncoder::new(
            lines,
            0xabc,
            size,
            Duration::from_millis(500),
            speed,
            gzip,
            Grain::MINUTE,
        );
        let mut out: Vec<Batch> = EventStream::new(&scenario, &workload)
            .filter_map(|e| enc.push(&e))
            .collect();
        out.extend(enc.finish());
        out
    }

    fn plain(b: &Batch) -> Vec<u8> {
        if !b.gzip {
            return b.body.to_vec();
        }
        let mut out = Vec::new();
        GzDecoder::new(&b.body[..]).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn batches_close_by_size_with_stable_ids() {
        let batches = encode(50, 64, None, false);
        assert!(batches.len() > 2);
        for (i, b) in batches.iter().enumerate() {
            assert_eq!(b.seq, i as u64);
            assert_eq!(b.id, format!("cm-0000000000000abc-{i}"));
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
            assert!(g.gzip && g.body.len() < p.body.len());
            assert_eq!(g.raw_bytes, p.body.len());
            assert_eq!(plain(g), p.body.to_vec());
            assert_eq!(g.id, p.id);
        }
    }

    #[test]
    fn batch_expectations_sum_to_the_whole_run() {
        let (scenario, workload) = events(40);
        let whole = crate::engine::expected_only(&scenario, &workload, Grain::MINUTE, 1);
        let mut sum = Expected::new(Grain::MINUTE);
        for b in encode(40, 37, None, false) {
            sum.merge(b.expected);
        }
        assert_eq!(sum.sorted(), whole.sorted());
    }
}
