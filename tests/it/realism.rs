//! Issue #10: generated traffic holds to the specs. Every request and
//! callback of every shipped scenario uses an api-version that has its
//! route or event model (as `catalog --format json` lists them), requests
//! to the recording routes count in APIRequestCallRecording, every
//! documented result carries the documented text, and the event shapes
//! the SDK fixtures show (recording sources, failed play source indexes,
//! DTMF choices, stream failures) are what is written.

use crate::common;

use crate::common::{callmetrics, read};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

struct Catalog {
    operations: HashMap<String, BTreeSet<String>>,
    events: HashMap<String, BTreeSet<String>>,
    texts: HashMap<(String, u64, u64), String>,
}

fn catalog() -> Catalog {
    let run = callmetrics(&["catalog", "--format", "json"]).expect_code(0);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    let versions = |kind: &str| -> HashMap<String, BTreeSet<String>> {
        v[kind]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let set = e["apiVersions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect();
                (e["name"].as_str().unwrap().to_string(), set)
            })
            .collect()
    };
    let texts = v["resultTexts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                (
                    r["eventType"].as_str().unwrap().to_string(),
                    r["code"].as_u64().unwrap(),
                    r["subCode"].as_u64().unwrap(),
                ),
                r["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    Catalog {
        operations: versions("operations"),
        events: versions("eventTypes"),
        texts,
    }
}

/// The lines of a generated dataset of `calls` calls of `scenario`.
fn generate(scenario: &Path, calls: &str) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    callmetrics(&[
        "generate",
        scenario.to_str().unwrap(),
        "--calls",
        calls,
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ])
    .expect_code(0);
    read(&out.join("events.jsonl"))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn scenario_file(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("scenario.json");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn every_request_and_callback_uses_a_version_that_has_it() {
    let catalog = catalog();
    let mut files: Vec<_> = std::fs::read_dir(common::repo().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.to_string_lossy().ends_with(".schema.json"))
        .collect();
    files.push(common::repo().join("tests/fixtures/all-events.json"));
    files.sort();
    // (event, code, subCode) -> lines that carried a documented text.
    let mut checked_texts = BTreeMap::new();
    for file in &files {
        for line in generate(file, "300") {
            let dims = &line["dimensions"];
            if let Some(op) = dims["Operation"].as_str() {
                // Item 5: requests to the recording routes count in their
                // own metric, without ApiVersion (their path still has it).
                let path = line["request"]["path"].as_str().unwrap();
                let recording = path.starts_with("/calling/recordings");
                let metric = line["metric"].as_str().unwrap();
                assert_eq!(
                    metric,
                    if recording {
                        "APIRequestCallRecording"
                    } else {
                        "APIRequestCallAutomation"
                    },
                    "{op}"
                );
                assert_eq!(dims.get("ApiVersion").is_none(), recording, "{op}: {dims}");
                let version = path.rsplit_once("api-version=").unwrap().1;
                assert!(
                    catalog.operations[op].contains(version),
                    "{}: {op} sent with api-version {version}",
                    file.display()
                );
                if recording {
                    *checked_texts.entry((metric.to_string(), 0, 0)).or_insert(0) += 1;
                } else {
                    assert_eq!(dims["ApiVersion"].as_str(), Some(version));
                }
            }
            if let Some(event) = dims["EventTypeName"].as_str() {
                let version = dims["Version"].as_str().unwrap();
                assert!(
                    catalog.events[event].contains(version),
                    "{}: {event} sent to a call of api-version {version}",
                    file.display()
                );
                let info = &line["cloudEvent"]["data"]["resultInformation"];
                if info.is_null() {
                    // A success its version sends without one (callback_shape.rs).
                    assert_eq!(
                        (&dims["Code"], &dims["SubCode"]),
                        (&"200".into(), &"0".into())
                    );
                    continue;
                }
                let key = (
                    event.to_string(),
                    info["code"].as_u64().unwrap(),
                    info["subCode"].as_u64().unwrap(),
                );
                if let Some(text) = catalog.texts.get(&key) {
                    assert_eq!(info["message"].as_str(), Some(text.as_str()), "{key:?}");
                    *checked_texts.entry(key).or_insert(0) += 1;
                }
            }
        }
    }
    assert!(
        checked_texts.contains_key(&("APIRequestCallRecording".to_string(), 0, 0)),
        "no recording request generated"
    );
    // The corrected texts are among those sent.
    for (event, code, sub_code) in [
        ("RecognizeFailed", 500, 8534),
        ("RecognizeFailed", 500, 8511),
        ("RecognizeCompleted", 200, 8514),
        ("MediaStreamingFailed", 500, 8603),
    ] {
        let key = (format!("Microsoft.Communication.{event}"), code, sub_code);
        assert!(checked_texts.contains_key(&key), "no {key:?} generated");
    }
}

// Item 3: a call that never connects ends in CreateCallFailed where the
// version has it (2024-09-15 on) and in CallDisconnected before.
#[test]
fn a_call_that_never_connects_fails_as_its_version_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(
        dir.path(),
        r#"{"name": "no-answer",
            "apiVersions": [{"version": "2024-04-15", "probability": 0.5}, {"version": "2024-09-15", "probability": 0.5}],
            "flows": [{"name": "dial", "weight": 1, "steps": [
              {"request": {"operation": "Create Call", "outcomes": [{"probability": 1, "callbacks": [
                {"event": "CallDisconnected", "delay": {"fixed": "20s"}}]}]}}]}]}"#,
    );
    let mut ends: BTreeMap<(String, String), u64> = BTreeMap::new();
    for line in generate(&path, "400") {
        let dims = &line["dimensions"];
        if let Some(event) = dims["EventTypeName"].as_str() {
            let version = dims["Version"].as_str().unwrap().to_string();
            *ends.entry((version, event.to_string())).or_insert(0) += 1;
            if event.ends_with("CreateCallFailed") {
                let code = dims["Code"].as_str().unwrap();
                assert!(code.starts_with('4'), "CreateCallFailed with code {code}");
            }
        }
    }
    let kinds: BTreeSet<(String, String)> = ends.keys().cloned().collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            (
                "2024-04-15".to_string(),
                "Microsoft.Communication.CallDisconnected".to_string()
            ),
            (
                "2024-09-15".to_string(),
                "Microsoft.Communication.CreateCallFailed".to_string()
            ),
        ]),
        "{ends:?}"
    );
    assert_eq!(ends.values().sum::<u64>(), 400, "one end per call");
}

