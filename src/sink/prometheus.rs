//! GET /prometheus: the aggregates as Prometheus text exposition (totals
//! over all time), so a real Prometheus can scrape the embedded sink.

use super::view::View;
use crate::catalog::{Dimension, Metric};
use crate::model::{Aggregate, Series};
use std::collections::BTreeMap;
use std::fmt::Write;

fn labels(series: Series) -> String {
    let parts: Vec<String> = series
        .dimension_values()
        .into_iter()
        .map(|(d, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{}=\"{v}\"", Dimension::prometheus_label(d))
        })
        .collect();
    parts.join(",")
}

pub(super) fn exposition(data: &View) -> String {
    let mut totals: BTreeMap<Series, Aggregate> = BTreeMap::new();
    for (series, _, agg) in data.iter() {
        totals
            .entry(series)
            .and_modify(|a| a.absorb(agg))
            .or_insert(*agg);
    }
    let mut out = String::new();
    let families = [
        (
            Metric::ApiRequests,
            "callmetrics_api_requests_total",
            "counter",
        ),
        (
            Metric::ApiRequestLatency,
            "callmetrics_api_request_latency_milliseconds",
            "summary",
        ),
        (
            Metric::CallbackEvents,
            "callmetrics_callback_events_total",
            "counter",
        ),
        (
            Metric::RecordingRequests,
            "callmetrics_recording_api_requests_total",
            "counter",
        ),
    ];
    for (metric, name, kind) in families {
        let _ = writeln!(
            out,
            "# HELP {name} {} ({}).",
            metric.display_name(),
            metric.name()
        );
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (series, agg) in totals.iter().filter(|(s, _)| s.metric() == metric) {
            let l = labels(*series);
            if metric == Metric::ApiRequestLatency {
                let _ = writeln!(out, "{name}_sum{{{l}}} {}", agg.total);
                let _ = writeln!(out, "{name}_count{{{l}}} {}", agg.count);
            } else {
                let _ = writeln!(out, "{name}{{{l}}} {}", agg.count);
            }
        }
    }
    out
}
