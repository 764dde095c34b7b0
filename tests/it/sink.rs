//! The embedded sink over loopback: every malformed payload gets the right
//! status and a clear message and leaves the aggregates untouched;
//! idempotency, the query API, auth, and durability across `kill -9`.

use crate::common;

use callmetrics::testing::sink::{RunningSink, SinkConfig};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;

const LINE: &str = r#"{"metric":"APIRequestCallAutomation","time":"2026-01-01T00:00:00.005Z","dimensions":{"Operation":"Play","StatusCode":"202","StatusCodeClass":"2xx","ApiVersion":"2025-05-15"},"value":1,"latencyMs":24}"#;
const CALLBACK: &str = r#"{"metric":"AcsCallAutomationCallbackEvent","time":"2026-01-01T00:00:01.000Z","dimensions":{"EventTypeName":"Microsoft.Communication.PlayCompleted","Code":"200","CodeClass":"2xx","SubCode":"0","Version":"2025-05-15"},"value":1}"#;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

struct Case {
    name: &'static str,
    content_type: &'static str,
    encoding: Option<&'static str>,
    token: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    message: &'static str,
}

fn case(name: &'static str, body: impl Into<Vec<u8>>, status: u16, message: &'static str) -> Case {
    Case {
        name,
        content_type: "application/x-ndjson",
        encoding: None,
        token: Some("s3cret"),
        body: body.into(),
        status,
        message,
    }
}

fn malformed_cases() -> Vec<Case> {
    let good_then = |bad: &str| format!("{LINE}\n{bad}\n");
    let mut bomb = vec![b'\n'; 200 << 20];
    bomb[0] = b'{';
    vec![
        case("bad JSON", good_then("{\"metric\": "), 400, "line 2"),
        // Issue #10, item 5: the recording routes have their own metric.
        case(
            "a recording request under the Call Automation metric",
            LINE.replace("\"Play\"", "\"Start Recording\""),
            422,
            "Start Recording requests are counted in APIRequestCallRecording",
        ),
        case(
            "a Call Automation request under the recording metric",
            LINE.replace("APIRequestCallAutomation", "APIRequestCallRecording"),
            422,
            "Play requests are counted in APIRequestCallAutomation",
        ),
        case(
            "status code with a sign",
            LINE.replace("\"202\"", "\"+202\""),
            400,
            "digits only",
        ),
        case(
            "status code with a leading zero",
            LINE.replace("\"202\"", "\"0202\""),
            400,
            "digits only",
        ),
        case(
            "a day that does not exist",
            LINE.replace("2026-01-01T", "2026-02-31T"),
            400,
            "not an RFC 3339",
        ),
        case("not an object", good_then("[1,2,3]"), 400, "line 2"),
        case(
            "wrong type for value",
            LINE.replace("\"value\":1", "\"value\":\"1\""),
            400,
            "invalid type",
        ),
        case(
            "value other than 1",
            LINE.replace("\"value\":1", "\"value\":7"),
            422,
            "`value`",
        ),
        case(
            "unknown metric",
            LINE.replace("APIRequestCallAutomation", "ApiCalls"),
            422,
            "unknown metric",
        ),
        case(
            "derived metric sent directly",
            LINE.replace("APIRequestCallAutomation", "ApiRequestLatency"),
            422,
            "derived",
        ),
        case(
            "unknown operation",
            LINE.replace("\"Play\"", "\"Dance\""),
            422,
            "dimensions.Operation",
        ),
        case(
            "unknown dimension",
            LINE.replace("\"Operation\"", "\"Opration\""),
            422,
            "unknown dimension",
        ),
        case(
            "class does not match code",
            LINE.replace("\"2xx\"", "\"5xx\""),
            422,
            "does not match code 202",
        ),
        case(
            "status code not a number",
            LINE.replace("\"202\"", "\"OK\""),
            400,
            "not a status code",
        ),
        case(
            "unknown api version",
            LINE.replace("2025-05-15", "2099-01-01"),
            422,
            "api version",
        ),
        case(
            "unknown event type",
            CALLBACK.replace("PlayCompleted", "PlayDone"),
            422,
            "event type",
        ),
        case(
            "bad time",
            LINE.replace("2026-01-01T00:00:00.005Z", "yesterday"),
            400,
            "RFC 3339",
        ),
        case(
            "missing latency",
            LINE.replace(",\"latencyMs\":24", ""),
            400,
            "latencyMs",
        ),
        case(
            "missing dimension",
            LINE.replace(",\"ApiVersion\":\"2025-05-15\"", ""),
            400,
            "dimensions.ApiVersion",
        ),
        case(
            "non-UTF-8",
            [LINE.as_bytes(), b"\n{\"metric\":\"\xff\xfe\"}"].concat(),
            400,
            "not UTF-8",
        ),
        case("empty body", "", 400, "empty"),
        case("blank lines only", "\n \n", 400, "empty"),
        case(
            "huge line",
            format!("{{\"metric\":\"{}\"}}", "x".repeat(2 << 20)),
            413,
            "longer than",
        ),
        case(
            "truncated last line",
            format!("{LINE}\n{}", &LINE[..60]),
            400,
            "line 2",
        ),
        Case {
            content_type: "application/xml",
            ..case("wrong content type", LINE, 415, "Content-Type")
        },
        Case {
            token: None,
            ..case("no token", LINE, 401, "bearer token")
        },
        Case {
            token: Some("guess"),
            ..case("bad token", LINE, 401, "bearer token")
        },
        Case {
            encoding: Some("gzip"),
            ..case(
                "truncated gzip",
                gzip(LINE.as_bytes())[..20].to_vec(),
                400,
                "gzip",
            )
        },
        Case {
            encoding: Some("gzip"),
            ..case("gzip bomb", gzip(&bomb), 413, "inflates past")
        },
        Case {
            encoding: Some("br"),
            ..case("unsupported encoding", LINE, 415, "Content-Encoding")
        },
        case("body over the limit", vec![b' '; 5 << 20], 413, ""),
    ]
}

