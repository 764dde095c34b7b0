//! The InfluxDB 1.x backend: InfluxQL over `GET /query?db=NAME&q=..&epoch=ms`.
//! Per query, with the metric's Azure name as measurement and its
//! dimensions' Azure names as tags (what `run --target influx` writes):
//!
//! ```text
//! SELECT sum("count"), sum("sum"), min("min"), max("max") FROM "METRIC"
//!   WHERE time >= START AND time < END GROUP BY time(GRAIN), "Tag1", .. fill(none)
//! ```
//!
//! (no `time(..)` for `--totals`, no tags for the metric total; a
//! selector's condition ANDed into the `WHERE`). Points hold each
//! interval's count/sum/min/max, so the sums and extremes per bucket are
//! the bucket's aggregates: count, total, minimum and maximum are
//! compared; the average is not stored.
//!
//! Every row of the answer is an observed cell, whatever its values: a row
//! with a zero or null count but a sum is data a correct pipeline does not
//! hold, so it must show as unexpected, not vanish. Numbers are exact or
//! refused (a float at or past 2^53 may not be the count written).

use super::{
    Limits, Observed, ObservedSeries, Point, add_point, answer_body, count_from_float, with_retries,
};
use crate::catalog::{Metric, Naming};
use crate::check::query::Query;
use crate::check::report::Field;
use crate::check::selector::Selector;
use crate::check::{BackendName, CheckError};
use crate::client::tls::ClientTls;
use crate::wire::metrics_response::SeriesLabel;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use std::collections::BTreeMap;

const FIELDS: &[Field] = &[Field::Count, Field::Total, Field::Minimum, Field::Maximum];

/// An InfluxDB 1.x query endpoint.
#[derive(Clone, Debug)]
pub(crate) struct InfluxqlObserved {
    client: reqwest::Client,
    /// `/query?db=NAME`, without `q`.
    url: Url,
    selector: Option<Selector>,
    limits: Limits,
}

impl InfluxqlObserved {
    /// `url` is `http://HOST:PORT/query?db=NAME`; `token`, when given, is
    /// sent as `Authorization: Bearer TOKEN`; only points that meet
    /// `selector` (tags as labels) are read.
    pub(crate) fn new(
        url: &str,
        token: Option<&str>,
        tls: &ClientTls,
        selector: Option<Selector>,
        limits: Limits,
    ) -> Result<InfluxqlObserved, CheckError> {
        let invalid = |reason: String| CheckError::Url {
            url: url.to_string(),
            reason,
        };
        let parsed =
            crate::client::http::http_url("--observed", url).map_err(|e| invalid(e.to_string()))?;
        if !parsed
            .query_pairs()
            .any(|(k, v)| k == "db" && !v.is_empty())
        {
            return Err(invalid(
                "name the database: http://127.0.0.1:8086/query?db=callmetrics".into(),
            ));
        }
        let client = crate::client::http::client(&parsed, token, tls, 4, limits.timeout)
            .map_err(CheckError::Client)?;
        Ok(InfluxqlObserved {
            client,
            url: parsed,
            selector,
            limits,
        })
    }

