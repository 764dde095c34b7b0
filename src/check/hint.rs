//! Hints: the common causes of a failed check, recognised from the report
//! and the compared data, each with what to do about it. A hint is only
//! given when the whole pattern holds (e.g. observed below expected in
//! every mismatching cell, not in most), so one that shows is worth
//! following; none is no verdict about the cause.

use super::observed::{ObservedSeries, Point};
use super::query::Split;
use super::report::{Field, GroupSummary, Mismatch, MismatchKind, Report};
use crate::catalog::{Dimension, Metric, Naming};
use crate::model::Aggregate;
use crate::wire::metrics_response::{MetricSeries, time_stamp};
use std::collections::{BTreeMap, BTreeSet};

/// A likely cause of a failed check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hint {
    pub kind: HintKind,
    /// One sentence for people: the cause, then what to do.
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum HintKind {
    /// Everything that differs is more than expected, nothing is missing:
    /// data of another run in the same backend and timespan.
    MoreThanExpected,
    /// Observed is below expected in every mismatching cell: read before
    /// the pipeline had everything.
    BelowExpected,
    /// Every series' total over the window matches; only the split into
    /// buckets differs.
    WindowTotalsMatch,
    /// Observed values of a dimension are the expected ones rewritten.
    ValuesRewritten,
    /// Observed is above expected in the window's first bucket, which
    /// starts at the grain's floor.
    WindowStart,
}

/// What the hints need of the compared data beyond the mismatches: those
/// list only failed cells, and with a tolerance a cell that passed may
/// still differ, so window totals cannot be summed from them exactly.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Evidence {
    /// Failed groups compared per bucket.
    failed: usize,
    /// Of those, the ones where every series' aggregate over the whole
    /// window is the same on both sides.
    window_totals_equal: usize,
}

impl Evidence {
    /// Takes note of one compared group (`fields`: what the backend observes).
    pub(crate) fn add(
        &mut self,
        group: &GroupSummary,
        want: &MetricSeries,
        got: &ObservedSeries,
        fields: &[Field],
    ) {
        if group.passed() || group.key.totals {
            return;
        }
        self.failed += 1;
        let labels: BTreeSet<_> = want.keys().chain(got.keys()).collect();
        let equal = labels.into_iter().all(|label| {
            let w = want.get(label).map(|b| fold(b.values().copied().map(Some)));
            let g = got
                .get(label)
                .map(|b| fold(b.values().map(|p| aggregate(p, fields))));
            let none = || Some(Window::default());
            let (w, g) = (w.unwrap_or_else(none), g.unwrap_or_else(none));
            matches!((w, g), (Some(w), Some(g)) if w.equal_on(&g, fields))
        });
        self.window_totals_equal += usize::from(equal);
    }
}

/// A series' aggregate over a window; empty for a series without buckets.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Window {
    count: u128,
    total: u128,
    minimum: Option<u64>,
    maximum: Option<u64>,
}

impl Window {
    fn equal_on(&self, other: &Window, fields: &[Field]) -> bool {
        fields.iter().all(|f| match f {
            Field::Count => self.count == other.count,
            Field::Total => self.total == other.total,
            Field::Minimum => self.minimum == other.minimum,
            Field::Maximum => self.maximum == other.maximum,
            // Follows from count and total.
            Field::Average => true,
        })
    }
}

/// The window of some buckets; `None` when one lacks a field compared.
fn fold(buckets: impl Iterator<Item = Option<Aggregate>>) -> Option<Window> {
    let mut window = Window::default();
    for a in buckets {
        let a = a?;
        window.count += u128::from(a.count);
        window.total += u128::from(a.total);
        window.minimum = Some(window.minimum.map_or(a.minimum, |m| m.min(a.minimum)));
        window.maximum = Some(window.maximum.map_or(a.maximum, |m| m.max(a.maximum)));
    }
    Some(window)
}

/// An observed point as an aggregate, fields it does not observe as 0 (they
/// are not compared); `None` when it lacks one it should have.
fn aggregate(p: &Point, fields: &[Field]) -> Option<Aggregate> {
    let need = |field: Field, v: Option<u64>| match v {
        Some(v) => Some(v),
        None if fields.contains(&field) => None,
        None => Some(0),
    };
    Some(Aggregate {
        count: need(Field::Count, p.count)?,
        total: need(Field::Total, p.total)?,
        minimum: need(Field::Minimum, p.minimum)?,
        maximum: need(Field::Maximum, p.maximum)?,
    })
}