async fn prometheus(client: &reqwest::Client, url: &str) -> String {
    client
        .get(format!("{url}/prometheus"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_payloads_are_refused_and_change_nothing() {
    let config = SinkConfig {
        token: Some("s3cret".into()),
        max_body: 4 << 20,
        ..SinkConfig::embedded()
    };
    let sink = RunningSink::start(config).await.unwrap();
    let url = sink.url();
    let client = common::http();
    let seed = client
        .post(format!("{url}/ingest"))
        .bearer_auth("s3cret")
        .header("content-type", "application/x-ndjson")
        .body(format!("{LINE}\n{CALLBACK}\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(seed.status(), 200);
    let before = prometheus(&client, &url).await;
    assert!(before.contains("} 1\n"), "{before}");
    let cases = malformed_cases();
    assert!(cases.len() >= 20);
    for c in cases {
        let mut req = client
            .post(format!("{url}/ingest"))
            .header("content-type", c.content_type)
            .body(c.body);
        if let Some(t) = c.token {
            req = req.bearer_auth(t);
        }
        if let Some(e) = c.encoding {
            req = req.header("content-encoding", e);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", c.name));
        let status = resp.status().as_u16();
        let closes = resp
            .headers()
            .get("connection")
            .is_some_and(|v| v == "close");
        let text = resp.text().await.unwrap();
        assert_eq!(status, c.status, "{}: {text}", c.name);
        // Refused before the body was read: the connection must not be reused
        // (the same client's next request would fail on it).
        assert_eq!(
            closes,
            matches!(status, 401 | 413 | 415),
            "{}: Connection: close",
            c.name
        );
        assert!(
            text.contains(c.message),
            "{}: message {text:?} lacks {:?}",
            c.name,
            c.message
        );
        // Issue #9, item 15: a refusal of the content names its field.
        if matches!(status, 400 | 422) {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert!(
                v["error"]["field"].is_string(),
                "{}: no field in {text}",
                c.name
            );
        }
        assert_eq!(
            prometheus(&client, &url).await,
            before,
            "{} changed the aggregates",
            c.name
        );
    }
    sink.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_and_the_query_api() {
    let sink = RunningSink::start(SinkConfig::embedded()).await.unwrap();
    let url = sink.url();
    let client = common::http();
    let body = format!(
        "{LINE}\n{LINE}\n{}\n",
        LINE.replace("\"Play\"", "\"Recognize\"")
            .replace(":24", ":36")
    );
    for (key, duplicate) in [("k1", false), ("k1", true), ("k2", false)] {
        let r = client
            .post(format!("{url}/ingest"))
            .header("content-type", "application/x-ndjson")
            .header("idempotency-key", key)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["duplicate"], duplicate, "{key}");
    }
    let query = |q: &'static str| {
        let client = client.clone();
        let url = url.clone();
        async move {
            client
                .get(format!("{url}/metrics?{q}"))
                .send()
                .await
                .unwrap()
        }
    };
    // Split by Operation: Play 4 (two batches x 2), Recognize 2.
    let r = query(
        "metricnames=APIRequestCallAutomation&$filter=Operation%20eq%20'*'&aggregation=Count",
    )
    .await;
    let v: serde_json::Value = r.json().await.unwrap();
    let ts = &v["value"][0]["timeseries"];
    assert_eq!(ts.as_array().unwrap().len(), 2);
    assert_eq!(ts[0]["metadatavalues"][0]["value"], "Play");
    assert_eq!(ts[0]["data"][0]["count"], 4);
    assert!(
        ts[0]["data"][0].get("total").is_none(),
        "only the asked aggregation"
    );
    // Latency: filter + total/min/max/average.
    let r =
        query("metricnames=ApiRequestLatency&$filter=Operation%20eq%20'Recognize'&interval=PT1S")
            .await;
    let v: serde_json::Value = r.json().await.unwrap();
    let d = &v["value"][0]["timeseries"][0]["data"][0];
    assert_eq!(
        (
            d["count"].as_u64(),
            d["total"].as_u64(),
            d["average"].as_f64()
        ),
        (Some(2), Some(72), Some(36.0))
    );
    assert_eq!(v["interval"], "PT1S");
    // top + orderby.
    let r = query("metricnames=APIRequestCallAutomation&$filter=Operation%20eq%20'*'&top=1&orderby=count%20asc").await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        v["value"][0]["timeseries"][0]["metadatavalues"][0]["value"],
        "Recognize"
    );
    // Unknown names are errors, not empty answers.
    for (q, message) in [
        ("metricnames=NoSuchMetric", "unknown metric"),
        (
            "metricnames=APIRequestCallAutomation&$filter=Code%20eq%20'200'",
            "not a dimension of",
        ),
        (
            "metricnames=APIRequestCallAutomation&interval=PT7M",
            "unknown grain",
        ),
        ("", "metricnames is required"),
    ] {
        let r = query(q).await;
        assert_eq!(r.status(), 400, "{q}");
        assert!(r.text().await.unwrap().contains(message), "{q}");
    }
    sink.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_endpoint_counts_cloud_events() {
    let sink = RunningSink::start(SinkConfig::embedded()).await.unwrap();
    let url = sink.url();
    let line = generated_callback();
    let events = serde_json::json!([line["cloudEvent"], line["cloudEvent"]]);
    let client = common::http();
    let r = client
        .post(format!("{url}/callbacks"))
        .json(&events)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = client
        .get(format!("{url}/prometheus"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let event_type = line["dimensions"]["EventTypeName"].as_str().unwrap();
    assert!(
        text.contains(&format!("event_type_name=\"{event_type}\"")),
        "{text}"
    );
    assert!(text.contains("} 2\n"), "{text}");
    let r = client
        .post(format!("{url}/callbacks"))
        .header("content-type", "application/json")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    sink.shutdown().await.unwrap();
}

/// One generated events.jsonl line holding a callback (its `cloudEvent`).
fn generated_callback() -> serde_json::Value {
    serde_json::from_str(
        &std::process::Command::new(env!("CARGO_BIN_EXE_callmetrics"))
            .args([
                "generate",
                "tests/fixtures/tiny.json",
                "--calls",
                "1",
                "--out",
                "-",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
            .stdout
            .split(|&b| b == b'\n')
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .find(|l| l.contains("cloudEvent"))
            .unwrap(),
    )
    .unwrap()
}

// Issue #9, items 6-8: a key names one body on one endpoint; keys are
// visible ASCII of bounded length, and only so many are remembered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_are_checked_bounded_and_per_endpoint() {
    let mut config = SinkConfig::embedded();
    config.store.max_keys = 3;
    let sink = RunningSink::start(config).await.unwrap();
    let url = sink.url();
    let client = common::http();
    let post = |path: &'static str, key: Vec<u8>, body: String| {
        let client = client.clone();
        let url = url.clone();
        let content_type = if path == "/ingest" {
            "application/x-ndjson"
        } else {
            "application/json"
        };
        async move {
            let r = client
                .post(format!("{url}{path}"))
                .header("content-type", content_type)
                .header(
                    "idempotency-key",
                    reqwest::header::HeaderValue::from_bytes(&key).unwrap(),
                )
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let one = format!("{LINE}\n");
    let two = format!("{LINE}\n{LINE}\n");
    let (status, v) = post("/ingest", b"k1".to_vec(), one.clone()).await;
    assert_eq!((status, &v["duplicate"]), (200, &serde_json::json!(false)));
    // The same key and body: a duplicate; another body: refused, not dropped.
    let (status, v) = post("/ingest", b"k1".to_vec(), one.clone()).await;
    assert_eq!((status, &v["duplicate"]), (200, &serde_json::json!(true)));
    let (status, v) = post("/ingest", b"k1".to_vec(), two.clone()).await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["error"]["field"], "Idempotency-Key");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("different body"),
        "{v}"
    );
    // Too long, not ASCII, empty: 400 naming the header.
    for key in [vec![b'x'; 257], "clé".as_bytes().to_vec(), Vec::new()] {
        let (status, v) = post("/ingest", key, one.clone()).await;
        assert_eq!(status, 400, "{v}");
        assert_eq!(v["error"]["field"], "Idempotency-Key");
    }
    let (status, _) = post("/ingest", vec![b'x'; 256], one.clone()).await;
    assert_eq!(status, 200);
    // /callbacks has its own keys: k1 there is new.
    let events = serde_json::json!([generated_callback()["cloudEvent"]]).to_string();
    let (status, v) = post("/callbacks", b"k1".to_vec(), events).await;
    assert_eq!(
        (status, &v["duplicate"]),
        (200, &serde_json::json!(false)),
        "{v}"
    );
    // Three keys are remembered: k1 (ingest) was the oldest and is forgotten.
    let (status, v) = post("/ingest", b"k4".to_vec(), one.clone()).await;
    assert_eq!((status, &v["duplicate"]), (200, &serde_json::json!(false)));
    let (status, v) = post("/ingest", b"k1".to_vec(), two).await;
    assert_eq!(
        (status, &v["duplicate"]),
        (200, &serde_json::json!(false)),
        "{v}"
    );
    sink.shutdown().await.unwrap();
}

// Issue #9, item 14: parsing and the log's fsync ran on the async threads,
// so one large ingest held up every query and health check. On a runtime
// of one thread, a health check sent while a large batch is being parsed
// must be answered before that batch is.
#[tokio::test(flavor = "current_thread")]
async fn health_checks_are_answered_during_a_large_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let config = SinkConfig {
        data_dir: Some(dir.path().to_path_buf()),
        ..SinkConfig::embedded()
    };
    let sink = RunningSink::start(config).await.unwrap();
    let url = sink.url();
    let client = common::http();
    let body = format!("{LINE}\n").repeat(150_000);
    let ingest = tokio::spawn({
        let (client, url) = (client.clone(), url.clone());
        async move { ingest_ok(&client, &url, body).await }
    });
    // The body is on its way and being parsed.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let health = client.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(
        !ingest.is_finished(),
        "the health check waited for the ingest (or the ingest was too small to tell)"
    );
    ingest.await.unwrap();
    sink.shutdown().await.unwrap();
}

// Issue #9, item 13: one query split over 3 M series returned 596 MB and
// held the store for 35 s. Answers are capped by points.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_past_the_point_cap_are_refused() {
    let config = SinkConfig {
        max_answer_points: 3,
        ..SinkConfig::embedded()
    };
    let sink = RunningSink::start(config).await.unwrap();
    let url = sink.url();
    let client = common::http();
    let body: String = (1..=5)
        .map(|s| LINE.replace("00:00:00.005Z", &format!("00:00:0{s}.005Z")) + "\n")
        .collect();
    ingest_ok(&client, &url, body).await;
    let get = |q: &'static str| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let r = client
                .get(format!("{url}/metrics?{q}"))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, text) = get("metricnames=APIRequestCallAutomation&interval=PT1S").await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("--max-answer-points"), "{text}");
    let (status, text) = get("metricnames=APIRequestCallAutomation&interval=PT1M").await;
    assert_eq!(status, 200, "{text}");
    sink.shutdown().await.unwrap();
}

/// Posts NDJSON `body` to the sink's /ingest and asserts it was accepted.
// Issue #19: a second Idempotency-Key was ignored (the first one keyed the
// batch), and `orderby=count asc extra` was read as `count asc`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_key_and_words_after_orderby_are_refused() {
    let sink = RunningSink::start(SinkConfig::embedded()).await.unwrap();
    let url = sink.url();
    let client = common::http();
    let r = client
        .post(format!("{url}/ingest"))
        .header("content-type", "application/x-ndjson")
        .header("idempotency-key", "first")
        .header("idempotency-key", "second")
        .body(format!("{LINE}\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["field"], "Idempotency-Key");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("more than once"),
        "{v}"
    );
    assert_eq!(sink.stats().samples, 0);
    ingest_ok(&client, &url, format!("{LINE}\n")).await;
    let get = |orderby: &'static str| {
        client
            .get(format!(
                "{url}/metrics?metricnames=APIRequestCallAutomation&top=1&orderby={orderby}"
            ))
            .send()
    };
    let r = get("count%20asc%20extra").await.unwrap();
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"extra\""),
        "{v}"
    );
    assert_eq!(get("count%20asc").await.unwrap().status(), 200);
    sink.shutdown().await.unwrap();
}

