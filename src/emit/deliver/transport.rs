//! Sending one attempt of a request over a worker's own connection. The
//! transport is a trait so the retry loop and the driver can be tested
//! with scripted ones under tokio's paused clock; [`HttpTransport`] is the
//! real one: HTTP/1.1 over hyper's connection API, one keep-alive
//! connection per worker, opened when first needed and again after it
//! broke, redirects never followed; over TLS for `https://` URLs, with the
//! one client configuration every sender shares (`client::tls`).
//!
//! A connection per worker (as wrk and oha do) instead of a shared pool
//! keeps a request's path short: no pool lookup, no URL re-parsing, no
//! task per request; it is what lets one core keep nginx busy.

use crate::client::tls::ClientTls;
use crate::client::{Reply, TransportFailure};
use crate::wire::{ErrorBody, IngestAck, printable};
use axum::body::Bytes;
use http::header::{HOST, HeaderValue, RETRY_AFTER};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpStream;

/// Sends attempts, one at a time per connection.
pub(crate) trait Transport: Send + Sync + 'static {
    /// A worker's connection (or whatever stands for one).
    type Connection: Send + 'static;

    /// A worker's connection, not opened yet.
    fn connection(&self) -> Self::Connection;

    /// Sends one attempt over `connection`.
    fn send(
        &self,
        connection: &mut Self::Connection,
        request: http::Request<Bytes>,
    ) -> impl Future<Output = Reply> + Send;
}

/// Characters of a peer's error message kept in the reason of a failure.
const DETAIL_MAX: usize = 200;

/// Bytes of a reply's body kept: room for any error message (the Azure
/// error shape, the start of an HTML error page) and a sink's
/// acknowledgement. A peer cannot make a reply cost more memory than this
/// (a hostile app once answered 200 with a 1 GiB chunked body, and reading
/// it whole took `run` to 1.2 GiB).
pub(crate) const REPLY_KEPT: usize = 4 << 10;

/// Bytes of a reply's body read at most. A body that ends within it is
/// drained, so an ordinary error page keeps the keep-alive connection; a
/// longer one closes the connection instead, because reading it to its end
/// would let the peer hold the worker for as long as it cares to stream
/// (and a reconnect costs one round trip).
const REPLY_DRAINED: usize = 64 << 10;

/// Why a target's URL cannot be connected to.
#[derive(Debug, thiserror::Error)]
pub enum TransportUrlError {
    #[error("{0} names no host")]
    NoHost(reqwest::Url),
    #[error("{url}: {reason}")]
    ServerName {
        url: reqwest::Url,
        reason: rustls::pki_types::InvalidDnsNameError,
    },
    #[error("{url}: {reason}")]
    Host {
        url: reqwest::Url,
        reason: http::header::InvalidHeaderValue,
    },
}

/// HTTP/1.1 to one host.
pub(crate) struct HttpTransport {
    /// The host (an IPv6 address without brackets) and port to connect to.
    host_name: String,
    port: u16,
    /// The `Host` header.
    host: HeaderValue,
    /// The target's URL and its origin form (path and query): every
    /// request of a run goes there, so the form is made once.
    target: Option<(http::Uri, http::Uri)>,
    timeout: Duration,
    connect_timeout: Duration,
    /// For `https://`: the handshake's configuration and the name the
    /// server's certificate must carry.
    tls: Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
}

