//! The embedded metrics sink: ingest (NDJSON samples and ACS CloudEvents),
//! all-or-nothing batches with idempotency keys, an optional write-ahead
//! log, per-second aggregation, an Azure Monitor-shaped query API and
//! Prometheus exposition. `run` starts it in-process; `callmetrics sink`
//! serves it on its own.

mod arm;
mod azure_monitor;
mod body;
mod budget;
mod callbacks;
mod canonical_line;
mod cells;
mod filter;
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod ingest;
mod prometheus;
mod query;
mod resources;
mod sample;
mod store;
mod view;
mod wal;

use crate::serve::Background;
pub(crate) use crate::serve::ConnectionLimits;
pub(crate) use crate::serve::ServerTls;
pub(crate) use resources::ResourceReport;
pub(crate) use store::{ApplyError, DEFAULT_MAX_CELLS, Store, StoreOptions, StoreStats};
pub(crate) use wal::{OpenReport, WalError};

use crate::catalog::Naming;
use crate::model::Series;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;

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
    /// Log repair, idempotency-key retention, compaction.
    pub store: StoreOptions,
    /// Connections at once, and how long a request's headers may take.
    pub connections: ConnectionLimits,
    /// How long a request's body may take to arrive, once its headers did.
    pub body_timeout: std::time::Duration,
    /// Bytes of request bodies in memory at once (received, and inflated
    /// until parsed), over all connections; a request that would pass it
    /// is refused with 503.
    pub max_inflight_bytes: usize,
    /// Queries (and Prometheus expositions) answered at once; more get 503.
    pub max_queries: usize,
    /// Points (series x buckets) one query's answer may hold.
    pub max_answer_points: usize,
    /// Serve `https://` with this certificate.
    pub tls: Option<ServerTls>,
}

/// Why a sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Log(#[from] WalError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: io::Error },
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
            store: StoreOptions::default(),
            connections: ConnectionLimits::default(),
            body_timeout: std::time::Duration::from_secs(30),
            max_inflight_bytes: 512 << 20,
            max_queries: 4,
            max_answer_points: 1_000_000,
            tls: None,
        }
    }
}

/// Samples stored from the same process.
#[derive(Clone)]
pub(crate) struct InProcess(Arc<Store>);

impl InProcess {
    /// Stores `samples` (series, time in Unix ms, value) as one batch, all
    /// or nothing.
    pub(crate) fn add(&self, samples: &[(Series, i64, u64)]) -> Result<(), ApplyError> {
        let samples: Vec<sample::Sample> = samples
            .iter()
            .map(|&(series, time_ms, value)| sample::Sample::one(series, time_ms, value))
            .collect();
        self.0.apply(None, &samples).map(|_| ())
    }
}

/// A sink serving in the background of the current tokio runtime.
pub struct RunningSink {
    addr: SocketAddr,
    /// "https" when it serves TLS.
    scheme: &'static str,
    store: Arc<Store>,
    opened: Option<OpenReport>,
    resources_opened: Vec<ResourceReport>,
    server: Background,
}

impl RunningSink {
    /// Opens the store (replaying the log) and starts serving.
    pub async fn start(config: SinkConfig) -> Result<RunningSink, StartError> {
        let (store, opened) = match &config.data_dir {
            Some(dir) => {
                let (store, report) = Store::open(dir, config.store)?;
                (store, Some(report))
            }
            None => (Store::in_memory(config.store), None),
        };
        let store = Arc::new(store);
        let (resources, resources_opened) =
            resources::ResourceStores::open(config.data_dir.as_deref(), config.store)?;
        let listen = |source| StartError::Listen {
            addr: config.listen,
            source,
        };
        let listener = TcpListener::bind(config.listen).await.map_err(listen)?;
        let addr = listener.local_addr().map_err(listen)?;
        let limits = config.connections;
        let tls = config.tls.clone();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let app = http::router(store.clone(), Arc::new(resources), config);
        let server = Background::spawn(listener, app, limits, tls);
        Ok(RunningSink {
            addr,
            scheme,
            store,
            opened,
            resources_opened,
            server,
        })
    }

    /// What replaying the log found, for a sink with a data dir.
    pub fn opened(&self) -> Option<&OpenReport> {
        self.opened.as_ref()
    }

    /// What replaying each resource's log found (custom metrics posted
    /// to `{resourceUri}/metrics`), for a sink with a data dir.
    pub(crate) fn resources_opened(&self) -> &[ResourceReport] {
        &self.resources_opened
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    pub fn stats(&self) -> StoreStats {
        self.store.stats()
    }

    /// A door into the store for samples counted in-process (`emulate
    /// --query-listen`), where no wire carries them.
    pub(crate) fn in_process(&self) -> InProcess {
        InProcess(self.store.clone())
    }

    /// Stops accepting, finishes requests in flight, and returns.
    pub async fn shutdown(self) -> io::Result<()> {
        self.server.shutdown().await
    }
}
