//! The Azure Monitor Metrics - List backend: the embedded sink's query API
//! (and any sink that speaks it),
//! `GET {base}/metrics?metricnames=..&timespan=..&interval=..&aggregation=..&$filter=..`,
//! or, with `--resource-id`, Azure Monitor's own path for a resource,
//! `GET {base}{resourceId}/providers/Microsoft.Insights/metrics?api-version=..`,
//! which Azure (`https://management.azure.com`) and the sink both serve.
//!
//! Any answer but a 2xx metrics response is a [`CheckError`] carrying the
//! sink's own message (`{"error":{"code":..,"message":..}}`), so "unknown
//! dimension" or "bad token" reach the user verbatim and exit 2.

use super::{
    Limits, Observed, ObservedSeries, Point, add_point, answer_body, sink_error, with_retries,
};
use crate::catalog::Metric;
use crate::check::query::{AGGREGATIONS, Query, parse_label};
use crate::check::{BackendName, CheckError};
use crate::client::tls::ClientTls;
use crate::model::Grain;
use crate::wire::metrics_response::DataPoint;
use crate::wire::resource_id::is_resource_id;
use crate::wire::{MetricsResponse, parse_millis};
use reqwest::Url;
use std::collections::BTreeMap;

/// Series per answer the query asks for at most (Azure's `top`, which
/// defaults to 10 there); far more than any dimension has values.
const TOP: u32 = 1_000_000;

/// The api-version asked of Azure Monitor: the one Azure's current
/// clients send (azure-monitor-query 1.4, @azure/monitor-query 1.3).
const API_VERSION: &str = "2024-02-01";

/// The namespace of a Communication Services resource's platform metrics.
const PLATFORM_NAMESPACE: &str = "Microsoft.Communication/CommunicationServices";

/// `--resource-id` and `--metric-namespace`: an Azure resource read at
/// Azure Monitor's paths.
#[derive(Clone, Debug)]
pub(crate) struct Resource {
    id: String,
    namespace: String,
}

impl Resource {
    pub(crate) fn new(id: &str, namespace: Option<&str>) -> Result<Resource, CheckError> {
        let id = id.trim_end_matches('/');
        if !is_resource_id(id) {
            return Err(CheckError::Usage(format!(
                "--resource-id {id:?} is not an Azure resource id; write \
                 /subscriptions/SUBSCRIPTION/resourceGroups/GROUP/providers/\
                 Microsoft.Communication/CommunicationServices/NAME (the resource's JSON view \
                 in the portal, or `az resource show`, gives it)"
            )));
        }
        Ok(Resource {
            id: id.to_string(),
            namespace: namespace.unwrap_or(PLATFORM_NAMESPACE).to_string(),
        })
    }

    /// True when it reads the resource's platform metrics (not a custom
    /// namespace).
    pub(crate) fn is_platform(&self) -> bool {
        self.namespace.eq_ignore_ascii_case(PLATFORM_NAMESPACE)
    }

    /// `expected` without the metrics that are callmetrics' own
    /// (`ApiRequestLatency`): Azure's platform metrics do not have them.
    pub(crate) fn platform_metrics(&self, expected: &MetricsResponse) -> MetricsResponse {
        let mut azure = expected.clone();
        azure
            .value
            .retain(|body| Metric::from_name(&body.name.value).is_none_or(Metric::is_azure_metric));
        azure
    }
}

/// A sink's query API, or Azure Monitor's for one resource.
#[derive(Clone, Debug)]
pub(crate) struct AzureObserved {
    client: reqwest::Client,
    metrics_url: Url,
    limits: Limits,
    /// The namespace asked for at Azure Monitor's path.
    namespace: Option<String>,
}

impl AzureObserved {
    /// `base_url` is the sink's root, e.g. `http://127.0.0.1:8650`;
    /// `token`, when given, is sent as `Authorization: Bearer TOKEN`.
    pub(crate) fn new(
        base_url: &str,
        token: Option<&str>,
        tls: &ClientTls,
        limits: Limits,
        resource: Option<&Resource>,
    ) -> Result<AzureObserved, CheckError> {
        let invalid = |reason: String| CheckError::Url {
            url: base_url.to_string(),
            reason,
        };
        let base = crate::client::http::http_url("--observed", base_url)
            .map_err(|e| invalid(e.to_string()))?;
        if base.query().is_some() || base.fragment().is_some() {
            return Err(invalid(
                "give the base URL without ?query or #fragment".to_string(),
            ));
        }
        let mut metrics_url = base.clone();
        let root = base.path().trim_end_matches('/');
        let path = match resource {
            Some(r) => format!("{root}{}/providers/Microsoft.Insights/metrics", r.id),
            None => format!("{root}/metrics"),
        };
        metrics_url.set_path(&path);
        let client = crate::client::http::client(&base, token, tls, 4, limits.timeout)
            .map_err(CheckError::Client)?;
        Ok(AzureObserved {
            client,
            metrics_url,
            limits,
            namespace: resource.map(|r| r.namespace.clone()),
        })
    }

