//! `generate --format promtool`: a `promtool test rules` input file
//! (promtool-tests.yml) whose `input_series` are the scenario's counters as
//! `run --target remote-write` writes them (the same metric names and
//! labels, cumulative, one sample every `--sample-interval` of event time),
//! in promtool's expanding notation, plus a `promql_expr_test` per series
//! asserting its exact total at the last sample. A team adds its own
//! `rule_files` and `alert_rule_test`s and unit-tests its recording and
//! alerting rules offline against realistic ACS traffic.
//!
//! promtool's time starts at 0: sample `i` is at `i * interval`, the first
//! at the start of the sample interval holding the first event, so every
//! series starts at 0 and sample `i` counts the events before the `i`th
//! boundary, as a scraped counter would.

use crate::catalog::{Dimension, Metric};
use crate::model::{Aggregate, AggregateTable, Series};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

/// Writes the test file of `samples` (the events aggregated at the sample
/// interval).
pub(super) fn write_tests(out: &mut dyn Write, samples: &AggregateTable) -> io::Result<()> {
    let interval = samples.grain();
    let step = interval.millis();
    let Some((first, last)) = samples.time_range() else {
        return out.write_all(b"rule_files: []\ntests: []\n");
    };
    let origin = interval.bucket(first);
    // Boundaries 0..=n: the last one closes the last event's interval.
    let n = ((interval.bucket(last) - origin) / step + 1) as usize;
    let seconds = step / 1000;
    let mut text = String::new();
    let _ = write!(
        text,
        "# callmetrics: the scenario's counters, as remote write sends them, for\n\
         # `promtool test rules`. Add your rule files and tests.\n\
         rule_files: []\n\
         evaluation_interval: {seconds}s\n\
         tests:\n\
         \x20 - interval: {seconds}s\n\
         \x20   input_series:\n"
    );
    let mut checks = String::new();
    for (series, buckets) in samples.sorted() {
        for (name, value) in counters(series) {
            let selector = selector(name, &series.dimension_values());
            let values = cumulative(&buckets, origin, step, n, value);
            let _ = writeln!(
                text,
                "      - series: '{selector}'\n        values: '{}'",
                expanding(&values)
            );
            let _ = writeln!(
                checks,
                "      - expr: '{selector}'\n        eval_time: {}s\n        exp_samples:\n          - labels: '{selector}'\n            value: {}",
                n as i64 * seconds,
                values[n]
            );
        }
    }
    text.push_str("    promql_expr_test:\n");
    text.push_str(&checks);
    out.write_all(text.as_bytes())
}

/// Which number of an aggregate a counter adds up.
type Counted = fn(&Aggregate) -> u64;

/// The counters one series is: its metric's, or the latency summary's
/// `_count` and `_sum`, each with the aggregate's number it adds up.
fn counters(series: Series) -> Vec<(String, Counted)> {
    let metric = series.metric();
    let name = metric.prometheus_name();
    if metric == Metric::ApiRequestLatency {
        vec![
            (format!("{name}_count"), |a: &Aggregate| a.count),
            (format!("{name}_sum"), |a: &Aggregate| a.total),
        ]
    } else {
        vec![(name.to_string(), |a: &Aggregate| a.count)]
    }
}

/// `name{label="value",...}`, labels sorted, values escaped for PromQL
/// and for the single-quoted YAML around it.
fn selector(name: String, dims: &[(Dimension, String)]) -> String {
    let mut labels: Vec<(&str, String)> = dims
        .iter()
        .map(|(d, v)| {
            let escaped = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\'', "''");
            (d.prometheus_label(), escaped)
        })
        .collect();
    labels.sort();
    let inside: Vec<String> = labels.iter().map(|(l, v)| format!("{l}=\"{v}\"")).collect();
    format!("{name}{{{}}}", inside.join(","))
}

/// The counter at boundaries 0..=n: boundary `i` counts what came before
/// `origin + i * step`.
fn cumulative(
    buckets: &BTreeMap<i64, Aggregate>,
    origin: i64,
    step: i64,
    n: usize,
    value: Counted,
) -> Vec<u64> {
    let mut per_interval = vec![0u64; n];
    for (&bucket, aggregate) in buckets {
        let i = ((bucket - origin) / step) as usize;
        if let Some(slot) = per_interval.get_mut(i) {
            *slot += value(aggregate);
        }
    }
    let mut values = Vec::with_capacity(n + 1);
    let mut total = 0u64;
    values.push(0);
    for added in per_interval {
        total += added;
        values.push(total);
    }
    values
}

/// promtool's expanding notation: runs of a constant step as `a+bxn` (n
/// more values after `a`), constant runs as `axn`, single values as they
/// are.
fn expanding(values: &[u64]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let start = values[i];
        let mut j = i;
        if i + 1 < values.len() {
            let step = values[i + 1] - start;
            while j + 1 < values.len() && values[j + 1] - values[j] == step {
                j += 1;
            }
            match (j - i, step) {
                (0, _) => parts.push(start.to_string()),
                (n, 0) => parts.push(format!("{start}x{n}")),
                (n, step) => parts.push(format!("{start}+{step}x{n}")),
            }
        } else {
            parts.push(start.to_string());
        }
        i = j + 1;
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// promtool's own reading of the notation, for the round trip.
    fn expand(text: &str) -> Vec<u64> {
        let mut out = Vec::new();
        for part in text.split(' ') {
            match part.split_once('x') {
                None => out.push(part.parse().unwrap()),
                Some((head, n)) => {
                    let n: u64 = n.parse().unwrap();
                    let (start, step) = match head.split_once('+') {
                        Some((a, b)) => (a.parse::<u64>().unwrap(), b.parse::<u64>().unwrap()),
                        None => (head.parse().unwrap(), 0),
                    };
                    out.extend((0..=n).map(|k| start + k * step));
                }
            }
        }
        out
    }

    #[test]
    fn counters_are_written_in_expanding_notation_that_reads_back() {
        assert_eq!(expanding(&[0, 0, 0, 3, 5, 7, 9, 9]), "0x2 3+2x3 9");
        assert_eq!(expanding(&[0]), "0");
        assert_eq!(expanding(&[0, 4]), "0+4x1");
        for values in [
            vec![0, 1, 2, 3, 10, 10, 10, 11],
            vec![0, 5, 5, 6, 8, 8, 8, 8, 20],
            vec![0, 0],
        ] {
            assert_eq!(expand(&expanding(&values)), values, "{values:?}");
        }
    }

    #[test]
    fn boundaries_count_what_came_before_them() {
        let a = |count| Aggregate {
            count,
            total: count,
            minimum: 1,
            maximum: 1,
        };
        let buckets = BTreeMap::from([(0, a(2)), (30_000, a(5))]);
        assert_eq!(
            cumulative(&buckets, 0, 15_000, 3, |a| a.count),
            [0, 2, 2, 7]
        );
    }

    #[test]
    fn selectors_sort_and_escape_labels() {
        let dims = vec![
            (Dimension::StatusCode, "200".to_string()),
            (Dimension::Operation, "Say \"hi\" it's".to_string()),
        ];
        assert_eq!(
            selector("m".into(), &dims),
            r#"m{operation="Say \"hi\" it''s",status_code="200"}"#
        );
    }
}
