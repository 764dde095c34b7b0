//! `run --target remote-write` into a real Prometheus 2.42
//! (`--web.enable-remote-write-receiver`) and a real VictoriaMetrics 1.79:
//! a shipped scenario end to end, then `check --backend promql` per bucket
//! at two grains, exact; and the server restarted mid-run: the retries
//! deliver everything and the check still passes.
//!
//! Needs `prometheus` and `victoria-metrics` (skipped on a developer
//! machine without them, a failure in CI). Bounded: hundreds of calls,
//! a few seconds each, servers stopped at the end.

use crate::common;

use crate::common::callmetrics_async;
use crate::common::running::{Running, run_through_an_outage};
use crate::common::servers::{
    Store, free_port, instant_query, minute_hours_ago, require, start_store, written_hours_ago,
};
use std::path::Path;
use std::time::Duration;

/// `check --backend promql` of `expected` against `base` at PT1M and PT5M.
async fn check(expected: &Path, base: &str) -> common::Run {
    let expected = expected.to_str().unwrap();
    callmetrics_async(&[
        "check",
        "--expected",
        expected,
        "--backend",
        "promql",
        "--observed",
        base,
        "--grain",
        "PT1M,PT5M",
    ])
    .await
}

async fn run(args: Vec<String>) -> common::Run {
    callmetrics_async(&args).await
}

fn args(scenario: &str, write: &str, expected: &Path, extra: &[&str]) -> Vec<String> {
    let mut all = vec![
        "run",
        scenario,
        "--target",
        "remote-write",
        "--sink",
        write,
        "--quiet",
        "--expected-out",
        expected.to_str().unwrap(),
    ];
    all.extend_from_slice(extra);
    all.into_iter().map(String::from).collect()
}

