//! `run` end to end over loopback, bounded in count and time: a green run
//! into the embedded sink; a sink that throttles 10 % of batches behind a
//! proxy that resets connections after the sink applied the request; a
//! sink killed with SIGKILL mid-run and restarted on its data dir; and
//! concurrent runs into one sink. Every case must check exactly: nothing
//! lost, nothing counted twice.

use crate::common;

use crate::common::running::{Running, run_through_an_outage, wait_for_status};
use crate::common::servers::free_port;
use crate::common::{SinkProcess, callmetrics};
use callmetrics::testing::check::{CheckOptions, check_http};
use callmetrics::testing::client::tls::ClientTls;
use callmetrics::testing::emit::deliver::{DeliveryConfig, Pacing, replay};
use callmetrics::testing::emit::targets::ingest::{self, Ingest};
use callmetrics::testing::engine::Workload;
use callmetrics::testing::model::Grain;
use callmetrics::testing::sink::{RunningSink, SinkConfig};
use callmetrics::testing::wire::expected_response;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[test]
fn run_into_the_embedded_sink_checks_green() {
    let run = callmetrics(&[
        "run",
        "tests/fixtures/tiny.json",
        "--calls",
        "500",
        "--max-rate",
        "--quiet",
    ])
    .expect_code(0);
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());
}

// Issue #10, item 5: recording requests travel as their own metric through
// ingest, the sink's query API and the check, exactly.
#[test]
fn recording_requests_are_checked_as_their_own_metric() {
    let run = callmetrics(&[
        "run",
        "scenarios/contact-center.json",
        "--calls",
        "200",
        "--max-rate",
        "--quiet",
    ])
    .expect_code(0);
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());
    assert!(run.stdout.contains("4 metrics"), "{}", run.describe());
    let recording = run
        .stdout
        .lines()
        .find(|l| {
            l.starts_with("APIRequestCallRecording")
                && l.contains("Operation, StatusCode, StatusCodeClass ")
        })
        .unwrap_or_else(|| panic!("{}", run.describe()));
    assert!(recording.ends_with("ok"), "{recording}");
}

// The embedded sink rolls per-second cells older than a day of data time
// into minutes; a run checked at PT1S over more than that must still pass.
#[test]
fn a_per_second_run_longer_than_a_day_of_data_checks_green() {
    let run = callmetrics(&[
        "run",
        "tests/fixtures/tiny.json",
        "--calls",
        "5000",
        "--rate",
        "0.05/s",
        "--max-rate",
        "--grain",
        "PT1S",
        "--quiet",
    ])
    .expect_code(0);
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());
}

// Issue #17: the check after the run built its HTTP client by hand, so a
// proxy set in the environment captured the loopback sink: everything was
// delivered, then the run ended in exit 2 blaming the sink.
#[test]
fn a_proxy_in_the_environment_does_not_capture_the_loopback_sink() {
    let dead = format!("http://127.0.0.1:{}", free_port());
    let proxies = [
        ("http_proxy", dead.as_str()),
        ("HTTP_PROXY", dead.as_str()),
        ("all_proxy", dead.as_str()),
        ("ALL_PROXY", dead.as_str()),
        ("no_proxy", ""),
        ("NO_PROXY", ""),
    ];
    let run = common::callmetrics_with_env(
        &[
            "run",
            "scenarios/outbound-notification.json",
            "--calls",
            "20",
            "--max-rate",
            "--quiet",
        ],
        &proxies,
    )
    .expect_code(0);
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());
}

#[test]
fn run_reports_a_sink_that_is_not_there() {
    let port = free_port();
    let sink = format!("http://127.0.0.1:{port}");
    let run = callmetrics(&[
        "run",
        "tests/fixtures/tiny.json",
        "--calls",
        "20",
        "--max-rate",
        "--sink",
        &sink,
        "--retries",
        "2",
        "--quiet",
    ])
    .expect_code(2);
    assert!(
        run.stderr.contains(&format!(
            "sink not reachable at http://127.0.0.1:{port}/ingest ("
        )),
        "{}",
        run.describe()
    );
}

