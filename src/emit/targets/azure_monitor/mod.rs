//! Azure Monitor custom metrics (`POST
//! https://REGION.monitoring.azure.com/RESOURCE_ID/metrics`, or a
//! callmetrics sink's `/metrics`): per minute of the event timeline one
//! request of that minute's ingestion documents, the bytes `generate
//! --format azure-monitor` writes (`encoder.rs`), sent as the minute
//! closes; Azure's limits (`limits.rs`) held before the run starts
//! against what it will send (`plan.rs`).
//!
//! Microsoft's page posts one document with `application/json`; a minute
//! here has one per metric, sent together one per line as
//! `application/x-ndjson`, the way Telegraf's Azure Monitor output writes
//! to the same endpoint. Azure keeps no idempotency keys, so a retried
//! request it had applied counts twice there; a callmetrics sink does
//! keep them, so the batch's `Idempotency-Key` (as ingest sends it)
//! makes retries exact against it.

mod encoder;
mod limits;
mod plan;

pub(crate) use encoder::DocumentEncoder;
pub(crate) use limits::LimitError;

use super::ingest::IDEMPOTENCY_KEY;
use super::{Target, TargetDefaults, TargetFlagError, USER_AGENT, bearer, post, uri};
use crate::catalog::Naming;
use crate::client::Retryable;
use crate::emit::deliver::Compression;
use crate::emit::deliver::batcher::Batch;
use crate::engine::{IdKey, Workload};
use crate::model::Grain;
use crate::scenario::Scenario;
use axum::body::Bytes;
use http::header::{self, HeaderValue};
pub(crate) use limits::Sending;
use plan::Plan;

/// One minute per request, so a few in flight serve a `--max-rate` run
/// of the recent past; retried until delivered, as a minute lost would
/// leave a hole in the resource's charts.
pub(crate) const DEFAULTS: TargetDefaults = TargetDefaults {
    batch_events: usize::MAX,
    concurrency: 4,
    retries: 8,
    stop_on_failure: true,
    compression: Compression::None,
    retryable: Retryable::Http,
};

/// Where the bearer token is read when `--token` is not given: a
/// Microsoft Entra token for `https://monitoring.azure.com/`, as `az
/// account get-access-token --resource https://monitoring.azure.com/`
/// prints it, kept out of the command line (and so of `ps`).
pub(crate) const TOKEN_ENV: &str = "AZURE_ACCESS_TOKEN";

/// A resource's custom-metrics endpoint.
#[derive(Clone, Debug)]
pub(crate) struct AzureMonitor {
    url: reqwest::Url,
    uri: http::Uri,
    authorization: Option<HeaderValue>,
    naming: Naming,
}

impl AzureMonitor {
    /// `url` is the endpoint itself, its path ending in `/metrics`;
    /// dimensions are named as `naming` says.
    pub(crate) fn new(
        url: &str,
        token: Option<&str>,
        naming: Naming,
    ) -> Result<AzureMonitor, TargetFlagError> {
        let url = crate::client::http::http_url("--sink", url)?;
        // The root of a sink or of Azure's endpoint answers 404: say so
        // before the run rather than in its first failed request.
        if !url.path().ends_with("/metrics") {
            return Err(TargetFlagError::NotMetrics(url));
        }
        Ok(AzureMonitor {
            uri: uri(&url)?,
            url,
            authorization: token.map(bearer).transpose()?,
            naming,
        })
    }
}

/// Refuses a run Azure Monitor would not take (see `limits.rs`): the
/// workload is simulated once for it, on this thread.
pub(crate) fn check_limits(
    scenario: &Scenario,
    workload: &Workload,
    naming: Naming,
    sending: Sending,
    grain: Grain,
) -> Result<(), LimitError> {
    let plan = tokio::task::block_in_place(|| Plan::of(scenario, workload, naming));
    plan.map_or(Ok(()), |plan| plan.check(sending, grain))
}

impl Target for AzureMonitor {
    type Encoder = DocumentEncoder;
    const NAME: &'static str = "azure-monitor";

    fn url(&self) -> &reqwest::Url {
        &self.url
    }

    fn encoder(&self, _ids: IdKey, _paced: bool) -> DocumentEncoder {
        DocumentEncoder::new(self.naming)
    }

    fn fingerprint(&self) -> String {
        format!("azure-monitor|{:?}", self.naming)
    }

    fn request(&self, batch: &Batch) -> http::Request<Bytes> {
        let mut request = post::<DocumentEncoder>(&self.uri, batch, self.authorization.as_ref());
        let headers = request.headers_mut();
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        if let Ok(key) = HeaderValue::try_from(batch.idempotency_key()) {
            headers.insert(IDEMPOTENCY_KEY, key);
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_the_token_the_ndjson_type_and_the_batch_key() {
        let target = AzureMonitor::new(
            "https://westeurope.monitoring.azure.com/subscriptions/s/resourceGroups/g/providers/\
             Microsoft.Communication/CommunicationServices/acs/metrics",
            Some("t0ken"),
            Naming::Azure,
        )
        .unwrap();
        let request = target.request(&Batch::of_body(2, b"{}\n"));
        let headers = request.headers();
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(request.uri().path(), target.url().path());
        assert_eq!(headers["authorization"], "Bearer t0ken");
        assert_eq!(headers["content-type"], "application/x-ndjson");
        assert_eq!(headers["idempotency-key"], "cm-00000000000000ab-2");
        assert!(
            headers["user-agent"]
                .to_str()
                .unwrap()
                .starts_with("callmetrics/")
        );
    }

    #[test]
    fn the_url_must_be_a_metrics_endpoint() {
        let new = |url| AzureMonitor::new(url, None, Naming::Azure);
        assert!(new("http://127.0.0.1:8650/metrics").is_ok());
        let err = new("http://127.0.0.1:8650").unwrap_err().to_string();
        assert!(
            err.contains("https://REGION.monitoring.azure.com/RESOURCE_ID/metrics"),
            "{err}"
        );
        assert!(new("127.0.0.1:8650/metrics").is_err());
    }
}
