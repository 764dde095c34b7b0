//! `generate --format promtool` (issue #23): the file passes the real
//! `promtool test rules` (Debian's prometheus package), its tests assert
//! every series' total, those totals are expected.json's, and a test
//! whose value is off by one fails promtool.

use crate::common::servers::require;
use crate::common::{callmetrics, read};
use std::process::Command;

/// `promtool test rules FILE`: passed, and what it printed.
fn promtool(file: &std::path::Path) -> (bool, String) {
    let out = Command::new("promtool")
        .args(["test", "rules"])
        .arg(file)
        .output()
        .expect("promtool runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn promtool_passes_the_generated_tests_and_fails_a_changed_total() {
    if !require("promtool_tests", &[("promtool", "prometheus")]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    callmetrics(&[
        "generate",
        "scenarios/contact-center.json",
        "--calls",
        "400",
        "--rate",
        "1/s",
        "--format",
        "promtool",
        "--sample-interval",
        "30s",
        "--quiet",
        "--out",
        dir.path().to_str().unwrap(),
    ])
    .expect_code(0);
    let file = dir.path().join("promtool-tests.yml");
    let (passed, said) = promtool(&file);
    assert!(passed && said.contains("SUCCESS"), "{said}");

    // Each test's value is its series' total: per metric, they add up to
    // expected.json's counts (and the latency's sum to its total).
    let text = read(&file);
    let expected: serde_json::Value =
        serde_json::from_str(&read(&dir.path().join("expected.json"))).unwrap();
    let expected_sum = |metric: &str, field: &str| -> u64 {
        expected["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["name"]["value"] == metric)
            .flat_map(|m| m["timeseries"].as_array().unwrap())
            .flat_map(|s| s["data"].as_array().unwrap())
            .map(|p| p[field].as_u64().unwrap())
            .sum()
    };
    let tested_sum = |counter: &str| -> u64 {
        let mut sum = 0;
        let mut lines = text.lines().skip_while(|l| !l.contains("promql_expr_test"));
        while let Some(line) = lines.next() {
            if line
                .trim_start()
                .starts_with(&format!("- expr: '{counter}{{"))
            {
                let value = lines
                    .find(|l| l.trim_start().starts_with("value:"))
                    .unwrap();
                sum += value.trim_start()["value:".len()..]
                    .trim()
                    .parse::<u64>()
                    .unwrap();
            }
        }
        sum
    };
    for (counter, metric, field) in [
        (
            "acs_callautomation_api_requests_total",
            "APIRequestCallAutomation",
            "count",
        ),
        (
            "acs_callautomation_callback_events_total",
            "AcsCallAutomationCallbackEvent",
            "count",
        ),
        (
            "acs_callrecording_api_requests_total",
            "APIRequestCallRecording",
            "count",
        ),
        (
            "acs_callautomation_api_request_latency_milliseconds_count",
            "ApiRequestLatency",
            "count",
        ),
        (
            "acs_callautomation_api_request_latency_milliseconds_sum",
            "ApiRequestLatency",
            "total",
        ),
    ] {
        let tested = tested_sum(counter);
        assert!(tested > 0, "{counter} is tested");
        assert_eq!(tested, expected_sum(metric, field), "{counter}");
    }

    // One total off by one: promtool must fail it.
    let at = text.find("            value: ").unwrap() + "            value: ".len();
    let end = at + text[at..].find('\n').unwrap();
    let value: u64 = text[at..end].parse().unwrap();
    let changed = format!("{}{}{}", &text[..at], value + 1, &text[end..]);
    std::fs::write(&file, changed).unwrap();
    let (passed, said) = promtool(&file);
    assert!(!passed && said.contains("FAILED"), "{said}");
}
