//! The driver: batches come from the generator through a bounded channel
//! to the pacer, which releases each at its scheduled instant into a small
//! queue that `concurrency` workers take from; each worker owns one
//! connection and sends one request at a time over it. Busy workers leave
//! the queue full, which stops the pacer, which stops reading the channel,
//! which blocks the generator: memory stays bounded by the channel, the
//! queue and the workers, and a slow receiver shows as lag (the time from
//! an item's scheduled instant to a worker taking it), never as a slower
//! schedule.
//!
//! A batch's expected aggregates count once it is delivered, so the
//! returned aggregates are exactly what the receiver acknowledged. Each
//! worker keeps its own tally; they are added up at the end.

use super::batcher::Batch;
use super::pacing::{LiveSpeed, Pacer, Pacing};
use super::send::{Sent, send_with_retries};
use super::stats::{
    BatchFailure, CarriedEvent, Counters, FAILURES_KEPT, RUN_START, ReplyKind, Stats,
};
use super::timeline::Timeline;
use super::transport::Transport;
use crate::client::RetryPolicy;
use crate::emit::targets::Target;
use crate::engine::Expected;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, mpsc};
use tokio::time::Instant;

/// Sends batches to one target.
pub struct Driver<T, X> {
    pub target: Arc<T>,
    pub transport: Arc<X>,
    pub policy: RetryPolicy,
    /// Workers, so requests in flight at most.
    pub concurrency: usize,
    /// Stop after the first batch that failed for good.
    pub stop_on_failure: bool,
    pub counters: Arc<Counters>,
    /// Speed changes while the schedule runs (`run --control`).
    pub live: Option<Arc<LiveSpeed>>,
    /// Where each request is recorded over wall time (`run --report`).
    pub timeline: Option<Arc<std::sync::Mutex<Timeline>>>,
}

/// What the driver delivered.
#[derive(Debug)]
pub struct Delivery {
    pub stats: Stats,
    /// The aggregates of the delivered batches; `None` if there were none.
    pub expected: Option<Expected>,
}

/// A batch released by the pacer, with the instant it was due (paced).
struct Due {
    batch: Batch,
    scheduled: Option<Instant>,
}

/// What one worker (or all of them) did.
struct Tally {
    stats: Stats,
    expected: Option<Expected>,
    /// When the driver started: attempts sent within `RUN_START` of it
    /// are the run's start.
    started: Instant,
}

impl<T: Target, X: Transport> Driver<T, X> {
    /// Sends every batch from `batches` (or up to the first failure, when
    /// stopping on failure) and waits for the last answer.
    pub async fn run(self, batches: mpsc::Receiver<Vec<Batch>>, pacing: Pacing) -> Delivery {
        // A Ctrl-C stops the schedule that was running then, not the next.
        INTERRUPTED.store(false, Ordering::SeqCst);
        let workers = self.concurrency.max(1);
        let started = Instant::now();
        let (queue, taken) = mpsc::channel::<Due>(workers);
        let taken = Arc::new(Mutex::new(taken));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let worker = Worker {
                target: Arc::clone(&self.target),
                transport: Arc::clone(&self.transport),
                policy: self.policy,
                stop_on_failure: self.stop_on_failure,
                counters: Arc::clone(&self.counters),
                stop: Arc::clone(&stop),
                timeline: self.timeline.clone(),
            };
            let taken = Arc::clone(&taken);
            tasks.spawn(worker.run(taken, Tally::new(T::NAME, pacing, started)));
        }
        // The pacer runs as a task of its own, beside the workers, not on
        // the thread that awaits the driver: handing a batch to a worker
        // then wakes no other thread.
        let pacer = tokio::spawn(pace(
            batches,
            queue,
            Pacer::new(pacing, self.live.clone()),
            Arc::clone(&stop),
            Arc::clone(&self.counters),
        ));
        let paced = match pacer.await {
            Ok(paced) => paced,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("the pacer was cancelled: {e}"),
        };
        let mut total = Tally::new(T::NAME, pacing, started);
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(tally) => total.merge(tally),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => panic!("a delivery worker was cancelled: {e}"),
            }
        }
        // Items the workers left in the queue after a failure were not sent.
        let left = taken.lock().await.try_recv().is_ok();
        let stats = &mut total.stats;
        stats.concurrency = workers;
        stats.stopped_early |= paced.stopped || left;
        stats.interrupted = paced.interrupted;
        stats.scheduled = paced.scheduled;
        if let Some(first) = paced.first {
            stats.elapsed = first.elapsed();
        }
        Delivery {
            stats: total.stats,
            expected: total.expected,
        }
    }
}

