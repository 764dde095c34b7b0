//! Tests of the emitter: `paused` drives scripted transports under tokio's
//! paused clock (retry timing, pacing); `loopback` runs against a small axum
//! sink on 127.0.0.1:0 that can answer 429/500/503/400, decode gzip, be slow
//! and count what it applied. Shared fixtures live here.

mod ending;
mod loopback;
mod paused;
mod stops;

use super::batcher::{Batch, Batcher, Compression, Cut};
use super::cancel::Cancel;
use super::driver::{Delivery, Driver};
use super::send::{Sent, send_with_retries};
use super::stats::{Counters, ReplyKind};
use super::timeline::Timeline;
use super::transport::Transport;
use super::{DeliveryConfig, ReplayOutcome, replay, replay_with};
use crate::client::{Reply, RetryPolicy, TransportFailure};
use crate::emit::deliver::pacing::Pacing;
use crate::emit::targets::ingest::{Ingest, NdjsonEncoder};
use crate::emit::targets::webhook::Webhook;
use crate::engine::{EventStream, Workload};
use crate::model::Grain;
use crate::scenario::Scenario;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

fn scenario() -> Scenario {
    crate::scenario::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/outbound-notification.json"
    )))
    .expect("shipped scenario")
}

fn workload(calls: u64, rate: f64) -> Workload {
    Workload::calls(11, calls, rate)
}

fn fast_retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        base: Duration::from_millis(2),
        cap: Duration::from_millis(20),
        retry_after_cap: Duration::from_millis(50),
        ..RetryPolicy::new(max_retries)
    }
}

fn tiny_batch(seq: u64) -> Batch {
    Batch::of_body(seq, b"{}\n")
}

/// An ingest target on a port nothing listens on (scripted transports
/// never connect).
fn ingest_target() -> Ingest {
    Ingest::new("http://127.0.0.1:1", None, Default::default()).unwrap()
}

/// Delivery settings for tests: `batch_events` per batch, 4 in flight,
/// fast retries.
fn delivery(batch_events: usize, max_retries: u32) -> DeliveryConfig {
    DeliveryConfig {
        batch_events,
        concurrency: 4,
        retry: fast_retries(max_retries),
        ..DeliveryConfig::new(crate::emit::targets::ingest::DEFAULTS)
    }
}

/// Answers from a script (then 200), remembering when each attempt came.
#[derive(Default)]
struct Scripted {
    replies: Mutex<VecDeque<Reply>>,
    attempts: Mutex<Vec<(String, Instant)>>,
    /// Every attempt's body, shared so a test can read it after the
    /// transport moved into a replay.
    bodies: Arc<Mutex<Vec<Bytes>>>,
    /// Simulated time each answer takes.
    takes: Duration,
}

impl Scripted {
    fn new(replies: impl IntoIterator<Item = Reply>) -> Scripted {
        Scripted {
            replies: Mutex::new(replies.into_iter().collect()),
            ..Scripted::default()
        }
    }

    fn times(&self) -> Vec<Instant> {
        self.attempts.lock().unwrap().iter().map(|a| a.1).collect()
    }
}

impl Transport for Scripted {
    type Connection = ();

    fn connection(&self) {}

    async fn send(&self, _: &mut (), request: http::Request<Bytes>) -> Reply {
        let key = request
            .headers()
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        self.attempts.lock().unwrap().push((key, Instant::now()));
        self.bodies.lock().unwrap().push(request.body().clone());
        tokio::time::sleep(self.takes).await;
        let next = self.replies.lock().unwrap().pop_front();
        next.unwrap_or(Reply::status(200))
    }
}
