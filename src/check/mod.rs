//! `check`: proves that a metrics sink's aggregates equal the expected ones.
//!
//! For every metric and grain it asks the sink for three kinds of series,
//! the full dimension combinations, each single dimension (marginal totals)
//! and the metric total, and compares count, total, minimum, maximum and
//! average bucket by bucket. Marginals and totals are computed here from
//! the expected full combinations, so a sink that stores the combinations
//! right but groups them wrong still fails.
//!
//! The comparison never passes vacuously: an expected file without series,
//! or a metric, dimension or grain the sink does not know, is a
//! [`CheckError`] (exit 2), not a green run. Mismatches are not errors: they
//! are collected, all of them, into a [`Report`] (exit 1 when it has any),
//! with a [`Hint`] where they show a common cause (read too early, buckets
//! split otherwise, values written otherwise).
//!
//! The sink is reached through the [`Observed`] trait, which answers in
//! callmetrics' own terms, so the same comparison runs against the Azure
//! Monitor-shaped query API ([`AzureObserved`], [`check_http`]), the
//! Prometheus HTTP API ([`PromqlObserved`]) and in-memory fakes in tests.

mod compare;
mod expected;
mod hint;
pub(crate) mod mapping;
mod merge;
mod observed;
mod query;
mod render;
mod report;
pub(crate) mod selector;
mod traffic;
pub(crate) mod wait;

pub(crate) use expected::ExpectedData;
pub(crate) use hint::{Hint, HintKind};
pub(crate) use mapping::Mapping;
pub(crate) use merge::merge;
pub(crate) use observed::{Backend, Reading, ReadingFlags};

pub(crate) use observed::azure::AzureObserved;
pub(crate) use observed::influxql::InfluxqlObserved;
pub(crate) use observed::promql::PromqlObserved;
pub(crate) use observed::{Limits, Observed, ObservedSeries};
pub(crate) use query::{Query, Split};
// What the crate's tests reach through this module.
#[cfg(test)]
use observed::memory::Reference;
#[cfg(test)]
use render::json_schema;
pub(crate) use render::{JsonReport, JunitCase, JunitSuite, junit_document, junit_error};
#[cfg(test)]
use report::{CounterReset, Mismatch};
pub(crate) use report::{Field, GroupKey, Report, ReportFormat};
pub(crate) use selector::Selector;
pub(crate) use traffic::{Counted, Traffic};

use crate::catalog::Metric;
use crate::model::Grain;
use crate::wire::MetricsResponse;
use crate::wire::metrics_response::MetricSeries;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// What to compare and how strictly.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckOptions {
    /// Grains to compare, each a multiple of the expected file's grain;
    /// empty means the expected file's own grain.
    pub grains: Vec<Grain>,
    /// Relative tolerance (`|observed - expected| <= tolerance * |expected|`)
    /// for lossy pipelines; `None` compares exactly.
    pub tolerance: Option<f64>,
    /// Compare one bucket per series, the whole timespan, instead of one
    /// per grain (for counters scraped at arbitrary times).
    pub totals: bool,
}

/// Why a check could not be carried out. Every variant exits 2: the
/// aggregates were not compared, so the run says nothing about the sink.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(
        "the expected file has no series, so the check would pass without comparing anything \
         (generate it from a scenario and workload that produce events)"
    )]
    NoSeries,
    #[error("the expected file is not usable: {0}")]
    Expected(String),
    #[error("--grain {grain} is not a whole multiple of the expected file's grain {base}")]
    Grain { grain: Grain, base: Grain },
    #[error("--tolerance must be a finite number >= 0 (e.g. 0.001 for 0.1%), got {0}")]
    Tolerance(f64),
    /// Options that do not fit together or with the backend.
    #[error("{0}")]
    Usage(String),
    #[error("the mapping {path}: {reason}")]
    Mapping {
        path: String,
        reason: Box<mapping::MappingError>,
    },
    #[error(transparent)]
    Client(crate::client::http::ClientError),
    #[error(transparent)]
    Selector(selector::SelectorError),
    #[error("invalid --observed URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    /// Only the root cause is shown: reqwest's own wrapping repeats the
    /// whole query URL.
    #[error("cannot query {} at {url}: {}", backend.name(), crate::client::http::root_cause(cause))]
    Connect {
        backend: BackendName,
        url: String,
        cause: reqwest::Error,
    },
    /// The code and message are the backend's words, printed escaped.
    #[error(
        "{} rejected the query for {query} (HTTP {status}{}): {}{hint}",
        backend.server(),
        crate::wire::printable(code),
        crate::wire::printable(message)
    )]
    Sink {
        backend: BackendName,
        query: String,
        status: u16,
        /// The error code of the sink's `{"error":{"code":...}}` body, with a
        /// leading ", " when present.
        code: String,
        message: String,
        /// A hint for the user, with a leading "; " when present.
        hint: String,
    },
    /// The reason may quote the answer (a parser's "unknown variant").
    #[error(
        "the answer to the query for {query} is unusable: {}",
        crate::wire::printable(reason)
    )]
    Protocol { query: String, reason: String },
    #[error(
        "the check did not finish within {0:?} (--max-time); is the backend answering? raise \
         --max-time for checks of long windows"
    )]
    TimedOut(std::time::Duration),
}