/// A worker's connection: the sending half, while it is usable.
pub(crate) struct HttpConnection {
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl HttpConnection {
    /// Whether it can carry another request (a pool keeps it then).
    pub(crate) fn is_open(&self) -> bool {
        self.sender.as_ref().is_some_and(|s| !s.is_closed())
    }
}

impl HttpTransport {
    /// A transport to `url`'s host; `timeout` bounds each attempt, connect
    /// to last byte of the answer; `https://` speaks TLS as `tls` says.
    pub(crate) fn new(
        url: &reqwest::Url,
        timeout: Duration,
        tls: &ClientTls,
    ) -> Result<HttpTransport, TransportUrlError> {
        let host = url
            .host_str()
            .ok_or_else(|| TransportUrlError::NoHost(url.clone()))?;
        let tls = match url.scheme() {
            "https" => {
                let name = rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']))
                    .map_err(|reason| TransportUrlError::ServerName {
                        url: url.clone(),
                        reason,
                    })?
                    .to_owned();
                Some((tokio_rustls::TlsConnector::from(tls.config()), name))
            }
            _ => None,
        };
        let port = url.port_or_known_default().unwrap_or(80);
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        Ok(HttpTransport {
            host_name: host.trim_matches(['[', ']']).to_string(),
            port,
            host: HeaderValue::try_from(authority).map_err(|reason| TransportUrlError::Host {
                url: url.clone(),
                reason,
            })?,
            target: url
                .as_str()
                .parse::<http::Uri>()
                .ok()
                .map(|uri| (uri.clone(), origin_form(uri))),
            timeout,
            connect_timeout: crate::client::http::CONNECT_TIMEOUT.min(timeout),
            tls,
        })
    }

    /// Opens a connection and closes it again, sending nothing: whether
    /// the target can be reached, or why not.
    pub(crate) async fn open(&self) -> Result<(), String> {
        match self.connect().await {
            Ok(_) => Ok(()),
            Err(Reply::Transport { message, .. }) => Err(message),
            Err(other) => Err(other.describe()),
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, Reply> {
        let failed = |kind, message: String| Reply::Transport { kind, message };
        let stream = match tokio::time::timeout(
            self.connect_timeout,
            TcpStream::connect((self.host_name.as_str(), self.port)),
        )
        .await
        {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                return Err(failed(
                    TransportFailure::Connect,
                    format!(
                        "cannot connect to {}: {e}",
                        self.host.to_str().unwrap_or("")
                    ),
                ));
            }
            Err(_) => {
                return Err(failed(
                    TransportFailure::Connect,
                    format!(
                        "no connection to {} within {} ms",
                        self.host.to_str().unwrap_or(""),
                        self.connect_timeout.as_millis()
                    ),
                ));
            }
        };
        let _ = stream.set_nodelay(true);
        let Some((connector, name)) = &self.tls else {
            return handshake(stream).await;
        };
        let handshake_within = self.connect_timeout;
        let stream =
            match tokio::time::timeout(handshake_within, connector.connect(name.clone(), stream))
                .await
            {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    let cause = e.to_string();
                    return Err(failed(
                        TransportFailure::Connect,
                        format!(
                            "TLS with {}: {cause}{}",
                            self.host.to_str().unwrap_or(""),
                            crate::client::http::tls_hint(&cause)
                        ),
                    ));
                }
                Err(_) => {
                    return Err(failed(
                        TransportFailure::Connect,
                        format!(
                            "no TLS handshake with {} within {} ms",
                            self.host.to_str().unwrap_or(""),
                            handshake_within.as_millis()
                        ),
                    ));
                }
            };
        handshake(stream).await
    }

    async fn attempt(
        &self,
        connection: &mut HttpConnection,
        mut request: http::Request<Bytes>,
    ) -> Reply {
        let sender = match &mut connection.sender {
            Some(sender) if !sender.is_closed() => sender,
            _ => match self.connect().await {
                Ok(sender) => connection.sender.insert(sender),
                Err(reply) => return reply,
            },
        };
        // A connection's requests carry the path only, and the Host header.
        if request.uri().authority().is_some() {
            let origin = match &self.target {
                Some((full, origin)) if request.uri() == full => origin.clone(),
                _ => origin_form(request.uri().clone()),
            };
            *request.uri_mut() = origin;
        }
        request.headers_mut().insert(HOST, self.host.clone());
        let request = request.map(Full::new);
        let closed = |e: hyper::Error| Reply::Transport {
            kind: TransportFailure::Closed,
            message: e.to_string(),
        };
        if let Err(e) = sender.ready().await {
            connection.sender = None;
            return closed(e);
        }
        let response = match sender.send_request(request).await {
            Ok(response) => response,
            Err(e) => {
                connection.sender = None;
                return closed(e);
            }
        };
        let code = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::client::retry::parse_retry_after);
        let keep_alive = !response
            .headers()
            .get(http::header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let mut body = response.into_body();
        let mut kept = Vec::new();
        let mut read = 0;
        let drained = loop {
            match body.frame().await {
                None => break true,
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    let room = REPLY_KEPT - kept.len();
                    kept.extend_from_slice(&data[..data.len().min(room)]);
                    read += data.len();
                    if read > REPLY_DRAINED {
                        break false;
                    }
                }
                Some(Err(e)) => {
                    connection.sender = None;
                    return closed(e);
                }
            }
        };
        // Dropping the sender with the body unread closes the connection.
        if !drained || !keep_alive {
            connection.sender = None;
        }
        read_answer(code, retry_after, &kept)
    }
}