/// Ctrl-C is one per process: `interrupt` asks every running schedule to
/// stop releasing batches (those in flight still finish).
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static INTERRUPT: tokio::sync::Notify = tokio::sync::Notify::const_new();

pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    INTERRUPT.notify_waiters();
}

async fn interrupted() {
    loop {
        let notified = INTERRUPT.notified();
        if INTERRUPTED.load(Ordering::SeqCst) {
            return;
        }
        notified.await;
    }
}

/// How the pacing loop ended.
struct Paced {
    /// Ctrl-C stopped it.
    interrupted: bool,
    /// When the first batch arrived.
    first: Option<Instant>,
    /// It stopped before the stream ended (after a failure).
    stopped: bool,
    /// The last due time released.
    scheduled: Duration,
}

/// Releases batches into the workers' queue at their scheduled instants
/// (at once at the maximum rate), until the stream ends or a failure stops
/// the run. Returning drops the channel, which tells the generator to stop.
async fn pace(
    mut chunks: mpsc::Receiver<Vec<Batch>>,
    queue: mpsc::Sender<Due>,
    mut pacer: Pacer,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
) -> Paced {
    let mut paced = Paced {
        interrupted: false,
        first: None,
        stopped: false,
        scheduled: Duration::ZERO,
    };
    'chunks: while let Some(chunk) = chunks.recv().await {
        paced.first.get_or_insert_with(Instant::now);
        for batch in chunk {
            let due = batch.due;
            let scheduled = tokio::select! {
                scheduled = pacer.wait(due) => scheduled,
                () = interrupted() => {
                    stop.store(true, Ordering::Relaxed);
                    paced.interrupted = true;
                    paced.stopped = true;
                    break 'chunks;
                }
            };
            if stop.load(Ordering::Relaxed) {
                paced.stopped = true;
                break 'chunks;
            }
            if scheduled.is_some() {
                paced.scheduled = paced.scheduled.max(due);
                counters
                    .schedule_ms
                    .fetch_max(due.as_millis() as u64, Ordering::Relaxed);
            }
            if queue.send(Due { batch, scheduled }).await.is_err() {
                // Every worker has stopped (after a failure).
                paced.stopped = true;
                break 'chunks;
            }
        }
    }
    paced
}

struct Worker<T, X> {
    target: Arc<T>,
    transport: Arc<X>,
    policy: RetryPolicy,
    stop_on_failure: bool,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    timeline: Option<Arc<std::sync::Mutex<Timeline>>>,
}

impl<T: Target, X: Transport> Worker<T, X> {
    /// Takes batches until the queue closes (or a failure stops the run),
    /// sending each over the worker's own connection.
    async fn run(self, taken: Arc<Mutex<mpsc::Receiver<Due>>>, mut tally: Tally) -> Tally {
        let mut connection = self.transport.connection();
        loop {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            let Some(due) = taken.lock().await.recv().await else {
                break;
            };
            // Another worker's batch failed while this one waited for work:
            // this batch is not sent either.
            if self.stop.load(Ordering::Relaxed) {
                tally.stats.stopped_early = true;
                break;
            }
            let lag = due
                .scheduled
                .map(|scheduled| Instant::now().saturating_duration_since(scheduled));
            if let Some(lag) = lag {
                tally.stats.lag.saturating_record(lag.as_micros() as u64);
                self.counters.lag(lag);
            }
            let batch = due.batch;
            let sent = send_with_retries(
                &*self.transport,
                &mut connection,
                &*self.target,
                &self.policy,
                &batch,
                &self.counters,
            )
            .await;
            let mut sent = sent;
            if let Err(reason) = &mut sent.result
                && let Some(first) = self.target.first_item(&batch)
            {
                reason.push_str("; the request's first item: ");
                reason.push_str(&first);
            }
            let failed = sent.result.is_err();
            if let Some(timeline) = &self.timeline {
                timeline.lock().unwrap_or_else(|p| p.into_inner()).record(
                    Instant::now(),
                    batch.events,
                    lag,
                    &sent,
                );
            }
            tally.add(batch, sent, &self.counters, |b| self.target.carried(b));
            if failed && self.stop_on_failure {
                self.stop.store(true, Ordering::Relaxed);
            }
        }
        tally
    }
}

