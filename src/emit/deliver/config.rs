//! Settings of the delivery engine that every target shares, one field per
//! `run` flag. Target-specific defaults (an ingest batch holds thousands of
//! events, a webhook request one) live with each target.

use super::batcher::Compression;
use super::cancel::Cancel;
use crate::client::RetryPolicy;
use crate::emit::targets::TargetDefaults;
use std::time::Duration;

/// A paced batch is closed once its events span this much schedule time
/// (`--batch-window`).
pub(crate) const DEFAULT_BATCH_WINDOW: Duration = Duration::from_millis(50);
/// Longest one request may take, connect to last byte of the answer.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How batches are cut, paced, sent and retried.
#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    /// Events per batch (request) at most.
    pub batch_events: usize,
    /// Under scheduled pacing, a batch is closed once its events span this
    /// much schedule time (event time divided by speed). Ignored at the
    /// maximum rate, where batches close by size only.
    pub batch_window: Duration,
    /// Requests in flight at once; the generator waits when all are busy.
    pub concurrency: usize,
    pub compression: Compression,
    /// Retries and back-off.
    pub retry: RetryPolicy,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Live progress on stderr.
    pub progress: bool,
    /// How long the schedule lasts (real time, at its speed), when known:
    /// progress then shows a bar and an ETA.
    pub schedule: Option<Duration>,
    /// Serve `run --control`'s status and speed API here while it runs.
    pub control: Option<std::net::SocketAddr>,
    /// Keep the run over wall time (`run --report`): a lock per request.
    pub timeline: bool,
    /// Stop sending after the first batch that failed for good (the batches
    /// already in flight still finish). Off, every batch is tried and the
    /// failures are counted.
    pub stop_on_failure: bool,
    /// Ctrl-C (the command's): no batch is released after it, and retries
    /// waiting for their turn give up.
    pub cancel: Cancel,
}

impl DeliveryConfig {
    /// A target's defaults, the shared defaults for the rest, no progress.
    pub fn new(defaults: TargetDefaults) -> DeliveryConfig {
        DeliveryConfig {
            batch_events: defaults.batch_events,
            batch_window: DEFAULT_BATCH_WINDOW,
            concurrency: defaults.concurrency,
            compression: defaults.compression,
            retry: RetryPolicy {
                retryable: defaults.retryable,
                ..RetryPolicy::new(defaults.retries)
            },
            timeout: DEFAULT_TIMEOUT,
            progress: false,
            schedule: None,
            control: None,
            timeline: false,
            stop_on_failure: defaults.stop_on_failure,
            cancel: Cancel::new(),
        }
    }

    /// Why the settings cannot work, if they cannot.
    pub(crate) fn check(&self) -> Result<(), DeliveryConfigError> {
        if self.batch_events == 0 {
            return Err(DeliveryConfigError::BatchSize);
        }
        if self.concurrency == 0 {
            return Err(DeliveryConfigError::Concurrency);
        }
        if self.timeout.is_zero() {
            return Err(DeliveryConfigError::Timeout);
        }
        Ok(())
    }
}

/// A delivery setting that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryConfigError {
    #[error("--batch-size (or --events-per-request) must be at least 1")]
    BatchSize,
    #[error("--concurrency must be at least 1")]
    Concurrency,
    #[error("--timeout must be longer than 0")]
    Timeout,
}
