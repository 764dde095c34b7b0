//! The delivery engine: replays a workload to a target over HTTP, paced or
//! at the maximum rate, written once for every wire protocol.
//!
//! ```text
//! generator thread                        async side (tokio)
//! EventStream -> Batcher<T::Encoder> --(chunks, bounded)--> pacer task --(queue)--> N workers -> Transport
//!   (target's encoder, batches,                            (waits for               (one connection
//!    compression, expected per batch)                       each due time)           each; retries)
//! ```
//!
//! One job per file, as in vector's sinks: `config` (shared settings),
//! `batcher` (the `Encoder` trait, batches and their ids), `pacing` (the
//! absolute schedule), `driver` (bounded in-flight sending), `send` (one
//! batch until delivered, with `client::retry`'s rules), `transport` (one
//! attempt), `stats`, `threshold` (`run --threshold`, `--max-failed`),
//! `progress`. What goes on the wire is the target's
//! (`emit::targets`). The generator is CPU-bound, so it runs on its own OS
//! thread; the channel, the queue and the workers bound memory and push
//! back on it.

pub(crate) mod batcher;
pub(crate) mod cancel;
pub(crate) mod config;
mod control;
pub(crate) mod driver;
pub(crate) mod pacing;
pub(crate) mod progress;
pub(crate) mod send;
pub(crate) mod stats;
#[cfg(test)]
mod tests;
pub(crate) mod threshold;
pub(crate) mod timeline;
pub(crate) mod transport;

pub use batcher::Encoder;
pub(crate) use batcher::{Batch, Compression};
pub(crate) use cancel::Cancel;
pub use config::DeliveryConfig;
use config::DeliveryConfigError;
pub use pacing::Pacing;
use pacing::PacingError;
pub(crate) use stats::Stats;
pub(crate) use threshold::{MaxFailed, Threshold};
pub(crate) use timeline::Timeline;

use super::targets::Target;
use crate::client::tls::ClientTls;
use crate::engine::{EventStream, IdKey, Workload};
use crate::model::{AggregateTable, Grain};
use crate::scenario::Scenario;
use batcher::{Batcher, Cut};
use driver::Driver;
use sha2::{Digest, Sha256};
use stats::Counters;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use transport::{HttpTransport, Transport, TransportUrlError};

