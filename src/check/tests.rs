//! The check against in-memory sinks: each test gives the checker a sink
//! that is wrong in one specific way and asserts the exact mismatches, so
//! a checker that missed (or invented) a difference fails here.

use super::fixture::*;
use super::report::{Field, MismatchKind, Value, ValueDiff};
use super::*;
use crate::catalog::{Dimension, Metric, Naming};
use crate::wire::metrics_response::MetricSeries;

fn pt5m() -> Grain {
    "PT5M".parse().unwrap()
}

type Tamper = fn(&Query, &mut MetricsResponse);
type Edit = fn(&mut MetricsResponse);

fn exact() -> CheckOptions {
    CheckOptions::default()
}

fn key(metric: Metric, grain: Grain, split: Split) -> GroupKey {
    GroupKey {
        totals: false,
        metric,
        grain,
        split,
    }
}

/// The fixture with `edit` applied to the series of `metric`.
fn changed(metric: Metric, edit: impl FnOnce(&mut MetricSeries)) -> MetricsResponse {
    let mut metrics = metrics();
    if let Some((_, series)) = metrics.iter_mut().find(|(m, _)| *m == metric) {
        edit(series);
    }
    response(&metrics, Naming::Azure)
}

fn kinds(report: &Report) -> Vec<(Split, MismatchKind)> {
    report
        .mismatches
        .iter()
        .map(|m| (m.key.split, m.kind))
        .collect()
}

#[test]
fn identical_data_passes() {
    let expected = expected();
    let report = run(&expected, &Reference::new(&expected).unwrap(), &exact()).unwrap();
    assert!(report.passed(), "{report:#?}");
    // 3 metrics: full + 4 or 5 single dimensions + total.
    assert_eq!(report.groups.len(), 6 + 6 + 7);
    let full = &report.groups[0];
    assert_eq!(
        full.key,
        key(Metric::ApiRequests, Grain::MINUTE, Split::Full)
    );
    assert_eq!(
        (
            full.counts.expected_series,
            full.counts.observed_series,
            full.counts.cells
        ),
        (3, 3, 6)
    );
    let total = &report.groups[5];
    assert_eq!(total.key.split, Split::Total);
    assert_eq!((total.counts.expected_series, total.counts.cells), (1, 5));
}

#[test]
fn one_count_off_by_one_is_exactly_that_mismatch() {
    let expected = expected();
    let sink = sink(&expected, |q, answer| {
        if q.metric == Metric::ApiRequests && q.split == Split::Full {
            edit_point(
                answer,
                &[("Operation", "Play"), ("StatusCode", "202")],
                0,
                |p| p.count = Some(1199),
            );
        }
    });
    let report = run(&expected, &sink, &exact()).unwrap();
    assert!(!report.passed());
    assert_eq!(
        report.mismatches,
        vec![Mismatch {
            key: key(Metric::ApiRequests, Grain::MINUTE, Split::Full),
            label: request("Play", "202", "2xx"),
            bucket: T0,
            kind: MismatchKind::ValuesDiffer,
            fields: vec![ValueDiff {
                field: Field::Count,
                expected: Some(Value::Int(1200)),
                observed: Some(Value::Int(1199)),
            }],
        }]
    );
    assert_eq!(report.totals().values_differ, 1);
}

