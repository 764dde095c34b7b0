//! The JSON report for scripts: every mismatch, versioned by
//! `schemaVersion`. The types below are both the serializer and the source
//! of docs/check-report.schema.json (a test keeps the two equal), so the
//! documented shape cannot drift from what is printed.

use crate::catalog::Naming;
use crate::check::report::{
    AVERAGE_ULPS, Counts, Field, GroupKey, GroupSummary, Mismatch, MismatchKind, Report, Value,
};
use crate::check::{Hint, HintKind};
use crate::wire::metrics_response::time_stamp;
use schemars::JsonSchema;
use schemars::{Schema, SchemaGenerator, json_schema};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Bumped when a field is removed or changes meaning; adding a field keeps it.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// The result of `callmetrics check --format json` (see docs/check-report.md).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(
    title = "callmetrics check report",
    // Every field is always present; `tolerance` may be null.
    extend("required" = ["schemaVersion", "result", "tolerance", "averageUlps", "naming",
                         "timespan", "grains", "totals", "compared", "metrics", "summary",
                         "hints", "groups", "mismatches", "resets", "waited"])
)]
pub(crate) struct JsonReport {
    /// Version of this format; 1 for the fields described here.
    pub schema_version: u32,
    /// "pass" when every cell matched, else "fail".
    pub result: Outcome,
    /// Relative tolerance of the comparison, or null when it was exact.
    pub tolerance: Option<f64>,
    /// Averages pass within this many units in the last place of the
    /// expected value (backends round quotients differently); counts,
    /// totals, minima and maxima are compared exactly (or within tolerance).
    pub average_ulps: u64,
    /// Dimension naming used for dimension names below (that of the expected file).
    pub naming: NamingJson,
    /// Timespan of the expected data, START/END in RFC 3339, END exclusive.
    pub timespan: String,
    /// Grains compared (ISO 8601 durations such as "PT1M").
    pub grains: Vec<String>,
    /// True when each series was compared once over the whole timespan
    /// (`check --totals`) instead of per grain bucket.
    pub totals: bool,
    /// The aggregations compared, per metric ("count", "total", "minimum",
    /// "maximum", "average"); a backend such as PromQL observes fewer.
    pub compared: BTreeMap<String, Vec<String>>,
    /// Metrics compared (Azure Monitor names).
    pub metrics: Vec<String>,
    /// Everything added up.
    pub summary: Summary,
    /// Likely causes of the mismatches, when they show a common pattern
    /// (empty when none does, and for a pass).
    pub hints: Vec<HintJson>,
    /// One entry per metric, grain and dimension set, in the order compared.
    pub groups: Vec<Group>,
    /// Every failed cell, sorted by metric, grain, dimension set, series and time.
    pub mismatches: Vec<MismatchJson>,
    /// Counters seen going down inside the window (an app restarted),
    /// oldest first; each adds the value after it, as Prometheus'
    /// `increase()` does. Empty for backends without counters.
    pub resets: Vec<ResetJson>,
    /// With `check --wait`: how many checks were made and over how long;
    /// the report is the last one. Null without --wait.
    pub waited: Option<WaitedJson>,
}

/// One counter reset.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ResetJson {
    /// The raw series as PromQL writes it: `name{label="value", ...}`.
    pub series: String,
    /// RFC 3339 time of the first sample after the reset.
    pub time_stamp: String,
    /// The counter's last value before the reset.
    pub before: u64,
    /// Its first value after the reset.
    pub after: u64,
}

/// How long `--wait` waited.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct WaitedJson {
    /// Checks made, the last one included.
    pub checks: u32,
    /// Seconds from the first check's start to the last one's end.
    pub seconds: f64,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Outcome {
    Pass,
    Fail,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Naming")]
pub(crate) enum NamingJson {
    /// StatusCodeClass.
    Azure,
    /// StatusSubClass.
    Overview,
}

/// A likely cause of the mismatches and what to do about it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Hint")]
pub(crate) struct HintJson {
    /// Which pattern the mismatches show.
    pub kind: HintKindJson,
    /// The cause and what to do, as the table report prints it.
    pub text: String,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "HintKind")]
pub(crate) enum HintKindJson {
    /// Everything that differs is more than expected, nothing is missing:
    /// data of another run in the same backend and timespan.
    MoreThanExpected,
    /// Observed is below expected in every mismatching cell: read before
    /// the pipeline had everything (use --wait).
    BelowExpected,
    /// Every series' total over the window matches; only the split into
    /// buckets differs (use --totals).
    WindowTotalsMatch,
    /// Observed values of a dimension are the expected ones under a
    /// rewrite the mapping can express.
    ValuesRewritten,
    /// Observed is above expected in the window's first bucket, which
    /// starts at the grain's floor, possibly before the run.
    WindowStart,
}