    /// The URL of `query`, parameters form-encoded.
    pub(crate) fn url(&self, query: &Query) -> Url {
        let mut url = self.metrics_url.clone();
        {
            let mut pairs = url.query_pairs_mut();
            pairs
                .append_pair("metricnames", query.metric.name())
                .append_pair("timespan", &query.timespan_param())
                .append_pair("interval", query.grain.as_str())
                .append_pair("aggregation", AGGREGATIONS)
                .append_pair("top", &TOP.to_string());
            if let Some(filter) = query.filter_param() {
                pairs.append_pair("$filter", &filter);
            }
            if let Some(namespace) = &self.namespace {
                pairs
                    .append_pair("metricnamespace", namespace)
                    .append_pair("api-version", API_VERSION);
            }
        }
        url
    }

    /// Who answers, for messages.
    fn backend_name(&self) -> BackendName {
        match self.namespace {
            Some(_) => BackendName::AzureMonitor,
            None => BackendName::Sink,
        }
    }

    async fn get(&self, query: &Query) -> Result<MetricsResponse, CheckError> {
        let connect = |cause| CheckError::Connect {
            backend: self.backend_name(),
            url: self.metrics_url.to_string(),
            cause,
        };
        let response = self
            .client
            .get(self.url(query))
            .send()
            .await
            .map_err(connect)?;
        let status = response.status();
        let body = answer_body(
            response,
            &self.limits,
            &query.to_string(),
            self.backend_name(),
            self.metrics_url.as_str(),
        )
        .await?;
        if !status.is_success() {
            return Err(sink_error(
                self.backend_name(),
                &query.to_string(),
                status,
                &body,
            ));
        }
        serde_json::from_slice(&body).map_err(|e| CheckError::Protocol {
            query: query.to_string(),
            reason: format!("not a Metrics - List response: {e}"),
        })
    }
}

impl Observed for AzureObserved {
    /// Queries are idempotent, so a dropped connection or a 429/5xx from a
    /// busy pipeline is retried with the replay's retry rules; anything
    /// else (or the last failure) is the answer.
    async fn query(&self, query: &Query) -> Result<ObservedSeries, CheckError> {
        if query.totals {
            return Err(CheckError::Usage(
                "--totals is for counter backends (--backend promql); the query API answers \
                 every grain bucket, which is the stronger check"
                    .into(),
            ));
        }
        let answer = with_retries(|| self.get(query)).await?;
        read_answer(&answer, query)
    }
}

impl From<&DataPoint> for Point {
    fn from(p: &DataPoint) -> Point {
        Point {
            count: p.count,
            total: p.total,
            minimum: p.minimum,
            maximum: p.maximum,
            average: p.average,
        }
    }
}

fn is_empty(p: &DataPoint) -> bool {
    p.count.is_none()
        && p.total.is_none()
        && p.minimum.is_none()
        && p.maximum.is_none()
        && p.average.is_none()
}

