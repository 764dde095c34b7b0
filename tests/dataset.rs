//! `generate` end to end: the files it writes, their agreement with each
//! other, and byte-for-byte determinism.

mod common;
#[path = "common/recount.rs"]
mod recount;

use common::{callmetrics, read};
use std::path::Path;

fn generate(dir: &Path, extra: &[&str]) {
    let out = dir.to_str().unwrap();
    let mut args = vec![
        "generate",
        "tests/fixtures/tiny.json",
        "--out",
        out,
        "--quiet",
    ];
    args.extend_from_slice(extra);
    callmetrics(&args).expect_code(0);
}

#[test]
fn first_events_of_a_tiny_scenario() {
    let run = callmetrics(&[
        "generate",
        "tests/fixtures/tiny.json",
        "--calls",
        "3",
        "--seed",
        "42",
        "--out",
        "-",
    ])
    .expect_code(0);
    let first: Vec<&str> = run.stdout.lines().take(12).collect();
    insta::assert_snapshot!(first.join("\n"));
}

#[test]
fn expected_json_of_a_tiny_scenario() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), &["--calls", "20", "--seed", "42"]);
    insta::assert_snapshot!(read(&dir.path().join("expected.json")));
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&dir.path().join("manifest.json"))).unwrap();
    assert_eq!(manifest["counts"]["calls"], 20);
    assert_eq!(manifest["seed"], 42);
    assert_eq!(manifest["scenario"]["name"], "tiny");
    assert_eq!(manifest["scenario"]["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn recounting_events_gives_expected_json() {
    let dir = tempfile::tempdir().unwrap();
    generate(
        dir.path(),
        &["--calls", "3000", "--seed", "5", "--rate", "20/s"],
    );
    let events = read(&dir.path().join("events.jsonl"));
    let recounted = recount::recount_jsonl(&events);
    let expected = recount::cells_of_expected(&read(&dir.path().join("expected.json")));
    assert!(
        recounted.len() > 20,
        "too few cells to be a meaningful test"
    );
    assert_eq!(recounted, expected);
}

#[test]
fn events_are_in_time_order_and_calls_end_with_disconnect() {
    let run = callmetrics(&[
        "generate",
        "tests/fixtures/tiny.json",
        "--calls",
        "500",
        "--out",
        "-",
    ])
    .expect_code(0);
    let mut last = String::new();
    let mut ended = std::collections::HashSet::new();
    for line in run.stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let time = v["time"].as_str().unwrap().to_string();
        assert!(time >= last, "{time} after {last}");
        last = time;
        let call = v["cloudEvent"]["data"]["callConnectionId"]
            .as_str()
            .or(v["request"]["callConnectionId"].as_str())
            .unwrap()
            .to_string();
        assert!(
            !ended.contains(&call),
            "event after CallDisconnected: {line}"
        );
        if v["dimensions"]["EventTypeName"] == "Microsoft.Communication.CallDisconnected" {
            ended.insert(call);
        }
    }
    assert!(
        ended.len() > 400,
        "most tiny calls end with CallDisconnected"
    );
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    generate(a.path(), &["--calls", "300", "--seed", "9"]);
    generate(b.path(), &["--calls", "300", "--seed", "9"]);
    generate(c.path(), &["--calls", "300", "--seed", "10"]);
    for file in ["events.jsonl", "expected.json"] {
        assert!(
            read(&a.path().join(file)) == read(&b.path().join(file)),
            "{file} differs between identical runs"
        );
        assert!(
            read(&a.path().join(file)) != read(&c.path().join(file)),
            "{file} ignores the seed"
        );
    }
    // The manifest names the output directory nowhere, so it is identical too.
    assert_eq!(
        read(&a.path().join("manifest.json")),
        read(&b.path().join("manifest.json"))
    );
}

