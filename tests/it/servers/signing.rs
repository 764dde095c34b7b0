//! `run --target webhook --sign`: callbacks signed as ACS signs them, sent
//! to the Node.js callback app (tests/apps/acs-callback-app) validating
//! them the way Microsoft documents (OpenID configuration + audience, with
//! the `jose` library). Every signed callback must pass; a tampered, an
//! expired, a foreign and a missing token must be refused.
//!
//! Needs `node` and `npm` (skipped on a developer machine without them, a
//! failure in CI).

use crate::common;

use crate::common::callmetrics;
use crate::common::servers::{Server, callback_app, callback_app_dir, free_port, npm_ci, require};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use callmetrics::testing::emit::targets::webhook::sign::ACS_ISSUER;
use callmetrics::testing::emit::targets::webhook::{OidcServer, Signer};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const AUDIENCE: &str = "7c1e9a3f-5b2d-4e8a-9c6f-1a2b3c4d5e6f";

/// The app validating tokens against `oidc` for `audience`.
fn start_app(oidc: &str, audience: &str) -> (Server, String) {
    callback_app(&[("OIDC_CONFIGURATION_URL", oidc), ("AUDIENCE", audience)])
}

async fn counts(app: &str) -> Value {
    common::http()
        .get(format!("{app}/dropped"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn ready(test: &str) -> bool {
    let ok = require(test, &[("node", "nodejs"), ("npm", "npm")]);
    if ok {
        npm_ci(&callback_app_dir());
    }
    ok
}

/// Runs a signed webhook replay into `app` with the configuration served
/// on `oidc_port`.
async fn signed_run(app: &str, oidc_port: u16, dir: &std::path::Path) -> (common::Run, Value) {
    let sink = format!("{app}/api/callbacks");
    let listen = format!("127.0.0.1:{oidc_port}");
    let summary = dir.join("summary.json");
    let out = summary.to_str().unwrap().to_string();
    let run = tokio::task::spawn_blocking(move || {
        callmetrics(&[
            "run",
            "scenarios/outbound-notification.json",
            "--target",
            "webhook",
            "--sink",
            &sink,
            "--sign",
            "--acs-resource-id",
            AUDIENCE,
            "--oidc-listen",
            &listen,
            "--calls",
            "40",
            "--max-rate",
            "--concurrency",
            "8",
            "--quiet",
            "--summary-out",
            &out,
        ])
    })
    .await
    .unwrap();
    let summary = serde_json::from_str(&common::read(&summary)).unwrap_or(Value::Null);
    (run, summary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_callbacks_pass_an_app_that_validates_them() {
    if !ready("signed_callbacks_pass_an_app_that_validates_them") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let oidc = format!("http://127.0.0.1:{port}/calling/.well-known/acsopenidconfiguration");
    let (_app, app) = start_app(&oidc, AUDIENCE);
    let (run, summary) = signed_run(&app, port, dir.path()).await;
    let run = run.expect_code(0);
    assert!(
        run.stderr
            .contains(&format!("OpenID configuration: {oidc}")),
        "{}",
        run.describe()
    );
    let seen = counts(&app).await;
    assert_eq!(seen["rejected"], 0, "{seen}");
    assert_eq!(seen["received"], summary["events"], "{seen} {summary}");
    assert!(summary["events"].as_u64().unwrap() > 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_expecting_another_audience_refuses_every_callback() {
    if !ready("an_app_expecting_another_audience_refuses_every_callback") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let oidc = format!("http://127.0.0.1:{port}/calling/.well-known/acsopenidconfiguration");
    let (_app, app) = start_app(&oidc, "00000000-0000-0000-0000-000000000000");
    let (run, summary) = signed_run(&app, port, dir.path()).await;
    run.expect_code(2);
    let refused = summary["failuresByKind"]["401"].as_u64().unwrap();
    assert_eq!(refused, summary["failedRequests"].as_u64().unwrap());
    assert_eq!(summary["requests"], 0);
    assert_eq!(counts(&app).await["rejected"], refused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_expired_foreign_and_missing_tokens_are_refused() {
    if !ready("tampered_expired_foreign_and_missing_tokens_are_refused") {
        return;
    }
    let signer = Arc::new(Signer::generate(AUDIENCE, ACS_ISSUER).unwrap());
    let oidc = OidcServer::start("127.0.0.1:0".parse().unwrap(), Arc::clone(&signer))
        .await
        .unwrap();
    let (_app, app) = start_app(&oidc.configuration_url(), AUDIENCE);
    let body = r#"[{"id":"1","source":"calling/callConnections/c","type":"Microsoft.Communication.CallConnected","specversion":"1.0","time":"2026-01-01T00:00:00.000Z","data":{"version":"2025-05-15","callConnectionId":"c","serverCallId":"s","correlationId":"r","resultInformation":{"code":200,"subCode":0,"message":"ok"}}}]"#;
    let post = |token: Option<String>| {
        let url = format!("{app}/api/callbacks");
        async move {
            let mut request = common::http()
                .post(url)
                .header("content-type", "application/json")
                .body(body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send().await.unwrap().status().as_u16()
        }
    };
    let now = SystemTime::now();
    let valid = signer.token(now);
    assert_eq!(post(Some(valid.clone())).await, 200, "a valid token passes");

    // Tampered: the same signature over other claims.
    let parts: Vec<&str> = valid.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    claims["exp"] = Value::from(claims["exp"].as_u64().unwrap() + 3600);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        B64.encode(claims.to_string()),
        parts[2]
    );
    assert_eq!(post(Some(tampered)).await, 401, "tampered");

    // Expired: issued ten minutes ago, five-minute lifetime.
    let expired = signer.token(now - Duration::from_secs(600));
    assert_eq!(post(Some(expired)).await, 401, "expired");

    // Foreign: another key, not in the published set.
    let stranger = Signer::generate(AUDIENCE, ACS_ISSUER).unwrap();
    assert_eq!(post(Some(stranger.token(now))).await, 401, "foreign key");

    assert_eq!(post(None).await, 401, "no token");
    let seen = counts(&app).await;
    assert_eq!(
        (seen["received"].as_u64(), seen["rejected"].as_u64()),
        (Some(1), Some(4))
    );
    oidc.shutdown().await.unwrap();
}
