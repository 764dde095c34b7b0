//! `check` end to end, through the binary: a generated dataset ingested
//! into the real sink (`callmetrics sink` on port 0) passes; a tampered
//! expected.json fails with exit 1; a missing token, a dead sink, an
//! unknown grain or an expected file without series exit 2.

use crate::common;

use crate::common::{Run, SinkProcess, callmetrics, read};
use std::path::Path;

const TOKEN: &str = "s3cret";

/// Starts the sink on a free loopback port, with a token.
fn start_sink() -> SinkProcess {
    SinkProcess::start(&["--listen", "127.0.0.1:0", "--token", TOKEN])
}

/// Posts events.jsonl to the sink in batches of 1000 lines.
fn ingest(url: &str, events: &Path) {
    let text = read(events);
    let lines: Vec<&str> = text.lines().collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = common::http();
        for (i, batch) in lines.chunks(1000).enumerate() {
            let response = client
                .post(format!("{url}/ingest"))
                .bearer_auth(TOKEN)
                .header("content-type", "application/x-ndjson")
                .header("idempotency-key", format!("check-e2e-{i}"))
                .body(batch.join("\n") + "\n")
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body = response.text().await.unwrap();
            assert_eq!(status, 200, "ingest batch {i}: {body}");
        }
    });
}

fn generate(dir: &Path) {
    callmetrics(&[
        "generate",
        "tests/fixtures/tiny.json",
        "--calls",
        "300",
        "--seed",
        "7",
        "--out",
        dir.to_str().unwrap(),
        "--quiet",
    ])
    .expect_code(0);
}

fn check(expected: &Path, url: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "check",
        "--expected",
        expected.to_str().unwrap(),
        "--observed",
        url,
    ];
    args.extend_from_slice(extra);
    callmetrics(&args)
}

fn assert_contains(run: &Run, stream: &str, text: &str) {
    let haystack = if stream == "stdout" {
        &run.stdout
    } else {
        &run.stderr
    };
    assert!(
        haystack.contains(text),
        "{stream} lacks {text:?}\n{}",
        run.describe()
    );
}

#[test]
fn a_correct_sink_passes_and_a_tampered_expectation_fails() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let sink = start_sink();
    ingest(&sink.url, &dir.path().join("events.jsonl"));
    let expected = dir.path().join("expected.json");
    let url = sink.url.as_str();

    let pass = check(&expected, url, &["--token", TOKEN]).expect_code(0);
    assert!(pass.stdout.starts_with("PASS  "), "{}", pass.describe());
    check(
        &expected,
        url,
        &["--token", TOKEN, "--grain", "PT1M,PT5M,PT1H"],
    )
    .expect_code(0);
    let json = check(&expected, url, &["--token", TOKEN, "--format", "json"]).expect_code(0);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["schemaVersion"], 1);
    assert_eq!(report["result"], "pass");
    assert_eq!(report["summary"]["groups"], 19);
    let junit = check(&expected, url, &["--token", TOKEN, "--format", "junit"]).expect_code(0);
    assert_contains(&junit, "stdout", r#"tests="19" failures="0""#);

    // One expected count off by one: exit 1, and the table names it.
    let mut doc: serde_json::Value = serde_json::from_str(&read(&expected)).unwrap();
    let point = &mut doc["value"][0]["timeseries"][0]["data"][0];
    let count = point["count"].as_u64().unwrap();
    point["count"] = (count + 1).into();
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, serde_json::to_string(&doc).unwrap()).unwrap();
    let fail = check(&tampered, url, &["--token", TOKEN]).expect_code(1);
    assert!(fail.stdout.starts_with("FAIL  "), "{}", fail.describe());
    let line = fail
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("count "))
        .unwrap_or_else(|| panic!("no count line\n{}", fail.describe()));
    let words: Vec<&str> = line.split_whitespace().collect();
    let (want, got) = ((count + 1).to_string(), count.to_string());
    assert_eq!(
        words[..4],
        ["count", &want, &got, "-1"],
        "{}",
        fail.describe()
    );
    let json = check(&tampered, url, &["--token", TOKEN, "--format", "json"]).expect_code(1);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["result"], "fail");
    assert_eq!(
        report["mismatches"][0]["fields"]["count"]["observed"],
        count
    );

    // No token: the sink's 401 message, exit 2.
    let refused = check(&expected, url, &[]).expect_code(2);
    assert_contains(&refused, "stderr", "HTTP 401");
    assert_contains(&refused, "stderr", "--token");
    // A grain finer than the file's.
    let fine = check(&expected, url, &["--token", TOKEN, "--grain", "PT30S"]).expect_code(2);
    assert_contains(&fine, "stderr", "not a whole multiple");
}

