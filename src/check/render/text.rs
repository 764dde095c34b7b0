//! The text pieces shared by the table report and JUnit failure bodies:
//! numbers with thousands separators, series labels, and one block per
//! mismatch that shows only the differing aggregations, aligned, with an
//! explicit `nil` for a side that has no value.

use super::columns::{Align, write_columns};
use crate::catalog::Naming;
use crate::check::report::{GroupKey, Mismatch, MismatchKind, Report, Value, ValueDiff};
use crate::wire::metrics_response::{SeriesLabel, time_stamp};
use std::io::{self, Write};

/// 4812 -> "4,812".
pub(super) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "1 cell", "4,812 cells".
pub(super) fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// "APIRequestCallAutomation  PT1M  by Operation, StatusCode".
pub(super) fn group_title(key: &GroupKey, naming: Naming) -> String {
    format!(
        "{}  {}  {}",
        key.metric,
        key.span(),
        key.split.describe(key.metric, naming)
    )
}

/// `Operation=Play`, or `Operation="Create Call"` when the value needs quotes.
fn label_part(dim: &str, value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c));
    if plain {
        format!("{dim}={value}")
    } else {
        format!("{dim}={value:?}")
    }
}

fn label_parts(label: &SeriesLabel, naming: Naming) -> Vec<String> {
    label
        .iter()
        .map(|(d, v)| label_part(d.name(naming), v))
        .collect()
}

/// Writes `mismatches` (sorted as in the report) under one title per group,
/// every line prefixed by `indent`. Label parts are aligned within a group.
pub(super) fn write_mismatches<W: Write + ?Sized>(
    report: &Report,
    mismatches: &[Mismatch],
    indent: &str,
    titles: bool,
    out: &mut W,
) -> io::Result<()> {
    let naming = report.naming;
    for (i, group) in mismatches.chunk_by(|a, b| a.key == b.key).enumerate() {
        if titles {
            if i > 0 {
                writeln!(out)?;
            }
            writeln!(out, "{indent}{}", group_title(&group[0].key, naming))?;
        }
        let widths = column_widths(group.iter().map(|m| label_parts(&m.label, naming)));
        for m in group {
            let parts = label_parts(&m.label, naming);
            let label = if parts.is_empty() {
                "(total)".to_string()
            } else {
                pad_columns(&parts, &widths)
            };
            writeln!(
                out,
                "{indent}  {label}  @ {}  {}",
                time_stamp(m.bucket),
                m.kind.describe()
            )?;
            write_fields(m, &format!("{indent}    "), out)?;
        }
    }
    Ok(())
}

fn column_widths(rows: impl Iterator<Item = Vec<String>>) -> Vec<usize> {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(cell.len()),
                None => widths.push(cell.len()),
            }
        }
    }
    widths
}

fn pad_columns(parts: &[String], widths: &[usize]) -> String {
    let last = parts.len().saturating_sub(1);
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i == last {
                p.clone()
            } else {
                format!("{p:<w$}", w = widths[i])
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn show(v: Option<Value>) -> String {
    v.map_or_else(|| "nil".to_string(), |v| v.to_string())
}

/// "-1 (-0.083%)": observed minus expected, and relative to expected.
fn difference(d: &ValueDiff) -> String {
    let (Some(e), Some(o)) = (d.expected, d.observed) else {
        return String::new();
    };
    let absolute = match (e, o) {
        (Value::Int(e), Value::Int(o)) => format!("{:+}", i128::from(o) - i128::from(e)),
        (e, o) => float_difference(o.as_f64() - e.as_f64()),
    };
    let e = e.as_f64();
    if e == 0.0 || !o.as_f64().is_finite() {
        return absolute;
    }
    format!("{absolute} ({:+.3}%)", (o.as_f64() - e) / e * 100.0)
}

/// A float difference to about six significant digits: "+0.0277460",
/// "-1.5e-9". Its sides are printed in full precision beside it.
fn float_difference(d: f64) -> String {
    if d == 0.0 || !d.is_finite() || !(1e-4..1e6).contains(&d.abs()) {
        return format!("{d:+.3e}");
    }
    let decimals = (5 - d.abs().log10().floor() as i32).max(0) as usize;
    let text = format!("{d:+.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

fn write_fields<W: Write + ?Sized>(m: &Mismatch, indent: &str, out: &mut W) -> io::Result<()> {
    if m.kind != MismatchKind::ValuesDiffer {
        let side = |pick: fn(&ValueDiff) -> Option<Value>| {
            if m.fields.iter().all(|d| pick(d).is_none()) {
                return "nil".to_string();
            }
            m.fields
                .iter()
                .map(|d| format!("{}={}", d.field.name(), show(pick(d))))
                .collect::<Vec<_>>()
                .join(" ")
        };
        writeln!(out, "{indent}expected  {}", side(|d| d.expected))?;
        return writeln!(out, "{indent}observed  {}", side(|d| d.observed));
    }
    let rows: Vec<[String; 4]> = m
        .fields
        .iter()
        .map(|d| {
            [
                d.field.name().to_string(),
                show(d.expected),
                show(d.observed),
                difference(d),
            ]
        })
        .collect();
    let header = [
        String::new(),
        "expected".into(),
        "observed".into(),
        "diff".into(),
    ];
    use Align::{Left, Right};
    write_columns(out, indent, [Left, Right, Right, Left], &header, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_labels() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(4812), "4,812");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(count(1, "cell", "cells"), "1 cell");
        assert_eq!(
            label_part("Operation", "Create Call"),
            "Operation=\"Create Call\""
        );
        assert_eq!(
            label_part("ApiVersion", "2025-05-15"),
            "ApiVersion=2025-05-15"
        );
        assert_eq!(label_part("SubCode", ""), "SubCode=\"\"");
        assert_eq!(float_difference(0.027746038365306), "+0.027746");
        assert_eq!(float_difference(-12.5), "-12.5");
        assert_eq!(float_difference(1.5e-9), "+1.500e-9");
    }
}
