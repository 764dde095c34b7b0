//! `dashboards/grafana/callmetrics.json`, the Grafana dashboard of the four
//! metrics as `run --target remote-write` names them. No Grafana is
//! installable here to import it into, so two tests stand in for that:
//! its structure as Grafana's dashboard model has it (schemaVersion 39:
//! required fields, unique panel ids, a grid that fits 24 columns with no
//! overlap, core panel types only, every `$variable` defined and every
//! variable used, defaults equal to `mappings/default.json` and no name
//! written into a query), and every panel's PromQL, with the variables at
//! their defaults, run against a real Prometheus 2.42 and VictoriaMetrics
//! 1.79 filled by remote write: each returns data, and the data agrees
//! with expected.json (label values, the latency average within the
//! events' latencies, the top-N bound, the labels the legends name).
//!
//! Those need `prometheus` and `victoria-metrics` (skipped on a developer
//! machine without them, a failure in CI). Bounded: 300 calls written once
//! per server, one query per panel.

use crate::common;
use crate::common::servers::{Store, instant_query, range_query, require, written_hours_ago};
use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const DASHBOARD: &str = "dashboards/grafana/callmetrics.json";

/// The variables that name a metric, and the metric (Azure name) whose
/// Prometheus name each holds: a `--mapping` file's `"name"`.
const METRIC_VARIABLES: [(&str, &str); 4] = [
    ("requests_metric", "APIRequestCallAutomation"),
    ("latency_metric", "ApiRequestLatency"),
    ("callbacks_metric", "AcsCallAutomationCallbackEvent"),
    ("recording_metric", "APIRequestCallRecording"),
];

/// The variables that name a label, and the dimension each holds the label
/// of: a `--mapping` file's label for it.
const LABEL_VARIABLES: [(&str, &str); 9] = [
    ("operation_label", "Operation"),
    ("status_code_label", "StatusCode"),
    ("status_code_class_label", "StatusCodeClass"),
    ("api_version_label", "ApiVersion"),
    ("event_type_label", "EventTypeName"),
    ("code_label", "Code"),
    ("code_class_label", "CodeClass"),
    ("sub_code_label", "SubCode"),
    ("version_label", "Version"),
];

/// Grafana's own variables the panels may use.
const GLOBALS: [&str; 2] = ["__rate_interval", "__range"];

fn dashboard() -> Value {
    serde_json::from_str(&common::read(&common::repo().join(DASHBOARD))).unwrap()
}

fn default_mapping() -> Value {
    let text = common::read(&common::repo().join("mappings/default.json"));
    serde_json::from_str::<Value>(&text).unwrap()["metrics"].clone()
}

fn variables(dashboard: &Value) -> &Vec<Value> {
    dashboard["templating"]["list"].as_array().unwrap()
}

/// Each variable's default value (the datasource variable has none: Grafana
/// picks the default data source).
fn defaults(dashboard: &Value) -> BTreeMap<String, String> {
    variables(dashboard)
        .iter()
        .filter(|v| v["type"] != "datasource")
        .map(|v| {
            let value = v["current"]["value"].as_str().unwrap();
            (v["name"].as_str().unwrap().to_string(), value.to_string())
        })
        .collect()
}

/// A variable reference in any of Grafana's forms: `${name}`,
/// `${name:format}`, `$name`, `[[name]]`.
fn reference() -> Regex {
    Regex::new(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]").unwrap()
}

fn referenced(text: &str) -> Vec<String> {
    reference()
        .captures_iter(text)
        .map(|c| (1..=3).find_map(|i| c.get(i)).unwrap().as_str().to_string())
        .collect()
}

/// `text` with every variable replaced by its value in `values`, as Grafana
/// interpolates a query (`:raw` and plain alike: none of the values holds a
/// character Grafana would escape).
fn substitute(text: &str, values: &BTreeMap<String, String>) -> String {
    reference()
        .replace_all(text, |c: &regex::Captures| {
            let name = (1..=3).find_map(|i| c.get(i)).unwrap().as_str();
            values
                .get(name)
                .unwrap_or_else(|| panic!("no value for ${name} in {text:?}"))
                .clone()
        })
        .into_owned()
}

