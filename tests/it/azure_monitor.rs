//! Azure Monitor ingestion documents (`generate --format azure-monitor`)
//! posted to the embedded sink's `POST /metrics` hold exactly the dataset's
//! expected aggregates: `check` passes against the sink, also after a
//! `kill -9` and a restart on its data dir; an inconsistent document is
//! refused, naming its line and field. `run --target azure-monitor` posts
//! each minute's documents as it closes and checks exactly; a run Azure
//! Monitor would not take is refused before its first request.

use crate::common;

use crate::common::{SinkProcess, callmetrics, callmetrics_async, callmetrics_with_env};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// RFC 3339 of the current minute's start moved by `seconds`.
fn minute_start_plus(seconds: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let at = now / 60 * 60 + seconds;
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(at as u64)).to_string()
}

/// tiny.json's 10 calls, arriving within a second, whose events span 8 s
/// from `start`.
fn tiny_run<'a>(start: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "tests/fixtures/tiny.json",
        "--target",
        "azure-monitor",
        "--calls",
        "10",
        "--rate",
        "10/s",
        "--arrival",
        "uniform",
        "--start",
        start,
    ];
    args.extend_from_slice(extra);
    args
}

// Issue #22: paced, each minute goes as one request once it has closed,
// authorized with the token of AZURE_ACCESS_TOKEN, and what the sink
// stored is exactly the run's expected file. Events straddle a minute
// boundary a minute ago; at --speed 10 the run lasts about 7 s, which
// keeps every document within Azure's window.
#[test]
fn a_paced_run_posts_each_closed_minute_and_the_sink_checks_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.json");
    let summary = dir.path().join("summary.json");
    let sink = SinkProcess::start(&["--listen", "127.0.0.1:0", "--token", "s3cret"]);
    let start = minute_start_plus(-64);
    let endpoint = format!("{}/metrics", sink.url);
    let run = callmetrics_with_env(
        &tiny_run(
            &start,
            &[
                "--sink",
                &endpoint,
                "--speed",
                "10",
                "--expected-out",
                expected.to_str().unwrap(),
                "--summary-out",
                summary.to_str().unwrap(),
                "--quiet",
            ],
        ),
        &[("AZURE_ACCESS_TOKEN", "s3cret")],
    )
    .expect_code(0);
    let summary: serde_json::Value = serde_json::from_str(&common::read(&summary)).unwrap();
    assert_eq!(summary["target"], "azure-monitor", "{}", run.describe());
    assert_eq!(summary["requests"], 2, "one per minute: {summary}");
    assert_eq!(summary["failedRequests"], 0, "{summary}");
    let check = callmetrics(&[
        "check",
        "--expected",
        expected.to_str().unwrap(),
        "--observed",
        &sink.url,
        "--backend",
        "azure",
        "--token",
        "s3cret",
    ])
    .expect_code(0);
    assert!(check.stdout.starts_with("PASS"), "{}", check.describe());
}

// Issue #22: at the maximum rate a workload lying in the last minutes is
// sent at once; `run --check` reads the sink behind its /metrics, and
// without --sink the embedded sink takes the documents and is checked.
#[test]
fn a_run_of_the_recent_past_checks_through_run_check_and_the_embedded_sink() {
    let sink = SinkProcess::start(&["--listen", "127.0.0.1:0", "--token", "s3cret"]);
    let endpoint = format!("{}/metrics", sink.url);
    let start = minute_start_plus(-10 * 60);
    let external = [
        "--sink",
        endpoint.as_str(),
        "--token",
        "s3cret",
        "--max-rate",
        "--check",
        "--quiet",
    ];
    let run = callmetrics(&tiny_run(&start, &external)).expect_code(0);
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());
    let run = callmetrics(&tiny_run(&start, &["--max-rate", "--quiet"])).expect_code(0);
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());
}

