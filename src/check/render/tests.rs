//! Snapshots of every report format for a failing and a passing check
//! (they double as documentation of the output), and the JSON report held
//! to its committed, documented schema.

use crate::catalog::{Metric, Naming};
use crate::check::fixture::*;
use crate::check::{CheckOptions, Reference, Report, ReportFormat, json_schema};
use serde_json::Value as Json;
use std::path::PathBuf;

/// A sink that lost one API request (and its latency sample), never
/// stored the 429 series and invented a callback series.
fn failing() -> Report {
    let mut data = metrics();
    for (metric, series) in &mut data {
        match metric {
            Metric::ApiRequests => {
                series.remove(&request("Play", "429", "4xx"));
                let play = series.get_mut(&request("Play", "202", "2xx")).unwrap();
                *play.get_mut(&T0).unwrap() = agg(1199, 1199, 1, 1);
            }
            Metric::ApiRequestLatency => {
                let play = series.get_mut(&request("Play", "202", "2xx")).unwrap();
                *play.get_mut(&T0).unwrap() = agg(1199, 54_309, 12, 250);
            }
            Metric::CallbackEvents => {
                series.extend(crate::check::fixture::series(vec![(
                    callback("PlayFailed", "500", "5xx", "8500"),
                    vec![(2, agg(1, 1, 1, 1))],
                )]));
            }
            Metric::RecordingRequests => {}
        }
    }
    let observed = Reference::new(&response(&data, Naming::Azure)).unwrap();
    let mut report = run(&expected(), &observed, &CheckOptions::default()).unwrap();
    // As a promql check that waited for an app restarted mid-run reports.
    report.resets = vec![crate::check::CounterReset {
        series: "acs_callautomation_api_requests_total{operation=\"Play\", status_code=\"202\"}"
            .into(),
        at: T0 + 30_000,
        before: 700,
        after: 12,
    }];
    report.waited = Some(crate::check::wait::Waited {
        checks: 13,
        elapsed: std::time::Duration::from_millis(60_250),
    });
    report
}

/// A pipeline read before its last minute was in: every mismatch is
/// below expected, so the report carries a hint.
fn late() -> Report {
    let mut data = metrics();
    for (_, series) in &mut data {
        for buckets in series.values_mut() {
            buckets.remove(&(T0 + 5 * MINUTE));
        }
    }
    let observed = Reference::new(&response(&data, Naming::Azure)).unwrap();
    run(&expected(), &observed, &CheckOptions::default()).unwrap()
}

fn passing() -> Report {
    let expected = expected();
    let options = CheckOptions {
        grains: vec![],
        tolerance: Some(0.001),
        totals: false,
    };
    run(&expected, &Reference::new(&expected).unwrap(), &options).unwrap()
}

fn render(report: &Report, format: ReportFormat, max: usize) -> String {
    let mut out = Vec::new();
    report.render(format, max, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn table_of_a_failing_check() {
    insta::assert_snapshot!(render(&failing(), ReportFormat::Table, 8));
}

#[test]
fn table_of_a_passing_check() {
    insta::assert_snapshot!(render(&passing(), ReportFormat::Table, 20));
}

#[test]
fn table_of_a_late_read_has_a_hint() {
    insta::assert_snapshot!(render(&late(), ReportFormat::Table, 2));
}

#[test]
fn json_of_a_late_read_has_its_hint() {
    let json: Json = serde_json::from_str(&render(&late(), ReportFormat::Json, 0)).unwrap();
    assert_eq!(json["hints"][0]["kind"], "belowExpected");
    assert_eq!(json["hints"].as_array().unwrap().len(), 1);
    let text = json["hints"][0]["text"].as_str().unwrap();
    assert!(text.ends_with("use --wait 60s"), "{text}");
}

#[test]
fn json_of_a_failing_check() {
    insta::assert_snapshot!(render(&failing(), ReportFormat::Json, 0));
}

#[test]
fn json_of_a_passing_check() {
    insta::assert_snapshot!(render(&passing(), ReportFormat::Json, 0));
}

#[test]
fn junit_of_a_failing_check() {
    insta::assert_snapshot!(render(&failing(), ReportFormat::Junit, 3));
}

#[test]
fn junit_of_a_passing_check() {
    insta::assert_snapshot!(render(&passing(), ReportFormat::Junit, 3));
}

fn doc(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_committed_schema_is_the_reports_schema() {
    assert!(
        doc("check-report.schema.json") == json_schema(),
        "docs/check-report.schema.json is stale: run \
         `cargo test --lib check::render -- --ignored write_schema`"
    );
}

/// Regenerates docs/check-report.schema.json.
#[test]
#[ignore]
fn write_schema() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/check-report.schema.json");
    std::fs::write(path, json_schema()).unwrap();
}

#[test]
fn reports_conform_to_the_schema_and_every_field_is_documented() {
    let schema: Json = serde_json::from_str(&doc("check-report.schema.json")).unwrap();
    for report in [failing(), passing(), late()] {
        let json: Json = serde_json::from_str(&render(&report, ReportFormat::Json, 0)).unwrap();
        if let Err(e) = conforms(&json, &schema) {
            panic!("the JSON report does not match docs/check-report.schema.json: {e}");
        }
    }
    // The validator is not a yes-man: a wrong type and an unknown field fail.
    let mut json: Json = serde_json::from_str(&render(&failing(), ReportFormat::Json, 0)).unwrap();
    json["summary"]["cells"] = Json::String("many".into());
    assert!(
        conforms(&json, &schema).is_err(),
        "a string for a count passed"
    );
    let mut json: Json = serde_json::from_str(&render(&passing(), ReportFormat::Json, 0)).unwrap();
    json["surprise"] = Json::Bool(true);
    assert!(
        conforms(&json, &schema).is_err(),
        "an undocumented field passed"
    );
    let docs = doc("check-report.md");
    let mut names = Vec::new();
    property_names(&schema, &mut names);
    for name in names {
        assert!(
            docs.contains(&format!("`{name}`")),
            "docs/check-report.md does not describe `{name}`"
        );
    }
}

fn property_names(schema: &Json, out: &mut Vec<String>) {
    match schema {
        Json::Object(map) => {
            if let Some(Json::Object(props)) = map.get("properties") {
                out.extend(props.keys().cloned());
            }
            map.values().for_each(|v| property_names(v, out));
        }
        Json::Array(items) => items.iter().for_each(|v| property_names(v, out)),
        _ => {}
    }
}

/// Validates `value` against the schema with a full draft 2020-12
/// validator (`oneOf` means exactly one, `$ref`, formats and all).
fn conforms(value: &Json, schema: &Json) -> Result<(), String> {
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource("urn:check-report", schema.clone())
        .map_err(|e| e.to_string())?;
    let index = compiler
        .compile("urn:check-report", &mut schemas)
        .map_err(|e| format!("the schema does not compile: {e}"))?;
    schemas.validate(value, index).map_err(|e| format!("{e:#}"))
}
