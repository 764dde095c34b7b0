//! The Prometheus HTTP API backend (Prometheus, VictoriaMetrics), read
//! from the raw samples: never `rate()` or `increase()` (their
//! extrapolation makes exact counts inexact) and never an instant query of
//! a plain selector (its 5-minute lookback reads a series as absent a few
//! minutes after its last sample, and it cannot see a counter reset).
//!
//! Before the queries, [`Observed::prepare`] reads every sample of each
//! mapped name (`NAME{--match}`) over the window the check needs, plus an
//! hour before it (where each series' value at the window's start is
//! found), in a few range reads (`samples.rs`). Each raw series becomes a
//! reset-aware running total (`counter.rs`); a query's bucket
//! `[b_k, b_k+1)` then holds `total(b_k+1) - total(b_k)`, summed over the
//! raw series that share the split's label values (with checked
//! arithmetic: HA replicas or two instances add up). Every grain and split
//! is computed from the same reads. With `--totals` the window ends at the
//! check's start (now): its one bucket holds everything counted up to the
//! last sample, wherever that is.
//!
//! A series absent at a time counts as 0 (a counter not yet created). The
//! latency metric reads `NAME_count` and `NAME_sum`. Exact when samples
//! fall on the bucket boundaries (remote write does that) or, with
//! `--totals`, for counters a scraper read at any times once the last
//! scrape is in.

mod counter;
mod samples;

use super::{Limits, Observed, ObservedSeries, Point};
use crate::catalog::Metric;
use crate::check::CheckError;
use crate::check::mapping::{Mapping, MetricMapping};
use crate::check::query::Query;
use crate::check::report::{CounterReset, Field};
use crate::client::tls::ClientTls;
use crate::wire::metrics_response::SeriesLabel;
use counter::Counter;
use samples::{Api, Labels};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const COUNT: &[Field] = &[Field::Count];
const COUNT_TOTAL: &[Field] = &[Field::Count, Field::Total];

/// How far before the window's start samples are read: a series' value at
/// the start is its last sample at or before it (scrape intervals and
/// remote-write sample intervals are far shorter).
const BEFORE_WINDOW_MS: i64 = 3_600_000;

/// A Prometheus-compatible query API.
#[derive(Debug)]
pub(crate) struct PromqlObserved {
    api: Api,
    mapping: Mapping,
    /// Label matchers every read carries (`job="app"`), or empty.
    matchers: String,
    /// The instant the window is read up to (Unix ms): the check's start.
    read_until: i64,
    /// What has been read, per series name.
    reads: Mutex<BTreeMap<String, Arc<Read>>>,
}

/// Every raw series of one name over `(from, to]`.
#[derive(Debug)]
struct Read {
    from: i64,
    to: i64,
    series: Vec<(Labels, Counter)>,
}

impl PromqlObserved {
    /// `base_url` is the server's root (`http://127.0.0.1:9090`); `token`
    /// is sent as a bearer token; `matchers` (PromQL label matchers without
    /// braces, e.g. `job="app"`) narrow every read; samples are read up to
    /// `read_until`.
    pub(crate) fn new(
        base_url: &str,
        token: Option<&str>,
        tls: &ClientTls,
        mapping: Mapping,
        matchers: &str,
        read_until: i64,
        limits: Limits,
    ) -> Result<PromqlObserved, CheckError> {
        let invalid = |reason: String| CheckError::Url {
            url: base_url.to_string(),
            reason,
        };
        let base = crate::client::http::http_url("--observed", base_url)
            .map_err(|e| invalid(e.to_string()))?;
        let query_url = reqwest::Url::parse(&format!(
            "{}/api/v1/query",
            base.as_str().trim_end_matches('/')
        ))
        .map_err(|e| invalid(e.to_string()))?;
        let client = crate::client::http::client(&base, token, tls, 4, limits.timeout)
            .map_err(CheckError::Client)?;
        Ok(PromqlObserved {
            api: Api {
                client,
                query_url,
                limits,
                requests: Default::default(),
            },
            mapping,
            matchers: matchers.to_string(),
            read_until,
            reads: Mutex::new(BTreeMap::new()),
        })
    }