// Issue #22: posted to a sink at Azure's own path,
// `{resourceUri}/metrics`, the documents are that resource's custom
// metrics: `run --check` reads them back at Azure's paths in the custom
// namespace (the latency metric too), `check --resource-id
// --metric-namespace CallAutomation` as well, and the resource's platform
// namespace holds none of them.
#[test]
fn documents_sent_to_a_resources_path_are_its_custom_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.json");
    let sink = SinkProcess::start(&["--listen", "127.0.0.1:0"]);
    let resource = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Communication/CommunicationServices/acs";
    let endpoint = format!("{}{resource}/metrics", sink.url);
    let start = minute_start_plus(-10 * 60);
    let run = callmetrics(&tiny_run(
        &start,
        &[
            "--sink",
            &endpoint,
            "--max-rate",
            "--check",
            "--expected-out",
            expected.to_str().unwrap(),
            "--quiet",
        ],
    ))
    .expect_code(0);
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());
    assert!(run.stdout.contains("ApiRequestLatency"), "{}", run.stdout);
    let check = |namespace: &[&str]| {
        let mut args = vec![
            "check",
            "--expected",
            expected.to_str().unwrap(),
            "--observed",
            &sink.url,
            "--resource-id",
            resource,
        ];
        args.extend_from_slice(namespace);
        callmetrics(&args)
    };
    let custom = check(&["--metric-namespace", "CallAutomation"]).expect_code(0);
    assert!(custom.stdout.starts_with("PASS"), "{}", custom.describe());
    let platform = check(&[]).expect_code(1);
    assert!(
        platform.stdout.starts_with("FAIL"),
        "{}",
        platform.describe()
    );
}

// Issue #22: shards may write the same series' minute, and their values
// add up (Azure Monitor aggregates every value sent for a series and
// minute, as the sink does): the merged expected file checks exactly.
#[test]
fn shards_documents_add_up_to_their_merged_expected_file() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SinkProcess::start(&["--listen", "127.0.0.1:0"]);
    let endpoint = format!("{}/metrics", sink.url);
    let start = minute_start_plus(-10 * 60);
    let mut files = Vec::new();
    for (i, shard) in ["0/2", "1/2"].into_iter().enumerate() {
        let file = dir.path().join(format!("shard-{i}.json"));
        let file = file.to_str().unwrap().to_string();
        let extra = [
            "--sink",
            endpoint.as_str(),
            "--shard",
            shard,
            "--max-rate",
            "--expected-out",
            file.as_str(),
            "--quiet",
        ];
        callmetrics(&tiny_run(&start, &extra)).expect_code(0);
        files.push(file);
    }
    let merged = callmetrics(&["merge", &files[0], &files[1]]).expect_code(0);
    let expected = dir.path().join("expected.json");
    std::fs::write(&expected, merged.stdout).unwrap();
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

// Issue #22: a document more than 20 minutes old or 5 minutes ahead when
// sent, a grain finer than Azure's minute and a URL that is not a metrics
// endpoint are refused (exit 2) before any request, naming the flag and
// the limit: nothing listens at the sink given.
#[test]
fn runs_azure_monitor_would_refuse_are_refused_before_sending() {
    let base = [
        "run",
        "tests/fixtures/tiny.json",
        "--target",
        "azure-monitor",
        "--arrival",
        "uniform",
    ];
    let short = ["--calls", "10", "--rate", "10/s"];
    let long = ["--calls", "3000", "--rate", "2/s"];
    let nowhere = ["--sink", "http://127.0.0.1:9/metrics"];
    let past = minute_start_plus(-40 * 60);
    let future = minute_start_plus(30 * 60);
    let cases: Vec<(Vec<&str>, &str, &[&str])> = vec![
        (
            [&["--start", past.as_str()][..], &short, &nowhere].concat(),
            "--start ",
            &[
                "after their time",
                "at most 20m after its time",
                "start at most 18m ago",
            ],
        ),
        (
            [&["--start", future.as_str()][..], &short, &nowhere].concat(),
            "--start ",
            &["before their time", "at most 5m before its time"],
        ),
        (
            [&["--speed", "10"][..], &long, &nowhere].concat(),
            "--speed 10: ",
            &["before their time", "use --speed 1"],
        ),
        (
            [&["--max-rate"][..], &long, &nowhere].concat(),
            "--max-rate sends every minute's documents at once",
            &["cannot all lie within the last 18m"],
        ),
        (
            [&["--grain", "PT1S"][..], &short, &nowhere].concat(),
            "--grain PT1S with --target azure-monitor",
            &["use --grain PT1M"],
        ),
        (
            [&short[..], &["--sink", "http://127.0.0.1:9/"]].concat(),
            "--sink http://127.0.0.1:9/: give the metrics endpoint",
            &["https://REGION.monitoring.azure.com/RESOURCE_ID/metrics"],
        ),
    ];
    for (flags, starts, says) in cases {
        let run = callmetrics(&[&base[..], &flags].concat()).expect_code(2);
        let error = run
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("callmetrics: error: "))
            .unwrap_or_else(|| panic!("no error line\n{}", run.describe()));
        assert!(error.starts_with(starts), "{}", run.describe());
        for said in says {
            assert!(error.contains(said), "{said:?}\n{}", run.describe());
        }
    }
}
