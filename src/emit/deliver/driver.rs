//! The driver: batches come from the generator through a bounded channel,
//! are paced (when scheduled), wait for one of `concurrency` send slots and
//! go out as their own task. A full set of slots stops the pacing loop,
//! which stops reading the channel, which blocks the generator: memory stays
//! bounded by the channel and the slots, and a slow receiver shows as lag.
//!
//! The expected aggregates of a batch count once it is delivered, so the
//! returned aggregates are exactly what the receiver acknowledged.

use super::batcher::Batch;
use super::pacing::{Pacer, Pacing};
use super::send::{Sent, send_with_retries};
use super::stats::{BatchFailure, Counters, FAILURES_KEPT, Stats};
use super::transport::Transport;
use crate::client::RetryPolicy;
use crate::emit::targets::Target;
use crate::engine::Expected;
use std::sync::Arc;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Sends batches to one target.
pub struct Driver<T, X> {
    pub target: Arc<T>,
    pub transport: Arc<X>,
    pub policy: RetryPolicy,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Stop reading batches after the first one that failed for good.
    pub stop_on_failure: bool,
    pub counters: Arc<Counters>,
}

/// What the driver delivered.
#[derive(Debug)]
pub struct Delivery {
    pub stats: Stats,
    /// The aggregates of the delivered batches; `None` if there were none.
    pub expected: Option<Expected>,
}

/// A finished send, without its body.
struct Finished {
    seq: u64,
    id: String,
    events: u32,
    bytes: usize,
    raw_bytes: usize,
    expected: Expected,
    sent: Sent,
}

/// Totals of finished sends.
struct Tally {
    stats: Stats,
    expected: Option<Expected>,
}

impl<T: Target, X: Transport> Driver<T, X> {
    /// Sends every batch from `batches` (or up to the first failure) and
    /// waits for the last answer.
    pub async fn run(self, mut batches: mpsc::Receiver<Batch>, pacing: Pacing) -> Delivery {
        let slots = Arc::new(Semaphore::new(self.concurrency.max(1)));
        let mut pacer = Pacer::new(pacing);
        let mut sending = JoinSet::new();
        let mut tally = Tally {
            stats: Stats::new(T::NAME, pacing),
            expected: None,
        };
        let mut started: Option<Instant> = None;
        while let Some(batch) = batches.recv().await {
            started.get_or_insert_with(Instant::now);
            let scheduled = pacer.wait(batch.due).await;
            let slot = Arc::clone(&slots)
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            // A batch failed for good: this one and the rest are not sent.
            if self.stop_on_failure && Counters::get(&self.counters.failed) > 0 {
                tally.stats.stopped_early = true;
                break;
            }
            if let Some(scheduled) = scheduled {
                self.counters.lag(pacer.dispatched(scheduled));
                tally.stats.scheduled = tally.stats.scheduled.max(batch.due);
            }
            let target = Arc::clone(&self.target);
            let transport = Arc::clone(&self.transport);
            let counters = Arc::clone(&self.counters);
            let policy = self.policy;
            sending.spawn(async move {
                let sent =
                    send_with_retries(&*transport, &*target, &policy, &batch, &counters).await;
                // Counted before the slot is free, so the loop sees a failure
                // before it sends anything more.
                let done = finished(batch, sent, &counters);
                drop(slot);
                done
            });
            // Collected after dispatching, so bookkeeping never delays a send.
            while let Some(done) = sending.try_join_next() {
                tally.add(unwrap_task(done));
            }
        }
        // Closing the channel tells the generator to stop (after a failure).
        drop(batches);
        while let Some(done) = sending.join_next().await {
            tally.add(unwrap_task(done));
        }
        if let Some(started) = started {
            tally.stats.elapsed = started.elapsed();
        }
        tally.stats.lag = pacer.into_lag();
        Delivery {
            stats: tally.stats,
            expected: tally.expected,
        }
    }
}

fn finished(batch: Batch, sent: Sent, counters: &Counters) -> Finished {
    match &sent.result {
        Ok(_) => {
            Counters::add(&counters.events, batch.events as u64);
            Counters::add(&counters.requests, 1);
            Counters::add(&counters.bytes, batch.body.len() as u64);
        }
        Err(_) => Counters::add(&counters.failed, 1),
    }
    // The key is only spelled out for the few failures a report shows.
    let id = if sent.result.is_err() {
        batch.idempotency_key()
    } else {
        String::new()
    };
    Finished {
        seq: batch.seq,
        id,
        events: batch.events,
        bytes: batch.body.len(),
        raw_bytes: batch.raw_bytes,
        expected: batch.expected,
        sent,
    }
}

fn unwrap_task<R>(done: Result<R, tokio::task::JoinError>) -> R {
    match done {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("a send task was cancelled: {e}"),
    }
}

impl Tally {
    fn add(&mut self, done: Finished) {
        let s = &mut self.stats;
        s.retries += done.sent.attempts.len().saturating_sub(1) as u64;
        for attempt in &done.sent.attempts {
            *s.replies.entry(attempt.reply).or_default() += 1;
            s.latency
                .saturating_record(attempt.latency.as_micros().max(1) as u64);
        }
        let last = done.sent.last();
        let attempts = done.sent.attempts.len() as u32;
        match done.sent.result {
            Ok(duplicate) => {
                s.events += u64::from(done.events);
                s.requests += 1;
                s.duplicates += u64::from(duplicate);
                s.bytes += done.bytes as u64;
                s.raw_bytes += done.raw_bytes as u64;
                match &mut self.expected {
                    Some(all) => all.merge(done.expected),
                    None => self.expected = Some(done.expected),
                }
            }
            Err(reason) => {
                s.failed_requests += 1;
                s.failed_events += u64::from(done.events);
                *s.failure_kinds.entry(last).or_default() += 1;
                if s.failures.len() < FAILURES_KEPT {
                    s.failures.push(BatchFailure {
                        seq: done.seq,
                        id: done.id,
                        events: done.events,
                        attempts,
                        reason,
                    });
                }
            }
        }
    }
}
