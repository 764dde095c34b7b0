//! `emulate` against the reference apps (tests/apps/emulator-js and
//! tests/apps/emulator-python), each written with its official Call
//! Automation SDK (1.6.0) and unchanged: the app trusts the emulator's
//! generated certificate, signs its requests with the access key, places
//! outbound-notification calls (Create Call, Play on CallConnected, Hang Up
//! on PlayCompleted) and counts what it did in Prometheus counters; a real
//! Prometheus scrapes it; `check --backend promql --mapping` must find the
//! app's counts equal to the emulator's expected file, for both metrics,
//! and must fail against an expected file with one count changed.
//!
//! Needs `prometheus`, `node`, `npm` and `python3` (skipped on a developer
//! machine without them, a failure in CI). Bounded: a few calls, each
//! process killed when the test ends.

use crate::common;
use crate::common::servers::{
    Server, Store, free_port, npm_ci, python_venv, require, start_store, wait_ready,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const CALLS: u32 = 4;

/// The access key both sides share: base64 of 32 fixed bytes.
const ACCESS_KEY: &str = "Y2FsbG1ldHJpY3MtZW11bGF0b3ItdGVzdC1rZXktMzI=";

fn app_dir(name: &str) -> PathBuf {
    common::repo().join("tests/apps").join(name)
}

/// The emulator on a free port, its certificate in `dir/ca.pem`; it
/// writes `dir/expected.json` when it stops.
async fn emulator(dir: &Path) -> (Server, u16) {
    let port = free_port();
    let out = std::fs::File::create(dir.join("emulate.out")).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_callmetrics"));
    command
        .current_dir(common::repo())
        .args([
            "emulate",
            "scenarios/outbound-notification.json",
            "--listen",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--access-key", ACCESS_KEY, "--duration", "5m", "--ca-out"])
        .arg(dir.join("ca.pem"))
        .arg("--expected-out")
        .arg(dir.join("expected.json"))
        .arg("--summary-out")
        .arg(dir.join("summary.json"))
        .stdout(out)
        .stderr(Stdio::null());
    let server = Server::spawn("callmetrics emulate", &mut command);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "emulate did not listen"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (server, port)
}

/// How the app is started: its program, script and the variable that
/// makes it trust `ca.pem`.
struct App {
    dir: &'static str,
    program: PathBuf,
    script: &'static str,
    trust: &'static str,
}

async fn status(url: &str) -> Option<Value> {
    common::http()
        .get(format!("{url}/status"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()
}

/// Runs the outbound flow of `app` against the emulator, scraped by a real
/// Prometheus; returns the check's exit code against expected.json and
/// against a copy with one count changed.
async fn outbound_flow_checks_exactly(app: App) {
    let dir = tempfile::tempdir().unwrap();
    let (emulator, port) = emulator(dir.path()).await;
    let app_port = free_port();
    let target = format!("127.0.0.1:{app_port}");
    let (_store, prometheus) =
        start_store(Store::Prometheus, dir.path(), Some(&target), free_port()).await;
    let mut command = Command::new(&app.program);
    command
        .arg(app.script)
        .current_dir(app_dir(app.dir))
        .env(
            "ACS_CONNECTION_STRING",
            format!("endpoint=https://127.0.0.1:{port}/;accesskey={ACCESS_KEY}"),
        )
        .env(app.trust, dir.path().join("ca.pem"))
        .env("PORT", app_port.to_string())
        .env("FLOW", "outbound")
        .env("CALLS", CALLS.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let _app = Server::spawn("reference app", &mut command);
    let url = format!("http://{target}");
    wait_ready(&format!("{url}/status"), Duration::from_secs(30)).await;
    // Every call ends with CallDisconnected; the slowest Create Call
    // outcome draws CallConnected within a minute.
    let started = Instant::now();
    loop {
        let s = status(&url).await;
        if s.as_ref().is_some_and(|s| s["finished"] == CALLS) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(150),
            "the app did not finish its calls: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let done = SystemTime::now();
    emulator.terminate();
    let summary: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    // A Create Call the scenario refuses (429, 5xx) starts no call.
    assert!(summary["calls_started"].as_u64() >= Some(1), "{summary}");
    assert!(summary["requests"]["Create Call"].is_object(), "{summary}");
    assert_eq!(summary["unauthorized"], serde_json::json!({}), "{summary}");
    assert_eq!(summary["unexpected"], serde_json::json!({}), "{summary}");
    assert_eq!(
        summary["callbacks_failed"],
        serde_json::json!({}),
        "{summary}"
    );
    wait_for_scrape_after(&prometheus, done).await;

    let expected = dir.path().join("expected.json");
    let mapping = app_dir(app.dir).join("mapping.json");
    let check = |expected: PathBuf| {
        let prometheus = prometheus.clone();
        let mapping = mapping.clone();
        async move {
            let args: Vec<String> = [
                "check",
                "--expected",
                expected.to_str().unwrap(),
                "--backend",
                "promql",
                "--observed",
                &prometheus,
                "--mapping",
                mapping.to_str().unwrap(),
                "--totals",
            ]
            .iter()
            .map(|a| a.to_string())
            .collect();
            common::callmetrics_async(&args).await
        }
    };
    let run = check(expected.clone()).await;
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("PASS"), "{}", run.stdout);

    // One count off: the check must see it.
    let mut changed: Value = serde_json::from_slice(&std::fs::read(&expected).unwrap()).unwrap();
    let cell = &mut changed["value"][0]["timeseries"][0]["data"][0];
    let count = cell["count"].as_u64().expect("a count");
    cell["count"] = (count + 1).into();
    cell["total"] = (count + 1).into();
    let wrong = dir.path().join("wrong.json");
    std::fs::write(&wrong, changed.to_string()).unwrap();
    let run = check(wrong).await;
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
}

/// Waits until Prometheus holds a successful scrape of the app taken after
/// `after`.
async fn wait_for_scrape_after(prometheus: &str, after: SystemTime) {
    let after = after.duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    let started = Instant::now();
    loop {
        let scraped = common::servers::instant_query(
            prometheus,
            "timestamp(up{job=\"app\"} == 1)",
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64,
        )
        .await;
        let at = scraped
            .first()
            .and_then(|s| s["value"][1].as_str())
            .and_then(|t| t.parse::<f64>().ok());
        if at.is_some_and(|t| t > after) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no scrape");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_app_checks_exactly_against_the_emulator() {
    let test = "the_python_sdk_app_checks_exactly_against_the_emulator";
    if !require(
        test,
        &[("prometheus", "prometheus"), ("python3", "python3")],
    ) {
        return;
    }
    let python = python_venv(&app_dir("emulator-python"));
    outbound_flow_checks_exactly(App {
        dir: "emulator-python",
        program: python,
        script: "app.py",
        trust: "REQUESTS_CA_BUNDLE",
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_sdk_app_checks_exactly_against_the_emulator() {
    let test = "the_javascript_sdk_app_checks_exactly_against_the_emulator";
    if !require(
        test,
        &[
            ("prometheus", "prometheus"),
            ("node", "nodejs"),
            ("npm", "npm"),
        ],
    ) {
        return;
    }
    npm_ci(&app_dir("emulator-js"));
    outbound_flow_checks_exactly(App {
        dir: "emulator-js",
        program: PathBuf::from("node"),
        script: "app.js",
        trust: "NODE_EXTRA_CA_CERTS",
    })
    .await;
}
