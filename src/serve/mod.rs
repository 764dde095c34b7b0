//! The accept loop of every server callmetrics runs (the sink, and during a
//! run the OpenID configuration and `--control`), in place of
//! `axum::serve`, for the limits a server must keep against slow or
//! hostile clients: at most `max_connections` connections at once (more
//! wait in the kernel's backlog), every request's headers within
//! `header_timeout` (a connection that dribbles them, or says nothing, is
//! closed), and on shutdown the requests in flight are finished, for at
//! most `drain` when one is set, before it returns. The sink's bodies have
//! their own deadline and memory budget (`sink/http.rs`). With TLS
//! (`sink --tls-cert`), the handshake is held to the header deadline too.

mod tls;

pub(crate) use tls::ServerTls;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;
use tokio::task::JoinSet;

/// How many connections, how long for a request's headers, and how long
/// shutdown waits for requests in flight.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    /// `None` waits for every request in flight (the sink finishes what it
    /// is applying; its deadlines bound the wait). A server that only
    /// answers a run's side questions sets one, so no client holds the
    /// end of the run.
    pub drain: Option<Duration>,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            drain: None,
        }
    }
}

impl ConnectionLimits {
    /// The servers a run keeps beside its delivery (OpenID configuration,
    /// `--control`): a few readers, answered at once, a second to drain.
    pub const RUN_SIDE: ConnectionLimits = ConnectionLimits {
        max_connections: 64,
        header_timeout: Duration::from_secs(10),
        drain: Some(Duration::from_secs(1)),
    };
}

/// A server running on a task of its own until [`Background::shutdown`]:
/// what the sink, the OpenID configuration and `--control` each hold.
#[derive(Debug)]
pub(crate) struct Background {
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl Background {
    /// [`serve`] on a task of its own.
    pub(crate) fn spawn(
        listener: TcpListener,
        app: Router,
        limits: ConnectionLimits,
        tls: Option<ServerTls>,
    ) -> Background {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, app, limits, tls, async move {
            let _ = stopped.await;
        }));
        Background { stop, task }
    }

    /// Stops accepting, lets the requests in flight finish (within the
    /// limits' drain), and returns how serving ended.
    pub(crate) async fn shutdown(self) -> io::Result<()> {
        let _ = self.stop.send(());
        self.task.await.map_err(io::Error::other)?
    }
}

/// Serves `app` on `listener` (over TLS when `tls` is given) until `stop`
/// resolves, then lets the requests in flight finish (within
/// `limits.drain`; connections still open after it are closed).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    tls: Option<ServerTls>,
    stop: impl Future<Output = ()>,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    tokio::pin!(stop);
    loop {
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut stop => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of descriptors, or a connection reset before it was
                // accepted: the listener itself is fine, try again shortly.
                Err(e) if is_transient(&e) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                Err(e) => return Err(e),
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let watcher = graceful.watcher();
        let tls = tls.clone();
        connections.spawn(async move {
            let http = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .clone();
            match tls {
                None => {
                    let connection = http.serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(connection).await;
                }
                Some(tls) => {
                    let handshake = tls.acceptor.accept(stream);
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(limits.header_timeout, handshake).await
                    {
                        let connection = http.serve_connection(TokioIo::new(stream), service);
                        let _ = watcher.watch(connection).await;
                    }
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    match limits.drain {
        Some(drain) => {
            // Dropping `connections` then aborts whatever is left.
            let _ = tokio::time::timeout(drain, graceful.shutdown()).await;
        }
        None => graceful.shutdown().await,
    }
    Ok(())
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || matches!(e.raw_os_error(), Some(23 | 24)) // ENFILE, EMFILE
}
