//! The page's data: the run's summary (the same JSON as `--summary-out`,
//! its thresholds included),
//! its timeline, the traffic per metric cut to what a chart can show (at
//! most `BARS_MAX` buckets, the top `TOP_VALUES` values per dimension and
//! the rest summed), and the check's JSON report (as `--format json`
//! prints it, the mismatches cut to `MISMATCHES_SHOWN`).

use super::{Checked, Page};
use crate::check::{Counted, JsonReport, Traffic};
use crate::emit::deliver::Timeline;
use crate::model::Grain;
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Buckets a traffic chart draws at most; finer data is summed into the
/// first grain that fits.
pub(super) const BARS_MAX: usize = 240;
/// Values per dimension chart; the others are summed into one row.
pub(super) const TOP_VALUES: usize = 12;
/// Mismatches in the table; the JSON report has every one.
pub(super) const MISMATCHES_SHOWN: usize = 500;

pub(super) fn page(page: &Page) -> Value {
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
    // A threshold not met fails the run (exit 1) whatever the check says.
    let missed: Vec<String> = page
        .run
        .iter()
        .flat_map(|r| r.stats.failed_thresholds())
        .map(|j| j.threshold.to_string())
        .collect();
    let (verdict, note) = match missed.as_slice() {
        [] => (verdict, note),
        missed => (
            "fail",
            Some(
                note.into_iter()
                    .chain([format!("thresholds not met: {}", missed.join(", "))])
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
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
        "timeline": page.run.as_ref().and_then(|r| Some(timeline(r.timeline?, r.stats.elapsed))),
        "latencyHistogram": page.run.as_ref().map(|r| latency_histogram(&r.stats.latency)),
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
        coarsen(t.grain, &t.buckets, observed)
    };
    let row = |key: Value, c: &Counted| json!([key, c.expected, c.observed, c.differs]);
    json!({
        "metric": t.metric.name(),
        "grain": t.grain.as_str(),
        "chartGrain": grain.as_str(),
        "chartGrainText": grain_text(grain),
        "totals": t.totals,
        "observed": observed,
        "buckets": buckets.iter().map(|(&ms, c)| row(json!(ms), c)).collect::<Vec<_>>(),
        "dimensions": t.dimensions.iter().map(|(d, values)| {
            // The largest on either side: a value only the backend has is
            // often the telling one.
            let mut rows: Vec<(&String, &Counted)> = values.iter().collect();
            let size = |c: &Counted| c.expected.max(c.observed.unwrap_or(0));
            rows.sort_by(|a, b| size(b.1).cmp(&size(a.1)).then(a.0.cmp(b.0)));
            let rest = rows.split_off(rows.len().min(TOP_VALUES));
            let others = (!rest.is_empty()).then(|| {
                let mut sum = Counted::default();
                for (_, c) in &rest {
                    absorb(&mut sum, c);
                }
                json!({
                    "values": rest.len(),
                    "expected": sum.expected,
                    "observed": sum.observed,
                    "differs": sum.differs,
                })
            });
            json!({
                "name": d.name(page.naming),
                "distinct": values.len(),
                "values": rows.iter().map(|(v, c)| row(json!(v), c)).collect::<Vec<_>>(),
                "others": others,
            })
        }).collect::<Vec<_>>(),
    })
}

/// Adds `c` into `sum`: counts (saturating), observed when either side
/// was observed, differing when either differs.
fn absorb(sum: &mut Counted, c: &Counted) {
    sum.expected = sum.expected.saturating_add(c.expected);
    sum.observed = match (sum.observed, c.observed) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
    };
    sum.differs |= c.differs;
}

/// Every bucket from the first to the last (the empty ones as 0, so a
/// quiet stretch shows as one) at the finest grain, a multiple of `grain`,
/// that needs at most [`BARS_MAX`] of them; the coarsest there is when
/// none does.
fn coarsen(
    grain: Grain,
    buckets: &BTreeMap<i64, Counted>,
    observed: bool,
) -> (Grain, BTreeMap<i64, Counted>) {
    let (Some(&first), Some(&last)) = (buckets.keys().next(), buckets.keys().next_back()) else {
        return (grain, BTreeMap::new());
    };
    let bars = |g: Grain| (g.bucket(last) - g.bucket(first)) / g.millis() + 1;
    let coarser: Vec<Grain> = Grain::all().filter(|&g| grain.divides(g)).collect();
    let chart = coarser
        .iter()
        .copied()
        .find(|&g| bars(g) <= BARS_MAX as i64)
        .or_else(|| coarser.last().copied())
        .unwrap_or(grain);
    let empty = Counted {
        observed: observed.then_some(0),
        ..Counted::default()
    };
    // Beyond what any grain fits (years of days) the gaps stay gaps.
    let filled = bars(chart).min(BARS_MAX as i64 + 1);
    let mut out: BTreeMap<i64, Counted> = (0..filled)
        .filter(|_| filled <= BARS_MAX as i64)
        .map(|i| (chart.bucket(first) + i * chart.millis(), empty))
        .collect();
    for (&ms, c) in buckets {
        absorb(out.entry(chart.bucket(ms)).or_insert(empty), c);
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

/// Bars per doubling of latency: each bar about 19% wider than the one
/// before, so microseconds and seconds share one chart without a bar
/// coarser than the histogram's percentiles can tell apart.
pub(super) const HISTOGRAM_BARS_PER_DOUBLING: f64 = 4.0;

/// Every attempt's latency (the distribution the percentiles are taken
/// from) as log-spaced bars `[fromMs, toMs, attempts]`, from the first
/// bar with an attempt to the last, the empty ones between as 0.
pub(super) fn latency_histogram(h: &Histogram<u64>) -> Value {
    let mut bars: BTreeMap<i64, u64> = BTreeMap::new();
    for v in h.iter_recorded() {
        let us = v.value_iterated_to().max(1) as f64;
        let bar = (us.log2() * HISTOGRAM_BARS_PER_DOUBLING).floor() as i64;
        *bars.entry(bar).or_default() += v.count_at_value();
    }
    let (Some(&first), Some(&last)) = (bars.keys().next(), bars.keys().next_back()) else {
        return json!([]);
    };
    let edge_ms = |bar: i64| (bar as f64 / HISTOGRAM_BARS_PER_DOUBLING).exp2() / 1000.0;
    (first..=last)
        .map(|bar| {
            json!([
                edge_ms(bar),
                edge_ms(bar + 1),
                bars.get(&bar).copied().unwrap_or(0)
            ])
        })
        .collect()
}

/// `elapsed`: how long the run lasted, so the last slot's rate is taken
/// over the part of it the run covered.
fn timeline(t: &Timeline, elapsed: std::time::Duration) -> Value {
    let percentiles = |h: &Histogram<u32>| {
        let at = |q| h.value_at_quantile(q) as f64 / 1000.0;
        (!h.is_empty()).then(|| json!({"p50": at(0.5), "p99": at(0.99), "max": at(1.0)}))
    };
    json!({
        "widthSeconds": t.width().as_secs_f64(),
        "elapsedSeconds": elapsed.as_secs_f64(),
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
