//! The Azure Monitor "Metrics - List" response: the shape of expected.json,
//! of the embedded sink's query API and of what `check` reads back. One
//! model, serialized and parsed, so the three cannot drift apart.
//! Only buckets with data are listed (Azure also lists empty ones as null).

use super::rfc3339::TimeWriter;
use crate::catalog::{Dimension, Metric, Naming};
use crate::model::{Aggregate, AggregateTable, Grain};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsResponse {
    #[serde(default)]
    pub cost: u32,
    pub timespan: String,
    pub interval: String,
    pub value: Vec<MetricBody>,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub resourceregion: String,
    /// What made an expected.json (not part of Azure's answer): what
    /// `merge` holds shards' files to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callmetrics: Option<Provenance>,
}

/// The scenario, seed and workload of an expected file, and its shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    pub scenario: String,
    pub scenario_sha256: String,
    pub seed: u64,
    /// SHA-256 (16 hex digits) of the workload with the shard left out:
    /// the same for every shard of one workload.
    pub workload: String,
    /// "I/N"; "0/1" unsharded.
    pub shard: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricBody {
    #[serde(default)]
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    pub name: LocalizedName,
    /// What Azure's metric definitions say the metric is (Azure's
    /// answers only; expected.json leaves it out).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display_description: String,
    #[serde(default)]
    pub unit: String,
    pub timeseries: Vec<TimeSeries>,
    #[serde(default)]
    pub error_code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalizedName {
    pub value: String,
    #[serde(default)]
    pub localized_value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeSeries {
    #[serde(default)]
    pub metadatavalues: Vec<MetadataValue>,
    /// Absent from Azure's `resultType=Metadata` answers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<DataPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetadataValue {
    pub name: LocalizedName,
    pub value: String,
}

/// One bucket. Aggregations not asked for are absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataPoint {
    pub time_stamp: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_number"
    )]
    pub count: Option<u64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_number"
    )]
    pub total: Option<u64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_number"
    )]
    pub minimum: Option<u64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_number"
    )]
    pub maximum: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average: Option<f64>,
}

impl DataPoint {
    /// A bucket without data, as Azure lists one: its time alone.
    pub(crate) fn empty(time_stamp: String) -> DataPoint {
        DataPoint {
            time_stamp,
            count: None,
            total: None,
            minimum: None,
            maximum: None,
            average: None,
        }
    }
}

/// Which aggregations a response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aggregations {
    pub count: bool,
    pub total: bool,
    pub minimum: bool,
    pub maximum: bool,
    pub average: bool,
}

impl Aggregations {
    pub const ALL: Aggregations = Aggregations {
        count: true,
        total: true,
        minimum: true,
        maximum: true,
        average: true,
    };
}

/// A series as a query returns it: the values of the dimensions it is split
/// by (all of them for full combinations, none for the metric total).
pub(crate) type SeriesLabel = Vec<(Dimension, String)>;

/// A series label as messages show it, `EventTypeName="PlayCompleted",
/// Code="200"` (Azure names, values quoted and escaped), or `(metric
/// total)` for the series of no dimension.
pub(crate) struct ShowLabel<'a>(pub &'a [(Dimension, String)]);

impl std::fmt::Display for ShowLabel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(metric total)");
        }
        for (i, (dimension, value)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={value:?}", dimension.name(Naming::Azure))?;
        }
        Ok(())
    }
}

/// Grouped aggregates of one metric: label -> bucket start (Unix ms) -> aggregate.
pub(crate) type MetricSeries = BTreeMap<SeriesLabel, BTreeMap<i64, Aggregate>>;

/// Formats a bucket start as Azure does ("2026-01-01T00:03:00Z").
pub(crate) fn time_stamp(ms: i64) -> String {
    let mut out = Vec::with_capacity(20);
    TimeWriter::write_seconds(&mut out, ms);
    String::from_utf8(out).unwrap_or_default()
}

fn name(s: &str, localized: &str) -> LocalizedName {
    LocalizedName {
        value: s.to_string(),
        localized_value: localized.to_string(),
    }
}

fn point(bucket: i64, a: &Aggregate, which: Aggregations) -> DataPoint {
    DataPoint {
        time_stamp: time_stamp(bucket),
        count: which.count.then_some(a.count),
        total: which.total.then_some(a.total),
        minimum: which.minimum.then_some(a.minimum),
        maximum: which.maximum.then_some(a.maximum),
        average: which.average.then_some(a.average()),
    }
}

impl MetricsResponse {
    /// Builds a response from grouped series, one body per listed metric.
    pub fn build(
        metrics: &[(Metric, MetricSeries)],
        grain: Grain,
        timespan: (i64, i64),
        naming: Naming,
        resource: &str,
        which: Aggregations,
    ) -> MetricsResponse {
        let value = metrics
            .iter()
            .map(|(metric, series)| MetricBody {
                id: format!(
                    "{resource}/providers/Microsoft.Insights/metrics/{}",
                    metric.name()
                ),
                kind: "Microsoft.Insights/metrics".into(),
                name: name(metric.name(), metric.display_name()),
                display_description: String::new(),
                unit: metric.unit().into(),
                timeseries: series
                    .iter()
                    .map(|(label, buckets)| TimeSeries {
                        metadatavalues: label
                            .iter()
                            .map(|(dim, value)| MetadataValue {
                                name: name(dim.name(naming), dim.name(naming)),
                                value: value.clone(),
                            })
                            .collect(),
                        data: buckets.iter().map(|(&b, a)| point(b, a, which)).collect(),
                    })
                    .collect(),
                error_code: "Success".into(),
            })
            .collect();
        MetricsResponse {
            cost: 0,
            timespan: format!("{}/{}", time_stamp(timespan.0), time_stamp(timespan.1)),
            interval: grain.to_string(),
            value,
            namespace: "Microsoft.Communication/CommunicationServices".into(),
            resourceregion: "global".into(),
            callmetrics: None,
        }
    }