/// Every string under `value`.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(fields) => fields.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// The panels that draw data (rows only group them).
fn data_panels(dashboard: &Value) -> Vec<&Value> {
    let panels = dashboard["panels"].as_array().unwrap();
    panels.iter().filter(|p| p["type"] != "row").collect()
}

#[test]
fn the_dashboard_has_the_structure_grafana_imports() {
    let dashboard = dashboard();
    // Grafana's dashboard model (schemaVersion 39, Grafana 10.4 and 11.0)
    // allows no other top-level field; `id` is left out, as it belongs to
    // one Grafana instance (an import assigns its own).
    let allowed = [
        "uid",
        "title",
        "description",
        "tags",
        "timezone",
        "editable",
        "graphTooltip",
        "time",
        "timepicker",
        "fiscalYearStartMonth",
        "liveNow",
        "weekStart",
        "refresh",
        "schemaVersion",
        "version",
        "panels",
        "templating",
        "annotations",
        "links",
    ];
    for key in dashboard.as_object().unwrap().keys() {
        assert!(allowed.contains(&key.as_str()), "unexpected field {key}");
    }
    let uid = dashboard["uid"].as_str().unwrap();
    assert!((8..=40).contains(&uid.len()), "a uid is 8 to 40 characters");
    assert!(!dashboard["title"].as_str().unwrap().is_empty());
    assert_eq!(dashboard["schemaVersion"], 39);
    assert!(dashboard["annotations"]["list"].is_array());

    // Variables: known types, unique names, a default where one is shown.
    let types = ["datasource", "textbox", "custom", "constant", "query"];
    let mut names = BTreeSet::new();
    for v in variables(&dashboard) {
        let name = v["name"].as_str().unwrap();
        assert!(names.insert(name), "variable {name} twice");
        assert!(types.contains(&v["type"].as_str().unwrap()), "{v}");
        if v["type"] == "datasource" {
            assert_eq!(v["query"], "prometheus", "{v}");
        } else {
            assert!(v["current"]["text"].is_string(), "{v}");
        }
    }

    // Panels: core types only (no plugin to install), unique ids, every
    // data panel on the datasource variable with a PromQL query per target.
    let mut ids = BTreeSet::new();
    let mut cells = BTreeSet::new();
    for p in dashboard["panels"].as_array().unwrap() {
        let title = p["title"].as_str().unwrap();
        let kind = p["type"].as_str().unwrap();
        assert!(
            ["row", "timeseries", "barchart", "table", "stat"].contains(&kind),
            "{title}: {kind}"
        );
        assert!(ids.insert(p["id"].as_u64().unwrap()), "{title}: id taken");
        // The grid is 24 columns wide; panels must not overlap.
        let g = &p["gridPos"];
        let [x, y, w, h] = ["x", "y", "w", "h"].map(|k| g[k].as_u64().unwrap());
        assert!(w > 0 && h > 0 && x + w <= 24, "{title}: {g}");
        for cell in (x..x + w).flat_map(|c| (y..y + h).map(move |r| (c, r))) {
            assert!(
                cells.insert(cell),
                "{title} overlaps another panel at {cell:?}"
            );
        }
        if kind == "row" {
            assert_eq!(p["collapsed"], false, "{title}");
            continue;
        }
        let datasource = serde_json::json!({"type": "prometheus", "uid": "${datasource}"});
        assert_eq!(p["datasource"], datasource, "{title}");
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}");
        let mut refs = BTreeSet::new();
        for t in targets {
            assert!(refs.insert(t["refId"].as_str().unwrap()), "{title}");
            assert_eq!(t["datasource"], datasource, "{title}");
            assert!(!t["expr"].as_str().unwrap().is_empty(), "{title}");
            // A table or bar chart reads one row per series at the range's
            // end; a time series, the range.
            let instant = t["instant"] == true;
            assert_eq!(instant, t["range"] == false, "{title}");
            assert_eq!(instant, ["table", "barchart"].contains(&kind), "{title}");
        }
    }

    // Every variable a panel names is defined or Grafana's own, and every
    // variable is used somewhere (a knob that changes nothing misleads).
    let mut used = BTreeSet::new();
    let mut texts = Vec::new();
    strings(&dashboard["panels"], &mut texts);
    for text in &texts {
        for name in referenced(text) {
            assert!(
                names.contains(name.as_str()) || GLOBALS.contains(&name.as_str()),
                "${name} in {text:?} is not defined"
            );
            used.insert(name);
        }
    }
    for name in &names {
        assert!(used.contains(*name), "variable {name} is never used");
    }

    // Mapping-aware: every metric and label name comes from a variable
    // whose default is callmetrics' own naming, and no query or legend
    // spells one out (a team whose pipeline names them otherwise would
    // have to edit the panels).
    let mapping = default_mapping();
    let defaults = defaults(&dashboard);
    for (variable, metric) in METRIC_VARIABLES {
        assert_eq!(defaults[variable], mapping[metric]["name"], "{variable}");
    }
    for (variable, dimension) in LABEL_VARIABLES {
        for (metric, m) in mapping.as_object().unwrap() {
            if let Some(label) = m["labels"].get(dimension) {
                assert_eq!(&defaults[variable], label, "{variable} ({metric})");
            }
        }
    }
    // Two dimensions under one label would be summed into one.
    let labels: BTreeSet<&str> = LABEL_VARIABLES
        .iter()
        .map(|(v, _)| defaults[*v].as_str())
        .collect();
    assert_eq!(labels.len(), LABEL_VARIABLES.len(), "{labels:?}");
    let named: Vec<&str> = METRIC_VARIABLES
        .iter()
        .chain(&LABEL_VARIABLES)
        .map(|(v, _)| defaults[*v].as_str())
        .collect();
    let word = Regex::new(r"[A-Za-z_][A-Za-z0-9_]*").unwrap();
    for p in data_panels(&dashboard) {
        for t in p["targets"].as_array().unwrap() {
            for field in ["expr", "legendFormat"] {
                let text = t[field].as_str().unwrap_or_default();
                // Outside the variables' own names (`${code_label}`).
                let bare = reference().replace_all(text, "");
                for w in word.find_iter(&bare) {
                    assert!(
                        !named.contains(&w.as_str()),
                        "{}: {field} spells out {:?}",
                        p["title"],
                        w.as_str()
                    );
                }
            }
        }
    }
    // The selector and the variables above are the only free-text ones.
    for v in variables(&dashboard) {
        let name = v["name"].as_str().unwrap();
        if v["type"] == "textbox" && name != "selector" {
            let known = METRIC_VARIABLES.iter().chain(&LABEL_VARIABLES);
            assert!(known.map(|(n, _)| *n).any(|n| n == name), "{name}");
        }
    }
}