async fn end_to_end(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start_store(store, dir.path(), None, free_port()).await;
    let expected = dir.path().join("expected.json");
    let write = store.write_url(&base);
    run(args(
        "scenarios/contact-center.json",
        &write,
        &expected,
        &["--calls", "1500", "--max-rate"],
    ))
    .await
    .expect_code(0);
    store.flush(&base).await;
    let check = check(&expected, &base).await.expect_code(0);
    assert!(
        check.stdout.starts_with("PASS")
            && check
                .stdout
                .contains("ApiRequestLatency: count, total only"),
        "{}",
        check.describe()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_written_to_prometheus_checks_exactly_per_bucket() {
    let test = "a_scenario_written_to_prometheus_checks_exactly_per_bucket";
    if require(test, &[Store::Prometheus.program()]) {
        end_to_end(Store::Prometheus).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_written_to_victoria_metrics_checks_exactly_per_bucket() {
    let test = "a_scenario_written_to_victoria_metrics_checks_exactly_per_bucket";
    if require(test, &[Store::VictoriaMetrics.program()]) {
        end_to_end(Store::VictoriaMetrics).await;
    }
}

/// A paced run of a few seconds; the server is stopped (SIGTERM) once the
/// run has delivered, and started again on the same port and data once the
/// run has retried (both seen on the run's `--control` status, not timed).
async fn restarted_mid_run(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (server, base) = start_store(store, dir.path(), None, port).await;
    let expected = dir.path().join("expected.json");
    let summary = dir.path().join("summary.json");
    let write = store.write_url(&base);
    let args = args(
        "scenarios/outbound-notification.json",
        &write,
        &expected,
        &[
            "--calls",
            "600",
            "--rate",
            "100/s",
            "--speed",
            "10",
            "--sample-interval",
            "5s",
            "--summary-out",
            summary.to_str().unwrap(),
        ],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (run, _server) = run_through_an_outage(
        &args,
        async { server.terminate() },
        start_store(store, dir.path(), None, port),
    )
    .await;
    run.expect_code(0);
    let summary: serde_json::Value = serde_json::from_str(&common::read(&summary)).unwrap();
    assert!(
        summary["retries"].as_u64().unwrap() > 0,
        "the restart did not fall inside the run: {summary}"
    );
    assert!(
        summary["replies"]["connect error"].as_u64().unwrap() > 0,
        "{summary}"
    );
    store.flush(&base).await;
    let check = check(&expected, &base).await.expect_code(0);
    assert!(check.stdout.starts_with("PASS"), "{}", check.describe());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_restarted_mid_run_loses_nothing() {
    let test = "prometheus_restarted_mid_run_loses_nothing";
    if require(test, &[Store::Prometheus.program()]) {
        restarted_mid_run(Store::Prometheus).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoria_metrics_restarted_mid_run_loses_nothing() {
    let test = "victoria_metrics_restarted_mid_run_loses_nothing";
    if require(test, &[Store::VictoriaMetrics.program()]) {
        restarted_mid_run(Store::VictoriaMetrics).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_exits_2_with_the_server_message_and_the_first_sample() {
    let test = "a_refused_write_exits_2_with_the_server_message_and_the_first_sample";
    if !require(test, &[Store::Prometheus.program()]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start_store(Store::Prometheus, dir.path(), None, free_port()).await;
    let write = store_write(&base);
    let expected = dir.path().join("expected.json");
    // The first run writes its counters minutes into the future (its
    // schedule at the maximum rate); a second run starting now writes the
    // same series at earlier times, which Prometheus refuses (400).
    let first = ["--calls", "200", "--max-rate", "--seed", "1"];
    run(args(
        "scenarios/outbound-notification.json",
        &write,
        &expected,
        &first,
    ))
    .await
    .expect_code(0);
    let second = run(args(
        "scenarios/outbound-notification.json",
        &write,
        &expected,
        &[
            "--calls",
            "200",
            "--max-rate",
            "--seed",
            "2",
            "--retries",
            "8",
        ],
    ))
    .await
    .expect_code(2);
    assert!(
        second.stderr.contains("HTTP 400")
            && second.stderr.contains("out of order")
            && second
                .stderr
                .contains("the request's first item: acs_callautomation_")
            && second.stderr.contains("could not be delivered"),
        "{}",
        second.describe()
    );
    // 400 is never retried, whatever --retries says.
    assert!(
        second.stderr.contains("1 attempt)"),
        "{}",
        second.describe()
    );
}

fn store_write(base: &str) -> String {
    Store::Prometheus.write_url(base)
}

/// Data written three hours ago (`--start` in the past) and checked now:
/// every sample is far past the 5-minute lookback of an instant query at
/// "now", yet both the per-bucket check and `--totals` read it exactly
/// (an instant query at now found all 380 series absent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_written_hours_ago_checks_exactly_with_totals_too() {
    let test = "data_written_hours_ago_checks_exactly_with_totals_too";
    if !require(test, &[Store::Prometheus.program()]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.json");
    let (_server, base) = written_hours_ago(
        Store::Prometheus,
        "scenarios/contact-center.json",
        3,
        &expected,
    )
    .await;
    check(&expected, &base).await.expect_code(0);
    let totals = callmetrics_async(&[
        "check",
        "--expected",
        expected.to_str().unwrap(),
        "--backend",
        "promql",
        "--observed",
        &base,
        "--totals",
    ])
    .await
    .expect_code(0);
    assert!(
        totals.stdout.starts_with("PASS") && totals.stdout.contains("totals over the whole window"),
        "{}",
        totals.describe()
    );
    // A selector that matches nothing leaves every expected series missing.
    let none = callmetrics_async(&[
        "check",
        "--expected",
        expected.to_str().unwrap(),
        "--backend",
        "promql",
        "--observed",
        &base,
        "--totals",
        "--match",
        "{job=\"another-app\"}",
        "--format",
        "json",
    ])
    .await
    .expect_code(1);
    let report: serde_json::Value = serde_json::from_str(&none.stdout).unwrap();
    let summary = &report["summary"];
    assert_eq!(summary["unexpectedCells"], 0, "{}", none.stdout);
    assert_eq!(summary["missingCells"], summary["cells"], "{}", none.stdout);
}

/// Remote write 1.0 retries every 5xx, 501 included (Prometheus' own
/// sender does too); a receiver answering 501 once then 204 gets the
/// request again and the run ends delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_501_is_retried_like_any_5xx() {
    let (fake, base) = common::fake::FakeReceiver::start(&[501, 204]).await;
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.json");
    let summary = dir.path().join("summary.json");
    let write = format!("{base}/api/v1/write");
    let run = run(args(
        "scenarios/outbound-notification.json",
        &write,
        &expected,
        &[
            "--calls",
            "20",
            "--max-rate",
            "--start",
            "2026-01-01T00:00:00Z",
            "--summary-out",
            summary.to_str().unwrap(),
        ],
    ))
    .await;
    let summary: serde_json::Value = serde_json::from_str(&common::read(&summary)).unwrap();
    let run = run.expect_code(0);
    assert_eq!(summary["retries"], 1, "{summary}\n{}", run.describe());
    assert_eq!(summary["replies"]["501"], 1, "{summary}");
    assert_eq!(summary["failedRequests"], 0, "{summary}");
    let received = fake.received();
    // The retry is the same request again.
    assert!(received.len() >= 2 && received[0].body == received[1].body);
}

/// The reachability probe before a run must not look like a write:
/// VictoriaMetrics logged "cannot decompress request with length 0:
/// snappy: corrupt input" for the empty `GET` of its write URL on every run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_leaves_no_ingest_error_in_victoria_metrics_log() {
    let test = "the_probe_leaves_no_ingest_error_in_victoria_metrics_log";
    if !require(test, &[Store::VictoriaMetrics.program()]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("victoria-metrics.log");
    let (_server, base) = common::servers::start_store_logged(
        Store::VictoriaMetrics,
        dir.path(),
        None,
        free_port(),
        Some(&log),
    )
    .await;
    let expected = dir.path().join("expected.json");
    run(args(
        "scenarios/outbound-notification.json",
        &Store::VictoriaMetrics.write_url(&base),
        &expected,
        &["--calls", "50", "--max-rate"],
    ))
    .await
    .expect_code(0);
    Store::VictoriaMetrics.flush(&base).await;
    let logged = common::read(&log);
    // The log is the server's: it said something, so it was captured.
    assert!(logged.contains("started VictoriaMetrics"), "{logged}");
    let errors: Vec<&str> = logged
        .lines()
        .filter(|l| l.contains("cannot decompress") || l.contains("\terror\t"))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// A run ends every series with a stale marker one sample interval after
/// its last sample (remote write 1.0 requires it of a load tester): in a
/// real Prometheus every series answers an instant query just before that
/// instant and none just after, where without markers the last values
/// would stand for the 5-minute lookback. The check still reads every
/// bucket exactly: the marker ends a series, it does not make it missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_end_with_stale_markers_that_prometheus_honours() {
    let test = "series_end_with_stale_markers_that_prometheus_honours";
    if !require(test, &[Store::Prometheus.program()]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.json");
    let (_server, base) = written_hours_ago(
        Store::Prometheus,
        "scenarios/outbound-notification.json",
        2,
        &expected,
    )
    .await;
    let check = check(&expected, &base).await.expect_code(0);
    assert!(check.stdout.starts_with("PASS"), "{}", check.describe());

    // The last sample instant, read raw (stale markers are not listed).
    let all = r#"{__name__=~"acs_callautomation_.+"}"#;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let raw = instant_query(&base, &format!("{all}[3h]"), now).await;
    let last_ms = raw
        .iter()
        .flat_map(|s| s["values"].as_array().unwrap())
        .map(|v| (v[0].as_f64().unwrap() * 1000.0).round() as i64)
        .max()
        .expect("samples were written");
    assert_eq!(last_ms % 60_000, 0, "the last sample closes a bucket");
    let before = instant_query(&base, all, last_ms + 14_000).await;
    assert_eq!(before.len(), raw.len(), "every series is live before");
    let after = instant_query(&base, all, last_ms + 16_000).await;
    assert!(
        after.is_empty(),
        "{} of {} series still answer after their stale marker",
        after.len(),
        raw.len()
    );
}

/// A `--max-rate` run whose schedule ends minutes from now writes its
/// timestamps that far ahead of the clock, which Mimir (10-minute grace)
/// refuses: `run` says so before it starts, with a `--start` in the past
/// that writes the same schedule where it has already happened (and says
/// nothing then). InfluxDB's target too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_far_ahead_of_the_clock_is_said_before_the_run() {
    let (_fake, base) = common::fake::FakeReceiver::start(&[204]).await;
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.json");
    let runs = [
        ("remote-write", format!("{base}/api/v1/write")),
        ("influx", format!("{base}/write?db=cm")),
    ];
    for (target, sink) in runs {
        let mut ahead = args(
            "scenarios/outbound-notification.json",
            &sink,
            &expected,
            &["--calls", "400", "--rate", "1/s", "--max-rate"],
        );
        ahead.retain(|a| a != "--quiet");
        ahead[3] = target.to_string();
        let said = run(ahead.clone()).await.expect_code(0);
        let line = said
            .stderr
            .lines()
            .find(|l| l.starts_with("warning: this run writes timestamps up to "))
            .unwrap_or_else(|| panic!("no warning\n{}", said.describe()));
        assert!(
            line.contains("ahead of the clock") && line.contains("Mimir"),
            "{line}"
        );
        // 400 calls a second apart: more than 6 minutes ahead.
        let minutes: u64 = line["warning: this run writes timestamps up to ".len()..]
            .split('m')
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("{line}"));
        assert!((6..60).contains(&minutes), "{line}");
        let start = line
            .split("--start ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap_or_else(|| panic!("no --start in {line}"));
        ahead.extend(["--start".to_string(), start.to_string()]);
        let quiet = run(ahead).await.expect_code(0);
        assert!(
            !quiet.stderr.contains("ahead of the clock"),
            "{}",
            quiet.describe()
        );
    }
}

/// Requests in flight together reorder a series' samples (real Prometheus
/// answered `--concurrency 4` with 400 "out of order sample"): `run`
/// refuses it before sending anything, saying why and what to use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_above_one_is_refused_before_anything_is_written() {
    let test = "concurrency_above_one_is_refused_before_anything_is_written";
    if !require(test, &[Store::Prometheus.program()]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start_store(Store::Prometheus, dir.path(), None, free_port()).await;
    let expected = dir.path().join("expected.json");
    let refused = run(args(
        "scenarios/contact-center.json",
        &Store::Prometheus.write_url(&base),
        &expected,
        &["--calls", "1500", "--max-rate", "--concurrency", "4"],
    ))
    .await
    .expect_code(2);
    assert!(
        refused
            .stderr
            .contains("--concurrency 4 with --target remote-write: remote write 1.0 requires")
            && refused.stderr.contains("use --concurrency 1"),
        "{}",
        refused.describe()
    );
    let in_an_hour = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 3_600_000;
    let all = r#"{__name__=~"acs_callautomation_.+"}[2h]"#;
    let written = instant_query(&base, all, in_an_hour).await;
    assert!(written.is_empty(), "{written:?}");
    assert!(
        !expected.exists(),
        "nothing was delivered, so nothing is expected"
    );
}

/// A run stopped by Ctrl-C ends its series with stale markers too (remote
/// write 1.0 requires them however a sender's series stop): in a real
/// Prometheus no series answers just after the last sample instant, where
/// before, a Ctrl-C'd run's last values stood for the 5-minute lookback;
/// the summary says what it sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_by_ctrl_c_ends_its_series_with_stale_markers() {
    let test = "a_run_stopped_by_ctrl_c_ends_its_series_with_stale_markers";
    if !require(test, &[Store::Prometheus.program()]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start_store(Store::Prometheus, dir.path(), None, free_port()).await;
    let summary_out = dir.path().join("summary.json");
    // Two hours back, a schedule of a minute at x60 (the scenario starts
    // its calls fast), all behind the clock; stopped long before its end.
    let (now, start) = minute_hours_ago(2);
    let all = r#"{__name__=~"acs_callautomation_.+"}"#;
    let args = [
        "run",
        "scenarios/outbound-notification.json",
        "--target",
        "remote-write",
        "--sink",
        &store_write(&base),
        "--calls",
        "100000",
        "--start",
        &start,
        "--speed",
        "60",
        "--summary-out",
        summary_out.to_str().unwrap(),
    ]
    .map(String::from);
    let running = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Running::start(&args)
    })
    .await
    .unwrap();
    // Stopped once Prometheus holds samples of it.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now_ms = now as i64 * 1000 + 3_600_000;
        if !instant_query(&base, &format!("{all}[3h]"), now_ms)
            .await
            .is_empty()
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing written in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    running.interrupt();
    let (run, _) = tokio::task::spawn_blocking(move || running.finish(Duration::from_secs(20)))
        .await
        .unwrap();
    let run = run.expect_code(2);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary_out).unwrap()).unwrap();
    assert_eq!(summary["interrupted"], true, "{summary}");
    assert_eq!(summary["ending"]["delivered"], true, "{summary}");
    assert!(
        run.stderr.contains("ended with  stale markers for"),
        "{}",
        run.describe()
    );

    let later = now as i64 * 1000 + 3_600_000;
    let raw = instant_query(&base, &format!("{all}[3h]"), later).await;
    let last_ms = raw
        .iter()
        .flat_map(|s| s["values"].as_array().unwrap())
        .map(|v| (v[0].as_f64().unwrap() * 1000.0).round() as i64)
        .max()
        .expect("samples were written");
    let before = instant_query(&base, all, last_ms + 14_000).await;
    assert!(!before.is_empty(), "series are live before the markers");
    let after = instant_query(&base, all, last_ms + 16_000).await;
    assert!(
        after.is_empty(),
        "{} of {} series still answer after the Ctrl-C'd run's end",
        after.len(),
        raw.len()
    );
}
