//! `emulate` through the binary, with a client that signs as the SDKs do
//! (written here from the documented formula, not the emulator's code):
//! what it refuses and how it counts what it refuses, and the bad input it
//! stops at with exit 2. The official SDKs' own runs are in
//! `servers::emulator_apps`.

use crate::common::fake_app;
use crate::common::recount::cells_of_expected;
use crate::common::servers::{Server, callback_app, callback_app_dir, free_port, npm_ci, require};
use crate::common::{self, callmetrics};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const KEY: &str = "Y2FsbG1ldHJpY3MtZW11bGF0b3ItdGVzdC1rZXktMzI=";
const VERSION: &str = "2025-05-15";

/// The emulator of `scenario` (a path from the repository's root) on a
/// free port.
async fn emulator(dir: &Path, scenario: &str, extra: &[&str]) -> (Server, String) {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_callmetrics"));
    command
        .current_dir(common::repo())
        .args(["emulate", scenario, "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--access-key", KEY, "--duration", "2m", "--settle", "0s"])
        .arg("--ca-out")
        .arg(dir.join("ca.pem"))
        .arg("--expected-out")
        .arg(dir.join("expected.json"))
        .arg("--summary-out")
        .arg(dir.join("summary.json"))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let server = Server::spawn("callmetrics emulate", &mut command);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "no listener");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (server, format!("127.0.0.1:{port}"))
}

/// A request as an SDK signs it: `key` over `signed_body`, sent with
/// `body` (they differ only to tamper), dated `date`.
struct Signed<'a> {
    method: reqwest::Method,
    path_and_query: String,
    signed_body: &'a [u8],
    body: &'a [u8],
    key: &'a str,
    date: SystemTime,
}

async fn send(client: &reqwest::Client, host: &str, r: Signed<'_>) -> (u16, Value) {
    let hash = STANDARD.encode(ring::digest::digest(&ring::digest::SHA256, r.signed_body));
    let date = httpdate::fmt_http_date(r.date);
    let to_sign = format!("{}\n{}\n{date};{host};{hash}", r.method, r.path_and_query);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &STANDARD.decode(r.key).unwrap());
    let signature = STANDARD.encode(ring::hmac::sign(&key, to_sign.as_bytes()));
    let reply = client
        .request(r.method, format!("https://{host}{}", r.path_and_query))
        .header("x-ms-date", date)
        .header("x-ms-content-sha256", hash)
        .header(
            "authorization",
            format!(
                "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}"
            ),
        )
        .header("content-type", "application/json")
        .body(r.body.to_vec())
        .send()
        .await
        .expect("the emulator answers");
    let status = reply.status().as_u16();
    let body = reply.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Counts of `metric` in the expected file, by the values of two of its
/// dimensions.
fn counts_by(
    expected: &str,
    metric: &str,
    [first, second]: [&str; 2],
) -> BTreeMap<(String, String), u64> {
    let mut counts = BTreeMap::new();
    for ((name, dims, _), cell) in cells_of_expected(expected) {
        if name != metric {
            continue;
        }
        let dim = |name: &str| {
            dims.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        *counts.entry((dim(first), dim(second))).or_default() += cell[0];
    }
    counts
}

/// Request counts of the expected file, by (Operation, StatusCode).
pub(crate) fn requests_by_status(expected: &str) -> BTreeMap<(String, String), u64> {
    counts_by(
        expected,
        "APIRequestCallAutomation",
        ["Operation", "StatusCode"],
    )
}

/// `(a, b, n)` triples as counts keyed by `(a, b)`.
fn pairs(list: &[(&str, &str, u64)]) -> BTreeMap<(String, String), u64> {
    list.iter()
        .map(|(a, b, n)| ((a.to_string(), b.to_string()), *n))
        .collect()
}

/// The samples of counter `name` in a Prometheus exposition, summed by the
/// value of `label`.
fn exposition_counts(text: &str, name: &str, label: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    let key = format!("{label}=\"");
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name).and_then(|r| r.strip_prefix('{')) else {
            continue;
        };
        let (labels, value) = rest.rsplit_once("} ").expect("a sample line");
        let of = labels
            .split(',')
            .find_map(|pair| pair.strip_prefix(&key))
            .map(|v| v.trim_end_matches('"').to_string())
            .unwrap_or_else(|| panic!("{label} in {line}"));
        *counts.entry(of).or_default() += value.parse::<u64>().expect("a count");
    }
    counts
}

