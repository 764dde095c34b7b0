//! The sink as a local Azure Monitor: Azure Monitor's REST paths under any
//! Communication Services resource id, with Azure's parameters, defaults
//! and refusals (status, code, body shape), and `check --resource-id`
//! reading them. What Azure's own clients make of it is
//! servers/azure_clients.rs.

use crate::common::{self, SinkProcess, callmetrics};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

const RESOURCE: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Communication/CommunicationServices/acs";
const HOUR: i64 = 3_600_000;

/// A sink holding a contact-center run that began two whole hours ago.
struct Filled {
    sink: SinkProcess,
    expected: PathBuf,
    /// The whole hour the run began in (Unix ms).
    hour: i64,
    _dir: tempfile::TempDir,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn stamp(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms / 1000).unwrap();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn filled() -> Filled {
    filled_with(&[])
}

/// [`filled`], the sink started with `sink_args` too and `run` given
/// `run_args`.
fn filled_with(extra: &[(&str, &str)]) -> Filled {
    let dir = tempfile::tempdir().unwrap();
    let mut sink_args = vec!["--listen", "127.0.0.1:0"];
    let mut run_args = Vec::new();
    for (flag, value) in extra {
        sink_args.extend([*flag, *value]);
        run_args.extend([*flag, *value]);
    }
    let sink = SinkProcess::start(&sink_args);
    let hour = now_ms() / HOUR * HOUR - 2 * HOUR;
    let expected = dir.path().join("expected.json");
    callmetrics(
        &[
            "run",
            "scenarios/contact-center.json",
            "--calls",
            "300",
            "--rate",
            "0.2/s",
            "--start",
            &stamp(hour),
            "--max-rate",
            "--quiet",
            "--sink",
            &sink.url,
            "--expected-out",
            expected.to_str().unwrap(),
        ]
        .into_iter()
        .chain(run_args)
        .collect::<Vec<_>>(),
    )
    .expect_code(0);
    Filled {
        sink,
        expected,
        hour,
        _dir: dir,
    }
}

impl Filled {
    /// GET `{sink}{RESOURCE}/providers/Microsoft.Insights/{api}?{query}`.
    async fn get(&self, api: &str, query: &str) -> (u16, Value) {
        let url = format!(
            "{}{RESOURCE}/providers/Microsoft.Insights/{api}?{query}",
            self.sink.url
        );
        let response = common::http().get(url).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    async fn metrics(&self, query: &str) -> (u16, Value) {
        self.get("metrics", &format!("api-version=2024-02-01&{query}"))
            .await
    }

    /// The run's first three hours as `timespan=start/end`.
    fn hours(&self) -> String {
        format!(
            "timespan={}/{}",
            stamp(self.hour),
            stamp(self.hour + 3 * HOUR)
        )
    }

    fn expected(&self) -> Value {
        serde_json::from_str(&common::read(&self.expected)).unwrap()
    }

    /// The expected count of `metric`, in all.
    fn expected_count(&self, metric: &str) -> u64 {
        self.expected()["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["name"]["value"] == metric)
            .flat_map(|m| m["timeseries"].as_array().unwrap().iter())
            .flat_map(|s| s["data"].as_array().unwrap().iter())
            .map(|p| p["count"].as_u64().unwrap())
            .sum()
    }
}

/// Every point's count in an answer's first metric, empty buckets as 0.
fn counts(answer: &Value) -> Vec<Vec<u64>> {
    answer["value"][0]["timeseries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["count"].as_u64().unwrap_or(0))
                .collect()
        })
        .collect()
}

fn total(answer: &Value) -> u64 {
    counts(answer).iter().flatten().sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_timespan_form_and_full_answer_the_same_hours() {
    let f = filled();
    let metric = "metricnames=AcsCallAutomationCallbackEvent&aggregation=Count";
    let events = f.expected_count("AcsCallAutomationCallbackEvent");
    let (from, to) = (stamp(f.hour), stamp(f.hour + 3 * HOUR));
    for timespan in [
        format!("{from}/{to}"),
        format!("{from}/PT3H"),
        format!("PT3H/{to}"),
        format!("{from}/P0DT10800.0S"),
    ] {
        let (status, answer) = f
            .metrics(&format!("{metric}&interval=PT1H&timespan={timespan}"))
            .await;
        assert_eq!(status, 200, "{timespan}: {answer}");
        // Three hours at PT1H: every bucket listed, those without data too.
        assert_eq!(counts(&answer)[0].len(), 3, "{timespan}: {answer}");
        assert_eq!(total(&answer), events, "{timespan}");
    }
    // A bare duration ends now: the last 3 hours and a bit hold every event.
    let (status, answer) = f
        .metrics(&format!("{metric}&interval=PT1M&timespan=PT4H"))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(total(&answer), events);
    assert!(counts(&answer)[0].len() >= 240, "every minute is listed");
    // FULL: one point for the whole timespan, named by its length.
    let (status, answer) = f
        .metrics(&format!("{metric}&interval=FULL&{}", f.hours()))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["interval"], "PT3H");
    assert_eq!(counts(&answer), vec![vec![events]]);
    // No data in the timespan: no series at all, as Azure answers.
    let (status, answer) = f
        .metrics(&format!(
            "{metric}&timespan={}/{}",
            stamp(f.hour - 5 * HOUR),
            stamp(f.hour - 4 * HOUR)
        ))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["value"][0]["timeseries"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splits_take_azures_default_top_and_order_and_rollup_and_metadata() {
    let f = filled();
    let base = format!(
        "metricnames=AcsCallAutomationCallbackEvent&interval=FULL&{}",
        f.hours()
    );
    let (_, all) = f
        .metrics(&format!("{base}&$filter=EventTypeName eq '*'&top=1000"))
        .await;
    let series = counts(&all).len();
    assert!(series > 10, "contact-center has {series} event types");
    let (status, top) = f
        .metrics(&format!("{base}&$filter=EventTypeName eq '*'"))
        .await;
    assert_eq!(status, 200, "{top}");
    let ten: Vec<u64> = counts(&top).iter().map(|s| s[0]).collect();
    assert_eq!(ten.len(), 10, "top defaults to 10 when splitting");
    assert!(
        ten.windows(2).all(|w| w[0] >= w[1]),
        "by count, descending: {ten:?}"
    );
    let mut every: Vec<u64> = counts(&all).iter().map(|s| s[0]).collect();
    every.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ten, every[..10], "the 10 largest");
    // Azure writes dimension names in lower case in its answers.
    assert_eq!(
        top["value"][0]["timeseries"][0]["metadatavalues"][0]["name"]["value"],
        "eventtypename"
    );
    assert_eq!(
        top["namespace"],
        "microsoft.communication/communicationservices"
    );
    let (_, asc) = f
        .metrics(&format!(
            "{base}&$filter=EventTypeName eq '*'&top=3&orderby=count asc"
        ))
        .await;
    let three: Vec<u64> = counts(&asc).iter().map(|s| s[0]).collect();
    every.reverse();
    assert_eq!(three, every[..3]);
    // rollupby adds the split values together again.
    let (status, rolled) = f
        .metrics(&format!(
            "{base}&$filter=EventTypeName eq '*'&rollupby=EventTypeName"
        ))
        .await;
    assert_eq!(status, 200, "{rolled}");
    assert_eq!(counts(&rolled), vec![vec![total(&all)]]);
    // resultType=Metadata: the series, without data.
    let (status, metadata) = f
        .metrics(&format!(
            "{base}&$filter=EventTypeName eq '*'&top=1000&resultType=Metadata"
        ))
        .await;
    assert_eq!(status, 200, "{metadata}");
    let listed = metadata["value"][0]["timeseries"].as_array().unwrap();
    assert_eq!(listed.len(), series);
    assert!(listed.iter().all(|s| s.get("data").is_none()), "{metadata}");
}

/// The status, the error's code and message, and whether the body was
/// wrapped in `error`.
fn refusal(status: u16, body: &Value) -> (u16, String, String, bool) {
    let wrapped = body.get("error").is_some();
    let error = if wrapped { &body["error"] } else { body };
    (
        status,
        error["code"].as_str().unwrap_or_default().to_string(),
        error["message"].as_str().unwrap_or_default().to_string(),
        wrapped,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_azures_status_code_and_shape_and_say_what_is_allowed() {
    let f = filled();
    let hours = f.hours();
    let cases: Vec<(String, u16, &str, &str, bool)> = vec![
        (
            format!("metricnames=APIRequestCallAutomation&{hours}"),
            400,
            "MissingApiVersionParameter",
            "2024-02-01",
            true,
        ),
        (
            format!("api-version=2099-01-01&metricnames=APIRequestCallAutomation&{hours}"),
            400,
            "NoRegisteredProviderFound",
            "The supported api-versions are",
            true,
        ),
        (
            format!("api-version=2024-02-01&metricnames=NoSuchMetric&{hours}"),
            400,
            "BadRequest",
            "Failed to find metric configuration for provider: Microsoft.Communication, resource Type: CommunicationServices, metric: NoSuchMetric, Valid metrics: APIRequestCallAutomation,",
            false,
        ),
        (
            format!("api-version=2024-02-01&metricnames=ApiRequestLatency&{hours}"),
            400,
            "BadRequest",
            "Failed to find metric configuration",
            false,
        ),
        (
            format!(
                "api-version=2024-02-01&metricnames=APIRequestCallAutomation&{hours}&$filter=Code eq '*'"
            ),
            400,
            "BadRequest",
            "Metric: APIRequestCallAutomation does not support requested dimension combination: Code, supported ones are: Operation,StatusCode,StatusCodeClass,ApiVersion",
            false,
        ),
        (
            format!(
                "api-version=2024-02-01&metricnames=APIRequestCallAutomation&{hours}&interval=PT2M"
            ),
            400,
            "BadRequest",
            "Invalid time grain duration: PT2M, supported ones are: 00:01:00,00:05:00,00:15:00,00:30:00,01:00:00,06:00:00,12:00:00,1.00:00:00",
            false,
        ),
        (
            "api-version=2024-02-01&metricnames=APIRequestCallAutomation&timespan=2026-01-01T00:00:00Z/"
                .to_string(),
            400,
            "BadRequest",
            "Detected invalid time interval input",
            false,
        ),
        (
            format!(
                "api-version=2024-02-01&metricnames={}&{hours}",
                vec!["APIRequestCallAutomation"; 21].join(",")
            ),
            400,
            "BadRequest",
            "at most 20",
            false,
        ),
        (
            "api-version=2024-02-01&metricnames=APIRequestCallAutomation&timespan=2020-01-01T00:00:00Z/PT1H"
                .to_string(),
            400,
            "BadRequest",
            "is out of the Max metrics retention period: 93.00:00:00",
            false,
        ),
        (
            format!(
                "api-version=2024-02-01&metricnames=APIRequestCallAutomation&{hours}&metricnamespace=Other"
            ),
            400,
            "BadRequest",
            "metricnamespace \"Other\"",
            false,
        ),
    ];
    for (query, status, code, text, wrapped) in cases {
        let (got_status, body) = f.get("metrics", &query).await;
        let (s, c, m, w) = refusal(got_status, &body);
        assert_eq!(
            (s, c.as_str(), w),
            (status, code, wrapped),
            "{query}: {body}"
        );
        assert!(m.contains(text), "{query}: {m}");
    }
    // AutoAdjustTimegrain moves PT2M to the nearest grain Azure has;
    // ValidateDimensions=false ignores a dimension the metric lacks.
    let (status, adjusted) = f
        .metrics(&format!(
            "metricnames=APIRequestCallAutomation&{hours}&interval=PT2M&AutoAdjustTimegrain=true"
        ))
        .await;
    assert_eq!((status, adjusted["interval"].as_str()), (200, Some("PT1M")));
    let (status, lenient) = f
        .metrics(&format!(
            "metricnames=APIRequestCallAutomation&{hours}&interval=FULL&$filter=Code eq '200'&ValidateDimensions=false"
        ))
        .await;
    assert_eq!(status, 200, "{lenient}");
    assert_eq!(
        total(&lenient),
        f.expected_count("APIRequestCallAutomation")
    );
    // A path that is none of the APIs: Azure's 404 body.
    let response = common::http()
        .get(format!("{}/subscriptions/x/nothing", f.sink.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "NotFound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_namespaces_batch_and_custom_metrics_at_azures_paths() {
    let f = filled();
    let (status, definitions) = f.get("metricDefinitions", "api-version=2024-02-01").await;
    assert_eq!(status, 200, "{definitions}");
    let names: Vec<&str> = definitions["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"]["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "APIRequestCallAutomation",
            "AcsCallAutomationCallbackEvent",
            "APIRequestCallRecording"
        ]
    );
    let callbacks = &definitions["value"][1];
    assert_eq!(callbacks["unit"], "Count");
    assert_eq!(callbacks["primaryAggregationType"], "Count");
    assert_eq!(
        callbacks["namespace"],
        "Microsoft.Communication/CommunicationServices"
    );
    assert_eq!(callbacks["metricAvailabilities"][0]["timeGrain"], "PT1M");
    assert_eq!(callbacks["dimensions"].as_array().unwrap().len(), 5);
    assert_eq!(
        callbacks["id"],
        format!(
            "{RESOURCE}/providers/microsoft.insights/metricdefinitions/AcsCallAutomationCallbackEvent"
        )
    );
    let (status, namespaces) = f.get("metricNamespaces", "api-version=2024-02-01").await;
    assert_eq!(status, 200, "{namespaces}");
    assert_eq!(
        namespaces["value"][0]["properties"]["metricNamespaceName"],
        "Microsoft.Communication/CommunicationServices"
    );

    // The batch API: each resource's answer, and its wrapped refusals.
    let subscription = "00000000-0000-0000-0000-000000000000";
    let other = RESOURCE.replace("/acs", "/acs2");
    let batch = |query: String, body: Value| {
        let url = format!(
            "{}/subscriptions/{subscription}/metrics:getBatch?{query}",
            f.sink.url
        );
        async move {
            let response = common::http().post(url).json(&body).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let query = format!(
        "api-version=2024-02-01&metricnamespace=Microsoft.Communication/CommunicationServices&metricnames=APIRequestCallAutomation&starttime={}&endtime={}&interval=FULL",
        stamp(f.hour),
        stamp(f.hour + 3 * HOUR)
    );
    let (status, answer) = batch(
        query.clone(),
        serde_json::json!({ "resourceids": [RESOURCE, other] }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let values = answer["values"].as_array().unwrap();
    assert_eq!(values.len(), 2);
    assert_eq!(values[1]["resourceid"], other.as_str());
    assert_eq!(values[0]["starttime"], stamp(f.hour));
    let requests = f.expected_count("APIRequestCallAutomation");
    assert_eq!(
        values[0]["value"][0]["timeseries"][0]["data"][0]["count"],
        requests
    );
    for (query, body, text) in [
        (
            format!("{query}&timespan=PT1H"),
            serde_json::json!({ "resourceids": [RESOURCE] }),
            "Please use only starttime and endtime",
        ),
        (
            query.clone(),
            serde_json::json!({ "resourceids": vec![RESOURCE; 51] }),
            "a batch takes 1 to 50",
        ),
        (
            query.clone(),
            serde_json::json!({ "resourceids": [RESOURCE.replace("00000000-0000", "11111111-0000")] }),
            "is not a resource id of subscription",
        ),
        (
            query.replace("metricnames=APIRequestCallAutomation", "metricnames=Nope"),
            serde_json::json!({ "resourceids": [RESOURCE] }),
            "Failed to find metric configuration",
        ),
    ] {
        let (status, body) = batch(query, body).await;
        let (s, code, message, wrapped) = refusal(status, &body);
        assert_eq!(
            (s, code.as_str(), wrapped),
            (400, "BadRequest", true),
            "{body}"
        );
        assert!(message.contains(text), "{message}");
    }

    // Custom metrics at {resourceUri}/metrics, as Azure's regional
    // ingestion endpoint takes them, kept under that resource.
    let post = post_document(&f.sink.url, &other, f.hour + 2 * HOUR).await;
    assert_eq!(post, 200);
    let custom = |resource: String| custom_total(&f.sink.url, resource, f.hours());
    assert_eq!(
        custom(other.clone()).await,
        7,
        "the resource's own custom metrics"
    );
    let (_, platform) = f
        .metrics(&format!(
            "metricnames=APIRequestCallAutomation&interval=FULL&{}",
            f.hours()
        ))
        .await;
    assert_eq!(
        total(&platform),
        requests,
        "platform metrics: the sink's own"
    );
    assert_eq!(
        custom(RESOURCE.to_string()).await,
        requests,
        "a resource nothing was posted for answers the sink's own"
    );
}

/// The API requests `resource` holds in the custom namespace over
/// `timespan` (a `timespan=...` parameter), asked at Azure's path.
async fn custom_total(url: &str, resource: String, timespan: String) -> u64 {
    let url = format!(
        "{url}{resource}/providers/Microsoft.Insights/metrics?api-version=2024-02-01&metricnames=APIRequestCallAutomation&interval=FULL&{timespan}&metricnamespace=CallAutomation"
    );
    let answer: Value = common::http()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    total(&answer)
}

/// Posts one custom-metrics document of 7 Play requests at `at` to
/// `{url}{resource}/metrics`; the status.
async fn post_document(url: &str, resource: &str, at: i64) -> u16 {
    let document = format!(
        r#"{{"time":"{}","data":{{"baseData":{{"metric":"APIRequestCallAutomation","namespace":"CallAutomation","dimNames":["Operation","StatusCode","StatusCodeClass","ApiVersion"],"series":[{{"dimValues":["Play","202","2xx","2025-05-15"],"min":1,"max":1,"sum":7,"count":7}}]}}}}}}"#,
        stamp(at)
    );
    let response = common::http()
        .post(format!("{url}{resource}/metrics"))
        .header("content-type", "application/json")
        .body(document)
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resources_custom_metrics_survive_a_kill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let listen = format!("127.0.0.1:{}", common::servers::free_port());
    let args = [
        "--listen",
        listen.as_str(),
        "--data-dir",
        data.to_str().unwrap(),
    ];
    let mut sink = SinkProcess::start(&args);
    let at = now_ms() / HOUR * HOUR;
    assert_eq!(post_document(&sink.url, RESOURCE, at).await, 200);
    assert_eq!(post_document(&sink.url, RESOURCE, at).await, 200);
    sink.kill();
    let log = dir.path().join("sink.log");
    let sink = SinkProcess::start_logged(&args, &log);
    let timespan = format!("timespan={}/PT1H", stamp(at));
    assert_eq!(
        custom_total(&sink.url, RESOURCE.to_string(), timespan).await,
        14
    );
    let said = common::read(&log);
    assert!(
        said.contains(&format!("custom metrics of {RESOURCE}:")) && said.contains("(2 batches)"),
        "{said}"
    );
}

#[test]
fn check_reads_a_resource_at_azures_paths() {
    let f = filled();
    let expected = f.expected.to_str().unwrap();
    let run = callmetrics(&[
        "check",
        "--expected",
        expected,
        "--observed",
        &f.sink.url,
        "--resource-id",
        RESOURCE,
        "--grain",
        "PT1M,PT1H",
    ])
    .expect_code(0);
    assert!(run.stdout.contains("PASS"), "{}", run.describe());
    // callmetrics' own latency metric is not one of Azure's: not read.
    assert!(!run.stdout.contains("ApiRequestLatency"), "{}", run.stdout);
    assert!(
        run.stdout.contains("APIRequestCallRecording"),
        "{}",
        run.stdout
    );
    for (flags, text) in [
        (
            vec!["--resource-id", "/subscriptions/x"],
            "is not an Azure resource id",
        ),
        (
            vec!["--resource-id", RESOURCE, "--backend", "promql"],
            "--resource-id names an Azure resource",
        ),
        (
            vec!["--resource-id", RESOURCE, "--metric-namespace", "Elsewhere"],
            "metricnamespace \"Elsewhere\"",
        ),
    ] {
        let mut args = vec!["check", "--expected", expected, "--observed", &f.sink.url];
        args.extend(flags);
        let run = callmetrics(&args).expect_code(2);
        assert!(run.stderr.contains(text), "{}", run.describe());
    }
}

#[test]
fn check_takes_azures_token_from_azure_access_token_and_says_so_when_refused() {
    let f = filled_with(&[("--token", "s3cret")]);
    let expected = f.expected.to_str().unwrap();
    let args = [
        "check",
        "--expected",
        expected,
        "--observed",
        &f.sink.url,
        "--resource-id",
        RESOURCE,
    ];
    let refused = common::callmetrics_with_env(&args, &[]).expect_code(2);
    assert!(
        refused.stderr.contains("Azure Monitor rejected")
            && refused
                .stderr
                .contains("AZURE_ACCESS_TOKEN (az account get-access-token"),
        "{}",
        refused.describe()
    );
    let passed =
        common::callmetrics_with_env(&args, &[("AZURE_ACCESS_TOKEN", "s3cret")]).expect_code(0);
    assert!(passed.stdout.contains("PASS"), "{}", passed.describe());
}
