//! Cell-by-cell comparison of one group (metric, grain, split): a merge of
//! the two sorted sides, series by series and bucket by bucket, so it is
//! linear in the number of cells and yields mismatches already sorted.
//! Every mismatch is kept; the renderers decide how many to show.

use super::observed::{ObservedSeries, Point};
use super::report::{
    AVERAGE_ULPS, Counts, Field, GroupKey, GroupSummary, Mismatch, MismatchKind, Value, ValueDiff,
};
use crate::model::Aggregate;
use crate::wire::metrics_response::MetricSeries;
use std::cmp::Ordering;

/// How strictly cells are compared.
#[derive(Clone, Copy, Debug)]
pub(super) struct Strictness {
    /// Relative tolerance, or `None` for exact.
    pub tolerance: Option<f64>,
    /// The aggregations the backend observes; the others are not compared.
    pub fields: &'static [Field],
}

/// Compares `want` with `got`, appending every failed cell to `out`.
pub(super) fn group(
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

/// True when the two sides of `d` differ: whole numbers exactly, averages
/// by more than [`AVERAGE_ULPS`], or either by more than `tolerance`
/// relative to the expected value. A missing side always differs.
fn differs(d: &ValueDiff, tolerance: Option<f64>) -> bool {
    let (Some(e), Some(o)) = (d.expected, d.observed) else {
        return true;
    };
    if let (Value::Float(e), Value::Float(o)) = (e, o)
        && ulps_apart(e, o) <= AVERAGE_ULPS
    {
        return false;
    }
    match (e, o, tolerance) {
        (Value::Int(e), Value::Int(o), None) => e != o,
        (e, o, None) => e.as_f64() != o.as_f64(),
        (e, o, Some(t)) => {
            let (e, o) = (e.as_f64(), o.as_f64());
            // NaN on either side differs: it is not within any tolerance.
            let within = (o - e).abs() <= t * e.abs();
            !within
        }
    }
}

/// How many floats lie between `a` and `b` (0 when equal, +0 and -0 too);
/// `u64::MAX` when either is not finite and they are not equal.
fn ulps_apart(a: f64, b: f64) -> u64 {
    if !(a.is_finite() && b.is_finite()) {
        return if a == b { 0 } else { u64::MAX };
    }
    // The bit patterns of finite floats, negatives mirrored below zero,
    // count up by one per representable value.
    let key = |x: f64| {
        let bits = x.to_bits() as i64;
        if bits < 0 { i64::MIN - bits } else { bits }
    };
    key(a).abs_diff(key(b))
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
        assert!(differs(&diff(Float(1.0), Float(f64::NAN)), Some(0.5)));
        let missing = ValueDiff {
            observed: None,
            ..diff(Int(1), Int(1))
        };
        assert!(differs(&missing, Some(1.0)));
    }

    // Issue #17: averages were compared bit for bit, so a backend that
    // divides in another order failed a correct cell.
    #[test]
    fn averages_pass_within_a_few_ulp_and_the_rest_exactly() {
        use Value::*;
        let up = |x: f64, n: u64| f64::from_bits(x.to_bits() + n);
        let third = 1.0 / 3.0;
        assert!(!differs(&diff(Float(third), Float(up(third, 1))), None));
        assert!(!differs(&diff(Float(third), Float(up(third, 4))), None));
        assert!(differs(&diff(Float(third), Float(up(third, 5))), None));
        assert!(!differs(&diff(Float(up(third, 4)), Float(third)), None));
        // Sums in another order: (0.1 + 0.2) + 0.3 is not 0.1 + (0.2 + 0.3).
        assert!(!differs(
            &diff(
                Float((0.1 + 0.2 + 0.3) / 3.0),
                Float((0.1 + (0.2 + 0.3)) / 3.0)
            ),
            None
        ));
        assert!(!differs(&diff(Float(0.0), Float(-0.0)), None));
        assert!(differs(&diff(Float(1.0), Float(-1.0)), None));
        assert!(differs(&diff(Float(f64::MAX), Float(f64::INFINITY)), None));
        // Whole numbers stay exact, however large.
        assert!(differs(&diff(Int(1 << 60), Int((1 << 60) + 1)), None));
        assert_eq!(ulps_apart(-f64::MIN_POSITIVE, f64::MIN_POSITIVE), 2 << 52);
    }
}