// Item 1: a flow that calls Start Transcription is made with 2025-05-15 or
// later only; validate says so, and refuses a mix with no such version.
#[test]
fn a_flow_is_made_only_with_versions_that_have_its_routes() {
    let dir = tempfile::tempdir().unwrap();
    let flow = |mix: &str| {
        format!(
            r#"{{"name": "t", "apiVersions": [{mix}], "flows": [{{"name": "assist", "weight": 1, "steps": [
              {{"request": {{"operation": "Answer Call", "outcomes": [{{"probability": 1, "callbacks": [
                {{"event": "CallConnected"}}]}}]}}}},
              {{"request": {{"operation": "Start Transcription", "outcomes": [{{"probability": 1, "callbacks": [
                {{"event": "TranscriptionStarted"}}]}}]}}}},
              {{"request": {{"operation": "HangUp Call"}}}}]}}]}}"#
        )
    };
    let path = scenario_file(
        dir.path(),
        &flow(
            r#"{"version": "2024-09-15", "probability": 0.5}, {"version": "2025-05-15", "probability": 0.5}"#,
        ),
    );
    let run = callmetrics(&["validate", path.to_str().unwrap()]).expect_code(0);
    assert!(
        run.stdout.contains("1 warning")
            && run.stdout.contains(
                "calls of flow \"assist\" are made with 2025-05-15 only: Start Transcription does not exist in 2024-09-15"
            ),
        "{}",
        run.describe()
    );
    let versions: BTreeSet<String> = generate(&path, "100")
        .iter()
        .filter_map(|l| {
            l["dimensions"]["ApiVersion"]
                .as_str()
                .or(l["dimensions"]["Version"].as_str())
                .map(str::to_string)
        })
        .collect();
    assert_eq!(versions, BTreeSet::from(["2025-05-15".to_string()]));

    let path = scenario_file(
        dir.path(),
        &flow(r#"{"version": "2024-09-15", "probability": 1}"#),
    );
    let run = callmetrics(&["validate", path.to_str().unwrap()]).expect_code(1);
    assert!(
        run.stdout.contains(
            "flow \"assist\" calls Start Transcription, which api-version 2024-09-15 does not have (it exists from 2025-05-15 (stable))"
        ),
        "{}",
        run.describe()
    );
}

// Item 7: a recognize never ends in PlayFailed; the validator says what to
// write instead.
#[test]
fn a_failed_prompt_is_a_recognize_failed() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(
        dir.path(),
        r#"{"name": "prompt", "flows": [{"name": "menu", "weight": 1, "steps": [
              {"request": {"operation": "Recognize", "outcomes": [{"probability": 1, "callbacks": [
                {"event": "PlayFailed"}]}]}}]}]}"#,
    );
    let run = callmetrics(&["validate", path.to_str().unwrap()]).expect_code(1);
    assert!(
        run.stdout.contains("Recognize does not trigger PlayFailed")
            && run
                .stdout
                .contains("RecognizeFailed with code 500, subCode 8511"),
        "{}",
        run.describe()
    );
}

