//! The emitter against a real HTTP sink on loopback.

use super::*;
use crate::client::tls::ClientTls;

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

fn config() -> DeliveryConfig {
    delivery(100, 4)
}

async fn replay_into(url: &str, config: DeliveryConfig, calls: u64) -> ReplayOutcome {
    replay_with_token(url, None, config, calls).await
}

async fn replay_with_token(
    url: &str,
    token: Option<&str>,
    config: DeliveryConfig,
    calls: u64,
) -> ReplayOutcome {
    let target = Ingest::new(url, token, Default::default()).unwrap();
    replay(
        &scenario(),
        &workload(calls, 50.0),
        target,
        &config,
        Pacing::Max,
        Grain::MINUTE,
        &ClientTls::system(),
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
    let out = replay_into(&url, config(), 300).await;
    let stats = &out.stats;
    assert!(stats.succeeded(), "{stats:?}");
    assert!(stats.requests >= 20, "{}", stats.requests);
    assert_eq!(stats.events, out.generated_events);

    let seen = sink.seen.lock().unwrap();
    assert_eq!(seen.applied.len() as u64, stats.requests);
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
    let plain = replay_into(&plain_url, config(), 100).await;
    let gzip = DeliveryConfig {
        compression: Compression::Gzip,
        ..config()
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
    let first = replay_into(&url, config(), 60).await;
    let second = replay_into(&url, config(), 60).await;
    assert_eq!(first.stats.duplicates, 0);
    assert_eq!(second.stats.duplicates, second.stats.requests);
    assert!(second.stats.succeeded());
    assert_eq!(sink.lines() as u64, first.stats.events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_always_gets_500_fails_after_its_retries() {
    let (sink, url) = TestSink::new(|seq, _| (seq == 2).then_some((500, None)))
        .start()
        .await;
    let out = replay_into(&url, config(), 300).await;
    let stats = &out.stats;
    assert!(!stats.succeeded());
    assert_eq!(stats.failed_requests, 1);
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
        "failed request {} (100 events, 5 attempts)",
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
    let out = replay_into(&url, config(), 50).await;
    assert_eq!(out.stats.retries, 0);
    assert_eq!(out.stats.failures[0].reason, "HTTP 422: injected fault");
    assert!(sink.seen.lock().unwrap().attempts.values().all(|n| *n == 1));

    let (_, url) = TestSink {
        token: Some("s3cret"),
        ..TestSink::new(|_, _| None)
    }
    .start()
    .await;
    let out = replay_into(&url, config(), 20).await;
    assert_eq!(
        out.stats.failures[0].reason,
        "HTTP 401: missing or wrong bearer token"
    );
    let with_token = replay_with_token(&url, Some("s3cret"), config(), 20).await;
    assert!(with_token.stats.succeeded());
}

// Issue #9, items 17 and 18: a 302 was followed as a GET and its 200
// counted as delivered; a 400 was reported "after 8 retries".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_a_failed_delivery_and_attempts_are_reported_as_made() {
    let followed = Arc::new(AtomicUsize::new(0));
    let hits = followed.clone();
    let app = axum::Router::new()
        .route(
            "/ingest",
            axum::routing::post(|| async {
                (StatusCode::FOUND, [("location", "/elsewhere")], "moved")
            }),
        )
        .route(
            "/elsewhere",
            axum::routing::any(move || {
                hits.fetch_add(1, Ordering::SeqCst);
                async { r#"{"samples":1,"duplicate":false}"# }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let out = replay_into(&url, config(), 20).await;
    assert!(!out.stats.succeeded());
    assert_eq!(
        followed.load(Ordering::SeqCst),
        0,
        "a redirect was followed"
    );
    let failure = &out.stats.failures[0];
    assert!(failure.reason.starts_with("HTTP 302"), "{}", failure.reason);
    assert_eq!((failure.attempts, out.stats.retries), (1, 0));

    let (_, url) = TestSink::new(|_, _| Some((400, None))).start().await;
    let out = replay_into(&url, config(), 20).await;
    assert_eq!((out.stats.failures[0].attempts, out.stats.retries), (1, 0));
    let (_, url) = TestSink::new(|_, attempt| (attempt < 3).then_some((503, Some(0))))
        .start()
        .await;
    let out = replay_into(&url, config(), 20).await;
    assert!(out.stats.succeeded() && out.stats.retries >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_target_fails_before_the_schedule_starts() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = replay(
        &scenario(),
        &workload(20, 50.0),
        Webhook::new(&format!("{url}/callbacks"), None).unwrap(),
        &config(),
        Pacing::Scheduled { speed: 1.0 },
        Grain::MINUTE,
        &ClientTls::system(),
    )
    .await
    .unwrap_err();
    // Only the probe before the schedule says this (a request that failed
    // would be in the stats, not an error), so no clock is needed.
    assert!(
        matches!(err, super::super::ReplayError::Unreachable { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("sink not reachable at {url}/callbacks ("))
            && text.contains("onnect"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_more_than_concurrency_requests_in_flight() {
    let (sink, url) = TestSink {
        delay: Duration::from_millis(30),
        ..TestSink::new(|_, _| None)
    }
    .start()
    .await;
    let two = DeliveryConfig {
        concurrency: 2,
        batch_events: 50,
        ..config()
    };
    let out = replay_into(&url, two, 100).await;
    assert!(out.stats.requests >= 8, "{}", out.stats.requests);
    // At most two; that two do overlap is the paused-clock test's to show
    // (here it would depend on the machine's scheduling).
    let most = sink.max_in_flight.load(Ordering::SeqCst);
    assert!((1..=2).contains(&most), "{most}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_replay_paces_a_whole_workload() {
    // The full path (generator thread, channel, pacer, workers) at 200x speed
    // on a real clock: nothing is sent before it is due.
    let config = DeliveryConfig {
        batch_window: Duration::from_millis(10),
        ..delivery(5000, 8)
    };
    let transport = Scripted::default();
    let started = std::time::Instant::now();
    let out = replay_with(
        &scenario(),
        &workload(10, 20.0),
        ingest_target(),
        &config,
        Pacing::Scheduled { speed: 200.0 },
        Grain::MINUTE,
        transport,
    )
    .await
    .unwrap();
    assert!(out.stats.succeeded());
    assert!(started.elapsed() >= out.stats.scheduled);
    // Every request's lag is measured; how small it is depends on the
    // machine, so the paused-clock tests assert its value.
    assert_eq!(out.stats.lag.len(), out.stats.requests);
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
    for compression in [Compression::None, Compression::Gzip] {
        let config = DeliveryConfig {
            compression,
            concurrency: 4,
            ..delivery(5000, 8)
        };
        let out = replay(
            &scenario(),
            &workload(calls, 500.0),
            Ingest::new(&url, None, Default::default()).unwrap(),
            &config,
            Pacing::Max,
            Grain::MINUTE,
            &ClientTls::system(),
        )
        .await
        .unwrap();
        let mut text = Vec::new();
        out.stats.write_summary(&mut text).unwrap();
        eprintln!("{compression:?}:\n{}", String::from_utf8_lossy(&text));
        assert!(out.stats.succeeded());
    }
    assert!(lines.load(Ordering::Relaxed) > 0);
}
