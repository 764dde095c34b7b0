//! `generate` end to end: the files it writes, their agreement with each
//! other, and byte-for-byte determinism.

use crate::common;
use crate::common::recount;

use crate::common::{callmetrics, read};
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

/// The call connection ids, CloudEvent (source, id) pairs and server call
/// ids of a shipped scenario's 300 calls at the default seed.
struct Ids {
    events: String,
    connections: std::collections::BTreeSet<String>,
    cloud_events: std::collections::BTreeSet<(String, String)>,
    server_calls: Vec<(String, String)>,
}

fn ids_of(scenario: &str) -> Ids {
    let run = callmetrics(&["generate", scenario, "--calls", "300", "--out", "-"]).expect_code(0);
    let mut ids = Ids {
        connections: Default::default(),
        cloud_events: Default::default(),
        server_calls: Vec::new(),
        events: String::new(),
    };
    for line in run.stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let ce = &v["cloudEvent"];
        let connection = ce["data"]["callConnectionId"]
            .as_str()
            .or(v["request"]["callConnectionId"].as_str())
            .unwrap();
        ids.connections.insert(connection.to_string());
        if ce.is_object() {
            let pair = (ce["source"].as_str().unwrap(), ce["id"].as_str().unwrap());
            ids.cloud_events
                .insert((pair.0.to_string(), pair.1.to_string()));
            ids.server_calls.push((
                ce["data"]["serverCallId"].as_str().unwrap().to_string(),
                ce["time"].as_str().unwrap().to_string(),
            ));
        }
    }
    ids.events = run.stdout;
    ids
}

// Issue #21, item 5: two scenarios generated with the same (default) seed
// shared every callConnectionId and a third of the CloudEvent ids, so a
// consumer de-duplicating by source + id dropped events when two datasets
// met. The scenario's digest is now in every id, and a scenario and seed
// still give the same bytes.
#[test]
fn two_scenarios_with_one_seed_share_no_id() {
    let ivr = ids_of("scenarios/inbound-ivr.json");
    let outbound = ids_of("scenarios/outbound-notification.json");
    assert!(ivr.connections.len() >= 300 && outbound.connections.len() >= 300);
    let shared: Vec<_> = ivr
        .connections
        .intersection(&outbound.connections)
        .collect();
    assert!(
        shared.is_empty(),
        "{} shared callConnectionIds, e.g. {:?}",
        shared.len(),
        shared.first()
    );
    let shared: Vec<_> = ivr
        .cloud_events
        .intersection(&outbound.cloud_events)
        .collect();
    assert!(
        shared.is_empty(),
        "{} shared CloudEvent (source, id) pairs, e.g. {:?}",
        shared.len(),
        shared.first()
    );
    assert!(
        ivr.events == ids_of("scenarios/inbound-ivr.json").events,
        "same scenario and seed, other bytes"
    );
}

// Issue #21, item 7: every server call id stamps `e=` (.NET ticks) hours to
// days before its call, as live ones do, not years.
#[test]
fn server_call_ids_are_stamped_days_before_their_calls() {
    use base64::Engine;
    let ids = ids_of("scenarios/inbound-ivr.json");
    assert!(!ids.server_calls.is_empty());
    let mut hosts = std::collections::BTreeSet::new();
    for (server_call, time) in &ids.server_calls {
        let url = base64::engine::general_purpose::STANDARD
            .decode(server_call)
            .unwrap();
        let url = String::from_utf8(url).unwrap();
        let host = url.split('/').nth(6).unwrap();
        assert!(
            host.starts_with("conv-") && host.ends_with("-prod-aks.conv.skype.com"),
            "{url}"
        );
        hosts.insert(host.to_string());
        let ticks: i64 = url.rsplit_once("&e=").unwrap().1.parse().unwrap();
        let stamp_ms = (ticks - 621_355_968_000_000_000) / 10_000;
        let time = humantime::parse_rfc3339(time).unwrap();
        let time_ms = time
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let before = time_ms - stamp_ms;
        assert!(
            (2 * 3_600_000..10 * 86_400_000).contains(&before),
            "{url}: e= {before} ms before the event at {time_ms}"
        );
    }
    assert!(hosts.len() > 1, "{hosts:?}");
}