    async fn get(&self, statement: &str) -> Result<Vec<Series>, CheckError> {
        let mut url = self.url.clone();
        url.query_pairs_mut()
            .append_pair("q", statement)
            .append_pair("epoch", "ms");
        let connect = |cause| CheckError::Connect {
            backend: BackendName::InfluxDb,
            url: self.url.to_string(),
            cause,
        };
        let response = self.client.get(url).send().await.map_err(connect)?;
        let status = response.status();
        let body = answer_body(
            response,
            &self.limits,
            statement,
            BackendName::InfluxDb,
            self.url.as_str(),
        )
        .await?;
        let answer: Option<Answer> = serde_json::from_slice(&body).ok();
        let error = answer.as_ref().and_then(|a| {
            a.error
                .clone()
                .or_else(|| a.results.iter().find_map(|r| r.error.clone()))
        });
        if !status.is_success() || error.is_some() {
            let mut err = super::sink_error(BackendName::InfluxDb, statement, status, &body);
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

/// The statement of `query`, reading only points that meet `selector`.
fn statement(query: &Query, selector: Option<&Selector>) -> String {
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
    let matching = selector.map_or(String::new(), |s| format!(" AND ({})", s.influxql()));
    format!(
        "SELECT sum(\"count\"), sum(\"sum\"), min(\"min\"), max(\"max\") FROM \"{}\" \
         WHERE time >= {}ms AND time < {}ms{matching}{group} fill(none)",
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
        let statement = statement(query, self.selector.as_ref());
        let series = with_retries(|| self.get(&statement)).await?;
        let fail = |reason: String| CheckError::Protocol {
            query: statement.clone(),
            reason,
        };
        let mut out = ObservedSeries::new();
        for s in series {
            let label: SeriesLabel = query
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
            for row in s.values {
                let number = |i: usize| -> Result<Option<u64>, CheckError> {
                    match row.get(i) {
                        None | Some(serde_json::Value::Null) => Ok(None),
                        // An integer JSON number is exact up to 2^64-1.
                        Some(v) => match (v.as_u64(), v.as_f64()) {
                            (Some(n), _) => Ok(Some(n)),
                            (None, Some(f)) => count_from_float(f).map(Some).map_err(&fail),
                            (None, None) => Err(fail(format!("{v} is not a number"))),
                        },
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
                add_point(&mut out, &label, bucket, point).map_err(&fail)?;
            }
        }
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
    use super::super::fake;
    use super::*;
    use crate::catalog::Dimension;
    use crate::check::Split;
    use crate::model::Grain;

    fn by_code() -> Query {
        Query {
            metric: Metric::CallbackEvents,
            grain: Grain::MINUTE,
            split: Split::One(Dimension::Code),
            timespan: (60_000, 240_000),
            totals: false,
        }
    }

    fn code(value: &str) -> SeriesLabel {
        vec![(Dimension::Code, value.to_string())]
    }

    /// What the backend makes of `answer`, at a fake InfluxDB.
    async fn read(answer: &'static str) -> Result<ObservedSeries, CheckError> {
        let fake = fake::serve(200, answer).await;
        let url = format!("{}/query?db=callmetrics", fake.url);
        let observed =
            InfluxqlObserved::new(&url, None, &ClientTls::system(), None, Limits::default())
                .unwrap();
        observed.query(&by_code()).await
    }

    fn point(count: Option<u64>, total: u64, minimum: u64, maximum: u64) -> Point {
        Point {
            count,
            total: Some(total),
            minimum: Some(minimum),
            maximum: Some(maximum),
            average: None,
        }
    }

    #[test]
    fn statements() {
        let q = by_code();
        assert_eq!(
            statement(&q, None),
            "SELECT sum(\"count\"), sum(\"sum\"), min(\"min\"), max(\"max\") FROM \
             \"AcsCallAutomationCallbackEvent\" WHERE time >= 60000ms AND time < 240000ms \
             GROUP BY time(60s), \"Code\" fill(none)"
        );
        let total = Query {
            split: Split::Total,
            totals: true,
            ..q
        };
        assert!(statement(&total, None).ends_with("time < 240000ms fill(none)"));
        let selector = Selector::parse(r#"{host="a", run=~"r1|r2"}"#).unwrap();
        assert!(
            statement(&total, Some(&selector)).ends_with(
                "time < 240000ms AND (\"host\" = 'a' AND \"run\" =~ /^(?:r1|r2)$/) fill(none)"
            ),
            "{}",
            statement(&total, Some(&selector))
        );
        let no_db = InfluxqlObserved::new(
            "http://127.0.0.1:8086/query",
            None,
            &ClientTls::system(),
            None,
            Limits::default(),
        );
        assert!(no_db.is_err());
    }

    // Issue #17: an extra Code=500 row [t, 0, 999, 999, 999] was dropped for
    // its zero count, and the check passed.
    #[tokio::test]
    async fn rows_with_a_zero_or_null_count_are_observed() {
        let out = read(
            r#"{"results":[{"series":[
                {"name":"m","tags":{"Code":"200"},"columns":["time","sum","sum_1","min","max"],
                 "values":[[60000,5,50,1,20]]},
                {"name":"m","tags":{"Code":"500"},"columns":["time","sum","sum_1","min","max"],
                 "values":[[60000,0,999,999,999]]},
                {"name":"m","tags":{"Code":"503"},"columns":["time","sum","sum_1","min","max"],
                 "values":[[120000,null,7,7,7]]}]}]}"#,
        )
        .await
        .unwrap();
        let want = ObservedSeries::from([
            (
                code("200"),
                BTreeMap::from([(60_000, point(Some(5), 50, 1, 20))]),
            ),
            (
                code("500"),
                BTreeMap::from([(60_000, point(Some(0), 999, 999, 999))]),
            ),
            (
                code("503"),
                BTreeMap::from([(120_000, point(None, 7, 7, 7))]),
            ),
        ]);
        assert_eq!(out, want);
    }

    #[tokio::test]
    async fn numbers_are_exact_or_refused() {
        // JSON integers are exact at any size a u64 holds.
        let out = read(
            r#"{"results":[{"series":[{"tags":{"Code":"200"},
                "values":[[60000,1,18446744073709551615,9007199254740993,9007199254740993]]}]}]}"#,
        )
        .await
        .unwrap();
        let got = out[&code("200")][&60_000];
        assert_eq!(got.total, Some(u64::MAX));
        assert_eq!(got.minimum, Some(9_007_199_254_740_993));
        // A float sum of 1e20 was saturated to 2^64-1 and compared.
        for sum in ["1e20", "9007199254740992.0"] {
            let answer = format!(
                r#"{{"results":[{{"series":[{{"tags":{{"Code":"200"}},"values":[[60000,1,{sum},1,1]]}}]}}]}}"#
            );
            let err = read(answer.leak()).await.unwrap_err();

            let text = err.to_string();
            assert!(
                text.contains("is too large to be exact") && text.contains("exact only below 2^53"),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn a_series_listed_twice_is_summed_without_overflow() {
        let out = read(
            r#"{"results":[{"series":[
                {"tags":{"Code":"200"},"values":[[60000,2,20,3,9],[120000,1,4,4,4]]},
                {"tags":{"Code":"200"},"values":[[60000,3,30,1,12]]}]}]}"#,
        )
        .await
        .unwrap();
        let want = ObservedSeries::from([(
            code("200"),
            BTreeMap::from([
                (60_000, point(Some(5), 50, 1, 12)),
                (120_000, point(Some(1), 4, 4, 4)),
            ]),
        )]);
        // The merge recomputes the average, which this backend does not
        // compare; the rest is the sum of both series.
        let without_average = |o: &ObservedSeries| -> ObservedSeries {
            o.iter()
                .map(|(l, b)| {
                    let b = b.iter().map(|(t, p)| {
                        (
                            *t,
                            Point {
                                average: None,
                                ..*p
                            },
                        )
                    });
                    (l.clone(), b.collect())
                })
                .collect()
        };
        assert_eq!(without_average(&out), want);
        let err = read(
            r#"{"results":[{"series":[
                {"tags":{"Code":"200"},"values":[[60000,18446744073709551615,1,1,1]]},
                {"tags":{"Code":"200"},"values":[[60000,1,1,1,1]]}]}]}"#,
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(
                r#"the series Code="200" is listed more than once and its sum at 1970-01-01T00:01:00Z passes 2^64-1"#
            ),
            "{err}"
        );
    }

    // Issue #17: --token was not sent to InfluxDB; --match narrows the read.
    #[tokio::test]
    async fn the_token_and_the_selector_reach_influxdb() {
        let fake = fake::serve(200, r#"{"results":[{"statement_id":0}]}"#).await;
        let url = format!("{}/query?db=callmetrics", fake.url);
        let selector = Selector::parse(r#"{job="acs-app"}"#).unwrap();
        let observed = InfluxqlObserved::new(
            &url,
            Some("s3cret"),
            &ClientTls::system(),
            Some(selector),
            Limits::default(),
        )
        .unwrap();
        assert!(observed.query(&by_code()).await.unwrap().is_empty());
        let asked = fake.asked();
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].authorization.as_deref(), Some("Bearer s3cret"));
        assert_eq!(asked[0].params["db"], "callmetrics");
        assert!(
            asked[0].params["q"].contains(" AND (\"job\" = 'acs-app') GROUP BY "),
            "{:?}",
            asked[0].params
        );
    }

    #[tokio::test]
    async fn errors_name_influxdb() {
        let fake = fake::serve(400, r#"{"error":"error parsing query: found X"}"#).await;
        let url = format!("{}/query?db=callmetrics", fake.url);
        let observed =
            InfluxqlObserved::new(&url, None, &ClientTls::system(), None, Limits::default())
                .unwrap();
        let err = observed.query(&by_code()).await.unwrap_err().to_string();
        assert!(
            err.starts_with("the InfluxDB server rejected the query for SELECT ")
                && err.ends_with("(HTTP 400): error parsing query: found X"),
            "{err}"
        );
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/query?db=callmetrics",
            closed.local_addr().unwrap()
        );
        drop(closed);
        let observed =
            InfluxqlObserved::new(&url, None, &ClientTls::system(), None, Limits::default())
                .unwrap();
        let err = observed.query(&by_code()).await.unwrap_err().to_string();
        assert_eq!(
            err,
            format!("cannot query InfluxDB at {url}: Connection refused (os error 111)")
        );
    }
}
