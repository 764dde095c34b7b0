//! Retry timing and pacing with scripted transports and a paused clock.

use super::*;

fn gaps(times: &[Instant]) -> Vec<Duration> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

async fn send_scripted(replies: Vec<Reply>, policy: RetryPolicy) -> (Sent, Vec<Duration>, u64) {
    let transport = Scripted::new(replies);
    let counters = Counters::default();
    let sent = send_with_retries(
        &transport,
        &mut (),
        &ingest_target(),
        &policy,
        &tiny_batch(0),
        &counters,
        &Cancel::new(),
    )
    .await;
    let ids: Vec<String> = transport
        .attempts
        .lock()
        .unwrap()
        .iter()
        .map(|a| a.0.clone())
        .collect();
    assert!(
        ids.iter().all(|id| id == "cm-00000000000000ab-0"),
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
        ..RetryPolicy::new(8)
    };
    let (sent, gaps, retries) = send_scripted(vec![Reply::status(503); 6], policy).await;
    assert_eq!(sent.attempts.len(), 7);
    assert_eq!(sent.result, Ok(false));
    let replies: Vec<ReplyKind> = sent.attempts.iter().map(|a| a.reply).collect();
    let mut want = vec![ReplyKind::Status(503); 6];
    want.push(ReplyKind::Status(200));
    assert_eq!(replies, want);
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
    assert_eq!(sent.attempts.len(), 2);
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
        assert_eq!(sent.attempts.len(), 1, "{code}");
        assert_eq!(sent.result, Err(format!("HTTP {code}")));
        assert!(gaps.is_empty() && retries == 0);
        assert_eq!(Instant::now(), start, "no waiting");
    }
}

#[tokio::test(start_paused = true)]
async fn connection_errors_are_retried_until_the_limit() {
    let refused = Reply::Transport {
        kind: TransportFailure::Connect,
        message: "Connection refused".into(),
    };
    let (sent, gaps, _) = send_scripted(vec![refused.clone()], RetryPolicy::new(8)).await;
    assert_eq!(sent.attempts.len(), 2);
    assert_eq!(sent.result, Ok(false));
    assert_eq!(
        sent.attempts[0].reply,
        ReplyKind::NoAnswer(TransportFailure::Connect)
    );
    assert_eq!(gaps.len(), 1);

    let (sent, _, retries) = send_scripted(vec![refused.clone(); 10], RetryPolicy::new(3)).await;
    assert_eq!(sent.attempts.len(), 4);
    assert_eq!(retries, 3);
    assert_eq!(
        sent.result,
        Err("gave up after 4 attempts: connect error: Connection refused".into())
    );
    // Without retries the reason is the reply itself.
    let (sent, _, _) = send_scripted(vec![refused], RetryPolicy::new(0)).await;
    assert_eq!(sent.result, Err("connect error: Connection refused".into()));
}

