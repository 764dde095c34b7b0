//! The emitter against scripted transports under tokio's paused clock (retry
//! timing, pacing) and against a small axum sink on 127.0.0.1:0 that can
//! answer 429/500/503/400, decode gzip, be slow and count what it applied.

use super::encoder::{Batch, BatchEncoder};
use super::retry::{Reply, RetryPolicy};
use super::service::{Sent, Transport, send_with_retries};
use super::sink::HttpSink;
use super::stats::Counters;
use super::{HttpSinkConfig, ReplayOutcome, replay, replay_with};
use crate::emit::JsonlEncoder;
use crate::emit::pacing::Pacing;
use crate::engine::{EventStream, Expected, Grain, Rate, Workload};
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
    Workload {
        seed: 11,
        calls: Some(calls),
        duration: None,
        rate: Rate(rate),
        arrival: Default::default(),
        ramp: Vec::new(),
        start_ms: 1_767_225_600_000,
    }
}

fn fast_retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        base: Duration::from_millis(2),
        cap: Duration::from_millis(20),
        retry_after_cap: Duration::from_millis(50),
    }
}

fn tiny_batch(seq: u64) -> Batch {
    Batch {
        seq,
        id: format!("cm-test-{seq}"),
        body: Bytes::from_static(b"{}\n"),
        gzip: false,
        events: 1,
        raw_bytes: 3,
        due: Duration::ZERO,
        expected: Expected::new(Grain::MINUTE),
    }
}

/// Answers from a script (then 200), remembering when each attempt came.
#[derive(Default)]
struct Scripted {
    replies: Mutex<VecDeque<Reply>>,
    attempts: Mutex<Vec<(String, Instant)>>,
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
    async fn send(&self, batch: &Batch) -> Reply {
        self.attempts
            .lock()
            .unwrap()
            .push((batch.id.clone(), Instant::now()));
        tokio::time::sleep(self.takes).await;
        let next = self.replies.lock().unwrap().pop_front();
        next.unwrap_or(Reply::status(200))
    }
}

fn gaps(times: &[Instant]) -> Vec<Duration> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

async fn send_scripted(replies: Vec<Reply>, policy: RetryPolicy) -> (Sent, Vec<Duration>, u64) {
    let transport = Scripted::new(replies);
    let counters = Counters::default();
    let sent = send_with_retries(&transport, &policy, &tiny_batch(0), &counters).await;
    let ids: Vec<String> = transport
        .attempts
        .lock()
        .unwrap()
        .iter()
        .map(|a| a.0.clone())
        .collect();
    assert!(
        ids.iter().all(|id| id == "cm-test-0"),
        "one key for every attempt"
    );
    (
        sent,
        gaps(&transport.times()),
        Counters::get(&counters.retries),
    )
}

fn retry_after(code: u16, secs: u64) -> Reply {
    Reply::Status {
        code,
        retry_after: Some(Duration::from_secs(secs)),
        duplicate: false,
        detail: String::new(),
    }
}

