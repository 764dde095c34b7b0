//! How a Prometheus-style pipeline names callmetrics' metrics and
//! dimensions, and how it writes their values: `--mapping FILE`, a
//! contract users write against.
//!
//! ```json
//! {"metrics": {"AcsCallAutomationCallbackEvent": {"name": "acs_callback_events_total",
//!   "labels": {"EventTypeName": {"label": "event_type",
//!                                "values": {"stripPrefix": "Microsoft.Communication."}},
//!              "Code": {"label": "code", "values": {"table": {"200": "OK"}}},
//!              "CodeClass": {"label": "code_class", "values": {"case": "upper"}},
//!              "SubCode": "sub_code", "Version": "version"}}}}
//! ```
//!
//! Request and callback metrics map to counters; `ApiRequestLatency` maps
//! to a summary or histogram whose `<name>_sum` and `<name>_count` are read.
//! Every dimension of a mapped metric needs a label (a full combination
//! cannot be proved otherwise). `mappings/default.json` is callmetrics' own
//! naming.
//!
//! A label is its name, or `{"label": NAME, "values": REWRITE}` when the
//! pipeline writes the dimension's values differently from callmetrics.
//! REWRITE turns a callmetrics value into the pipeline's, in this order: a
//! value listed in `"table"` (callmetrics value -> pipeline value) becomes
//! its entry, as written; any other value loses `"stripPrefix"` when it
//! starts with it, then `"case"` (`"upper"` or `"lower"`) is applied.
//! `mappings/sdk-short-event-types.json` is the mapping of an app that
//! labels callbacks with the short event-type names of the official SDKs'
//! parsed events (`PlayCompleted` for `Microsoft.Communication.PlayCompleted`).
//!
//! The comparison stays in callmetrics' terms, so a backend turns each
//! observed value back with [`MetricMapping::expected_value`]. That inverse
//! is exact only if no two callmetrics values are written alike: a rewrite
//! that maps two known values onto one is refused, over the catalog's
//! values when the file is read and over an expected file's values when
//! they are added ([`Mapping::extend_domain_from`]; codes, sub-codes and
//! api versions are open-ended, so the catalog alone does not know them all).

use crate::catalog::{
    ApiVersion, Dimension, EventType, Metric, Naming, Operation, RESULT_TEXTS, STATUS_CODES,
    SUB_CODE_NAMES, StatusClass, UnknownName,
};
use crate::check::ExpectedData;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// callmetrics' own naming (`mappings/default.json`).
pub(crate) const DEFAULT: &str = include_str!("../../mappings/default.json");

/// Why a mapping file is refused, or a value rewrite found lossy over an
/// expected file's values.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("cannot read it: {0}")]
    Unreadable(std::io::Error),
    #[error(
        "line {line} column {column}: {0} (the format is {{\"metrics\": {{\"METRIC\": \
         {{\"name\": \"...\", \"labels\": {{\"DIMENSION\": \"label\"}}}}}}}})",
        line = .0.line(),
        column = .0.column()
    )]
    Syntax(serde_json::Error),
    #[error("{0}")]
    UnknownMetric(UnknownName),
    #[error("{at}.name {name:?} is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)")]
    NotAMetricName { at: String, name: String },
    #[error("{at}.labels: {name} of {metric}")]
    UnknownDimension {
        at: String,
        name: UnknownName,
        metric: Metric,
    },
    #[error("{here}: {reason}")]
    Label {
        here: String,
        reason: serde_json::Error,
    },
    #[error(
        "{here} is {value}; it is a label name, or {{\"label\": \"name\", \"values\": \
         {{...}}}} when the pipeline writes the values differently"
    )]
    NotALabel {
        here: String,
        value: serde_json::Value,
    },
    #[error("{here} {label:?} is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)")]
    NotALabelName { here: String, label: String },
    #[error("{at}.labels maps {dim_name} twice")]
    Twice { at: String, dim_name: String },
    #[error(
        "{at}.labels has no label for {} (every dimension needs one, or full combinations \
         cannot be compared)",
        missing.join(", ")
    )]
    NoLabel {
        at: String,
        missing: Vec<&'static str>,
    },
    #[error("it maps no metric")]
    NoMetric,
    #[error("{at}.values.stripPrefix is empty")]
    EmptyPrefix { at: String },
    #[error("{at}.values.table: {name} of {dimension}")]
    UnknownValue {
        at: String,
        name: UnknownName,
        dimension: &'static str,
    },
    #[error(
        "{at}.values maps {a:?} and {b:?} onto {written:?}; the check could not tell them apart"
    )]
    Ambiguous {
        at: String,
        a: String,
        b: String,
        written: String,
    },
}

