//! Issue #11, part 1: `--shard I/N` splits a workload among N generators
//! exactly, and `merge` sums their expected files into the whole's.

use crate::common;

use crate::common::{SinkProcess, callmetrics, read};
use std::path::Path;

fn generate(out: &Path, extra: &[&str]) {
    let mut args = vec![
        "generate",
        "scenarios/inbound-ivr.json",
        "--calls",
        "200",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    callmetrics(&args).expect_code(0);
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

#[test]
fn the_shards_together_are_the_unsharded_workload_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    generate(&whole, &[]);
    let whole_events = read(&whole.join("events.jsonl"));
    for n in [2, 3, 5] {
        let mut union = String::new();
        let mut expected_files = Vec::new();
        for i in 0..n {
            let out = dir.path().join(format!("s{i}of{n}"));
            generate(&out, &["--shard", &format!("{i}/{n}")]);
            let events = read(&out.join("events.jsonl"));
            assert!(!events.is_empty(), "shard {i}/{n} is empty");
            union.push_str(&events);
            expected_files.push(out.join("expected.json"));
        }
        assert_eq!(sorted_lines(&union), sorted_lines(&whole_events), "N = {n}");
        let mut args = vec!["merge".to_string()];
        args.extend(
            expected_files
                .iter()
                .map(|p| p.to_str().unwrap().to_string()),
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let merged = callmetrics(&args).expect_code(0);
        assert_eq!(
            merged.stdout,
            read(&whole.join("expected.json")),
            "merge of {n} shards"
        );
    }
}

#[test]
fn merge_refuses_what_is_not_one_workload() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        generate(&out, extra);
        out.join("expected.json").to_str().unwrap().to_string()
    };
    let a = file("a", &["--shard", "0/2"]);
    let b = file("b", &["--shard", "1/2"]);
    let other_seed = file("seed", &["--shard", "1/2", "--seed", "9"]);
    let other_grain = file("grain", &["--shard", "1/2", "--grain", "PT5M"]);
    let other_split = file("split", &["--shard", "1/3"]);
    for (files, message) in [
        (
            vec![&a, &a],
            "are both shard 0/2: merging it twice would count it twice",
        ),
        (vec![&a, &other_seed], "come from different seeds (1 vs 9)"),
        (
            vec![&a, &other_grain],
            "come from different grains (PT1M vs PT5M)",
        ),
        (
            vec![&a, &other_split],
            "come from different workloads (0/2 vs 1/3)",
        ),
    ] {
        let mut args = vec!["merge"];
        args.extend(files.iter().map(|f| f.as_str()));
        let run = callmetrics(&args).expect_code(2);
        assert!(
            run.stderr.contains(message),
            "{message}\n{}",
            run.describe()
        );
    }
    let run = callmetrics(&["merge", &a]).expect_code(2);
    assert!(
        run.stderr
            .contains("shard 1/2 of the workload is not among the files")
            && run.stderr.contains("--partial"),
        "{}",
        run.describe()
    );
    let run = callmetrics(&["merge", "--partial", &a]).expect_code(0);
    assert!(
        run.stderr
            .contains("note: shard 1/2 of the workload is not among the files"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("\"shard\": \"0/2\""),
        "marked as shard 0 only"
    );
    callmetrics(&["merge", &a, &b]).expect_code(0);
}

// The distributed path: N generator processes with the flags the
// Kubernetes manifests pass, one sink, a merged ground truth, check exact.
// Every batch key differs between shards, so none is taken for another's
// duplicate.
#[test]
fn shards_run_into_one_sink_check_green_against_the_merged_file() {
    let sink = SinkProcess::start(&["--listen", "127.0.0.1:0"]);
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for i in 0..3 {
        let expected = dir.path().join(format!("shard-{i}.json"));
        callmetrics(&[
            "run",
            "scenarios/inbound-ivr.json",
            "--calls",
            "300",
            "--start",
            "2026-01-01T00:00:00Z",
            "--shard",
            &format!("{i}/3"),
            "--max-rate",
            "--sink",
            &sink.url,
            "--expected-out",
            expected.to_str().unwrap(),
            "--quiet",
        ])
        .expect_code(0);
        files.push(expected.to_str().unwrap().to_string());
    }
    let mut args = vec!["merge"];
    args.extend(files.iter().map(String::as_str));
    let merged = callmetrics(&args).expect_code(0);
    let path = dir.path().join("expected.json");
    std::fs::write(&path, &merged.stdout).unwrap();
    let check = callmetrics(&[
        "check",
        "--expected",
        path.to_str().unwrap(),
        "--observed",
        &sink.url,
    ])
    .expect_code(0);
    assert!(check.stdout.starts_with("PASS"), "{}", check.describe());
    // One shard alone is not the whole: the same check fails.
    let check =
        callmetrics(&["check", "--expected", &files[0], "--observed", &sink.url]).expect_code(1);
    assert!(check.stdout.starts_with("FAIL"), "{}", check.describe());
}

// deploy/kubernetes/: the generators' and the check Job's own commands,
// run here as the pods would (JOB_COMPLETION_INDEX 0..N-1, the manifests'
// environment), pass.
#[test]
fn the_kubernetes_commands_run_and_check_green() {
    let sink = SinkProcess::start(&["--listen", "127.0.0.1:0", "--token", "change-me"]);
    let results = tempfile::tempdir().unwrap();
    let generator = common::manifest_command("generators.yaml", results.path());
    assert!(
        generator.contains("--shard \"$JOB_COMPLETION_INDEX/$SHARDS\""),
        "{generator}"
    );
    for i in 0..3 {
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", &generator])
            .env("JOB_COMPLETION_INDEX", i.to_string())
            .env("SHARDS", "3")
            .env("CALLS", "300")
            .env("RATE", "50/s")
            .env("START", "2026-12-01T10:00:00Z")
            .env("SINK", &sink.url)
            .env("CALLMETRICS_TOKEN", "change-me")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "shard {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let check = common::manifest_command("check.yaml", results.path())
        .replace("http://callmetrics-sink:8650", &sink.url);
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", &check])
        .env("CALLMETRICS_TOKEN", "change-me")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "check: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let junit = read(&results.path().join("check.xml"));
    assert!(junit.contains("failures=\"0\""), "{junit}");
}

// Remote write and InfluxDB key series by metric and dimensions only: N
// shards would overwrite each other's counters, so the combination is
// refused before anything is sent.
#[test]
fn shards_refuse_the_targets_that_would_overwrite_each_other() {
    for target in ["remote-write", "influx"] {
        let run = callmetrics(&[
            "run",
            "tests/fixtures/tiny.json",
            "--calls",
            "10",
            "--shard",
            "1/2",
            "--target",
            target,
            "--sink",
            "http://127.0.0.1:9/api/v1/write",
            "--max-rate",
        ])
        .expect_code(2);
        let refusal = format!("--shard with --target {target}: shards would write the same series");
        assert!(run.stderr.contains(&refusal), "{}", run.describe());
    }
    let run = callmetrics(&[
        "generate",
        "tests/fixtures/tiny.json",
        "--calls",
        "2",
        "--shard",
        "2/3",
        "--out",
        "-",
    ])
    .expect_code(2);
    assert!(
        run.stderr.contains("--shard 2/3 owns no call of --calls 2"),
        "{}",
        run.describe()
    );
}

// Issue #19, item 6: copies of shard 0 relabelled `00/3`, `0/03`, `+0/3`,
// `5/3` or `x/3` were merged as extra shards (+33 % events, exit 0).
#[test]
fn a_shard_label_is_read_strictly_so_a_relabelled_copy_is_not_another_shard() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<String> = (0..3)
        .map(|i| {
            let out = dir.path().join(format!("s{i}"));
            generate(&out, &["--shard", &format!("{i}/3")]);
            out.join("expected.json").to_str().unwrap().to_string()
        })
        .collect();
    let shard0 = read(Path::new(&files[0]));
    for (label, why) in [
        ("00/3", "the index is not a plain number"),
        ("0/03", "the count is not a plain number"),
        ("+0/3", "the index is not a plain number"),
        (" 0/3", "the index is not a plain number"),
        ("5/3", "the index must be below the count"),
        ("x/3", "the index is not a plain number"),
        ("0+2/3", "the index is not a plain number"),
        ("0/0", "a workload has at least one shard"),
        ("0", "no \"/\""),
    ] {
        let copy = dir.path().join("copy.json");
        let relabelled = shard0.replace("\"shard\": \"0/3\"", &format!("\"shard\": {label:?}"));
        assert_ne!(relabelled, shard0, "the fixture holds the label");
        std::fs::write(&copy, relabelled).unwrap();
        let copy = copy.to_str().unwrap();
        let run = callmetrics(&["merge", &files[0], &files[1], &files[2], copy]).expect_code(2);
        assert!(
            run.stderr.contains(&format!(
                "shard {label:?} is not one shard of a workload ({why})"
            )),
            "{label}\n{}",
            run.describe()
        );
    }
    // A copy keeping its label is the same shard twice.
    let run = callmetrics(&["merge", &files[0], &files[1], &files[2], &files[0]]).expect_code(2);
    assert!(
        run.stderr.contains("are both shard 0/3"),
        "{}",
        run.describe()
    );
    callmetrics(&["merge", &files[0], &files[1], &files[2]]).expect_code(0);
}

// Issue #19, item 4: `merge` summed each cell with checked arithmetic but
// not the metric's totals, so it wrote a file `check` then refused.
#[test]
fn merge_refuses_shards_whose_totals_pass_2_64() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<String> = (0..2)
        .map(|i| {
            let out = dir.path().join(format!("s{i}"));
            generate(&out, &["--shard", &format!("{i}/2")]);
            out.join("expected.json").to_str().unwrap().to_string()
        })
        .collect();
    // A different cell of each shard holds 2^63 calls (the first of shard
    // 0, the last of shard 1): each file alone is readable, and no cell of
    // the merge passes 2^64-1, only the metric's total.
    for (i, file) in files.iter().enumerate() {
        let mut doc: serde_json::Value = serde_json::from_str(&read(Path::new(file))).unwrap();
        let series = doc["value"][0]["timeseries"].as_array_mut().unwrap();
        let series = if i == 0 {
            &mut series[0]
        } else {
            series.last_mut().unwrap()
        };
        let data = series["data"].as_array_mut().unwrap();
        let point = if i == 0 {
            &mut data[0]
        } else {
            data.last_mut().unwrap()
        };
        let point = point.as_object_mut().unwrap();
        point.insert("count".into(), (1u64 << 63).into());
        point.insert("total".into(), (1u64 << 63).into());
        std::fs::write(file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        callmetrics(&["merge", "--partial", file]).expect_code(0);
    }
    let run = callmetrics(&["merge", &files[0], &files[1]]).expect_code(2);
    assert!(
        run.stderr.contains("over all shards add up past 2^64-1"),
        "{}",
        run.describe()
    );
}
