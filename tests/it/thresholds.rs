//! `run --threshold` and `--max-failed` end to end (issue #18, part 5):
//! thresholds judged over short runs into the embedded sink, typos refused
//! before anything is sent, and a failure budget against an app and a sink
//! that refuse some requests. Loopback only, a few hundred requests each.

use crate::common;

use crate::common::fake_app::{answer, serve};
use crate::common::{SinkProcess, callmetrics, callmetrics_async, page_data, read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

fn run(extra: &[&str]) -> common::Run {
    let mut args = vec![
        "run",
        "tests/fixtures/tiny.json",
        "--calls",
        "50",
        "--max-rate",
    ];
    args.extend_from_slice(extra);
    callmetrics(&args)
}

#[test]
fn thresholds_that_are_met_pass_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let run = run(&[
        "--threshold",
        "latency.p99 < 30s",
        "--threshold",
        "failed==0",
        "--threshold",
        "delivered.events==100%",
        "--threshold",
        "events/s>0",
        "--summary-out",
        summary.to_str().unwrap(),
    ])
    .expect_code(0);
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());
    assert!(
        run.stderr.contains("\nthresholds  4 passed\n"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr
            .contains("threshold delivered.events==100% passed: 100.000%\n"),
        "{}",
        run.describe()
    );
    let json: serde_json::Value = serde_json::from_str(&read(&summary)).unwrap();
    let thresholds = json["thresholds"].as_array().unwrap();
    assert_eq!(thresholds.len(), 4);
    assert!(thresholds.iter().all(|t| t["passed"] == true), "{json}");
    assert_eq!(thresholds[0]["expression"], "latency.p99<30s");
    assert_eq!(thresholds[0]["unit"], "ms");
    assert_eq!(thresholds[0]["limit"], 30_000.0);
}

