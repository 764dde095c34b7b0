//! Pass/fail criteria of a stress test, judged over a run's [`Stats`] once
//! it ended (`run --threshold`, as k6's thresholds): `latency.p99<250ms`,
//! `failed<0.1%`, `events/s>=2000`; and how many failed requests a run may
//! have before it is an error (`run --max-failed`).
//!
//! Both are parsed when the command line is, so a typo is a usage error
//! (exit 2, with the closest name) before anything is sent: a threshold
//! that silently judged nothing would pass every run.

use super::stats::{Stats, millis};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// One `--threshold NAME OP VALUE`.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// As given, spaces removed: how the summary and reports name it.
    expression: String,
    measure: Measure,
    op: Op,
    limit: Limit,
}

/// What a threshold reads from the stats.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Measure {
    /// A count (or with `%`, its share of the requests or events sent).
    Count(Counted),
    /// Request latency at a quantile (0..=1).
    Latency(f64),
    /// Dispatch lag at a quantile (0..=1).
    Lag(f64),
    EventsPerSec,
    RequestsPerSec,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Counted {
    FailedRequests,
    FailedEvents,
    DeliveredRequests,
    DeliveredEvents,
    Retries,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

/// The value compared with, in the unit it was given in.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Limit {
    Duration(Duration),
    /// A share, 0..=100.
    Percent(f64),
    Number(f64),
}

/// Why a `--threshold` or `--max-failed` is refused (clap prints it after
/// the flag's value); `text` is the value as given.
#[derive(Debug, thiserror::Error)]
pub enum ThresholdError {
    #[error("{0:?} has no comparison: write NAME<VALUE, e.g. latency.p99<250ms")]
    NoComparison(String),
    #[error("{0:?}: compare with <, <=, >, >= or ==")]
    NoOperator(String),
    #[error("{text:?} names nothing before {rest:?}")]
    NoName { text: String, rest: String },
    #[error(
        "unknown threshold name {name:?}; {}known: failed, failed.events, delivered, \
         delivered.events, retries, latency.p50 (p90, p99, p99.9, any pN, max), lag.p50 (...), \
         events/s, requests/s",
        suggestion.map_or(String::new(), |known| format!("did you mean {known}? "))
    )]
    UnknownName {
        name: String,
        suggestion: Option<&'static str>,
    },
    #[error("{text:?}: {value:?} is not a number (with a unit: 250ms, 0.1%, 1000)")]
    NotANumber { text: String, value: String },
    #[error("{text:?}: {value} is more than 100%")]
    OverAHundredPercent { text: String, value: String },
    #[error("{text:?}: unknown unit {unit:?}: durations take us, ms or s, shares %")]
    UnknownUnit { text: String, unit: String },
    #[error("{text:?}: {name} is a duration: give a unit (us, ms, s), e.g. 250ms")]
    NeedsUnit { text: String, name: String },
    #[error("{text:?}: {name} is a count or a share (e.g. 10 or 0.1%), not a duration")]
    NotACount { text: String, name: String },
    #[error("{text:?}: {name} is a number per second, e.g. {name}>=1000")]
    NotARate { text: String, name: String },
    #[error("{0:?}: give a number of requests (10) or a share (0.5%)")]
    MaxFailed(String),
    #[error("{0:?}: a share is between 0% and 100%")]
    MaxFailedShare(String),
}