/// A run that ends in exit 2 with `--format junit` still writes JUnit: one
/// test case whose error says why, for CI test publishers.
#[test]
fn a_run_that_cannot_be_checked_writes_junit_saying_why() {
    let port = free_port();
    let sink = format!("http://127.0.0.1:{port}");
    let run = callmetrics(&[
        "run",
        "tests/fixtures/tiny.json",
        "--calls",
        "20",
        "--max-rate",
        "--sink",
        &sink,
        "--check",
        "--format",
        "junit",
        "--quiet",
    ])
    .expect_code(2);
    assert!(
        run.stdout.starts_with("<?xml")
            && run.stdout.contains("errors=\"1\"")
            && run.stdout.contains("<error ")
            && run.stdout.contains("sink not reachable at"),
        "{}",
        run.describe()
    );
    // A run whose check ran prints its report, not a second document.
    let ok = callmetrics(&[
        "run",
        "tests/fixtures/tiny.json",
        "--calls",
        "20",
        "--max-rate",
        "--format",
        "junit",
        "--quiet",
    ])
    .expect_code(0);
    assert_eq!(ok.stdout.matches("<?xml").count(), 1, "{}", ok.describe());
    assert!(ok.stdout.contains("failures=\"0\""), "{}", ok.describe());
}

// A file that could not be written when a long run ends is refused before
// the run starts (nothing is sent: no schedule note, no summary).
#[test]
fn outputs_that_could_not_be_written_are_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir").join("run.html");
    let directory = dir.path().to_str().unwrap();
    for (flag, path, says) in [
        (
            "--report",
            missing.to_str().unwrap(),
            "does not exist; create it first",
        ),
        (
            "--expected-out",
            directory,
            "is a directory; give a file name",
        ),
        ("--summary-out", missing.to_str().unwrap(), "does not exist"),
    ] {
        let run = callmetrics(&["run", "scenarios/contact-center.json", flag, path]).expect_code(2);
        assert!(
            run.stderr.contains(&format!("{flag} {path}: ")) && run.stderr.contains(says),
            "{}",
            run.describe()
        );
        assert!(
            !run.stderr.contains("schedule:") && !run.stderr.contains("replayed"),
            "{}",
            run.describe()
        );
    }
}

/// `callmetrics sink` as a child process on a given port (0: any free
/// one, which it prints and [`SinkProcess::addr`] reads).
fn sink_process(port: u16, extra: &[&str]) -> SinkProcess {
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["--listen", listen.as_str()];
    args.extend_from_slice(extra);
    SinkProcess::start(&args)
}

