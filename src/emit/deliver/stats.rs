//! What a replay did: live counters (atomics shared by the senders and the
//! progress reporter) and the final [`Stats`], printed as an aligned table
//! or written as JSON (`run --summary-out`).

use super::pacing::Pacing;
use super::threshold::Judged;
use crate::client::{Reply, TransportFailure};
use hdrhistogram::Histogram;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Updated while the replay runs; read by the progress reporter.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Events in delivered requests.
    pub events: AtomicU64,
    /// Delivered requests.
    pub requests: AtomicU64,
    /// Re-sent attempts.
    pub retries: AtomicU64,
    /// Requests that failed for good.
    pub failed: AtomicU64,
    /// Body bytes of delivered requests, as sent.
    pub bytes: AtomicU64,
    /// Largest lag (µs) since the reporter last looked.
    pub lag_peak_us: AtomicU64,
    /// Where the schedule is: the due time (ms from its start) of the
    /// last batch released.
    pub schedule_ms: AtomicU64,
    /// Every batch's lag in µs so far, for `run --control`'s percentiles
    /// (kept only when `track_lags` is set, as it takes a lock per batch).
    pub lags: std::sync::Mutex<Option<Histogram<u64>>>,
    pub track_lags: std::sync::atomic::AtomicBool,
}

impl Counters {
    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(crate) fn lag(&self, lag: Duration) {
        let us = lag.as_micros() as u64;
        self.lag_peak_us.fetch_max(us, Relaxed);
        if !self.track_lags.load(Relaxed) {
            return;
        }
        let mut lags = self.lags.lock().unwrap_or_else(|p| p.into_inner());
        // Three significant figures is a valid precision: `new` cannot fail.
        lags.get_or_insert_with(|| Histogram::new(3).expect("a valid precision"))
            .saturating_record(us);
    }

    /// Lag at quantile `q` (0..=1) over every batch so far.
    pub(crate) fn lag_quantile(&self, q: f64) -> Option<Duration> {
        let lags = self.lags.lock().unwrap_or_else(|p| p.into_inner());
        lags.as_ref()
            .filter(|h| !h.is_empty())
            .map(|h| Duration::from_micros(h.value_at_quantile(q)))
    }

    /// The peak lag since the previous call.
    pub(crate) fn take_lag_peak(&self) -> Duration {
        Duration::from_micros(self.lag_peak_us.swap(0, Relaxed))
    }
}

/// How an attempt ended, as counted in reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReplyKind {
    /// An answer with this status.
    Status(u16),
    /// No answer.
    NoAnswer(TransportFailure),
    /// The request could not be built.
    Invalid,
}

impl ReplyKind {
    pub fn of(reply: &Reply) -> ReplyKind {
        match reply {
            Reply::Status { code, .. } => ReplyKind::Status(*code),
            Reply::Transport { kind, .. } => ReplyKind::NoAnswer(*kind),
            Reply::Invalid(_) => ReplyKind::Invalid,
        }
    }
}

/// "204", "connect error", "invalid request".
impl fmt::Display for ReplyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyKind::Status(code) => write!(f, "{code}"),
            ReplyKind::NoAnswer(kind) => f.write_str(kind.as_str()),
            ReplyKind::Invalid => f.write_str("invalid request"),
        }
    }
}

/// A request that was not delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchFailure {
    pub seq: u64,
    /// Its idempotency key, for targets that send one.
    pub id: String,
    pub events: u32,
    pub attempts: u32,
    /// The last reply.
    pub reason: String,
    /// Event times (Unix ms) of its first and last event.
    pub first_ms: i64,
    pub last_ms: i64,
    /// Each event it carried, for targets whose receiver logs events one
    /// by one (webhook); `None` for the others, described by count and
    /// time range only.
    pub carried: Option<Vec<CarriedEvent>>,
}

impl BatchFailure {
    /// "1 attempt", "9 attempts".
    pub fn attempts_text(&self) -> String {
        match self.attempts {
            1 => "1 attempt".to_string(),
            n => format!("{n} attempts"),
        }
    }
}