/// Batches of the test workload, closed by size only, due at `speed`.
fn paced_batches(speed: f64, size: usize) -> Vec<Batch> {
    let scenario = scenario();
    let workload = workload(40, 10.0);
    let lines = NdjsonEncoder::new(
        crate::engine::IdKey::of(&scenario, &workload),
        Default::default(),
    );
    let cut = Cut {
        max_events: size,
        window: Duration::from_secs(3600),
        speed: Some(speed),
    };
    let mut enc = Batcher::new(lines, 1, cut, Compression::None, Grain::MINUTE);
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
) -> (Vec<Duration>, Delivery) {
    let (tx, rx) = tokio::sync::mpsc::channel(batches.len().max(1));
    for b in batches {
        tx.send(vec![b]).await.unwrap();
    }
    drop(tx);
    let transport = Arc::new(Scripted {
        takes,
        ..Scripted::default()
    });
    let driver = Driver {
        target: Arc::new(ingest_target()),
        transport: Arc::clone(&transport),
        policy: RetryPolicy::new(0),
        concurrency,
        stop_on_failure: true,
        counters: Arc::new(Counters::default()),
        live: None,
        timeline: None,
        cancel: Cancel::new(),
    };
    let delivery = driver.run(rx, pacing).await;
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
        tx.send(vec![tiny_batch(i)]).await.unwrap();
    }
    let transport = Arc::new(Scripted::new([Reply::status(200), Reply::status(400)]));
    let driver = Driver {
        target: Arc::new(ingest_target()),
        transport: Arc::clone(&transport),
        policy: RetryPolicy::new(3),
        concurrency: 1,
        stop_on_failure: true,
        counters: Arc::new(Counters::default()),
        live: None,
        timeline: None,
        cancel: Cancel::new(),
    };
    let delivery = driver.run(rx, Pacing::Max).await;
    let stats = delivery.stats;
    assert_eq!(transport.times().len(), 2, "batch 2 was not sent");
    assert!(stats.stopped_early && !stats.succeeded());
    assert_eq!((stats.requests, stats.failed_requests), (1, 1));
    assert_eq!(stats.failures[0].id, "cm-00000000000000ab-1");
    assert_eq!(stats.failure_kinds[&ReplyKind::Status(400)], 1);
    // The generator's side of the channel sees it closed.
    assert!(tx.send(vec![tiny_batch(10)]).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn without_stop_on_failure_every_batch_is_tried_and_failures_counted_by_kind() {
    let (tx, rx) = tokio::sync::mpsc::channel(10);
    for i in 0..6 {
        tx.send(vec![tiny_batch(i)]).await.unwrap();
    }
    drop(tx);
    let closed = Reply::Transport {
        kind: TransportFailure::Closed,
        message: "reset".into(),
    };
    let transport = Arc::new(Scripted::new([
        Reply::status(500),
        Reply::status(204),
        closed,
        Reply::status(302),
        Reply::status(500),
    ]));
    let driver = Driver {
        target: Arc::new(Webhook::new("http://127.0.0.1:1/cb", None).unwrap()),
        transport: Arc::clone(&transport),
        policy: RetryPolicy::new(0),
        concurrency: 1,
        stop_on_failure: false,
        counters: Arc::new(Counters::default()),
        live: None,
        timeline: Some(Arc::new(Mutex::new(Timeline::new(
            tokio::time::Instant::now(),
        )))),
        cancel: Cancel::new(),
    };
    let timeline = driver.timeline.clone().unwrap();
    let stats = driver.run(rx, Pacing::Max).await.stats;
    // The report's timeline counts what the summary counts.
    let timeline = timeline.lock().unwrap();
    let slots = timeline.slots();
    let sum =
        |f: fn(&crate::emit::deliver::timeline::Slot) -> u64| slots.iter().map(f).sum::<u64>();
    assert_eq!(sum(|s| s.requests), stats.requests);
    assert_eq!(sum(|s| s.failed_requests), stats.failed_requests);
    assert_eq!(sum(|s| s.events), stats.events);
    assert_eq!(sum(|s| s.latency.len()), 6);
    assert_eq!(transport.times().len(), 6);
    assert!(!stats.stopped_early && !stats.succeeded());
    assert_eq!((stats.requests, stats.failed_requests), (2, 4));
    let kinds: Vec<(String, u64)> = stats
        .failure_kinds
        .iter()
        .map(|(k, n)| (k.to_string(), *n))
        .collect();
    assert_eq!(
        kinds,
        [
            ("302".to_string(), 1),
            ("500".to_string(), 2),
            ("connection closed".to_string(), 1)
        ]
    );
    assert_eq!(stats.replies[&ReplyKind::Status(204)], 1);
    assert_eq!(stats.latency.len(), 6, "one latency per attempt");
}

#[test]
fn batch_ids_are_stable_within_a_run_and_differ_between_runs() {
    let scenario = scenario();
    let config = delivery(5000, 8);
    let id = |workload: &Workload, config: &DeliveryConfig| {
        crate::emit::deliver::fingerprint(&scenario, workload, &ingest_target(), config, Some(1.0))
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
    let bigger = DeliveryConfig {
        batch_events: 10,
        ..config.clone()
    };
    assert_ne!(id(&base, &config), id(&base, &bigger));
    // Compression does not change what a batch holds, so not its id.
    let gzip = DeliveryConfig {
        compression: Compression::Gzip,
        ..config.clone()
    };
    assert_eq!(id(&base, &config), id(&base, &gzip));
    // Another target's batches hold something else.
    let webhook = Webhook::new("http://127.0.0.1:1/cb", None).unwrap();
    assert_ne!(
        id(&base, &config),
        crate::emit::deliver::fingerprint(&scenario, &base, &webhook, &config, Some(1.0))
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_receiver_holds_the_generator_back() {
    // Answers take 1 s, 4 workers: after the first second only a bounded
    // number of batches may have left the generator (in flight, queued,
    // held by the pacer, in the channel), whatever the stream's length.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let produced = Arc::new(AtomicUsize::new(0));
    let producer = {
        let produced = Arc::clone(&produced);
        tokio::spawn(async move {
            for i in 0..10_000 {
                if tx.send(vec![tiny_batch(i)]).await.is_err() {
                    return;
                }
                produced.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let transport = Arc::new(Scripted {
        takes: Duration::from_secs(1),
        ..Scripted::default()
    });
    let driver = Driver {
        target: Arc::new(ingest_target()),
        transport: Arc::clone(&transport),
        policy: RetryPolicy::new(0),
        concurrency: 4,
        stop_on_failure: false,
        counters: Arc::new(Counters::default()),
        live: None,
        timeline: None,
        cancel: Cancel::new(),
    };
    let run = tokio::spawn(driver.run(rx, Pacing::Max));
    for second in 1..=3 {
        tokio::time::sleep(Duration::from_millis(999)).await;
        let sent = transport.times().len();
        let ahead = produced.load(Ordering::SeqCst) - sent;
        // 4 in flight are counted as sent; the queue holds 4, the pacer 1,
        // the channel 1.
        assert_eq!(sent, 4 * second, "one answer per worker per second");
        assert!(ahead <= 4 + 1 + 1 + 1, "{ahead} batches ahead of the sends");
    }
    producer.abort();
    run.abort();
}

// Issue #18, item 6: attempts that got no answer are told apart by when
// they were sent, the run's first second or later, for the summary's hint
// at an app's accept backlog.
#[tokio::test(start_paused = true)]
async fn unanswered_attempts_at_the_start_are_counted_apart() {
    let (tx, rx) = tokio::sync::mpsc::channel(10);
    for i in 0..6 {
        let due = Duration::from_millis(if i < 4 { 0 } else { 1500 });
        tx.send(vec![Batch {
            due,
            ..tiny_batch(i)
        }])
        .await
        .unwrap();
    }
    drop(tx);
    let no_answer = |kind| Reply::Transport {
        kind,
        message: "no answer".into(),
    };
    let transport = Arc::new(Scripted::new([
        no_answer(TransportFailure::Connect),
        no_answer(TransportFailure::Connect),
        no_answer(TransportFailure::Timeout),
        Reply::status(204),
        Reply::status(204),
        no_answer(TransportFailure::Timeout),
    ]));
    let driver = Driver {
        target: Arc::new(Webhook::new("http://127.0.0.1:1/cb", None).unwrap()),
        transport: Arc::clone(&transport),
        policy: RetryPolicy::new(0),
        concurrency: 4,
        stop_on_failure: false,
        counters: Arc::new(Counters::default()),
        live: None,
        timeline: None,
        cancel: Cancel::new(),
    };
    let stats = driver.run(rx, Pacing::Scheduled { speed: 1.0 }).await.stats;
    assert_eq!((stats.requests, stats.failed_requests), (2, 4));
    assert_eq!(stats.unanswered_at_start, 3, "the fourth came after 1.5 s");
    assert_eq!(stats.concurrency, 4);
    let hint = stats
        .backlog_hint()
        .expect("3 of 4 unanswered at the start");
    assert!(hint.contains("--concurrency 4"), "{hint}");
}

// Workers overlap: with two, requests go out in pairs, never three at
// once (the loopback test bounds it on a real clock; this shows both).
#[tokio::test(start_paused = true)]
async fn two_workers_send_two_requests_at_once_and_never_three() {
    let batches: Vec<Batch> = (0..6).map(tiny_batch).collect();
    let (sent, delivery) = drive(batches, Pacing::Max, 2, Duration::from_millis(100)).await;
    let ms: Vec<u128> = sent.iter().map(|d| d.as_millis()).collect();
    assert_eq!(ms, [0, 0, 100, 100, 200, 200]);
    assert_eq!(delivery.stats.requests, 6);
}