    pub fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        out.write_all(b"\n")
    }
}

/// Full-combination series of every metric that has any, as expected.json
/// lists them (a webhook run's file holds the callback metric only).
pub(crate) fn full_series(expected: &AggregateTable) -> Vec<(Metric, MetricSeries)> {
    let sorted = expected.sorted();
    Metric::ALL
        .iter()
        .map(|&metric| {
            let series: MetricSeries = sorted
                .iter()
                .filter(|(s, _)| s.metric() == metric)
                .map(|(s, buckets)| (s.dimension_values(), buckets.clone()))
                .collect();
            (metric, series)
        })
        .filter(|(_, series)| !series.is_empty())
        .collect()
}

/// `expected` as the response a sink holding exactly that data would give
/// for its full dimension combinations: the content of expected.json.
pub fn expected_response(
    expected: &AggregateTable,
    naming: Naming,
    resource: &str,
) -> MetricsResponse {
    let (first, last) = expected.time_range().unwrap_or((0, 0));
    let grain = expected.grain();
    MetricsResponse::build(
        &full_series(expected),
        grain,
        (first, last + grain.millis()),
        naming,
        resource,
        Aggregations::ALL,
    )
}

/// Writes `expected` as expected.json for the resource `resource`.
pub fn write_expected(
    out: &mut dyn Write,
    expected: &AggregateTable,
    naming: Naming,
    resource: &str,
    provenance: Provenance,
) -> std::io::Result<()> {
    let mut response = expected_response(expected, naming, resource);
    response.callmetrics = Some(provenance);
    response.write(out)
}

/// A count, total, minimum or maximum: a whole number, written as an
/// integer or as an integral float (`1.0`, as Azure Monitor writes them);
/// a fractional or negative value is refused with the value named.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct Whole;
    impl<'de> serde::de::Visitor<'de> for Whole {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a whole number (an integer, or a float such as 1.0)")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Option<u64>, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Option<u64>, E> {
            u64::try_from(v).map(Some).map_err(|_| {
                E::custom(format!(
                    "{v} is negative; counts and sums are whole numbers of at least 0"
                ))
            })
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Option<u64>, E> {
            // From 2^53 on, a float no longer holds every whole number: the
            // value written may not be the value read.
            if !(v.fract() == 0.0 && v >= 0.0) {
                Err(E::custom(format!(
                    "{v} is not a whole number of at least 0; counts and sums of events are whole"
                )))
            } else if v >= 9_007_199_254_740_992.0 {
                Err(E::custom(format!(
                    "{v} is too large to be exact as a floating-point number (exact only below \
                     2^53 = 9007199254740992): write it as an integer"
                )))
            } else {
                Ok(Some(v as u64))
            }
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Option<u64>, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Option<u64>, E> {
            Ok(None)
        }
        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<u64>, D::Error> {
            d.deserialize_any(Whole)
        }
    }
    d.deserialize_option(Whole)
}

#[cfg(test)]
mod tests {
    use super::DataPoint;

    // Issue #9, item 20: a count written as 1.0 was refused.
    #[test]
    fn counts_may_be_integral_floats_but_not_fractions() {
        let point = |json: &str| serde_json::from_str::<DataPoint>(json);
        let p =
            point(r#"{"timeStamp":"2026-01-01T00:00:00Z","count":3.0,"total":12,"minimum":null}"#)
                .unwrap();
        assert_eq!(
            (p.count, p.total, p.minimum, p.maximum),
            (Some(3), Some(12), None, None)
        );
        let err = point(r#"{"timeStamp":"2026-01-01T00:00:00Z","count":1.5}"#).unwrap_err();
        assert!(
            err.to_string().contains("1.5 is not a whole number"),
            "{err}"
        );
        let err = point(r#"{"timeStamp":"2026-01-01T00:00:00Z","total":-2}"#).unwrap_err();
        assert!(err.to_string().contains("-2 is negative"), "{err}");
        assert!(point(r#"{"timeStamp":"2026-01-01T00:00:00Z","count":1e30}"#).is_err());
        assert!(point(r#"{"timeStamp":"2026-01-01T00:00:00Z","count":"7"}"#).is_err());
        // Issue #17: past 2^53 a float may not be the count written; an
        // integer is exact to 2^64-1.
        let err = point(r#"{"timeStamp":"2026-01-01T00:00:00Z","count":9007199254740992.0}"#)
            .unwrap_err();
        assert!(err.to_string().contains("exact only below 2^53"), "{err}");
        let p =
            point(r#"{"timeStamp":"2026-01-01T00:00:00Z","count":18446744073709551615}"#).unwrap();
        assert_eq!(p.count, Some(u64::MAX));
    }

    #[test]
    fn labels_show_as_names_and_quoted_values() {
        use super::ShowLabel;
        use crate::catalog::Dimension;
        let label = vec![
            (
                Dimension::EventTypeName,
                "Microsoft.Communication.PlayCompleted".to_string(),
            ),
            (Dimension::Code, "5\"00".to_string()),
        ];
        assert_eq!(
            ShowLabel(&label).to_string(),
            r#"EventTypeName="Microsoft.Communication.PlayCompleted", Code="5\"00""#
        );
        assert_eq!(ShowLabel(&[]).to_string(), "(metric total)");
    }
}
