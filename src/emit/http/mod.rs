//! Replaying a workload into a sink's `POST /ingest` over HTTP.
//!
//! ```text
//! generator thread                    async side (tokio)
//! EventStream -> BatchEncoder --(bounded channel)--> Pacer -> send slots -> HttpTransport
//!   (encode, batch, gzip,                            (wait    (concurrency   (retries with
//!    expected per batch)                              for due)  permits)      back-off)
//! ```
//!
//! One job per file, as in vector's sinks: `config` (settings and defaults),
//! `encoder` (batches and their ids), `request_builder` (the request),
//! `retry` (which replies are retried and how long to wait, written once),
//! `service` (one batch until delivered), `sink` (the driver), `stats`,
//! `progress`. The generator is CPU-bound, so it runs on its own OS thread;
//! the channel and the send slots bound memory and push back on it.

pub mod config;
pub mod encoder;
pub mod progress;
pub mod request_builder;
pub mod retry;
pub mod service;
pub mod sink;
pub mod stats;
#[cfg(test)]
mod tests;

pub use config::HttpSinkConfig;
pub use retry::RetryPolicy;
pub use stats::{BatchFailure, Stats};

use super::JsonlEncoder;
use super::pacing::Pacing;
use crate::engine::{EventStream, Expected, Grain, Workload};
use crate::scenario::Scenario;
use encoder::{Batch, BatchEncoder};
use service::{HttpTransport, Transport};
use sha2::{Digest, Sha256};
use sink::HttpSink;
use stats::Counters;
use std::sync::Arc;
use tokio::sync::mpsc;

/// What a replay sent.
#[derive(Debug)]
pub struct ReplayOutcome {
    pub stats: Stats,
    /// The aggregates of exactly the delivered events (all of them when
    /// `stats.succeeded()`).
    pub expected: Expected,
    /// Calls the generator started, and events it produced.
    pub calls: u64,
    pub generated_events: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Settings that cannot work (zero concurrency, a bad URL, ...).
    #[error("{0}")]
    Config(String),
    #[error("cannot start the event generator thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Replays `workload` into the sink at `config.base_url`, paced or at the
/// maximum rate. Needs a tokio runtime (multi-threaded, to send in
/// parallel); the events are generated on a thread of their own.
///
/// Batches that fail for good do not make this an error: they are in
/// `stats.failed_batches` / `stats.failures` (and `stats.succeeded()` is
/// false), and their events are not in `expected`.
pub async fn replay(
    scenario: &Scenario,
    workload: &Workload,
    config: &HttpSinkConfig,
    pacing: Pacing,
    grain: Grain,
) -> Result<ReplayOutcome, ReplayError> {
    let transport = HttpTransport::new(config).map_err(ReplayError::Config)?;
    replay_with(scenario, workload, config, pacing, grain, transport).await
}

/// [`replay`] through any transport (tests use scripted ones).
pub async fn replay_with<T: Transport>(
    scenario: &Scenario,
    workload: &Workload,
    config: &HttpSinkConfig,
    pacing: Pacing,
    grain: Grain,
    transport: T,
) -> Result<ReplayOutcome, ReplayError> {
    pacing.check().map_err(ReplayError::Config)?;
    if config.batch_events == 0 || config.concurrency == 0 {
        return Err(ReplayError::Config(
            "--batch-size and --concurrency must be at least 1".into(),
        ));
    }
    // Room for every slot to be busy while the next batches wait, ready.
    let (tx, rx) = mpsc::channel(config.concurrency + 2);
    let speed = match pacing {
        Pacing::Scheduled { speed } => Some(speed),
        Pacing::Max => None,
    };
    let batches = BatchEncoder::new(
        JsonlEncoder::samples_only(workload.seed, config.naming),
        fingerprint(scenario, workload, config, speed),
        config.batch_events,
        config.batch_window,
        speed,
        config.gzip,
        grain,
    );
    let generator = {
        let scenario = scenario.clone();
        let workload = workload.clone();
        std::thread::Builder::new()
            .name("callmetrics-generator".into())
            .spawn(move || generate(&scenario, &workload, batches, tx))
            .map_err(ReplayError::Thread)?
    };
    let counters = Arc::new(Counters::default());
    let progress = progress::Progress::start(config.progress, speed.is_some(), counters.clone());
    let sink = HttpSink {
        transport: Arc::new(transport),
        policy: config.retry,
        concurrency: config.concurrency,
        stop_on_failure: config.stop_on_failure,
        counters,
    };
    let delivery = sink.run(rx, pacing).await;
    progress.finish();
    // The channel is closed by now, so the generator has ended or is about to.
    let (calls, generated_events) = match tokio::task::spawn_blocking(move || generator.join())
        .await
        .expect("joining the generator thread")
    {
        Ok(counts) => counts,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    Ok(ReplayOutcome {
        stats: delivery.stats,
        expected: delivery.expected.unwrap_or_else(|| Expected::new(grain)),
        calls,
        generated_events,
    })
}

/// The generator thread: events to batches into the channel, until the
/// stream ends or the receiver is gone. Returns (calls, events) generated.
fn generate(
    scenario: &Scenario,
    workload: &Workload,
    mut batches: BatchEncoder,
    tx: mpsc::Sender<Batch>,
) -> (u64, u64) {
    let mut stream = EventStream::new(scenario, workload);
    let mut events = 0;
    while let Some(e) = stream.next() {
        events += 1;
        if let Some(batch) = batches.push(&e)
            && tx.blocking_send(batch).is_err()
        {
            return (stream.calls_started(), events);
        }
    }
    if let Some(batch) = batches.finish() {
        let _ = tx.blocking_send(batch);
    }
    (stream.calls_started(), events)
}

/// Identifies what the batches contain: the scenario, the workload (seed,
/// calls, start...), the naming and the batching. Batch ids derive from it,
/// so a replay of the very same run is recognised by the sink as duplicates,
/// while any other run (e.g. `run` starting now, a minute later) is not.
fn fingerprint(
    scenario: &Scenario,
    workload: &Workload,
    config: &HttpSinkConfig,
    speed: Option<f64>,
) -> u64 {
    let mut h = Sha256::new();
    h.update(scenario.sha256.as_bytes());
    h.update(serde_json::to_vec(workload).unwrap_or_default());
    h.update(format!(
        "|{:?}|{}|{:?}|{:?}",
        config.naming, config.batch_events, config.batch_window, speed
    ));
    let digest = h.finalize();
    u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}