/// Which kind of server a check asks, as its errors name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendName {
    /// An Azure Monitor Metrics - List API (the embedded sink's).
    Sink,
    /// Azure Monitor's paths for one resource (`--resource-id`): Azure
    /// itself, or a sink serving them.
    AzureMonitor,
    /// The Prometheus HTTP API (also VictoriaMetrics').
    Prometheus,
    /// InfluxDB 1.x.
    InfluxDb,
}

impl BackendName {
    /// "cannot query Prometheus at ...".
    pub fn name(self) -> &'static str {
        match self {
            BackendName::Sink => "the sink",
            BackendName::AzureMonitor => "Azure Monitor",
            BackendName::Prometheus => "Prometheus",
            BackendName::InfluxDb => "InfluxDB",
        }
    }

    /// "the Prometheus server rejected ...".
    pub fn server(self) -> &'static str {
        match self {
            BackendName::Sink => "the sink",
            BackendName::AzureMonitor => "Azure Monitor",
            BackendName::Prometheus => "the Prometheus server",
            BackendName::InfluxDb => "the InfluxDB server",
        }
    }
}

/// Compares `expected` (an expected.json) with what `observed` answers.
pub(crate) async fn check<O: Observed + ?Sized>(
    expected: &MetricsResponse,
    observed: &O,
    options: &CheckOptions,
) -> Result<Report, CheckError> {
    options_fit(options)?;
    let data = ExpectedData::from_response(expected)?;
    if data.series_count() == 0 {
        return Err(CheckError::NoSeries);
    }
    let grains = data.grains(&options.grains)?;
    let (compared, unobserved) = observed_metrics(&data, observed)?;
    let plan = plan(&data, &compared, &grains, options.totals);
    let answers = ask(observed, &plan).await?;
    let mut report = Report::new(&data, &grains, options);
    report.metrics = compared.clone();
    report.unobserved = unobserved;
    let window_start = plan.iter().map(|(q, _)| q.timespan.0).min();
    report.resets = observed.resets(window_start.unwrap_or(data.timespan().0));
    report.compared = compared
        .iter()
        .map(|&m| (m, observed.observes(m).to_vec()))
        .collect();
    let evidence = compare_answers(&mut report, &plan, &answers, &grains, observed, options);
    report.hints = hint::hints(&report, &evidence);
    Ok(report)
}

fn options_fit(options: &CheckOptions) -> Result<(), CheckError> {
    if let Some(t) = options.tolerance
        && !(t.is_finite() && t >= 0.0)
    {
        return Err(CheckError::Tolerance(t));
    }
    if options.totals && !options.grains.is_empty() {
        return Err(CheckError::Usage(
            "--totals compares the whole window, so it takes no --grain".into(),
        ));
    }
    Ok(())
}

/// The expected metrics the backend observes and those it does not;
/// refused when it observes none, as the check would compare nothing.
fn observed_metrics<O: Observed + ?Sized>(
    data: &ExpectedData,
    observed: &O,
) -> Result<(Vec<Metric>, Vec<Metric>), CheckError> {
    let (compared, unobserved): (Vec<Metric>, Vec<Metric>) = data
        .metrics()
        .keys()
        .partition(|&&m| !observed.observes(m).is_empty());
    if compared.is_empty() {
        let names: Vec<&str> = unobserved.iter().map(|m| m.name()).collect();
        return Err(CheckError::Usage(format!(
            "the backend observes none of the expected file's metrics ({}); map at least one \
             of them (--mapping), or the check would compare nothing",
            names.join(", ")
        )));
    }
    Ok((compared, unobserved))
}

/// Every question the check asks (each compared metric at each grain,
/// split every way), with the expected series it is answered against.
fn plan<'a>(
    data: &'a ExpectedData,
    compared: &[Metric],
    grains: &[Grain],
    totals: bool,
) -> Vec<(Query, &'a MetricSeries)> {
    let mut plan = Vec::new();
    for (&metric, series) in data.metrics().iter().filter(|(m, _)| compared.contains(m)) {
        for &grain in grains {
            for split in Split::all(metric) {
                let timespan = data.timespan_at(grain);
                plan.push((
                    Query {
                        metric,
                        grain,
                        split,
                        timespan,
                        totals,
                    },
                    series,
                ));
            }
        }
    }
    plan
}