#[test]
fn a_missing_series_is_reported_in_every_grouping() {
    let expected = expected();
    let data = changed(Metric::ApiRequests, |s| {
        s.remove(&request("Play", "429", "4xx"));
    });
    let report = run(&expected, &Reference::new(&data).unwrap(), &exact()).unwrap();
    use MismatchKind::*;
    use Split::*;
    assert_eq!(
        kinds(&report),
        [
            (Full, MissingSeries),
            (One(Dimension::Operation), MissingBucket), // Play has other minutes
            (One(Dimension::StatusCode), MissingSeries),
            (One(Dimension::StatusCodeClass), MissingSeries),
            (One(Dimension::ApiVersion), MissingBucket),
            (Total, MissingBucket),
        ]
    );
    let first = &report.mismatches[0];
    assert_eq!(first.label, request("Play", "429", "4xx"));
    assert_eq!(first.bucket, T0 + 4 * MINUTE);
    assert_eq!(first.fields.len(), 5);
    assert!(first.fields.iter().all(|f| f.observed.is_none()));
    assert_eq!(first.fields[0].expected, Some(Value::Int(12)));
    let totals = report.totals();
    assert_eq!((totals.missing_series, totals.missing_cells), (3, 6));
    // The report's charts see the same 12 events missing, and nothing else.
    let traffic = &report.traffic[0];
    assert_eq!(traffic.metric, Metric::ApiRequests);
    let seen = |c: &Counted| (c.expected, c.observed);
    let minutes: Vec<(i64, (u64, Option<u64>))> = traffic
        .buckets
        .iter()
        .map(|(&ms, c)| ((ms - T0) / MINUTE, seen(c)))
        .collect();
    assert_eq!(
        minutes,
        [
            (0, (1250, Some(1250))),
            (1, (900, Some(900))),
            (3, (7, Some(7))),
            (4, (12, Some(0))),
            (5, (10, Some(10))),
        ]
    );
    // Marked where the check found mismatches, nowhere else.
    let marked: Vec<i64> = traffic
        .buckets
        .iter()
        .filter(|(_, c)| c.differs)
        .map(|(&ms, _)| (ms - T0) / MINUTE)
        .collect();
    assert_eq!(marked, [4]);
    let (dimension, codes) = &traffic.dimensions[1];
    assert_eq!(*dimension, Dimension::StatusCode);
    assert_eq!(seen(&codes["429"]), (12, Some(0)));
    assert_eq!(seen(&codes["202"]), (2110, Some(2110)));
    assert!(codes["429"].differs && !codes["202"].differs);
    assert_eq!(report.traffic.len(), 3, "one per compared metric");
}

#[test]
fn an_unexpected_series_is_reported() {
    let expected = expected();
    let data = changed(Metric::ApiRequests, |s| {
        let extra = series(vec![(
            request("Play", "500", "5xx"),
            vec![(2, agg(1, 1, 1, 1))],
        )]);
        s.extend(extra);
    });
    let report = run(&expected, &Reference::new(&data).unwrap(), &exact()).unwrap();
    use MismatchKind::*;
    use Split::*;
    assert_eq!(
        kinds(&report),
        [
            (Full, UnexpectedSeries),
            (One(Dimension::Operation), UnexpectedBucket),
            (One(Dimension::StatusCode), UnexpectedSeries),
            (One(Dimension::StatusCodeClass), UnexpectedSeries),
            (One(Dimension::ApiVersion), UnexpectedBucket),
            (Total, UnexpectedBucket),
        ]
    );
    assert!(
        report.mismatches[0]
            .fields
            .iter()
            .all(|f| f.expected.is_none())
    );
    assert_eq!(report.totals().unexpected_series, 3);
}

#[test]
fn wrong_marginals_fail_even_when_the_full_combinations_are_right() {
    let expected = expected();
    let sink = sink(&expected, |q, answer| {
        if q.split == Split::One(Dimension::Operation) {
            edit_point(answer, &[("Operation", "Play")], 1, |p| p.total = Some(901));
        }
    });
    let report = run(&expected, &sink, &exact()).unwrap();
    let failed: Vec<GroupKey> = report
        .groups
        .iter()
        .filter(|g| !g.passed())
        .map(|g| g.key)
        .collect();
    assert_eq!(
        failed,
        [
            key(
                Metric::ApiRequests,
                Grain::MINUTE,
                Split::One(Dimension::Operation)
            ),
            key(
                Metric::ApiRequestLatency,
                Grain::MINUTE,
                Split::One(Dimension::Operation)
            ),
        ]
    );
}

#[test]
fn a_sink_that_ignores_the_split_fails_marginals_and_totals() {
    let expected = expected();
    let reference = Reference::new(&expected).unwrap();
    let sink = sink(&expected, move |q, answer| {
        *answer = reference.answer(&Query {
            split: Split::Full,
            ..*q
        });
    });
    let report = run(&expected, &sink, &exact()).unwrap();
    for g in &report.groups {
        assert_eq!(g.passed(), g.key.split == Split::Full, "{g:?}");
    }
}

