//! Datasets as analysts load them (issue #23): DuckDB, pyarrow and pandas
//! read `generate --format parquet` and `--format csv` (tests/clients/
//! analysts/read_datasets.py): the documented column types, and counts per
//! metric, per dimension value and per full combination and minute equal
//! to expected.json's; an expected file with one count changed must fail.
//! Parquet's row groups are bounded, so a larger dataset has several.
//!
//! Needs python3 (with venv); the pinned packages go into
//! tests/clients/analysts/.venv (`.ci/run` makes it; made here if missing).

use crate::common::servers::{python_venv, require};
use crate::common::{callmetrics, read, repo};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn clients_dir() -> PathBuf {
    repo().join("tests/clients/analysts")
}

/// read_datasets.py's exit code and summary.
fn read_datasets(python: &Path, kind: &str, dir: &Path) -> (i32, Value) {
    let out = Command::new(python)
        .arg(clients_dir().join("read_datasets.py"))
        .arg(kind)
        .arg(dir)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "read_datasets.py printed no JSON ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), summary)
}

/// contact-center's `calls` at 20/s as `format` into `dir`, with `seed`;
/// its manifest.
fn generate(dir: &Path, calls: &str, format: &str, seed: &str) -> Value {
    callmetrics(&[
        "generate",
        "scenarios/contact-center.json",
        "--calls",
        calls,
        "--rate",
        "20/s",
        "--seed",
        seed,
        "--format",
        format,
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
    ])
    .expect_code(0);
    serde_json::from_str(&read(&dir.join("manifest.json"))).unwrap()
}

#[test]
fn duckdb_pyarrow_and_pandas_read_parquet_and_csv_exactly() {
    if !require("analyst_datasets", &[("python3", "python3")]) {
        return;
    }
    let python = python_venv(&clients_dir());
    let root = tempfile::tempdir().unwrap();
    for (format, calls) in [("parquet", "12000"), ("csv", "1500")] {
        let dir = root.path().join(format);
        let manifest = generate(&dir, calls, format, "1");
        let (code, summary) = read_datasets(&python, format, &dir);
        assert_eq!(code, 0, "{format}: {summary:#}");
        let files = &summary["files"];
        let rows: u64 = ["requests", "recording-requests", "callbacks"]
            .iter()
            .map(|f| files[f]["rows"].as_u64().unwrap())
            .sum();
        assert_eq!(
            rows, manifest["counts"]["events"],
            "{format}: every event is a row"
        );
        if format == "parquet" {
            // 131,072 rows at most per group: memory stays bounded.
            assert!(
                files["callbacks"]["rowGroups"].as_u64().unwrap() >= 2,
                "{summary:#}"
            );
        }
        // One count changed in expected.json: the loaders must disagree.
        let expected = dir.join("expected.json");
        let text = read(&expected);
        let changed = text.replacen("\"count\": 1,", "\"count\": 2,", 1);
        assert_ne!(text, changed);
        std::fs::write(&expected, changed).unwrap();
        let (code, summary) = read_datasets(&python, format, &dir);
        assert_eq!(
            code, 1,
            "{format} passed a changed expected file: {summary:#}"
        );
    }
}

/// Callbacks' CloudEvents are split into columns in Parquet: rebuilt as
/// the README says, each must equal the JSONL's of the same scenario and
/// seed (and each request its `request`); against another seed's JSONL
/// the comparison must fail.
#[test]
fn parquet_rebuilds_every_cloud_event_and_request_of_the_jsonl() {
    if !require("analyst_datasets", &[("python3", "python3")]) {
        return;
    }
    let python = python_venv(&clients_dir());
    let root = tempfile::tempdir().unwrap();
    let dataset = |name: &str, format: &str, seed: &str| {
        let dir = root.path().join(name);
        generate(&dir, "1500", format, seed);
        dir
    };
    let parquet = dataset("parquet", "parquet", "7");
    let jsonl = dataset("jsonl", "jsonl", "7");
    let other = dataset("other", "jsonl", "8");
    let same = |jsonl: &Path| {
        let out = Command::new(&python)
            .arg(clients_dir().join("read_datasets.py"))
            .args(["same".as_ref(), parquet.as_os_str(), jsonl.as_os_str()])
            .output()
            .expect("python runs");
        let summary: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code().unwrap_or(-1), summary)
    };
    let (code, summary) = same(&jsonl);
    assert_eq!(code, 0, "{summary:#}");
    assert!(
        summary["files"]["callbacks"]["rows"].as_u64().unwrap() > 10_000,
        "{summary:#}"
    );
    let (code, summary) = same(&other);
    assert_eq!(code, 1, "another seed's events passed: {summary:#}");
}
