//! Cell-by-cell comparison of one group (metric, grain, split): a merge of
//! the two sorted sides, series by series and bucket by bucket, so it is
//! linear in the number of cells and yields mismatches already sorted.
//! Every mismatch is kept; the renderers decide how many to show.

use super::observed::{ObservedSeries, Point};
use super::report::{
    Counts, Field, GroupKey, GroupSummary, Mismatch, MismatchKind, Value, ValueDiff,
};
use crate::engine::Aggregate;
use crate::wire::metrics_response::MetricSeries;
use std::cmp::Ordering;

/// How strictly cells are compared.
#[derive(Clone, Copy, Debug)]
pub struct Strictness {
    /// Relative tolerance, or `None` for exact.
    pub tolerance: Option<f64>,
    /// The aggregations the backend observes; the others are not compared.
    pub fields: &'static [Field],
}

/// Compares `want` with `got`, appending every failed cell to `out`.
pub fn group(
    key: GroupKey,
    want: &MetricSeries,
    got: &ObservedSeries,
    strictness: Strictness,
    out: &mut Vec<Mismatch>,
) -> GroupSummary {
    let Strictness {
        tolerance,
        fields: observed_fields,
    } = strictness;
    let mut summary = Counts {
        expected_series: want.len() as u64,
        observed_series: got.len() as u64,
        ..Counts::default()
    };
    merge_join(want.iter(), got.iter(), |label, w, g| {
        let series_missing = g.is_none();
        let series_unexpected = w.is_none();
        summary.missing_series += u64::from(series_missing);
        summary.unexpected_series += u64::from(series_unexpected);
        let empty_w = Default::default();
        let empty_g = Default::default();
        let (w, g) = (w.unwrap_or(&empty_w), g.unwrap_or(&empty_g));
        merge_join(w.iter(), g.iter(), |&bucket, a, p| {
            summary.cells += 1;
            let want = a.map(expected_values);
            let got = p.map(observed_values);
            let kind = match (want, got) {
                (Some(_), Some(_)) => MismatchKind::ValuesDiffer,
                (Some(_), None) if series_missing => MismatchKind::MissingSeries,
                (Some(_), None) => MismatchKind::MissingBucket,
                (None, _) if series_unexpected => MismatchKind::UnexpectedSeries,
                (None, _) => MismatchKind::UnexpectedBucket,
            };
            let fields: Vec<ValueDiff> = Field::ALL
                .iter()
                .enumerate()
                .filter(|(_, field)| observed_fields.contains(field))
                .map(|(i, &field)| ValueDiff {
                    field,
                    expected: want.and_then(|v| v[i]),
                    observed: got.and_then(|v| v[i]),
                })
                .filter(|d| kind != MismatchKind::ValuesDiffer || differs(d, tolerance))
                .collect();
            if fields.is_empty() {
                return;
            }
            match kind {
                MismatchKind::ValuesDiffer => summary.values_differ += 1,
                MismatchKind::MissingSeries | MismatchKind::MissingBucket => {
                    summary.missing_cells += 1
                }
                _ => summary.unexpected_cells += 1,
            }
            out.push(Mismatch {
                key,
                label: label.clone(),
                bucket,
                kind,
                fields,
            });
        });
    });
    GroupSummary {
        key,
        counts: summary,
    }
}

type Values = [Option<Value>; 5];

fn expected_values(a: &Aggregate) -> Values {
    [
        Some(Value::Int(a.count)),
        Some(Value::Int(a.total)),
        Some(Value::Int(a.minimum)),
        Some(Value::Int(a.maximum)),
        Some(Value::Float(a.average())),
    ]
}

fn observed_values(p: &Point) -> Values {
    [
        p.count.map(Value::Int),
        p.total.map(Value::Int),
        p.minimum.map(Value::Int),
        p.maximum.map(Value::Int),
        p.average.map(Value::Float),
    ]
}

/// True when the two sides of `d` differ: exactly, or by more than
/// `tolerance` relative to the expected value. A missing side always differs.
fn differs(d: &ValueDiff, tolerance: Option<f64>) -> bool {
    match (d.expected, d.observed, tolerance) {
        (Some(Value::Int(e)), Some(Value::Int(o)), None) => e != o,
        (Some(e), Some(o), None) => e.as_f64() != o.as_f64(),
        (Some(e), Some(o), Some(t)) => {
            let (e, o) = (e.as_f64(), o.as_f64());
            // NaN on either side differs: it is not within any tolerance.
            let within = (o - e).abs() <= t * e.abs();
            !within
        }
        _ => true,
    }
}

/// Walks two iterators sorted by key, calling `f` once per key with the
/// value of each side that has it.
fn merge_join<'a, K: Ord + 'a, A: 'a, B: 'a>(
    left: impl Iterator<Item = (&'a K, &'a A)>,
    right: impl Iterator<Item = (&'a K, &'a B)>,
    mut f: impl FnMut(&'a K, Option<&'a A>, Option<&'a B>),
) {
    let (mut left, mut right) = (left.peekable(), right.peekable());
    loop {
        let order = match (left.peek(), right.peek()) {
            (None, None) => return,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((l, _)), Some((r, _))) => l.cmp(r),
        };
        match order {
            Ordering::Less => {
                let (k, a) = left.next().expect("peeked");
                f(k, Some(a), None);
            }
            Ordering::Greater => {
                let (k, b) = right.next().expect("peeked");
                f(k, None, Some(b));
            }
            Ordering::Equal => {
                let (k, a) = left.next().expect("peeked");
                let (_, b) = right.next().expect("peeked");
                f(k, Some(a), Some(b));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(e: Value, o: Value) -> ValueDiff {
        ValueDiff {
            field: Field::Count,
            expected: Some(e),
            observed: Some(o),
        }
    }

    #[test]
    fn exact_and_tolerant() {
        use Value::*;
        assert!(!differs(&diff(Int(1200), Int(1200)), None));
        assert!(differs(&diff(Int(1200), Int(1199)), None));
        assert!(differs(&diff(Int(u64::MAX), Int(u64::MAX - 1)), None));
        assert!(!differs(&diff(Int(1200), Int(1199)), Some(0.001)));
        assert!(differs(&diff(Int(1000), Int(998)), Some(0.001)));
        assert!(differs(&diff(Float(1.0), Float(1.0 + f64::EPSILON)), None));
        assert!(differs(&diff(Float(1.0), Float(f64::NAN)), Some(0.5)));
        let missing = ValueDiff {
            observed: None,
            ..diff(Int(1), Int(1))
        };
        assert!(differs(&missing, Some(1.0)));
    }
}
