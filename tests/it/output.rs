//! What the real binary prints, as a user sees it, snapshot-tested (as
//! nextest and insta test their own output): a run's summary and check, its
//! `--summary-out`, generate's and merge's lines, the sink's start-up line
//! and top-level errors. What differs between two runs of the same command
//! (durations, rates, ports, the temp dir) is redacted first, so the
//! snapshots change only when the output does.

use crate::common;

use crate::common::{SinkProcess, callmetrics};
use regex::Regex;
use std::path::Path;

/// The text with every figure that differs between runs replaced.
fn redact(text: &str, dir: &Path) -> String {
    let text = text.replace(dir.to_str().unwrap(), "[dir]");
    let rules = [
        // Ports the system picked (5 digits); a documented 8650 stays.
        (r"127\.0\.0\.1:\d{5}", "127.0.0.1:[port]"),
        (r"\d+(\.\d+)? (events|requests)/s", "[rate] $2/s"),
        (r"\b\d+(\.\d+)? (ms|s)\b", "[duration]"),
        (r"\bin \d+(\.\d+)?s\b", "in [duration]"),
    ];
    rules.iter().fold(text, |text, (pattern, with)| {
        Regex::new(pattern)
            .unwrap()
            .replace_all(&text, *with)
            .into_owned()
    })
}

#[test]
fn a_run_into_the_embedded_sink_and_its_summary_file() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let run = callmetrics(&[
        "run",
        "tests/fixtures/tiny.json",
        "--calls",
        "300",
        "--max-rate",
        // A fixed start: a run "now" may cross a minute and hold more cells.
        "--start",
        "2026-01-01T00:00:00Z",
        "--summary-out",
        summary.to_str().unwrap(),
    ])
    .expect_code(0);
    insta::assert_snapshot!("run_stderr", redact(&run.stderr, dir.path()));
    insta::assert_snapshot!("run_stdout", redact(&run.stdout, dir.path()));
    let mut json: serde_json::Value = serde_json::from_str(&common::read(&summary)).unwrap();
    for key in [
        "durationMs",
        "eventsPerSecond",
        "requestsPerSecond",
        "latencyMs",
    ] {
        assert!(json.get(key).is_some(), "{key}");
        json[key] = "[redacted]".into();
    }
    insta::assert_json_snapshot!("run_summary_out", json);
}

#[test]
fn generate_and_merge_say_what_they_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    for shard in ["0/2", "1/2"] {
        let out = dir.path().join(shard.replace('/', "of"));
        let run = callmetrics(&[
            "generate",
            "tests/fixtures/tiny.json",
            "--calls",
            "100",
            "--shard",
            shard,
            "--out",
            out.to_str().unwrap(),
        ])
        .expect_code(0);
        lines.push(redact(&run.stderr, dir.path()));
    }
    let first = dir.path().join("0of2/expected.json");
    let run = callmetrics(&["merge", "--partial", first.to_str().unwrap()]).expect_code(0);
    lines.push(redact(&run.stderr, dir.path()));
    insta::assert_snapshot!("generate_and_merge", lines.join("---\n"));
}

#[test]
fn the_sink_says_where_it_listens() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sink.log");
    let sink = SinkProcess::start_logged(&["--listen", "127.0.0.1:0"], &log);
    let line = format!("callmetrics sink listening on {}\n", sink.url);
    drop(sink);
    insta::assert_snapshot!(
        "sink_start",
        redact(&format!("{line}{}", common::read(&log)), dir.path())
    );
}

#[test]
fn top_level_errors_name_the_file_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    for args in [
        &["run", "missing.json"][..],
        &[
            "check",
            "--expected",
            "missing.json",
            "--observed",
            "http://127.0.0.1:9",
        ],
        &["run", "tests/fixtures/tiny.json", "--sink", "127.0.0.1:9"],
        &[
            "generate",
            "tests/fixtures/tiny.json",
            "--calls",
            "0",
            "--out",
            "x",
        ],
    ] {
        let run = callmetrics(args).expect_code(2);
        out.push(format!(
            "$ callmetrics {}\n{}",
            args.join(" "),
            redact(&run.stderr, dir.path())
        ));
    }
    insta::assert_snapshot!("top_level_errors", out.join("\n"));
}