fn hint(h: &Hint) -> HintJson {
    HintJson {
        kind: match h.kind {
            HintKind::MoreThanExpected => HintKindJson::MoreThanExpected,
            HintKind::BelowExpected => HintKindJson::BelowExpected,
            HintKind::WindowTotalsMatch => HintKindJson::WindowTotalsMatch,
            HintKind::ValuesRewritten => HintKindJson::ValuesRewritten,
            HintKind::WindowStart => HintKindJson::WindowStart,
        },
        text: h.text.clone(),
    }
}

/// Counts over all groups.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Summary {
    /// Groups compared (metric x grain x dimension set).
    pub groups: u64,
    /// Groups with at least one mismatch.
    pub failed_groups: u64,
    #[serde(flatten)]
    pub counts: JsonCounts,
}

/// What a group (or all of them) compared and how much differed.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JsonCounts {
    /// Cells (series x bucket) present on either side; each is compared on
    /// count, total, minimum, maximum and average.
    pub cells: u64,
    /// Failed cells: valuesDiffer + missingCells + unexpectedCells.
    pub mismatches: u64,
    /// Cells on both sides whose values differ.
    pub values_differ: u64,
    /// Expected cells the sink did not list.
    pub missing_cells: u64,
    /// Cells the sink listed that were not expected.
    pub unexpected_cells: u64,
    /// Expected series the sink did not list at all (their cells are in missingCells).
    pub missing_series: u64,
    /// Series the sink listed that were not expected at all (their cells are in unexpectedCells).
    pub unexpected_series: u64,
}

/// One metric at one grain, split by one set of dimensions.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Group {
    /// Metric name.
    pub metric: String,
    /// Grain (ISO 8601 duration).
    pub grain: String,
    /// Dimensions the series are split by: all of the metric's (full
    /// combinations), one (marginal totals) or none (the metric total).
    pub dimensions: Vec<String>,
    /// "pass" or "fail".
    pub result: Outcome,
    /// Series in the expected data.
    pub expected_series: u64,
    /// Series in the sink's answer.
    pub observed_series: u64,
    #[serde(flatten)]
    pub counts: JsonCounts,
}

/// A failed cell.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(rename = "Mismatch")]
pub(crate) struct MismatchJson {
    /// Metric name.
    pub metric: String,
    /// Grain.
    pub grain: String,
    /// Dimensions of the group, as in `groups[].dimensions`.
    pub dimensions: Vec<String>,
    /// Dimension values of the series, in the metric's dimension order
    /// (empty for the metric total).
    pub series: SeriesValues,
    /// Bucket start, RFC 3339.
    pub time_stamp: String,
    /// Why the cell failed.
    pub kind: MismatchKindJson,
    /// The aggregations that differ (all five when a side is missing).
    pub fields: Fields,
}

/// Dimension name -> value, serialized as an object in the metric's
/// dimension order (a map type would sort the names).
#[derive(Debug)]
pub(crate) struct SeriesValues(pub Vec<(String, String)>);

impl Serialize for SeriesValues {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl JsonSchema for SeriesValues {
    fn schema_name() -> Cow<'static, str> {
        "SeriesValues".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "object", "additionalProperties": { "type": "string" } })
    }
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "MismatchKind")]
pub(crate) enum MismatchKindJson {
    /// Both sides have the cell; some aggregations differ.
    ValuesDiffer,
    /// The sink lists nothing for this expected series.
    MissingSeries,
    /// The sink lists the series, but not this bucket.
    MissingBucket,
    /// The series is not expected at all.
    UnexpectedSeries,
    /// The series is expected, but not this bucket.
    UnexpectedBucket,
}

/// Differing aggregations by name; an absent key means equal.
#[derive(Debug, Default, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Fields {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    #[schemars(with = "Pair")]
    pub count: Option<Pair>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    #[schemars(with = "Pair")]
    pub total: Option<Pair>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    #[schemars(with = "Pair")]
    pub minimum: Option<Pair>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    #[schemars(with = "Pair")]
    pub maximum: Option<Pair>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    #[schemars(with = "Pair")]
    pub average: Option<Pair>,
}

/// Both sides of one aggregation; null where a side has no value.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("required" = ["expected", "observed"]))]
pub(crate) struct Pair {
    /// The expected value, null for an unexpected cell.
    pub expected: Option<Number>,
    /// The sink's value, null when the sink did not list it.
    pub observed: Option<Number>,
}

/// Integers for count, total, minimum and maximum; a full-precision float
/// for average.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum Number {
    Integer(u64),
    Float(f64),
}

impl From<Value> for Number {
    fn from(v: Value) -> Number {
        match v {
            Value::Int(i) => Number::Integer(i),
            Value::Float(f) => Number::Float(f),
        }
    }
}

fn outcome(passed: bool) -> Outcome {
    if passed { Outcome::Pass } else { Outcome::Fail }
}