async fn ingest_ok(client: &reqwest::Client, url: &str, body: String) {
    let r = client
        .post(format!("{url}/ingest"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

// Issue #20, item 7: whatever --time-window allows, a sample past the
// last day is refused: its day bucket would end past what RFC 3339 writes.
#[tokio::test]
async fn samples_past_the_last_day_are_refused_whatever_the_window() {
    let mut config = SinkConfig::embedded();
    config.store.time_window = std::time::Duration::from_secs(9000 * 365 * 86_400);
    let sink = RunningSink::start(config).await.unwrap();
    let url = sink.url();
    let client = common::http();
    for (time, status) in [
        ("9999-12-31T00:00:00.000Z", 422),
        ("9999-12-30T23:59:59.999Z", 200),
    ] {
        let line = LINE.replace("2026-01-01T00:00:00.005Z", time);
        let resp = client
            .post(format!("{url}/ingest"))
            .header("content-type", "application/x-ndjson")
            .body(format!("{line}\n"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            status,
            "{time}: {}",
            resp.text().await.unwrap()
        );
    }
    // The day bucket of the accepted sample is written as itself.
    let answer = client
        .get(format!(
            "{url}/metrics?metricnames=APIRequestCallAutomation&interval=P1D&aggregation=count\
             &timespan=9999-12-30T00:00:00Z/9999-12-31T00:00:00Z"
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        answer.contains(r#""timeStamp":"9999-12-30T00:00:00Z""#),
        "{answer}"
    );
}