/// Names offered when a name is not known.
const SUGGESTED: &[&str] = &[
    "failed",
    "failed.events",
    "delivered",
    "delivered.events",
    "retries",
    "latency.p50",
    "latency.p90",
    "latency.p99",
    "latency.p99.9",
    "latency.max",
    "lag.p50",
    "lag.p90",
    "lag.p99",
    "lag.p99.9",
    "lag.max",
    "events/s",
    "requests/s",
];

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(text: &str) -> Result<Threshold, ThresholdError> {
        let expression: String = text.split_whitespace().collect();
        let at = expression
            .find(['<', '>', '='])
            .ok_or_else(|| ThresholdError::NoComparison(text.to_string()))?;
        let (name, rest) = expression.split_at(at);
        let (op, value) = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .into_iter()
        .find_map(|(token, op)| rest.strip_prefix(token).map(|value| (op, value)))
        .ok_or_else(|| ThresholdError::NoOperator(text.to_string()))?;
        if name.is_empty() {
            return Err(ThresholdError::NoName {
                text: text.to_string(),
                rest: rest.to_string(),
            });
        }
        let measure = measure(name)?;
        let limit = limit(text, value)?;
        let (text, name) = (text.to_string(), name.to_string());
        match (measure, limit) {
            (Measure::Latency(_) | Measure::Lag(_), Limit::Duration(_))
            | (Measure::Count(_), Limit::Number(_) | Limit::Percent(_))
            | (Measure::EventsPerSec | Measure::RequestsPerSec, Limit::Number(_)) => {}
            (Measure::Latency(_) | Measure::Lag(_), _) => {
                return Err(ThresholdError::NeedsUnit { text, name });
            }
            (Measure::Count(_), Limit::Duration(_)) => {
                return Err(ThresholdError::NotACount { text, name });
            }
            (Measure::EventsPerSec | Measure::RequestsPerSec, _) => {
                return Err(ThresholdError::NotARate { text, name });
            }
        }
        Ok(Threshold {
            expression,
            measure,
            op,
            limit,
        })
    }
}

fn measure(name: &str) -> Result<Measure, ThresholdError> {
    let counted = match name {
        "failed" => Some(Counted::FailedRequests),
        "failed.events" => Some(Counted::FailedEvents),
        "delivered" => Some(Counted::DeliveredRequests),
        "delivered.events" => Some(Counted::DeliveredEvents),
        "retries" => Some(Counted::Retries),
        _ => None,
    };
    if let Some(counted) = counted {
        return Ok(Measure::Count(counted));
    }
    match name {
        "events/s" => return Ok(Measure::EventsPerSec),
        "requests/s" => return Ok(Measure::RequestsPerSec),
        _ => {}
    }
    let timed = name
        .strip_prefix("latency.")
        .map(|at| (at, Measure::Latency as fn(f64) -> Measure))
        .or_else(|| name.strip_prefix("lag.").map(|at| (at, Measure::Lag as _)));
    if let Some((at, of)) = timed
        && let Some(q) = quantile(at)
    {
        return Ok(of(q));
    }
    let suggestion = SUGGESTED
        .iter()
        .map(|known| (strsim::jaro_winkler(name, known), *known))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, known)| known);
    Err(ThresholdError::UnknownName {
        name: name.to_string(),
        suggestion,
    })
}

/// `p99.9` -> 0.999, `max` -> 1; None for anything else.
fn quantile(text: &str) -> Option<f64> {
    if text == "max" {
        return Some(1.0);
    }
    let percent: f64 = text.strip_prefix('p')?.parse().ok()?;
    // Rounded so that p99.9 is the 0.999 the summary's percentiles use,
    // not 0.9990000000000001.
    (percent > 0.0 && percent <= 100.0).then(|| (percent * 1e10).round() / 1e12)
}

/// `250ms`, `0.1%`, `1000`: the `value` of the threshold `text`.
fn limit(text: &str, value: &str) -> Result<Limit, ThresholdError> {
    let end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(end);
    let n: f64 = number.parse().map_err(|_| ThresholdError::NotANumber {
        text: text.to_string(),
        value: value.to_string(),
    })?;
    let seconds = |scale: f64| Limit::Duration(Duration::from_secs_f64(n * scale));
    Ok(match unit {
        "" => Limit::Number(n),
        "%" if n <= 100.0 => Limit::Percent(n),
        "%" => {
            return Err(ThresholdError::OverAHundredPercent {
                text: text.to_string(),
                value: value.to_string(),
            });
        }
        "us" | "µs" => seconds(1e-6),
        "ms" => seconds(1e-3),
        "s" => seconds(1.0),
        other => {
            return Err(ThresholdError::UnknownUnit {
                text: text.to_string(),
                unit: other.to_string(),
            });
        }
    })
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression)
    }
}

