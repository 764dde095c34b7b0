//! Issue #18: a driver that stops early (the first failure, Ctrl-C) ends,
//! under a paused clock: a hang would let the clock run to the test's
//! timeout instead.

use super::*;

/// Longer than any stop may take here, shorter than the waits a stop must
/// cut (an hour of schedule, a minute of Retry-After).
const BOUND: Duration = Duration::from_secs(50);

fn refusing(
    batches: u64,
    due_every: Duration,
    stop_on_failure: bool,
) -> (
    Driver<Ingest, Scripted>,
    tokio::sync::mpsc::Receiver<Vec<Batch>>,
) {
    // One chunk, as the generator sends them: the pacer is inside it when
    // the queue fills.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let chunk = (0..batches)
        .map(|i| Batch {
            due: due_every * i as u32,
            ..tiny_batch(i)
        })
        .collect();
    tx.try_send(chunk).unwrap();
    let transport = Scripted::new(std::iter::repeat_n(Reply::status(503), 1000));
    let driver = Driver {
        target: Arc::new(ingest_target()),
        transport: Arc::new(transport),
        policy: fast_retries(2),
        concurrency: 2,
        stop_on_failure,
        counters: Arc::new(Counters::default()),
        live: None,
        timeline: None,
        cancel: Cancel::new(),
    };
    (driver, rx)
}

// The workers stopped at the failure while the pacer waited for room in
// a full queue whose receiver the driver kept: it never returned.
#[tokio::test(start_paused = true)]
async fn a_failure_with_a_full_queue_ends_the_run() {
    let (driver, rx) = refusing(50, Duration::ZERO, true);
    let delivery = tokio::time::timeout(BOUND, driver.run(rx, Pacing::Max))
        .await
        .expect("the driver returns");
    let stats = delivery.stats;
    assert!(stats.stopped_early && !stats.succeeded());
    assert_eq!(stats.events, 0);
    assert!(delivery.expected.is_none());
}

// The pacer looked at the stop only once the next batch was due.
#[tokio::test(start_paused = true)]
async fn a_failure_ends_the_wait_for_the_next_due_batch() {
    let (driver, rx) = refusing(3, Duration::from_secs(3600), true);
    let started = Instant::now();
    let delivery = tokio::time::timeout(BOUND, driver.run(rx, Pacing::Scheduled { speed: 1.0 }))
        .await
        .expect("the driver returns");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(delivery.stats.stopped_early);
    assert_eq!(delivery.stats.failed_requests, 1);
}

// Ctrl-C during a minute-long Retry-After: the back-off ends, queued
// batches are not sent, and the run says it was interrupted.
#[tokio::test(start_paused = true)]
async fn ctrl_c_ends_back_offs_and_sends_nothing_more() {
    let (mut driver, rx) = refusing(20, Duration::ZERO, false);
    let transport = Arc::new(Scripted::new(std::iter::repeat_n(
        Reply::Status {
            code: 503,
            retry_after: Some(Duration::from_secs(60)),
            duplicate: false,
            detail: String::new(),
        },
        1000,
    )));
    driver.transport = Arc::clone(&transport);
    driver.policy.retry_after_cap = Duration::from_secs(60);
    let cancel = driver.cancel.clone();
    let run = tokio::spawn(driver.run(rx, Pacing::Max));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    cancel.cancel();
    let delivery = tokio::time::timeout(BOUND, run)
        .await
        .expect("the driver returns")
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let stats = delivery.stats;
    assert!(stats.interrupted);
    // One attempt per worker, then nothing.
    assert_eq!(transport.times().len(), 2);
    assert_eq!((stats.failed_requests, stats.events), (2, 0));
    assert!(
        stats.failures[0]
            .reason
            .ends_with("not retried: stopped by Ctrl-C"),
        "{}",
        stats.failures[0].reason
    );
}