/// `uri` as a request line on a connection carries it: path and query.
fn origin_form(uri: http::Uri) -> http::Uri {
    uri.path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .unwrap_or_default()
}

/// HTTP/1.1 over `io`, its connection driven by a task of its own (which
/// ends when the connection closes or the sender is dropped).
async fn handshake<I>(io: I) -> Result<SendRequest<Full<Bytes>>, Reply>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, connection) =
        http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| Reply::Transport {
                kind: TransportFailure::Connect,
                message: e.to_string(),
            })?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

impl Transport for HttpTransport {
    type Connection = HttpConnection;

    fn connection(&self) -> HttpConnection {
        HttpConnection { sender: None }
    }

    async fn send(&self, connection: &mut HttpConnection, request: http::Request<Bytes>) -> Reply {
        match tokio::time::timeout(self.timeout, self.attempt(connection, request)).await {
            Ok(reply) => reply,
            Err(_) => {
                // The answer may still come: this connection cannot be reused.
                connection.sender = None;
                Reply::Transport {
                    kind: TransportFailure::Timeout,
                    message: format!("no complete answer within {} ms", self.timeout.as_millis()),
                }
            }
        }
    }
}

/// The reply of an answer (`body`: its first [`REPLY_KEPT`] bytes): a
/// sink's `{"duplicate":true}` marks a batch it applied before; an error's
/// message comes from the Azure error shape when the body has it, else from
/// the start of the body, on one line, at most [`DETAIL_MAX`] characters
/// and with control characters escaped, as the terminal will show it.
pub(crate) fn read_answer(code: u16, retry_after: Option<Duration>, body: &[u8]) -> Reply {
    let success = (200..300).contains(&code);
    let (duplicate, detail) = if body.is_empty() {
        (false, String::new())
    } else if success {
        let ack: IngestAck = serde_json::from_slice(body).unwrap_or_default();
        (ack.duplicate, String::new())
    } else {
        let text = match ErrorBody::parse(body) {
            Some(e) => e.error.message,
            None => String::from_utf8_lossy(body).into_owned(),
        };
        let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let short: String = line.chars().take(DETAIL_MAX).collect();
        (false, printable(&short).into_owned())
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

    #[test]
    fn host_and_authority() {
        let tls = ClientTls::system();
        let t = HttpTransport::new(
            &"http://localhost/cb".parse().unwrap(),
            Duration::from_secs(1),
            &tls,
        )
        .unwrap();
        assert_eq!((t.host_name.as_str(), t.port), ("localhost", 80));
        assert_eq!(t.host.to_str().unwrap(), "localhost");
        let t = HttpTransport::new(
            &"http://[::1]:8650/".parse().unwrap(),
            Duration::from_secs(1),
            &tls,
        )
        .unwrap();
        assert_eq!((t.host_name.as_str(), t.port), ("::1", 8650));
        assert_eq!(t.host.to_str().unwrap(), "[::1]:8650");
        assert!(t.tls.is_none());
        let t = HttpTransport::new(
            &"https://127.0.0.1/cb".parse().unwrap(),
            Duration::from_secs(1),
            &tls,
        )
        .unwrap();
        assert_eq!(t.port, 443);
        assert!(t.tls.is_some());
    }
}
