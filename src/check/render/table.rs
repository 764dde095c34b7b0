//! The table report, read like a test diff: one summary line, the first
//! mismatches as expected vs observed per series and bucket, then one row
//! per metric, grain and dimension set saying what was compared.

use super::columns::{Align, write_columns};
use super::text::{count, thousands, write_mismatches};
use crate::catalog::Naming;
use crate::check::report::{Counts, GroupKey, Report};
use crate::wire::printable;
use std::io::{self, Write};

pub(crate) fn table<W: Write + ?Sized>(
    report: &Report,
    max_mismatches: usize,
    out: &mut W,
) -> io::Result<()> {
    let totals = report.totals();
    let scope = scope(report);
    if report.passed() {
        writeln!(
            out,
            "PASS  {} match ({scope})",
            count(totals.cells, "cell", "cells")
        )?;
        if let Some(w) = report.waited {
            writeln!(out, "      after {}", waited(w))?;
        }
    } else {
        writeln!(
            out,
            "FAIL  {} in {} ({scope})",
            count(totals.mismatches(), "mismatch", "mismatches"),
            count(totals.cells, "cell", "cells")
        )?;
        writeln!(out, "      {}", mismatch_kinds(&totals))?;
        if let Some(w) = report.waited {
            writeln!(out, "      the last comparison, after {}", waited(w))?;
        }
        for hint in &report.hints {
            writeln!(out, "      hint: {}", hint.text)?;
        }
        writeln!(out)?;
        first_mismatches(report, max_mismatches, out)?;
    }
    writeln!(out)?;
    resets(report, out)?;
    overview(report, out)
}

/// What was compared: metrics, grains, tolerance, and the metrics compared
/// in part or not at all.
fn scope(report: &Report) -> String {
    let grains: Vec<&str> = report.grains.iter().map(|g| g.as_str()).collect();
    let at = if report.totals {
        "totals over the whole window".to_string()
    } else {
        format!("at {}", grains.join(", "))
    };
    let mut scope = format!(
        "{} {at}; {}",
        count(report.metrics.len() as u64, "metric", "metrics"),
        report.tolerance_text()
    );
    for (metric, fields) in report.partly_compared() {
        let names: Vec<&str> = fields.iter().map(|f| f.name()).collect();
        scope.push_str(&format!("; {metric}: {} only", names.join(", ")));
    }
    if !report.unobserved.is_empty() {
        let names: Vec<&str> = report.unobserved.iter().map(|m| m.name()).collect();
        scope.push_str(&format!("; not observed: {}", names.join(", ")));
    }
    scope
}

/// "3 cells differ, 2 cells missing (1 whole series), ...".
fn mismatch_kinds(totals: &Counts) -> String {
    let mut parts = Vec::new();
    let whole = |n: u64| match n {
        0 => String::new(),
        n => format!(" ({})", count(n, "whole series", "whole series")),
    };
    for (cells, what, series) in [
        (totals.values_differ, "differ", 0),
        (totals.missing_cells, "missing", totals.missing_series),
        (
            totals.unexpected_cells,
            "unexpected",
            totals.unexpected_series,
        ),
    ] {
        if cells > 0 {
            parts.push(format!(
                "{} {what}{}",
                count(cells, "cell", "cells"),
                whole(series)
            ));
        }
    }
    parts.join(", ")
}

/// The first `max_mismatches` mismatches, then how many more there are.
fn first_mismatches<W: Write + ?Sized>(
    report: &Report,
    max_mismatches: usize,
    out: &mut W,
) -> io::Result<()> {
    let shown = &report.mismatches[..max_mismatches.min(report.mismatches.len())];
    write_mismatches(report, shown, "", true, out)?;
    let more = report.mismatches.len() - shown.len();
    if more > 0 {
        if !shown.is_empty() {
            writeln!(out)?;
        }
        writeln!(
            out,
            "...and {} more (use --max-mismatches or --format json)",
            thousands(more as u64)
        )?;
    }
    Ok(())
}
/// "waiting 15s (4 checks)".
fn waited(w: crate::check::wait::Waited) -> String {
    if w.checks == 1 {
        return "the first check (--wait did not wait)".to_string();
    }
    format!(
        "waiting {} ({})",
        humantime::format_duration(std::time::Duration::from_secs(w.elapsed.as_secs())),
        count(u64::from(w.checks), "check", "checks")
    )
}

/// The counter resets seen, each on a line: why counts may differ from a
/// plain difference of the first and last values.
fn resets<W: Write + ?Sized>(report: &Report, out: &mut W) -> io::Result<()> {
    if report.resets.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "{} (an app restarted; each adds the value after it, as increase() does):",
        count(
            report.resets.len() as u64,
            "counter reset",
            "counter resets"
        )
    )?;
    for r in &report.resets {
        writeln!(
            out,
            "  {}  {}  {} -> {}",
            crate::wire::metrics_response::time_stamp(r.at),
            printable(&r.series),
            r.before,
            r.after
        )?;
    }
    writeln!(out)
}

/// "Operation, StatusCode" or "(metric total)".
fn dimensions(key: GroupKey, naming: Naming) -> String {
    let names: Vec<&str> = key
        .split
        .dimensions(key.metric)
        .iter()
        .map(|d| d.name(naming))
        .collect();
    if names.is_empty() {
        "(metric total)".to_string()
    } else {
        names.join(", ")
    }
}

/// One row per group: metric, grain, dimension set, expected series, cells
/// (series x buckets, on either side) and the result.
fn overview<W: Write + ?Sized>(report: &Report, out: &mut W) -> io::Result<()> {
    let header = ["metric", "grain", "dimensions", "series", "cells", "result"].map(String::from);
    let rows: Vec<[String; 6]> = report
        .groups
        .iter()
        .map(|g| {
            let k = g.key;
            [
                k.metric.name().to_string(),
                k.span().to_string(),
                dimensions(k, report.naming),
                thousands(g.counts.expected_series),
                thousands(g.counts.cells),
                if g.passed() {
                    "ok".to_string()
                } else {
                    count(g.counts.mismatches(), "mismatch", "mismatches")
                },
            ]
        })
        .collect();
    use Align::{Left, Right};
    write_columns(
        out,
        "",
        [Left, Left, Left, Right, Right, Left],
        &header,
        &rows,
    )
}