#[test]
fn csv_has_one_row_per_event() {
    let dir = tempfile::tempdir().unwrap();
    generate(
        dir.path(),
        &["--calls", "50", "--format", "csv", "--naming", "overview"],
    );
    let csv = read(&dir.path().join("events.csv"));
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "metric,time,Operation,StatusCode,StatusSubClass,ApiVersion,EventTypeName,Code,CodeClass,SubCode,Version,value,latencyMs,callConnectionId"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&dir.path().join("manifest.json"))).unwrap();
    let rows: Vec<&str> = lines.collect();
    assert_eq!(
        rows.len() as u64,
        manifest["counts"]["events"].as_u64().unwrap()
    );
    assert!(
        rows.iter().all(|r| r.split(',').count() == 14),
        "every row has 14 columns"
    );
    let expected = read(&dir.path().join("expected.json"));
    assert!(
        expected.contains("\"StatusSubClass\""),
        "overview naming reaches expected.json"
    );
}

/// `generate --format azure-monitor`: per minute and metric one ingestion
/// document whose series are exactly expected.json's cells.
#[test]
fn azure_monitor_documents_hold_exactly_the_expected_cells() {
    use std::collections::BTreeMap;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    common::callmetrics(&[
        "generate",
        "scenarios/inbound-ivr.json",
        "--calls",
        "600",
        "--rate",
        "5/s",
        "--format",
        "azure-monitor",
        "--naming",
        "overview",
        "--out",
        out,
        "--quiet",
    ])
    .expect_code(0);
    type Cells = BTreeMap<(String, String, Vec<(String, String)>), [u64; 4]>;
    let mut documents = Cells::new();
    let text = common::read(&dir.path().join("metrics.azure-monitor.jsonl"));
    let mut lines = 0;
    for line in text.lines() {
        lines += 1;
        let doc: serde_json::Value = serde_json::from_str(line).unwrap();
        let base = &doc["data"]["baseData"];
        assert_eq!(base["namespace"], "CallAutomation");
        let names: Vec<String> = base["dimNames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .collect();
        for s in base["series"].as_array().unwrap() {
            let values = s["dimValues"].as_array().unwrap();
            assert_eq!(values.len(), names.len());
            let label = names
                .iter()
                .zip(values)
                .map(|(n, v)| (n.clone(), v.as_str().unwrap().to_string()))
                .collect();
            let key = (
                base["metric"].as_str().unwrap().to_string(),
                doc["time"].as_str().unwrap().to_string(),
                label,
            );
            let stats = ["min", "max", "sum", "count"].map(|f| s[f].as_u64().unwrap());
            assert!(documents.insert(key, stats).is_none(), "a series twice");
        }
    }
    let expected: serde_json::Value =
        serde_json::from_str(&common::read(&dir.path().join("expected.json"))).unwrap();
    let mut cells = Cells::new();
    for metric in expected["value"].as_array().unwrap() {
        for ts in metric["timeseries"].as_array().unwrap() {
            let label: Vec<(String, String)> = ts["metadatavalues"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    let name = m["name"]["value"].as_str().unwrap().to_string();
                    (name, m["value"].as_str().unwrap().to_string())
                })
                .collect();
            for p in ts["data"].as_array().unwrap() {
                let key = (
                    metric["name"]["value"].as_str().unwrap().to_string(),
                    p["timeStamp"].as_str().unwrap().to_string(),
                    label.clone(),
                );
                let stats =
                    ["minimum", "maximum", "total", "count"].map(|f| p[f].as_u64().unwrap());
                cells.insert(key, stats);
            }
        }
    }
    assert!(
        lines > 3 && cells.len() > 100,
        "{lines} documents, {} cells",
        cells.len()
    );
    assert_eq!(documents, cells);
    assert!(
        text.contains("\"StatusSubClass\""),
        "the overview naming is kept"
    );

    let run = common::callmetrics(&[
        "generate",
        "tests/fixtures/tiny.json",
        "--format",
        "azure-monitor",
        "--grain",
        "PT5M",
        "--out",
        out,
    ])
    .expect_code(2);
    assert!(
        run.stderr.contains("use --grain PT1M"),
        "{}",
        run.describe()
    );
}
