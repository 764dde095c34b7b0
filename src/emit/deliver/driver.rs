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
//!
//! Stopping early (Ctrl-C, or the first failure when stopping on failure)
//! must never leave a side waiting for the other: the pacer races every
//! wait (the generator, the schedule, room in the queue) against both
//! signals and returns, which closes the queue; only the workers hold its
//! receiving end, so even workers that all stopped make the pacer's next
//! send fail instead of wait. After a Ctrl-C, queued batches are not sent
//! and back-offs end; a request in flight still gets its answer, so
//! whatever the receiver applied is counted.

use super::batcher::Batch;
use super::cancel::Cancel;
use super::pacing::{LiveSpeed, Pacer, Pacing};
use super::send::{Sent, send_with_retries};
use super::stats::{
    BatchFailure, CarriedEvent, Counters, FAILURES_KEPT, RUN_START, ReplyKind, Stats,
};
use super::timeline::Timeline;
use super::transport::Transport;
use crate::client::RetryPolicy;
use crate::emit::targets::Target;
use crate::model::AggregateTable;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Sends batches to one target.
pub(crate) struct Driver<T, X> {
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
    /// Ctrl-C: stop releasing batches.
    pub cancel: Cancel,
}

/// What the driver delivered.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub stats: Stats,
    /// The aggregates of the delivered batches; `None` if there were none.
    pub expected: Option<AggregateTable>,
    /// The latest timestamp written by any request sent, delivered or not
    /// (a receiver may have applied a request whose answer was lost).
    pub stamped_ms: Option<i64>,
}

/// A batch released by the pacer, with the instant it was due (paced).
struct Due {
    batch: Batch,
    scheduled: Option<Instant>,
}

/// What one worker (or all of them) did.
struct Tally {
    stats: Stats,
    expected: Option<AggregateTable>,
    stamped_ms: Option<i64>,
    /// When the driver started: attempts sent within `RUN_START` of it
    /// are the run's start.
    started: Instant,
}

impl<T: Target, X: Transport> Driver<T, X> {
    /// Sends every batch from `batches` (or up to the first failure, when
    /// stopping on failure) and waits for the last answer.
    pub(crate) async fn run(self, batches: mpsc::Receiver<Vec<Batch>>, pacing: Pacing) -> Delivery {
        let workers = self.concurrency.max(1);
        let started = Instant::now();
        // Many consumers, no lock: with a receiver behind a mutex, 64
        // workers queued on the lock for every batch.
        let (queue, taken) = async_channel::bounded::<Due>(workers);
        let stops = Stops {
            interrupt: self.cancel.clone(),
            failed: Cancel::new(),
        };
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let worker = Worker {
                target: Arc::clone(&self.target),
                transport: Arc::clone(&self.transport),
                policy: self.policy,
                stop_on_failure: self.stop_on_failure,
                counters: Arc::clone(&self.counters),
                stops: stops.clone(),
                timeline: self.timeline.clone(),
            };
            let taken = taken.clone();
            tasks.spawn(worker.run(taken, Tally::new(T::NAME, pacing, started)));
        }
        drop(taken);
        // The pacer runs as a task of its own, beside the workers, not on
        // the thread that awaits the driver: handing a batch to a worker
        // then wakes no other thread.
        let pacer = tokio::spawn(pace(
            batches,
            queue,
            Pacer::new(pacing, self.live.clone()),
            stops,
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
        let stats = &mut total.stats;
        stats.concurrency = workers;
        stats.stopped_early |= paced.stopped;
        // Also when the schedule had ended: a Ctrl-C then cut a back-off,
        // or came before the last answers.
        stats.interrupted = self.cancel.is_cancelled();
        stats.scheduled = paced.scheduled;
        if let Some(first) = paced.first {
            stats.elapsed = first.elapsed();
        }
        Delivery {
            stats: total.stats,
            expected: total.expected,
            stamped_ms: total.stamped_ms,
        }
    }
}

/// What ends sending early.
#[derive(Clone)]
struct Stops {
    /// Ctrl-C.
    interrupt: Cancel,
    /// A batch failed for good and the run stops on failure.
    failed: Cancel,
}

/// Which stop came.
enum Halt {
    Interrupted,
    Failed,
}

impl Stops {
    fn halted(&self) -> Option<Halt> {
        if self.interrupt.is_cancelled() {
            Some(Halt::Interrupted)
        } else if self.failed.is_cancelled() {
            Some(Halt::Failed)
        } else {
            None
        }
    }

