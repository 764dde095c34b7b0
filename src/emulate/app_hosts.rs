//! Keep-alive connections to the hosts apps name in their `callbackUri`s,
//! over the delivery engine's HTTP/1.1 transport (`emit::deliver`): a
//! callback takes an idle connection to its host, or opens one, and gives
//! it back once answered. A call resolves its host once, when it starts,
//! so a callback's path is a lock, a pop and a push: no URL parsing and no
//! general-purpose pool (reqwest's took about 6 % of the emulator's time
//! under load, half of it parsing the same URL again).

use super::lock;
use crate::client::Reply;
use crate::client::tls::ClientTls;
use crate::emit::deliver::transport::{HttpConnection, HttpTransport, Transport};
use axum::body::Bytes;
use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Connections idle longer than this are closed rather than reused:
/// Node's http server closes a keep-alive connection after 5 s idle, and a
/// callback sent on one just as it closes would fail.
const IDLE_KEPT: Duration = Duration::from_secs(4);

/// Idle connections kept per host: enough for the callbacks in flight at
/// tens of thousands a second; more are closed when given back.
const IDLE_PER_HOST: usize = 1024;

/// Hosts remembered: an app naming a new host per call must not grow the
/// emulator without bound (forgotten hosts' connections close once their
/// callbacks are answered).
const HOSTS_KEPT: usize = 1024;

/// Every host callbacks went to, by scheme, host and port.
pub(super) struct AppHosts {
    tls: ClientTls,
    timeout: Duration,
    hosts: Mutex<FxHashMap<(String, String, u16), Arc<AppHost>>>,
}

/// One host and its idle connections, most recently used last.
pub(super) struct AppHost {
    transport: HttpTransport,
    idle: Mutex<Vec<(Instant, HttpConnection)>>,
}

/// Where a call's callbacks go: its host, and the path and query of its
/// `callbackUri` as the request line carries them.
pub(super) struct CallbackTarget {
    pub host: Arc<AppHost>,
    pub path: http::Uri,
}

impl AppHosts {
    /// Each POST is bounded by `timeout`, connect to last byte of the answer.
    pub(super) fn new(timeout: Duration) -> AppHosts {
        AppHosts {
            tls: ClientTls::system(),
            timeout,
            hosts: Mutex::default(),
        }
    }

    /// Where callbacks to `url` (http or https) go; `None` for a URL no
    /// connection can be made to (no host).
    pub(super) fn target(&self, url: &reqwest::Url) -> Option<CallbackTarget> {
        let key = (
            url.scheme().to_string(),
            url.host_str()?.to_string(),
            url.port_or_known_default()?,
        );
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        let path = path.parse().ok()?;
        let mut hosts = lock(&self.hosts);
        let host = match hosts.get(&key) {
            Some(host) => host.clone(),
            None => {
                let transport = HttpTransport::new(url, self.timeout, &self.tls).ok()?;
                if hosts.len() >= HOSTS_KEPT {
                    hosts.clear();
                }
                let host = Arc::new(AppHost {
                    transport,
                    idle: Mutex::default(),
                });
                hosts.insert(key, host.clone());
                host
            }
        };
        Some(CallbackTarget { host, path })
    }
}

impl AppHost {
    /// Sends `request` (its URI the path and query) on an idle connection,
    /// or a new one, and keeps the connection if it can be used again.
    pub(super) async fn send(&self, request: http::Request<Bytes>) -> Reply {
        let now = Instant::now();
        let reused = {
            let mut idle = lock(&self.idle);
            // The oldest are at the front: they go first when stale.
            let stale = idle.partition_point(|(at, _)| now.duration_since(*at) > IDLE_KEPT);
            idle.drain(..stale);
            idle.pop()
        };
        let mut connection = match reused {
            Some((_, connection)) => connection,
            None => self.transport.connection(),
        };
        let reply = self.transport.send(&mut connection, request).await;
        if connection.is_open() {
            let mut idle = lock(&self.idle);
            if idle.len() < IDLE_PER_HOST {
                idle.push((Instant::now(), connection));
            }
        }
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A server answering 204 to everything; returns its URL and how many
    /// connections it accepted.
    async fn counting_server() -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                let service = hyper::service::service_fn(|_request| async {
                    let mut reply = http::Response::new(http_body_util::Empty::<Bytes>::new());
                    *reply.status_mut() = http::StatusCode::NO_CONTENT;
                    Ok::<_, std::convert::Infallible>(reply)
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
                );
            }
        });
        (url, accepted)
    }

    fn post(target: &CallbackTarget) -> http::Request<Bytes> {
        http::Request::post(target.path.clone())
            .body(Bytes::from_static(b"[]"))
            .unwrap()
    }

    #[tokio::test]
    async fn calls_to_one_host_share_its_kept_alive_connection() {
        let (base, accepted) = counting_server().await;
        let hosts = AppHosts::new(Duration::from_secs(5));
        let first = hosts
            .target(&format!("{base}/api/callbacks?call=1").parse().unwrap())
            .unwrap();
        let second = hosts
            .target(&format!("{base}/other").parse().unwrap())
            .unwrap();
        assert!(Arc::ptr_eq(&first.host, &second.host));
        assert_eq!(first.path, "/api/callbacks?call=1");
        for target in [&first, &second, &first] {
            assert_eq!(target.host.send(post(target)).await, Reply::status(204));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(lock(&first.host.idle).len(), 1);
    }

    #[tokio::test]
    async fn a_connection_idle_too_long_is_closed_not_reused() {
        let (base, accepted) = counting_server().await;
        let hosts = AppHosts::new(Duration::from_secs(5));
        let target = hosts
            .target(&format!("{base}/cb").parse().unwrap())
            .unwrap();
        assert_eq!(target.host.send(post(&target)).await, Reply::status(204));
        // As if it had been idle since before IDLE_KEPT.
        for (at, _) in lock(&target.host.idle).iter_mut() {
            *at -= IDLE_KEPT + Duration::from_millis(1);
        }
        assert_eq!(target.host.send(post(&target)).await, Reply::status(204));
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }
}
