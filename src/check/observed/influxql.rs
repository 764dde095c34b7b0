//! The InfluxDB 1.x backend: InfluxQL over `GET /query?db=NAME&q=..&epoch=ms`.
//! Per query, with the metric's Azure name as measurement and its
//! dimensions' Azure names as tags (what `run --target influx` writes):
//!
//! ```text
//! SELECT sum("count"), sum("sum"), min("min"), max("max") FROM "METRIC"
//!   WHERE time >= START AND time < END GROUP BY time(GRAIN), "Tag1", .. fill(none)
//! ```
//!
//! (no `time(..)` for `--totals`, no tags for the metric total). Points
//! hold each interval's count/sum/min/max, so the sums and extremes per
//! bucket are the bucket's aggregates: count, total, minimum and maximum
//! are compared; the average is not stored.

use super::{Limits, Observed, ObservedSeries, Point, answer_body, with_retries};
use crate::catalog::{Metric, Naming};
use crate::check::CheckError;
use crate::check::query::Query;
use crate::check::report::Field;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use std::collections::BTreeMap;

const FIELDS: &[Field] = &[Field::Count, Field::Total, Field::Minimum, Field::Maximum];

/// An InfluxDB 1.x query endpoint.
#[derive(Clone, Debug)]
pub struct InfluxqlObserved {
    client: reqwest::Client,
    /// `/query?db=NAME`, without `q`.
    url: Url,
    limits: Limits,
}

impl InfluxqlObserved {
    /// `url` is `http://HOST:PORT/query?db=NAME`.
    pub fn new(url: &str, limits: Limits) -> Result<InfluxqlObserved, CheckError> {
        let invalid = |reason: String| CheckError::Url {
            url: url.to_string(),
            reason,
        };
        let parsed = crate::client::http::http_url("--observed", url).map_err(&invalid)?;
        if !parsed
            .query_pairs()
            .any(|(k, v)| k == "db" && !v.is_empty())
        {
            return Err(invalid(
                "name the database: http://127.0.0.1:8086/query?db=callmetrics".into(),
            ));
        }
        let client = crate::client::http::client(&parsed, 4, limits.timeout).map_err(invalid)?;
        Ok(InfluxqlObserved {
            client,
            url: parsed,
            limits,
        })
    }

    async fn get(&self, statement: &str) -> Result<Vec<Series>, CheckError> {
        let mut url = self.url.clone();
        url.query_pairs_mut()
            .append_pair("q", statement)
            .append_pair("epoch", "ms");
        let connect = |source| CheckError::Connect {
            url: self.url.to_string(),
            source,
        };
        let response = self.client.get(url).send().await.map_err(connect)?;
        let status = response.status();
        let body = answer_body(response, &self.limits, statement, self.url.as_str()).await?;
        let answer: Option<Answer> = serde_json::from_slice(&body).ok();
        let error = answer.as_ref().and_then(|a| {
            a.error
                .clone()
                .or_else(|| a.results.iter().find_map(|r| r.error.clone()))
        });
        if !status.is_success() || error.is_some() {
            let mut err = super::azure::sink_error(statement, status, &body);
            if let CheckError::Sink { message, hint, .. } = &mut err {
                if let Some(e) = error {
                    *message = e;
                }
                if status == StatusCode::NOT_FOUND {
                    *hint = "; is --observed an InfluxDB 1.x /query?db=NAME URL? (for \
                             Prometheus or VictoriaMetrics use --backend promql)"
                        .into();
                }
            }
            return Err(err);
        }
        let answer = answer.ok_or_else(|| CheckError::Protocol {
            query: statement.to_string(),
            reason: "not an InfluxDB /query answer".into(),
        })?;
        Ok(answer.results.into_iter().flat_map(|r| r.series).collect())
    }
}

/// The statement of `query`.
fn statement(query: &Query) -> String {
    let tags: Vec<String> = query
        .split
        .dimensions(query.metric)
        .iter()
        .map(|d| format!("\"{}\"", d.name(Naming::Azure)))
        .collect();
    let mut group = Vec::new();
    if !query.totals {
        group.push(format!("time({}s)", query.grain.millis() / 1000));
    }
    group.extend(tags);
    let group = if group.is_empty() {
        String::new()
    } else {
        format!(" GROUP BY {}", group.join(", "))
    };
    format!(
        "SELECT sum(\"count\"), sum(\"sum\"), min(\"min\"), max(\"max\") FROM \"{}\" \
         WHERE time >= {}ms AND time < {}ms{group} fill(none)",
        query.metric.name(),
        query.timespan.0,
        query.timespan.1
    )
}

impl Observed for InfluxqlObserved {
    fn observes(&self, _: Metric) -> &'static [Field] {
        FIELDS
    }

    async fn query(&self, query: &Query) -> Result<ObservedSeries, CheckError> {
        let statement = statement(query);
        let series = with_retries(|| self.get(&statement)).await?;
        let fail = |reason: String| CheckError::Protocol {
            query: statement.clone(),
            reason,
        };
        let mut out = ObservedSeries::new();
        for s in series {
            let label = query
                .split
                .dimensions(query.metric)
                .into_iter()
                .map(|d| {
                    let value = s
                        .tags
                        .get(d.name(Naming::Azure))
                        .cloned()
                        .unwrap_or_default();
                    (d, value)
                })
                .collect();
            let buckets = out.entry(label).or_default();
            for row in s.values {
                let number = |i: usize| -> Result<Option<u64>, CheckError> {
                    match row.get(i) {
                        None | Some(serde_json::Value::Null) => Ok(None),
                        Some(v) => v
                            .as_u64()
                            .or_else(|| {
                                v.as_f64()
                                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                                    .map(|f| f as u64)
                            })
                            .map(Some)
                            .ok_or_else(|| fail(format!("{v} is not a whole number"))),
                    }
                };
                let bucket = if query.totals {
                    query.timespan.0
                } else {
                    number(0)?.ok_or_else(|| fail("a row without a time".into()))? as i64
                };
                let point = Point {
                    count: number(1)?,
                    total: number(2)?,
                    minimum: number(3)?,
                    maximum: number(4)?,
                    average: None,
                };
                if point.count.is_some_and(|c| c > 0) && buckets.insert(bucket, point).is_some() {
                    return Err(fail(format!("bucket {bucket} is listed twice")));
                }
            }
        }
        out.retain(|_, buckets| !buckets.is_empty());
        Ok(out)
    }
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    results: Vec<Statement>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Statement {
    #[serde(default)]
    series: Vec<Series>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<Vec<serde_json::Value>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Dimension;
    use crate::check::Split;
    use crate::engine::Grain;

    #[test]
    fn statements() {
        let q = Query {
            metric: Metric::CallbackEvents,
            grain: Grain::MINUTE,
            split: Split::One(Dimension::Code),
            timespan: (60_000, 240_000),
            totals: false,
        };
        assert_eq!(
            statement(&q),
            "SELECT sum(\"count\"), sum(\"sum\"), min(\"min\"), max(\"max\") FROM \
             \"AcsCallAutomationCallbackEvent\" WHERE time >= 60000ms AND time < 240000ms \
             GROUP BY time(60s), \"Code\" fill(none)"
        );
        let total = Query {
            split: Split::Total,
            totals: true,
            ..q
        };
        assert!(statement(&total).ends_with("time < 240000ms fill(none)"));
        assert!(InfluxqlObserved::new("http://127.0.0.1:8086/query", Limits::default()).is_err());
    }
}