/// What expected.json says: its window, every value of each dimension, and
/// the smallest and largest latency of any request.
struct Expected {
    start_ms: i64,
    end_ms: i64,
    values: BTreeMap<String, BTreeSet<String>>,
    latency: (f64, f64),
}

fn expected(path: &std::path::Path) -> Expected {
    let file: Value = serde_json::from_str(&common::read(path)).unwrap();
    let times: Vec<i64> = file["timespan"]
        .as_str()
        .unwrap()
        .split('/')
        .map(|t| {
            let at = humantime::parse_rfc3339(t).unwrap();
            at.duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64
        })
        .collect();
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut latency = (f64::INFINITY, f64::NEG_INFINITY);
    for metric in file["value"].as_array().unwrap() {
        for series in metric["timeseries"].as_array().unwrap() {
            for m in series["metadatavalues"].as_array().unwrap() {
                let dimension = m["name"]["value"].as_str().unwrap().to_string();
                let value = m["value"].as_str().unwrap().to_string();
                values.entry(dimension).or_default().insert(value);
            }
            if metric["name"]["value"] == "ApiRequestLatency" {
                for point in series["data"].as_array().unwrap() {
                    latency.0 = latency.0.min(point["minimum"].as_f64().unwrap());
                    latency.1 = latency.1.max(point["maximum"].as_f64().unwrap());
                }
            }
        }
    }
    Expected {
        start_ms: times[0],
        end_ms: times[1],
        values,
        latency,
    }
}

