//! POST /metrics: Azure Monitor's custom-metrics ingestion body (what
//! `generate --format azure-monitor` writes, and what Azure takes at
//! `https://REGION.monitoring.azure.com/RESOURCE_ID/metrics`): one document
//! (pretty-printed or not) or one per line, each a minute's series of one
//! metric with `min`, `max`, `sum` and `count`. Every series becomes one
//! aggregated sample, checked to be what `count` real samples could make:
//! a Count metric's samples are all 1, and otherwise `(count-1)*min + max
//! <= sum <= min + (count-1)*max` (so one sample has min = max = sum), with
//! latencies at most a day as in `/ingest`. Anything else is no pipeline's
//! output, and storing it would also be stored differently than sent.
//!
//! A `time` inside a minute is taken as it is: its minute cell counts it
//! (as Azure Monitor's one-minute grain does), and so does its second for
//! PT1S questions.

use super::ingest::MAX_LATENCY_MS;
use super::sample::{DimensionText, LineError, Sample, failing_field};
use crate::catalog::{Dimension, Metric};
use crate::model::{Aggregate, Series};
use crate::wire::parse_millis;
use serde::Deserialize;

#[derive(Deserialize)]
struct Document {
    time: String,
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "baseData")]
    base_data: BaseData,
}

#[derive(Deserialize)]
struct BaseData {
    metric: String,
    #[serde(rename = "dimNames", default)]
    dim_names: Vec<String>,
    series: Vec<SeriesEntry>,
}

#[derive(Deserialize)]
struct SeriesEntry {
    #[serde(rename = "dimValues", default)]
    dim_values: Vec<String>,
    min: u64,
    max: u64,
    sum: u64,
    count: u64,
}

/// Parses every document of `body` (lines are numbered from 1); any error
/// rejects the whole body.
pub(super) fn parse_documents(body: &[u8], out: &mut Vec<Sample>) -> Result<(), LineError> {
    let text = std::str::from_utf8(body).map_err(|e| LineError::Malformed {
        line: 1,
        field: Some("body".into()),
        message: format!("the body is not UTF-8 (byte {})", e.valid_up_to() + 1),
    })?;
    // One document, however it is laid out (the README shows them
    // pretty-printed): a body that is one JSON value is one document.
    // Several documents are one per line.
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() {
        return parse_document(1, text, out);
    }
    let mut any = false;
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        any = true;
        parse_document(i + 1, line, out)?;
    }
    if !any {
        return Err(LineError::Malformed {
            line: 1,
            field: Some("body".into()),
            message: "no document in the body".into(),
        });
    }
    Ok(())
}

fn parse_document(n: usize, line: &str, out: &mut Vec<Sample>) -> Result<(), LineError> {
    let doc: Document = serde_json::from_str(line).map_err(|e| LineError::Malformed {
        line: n,
        field: Some(failing_field::<Document>(line, "document")),
        message: format!("not an Azure Monitor metrics document: {e}"),
    })?;
    let time_ms = parse_millis(&doc.time).ok_or_else(|| {
        LineError::malformed(n, "time", format!("{:?} is not RFC 3339", doc.time))
    })?;
    let base = &doc.data.base_data;
    if base.series.is_empty() {
        return Err(LineError::malformed(
            n,
            "data.baseData.series",
            "no series: a document holds at least one (an empty one says nothing)",
        ));
    }
    let metric = Metric::from_name(&base.metric).ok_or_else(|| {
        LineError::unknown(
            n,
            "data.baseData.metric",
            format!("{:?} is not a metric callmetrics knows", base.metric),
        )
    })?;
    let dims = dimensions_named(n, metric, &base.dim_names)?;
    for (k, s) in base.series.iter().enumerate() {
        let field = |name: &str| format!("data.baseData.series[{k}].{name}");
        let series = series_of(n, metric, &dims, s, &field)?;
        if let Some(why) = impossible(metric, s) {
            return Err(LineError::malformed(
                n,
                &field("count"),
                format!(
                    "min {} max {} sum {} count {} cannot all hold: {why}",
                    s.min, s.max, s.sum, s.count
                ),
            ));
        }
        out.push(Sample {
            series,
            time_ms,
            aggregate: Aggregate {
                count: s.count,
                total: s.sum,
                minimum: s.min,
                maximum: s.max,
            },
        });
    }
    Ok(())
}