#[test]
fn coarser_grains_are_rolled_up_from_the_file() {
    let metrics = metrics();
    let full = Metric::ApiRequests.dimensions();
    let ones = |n| agg(n, n, 1, 1);
    assert_eq!(
        expected::regroup(&metrics[0].1, pt5m(), full),
        series(vec![
            (
                request("Play", "202", "2xx"),
                vec![(0, ones(2100)), (5, ones(10))]
            ),
            (request("Play", "429", "4xx"), vec![(0, ones(12))]),
            (request("Create Call", "201", "2xx"), vec![(0, ones(57))]),
        ])
    );
    let latency = expected::regroup(&metrics[1].1, pt5m(), &[]);
    assert_eq!(
        latency,
        series(vec![(
            vec![],
            vec![(0, agg(2169, 99_041, 5, 300)), (5, agg(10, 433, 20, 90))]
        )])
    );

    // A sink that answers PT5M with its PT1M buckets fails at PT5M only.
    let expected = expected();
    let reference = Reference::new(&expected).unwrap();
    let sink = sink(&expected, move |q, answer| {
        if q.grain == pt5m() {
            *answer = reference.answer(&Query {
                grain: Grain::MINUTE,
                ..*q
            });
            answer.interval = "PT5M".into();
        }
    });
    let options = CheckOptions {
        grains: vec![pt5m(), Grain::MINUTE, pt5m()],
        tolerance: None,
        totals: false,
    };
    let report = run(&expected, &sink, &options).unwrap();
    assert_eq!(report.grains, [Grain::MINUTE, pt5m()]);
    assert_eq!(report.groups.len(), 2 * 19);
    for g in &report.groups {
        assert_eq!(g.passed(), g.key.grain == Grain::MINUTE, "{g:?}");
    }
    let good = run(&expected, &Reference::new(&expected).unwrap(), &options).unwrap();
    assert!(good.passed());
}

#[test]
fn tolerance_lets_small_differences_through_and_is_printed() {
    let expected = expected();
    let off_by = |n: u64| {
        sink(&expected, move |q, answer| {
            if q.metric == Metric::ApiRequests && q.split == Split::Full {
                edit_point(
                    answer,
                    &[("Operation", "Play"), ("StatusCode", "202")],
                    0,
                    |p| p.count = Some(1200 - n),
                );
            }
        })
    };
    let tolerant = CheckOptions {
        grains: vec![],
        tolerance: Some(0.001),
        totals: false,
    };
    let report = run(&expected, &off_by(1), &tolerant).unwrap(); // 0.083%
    assert!(report.passed());
    assert_eq!(report.tolerance_text(), "tolerance 0.001 (0.1%)");
    let mut table = Vec::new();
    report.render(ReportFormat::Table, 20, &mut table).unwrap();
    assert!(
        String::from_utf8(table)
            .unwrap()
            .contains("tolerance 0.001 (0.1%)")
    );

    assert!(!run(&expected, &off_by(1), &exact()).unwrap().passed());
    assert!(!run(&expected, &off_by(3), &tolerant).unwrap().passed()); // 0.25%

    // A missing series fails whatever the tolerance.
    let data = changed(Metric::ApiRequests, |s| {
        s.remove(&request("Play", "429", "4xx"));
    });
    let lenient = CheckOptions {
        grains: vec![],
        tolerance: Some(0.5),
        totals: false,
    };
    assert!(
        !run(&expected, &Reference::new(&data).unwrap(), &lenient)
            .unwrap()
            .passed()
    );

    for bad in [-0.1, f64::NAN, f64::INFINITY] {
        let options = CheckOptions {
            grains: vec![],
            tolerance: Some(bad),
            totals: false,
        };
        let err = run(&expected, &off_by(0), &options).unwrap_err();
        assert!(matches!(err, CheckError::Tolerance(_)), "{err}");
    }
}

