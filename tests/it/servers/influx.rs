//! `run --target influx` into a real InfluxDB 1.6 (Debian's `influxdb`) on
//! a free loopback port with a temporary data dir: a shipped scenario end
//! to end, then `check --backend influxql` at two grains, exact on count,
//! total, minimum and maximum; and a backend mixed up with another server
//! is one clear line, exit 2.
//!
//! Needs `influxd` (skipped on a developer machine without it, a failure
//! in CI).

use crate::common;

use crate::common::callmetrics_async;
use crate::common::running::run_through_an_outage;
use crate::common::servers::{Server, free_port, require, wait_ready};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// InfluxDB on `port` with its data under `dir` (kept across restarts),
/// and a database `cm`; returns its base URL.
async fn start_influx(dir: &Path, port: u16) -> (Server, String) {
    let rpc = free_port();
    let config = dir.join("influxdb.conf");
    std::fs::write(
        &config,
        format!(
            "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n\
             [meta]\n  dir = \"{d}/meta\"\n[data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n\
             [http]\n  bind-address = \"127.0.0.1:{port}\"\n  log-enabled = false\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let server = Server::spawn(
        "influxd",
        Command::new("influxd")
            .arg("-config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{base}/ping"), Duration::from_secs(30)).await;
    let created = common::http()
        .post(format!("{base}/query?q=CREATE%20DATABASE%20cm"))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    (server, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_written_to_influxdb_checks_exactly_per_bucket() {
    if !require(
        "a_scenario_written_to_influxdb_checks_exactly_per_bucket",
        &[("influxd", "influxdb")],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_influx, base) = start_influx(dir.path(), free_port()).await;
    let expected = dir.path().join("expected.json");
    let expected = expected.to_str().unwrap();
    let write = format!("{base}/write?db=cm");
    callmetrics_async(&[
        "run",
        "scenarios/inbound-ivr.json",
        "--target",
        "influx",
        "--sink",
        &write,
        "--calls",
        "3000",
        "--max-rate",
        "--quiet",
        "--expected-out",
        expected,
    ])
    .await
    .expect_code(0);
    let query = format!("{base}/query?db=cm");
    let check = callmetrics_async(&[
        "check",
        "--expected",
        expected,
        "--backend",
        "influxql",
        "--observed",
        &query,
        "--grain",
        "PT1M,PT5M",
    ])
    .await
    .expect_code(0);
    assert!(
        check.stdout.starts_with("PASS")
            && check
                .stdout
                .contains("ApiRequestLatency: count, total, minimum, maximum only"),
        "{}",
        check.describe()
    );

    // The wrong backend for this server: one clear line, exit 2.
    let wrong = callmetrics_async(&[
        "check",
        "--expected",
        expected,
        "--backend",
        "promql",
        "--observed",
        &base,
    ])
    .await
    .expect_code(2);
    assert!(
        wrong.stderr.contains("HTTP 404") && wrong.stderr.contains("--backend influxql"),
        "{}",
        wrong.describe()
    );
    // A write URL without its database: a usage error before anything is sent.
    let no_db = callmetrics_async(&[
        "run",
        "tests/fixtures/tiny.json",
        "--target",
        "influx",
        "--sink",
        &format!("{base}/write"),
    ])
    .await
    .expect_code(2);
    assert!(
        no_db.stderr.contains("name the database"),
        "{}",
        no_db.describe()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influxdb_restarted_mid_run_loses_nothing() {
    if !require(
        "influxdb_restarted_mid_run_loses_nothing",
        &[("influxd", "influxdb")],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (influx, base) = start_influx(dir.path(), port).await;
    let expected = dir.path().join("expected.json");
    let summary = dir.path().join("summary.json");
    let write = format!("{base}/write?db=cm");
    // A few seconds of paced writes; the server is stopped once the run
    // has delivered and started again on the same port and data once the
    // run has retried.
    let (run, _influx) = run_through_an_outage(
        &[
            "run",
            "scenarios/outbound-notification.json",
            "--target",
            "influx",
            "--sink",
            &write,
            "--calls",
            "600",
            "--rate",
            "100/s",
            "--speed",
            "10",
            "--sample-interval",
            "5s",
            "--quiet",
            "--expected-out",
            expected.to_str().unwrap(),
            "--summary-out",
            summary.to_str().unwrap(),
        ],
        async { influx.terminate() },
        start_influx(dir.path(), port),
    )
    .await;
    run.expect_code(0);
    let summary: serde_json::Value = serde_json::from_str(&common::read(&summary)).unwrap();
    assert!(
        summary["retries"].as_u64().unwrap() > 0,
        "the restart did not fall inside the run: {summary}"
    );
    let query = format!("{base}/query?db=cm");
    let check = callmetrics_async(&[
        "check",
        "--expected",
        expected.to_str().unwrap(),
        "--backend",
        "influxql",
        "--observed",
        &query,
    ])
    .await
    .expect_code(0);
    assert!(check.stdout.starts_with("PASS"), "{}", check.describe());
}

/// What reaches an InfluxDB: a `User-Agent` naming callmetrics and its
/// version (so the server's logs tell the load generator apart), and tags
/// sorted by key in byte order, as the line-protocol reference advises.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_name_their_user_agent_and_sort_tag_keys() {
    let (fake, base) = common::fake::FakeReceiver::start(&[204]).await;
    callmetrics_async(&[
        "run",
        "scenarios/inbound-ivr.json",
        "--target",
        "influx",
        "--sink",
        &format!("{base}/write?db=cm"),
        "--calls",
        "30",
        "--max-rate",
        "--start",
        "2026-01-01T00:00:00Z",
        "--quiet",
    ])
    .await
    .expect_code(0);
    let received = fake.received();
    assert!(!received.is_empty());
    let mut lines = 0;
    for request in &received {
        assert_eq!(
            request.headers["user-agent"],
            concat!("callmetrics/", env!("CARGO_PKG_VERSION"))
        );
        for line in std::str::from_utf8(&request.body).unwrap().lines() {
            // Values may hold escaped spaces (`Create\ Call`), never commas.
            let unescaped = line.replace("\\ ", "_");
            let series = unescaped.split(' ').next().unwrap();
            let keys: Vec<&str> = series
                .split(',')
                .skip(1)
                .map(|tag| tag.split('=').next().unwrap())
                .collect();
            assert!(keys.len() >= 2, "{line}");
            assert!(keys.is_sorted(), "{line}");
            lines += 1;
        }
    }
    assert!(lines > 20, "{lines} lines");
}
