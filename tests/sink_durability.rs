//! `--data-dir`: batches acknowledged before a `kill -9` are all there after
//! a restart, and their idempotency keys still deduplicate retries.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const LINE: &str = r#"{"metric":"AcsCallAutomationCallbackEvent","time":"2026-01-01T00:00:01.000Z","dimensions":{"EventTypeName":"Microsoft.Communication.PlayCompleted","Code":"200","CodeClass":"2xx","SubCode":"0","Version":"2025-05-15"},"value":1}"#;

/// Starts `callmetrics sink` on a free port; returns the child and its URL.
fn start_sink(dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_callmetrics"))
        .args(["sink", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the sink");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first.trim().rsplit(' ').next().unwrap().to_string();
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "unexpected first line {first:?}"
    );
    (child, url)
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
    let (mut first, url) = start_sink(dir.path());
    let mut sent = 0;
    for i in 0..50 {
        post(&client, &url, &format!("batch-{i}"), i + 1).await;
        sent += i as u64 + 1;
    }
    assert_eq!(count(&client, &url).await, sent);
    first.kill().unwrap(); // SIGKILL: no shutdown, no flush
    first.wait().unwrap();

    let (mut second, url) = start_sink(dir.path());
    assert_eq!(
        count(&client, &url).await,
        sent,
        "acknowledged samples lost across kill -9"
    );
    // A retry of an acknowledged batch is recognised after the restart.
    let v = post(&client, &url, "batch-7", 8).await;
    assert_eq!(v["duplicate"], true);
    assert_eq!(count(&client, &url).await, sent);
    second.kill().unwrap();
    second.wait().unwrap();
}
