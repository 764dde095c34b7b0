//! The outcome of a check as data: what was compared (one summary per
//! metric, grain and dimension set) and every mismatch, in a fixed order
//! (metric, grain, dimension set, series label, bucket). The renderers in
//! `render/` only format this; nothing is decided while printing.

use super::CheckOptions;
use super::expected::ExpectedData;
use super::query::{Query, Split};
use crate::catalog::{Metric, Naming};
use crate::model::Grain;
use crate::wire::metrics_response::SeriesLabel;
use std::fmt;
use std::io::{self, Write};

/// Averages pass within this many units in the last place: they are
/// quotients, and a backend that sums or divides in another order rounds
/// differently. Counts, totals, minima and maxima are whole numbers and
/// compared exactly.
pub(crate) const AVERAGE_ULPS: u64 = 4;

/// How a check report is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Aligned text for people: a summary line, then each mismatch as
    /// expected vs observed.
    #[default]
    Table,
    /// Versioned JSON (schemaVersion, see docs/check-report.md) with every mismatch.
    Json,
    /// JUnit XML for CI: one test case per metric, grain and dimension set.
    Junit,
}

/// One compared group: a metric at a grain, split one way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKey {
    pub metric: Metric,
    pub grain: Grain,
    pub split: Split,
    /// One bucket over the whole window instead of `grain` buckets.
    pub totals: bool,
}

impl GroupKey {
    pub fn of(query: &Query) -> GroupKey {
        GroupKey {
            metric: query.metric,
            grain: query.grain,
            split: query.split,
            totals: query.totals,
        }
    }

    /// What a bucket of this group spans, as reports print it: the grain
    /// ("PT1M"), or "window" for totals.
    pub fn span(&self) -> &'static str {
        if self.totals {
            "window"
        } else {
            self.grain.as_str()
        }
    }
}

/// What was compared and how much of it differed, for one group or all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Series (dimension value combinations) in the expected data.
    pub expected_series: u64,
    /// Series in the sink's answer.
    pub observed_series: u64,
    /// Cells (series × bucket) on either side, each compared on all five
    /// aggregations.
    pub cells: u64,
    /// Cells on both sides whose values differ.
    pub values_differ: u64,
    /// Expected cells the sink did not list (including whole series).
    pub missing_cells: u64,
    /// Cells the sink listed that are not expected.
    pub unexpected_cells: u64,
    /// Expected series the sink did not list at all.
    pub missing_series: u64,
    /// Series the sink listed that are not expected at all.
    pub unexpected_series: u64,
}

impl Counts {
    /// Cells that failed: values differ, missing or unexpected.
    pub fn mismatches(&self) -> u64 {
        self.values_differ + self.missing_cells + self.unexpected_cells
    }

    pub fn passed(&self) -> bool {
        self.mismatches() == 0
    }

    fn add(&mut self, other: &Counts) {
        self.expected_series += other.expected_series;
        self.observed_series += other.observed_series;
        self.cells += other.cells;
        self.values_differ += other.values_differ;
        self.missing_cells += other.missing_cells;
        self.unexpected_cells += other.unexpected_cells;
        self.missing_series += other.missing_series;
        self.unexpected_series += other.unexpected_series;
    }
}

/// One compared group and its counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupSummary {
    pub key: GroupKey,
    pub counts: Counts,
}

impl GroupSummary {
    pub fn passed(&self) -> bool {
        self.counts.passed()
    }
}

/// Why a cell failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MismatchKind {
    /// Both sides have the cell; some aggregations differ.
    ValuesDiffer,
    /// The sink lists no bucket at all for this expected series.
    MissingSeries,
    /// The sink lists the series but not this bucket.
    MissingBucket,
    /// The series is not expected at all.
    UnexpectedSeries,
    /// The series is expected, but not in this bucket.
    UnexpectedBucket,
}