/// The hints a failed report supports, in [`HintKind`] order.
pub(crate) fn hints(report: &Report, evidence: &Evidence) -> Vec<Hint> {
    if report.mismatches.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut add = |kind, text: String| out.push(Hint { kind, text });
    // Events moved between buckets change some bucket's count; a wrong
    // minimum alone is no split, even where the window's minimum is right.
    let moved = report
        .mismatches
        .iter()
        .any(|m| m.kind != MismatchKind::ValuesDiffer || additive(m).next().is_some());
    let window_totals_match = !report.totals
        && moved
        && evidence.failed > 0
        && evidence.window_totals_equal == evidence.failed;
    // With every window total equal the backend holds nothing extra, even
    // where a bucket has more.
    if report.holds_more_than_expected() && !window_totals_match {
        add(
            HintKind::MoreThanExpected,
            "the sink holds data the expected file does not have; a previous run in the same \
             timespan? Check against a fresh sink, or give this run another --start"
                .into(),
        );
    }
    if below_everywhere(report) {
        add(
            HintKind::BelowExpected,
            "observed is below expected in every mismatching cell: the last scrape or flush may \
             have come before the run ended; use --wait 60s"
                .into(),
        );
    }
    if window_totals_match {
        add(
            HintKind::WindowTotalsMatch,
            "each series' total over the window matches; only the split into buckets differs \
             (counters scraped at other times than the bucket boundaries): use --totals"
                .into(),
        );
    }
    for text in rewritten(report) {
        add(HintKind::ValuesRewritten, text);
    }
    if let Some(text) = window_start(report) {
        add(HintKind::WindowStart, text);
    }
    out
}

/// The count and total of a mismatch, as (expected, observed) pairs.
fn additive(m: &Mismatch) -> impl Iterator<Item = (Option<f64>, Option<f64>)> + '_ {
    m.fields
        .iter()
        .filter(|d| matches!(d.field, Field::Count | Field::Total))
        .map(|d| {
            (
                d.expected.map(|v| v.as_f64()),
                d.observed.map(|v| v.as_f64()),
            )
        })
}

/// Every mismatch is missing, or has less counted, and something was
/// observed (a backend with nothing at all is more likely the wrong one, or
/// not fed, than read too early).
fn below_everywhere(report: &Report) -> bool {
    let observed_any = report.groups.iter().any(|g| g.counts.observed_series > 0);
    observed_any
        && report.mismatches.iter().all(|m| match m.kind {
            MismatchKind::MissingSeries | MismatchKind::MissingBucket => true,
            MismatchKind::UnexpectedSeries | MismatchKind::UnexpectedBucket => false,
            MismatchKind::ValuesDiffer => {
                let mut pairs = additive(m).peekable();
                pairs.peek().is_some()
                    && pairs.all(|pair| matches!(pair, (Some(e), Some(o)) if o < e))
            }
        })
}

/// Observed above expected in this cell: more counted, or not expected.
fn above(m: &Mismatch) -> bool {
    match m.kind {
        MismatchKind::UnexpectedSeries | MismatchKind::UnexpectedBucket => true,
        MismatchKind::MissingSeries | MismatchKind::MissingBucket => false,
        MismatchKind::ValuesDiffer => {
            additive(m).any(|pair| matches!(pair, (Some(e), Some(o)) if o > e))
        }
    }
}

/// When, at some grain, the earliest mismatching bucket is the window's
/// first and observed is above expected there: the window starts at the
/// grain's floor, which can be before the run's first event, so whatever
/// the backend holds from there on is counted.
fn window_start(report: &Report) -> Option<String> {
    report.grains.iter().find_map(|&grain| {
        let at_grain = report.mismatches.iter().filter(|m| m.key.grain == grain);
        let first = at_grain.clone().map(|m| m.bucket).min()?;
        let start = grain.bucket(report.timespan.0);
        let above_there = at_grain.filter(|m| m.bucket == first).any(above);
        (first == start && above_there).then(|| {
            format!(
                "the window starts at {}, the {grain} floor of the data's first bucket, which \
                 may be before the run began, and observed is above expected in that first \
                 bucket: data of an earlier run, or a counter reset, between that floor and the \
                 run's start is counted; start runs on a {grain} boundary (--start) or check a \
                 backend without older data",
                time_stamp(start)
            )
        })
    })
}