/// A threshold and what the run did.
#[derive(Clone, Debug, PartialEq)]
pub struct Judged {
    pub threshold: Threshold,
    /// In the limit's unit (ms for durations, % for shares); None when the
    /// run measured nothing to judge (no request answered, no share of
    /// nothing), which fails.
    pub observed: Option<f64>,
    pub passed: bool,
}

impl Threshold {
    /// What the run did, against this threshold.
    pub fn judge(&self, stats: &Stats) -> Judged {
        let observed = self.observe(stats);
        let limit = match self.limit {
            Limit::Duration(d) => d.as_secs_f64() * 1000.0,
            Limit::Percent(n) | Limit::Number(n) => n,
        };
        let passed = observed.is_some_and(|o| match self.op {
            Op::Lt => o < limit,
            Op::Le => o <= limit,
            Op::Gt => o > limit,
            Op::Ge => o >= limit,
            Op::Eq => o == limit,
        });
        Judged {
            threshold: self.clone(),
            observed,
            passed,
        }
    }

    /// True for thresholds on the lag, which a run at the maximum rate
    /// does not have.
    pub fn needs_schedule(&self) -> bool {
        matches!(self.measure, Measure::Lag(_))
    }

    /// True for thresholds that judge failed requests, which end a run
    /// without `--max-failed` before any threshold is judged.
    pub fn judges_failures(&self) -> bool {
        matches!(self.measure, Measure::Count(c) if c != Counted::Retries)
    }

    fn observe(&self, s: &Stats) -> Option<f64> {
        let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1000.0);
        let requests = s.requests + s.failed_requests;
        let events = s.events + s.failed_events;
        let (count, of) = match self.measure {
            Measure::Latency(q) => return ms(s.latency_at(q)),
            Measure::Lag(q) => return ms(s.lag_at(q)),
            Measure::EventsPerSec => return (!s.elapsed.is_zero()).then(|| s.events_per_sec()),
            Measure::RequestsPerSec => {
                return (!s.elapsed.is_zero()).then(|| s.requests_per_sec());
            }
            Measure::Count(Counted::FailedRequests) => (s.failed_requests, requests),
            Measure::Count(Counted::FailedEvents) => (s.failed_events, events),
            Measure::Count(Counted::DeliveredRequests) => (s.requests, requests),
            Measure::Count(Counted::DeliveredEvents) => (s.events, events),
            Measure::Count(Counted::Retries) => (s.retries, requests),
        };
        match self.limit {
            Limit::Percent(_) => (of > 0).then(|| count as f64 * 100.0 / of as f64),
            _ => Some(count as f64),
        }
    }

    /// The unit of [`Judged::observed`] and of the limit: "ms", "%",
    /// "count" or "/s".
    pub fn unit(&self) -> &'static str {
        match (self.measure, self.limit) {
            (_, Limit::Duration(_)) => "ms",
            (_, Limit::Percent(_)) => "%",
            (Measure::EventsPerSec | Measure::RequestsPerSec, _) => "/s",
            _ => "count",
        }
    }
}

impl Judged {
    /// "0.412 ms", "0.050%", "3", "1204 events/s", "not measured".
    pub fn observed_text(&self) -> String {
        let Some(v) = self.observed else {
            return "not measured".to_string();
        };
        match (self.threshold.measure, self.threshold.limit) {
            (_, Limit::Duration(_)) => millis(Duration::from_secs_f64(v / 1000.0)),
            (_, Limit::Percent(_)) => format!("{v:.3}%"),
            (Measure::EventsPerSec, _) => format!("{v:.0} events/s"),
            (Measure::RequestsPerSec, _) => format!("{v:.0} requests/s"),
            _ => format!("{v}"),
        }
    }

