//! A real app and a real Prometheus: `run --target webhook` delivers a
//! shipped scenario's callbacks to a Node.js app (tests/apps/acs-callback-app)
//! that parses them with the official Call Automation SDK and counts them
//! with prom-client; Prometheus 2.42 (Debian's `prometheus`) or
//! VictoriaMetrics 1.79 (`victoria-metrics`) scrapes it every second;
//! `check --backend promql --totals` must then prove every count exactly,
//! and catch an app that drops a known number of events.
//!
//! Needs `prometheus`, `victoria-metrics`, `node` and `npm` (skipped on a
//! developer machine without them, a failure in CI). Bounded: a few
//! hundred calls at the maximum rate, servers killed when the test ends.

use crate::common;

use crate::common::callmetrics;
use crate::common::running::run_through_an_outage;
use crate::common::servers::{
    Server, Store, callback_app, callback_app_dir, check_promql, free_port, instant, instant_query,
    npm_ci, require, start_store, until, wait_for_scrape_after, wait_ready,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn app_dir() -> PathBuf {
    callback_app_dir()
}

/// The callback app (configured by `env`) scraped every second by a fresh
/// `store`, once a first scrape is in.
struct Scraped {
    dir: tempfile::TempDir,
    app: Server,
    app_url: String,
    _store: Server,
    prometheus: String,
}

async fn scraped(store: Store, env: &[(&str, &str)]) -> Scraped {
    npm_ci(&app_dir());
    let dir = tempfile::tempdir().unwrap();
    let (app, app_url) = callback_app(env);
    let target = app_url.trim_start_matches("http://");
    let (store, prometheus) = start_store(store, dir.path(), Some(target), free_port()).await;
    wait_for_scrape_after(&prometheus, SystemTime::now()).await;
    Scraped {
        dir,
        app,
        app_url,
        _store: store,
        prometheus,
    }
}

/// Runs the scenario's callbacks into the app; returns expected.json's path.
async fn deliver(app: &str, dir: &Path) -> String {
    let expected = dir.join("expected.json").to_str().unwrap().to_string();
    let sink = format!("{app}/api/callbacks");
    let out = expected.clone();
    tokio::task::spawn_blocking(move || {
        callmetrics(&[
            "run",
            "scenarios/contact-center.json",
            "--target",
            "webhook",
            "--sink",
            &sink,
            "--calls",
            "300",
            "--max-rate",
            "--quiet",
            "--expected-out",
            &out,
        ])
        .expect_code(0)
    })
    .await
    .unwrap();
    expected
}

/// `check --totals` against Prometheus, with `extra` flags (--format).
async fn check(expected: &str, prometheus: &str, extra: &[&str]) -> common::Run {
    check_promql(expected, prometheus, &app_dir().join("mapping.json"), extra).await
}

fn ready(test: &str, store: Store) -> bool {
    require(test, &[store.program(), ("node", "nodejs"), ("npm", "npm")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_counted_by_a_real_app_check_exactly_in_prometheus() {
    let test = "callbacks_counted_by_a_real_app_check_exactly_in_prometheus";
    if ready(test, Store::Prometheus) {
        counted_callbacks_check_exactly(Store::Prometheus).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_counted_by_a_real_app_check_exactly_in_victoria_metrics() {
    let test = "callbacks_counted_by_a_real_app_check_exactly_in_victoria_metrics";
    if ready(test, Store::VictoriaMetrics) {
        counted_callbacks_check_exactly(Store::VictoriaMetrics).await;
    }
}

async fn counted_callbacks_check_exactly(store: Store) {
    let Scraped {
        dir,
        app: _app,
        app_url,
        prometheus,
        ..
    } = &scraped(store, &[]).await;
    let expected = deliver(app_url, dir.path()).await;
    let done = SystemTime::now();
    wait_for_scrape_after(prometheus, done).await;
    store.flush(prometheus).await;

    let run = check(&expected, prometheus, &["--format", "table"])
        .await
        .expect_code(0);
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());
    assert!(
        run.stdout.contains("totals over the whole window")
            && run
                .stdout
                .contains("AcsCallAutomationCallbackEvent: count only"),
        "{}",
        run.describe()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_drops_events_fails_the_check_by_exactly_the_drops() {
    let test = "an_app_that_drops_events_fails_the_check_by_exactly_the_drops";
    if !ready(test, Store::Prometheus) {
        return;
    }
    let Scraped {
        dir,
        app: _app,
        app_url,
        prometheus,
        ..
    } = &scraped(Store::Prometheus, &[("DROP_EVERY", "97")]).await;
    let expected = deliver(app_url, dir.path()).await;
    wait_for_scrape_after(prometheus, SystemTime::now()).await;
    let dropped: Value = common::http()
        .get(format!("{app_url}/dropped"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dropped = dropped["dropped"].as_u64().unwrap();
    assert!(dropped > 0);

    let page = dir.path().join("check.html");
    let run = check(
        &expected,
        prometheus,
        &["--format", "json", "--report", page.to_str().unwrap()],
    )
    .await
    .expect_code(1);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["result"], "fail");
    // The metric total is short by exactly the dropped events.
    let total = report["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["dimensions"].as_array().unwrap().is_empty())
        .unwrap_or_else(|| panic!("no mismatch of the metric total:\n{}", run.stdout));
    let count = &total["fields"]["count"];
    let (want, got) = (
        count["expected"].as_u64().unwrap(),
        count["observed"].as_u64().unwrap(),
    );
    assert_eq!(want - got, dropped, "{total}");
    // And the full-combination series that lost events are named.
    let full: u64 = report["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["dimensions"].as_array().unwrap().len() == 5)
        .map(|m| {
            let c = &m["fields"]["count"];
            c["expected"].as_u64().unwrap() - c["observed"].as_u64().unwrap_or(0)
        })
        .sum();
    assert_eq!(full, dropped);
    // The report's chart of the window shows the same loss, marked.
    let data = common::page_data(&page);
    let traffic = &data["traffic"][0];
    assert_eq!(traffic["metric"], "AcsCallAutomationCallbackEvent");
    assert_eq!(traffic["totals"], true);
    assert_eq!(
        traffic["buckets"][0].as_array().unwrap()[1..],
        [Value::from(want), Value::from(got), Value::from(true)]
    );
}

/// The counters a correct pipeline would hold for expected.json's full
/// combinations: one sample per series at every bucket boundary, its value
/// the count (and, for the latency summary, the sum) of everything before
/// it, in OpenMetrics text for `promtool tsdb create-blocks-from`, named by
/// `mappings/default.json`.
fn openmetrics_of(expected: &Value) -> String {
    let (start, end) = {
        let span = expected["timespan"].as_str().unwrap();
        let (a, b) = span.split_once('/').unwrap();
        (seconds(a), seconds(b))
    };
    let label = |name: &str| match name {
        "Operation" => "operation",
        "StatusCode" => "status_code",
        "StatusCodeClass" => "status_code_class",
        "ApiVersion" => "api_version",
        "EventTypeName" => "event_type_name",
        "Code" => "code",
        "CodeClass" => "code_class",
        "SubCode" => "sub_code",
        "Version" => "version",
        other => panic!("unexpected dimension {other}"),
    };
    let mut out = String::new();
    for metric in expected["value"].as_array().unwrap() {
        let (family, kind, samples): (&str, &str, &[(&str, &str)]) =
            match metric["name"]["value"].as_str().unwrap() {
                "APIRequestCallAutomation" => (
                    "acs_callautomation_api_requests",
                    "counter",
                    &[("_total", "count")],
                ),
                "AcsCallAutomationCallbackEvent" => (
                    "acs_callautomation_callback_events",
                    "counter",
                    &[("_total", "count")],
                ),
                _ => (
                    "acs_callautomation_api_request_latency_milliseconds",
                    "summary",
                    &[("_count", "count"), ("_sum", "total")],
                ),
            };
        out.push_str(&format!("# TYPE {family} {kind}\n"));
        for ts in metric["timeseries"].as_array().unwrap() {
            let labels: Vec<String> = ts["metadatavalues"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    let value = m["value"].as_str().unwrap().replace('\\', "\\\\");
                    format!(
                        "{}=\"{}\"",
                        label(m["name"]["value"].as_str().unwrap()),
                        value
                    )
                })
                .collect();
            let points: Vec<(i64, &Value)> = ts["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (seconds(p["timeStamp"].as_str().unwrap()), p))
                .collect();
            for (suffix, field) in samples {
                let mut at = start;
                let mut cumulative = 0;
                while at <= end {
                    out.push_str(&format!(
                        "{family}{suffix}{{{}}} {cumulative} {at}\n",
                        labels.join(",")
                    ));
                    cumulative += points
                        .iter()
                        .filter(|(t, _)| *t == at)
                        .map(|(_, p)| p[*field].as_u64().unwrap())
                        .sum::<u64>();
                    at += 60;
                }
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// Unix seconds of a whole-second RFC 3339 UTC time.
fn seconds(text: &str) -> i64 {
    let t = humantime::parse_rfc3339(text).unwrap();
    t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_sampled_on_bucket_boundaries_check_exactly_per_bucket() {
    let test = "counters_sampled_on_bucket_boundaries_check_exactly_per_bucket";
    if !require(
        test,
        &[("prometheus", "prometheus"), ("promtool", "prometheus")],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dataset");
    // Two hours ago, on a five-minute boundary: inside Prometheus' retention.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let start = UNIX_EPOCH + Duration::from_secs((now - 7200) / 300 * 300);
    let start = humantime::format_rfc3339_seconds(start).to_string();
    callmetrics(&[
        "generate",
        "tests/fixtures/tiny.json",
        "--calls",
        "400",
        "--rate",
        "1/s",
        "--start",
        &start,
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ])
    .expect_code(0);
    let expected_path = out.join("expected.json");
    let expected: Value = serde_json::from_str(&common::read(&expected_path)).unwrap();
    let samples = dir.path().join("samples.om");
    std::fs::write(&samples, openmetrics_of(&expected)).unwrap();
    let data = dir.path().join("data");
    let status = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&samples)
        .arg(&data)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "promtool could not backfill");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1m\n").unwrap();
    let port = free_port();
    let _prometheus = Server::spawn(
        "prometheus",
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let prometheus = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{prometheus}/-/ready"), Duration::from_secs(30)).await;

    let check = |expected: std::path::PathBuf| {
        let prometheus = prometheus.clone();
        tokio::task::spawn_blocking(move || {
            callmetrics(&[
                "check",
                "--expected",
                expected.to_str().unwrap(),
                "--backend",
                "promql",
                "--observed",
                &prometheus,
                "--grain",
                "PT1M,PT5M",
                "--format",
                "json",
            ])
        })
    };
    let run = check(expected_path.clone()).await.unwrap().expect_code(0);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["totals"], false);
    assert_eq!(
        report["compared"]["ApiRequestLatency"],
        serde_json::json!(["count", "total"])
    );
    assert_eq!(
        report["compared"]["APIRequestCallAutomation"],
        serde_json::json!(["count"])
    );
    assert!(
        report["summary"]["cells"].as_u64().unwrap() > 100,
        "{}",
        run.stdout
    );

    // One more callback in one series and bucket than the counters hold:
    // the check names that bucket, at both grains and in every split.
    let mut wrong = expected.clone();
    let point = wrong["value"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["name"]["value"] == "AcsCallAutomationCallbackEvent")
        .unwrap()["timeseries"][0]["data"][1]
        .as_object_mut()
        .unwrap();
    for field in ["count", "total"] {
        let n = point[field].as_u64().unwrap();
        point[field] = Value::from(n + 1);
    }
    let stamp = point["timeStamp"].as_str().unwrap().to_string();
    let wrong_path = dir.path().join("wrong.json");
    std::fs::write(&wrong_path, wrong.to_string()).unwrap();
    let run = check(wrong_path).await.unwrap().expect_code(1);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let mismatches = report["mismatches"].as_array().unwrap();
    // Full combination, 5 single dimensions and the total, at PT1M; the
    // same at PT5M: 14 cells, each one count short.
    assert_eq!(mismatches.len(), 14, "{}", run.stdout);
    for m in mismatches {
        let count = &m["fields"]["count"];
        assert_eq!(
            count["expected"].as_u64().unwrap() - count["observed"].as_u64().unwrap(),
            1
        );
        if m["grain"] == "PT1M" {
            assert_eq!(m["timeStamp"], stamp);
        }
    }
}

/// The metric total a reset-aware reading of the raw samples gives,
/// written here independently of callmetrics: every sample of every series
/// of `name` in the last hour, a drop adding the value after it whole.
async fn reset_aware_total(prometheus: &str, name: &str) -> (u64, usize) {
    let (mut total, mut resets) = (0u64, 0);
    for series in last_hour(prometheus, name).await {
        let values: Vec<u64> = series["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v[1].as_str().unwrap().parse::<f64>().unwrap() as u64)
            .collect();
        let mut last = 0;
        for v in values {
            if v < last {
                resets += 1;
                total += v;
            } else {
                total += v - last;
            }
            last = v;
        }
    }
    (total, resets)
}

/// Every raw series of `name` with its samples of the last hour.
async fn last_hour(prometheus: &str, name: &str) -> Vec<Value> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    instant_query(prometheus, &format!("{name}[1h]"), now_ms).await
}

/// Every raw sample of `name` in the last hour, one series a line, for a
/// failure's message.
async fn raw_samples(prometheus: &str, name: &str) -> String {
    let lines: Vec<String> = last_hour(prometheus, name)
        .await
        .iter()
        .map(|s| format!("{} {}", s["metric"], s["values"]))
        .collect();
    lines.join("\n")
}

/// The app is killed mid-run and started again on the same port: its
/// counters restart from 0. The callbacks it could not take are retried
/// into the new process; what the old one counted after its last scrape is
/// lost. The check counts across the restart as increase() does, lists
/// the resets, and its observed total is what an independent reset-aware
/// sum of the raw samples says (the old reading called the restart "data
/// loss" or refused it, exit 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_restarted_mid_run_is_counted_across_the_restart() {
    let test = "an_app_restarted_mid_run_is_counted_across_the_restart";
    if !ready(test, Store::Prometheus) {
        return;
    }
    let port = free_port().to_string();
    let Scraped {
        dir,
        app,
        app_url,
        prometheus,
        _store,
    } = scraped(Store::Prometheus, &[("PORT", &port)]).await;
    let expected = dir.path().join("expected.json");
    let summary = dir.path().join("summary.json");
    let sink = format!("{app_url}/api/callbacks");
    // The app is killed once the run delivered and Prometheus scraped it,
    // and started again once the run saw the outage (the run's own status
    // and Prometheus say when).
    let (replayed, _app) = run_through_an_outage(
        &[
            "run",
            "scenarios/outbound-notification.json",
            "--target",
            "webhook",
            "--sink",
            &sink,
            "--calls",
            "600",
            "--rate",
            "100/s",
            "--speed",
            "10",
            "--quiet",
            "--expected-out",
            expected.to_str().unwrap(),
            "--summary-out",
            summary.to_str().unwrap(),
        ],
        // Once Prometheus has scraped a good part of the run from the old
        // app: the new one's counters, from 0, then read lower at its first
        // scrape, which is how a restart shows (as a reset).
        async {
            let scraped_1000 = async || {
                instant(&prometheus, "sum(acs_callback_events_total)")
                    .await
                    .is_some_and(|n| n >= 1000.0)
            };
            let (within, every) = (Duration::from_secs(60), Duration::from_millis(100));
            let what = "Prometheus did not scrape 1000 callbacks from the old app";
            until(what, within, every, scraped_1000).await;
            drop(app);
        },
        async { callback_app(&[("PORT", &port)]).0 },
    )
    .await;
    // Requests on connections the kill closed are not retried (the app may
    // have counted them): the run then ends in exit 2, and --expected-out
    // holds exactly what was acknowledged.
    assert!(
        replayed.code == Some(0)
            || (replayed.code == Some(2) && replayed.stderr.contains("could not be delivered")),
        "{}",
        replayed.describe()
    );
    let summary: Value = serde_json::from_str(&common::read(&summary)).unwrap();
    assert!(
        summary["retries"].as_u64().unwrap() + summary["failedRequests"].as_u64().unwrap_or(0) > 0,
        "the restart did not fall inside the run: {summary}"
    );
    // The check reads what Prometheus holds once the app's counters stopped
    // moving: two scrapes taken after the run, one after the other, agree.
    let name = "acs_callback_events_total";
    let mut settled = None;
    for _ in 0..10 {
        wait_for_scrape_after(&prometheus, SystemTime::now()).await;
        let now = reset_aware_total(&prometheus, name).await;
        if settled == Some(now) {
            break;
        }
        settled = Some(now);
    }
    let (independent, independent_resets) = settled.unwrap();

    let run = check(
        expected.to_str().unwrap(),
        &prometheus,
        &["--format", "json"],
    )
    .await;
    let after_check = reset_aware_total(&prometheus, name).await;
    assert_eq!(
        after_check,
        (independent, independent_resets),
        "Prometheus' raw total moved while the check read it (total, resets)"
    );
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", run.describe());
    });
    let resets = report["resets"].as_array().unwrap();
    assert!(!resets.is_empty(), "no reset listed: {}", run.stdout);
    assert!(
        resets.iter().all(|r| r["series"]
            .as_str()
            .unwrap()
            .starts_with("acs_callback_events_total{")),
        "{resets:?}"
    );
    let expected_json: Value = serde_json::from_str(&common::read(&expected)).unwrap();
    let want: u64 = expected_json["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["name"]["value"] == "AcsCallAutomationCallbackEvent")
        .flat_map(|m| m["timeseries"].as_array().unwrap())
        .flat_map(|ts| ts["data"].as_array().unwrap())
        .map(|p| p["count"].as_u64().unwrap())
        .sum();
    // The check's observed metric total: from its mismatch, or the
    // expected total when it matched.
    let got = report["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["dimensions"].as_array().unwrap().is_empty())
        .map_or(want, |m| m["fields"]["count"]["observed"].as_u64().unwrap());
    let numbers = format!(
        "check's total {got}, raw samples' {independent}; resets listed {}, in the raw \
         samples {independent_resets}; expected {want}; the raw samples: {}\nthe report: {}",
        resets.len(),
        raw_samples(&prometheus, name).await,
        run.stdout
    );
    assert_eq!(got, independent, "{numbers}");
    assert_eq!(resets.len(), independent_resets, "{numbers}");
    assert!(got <= want, "more counted than delivered: {got} > {want}");
    // Passes exactly when nothing counted after the last scrape was lost.
    assert_eq!(
        run.code,
        Some(if got == want { 0 } else { 1 }),
        "{}",
        run.describe()
    );
}

/// The CI journey in one command: callbacks into the app, then the check
/// of what Prometheus scraped from it, waiting until the last scrape is
/// in (a check at once sees part of the run: the scrape interval is 1 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_run_command_delivers_to_an_app_and_checks_its_prometheus() {
    let test = "one_run_command_delivers_to_an_app_and_checks_its_prometheus";
    if !ready(test, Store::Prometheus) {
        return;
    }
    let Scraped {
        app_url,
        prometheus,
        ..
    } = &scraped(Store::Prometheus, &[]).await;
    let mapping = app_dir().join("mapping.json");
    let sink = format!("{app_url}/api/callbacks");
    let args = [
        "run",
        "scenarios/contact-center.json",
        "--target",
        "webhook",
        "--sink",
        &sink,
        "--calls",
        "200",
        "--max-rate",
        "--quiet",
        "--check",
        "--backend",
        "promql",
        "--observed",
        prometheus,
        "--mapping",
        mapping.to_str().unwrap(),
        "--match",
        "{job=\"app\"}",
        "--totals",
        "--wait",
        "30s",
        "--poll-interval",
        "1s",
    ];
    let run = common::callmetrics_async(&args).await.expect_code(0);
    assert!(
        run.stdout.starts_with("PASS")
            && (run.stdout.contains("after waiting")
                || run.stdout.contains("after the first check")),
        "{}",
        run.describe()
    );
    // Without --observed the app would be read as a sink: refused first.
    let refused = common::callmetrics_async(&args[..11]).await.expect_code(2);
    assert!(
        refused
            .stderr
            .contains("--check after --target webhook reads what the app counted"),
        "{}",
        refused.describe()
    );
}

/// An app that labels events with the SDK's short names (PlayCompleted):
/// with callmetrics' full names the check fails and its hint names the
/// rewrite; with `mappings/sdk-short-event-types.json` (a value rewrite
/// in the mapping, not a change of production labels) it passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_event_type_labels_check_with_a_value_rewrite() {
    let test = "short_event_type_labels_check_with_a_value_rewrite";
    if !ready(test, Store::Prometheus) {
        return;
    }
    let Scraped {
        dir,
        app: _app,
        app_url,
        prometheus,
        ..
    } = &scraped(Store::Prometheus, &[("EVENT_TYPE", "kind")]).await;
    let expected = deliver(app_url, dir.path()).await;
    wait_for_scrape_after(prometheus, SystemTime::now()).await;

    let full_names = check(&expected, prometheus, &["--format", "table"])
        .await
        .expect_code(1);
    assert!(
        full_names.stdout.contains(
            "observed EventTypeName values look like the expected ones without the prefix \
             \"Microsoft.Communication.\""
        ),
        "{}",
        full_names.describe()
    );
    let args: Vec<String> = [
        "check",
        "--expected",
        &expected,
        "--backend",
        "promql",
        "--observed",
        prometheus,
        "--mapping",
        "mappings/sdk-short-event-types.json",
        "--totals",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let rewritten = common::callmetrics_async(&args).await.expect_code(0);
    assert!(
        rewritten.stdout.starts_with("PASS"),
        "{}",
        rewritten.describe()
    );
}
