//! `--data-dir`: batches acknowledged before a `kill -9` are all there after
//! a restart, and their idempotency keys still deduplicate retries.

mod common;

use common::SinkProcess;

const LINE: &str = r#"{"metric":"AcsCallAutomationCallbackEvent","time":"2026-01-01T00:00:01.000Z","dimensions":{"EventTypeName":"Microsoft.Communication.PlayCompleted","Code":"200","CodeClass":"2xx","SubCode":"0","Version":"2025-05-15"},"value":1}"#;

/// Starts `callmetrics sink` on a free port over `dir`.
fn start_sink(dir: &std::path::Path) -> SinkProcess {
    SinkProcess::start(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        dir.to_str().unwrap(),
    ])
}

async fn post(client: &reqwest::Client, url: &str, key: &str, lines: usize) -> serde_json::Value {
    let body = format!("{LINE}\n").repeat(lines);
    let r = client
        .post(format!("{url}/ingest"))
        .header("content-type", "application/x-ndjson")
        .header("idempotency-key", key)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn count(client: &reqwest::Client, url: &str) -> u64 {
    let r = client
        .get(format!(
            "{url}/metrics?metricnames=AcsCallAutomationCallbackEvent&aggregation=Count"
        ))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    v["value"][0]["timeseries"][0]["data"][0]["count"]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test]
async fn acknowledged_batches_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let mut first = start_sink(dir.path());
    let url = first.url.clone();
    let mut sent = 0;
    for i in 0..50 {
        post(&client, &url, &format!("batch-{i}"), i + 1).await;
        sent += i as u64 + 1;
    }
    assert_eq!(count(&client, &url).await, sent);
    first.kill(); // SIGKILL: no shutdown, no flush

    let second = start_sink(dir.path());
    let url = second.url.clone();
    assert_eq!(
        count(&client, &url).await,
        sent,
        "acknowledged samples lost across kill -9"
    );
    // A retry of an acknowledged batch is recognised after the restart.
    let v = post(&client, &url, "batch-7", 8).await;
    assert_eq!(v["duplicate"], true);
    assert_eq!(count(&client, &url).await, sent);
    drop(second);
}