#[tokio::test(start_paused = true)]
async fn backoff_grows_and_is_capped() {
    let policy = RetryPolicy {
        max_retries: 8,
        base: Duration::from_millis(100),
        cap: Duration::from_millis(400),
        retry_after_cap: Duration::from_secs(60),
    };
    let (sent, gaps, retries) = send_scripted(vec![Reply::status(503); 6], policy).await;
    assert_eq!(
        sent,
        Sent {
            attempts: 7,
            result: Ok(false)
        }
    );
    assert_eq!(retries, 6);
    assert_eq!(gaps.len(), 6);
    for (retry, gap) in gaps.iter().enumerate() {
        assert!(*gap <= policy.ceiling(retry as u32), "{retry}: {gap:?}");
    }
    let ceilings: Vec<u128> = (0..6).map(|r| policy.ceiling(r).as_millis()).collect();
    assert_eq!(ceilings, [100, 200, 400, 400, 400, 400]);
    assert!(gaps.iter().sum::<Duration>() > Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_and_capped() {
    let policy = RetryPolicy::new(3);
    let (sent, gaps, _) = send_scripted(vec![retry_after(429, 3)], policy).await;
    assert_eq!(sent.attempts, 2);
    assert_eq!(gaps, [Duration::from_secs(3)]);

    let (sent, gaps, _) = send_scripted(vec![retry_after(503, 86_400)], policy).await;
    assert_eq!(sent.result, Ok(false));
    assert_eq!(gaps, [policy.retry_after_cap]);
}

#[tokio::test(start_paused = true)]
async fn permanent_failures_are_not_retried() {
    for code in [400, 401, 413, 415, 422, 501] {
        let start = Instant::now();
        let (sent, gaps, retries) =
            send_scripted(vec![Reply::status(code)], RetryPolicy::new(8)).await;
        assert_eq!(sent.attempts, 1, "{code}");
        assert_eq!(sent.result, Err(format!("HTTP {code}")));
        assert!(gaps.is_empty() && retries == 0);
        assert_eq!(Instant::now(), start, "no waiting");
    }
}

#[tokio::test(start_paused = true)]
async fn connection_errors_are_retried_until_the_limit() {
    let refused = Reply::Transport("Connection refused".into());
    let (sent, gaps, _) = send_scripted(vec![refused.clone()], RetryPolicy::new(8)).await;
    assert_eq!(
        sent,
        Sent {
            attempts: 2,
            result: Ok(false)
        }
    );
    assert_eq!(gaps.len(), 1);

    let (sent, _, retries) = send_scripted(vec![refused; 10], RetryPolicy::new(3)).await;
    assert_eq!(sent.attempts, 4);
    assert_eq!(retries, 3);
    assert_eq!(
        sent.result,
        Err("gave up after 4 attempts: connection error: Connection refused".into())
    );
}

/// Batches of the test workload, closed by size only, due at `speed`.
fn paced_batches(speed: f64, size: usize) -> Vec<Batch> {
    let scenario = scenario();
    let workload = workload(40, 10.0);
    let lines = JsonlEncoder::samples_only(workload.seed, Default::default());
    let hour = Duration::from_secs(3600);
    let mut enc = BatchEncoder::new(lines, 1, size, hour, Some(speed), false, Grain::MINUTE);
    let mut out: Vec<Batch> = EventStream::new(&scenario, &workload)
        .filter_map(|e| enc.push(&e))
        .collect();
    out.extend(enc.finish());
    out
}

/// Runs the driver over `batches`; returns when each attempt started,
/// relative to the first, and the driver's result.
async fn drive(
    batches: Vec<Batch>,
    pacing: Pacing,
    concurrency: usize,
    takes: Duration,
) -> (Vec<Duration>, super::sink::Delivery) {
    let (tx, rx) = tokio::sync::mpsc::channel(batches.len().max(1));
    for b in batches {
        tx.send(b).await.unwrap();
    }
    drop(tx);
    let transport = Arc::new(Scripted {
        takes,
        ..Scripted::default()
    });
    let sink = HttpSink {
        transport: Arc::clone(&transport),
        policy: RetryPolicy::new(0),
        concurrency,
        stop_on_failure: true,
        counters: Arc::new(Counters::default()),
    };
    let delivery = sink.run(rx, pacing).await;
    let times = transport.times();
    let offsets = times.iter().map(|t| *t - times[0]).collect();
    (offsets, delivery)
}

#[tokio::test(start_paused = true)]
async fn batches_go_out_at_their_scheduled_instants() {
    let normal = paced_batches(1.0, 20);
    let double = paced_batches(2.0, 20);
    assert!(normal.len() > 5);
    let dues: Vec<Duration> = normal.iter().map(|b| b.due).collect();
    let first = dues[0];

    let (sent, delivery) = drive(normal, Pacing::Scheduled { speed: 1.0 }, 4, Duration::ZERO).await;
    let expected: Vec<Duration> = dues.iter().map(|d| *d - first).collect();
    assert_eq!(sent, expected);
    assert_eq!(delivery.stats.lag.len(), dues.len() as u64);
    assert_eq!(delivery.stats.lag.max(), 0);
    assert_eq!(delivery.stats.scheduled, *dues.last().unwrap());

    // Speed 2: the same batches, every gap halved.
    let (sent_fast, _) = drive(double, Pacing::Scheduled { speed: 2.0 }, 4, Duration::ZERO).await;
    assert_eq!(sent_fast.len(), sent.len());
    for (fast, normal) in sent_fast.iter().zip(&sent) {
        // The paused clock's timer has millisecond ticks: half a millisecond
        // rounds up.
        let half = *normal / 2;
        assert!(
            *fast >= half && *fast - half < Duration::from_millis(1),
            "{fast:?} vs {half:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_sink_shows_as_lag_not_as_a_slower_schedule() {
    // Due every 100 ms, one slot, each send takes 300 ms: open loop means
    // batch k is due at k*100 ms but can only go at k*300 ms.
    let batches: Vec<Batch> = (0..5)
        .map(|i| Batch {
            due: Duration::from_millis(100 * i),
            ..tiny_batch(i)
        })
        .collect();
    let (sent, delivery) = drive(
        batches,
        Pacing::Scheduled { speed: 1.0 },
        1,
        Duration::from_millis(300),
    )
    .await;
    let ms: Vec<u128> = sent.iter().map(|d| d.as_millis()).collect();
    assert_eq!(ms, [0, 300, 600, 900, 1200]);
    let lag = &delivery.stats.lag;
    assert_eq!(lag.len(), 5);
    assert!(
        lag.equivalent(lag.max(), 800_000),
        "lag of the last batch: 800 ms"
    );
    assert!(delivery.stats.succeeded());
}

#[tokio::test(start_paused = true)]
async fn max_rate_has_no_schedule() {
    let batches: Vec<Batch> = (0..3)
        .map(|i| Batch {
            due: Duration::from_secs(10 * i),
            ..tiny_batch(i)
        })
        .collect();
    let (sent, delivery) = drive(batches, Pacing::Max, 4, Duration::ZERO).await;
    assert_eq!(sent, [Duration::ZERO; 3]);
    assert!(delivery.stats.lag.is_empty());
    assert_eq!(delivery.stats.events, 3);
}

#[tokio::test(start_paused = true)]
async fn sending_stops_after_the_first_failed_batch() {
    let (tx, rx) = tokio::sync::mpsc::channel(10);
    for i in 0..10 {
        tx.send(tiny_batch(i)).await.unwrap();
    }
    let transport = Arc::new(Scripted::new([Reply::status(200), Reply::status(400)]));
    let sink = HttpSink {
        transport: Arc::clone(&transport),
        policy: RetryPolicy::new(3),
        concurrency: 1,
        stop_on_failure: true,
        counters: Arc::new(Counters::default()),
    };
    let delivery = sink.run(rx, Pacing::Max).await;
    let stats = delivery.stats;
    assert_eq!(transport.times().len(), 2, "batch 2 was not sent");
    assert!(stats.stopped_early && !stats.succeeded());
    assert_eq!((stats.batches, stats.failed_batches), (1, 1));
    assert_eq!(stats.failures[0].id, "cm-test-1");
    // The generator's side of the channel sees it closed.
    assert!(tx.send(tiny_batch(10)).await.is_err());
}

#[test]
fn batch_ids_are_stable_within_a_run_and_differ_between_runs() {
    let scenario = scenario();
    let config = HttpSinkConfig::new("http://127.0.0.1:1");
    let id = |workload: &Workload, config: &HttpSinkConfig| {
        super::fingerprint(&scenario, workload, config, Some(1.0))
    };
    let base = workload(10, 5.0);
    assert_eq!(id(&base, &config), id(&workload(10, 5.0), &config));
    let later = Workload {
        start_ms: base.start_ms + 60_000,
        ..base.clone()
    };
    assert_ne!(id(&base, &config), id(&later, &config));
    let other_seed = Workload {
        seed: 12,
        ..base.clone()
    };
    assert_ne!(id(&base, &config), id(&other_seed, &config));
    let bigger = HttpSinkConfig {
        batch_events: 10,
        ..config.clone()
    };
    assert_ne!(id(&base, &config), id(&base, &bigger));
    // Compression does not change what a batch holds, so not its id.
    let gzip = HttpSinkConfig {
        gzip: true,
        ..config.clone()
    };
    assert_eq!(id(&base, &config), id(&base, &gzip));
}

// ---- against a real HTTP sink on loopback ----

/// What the test sink does with the `attempt`-th (1-based) request of a key.
type Fault = dyn Fn(u64, u32) -> Option<(u16, Option<u64>)> + Send + Sync;

#[derive(Default)]
struct Seen {
    /// Plain bodies by key, stored once, when first applied.
    applied: BTreeMap<String, Bytes>,
    attempts: BTreeMap<String, u32>,
    /// Requests for a key that was already applied.
    duplicates: u32,
    /// Client addresses: one per connection.
    peers: BTreeSet<SocketAddr>,
}

struct TestSink {
    seen: Mutex<Seen>,
    fault: Box<Fault>,
    delay: Duration,
    token: Option<&'static str>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl TestSink {
    fn new(
        fault: impl Fn(u64, u32) -> Option<(u16, Option<u64>)> + Send + Sync + 'static,
    ) -> TestSink {
        TestSink {
            seen: Mutex::default(),
            fault: Box::new(fault),
            delay: Duration::ZERO,
            token: None,
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        }
    }

    /// Serves on a free loopback port until the test's runtime ends.
    async fn start(self) -> (Arc<TestSink>, String) {
        let state = Arc::new(self);
        let app = axum::Router::new()
            .route("/ingest", axum::routing::post(ingest))
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (state, url)
    }

    fn lines(&self) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.applied
            .values()
            .map(|b| b.iter().filter(|&&c| c == b'\n').count())
            .sum()
    }
}

async fn ingest(
    State(sink): State<Arc<TestSink>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sink.seen.lock().unwrap().peers.insert(peer);
    let now = sink.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    sink.max_in_flight.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(sink.delay).await;
    let response = answer(&sink, &headers, body);
    sink.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

fn answer(sink: &TestSink, headers: &HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(token) = sink.token
        && header("authorization") != Some(&format!("Bearer {token}"))
    {
        return (StatusCode::UNAUTHORIZED, "missing or wrong bearer token").into_response();
    }
    assert_eq!(header("content-type"), Some("application/x-ndjson"));
    let key = header("idempotency-key")
        .expect("Idempotency-Key")
        .to_string();
    let seq: u64 = key.rsplit('-').next().unwrap().parse().unwrap();
    let mut seen = sink.seen.lock().unwrap();
    let attempt = {
        let n = seen.attempts.entry(key.clone()).or_default();
        *n += 1;
        *n
    };
    if let Some((code, after)) = (sink.fault)(seq, attempt) {
        let mut response = (StatusCode::from_u16(code).unwrap(), "injected fault").into_response();
        if let Some(after) = after {
            response.headers_mut().insert("retry-after", after.into());
        }
        return response;
    }
    if seen.applied.contains_key(&key) {
        seen.duplicates += 1;
        return r#"{"samples":0,"duplicate":true}"#.into_response();
    }
    let plain = match header("content-encoding") {
        Some("gzip") => {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut out)
                .expect("valid gzip");
            Bytes::from(out)
        }
        _ => body,
    };
    seen.applied.insert(key, plain);
    r#"{"samples":1,"duplicate":false}"#.into_response()
}

fn config(url: &str) -> HttpSinkConfig {
    HttpSinkConfig {
        batch_events: 100,
        retry: fast_retries(4),
        ..HttpSinkConfig::new(url)
    }
}

async fn replay_into(url: &str, config: HttpSinkConfig, calls: u64) -> ReplayOutcome {
    let config = HttpSinkConfig {
        base_url: url.into(),
        ..config
    };
    replay(
        &scenario(),
        &workload(calls, 50.0),
        &config,
        Pacing::Max,
        Grain::MINUTE,
    )
    .await
    .expect("replay")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_batch_is_applied_once_despite_429_and_503() {
    // Every third batch: 429 (Retry-After: 1, cut to 50 ms) on its first
    // attempt; the next ones: 503 on their first two attempts.
    let (sink, url) = TestSink::new(|seq, attempt| match seq % 3 {
        0 if attempt == 1 => Some((429, Some(1))),
        1 if attempt <= 2 => Some((503, None)),
        _ => None,
    })
    .start()
    .await;
    let out = replay_into(&url, config(&url), 300).await;
    let stats = &out.stats;
    assert!(stats.succeeded(), "{stats:?}");
    assert!(stats.batches >= 20, "{}", stats.batches);
    assert_eq!(stats.events, out.generated_events);

    let seen = sink.seen.lock().unwrap();
    assert_eq!(seen.applied.len() as u64, stats.batches);
    assert_eq!(seen.duplicates, 0);
    // Keep-alive: a connection per slot (a few more if one is reopened
    // while its predecessor is being returned to the pool), not one per
    // request, despite the error answers.
    let requests: u32 = seen.attempts.values().sum();
    assert!(requests > 40);
    assert!(seen.peers.len() <= 8, "{} connections", seen.peers.len());
    let mut retries = 0;
    for (key, attempts) in &seen.attempts {
        let seq: u64 = key.rsplit('-').next().unwrap().parse().unwrap();
        let want = [2, 3, 1][(seq % 3) as usize];
        assert_eq!(*attempts, want, "{key}");
        retries += u64::from(want - 1);
    }
    assert_eq!(stats.retries, retries);
    drop(seen);
    assert_eq!(sink.lines() as u64, stats.events);
    // The expected aggregates are those of the whole workload.
    let whole = crate::engine::expected_only(&scenario(), &workload(300, 50.0), Grain::MINUTE, 2);
    assert_eq!(out.expected.sorted(), whole.sorted());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bodies_decode_to_the_same_lines() {
    let (plain_sink, plain_url) = TestSink::new(|_, _| None).start().await;
    let (gzip_sink, gzip_url) = TestSink::new(|_, _| None).start().await;
    let plain = replay_into(&plain_url, config(&plain_url), 100).await;
    let gzip = HttpSinkConfig {
        gzip: true,
        ..config(&gzip_url)
    };
    let zipped = replay_into(&gzip_url, gzip, 100).await;
    assert!(plain.stats.succeeded() && zipped.stats.succeeded());
    assert!(
        zipped.stats.bytes * 3 < plain.stats.bytes,
        "gzip shrinks NDJSON"
    );
    assert_eq!(zipped.stats.raw_bytes, plain.stats.bytes);
    let plain_seen = plain_sink.seen.lock().unwrap();
    let gzip_seen = gzip_sink.seen.lock().unwrap();
    assert!(!plain_seen.applied.is_empty());
    // Same keys, same lines.
    assert_eq!(plain_seen.applied, gzip_seen.applied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_the_same_run_again_is_recognised_as_duplicates() {
    let (sink, url) = TestSink::new(|_, _| None).start().await;
    let first = replay_into(&url, config(&url), 60).await;
    let second = replay_into(&url, config(&url), 60).await;
    assert_eq!(first.stats.duplicates, 0);
    assert_eq!(second.stats.duplicates, second.stats.batches);
    assert!(second.stats.succeeded());
    assert_eq!(sink.lines() as u64, first.stats.events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_always_gets_500_fails_after_its_retries() {
    let (sink, url) = TestSink::new(|seq, _| (seq == 2).then_some((500, None)))
        .start()
        .await;
    let out = replay_into(&url, config(&url), 300).await;
    let stats = &out.stats;
    assert!(!stats.succeeded());
    assert_eq!(stats.failed_batches, 1);
    let failure = &stats.failures[0];
    assert_eq!(failure.seq, 2);
    assert_eq!(failure.attempts, 5, "first attempt and 4 retries");
    assert_eq!(
        failure.reason,
        "gave up after 5 attempts: HTTP 500: injected fault"
    );
    let seen = sink.seen.lock().unwrap();
    assert_eq!(seen.attempts[&failure.id], 5);
    assert!(!seen.applied.contains_key(&failure.id));
    // Only delivered events are expected.
    assert_eq!(sink_lines(&seen), stats.events);
    let expected_events = out
        .expected
        .total_count(crate::catalog::Metric::ApiRequests)
        + out
            .expected
            .total_count(crate::catalog::Metric::CallbackEvents);
    assert_eq!(expected_events, stats.events);
    let mut summary = Vec::new();
    stats.write_summary(&mut summary).unwrap();
    let summary = String::from_utf8(summary).unwrap();
    assert!(summary.contains(&format!(
        "failed batch {} (100 events, 5 attempts)",
        failure.id
    )));
}

fn sink_lines(seen: &Seen) -> u64 {
    seen.applied
        .values()
        .map(|b| b.iter().filter(|&&c| c == b'\n').count() as u64)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_are_not_retried_over_http() {
    let (sink, url) = TestSink::new(|_, _| Some((422, None))).start().await;
    let out = replay_into(&url, config(&url), 50).await;
    assert_eq!(out.stats.retries, 0);
    assert_eq!(out.stats.failures[0].reason, "HTTP 422: injected fault");
    assert!(sink.seen.lock().unwrap().attempts.values().all(|n| *n == 1));

    let (_, url) = TestSink {
        token: Some("s3cret"),
        ..TestSink::new(|_, _| None)
    }
    .start()
    .await;
    let out = replay_into(&url, config(&url), 20).await;
    assert_eq!(
        out.stats.failures[0].reason,
        "HTTP 401: missing or wrong bearer token"
    );
    let with_token = HttpSinkConfig {
        token: Some("s3cret".into()),
        ..config(&url)
    };
    assert!(replay_into(&url, with_token, 20).await.stats.succeeded());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_are_retried_then_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let out = replay_into(&url, config(&url), 20).await;
    let failure = &out.stats.failures[0];
    assert_eq!(failure.attempts, 5);
    assert!(
        failure
            .reason
            .starts_with("gave up after 5 attempts: connection error"),
        "{}",
        failure.reason
    );
    assert_eq!(out.stats.events, 0);
    assert!(out.expected.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_more_than_concurrency_requests_in_flight() {
    let (sink, url) = TestSink {
        delay: Duration::from_millis(30),
        ..TestSink::new(|_, _| None)
    }
    .start()
    .await;
    let two = HttpSinkConfig {
        concurrency: 2,
        batch_events: 50,
        ..config(&url)
    };
    let out = replay_into(&url, two, 100).await;
    assert!(out.stats.batches >= 8, "{}", out.stats.batches);
    assert_eq!(sink.max_in_flight.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_replay_paces_a_whole_workload() {
    // The full path (generator thread, channel, pacing, slots) at 200x speed
    // on a real clock: nothing is sent before it is due.
    let config = HttpSinkConfig {
        batch_window: Duration::from_millis(10),
        ..HttpSinkConfig::new("http://unused")
    };
    let transport = Scripted::default();
    let started = std::time::Instant::now();
    let out = replay_with(
        &scenario(),
        &workload(10, 20.0),
        &config,
        Pacing::Scheduled { speed: 200.0 },
        Grain::MINUTE,
        transport,
    )
    .await
    .unwrap();
    assert!(out.stats.succeeded());
    assert!(started.elapsed() >= out.stats.scheduled);
    assert_eq!(out.stats.lag.len(), out.stats.batches);
    assert!(out.stats.lag_at(0.5).unwrap() < Duration::from_millis(20));
}

/// A sink that only counts lines: the client side's ceiling.
async fn counting_sink() -> (Arc<std::sync::atomic::AtomicU64>, String) {
    let lines = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = Arc::clone(&lines);
    let app = axum::Router::new()
        .route(
            "/ingest",
            axum::routing::post(move |body: Bytes| async move {
                let n = body.iter().filter(|&&c| c == b'\n').count() as u64;
                counter.fetch_add(n, Ordering::Relaxed);
                r#"{"samples":1,"duplicate":false}"#
            }),
        )
        .layer(axum::extract::DefaultBodyLimit::disable());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (lines, url)
}

/// `cargo test --release --lib -- --ignored --nocapture max_rate_throughput`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "throughput measurement; run in release"]
async fn max_rate_throughput() {
    let (lines, url) = counting_sink().await;
    let calls: u64 = std::env::var("CM_CALLS").map_or(100_000, |v| v.parse().unwrap());
    for gzip in [false, true] {
        let config = HttpSinkConfig {
            gzip,
            ..HttpSinkConfig::new(&url)
        };
        let out = replay(
            &scenario(),
            &workload(calls, 500.0),
            &config,
            Pacing::Max,
            Grain::MINUTE,
        )
        .await
        .unwrap();
        let mut text = Vec::new();
        out.stats.write_summary(&mut text).unwrap();
        eprintln!("gzip {gzip}:\n{}", String::from_utf8_lossy(&text));
        assert!(out.stats.succeeded());
    }
    assert!(lines.load(Ordering::Relaxed) > 0);
}
