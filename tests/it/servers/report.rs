//! `run --report` and `check --report` rendered by a real headless
//! Chromium: the page's script draws every chart, and what it drew (the
//! figures' data-* attributes, bars, tiles, table rows) equals the run's
//! own summary, expected.json and the check's JSON report.

use crate::common;

use crate::common::servers::require;
use crate::common::{SinkProcess, callmetrics, page_data, read};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SCENARIO: &str = "scenarios/contact-center.json";

/// The DOM after the page's script ran, as Chromium serializes it (into a
/// file: a helper process that keeps a pipe open cannot hang the test).
fn render(html: &Path, profile: &Path) -> String {
    let out = profile.with_extension("dom.html");
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            &format!("--user-data-dir={}", profile.display()),
            "--dump-dom",
            &format!("file://{}", html.display()),
        ])
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().expect("poll chromium").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish rendering {} in 90 s",
                html.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let dom = read(&out);
    assert!(
        dom.contains(r#"data-rendered="true""#),
        "the page's script did not finish: {}",
        &dom[..dom.len().min(2000)]
    );
    dom
}

/// The attributes of every `<figure>` whose data-chart is `chart`.
fn figures(dom: &str, chart: &str) -> Vec<BTreeMap<String, String>> {
    dom.match_indices("<figure ")
        .map(|(at, _)| {
            let tag = &dom[at + 8..at + dom[at..].find('>').unwrap()];
            attributes(tag)
        })
        .filter(|a| a.get("data-chart").map(String::as_str) == Some(chart))
        .collect()
}

fn attributes(tag: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = tag.trim();
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq].trim().to_string();
        let end = rest[eq + 2..].find('"').unwrap();
        out.insert(name, rest[eq + 2..eq + 2 + end].to_string());
        rest = &rest[eq + 3 + end..];
    }
    out
}

/// The HTML of the figure `n` characters in, up to its end.
fn figure_at<'a>(dom: &'a str, attrs: &BTreeMap<String, String>) -> &'a str {
    let key = format!(
        r#"data-chart="{}" data-metric="{}""#,
        attrs["data-chart"], attrs["data-metric"]
    );
    let start = dom.find(&key).unwrap();
    &dom[start..start + dom[start..].find("</figure>").unwrap()]
}

fn number(attrs: &BTreeMap<String, String>, name: &str) -> u64 {
    attrs[name]
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a count: {attrs:?}"))
}