impl MismatchKind {
    pub const ALL: [MismatchKind; 5] = [
        MismatchKind::ValuesDiffer,
        MismatchKind::MissingSeries,
        MismatchKind::MissingBucket,
        MismatchKind::UnexpectedSeries,
        MismatchKind::UnexpectedBucket,
    ];

    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MismatchKind::ValuesDiffer => "valuesDiffer",
            MismatchKind::MissingSeries => "missingSeries",
            MismatchKind::MissingBucket => "missingBucket",
            MismatchKind::UnexpectedSeries => "unexpectedSeries",
            MismatchKind::UnexpectedBucket => "unexpectedBucket",
        }
    }

    /// The words of the table report.
    pub fn describe(self) -> &'static str {
        match self {
            MismatchKind::ValuesDiffer => "values differ",
            MismatchKind::MissingSeries => "missing series",
            MismatchKind::MissingBucket => "missing bucket",
            MismatchKind::UnexpectedSeries => "unexpected series",
            MismatchKind::UnexpectedBucket => "unexpected bucket",
        }
    }
}

/// An aggregation of a bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Count,
    Total,
    Minimum,
    Maximum,
    Average,
}

impl Field {
    pub const ALL: [Field; 5] = [
        Field::Count,
        Field::Total,
        Field::Minimum,
        Field::Maximum,
        Field::Average,
    ];

    /// The Azure Monitor field name.
    pub fn name(self) -> &'static str {
        match self {
            Field::Count => "count",
            Field::Total => "total",
            Field::Minimum => "minimum",
            Field::Maximum => "maximum",
            Field::Average => "average",
        }
    }
}

/// A value of an aggregation: integers, except the average.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Int(u64),
    Float(f64),
}

impl Value {
    pub fn as_f64(self) -> f64 {
        match self {
            Value::Int(v) => v as f64,
            Value::Float(v) => v,
        }
    }
}

/// Integers as integers; floats in full precision, shortest round-trip form
/// ("1.0", "1.0008333333333332").
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v:?}"),
        }
    }
}

/// One aggregation of a failed cell; `None` is a side without the value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ValueDiff {
    pub field: Field,
    pub expected: Option<Value>,
    pub observed: Option<Value>,
}

/// A failed cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    pub key: GroupKey,
    /// The dimension values of the series (empty for the metric total).
    pub label: SeriesLabel,
    /// Bucket start, Unix ms.
    pub bucket: i64,
    pub kind: MismatchKind,
    /// The differing aggregations only (all five when a side is missing).
    pub fields: Vec<ValueDiff>,
}

/// The outcome of a check.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The dimension naming of the expected file, used to print labels.
    pub naming: Naming,
    /// Relative tolerance, or `None` for an exact comparison.
    pub tolerance: Option<f64>,
    /// One bucket per series over the whole timespan, instead of per grain.
    pub totals: bool,
    /// The aggregations compared, per metric (a backend may observe fewer
    /// than all five).
    pub compared: Vec<(Metric, Vec<Field>)>,
    /// Metrics of the expected file the backend does not observe (not
    /// mapped): not compared.
    pub unobserved: Vec<Metric>,
    /// The expected data's timespan, `[start, end)` Unix ms.
    pub timespan: (i64, i64),
    pub grains: Vec<Grain>,
    pub metrics: Vec<Metric>,
    /// One per metric, grain and split, in that order.
    pub groups: Vec<GroupSummary>,
    /// Every failed cell, sorted by metric, grain, split, label, bucket.
    pub mismatches: Vec<Mismatch>,
    /// Events per bucket and per dimension value on both sides, per
    /// compared metric, at the finest grain (for `--report`'s charts).
    pub traffic: Vec<super::Traffic>,
    /// Counters the backend saw go down inside the window (an app
    /// restarted), oldest first: counted as Prometheus' `increase()` does.
    pub resets: Vec<CounterReset>,
    /// With `--wait`: how many checks it took and how long.
    pub waited: Option<super::wait::Waited>,
    /// Likely causes of the mismatches, when they show a common pattern.
    pub hints: Vec<super::Hint>,
}