    /// For `--summary-out` and the report: the expression, what was
    /// observed and the limit in one unit, and the verdict.
    pub fn to_json(&self) -> serde_json::Value {
        let t = &self.threshold;
        let limit = match t.limit {
            Limit::Duration(d) => d.as_secs_f64() * 1000.0,
            Limit::Percent(n) | Limit::Number(n) => n,
        };
        serde_json::json!({
            "expression": t.expression,
            "observed": self.observed,
            "limit": limit,
            "unit": t.unit(),
            "passed": self.passed,
        })
    }
}

/// `--max-failed N|X%`: the failed requests a run accepts before it is an
/// error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaxFailed {
    Requests(u64),
    /// Of the requests sent, 0..=100.
    Percent(f64),
}

impl FromStr for MaxFailed {
    type Err = ThresholdError;

    fn from_str(text: &str) -> Result<MaxFailed, ThresholdError> {
        let text = text.trim();
        let invalid = || ThresholdError::MaxFailed(text.to_string());
        match text.strip_suffix('%') {
            Some(n) => {
                let n: f64 = n.trim().parse().map_err(|_| invalid())?;
                if !(0.0..=100.0).contains(&n) {
                    return Err(ThresholdError::MaxFailedShare(text.to_string()));
                }
                Ok(MaxFailed::Percent(n))
            }
            None => text.parse().map(MaxFailed::Requests).map_err(|_| invalid()),
        }
    }
}