/// One CloudEvent of a failed webhook request: what the app's logs name
/// it by.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct CarriedEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(rename = "data", deserialize_with = "call_connection_id")]
    pub call_connection_id: String,
}

fn call_connection_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(serde::Deserialize)]
    struct Data {
        #[serde(rename = "callConnectionId", default)]
        call_connection_id: String,
    }
    Ok(<Data as serde::Deserialize>::deserialize(d)?.call_connection_id)
}

/// Failures kept in full, for `--summary-out` and the report (all are
/// counted); the summary on the terminal shows the first `FAILURES_SHOWN`,
/// with at most `CARRIED_SHOWN` events each.
pub(crate) const FAILURES_KEPT: usize = 100;
pub(crate) const FAILURES_SHOWN: usize = 10;
pub(crate) const CARRIED_SHOWN: usize = 5;

/// How long a run's start lasts, for [`Stats::backlog_hint`]: the
/// connections every worker opens at once are made in it.
pub(crate) const RUN_START: Duration = Duration::from_secs(1);

/// Latencies are recorded in microseconds, up to an hour.
const LATENCY_MAX_US: u64 = 3_600_000_000;

/// An empty histogram of microseconds (3 significant digits).
pub(crate) fn micros_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).expect("valid histogram bounds")
}

/// The final account of a replay.
#[derive(Clone, Debug)]
pub struct Stats {
    /// The target's name ("ingest", "webhook").
    pub target: &'static str,
    /// Ctrl-C stopped the schedule: what was due before it was sent.
    pub interrupted: bool,
    pub pacing: Pacing,
    /// Events in delivered requests (applied now, or already applied before).
    pub events: u64,
    /// Generated events the target does not deliver (a webhook's API
    /// request events): neither sent nor expected.
    pub skipped_events: u64,
    /// Delivered requests.
    pub requests: u64,
    /// Delivered requests the sink reported as already applied.
    pub duplicates: u64,
    /// Attempts after the first, over all requests.
    pub retries: u64,
    /// Requests that failed for good, and their events.
    pub failed_requests: u64,
    pub failed_events: u64,
    /// Failed requests by how their last attempt ended.
    pub failure_kinds: BTreeMap<ReplyKind, u64>,
    /// The first failures, in the order they happened.
    pub failures: Vec<BatchFailure>,
    /// Every attempt by how it ended.
    pub replies: BTreeMap<ReplyKind, u64>,
    /// Attempts sent within [`RUN_START`] of the start that got no answer
    /// (connect error, timeout, connection closed).
    pub unanswered_at_start: u64,
    /// Requests in flight at most (`--concurrency`).
    pub concurrency: usize,
    /// Every attempt's time from sending to the last byte of the answer
    /// (or the failure), in µs.
    pub latency: Histogram<u64>,
    /// Body bytes of delivered requests as sent, and before compression.
    pub bytes: u64,
    pub raw_bytes: u64,
    /// Per request: dispatch instant minus scheduled instant, in µs (empty
    /// at the maximum rate). Back-pressure makes it grow.
    pub lag: Histogram<u64>,
    /// Time from the schedule's origin to the last request's due time.
    pub scheduled: Duration,
    /// Wall time from the first dispatch to the last answer.
    pub elapsed: Duration,
    /// Sending stopped before the stream ended (after a failed request).
    pub stopped_early: bool,
    /// `run --threshold`s, judged once the run ended.
    pub thresholds: Vec<Judged>,
    /// The request that ended a stream cut short (remote write's stale
    /// markers), when the target has one and it was sent.
    pub ending: Option<Ending>,
}

/// A target's ending request after a stream cut short, and how it went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ending {
    /// What it carried ("stale markers for 42 series at ...").
    pub carried: String,
    /// Delivered, or why not (it is tried once).
    pub result: Result<(), String>,
}