/// `dimNames`: each a dimension of `metric`, under either naming.
fn dimensions_named(
    n: usize,
    metric: Metric,
    names: &[String],
) -> Result<Vec<Dimension>, LineError> {
    names
        .iter()
        .map(|name| {
            Dimension::from_name(name)
                .filter(|d| metric.dimensions().contains(d))
                .ok_or_else(|| {
                    LineError::unknown(
                        n,
                        "data.baseData.dimNames",
                        format!("{metric} has no dimension {name:?}"),
                    )
                })
        })
        .collect()
}

/// The series an entry's `dimValues` name, one value per dimension of
/// `dims`; `field` names the entry's fields in errors.
fn series_of(
    n: usize,
    metric: Metric,
    dims: &[Dimension],
    s: &SeriesEntry,
    field: &dyn Fn(&str) -> String,
) -> Result<Series, LineError> {
    if s.dim_values.len() != dims.len() {
        return Err(LineError::malformed(
            n,
            &field("dimValues"),
            format!("{} values for {} dimNames", s.dim_values.len(), dims.len()),
        ));
    }
    let value = |d: Dimension| {
        dims.iter()
            .position(|x| *x == d)
            .map(|i| s.dim_values[i].as_str())
    };
    let text = DimensionText {
        operation: value(Dimension::Operation),
        status_code: value(Dimension::StatusCode),
        status_class: value(Dimension::StatusCodeClass),
        api_version: value(Dimension::ApiVersion),
        event_type: value(Dimension::EventTypeName),
        code: value(Dimension::Code),
        code_class: value(Dimension::CodeClass),
        sub_code: value(Dimension::SubCode),
        version: value(Dimension::Version),
    };
    match metric {
        Metric::ApiRequests => text.request(n).map(Series::Requests),
        Metric::ApiRequestLatency => text.request(n).map(Series::Latency),
        Metric::CallbackEvents => text.callback(n).map(Series::Callbacks),
        Metric::RecordingRequests => text.recording(n).map(Series::Recordings),
    }
    .map_err(|e| missing_dimension(e, metric))
}
/// Why `count` samples cannot have made this series' aggregate, if they
/// cannot: the exact bounds, not only `count*min <= sum <= count*max`
/// (count 1, min 0, max 100, sum 50 passed that).
fn impossible(metric: Metric, s: &SeriesEntry) -> Option<String> {
    if s.count == 0 {
        return Some("a series aggregates at least one sample".into());
    }
    if metric != Metric::ApiRequestLatency {
        return (s.min != 1 || s.max != 1 || s.sum != s.count).then(|| {
            "a Count metric's samples are all 1, so min = max = 1 and sum = count".into()
        });
    }
    if s.min > s.max {
        return Some("min is above max".into());
    }
    if s.max > MAX_LATENCY_MS {
        return Some(format!(
            "a latency above a day ({MAX_LATENCY_MS} ms), as /ingest refuses"
        ));
    }
    let (count, min, max, sum) = (
        u128::from(s.count),
        u128::from(s.min),
        u128::from(s.max),
        u128::from(s.sum),
    );
    // One sample is the minimum and one the maximum (the same one when
    // count is 1); the others lie between them.
    let low = (count - 1) * min + max;
    let high = min + (count - 1) * max;
    (sum < low || sum > high).then(|| {
        format!(
            "{} samples between min and max sum to {low}..={high}",
            s.count
        )
    })
}

