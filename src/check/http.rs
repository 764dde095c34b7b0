//! The observed side over HTTP: the sink's Azure Monitor style query API,
//! `GET {base}/metrics?metricnames=..&timespan=..&interval=..&aggregation=..&$filter=..`.
//!
//! Any answer but a 2xx metrics response is a [`CheckError`] carrying the
//! sink's own message (`{"error":{"code":..,"message":..}}`), so "unknown
//! dimension" or "bad token" reach the user verbatim and exit 2.

use super::CheckError;
use super::observed::Observed;
use super::query::{AGGREGATIONS, Query};
use crate::emit::MetricsResponse;
use crate::emit::http::retry::{Reply, RetryAction, RetryPolicy, classify};
use reqwest::{StatusCode, Url};
use std::time::Duration;

/// Series per answer the query asks for at most (Azure's `top`, which
/// defaults to 10 there); far more than any dimension has values.
const TOP: u32 = 1_000_000;

/// Retries of a query that met a transient failure.
const QUERY_RETRIES: u32 = 3;

/// How long one query may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(120);

/// A sink's query API.
#[derive(Clone, Debug)]
pub struct HttpObserved {
    client: reqwest::Client,
    metrics_url: Url,
    token: Option<String>,
}

impl HttpObserved {
    /// `base_url` is the sink's root, e.g. `http://127.0.0.1:8650`.
    pub fn new(base_url: &str, token: Option<&str>) -> Result<HttpObserved, CheckError> {
        let invalid = |reason: String| CheckError::Url {
            url: base_url.to_string(),
            reason,
        };
        let base = Url::parse(base_url).map_err(|e| {
            invalid(format!(
                "{e} (give the sink's base URL, e.g. http://127.0.0.1:8650)"
            ))
        })?;
        if base.scheme() != "http" {
            return Err(invalid(format!(
                "only http:// is supported, not {}://",
                base.scheme()
            )));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(invalid(
                "give the base URL without ?query or #fragment".to_string(),
            ));
        }
        let mut metrics_url = base.clone();
        let path = format!("{}/metrics", base.path().trim_end_matches('/'));
        metrics_url.set_path(&path);
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        Ok(HttpObserved {
            client,
            metrics_url,
            token: token.map(str::to_string),
        })
    }

    /// The URL of `query`, parameters form-encoded.
    pub fn url(&self, query: &Query) -> Url {
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
        }
        url
    }

    async fn get(&self, query: &Query) -> Result<MetricsResponse, CheckError> {
        let connect = |source| CheckError::Connect {
            url: self.metrics_url.to_string(),
            source,
        };
        let mut request = self.client.get(self.url(query));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(connect)?;
        let status = response.status();
        let body = response.bytes().await.map_err(connect)?;
        if !status.is_success() {
            return Err(sink_error(query, status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| CheckError::Protocol {
            query: query.to_string(),
            reason: format!("not a Metrics - List response: {e}"),
        })
    }
}

impl Observed for HttpObserved {
    /// Queries are idempotent, so a dropped connection or a 429/5xx from a
    /// busy pipeline is retried with the replay's retry rules; anything
    /// else (or the last failure) is the answer.
    async fn query(&self, query: &Query) -> Result<MetricsResponse, CheckError> {
        let policy = RetryPolicy::new(QUERY_RETRIES);
        let mut retry = 0;
        loop {
            let result = self.get(query).await;
            let reply = match &result {
                Err(CheckError::Connect { source, .. }) => Reply::Transport(source.to_string()),
                Err(CheckError::Sink { status, .. }) => Reply::status(*status),
                _ => return result,
            };
            match classify(&reply) {
                RetryAction::Retry { after } if retry < policy.max_retries => {
                    let wait = policy.delay(retry, after, &mut rand::rng());
                    tokio::time::sleep(wait).await;
                    retry += 1;
                }
                _ => return result,
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(serde::Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The error of a non-2xx answer, with the sink's code and message when it
/// sent the Azure error shape, else the start of its body.
fn sink_error(query: &Query, status: StatusCode, body: &[u8]) -> CheckError {
    let (code, message) = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => (error.code, error.message),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let mut short: String = text.chars().take(300).collect();
            if short.len() < text.len() {
                short.push_str("...");
            }
            (String::new(), short)
        }
    };
    let message = if message.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no message")
            .to_string()
    } else {
        message
    };
    let hint = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            "; give the sink's token with --token or CALLMETRICS_TOKEN"
        }
        _ => "",
    };
    CheckError::Sink {
        query: query.to_string(),
        status: status.as_u16(),
        code: if code.is_empty() {
            code
        } else {
            format!(", {code}")
        },
        message,
        hint: hint.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Dimension, Metric};
    use crate::check::Split;
    use crate::engine::Grain;

    fn query() -> Query {
        Query {
            metric: Metric::ApiRequests,
            grain: Grain::MINUTE,
            split: Split::One(Dimension::Operation),
            timespan: (1_767_225_600_000, 1_767_229_200_000),
        }
    }

    #[test]
    fn query_url() {
        let http = HttpObserved::new("http://127.0.0.1:8650/base/", None).unwrap();
        assert_eq!(
            http.url(&query()).as_str(),
            "http://127.0.0.1:8650/base/metrics?metricnames=APIRequestCallAutomation\
             &timespan=2026-01-01T00%3A00%3A00Z%2F2026-01-01T01%3A00%3A00Z&interval=PT1M\
             &aggregation=Count%2CTotal%2CMinimum%2CMaximum%2CAverage&top=1000000\
             &%24filter=Operation+eq+%27*%27"
        );
        assert!(HttpObserved::new("127.0.0.1:8650", None).is_err());
        assert!(HttpObserved::new("https://example.com", None).is_err());
    }

    #[test]
    fn error_bodies() {
        let err = sink_error(
            &query(),
            StatusCode::BAD_REQUEST,
            br#"{"error":{"code":"BadRequest","message":"unknown dimension 'Foo'"}}"#,
        );
        assert_eq!(
            err.to_string(),
            "the sink rejected the query for APIRequestCallAutomation at PT1M by Operation \
             (HTTP 400, BadRequest): unknown dimension 'Foo'"
        );
        let err = sink_error(&query(), StatusCode::UNAUTHORIZED, b"");
        assert!(err.to_string().ends_with(
            "(HTTP 401): Unauthorized; give the sink's token with --token or CALLMETRICS_TOKEN"
        ));
        assert_eq!(err.exit_code(), 2);
    }
}
