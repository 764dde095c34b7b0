//! POST /metrics: Azure Monitor's custom-metrics ingestion body (what
//! `generate --format azure-monitor` writes, and what Azure takes at
//! `https://REGION.monitoring.azure.com/RESOURCE_ID/metrics`): one document
//! or one per line, each a minute's series of one metric with `min`, `max`,
//! `sum` and `count`. Every series becomes one aggregated sample, checked
//! for consistency (a Count metric's samples are all 1; `min <= max`,
//! `count*min <= sum <= count*max`), so what is stored is what a correct
//! pipeline could have seen.

use super::sample::{DimensionText, LineError, Sample, failing_field};
use crate::catalog::{Dimension, Metric};
use crate::engine::{Aggregate, Series};
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
pub fn parse_documents(body: &[u8], out: &mut Vec<Sample>) -> Result<(), LineError> {
    let text = std::str::from_utf8(body).map_err(|e| LineError::Malformed {
        line: 1,
        field: Some("body".into()),
        message: format!("the body is not UTF-8 (byte {})", e.valid_up_to() + 1),
    })?;
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
    let metric = Metric::from_name(&base.metric).ok_or_else(|| {
        LineError::unknown(
            n,
            "data.baseData.metric",
            format!("{:?} is not a metric callmetrics knows", base.metric),
        )
    })?;
    let dims: Vec<Dimension> = base
        .dim_names
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
        .collect::<Result<_, _>>()?;
    for (k, s) in base.series.iter().enumerate() {
        let field = |name: &str| format!("data.baseData.series[{k}].{name}");
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
        let series = match metric {
            Metric::ApiRequests => Series::Requests(text.request(n)?),
            Metric::ApiRequestLatency => Series::Latency(text.request(n)?),
            Metric::CallbackEvents => Series::Callbacks(text.callback(n)?),
            Metric::RecordingRequests => Series::Recordings(text.recording(n)?),
        };
        let consistent = s.count > 0
            && s.min <= s.max
            && s.count.checked_mul(s.min).is_some_and(|lo| lo <= s.sum)
            && s.count.checked_mul(s.max).is_none_or(|hi| s.sum <= hi)
            && (metric == Metric::ApiRequestLatency
                || (s.min == 1 && s.max == 1 && s.sum == s.count));
        if !consistent {
            return Err(LineError::malformed(
                n,
                &field("count"),
                format!(
                    "min {} max {} sum {} count {} cannot all hold{}",
                    s.min,
                    s.max,
                    s.sum,
                    s.count,
                    if metric == Metric::ApiRequestLatency {
                        ""
                    } else {
                        " (a Count metric's samples are all 1)"
                    }
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
