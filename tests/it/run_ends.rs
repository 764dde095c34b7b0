//! Issue #18, part 1: every `run` ends, with its summary and files. Each
//! case runs the real binary under a deadline (a hang is killed and
//! reported, never waited out): requests that exhaust their retries against
//! a receiver refusing everything, for every target, paced and at the
//! maximum rate; a hostile connection held on the OpenID server; Ctrl-C
//! (SIGINT) in the schedule's pre-pass, during delivery and during the
//! final check; and `--speed` out of range.

use crate::common;

use crate::common::SinkProcess;
use crate::common::running::Running;
use axum::http::{HeaderValue, StatusCode};
use axum::response::IntoResponse;
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A receiver that refuses every request with 503 (after `Retry-After`
/// seconds, when given), remembering when the first POST came.
struct Refusing {
    url: String,
    first: Arc<Mutex<Option<Instant>>>,
}

impl Refusing {
    async fn start(retry_after: Option<u64>) -> Refusing {
        let first = Arc::new(Mutex::new(None));
        let seen = Arc::clone(&first);
        let app = axum::Router::new().fallback(move |method: axum::http::Method| {
            let seen = Arc::clone(&seen);
            async move {
                if method == axum::http::Method::POST {
                    seen.lock().unwrap().get_or_insert_with(Instant::now);
                }
                let mut answer = StatusCode::SERVICE_UNAVAILABLE.into_response();
                if let Some(secs) = retry_after {
                    answer
                        .headers_mut()
                        .insert("retry-after", HeaderValue::from(secs));
                }
                answer
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Refusing { url, first }
    }

    fn first_request(&self) -> Option<Instant> {
        *self.first.lock().unwrap()
    }
}

/// Events an expected.json counts (latency points aside).
fn expected_events(path: &Path) -> u64 {
    let expected: Value = serde_json::from_str(&common::read(path)).unwrap();
    expected["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["name"]["value"] != "ApiRequestLatency")
        .flat_map(|m| m["timeseries"].as_array().unwrap())
        .flat_map(|t| t["data"].as_array().unwrap())
        .map(|p| p["count"].as_u64().unwrap_or(0))
        .sum()
}

fn summary(path: &Path) -> Value {
    serde_json::from_str(&common::read(path)).unwrap()
}

/// `--retries` of the refused runs, and the longest their back-off can
/// take: full jitter under ceilings of 100 ms, 200 ms, ... (client::retry).
const RETRIES: &str = "2";
const RETRY_BUDGET: Duration = Duration::from_millis(100 + 200);

/// A run of `target` into a receiver that refuses everything ends in exit 2
/// within the retry budget (of the last request in flight when the first
/// failed: twice the budget) plus a second of the first request, prints
/// its summary, and writes files that say nothing was delivered.
async fn refused_run_ends(target: &str, paced: bool) {
    let receiver = Refusing::start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.json");
    let summary_out = dir.path().join("summary.json");
    let sink = match target {
        "remote-write" => format!("{}/api/v1/write", receiver.url),
        "influx" => format!("{}/write?db=callmetrics", receiver.url),
        "webhook" => format!("{}/api/callbacks", receiver.url),
        "azure-monitor" => format!("{}/metrics", receiver.url),
        _ => receiver.url.clone(),
    };
    // Enough small requests to fill every queue between the generator and
    // the workers many times over (the hang needed a full queue).
    // Counter targets cut a request per 5000 samples: contact-center's
    // many series over an hour of event time make 20 (influx) to 280.
    let counters = matches!(target, "remote-write" | "influx");
    let mut args: Vec<String> = [
        "run",
        if counters {
            "scenarios/contact-center.json"
        } else {
            "tests/fixtures/tiny.json"
        },
        "--target",
        target,
        "--sink",
        &sink,
        "--calls",
        match target {
            "webhook" => "40",
            "ingest" => "400",
            _ => "4000",
        },
        "--rate",
        if counters { "1/s" } else { "100/s" },
        "--retries",
        RETRIES,
        "--sample-interval",
        "1s",
        "--expected-out",
        expected.to_str().unwrap(),
        "--summary-out",
        summary_out.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    if target == "ingest" {
        args.extend(["--batch-size", "5"].map(String::from));
    }
    if paced {
        args.extend(["--speed", "20"].map(String::from));
    } else {
        args.push("--max-rate".into());
    }
    let (run, exited) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Running::start(&args).finish(Duration::from_secs(40))
    })
    .await
    .unwrap();
    let run = run.expect_code(2);
    let first = receiver
        .first_request()
        .unwrap_or_else(|| panic!("no request reached the receiver\n{}", run.describe()));
    // A webhook run does not stop at a failure: it tries every callback of
    // its schedule (40 calls at 100/s, each about 6 s long: 0.3 s at x20).
    let allowed = if target == "webhook" && paced {
        2 * RETRY_BUDGET + Duration::from_millis(300) + Duration::from_secs(1)
    } else {
        2 * RETRY_BUDGET + Duration::from_secs(1)
    };
    let took = exited - first;
    assert!(
        took < allowed,
        "ended {took:?} after its first request (allowed {allowed:?})\n{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("replayed ") && run.stderr.contains("could not be delivered"),
        "{}",
        run.describe()
    );
    let summary = summary(&summary_out);
    assert_eq!(summary["events"], 0, "{summary}");
    assert!(summary["failedRequests"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(expected_events(&expected), 0);
}

// Issue #18, item 1: workers stopped at the failure while the pacer waited
// for room in a queue whose receiver the driver itself kept: never exited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_ingest_paced_ends() {
    refused_run_ends("ingest", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_ingest_at_max_rate_ends() {
    refused_run_ends("ingest", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_remote_write_paced_ends() {
    refused_run_ends("remote-write", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_remote_write_at_max_rate_ends() {
    refused_run_ends("remote-write", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_influx_paced_ends() {
    refused_run_ends("influx", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_influx_at_max_rate_ends() {
    refused_run_ends("influx", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_webhook_paced_ends() {
    refused_run_ends("webhook", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_webhook_at_max_rate_ends() {
    refused_run_ends("webhook", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_azure_monitor_paced_ends() {
    refused_run_ends("azure-monitor", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_azure_monitor_at_max_rate_ends() {
    refused_run_ends("azure-monitor", false).await;
}

// Issue #18, item 2: half a request line held open on --oidc-listen kept a
// signed run from ending (no header deadline, a shutdown that waited for
// every connection).
#[test]
fn a_connection_held_open_on_the_oidc_server_does_not_hold_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.json");
    let summary_out = dir.path().join("summary.json");
    let mut run = Running::start(&[
        "run",
        "tests/fixtures/tiny.json",
        "--target",
        "webhook",
        "--sign",
        "--acs-resource-id",
        "1b6f2c7a-2a54-4b7e-9f3c-0f1e2d3c4b5a",
        "--calls",
        "40",
        "--rate",
        "100/s",
        "--speed",
        "10",
        "--expected-out",
        expected.to_str().unwrap(),
        "--summary-out",
        summary_out.to_str().unwrap(),
    ]);
    let (_, line) = run.wait_for_line("OpenID configuration: http://", Duration::from_secs(20));
    let url = line.rsplit(' ').next().unwrap();
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let mut hostile = std::net::TcpStream::connect(&addr).unwrap();
    hostile
        .write_all(b"GET /calling/.well-known/acsopen")
        .unwrap();
    let (delivered, _) = run.wait_for_line("replayed ", Duration::from_secs(30));
    let (run, exited) = run.finish(Duration::from_secs(30));
    drop(hostile);
    let run = run.expect_code(0);
    // The OpenID server's shutdown waits a second at most; the check of the
    // embedded sink takes a moment more. The header deadline (10 s) must
    // not be what ends it.
    let took = exited - delivered;
    assert!(
        took < Duration::from_secs(4),
        "ended {took:?} after the summary\n{}",
        run.describe()
    );
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());
    let events = summary(&summary_out)["events"].as_u64().unwrap();
    assert!(events > 0);
    assert_eq!(expected_events(&expected), events);
}

// Issue #18, item 3: a Ctrl-C during the schedule's pre-pass printed
// "stopping", then the driver reset a process-wide flag and the run
// started anyway.
#[test]
fn ctrl_c_in_the_pre_pass_ends_the_run_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.json");
    let summary_out = dir.path().join("summary.json");
    // A million calls: the pre-pass that sizes the schedule takes seconds.
    let mut run = Running::start(&[
        "run",
        "tests/fixtures/tiny.json",
        "--calls",
        "1000000",
        "--rate",
        "1000/s",
        "--expected-out",
        expected.to_str().unwrap(),
        "--summary-out",
        summary_out.to_str().unwrap(),
    ]);
    run.wait_for_line("sizing the schedule", Duration::from_secs(30));
    let interrupted = Instant::now();
    run.interrupt();
    let (run, exited) = run.finish(Duration::from_secs(20));
    let run = run.expect_code(2);
    assert!(
        exited - interrupted < Duration::from_secs(10),
        "{:?}\n{}",
        exited - interrupted,
        run.describe()
    );
    // Stopped in the pre-pass: no schedule announced, nothing sent.
    assert!(
        run.stderr.contains("stopping") && !run.stderr.contains("schedule: "),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr
            .contains("interrupted: 0 events in 0 requests were delivered"),
        "{}",
        run.describe()
    );
    let summary = summary(&summary_out);
    assert_eq!(
        (summary["interrupted"].as_bool(), summary["events"].as_u64()),
        (Some(true), Some(0))
    );
    assert_eq!(expected_events(&expected), 0);
}

// Issue #18, item 3: a Ctrl-C while a request waited out a receiver's
// Retry-After kept the run going for every retry's wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_delivery_ends_the_back_off() {
    let receiver = Refusing::start(Some(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.json");
    let summary_out = dir.path().join("summary.json");
    let args = [
        "run",
        "tests/fixtures/tiny.json",
        "--sink",
        &receiver.url,
        "--calls",
        "200",
        "--max-rate",
        "--expected-out",
        expected.to_str().unwrap(),
        "--summary-out",
        summary_out.to_str().unwrap(),
    ]
    .map(String::from);
    let first = Arc::clone(&receiver.first);
    let (run, interrupted, exited) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = Running::start(&args);
        let deadline = Instant::now() + Duration::from_secs(20);
        while first.lock().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Every worker is now waiting out its 30 s.
        std::thread::sleep(Duration::from_millis(500));
        let interrupted = Instant::now();
        run.interrupt();
        let (run, exited) = run.finish(Duration::from_secs(20));
        (run, interrupted, exited)
    })
    .await
    .unwrap();
    let run = run.expect_code(2);
    assert!(
        exited - interrupted < Duration::from_secs(10),
        "{:?}\n{}",
        exited - interrupted,
        run.describe()
    );
    assert!(
        run.stderr.contains("stopped   by Ctrl-C")
            && run
                .stderr
                .contains("interrupted: 0 events in 0 requests were delivered"),
        "{}",
        run.describe()
    );
    let summary = summary(&summary_out);
    assert_eq!(summary["interrupted"], true, "{summary}");
    assert_eq!(expected_events(&expected), 0);
}

// Issue #18, item 3: a Ctrl-C during the final check (here one that
// waits for a backend that never gets the data) was ignored until the
// check gave up.
#[test]
fn ctrl_c_during_the_check_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.json");
    let written = SinkProcess::start(&["--listen", "127.0.0.1:0"]);
    let empty = SinkProcess::start(&["--listen", "127.0.0.1:0"]);
    let mut run = Running::start(&[
        "run",
        "tests/fixtures/tiny.json",
        "--sink",
        &written.url,
        "--check",
        "--observed",
        &empty.url,
        "--wait",
        "2m",
        "--calls",
        "50",
        "--max-rate",
        "--expected-out",
        expected.to_str().unwrap(),
    ]);
    // The check's first attempt failed and it waits to check again.
    run.wait_for_line("checking again in", Duration::from_secs(60));
    let interrupted = Instant::now();
    run.interrupt();
    let (run, exited) = run.finish(Duration::from_secs(20));
    let run = run.expect_code(2);
    assert!(
        exited - interrupted < Duration::from_secs(10),
        "{:?}\n{}",
        exited - interrupted,
        run.describe()
    );
    assert!(
        run.stderr.contains("stopping") && run.stderr.contains("interrupted during the check"),
        "{}",
        run.describe()
    );
    assert!(expected_events(&expected) > 0);
}

// Issue #18, item 4: --speed 1e-300 panicked converting the schedule to a
// Duration; 1e-12 announced a schedule of a million years.
#[test]
fn speed_out_of_range_is_a_usage_error_naming_the_range() {
    for speed in [
        "1e-300", "1e-12", "0.0009", "2000000", "0", "-1", "NaN", "inf",
    ] {
        let speed = format!("--speed={speed}");
        let run = Running::start(&["run", "tests/fixtures/tiny.json", "--calls", "1", &speed]);
        let (run, _) = run.finish(Duration::from_secs(20));
        let run = run.expect_code(2);
        assert!(
            run.stderr.contains("--speed") && run.stderr.contains("between 0.001 and 1000000"),
            "{}",
            run.describe()
        );
    }
    // The bounds themselves are speeds (one call at 1/1000 speed lasts
    // hours: only its start matters).
    let mut slowest = Running::start(&[
        "run",
        "tests/fixtures/tiny.json",
        "--calls",
        "1",
        "--speed",
        "0.001",
    ]);
    slowest.wait_for_line("schedule: 1 calls", Duration::from_secs(20));
    slowest.finish(Duration::ZERO);
    let (fastest, _) = Running::start(&[
        "run",
        "tests/fixtures/tiny.json",
        "--calls",
        "1",
        "--quiet",
        "--speed",
        "1000000",
    ])
    .finish(Duration::from_secs(20));
    fastest.expect_code(0);
}