#[test]
fn an_expected_file_without_series_is_an_error() {
    let none = response(&[], Naming::Azure);
    let empty_metrics = response(
        &Metric::ALL
            .iter()
            .map(|&m| (m, MetricSeries::new()))
            .collect::<Vec<_>>(),
        Naming::Azure,
    );
    for expected in [none, empty_metrics] {
        let reference = Reference::new(&expected).unwrap();
        let err = run(&expected, &reference, &exact()).unwrap_err();
        assert!(matches!(err, CheckError::NoSeries), "{err}");
    }
}

struct Refusing;

impl Observed for Refusing {
    async fn query(&self, query: &Query) -> Result<ObservedSeries, CheckError> {
        Err(CheckError::Sink {
            backend: super::BackendName::Sink,
            query: query.to_string(),
            status: 400,
            code: ", BadRequest".into(),
            message: "unknown dimension 'StatusSubClass'".into(),
            hint: String::new(),
        })
    }
}

#[test]
fn a_refused_query_is_an_error_with_the_sinks_message() {
    let err = run(&expected(), &Refusing, &exact()).unwrap_err();

    assert_eq!(
        err.to_string(),
        "the sink rejected the query for APIRequestCallAutomation at PT1M by Operation, \
         StatusCode, StatusCodeClass, ApiVersion (HTTP 400, BadRequest): unknown dimension \
         'StatusSubClass'"
    );
}

#[test]
fn unusable_answers_are_errors_not_mismatches() {
    let expected = expected();
    let cases: [(&str, Tamper); 4] = [
        ("no metric named", |_, a| a.value.clear()),
        ("asked for interval PT1M", |_, a| a.interval = "PT5M".into()),
        ("has no dimension \"Colour\"", |_, a| {
            if let Some(ts) = a.value[0].timeseries.first_mut()
                && let Some(m) = ts.metadatavalues.first_mut()
            {
                m.name.value = "Colour".into();
            }
        }),
        ("a series lists bucket", |_, a| {
            let ts = &mut a.value[0].timeseries[0];
            ts.data.push(ts.data[0].clone());
        }),
    ];
    for (message, tamper) in cases {
        let err = run(&expected, &sink(&expected, tamper), &exact()).unwrap_err();
        assert!(matches!(err, CheckError::Protocol { .. }), "{err}");
        assert!(err.to_string().contains(message), "{err}");
    }
}

// Issue #17: a series listed twice is summed, as the sink's grouping would
// have, and compared: its cells show twice the expected counts.
#[test]
fn a_series_listed_twice_is_summed_into_a_mismatch() {
    let expected = expected();
    let doubled = sink(&expected, |_, a| {
        let ts = a.value[0].timeseries[0].clone();
        a.value[0].timeseries.push(ts);
    });
    let report = run(&expected, &doubled, &exact()).unwrap();
    assert!(!report.passed());
    let first = &report.mismatches[0];
    assert_eq!(first.kind, MismatchKind::ValuesDiffer);
    let count = first
        .fields
        .iter()
        .find(|d| d.field == Field::Count)
        .unwrap();
    let (Some(Value::Int(want)), Some(Value::Int(got))) = (count.expected, count.observed) else {
        panic!("{first:?}");
    };
    assert_eq!(got, 2 * want, "{first:?}");
}

#[test]
fn grains_must_be_multiples_of_the_files_grain() {
    let expected = expected();
    let options = CheckOptions {
        grains: vec!["PT30S".parse().unwrap()],
        tolerance: None,
        totals: false,
    };
    let err = run(&expected, &Reference::new(&expected).unwrap(), &options).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--grain PT30S is not a whole multiple of the expected file's grain PT1M"
    );
}

#[test]
fn both_namings_are_read_and_the_files_is_reported() {
    let expected = response(&metrics(), Naming::Overview);
    assert!(
        serde_json::to_string(&expected)
            .unwrap()
            .contains("StatusSubClass")
    );
    let report = run(&expected, &Reference::new(&expected).unwrap(), &exact()).unwrap();
    assert!(report.passed());
    assert_eq!(report.naming, Naming::Overview);
}

