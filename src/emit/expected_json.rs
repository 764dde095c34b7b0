//! expected.json: the expected aggregates in the shape of an Azure Monitor
//! Metrics - List response, so a checker can compare it field by field with
//! what a real pipeline's query API returns. Only buckets with data are
//! listed (Azure would also list empty ones with null values).

use super::rfc3339::TimeWriter;
use crate::catalog::{Metric, Naming};
use crate::engine::{Aggregate, Expected};
use serde::Serialize;
use std::io::Write;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    cost: u32,
    timespan: String,
    interval: String,
    value: Vec<MetricBody>,
    namespace: &'static str,
    resourceregion: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MetricBody {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    name: LocalizedName,
    unit: &'static str,
    timeseries: Vec<TimeSeries>,
    error_code: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LocalizedName {
    value: String,
    localized_value: String,
}

#[derive(Serialize)]
struct TimeSeries {
    metadatavalues: Vec<MetadataValue>,
    data: Vec<DataPoint>,
}

#[derive(Serialize)]
struct MetadataValue {
    name: LocalizedName,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DataPoint {
    time_stamp: String,
    count: u64,
    total: u64,
    minimum: u64,
    maximum: u64,
    average: f64,
}

fn stamp(ms: i64) -> String {
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

fn point(bucket: i64, a: &Aggregate) -> DataPoint {
    DataPoint {
        time_stamp: stamp(bucket),
        count: a.count,
        total: a.total,
        minimum: a.minimum,
        maximum: a.maximum,
        average: a.average(),
    }
}

/// Writes `expected` as a Metrics - List response for the resource `resource`.
pub fn write_expected(
    out: &mut dyn Write,
    expected: &Expected,
    naming: Naming,
    resource: &str,
) -> std::io::Result<()> {
    let sorted = expected.sorted();
    let grain = expected.grain();
    let first = sorted
        .values()
        .filter_map(|b| b.keys().next())
        .min()
        .copied()
        .unwrap_or(0);
    let last = sorted
        .values()
        .filter_map(|b| b.keys().next_back())
        .max()
        .copied()
        .unwrap_or(0);
    let value = Metric::ALL
        .iter()
        .map(|&metric| MetricBody {
            id: format!(
                "{resource}/providers/Microsoft.Insights/metrics/{}",
                metric.name()
            ),
            kind: "Microsoft.Insights/metrics",
            name: name(metric.name(), metric.display_name()),
            unit: metric.unit(),
            timeseries: sorted
                .iter()
                .filter(|(series, _)| series.metric() == metric)
                .map(|(series, buckets)| TimeSeries {
                    metadatavalues: series
                        .dimension_values()
                        .into_iter()
                        .map(|(dim, value)| MetadataValue {
                            name: name(dim.name(naming), dim.name(naming)),
                            value,
                        })
                        .collect(),
                    data: buckets.iter().map(|(&b, a)| point(b, a)).collect(),
                })
                .collect(),
            error_code: "Success",
        })
        .collect();
    let response = Response {
        cost: 0,
        timespan: format!("{}/{}", stamp(first), stamp(last + grain.millis())),
        interval: grain.to_string(),
        value,
        namespace: "Microsoft.Communication/CommunicationServices",
        resourceregion: "global",
    };
    serde_json::to_writer_pretty(&mut *out, &response)?;
    out.write_all(b"\n")
}
