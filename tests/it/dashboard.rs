//! `dashboards/grafana/callmetrics.json`, the Grafana dashboard of the four
//! metrics as `run --target remote-write` names them. No Grafana is
//! installable here to import it into, so two tests stand in for that:
//! here, its structure as Grafana's dashboard model has it (schemaVersion
//! 39: required fields, unique panel ids, a grid that fits 24 columns with
//! no overlap, core panel types only, every `$variable` defined and every
//! variable used, defaults equal to `mappings/default.json` and no name
//! written into a query); in servers/grafana_dashboard.rs, every panel's
//! PromQL against a real Prometheus and VictoriaMetrics.

use crate::common;
use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const DASHBOARD: &str = "dashboards/grafana/callmetrics.json";

/// The variables that name a metric, and the metric (Azure name) whose
/// Prometheus name each holds: a `--mapping` file's `"name"`.
pub(crate) const METRIC_VARIABLES: [(&str, &str); 4] = [
    ("requests_metric", "APIRequestCallAutomation"),
    ("latency_metric", "ApiRequestLatency"),
    ("callbacks_metric", "AcsCallAutomationCallbackEvent"),
    ("recording_metric", "APIRequestCallRecording"),
];

/// The variables that name a label, and the dimension each holds the label
/// of: a `--mapping` file's label for it.
pub(crate) const LABEL_VARIABLES: [(&str, &str); 9] = [
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

pub(crate) fn dashboard() -> Value {
    serde_json::from_str(&common::read(&common::repo().join(DASHBOARD))).unwrap()
}

pub(crate) fn default_mapping() -> Value {
    let text = common::read(&common::repo().join("mappings/default.json"));
    serde_json::from_str::<Value>(&text).unwrap()["metrics"].clone()
}

pub(crate) fn variables(dashboard: &Value) -> &Vec<Value> {
    dashboard["templating"]["list"].as_array().unwrap()
}

/// Each variable's default value (the datasource variable has none: Grafana
/// picks the default data source).
pub(crate) fn defaults(dashboard: &Value) -> BTreeMap<String, String> {
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
pub(crate) fn reference() -> Regex {
    Regex::new(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]").unwrap()
}

pub(crate) fn referenced(text: &str) -> Vec<String> {
    reference()
        .captures_iter(text)
        .map(|c| (1..=3).find_map(|i| c.get(i)).unwrap().as_str().to_string())
        .collect()
}

/// `text` with every variable replaced by its value in `values`, as Grafana
/// interpolates a query (`:raw` and plain alike: none of the values holds a
/// character Grafana would escape).
pub(crate) fn substitute(text: &str, values: &BTreeMap<String, String>) -> String {
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
pub(crate) fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(fields) => fields.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// The panels that draw data (rows only group them).
pub(crate) fn data_panels(dashboard: &Value) -> Vec<&Value> {
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