/// A proxy that resets the first connection and every `every`-th one after
/// it (the first, so a reset happens however few connections the client
/// keeps open) right after the sink answered its first request, so the
/// client sees an error for a batch the sink did apply (the case
/// idempotency keys exist for).
async fn resetting_proxy(
    upstream: SocketAddr,
    every: usize,
    resets: Arc<AtomicUsize>,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((client, _)) = listener.accept().await {
            n += 1;
            let reset = (n - 1) % every == 0;
            let resets = resets.clone();
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let mut client = client;
                if !reset {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    return;
                }
                let _ = client.set_zero_linger(); // dropping it now sends RST
                let mut buf = vec![0u8; 64 << 10];
                let mut first = [0u8; 1];
                loop {
                    tokio::select! {
                        read = client.read(&mut buf) => match read {
                            Ok(n) if n > 0 => {
                                if server.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                            _ => return,
                        },
                        // The sink has applied the request once it answers.
                        answered = server.read(&mut first) => {
                            if matches!(answered, Ok(n) if n > 0) {
                                resets.fetch_add(1, Ordering::Relaxed);
                            }
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

fn retries_in(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("retries"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_connection_resets_lose_and_duplicate_nothing() {
    let mut sink = sink_process(0, &["--fault-rate", "0.1"]);
    let port = sink.addr().port();
    let resets = Arc::new(AtomicUsize::new(0));
    let proxy = resetting_proxy(SocketAddr::from(([127, 0, 0, 1], port)), 3, resets.clone()).await;
    let url = format!("http://{proxy}");
    let dir = tempfile::tempdir().unwrap();
    let expected = dir
        .path()
        .join("expected.json")
        .to_str()
        .unwrap()
        .to_string();
    let expected_out = expected.clone();
    let run = tokio::task::spawn_blocking(move || {
        callmetrics(&[
            "run",
            "tests/fixtures/tiny.json",
            "--sink",
            &url,
            "--seed",
            "3",
            "--calls",
            "4000",
            "--max-rate",
            "--batch-size",
            "400",
            "--expected-out",
            &expected_out,
        ])
    })
    .await
    .unwrap();
    let run = run.expect_code(0);
    assert!(
        retries_in(&run.stderr) > 0,
        "no retries happened:\n{}",
        run.describe()
    );
    assert!(
        resets.load(Ordering::Relaxed) > 0,
        "the proxy reset no connection"
    );
    // Check through the same proxy: the queries retry resets too.
    let resets_before = resets.load(Ordering::Relaxed);
    let proxy_url = format!("http://{proxy}");
    let check = tokio::task::spawn_blocking(move || {
        callmetrics(&["check", "--expected", &expected, "--observed", &proxy_url])
    })
    .await
    .unwrap();
    sink.kill();
    let check = check.expect_code(0);
    assert!(check.stdout.starts_with("PASS"), "{}", check.describe());
    assert!(
        resets.load(Ordering::Relaxed) > resets_before,
        "no check query was reset, so query retries went untested"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_killed_mid_run_and_restarted_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let mut sink = sink_process(0, &["--data-dir", &data]);
    // The restarted sink listens where the first one did.
    let port = sink.addr().port();
    let url = format!("http://127.0.0.1:{port}");
    // About 3 s of paced traffic; the sink is killed once the run has
    // delivered, and restarted once the run has retried.
    let (run, restarted) = run_through_an_outage(
        &[
            "run",
            "tests/fixtures/tiny.json",
            "--sink",
            &url,
            "--check",
            "--seed",
            "3",
            "--calls",
            "900",
            "--rate",
            "300/s",
            "--arrival",
            "uniform",
            "--batch-window",
            "20ms",
        ],
        async { sink.kill() }, // SIGKILL
        async { sink_process(port, &["--data-dir", &data]) },
    )
    .await;
    drop(restarted);
    let run = run.expect_code(0);
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());
    assert!(
        retries_in(&run.stderr) > 0,
        "the kill caused no retry:\n{}",
        run.describe()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_into_one_sink_aggregate_exactly() {
    let sink = RunningSink::start(SinkConfig::embedded()).await.unwrap();
    let scenario = callmetrics::testing::scenario::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tiny.json"
    )))
    .unwrap();
    let workload = |seed| Workload::calls(seed, 1500, 100.0);
    let config = DeliveryConfig {
        batch_events: 300,
        ..DeliveryConfig::new(ingest::DEFAULTS)
    };
    let target = || Ingest::new(&sink.url(), None, Default::default()).unwrap();
    let (w1, w2, w3) = (workload(1), workload(2), workload(3));
    let tls = ClientTls::system();
    let (a, b, c) = tokio::join!(
        replay(
            &scenario,
            &w1,
            target(),
            &config,
            Pacing::Max,
            Grain::MINUTE,
            &tls
        ),
        replay(
            &scenario,
            &w2,
            target(),
            &config,
            Pacing::Max,
            Grain::MINUTE,
            &tls
        ),
        replay(
            &scenario,
            &w3,
            target(),
            &config,
            Pacing::Max,
            Grain::MINUTE,
            &tls
        ),
    );
    let mut expected = a.unwrap().expected;
    expected.merge(b.unwrap().expected);
    expected.merge(c.unwrap().expected);
    let response = expected_response(
        &expected,
        callmetrics::testing::catalog::Naming::Azure,
        "test",
    );
    let options = CheckOptions {
        grains: vec!["PT5M".parse().unwrap()],
        ..CheckOptions::default()
    };
    let report = check_http(&response, &sink.url(), None, &options)
        .await
        .unwrap();
    assert!(
        report.passed(),
        "the sum of three concurrent runs does not match"
    );
    // And one run's expectation alone must not pass: the check is not vacuous.
    let alone = expected_response(
        &replay(
            &scenario,
            &workload(4),
            target(),
            &config,
            Pacing::Max,
            Grain::MINUTE,
            &ClientTls::system(),
        )
        .await
        .unwrap()
        .expected,
        callmetrics::testing::catalog::Naming::Azure,
        "test",
    );
    let report = check_http(&alone, &sink.url(), None, &CheckOptions::default())
        .await
        .unwrap();
    assert!(
        !report.passed(),
        "a partial expectation passed against a sink holding more"
    );
    sink.shutdown().await.unwrap();
}

// Issue #11, rough edges: what a new user hit, each message pinned.
#[test]
fn a_scheduled_run_says_how_long_it_takes_and_nothing_is_refused_silently() {
    let run = callmetrics(&[
        "run",
        "tests/fixtures/tiny.json",
        "--calls",
        "300",
        "--rate",
        "100/s",
        "--speed",
        "3",
    ])
    .expect_code(0);
    assert!(
        run.stderr.contains("schedule: 300 calls, the last event ")
            && run.stderr.contains("from the start at --speed 3"),
        "{}",
        run.describe()
    );
    // Progress (plain lines off a terminal) says where the schedule is.
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("schedule ") && l.contains('%') && l.contains(", ETA ")),
        "{}",
        run.describe()
    );
    let run = callmetrics(&[
        "run",
        "tests/fixtures/tiny.json",
        "--calls",
        "0",
        "--max-rate",
    ])
    .expect_code(2);
    assert!(
        run.stderr
            .contains("--calls 0 would send nothing; give at least 1 call"),
        "{}",
        run.describe()
    );
    let run = callmetrics(&["run", "no-such-scenario.json"]).expect_code(2);
    assert_eq!(
        run.stderr.matches("(os error 2)").count(),
        1,
        "{}",
        run.describe()
    );
}

// Issue #11: Ctrl-C during a run printed nothing useful; now the schedule
// stops, the summary is printed, and --expected-out describes exactly
// what was delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_the_run_and_the_expected_file_is_what_was_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.json");
    let summary = dir.path().join("summary.json");
    let args = [
        "run",
        "tests/fixtures/tiny.json",
        "--calls",
        "100000",
        "--rate",
        "200/s",
        "--expected-out",
        expected.to_str().unwrap(),
        "--summary-out",
        summary.to_str().unwrap(),
        "--control",
        "127.0.0.1:0",
    ]
    .map(String::from);
    let (running, control) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut running = Running::start(&args);
        let control = running.control_url(Duration::from_secs(30));
        (running, control)
    })
    .await
    .unwrap();
    // Interrupted once events were delivered, so the files hold some.
    wait_for_status(&control, "delivery", Duration::from_secs(30), |s| {
        s["acknowledged"]["events"].as_u64() > Some(0)
    })
    .await;
    running.interrupt();
    let (run, _) = tokio::task::spawn_blocking(move || running.finish(Duration::from_secs(30)))
        .await
        .unwrap();
    let run = run.expect_code(2);
    assert!(
        run.stderr.contains("stopped   by Ctrl-C") && run.stderr.contains("interrupted: "),
        "{}",
        run.describe()
    );
    let summary: serde_json::Value = serde_json::from_str(&common::read(&summary)).unwrap();
    assert_eq!(summary["interrupted"], true);
    let delivered = summary["events"].as_u64().unwrap();
    assert!(delivered > 0 && delivered < 100_000, "{delivered}");
    let expected: serde_json::Value = serde_json::from_str(&common::read(&expected)).unwrap();
    let counted: u64 = expected["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["name"]["value"] != "ApiRequestLatency")
        .flat_map(|m| m["timeseries"].as_array().unwrap())
        .flat_map(|t| t["data"].as_array().unwrap())
        .map(|p| p["count"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(counted, delivered);
}

// Issue #11, part 2: `run --control` reports progress and changes the
// speed of a running schedule; the check still passes (the expected file
// is what was delivered).
#[test]
fn control_reports_status_and_changes_the_speed() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_callmetrics"))
        .current_dir(common::repo())
        .args([
            "run",
            "tests/fixtures/tiny.json",
            "--calls",
            "400",
            "--rate",
            "20/s",
            "--control",
            "127.0.0.1:0",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(url) = line.strip_prefix("control: ") {
                let _ = tx.send(url.split_whitespace().next().unwrap_or("").to_string());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let url = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the control URL");
    let started = std::time::Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = common::http();
        let get_status = || async {
            let answer = client.get(format!("{url}/status")).send().await.unwrap();
            answer.json::<serde_json::Value>().await.unwrap()
        };
        let status = get_status().await;
        assert_eq!(status["pacing"], "scheduled", "{status}");
        assert_eq!(status["speed"], 1.0, "{status}");
        assert!(
            status["schedule"]["lengthMs"].as_u64().unwrap() > 20_000,
            "{status}"
        );
        let bad = client
            .post(format!("{url}/speed"))
            .body("{\"speed\": 0}")
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);
        let set = client
            .post(format!("{url}/speed"))
            .body("{\"speed\": 100}")
            .send()
            .await
            .unwrap();
        assert_eq!(set.status(), 200);
        let status = get_status().await;
        assert_eq!(status["speed"], 100.0, "{status}");
    });
    let status = child.wait().unwrap();
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let stderr = reader.join().unwrap();
    // About 25 s of schedule at speed 1; at 100 the rest takes well under a
    // second: 20 s proves the change took, with room for a loaded machine.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}\n{stderr}",
        started.elapsed()
    );
    assert!(status.success(), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("PASS"), "{stdout}\n{stderr}");
}
