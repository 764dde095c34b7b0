//! Sending one attempt of a request. The transport is a trait so the retry
//! loop and the driver can be tested with scripted ones under tokio's
//! paused clock; [`HttpTransport`] is the real one (reqwest: HTTP/1.1,
//! keep-alive connections pooled for the whole run, no redirects).

use crate::client::http::{client, error_text, failure_kind};
use crate::client::{Reply, TransportFailure};
use crate::wire::{ErrorBody, IngestAck};
use axum::body::Bytes;
use std::future::Future;
use std::time::Duration;

/// Sends one attempt.
pub trait Transport: Send + Sync + 'static {
    fn send(&self, request: http::Request<Bytes>) -> impl Future<Output = Reply> + Send;
}

/// Longest part of an error body kept in messages.
const DETAIL_MAX: usize = 200;

/// Requests over one pooled keep-alive client.
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    /// A client for `url`'s host keeping up to `connections` open.
    pub fn new(
        url: &reqwest::Url,
        connections: usize,
        timeout: Duration,
    ) -> Result<HttpTransport, String> {
        Ok(HttpTransport {
            client: client(url, connections, timeout)?,
        })
    }
}

impl Transport for HttpTransport {
    async fn send(&self, request: http::Request<Bytes>) -> Reply {
        let request = match reqwest::Request::try_from(request) {
            Ok(request) => request,
            Err(e) => return Reply::Invalid(error_text(&e)),
        };
        let response = match self.client.execute(request).await {
            Ok(response) => response,
            Err(e) if e.is_builder() => return Reply::Invalid(error_text(&e)),
            Err(e) => {
                return Reply::Transport {
                    kind: failure_kind(&e),
                    message: error_text(&e),
                };
            }
        };
        let code = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::client::retry::parse_retry_after);
        // Reading the body to its end also returns the connection to the pool.
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(e) => {
                return Reply::Transport {
                    kind: TransportFailure::Closed,
                    message: error_text(&e),
                };
            }
        };
        read_answer(code, retry_after, &body)
    }
}

/// The reply of an answer: a sink's `{"duplicate":true}` marks a batch it
/// applied before; an error's message comes from the Azure error shape when
/// the body has it, else from the start of the body.
pub fn read_answer(code: u16, retry_after: Option<Duration>, body: &[u8]) -> Reply {
    let success = (200..300).contains(&code);
    let (duplicate, detail) = if body.is_empty() {
        (false, String::new())
    } else if success {
        let ack: IngestAck = serde_json::from_slice(body).unwrap_or_default();
        (ack.duplicate, String::new())
    } else {
        let detail = match ErrorBody::parse(body) {
            Some(e) => e.error.message,
            None => {
                let text = String::from_utf8_lossy(&body[..body.len().min(DETAIL_MAX)]);
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            }
        };
        (false, detail)
    };
    Reply::Status {
        code,
        retry_after,
        duplicate,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        let dup = read_answer(200, None, br#"{"samples":0,"duplicate":true}"#);
        assert!(matches!(
            dup,
            Reply::Status {
                duplicate: true,
                ..
            }
        ));
        let plain = read_answer(204, None, b"");
        assert_eq!(plain, Reply::status(204));
        let refused = read_answer(
            422,
            None,
            br#"{"error":{"code":"UnprocessableEntity","message":"line 3: unknown"}}"#,
        );
        assert_eq!(refused.describe(), "HTTP 422: line 3: unknown");
        let html = read_answer(502, None, b"<html>\n  bad   gateway</html>");
        assert_eq!(html.describe(), "HTTP 502: <html> bad gateway</html>");
    }
}