/// What a replay sent.
#[derive(Debug)]
pub struct ReplayOutcome {
    /// Where the requests went.
    pub url: String,
    pub stats: Stats,
    /// The aggregates of exactly the delivered events (all of them when
    /// `stats.succeeded()`).
    pub expected: AggregateTable,
    /// Calls the generator started, and events it produced (delivered or
    /// not, skipped included).
    pub calls: u64,
    pub generated_events: u64,
    /// The run over wall time, when `config.timeline` asked for it.
    pub timeline: Option<Timeline>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Url(#[from] TransportUrlError),
    #[error("--control {addr}: cannot listen: {reason}")]
    Control {
        addr: std::net::SocketAddr,
        reason: std::io::Error,
    },
    #[error(transparent)]
    Pacing(#[from] PacingError),
    #[error(transparent)]
    Settings(#[from] DeliveryConfigError),
    /// The target did not answer before the schedule started.
    #[error("sink not reachable at {url} ({reason}); is it running and listening there?")]
    Unreachable { url: String, reason: String },
    #[error("cannot start the event generator thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The schedule ran into the last day times can be written for.
    #[error(transparent)]
    PastTheLastDay(#[from] crate::engine::TimeBeyond),
}

/// How long the reachability probe before a run may take.
const PROBE_TIMEOUT: Duration = Duration::from_millis(900);

/// Replays `workload` to `target`, paced or at the maximum rate. Needs a
/// tokio runtime (multi-threaded, to send in parallel); the events are
/// generated on a thread of their own.
///
/// The target is probed once first (one connection, TLS included, no
/// request), so a wrong address or certificate fails in under a second instead of after a
/// schedule of failed requests. Requests that fail for good do not make
/// this an error: they are in `stats`, and their events not in `expected`.
pub async fn replay<T: Target>(
    scenario: &Scenario,
    workload: &Workload,
    target: T,
    config: &DeliveryConfig,
    pacing: Pacing,
    grain: Grain,
    tls: &ClientTls,
) -> Result<ReplayOutcome, ReplayError> {
    config.check()?;
    let transport = HttpTransport::new(target.url(), config.timeout, tls)?;
    probe(target.url(), &transport).await?;
    replay_with(scenario, workload, target, config, pacing, grain, transport).await
}

/// Opens one connection as the transport does (TCP, and TLS for https)
/// and closes it, sending nothing. A request would be taken for a
/// malformed write by a receiver's log (VictoriaMetrics: "cannot decompress
/// request with length 0") on every run; a connection shows just as well
/// that something listens there, a certificate it cannot trust included,
/// and the requests themselves say more.
async fn probe(url: &reqwest::Url, transport: &HttpTransport) -> Result<(), ReplayError> {
    let reason = match tokio::time::timeout(PROBE_TIMEOUT, transport.open()).await {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(reason)) => reason,
        Err(_) => format!("no connection within {} ms", PROBE_TIMEOUT.as_millis()),
    };
    Err(ReplayError::Unreachable {
        url: url.to_string(),
        reason,
    })
}

/// [`replay`] through any transport, without the probe (tests use
/// scripted transports).
pub(crate) async fn replay_with<T: Target, X: Transport>(
    scenario: &Scenario,
    workload: &Workload,
    target: T,
    config: &DeliveryConfig,
    pacing: Pacing,
    grain: Grain,
    transport: X,
) -> Result<ReplayOutcome, ReplayError> {
    pacing.check()?;
    config.check()?;
    let url = target.url().to_string();
    let chunking = Chunking::for_batches(config.batch_events, config.concurrency);
    let (tx, rx) = mpsc::channel(chunking.capacity);
    let speed = match pacing {
        Pacing::Scheduled { speed } => Some(speed),
        Pacing::Max => None,
    };
    let batches = batcher(scenario, workload, &target, config, grain, speed);
    let counters = Arc::new(Counters::default());
    let live = Arc::new(pacing::LiveSpeed::default());
    let control = start_control(config, &counters, &live, speed).await?;
    let generator = spawn_generator(scenario, workload, batches, chunking.batches, tx)?;
    let progress = progress::Progress::start(
        config.progress,
        speed.is_some(),
        counters.clone(),
        config.schedule.filter(|_| speed.is_some()),
        live.clone(),
    );
    let target = Arc::new(target);
    let transport = Arc::new(transport);
    let driver = Driver {
        target: Arc::clone(&target),
        transport: Arc::clone(&transport),
        policy: config.retry,
        concurrency: config.concurrency,
        stop_on_failure: config.stop_on_failure,
        counters,
        live: control.as_ref().map(|_| live),
        cancel: config.cancel.clone(),
        timeline: config.timeline.then(|| {
            Arc::new(std::sync::Mutex::new(Timeline::new(
                tokio::time::Instant::now(),
            )))
        }),
    };
    let timeline = driver.timeline.clone();
    let mut delivery = driver.run(rx, pacing).await;
    progress.finish();
    if !delivery.stats.succeeded() {
        delivery.stats.ending = end_cut_stream(&*target, &*transport, &delivery).await;
    }
    if let Some(server) = control {
        server.shutdown().await;
    }
    let generated = join_generator(generator).await;
    generated.past_the_last_day?;
    delivery.stats.skipped_events = generated.skipped;
    Ok(ReplayOutcome {
        url,
        stats: delivery.stats,
        expected: delivery
            .expected
            .unwrap_or_else(|| AggregateTable::new(grain)),
        calls: generated.calls,
        generated_events: generated.events,
        timeline: timeline.map(|t| t.lock().unwrap_or_else(|p| p.into_inner()).clone()),
    })
}

/// The generator's batches: the target's encoding, cut by size and, when
/// paced (`speed`), by schedule time.
fn batcher<T: Target>(
    scenario: &Scenario,
    workload: &Workload,
    target: &T,
    config: &DeliveryConfig,
    grain: Grain,
    speed: Option<f64>,
) -> Batcher<T::Encoder> {
    let cut = Cut {
        max_events: config.batch_events,
        window: config.batch_window,
        speed,
    };
    Batcher::new(
        target.encoder(IdKey::of(scenario, workload), speed.is_some()),
        fingerprint(scenario, workload, target, config, speed),
        cut,
        config.compression,
        grain,
    )
}

/// `--control`'s server, bound before anything starts, so a port in use
/// fails the run cleanly.
async fn start_control(
    config: &DeliveryConfig,
    counters: &Arc<Counters>,
    live: &Arc<pacing::LiveSpeed>,
    speed: Option<f64>,
) -> Result<Option<control::ControlServer>, ReplayError> {
    let Some(addr) = config.control else {
        return Ok(None);
    };
    counters
        .track_lags
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let server = control::ControlServer::start(
        addr,
        counters.clone(),
        live.clone(),
        speed,
        config.schedule.filter(|_| speed.is_some()),
    )
    .await
    .map_err(|reason| ReplayError::Control { addr, reason })?;
    eprintln!(
        "control: http://{} (GET /status, POST /speed {{\"speed\": N}})",
        server.addr()
    );
    Ok(Some(server))
}

/// The generator on an OS thread of its own: it is CPU-bound.
fn spawn_generator<E: Encoder>(
    scenario: &Scenario,
    workload: &Workload,
    batches: Batcher<E>,
    chunk_batches: usize,
    tx: mpsc::Sender<Vec<Batch>>,
) -> Result<std::thread::JoinHandle<Generated>, ReplayError> {
    let scenario = scenario.clone();
    let workload = workload.clone();
    std::thread::Builder::new()
        .name("callmetrics-generator".into())
        .spawn(move || generate(&scenario, &workload, batches, chunk_batches, tx))
        .map_err(ReplayError::Thread)
}

/// What the generator produced; its panic, if it panicked, goes on here.
async fn join_generator(generator: std::thread::JoinHandle<Generated>) -> Generated {
    // The channel is closed by now, so the generator has ended or is about to.
    match tokio::task::spawn_blocking(move || generator.join())
        .await
        .expect("joining the generator thread")
    {
        Ok(counts) => counts,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
/// Sends the target's ending request ([`Target::ending`]) once, after a
/// stream cut short by Ctrl-C or a failure: the last request, which
/// carries a stream's ending, was not delivered. Once, without back-off,
/// and bounded by the request timeout: a run stopped by Ctrl-C must end
/// promptly, and one whose receiver refuses everything ends all the same.
async fn end_cut_stream<T: Target, X: Transport>(
    target: &T,
    transport: &X,
    delivery: &driver::Delivery,
) -> Option<stats::Ending> {
    let (batch, carried) = target.ending(delivery.expected.as_ref()?, delivery.stamped_ms?)?;
    let policy = crate::client::RetryPolicy::new(0);
    let sent = send::send_with_retries(
        transport,
        &mut transport.connection(),
        target,
        &policy,
        &batch,
        &Counters::default(),
        &Cancel::new(),
    )
    .await;
    Some(stats::Ending {
        carried,
        result: sent.result.map(|_| ()),
    })
}

/// What the generator thread produced.
struct Generated {
    calls: u64,
    events: u64,
    /// Events the target does not deliver.
    skipped: u64,
    /// Whether the stream ended early, past the last day.
    past_the_last_day: Result<(), crate::engine::TimeBeyond>,
}

/// How batches travel from the generator thread to the async side: in
/// chunks, so that a small batch (a webhook's one event) does not cost a
/// cross-thread wake-up each; a chunk holds about `CHUNK_EVENTS` events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Chunking {
    /// Batches per chunk.
    batches: usize,
    /// Chunks the channel holds.
    capacity: usize,
}

const CHUNK_EVENTS: usize = 4096;
const CHUNK_BATCHES_MAX: usize = 128;

impl Chunking {
    /// Room for every worker to be busy while the next batches wait, ready.
    fn for_batches(batch_events: usize, concurrency: usize) -> Chunking {
        let batches = (CHUNK_EVENTS / batch_events.max(1)).clamp(1, CHUNK_BATCHES_MAX);
        Chunking {
            batches,
            capacity: (concurrency + 2).div_ceil(batches).max(2),
        }
    }
}

/// The generator thread: events to batches, batches to chunks into the
/// channel, until the stream ends or the receiver is gone.
fn generate<E: Encoder>(
    scenario: &Scenario,
    workload: &Workload,
    mut batches: Batcher<E>,
    chunk_batches: usize,
    tx: mpsc::Sender<Vec<Batch>>,
) -> Generated {
    let mut stream = EventStream::new(scenario, workload);
    let mut events = 0;
    let mut chunk = Vec::with_capacity(chunk_batches);
    while let Some(e) = stream.next() {
        events += 1;
        if let Some(batch) = batches.push(&e) {
            chunk.push(batch);
            if chunk.len() == chunk_batches {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(chunk_batches));
                if tx.blocking_send(full).is_err() {
                    return Generated {
                        calls: stream.calls_started(),
                        events,
                        skipped: batches.skipped(),
                        past_the_last_day: stream.past_the_last_day(),
                    };
                }
            }
        }
    }
    let skipped = batches.skipped();
    chunk.extend(batches.finish());
    if !chunk.is_empty() {
        let _ = tx.blocking_send(chunk);
    }
    Generated {
        calls: stream.calls_started(),
        events,
        skipped,
        past_the_last_day: stream.past_the_last_day(),
    }
}

/// Identifies what the batches contain: the scenario, the workload (seed,
/// calls, start...), the target's wire settings and the batching. Batch ids
/// derive from it, so a replay of the very same run is recognised by the
/// sink as duplicates, while any other run (e.g. `run` starting now, a
/// minute later) is not.
fn fingerprint<T: Target>(
    scenario: &Scenario,
    workload: &Workload,
    target: &T,
    config: &DeliveryConfig,
    speed: Option<f64>,
) -> u64 {
    let mut h = Sha256::new();
    h.update(scenario.sha256.as_bytes());
    h.update(serde_json::to_vec(workload).unwrap_or_default());
    h.update(format!(
        "|{}|{}|{:?}|{:?}",
        target.fingerprint(),
        config.batch_events,
        config.batch_window,
        speed
    ));
    let digest = h.finalize();
    u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}
