//! Every panel's PromQL of `dashboards/grafana/callmetrics.json` (its
//! structure is tests/it/dashboard.rs), with the variables at their
//! defaults, run against a real Prometheus 2.42 and VictoriaMetrics 1.79
//! filled by remote write: each returns data, and the data agrees with
//! expected.json (label values, the latency average within the events'
//! latencies, the top-N bound, the labels the legends name).
//!
//! Needs `prometheus` and `victoria-metrics` (skipped on a developer
//! machine without them, a failure in CI). Bounded: 300 calls written once
//! per server, one query per panel.

use crate::common;
use crate::common::servers::{Store, instant_query, range_query, require, written_hours_ago};
use crate::dashboard::{LABEL_VARIABLES, dashboard, data_panels, defaults, substitute};
use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

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
