//! The CLI as users see it: help, catalog, schema, validator messages and
//! exit codes, snapshot-tested so the snapshots document the interface.

use crate::common;

use crate::common::{callmetrics, read, repo};

#[test]
fn help_texts() {
    for command in [
        &["--help"][..],
        &["catalog", "--help"],
        &["validate", "--help"],
        &["generate", "--help"],
        &["schema", "--help"],
        &["sink", "--help"],
        &["run", "--help"],
        &["check", "--help"],
        &["emulate", "--help"],
    ] {
        let run = callmetrics(command).expect_code(0);
        let name = format!("help_{}", command[0].trim_start_matches('-'));
        insta::assert_snapshot!(name, run.stdout);
    }
}

#[test]
fn catalog_table() {
    let run = callmetrics(&["catalog"]).expect_code(0);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn catalog_json_lists_every_value() {
    let run = callmetrics(&["catalog", "--format", "json"]).expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("catalog JSON parses");
    let ops = v["operations"].as_array().unwrap();
    let listed = ops
        .iter()
        .filter(|o| o["listedInMetricsOverview"] == true)
        .count();
    assert_eq!(listed, 17);
    assert_eq!(ops.first().unwrap()["name"], "Create Call");
    let events = v["eventTypes"].as_array().unwrap();
    let listed = events
        .iter()
        .filter(|e| e["listedInMetricsOverview"] == true)
        .count();
    assert_eq!(listed, 33);
    assert_eq!(v["metrics"][0]["name"], "APIRequestCallAutomation");
    assert_eq!(v["metrics"][0]["dimensions"][2], "StatusCodeClass");
    insta::assert_snapshot!(run.stdout);
}

// Issue #10, items 1-4: each operation's and event's versions are those of
// the stable and preview specs that have its route or model.
#[test]
fn catalog_pins_the_api_surface_per_version() {
    let run = callmetrics(&["catalog", "--format", "json"]).expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let versions = |kind: &str, name: &str| -> Vec<String> {
        let entry = v[kind]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{kind} {name}"));
        entry["apiVersions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let stable = |list: Vec<String>| -> Vec<String> {
        list.into_iter()
            .filter(|v| !v.ends_with("-preview"))
            .collect()
    };
    let from = |first: &str| -> Vec<String> {
        [
            "2023-03-06",
            "2023-10-15",
            "2024-04-15",
            "2024-09-15",
            "2025-05-15",
            "2025-06-15",
            "2026-03-12",
        ]
        .iter()
        .filter(|v| **v >= first)
        .map(|v| v.to_string())
        .collect()
    };
    for op in [
        "Start Transcription",
        "Stop Transcription",
        "Update Transcription",
        "Start Media Streaming",
        "Stop Media Streaming",
    ] {
        assert_eq!(
            stable(versions("operations", op)),
            from("2025-05-15"),
            "{op}"
        );
        assert!(versions("operations", op).contains(&"2024-06-15-preview".to_string()));
    }
    for op in [
        "Send DTMF Tones",
        "Mute Participant",
        "Cancel Add Participant",
    ] {
        assert_eq!(
            stable(versions("operations", op)),
            from("2023-10-15"),
            "{op}"
        );
    }
    for op in ["Hold", "Unhold", "Connect"] {
        assert_eq!(
            stable(versions("operations", op)),
            from("2024-09-15"),
            "{op}"
        );
    }
    for op in ["Create Call", "Get Recording", "Play", "Recognize"] {
        assert_eq!(
            stable(versions("operations", op)),
            from("2023-03-06"),
            "{op}"
        );
        assert_eq!(versions("operations", op).len(), 13, "{op}");
    }
    assert_eq!(
        versions("operations", "Move Participants"),
        ["2025-08-15-preview", "2026-03-12"]
    );
    let event = |name: &str| versions("eventTypes", &format!("Microsoft.Communication.{name}"));
    for e in [
        "CreateCallFailed",
        "AnswerFailed",
        "ConnectFailed",
        "PlayStarted",
        "HoldFailed",
    ] {
        assert_eq!(stable(event(e)), from("2024-09-15"), "{e}");
    }
    // The early previews have what their own specs list (issue #21).
    let early = |list: Vec<String>| -> Vec<String> {
        list.into_iter()
            .filter(|v| v == "2023-10-03-preview" || v == "2024-09-01-preview")
            .collect()
    };
    assert_eq!(
        early(versions("operations", "Connect")),
        ["2024-09-01-preview"]
    );
    assert_eq!(
        early(versions("operations", "Hold")),
        ["2023-10-03-preview", "2024-09-01-preview"]
    );
    assert_eq!(
        early(versions("operations", "Start Transcription")),
        ["2023-10-03-preview", "2024-09-01-preview"]
    );
    assert!(early(versions("operations", "Move Participants")).is_empty());
    assert_eq!(early(event("CreateCallFailed")), ["2023-10-03-preview"]);
    assert_eq!(early(event("ConnectFailed")), ["2024-09-01-preview"]);
    assert!(early(event("PlayStarted")).is_empty());
    assert!(early(event("StartRecordingFailed")).is_empty());
    assert_eq!(stable(event("StartRecordingFailed")), from("2025-06-15"));
    assert!(!event("StartRecordingFailed").contains(&"2024-11-15-preview".to_string()));
    assert_eq!(
        event("MoveParticipantSucceeded"),
        ["2025-08-15-preview", "2026-03-12"]
    );
    assert_eq!(stable(event("TranscriptionFailed")), from("2025-05-15"));
    assert_eq!(stable(event("SendDtmfTonesFailed")), from("2023-10-15"));
    assert_eq!(stable(event("PlayFailed")), from("2023-03-06"));
    let op = |name: &str| {
        v["operations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        op("Mute Participant")["route"],
        "/calling/callConnections/{callConnectionId}/participants:mute"
    );
    assert_eq!(op("Mute Participant")["successStatus"], 200);
    assert_eq!(op("Get Recording")["method"], "GET");
    assert_eq!(op("Get Recording")["successStatus"], 200);
    assert_eq!(
        op("Move Participants")["route"],
        "/calling/callConnections/{callConnectionId}/participants:moveHere"
    );
    assert_eq!(op("Move Participants")["successStatus"], 202);
    let previews: Vec<&str> = v["apiVersions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["preview"] == true)
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        previews,
        [
            "2023-10-03-preview",
            "2024-06-15-preview",
            "2024-09-01-preview",
            "2024-11-15-preview",
            "2025-03-30-preview",
            "2025-08-15-preview"
        ]
    );
    // The catalog cites where its values come from.
    assert!(
        v["sources"]["apiVersions"]
            .as_str()
            .unwrap()
            .contains("Azure/azure-rest-api-specs")
    );
    assert!(
        v["sources"]["metrics"]
            .as_str()
            .unwrap()
            .contains("APIRequestCallRecording")
    );
    // Every documented text names its source.
    assert!(v["resultTexts"].as_array().unwrap().iter().all(|r| {
        r["source"]
            .as_str()
            .is_some_and(|s| s.contains("learn.microsoft.com") || s.contains("azure-sdk-for-"))
    }));
}

#[test]
fn overview_naming_renames_the_class_dimension() {
    let run = callmetrics(&["catalog", "--format", "json", "--naming", "overview"]).expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["metrics"][0]["dimensions"][2], "StatusSubClass");
    assert_eq!(v["metrics"][2]["dimensions"][2], "CodeClass");
}

#[test]
fn shipped_schema_is_the_schema_command_output() {
    let run = callmetrics(&["schema"]).expect_code(0);
    let shipped = read(&repo().join("scenarios/scenario.schema.json"));
    assert!(
        run.stdout == shipped,
        "scenarios/scenario.schema.json is stale: run `cargo run -- schema > scenarios/scenario.schema.json`"
    );
    insta::assert_snapshot!(run.stdout);
}

/// One snapshot per malformed scenario: the validator's full message.
#[test]
fn validator_messages_for_malformed_scenarios() {
    let dir = repo().join("tests/fixtures/invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 12, "expected at least 12 malformed fixtures");
    for file in files {
        let rel = file
            .strip_prefix(repo())
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let run = callmetrics(&["validate", &rel]).expect_code(1);
        assert!(run.stdout.contains("error: "), "{}", run.describe());
        let name = format!("validate_{}", file.file_stem().unwrap().to_str().unwrap());
        insta::assert_snapshot!(name, run.stdout);
    }
}

#[test]
fn validate_exit_codes() {
    let ok = callmetrics(&["validate", "tests/fixtures/tiny.json"]).expect_code(0);
    assert!(
        ok.stdout.contains("1 valid, 0 invalid, 0 unreadable"),
        "{}",
        ok.describe()
    );
    // One bad file among good ones still fails the run.
    callmetrics(&[
        "validate",
        "tests/fixtures/tiny.json",
        "tests/fixtures/invalid/bad-probabilities.json",
    ])
    .expect_code(1);
    let missing = callmetrics(&["validate", "tests/fixtures/does-not-exist.json"]).expect_code(2);
    assert!(
        missing
            .stdout
            .contains("cannot read tests/fixtures/does-not-exist.json"),
        "{}",
        missing.describe()
    );
    callmetrics(&["validate"]).expect_code(2);
    // The shipped schema sits beside the scenarios; a glob must not fail on it.
    let glob = callmetrics(&[
        "validate",
        "scenarios/scenario.schema.json",
        "tests/fixtures/tiny.json",
    ])
    .expect_code(0);
    assert!(
        glob.stdout.contains("scenario.schema.json: skipped"),
        "{}",
        glob.describe()
    );
}

#[test]
fn generate_rejects_bad_input_with_exit_2() {
    let run = callmetrics(&[
        "generate",
        "tests/fixtures/invalid/bad-probabilities.json",
        "--out",
        "-",
    ])
    .expect_code(2);
    assert!(
        run.stderr.contains("status probabilities add up to 0.99"),
        "{}",
        run.describe()
    );
    assert!(run.stdout.is_empty());
    let run = callmetrics(&[
        "generate",
        "tests/fixtures/tiny.json",
        "--rate",
        "0",
        "--out",
        "-",
    ])
    .expect_code(2);
    assert!(
        run.stderr.contains("arrival rate is 0"),
        "{}",
        run.describe()
    );
    let run = callmetrics(&[
        "generate",
        "tests/fixtures/tiny.json",
        "--grain",
        "PT2M",
        "--out",
        "-",
    ])
    .expect_code(2);
    assert!(run.stderr.contains("unknown grain"), "{}", run.describe());
    callmetrics(&[
        "generate",
        "tests/fixtures/tiny.json",
        "--calls",
        "5",
        "--duration",
        "1m",
        "--out",
        "-",
    ])
    .expect_code(2);
}

#[test]
fn promql_check_errors_name_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    callmetrics(&[
        "generate",
        "tests/fixtures/tiny.json",
        "--calls",
        "20",
        "--out",
        out,
        "--quiet",
    ])
    .expect_code(0);
    let expected = dir.path().join("expected.json");
    let expected = expected.to_str().unwrap();
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = format!("http://127.0.0.1:{port}");
    let run = callmetrics(&[
        "check",
        "--expected",
        expected,
        "--backend",
        "promql",
        "--observed",
        &down,
    ])
    .expect_code(2);
    assert!(
        run.stderr.contains("cannot query Prometheus at") && run.stderr.contains("/api/v1/query"),
        "{}",
        run.describe()
    );
    let mapping = dir.path().join("mapping.json");
    std::fs::write(
        &mapping,
        r#"{"metrics": {"AcsCallAutomationCallbackEvent": {"name": "cb_total",
            "labels": {"EventType": "t", "Code": "c", "CodeClass": "k", "SubCode": "s", "Version": "v"}}}}"#,
    )
    .unwrap();
    let run = callmetrics(&[
        "check",
        "--expected",
        expected,
        "--backend",
        "promql",
        "--observed",
        &down,
        "--mapping",
        mapping.to_str().unwrap(),
    ])
    .expect_code(2);
    assert!(
        run.stderr
            .contains(&format!("the mapping {}", mapping.display()))
            && run
                .stderr
                .contains("unknown dimension \"EventType\"; did you mean \"EventTypeName\"?"),
        "{}",
        run.describe()
    );
    let run = callmetrics(&[
        "check",
        "--expected",
        expected,
        "--observed",
        &down,
        "--totals",
    ])
    .expect_code(2);
    assert!(
        run.stderr.contains("--totals is for counter backends"),
        "{}",
        run.describe()
    );
}