impl Stats {
    pub fn new(target: &'static str, pacing: Pacing) -> Stats {
        Stats {
            target,
            pacing,
            events: 0,
            skipped_events: 0,
            requests: 0,
            duplicates: 0,
            retries: 0,
            failed_requests: 0,
            failed_events: 0,
            failure_kinds: BTreeMap::new(),
            failures: Vec::new(),
            replies: BTreeMap::new(),
            unanswered_at_start: 0,
            concurrency: 0,
            latency: micros_histogram(),
            bytes: 0,
            raw_bytes: 0,
            lag: micros_histogram(),
            scheduled: Duration::ZERO,
            elapsed: Duration::ZERO,
            stopped_early: false,
            interrupted: false,
            thresholds: Vec::new(),
            ending: None,
        }
    }

    /// True when every generated request was delivered.
    pub fn succeeded(&self) -> bool {
        self.failed_requests == 0 && !self.stopped_early
    }

    /// Delivered events per second of wall time.
    pub fn events_per_sec(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Delivered requests per second of wall time.
    pub fn requests_per_sec(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Lag at quantile `q` (0..=1), when paced and anything was sent.
    pub fn lag_at(&self, q: f64) -> Option<Duration> {
        quantile(&self.lag, q)
    }

    /// Request latency at quantile `q` (0..=1), when anything was sent.
    pub fn latency_at(&self, q: f64) -> Option<Duration> {
        quantile(&self.latency, q)
    }

    /// The aligned end-of-run table, then one line per kept failure.
    pub fn write_summary(&self, w: &mut dyn Write) -> io::Result<()> {
        let mut rows = self.delivery_rows();
        rows.extend(self.pacing_rows());
        rows.extend(self.ending_rows());
        let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
        for (label, value) in rows {
            writeln!(w, "{label:<width$}  {value}")?;
        }
        self.write_thresholds(w, false)?;
        self.write_failures(w)
    }

    /// The summary's rows on what was sent and how it went.
    fn delivery_rows(&self) -> Vec<(&'static str, String)> {
        let mut rows = vec![
            ("target", self.target.to_string()),
            ("events", self.events.to_string()),
        ];
        if self.skipped_events > 0 {
            rows.push((
                "not sent",
                format!(
                    "{} API request events (the {} target delivers callbacks only; \
                     expected.json holds the callback metric only)",
                    self.skipped_events, self.target
                ),
            ));
        }
        rows.extend([
            (
                "requests",
                format!("{} ({} duplicate)", self.requests, self.duplicates),
            ),
            ("replies", counts(&self.replies)),
            ("retries", self.retries.to_string()),
            ("failed", self.failed_text()),
            (
                "bytes",
                format!(
                    "{} ({} before compression)",
                    mib(self.bytes),
                    mib(self.raw_bytes)
                ),
            ),
            ("duration", format!("{:.3} s", self.elapsed.as_secs_f64())),
            (
                "rate",
                format!(
                    "{:.0} events/s, {:.0} requests/s",
                    self.events_per_sec(),
                    self.requests_per_sec()
                ),
            ),
            ("latency", self.latency_text()),
        ]);
        rows
    }

    /// "0 requests", or how many requests and events failed, by kind.
    fn failed_text(&self) -> String {
        if self.failed_requests == 0 {
            "0 requests".to_string()
        } else {
            format!(
                "{} requests, {} events ({})",
                self.failed_requests,
                self.failed_events,
                counts(&self.failure_kinds)
            )
        }
    }

    /// "p50 .., p99 .., max ..", or "-" when nothing was sent.
    fn latency_text(&self) -> String {
        match (
            self.latency_at(0.5),
            self.latency_at(0.99),
            self.latency_at(1.0),
        ) {
            (Some(p50), Some(p99), Some(max)) => format!(
                "p50 {}, p99 {}, max {}",
                millis(p50),
                millis(p99),
                millis(max)
            ),
            _ => "-".to_string(),
        }
    }

    /// The summary's rows on the schedule and how far sending lagged it.
    fn pacing_rows(&self) -> Vec<(&'static str, String)> {
        match self.pacing {
            Pacing::Max => vec![("pacing", "max rate (no schedule, no lag)".into())],
            Pacing::Scheduled { speed } => {
                let planned = (self.events + self.failed_events) as f64
                    / self.scheduled.as_secs_f64().max(1e-9);
                let mut rows = vec![(
                    "pacing",
                    format!(
                        "scheduled x{speed}, {:.3} s of schedule ({planned:.0} events/s)",
                        self.scheduled.as_secs_f64()
                    ),
                )];
                for (label, q) in [("lag p50", 0.5), ("lag p99", 0.99), ("lag max", 1.0)] {
                    let value = self.lag_at(q).map_or("-".into(), millis);
                    rows.push((label, value));
                }
                rows
            }
        }
    }

    /// The summary's rows on how the run ended: a stop, the target's
    /// ending request, the thresholds' verdict, the accept-backlog hint.
    fn ending_rows(&self) -> Vec<(&'static str, String)> {
        let mut rows = Vec::new();
        if self.interrupted {
            rows.push((
                "stopped",
                "by Ctrl-C; what was due before it was sent".into(),
            ));
        } else if self.stopped_early {
            rows.push(("stopped", "early, after a failed request".into()));
        }
        if let Some(ending) = &self.ending {
            rows.push((
                "ended with",
                match &ending.result {
                    Ok(()) => ending.carried.clone(),
                    Err(why) => format!("{}: not delivered ({why})", ending.carried),
                },
            ));
        }
        if !self.thresholds.is_empty() {
            rows.push(("thresholds", self.thresholds_text()));
        }
        if let Some(hint) = self.backlog_hint() {
            rows.push(("hint", hint));
        }
        rows
    }

    /// "N passed", or how many thresholds failed and which.
    fn thresholds_text(&self) -> String {
        let failed: Vec<String> = self
            .failed_thresholds()
            .map(|j| j.threshold.to_string())
            .collect();
        match failed.len() {
            0 => format!("{} passed", self.thresholds.len()),
            n => format!(
                "{n} of {} failed: {}",
                self.thresholds.len(),
                failed.join(", ")
            ),
        }
    }

    /// The first `FAILURES_SHOWN` failed requests, then how many more
    /// there were.
    fn write_failures(&self, w: &mut dyn Write) -> io::Result<()> {
        for f in self.failures.iter().take(FAILURES_SHOWN) {
            writeln!(
                w,
                "failed request {} ({}, {}): {}",
                f.id,
                match f.events {
                    1 => "1 event".to_string(),
                    n => format!("{n} events"),
                },
                f.attempts_text(),
                f.reason
            )?;
            write_carried(w, f)?;
        }
        let shown = self.failures.len().min(FAILURES_SHOWN) as u64;
        if self.failed_requests > shown {
            writeln!(
                w,
                "... and {} more failed requests{}",
                self.failed_requests - shown,
                if self.failures.len() as u64 > shown {
                    format!(" (--summary-out lists the first {})", self.failures.len())
                } else {
                    String::new()
                }
            )?;
        }
        Ok(())
    }

    /// One line per threshold (`only_failed`: per failed one), after the
    /// summary's table.
    pub fn write_thresholds(&self, w: &mut dyn Write, only_failed: bool) -> io::Result<()> {
        for j in &self.thresholds {
            if !(j.passed && only_failed) {
                writeln!(
                    w,
                    "threshold {} {}: {}",
                    j.threshold,
                    if j.passed { "passed" } else { "FAILED" },
                    j.observed_text()
                )?;
            }
        }
        Ok(())
    }

    /// A webhook run whose connections went unanswered at its start but
    /// not later, most likely because the app's accept queue overflowed
    /// when every worker connected at once: more than one attempt sent in
    /// the first second got no answer, they are more than half of all the
    /// run's unanswered attempts (an app that is down or slow throughout
    /// fails later too), and some requests were delivered (something
    /// listens).
    pub fn backlog_hint(&self) -> Option<String> {
        let unanswered: u64 = self
            .replies
            .iter()
            .filter(|(kind, _)| matches!(kind, ReplyKind::NoAnswer(_)))
            .map(|(_, n)| n)
            .sum();
        let early = self.unanswered_at_start;
        let fits = self.target == "webhook"
            && self.concurrency > 1
            && self.requests > 0
            && early >= 2
            && early * 2 > unanswered;
        fits.then(|| {
            format!(
                "{early} requests sent in the first second got no answer (connect error, \
                 timeout or connection closed) while {} were delivered: the app's accept \
                 backlog (listen(2) backlog, net.core.somaxconn) may be smaller than \
                 --concurrency {}; lower --concurrency or raise the backlog",
                self.requests, self.concurrency
            )
        })
    }

    /// The thresholds the run did not meet.
    pub fn failed_thresholds(&self) -> impl Iterator<Item = &Judged> {
        self.thresholds.iter().filter(|j| !j.passed)
    }

    /// The summary as JSON, for scripts (`run --summary-out`). Durations in
    /// milliseconds; `null` where nothing was measured.
    pub fn to_json(&self) -> serde_json::Value {
        let ms = |d: Option<Duration>| d.map(|d| d.as_micros() as f64 / 1000.0);
        let percentiles = |h: &Histogram<u64>| {
            let at = |q| ms(quantile(h, q));
            json!({"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "p999": at(0.999), "max": at(1.0)})
        };
        let by_kind = |m: &BTreeMap<ReplyKind, u64>| {
            m.iter()
                .map(|(k, n)| (k.to_string(), json!(n)))
                .collect::<serde_json::Map<_, _>>()
        };
        let (pacing, speed) = match self.pacing {
            Pacing::Max => ("max", None),
            Pacing::Scheduled { speed } => ("scheduled", Some(speed)),
        };
        json!({
            "target": self.target,
            "events": self.events,
            "skippedEvents": self.skipped_events,
            "requests": self.requests,
            "duplicates": self.duplicates,
            "retries": self.retries,
            "failedRequests": self.failed_requests,
            "failedEvents": self.failed_events,
            "failuresByKind": by_kind(&self.failure_kinds),
            "failures": self.failures.iter().map(|f| json!({
                "seq": f.seq, "id": f.id, "events": f.events, "attempts": f.attempts, "reason": f.reason,
                "firstEventTime": time_text(f.first_ms), "lastEventTime": time_text(f.last_ms),
                "cloudEvents": f.carried.as_ref().map(|carried| carried.iter().map(|e| json!({
                    "id": e.id, "type": e.event_type, "callConnectionId": e.call_connection_id,
                })).collect::<Vec<_>>()),
            })).collect::<Vec<_>>(),
            "failuresNotListed": self.failed_requests.saturating_sub(self.failures.len() as u64),
            "replies": by_kind(&self.replies),
            "latencyMs": percentiles(&self.latency),
            "bytes": self.bytes,
            "rawBytes": self.raw_bytes,
            "durationMs": self.elapsed.as_secs_f64() * 1000.0,
            "eventsPerSecond": self.events_per_sec(),
            "requestsPerSecond": self.requests_per_sec(),
            "pacing": pacing,
            "speed": speed,
            "scheduleMs": speed.map(|_| self.scheduled.as_secs_f64() * 1000.0),
            "lagMs": speed.map(|_| percentiles(&self.lag)),
            "stoppedEarly": self.stopped_early,
            "interrupted": self.interrupted,
            "succeeded": self.succeeded(),
            "thresholds": self.thresholds.iter().map(Judged::to_json).collect::<Vec<_>>(),
            "unansweredAtStart": self.unanswered_at_start,
            "hints": self.backlog_hint().into_iter().collect::<Vec<_>>(),
            "ending": self.ending.as_ref().map(|e| json!({
                "carried": e.carried,
                "delivered": e.result.is_ok(),
                "error": e.result.as_ref().err(),
            })),
        })
    }
}

fn quantile(h: &Histogram<u64>, q: f64) -> Option<Duration> {
    (!h.is_empty()).then(|| Duration::from_micros(h.value_at_quantile(q)))
}

/// Under a failed request's line: the events it carried (the first
/// `CARRIED_SHOWN`), or the time range of a target's events that are not
/// told apart.
fn write_carried(w: &mut dyn Write, f: &BatchFailure) -> io::Result<()> {
    match &f.carried {
        Some(carried) => {
            for e in carried.iter().take(CARRIED_SHOWN) {
                writeln!(
                    w,
                    "  {} id {} callConnectionId {}",
                    e.event_type, e.id, e.call_connection_id
                )?;
            }
            if carried.len() > CARRIED_SHOWN {
                writeln!(
                    w,
                    "  ... and {} more events (--summary-out lists them)",
                    carried.len() - CARRIED_SHOWN
                )?;
            }
            Ok(())
        }
        None => writeln!(
            w,
            "  events from {} to {}",
            time_text(f.first_ms),
            time_text(f.last_ms)
        ),
    }
}

/// "204 x 9998, 500 x 2", or "-" when empty.
fn counts(m: &BTreeMap<ReplyKind, u64>) -> String {
    if m.is_empty() {
        return "-".into();
    }
    let parts: Vec<String> = m.iter().map(|(k, n)| format!("{k} x {n}")).collect();
    parts.join(", ")
}

/// "2026-01-01T00:00:00.123Z".
fn time_text(ms: i64) -> String {
    String::from_utf8_lossy(&crate::wire::rfc3339::TimeWriter::default().millis(ms)).into_owned()
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Milliseconds with µs precision.
pub(crate) fn millis(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> Stats {
        let mut stats = Stats::new("webhook", Pacing::Scheduled { speed: 2.0 });
        for us in [100, 200, 300, 5000] {
            stats.lag.record(us).unwrap();
            stats.latency.record(us * 2).unwrap();
        }
        stats.events = 10_000;
        stats.skipped_events = 700;
        stats.requests = 4;
        stats.duplicates = 1;
        stats.retries = 2;
        stats.failed_requests = 1;
        stats.failed_events = 2500;
        stats.failure_kinds.insert(ReplyKind::Status(500), 1);
        stats.failures.push(BatchFailure {
            id: "cm-00000000000000ab-3".into(),
            seq: 3,
            events: 2500,
            attempts: 9,
            reason: "HTTP 500".into(),
            first_ms: 1_767_225_600_000,
            last_ms: 1_767_225_601_500,
            carried: None,
        });
        stats.replies.insert(ReplyKind::Status(204), 4);
        stats.replies.insert(ReplyKind::Status(500), 9);
        stats
            .replies
            .insert(ReplyKind::NoAnswer(TransportFailure::Connect), 1);
        stats.bytes = 3 << 20;
        stats.raw_bytes = 3 << 20;
        stats.scheduled = Duration::from_millis(1500);
        stats.elapsed = Duration::from_secs(2);
        stats
    }

    #[test]
    fn summary_is_an_aligned_table() {
        let stats = stats();
        let mut out = Vec::new();
        stats.write_summary(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "\
target    webhook
events    10000
not sent  700 API request events (the webhook target delivers callbacks only; expected.json holds the callback metric only)
requests  4 (1 duplicate)
replies   204 x 4, 500 x 9, connect error x 1
retries   2
failed    1 requests, 2500 events (500 x 1)
bytes     3.0 MiB (3.0 MiB before compression)
duration  2.000 s
rate      5000 events/s, 2 requests/s
latency   p50 0.400 ms, p99 10.007 ms, max 10.007 ms
pacing    scheduled x2, 1.500 s of schedule (8333 events/s)
lag p50   0.200 ms
lag p99   5.003 ms
lag max   5.003 ms
failed request cm-00000000000000ab-3 (2500 events, 9 attempts): HTTP 500
  events from 2026-01-01T00:00:00.000Z to 2026-01-01T00:00:01.500Z
"
        );
        assert!(!stats.succeeded());
    }

    // Issue #18, item 5: which threshold failed is in the summary's table,
    // each one's observed value on a line after it, and in the JSON.
    #[test]
    fn thresholds_are_summarised_and_in_the_json() {
        let mut stats = stats();
        stats.thresholds = ["latency.p99<250ms", "failed<=10%", "lag.max<1ms"]
            .iter()
            .map(|t| t.parse::<super::super::Threshold>().unwrap().judge(&stats))
            .collect();
        let mut out = Vec::new();
        stats.write_summary(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("\nthresholds  2 of 3 failed: failed<=10%, lag.max<1ms\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "threshold latency.p99<250ms passed: 10.007 ms\n\
                 threshold failed<=10% FAILED: 20.000%\n\
                 threshold lag.max<1ms FAILED: 5.003 ms\n"
            ),
            "{text}"
        );
        let mut failed = Vec::new();
        stats.write_thresholds(&mut failed, true).unwrap();
        assert_eq!(String::from_utf8(failed).unwrap().lines().count(), 2);
        let json = stats.to_json();
        assert_eq!(json["thresholds"][1]["expression"], "failed<=10%");
        assert_eq!(json["thresholds"][1]["observed"], 20.0);
        assert_eq!(json["thresholds"][1]["unit"], "%");
        assert_eq!(json["thresholds"][1]["passed"], false);
        assert_eq!(json["thresholds"][0]["passed"], true);
    }

    fn callback_failure(seq: u64, events: usize) -> BatchFailure {
        BatchFailure {
            seq,
            id: format!("cm-00000000000000ab-{seq}"),
            events: events as u32,
            attempts: 1,
            reason: "HTTP 500".into(),
            first_ms: 0,
            last_ms: 0,
            carried: Some(
                (0..events)
                    .map(|i| CarriedEvent {
                        id: format!("ev-{seq}-{i}"),
                        event_type: "Microsoft.Communication.CallConnected".into(),
                        call_connection_id: format!("conn-{seq}"),
                    })
                    .collect(),
            ),
        }
    }

    // Issue #18, item 6: a failed callback is named by what the app logs
    // (CloudEvent id, type, callConnectionId), on the terminal for the
    // first few and in the JSON for every failure kept.
    #[test]
    fn failed_callbacks_are_named_by_their_cloud_events() {
        let mut stats = Stats::new("webhook", Pacing::Max);
        stats.failed_requests = 40;
        stats.failed_events = 40 + 6;
        stats.failures = (0..12).map(|seq| callback_failure(seq, 1)).collect();
        stats.failures[0] = callback_failure(0, 7);
        let mut out = Vec::new();
        stats.write_summary(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let tail = &text[text.find("failed request").unwrap()..];
        assert!(
            tail.starts_with(
                "failed request cm-00000000000000ab-0 (7 events, 1 attempt): HTTP 500\n  \
                 Microsoft.Communication.CallConnected id ev-0-0 callConnectionId conn-0\n"
            ),
            "{text}"
        );
        assert!(
            tail.contains("id ev-0-4 callConnectionId conn-0\n  ... and 2 more events (--summary-out lists them)\n"),
            "{text}"
        );
        assert!(tail.contains("id ev-9-0 "), "{text}");
        assert!(!tail.contains("ev-10-0"), "the first 10 only: {text}");
        assert!(
            tail.ends_with("... and 30 more failed requests (--summary-out lists the first 12)\n"),
            "{text}"
        );
        let json = stats.to_json();
        let failures = json["failures"].as_array().unwrap();
        assert_eq!(failures.len(), 12);
        assert_eq!(json["failuresNotListed"], 28);
        assert_eq!(failures[0]["cloudEvents"].as_array().unwrap().len(), 7);
        assert_eq!(
            failures[11]["cloudEvents"][0],
            json!({"id": "ev-11-0", "type": "Microsoft.Communication.CallConnected", "callConnectionId": "conn-11"})
        );
    }

    /// A webhook run of 64 connections: `early` of its attempts in the
    /// first second got no answer, `later` after it; 500 delivered.
    fn unanswered(early: u64, later: u64) -> Stats {
        let mut stats = Stats::new("webhook", Pacing::Max);
        stats.concurrency = 64;
        stats.requests = 500;
        stats.replies.insert(ReplyKind::Status(204), 500);
        stats
            .replies
            .insert(ReplyKind::NoAnswer(TransportFailure::Connect), early);
        stats
            .replies
            .insert(ReplyKind::NoAnswer(TransportFailure::Timeout), later);
        stats.unanswered_at_start = early;
        stats
    }

    // Issue #18, item 6: connections unanswered at the start of a webhook
    // run, and not later, point at the app's accept backlog.
    #[test]
    fn unanswered_connections_at_the_start_hint_at_the_accept_backlog() {
        let stats = unanswered(40, 0);
        let hint = stats.backlog_hint().unwrap();
        assert_eq!(
            hint,
            "40 requests sent in the first second got no answer (connect error, timeout or \
             connection closed) while 500 were delivered: the app's accept backlog (listen(2) \
             backlog, net.core.somaxconn) may be smaller than --concurrency 64; lower \
             --concurrency or raise the backlog"
        );
        let mut out = Vec::new();
        stats.write_summary(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(&format!("\nhint      {hint}\n")), "{text}");
        assert_eq!(stats.to_json()["hints"][0], hint);
        assert_eq!(stats.to_json()["unansweredAtStart"], 40);
        // Most of them at the start is enough: a few stragglers later.
        assert!(unanswered(40, 39).backlog_hint().is_some());
    }

    #[test]
    fn no_backlog_hint_without_a_start_that_stands_out() {
        assert_eq!(unanswered(0, 0).backlog_hint(), None, "all answered");
        assert_eq!(unanswered(1, 0).backlog_hint(), None, "one is not many");
        assert_eq!(
            unanswered(20, 20).backlog_hint(),
            None,
            "unanswered throughout: down or slow, not the backlog"
        );
        let mut dead = unanswered(64, 0);
        dead.requests = 0;
        assert_eq!(dead.backlog_hint(), None, "nothing delivered at all");
        let mut one = unanswered(3, 0);
        one.concurrency = 1;
        assert_eq!(one.backlog_hint(), None, "one connection fits any backlog");
        let mut ingest = unanswered(40, 0);
        ingest.target = "ingest";
        assert_eq!(
            ingest.backlog_hint(),
            None,
            "an app's backlog: webhook only"
        );
        let mut out = Vec::new();
        unanswered(20, 20).write_summary(&mut out).unwrap();
        assert!(!String::from_utf8(out).unwrap().contains("hint"));
        assert_eq!(unanswered(20, 20).to_json()["hints"], json!([]));
    }

    #[test]
    fn json_summary_counts_replies_by_kind() {
        let json = stats().to_json();
        assert_eq!(json["target"], "webhook");
        assert_eq!(json["replies"]["204"], 4);
        assert_eq!(json["replies"]["connect error"], 1);
        assert_eq!(json["failuresByKind"]["500"], 1);
        assert_eq!(json["latencyMs"]["p50"], 0.4);
        assert_eq!(json["lagMs"]["max"], 5.003);
        assert_eq!(json["succeeded"], false);
        let failure = &json["failures"][0];
        assert_eq!(failure["firstEventTime"], "2026-01-01T00:00:00.000Z");
        assert_eq!(failure["lastEventTime"], "2026-01-01T00:00:01.500Z");
        assert_eq!(failure["cloudEvents"], serde_json::Value::Null);
        let max = Stats::new("ingest", Pacing::Max).to_json();
        assert_eq!(max["lagMs"], serde_json::Value::Null);
        assert_eq!(max["latencyMs"]["p99"], serde_json::Value::Null);
    }
}