/// The backend's answer to each question of the plan, in its order.
async fn ask<O: Observed + ?Sized>(
    observed: &O,
    plan: &[(Query, &MetricSeries)],
) -> Result<Vec<ObservedSeries>, CheckError> {
    // Long windows are asked for in pieces, so no answer grows past what a
    // backend will serve (the sink caps answers by points).
    let pieces: Vec<Vec<Query>> = plan
        .iter()
        .map(|(q, series)| q.pieces(series.len()))
        .collect();
    let queries: Vec<Query> = pieces.iter().flatten().copied().collect();
    observed.prepare(&queries).await?;
    let mut answered = fetch_all(observed, &queries).await?.into_iter();
    Ok(pieces
        .iter()
        .map(|p| {
            let mut whole = ObservedSeries::new();
            for part in answered.by_ref().take(p.len()) {
                for (label, buckets) in part {
                    whole.entry(label).or_default().extend(buckets);
                }
            }
            whole
        })
        .collect())
}

/// Compares each answer with its expected series into the report's
/// mismatches and groups (and, at the first grain, its traffic); returns
/// what the hints are read from.
fn compare_answers<O: Observed + ?Sized>(
    report: &mut Report,
    plan: &[(Query, &MetricSeries)],
    answers: &[ObservedSeries],
    grains: &[Grain],
    observed: &O,
    options: &CheckOptions,
) -> hint::Evidence {
    let mut evidence = hint::Evidence::default();
    for ((query, series), got) in plan.iter().zip(answers) {
        let grouped = expected::regroup(series, query.grain, &query.split.dimensions(query.metric));
        let want = if query.totals {
            expected::fold_window(&grouped, query.timespan.0)
        } else {
            grouped
        };
        let before = report.mismatches.len();
        let group = compare::group(
            GroupKey::of(query),
            &want,
            got,
            compare::Strictness {
                tolerance: options.tolerance,
                fields: observed.observes(query.metric),
            },
            &mut report.mismatches,
        );
        if query.grain == grains[0] {
            let counted = observed.observes(query.metric).contains(&Field::Count);
            let traffic = match report.traffic.iter_mut().find(|t| t.metric == query.metric) {
                Some(t) => t,
                None => {
                    let fresh = Traffic::new(query.metric, query.grain, query.totals);
                    report.traffic.push(fresh);
                    report.traffic.last_mut().expect("just pushed")
                }
            };
            let found = &report.mismatches[before..];
            traffic.add(query.split, &want, counted.then_some(got), found);
        }
        evidence.add(&group, &want, got, observed.observes(query.metric));
        report.groups.push(group);
    }
    evidence
}
/// Answers to `queries`, in their order, four in flight at once (the
/// sink's answers are most of a check's time; a sink that answers on
/// several cores, or over a network, overlaps them); the first error in
/// query order if any failed. Once one fails no new query starts.
async fn fetch_all<O: Observed + ?Sized>(
    observed: &O,
    queries: &[Query],
) -> Result<Vec<ObservedSeries>, CheckError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let worker = || async {
        let mut answers = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(query) = queries.get(i) else { break };
            let answer = observed.query(query).await;
            failed.fetch_or(answer.is_err(), Ordering::Relaxed);
            answers.push((i, answer));
        }
        answers
    };
    let (a, b, c, d) = tokio::join!(worker(), worker(), worker(), worker());
    let mut answers: Vec<_> = a.into_iter().chain(b).chain(c).chain(d).collect();
    // Indices are handed out in order and every one handed out is kept, so
    // this is 0..k: all of them, or a prefix that holds the failure.
    answers.sort_by_key(|(i, _)| *i);
    answers.into_iter().map(|(_, answer)| answer).collect()
}

/// [`check`] against a sink's HTTP query API at `base_url` (e.g.
/// `http://127.0.0.1:8650`), sending `Authorization: Bearer TOKEN` when
/// `token` is given, verifying an `https://` sink against the system's
/// roots. Call it from inside a tokio runtime.
pub async fn check_http(
    expected: &MetricsResponse,
    base_url: &str,
    token: Option<&str>,
    options: &CheckOptions,
) -> Result<Report, CheckError> {
    let tls = crate::client::tls::ClientTls::system();
    let observed = AzureObserved::new(base_url, token, &tls, Limits::default(), None)?;
    check(expected, &observed, options).await
}

#[cfg(test)]
mod fixture;
#[cfg(test)]
mod tests;