#[test]
fn csv_has_one_row_per_event() {
    let dir = tempfile::tempdir().unwrap();
    generate(
        dir.path(),
        &[
            "--calls",
            "50",
            "--format",
            "csv",
            "--csv-layout",
            "wide",
            "--naming",
            "overview",
        ],
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

// Issue #23: one CSV per metric with its own columns only, so no column
// has gaps (pandas read StatusCode as float64 because of them); each file
// holds exactly its metric's events, and the manifest names them.
#[test]
fn csv_per_metric_holds_each_metrics_rows_with_its_columns() {
    let dir = tempfile::tempdir().unwrap();
    callmetrics(&[
        "generate",
        "scenarios/contact-center.json",
        "--calls",
        "300",
        "--format",
        "csv",
        "--quiet",
        "--out",
        dir.path().to_str().unwrap(),
    ])
    .expect_code(0);
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&dir.path().join("manifest.json"))).unwrap();
    assert_eq!(
        manifest["files"]["events"],
        serde_json::json!({
            "APIRequestCallAutomation": "requests.csv",
            "APIRequestCallRecording": "recording-requests.csv",
            "AcsCallAutomationCallbackEvent": "callbacks.csv",
        })
    );
    let expected = read(&dir.path().join("expected.json"));
    let counts = common::recount::cells_of_expected(&expected);
    for (file, header, metric, columns) in [
        (
            "requests.csv",
            "time,Operation,StatusCode,StatusCodeClass,ApiVersion,latencyMs,callConnectionId",
            "APIRequestCallAutomation",
            7,
        ),
        (
            "recording-requests.csv",
            "time,Operation,StatusCode,StatusCodeClass,callConnectionId",
            "APIRequestCallRecording",
            5,
        ),
        (
            "callbacks.csv",
            "time,EventTypeName,Code,CodeClass,SubCode,Version,callConnectionId",
            "AcsCallAutomationCallbackEvent",
            7,
        ),
    ] {
        let text = read(&dir.path().join(file));
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(header), "{file}");
        let rows: Vec<&str> = lines.collect();
        let total: u64 = counts
            .iter()
            .filter(|((m, ..), _)| m == metric)
            .map(|(_, cell)| cell[0])
            .sum();
        assert!(total > 0, "{metric} has events");
        assert_eq!(rows.len() as u64, total, "{file}: one row per event");
        assert!(
            rows.iter()
                .all(|r| r.split(',').count() == columns && !r.contains(",,")),
            "{file}: {columns} columns, none empty"
        );
    }
}

// Issue #23, item 4: a dataset written into a directory holding another
// one mixed old and new files; now it takes --force, which removes that
// dataset's files only, and a directory with other files is refused.
#[test]
fn out_directories_holding_a_dataset_or_other_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    generate(&out, &["--calls", "5", "--format", "csv"]);
    let again = |extra: &[&str]| {
        let mut args = vec![
            "generate",
            "tests/fixtures/tiny.json",
            "--calls",
            "5",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        callmetrics(&args)
    };
    let refused = again(&[]).expect_code(2);
    assert!(
        refused.stderr.contains("already holds a dataset (callbacks.csv, expected.json, manifest.json, recording-requests.csv, requests.csv)")
            && refused.stderr.contains("--force"),
        "{}",
        refused.describe()
    );
    again(&["--force"]).expect_code(0);
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["events.jsonl", "expected.json", "manifest.json"],
        "the csv files of the old dataset went with --force"
    );
    std::fs::write(out.join("notes.md"), "mine").unwrap();
    let refused = again(&["--force"]).expect_code(2);
    assert!(
        refused
            .stderr
            .contains("holds files that are not a dataset's (notes.md)"),
        "{}",
        refused.describe()
    );
    assert!(
        out.join("manifest.json").exists(),
        "nothing removed when refused"
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

// Issue #11: --ramp without --calls or --duration stopped at the default
// 1,000 calls; the stages now give the length, as k6's do. A byte order
// mark (as Windows editors write) is accepted.
#[test]
fn ramp_stages_set_the_length_and_a_bom_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let with_bom = dir.path().join("tiny-bom.json");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(std::fs::read(common::repo().join("tests/fixtures/tiny.json")).unwrap());
    std::fs::write(&with_bom, bytes).unwrap();
    let out = dir.path().join("ds");
    let run = common::callmetrics(&[
        "generate",
        with_bom.to_str().unwrap(),
        "--rate",
        "1/s",
        "--ramp",
        "20s:1,20s:0",
        "--arrival",
        "uniform",
        "--out",
        out.to_str().unwrap(),
    ])
    .expect_code(0);
    // 20 s at 1/s, then 20 s down to 0 (about 10 more): not 1,000.
    let manifest: serde_json::Value =
        serde_json::from_str(&common::read(&out.join("manifest.json"))).unwrap();
    let calls = manifest["counts"]["calls"]
        .as_u64()
        .unwrap_or_else(|| panic!("{manifest}"));
    assert!(
        (25..=35).contains(&calls),
        "{calls} calls\n{}",
        run.describe()
    );
}