/// Reads a Metrics - List answer to `query` into cells. An answer that
/// cannot be read as the query's series (another grain, no body for the
/// metric, a dimension the metric lacks, a bucket listed twice in one
/// series) is a protocol error, exit 2: comparing it would report noise. A
/// series listed twice (the same dimension values) is summed, as the
/// sink's own grouping would have; a readable answer with wrong series or
/// values is left to the comparison.
pub(crate) fn read_answer(
    answer: &MetricsResponse,
    query: &Query,
) -> Result<ObservedSeries, CheckError> {
    let fail = |reason: String| CheckError::Protocol {
        query: query.to_string(),
        reason,
    };
    let interval: Result<Grain, _> = answer.interval.parse();
    if interval != Ok(query.grain) {
        return Err(fail(format!(
            "asked for interval {}, the answer is at {:?}; the sink may not support this grain",
            query.grain, answer.interval
        )));
    }
    let name = query.metric.name();
    let mut bodies = answer
        .value
        .iter()
        .filter(|b| b.name.value.eq_ignore_ascii_case(name));
    let body = bodies.next().ok_or_else(|| {
        fail(format!(
            "no metric named {name} in the answer; the sink may not know it"
        ))
    })?;
    if bodies.next().is_some() {
        return Err(fail(format!("metric {name} is listed twice")));
    }
    if !(body.error_code.is_empty() || body.error_code == "Success") {
        return Err(fail(format!("errorCode {:?} for {name}", body.error_code)));
    }
    let mut out = ObservedSeries::new();
    for ts in &body.timeseries {
        let label = parse_label(query.metric, &ts.metadatavalues).map_err(&fail)?;
        let mut buckets = BTreeMap::new();
        // Azure lists empty buckets as a bare timeStamp; they hold no data.
        for p in ts.data.iter().filter(|p| !is_empty(p)) {
            let ms = parse_millis(&p.time_stamp)
                .ok_or_else(|| fail(format!("timeStamp {:?} is not RFC 3339", p.time_stamp)))?;
            if buckets.insert(ms, Point::from(p)).is_some() {
                return Err(fail(format!(
                    "a series lists bucket {} twice",
                    p.time_stamp
                )));
            }
        }
        if buckets.is_empty() {
            continue;
        }
        for (ms, point) in buckets {
            add_point(&mut out, &label, ms, point).map_err(&fail)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Dimension, Metric};
    use crate::check::Split;
    use crate::client::tls::ClientTls;
    use crate::model::Grain;

    fn query() -> Query {
        Query {
            metric: Metric::ApiRequests,
            grain: Grain::MINUTE,
            split: Split::One(Dimension::Operation),
            timespan: (1_767_225_600_000, 1_767_229_200_000),
            totals: false,
        }
    }

    #[test]
    fn query_url() {
        let http = AzureObserved::new(
            "http://127.0.0.1:8650/base/",
            None,
            &ClientTls::system(),
            Limits::default(),
            None,
        )
        .unwrap();
        assert_eq!(
            http.url(&query()).as_str(),
            "http://127.0.0.1:8650/base/metrics?metricnames=APIRequestCallAutomation\
             &timespan=2026-01-01T00%3A00%3A00Z%2F2026-01-01T01%3A00%3A00Z&interval=PT1M\
             &aggregation=Count%2CTotal%2CMinimum%2CMaximum%2CAverage&top=1000000\
             &%24filter=Operation+eq+%27*%27"
        );
        assert!(
            AzureObserved::new(
                "127.0.0.1:8650",
                None,
                &ClientTls::system(),
                Limits::default(),
                None
            )
            .is_err()
        );
        assert!(
            AzureObserved::new(
                "ftp://127.0.0.1",
                None,
                &ClientTls::system(),
                Limits::default(),
                None
            )
            .is_err()
        );
    }

    fn answer(counts: [u64; 2]) -> MetricsResponse {
        let series = |count: u64| {
            format!(
                r#"{{"metadatavalues":[{{"name":{{"value":"Operation"}},"value":"Play"}}],
                    "data":[{{"timeStamp":"2026-01-01T00:00:00Z","count":{count},"total":{count},
                              "minimum":1,"maximum":1,"average":1.0}}]}}"#
            )
        };
        let json = format!(
            r#"{{"timespan":"2026-01-01T00:00:00Z/2026-01-01T01:00:00Z","interval":"PT1M",
                "value":[{{"name":{{"value":"APIRequestCallAutomation"}},"timeseries":[{},{}]}}]}}"#,
            series(counts[0]),
            series(counts[1])
        );
        serde_json::from_str(&json).unwrap()
    }

    // Issue #17: a series listed twice was refused instead of summed.
    #[test]
    fn a_series_listed_twice_is_summed_and_an_overflow_refused() {
        let out = read_answer(&answer([2, 3]), &query()).unwrap();
        let label = vec![(Dimension::Operation, "Play".to_string())];
        assert_eq!(
            out[&label][&1_767_225_600_000],
            Point {
                count: Some(5),
                total: Some(5),
                minimum: Some(1),
                maximum: Some(1),
                average: Some(1.0),
            }
        );
        let err = read_answer(&answer([u64::MAX, 1]), &query()).unwrap_err();

        assert!(
            err.to_string().ends_with(
                r#"the series Operation="Play" is listed more than once and its sum at 2026-01-01T00:00:00Z passes 2^64-1"#
            ),
            "{err}"
        );
    }
}
