//! The embedded metrics sink: ingest (NDJSON samples and ACS CloudEvents),
//! all-or-nothing batches with idempotency keys, an optional write-ahead
//! log, per-second aggregation, an Azure Monitor-shaped query API and
//! Prometheus exposition. `run` starts it in-process; `callmetrics sink`
//! serves it on its own.

mod azure_monitor;
mod callbacks;
mod filter;
mod http;
mod ingest;
mod prometheus;
mod query;
mod sample;
mod store;
mod wal;

pub use store::{Store, StoreStats};

use crate::catalog::Naming;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub listen: SocketAddr,
    pub token: Option<String>,
    pub data_dir: Option<PathBuf>,
    /// Largest request body, in bytes (compressed size).
    pub max_body: usize,
    /// Fraction of ingest requests refused with 429/503 (tests only).
    pub fault_rate: f64,
    pub naming: Naming,
}

impl SinkConfig {
    /// An in-memory sink on a free loopback port, as `run` embeds it.
    pub fn embedded() -> SinkConfig {
        SinkConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: None,
            data_dir: None,
            max_body: 64 << 20,
            fault_rate: 0.0,
            naming: Naming::Azure,
        }
    }
}

/// A sink serving in the background of the current tokio runtime.
pub struct RunningSink {
    addr: SocketAddr,
    store: Arc<Store>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl RunningSink {
    /// Opens the store (replaying the log) and starts serving.
    pub async fn start(config: SinkConfig) -> io::Result<RunningSink> {
        let store = Arc::new(Store::open(config.data_dir.as_deref())?);
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let app = http::router(store.clone(), config);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(RunningSink {
            addr,
            store,
            stop: Some(stop),
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stats(&self) -> StoreStats {
        self.store.stats()
    }

    /// Stops accepting, finishes requests in flight, and returns.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(io::Error::other(e)),
        }
    }
}