// Issue #11: a generate stopped half way (Ctrl-C) left a dataset that
// looked complete; files are written under .partial names and the
// manifest comes last.
#[test]
fn an_interrupted_generate_leaves_no_dataset_that_looks_complete() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    // A complete dataset first: its manifest must not survive the next run.
    generate(&out, &["--calls", "5"]);
    assert!(out.join("manifest.json").exists());
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_callmetrics"))
        .current_dir(common::repo())
        .args([
            "generate",
            "tests/fixtures/tiny.json",
            "--calls",
            "50000000",
            "--quiet",
            "--force",
            "--out",
        ])
        .arg(&out)
        .spawn()
        .unwrap();
    // Until the big run has written events (its partial file holds some).
    let partial = out.join("events.jsonl.partial");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let written = || std::fs::metadata(&partial).is_ok_and(|m| m.len() > 0);
    while !written() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out_status = child.wait_with_output().unwrap().status;
    assert!(!out_status.success(), "the run was to be interrupted");
    assert!(partial.exists());
    assert!(
        !out.join("manifest.json").exists(),
        "an old manifest survived"
    );
}

// Issue #20, item 7: `--start 9999-12-31T23:59:59Z` exited 0 with events
// stamped 9999-01-01 and a timespan that ended before it started.
#[test]
fn times_past_the_last_day_are_refused_and_never_written_as_another_year() {
    let dir = tempfile::tempdir().unwrap();
    let refused =
        "the workload runs past 9999-12-30T23:59:59.999Z, the last time an event may have";
    for (command, start) in [
        ("generate", "9999-12-31T23:59:59Z"),
        // The start is in range, the calls' later events are not.
        ("generate", "9999-12-30T23:59:00Z"),
        ("run", "9999-12-31T00:00:00Z"),
    ] {
        let out = dir.path().join(format!("{command}-{start}"));
        let mut args = vec![
            command,
            "scenarios/contact-center.json",
            "--start",
            start,
            "--calls",
            "30",
        ];
        match command {
            "generate" => args.extend(["--out", out.to_str().unwrap(), "--quiet"]),
            _ => args.extend(["--max-rate", "--quiet"]),
        }
        let run = callmetrics(&args).expect_code(2);
        assert!(run.stderr.contains(refused), "{}", run.describe());
        // Nothing that looks like a dataset is left behind.
        assert!(!out.join("manifest.json").exists());
        assert!(!out.join("expected.json").exists());
    }
    // The last day that is allowed is written as itself, up to its end.
    let out = dir.path().join("last-day");
    callmetrics(&[
        "generate",
        "scenarios/contact-center.json",
        "--start",
        "9999-12-29T00:00:00Z",
        "--calls",
        "30",
        "--grain",
        "P1D",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ])
    .expect_code(0);
    let expected: serde_json::Value =
        serde_json::from_str(&read(&out.join("expected.json"))).unwrap();
    assert_eq!(
        expected["timespan"],
        "9999-12-29T00:00:00Z/9999-12-30T00:00:00Z"
    );
}