impl fmt::Display for MaxFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxFailed::Requests(n) => write!(f, "{n}"),
            MaxFailed::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl MaxFailed {
    /// True when the run's failed requests are within the limit.
    pub fn allows(self, stats: &Stats) -> bool {
        let failed = stats.failed_requests;
        match self {
            MaxFailed::Requests(n) => failed <= n,
            MaxFailed::Percent(p) => {
                let sent = stats.requests + failed;
                failed == 0 || (failed as f64 * 100.0 / sent as f64) <= p
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::deliver::Pacing;

    fn parse(text: &str) -> Threshold {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn refused(text: &str) -> String {
        text.parse::<Threshold>().unwrap_err().to_string()
    }

    #[test]
    fn expressions_parse_with_units_operators_and_spaces() {
        let t = parse(" latency.p99 < 250ms ");
        assert_eq!(t.to_string(), "latency.p99<250ms");
        assert_eq!(t.measure, Measure::Latency(0.99));
        assert_eq!(
            (t.op, t.limit),
            (Op::Lt, Limit::Duration(Duration::from_millis(250)))
        );
        assert_eq!(parse("lag.p99.9<=5ms").measure, Measure::Lag(0.999));
        assert_eq!(parse("lag.max>=1s").op, Op::Ge);
        assert_eq!(parse("latency.max==2s").measure, Measure::Latency(1.0));
        assert_eq!(parse("latency.p95>0.5s").op, Op::Gt);
        assert_eq!(
            parse("latency.p50<800us").limit,
            Limit::Duration(Duration::from_micros(800))
        );
        assert_eq!(
            parse("latency.p50<800µs").limit,
            Limit::Duration(Duration::from_micros(800))
        );
        assert_eq!(parse("failed<0.1%").limit, Limit::Percent(0.1));
        assert_eq!(parse("failed<=10").limit, Limit::Number(10.0));
        assert_eq!(
            parse("delivered.events==100%").measure,
            Measure::Count(Counted::DeliveredEvents)
        );
        assert_eq!(parse("events/s>=1000").measure, Measure::EventsPerSec);
        assert_eq!(parse("requests/s>10").unit(), "/s");
        assert_eq!(parse("retries<5%").unit(), "%");
        assert_eq!(parse("retries<5").unit(), "count");
    }

    #[test]
    fn typos_and_bad_expressions_are_refused_with_the_closest_name() {
        for (text, says) in [
            ("latncy.p99<250ms", "did you mean latency.p99?"),
            ("latency.p999<250ms", "did you mean latency.p99.9?"),
            ("faild<1%", "did you mean failed?"),
            ("events/sec>10", "did you mean events/s?"),
            ("p99<1ms", "unknown threshold name \"p99\""),
            ("latency.p99", "has no comparison"),
            ("latency.p99=1ms", "compare with <, <=, >, >= or =="),
            ("latency.p99=<1ms", "compare with"),
            ("<1ms", "names nothing"),
            ("latency.p99<250", "is a duration: give a unit"),
            ("latency.p99<5%", "is a duration"),
            ("latency.p99<250mins", "unknown unit \"mins\""),
            ("latency.p99<fast", "is not a number"),
            ("latency.p0<1ms", "unknown threshold name"),
            ("latency.p101<1ms", "unknown threshold name"),
            ("failed<1s", "not a duration"),
            ("failed<150%", "more than 100%"),
            ("events/s>1%", "a number per second"),
        ] {
            let e = refused(text);
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    fn stats() -> Stats {
        let mut s = Stats::new("webhook", Pacing::Scheduled { speed: 1.0 });
        for us in 1..=1000 {
            s.latency.record(us * 10).unwrap();
            s.lag.record(us).unwrap();
        }
        s.requests = 990;
        s.failed_requests = 10;
        s.events = 9900;
        s.failed_events = 100;
        s.retries = 50;
        s.elapsed = Duration::from_secs(2);
        s
    }

    fn judged(text: &str, s: &Stats) -> (Option<f64>, bool) {
        let j = parse(text).judge(s);
        (j.observed, j.passed)
    }

    #[test]
    fn thresholds_are_judged_in_their_units() {
        let s = stats();
        assert_eq!(judged("failed<=1%", &s), (Some(1.0), true));
        assert_eq!(judged("failed<1%", &s), (Some(1.0), false));
        assert_eq!(judged("failed<10", &s), (Some(10.0), false));
        assert_eq!(judged("failed.events<=1%", &s), (Some(1.0), true));
        assert_eq!(judged("delivered>=99%", &s), (Some(99.0), true));
        assert_eq!(judged("retries==5%", &s), (Some(5.0), true));
        assert_eq!(judged("events/s>4000", &s), (Some(4950.0), true));
        assert_eq!(judged("requests/s<495", &s), (Some(495.0), false));
        let (p99, passed) = judged("latency.p99<10ms", &s);
        assert!(passed && (9.9..10.0).contains(&p99.unwrap()), "{p99:?}");
        assert!(!judged("latency.max<10ms", &s).1);
        assert!(judged("lag.p50>=0.5ms", &s).1);
        assert!(!judged("lag.p99.9<500us", &s).1);
        let j = parse("latency.p99<1us").judge(&s);
        assert_eq!(j.observed_text(), "9.903 ms");
        assert_eq!(
            j.to_json(),
            serde_json::json!({"expression": "latency.p99<1us", "observed": 9.903,
                "limit": 0.001, "unit": "ms", "passed": false})
        );
    }

    #[test]
    fn nothing_measured_fails() {
        let empty = Stats::new("ingest", Pacing::Max);
        for text in ["latency.p99<1s", "lag.max<1s", "failed<1%", "events/s>=0"] {
            let j = parse(text).judge(&empty);
            assert_eq!((j.observed, j.passed), (None, false), "{text}");
            assert_eq!(j.observed_text(), "not measured");
        }
        assert!(parse("failed<1").judge(&empty).passed);
    }

    #[test]
    fn max_failed_is_a_count_or_a_share_of_requests() {
        let s = stats();
        let allows = |text: &str| text.parse::<MaxFailed>().unwrap().allows(&s);
        assert!(allows("10") && !allows("9"));
        assert!(allows("1%") && allows("100%") && !allows("0.9%"));
        assert!(allows(" 1 % "));
        for bad in ["-1", "x", "101%", "1.5", "%"] {
            assert!(bad.parse::<MaxFailed>().is_err(), "{bad}");
        }
        assert!(
            MaxFailed::Percent(0.0).allows(&Stats::new("ingest", Pacing::Max)),
            "no request, no failure"
        );
    }
}