/// A validated mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mapping {
    metrics: BTreeMap<Metric, MetricMapping>,
}

/// One metric's names in the pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MetricMapping {
    /// The counter (or, for latency, the summary or histogram base name).
    pub name: String,
    /// Label of each dimension, in the metric's dimension order.
    pub labels: Vec<(Dimension, String)>,
    /// The dimensions whose values the pipeline writes differently.
    values: BTreeMap<Dimension, Values>,
}

/// How the pipeline writes a dimension's values: callmetrics' value -> the
/// pipeline's.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ValueRewrite {
    strip_prefix: Option<String>,
    case: Option<Case>,
    table: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Case {
    Upper,
    Lower,
}

/// A rewrite with its inverse over the values known so far.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Values {
    rewrite: ValueRewrite,
    /// Where the file sets it (`metrics.M.labels.D`), for errors.
    at: String,
    /// callmetrics values known: the catalog's, the table's keys and those
    /// added from expected files.
    domain: BTreeSet<String>,
    /// The pipeline's value of each known value -> that value.
    inverse: BTreeMap<String, String>,
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
    /// A label name, or a [`FileLabel`]; read in two steps so an error in
    /// the object form names its dimension.
    labels: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLabel {
    label: String,
    #[serde(default)]
    values: Option<FileValues>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FileValues {
    #[serde(default)]
    strip_prefix: Option<String>,
    #[serde(default)]
    case: Option<Case>,
    #[serde(default)]
    table: BTreeMap<String, String>,
}

impl Mapping {
    /// callmetrics' own naming.
    pub(crate) fn default_naming() -> Mapping {
        Mapping::parse(DEFAULT).expect("mappings/default.json is valid")
    }

    /// Reads a mapping file; errors name the file.
    pub(crate) fn load(path: &Path) -> Result<Mapping, MappingError> {
        let text = std::fs::read_to_string(path).map_err(MappingError::Unreadable)?;
        Mapping::parse(text.strip_prefix('\u{feff}').unwrap_or(&text))
    }

    /// Parses and validates mapping text.
    pub(crate) fn parse(text: &str) -> Result<Mapping, MappingError> {
        let file: File = serde_json::from_str(text).map_err(MappingError::Syntax)?;
        let mut metrics = BTreeMap::new();
        for (metric_name, entry) in file.metrics {
            let metric = Metric::from_name(&metric_name).ok_or_else(|| {
                MappingError::UnknownMetric(UnknownName::new(
                    "metric",
                    &metric_name,
                    Metric::ALL.iter().map(|m| m.name()),
                ))
            })?;
            let at = format!("metrics.{metric_name}");
            metrics.insert(metric, MetricMapping::read(metric, at, entry)?);
        }
        if metrics.is_empty() {
            return Err(MappingError::NoMetric);
        }
        Ok(Mapping { metrics })
    }
    pub(crate) fn get(&self, metric: Metric) -> Option<&MetricMapping> {
        self.metrics.get(&metric)
    }

    /// Adds `values` of `dimension` of `metric` to the values the inverse
    /// knows (for the open-ended ones: codes, sub-codes, api versions).
    /// Refuses a rewrite that writes two of the known values alike. A
    /// metric not mapped, or a dimension written as is, has nothing to add.
    pub(crate) fn extend_domain<S: AsRef<str>>(
        &mut self,
        metric: Metric,
        dimension: Dimension,
        values: impl IntoIterator<Item = S>,
    ) -> Result<(), MappingError> {
        let Some(known) = self
            .metrics
            .get_mut(&metric)
            .and_then(|m| m.values.get_mut(&dimension))
        else {
            return Ok(());
        };
        values
            .into_iter()
            .try_for_each(|v| known.add(v.as_ref().to_string()))
    }

    /// [`Mapping::extend_domain`] with every dimension value of an expected
    /// file: call it before the check, so every value it compares can be
    /// turned back.
    pub(crate) fn extend_domain_from(
        &mut self,
        expected: &ExpectedData,
    ) -> Result<(), MappingError> {
        for (&metric, series) in expected.metrics() {
            for label in series.keys() {
                for (dimension, value) in label {
                    self.extend_domain(metric, *dimension, [value])?;
                }
            }
        }
        Ok(())
    }
}

impl MetricMapping {
    /// One metric's entry of the file, found at `at` (`metrics.M`).
    fn read(metric: Metric, at: String, entry: FileMetric) -> Result<MetricMapping, MappingError> {
        if !is_metric_name(&entry.name) {
            return Err(MappingError::NotAMetricName {
                at,
                name: entry.name,
            });
        }
        let mut labels = Vec::new();
        let mut values = BTreeMap::new();
        for (dim_name, spec) in entry.labels {
            let known = metric.dimensions().iter().map(|d| d.name(Naming::Azure));
            let dim = Dimension::from_name(&dim_name)
                .filter(|d| metric.dimensions().contains(d))
                .ok_or_else(|| MappingError::UnknownDimension {
                    at: at.clone(),
                    name: UnknownName::new("dimension", &dim_name, known),
                    metric,
                })?;
            let here = format!("{at}.labels.{dim_name}");
            let (label, rewrite) = label_spec(&here, spec)?;
            if labels.iter().any(|(d, _)| *d == dim) {
                return Err(MappingError::Twice { at, dim_name });
            }
            labels.push((dim, label));
            if let Some(rewrite) = rewrite {
                values.insert(dim, Values::new(dim, rewrite, here)?);
            }
        }
        let missing: Vec<&'static str> = metric
            .dimensions()
            .iter()
            .filter(|d| !labels.iter().any(|(l, _)| l == *d))
            .map(|d| d.name(Naming::Azure))
            .collect();
        if !missing.is_empty() {
            return Err(MappingError::NoLabel { at, missing });
        }
        labels.sort_by_key(|(d, _)| *d);
        Ok(MetricMapping {
            name: entry.name,
            labels,
            values,
        })
    }

    /// The label of `dimension`.
    pub(crate) fn label(&self, dimension: Dimension) -> &str {
        self.labels
            .iter()
            .find(|(d, _)| *d == dimension)
            .map_or("", |(_, l)| l.as_str())
    }

    /// The callmetrics value of an observed label value of `dimension`: the
    /// inverse of the rewrite over the known values. A value no known value
    /// is written as is returned unchanged (it then shows as an unexpected
    /// series) unless it is itself a known value the pipeline should have
    /// written otherwise: that one is marked, so it cannot pass for the
    /// value it spells.
    pub(crate) fn expected_value(&self, dimension: Dimension, observed: &str) -> String {
        let Some(values) = self.values.get(&dimension) else {
            return observed.to_string();
        };
        match values.inverse.get(observed) {
            Some(expected) => expected.clone(),
            None if values.domain.contains(observed) => format!(
                "{observed} (unmapped: the mapping writes it {:?})",
                values.rewrite.apply(observed)
            ),
            None => observed.to_string(),
        }
    }

    /// The pipeline's value of a callmetrics value of `dimension` (the
    /// rewrite itself).
    #[cfg(test)]
    pub(crate) fn observed_value(&self, dimension: Dimension, expected: &str) -> String {
        match self.values.get(&dimension) {
            Some(values) => values.rewrite.apply(expected),
            None => expected.to_string(),
        }
    }
}

impl ValueRewrite {
    /// The pipeline's value of `value`: its table entry, else `value`
    /// without the prefix and in the case asked for.
    fn apply(&self, value: &str) -> String {
        if let Some(entry) = self.table.get(value) {
            return entry.clone();
        }
        let rest = match &self.strip_prefix {
            Some(prefix) => value.strip_prefix(prefix.as_str()).unwrap_or(value),
            None => value,
        };
        match self.case {
            Some(Case::Upper) => rest.to_uppercase(),
            Some(Case::Lower) => rest.to_lowercase(),
            None => rest.to_string(),
        }
    }
}

impl Values {
    fn new(dimension: Dimension, file: FileValues, at: String) -> Result<Values, MappingError> {
        if file.strip_prefix.as_deref() == Some("") {
            return Err(MappingError::EmptyPrefix { at });
        }
        let known = catalog_values(dimension);
        if is_closed(dimension) {
            // A key the catalog does not know is a typo: no series has it.
            if let Some(key) = file.table.keys().find(|k| !known.contains(*k)) {
                return Err(MappingError::UnknownValue {
                    at,
                    name: UnknownName::new("value", key, known.iter().map(String::as_str)),
                    dimension: dimension.name(Naming::Azure),
                });
            }
        }
        let mut values = Values {
            domain: BTreeSet::new(),
            inverse: BTreeMap::new(),
            rewrite: ValueRewrite {
                strip_prefix: file.strip_prefix,
                case: file.case,
                table: file.table,
            },
            at,
        };
        let keys: Vec<String> = values.rewrite.table.keys().cloned().collect();
        for value in known.into_iter().chain(keys) {
            values.add(value)?;
        }
        Ok(values)
    }

    fn add(&mut self, value: String) -> Result<(), MappingError> {
        if self.domain.contains(&value) {
            return Ok(());
        }
        let written = self.rewrite.apply(&value);
        if let Some(other) = self.inverse.get(&written) {
            let (a, b) = if *other < value {
                (other.clone(), value)
            } else {
                (value, other.clone())
            };
            return Err(MappingError::Ambiguous {
                at: self.at.clone(),
                a,
                b,
                written,
            });
        }
        self.inverse.insert(written, value.clone());
        self.domain.insert(value);
        Ok(())
    }
}

/// Dimensions whose every value the catalog lists.
fn is_closed(dimension: Dimension) -> bool {
    matches!(
        dimension,
        Dimension::Operation
            | Dimension::EventTypeName
            | Dimension::StatusCodeClass
            | Dimension::CodeClass
    )
}

/// The values of `dimension` the catalog knows: every one for the closed
/// dimensions, the documented ones for codes, sub-codes and versions.
pub(crate) fn catalog_values(dimension: Dimension) -> BTreeSet<String> {
    match dimension {
        Dimension::Operation => Operation::ALL
            .iter()
            .map(|o| o.name().to_string())
            .collect(),
        Dimension::EventTypeName => EventType::ALL
            .iter()
            .map(|e| e.name().to_string())
            .collect(),
        Dimension::StatusCodeClass | Dimension::CodeClass => StatusClass::ALL
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
        Dimension::ApiVersion | Dimension::Version => {
            ApiVersion::all().map(|v| v.as_str().to_string()).collect()
        }
        Dimension::StatusCode => STATUS_CODES
            .iter()
            .copied()
            .chain(Operation::ALL.iter().map(|o| o.info().success_status))
            .map(|c| c.to_string())
            .collect(),
        Dimension::Code => STATUS_CODES
            .iter()
            .copied()
            .chain(RESULT_TEXTS.iter().map(|r| r.code))
            .chain(default_results().map(|r| r.code))
            .map(|c| c.to_string())
            .collect(),
        Dimension::SubCode => SUB_CODE_NAMES
            .iter()
            .map(|(c, _)| *c)
            .chain(RESULT_TEXTS.iter().map(|r| r.sub_code))
            .chain(default_results().map(|r| r.sub_code))
            .map(|c| c.to_string())
            .collect(),
    }
}

/// A dimension's entry (at `here`): a label name, or a label with the
/// rewrite of its values.
fn label_spec(
    here: &str,
    spec: serde_json::Value,
) -> Result<(String, Option<FileValues>), MappingError> {
    let (label, rewrite) = match spec {
        serde_json::Value::String(label) => (label, None),
        object @ serde_json::Value::Object(_) => {
            let full: FileLabel =
                serde_json::from_value(object).map_err(|reason| MappingError::Label {
                    here: here.to_string(),
                    reason,
                })?;
            (full.label, full.values)
        }
        other => {
            return Err(MappingError::NotALabel {
                here: here.to_string(),
                value: other,
            });
        }
    };
    if !is_label_name(&label) {
        return Err(MappingError::NotALabelName {
            here: here.to_string(),
            label,
        });
    }
    Ok((label, rewrite))
}

fn default_results() -> impl Iterator<Item = &'static crate::catalog::ResultMix> {
    EventType::ALL.iter().flat_map(|e| e.default_results())
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
        Mapping::parse(text).unwrap_err().to_string()
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

    /// The callback metric of the test app's mapping, with `code` etc. as
    /// given: every other dimension a plain label.
    fn callbacks(labels: &str) -> String {
        format!(
            r#"{{"metrics": {{"AcsCallAutomationCallbackEvent": {{"name": "acs_callback_events_total",
                "labels": {{{labels}}}}}}}}}"#
        )
    }

    const REWRITTEN: &str = r#""EventTypeName": {"label": "event_type",
            "values": {"stripPrefix": "Microsoft.Communication."}},
        "CodeClass": {"label": "code_class", "values": {"case": "upper"}},
        "Code": {"label": "code", "values": {"table": {"200": "OK", "400": "BadRequest"}}},
        "SubCode": "sub_code", "Version": {"label": "version"}"#;

    #[test]
    fn labels_are_names_or_objects_with_value_rewrites() {
        // Today's files (plain names) still read, as values written as is.
        let plain = Mapping::parse(
            &std::fs::read_to_string("tests/apps/acs-callback-app/mapping.json").unwrap(),
        )
        .unwrap();
        let cb = plain.get(Metric::CallbackEvents).unwrap();
        assert_eq!(cb.label(Dimension::EventTypeName), "event_type");
        let full = "Microsoft.Communication.PlayCompleted";
        assert_eq!(cb.observed_value(Dimension::EventTypeName, full), full);
        assert_eq!(cb.expected_value(Dimension::EventTypeName, full), full);

        let m = Mapping::parse(&callbacks(REWRITTEN)).unwrap();
        let cb = m.get(Metric::CallbackEvents).unwrap();
        assert_eq!(cb.label(Dimension::EventTypeName), "event_type");
        assert_eq!(cb.label(Dimension::Version), "version");
        let written = |d, v| cb.observed_value(d, v);
        assert_eq!(written(Dimension::EventTypeName, full), "PlayCompleted");
        assert_eq!(written(Dimension::CodeClass, "4xx"), "4XX");
        assert_eq!(written(Dimension::Code, "400"), "BadRequest");
        // Codes the table does not list are written as is.
        assert_eq!(written(Dimension::Code, "500"), "500");
        assert_eq!(written(Dimension::Version, "2025-05-15"), "2025-05-15");
        assert_eq!(
            cb.expected_value(Dimension::EventTypeName, "PlayCompleted"),
            full
        );
        assert_eq!(cb.expected_value(Dimension::CodeClass, "4XX"), "4xx");
        assert_eq!(cb.expected_value(Dimension::Code, "BadRequest"), "400");
    }

    #[test]
    fn table_then_prefix_then_case() {
        let m = Mapping::parse(&callbacks(
            r#""EventTypeName": {"label": "t", "values": {"stripPrefix": "Microsoft.Communication.",
                 "case": "lower", "table": {"Microsoft.Communication.PlayFailed": "Play-Failed"}}},
               "Code": "c", "CodeClass": "k", "SubCode": "s", "Version": "v""#,
        ))
        .unwrap();
        let cb = m.get(Metric::CallbackEvents).unwrap();
        let d = Dimension::EventTypeName;
        // A table entry is final: neither stripped nor lowered.
        assert_eq!(
            cb.observed_value(d, "Microsoft.Communication.PlayFailed"),
            "Play-Failed"
        );
        assert_eq!(
            cb.observed_value(d, "Microsoft.Communication.PlayCompleted"),
            "playcompleted"
        );
        assert_eq!(
            cb.expected_value(d, "Play-Failed"),
            "Microsoft.Communication.PlayFailed"
        );
        assert_eq!(
            cb.expected_value(d, "playcompleted"),
            "Microsoft.Communication.PlayCompleted"
        );
    }

    #[test]
    fn the_inverse_turns_every_catalog_value_back() {
        let m = Mapping::parse(
            r#"{"metrics": {
            "AcsCallAutomationCallbackEvent": {"name": "cb", "labels": {
                "EventTypeName": {"label": "t", "values": {"stripPrefix": "Microsoft.Communication.", "case": "upper"}},
                "Code": {"label": "c", "values": {"table": {"200": "OK", "400": "BadRequest", "999": "Weird"}}},
                "CodeClass": {"label": "k", "values": {"case": "upper"}},
                "SubCode": {"label": "s", "values": {"table": {"0": "none"}}},
                "Version": {"label": "v", "values": {"case": "upper"}}}},
            "APIRequestCallAutomation": {"name": "req", "labels": {
                "Operation": {"label": "o", "values": {"case": "lower"}},
                "StatusCode": {"label": "c", "values": {"table": {"202": "Accepted"}}},
                "StatusCodeClass": {"label": "k", "values": {"case": "upper"}},
                "ApiVersion": {"label": "v", "values": {"stripPrefix": "20"}}}}}}"#,
        )
        .unwrap();
        for metric in [Metric::CallbackEvents, Metric::ApiRequests] {
            let mm = m.get(metric).unwrap();
            for &d in metric.dimensions() {
                let known = catalog_values(d);
                assert!(!known.is_empty(), "{d:?}");
                // Every dimension is rewritten somewhere, so this is no
                // round trip of identities.
                assert!(known.iter().any(|v| mm.observed_value(d, v) != *v), "{d:?}");
                for value in &known {
                    let written = mm.observed_value(d, value);
                    assert_eq!(
                        &mm.expected_value(d, &written),
                        value,
                        "{d:?} {value:?} -> {written:?}"
                    );
                }
            }
        }
        let cb = m.get(Metric::CallbackEvents).unwrap();
        for event in EventType::ALL {
            let short = event.short_name().to_uppercase();
            assert_eq!(
                cb.observed_value(Dimension::EventTypeName, event.name()),
                short
            );
        }
        // A table key outside the catalog (open-ended codes) is known too.
        assert_eq!(cb.expected_value(Dimension::Code, "Weird"), "999");
        // A value nothing is written as comes back unchanged (an
        // unexpected series); callmetrics' own spelling of a value that
        // is written otherwise cannot pass for it.
        assert_eq!(cb.expected_value(Dimension::Code, "7777"), "7777");
        assert_eq!(
            cb.expected_value(Dimension::CodeClass, "4xx"),
            "4xx (unmapped: the mapping writes it \"4XX\")"
        );
    }

    #[test]
    fn lossy_rewrites_are_refused() {
        let e = err(&callbacks(
            r#""EventTypeName": "t", "CodeClass": "k", "SubCode": "s", "Version": "v",
               "Code": {"label": "c", "values": {"table": {"400": "4xx", "401": "4xx"}}}"#,
        ));
        assert_eq!(
            e,
            "metrics.AcsCallAutomationCallbackEvent.labels.Code.values maps \"400\" and \"401\" \
             onto \"4xx\"; the check could not tell them apart"
        );
        // A table entry that spells another value's own (untouched) value.
        let e = err(&callbacks(
            r#""EventTypeName": "t", "CodeClass": "k", "SubCode": "s", "Version": "v",
               "Code": {"label": "c", "values": {"table": {"200": "400"}}}"#,
        ));
        assert!(e.contains(r#"maps "200" and "400" onto "400""#), "{e}");
        // Values of an expected file (codes are open-ended) are checked
        // when added: 8500 is written as itself, but "OK" would be read
        // back as 200.
        let mut m = Mapping::parse(&callbacks(
            r#""EventTypeName": "t", "CodeClass": "k", "SubCode": "s", "Version": "v",
               "Code": {"label": "c", "values": {"table": {"200": "OK"}}}"#,
        ))
        .unwrap();
        let e = m
            .extend_domain(Metric::CallbackEvents, Dimension::Code, ["8500", "OK"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(r#"Code.values maps "200" and "OK" onto "OK""#),
            "{e}"
        );
        let cb = m.get(Metric::CallbackEvents).unwrap();
        assert_eq!(cb.expected_value(Dimension::Code, "8500"), "8500");
    }

    #[test]
    fn values_of_an_expected_file_join_the_domain() {
        let mut m = Mapping::parse(&callbacks(
            r#""EventTypeName": "t", "CodeClass": "k", "Version": "v", "Code": "c",
               "SubCode": {"label": "s", "values": {"stripPrefix": "x"}}"#,
        ))
        .unwrap();
        let cb = m.get(Metric::CallbackEvents).unwrap();
        // Not known yet: "1" could be "x1" or "1".
        assert_eq!(cb.expected_value(Dimension::SubCode, "1"), "1");
        let mut data = crate::check::fixture::metrics();
        data[2].1.extend(crate::check::fixture::series(vec![(
            vec![
                (
                    Dimension::EventTypeName,
                    "Microsoft.Communication.PlayFailed".into(),
                ),
                (Dimension::Code, "400".into()),
                (Dimension::CodeClass, "4xx".into()),
                (Dimension::SubCode, "x1".into()),
                (Dimension::Version, "2025-05-15".into()),
            ],
            vec![(0, crate::check::fixture::agg(1, 1, 1, 1))],
        )]));
        let response = crate::check::fixture::response(&data, Naming::Azure);
        let expected = ExpectedData::from_response(&response).unwrap();
        m.extend_domain_from(&expected).unwrap();
        let cb = m.get(Metric::CallbackEvents).unwrap();
        assert_eq!(cb.expected_value(Dimension::SubCode, "1"), "x1");
        // An expected file with both "x1" and "1" cannot be checked.
        let e = m
            .extend_domain(Metric::CallbackEvents, Dimension::SubCode, ["1"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(r#"SubCode.values maps "1" and "x1" onto "1""#),
            "{e}"
        );
    }

    #[test]
    fn unknown_fields_and_bad_rewrites_are_refused() {
        let e = err(&callbacks(
            r#""EventTypeName": {"label": "t", "valuse": {}}, "Code": "c", "CodeClass": "k",
               "SubCode": "s", "Version": "v""#,
        ));
        assert!(
            e.starts_with("metrics.AcsCallAutomationCallbackEvent.labels.EventTypeName: unknown field `valuse`"),
            "{e}"
        );
        let e = err(&callbacks(
            r#""EventTypeName": {"label": "t", "values": {"strip": "M."}}, "Code": "c",
               "CodeClass": "k", "SubCode": "s", "Version": "v""#,
        ));
        assert!(
            e.contains("unknown field `strip`, expected one of `stripPrefix`"),
            "{e}"
        );
        let e = err(&callbacks(
            r#""EventTypeName": "t", "Code": "c", "SubCode": "s", "Version": "v",
               "CodeClass": {"label": "k", "values": {"case": "title"}}"#,
        ));
        assert!(
            e.contains("unknown variant `title`, expected `upper` or `lower`"),
            "{e}"
        );
        let e = err(&callbacks(
            r#""EventTypeName": 7, "Code": "c", "CodeClass": "k", "SubCode": "s", "Version": "v""#,
        ));
        assert!(
            e.contains("labels.EventTypeName is 7; it is a label name, or"),
            "{e}"
        );
        let e = err(&callbacks(
            r#""EventTypeName": {"label": "t", "values": {"table": {"Microsoft.Communication.PlayCompletd": "P"}}},
               "Code": "c", "CodeClass": "k", "SubCode": "s", "Version": "v""#,
        ));
        assert!(
            e.contains(r#"unknown value "Microsoft.Communication.PlayCompletd"; did you mean "Microsoft.Communication.PlayCompleted"?"#),
            "{e}"
        );
        let e = err(&callbacks(
            r#""EventTypeName": {"label": "bad-label"}, "Code": "c", "CodeClass": "k", "SubCode": "s", "Version": "v""#,
        ));
        assert!(
            e.contains("\"bad-label\" is not a Prometheus label name"),
            "{e}"
        );
        let e = err(&callbacks(
            r#""EventTypeName": {"label": "t", "values": {"stripPrefix": ""}}, "Code": "c", "CodeClass": "k", "SubCode": "s", "Version": "v""#,
        ));
        assert!(e.contains("stripPrefix is empty"), "{e}");
    }

    #[test]
    fn the_shipped_sdk_mapping_reads_short_event_types() {
        let text = std::fs::read_to_string("mappings/sdk-short-event-types.json").unwrap();
        let m = Mapping::parse(&text).unwrap();
        let cb = m.get(Metric::CallbackEvents).unwrap();
        for event in EventType::ALL {
            assert_eq!(
                cb.observed_value(Dimension::EventTypeName, event.name()),
                event.short_name()
            );
            assert_eq!(
                cb.expected_value(Dimension::EventTypeName, event.short_name()),
                event.name()
            );
        }
        // The example in the module doc reads as well.
        let doc = include_str!("mapping.rs");
        let example = doc
            .split("//! ```json\n")
            .nth(1)
            .and_then(|rest| rest.split("//! ```").next())
            .unwrap()
            .lines()
            .map(|l| l.trim_start_matches("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        Mapping::parse(&example).unwrap();
    }
}