// Items 11-14: event shapes as the SDK fixtures and the spec show them.
#[test]
fn event_shapes_follow_the_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(
        dir.path(),
        r#"{"name": "shapes",
            "apiVersions": [{"version": "2024-04-15", "probability": 0.3}, {"version": "2025-05-15", "probability": 0.7}],
            "flows": [{"name": "all", "weight": 1, "apiVersions": [{"version": "2025-05-15", "probability": 1}], "steps": [
              {"request": {"operation": "Start Recording", "outcomes": [{"probability": 1, "callbacks": [
                {"event": "RecordingStateChanged"}]}]}},
              {"request": {"operation": "Play", "outcomes": [{"probability": 1, "callbacks": [
                {"event": "PlayFailed", "result": [
                  {"code": 400, "subCode": 8535, "probability": 0.5},
                  {"code": 500, "subCode": 8572, "probability": 0.5}]}]}]}},
              {"request": {"operation": "Recognize", "outcomes": [{"probability": 1, "callbacks": [
                {"event": "RecognizeCompleted", "recognitionType": "choices", "result": [
                  {"code": 200, "subCode": 8533, "probability": 0.5},
                  {"code": 200, "subCode": 8545, "probability": 0.5}]}]}]}},
              {"request": {"operation": "Start Media Streaming", "outcomes": [{"probability": 1, "callbacks": [
                {"event": "MediaStreamingFailed", "result": [{"code": 500, "subCode": 8603, "probability": 1}]}]}]}}
            ]},
            {"name": "old", "weight": 1, "apiVersions": [{"version": "2024-04-15", "probability": 1}], "steps": [
              {"request": {"operation": "Play", "outcomes": [{"probability": 1, "callbacks": [
                {"event": "PlayFailed", "result": [{"code": 400, "subCode": 8535, "probability": 1}]}]}]}}]}]}"#,
    );
    let mut seen = BTreeSet::new();
    for line in generate(&path, "200") {
        let Some(event) = line["dimensions"]["EventTypeName"].as_str() else {
            continue;
        };
        let ce = &line["cloudEvent"];
        let data = &ce["data"];
        let sub_code = data["resultInformation"]["subCode"].as_u64().unwrap();
        let version = data["version"].as_str().unwrap();
        match event.trim_start_matches("Microsoft.Communication.") {
            "RecordingStateChanged" => {
                let source = ce["source"].as_str().unwrap();
                let server_call = data["serverCallId"].as_str().unwrap();
                let recording = data["recordingId"].as_str().unwrap();
                assert_eq!(
                    source,
                    format!("calling/recordings/{server_call}/{recording}/RecordingStateChanged")
                );
                assert_eq!(ce["subject"], ce["source"]);
                seen.insert("recording");
            }
            "PlayFailed" => {
                let index = data.get("failedPlaySourceIndex");
                let expect = sub_code == 8535 && version != "2024-04-15";
                assert_eq!(index.is_some(), expect, "{version} {sub_code}: {data}");
                seen.insert(if expect { "index" } else { "no index" });
            }
            "RecognizeCompleted" => {
                let choice = &data["choiceResult"];
                if sub_code == 8533 {
                    assert_eq!(choice.get("recognizedPhrase"), Some(&Value::Null), "{data}");
                    seen.insert("dtmf choice");
                } else {
                    assert!(choice["recognizedPhrase"].is_string(), "{data}");
                }
            }
            "MediaStreamingFailed" => {
                let update = &data["mediaStreamingUpdate"];
                assert_eq!(update["mediaStreamingStatus"], "mediaStreamingFailed");
                assert_eq!(
                    update["mediaStreamingStatusDetails"],
                    "streamConnectionUnsuccessful"
                );
                assert_eq!(
                    data["resultInformation"]["message"],
                    "Action failed, not able to establish websocket connection."
                );
                seen.insert("stream");
            }
            _ => {}
        }
    }
    assert_eq!(
        seen,
        BTreeSet::from(["recording", "index", "no index", "dtmf choice", "stream"])
    );
}

