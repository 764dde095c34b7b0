//! Issue #21: every callback of every shipped scenario has exactly the
//! shape the catalog's table gives its (event type, api-version): the
//! fields of `data` (present, absent, present under their condition), the
//! nested ones the table names, and the formats the live service writes.
//! The table is read from `catalog --format json`, as a user would.

use crate::common::{callmetrics, read};
use crate::scenarios::shipped;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Calls generated per shipped scenario: as many as `scenarios.rs` needs
/// to see every event type.
const CALLS: &str = "3000";

struct Rule {
    field: String,
    events: Value,
    versions: BTreeSet<String>,
    presence: String,
}

impl Rule {
    fn covers(&self, event: &str, version: &str) -> bool {
        let listed = |list: &Value| list.as_array().unwrap().iter().any(|e| e == event);
        let event_ok = match &self.events {
            Value::String(all) => all == "all",
            Value::Array(_) => listed(&self.events),
            Value::Object(o) => !listed(&o["allBut"]),
            other => panic!("events: {other}"),
        };
        event_ok && self.versions.contains(version)
    }
}

fn rules() -> Vec<Rule> {
    let run = callmetrics(&["catalog", "--format", "json"]).expect_code(0);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    v["callbackFields"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Rule {
            field: r["field"].as_str().unwrap().to_string(),
            events: r["events"].clone(),
            versions: r["apiVersions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect(),
            presence: r["presence"].as_str().unwrap().to_string(),
        })
        .collect()
}

/// What a field's rule asks of one callback: `Some(true)` present,
/// `Some(false)` absent, `None` either (its condition is the app's).
fn wanted(rule: &Rule, data: &Value) -> Option<bool> {
    let success = data["resultInformation"]["code"]
        .as_u64()
        .is_none_or(|c| (200..300).contains(&c));
    let object = rule.field.split('.').next().unwrap();
    match rule.presence.as_str() {
        "always" => Some(true),
        "when the result is not a success" => Some(!success),
        "for its recognition type" => {
            let kind = data["recognitionType"].as_str().unwrap_or("");
            let its = matches!(
                (kind, object),
                ("dtmf", "dtmfResult") | ("speech", "speechResult") | ("choices", "choiceResult")
            );
            // A choice matched by a key press has no phrase to be sure of.
            let pressed = data["resultInformation"]["subCode"] == 8533;
            Some(its && !(rule.field == "choiceResult.confidence" && pressed))
        }
        "when the app's request set one" | "when a play source failed" => None,
        other => panic!("presence {other:?}"),
    }
}

/// `data`'s fields as the table names them: top-level keys, `object.key`
/// for the result objects, `participants[].key` for roster entries.
fn field_names(data: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (key, value) in data.as_object().unwrap() {
        names.insert(key.clone());
        if matches!(key.as_str(), "speechResult" | "choiceResult") {
            for inner in value.as_object().unwrap().keys() {
                if inner == "confidence" {
                    names.insert(format!("{key}.{inner}"));
                }
            }
        }
        if key == "participants" {
            for p in value.as_array().unwrap() {
                for inner in p.as_object().unwrap().keys() {
                    names.insert(format!("participants[].{inner}"));
                }
            }
        }
    }
    names
}

/// .NET round-trip text with up to seven trimmed fraction digits and
/// `+00:00`, as every recorded live event's `time` is.
fn is_service_time(text: &str) -> bool {
    let Some(body) = text.strip_suffix("+00:00") else {
        return false;
    };
    let (seconds, fraction) = body.split_once('.').unwrap_or((body, ""));
    let shape_ok = seconds.len() == 19
        && seconds.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        });
    let fraction_ok = body.len() == 19
        || (!fraction.is_empty()
            && fraction.len() <= 7
            && fraction.bytes().all(|b| b.is_ascii_digit())
            && !fraction.ends_with('0'));
    shape_ok && fraction_ok
}

fn generated_callbacks(scenario: &std::path::Path) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    callmetrics(&[
        "generate",
        scenario.to_str().unwrap(),
        "--calls",
        CALLS,
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ])
    .expect_code(0);
    read(&out.join("events.jsonl"))
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter_map(|mut l| l.get_mut("cloudEvent").map(Value::take))
        .collect()
}

#[test]
fn every_callback_has_the_shape_the_table_gives_its_event_and_version() {
    let rules = rules();
    let mut problems = BTreeSet::new();
    let mut checked: BTreeMap<(String, String), u64> = BTreeMap::new();
    for scenario in shipped() {
        for ce in generated_callbacks(&scenario) {
            let event = ce["type"].as_str().unwrap().to_string();
            let data = &ce["data"];
            let version = data["version"].as_str().unwrap().to_string();
            *checked.entry((event.clone(), version.clone())).or_default() += 1;
            let applying: Vec<&Rule> = rules
                .iter()
                .filter(|r| r.covers(&event, &version))
                .collect();
            let allowed: BTreeSet<&str> = applying.iter().map(|r| r.field.as_str()).collect();
            let present = field_names(data);
            for field in &present {
                if !allowed.contains(field.as_str()) {
                    problems.insert(format!("{event} {version}: {field} is not in the table"));
                }
            }
            for rule in &applying {
                let has = present.contains(&rule.field);
                if let Some(want) = wanted(rule, data)
                    && want != has
                {
                    problems.insert(format!(
                        "{event} {version}: {} {} (rule: {})",
                        rule.field,
                        if has { "present" } else { "missing" },
                        rule.presence
                    ));
                }
            }
            let time = ce["time"].as_str().unwrap();
            if !is_service_time(time) {
                problems.insert(format!("{event} {version}: time {time:?}"));
            }
            if let Some(start) = data["startDateTime"].as_str()
                && !is_service_time(start)
            {
                problems.insert(format!("{event} {version}: startDateTime {start:?}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} shape problems:\n{}",
        problems.len(),
        problems.iter().cloned().collect::<Vec<_>>().join("\n")
    );
    // The table was exercised, not skipped: every event type, and the
    // versions whose shapes differ (early previews, pre-2024-09-15).
    let events: BTreeSet<&str> = checked.keys().map(|(e, _)| e.as_str()).collect();
    assert_eq!(events.len(), 38, "{events:?}");
    for version in [
        "2023-10-03-preview",
        "2024-09-01-preview",
        "2024-04-15",
        "2026-03-12",
    ] {
        assert!(
            checked.keys().any(|(_, v)| v == version),
            "no callback of {version}: {checked:?}"
        );
    }
}

#[test]
fn service_times_are_recognised_and_others_are_not() {
    assert!(is_service_time("2025-06-20T21:25:26.2478196+00:00"));
    assert!(is_service_time("2024-02-29T19:15:50.912972+00:00"));
    assert!(is_service_time("2024-02-29T19:15:50+00:00"));
    assert!(!is_service_time("2026-01-01T00:00:02.809Z"));
    assert!(!is_service_time("2024-02-29T19:15:50.9129720+00:00"));
    assert!(!is_service_time("2024-02-29T19:15:50.12345678+00:00"));
}