/// The values of one dimension that only one side has: expected series
/// the backend lacks, and series it has that are not expected.
#[derive(Default)]
struct OneSided {
    missing: BTreeSet<String>,
    unexpected: BTreeSet<String>,
}

/// A rewrite the mapping can express that turns every unexpected value
/// into one of the missing ones, per metric and dimension.
fn rewritten(report: &Report) -> Vec<String> {
    let mut sides: BTreeMap<(Metric, Dimension), OneSided> = BTreeMap::new();
    for m in &report.mismatches {
        let (Split::One(dim), [(_, value)]) = (m.key.split, m.label.as_slice()) else {
            continue;
        };
        let side = sides.entry((m.key.metric, dim)).or_default();
        match m.kind {
            MismatchKind::MissingSeries => side.missing.insert(value.clone()),
            MismatchKind::UnexpectedSeries => side.unexpected.insert(value.clone()),
            _ => false,
        };
    }
    sides
        .into_iter()
        .filter(|(_, s)| !s.missing.is_empty() && !s.unexpected.is_empty())
        .filter_map(|((metric, dim), s)| explain(metric, dim, &s, report.naming))
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Case {
    Upper,
    Lower,
}

/// The first rewrite of `prefixes` x cases that explains every unexpected
/// value, else leading zeros, as a hint.
fn explain(metric: Metric, dim: Dimension, s: &OneSided, naming: Naming) -> Option<String> {
    let name = dim.name(naming);
    let path = format!("metrics.{metric}.labels.{name}");
    let mut prefixes: Vec<Option<String>> = vec![None];
    prefixes.extend(candidate_prefixes(s).into_iter().map(Some));
    for prefix in &prefixes {
        for case in [None, Some(Case::Upper), Some(Case::Lower)] {
            if prefix.is_none() && case.is_none() {
                continue;
            }
            let rewrite = |v: &str| {
                let rest = match prefix {
                    Some(p) => v.strip_prefix(p.as_str())?,
                    None => v,
                };
                Some(match case {
                    Some(Case::Upper) => rest.to_uppercase(),
                    Some(Case::Lower) => rest.to_lowercase(),
                    None => rest.to_string(),
                })
            };
            let written: BTreeMap<String, &String> = s
                .missing
                .iter()
                .filter_map(|m| Some((rewrite(m)?, m)))
                .collect();
            if !s.unexpected.iter().all(|u| written.contains_key(u)) {
                continue;
            }
            let (example, of) = s
                .unexpected
                .iter()
                .find_map(|u| Some((u, written.get(u)?)))?;
            let mut how = Vec::new();
            let mut rule = Vec::new();
            if let Some(p) = prefix {
                how.push(format!("without the prefix {p:?}"));
                rule.push(format!("\"stripPrefix\": {p:?}"));
            }
            if let Some(c) = case {
                let word = if c == Case::Upper { "upper" } else { "lower" };
                how.push(format!("in {word} case"));
                rule.push(format!("\"case\": \"{word}\""));
            }
            let example_mapping = if dim == Dimension::EventTypeName
                && prefix.as_deref() == Some("Microsoft.Communication.")
                && case.is_none()
            {
                " (see mappings/sdk-short-event-types.json)"
            } else {
                ""
            };
            return Some(format!(
                "observed {name} values look like the expected ones {} ({example} for {of}): add \
                 \"values\": {{{}}} to {path} in the mapping{example_mapping}",
                how.join(" and "),
                rule.join(", ")
            ));
        }
    }
    let padded = s.unexpected.iter().all(|u| {
        s.missing
            .iter()
            .any(|m| u != m && is_number(u) && is_number(m) && unpadded(u) == unpadded(m))
    });
    if padded {
        let u = s.unexpected.first()?;
        let m = s.missing.iter().find(|m| unpadded(m) == unpadded(u))?;
        return Some(format!(
            "observed {name} values look like the expected ones with other leading zeros ({u} \
             for {m}): add \"values\": {{\"table\": {{{m:?}: {u:?}, ...}}}} to {path} in the \
             mapping"
        ));
    }
    None
}

/// Prefixes that would turn some missing value into some unexpected one,
/// ignoring case, most frequent first. Only ones ending in a separator
/// ("Microsoft.Communication.", "v_"): stripping part of a word is no
/// obvious rewrite.
fn candidate_prefixes(s: &OneSided) -> Vec<String> {
    let mut found: BTreeMap<String, usize> = BTreeMap::new();
    for m in &s.missing {
        for u in &s.unexpected {
            let Some(cut) = m.len().checked_sub(u.len()).filter(|&c| c > 0) else {
                continue;
            };
            if !m.is_char_boundary(cut) || !m[cut..].eq_ignore_ascii_case(u) {
                continue;
            }
            let prefix = &m[..cut];
            if prefix.ends_with(|c: char| !c.is_alphanumeric()) {
                *found.entry(prefix.to_string()).or_default() += 1;
            }
        }
    }
    let mut prefixes: Vec<(String, usize)> = found.into_iter().collect();
    prefixes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    prefixes.into_iter().map(|(p, _)| p).collect()
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn unpadded(s: &str) -> &str {
    match s.trim_start_matches('0') {
        "" => "0",
        rest => rest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::fixture::*;
    use crate::check::{CheckOptions, Reference, ReportFormat};
    use crate::model::Grain;
    use crate::wire::metrics_response::SeriesLabel;

    /// The check of the fixture against a correct sink holding the
    /// fixture's data edited by `edit`.
    fn check_against(
        options: &CheckOptions,
        edit: impl FnOnce(&mut Vec<(Metric, MetricSeries)>),
    ) -> Report {
        let mut data = metrics();
        edit(&mut data);
        let observed = Reference::new(&response(&data, Naming::Azure)).unwrap();
        run(&expected(), &observed, options).unwrap()
    }

    fn exact() -> CheckOptions {
        CheckOptions::default()
    }

    fn series_of(data: &mut [(Metric, MetricSeries)], metric: Metric) -> &mut MetricSeries {
        &mut data.iter_mut().find(|(m, _)| *m == metric).unwrap().1
    }

    /// Sets the aggregate of `label` of `metric` at `minute` to `n` events
    /// of 1.
    fn set(
        data: &mut [(Metric, MetricSeries)],
        metric: Metric,
        label: &SeriesLabel,
        minute: i64,
        n: u64,
    ) {
        let buckets = series_of(data, metric).get_mut(label).unwrap();
        buckets.insert(T0 + minute * MINUTE, agg(n, n, 1, 1));
    }

    fn kinds(report: &Report) -> Vec<HintKind> {
        report.hints.iter().map(|h| h.kind).collect()
    }

    fn table(report: &Report) -> String {
        let mut out = Vec::new();
        report.render(ReportFormat::Table, 0, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn completed() -> SeriesLabel {
        callback("PlayCompleted", "200", "2xx", "0")
    }

    #[test]
    fn observed_below_expected_everywhere_suggests_waiting() {
        let late = |data: &mut Vec<(Metric, MetricSeries)>| {
            // The last minute of requests not in yet, fewer callbacks.
            let play = request("Play", "202", "2xx");
            series_of(data, Metric::ApiRequests)
                .get_mut(&play)
                .unwrap()
                .remove(&(T0 + 5 * MINUTE));
            set(data, Metric::CallbackEvents, &completed(), 2, 800);
        };
        let report = check_against(&exact(), late);
        assert_eq!(kinds(&report), [HintKind::BelowExpected]);
        assert!(
            table(&report).contains(
                "      hint: observed is below expected in every mismatching cell: the last \
                 scrape or flush may have come before the run ended; use --wait 60s\n"
            ),
            "{}",
            table(&report)
        );
        // One cell above expected: not a late read.
        let report = check_against(&exact(), |data| {
            late(data);
            set(
                data,
                Metric::ApiRequests,
                &request("Create Call", "201", "2xx"),
                3,
                8,
            );
        });
        assert!(!report.passed());
        assert!(
            !kinds(&report).contains(&HintKind::BelowExpected),
            "{:?}",
            report.hints
        );
        // A backend that has nothing at all is not late but elsewhere.
        let report = check_against(&exact(), |data| data.clear());
        assert_eq!(report.totals().missing_cells, report.totals().cells);
        assert!(report.hints.is_empty(), "{:?}", report.hints);
    }

    #[test]
    fn equal_window_totals_split_otherwise_suggest_totals() {
        let play = request("Play", "202", "2xx");
        // 100 events counted a minute late: the window holds all 2,100.
        let shifted = |data: &mut Vec<(Metric, MetricSeries)>| {
            set(data, Metric::ApiRequests, &play, 0, 1100);
            set(data, Metric::ApiRequests, &play, 1, 1000);
        };
        let report = check_against(&exact(), shifted);
        assert!(!report.passed());
        assert_eq!(kinds(&report), [HintKind::WindowTotalsMatch]);
        assert!(table(&report).contains(
            "hint: each series' total over the window matches; only the split into buckets \
             differs (counters scraped at other times than the bucket boundaries): use --totals"
        ));
        // And the advice holds: compared over the window, it passes.
        let totals = CheckOptions {
            totals: true,
            ..exact()
        };
        assert!(check_against(&totals, shifted).passed());
        // One event fewer in the window: a loss, not a split.
        let report = check_against(&exact(), |data| {
            set(data, Metric::ApiRequests, &play, 0, 1100);
            set(data, Metric::ApiRequests, &play, 1, 999);
        });
        assert!(
            !kinds(&report).contains(&HintKind::WindowTotalsMatch),
            "{:?}",
            report.hints
        );
        // A wrong minimum in one bucket, the window's minimum (11, minute
        // 1) unchanged: a fault of the backend, not of the buckets.
        let report = check_against(&exact(), |data| {
            let play = series_of(data, Metric::ApiRequestLatency).get_mut(&play);
            play.unwrap().insert(T0 + 5 * MINUTE, agg(10, 433, 25, 90));
        });
        assert!(!report.passed());
        assert!(report.hints.is_empty(), "{:?}", report.hints);
    }

    #[test]
    fn window_totals_count_the_cells_a_tolerance_let_through() {
        // 1 event a minute late: minute 0 (1199 of 1200) passes within
        // 0.1%, minute 1 (901 of 900) does not. The mismatches alone sum
        // to +1, though the window holds exactly what is expected.
        let tolerant = CheckOptions {
            tolerance: Some(0.001),
            ..exact()
        };
        let report = check_against(&tolerant, |data| {
            set(
                data,
                Metric::ApiRequests,
                &request("Play", "202", "2xx"),
                0,
                1199,
            );
            set(
                data,
                Metric::ApiRequests,
                &request("Play", "202", "2xx"),
                1,
                901,
            );
        });
        assert!(!report.passed());
        assert!(
            report.mismatches.iter().all(|m| m.bucket == T0 + MINUTE),
            "{:#?}",
            report.mismatches
        );
        assert_eq!(kinds(&report), [HintKind::WindowTotalsMatch]);
    }

    /// The fixture with every value of `dim` written as `rewrite` says.
    fn relabelled(
        dim: Dimension,
        rewrite: fn(&str) -> String,
    ) -> impl FnOnce(&mut Vec<(Metric, MetricSeries)>) {
        move |data| {
            for (_, series) in data.iter_mut() {
                *series = std::mem::take(series)
                    .into_iter()
                    .map(|(label, buckets)| {
                        let label = label
                            .into_iter()
                            .map(|(d, v)| if d == dim { (d, rewrite(&v)) } else { (d, v) })
                            .collect();
                        (label, buckets)
                    })
                    .collect();
            }
        }
    }

    fn rewrite_hints(report: &Report) -> Vec<&str> {
        report
            .hints
            .iter()
            .filter(|h| h.kind == HintKind::ValuesRewritten)
            .map(|h| h.text.as_str())
            .collect()
    }

    #[test]
    fn values_written_otherwise_suggest_a_mapping_rewrite() {
        let short = relabelled(Dimension::EventTypeName, |v| {
            v.trim_start_matches("Microsoft.Communication.").to_string()
        });
        let report = check_against(&exact(), short);
        assert_eq!(
            rewrite_hints(&report),
            [
                "observed EventTypeName values look like the expected ones without the prefix \
                 \"Microsoft.Communication.\" (PlayCompleted for \
                 Microsoft.Communication.PlayCompleted): add \"values\": {\"stripPrefix\": \
                 \"Microsoft.Communication.\"} to \
                 metrics.AcsCallAutomationCallbackEvent.labels.EventTypeName in the mapping (see \
                 mappings/sdk-short-event-types.json)"
            ]
        );
        assert!(table(&report).contains("hint: observed EventTypeName values look like"));
        let report = check_against(
            &exact(),
            relabelled(Dimension::CodeClass, str::to_uppercase),
        );
        assert_eq!(
            rewrite_hints(&report),
            [
                "observed CodeClass values look like the expected ones in upper case (2XX for \
                 2xx): add \"values\": {\"case\": \"upper\"} to \
                 metrics.AcsCallAutomationCallbackEvent.labels.CodeClass in the mapping"
            ]
        );
        let report = check_against(
            &exact(),
            relabelled(Dimension::EventTypeName, |v| {
                v.trim_start_matches("Microsoft.Communication.")
                    .to_lowercase()
            }),
        );
        let hints = rewrite_hints(&report);
        assert_eq!(hints.len(), 1, "{hints:?}");
        assert!(
            hints[0].contains(
                "without the prefix \"Microsoft.Communication.\" and in lower case (playcompleted \
                 for Microsoft.Communication.PlayCompleted): add \"values\": {\"stripPrefix\": \
                 \"Microsoft.Communication.\", \"case\": \"lower\"}"
            ),
            "{hints:?}"
        );
        let report = check_against(
            &exact(),
            relabelled(Dimension::SubCode, |v| format!("{v:0>5}")),
        );
        assert_eq!(
            rewrite_hints(&report),
            [
                "observed SubCode values look like the expected ones with other leading zeros \
                 (00000 for 0): add \"values\": {\"table\": {\"0\": \"00000\", ...}} to \
                 metrics.AcsCallAutomationCallbackEvent.labels.SubCode in the mapping"
            ]
        );
    }

    #[test]
    fn unrelated_values_suggest_no_rewrite() {
        // Other names, not the expected ones rewritten.
        let report = check_against(
            &exact(),
            relabelled(Dimension::EventTypeName, |v| format!("{v}Event")),
        );
        assert!(!report.passed());
        assert_eq!(rewrite_hints(&report), Vec::<&str>::new());
        // A prefix that explains one value but not the other.
        let report = check_against(
            &exact(),
            relabelled(Dimension::EventTypeName, |v| {
                match v.strip_prefix("Microsoft.Communication.") {
                    Some("PlayCompleted") => "PlayCompleted".into(),
                    _ => "Something.Else".into(),
                }
            }),
        );
        assert_eq!(rewrite_hints(&report), Vec::<&str>::new());
    }

    #[test]
    fn more_in_the_first_bucket_points_at_the_window_start() {
        let five = CheckOptions {
            grains: vec![Grain::MINUTE, "PT5M".parse().unwrap()],
            ..exact()
        };
        let report = check_against(&five, |data| {
            set(data, Metric::CallbackEvents, &completed(), 0, 1105);
        });
        assert_eq!(
            kinds(&report),
            [HintKind::MoreThanExpected, HintKind::WindowStart]
        );
        let text = &report.hints[1].text;
        assert!(
            text.starts_with(
                "the window starts at 2026-01-01T00:00:00Z, the PT1M floor of the data's first \
                 bucket, which may be before the run began, and observed is above expected in \
                 that first bucket"
            ),
            "{text}"
        );
        // The same surplus in the last minute (and PT5M bucket) is not the
        // window's start.
        let report = check_against(&five, |data| {
            set(
                data,
                Metric::ApiRequests,
                &request("Play", "202", "2xx"),
                5,
                15,
            );
        });
        assert_eq!(kinds(&report), [HintKind::MoreThanExpected]);
        // Less in the first bucket is no earlier data counted.
        let report = check_against(&exact(), |data| {
            set(data, Metric::CallbackEvents, &completed(), 0, 1095);
        });
        assert!(
            !kinds(&report).contains(&HintKind::WindowStart),
            "{:?}",
            report.hints
        );
    }

    #[test]
    fn a_pass_has_no_hints() {
        let report = check_against(&exact(), |_| {});
        assert!(report.passed());
        assert!(report.hints.is_empty());
    }
}
