//! Flags no other test passes on a command line (issue #20, item 6: 10 of
//! 57 never were), each passed to the real binary here with an assertion
//! that fails if the flag did nothing: `sink --max-body`, `--max-series`,
//! `--time-window`, `--max-idempotency-keys`, `--header-timeout`,
//! `--body-timeout`, `--max-connections`; `run --gzip`; `check
//! --tolerance`, `--max-mismatches`.

use crate::common;

use crate::common::{SinkProcess, callmetrics, callmetrics_async};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

const LINE: &str = r#"{"metric":"AcsCallAutomationCallbackEvent","time":"TIME","dimensions":{"EventTypeName":"Microsoft.Communication.PlayFailed","Code":"400","CodeClass":"4xx","SubCode":"SUB","Version":"2024-09-15"},"value":1}"#;

/// An ingest line of the callback metric at `time` with sub-code `sub`.
fn line(time: &str, sub: u32) -> String {
    LINE.replace("TIME", time).replace("SUB", &sub.to_string())
}

/// The current minute as RFC 3339, so samples fall in any time window.
fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_secs(secs / 60 * 60))
        .to_string()
}

/// POST /ingest: status and body.
async fn ingest(url: &str, body: String, key: Option<&str>) -> (u16, String) {
    let mut request = common::http()
        .post(format!("{url}/ingest"))
        .header("content-type", "application/x-ndjson")
        .body(body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let answer = request.send().await.unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

fn sink(flags: &[&str]) -> SinkProcess {
    let mut args = vec!["--listen", "127.0.0.1:0"];
    args.extend_from_slice(flags);
    SinkProcess::start(&args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_body_refuses_a_larger_body_with_413() {
    let sink = sink(&["--max-body", "300"]);
    let small = line(&now(), 1);
    assert!(small.len() < 300);
    assert_eq!(ingest(&sink.url, small.clone(), None).await.0, 200);
    let big = format!("{small}\n{small}\n");
    let (status, answer) = ingest(&sink.url, big, None).await;
    assert_eq!(status, 413, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_series_refuses_a_batch_past_it() {
    let sink = sink(&["--max-series", "2"]);
    let t = now();
    let two = format!("{}\n{}", line(&t, 1), line(&t, 2));
    assert_eq!(ingest(&sink.url, two, None).await.0, 200);
    let (status, answer) = ingest(&sink.url, line(&t, 3), None).await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer.contains("past --max-series 2"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_window_refuses_samples_outside_it() {
    let sink = sink(&["--time-window", "1day"]);
    assert_eq!(ingest(&sink.url, line(&now(), 1), None).await.0, 200);
    // Ten years back is inside the default window, not this one.
    let (status, answer) = ingest(&sink.url, line("2017-01-01T00:00:00Z", 1), None).await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer.contains("more than 1 days from now"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_idempotency_keys_forgets_the_oldest_keys() {
    let sink = sink(&["--max-idempotency-keys", "2"]);
    let t = now();
    for key in ["k1", "k2", "k3"] {
        let (status, answer) = ingest(&sink.url, line(&t, 1), Some(key)).await;
        assert_eq!(status, 200, "{answer}");
    }
    // k3 is remembered: a retry is a duplicate. k1 was forgotten (three
    // keys, room for two): the same batch counts again.
    let (_, answer) = ingest(&sink.url, line(&t, 1), Some("k3")).await;
    assert!(answer.contains("\"duplicate\":true"), "{answer}");
    let (_, answer) = ingest(&sink.url, line(&t, 1), Some("k1")).await;
    assert!(answer.contains("\"duplicate\":false"), "{answer}");
}

/// Reads what the server sends until it closes the connection; the text,
/// and whether it closed within 5 s (the defaults, 10 s for headers and
/// 30 s for a body, would not: the margin to the 300 ms asked for is wide
/// enough for any machine).
fn until_closed(stream: &mut TcpStream) -> (String, bool) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut out = Vec::new();
    let closed = stream.read_to_end(&mut out).is_ok();
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

#[test]
fn header_timeout_closes_a_connection_whose_headers_never_end() {
    let sink = sink(&["--header-timeout", "300ms"]);
    let mut stream = TcpStream::connect(sink.addr()).unwrap();
    stream
        .write_all(b"POST /ingest HTTP/1.1\r\nhost: x\r\n")
        .unwrap();
    let (answer, closed) = until_closed(&mut stream);
    assert!(closed, "still open after 5 s: {answer}");
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[test]
fn body_timeout_answers_408_to_a_body_that_never_comes() {
    let sink = sink(&["--body-timeout", "300ms"]);
    let mut stream = TcpStream::connect(sink.addr()).unwrap();
    stream
        .write_all(
            b"POST /ingest HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-ndjson\r\n\
              content-length: 1000\r\n\r\n{",
        )
        .unwrap();
    let (answer, _) = until_closed(&mut stream);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[test]
fn max_connections_makes_the_next_connection_wait_for_one_to_close() {
    let sink = sink(&["--max-connections", "1"]);
    let get = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n";
    let mut first = TcpStream::connect(sink.addr()).unwrap();
    first.write_all(get).unwrap();
    let mut answer = [0u8; 256];
    let n = first.read(&mut answer).unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"));
    // The one connection stays open (keep-alive): the second is not served.
    let mut second = TcpStream::connect(sink.addr()).unwrap();
    second.write_all(get).unwrap();
    second
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    assert!(
        second.read(&mut answer).is_err(),
        "served while the first connection was open"
    );
    drop(first);
    second
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let n = second.read(&mut answer).unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"));
}

#[test]
fn gzip_sends_compressed_bodies_the_sink_counts_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let run = callmetrics(&[
        "run",
        "tests/fixtures/tiny.json",
        "--calls",
        "300",
        "--max-rate",
        "--gzip",
        "--quiet",
        "--summary-out",
        summary.to_str().unwrap(),
    ])
    .expect_code(0);
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());
    let summary: serde_json::Value = serde_json::from_str(&common::read(&summary)).unwrap();
    let (sent, raw) = (
        summary["bytes"].as_u64().unwrap(),
        summary["rawBytes"].as_u64().unwrap(),
    );
    assert!(sent * 3 < raw, "gzip sent {sent} of {raw} bytes");
}

/// A sink holding a run of `tests/fixtures/tiny.json`, and the run's
/// expected file at `expected`.
async fn sink_with_a_run(expected: &Path) -> SinkProcess {
    let sink = sink(&[]);
    callmetrics_async(&[
        "run",
        "tests/fixtures/tiny.json",
        "--sink",
        &sink.url,
        "--calls",
        "300",
        "--max-rate",
        "--quiet",
        "--expected-out",
        expected.to_str().unwrap(),
    ])
    .await
    .expect_code(0);
    sink
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tolerance_passes_values_within_it_and_only_those() {
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.json");
    let sink = sink_with_a_run(&expected).await;
    // The callback metric's largest cell, one event more than observed.
    let mut doc: serde_json::Value = serde_json::from_str(&common::read(&expected)).unwrap();
    let callbacks = doc["value"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["name"]["value"] == "AcsCallAutomationCallbackEvent")
        .unwrap();
    let point = callbacks["timeseries"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .flat_map(|t| t["data"].as_array_mut().unwrap())
        .max_by_key(|p| p["count"].as_u64().unwrap())
        .unwrap();
    let count = point["count"].as_u64().unwrap();
    assert!(count >= 20, "{count}");
    point["count"] = (count + 1).into();
    point["total"] = (count + 1).into();
    std::fs::write(&expected, serde_json::to_string(&doc).unwrap()).unwrap();
    let expected = expected.to_str().unwrap();
    let check = |tolerance: Option<String>| {
        let mut args = vec![
            "check".to_string(),
            "--expected".into(),
            expected.into(),
            "--observed".into(),
            sink.url.clone(),
        ];
        if let Some(t) = tolerance {
            args.extend(["--tolerance".into(), t]);
        }
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            callmetrics_async(&args).await
        }
    };
    check(None).await.expect_code(1);
    // 1 of count+1 is within 2/count, not within half of 1/(count+1).
    let within = check(Some(format!("{}", 2.0 / count as f64))).await;
    let within = within.expect_code(0);
    assert!(within.stdout.contains("tolerance"), "{}", within.describe());
    check(Some(format!("{}", 0.5 / (count + 1) as f64)))
        .await
        .expect_code(1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_mismatches_shows_that_many_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.json");
    let sink = sink_with_a_run(&expected).await;
    // Another seed's workload: every series differs.
    let other = dir.path().join("other");
    callmetrics_async(&[
        "generate",
        "tests/fixtures/tiny.json",
        "--calls",
        "300",
        "--seed",
        "9",
        "--quiet",
        "--out",
        other.to_str().unwrap(),
    ])
    .await
    .expect_code(0);
    let other = other.join("expected.json");
    let run = callmetrics_async(&[
        "check",
        "--expected",
        other.to_str().unwrap(),
        "--observed",
        &sink.url,
        "--max-mismatches",
        "3",
    ])
    .await
    .expect_code(1);
    let shown = run.stdout.matches("\n    expected  ").count();
    assert_eq!(shown, 3, "{}", run.describe());
    let total: usize = run
        .stdout
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("FAIL  N mismatches");
    assert!(
        run.stdout
            .contains(&format!("...and {} more (use --max-mismatches", total - 3)),
        "{}",
        run.describe()
    );
}