    /// Requests sent so far.
    #[cfg(test)]
    pub(crate) fn requests(&self) -> u64 {
        self.api.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The series names a metric is read from: the counter, or a latency
    /// summary's `_count` and `_sum`.
    fn names(&self, metric: Metric) -> Option<(String, Option<String>)> {
        let mapping = self.mapping.get(metric)?;
        Some(match metric {
            Metric::ApiRequestLatency => (
                format!("{}_count", mapping.name),
                Some(format!("{}_sum", mapping.name)),
            ),
            _ => (mapping.name.clone(), None),
        })
    }

    /// Where a query's counters are read: its bucket boundaries; for
    /// totals, the window's start and its end (see [`Self::window_end`]).
    fn boundaries(&self, query: &Query) -> Vec<i64> {
        let (start, end) = query.timespan;
        if query.totals {
            return vec![start, self.window_end(query)];
        }
        let step = query.grain.millis();
        let mut out: Vec<i64> = (0..)
            .map(|k| start + k * step)
            .take_while(|t| *t < end)
            .collect();
        out.push(end);
        out
    }

    /// Where `--totals` reads up to: now (the last scrape may come after
    /// the data's end), or the data's end when that is later (a generator
    /// at the maximum rate writes samples ahead of the clock).
    fn window_end(&self, query: &Query) -> i64 {
        self.read_until.max(query.timespan.1)
    }

    /// `(from, to]`: what a query needs read.
    fn span(&self, query: &Query) -> (i64, i64) {
        let end = match query.totals {
            true => self.window_end(query),
            false => query.timespan.1,
        };
        (query.timespan.0 - BEFORE_WINDOW_MS, end)
    }

    /// The raw series of `name` over at least `(from, to]`, read once.
    async fn read(&self, name: &str, from: i64, to: i64) -> Result<Arc<Read>, CheckError> {
        if let Some(read) = self.reads.lock().expect("not poisoned").get(name)
            && read.from <= from
            && read.to >= to
        {
            return Ok(read.clone());
        }
        let selector = format!("{name}{{{}}}", self.matchers);
        let raw = self.api.samples(&selector, from, to).await?;
        let series = raw
            .into_iter()
            .map(|(labels, samples)| {
                let counter = Counter::new(&samples).map_err(|_| CheckError::Protocol {
                    query: selector.clone(),
                    reason: format!(
                        "the running total of {} passes 2^64",
                        series_text(name, &labels)
                    ),
                })?;
                Ok((labels, counter))
            })
            .collect::<Result<_, CheckError>>()?;
        let read = Arc::new(Read { from, to, series });
        self.reads
            .lock()
            .expect("not poisoned")
            .insert(name.to_string(), read.clone());
        Ok(read)
    }

    /// Bucket start -> increase of `name`'s counters, per split label.
    async fn increases(
        &self,
        name: &str,
        mapping: &MetricMapping,
        query: &Query,
    ) -> Result<BTreeMap<SeriesLabel, BTreeMap<i64, u64>>, CheckError> {
        let (from, to) = self.span(query);
        let read = self.read(name, from, to).await?;
        let dims = query.split.dimensions(query.metric);
        let times = self.boundaries(query);
        let mut out: BTreeMap<SeriesLabel, BTreeMap<i64, u64>> = BTreeMap::new();
        for (labels, counter) in &read.series {
            let label: SeriesLabel = dims
                .iter()
                .map(|&d| {
                    let value = labels.get(mapping.label(d)).map_or("", String::as_str);
                    (d, mapping.expected_value(d, value))
                })
                .collect();
            let mut before = counter.at(times[0]);
            for pair in times.windows(2) {
                let now = counter.at(pair[1]);
                let increase = now - before;
                before = now;
                if increase == 0 {
                    continue;
                }
                let bucket = pair[0];
                let sum = out
                    .entry(label.clone())
                    .or_default()
                    .entry(bucket)
                    .or_default();
                *sum = sum
                    .checked_add(increase)
                    .ok_or_else(|| CheckError::Protocol {
                        query: format!("{name}{{{}}}", self.matchers),
                        reason: format!("the series summed into {} pass 2^64", split_text(&label)),
                    })?;
            }
        }
        Ok(out)
    }
}

/// `EventTypeName="..", Code=".."`: a split's label values.
fn split_text(label: &SeriesLabel) -> String {
    let pairs: Vec<String> = label
        .iter()
        .map(|(d, v)| {
            format!(
                "{}={}",
                d.name(crate::catalog::Naming::Azure),
                serde_json::Value::from(v.as_str())
            )
        })
        .collect();
    pairs.join(", ")
}

/// `name{label="value", ..}`, as PromQL writes a series.
fn series_text(name: &str, labels: &Labels) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", serde_json::Value::from(v.as_str())))
        .collect();
    format!("{name}{{{}}}", pairs.join(", "))
}