// Issue #11, rough edges: --start shows its format; --listen resolves names.
#[test]
fn start_shows_its_format_and_listen_resolves_host_names() {
    let run = callmetrics(&[
        "generate",
        "tests/fixtures/tiny.json",
        "--start",
        "2026-03-12",
        "--out",
        "-",
    ])
    .expect_code(2);
    assert!(
        run.stderr
            .contains("a date alone is not a time; use 2026-03-12T00:00:00Z"),
        "{}",
        run.describe()
    );
    let run = callmetrics(&[
        "generate",
        "tests/fixtures/tiny.json",
        "--start",
        "noon",
        "--out",
        "-",
    ])
    .expect_code(2);
    assert!(
        run.stderr
            .contains("use RFC 3339 in UTC, e.g. 2026-03-12T10:00:00Z"),
        "{}",
        run.describe()
    );
    let mut sink = common::SinkProcess::start(&["--listen", "localhost:0"]);
    assert!(sink.url.starts_with("http://127.0.0.1:"), "{}", sink.url);
    sink.kill();
}

// Issue #11: the validator, the schema and the engine agree on durations:
// decimals are fine, more than a day (which the engine would cap) is refused.
#[test]
fn durations_the_engine_would_cap_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.json");
    let file = |wait: &str| {
        format!(
            r#"{{"name": "d", "flows": [{{"name": "f", "weight": 1, "steps": [
              {{"wait": {wait}}}, {{"request": {{"operation": "Get Call"}}}}]}}]}}"#
        )
    };
    std::fs::write(&path, file(r#"{"fixed": "1.5s"}"#)).unwrap();
    callmetrics(&["validate", path.to_str().unwrap()]).expect_code(0);
    std::fs::write(
        &path,
        file(r#"{"lognormal": {"median": "1h", "p99": "25h"}}"#),
    )
    .unwrap();
    let run = callmetrics(&["validate", path.to_str().unwrap()]).expect_code(1);
    assert!(
        run.stdout
            .contains("a delay of 1day 1h is longer than the longest the engine makes, 24h"),
        "{}",
        run.describe()
    );
    let schema = read(&repo().join("scenarios/scenario.schema.json"));
    assert!(
        schema.contains(r#"([0-9]+(\\.[0-9]+)?"#),
        "the schema takes decimals"
    );
}

// Issue #11: completions and man pages, made from the same definitions as
// --help.
#[test]
fn completions_and_man_pages_cover_every_command() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = callmetrics(&["completions", shell]).expect_code(0);
        for command in [
            "generate", "run", "check", "sink", "validate", "catalog", "merge", "emulate",
        ] {
            assert!(run.stdout.contains(command), "{shell}: {command}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    callmetrics(&["man", "--out", dir.path().to_str().unwrap()]).expect_code(0);
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        [
            "callmetrics-catalog.1",
            "callmetrics-check.1",
            "callmetrics-completions.1",
            "callmetrics-emulate.1",
            "callmetrics-generate.1",
            "callmetrics-man.1",
            "callmetrics-merge.1",
            "callmetrics-run.1",
            "callmetrics-schema.1",
            "callmetrics-sink.1",
            "callmetrics-validate.1",
            "callmetrics.1"
        ]
    );
    let run_page = read(&dir.path().join("callmetrics-run.1"));
    assert!(run_page.contains(".TH callmetrics-run 1") && run_page.contains("max\\-rate"));
}

// Issue #19 left it: an empty token was refused by the sink only; `run`
// and `check` sent `Authorization: Bearer ` and read the 401 as the
// sink's fault.
#[test]
fn an_empty_token_is_refused_by_every_command() {
    for args in [
        &[
            "run",
            "tests/fixtures/tiny.json",
            "--calls",
            "1",
            "--token=",
        ][..],
        &[
            "check",
            "--expected",
            "e.json",
            "--observed",
            "http://127.0.0.1:1",
            "--token=",
        ],
        &["sink", "--token= "],
    ] {
        let refused = callmetrics(args).expect_code(2);
        assert!(
            refused.stderr.contains("the token is empty"),
            "{}",
            refused.describe()
        );
    }
}