#[test]
fn nothing_to_compare_or_nobody_to_ask_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.json");
    std::fs::write(
        &empty,
        r#"{"timespan":"2026-01-01T00:00:00Z/2026-01-01T00:01:00Z","interval":"PT1M","value":[]}"#,
    )
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);

    let run = check(&empty, &dead, &[]).expect_code(2);
    assert_contains(&run, "stderr", "no series");

    // A dataset goes into a directory of its own (--out refuses one
    // holding other files).
    let dataset = dir.path().join("dataset");
    generate(&dataset);
    let run = check(&dataset.join("expected.json"), &dead, &[]).expect_code(2);
    // The backend by name, and the root cause once, not reqwest's wrapping
    // around it (which repeats the whole query URL).
    assert_contains(
        &run,
        "stderr",
        &format!("cannot query the sink at {dead}/metrics: Connection refused (os error 111)"),
    );
    assert!(
        !run.stderr.contains("error sending request") && run.stderr.matches("refused").count() == 1,
        "{}",
        run.describe()
    );

    let run = check(&dataset.join("manifest.json"), &dead, &[]).expect_code(2);
    assert_contains(&run, "stderr", "is not an expected.json");
    let run = check(&dataset.join("expected.json"), "localhost:8650", &[]).expect_code(2);
    assert_contains(&run, "stderr", "invalid --observed URL");
}

/// A backend on a free loopback port: with `answer`, every request gets
/// that many bytes of `[`; without, connections are held and never answered.
fn hostile_backend(answer: Option<usize>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            match answer {
                Some(n) => {
                    std::thread::spawn(move || {
                        use std::io::{Read, Write};
                        let mut stream = stream;
                        let mut request = [0u8; 4096];
                        let _ = stream.read(&mut request);
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                             content-length: {n}\r\n\r\n"
                        );
                        let _ = stream.write_all(head.as_bytes());
                        let chunk = vec![b'['; 1 << 16];
                        let mut left = n;
                        while left > 0 {
                            let k = left.min(chunk.len());
                            if stream.write_all(&chunk[..k]).is_err() {
                                return;
                            }
                            left -= k;
                        }
                    });
                }
                None => held.push(stream),
            }
        }
    });
    url
}

// Issue #9, item 19: a hanging sink took 481 s to fail, and answers of any
// size were read whole.
#[test]
fn a_hanging_or_flooding_backend_fails_within_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let expected = dir.path().join("expected.json");
    let hanging = hostile_backend(None);
    let started = std::time::Instant::now();
    let run = callmetrics(&[
        "check",
        "--expected",
        expected.to_str().unwrap(),
        "--observed",
        &hanging,
        "--timeout",
        "300ms",
        "--max-time",
        "2s",
    ])
    .expect_code(2);
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
    assert!(
        run.stderr.contains("--max-time") || run.stderr.contains("timed out"),
        "{}",
        run.describe()
    );

    let flooding = hostile_backend(Some(50 << 20));
    let run = callmetrics(&[
        "check",
        "--expected",
        expected.to_str().unwrap(),
        "--observed",
        &flooding,
        "--max-answer-bytes",
        "1000000",
    ])
    .expect_code(2);
    assert!(
        run.stderr.contains("larger than 1000000 bytes"),
        "{}",
        run.describe()
    );
}

