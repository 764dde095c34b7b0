//! One batch to one `POST {base}/ingest` request: the body as is (a cheap
//! reference-counted clone, so retries do not copy it) and the headers of
//! the sink contract.

use super::config::HttpSinkConfig;
use super::encoder::Batch;
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderName, HeaderValue};

/// The header carrying a batch's id.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Builds ingest requests.
#[derive(Clone, Debug)]
pub struct IngestRequestBuilder {
    url: reqwest::Url,
    authorization: Option<HeaderValue>,
}

impl IngestRequestBuilder {
    pub fn new(config: &HttpSinkConfig) -> Result<IngestRequestBuilder, String> {
        let url = config.check()?;
        let authorization = match &config.token {
            Some(token) => {
                let mut value = HeaderValue::try_from(format!("Bearer {token}"))
                    .map_err(|_| "the token contains characters not allowed in a header")?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        Ok(IngestRequestBuilder { url, authorization })
    }

    pub fn url(&self) -> &reqwest::Url {
        &self.url
    }

    pub fn build(&self, client: &reqwest::Client, batch: &Batch) -> reqwest::RequestBuilder {
        let mut request = client
            .post(self.url.clone())
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            )
            .header(HeaderName::from_static(IDEMPOTENCY_KEY), batch.id.as_str())
            .body(batch.body.clone());
        if batch.gzip {
            request = request.header(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        if let Some(auth) = &self.authorization {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        request
    }
}
