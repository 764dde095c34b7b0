//! Azure's own Azure Monitor clients read the sink as they read Azure:
//! Python `azure-monitor-query` 1.4.1 (`MetricsQueryClient`,
//! `MetricsClient`) and JavaScript `@azure/monitor-query` 1.3.3, over
//! HTTPS with a bearer token, pointed at a sink filled by `run`. Each
//! client's script (tests/clients/azure-monitor/) compares every parsed
//! answer with expected.json cell for cell (count, total, minimum,
//! maximum, average), for every Azure metric, unsplit and split by each
//! dimension, at PT1M and PT1H, and checks the metric definitions,
//! namespaces and Azure's error codes; an expected file with one count
//! changed must fail both.
//!
//! Needs python3 (with venv) and node + npm; the Python packages go into
//! tests/clients/azure-monitor/.venv (`.ci/run` makes it; made here if
//! missing), the npm ones into its node_modules.

use crate::common::servers::{npm_ci, python_venv, require};
use crate::common::{SinkProcess, callmetrics, repo};
use crate::tls::Pki;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

const RESOURCE: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/callmetrics/providers/Microsoft.Communication/CommunicationServices/acs";
const TOKEN: &str = "a-static-bearer-token";
const HOUR: i64 = 3_600_000;

fn clients_dir() -> PathBuf {
    repo().join("tests/clients/azure-monitor")
}

/// A script's exit code and JSON summary.
fn read_sink(
    program: &Path,
    script: &str,
    env: (&str, &str),
    url: &str,
    expected: &Path,
) -> (i32, Value) {
    let out = Command::new(program)
        .arg(clients_dir().join(script))
        .args([url, RESOURCE])
        .arg(expected)
        .env("AZURE_ACCESS_TOKEN", TOKEN)
        .env(env.0, env.1)
        .current_dir(clients_dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{script} printed no JSON summary ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), summary)
}

/// What the scripts must have compared: queries asked, and each Azure
/// metric's count, by the expected file alone.
fn what_to_compare(expected: &Value) -> (u64, Vec<(String, u64)>) {
    let mut queries = 0;
    let mut totals = Vec::new();
    for body in expected["value"].as_array().unwrap() {
        let name = body["name"]["value"].as_str().unwrap();
        if name == "ApiRequestLatency" {
            continue;
        }
        let series = body["timeseries"].as_array().unwrap();
        let dims = series[0]["metadatavalues"].as_array().unwrap().len() as u64;
        // (1 unsplit + 1 per dimension) x 2 grains, + the batch API per
        // dimension at both grains.
        queries += (1 + dims) * 2 + dims * 2;
        let count: u64 = series
            .iter()
            .flat_map(|s| s["data"].as_array().unwrap())
            .map(|p| p["count"].as_u64().unwrap())
            .sum();
        for grain in ["PT1M", "PT1H"] {
            totals.push((format!("{name} {grain}"), count));
        }
    }
    (queries, totals)
}

#[test]
fn azures_python_and_javascript_clients_read_the_sink_cell_for_cell() {
    if !require(
        "azure_clients",
        &[("python3", "python3"), ("node", "nodejs"), ("npm", "npm")],
    ) {
        return;
    }
    npm_ci(&clients_dir());
    let python = python_venv(&clients_dir());
    let pki = Pki::new();
    let sink = SinkProcess::start(&[
        "--listen",
        "127.0.0.1:0",
        "--token",
        TOKEN,
        "--tls-cert",
        &pki.path("server.pem"),
        "--tls-key",
        &pki.path("server.key"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let expected_path = dir.path().join("expected.json");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let start = (now / HOUR - 2) * HOUR / 1000;
    let start = time::OffsetDateTime::from_unix_timestamp(start).unwrap();
    let start = format!(
        "{:04}-{:02}-{:02}T{:02}:00:00Z",
        start.year(),
        start.month() as u8,
        start.day(),
        start.hour()
    );
    // Two hours back, about 70 minutes of calls: both grains have several
    // buckets, and every metric (recordings too) has data.
    callmetrics(&[
        "run",
        "scenarios/contact-center.json",
        "--calls",
        "400",
        "--rate",
        "0.1/s",
        "--start",
        &start,
        "--max-rate",
        "--quiet",
        "--sink",
        &sink.url,
        "--token",
        TOKEN,
        "--cacert",
        &pki.path("ca.pem"),
        "--expected-out",
        expected_path.to_str().unwrap(),
    ])
    .expect_code(0);
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
    let (queries, totals) = what_to_compare(&expected);
    assert_eq!(
        totals.len(),
        6,
        "three Azure metrics at two grains: {totals:?}"
    );
    let ca = pki.path("ca.pem");
    let node = PathBuf::from("node");
    let clients = [
        (
            python.as_path(),
            "read_sink.py",
            ("REQUESTS_CA_BUNDLE", ca.as_str()),
        ),
        (
            node.as_path(),
            "read_sink.mjs",
            ("NODE_EXTRA_CA_CERTS", ca.as_str()),
        ),
    ];
    for (program, script, env) in clients {
        let (code, summary) = read_sink(program, script, env, &sink.url, &expected_path);
        assert_eq!(code, 0, "{script}: {summary:#}");
        assert_eq!(summary["problemCount"], 0, "{script}: {summary:#}");
        assert_eq!(summary["queries"], queries, "{script}: {summary:#}");
        assert!(
            summary["cells"].as_u64().unwrap() > 1000,
            "{script}: {summary:#}"
        );
        for (name, count) in &totals {
            assert_eq!(
                summary["totals"][name], *count,
                "{script} {name}: {summary:#}"
            );
        }
        assert_eq!(
            summary["definitions"],
            serde_json::json!([
                "APIRequestCallAutomation",
                "APIRequestCallRecording",
                "AcsCallAutomationCallbackEvent"
            ]),
            "{script}"
        );
        for error in ["unknown metric", "unknown dimension"] {
            assert_eq!(
                summary["errors"][error],
                serde_json::json!([400, "BadRequest"]),
                "{script}"
            );
        }
    }

    // One count changed in the expected file: both clients must see it.
    let mut tampered = expected.clone();
    let point = tampered["value"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["name"]["value"] == "AcsCallAutomationCallbackEvent")
        .map(|m| &mut m["timeseries"][0]["data"][0])
        .unwrap();
    let count = point["count"].as_u64().unwrap();
    point["count"] = (count + 1).into();
    point["total"] = (count + 1).into();
    let tampered_path = dir.path().join("tampered.json");
    std::fs::write(&tampered_path, tampered.to_string()).unwrap();
    for (program, script, env) in clients {
        let (code, summary) = read_sink(program, script, env, &sink.url, &tampered_path);
        assert_eq!(
            code, 1,
            "{script} passed a changed expected file: {summary:#}"
        );
        let problems = summary["problems"].to_string();
        assert!(
            problems.contains(&format!("expected count {}", count + 1)),
            "{script}: {summary:#}"
        );
    }
}