/// A client that trusts the emulator's generated certificate.
fn trusting(dir: &Path) -> reqwest::Client {
    common::install_tls_provider();
    let ca = std::fs::read(dir.join("ca.pem")).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .no_proxy()
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_unexpected_requests_are_answered_counted_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let (emulator, host) = emulator(dir.path(), "scenarios/outbound-notification.json", &[]).await;
    let client = trusting(dir.path());
    let create = format!("/calling/callConnections?api-version={VERSION}");
    let body = br#"{"targets":[{"rawId":"4:+14255550100","kind":"phoneNumber","phoneNumber":{"value":"+14255550100"}}],"callbackUri":"http://127.0.0.1:9/api/callbacks"}"#;
    let now = SystemTime::now();
    let signed = |path_and_query: &str, signed_body, body, key, date| Signed {
        method: reqwest::Method::POST,
        path_and_query: path_and_query.to_string(),
        signed_body,
        body,
        key,
        date,
    };
    let other_key = STANDARD.encode(b"not the emulator's access key!!!");
    let tampered = br#"{"targets":[],"callbackUri":"http://127.0.0.1:9/other"}"#;
    let stale = now - Duration::from_secs(20 * 60);
    for (what, request) in [
        ("a wrong key", signed(&create, body, body, &other_key, now)),
        ("a tampered body", signed(&create, body, tampered, KEY, now)),
        ("a stale date", signed(&create, body, body, KEY, stale)),
    ] {
        let (status, answer) = send(&client, &host, request).await;
        assert_eq!(status, 401, "{what}: {answer}");
        assert_eq!(answer["error"]["code"], "7509", "{what}: {answer}");
    }

    let no_route = "/calling/nothingHere?api-version=2025-05-15";
    let (status, _) = send(&client, &host, signed(no_route, b"{}", b"{}", KEY, now)).await;
    assert_eq!(status, 404, "an unknown route");
    let play = format!("/calling/callConnections/never-issued:play?api-version={VERSION}");
    let (status, answer) = send(&client, &host, signed(&play, b"{}", b"{}", KEY, now)).await;
    assert_eq!((status, &answer["error"]["code"]), (404, &"8522".into()));
    let ftp = br#"{"targets":[],"callbackUri":"ftp://127.0.0.1/callbacks"}"#;
    let (status, answer) = send(&client, &host, signed(&create, ftp, ftp, KEY, now)).await;
    assert_eq!(status, 400, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("callbackUri"), "{answer}");

    emulator.terminate();
    let expected = common::read(&dir.path().join("expected.json"));
    // The unknown route names no operation: answered and listed, not counted.
    assert_eq!(
        requests_by_status(&expected),
        pairs(&[
            ("Create Call", "401", 3),
            ("Create Call", "400", 1),
            ("Play", "404", 1)
        ])
    );
    let summary: Value =
        serde_json::from_str(&common::read(&dir.path().join("summary.json"))).unwrap();
    let reasons: Vec<&String> = summary["unauthorized"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(reasons.len(), 3, "one reason each: {summary}");
    let unexpected = summary["unexpected"].to_string();
    assert!(unexpected.contains("nothingHere"), "{summary}");
    assert!(unexpected.contains("does not know"), "{summary}");
}

/// The flow's standalone CallDisconnected (the callee hanging up) comes
/// unasked, 300 ms after CallConnected; the app's next request finds the
/// call over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_hangs_up_on_their_own_and_the_call_is_over() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = "tests/fixtures/emulator/caller-hangs-up.json";
    let query_port = free_port();
    let query = format!("127.0.0.1:{query_port}");
    let report = dir.path().join("report.html");
    let control = format!("127.0.0.1:{}", free_port());
    let extra = [
        "--query-listen",
        &query,
        "--report",
        report.to_str().unwrap(),
        "--control",
        &control,
    ];
    let (emulator, host) = emulator(dir.path(), scenario, &extra).await;
    let client = trusting(dir.path());
    let app = fake_app::serve(|_| fake_app::answer(200, "text/plain", "")).await;
    let id = create_call(&client, &host, &format!("http://{app}/api/callbacks")).await;
    let signed = |path_and_query: String, body| Signed {
        method: reqwest::Method::POST,
        path_and_query,
        signed_body: body,
        body,
        key: KEY,
        date: SystemTime::now(),
    };
    // CallConnected at 100 ms, CallDisconnected 300 ms later.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let play = format!("/calling/callConnections/{id}:play?api-version={VERSION}");
    let (status, answer) = send(&client, &host, signed(play, b"{}")).await;
    assert_eq!((status, &answer["error"]["code"]), (400, &"8528".into()));
    // The query API serves the counts while the emulator runs.
    let exposition = common::http()
        .get(format!("http://{query}/prometheus"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    let status: Value = common::http()
        .get(format!("http://{control}/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&status["calls_started"], &status["calls_ended"]),
        (&1.into(), &1.into()),
        "{status}"
    );
    assert_eq!(status["requests"]["Play"]["400"], 1, "{status}");

    emulator.terminate();
    let expected = common::read(&dir.path().join("expected.json"));
    assert_eq!(
        exposition_counts(
            &exposition,
            "callmetrics_callback_events_total",
            "event_type_name"
        ),
        BTreeMap::from([
            ("Microsoft.Communication.CallConnected".to_string(), 1),
            ("Microsoft.Communication.CallDisconnected".to_string(), 1),
        ]),
        "{exposition}"
    );
    assert_eq!(
        exposition_counts(&exposition, "callmetrics_api_requests_total", "status_code"),
        BTreeMap::from([("201".to_string(), 1), ("400".to_string(), 1)]),
        "{exposition}"
    );
    assert_eq!(
        counts_by(
            &expected,
            "AcsCallAutomationCallbackEvent",
            ["EventTypeName", "Code"]
        ),
        pairs(&[
            ("Microsoft.Communication.CallConnected", "200", 1),
            ("Microsoft.Communication.CallDisconnected", "200", 1),
        ])
    );
    assert_eq!(
        requests_by_status(&expected),
        pairs(&[("Create Call", "201", 1), ("Play", "400", 1)])
    );
    // --report charts what was counted, per dimension value.
    let page = common::page_data(&report);
    let callbacks = page["traffic"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["metric"] == "AcsCallAutomationCallbackEvent")
        .expect("the callback metric is charted");
    let event_types = callbacks["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "EventTypeName")
        .expect("by event type");
    assert_eq!(
        event_types["values"],
        serde_json::json!([
            ["Microsoft.Communication.CallConnected", 1, null, false],
            ["Microsoft.Communication.CallDisconnected", 1, null, false]
        ])
    );
    let meta = page["meta"].to_string();
    assert!(meta.contains("Play (400: 1)"), "{meta}");
}

/// Create Call, signed as the SDKs sign it, for a call whose callbacks go
/// to `callback_uri`; the call's id.
async fn create_call(client: &reqwest::Client, host: &str, callback_uri: &str) -> String {
    let create = format!("/calling/callConnections?api-version={VERSION}");
    let body = format!(
        r#"{{"targets":[{{"rawId":"4:+14255550100","kind":"phoneNumber","phoneNumber":{{"value":"+14255550100"}}}}],"callbackUri":"{callback_uri}"}}"#
    );
    let request = Signed {
        method: reqwest::Method::POST,
        path_and_query: create,
        signed_body: body.as_bytes(),
        body: body.as_bytes(),
        key: KEY,
        date: SystemTime::now(),
    };
    let (status, call) = send(client, host, request).await;
    assert_eq!(status, 201, "{call}");
    call["callConnectionId"]
        .as_str()
        .expect("a call id")
        .to_string()
}

/// `--sign`: each callback carries a token the Node.js callback app
/// (tests/apps/acs-callback-app, `jose`) validates against the OpenID
/// configuration the emulator serves beside its API, over its HTTPS; an
/// app expecting another audience refuses them, and the summary says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_callbacks_validate_against_the_emulators_openid_configuration() {
    let test = "signed_callbacks_validate_against_the_emulators_openid_configuration";
    if !require(test, &[("node", "nodejs"), ("npm", "npm")]) {
        return;
    }
    npm_ci(&callback_app_dir());
    const AUDIENCE: &str = "7c1e9a3f-5b2d-4e8a-9c6f-1a2b3c4d5e6f";
    let dir = tempfile::tempdir().unwrap();
    let scenario = "tests/fixtures/emulator/caller-hangs-up.json";
    let sign = ["--sign", "--acs-resource-id", AUDIENCE];
    let (emulator, host) = emulator(dir.path(), scenario, &sign).await;
    let client = trusting(dir.path());
    let configuration = format!("https://{host}/calling/.well-known/acsopenidconfiguration");
    let ca = dir.path().join("ca.pem");
    let app = |audience| {
        callback_app(&[
            ("OIDC_CONFIGURATION_URL", &configuration),
            ("AUDIENCE", audience),
            ("NODE_EXTRA_CA_CERTS", ca.to_str().unwrap()),
        ])
    };
    let (_trusting, trusting_url) = app(AUDIENCE);
    let (_foreign, foreign_url) = app("00000000-0000-0000-0000-000000000000");
    create_call(&client, &host, &format!("{trusting_url}/api/callbacks")).await;
    create_call(&client, &host, &format!("{foreign_url}/api/callbacks")).await;
    // CallConnected at 100 ms, the callee's CallDisconnected 300 ms later.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    emulator.terminate();

    let summary: Value =
        serde_json::from_str(&common::read(&dir.path().join("summary.json"))).unwrap();
    assert_eq!(
        summary["callbacks_delivered"],
        serde_json::json!({
            "Microsoft.Communication.CallConnected": 1,
            "Microsoft.Communication.CallDisconnected": 1,
        }),
        "{summary}"
    );
    assert_eq!(
        summary["callbacks_failed"],
        serde_json::json!({
            "Microsoft.Communication.CallConnected: the app answered HTTP 401": 1,
            "Microsoft.Communication.CallDisconnected: the app answered HTTP 401": 1,
        }),
        "{summary}"
    );
}

/// An IncomingCall the app fails to take is posted again as Event Grid
/// does: after a 503 ten seconds later, after a 400 never.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_incoming_call_is_posted_again_as_event_grid_does() {
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    // Notifications seen, by event id, in order.
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let app = fake_app::serve_reading({
        let seen = seen.clone();
        move |parts, body| {
            let events: Value = serde_json::from_slice(body).unwrap_or_default();
            if parts.headers["aeg-event-type"] == "SubscriptionValidation" {
                let code = &events[0]["data"]["validationCode"];
                let answer = serde_json::json!({ "validationResponse": code });
                return fake_app::answer(200, "application/json", &answer.to_string());
            }
            let id = events[0]["id"].as_str().unwrap_or_default().to_string();
            let mut seen = seen.lock().unwrap();
            let first = seen.iter().position(|s| *s == id);
            seen.push(id);
            match first {
                Some(_) => fake_app::answer(200, "text/plain", ""),
                None if seen.len() == 1 => fake_app::answer(503, "text/plain", "busy"),
                None => fake_app::answer(400, "text/plain", "no"),
            }
        }
    })
    .await;
    let url = format!("http://{app}/api/incomingCall");
    let extra = ["--incoming-call-url", &url, "--calls", "2", "--rate", "5/s"];
    let (emulator, _) = emulator(dir.path(), "scenarios/inbound-ivr.json", &extra).await;
    let started = Instant::now();
    while seen.lock().unwrap().len() < 3 {
        assert!(started.elapsed() < Duration::from_secs(30), "{seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let retried_after = started.elapsed();
    emulator.terminate();

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "the 400 is not tried again: {seen:?}");
    assert_eq!(seen[0], seen[2], "the 503 is: {seen:?}");
    assert!(
        retried_after >= Duration::from_secs(10),
        "{retried_after:?}"
    );
    let summary: Value =
        serde_json::from_str(&common::read(&dir.path().join("summary.json"))).unwrap();
    assert_eq!(
        (
            &summary["incoming_calls_posted"],
            &summary["incoming_call_retries"]
        ),
        (&1.into(), &1.into()),
        "{summary}"
    );
    assert_eq!(
        summary["callbacks_failed"],
        serde_json::json!({"IncomingCall: the app answered HTTP 400": 1}),
        "{summary}"
    );
}

/// Event Grid's manual handshake: an app that answers the validation
/// 200 without a validationResponse and then GETs the validationUrl is
/// validated, and gets its incoming calls; a GET naming another code is
/// refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_fetches_the_validation_url_is_validated() {
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().to_path_buf();
    let notifications: Arc<Mutex<u32>> = Arc::default();
    let app = fake_app::serve_reading({
        let notifications = notifications.clone();
        move |parts, body| {
            let events: Value = serde_json::from_slice(body).unwrap_or_default();
            if parts.headers["aeg-event-type"] == "SubscriptionValidation" {
                let url = events[0]["data"]["validationUrl"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let ca_dir = ca_dir.clone();
                // Later, as a person with a browser would.
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    let _ = trusting(&ca_dir).get(url).send().await;
                });
                return fake_app::answer(200, "text/plain", "");
            }
            *notifications.lock().unwrap() += 1;
            fake_app::answer(200, "text/plain", "")
        }
    })
    .await;
    let url = format!("http://{app}/api/incomingCall");
    let extra = ["--incoming-call-url", &url, "--calls", "1", "--rate", "5/s"];
    // An app that never fetches it: the summary says what is awaited.
    let silent = fake_app::serve(|_| fake_app::answer(200, "text/plain", "")).await;
    let silent_dir = tempfile::tempdir().unwrap();
    let silent_url = format!("http://{silent}/api/incomingCall");
    let waiting = ["--incoming-call-url", &silent_url, "--calls", "1"];
    let (silent_emulator, _) =
        emulator(silent_dir.path(), "scenarios/inbound-ivr.json", &waiting).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    silent_emulator.terminate();
    let summary: Value =
        serde_json::from_str(&common::read(&silent_dir.path().join("summary.json"))).unwrap();
    assert_eq!(
        summary["incoming_validation"], "awaiting a GET of the validationUrl",
        "{summary}"
    );
    assert_eq!(summary["incoming_calls_posted"], 0, "{summary}");
    let (emulator, host) = emulator(dir.path(), "scenarios/inbound-ivr.json", &extra).await;
    let wrong = format!("https://{host}/eventsubscriptions/callmetrics/validate?id=guessed");
    let refused = trusting(dir.path()).get(wrong).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    let started = Instant::now();
    while *notifications.lock().unwrap() < 1 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no IncomingCall"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    emulator.terminate();
    let summary: Value =
        serde_json::from_str(&common::read(&dir.path().join("summary.json"))).unwrap();
    assert_eq!(
        (
            &summary["incoming_validation"],
            &summary["incoming_calls_posted"]
        ),
        (&"passed (validationUrl)".into(), &1.into()),
        "{summary}"
    );
}

#[test]
fn bad_input_exits_2_naming_the_field() {
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "scenarios/outbound-notification.json",
                "--access-key",
                "not base64!",
            ],
            "--access-key",
        ),
        (
            &["scenarios/inbound-ivr.json", "--access-key", KEY],
            "--incoming-call-url: required, as flow \"self-service-menu\"",
        ),
        (
            &[
                "scenarios/outbound-notification.json",
                "--access-key",
                KEY,
                "--incoming-call-url",
                "http://127.0.0.1:9/api/incomingCall",
            ],
            "--incoming-call-url: no flow",
        ),
        (
            &[
                "scenarios/inbound-ivr.json",
                "--access-key",
                KEY,
                "--incoming-call-url",
                "ftp://127.0.0.1/incoming",
            ],
            "http:// or https://",
        ),
    ];
    for (args, message) in cases {
        // Port 0: a case that wrongly started would not hold a fixed port.
        let mut all = vec!["emulate", "--listen", "127.0.0.1:0", "--duration", "1s"];
        all.extend_from_slice(args);
        let run = callmetrics(&all);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.describe());
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
    }
}