impl Tally {
    fn new(target: &'static str, pacing: Pacing, started: Instant) -> Tally {
        Tally {
            stats: Stats::new(target, pacing),
            expected: None,
            started,
        }
    }

    /// `carried` describes a failed batch's events, asked only for the
    /// failures kept.
    fn add(
        &mut self,
        batch: Batch,
        sent: Sent,
        counters: &Counters,
        carried: impl FnOnce(&Batch) -> Option<Vec<CarriedEvent>>,
    ) {
        let s = &mut self.stats;
        s.retries += sent.attempts.len().saturating_sub(1) as u64;
        for attempt in &sent.attempts {
            *s.replies.entry(attempt.reply).or_default() += 1;
            if matches!(attempt.reply, ReplyKind::NoAnswer(_))
                && attempt.started.saturating_duration_since(self.started) < RUN_START
            {
                s.unanswered_at_start += 1;
            }
            s.latency
                .saturating_record(attempt.latency.as_micros().max(1) as u64);
        }
        let last = sent.last();
        let attempts = sent.attempts.len() as u32;
        match sent.result {
            Ok(duplicate) => {
                Counters::add(&counters.events, u64::from(batch.events));
                Counters::add(&counters.requests, 1);
                Counters::add(&counters.bytes, batch.body.len() as u64);
                s.events += u64::from(batch.events);
                s.requests += 1;
                s.duplicates += u64::from(duplicate);
                s.bytes += batch.body.len() as u64;
                s.raw_bytes += batch.raw_bytes as u64;
                match &mut self.expected {
                    Some(all) => all.merge(batch.expected),
                    None => self.expected = Some(batch.expected),
                }
            }
            Err(reason) => {
                Counters::add(&counters.failed, 1);
                s.failed_requests += 1;
                s.failed_events += u64::from(batch.events);
                *s.failure_kinds.entry(last).or_default() += 1;
                if s.failures.len() < FAILURES_KEPT {
                    s.failures.push(BatchFailure {
                        seq: batch.seq,
                        id: batch.idempotency_key(),
                        events: batch.events,
                        attempts,
                        reason,
                        first_ms: batch.first_ms,
                        last_ms: batch.last_ms,
                        carried: carried(&batch),
                    });
                }
            }
        }
    }

    /// Adds another worker's tally. Failures are kept in batch order.
    fn merge(&mut self, other: Tally) {
        let (s, o) = (&mut self.stats, other.stats);
        s.events += o.events;
        s.requests += o.requests;
        s.duplicates += o.duplicates;
        s.retries += o.retries;
        s.failed_requests += o.failed_requests;
        s.failed_events += o.failed_events;
        s.unanswered_at_start += o.unanswered_at_start;
        for (kind, n) in o.failure_kinds {
            *s.failure_kinds.entry(kind).or_default() += n;
        }
        s.failures.extend(o.failures);
        s.failures.sort_by_key(|f| f.seq);
        s.failures.truncate(FAILURES_KEPT);
        for (kind, n) in o.replies {
            *s.replies.entry(kind).or_default() += n;
        }
        s.latency.add(&o.latency).expect("same histogram bounds");
        s.lag.add(&o.lag).expect("same histogram bounds");
        s.bytes += o.bytes;
        s.raw_bytes += o.raw_bytes;
        s.stopped_early |= o.stopped_early;
        match (&mut self.expected, other.expected) {
            (Some(all), Some(more)) => all.merge(more),
            (None, more) => self.expected = more,
            (Some(_), None) => {}
        }
    }
}
