//! `run --target`: each [`Kind`] builds its target from the run's options,
//! refuses what it cannot do, and hands the target with its defaults to
//! the caller's delivery. The command only says what to do with a target
//! ([`Deliver`]), so adding a protocol is its folder and one variant.

use super::webhook::sign::{ACS_ISSUER, SignError};
use super::webhook::{OidcServer, Signer};
use super::{
    Kind, Target, TargetDefaults, TargetFlagError, azure_monitor, influx, ingest, remote_write,
    webhook,
};
use crate::catalog::Naming;
use crate::emit::deliver::Pacing;
use crate::engine::Workload;
use crate::model::Grain;
use crate::scenario::Scenario;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// What a target is built from: the flags of `run` it reads.
pub(crate) struct TargetOptions<'a> {
    /// The sink a run started or `--sink` names, without a path: ingest
    /// and, without `--sink`, webhook send there.
    pub root: &'a str,
    /// `--sink`.
    pub sink: Option<&'a str>,
    pub token: Option<&'a str>,
    pub naming: Naming,
    /// `--sample-interval` and `--grain` (remote write, influx).
    pub sample_interval: Duration,
    pub grain: Grain,
    pub no_stale_markers: bool,
    /// `--concurrency`, when given.
    pub concurrency: Option<usize>,
    /// Whether this generator is one shard of several (`--shard`).
    pub sharded: bool,
    /// `--sign`: the audience (`--acs-resource-id`) and where to serve the
    /// OpenID configuration.
    pub sign: Option<Signing<'a>>,
    /// What the run replays, how fast, and the clock as it starts
    /// (azure-monitor holds the documents' times to Azure's window).
    pub scenario: &'a Scenario,
    pub workload: &'a Workload,
    pub pacing: Pacing,
    pub now_ms: i64,
}

/// `--sign` with `--acs-resource-id` and `--oidc-listen`.
pub(crate) struct Signing<'a> {
    pub audience: &'a str,
    pub oidc_listen: SocketAddr,
}

/// What the command does with the target it asked for.
pub(crate) trait Deliver {
    type Output;

    fn deliver<T: Target>(
        self,
        target: T,
        defaults: TargetDefaults,
    ) -> impl Future<Output = Self::Output>;
}

