//! The page's data: the run's summary (the same JSON as `--summary-out`),
//! its timeline, the traffic per metric cut to what a chart can show (at
//! most `BARS_MAX` buckets, the top `TOP_VALUES` values per dimension and
//! the rest summed), and the check's JSON report (as `--format json`
//! prints it, the mismatches cut to `MISMATCHES_SHOWN`).

use super::{Checked, Page};
use crate::check::{Counted, JsonReport, Traffic};
use crate::emit::deliver::Timeline;
use crate::engine::Grain;
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Buckets a traffic chart draws at most; finer data is summed into the
/// first grain that fits.
pub const BARS_MAX: usize = 240;
/// Values per dimension chart; the others are summed into one row.
pub const TOP_VALUES: usize = 12;
/// Mismatches in the table; the JSON report has every one.
pub const MISMATCHES_SHOWN: usize = 500;

pub fn page(page: &Page) -> Value {
    let (verdict, note, traffic, check) = match &page.check {
        Checked::Report(report) => {
            let mut json = JsonReport::new(report);
            let total = json.mismatches.len();
            json.mismatches.truncate(MISMATCHES_SHOWN);
            let mut check = serde_json::to_value(&json).unwrap_or(Value::Null);
            check["mismatchesTotal"] = json!(total);
            let verdict = if report.passed() { "pass" } else { "fail" };
            let hint = report.hint().map(|h| format!("hint: {h}"));
            (verdict, hint, report.traffic.as_slice(), check)
        }
        Checked::Skipped { why, traffic } => (
            "not checked",
            Some(why.clone()),
            traffic.as_slice(),
            Value::Null,
        ),
    };
    let sides = if page.run.is_some() {
        ["sent", "stored"]
    } else {
        ["expected", "observed"]
    };
    json!({
        "kind": if page.run.is_some() { "run" } else { "check" },
        "title": page.title,
        "meta": page.meta,
        "verdict": verdict,
        "verdictNote": note,
        "sides": sides,
        "summary": page.run.as_ref().map(|r| r.stats.to_json()),
        "timeline": page.run.as_ref().and_then(|r| r.timeline).map(timeline),
        "traffic": traffic.iter().map(|t| metric(t, page)).collect::<Vec<_>>(),
        "check": check,
    })
}

fn metric(t: &Traffic, page: &Page) -> Value {
    let observed = t.buckets.values().any(|c| c.observed.is_some())
        || t.dimensions
            .iter()
            .any(|(_, v)| v.values().any(|c| c.observed.is_some()));
    let (grain, buckets) = if t.totals {
        (t.grain, t.buckets.clone())
    } else {
        coarsen(t.grain, &t.buckets)
    };
    json!({
        "metric": t.metric.name(),
        "grain": t.grain.as_str(),
        "chartGrain": grain.as_str(),
        "chartGrainText": grain_text(grain),
        "totals": t.totals,
        "observed": observed,
        "buckets": buckets.iter().map(|(ms, c)| json!([ms, c.expected, c.observed])).collect::<Vec<_>>(),
        "dimensions": t.dimensions.iter().map(|(d, values)| {
            let mut rows: Vec<(&String, &Counted)> = values.iter().collect();
            rows.sort_by(|a, b| b.1.expected.cmp(&a.1.expected).then(a.0.cmp(b.0)));
            let rest = rows.split_off(rows.len().min(TOP_VALUES));
            let others = (!rest.is_empty()).then(|| json!({
                "values": rest.len(),
                "expected": rest.iter().map(|(_, c)| c.expected).sum::<u64>(),
                "observed": observed.then(|| rest.iter().map(|(_, c)| c.observed.unwrap_or(0)).sum::<u64>()),
            }));
            json!({
                "name": d.name(page.naming),
                "distinct": values.len(),
                "values": rows.iter().map(|(v, c)| json!([v, c.expected, c.observed])).collect::<Vec<_>>(),
                "others": others,
            })
        }).collect::<Vec<_>>(),
    })
}

/// The buckets at the finest grain (a multiple of `grain`) that needs at
/// most [`BARS_MAX`] of them over their span.
fn coarsen(grain: Grain, buckets: &BTreeMap<i64, Counted>) -> (Grain, BTreeMap<i64, Counted>) {
    let span = match (buckets.keys().next(), buckets.keys().next_back()) {
        (Some(first), Some(last)) => last - first,
        _ => 0,
    };
    let chart = Grain::all()
        .filter(|&g| grain.divides(g))
        .find(|g| span / g.millis() < BARS_MAX as i64)
        .unwrap_or(grain);
    let mut out: BTreeMap<i64, Counted> = BTreeMap::new();
    for (&ms, c) in buckets {
        let cell = out.entry(chart.bucket(ms)).or_default();
        cell.expected += c.expected;
        cell.observed = match (cell.observed, c.observed) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
    }
    (chart, out)
}

/// "minute", "5 minutes".
fn grain_text(grain: Grain) -> String {
    let seconds = grain.millis() / 1000;
    let (n, unit) = match seconds {
        s if s % 86_400 == 0 => (s / 86_400, "day"),
        s if s % 3600 == 0 => (s / 3600, "hour"),
        s if s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    match n {
        1 => unit.to_string(),
        n => format!("{n} {unit}s"),
    }
}

fn timeline(t: &Timeline) -> Value {
    let percentiles = |h: &Histogram<u32>| {
        let at = |q| h.value_at_quantile(q) as f64 / 1000.0;
        (!h.is_empty()).then(|| json!({"p50": at(0.5), "p99": at(0.99), "max": at(1.0)}))
    };
    json!({
        "widthSeconds": t.width().as_secs_f64(),
        "slots": t.slots().iter().map(|s| json!({
            "events": s.events,
            "requests": s.requests,
            "retries": s.retries,
            "failedRequests": s.failed_requests,
            "failedEvents": s.failed_events,
            "latencyMs": percentiles(&s.latency),
            "lagMs": percentiles(&s.lag),
        })).collect::<Vec<_>>(),
    })
}