/// The value shown in tile `id`.
fn tile(dom: &str, id: &str) -> String {
    let start = dom.find(&format!(r#"id="tile-{id}""#)).unwrap();
    let value = start + dom[start..].find(r#"class="value">"#).unwrap() + 14;
    dom[value..value + dom[value..].find('<').unwrap()].to_string()
}

fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Events per metric in an expected.json.
fn counts(expected: &Value) -> BTreeMap<String, u64> {
    expected["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let n = m["timeseries"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|ts| ts["data"].as_array().unwrap())
                .map(|p| p["count"].as_u64().unwrap())
                .sum();
            (m["name"]["value"].as_str().unwrap().to_string(), n)
        })
        .collect()
}

/// What the latency histogram drew: its bars' counts (as their tooltips
/// say) added up, checked against the figure's own record.
fn histogram_total(dom: &str) -> u64 {
    let charts = figures(dom, "latency-histogram");
    assert_eq!(charts.len(), 1, "one latency histogram");
    let start = dom.find(r#"data-chart="latency-histogram""#).unwrap();
    let figure = &dom[start..start + dom[start..].find("</figure>").unwrap()];
    let bars: Vec<u64> = figure
        .split("<rect ")
        .skip(1)
        .map(|rect| {
            let title = &rect[rect.find("<title>").unwrap() + 7..rect.find("</title>").unwrap()];
            let count = title.rsplit(": ").next().unwrap();
            count
                .trim_end_matches(" attempts")
                .replace(',', "")
                .parse()
                .unwrap()
        })
        .collect();
    assert!(bars.len() > 1, "{figure}");
    assert_eq!(bars.len() as u64, number(&charts[0], "data-bars"));
    let total = bars.iter().sum();
    assert_eq!(total, number(&charts[0], "data-count"));
    total
}

/// A sink on a free loopback port.
fn sink(extra: &[&str]) -> SinkProcess {
    let mut args = vec!["--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    SinkProcess::start(&args)
}

/// The data of a page marked "not checked", and the reason it gives.
fn not_checked(html: &Path, command: &common::Run) -> (Value, String) {
    let data = page_data(html);
    assert_eq!(data["verdict"], "not checked", "{}", command.describe());
    let note = data["verdictNote"].as_str().unwrap().to_string();
    (data, note)
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap()
}

#[test]
fn a_run_report_draws_what_the_run_sent_stored_and_retried() {
    if !require("report rendering", &[("chromium", "chromium")]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Refused requests (429/503) are retried, so the retries chart has
    // something to draw; the check still passes.
    let sink = sink(&["--fault-rate", "0.2"]);
    let (html, summary, expected) = (
        dir.path().join("run.html"),
        dir.path().join("summary.json"),
        dir.path().join("expected.json"),
    );
    let run = callmetrics(&[
        "run",
        SCENARIO,
        "--calls",
        "400",
        "--speed",
        "3000",
        "--batch-size",
        "500",
        "--sink",
        &sink.url,
        "--check",
        "--quiet",
        "--report",
        html.to_str().unwrap(),
        "--summary-out",
        summary.to_str().unwrap(),
        "--expected-out",
        expected.to_str().unwrap(),
    ])
    .expect_code(0);
    let summary = json(&summary);
    let dom = render(&html, &dir.path().join("profile"));
    assert!(dom.contains(r#"id="verdict">PASS<"#), "{}", run.describe());
    let events = summary["events"].as_u64().unwrap();
    assert_eq!(tile(&dom, "events"), grouped(events));
    assert_eq!(
        tile(&dom, "retries"),
        grouped(summary["retries"].as_u64().unwrap())
    );

    // One traffic chart per metric: sent = expected.json = stored, bar by bar.
    let want = counts(&json(&expected));
    let traffic = figures(&dom, "traffic");
    assert_eq!(traffic.len(), want.len());
    for chart in &traffic {
        let metric = &chart["data-metric"];
        assert_eq!(number(chart, "data-sent"), want[metric], "{metric}");
        assert_eq!(number(chart, "data-stored"), want[metric], "{metric}");
        assert_eq!(number(chart, "data-differs"), 0);
        let bars = number(chart, "data-bars");
        assert!(bars > 0);
        let drawn = figure_at(&dom, chart)
            .matches("<rect class=\"bar sent\"")
            .count();
        assert_eq!(drawn as u64, bars, "{metric}: every bucket is a bar");
    }
    // A chart per dimension (4 + 4 + 5 + 3), each adding up to its metric.
    let dimensions = figures(&dom, "dimension");
    assert_eq!(dimensions.len(), 16);
    for chart in &dimensions {
        let metric = &chart["data-metric"];
        assert_eq!(number(chart, "data-sent"), want[metric], "{chart:?}");
        assert_eq!(number(chart, "data-stored"), want[metric], "{chart:?}");
    }
    // The run over wall time adds up to the summary.
    let rate = &figures(&dom, "rate")[0];
    assert_eq!(number(rate, "data-sent"), events);
    let retries = &figures(&dom, "retries")[0];
    assert_eq!(
        number(retries, "data-retries"),
        summary["retries"].as_u64().unwrap()
    );
    assert!(
        number(retries, "data-retries") > 0,
        "the faulty sink made retries"
    );
    assert_eq!(number(retries, "data-failed"), 0);
    for chart in ["latency", "lag"] {
        let points = number(&figures(&dom, chart)[0], "data-points");
        assert!(points > 0, "{chart} has points");
    }
    let attempts: u64 = summary["replies"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(histogram_total(&dom), attempts, "{}", run.describe());
    for (reply, n) in summary["replies"].as_object().unwrap() {
        assert!(
            dom.contains(&format!(
                "<td>{reply}</td><td class=\"num\">{}</td>",
                grouped(n.as_u64().unwrap())
            )),
            "reply {reply} x {n} in the table"
        );
    }
    assert!(dom.contains("none: "), "no mismatches: {}", run.describe());
}

#[test]
fn a_check_report_shows_the_mismatches_the_check_found() {
    if !require("report rendering", &[("chromium", "chromium")]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sink = sink(&[]);
    let expected = dir.path().join("expected.json");
    callmetrics(&[
        "run",
        SCENARIO,
        "--calls",
        "200",
        "--max-rate",
        "--sink",
        &sink.url,
        "--quiet",
        "--expected-out",
        expected.to_str().unwrap(),
    ])
    .expect_code(0);
    // One event more in one bucket of one series than the sink holds.
    let mut file = json(&expected);
    let point = &mut file["value"][0]["timeseries"][0]["data"][0];
    let count = point["count"].as_u64().unwrap();
    point["count"] = Value::from(count + 1);
    let metric = file["value"][0]["name"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::write(&expected, serde_json::to_vec(&file).unwrap()).unwrap();

    let html = dir.path().join("check.html");
    let check = callmetrics(&[
        "check",
        "--expected",
        expected.to_str().unwrap(),
        "--observed",
        &sink.url,
        "--format",
        "json",
        "--report",
        html.to_str().unwrap(),
    ])
    .expect_code(1);
    let report: Value = serde_json::from_str(&check.stdout).unwrap();
    let mismatches = report["mismatches"].as_array().unwrap();
    // The cell, each of its dimensions' marginals and the metric total.
    assert_eq!(
        mismatches.len(),
        2 + file["value"][0]["timeseries"][0]["metadatavalues"]
            .as_array()
            .unwrap()
            .len()
    );

    let dom = render(&html, &dir.path().join("profile"));
    assert!(dom.contains(r#"id="verdict">FAIL<"#));
    assert_eq!(
        tile(&dom, "mismatches"),
        grouped(report["summary"]["mismatches"].as_u64().unwrap())
    );
    let table = &dom[dom.find(r#"id="mismatch-table""#).unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(table.matches("<tr>").count(), 1 + mismatches.len());
    assert!(table.contains(&format!("exp {}", count + 1)));
    assert!(table.contains(&format!("got {count}")));
    let want = counts(&file);
    for chart in figures(&dom, "traffic") {
        let m = &chart["data-metric"];
        let stored = want[m] - u64::from(*m == metric);
        assert_eq!(number(&chart, "data-sent"), want[m], "{m}");
        assert_eq!(number(&chart, "data-stored"), stored, "{m}");
        assert_eq!(
            number(&chart, "data-differs"),
            u64::from(*m == metric),
            "{m}"
        );
    }
}

#[test]
fn a_run_that_could_not_deliver_still_writes_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let sink = sink(&["--token", "s3cret"]);
    let html = dir.path().join("run.html");
    let run = callmetrics(&[
        "run",
        SCENARIO,
        "--calls",
        "50",
        "--max-rate",
        "--sink",
        &sink.url,
        "--check",
        "--quiet",
        "--report",
        html.to_str().unwrap(),
    ])
    .expect_code(2);
    let (data, note) = not_checked(&html, &run);
    assert!(note.contains("could not be delivered"), "{note}");
    assert!(note.contains("HTTP 401"), "{note}");
    assert_eq!(
        data["summary"]["failedRequests"],
        data["summary"]["replies"]["401"]
    );
    assert!(data["check"].is_null());
}

#[test]
fn a_check_that_could_not_be_carried_out_still_writes_its_page() {
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.json");
    callmetrics(&[
        "generate",
        SCENARIO,
        "--calls",
        "20",
        "--out",
        dir.path().to_str().unwrap(),
        "--quiet",
    ])
    .expect_code(0);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let html = dir.path().join("check.html");
    let check = callmetrics(&[
        "check",
        "--expected",
        expected.to_str().unwrap(),
        "--observed",
        &url,
        "--report",
        html.to_str().unwrap(),
    ])
    .expect_code(2);
    let (data, note) = not_checked(&html, &check);
    assert!(
        note.starts_with("the check could not be carried out: cannot query the sink"),
        "{note}"
    );
    // The expected side is still drawn.
    let want = counts(&json(&expected));
    for t in data["traffic"].as_array().unwrap() {
        let sent: u64 = t["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b[1].as_u64().unwrap())
            .sum();
        assert_eq!(sent, want[t["metric"].as_str().unwrap()]);
    }
}

// Issue #18, item 5: the thresholds' table draws what the summary judged,
// and one not met marks the page failed, as it fails the run.
#[test]
fn a_run_report_shows_its_thresholds() {
    if !require("report rendering", &[("chromium", "chromium")]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("run.html");
    let run = callmetrics(&[
        "run",
        "tests/fixtures/tiny.json",
        "--calls",
        "50",
        "--max-rate",
        "--quiet",
        "--threshold",
        "latency.p99<1us",
        "--threshold",
        "failed<1%",
        "--report",
        html.to_str().unwrap(),
    ])
    .expect_code(1);
    let dom = render(&html, &dir.path().join("profile"));
    assert!(dom.contains(r#"id="verdict">FAIL<"#), "{}", run.describe());
    assert_eq!(tile(&dom, "thresholds"), "1 of 2");
    let start = dom.find(r#"id="threshold-table""#).unwrap();
    let table = &dom[start..start + dom[start..].find("</table>").unwrap()];
    let rows: Vec<&str> = table.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(
        rows[0].contains("latency.p99&lt;1us") && rows[0].contains(r#"class="missed">not met<"#),
        "{table}"
    );
    assert!(
        rows[1].contains("<td>0.000 %</td>") && rows[1].contains(r#"class="met">met<"#),
        "{table}"
    );
}

/// Refuses (500) every request that carries a CallConnected callback.
async fn refuse_call_connected(body: axum::body::Bytes) -> axum::http::StatusCode {
    let events: Vec<Value> = serde_json::from_slice(&body).expect("a JSON array");
    if events
        .iter()
        .any(|e| e["type"] == "Microsoft.Communication.CallConnected")
    {
        axum::http::StatusCode::INTERNAL_SERVER_ERROR
    } else {
        axum::http::StatusCode::NO_CONTENT
    }
}

// Issue #18, item 6: a webhook run's report names each refused callback
// as the app's logs do (CloudEvent id, type, callConnectionId), draws
// every attempt in the latency histogram, and has no lag panel at the
// maximum rate (there is no schedule to lag behind).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_report_names_the_refused_callbacks() {
    if !require("report rendering", &[("chromium", "chromium")]) {
        return;
    }
    let router =
        axum::Router::new().route("/api/callbacks", axum::routing::post(refuse_call_connected));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/callbacks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let dir = tempfile::tempdir().unwrap();
    let (html, summary) = (dir.path().join("run.html"), dir.path().join("summary.json"));
    let run = common::callmetrics_async(&[
        "run",
        "scenarios/outbound-notification.json",
        "--target",
        "webhook",
        "--sink",
        &url,
        "--calls",
        "40",
        "--max-rate",
        "--quiet",
        "--report",
        html.to_str().unwrap(),
        "--summary-out",
        summary.to_str().unwrap(),
    ])
    .await
    .expect_code(2);
    let summary = json(&summary);
    let failures = summary["failures"].as_array().unwrap();
    assert!(!failures.is_empty(), "{}", run.describe());
    assert_eq!(summary["failuresNotListed"], 0);
    let dom = tokio::task::spawn_blocking({
        let profile = dir.path().join("profile");
        move || render(&html, &profile)
    })
    .await
    .unwrap();
    let start = dom.find(r#"id="failure-table""#).unwrap();
    let table = &dom[start..start + dom[start..].find("</table>").unwrap()];
    let rows: Vec<&str> = table.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), failures.len(), "{table}");
    for (row, failure) in rows.iter().zip(failures) {
        assert!(row.contains(failure["id"].as_str().unwrap()), "{row}");
        let events = failure["cloudEvents"].as_array().unwrap();
        assert_eq!(events.len(), 1, "one callback per request");
        let e = &events[0];
        assert_eq!(e["type"], "Microsoft.Communication.CallConnected");
        for (key, class) in [("type", "type"), ("id", "id"), ("callConnectionId", "call")] {
            let shown = format!(">{}<", e[key].as_str().unwrap());
            assert!(
                row.contains(&format!(r#"class="{class}"{shown}"#)),
                "{key} {shown} not in {row}"
            );
        }
    }
    let answered = summary["requests"].as_u64().unwrap() + failures.len() as u64;
    assert_eq!(histogram_total(&dom), answered);
    assert!(figures(&dom, "latency").len() == 1);
    assert!(figures(&dom, "lag").is_empty(), "no lag panel at max rate");
}

// Issue #18, item 6: an app whose accept backlog is smaller than
// --concurrency drops the connections of the run's first burst; the
// summary, its JSON and the page all point at the backlog.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_dropped_at_the_start_hint_at_the_apps_accept_backlog() {
    if !require("report rendering", &[("chromium", "chromium")]) {
        return;
    }
    let app = backlogged_app(6).await;
    let dir = tempfile::tempdir().unwrap();
    let (html, summary) = (dir.path().join("run.html"), dir.path().join("summary.json"));
    let run = common::callmetrics_async(&[
        "run",
        "tests/fixtures/tiny.json",
        "--target",
        "webhook",
        "--sink",
        &format!("http://{app}/api/callbacks"),
        "--calls",
        "40",
        "--max-rate",
        "--concurrency",
        "8",
        "--report",
        html.to_str().unwrap(),
        "--summary-out",
        summary.to_str().unwrap(),
    ])
    .await
    // A closed connection may have delivered its request: not retried, so
    // the run fails (exit 2) and says why.
    .expect_code(2);
    let backlog = "the app's accept backlog (listen(2) backlog, net.core.somaxconn) may be \
                   smaller than --concurrency 8";
    assert!(run.stderr.contains(backlog), "{}", run.describe());
    let summary = json(&summary);
    let hints = &summary["hints"];
    assert_eq!(hints.as_array().unwrap().len(), 1, "{hints}");
    // Every unanswered request was one of the first burst's.
    let failed = summary["failedRequests"].as_u64().unwrap();
    assert!(failed >= 2, "{summary}");
    assert!(
        hints[0].as_str().unwrap().starts_with(&format!(
            "{failed} requests sent in the first second got no answer"
        )),
        "{hints}"
    );
    let dom = render(&html, &dir.path().join("profile"));
    let hint = format!("<p class=\"hint\">hint: {}", hints[0].as_str().unwrap());
    assert!(
        dom.contains(&hint),
        "the page does not show the hint: {}",
        &dom[dom.find("id=\"replies\"").unwrap_or(0)..]
    );
}

/// An app on a free loopback port that closes its first `dropped`
/// connections unanswered, as a full accept queue does to a burst, and
/// answers 204 on every later one.
async fn backlogged_app(dropped: usize) -> std::net::SocketAddr {
    use hyper_util::rt::TokioIo;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut accepted = 0;
        while let Ok((stream, _)) = listener.accept().await {
            accepted += 1;
            if accepted <= dropped {
                drop(stream);
                continue;
            }
            let service = hyper::service::service_fn(|request: http::Request<_>| async move {
                use http_body_util::BodyExt;
                let _ = hyper::body::Incoming::collect(request.into_body()).await;
                http::Response::builder()
                    .status(204)
                    .body(http_body_util::Empty::<hyper::body::Bytes>::new())
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    addr
}
