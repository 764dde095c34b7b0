//! How a Prometheus-style pipeline names callmetrics' metrics and
//! dimensions: `--mapping FILE`, a contract users write against.
//!
//! ```json
//! {"metrics": {"AcsCallAutomationCallbackEvent": {"name": "acs_callback_events_total",
//!   "labels": {"EventTypeName": "event_type", "Code": "code", "CodeClass": "code_class",
//!              "SubCode": "sub_code", "Version": "version"}}}}
//! ```
//!
//! Request and callback metrics map to counters; `ApiRequestLatency` maps
//! to a summary or histogram whose `<name>_sum` and `<name>_count` are read.
//! Label values must equal callmetrics' dimension values. Every dimension
//! of a mapped metric needs a label (a full combination cannot be proved
//! otherwise). `mappings/default.json` is callmetrics' own naming.

use crate::catalog::{Dimension, Metric, Naming, UnknownName};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// callmetrics' own naming (`mappings/default.json`).
pub const DEFAULT: &str = include_str!("../../mappings/default.json");

/// A validated mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    metrics: BTreeMap<Metric, MetricMapping>,
}

/// One metric's names in the pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricMapping {
    /// The counter (or, for latency, the summary or histogram base name).
    pub name: String,
    /// Label of each dimension, in the metric's dimension order.
    pub labels: Vec<(Dimension, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    metrics: BTreeMap<String, FileMetric>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMetric {
    name: String,
    labels: BTreeMap<String, String>,
}

impl Mapping {
    /// callmetrics' own naming.
    pub fn default_naming() -> Mapping {
        Mapping::parse(DEFAULT).expect("mappings/default.json is valid")
    }

    /// Reads a mapping file; errors name the file.
    pub fn load(path: &Path) -> Result<Mapping, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
        Mapping::parse(text.strip_prefix('\u{feff}').unwrap_or(&text))
    }

    /// Parses and validates mapping text.
    pub fn parse(text: &str) -> Result<Mapping, String> {
        let file: File = serde_json::from_str(text).map_err(|e| {
            format!(
                "line {} column {}: {e} (the format is {{\"metrics\": {{\"METRIC\": \
                 {{\"name\": \"...\", \"labels\": {{\"DIMENSION\": \"label\"}}}}}}}})",
                e.line(),
                e.column()
            )
        })?;
        let mut metrics = BTreeMap::new();
        for (metric_name, entry) in file.metrics {
            let metric = Metric::from_name(&metric_name).ok_or_else(|| {
                UnknownName::new("metric", &metric_name, Metric::ALL.iter().map(|m| m.name()))
                    .to_string()
            })?;
            let at = format!("metrics.{metric_name}");
            if !is_metric_name(&entry.name) {
                return Err(format!(
                    "{at}.name {:?} is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)",
                    entry.name
                ));
            }
            let mut labels = Vec::new();
            for (dim_name, label) in &entry.labels {
                let known = metric.dimensions().iter().map(|d| d.name(Naming::Azure));
                let dim = Dimension::from_name(dim_name)
                    .filter(|d| metric.dimensions().contains(d))
                    .ok_or_else(|| {
                        format!(
                            "{at}.labels: {} of {metric}",
                            UnknownName::new("dimension", dim_name, known)
                        )
                    })?;
                if !is_label_name(label) {
                    return Err(format!(
                        "{at}.labels.{dim_name} {label:?} is not a Prometheus label name \
                         ([a-zA-Z_][a-zA-Z0-9_]*)"
                    ));
                }
                if labels.iter().any(|(d, _)| *d == dim) {
                    return Err(format!("{at}.labels maps {dim_name} twice"));
                }
                labels.push((dim, label.clone()));
            }
            let missing: Vec<&str> = metric
                .dimensions()
                .iter()
                .filter(|d| !labels.iter().any(|(l, _)| l == *d))
                .map(|d| d.name(Naming::Azure))
                .collect();
            if !missing.is_empty() {
                return Err(format!(
                    "{at}.labels has no label for {} (every dimension needs one, or full \
                     combinations cannot be compared)",
                    missing.join(", ")
                ));
            }
            labels.sort_by_key(|(d, _)| *d);
            metrics.insert(
                metric,
                MetricMapping {
                    name: entry.name,
                    labels,
                },
            );
        }
        if metrics.is_empty() {
            return Err("it maps no metric".into());
        }
        Ok(Mapping { metrics })
    }

    pub fn get(&self, metric: Metric) -> Option<&MetricMapping> {
        self.metrics.get(&metric)
    }
}

impl MetricMapping {
    /// The label of `dimension`.
    pub fn label(&self, dimension: Dimension) -> &str {
        self.labels
            .iter()
            .find(|(d, _)| *d == dimension)
            .map_or("", |(_, l)| l.as_str())
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_maps_every_metric_and_dimension() {
        let m = Mapping::default_naming();
        for metric in Metric::ALL {
            let entry = m.get(*metric).unwrap();
            assert_eq!(entry.labels.len(), metric.dimensions().len());
        }
        // The file says what the catalog says: remote write writes these.
        for metric in Metric::ALL {
            let entry = m.get(*metric).unwrap();
            assert_eq!(entry.name, metric.prometheus_name());
            for d in metric.dimensions() {
                assert_eq!(entry.label(*d), d.prometheus_label());
            }
        }
    }

    fn err(text: &str) -> String {
        Mapping::parse(text).unwrap_err()
    }

    #[test]
    fn bad_mappings_are_explained() {
        let e =
            err(r#"{"metrics": {"AcsCallAutomationCallbackEvents": {"name": "x", "labels": {}}}}"#);
        assert!(
            e.contains("unknown metric \"AcsCallAutomationCallbackEvents\"; did you mean \"AcsCallAutomationCallbackEvent\"?"),
            "{e}"
        );
        let e = err(
            r#"{"metrics": {"AcsCallAutomationCallbackEvent": {"name": "x", "labels": {"EventTypName": "t"}}}}"#,
        );
        assert!(e.contains("did you mean \"EventTypeName\"?"), "{e}");
        let e = err(
            r#"{"metrics": {"AcsCallAutomationCallbackEvent": {"name": "x", "labels": {"Operation": "op"}}}}"#,
        );
        assert!(e.contains("unknown dimension \"Operation\""), "{e}");
        let e = err(
            r#"{"metrics": {"AcsCallAutomationCallbackEvent": {"name": "x", "labels": {"EventTypeName": "t"}}}}"#,
        );
        assert!(
            e.contains("no label for Code, CodeClass, SubCode, Version"),
            "{e}"
        );
        let e = err(r#"{"metrics": {"APIRequestCallAutomation": {"name": "1bad", "labels": {}}}}"#);
        assert!(e.contains("not a Prometheus metric name"), "{e}");
        assert!(err(r#"{"metrics": {}}"#).contains("maps no metric"));
        assert!(err(r#"{"metric": {}}"#).contains("line 1 column"));
        // The overview's name of the class dimension is accepted.
        let overview = r#"{"metrics": {"APIRequestCallAutomation": {"name": "r", "labels":
            {"Operation": "o", "StatusCode": "s", "StatusSubClass": "c", "ApiVersion": "v"}}}}"#;
        assert!(Mapping::parse(overview).is_ok());
    }
}