#[test]
fn malformed_expected_files_are_errors() {
    let cases: [(&str, Edit); 5] = [
        ("unknown metric", |r| r.value[0].name.value = "Calls".into()),
        ("lists 3 of its 4 dimensions", |r| {
            r.value[0].timeseries[0].metadatavalues.pop();
        }),
        ("not the start of a PT1M bucket", |r| {
            r.value[0].timeseries[0].data[0].time_stamp = "2026-01-01T00:00:30Z".into()
        }),
        ("no count", |r| {
            r.value[0].timeseries[0].data[0].count = None
        }),
        // Issue #9, item 10: sums of a user's file must not wrap.
        ("add up past 2^64-1", |r| {
            for ts in &mut r.value[0].timeseries {
                ts.data[0].total = Some(u64::MAX / 2 + 1);
            }
        }),
    ];
    for (message, edit) in cases {
        let mut expected = expected();
        edit(&mut expected);
        let err = ExpectedData::from_response(&expected).unwrap_err();
        assert!(err.to_string().contains(message), "{err}");
    }
}

#[test]
fn mismatches_come_sorted() {
    let expected = expected();
    let data = changed(Metric::CallbackEvents, |s| {
        s.clear();
        s.extend(series(vec![(
            callback("PlayCompleted", "200", "2xx", "0"),
            vec![(0, agg(1, 1, 1, 1)), (4, agg(1, 1, 1, 1))],
        )]));
    });
    let report = run(&expected, &Reference::new(&data).unwrap(), &exact()).unwrap();
    assert!(report.mismatches.len() > 10);
    let order: Vec<_> = report
        .mismatches
        .iter()
        .map(|m| (m.key, &m.label, m.bucket))
        .collect();
    assert!(order.is_sorted());
    assert_eq!(report.totals().mismatches(), report.mismatches.len() as u64);
}

/// Fails the queries of one metric, at whatever point they are reached.
struct FailsFor(Metric);

impl Observed for FailsFor {
    async fn query(&self, query: &Query) -> Result<ObservedSeries, CheckError> {
        if query.metric == self.0 {
            return Err(CheckError::Protocol {
                query: query.to_string(),
                reason: "broken".into(),
            });
        }
        Reference::new(&expected())?.query(query).await
    }
}

#[test]
fn the_first_failing_query_in_order_is_reported() {
    // The metrics the fixture's expected file holds.
    for metric in &[
        Metric::ApiRequests,
        Metric::ApiRequestLatency,
        Metric::CallbackEvents,
    ] {
        let err = run(&expected(), &FailsFor(*metric), &exact()).unwrap_err();
        let first = format!("{metric} at PT1M by ");
        assert!(err.to_string().contains(&first), "{metric}: {err}");
    }
}

// Issue #9, item 13: the sink caps answers, so check asks for long windows
// in pieces; the pieces' answers must add up to the whole, with nothing
// lost or doubled at their seams.
#[test]
fn a_long_window_is_checked_in_pieces_without_losing_a_bucket() {
    let rows: Vec<(
        crate::wire::metrics_response::SeriesLabel,
        Vec<(i64, crate::model::Aggregate)>,
    )> = (1..=26)
        .map(|sub| {
            let label = callback("PlayFailed", "400", "4xx", &sub.to_string());
            (label, (0..1_000).map(|m| (m, agg(1, 1, 1, 1))).collect())
        })
        .collect();
    assert!(rows.len() * 1_000 > query::POINTS_PER_QUERY);
    let data = response(&[(Metric::CallbackEvents, series(rows))], Naming::Azure);
    let pieces = std::sync::atomic::AtomicUsize::new(0);
    let observed = sink(&data, |q: &Query, answer: &mut MetricsResponse| {
        if q.split == Split::Full {
            pieces.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        // One wrong cell, in the second piece of the full combinations.
        edit_point(answer, &[("SubCode", "7")], 980, |p| p.count = Some(2));
    });
    let report = run(&data, &observed, &exact()).unwrap();
    assert_eq!(pieces.load(std::sync::atomic::Ordering::Relaxed), 2);
    assert!(!report.mismatches.is_empty());
    assert!(
        report
            .mismatches
            .iter()
            .all(|m| m.kind == MismatchKind::ValuesDiffer && m.bucket == T0 + 980 * MINUTE),
        "{:?}",
        report.mismatches.iter().take(3).collect::<Vec<_>>()
    );
}