    /// `work`, unless a stop comes first (`None`). Work that is ready at
    /// once wins without registering a waiter (the pacer's path at the
    /// maximum rate).
    async fn race<F: Future>(&self, work: F) -> Option<F::Output> {
        if self.halted().is_some() {
            return None;
        }
        tokio::select! {
            biased;
            out = work => Some(out),
            () = self.interrupt.cancelled() => None,
            () = self.failed.cancelled() => None,
        }
    }
}

/// How the pacing loop ended.
struct Paced {
    /// When the first batch arrived.
    first: Option<Instant>,
    /// It stopped before the stream ended (after a failure).
    stopped: bool,
    /// The last due time released.
    scheduled: Duration,
}

/// Releases batches into the workers' queue at their scheduled instants
/// (at once at the maximum rate), until the stream ends or a stop comes.
/// Returning drops both channels: the generator and the workers see them
/// closed.
async fn pace(
    mut chunks: mpsc::Receiver<Vec<Batch>>,
    queue: async_channel::Sender<Due>,
    mut pacer: Pacer,
    stops: Stops,
    counters: Arc<Counters>,
) -> Paced {
    let mut paced = Paced {
        first: None,
        stopped: false,
        scheduled: Duration::ZERO,
    };
    'chunks: loop {
        let chunk = match stops.race(chunks.recv()).await {
            Some(Some(chunk)) => chunk,
            Some(None) => return paced,
            None => break 'chunks,
        };
        paced.first.get_or_insert_with(Instant::now);
        for batch in chunk {
            let due = batch.due;
            let Some(scheduled) = stops.race(pacer.wait(due)).await else {
                break 'chunks;
            };
            if scheduled.is_some() {
                paced.scheduled = paced.scheduled.max(due);
                counters
                    .schedule_ms
                    .fetch_max(due.as_millis() as u64, Ordering::Relaxed);
            }
            // `Some(Err)`: every worker has ended.
            if !matches!(
                stops.race(queue.send(Due { batch, scheduled })).await,
                Some(Ok(()))
            ) {
                break 'chunks;
            }
        }
    }
    paced.stopped = true;
    paced
}

struct Worker<T, X> {
    target: Arc<T>,
    transport: Arc<X>,
    policy: RetryPolicy,
    stop_on_failure: bool,
    counters: Arc<Counters>,
    stops: Stops,
    timeline: Option<Arc<std::sync::Mutex<Timeline>>>,
}

impl<T: Target, X: Transport> Worker<T, X> {
    /// Takes batches until the queue closes (or a stop comes), sending
    /// each over the worker's own connection.
    async fn run(self, taken: async_channel::Receiver<Due>, mut tally: Tally) -> Tally {
        let mut connection = self.transport.connection();
        loop {
            match self.stops.halted() {
                Some(Halt::Interrupted) => break,
                // Batches left in the queue are not sent.
                Some(Halt::Failed) => {
                    tally.stats.stopped_early |= taken.try_recv().is_ok();
                    break;
                }
                None => {}
            }
            let Ok(due) = taken.recv().await else {
                break;
            };
            // A stop came while this worker waited for work: this batch is
            // not sent either.
            match self.stops.halted() {
                Some(Halt::Interrupted) => break,
                Some(Halt::Failed) => {
                    tally.stats.stopped_early = true;
                    break;
                }
                None => {}
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
                &self.stops.interrupt,
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
                self.stops.failed.cancel();
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
            stamped_ms: None,
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
        self.stamped_ms = self.stamped_ms.max(Some(batch.stamped_ms));
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
        self.stamped_ms = self.stamped_ms.max(other.stamped_ms);
        match (&mut self.expected, other.expected) {
            (Some(all), Some(more)) => all.merge(more),
            (None, more) => self.expected = more,
            (Some(_), None) => {}
        }
    }
}
