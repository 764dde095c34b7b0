//! `emulate` against the reference apps (tests/apps/emulator-js and
//! tests/apps/emulator-python), each written with its official Call
//! Automation SDK (1.6.0) and unchanged: the app trusts the emulator's
//! generated certificate, signs its requests with the access key, runs one
//! of two shipped flows and counts what it did in Prometheus counters:
//! outbound notification (Create Call, Play on CallConnected, Hang Up on
//! PlayCompleted) or the inbound IVR (Event Grid's subscription
//! validation, then Answer on each IncomingCall with its context, a DTMF
//! recognize with a prompt on CallConnected, transfer on "1" or hang up).
//! A real
//! Prometheus scrapes it; `check --backend promql --mapping` must find the
//! app's counts equal to the emulator's expected file, for both metrics,
//! and must fail against an expected file with one count changed.
//! Beside them, each SDK calls every operation once against
//! tests/fixtures/emulator/every-operation.json (`every_operation.py`,
//! `every_operation.js`), and its own models must read every answer.
//!
//! Needs `prometheus`, `node`, `npm` and `python3` (skipped on a developer
//! machine without them, a failure in CI). Bounded: a few calls, each
//! process killed when the test ends.

use crate::common;
use crate::common::servers::{
    Server, Store, check_promql, free_port, npm_ci, python_venv, require, start_store,
    wait_for_scrape_after, wait_ready,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const CALLS: u32 = 4;

/// The access key both sides share: base64 of 32 fixed bytes.
const ACCESS_KEY: &str = "Y2FsbG1ldHJpY3MtZW11bGF0b3ItdGVzdC1rZXktMzI=";

fn app_dir(name: &str) -> PathBuf {
    common::repo().join("tests/apps").join(name)
}

/// Which shipped flow the app runs.
#[derive(Clone, Copy, PartialEq)]
enum Flow {
    Outbound,
    Inbound,
    /// tests/fixtures/emulator/every-operation.json: a step for every
    /// operation, each a success.
    EveryOperation,
}

/// The emulator on a free port for `flow`, posting incoming calls to the
/// app on `app_port`, its certificate in `dir/ca.pem`; it writes
/// `dir/expected.json` and `dir/summary.json` when it stops.
async fn emulator(dir: &Path, flow: Flow, app_port: u16) -> (Server, u16) {
    let port = free_port();
    let out = std::fs::File::create(dir.join("emulate.out")).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_callmetrics"));
    command.current_dir(common::repo()).arg("emulate");
    match flow {
        Flow::Outbound => command.arg("scenarios/outbound-notification.json"),
        Flow::Inbound => command
            .arg("scenarios/inbound-ivr.json")
            .arg("--incoming-call-url")
            .arg(format!("http://127.0.0.1:{app_port}/api/incomingCall"))
            .args(["--calls", &CALLS.to_string(), "--rate", "2/s"]),
        Flow::EveryOperation => command
            .arg("tests/fixtures/emulator/every-operation.json")
            .arg("--incoming-call-url")
            .arg(format!("http://127.0.0.1:{app_port}/api/incomingCall"))
            .args(["--calls", "3", "--rate", "5/s"]),
    };
    command
        .arg("--listen")
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

/// Runs `flow` of `app` against the emulator, scraped by a real
/// Prometheus; the check must pass against expected.json and fail against
/// a copy with one count changed.
async fn flow_checks_exactly(app: App, flow: Flow) {
    let dir = tempfile::tempdir().unwrap();
    let app_port = free_port();
    let (emulator, port) = emulator(dir.path(), flow, app_port).await;
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
        .env(
            "FLOW",
            match flow {
                Flow::Outbound | Flow::EveryOperation => "outbound",
                Flow::Inbound => "inbound",
            },
        )
        .env("CALLS", CALLS.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let _app = Server::spawn("reference app", &mut command);
    let url = format!("http://{target}");
    wait_ready(&format!("{url}/status"), Duration::from_secs(30)).await;
    // Every call ends with CallDisconnected (or a failed setup); the
    // slowest outcomes draw their callbacks within a minute or so.
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
    // A setup the scenario refuses (429, 5xx) starts no call.
    assert!(summary["calls_started"].as_u64() >= Some(1), "{summary}");
    let setup = match flow {
        Flow::Outbound | Flow::EveryOperation => "Create Call",
        Flow::Inbound => "Answer Call",
    };
    assert!(summary["requests"][setup].is_object(), "{summary}");
    if flow == Flow::Inbound {
        assert_eq!(summary["incoming_validation"], "passed", "{summary}");
        assert_eq!(summary["incoming_calls_posted"], CALLS, "{summary}");
        assert!(summary["requests"]["PlayPrompt"].is_object(), "{summary}");
    }
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
    let check = async |expected: &Path| {
        check_promql(expected.to_str().unwrap(), &prometheus, &mapping, &[]).await
    };
    let run = check(&expected).await;
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
    let run = check(&wrong).await;
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
}

/// The Python app, its venv made; `None` (skipped) without its servers.
fn python_app(test: &str) -> Option<App> {
    let needs = [("prometheus", "prometheus"), ("python3", "python3")];
    require(test, &needs).then(|| App {
        dir: "emulator-python",
        program: python_venv(&app_dir("emulator-python")),
        script: "app.py",
        trust: "REQUESTS_CA_BUNDLE",
    })
}

/// The JavaScript app, its packages installed; `None` (skipped) without
/// its servers.
fn javascript_app(test: &str) -> Option<App> {
    let needs = [
        ("prometheus", "prometheus"),
        ("node", "nodejs"),
        ("npm", "npm"),
    ];
    require(test, &needs).then(|| {
        npm_ci(&app_dir("emulator-js"));
        App {
            dir: "emulator-js",
            program: PathBuf::from("node"),
            script: "app.js",
            trust: "NODE_EXTRA_CA_CERTS",
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_app_checks_exactly_against_the_emulator() {
    if let Some(app) = python_app("the_python_sdk_app_checks_exactly_against_the_emulator") {
        flow_checks_exactly(app, Flow::Outbound).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_app_answers_incoming_calls_and_checks_exactly() {
    if let Some(app) = python_app("the_python_sdk_app_answers_incoming_calls_and_checks_exactly") {
        flow_checks_exactly(app, Flow::Inbound).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_sdk_app_checks_exactly_against_the_emulator() {
    if let Some(app) = javascript_app("the_javascript_sdk_app_checks_exactly_against_the_emulator")
    {
        flow_checks_exactly(app, Flow::Outbound).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_sdk_app_answers_incoming_calls_and_checks_exactly() {
    let test = "the_javascript_sdk_app_answers_incoming_calls_and_checks_exactly";
    if let Some(app) = javascript_app(test) {
        flow_checks_exactly(app, Flow::Inbound).await;
    }
}

/// Runs `script` of `app` against the emulator on `port` with the access
/// key `key`, trusting `ca`, its Event Grid webhook on `app_port`; what it
/// printed and how it ended.
async fn drive(
    app: &App,
    script: &str,
    (port, app_port): (u16, u16),
    ca: &Path,
    key: &str,
) -> std::process::Output {
    drive_with(app, script, (port, app_port), ca, key, None).await
}

/// `drive`, with the script's `TAMPER` mode set when `tamper` is.
async fn drive_with(
    app: &App,
    script: &str,
    (port, app_port): (u16, u16),
    ca: &Path,
    key: &str,
    tamper: Option<&str>,
) -> std::process::Output {
    let mut command = Command::new(&app.program);
    if let Some(tamper) = tamper {
        command.env("TAMPER", tamper);
    }
    command
        .arg(script)
        .current_dir(app_dir(app.dir))
        .env("PORT", app_port.to_string())
        .env(
            "ACS_CONNECTION_STRING",
            format!("endpoint=https://127.0.0.1:{port}/;accesskey={key}"),
        )
        .env(app.trust, ca);
    // Bounded: the script's requests fail once the emulator is gone.
    tokio::time::timeout(
        Duration::from_secs(120),
        tokio::task::spawn_blocking(move || command.output()),
    )
    .await
    .expect("the script ends within 2 minutes")
    .unwrap()
    .unwrap()
}

/// The SDK of `app` calls every operation once (`script`, beside the
/// app): each answer must be one its own models read (the script exits 1
/// at the first error the SDK raises), and each request must have been
/// answered with its operation's success status.
async fn every_answer_parses(app: App, script: &str) {
    let dir = tempfile::tempdir().unwrap();
    let app_port = free_port();
    let (emulator, port) = emulator(dir.path(), Flow::EveryOperation, app_port).await;
    let ports = (port, app_port);
    let driven = drive(&app, script, ports, &dir.path().join("ca.pem"), ACCESS_KEY).await;
    let stdout = String::from_utf8_lossy(&driven.stdout);
    let stderr = String::from_utf8_lossy(&driven.stderr);
    emulator.terminate();
    let summary: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    // The emulator's summary says what it posted and what failed.
    assert!(
        driven.status.success(),
        "{stdout}\n{stderr}\nthe emulator's summary: {summary}"
    );
    assert_eq!(summary["unexpected"], serde_json::json!({}), "{summary}");
    let requests = summary["requests"].as_object().unwrap();
    let called: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ok "))
        .collect();
    // The catalog's 36 but Delete Call (Hang Up's route).
    assert_eq!(called.len(), 35, "{stdout}");
    for (operation, by_status) in requests {
        let statuses: Vec<u16> = by_status
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.parse().unwrap())
            .collect();
        assert!(
            statuses.iter().all(|s| (200..300).contains(s)),
            "{operation}: {by_status}"
        );
        assert!(
            called.iter().any(|c| c.starts_with(operation.as_str())),
            "{operation} answered but not called: {stdout}"
        );
    }
    assert_eq!(requests.len(), 35, "one operation per SDK call: {summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_parses_the_answer_to_every_operation() {
    if let Some(app) = python_app("the_python_sdk_parses_the_answer_to_every_operation") {
        every_answer_parses(app, "every_operation.py").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_sdk_parses_the_answer_to_every_operation() {
    let test = "the_javascript_sdk_parses_the_answer_to_every_operation";
    if let Some(app) = javascript_app(test) {
        every_answer_parses(app, "every_operation.js").await;
    }
}

/// How the official SDK's request is made wrong.
#[derive(Clone, Copy, Debug)]
enum Refusal {
    /// Signed with another access key.
    WrongKey,
    /// Its body changed after the SDK signed it (`TAMPER=body`).
    TamperedBody,
    /// Signed on a clock 20 minutes behind (`TAMPER=date`).
    StaleDate,
}

/// The official SDK of `app` (`script`) sending a request made wrong as
/// `refusal` says: its first request is refused with ACS's 401, which the
/// SDK raises with ACS's code, counted as a 401 Create Call and listed
/// under the reason the emulator found.
async fn refused(app: App, script: &str, refusal: Refusal) {
    let dir = tempfile::tempdir().unwrap();
    let app_port = free_port();
    let (emulator, port) = emulator(dir.path(), Flow::EveryOperation, app_port).await;
    // base64 of 32 other bytes.
    let wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktMzI=";
    let (key, tamper, reason) = match refusal {
        Refusal::WrongKey => (wrong, None, "the signature does not match"),
        Refusal::TamperedBody => (ACCESS_KEY, Some("body"), "x-ms-content-sha256 is not"),
        Refusal::StaleDate => (ACCESS_KEY, Some("date"), "away from the emulator's clock"),
    };
    let ports = (port, app_port);
    let ca = dir.path().join("ca.pem");
    let driven = drive_with(&app, script, ports, &ca, key, tamper).await;
    let stderr = String::from_utf8_lossy(&driven.stderr);
    assert_eq!(driven.status.code(), Some(1), "{refusal:?}: {stderr}");
    assert!(
        stderr.contains("FAILED Create Call"),
        "{refusal:?}: {stderr}"
    );
    assert!(
        stderr.contains("7509"),
        "ACS's code reaches the app: {refusal:?}: {stderr}"
    );
    emulator.terminate();
    let summary: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["requests"],
        serde_json::json!({"Create Call": {"401": 1}}),
        "{refusal:?}: {summary}"
    );
    // And in the request metric, as `check` reads it.
    let expected = common::read(&dir.path().join("expected.json"));
    assert_eq!(
        crate::emulate::requests_by_status(&expected),
        [(("Create Call".to_string(), "401".to_string()), 1)].into(),
        "{refusal:?}: {expected}"
    );
    let unauthorized = summary["unauthorized"].as_object().unwrap();
    let refused: u64 = unauthorized.values().filter_map(Value::as_u64).sum();
    assert_eq!(refused, 1, "{refusal:?}: {summary}");
    assert!(
        unauthorized.keys().any(|why| why.contains(reason)),
        "{refusal:?} refused for another reason: {summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_with_a_wrong_key_is_refused_with_401_and_counted() {
    let test = "the_python_sdk_with_a_wrong_key_is_refused_with_401_and_counted";
    if let Some(app) = python_app(test) {
        refused(app, "every_operation.py", Refusal::WrongKey).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_sdk_with_a_wrong_key_is_refused_with_401_and_counted() {
    let test = "the_javascript_sdk_with_a_wrong_key_is_refused_with_401_and_counted";
    if let Some(app) = javascript_app(test) {
        refused(app, "every_operation.js", Refusal::WrongKey).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_with_a_tampered_body_or_a_stale_date_is_refused_with_401() {
    let test = "the_python_sdk_with_a_tampered_body_or_a_stale_date_is_refused_with_401";
    for refusal in [Refusal::TamperedBody, Refusal::StaleDate] {
        if let Some(app) = python_app(test) {
            refused(app, "every_operation.py", refusal).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_sdk_with_a_tampered_body_or_a_stale_date_is_refused_with_401() {
    let test = "the_javascript_sdk_with_a_tampered_body_or_a_stale_date_is_refused_with_401";
    for refusal in [Refusal::TamperedBody, Refusal::StaleDate] {
        if let Some(app) = javascript_app(test) {
            refused(app, "every_operation.js", refusal).await;
        }
    }
}
