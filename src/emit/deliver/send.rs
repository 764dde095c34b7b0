//! One batch until it is delivered or given up on: every attempt sends the
//! same body (and, for ingest, the same idempotency key); which replies are
//! retried and how long to wait is `client::retry`'s, written once.

use super::batcher::Batch;
use super::cancel::Cancel;
use super::stats::{Counters, ReplyKind};
use super::transport::Transport;
use crate::client::{Reply, RetryAction, RetryPolicy, classify};
use crate::emit::targets::Target;
use std::time::Duration;
use tokio::time::Instant;

/// One attempt: how it ended and how long it took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub reply: ReplyKind,
    pub latency: Duration,
    /// When it was sent.
    pub started: Instant,
}

/// How a batch ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// Every attempt, the first included.
    pub attempts: Vec<Attempt>,
    /// `Ok(duplicate)` when delivered, else why not (the last reply).
    pub result: Result<bool, String>,
}

impl Sent {
    /// How the last attempt ended.
    pub fn last(&self) -> ReplyKind {
        self.attempts.last().map_or(ReplyKind::Invalid, |a| a.reply)
    }
}

/// Sends `batch` to `target` until delivered, a permanent failure, or
/// `policy` is out of retries, or `interrupt` ends a back-off (a Retry-After
/// may be a minute long; the attempt in flight is always answered first).
pub(crate) async fn send_with_retries<T: Target, X: Transport>(
    transport: &X,
    connection: &mut X::Connection,
    target: &T,
    policy: &RetryPolicy,
    batch: &Batch,
    counters: &Counters,
    interrupt: &Cancel,
) -> Sent {
    let mut rng = crate::client::retry::jitter(batch.seq);
    let mut attempts = Vec::with_capacity(1);
    loop {
        // Built before the clock starts: a signed request's token costs
        // CPU, not latency.
        let request = target.request(batch);
        let started = Instant::now();
        let reply = transport.send(connection, request).await;
        attempts.push(Attempt {
            reply: ReplyKind::of(&reply),
            latency: started.elapsed(),
            started,
        });
        let after = match classify(&reply, policy.retryable) {
            RetryAction::Done => {
                let duplicate = matches!(
                    reply,
                    Reply::Status {
                        duplicate: true,
                        ..
                    }
                );
                return Sent {
                    attempts,
                    result: Ok(duplicate),
                };
            }
            RetryAction::Fail(reason) => {
                return Sent {
                    attempts,
                    result: Err(reason),
                };
            }
            RetryAction::Retry { after } => after,
        };
        let retry = attempts.len() as u32 - 1;
        if retry >= policy.max_retries {
            let reason = if retry == 0 {
                reply.describe()
            } else {
                format!(
                    "gave up after {} attempts: {}",
                    attempts.len(),
                    reply.describe()
                )
            };
            return Sent {
                attempts,
                result: Err(reason),
            };
        }
        tokio::select! {
            () = tokio::time::sleep(policy.delay(retry, after, &mut rng)) => {}
            () = interrupt.cancelled() => {
                return Sent {
                    attempts,
                    result: Err(format!(
                        "{}; not retried: stopped by Ctrl-C",
                        reply.describe()
                    )),
                };
            }
        }
        Counters::add(&counters.retries, 1);
    }
}