// Issue #11: a check of one run against a sink that also holds another
// run's data (same timespan) fails, and says what is most likely going on.
#[test]
fn another_runs_data_in_the_window_gets_a_hint() {
    let sink = start_sink();
    let dir = tempfile::tempdir().unwrap();
    let run = |seed: &str| {
        let expected = dir.path().join(format!("expected-{seed}.json"));
        callmetrics(&[
            "run",
            "tests/fixtures/tiny.json",
            "--calls",
            "50",
            "--seed",
            seed,
            "--start",
            "2026-01-01T00:00:00Z",
            "--max-rate",
            "--sink",
            &sink.url,
            "--token",
            TOKEN,
            "--expected-out",
            expected.to_str().unwrap(),
            "--quiet",
        ])
        .expect_code(0);
        expected
    };
    let first = run("1");
    run("2");
    let report = check(&first, &sink.url, &["--token", TOKEN]).expect_code(1);
    assert_contains(
        &report,
        "stdout",
        "hint: the sink holds data the expected file does not have; a previous run in the same timespan?",
    );
    // A mismatch of another kind gets no such hint.
    let fresh = start_sink();
    let report = check(&first, &fresh.url, &["--token", TOKEN]).expect_code(1);
    assert!(!report.stdout.contains("hint:"), "{}", report.describe());
}

/// Asserts `xml` is one JUnit document holding exactly one test case, with
/// an `<error>` whose message starts with `message`, and returns it.
fn one_junit_error(run: &Run, message: &str) {
    let xml = &run.stdout;
    assert!(
        xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?>"#),
        "{}",
        run.describe()
    );
    for (open, close) in [
        ("<testsuites ", "</testsuites>"),
        ("<testsuite ", "</testsuite>"),
        ("<testcase ", "</testcase>"),
        ("<error ", "</error>"),
    ] {
        assert_eq!(xml.matches(open).count(), 1, "{open}\n{}", run.describe());
        assert_eq!(xml.matches(close).count(), 1, "{close}\n{}", run.describe());
    }
    assert!(
        xml.trim_end().ends_with("</testsuites>"),
        "{}",
        run.describe()
    );
    assert_contains(run, "stdout", r#"tests="1" failures="0" errors="1""#);
    assert_contains(
        run,
        "stdout",
        &format!(r#"<error type="check error" message="{message}"#),
    );
}

// Issue #17: a check that could not be carried out wrote no JUnit at all, so
// CI test publishers said "no test results" instead of why.
#[test]
fn junit_says_why_a_check_could_not_be_carried_out() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let expected = dir.path().join("expected.json");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let run = check(&expected, &dead, &["--format", "junit"]).expect_code(2);
    one_junit_error(
        &run,
        &format!(
            "the check could not be carried out: cannot query the sink at {dead}/metrics: \
             Connection refused (os error 111)\""
        ),
    );
    assert_contains(&run, "stderr", "cannot query the sink at");
    // Also when the expected file cannot be read, before any query.
    let missing = dir.path().join("missing.json");
    let run = check(&missing, &dead, &["--format", "junit"]).expect_code(2);
    one_junit_error(
        &run,
        &format!(
            "the check could not be carried out: cannot read {}",
            missing.display()
        ),
    );
}

// Issue #17: --mapping with influxql was silently ignored.
#[test]
fn a_flag_the_backend_cannot_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let expected = dir.path().join("expected.json");
    let run = check(
        &expected,
        "http://127.0.0.1:1/query?db=callmetrics",
        &[
            "--backend",
            "influxql",
            "--mapping",
            "mappings/default.json",
        ],
    )
    .expect_code(2);
    assert_contains(
        &run,
        "stderr",
        "--mapping names Prometheus series; it goes with --backend promql, not --backend influxql",
    );
    let run = check(&expected, "http://127.0.0.1:1", &["--totals"]).expect_code(2);
    assert_contains(&run, "stderr", "--totals is for counter backends");
}