/// Why no target could be built, or what failed around its delivery.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TargetError {
    #[error("--target {target} needs --sink, {what}")]
    NeedsSink {
        target: &'static str,
        what: &'static str,
    },
    /// Their series are the metric and its dimensions, so N shards would
    /// write the same counters at the same instants: one overwrites another
    /// instead of adding up.
    #[error(
        "--shard with --target {0}: shards would write the same series at the same instants, \
         and the database keeps one of them; shard with --target ingest or webhook, or run one \
         generator"
    )]
    Sharded(&'static str),
    #[error("--sign signs callbacks: it goes with --target webhook")]
    SignWithoutWebhook,
    /// A flag's value the target refuses (a URL, a concurrency), in its
    /// own words.
    #[error(transparent)]
    Refused(#[from] TargetFlagError),
    #[error(transparent)]
    Signing(#[from] SignError),
    #[error(transparent)]
    AzureLimits(#[from] azure_monitor::LimitError),
    #[error("cannot serve the OpenID configuration on {addr}")]
    OidcStart {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the OpenID configuration server stopped with an error")]
    OidcStop(#[source] std::io::Error),
}

impl Kind {
    /// Whether its receiver is an application (which counts what it gets
    /// and answers no queries) rather than a store a check can read.
    pub(crate) fn posts_to_apps(self) -> bool {
        self == Kind::Webhook
    }

    /// Builds the target from `options` and delivers with `with`.
    pub(crate) async fn deliver<D: Deliver>(
        self,
        options: &TargetOptions<'_>,
        with: D,
    ) -> Result<D::Output, TargetError> {
        let token = options.token;
        if options.sign.is_some() && self != Kind::Webhook {
            return Err(TargetError::SignWithoutWebhook);
        }
        Ok(match self {
            Kind::Ingest => {
                let target = ingest::Ingest::new(options.root, token, options.naming)?;
                with.deliver(target, ingest::DEFAULTS).await
            }
            Kind::RemoteWrite => {
                let url = sink_of(
                    options,
                    "remote-write",
                    "the write URL of a Prometheus (--web.enable-remote-write-receiver) or \
                     VictoriaMetrics, e.g. http://127.0.0.1:9090/api/v1/write",
                )?;
                remote_write::concurrency(options.concurrency.unwrap_or(1))?;
                let mut target = remote_write::RemoteWrite::new(
                    url,
                    token,
                    options.sample_interval,
                    options.grain,
                )?;
                if options.no_stale_markers {
                    target = target.without_stale_markers();
                }
                with.deliver(target, remote_write::DEFAULTS).await
            }
            Kind::Influx => {
                let url = sink_of(
                    options,
                    "influx",
                    "an InfluxDB 1.x write URL with its database, e.g. \
                     http://127.0.0.1:8086/write?db=callmetrics",
                )?;
                let target =
                    influx::Influx::new(url, token, options.sample_interval, options.grain)?;
                with.deliver(target, influx::DEFAULTS).await
            }
            Kind::Webhook => {
                let url = match options.sink {
                    Some(url) => url.to_string(),
                    None => format!("{}/callbacks", options.root),
                };
                let target = webhook::Webhook::new(&url, token)?;
                match &options.sign {
                    None => with.deliver(target, webhook::DEFAULTS).await,
                    Some(signing) => signed(target, signing, with).await?,
                }
            }
            Kind::AzureMonitor => {
                let url = match options.sink {
                    Some(url) => url.to_string(),
                    None => format!("{}/metrics", options.root),
                };
                let from_env = std::env::var(azure_monitor::TOKEN_ENV).ok();
                let token = token.or(from_env.as_deref().filter(|t| !t.trim().is_empty()));
                let target = azure_monitor::AzureMonitor::new(&url, token, options.naming)?;
                let sending = azure_monitor::Sending {
                    now_ms: options.now_ms,
                    start_ms: options.workload.start_ms,
                    pacing: options.pacing,
                };
                azure_monitor::check_limits(
                    options.scenario,
                    options.workload,
                    options.naming,
                    sending,
                    options.grain,
                )?;
                with.deliver(target, azure_monitor::DEFAULTS).await
            }
        })
    }
}

/// `--sink` of a target that writes into a database (it has no default),
/// refused for a sharded run: see [`TargetError::Sharded`].
fn sink_of<'a>(
    options: &TargetOptions<'a>,
    target: &'static str,
    what: &'static str,
) -> Result<&'a str, TargetError> {
    if options.sharded {
        return Err(TargetError::Sharded(target));
    }
    options.sink.ok_or(TargetError::NeedsSink { target, what })
}

/// Webhook delivery with signed callbacks: the OpenID configuration that
/// apps validate the tokens with is served for as long as it lasts.
async fn signed<D: Deliver>(
    target: webhook::Webhook,
    signing: &Signing<'_>,
    with: D,
) -> Result<D::Output, TargetError> {
    let signer = Signer::generate(signing.audience, ACS_ISSUER)?;
    let signer = Arc::new(signer);
    let oidc = OidcServer::start(signing.oidc_listen, Arc::clone(&signer))
        .await
        .map_err(|source| TargetError::OidcStart {
            addr: signing.oidc_listen,
            source,
        })?;
    // Apps need this URL before the first callback arrives.
    eprintln!(
        "signing callbacks for audience {}; OpenID configuration: {}",
        signing.audience,
        oidc.configuration_url()
    );
    let outcome = with.deliver(target.signed(signer), webhook::DEFAULTS).await;
    oidc.shutdown().await.map_err(TargetError::OidcStop)?;
    Ok(outcome)
}
