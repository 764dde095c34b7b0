//! Peers that answer with too much or with the wrong bytes (issue #18, part
//! 2): an app streaming an endless body cannot take `run`'s memory, and a
//! server's words reach the terminal with their control characters escaped
//! (`run`'s failures, `check`'s backend errors, the sink's stderr). Fake
//! servers on 127.0.0.1:0; every run bounded in requests and time.

use crate::common;

use crate::common::fake_app::{answer, serve};
use crate::common::{SinkProcess, callmetrics, callmetrics_async};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Frame};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// What clears a terminal and prints a green PASS.
const HOSTILE: &str = "\x1b[2J\x1b[32mPASS";
/// How it must reach the terminal.
const ESCAPED: &str = "\\u{1b}[2J\\u{1b}[32mPASS";

/// A body of `left` bytes made as it is sent (chunked), counting what the
/// server produced into `sent`, so the test itself stays small.
struct Endless {
    left: u64,
    sent: Arc<AtomicU64>,
}

static CHUNK: [u8; 64 << 10] = [b'x'; 64 << 10];

impl Body for Endless {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(CHUNK.len() as u64);
        self.left -= n;
        self.sent.fetch_add(n, Relaxed);
        Poll::Ready(Some(Ok(Frame::data(
            Bytes::from_static(&CHUNK).slice(..n as usize),
        ))))
    }
}

/// The high-water mark of `pid`'s resident memory, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

// Issue #18, item 2a: a 200 with a 1 GiB chunked body took `run` to 1.2
// GiB, as every reply was read whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_reply_body_cannot_take_the_runs_memory() {
    const BODY: u64 = 256 << 20;
    const PEAK_MAX_KIB: u64 = 96 << 10;
    let sent = Arc::new(AtomicU64::new(0));
    let addr = serve({
        let sent = sent.clone();
        move |_: &http::request::Parts| {
            let body = Endless {
                left: BODY,
                sent: sent.clone(),
            };
            http::Response::builder()
                .status(200)
                .body(body.boxed())
                .unwrap()
        }
    })
    .await;
    let url = format!("http://{addr}/api/callbacks");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_callmetrics"))
        .args([
            "run",
            "tests/fixtures/tiny.json",
            "--target",
            "webhook",
            "--sink",
            &url,
            "--calls",
            "2",
            "--max-rate",
            "--concurrency",
            "2",
            "--quiet",
        ])
        .current_dir(common::repo())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let started = Instant::now();
    // VmHWM only grows, so the last reading before the exit is the peak
    // within one poll; a run past the limit is stopped at once.
    let (mut peak, mut status) = (0, None);
    while started.elapsed() < Duration::from_secs(60) {
        peak = peak.max(peak_rss_kib(pid).unwrap_or(0));
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        if peak > PEAK_MAX_KIB {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    if status.is_none() {
        let _ = child.kill();
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        peak <= PEAK_MAX_KIB,
        "run's memory peaked at {peak} KiB reading replies of {BODY} bytes; {stderr}"
    );
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{stderr}");
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}: {stderr}");
    // About 10 replies together, less than half of one: each was cut off
    // (what the sockets buffered), not streamed to its end.
    let sent = sent.load(Relaxed);
    assert!(
        sent < BODY / 2,
        "the app streamed {sent} bytes: the replies were read to their end"
    );
}

/// `run --target webhook` into an app answering 500 with `body`.
async fn run_refused_with(content_type: &'static str, body: String) -> common::Run {
    let addr = serve(move |_: &http::request::Parts| answer(500, content_type, &body)).await;
    callmetrics_async(&[
        "run",
        "tests/fixtures/tiny.json",
        "--target",
        "webhook",
        "--sink",
        &format!("http://{addr}/api/callbacks"),
        "--calls",
        "1",
        "--max-rate",
    ])
    .await
}

fn assert_escaped(run: &common::Run) {
    assert!(
        !run.stderr.contains('\x1b') && !run.stdout.contains('\x1b'),
        "a raw ESC reached the terminal\n{}",
        run.describe()
    );
    assert!(run.stderr.contains(ESCAPED), "{}", run.describe());
}

// Issue #18, item 2b: an app's error body cleared the screen and printed a
// green PASS through run's failure reasons.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apps_error_body_reaches_the_terminal_escaped() {
    let run = run_refused_with("text/plain", HOSTILE.to_string())
        .await
        .expect_code(2);
    assert_escaped(&run);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("failed request") && l.ends_with(ESCAPED)),
        "the summary's failure lines quote the app\n{}",
        run.describe()
    );
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("callmetrics: error:") && l.contains(ESCAPED)),
        "{}",
        run.describe()
    );
    // The Azure error shape's message, decoded from JSON escapes.
    let json = serde_json::json!({"error": {"code": "Teapot", "message": HOSTILE}});
    let run = run_refused_with("application/json", json.to_string())
        .await
        .expect_code(2);
    assert_escaped(&run);
}

/// An expected file of a few calls, in `dir`.
fn expected_file(dir: &std::path::Path) -> String {
    callmetrics(&[
        "generate",
        "tests/fixtures/tiny.json",
        "--calls",
        "3",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
    ])
    .expect_code(0);
    dir.join("expected.json").to_str().unwrap().to_string()
}

// Issue #18, item 2b: check quotes its backend's errors (the sink's Azure
// error shape or the start of a body, a Prometheus `error`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backends_error_reaches_the_terminal_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let expected = expected_file(dir.path());
    let prometheus =
        serde_json::json!({"status": "error", "errorType": "bad_data", "error": HOSTILE});
    let cases = [
        ("azure", answer(400, "text/plain", HOSTILE)),
        (
            "azure",
            answer(
                400,
                "application/json",
                &serde_json::json!({"error": {"code": HOSTILE, "message": HOSTILE}}).to_string(),
            ),
        ),
        (
            "promql",
            answer(400, "application/json", &prometheus.to_string()),
        ),
    ];
    for (backend, reply) in cases {
        let (parts, body) = reply.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        let addr = serve(move |_: &http::request::Parts| {
            http::Response::from_parts(parts.clone(), Full::new(body.clone()).boxed())
        })
        .await;
        let run = callmetrics_async(&[
            "check",
            "--expected",
            &expected,
            "--backend",
            backend,
            "--observed",
            &format!("http://{addr}"),
        ])
        .await
        .expect_code(2);
        assert_escaped(&run);
    }
}

// Issue #18, item 2b: the sink quotes what a client sent only in its JSON
// answers (where JSON escapes it) and never on its own stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_never_prints_a_clients_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sink.log");
    let mut sink = SinkProcess::start_logged(&["--listen", "127.0.0.1:0"], &log);
    let client = common::http();
    let line =
        serde_json::json!({"metric": HOSTILE, "time": HOSTILE, "dimensions": {HOSTILE: HOSTILE}});
    let refused = client
        .post(format!("{}/ingest", sink.url))
        .header("content-type", "application/x-ndjson")
        .header("idempotency-key", HOSTILE.replace('\x1b', ""))
        .body(format!("{line}\n{HOSTILE}\n"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    assert!(refused.status().is_client_error(), "{}", refused.status());
    let body = refused.bytes().await.unwrap();
    assert!(!body.contains(&0x1b), "{body:?}");
    sink.kill();
    let said = common::read(&log);
    assert!(!said.contains('\x1b'), "{said:?}");
}
