//! What a replay did: live counters (atomics shared by the senders and the
//! progress reporter) and the final [`Stats`] with its summary table.

use super::super::pacing::Pacing;
use hdrhistogram::Histogram;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Updated while the replay runs; read by the progress reporter.
#[derive(Debug, Default)]
pub struct Counters {
    /// Events in delivered batches.
    pub events: AtomicU64,
    /// Delivered batches.
    pub batches: AtomicU64,
    /// Re-sent attempts.
    pub retries: AtomicU64,
    /// Batches that failed for good.
    pub failed: AtomicU64,
    /// Body bytes of delivered batches, as sent.
    pub bytes: AtomicU64,
    /// Largest lag (µs) since the reporter last looked.
    pub lag_peak_us: AtomicU64,
}

impl Counters {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn lag(&self, lag: Duration) {
        self.lag_peak_us.fetch_max(lag.as_micros() as u64, Relaxed);
    }

    /// The peak lag since the previous call.
    pub fn take_lag_peak(&self) -> Duration {
        Duration::from_micros(self.lag_peak_us.swap(0, Relaxed))
    }
}

/// A batch that was not delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchFailure {
    /// Its idempotency key.
    pub id: String,
    pub seq: u64,
    pub events: u32,
    pub attempts: u32,
    /// The last reply.
    pub reason: String,
}

/// Failures kept in full (all are counted).
pub const FAILURES_KEPT: usize = 10;

/// The final account of a replay.
#[derive(Clone, Debug)]
pub struct Stats {
    pub pacing: Pacing,
    /// Events in delivered batches (applied now, or already applied before).
    pub events: u64,
    /// Delivered batches.
    pub batches: u64,
    /// Delivered batches the sink reported as already applied.
    pub duplicates: u64,
    /// Attempts after the first, over all batches.
    pub retries: u64,
    /// Batches that failed for good, and their events.
    pub failed_batches: u64,
    pub failed_events: u64,
    /// The first failures, in the order they happened.
    pub failures: Vec<BatchFailure>,
    /// Body bytes of delivered batches as sent, and before compression.
    pub bytes: u64,
    pub raw_bytes: u64,
    /// Per batch: dispatch instant minus scheduled instant, in µs (empty
    /// under `Pacing::Max`). Back-pressure makes it grow.
    pub lag: Histogram<u64>,
    /// Time from the schedule's origin to the last batch's due time.
    pub scheduled: Duration,
    /// Wall time from the first dispatch to the last answer.
    pub elapsed: Duration,
    /// Sending stopped before the stream ended (after a failed batch).
    pub stopped_early: bool,
}

impl Stats {
    /// True when every generated batch was delivered.
    pub fn succeeded(&self) -> bool {
        self.failed_batches == 0 && !self.stopped_early
    }

    /// Delivered events per second of wall time.
    pub fn events_per_sec(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Lag at quantile `q` (0..=1), when paced and anything was sent.
    pub fn lag_at(&self, q: f64) -> Option<Duration> {
        (!self.lag.is_empty()).then(|| Duration::from_micros(self.lag.value_at_quantile(q)))
    }

    /// The aligned end-of-run table, then one line per kept failure.
    pub fn write_summary(&self, w: &mut dyn Write) -> io::Result<()> {
        let mut rows: Vec<(&str, String)> = vec![
            ("events", self.events.to_string()),
            (
                "batches",
                format!("{} ({} duplicate)", self.batches, self.duplicates),
            ),
            ("retries", self.retries.to_string()),
            (
                "failed",
                format!(
                    "{} batches, {} events",
                    self.failed_batches, self.failed_events
                ),
            ),
            (
                "bytes",
                format!("{} ({} before gzip)", mib(self.bytes), mib(self.raw_bytes)),
            ),
            ("duration", format!("{:.3} s", self.elapsed.as_secs_f64())),
            ("rate", format!("{:.0} events/s", self.events_per_sec())),
        ];
        match self.pacing {
            Pacing::Max => rows.push(("pacing", "max rate (no schedule, no lag)".into())),
            Pacing::Scheduled { speed } => {
                let planned = (self.events + self.failed_events) as f64
                    / self.scheduled.as_secs_f64().max(1e-9);
                rows.push((
                    "pacing",
                    format!(
                        "scheduled x{speed}, {:.3} s of schedule ({planned:.0} events/s)",
                        self.scheduled.as_secs_f64()
                    ),
                ));
                for (label, q) in [("lag p50", 0.5), ("lag p99", 0.99), ("lag max", 1.0)] {
                    let value = self.lag_at(q).map_or("-".into(), millis);
                    rows.push((label, value));
                }
            }
        }
        if self.stopped_early {
            rows.push(("stopped", "early, after a failed batch".into()));
        }
        let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
        for (label, value) in rows {
            writeln!(w, "{label:<width$}  {value}")?;
        }
        for f in &self.failures {
            writeln!(
                w,
                "failed batch {} ({} events, {} attempts): {}",
                f.id, f.events, f.attempts, f.reason
            )?;
        }
        if self.failed_batches > self.failures.len() as u64 {
            writeln!(
                w,
                "... and {} more failed batches",
                self.failed_batches - self.failures.len() as u64
            )?;
        }
        Ok(())
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Milliseconds with µs precision.
pub fn millis(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::pacing::lag_histogram;

    #[test]
    fn summary_is_an_aligned_table() {
        let mut lag = lag_histogram();
        for us in [100, 200, 300, 5000] {
            lag.record(us).unwrap();
        }
        let stats = Stats {
            pacing: Pacing::Scheduled { speed: 2.0 },
            events: 10_000,
            batches: 4,
            duplicates: 1,
            retries: 2,
            failed_batches: 1,
            failed_events: 2500,
            failures: vec![BatchFailure {
                id: "cm-00000000000000ab-3".into(),
                seq: 3,
                events: 2500,
                attempts: 9,
                reason: "HTTP 500".into(),
            }],
            bytes: 3 << 20,
            raw_bytes: 3 << 20,
            lag,
            scheduled: Duration::from_millis(1500),
            elapsed: Duration::from_secs(2),
            stopped_early: false,
        };
        let mut out = Vec::new();
        stats.write_summary(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "\
events    10000
batches   4 (1 duplicate)
retries   2
failed    1 batches, 2500 events
bytes     3.0 MiB (3.0 MiB before gzip)
duration  2.000 s
rate      5000 events/s
pacing    scheduled x2, 1.500 s of schedule (8333 events/s)
lag p50   0.200 ms
lag p99   5.003 ms
lag max   5.003 ms
failed batch cm-00000000000000ab-3 (2500 events, 9 attempts): HTTP 500
"
        );
        assert!(!stats.succeeded());
    }
}