impl Observed for PromqlObserved {
    fn observes(&self, metric: Metric) -> &'static [Field] {
        match (self.mapping.get(metric), metric) {
            (None, _) => &[],
            (Some(_), Metric::ApiRequestLatency) => COUNT_TOTAL,
            (Some(_), _) => COUNT,
        }
    }

    async fn prepare(&self, queries: &[Query]) -> Result<(), CheckError> {
        let mut spans: BTreeMap<Metric, (i64, i64)> = BTreeMap::new();
        for query in queries {
            let (from, to) = self.span(query);
            let span = spans.entry(query.metric).or_insert((from, to));
            *span = (span.0.min(from), span.1.max(to));
        }
        for (metric, (from, to)) in spans {
            let Some((count, sum)) = self.names(metric) else {
                continue;
            };
            self.read(&count, from, to).await?;
            if let Some(sum) = sum {
                self.read(&sum, from, to).await?;
            }
        }
        Ok(())
    }

    fn resets(&self, window_start: i64) -> Vec<CounterReset> {
        let reads = self.reads.lock().expect("not poisoned");
        let mut out = Vec::new();
        for (name, read) in reads.iter() {
            for (labels, counter) in &read.series {
                for reset in counter.resets().iter().filter(|r| r.at > window_start) {
                    out.push(CounterReset {
                        series: series_text(name, labels),
                        at: reset.at,
                        before: reset.before,
                        after: reset.after,
                    });
                }
            }
        }
        out.sort_by(|a, b| (a.at, &a.series).cmp(&(b.at, &b.series)));
        out
    }

    async fn query(&self, query: &Query) -> Result<ObservedSeries, CheckError> {
        let mapping = self.mapping.get(query.metric).ok_or_else(|| {
            CheckError::Usage(format!("the mapping does not map {}", query.metric))
        })?;
        let (count_name, total_name) = self.names(query.metric).expect("mapped");
        let counts = self.increases(&count_name, mapping, query).await?;
        let totals = match total_name {
            Some(name) => self.increases(&name, mapping, query).await?,
            None => BTreeMap::new(),
        };
        let mut out = ObservedSeries::new();
        for (label, buckets) in counts {
            for (bucket, count) in buckets {
                let point = out
                    .entry(label.clone())
                    .or_default()
                    .entry(bucket)
                    .or_default();
                point.count = Some(count);
            }
        }
        for (label, buckets) in totals {
            for (bucket, total) in buckets {
                let point: &mut Point = out
                    .entry(label.clone())
                    .or_default()
                    .entry(bucket)
                    .or_default();
                point.total = Some(total);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