/// The numbers of a series, from a range (`values`) or instant (`value`)
/// answer.
fn numbers(series: &Value) -> Vec<(f64, f64)> {
    let points = match series.get("values") {
        Some(values) => values.as_array().unwrap().clone(),
        None => vec![series["value"].clone()],
    };
    points
        .iter()
        .map(|p| {
            (
                p[0].as_f64().unwrap(),
                p[1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

/// Every panel's queries, with the variables at their defaults, against
/// `store` filled by `run --target remote-write`.
async fn every_panel_answers(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("expected.json");
    let (_server, base) = written_hours_ago(store, "scenarios/contact-center.json", 2, &path).await;
    let expected = expected(&path);
    let dashboard = dashboard();
    let mut values = defaults(&dashboard);
    // Grafana's `$__rate_interval` is at least four scrape intervals: the
    // remote-write target samples every 15 s, so a minute.
    values.insert("__rate_interval".into(), "1m".into());
    let span_s = (expected.end_ms - expected.start_ms) / 1000;
    values.insert("__range".into(), format!("{span_s}s"));
    // Label -> dimension, for reading the answers in callmetrics' terms.
    let dimension: BTreeMap<&str, &str> = LABEL_VARIABLES
        .iter()
        .map(|(v, d)| (values[*v].as_str(), *d))
        .collect();
    let top: usize = values["top"].parse().unwrap();
    let legend = Regex::new(r"\{\{\s*(\w+)\s*\}\}").unwrap();

    for p in data_panels(&dashboard) {
        let title = substitute(p["title"].as_str().unwrap(), &values);
        for t in p["targets"].as_array().unwrap() {
            let expr = substitute(t["expr"].as_str().unwrap(), &values);
            // Tables read the whole window at its end (the last sample
            // instant, before the stale markers); time series the window.
            let result = if t["instant"] == true {
                instant_query(&base, &expr, expected.end_ms).await
            } else {
                range_query(&base, &expr, expected.start_ms, expected.end_ms, 60).await
            };
            assert!(!result.is_empty(), "{title}: no data for {expr}");

            let wanted: Vec<String> = legend
                .captures_iter(&substitute(t["legendFormat"].as_str().unwrap(), &values))
                .map(|c| c[1].to_string())
                .collect();
            let mut by_time: BTreeMap<u64, usize> = BTreeMap::new();
            let mut positive = false;
            for series in &result {
                let labels = series["metric"].as_object().unwrap();
                for label in &wanted {
                    assert!(
                        labels.contains_key(label),
                        "{title}: legend {{{{{label}}}}} not in {series}"
                    );
                }
                for (label, value) in labels {
                    let d = dimension
                        .get(label.as_str())
                        .unwrap_or_else(|| panic!("{title}: label {label} of no dimension"));
                    assert!(
                        expected.values[*d].contains(value.as_str().unwrap()),
                        "{title}: {label}={value} is no {d} the run wrote"
                    );
                }
                for (at, v) in numbers(series) {
                    assert!(v.is_finite() && v >= 0.0, "{title}: {v} in {series}");
                    positive |= v > 0.0;
                    *by_time.entry(at as u64).or_default() += 1;
                    // A mean of latencies lies between the extremes.
                    if p["fieldConfig"]["defaults"]["unit"] == "ms" {
                        let (min, max) = expected.latency;
                        assert!(
                            (min - 1e-9..=max + 1e-9).contains(&v),
                            "{title}: average {v} ms outside the run's {min}..{max} ms"
                        );
                    }
                }
            }
            assert!(positive, "{title}: only zeros from {expr}");
            if expr.starts_with("topk(") {
                let most = by_time.values().max().unwrap();
                assert!(*most <= top, "{title}: {most} series at one instant");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_panel_query_returns_data_from_a_prometheus_filled_by_remote_write() {
    let test = "every_panel_query_returns_data_from_a_prometheus_filled_by_remote_write";
    if require(test, &[Store::Prometheus.program()]) {
        every_panel_answers(Store::Prometheus).await;
    }
}

/// The README offers VictoriaMetrics as the data source too: MetricsQL
/// must take every query as PromQL does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_panel_query_returns_data_from_victoria_metrics_filled_by_remote_write() {
    let test = "every_panel_query_returns_data_from_victoria_metrics_filled_by_remote_write";
    if require(test, &[Store::VictoriaMetrics.program()]) {
        every_panel_answers(Store::VictoriaMetrics).await;
    }
}
