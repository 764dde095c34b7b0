//! Azure Monitor ingestion documents (`generate --format azure-monitor`)
//! posted to the embedded sink's `POST /metrics` hold exactly the dataset's
//! expected aggregates: `check` passes against the sink, also after a
//! `kill -9` and a restart on its data dir; an inconsistent document is
//! refused, naming its line and field.

use crate::common;

use crate::common::{SinkProcess, callmetrics_async};

async fn post(url: &str, body: String) -> (u16, String) {
    let response = common::http()
        .post(format!("{url}/metrics"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_posted_to_the_sink_check_exactly_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dataset");
    let data = dir.path().join("data");
    callmetrics_async(&[
        "generate",
        "scenarios/contact-center.json",
        "--calls",
        "800",
        "--rate",
        "4/s",
        "--format",
        "azure-monitor",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ])
    .await
    .expect_code(0);
    let documents = common::read(&out.join("metrics.azure-monitor.jsonl"));
    let expected = out.join("expected.json");
    let expected = expected.to_str().unwrap().to_string();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let args = [
        "--listen",
        listen.as_str(),
        "--data-dir",
        data.to_str().unwrap(),
    ];
    let mut sink = SinkProcess::start(&args);
    let (status, answer) = post(&sink.url, documents.clone()).await;
    assert_eq!(status, 200, "{answer}");
    let check = |url: String| {
        let expected = expected.clone();
        async move { callmetrics_async(&["check", "--expected", &expected, "--observed", &url]).await }
    };
    let run = check(sink.url.clone()).await.expect_code(0);
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());

    // kill -9, restart on the same data: the log replays the aggregates.
    sink.kill();
    let sink = SinkProcess::start(&args);
    let run = check(sink.url.clone()).await.expect_code(0);
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());

    // A Count metric whose samples are not all 1 cannot be.
    let bad = r#"{"time":"2026-01-01T00:00:00Z","data":{"baseData":{"metric":"APIRequestCallAutomation","namespace":"CallAutomation","dimNames":["Operation","StatusCode","StatusCodeClass","ApiVersion"],"series":[{"dimValues":["Play","202","2xx","2025-05-15"],"min":2,"max":2,"sum":4,"count":2}]}}}"#;
    let (status, answer) = post(
        &sink.url,
        format!("{}\n{bad}\n", documents.lines().next().unwrap()),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer.contains("line 2") && answer.contains("data.baseData.series[0].count"),
        "{answer}"
    );
    // ... and the whole body was refused: the sink still matches.
    let run = check(sink.url.clone()).await.expect_code(0);
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());
}

// Issue #19, item 4: each (series, minute) was guarded, but sums across
// minutes and series wrapped: three documents of count = sum = 2^63 in
// different minutes made /prometheus show 0 and the PT1H total 0. Now the
// document that would take any sum past 2^64-1 is refused (422) and every
// answer holds what was taken, exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_that_would_overflow_a_sum_across_minutes_are_refused() {
    let sink = SinkProcess::start(&["--listen", "127.0.0.1:0"]);
    let half = 1u64 << 63;
    let document = |minute: u32| {
        format!(
            r#"{{"time":"2026-01-01T00:{minute:02}:00Z","data":{{"baseData":{{"metric":"APIRequestCallAutomation","namespace":"CallAutomation","dimNames":["Operation","StatusCode","StatusCodeClass","ApiVersion"],"series":[{{"dimValues":["Play","202","2xx","2025-05-15"],"min":1,"max":1,"sum":{half},"count":{half}}}]}}}}}}"#
        )
    };
    let (status, answer) = post(&sink.url, document(1)).await;
    assert_eq!(status, 200, "{answer}");
    for minute in [2, 3] {
        let (status, answer) = post(&sink.url, document(minute)).await;
        assert_eq!(status, 422, "{answer}");
        assert!(answer.contains("past 2^64-1"), "{answer}");
    }
    let client = common::http();
    let exposition = client
        .get(format!("{}/prometheus", sink.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = exposition
        .lines()
        .find(|l| l.contains("Play") && !l.starts_with('#'))
        .unwrap_or_else(|| panic!("no Play series in\n{exposition}"));
    assert!(line.ends_with(&format!(" {half}")), "{line}");
    let hour: serde_json::Value = client
        .get(format!(
            "{}/metrics?metricnames=APIRequestCallAutomation&interval=PT1H&aggregation=count\
             &timespan=2026-01-01T00:00:00Z/2026-01-01T01:00:00Z",
            sink.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let count = &hour["value"][0]["timeseries"][0]["data"][0]["count"];
    assert_eq!(count.as_u64(), Some(half), "{hour}");
}