/// A dimension missing from a series is missing from `dimNames`: name that
/// field, not the per-line `dimensions.X` of `/ingest`.
fn missing_dimension(e: LineError, metric: Metric) -> LineError {
    match e {
        LineError::Malformed {
            line,
            field: Some(field),
            message,
        } if message.ends_with(": missing") => match field.strip_prefix("dimensions.") {
            Some(name) => LineError::malformed(
                line,
                "data.baseData.dimNames",
                format!("no {name:?}: every series of {metric} needs it"),
            ),
            None => LineError::Malformed {
                line,
                field: Some(field),
                message,
            },
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(metric: &str, dims: &str, values: &str, series: &str) -> String {
        format!(
            r#"{{"time":"2026-01-01T00:00:00Z","data":{{"baseData":{{"metric":"{metric}","namespace":"CallAutomation","dimNames":{dims},"series":[{series}]}}}}}}"#
        )
        .replace("VALUES", values)
    }

    const DIMS: &str = r#"["Operation","StatusCode","StatusCodeClass","ApiVersion"]"#;
    const VALUES: &str = r#"["Play","202","2xx","2025-05-15"]"#;

    fn latency(min: u64, max: u64, sum: u64, count: u64) -> Result<Vec<Sample>, LineError> {
        let series = format!(
            r#"{{"dimValues":VALUES,"min":{min},"max":{max},"sum":{sum},"count":{count}}}"#
        );
        let mut out = Vec::new();
        parse_documents(
            document("ApiRequestLatency", DIMS, VALUES, &series).as_bytes(),
            &mut out,
        )?;
        Ok(out)
    }

    fn message(e: LineError) -> (Option<String>, String) {
        match e {
            LineError::Malformed { field, message, .. }
            | LineError::Unknown { field, message, .. } => (field, message),
        }
    }

    // Issue #19, item 5: count 1, min 0, max 100, sum 50 was taken, and
    // read back after a restart as min 50, max 50.
    #[test]
    fn aggregates_no_samples_could_make_are_refused_by_their_exact_bounds() {
        for (min, max, sum, count) in [
            (0, 100, 50, 1),
            (1, 10, 11, 3),
            (1, 10, 22, 3),
            (5, 4, 9, 2),
        ] {
            let (field, text) = message(latency(min, max, sum, count).unwrap_err());
            assert_eq!(field.as_deref(), Some("data.baseData.series[0].count"));
            assert!(text.contains("cannot all hold"), "{text}");
        }
        // The bounds themselves are possible: 1 + 1 + 10 and 1 + 10 + 10.
        for (min, max, sum, count) in [(7, 7, 7, 1), (1, 10, 12, 3), (1, 10, 21, 3)] {
            let samples = latency(min, max, sum, count).unwrap();
            let a = samples[0].aggregate;
            assert_eq!(
                (a.minimum, a.maximum, a.total, a.count),
                (min, max, sum, count)
            );
        }
        // Latencies above a day are refused, as /ingest refuses them.
        let day = MAX_LATENCY_MS;
        assert!(latency(day, day, day, 1).is_ok());
        let (_, text) = message(latency(day + 1, day + 1, day + 1, 1).unwrap_err());
        assert!(text.contains("above a day"), "{text}");
        // Sums near 2^64 are compared without overflow.
        assert!(latency(day, day, u64::MAX, u64::MAX / day + 1).is_err());
    }

    #[test]
    fn an_empty_series_list_and_a_missing_dimension_name_their_fields() {
        let mut out = Vec::new();
        let empty = document("APIRequestCallAutomation", DIMS, VALUES, "");
        let (field, text) = message(parse_documents(empty.as_bytes(), &mut out).unwrap_err());
        assert_eq!(field.as_deref(), Some("data.baseData.series"));
        assert!(text.contains("no series"), "{text}");

        let no_version = document(
            "APIRequestCallAutomation",
            r#"["Operation","StatusCode"]"#,
            r#"["Play","202"]"#,
            r#"{"dimValues":VALUES,"min":1,"max":1,"sum":1,"count":1}"#,
        );
        let (field, text) = message(parse_documents(no_version.as_bytes(), &mut out).unwrap_err());
        assert_eq!(field.as_deref(), Some("data.baseData.dimNames"));
        assert!(text.contains("no \"ApiVersion\""), "{text}");
    }

    // The README shows a pretty-printed document; the body was read line by
    // line, so it was refused.
    #[test]
    fn one_pretty_printed_document_is_taken_and_several_go_one_per_line() {
        let one = document(
            "APIRequestCallAutomation",
            DIMS,
            VALUES,
            r#"{"dimValues":VALUES,"min":1,"max":1,"sum":4,"count":4}"#,
        );
        let pretty =
            serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&one).unwrap())
                .unwrap();
        assert!(pretty.lines().count() > 10);
        let mut out = Vec::new();
        parse_documents(pretty.as_bytes(), &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].aggregate.count, 4);
        let mut out = Vec::new();
        parse_documents(format!("{one}\n\n{one}\n").as_bytes(), &mut out).unwrap();
        assert_eq!(out.len(), 2);
        // A line that is not a document is named by its number.
        let (line, _) = match parse_documents(format!("{one}\n{{\n").as_bytes(), &mut Vec::new()) {
            Err(LineError::Malformed { line, message, .. }) => (line, message),
            other => panic!("{other:?}"),
        };
        assert_eq!(line, 2);
    }
}