fn counts(g: &Counts) -> JsonCounts {
    JsonCounts {
        cells: g.cells,
        mismatches: g.mismatches(),
        values_differ: g.values_differ,
        missing_cells: g.missing_cells,
        unexpected_cells: g.unexpected_cells,
        missing_series: g.missing_series,
        unexpected_series: g.unexpected_series,
    }
}

impl JsonReport {
    pub(crate) fn new(report: &Report) -> JsonReport {
        let naming = report.naming;
        JsonReport {
            schema_version: SCHEMA_VERSION,
            result: outcome(report.passed()),
            tolerance: report.tolerance,
            average_ulps: AVERAGE_ULPS,
            naming: match naming {
                Naming::Azure => NamingJson::Azure,
                Naming::Overview => NamingJson::Overview,
            },
            timespan: format!(
                "{}/{}",
                time_stamp(report.timespan.0),
                time_stamp(report.timespan.1)
            ),
            grains: report.grains.iter().map(|g| g.to_string()).collect(),
            totals: report.totals,
            compared: report
                .compared
                .iter()
                .map(|(m, fields)| {
                    let names = fields.iter().map(|f| f.name().to_string()).collect();
                    (m.name().to_string(), names)
                })
                .collect(),
            metrics: report
                .metrics
                .iter()
                .map(|m| m.name().to_string())
                .collect(),
            resets: report
                .resets
                .iter()
                .map(|r| ResetJson {
                    series: r.series.clone(),
                    time_stamp: time_stamp(r.at),
                    before: r.before,
                    after: r.after,
                })
                .collect(),
            waited: report.waited.map(|w| WaitedJson {
                checks: w.checks,
                seconds: w.elapsed.as_secs_f64(),
            }),
            summary: Summary {
                groups: report.groups.len() as u64,
                failed_groups: report.groups.iter().filter(|g| !g.passed()).count() as u64,
                counts: counts(&report.totals()),
            },
            hints: report.hints.iter().map(hint).collect(),
            groups: report.groups.iter().map(|g| group(g, naming)).collect(),
            mismatches: report
                .mismatches
                .iter()
                .map(|m| mismatch(m, naming))
                .collect(),
        }
    }
}

/// The dimensions a group splits by, under the report's naming.
fn dimension_names(key: &GroupKey, naming: Naming) -> Vec<String> {
    key.split
        .dimensions(key.metric)
        .iter()
        .map(|d| d.name(naming).to_string())
        .collect()
}

fn group(g: &GroupSummary, naming: Naming) -> Group {
    Group {
        metric: g.key.metric.name().to_string(),
        grain: g.key.grain.to_string(),
        dimensions: dimension_names(&g.key, naming),
        result: outcome(g.passed()),
        expected_series: g.counts.expected_series,
        observed_series: g.counts.observed_series,
        counts: counts(&g.counts),
    }
}

fn mismatch(m: &Mismatch, naming: Naming) -> MismatchJson {
    MismatchJson {
        metric: m.key.metric.name().to_string(),
        grain: m.key.grain.to_string(),
        dimensions: dimension_names(&m.key, naming),
        series: SeriesValues(
            m.label
                .iter()
                .map(|(d, v)| (d.name(naming).to_string(), v.clone()))
                .collect(),
        ),
        time_stamp: time_stamp(m.bucket),
        kind: match m.kind {
            MismatchKind::ValuesDiffer => MismatchKindJson::ValuesDiffer,
            MismatchKind::MissingSeries => MismatchKindJson::MissingSeries,
            MismatchKind::MissingBucket => MismatchKindJson::MissingBucket,
            MismatchKind::UnexpectedSeries => MismatchKindJson::UnexpectedSeries,
            MismatchKind::UnexpectedBucket => MismatchKindJson::UnexpectedBucket,
        },
        fields: fields(m),
    }
}
fn fields(m: &Mismatch) -> Fields {
    let mut out = Fields::default();
    for d in &m.fields {
        let pair = Some(Pair {
            expected: d.expected.map(Number::from),
            observed: d.observed.map(Number::from),
        });
        match d.field {
            Field::Count => out.count = pair,
            Field::Total => out.total = pair,
            Field::Minimum => out.minimum = pair,
            Field::Maximum => out.maximum = pair,
            Field::Average => out.average = pair,
        }
    }
    out
}

/// Writes the report as pretty JSON with a final newline.
pub(crate) fn json<W: Write + ?Sized>(report: &Report, out: &mut W) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &JsonReport::new(report))?;
    out.write_all(b"\n")
}

/// The JSON Schema of the report (docs/check-report.schema.json), pretty,
/// with a final newline.
#[cfg(test)]
pub(crate) fn json_schema() -> String {
    let schema = schemars::schema_for!(JsonReport);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
