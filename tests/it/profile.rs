//! `--profile` end to end (issue #23, "Realistic days"): a generated day's
//! call starts per hour follow the table the README documents, a profile
//! drives `run` as it drives `generate`, and bad files and flag mixes are
//! refused with exit 2.

use crate::common::{callmetrics, read, repo};
use std::collections::BTreeMap;
use std::path::Path;

/// The README's table of built-in factors: (weekday, weekend) per hour.
fn documented_factors() -> Vec<(f64, f64)> {
    let readme = read(&repo().join("README.md"));
    let section = readme
        .split("## Realistic days (`--profile`)")
        .nth(1)
        .expect("the README has a Realistic days section");
    let rows: Vec<(f64, f64)> = section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // | HH:00 | weekday | `bar` | weekend | `bar` |
            let is_hour = cells.len() == 7 && cells[1].len() == 5 && cells[1].ends_with(":00");
            is_hour.then(|| (cells[2].parse().unwrap(), cells[4].parse().unwrap()))
        })
        .collect();
    assert_eq!(rows.len(), 24, "{rows:?}");
    rows
}

/// Create Call requests per hour of `events.jsonl`: in the tiny scenario
/// each call makes exactly one, milliseconds after it starts.
fn call_starts_per_hour(events: &str) -> BTreeMap<String, u64> {
    let mut hours = BTreeMap::new();
    for line in events.lines() {
        if line.contains(r#""Operation":"Create Call""#) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let time = v["time"].as_str().unwrap();
            *hours.entry(time[..13].to_string()).or_insert(0) += 1;
        }
    }
    hours
}

#[test]
fn a_diurnal_day_has_the_documented_call_starts_per_hour() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("day");
    let rate = 0.25;
    callmetrics(&[
        "generate",
        "tests/fixtures/tiny.json",
        "--profile",
        "diurnal",
        "--duration",
        "1d",
        "--rate",
        &format!("{rate}/s"),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ])
    .expect_code(0);
    let hours = call_starts_per_hour(&read(&out.join("events.jsonl")));
    let factors = documented_factors();
    let mut seen = 0;
    for hour in 0..24 {
        // The rate moves linearly from this hour's factor to the next's.
        let (from, to) = (factors[hour].0, factors[(hour + 1) % 24].0);
        let mean = rate * 3600.0 * (from + to) / 2.0;
        let n = hours
            .get(&format!("2026-01-01T{hour:02}"))
            .copied()
            .unwrap_or(0);
        seen += n;
        // Poisson noise: 4.5 standard deviations (the busiest hour holds
        // 900 +- 135, the quietest 22 +- 21; another table is far out).
        assert!(
            (n as f64 - mean).abs() <= 4.5 * mean.sqrt(),
            "{hour:02}:00: {n} call starts, the table says {mean:.0}\n{hours:?}"
        );
    }
    assert_eq!(seen, hours.values().sum::<u64>(), "no call after the day");
}

#[test]
fn a_profile_without_a_length_runs_one_day_and_repeats_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let generate = |name: &str| {
        let out = dir.path().join(name);
        callmetrics(&[
            "generate",
            "tests/fixtures/tiny.json",
            "--profile",
            "weekend",
            "--rate",
            "0.02/s",
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ])
        .expect_code(0);
        out
    };
    let (first, second) = (generate("a"), generate("b"));
    let events = read(&first.join("events.jsonl"));
    assert_eq!(events, read(&second.join("events.jsonl")));
    let hours = call_starts_per_hour(&events);
    let calls: u64 = hours.values().sum();
    // 0.02/s x 3600 x 4.88 (the weekend's factors) = 351 calls, not the
    // default 1,000, all on 2026-01-01.
    assert!((280..=420).contains(&calls), "{calls} calls: {hours:?}");
    assert!(
        hours.keys().all(|h| h.starts_with("2026-01-01")),
        "{hours:?}"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&first.join("manifest.json"))).unwrap();
    assert_eq!(manifest["options"]["workload"]["profile"], "weekend");
}

#[test]
fn run_follows_a_profile_file_and_its_check_passes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("day.json");
    std::fs::write(
        &file,
        r#"[{"time": "00:00", "rate": 0}, {"time": "12:00", "rate": 1}]"#,
    )
    .unwrap();
    let expected = dir.path().join("expected.json");
    let run = callmetrics(&[
        "run",
        "tests/fixtures/tiny.json",
        "--profile",
        file.to_str().unwrap(),
        "--start",
        "2026-01-01T00:00:00Z",
        "--calls",
        "200",
        "--rate",
        "1/s",
        "--max-rate",
        "--expected-out",
        expected.to_str().unwrap(),
        "--quiet",
    ])
    .expect_code(0);
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());
    // From midnight the rate rises from 0 by 1/s every 12 h: 200 calls
    // take sqrt(2 x 200 x 43,200) s = 69 min (64 to 74 within Poisson
    // noise), where a flat 1/s would take 200 s.
    let expected: serde_json::Value = serde_json::from_str(&read(&expected)).unwrap();
    let timespan = expected["timespan"].as_str().unwrap();
    let (_, end) = timespan.split_once('/').unwrap();
    assert!(end.starts_with("2026-01-01T01:"), "{timespan}");
}

#[test]
fn bad_profiles_and_flag_mixes_exit_2_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "time,rate\n07:30,0.4\n12:00,lots\n").unwrap();
    let bad = bad.to_str().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let cases: [(&[&str], String); 3] = [
        (
            &["--profile", bad],
            format!("{bad}: line 3, field rate: \"lots\" is not a rate"),
        ),
        (
            &["--profile", "diurnl"],
            "--profile diurnl: not diurnal, weekday, weekend or week, and not a file".into(),
        ),
        (
            &["--profile", "week", "--ramp", "1m:5"],
            "'--profile <NAME|FILE>' cannot be used with '--ramp <STAGES>'".into(),
        ),
    ];
    for (flags, message) in cases {
        for command in ["generate", "run"] {
            let mut args = vec![command, "tests/fixtures/tiny.json"];
            args.extend_from_slice(flags);
            let output = if command == "generate" {
                ["--out", out]
            } else {
                ["--max-rate", "--quiet"]
            };
            args.extend_from_slice(&output);
            let run = callmetrics(&args).expect_code(2);
            assert!(run.stderr.contains(&message), "{}", run.describe());
        }
    }
    assert!(
        !Path::new(out).exists(),
        "a refused generate writes nothing"
    );
}