/// A backend on a free loopback port answering `body` to requests that
/// carry `Authorization: Bearer TOKEN`, and 401 to the others.
fn backend_behind_auth(body: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let app =
                axum::Router::new().fallback(move |headers: axum::http::HeaderMap| async move {
                    let bearer = format!("Bearer {TOKEN}");
                    match headers.get("authorization") {
                        Some(v) if v.as_bytes() == bearer.as_bytes() => {
                            (axum::http::StatusCode::OK, body)
                        }
                        // What an authenticating proxy in front answers.
                        _ => (axum::http::StatusCode::UNAUTHORIZED, "Unauthorized\n"),
                    }
                });
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    url
}

// Issue #17: promql and influxql did not send --token, so a Prometheus or
// InfluxDB behind auth could not be checked at all.
#[test]
fn the_token_reaches_prometheus_and_influxdb() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let expected = dir.path().join("expected.json");
    for (backend, path, empty) in [
        (
            "promql",
            "",
            r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
        ),
        (
            "influxql",
            "/query?db=callmetrics",
            r#"{"results":[{"statement_id":0}]}"#,
        ),
    ] {
        let url = format!("{}{path}", backend_behind_auth(empty));
        // With the token the backend answers (nothing stored: every expected
        // series is missing, exit 1); without it, its 401 is exit 2.
        let run = check(&expected, &url, &["--backend", backend, "--token", TOKEN]).expect_code(1);
        assert_contains(&run, "stdout", "missing");
        let run = check(&expected, &url, &["--backend", backend]).expect_code(2);
        assert_contains(&run, "stderr", "(HTTP 401");
        assert_contains(&run, "stderr", "give its token with --token");
    }
}

/// Issue #17's bad input: a --wait shorter than one poll, a selector that
/// is not PromQL, a value rewrite that maps two values onto one. Each is
/// exit 2 naming the flag, before any backend is asked (the URL is a
/// closed port: reaching it would be a different error).
#[test]
fn check_flags_that_cannot_work_are_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let expected = dir.path().join("expected.json");
    let closed = format!("http://127.0.0.1:{}", common::servers::free_port());
    let promql = ["--backend", "promql"];
    let run = check(
        &expected,
        &closed,
        &[&promql[..], &["--wait", "2s"]].concat(),
    )
    .expect_code(2);
    assert_contains(
        &run,
        "stderr",
        "--wait 2s is shorter than one poll (--poll-interval 5s)",
    );
    let run = check(
        &expected,
        &closed,
        &[&promql[..], &["--match", "job=\"app\""]].concat(),
    )
    .expect_code(2);
    assert_contains(&run, "stderr", "--match");
    let lossy = dir.path().join("lossy.json");
    std::fs::write(
        &lossy,
        r#"{"metrics": {"AcsCallAutomationCallbackEvent": {"name": "events_total", "labels": {
            "EventTypeName": "event_type",
            "Code": {"label": "code", "values": {"table": {"400": "4xx", "401": "4xx"}}},
            "CodeClass": "code_class", "SubCode": "sub_code", "Version": "version"}}}}"#,
    )
    .unwrap();
    let run = check(
        &expected,
        &closed,
        &[&promql[..], &["--mapping", lossy.to_str().unwrap()]].concat(),
    )
    .expect_code(2);
    assert_contains(&run, "stderr", "maps \"400\" and \"401\" onto \"4xx\"");
    assert!(!run.stderr.contains("cannot query"), "{}", run.describe());
}

// Issue #20, item 7: an expected file whose last bucket would end past
// what RFC 3339 writes is refused by name, before any query.
#[test]
fn an_expected_file_past_the_last_day_is_refused_naming_the_point() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let expected = read(&dir.path().join("expected.json"));
    assert!(expected.contains("\"2026-01-01T00:00:00Z\""));
    let late = dir.path().join("late.json");
    std::fs::write(&late, expected.replace("2026-01-01T", "9999-12-31T")).unwrap();
    let sink = start_sink();
    let run = check(&late, &sink.url, &[]).expect_code(2);
    assert_contains(
        &run,
        "stderr",
        "timeStamp \"9999-12-31T00:00:00Z\" is past 9999-12-30T23:59:59.999Z, the last time an \
         event may have",
    );
}
