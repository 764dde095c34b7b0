//! Sending one batch until it is delivered or given up on. The transport is
//! a trait so the retry loop can be tested with a scripted one under
//! tokio's paused clock; [`HttpTransport`] is the real one (reqwest, one
//! pooled keep-alive client for the whole run).

use super::config::{DEFAULT_CONNECT_TIMEOUT, HttpSinkConfig};
use super::encoder::Batch;
use super::request_builder::IngestRequestBuilder;
use super::retry::{Reply, RetryAction, RetryPolicy, classify, parse_retry_after};
use super::stats::Counters;
use rand::SeedableRng;
use std::error::Error as _;
use std::future::Future;

/// Sends one attempt of a batch.
pub trait Transport: Send + Sync + 'static {
    fn send(&self, batch: &Batch) -> impl Future<Output = Reply> + Send;
}

/// How a batch ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// Attempts made, the first included.
    pub attempts: u32,
    /// `Ok(duplicate)` when delivered, else the last reply.
    pub result: Result<bool, String>,
}

/// Sends `batch` until delivered, a permanent failure, or `policy` is out
/// of retries. Every attempt sends the same body with the same key.
pub async fn send_with_retries<T: Transport>(
    transport: &T,
    policy: &RetryPolicy,
    batch: &Batch,
    counters: &Counters,
) -> Sent {
    // Jitter only needs to differ between batches, not between runs.
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(batch.seq ^ 0x9e37_79b9_7f4a_7c15);
    let mut retry = 0;
    loop {
        let reply = transport.send(batch).await;
        let attempts = retry + 1;
        let after = match classify(&reply) {
            RetryAction::Done => {
                let duplicate = matches!(
                    reply,
                    Reply::Status {
                        duplicate: true,
                        ..
                    }
                );
                return Sent {
                    attempts,
                    result: Ok(duplicate),
                };
            }
            RetryAction::Fail(reason) => {
                return Sent {
                    attempts,
                    result: Err(reason),
                };
            }
            RetryAction::Retry { after } => after,
        };
        if retry >= policy.max_retries {
            return Sent {
                attempts,
                result: Err(format!(
                    "gave up after {attempts} attempts: {}",
                    reply.describe()
                )),
            };
        }
        Counters::add(&counters.retries, 1);
        tokio::time::sleep(policy.delay(retry, after, &mut rng)).await;
        retry += 1;
    }
}

/// Longest part of an error body kept in messages.
const DETAIL_MAX: usize = 200;

/// `POST /ingest` over HTTP/1.1 with keep-alive connections.
pub struct HttpTransport {
    client: reqwest::Client,
    requests: IngestRequestBuilder,
}

impl HttpTransport {
    pub fn new(config: &HttpSinkConfig) -> Result<HttpTransport, String> {
        let requests = IngestRequestBuilder::new(config)?;
        let mut client = reqwest::Client::builder()
            .pool_max_idle_per_host(config.concurrency)
            .tcp_nodelay(true)
            .timeout(config.timeout)
            .connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        // A proxy from the environment must not capture the local sink.
        if is_loopback(requests.url()) {
            client = client.no_proxy();
        }
        let client = client
            .build()
            .map_err(|e| format!("cannot create the HTTP client: {}", chain(&e)))?;
        Ok(HttpTransport { client, requests })
    }
}

impl Transport for HttpTransport {
    async fn send(&self, batch: &Batch) -> Reply {
        let response = match self.requests.build(&self.client, batch).send().await {
            Ok(response) => response,
            Err(e) if e.is_builder() => return Reply::Invalid(chain(&e)),
            Err(e) => return Reply::Transport(chain(&e)),
        };
        let code = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        // Reading the body to its end also returns the connection to the pool.
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(e) => return Reply::Transport(chain(&e)),
        };
        let answer: Answer = serde_json::from_slice(&body).unwrap_or_default();
        let success = (200..300).contains(&code);
        let detail = match answer.error {
            _ if success => String::new(),
            Some(ErrorBody { message }) => message,
            None => {
                let text = String::from_utf8_lossy(&body[..body.len().min(DETAIL_MAX)]);
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            }
        };
        Reply::Status {
            code,
            retry_after,
            duplicate: success && answer.duplicate,
            detail,
        }
    }
}

/// The parts of the sink's JSON answer we use: `{"samples":N,"duplicate":B}`
/// or `{"error":{"code":..,"message":..}}`.
#[derive(Default, serde::Deserialize)]
struct Answer {
    #[serde(default)]
    duplicate: bool,
    error: Option<ErrorBody>,
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    message: String,
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some(host) if host.eq_ignore_ascii_case("localhost") => true,
        Some(host) => host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// The error and its causes on one line ("error sending request: ... :
/// Connection refused").
fn chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