/// One counter reset of a raw series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterReset {
    /// The series as PromQL writes it: `name{label="value", ..}`.
    pub series: String,
    /// Unix ms of the first sample after the reset.
    pub at: i64,
    /// The counter's last value before the reset and its first after it.
    pub before: u64,
    pub after: u64,
}

impl Report {
    pub(crate) fn new(data: &ExpectedData, grains: &[Grain], options: &CheckOptions) -> Report {
        Report {
            naming: data.naming(),
            tolerance: options.tolerance,
            totals: options.totals,
            compared: Vec::new(),
            unobserved: Vec::new(),
            timespan: data.timespan(),
            grains: grains.to_vec(),
            metrics: data.metrics().keys().copied().collect(),
            groups: Vec::new(),
            mismatches: Vec::new(),
            traffic: Vec::new(),
            resets: Vec::new(),
            waited: None,
            hints: Vec::new(),
        }
    }

    /// True when every cell matched.
    pub fn passed(&self) -> bool {
        self.groups.iter().all(GroupSummary::passed) && self.mismatches.is_empty()
    }

    /// Every mismatch is more than expected (an unexpected cell, or a
    /// higher count) and nothing is missing: what data of another run in
    /// the same sink and timespan looks like.
    pub fn holds_more_than_expected(&self) -> bool {
        !self.mismatches.is_empty()
            && self.mismatches.iter().all(|m| match m.kind {
                MismatchKind::UnexpectedSeries | MismatchKind::UnexpectedBucket => true,
                MismatchKind::ValuesDiffer => m.fields.iter().any(|d| {
                    d.field == Field::Count
                        && matches!((d.expected, d.observed), (Some(e), Some(o)) if o.as_f64() > e.as_f64())
                }),
                MismatchKind::MissingSeries | MismatchKind::MissingBucket => false,
            })
    }

    /// The hints as one text ("A; hint: B"), for a one-line note.
    pub fn hint(&self) -> Option<String> {
        let texts: Vec<&str> = self.hints.iter().map(|h| h.text.as_str()).collect();
        (!texts.is_empty()).then(|| texts.join("; hint: "))
    }

    /// All groups added up.
    pub fn totals(&self) -> Counts {
        let mut sum = Counts::default();
        self.groups.iter().for_each(|g| sum.add(&g.counts));
        sum
    }

    /// The metrics whose backend observes fewer than all five
    /// aggregations, with the ones it does.
    pub fn partly_compared(&self) -> impl Iterator<Item = (Metric, &[Field])> {
        self.compared
            .iter()
            .filter(|(_, fields)| fields.len() < Field::ALL.len())
            .map(|(m, fields)| (*m, fields.as_slice()))
    }

    /// How values were compared: "averages compared within 4 ULP; counts,
    /// totals, minima and maxima exactly", "exact" when no average was
    /// compared, or "tolerance 0.001 (0.1%)".
    pub fn tolerance_text(&self) -> String {
        let averages = self
            .compared
            .iter()
            .any(|(_, f)| f.contains(&Field::Average));
        match self.tolerance {
            None if averages => format!(
                "averages compared within {AVERAGE_ULPS} ULP; counts, totals, minima and maxima \
                 exactly"
            ),
            None => "exact".to_string(),
            Some(t) => {
                let percent = format!("{:.6}", t * 100.0);
                let percent = percent.trim_end_matches('0').trim_end_matches('.');
                format!("tolerance {t} ({percent}%)")
            }
        }
    }

    /// Prints the report; the table and JUnit formats show at most
    /// `max_mismatches` mismatches (JUnit: per test case), JSON all of them.
    pub fn render(
        &self,
        format: ReportFormat,
        max_mismatches: usize,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        match format {
            ReportFormat::Table => super::render::table(self, max_mismatches, out),
            ReportFormat::Json => super::render::json(self, out),
            ReportFormat::Junit => super::render::junit(self, max_mismatches, out),
        }
    }
}