// A threshold not met exits 1 however well the check went, and says which
// in the summary, the JUnit document and the report.
#[test]
fn a_threshold_that_cannot_be_met_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("run.html");
    let run = run(&[
        "--threshold",
        "latency.p99<1us",
        "--threshold",
        "failed<1%",
        "--format",
        "junit",
        "--report",
        report.to_str().unwrap(),
    ])
    .expect_code(1);
    assert!(
        run.stderr
            .contains("\nthresholds  1 of 2 failed: latency.p99<1us\n"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("threshold latency.p99<1us FAILED: ") && l.ends_with(" ms")),
        "{}",
        run.describe()
    );
    let xml = &run.stdout;
    assert!(
        xml.contains(r#"<testsuite name="callmetrics run thresholds" tests="2" failures="1""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testcase classname="callmetrics.run.threshold" name="failed&lt;1%"/>"#),
        "{xml}"
    );
    assert!(xml.contains(r#"name="latency.p99&lt;1us">"#), "{xml}");
    assert!(
        xml.contains(r#"<testsuite name="APIRequestCallAutomation PT1M""#),
        "the check's suites are in the same document: {xml}"
    );
    assert_eq!(xml.matches("<testsuites ").count(), 1, "{xml}");
    let data = page_data(&report);
    assert_eq!(data["verdict"], "fail");
    assert_eq!(data["summary"]["thresholds"][0]["passed"], false);
    // --quiet says nothing else, but still which threshold failed.
    let quiet = run_quiet(&["--threshold", "latency.max<1us"]).expect_code(1);
    assert!(
        quiet
            .stderr
            .starts_with("threshold latency.max<1us FAILED: "),
        "{}",
        quiet.describe()
    );
}

fn run_quiet(extra: &[&str]) -> common::Run {
    let mut args = vec!["--quiet"];
    args.extend_from_slice(extra);
    run(&args)
}

// A typo must not pass silently: it is a usage error before the run.
#[test]
fn a_typo_or_a_bad_expression_is_a_usage_error() {
    for (threshold, says) in [
        ("latncy.p99<250ms", "did you mean latency.p99?"),
        ("faild<0.1%", "did you mean failed?"),
        ("latency.p99<250", "is a duration: give a unit"),
        ("latency.p99=250ms", "compare with <, <=, >, >= or =="),
    ] {
        let run = run_quiet(&["--threshold", threshold]).expect_code(2);
        assert!(run.stderr.contains(says), "{}", run.describe());
        assert!(run.stdout.is_empty(), "nothing ran: {}", run.describe());
    }
    let run = run_quiet(&["--threshold", "lag.p99<5ms"]).expect_code(2);
    assert!(
        run.stderr.contains("a --max-rate run has no schedule"),
        "{}",
        run.describe()
    );
    let run = run_quiet(&["--max-failed", "5 %x"]).expect_code(2);
    assert!(run.stderr.contains("--max-failed"), "{}", run.describe());
}

/// An app refusing every third callback with 500.
async fn refusing_app() -> String {
    let seen = Arc::new(AtomicU64::new(0));
    let addr = serve(move |request| {
        if request.method == http::Method::GET {
            return answer(204, "text/plain", "");
        }
        match seen.fetch_add(1, Relaxed) % 3 {
            2 => answer(500, "text/plain", "busy"),
            _ => answer(204, "text/plain", ""),
        }
    })
    .await;
    format!("http://{addr}/api/callbacks")
}

async fn run_webhook(url: &str, extra: &[&str]) -> common::Run {
    let mut args = vec![
        "run",
        "tests/fixtures/tiny.json",
        "--target",
        "webhook",
        "--sink",
        url,
        "--calls",
        "20",
        "--max-rate",
        "--concurrency",
        "1",
    ];
    args.extend_from_slice(extra);
    callmetrics_async(&args).await
}

// Issue #18, item 5: any failed request was exit 2; a stress test accepts a
// known failure rate with --max-failed, and judges it with a threshold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_failed_accepts_a_known_failure_rate() {
    let url = refusing_app().await;
    let strict = run_webhook(&url, &["--quiet"]).await.expect_code(2);
    assert!(
        strict.stderr.contains("could not be delivered"),
        "{}",
        strict.describe()
    );
    let accepted = run_webhook(&url, &["--max-failed", "40%"])
        .await
        .expect_code(0);
    assert!(
        accepted.stderr.contains("failed request "),
        "the failures are still listed: {}",
        accepted.describe()
    );
    let over = run_webhook(&url, &["--max-failed", "5", "--quiet"])
        .await
        .expect_code(2);
    assert!(
        over.stderr.contains("more than --max-failed 5"),
        "{}",
        over.describe()
    );
    let judged = run_webhook(
        &url,
        &[
            "--max-failed",
            "100%",
            "--threshold",
            "failed<10%",
            "--quiet",
        ],
    )
    .await
    .expect_code(1);
    assert!(
        judged.stderr.starts_with("threshold failed<10% FAILED: 3"),
        "a third refused: {}",
        judged.describe()
    );
}

// The check after a run with accepted failures compares what was
// delivered: a sink refusing a third of the batches (unretried) still
// checks green, and ingest went on past the first refusal.
#[test]
fn the_check_compares_what_was_delivered_within_max_failed() {
    let sink = SinkProcess::start(&["--listen", "127.0.0.1:0", "--fault-rate", "0.3"]);
    let run = callmetrics(&[
        "run",
        "tests/fixtures/tiny.json",
        "--calls",
        "200",
        "--max-rate",
        "--sink",
        &sink.url,
        "--check",
        "--batch-size",
        "20",
        "--retries",
        "0",
        "--max-failed",
        "100%",
    ])
    .expect_code(0);
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());
    let failed = run
        .stderr
        .lines()
        .find(|l| l.starts_with("failed "))
        .unwrap_or_else(|| panic!("{}", run.describe()));
    assert!(
        !failed.contains(" 0 requests"),
        "the sink refused some: {}",
        run.describe()
    );
    assert!(!run.stderr.contains("stopped"), "{}", run.describe());
}
