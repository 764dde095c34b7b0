//! `run --target webhook` end to end over loopback, bounded in count and
//! time: callbacks into the embedded sink's /callbacks check green; an app
//! that refuses some callbacks, redirects or resets gets exactly its
//! acknowledged callbacks in expected.json, the refusals counted by kind
//! and exit 2.

use crate::common;

use crate::common::callmetrics;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[test]
fn callbacks_into_the_embedded_sink_check_green() {
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.json");
    let run = callmetrics(&[
        "run",
        "scenarios/inbound-ivr.json",
        "--target",
        "webhook",
        "--calls",
        "300",
        "--max-rate",
        "--quiet",
        "--expected-out",
        expected.to_str().unwrap(),
    ])
    .expect_code(0);
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());
    let file: Value = serde_json::from_str(&common::read(&expected)).unwrap();
    let names: Vec<&str> = file["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"]["value"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["AcsCallAutomationCallbackEvent"]);
}

/// What the test app saw.
#[derive(Default)]
struct App {
    requests: AtomicU64,
    /// CloudEvent ids acknowledged with 2xx.
    acknowledged: Mutex<Vec<String>>,
    bodies_per_request: Mutex<BTreeSet<usize>>,
}

/// Every 7th request answers `refusal`, the others 204 after counting the
/// CloudEvents of the body.
async fn callback(
    State((app, refusal)): State<(Arc<App>, u16)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let n = app.requests.fetch_add(1, Ordering::SeqCst);
    assert_eq!(headers["content-type"], "application/json");
    let events: Vec<Value> = serde_json::from_slice(&body).expect("a JSON array");
    app.bodies_per_request.lock().unwrap().insert(events.len());
    if n % 7 == 3 {
        let mut response = StatusCode::from_u16(refusal).unwrap().into_response();
        if refusal == 302 {
            response
                .headers_mut()
                .insert("location", "/elsewhere".parse().unwrap());
        }
        return response;
    }
    let mut seen = app.acknowledged.lock().unwrap();
    for e in events {
        assert!(
            e["type"]
                .as_str()
                .unwrap()
                .starts_with("Microsoft.Communication.")
        );
        seen.push(e["id"].as_str().unwrap().to_string());
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn start_app(refusal: u16) -> (Arc<App>, String) {
    let app = Arc::new(App::default());
    let router = axum::Router::new()
        .route("/api/callbacks", axum::routing::post(callback))
        .route("/elsewhere", axum::routing::any(|| async { "moved" }))
        .with_state((Arc::clone(&app), refusal));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/callbacks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (app, url)
}

fn callback_count(expected: &Value) -> u64 {
    expected["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["name"]["value"] == "AcsCallAutomationCallbackEvent")
        .flat_map(|m| m["timeseries"].as_array().unwrap())
        .flat_map(|ts| ts["data"].as_array().unwrap())
        .map(|p| p["count"].as_u64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_redirected_callbacks_are_counted_and_not_expected() {
    for (refusal, kind, per_request) in [(500, "500", "1"), (302, "302", "3")] {
        let (app, url) = start_app(refusal).await;
        let dir = tempfile::tempdir().unwrap();
        let expected = dir.path().join("expected.json");
        let summary = dir.path().join("summary.json");
        let (e, s) = (
            expected.to_str().unwrap().to_string(),
            summary.to_str().unwrap().to_string(),
        );
        let per = per_request.to_string();
        let run = tokio::task::spawn_blocking(move || {
            callmetrics(&[
                "run",
                "scenarios/outbound-notification.json",
                "--target",
                "webhook",
                "--sink",
                &url,
                "--calls",
                "200",
                "--max-rate",
                "--events-per-request",
                &per,
                "--expected-out",
                &e,
                "--summary-out",
                &s,
            ])
        })
        .await
        .unwrap()
        .expect_code(2);
        assert!(
            run.stderr.contains("could not be delivered"),
            "{}",
            run.describe()
        );
        assert!(run.stderr.contains("not sent"), "{}", run.describe());
        let summary: Value = serde_json::from_str(&common::read(&summary)).unwrap();
        let requests = app.requests.load(Ordering::SeqCst);
        let refused = (0..requests).filter(|n| n % 7 == 3).count() as u64;
        assert!(refused > 0);
        assert_eq!(summary["failedRequests"], refused, "{summary}");
        assert_eq!(summary["failuresByKind"][kind], refused, "{summary}");
        assert_eq!(summary["requests"], requests - refused);
        assert_eq!(summary["replies"]["204"], requests - refused);
        assert_eq!(summary["retries"], 0, "no retries by default");
        assert!(summary["latencyMs"]["p99"].as_f64().unwrap() > 0.0);
        // The app never saw the redirect target: POSTs are not redirected.
        let acknowledged = app.acknowledged.lock().unwrap().clone();
        let unique: BTreeSet<&String> = acknowledged.iter().collect();
        assert_eq!(unique.len(), acknowledged.len(), "no callback twice");
        assert_eq!(summary["events"], acknowledged.len() as u64);
        // expected.json holds exactly what the app acknowledged.
        let file: Value = serde_json::from_str(&common::read(&expected)).unwrap();
        assert_eq!(callback_count(&file), acknowledged.len() as u64);
        let sizes = app.bodies_per_request.lock().unwrap().clone();
        let max = per_request.parse::<usize>().unwrap();
        assert!(sizes.iter().all(|n| (1..=max).contains(n)), "{sizes:?}");
        assert!(sizes.contains(&max));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_callbacks_keep_their_cloud_event_ids() {
    let (app, url) = start_app(503).await;
    let run = tokio::task::spawn_blocking(move || {
        callmetrics(&[
            "run",
            "scenarios/outbound-notification.json",
            "--target",
            "webhook",
            "--sink",
            &url,
            "--calls",
            "100",
            "--max-rate",
            "--retries",
            "8",
            "--quiet",
        ])
    })
    .await
    .unwrap()
    .expect_code(0);
    assert!(run.stderr.is_empty(), "{}", run.describe());
    // Every refused request was retried with the same body, so every
    // CloudEvent arrived exactly once among the acknowledged ones.
    let acknowledged = app.acknowledged.lock().unwrap().clone();
    let unique: BTreeSet<&String> = acknowledged.iter().collect();
    assert_eq!(unique.len(), acknowledged.len());
    let requests = app.requests.load(Ordering::SeqCst) as usize;
    assert!(requests > acknowledged.len(), "some requests were retries");
}

#[test]
fn callbacks_into_a_separate_sink_check_green_from_its_root() {
    let sink = common::SinkProcess::start(&["--listen", "127.0.0.1:0"]);
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.json");
    let callbacks = format!("{}/callbacks", sink.url);
    callmetrics(&[
        "run",
        "scenarios/dtmf-payment.json",
        "--target",
        "webhook",
        "--sink",
        &callbacks,
        "--calls",
        "100",
        "--max-rate",
        "--events-per-request",
        "5",
        "--quiet",
        "--expected-out",
        expected.to_str().unwrap(),
    ])
    .expect_code(0);
    let check = callmetrics(&[
        "check",
        "--expected",
        expected.to_str().unwrap(),
        "--observed",
        &sink.url,
    ])
    .expect_code(0);
    assert!(check.stdout.starts_with("PASS"), "{}", check.describe());
}

/// The CloudEvents (id, type, callConnectionId) an app refused.
type Refused = Arc<Mutex<BTreeSet<(String, String, String)>>>;

/// Refuses (500) every request that carries a CallConnected callback.
async fn refuse_call_connected(State(refused): State<Refused>, body: Bytes) -> StatusCode {
    let events: Vec<Value> = serde_json::from_slice(&body).expect("a JSON array");
    if !events
        .iter()
        .any(|e| e["type"] == "Microsoft.Communication.CallConnected")
    {
        return StatusCode::NO_CONTENT;
    }
    let mut refused = refused.lock().unwrap();
    for e in events {
        refused.insert((
            e["id"].as_str().unwrap().to_string(),
            e["type"].as_str().unwrap().to_string(),
            e["data"]["callConnectionId"].as_str().unwrap().to_string(),
        ));
    }
    StatusCode::INTERNAL_SERVER_ERROR
}

// Issue #18, item 6: a refused callback is named by what the app logs
// (CloudEvent id, type and callConnectionId), not only by the request's
// number: the first ten on the terminal, every one in --summary-out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_callbacks_are_named_by_their_cloud_events() {
    let refused = Refused::default();
    let router = axum::Router::new()
        .route("/api/callbacks", axum::routing::post(refuse_call_connected))
        .with_state(Arc::clone(&refused));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/callbacks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let run = common::callmetrics_async(&[
        "run",
        "scenarios/outbound-notification.json",
        "--target",
        "webhook",
        "--sink",
        &url,
        "--calls",
        "60",
        "--max-rate",
        "--summary-out",
        summary.to_str().unwrap(),
    ])
    .await
    .expect_code(2);
    let refused = refused.lock().unwrap().clone();
    assert!(refused.len() > 10, "{}", run.describe());
    let summary: Value = serde_json::from_str(&common::read(&summary)).unwrap();
    assert_eq!(summary["failedRequests"], refused.len() as u64);
    assert_eq!(summary["failuresNotListed"], 0);
    let listed: BTreeSet<(String, String, String)> = summary["failures"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["cloudEvents"].as_array().unwrap())
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap().to_string();
            (text("id"), text("type"), text("callConnectionId"))
        })
        .collect();
    assert_eq!(listed, refused, "exactly the refused callbacks");
    // The terminal names the first ten, each as the app's log would.
    let named: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("  Microsoft.Communication."))
        .collect();
    assert_eq!(named.len(), 10, "{}", run.describe());
    for line in named {
        assert!(
            refused.iter().any(|(id, kind, connection)| line
                == format!("  {kind} id {id} callConnectionId {connection}")),
            "{line} was not refused\n{}",
            run.describe()
        );
    }
    assert!(
        run.stderr.contains(&format!(
            "... and {} more failed requests (--summary-out lists the first {})",
            refused.len() - 10,
            refused.len()
        )),
        "{}",
        run.describe()
    );
}