// A connection failure ends the call like CallDisconnected does, and
// belongs to an outcome where the call never connected.
#[test]
fn a_connection_failure_ends_the_call_and_only_an_unconnected_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(
        dir.path(),
        r#"{"name": "bad-ends", "flows": [{"name": "dial", "weight": 1, "steps": [
              {"request": {"operation": "Create Call", "outcomes": [
                {"probability": 0.5, "callbacks": [{"event": "CallConnected"}, {"event": "CreateCallFailed"}]},
                {"probability": 0.5, "callbacks": [{"event": "CreateCallFailed", "repeat": 2}, {"event": "ParticipantsUpdated"}]}]}}]}]}"#,
    );
    let run = callmetrics(&["validate", path.to_str().unwrap()]).expect_code(1);
    for message in [
        "CreateCallFailed in an outcome where the call connects",
        "ParticipantsUpdated comes after CreateCallFailed",
        "CreateCallFailed cannot repeat: nothing follows it",
    ] {
        assert!(
            run.stdout.contains(message),
            "{message}\n{}",
            run.describe()
        );
    }
}

// Item 4: preview versions are usable; callbacks carry them in data.version.
#[test]
fn a_preview_version_is_used_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(
        dir.path(),
        r#"{"name": "preview", "apiVersions": [{"version": "2025-08-15-preview", "probability": 1}],
            "flows": [{"name": "move", "weight": 1, "steps": [
              {"request": {"operation": "Answer Call", "outcomes": [{"probability": 1, "callbacks": [
                {"event": "CallConnected"}]}]}},
              {"request": {"operation": "Move Participants", "outcomes": [{"probability": 1, "callbacks": [
                {"event": "MoveParticipantSucceeded"}]}]}}]}]}"#,
    );
    callmetrics(&["validate", path.to_str().unwrap()]).expect_code(0);
    let lines = generate(&path, "20");
    let moved: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["dimensions"]["EventTypeName"] == "Microsoft.Communication.MoveParticipantSucceeded"
        })
        .collect();
    assert_eq!(moved.len(), 20);
    for l in moved {
        assert_eq!(l["cloudEvent"]["data"]["version"], "2025-08-15-preview");
        assert!(
            l["cloudEvent"]["data"]["participant"]["rawId"].is_string(),
            "{l}"
        );
    }
    assert!(lines.iter().all(|l| {
        l["dimensions"]["ApiVersion"]
            .as_str()
            .is_none_or(|v| v == "2025-08-15-preview")
    }));
}

// Issue #21: a result no source documents for its event is a warning that
// names the documented pairs; RecognizeFailed 8534 is documented as 500.
#[test]
fn an_undocumented_result_is_a_warning_naming_the_documented_ones() {
    let dir = tempfile::tempdir().unwrap();
    let with = |code: u16| {
        format!(
            r#"{{"name": "t", "flows": [{{"name": "ivr", "weight": 1, "steps": [
              {{"request": {{"operation": "Answer Call", "outcomes": [{{"probability": 1, "callbacks": [
                {{"event": "CallConnected"}}]}}]}}}},
              {{"request": {{"operation": "Recognize", "outcomes": [{{"probability": 1, "callbacks": [
                {{"event": "RecognizeFailed", "result": [{{"code": {code}, "subCode": 8534, "probability": 1}}]}}]}}]}}}},
              {{"request": {{"operation": "HangUp Call"}}}}]}}]}}"#
        )
    };
    let path = scenario_file(dir.path(), &with(400));
    let run = callmetrics(&["validate", path.to_str().unwrap()]).expect_code(0);
    assert!(
        run.stdout
            .contains("RecognizeFailed 400/8534 is not a documented result")
            && run.stdout.contains("500/8534")
            && run
                .stdout
                .contains("flows[0].steps[1].request.outcomes[0].callbacks[0].result[0]"),
        "{}",
        run.describe()
    );
    let path = scenario_file(dir.path(), &with(500));
    let run = callmetrics(&["validate", path.to_str().unwrap()]).expect_code(0);
    assert!(
        !run.stdout.contains("not a documented result"),
        "{}",
        run.describe()
    );
}

// Issue #21: no metric counts a recording request's latency, so its
// dataset line carries none; Call Automation requests carry theirs.
#[test]
fn only_call_automation_request_lines_carry_a_latency() {
    let scenario = common::repo().join("scenarios/contact-center.json");
    let lines = generate(&scenario, "100");
    let (mut recordings, mut requests) = (0, 0);
    for line in &lines {
        match line["metric"].as_str().unwrap() {
            "APIRequestCallRecording" => {
                recordings += 1;
                assert!(line.get("latencyMs").is_none(), "{line}");
            }
            "APIRequestCallAutomation" => {
                requests += 1;
                assert!(line["latencyMs"].as_u64().is_some(), "{line}");
            }
            _ => {}
        }
    }
    assert!(recordings > 0 && requests > 0, "{recordings} {requests}");
}
