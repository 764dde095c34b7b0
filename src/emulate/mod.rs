//! `emulate`: a local Call Automation service an app can be tested
//! against with its unchanged SDK. It serves the catalog's REST routes
//! over HTTPS, verifies each request's HMAC signature as ACS does,
//! answers from the scenario (`engine::LiveCall`: status mix, latency,
//! callbacks), delivers the callbacks to the app's `callbackUri` as ACS
//! does (the webhook target's CloudEvents), honours repeatability ids, and
//! counts both metrics as Azure Monitor would: every request the app made,
//! and every callback the app acknowledged. What it did not expect it
//! still answers, counts where it can, and lists.

mod app_hosts;
mod auth;
mod callbacks;
mod handler;
mod incoming;
mod repeatability;
mod responses;
mod route;

pub(crate) use auth::AccessKey;
pub(crate) use incoming::IncomingCalls;

use crate::catalog::Operation;
use crate::emit::files::identity::IdWriter;
use crate::emit::targets::webhook::{CloudEventsEncoder, Signer, oidc};
use crate::engine::{Event, EventKind, IdKey, LiveCall};
use crate::model::{AggregateTable, Grain, Series};
use crate::scenario::Scenario;
use crate::serve::{ConnectionLimits, ServerTls};
use crate::sink::InProcess;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// What the emulator answers from and how.
pub(crate) struct Config {
    /// Lives as long as the process: every live call borrows its flow.
    pub scenario: &'static Scenario,
    pub seed: u64,
    pub key: AccessKey,
    /// How far `x-ms-date` may be from the emulator's clock.
    pub clock_skew: Duration,
    /// Each callback POST, connect to last byte of the app's answer.
    pub callback_timeout: Duration,
    /// Where and when to post incoming calls, for flows that answer one.
    pub incoming: Option<IncomingCalls>,
    /// Signs every callback as ACS does (`--sign`); its OpenID
    /// configuration is served beside the REST API.
    pub signer: Option<Arc<Signer>>,
    /// A sink whose query API serves what is counted, as it is counted
    /// (`--query-listen`).
    pub query: Option<InProcess>,
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    #[error(transparent)]
    Client(#[from] crate::client::http::ClientError),
    #[error("cannot read the listener's address: {0}")]
    Listener(#[from] std::io::Error),
}

/// The emulator while it serves.
pub(crate) struct Emulator {
    state: Arc<State>,
    started: Instant,
    server: crate::serve::Background,
    incoming: Option<tokio::task::JoinHandle<()>>,
}

/// What the emulator saw: the metrics it counted and its summary.
pub(crate) struct Outcome {
    pub counted: AggregateTable,
    pub summary: Summary,
}

/// `--control`'s `GET /status` and the progress lines: the summary so far.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Status {
    /// Seconds since it started serving.
    pub serving_s: f64,
    #[serde(flatten)]
    pub summary: Summary,
}

/// What the summary says, every map ordered so files are byte-identical.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub(crate) struct Summary {
    /// Requests answered, by operation and status.
    pub requests: BTreeMap<&'static str, BTreeMap<u16, u64>>,
    /// Callbacks the app acknowledged, by event type.
    pub callbacks_delivered: BTreeMap<&'static str, u64>,
    /// Callbacks the app refused or never answered, by why.
    pub callbacks_failed: BTreeMap<String, u64>,
    /// Requests refused for their signature, by why.
    pub unauthorized: BTreeMap<String, u64>,
    /// Requests the scenario did not expect, by what they were.
    pub unexpected: BTreeMap<String, u64>,
    /// Retried requests answered from the first answer.
    pub replayed: u64,
    pub calls_started: u64,
    /// Calls that ended (CallDisconnected delivered, or a failure that
    /// ends the flow); the others were still live when it stopped.
    pub calls_ended: u64,
    /// IncomingCall events the app acknowledged.
    pub incoming_calls_posted: u64,
    /// IncomingCall deliveries tried again after a failed attempt, as
    /// Event Grid retries.
    pub incoming_call_retries: u64,
    /// Incoming calls that rang a minute unanswered, then were forgotten
    /// (counted as later calls arrive).
    pub incoming_calls_unanswered: u64,
    /// Counts the query API's sink refused (its limits), by why: the
    /// expected file has them, the query API does not.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub query_api_refused: BTreeMap<String, u64>,
    /// Event Grid's handshake with --incoming-call-url: "passed" or why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incoming_validation: Option<String>,
}

/// Shared by every request.
struct State {
    config: Config,
    ids: Mutex<IdWriter>,
    cloud_events: Mutex<CloudEventsEncoder>,
    calls: Mutex<Calls>,
    counted: Mutex<AggregateTable>,
    summary: Mutex<Summary>,
    repeats: Mutex<repeatability::Repeats>,
    /// IncomingCall events and Event Grid's handshake.
    http: reqwest::Client,
    /// Where callbacks go.
    app_hosts: app_hosts::AppHosts,
    /// Event Grid's manual handshake: the app's GET of the validationUrl.
    validation: incoming::ValidationUrl,
}

/// How long an ended call is still known (Get Call says "disconnected",
/// other requests get 8528) before it is forgotten and its ids answer 404
/// like any unknown one: what the emulator holds is bounded by the calls
/// live at once and those ended in the last minute.
const ENDED_KEPT: Duration = Duration::from_secs(60);

/// How long an incoming call rings: one not answered, redirected or
/// rejected by then is forgotten (its context then gets 400), so what the
/// emulator holds for an app that answers nothing stays bounded.
const RINGING: Duration = Duration::from_secs(60);

/// The live calls, by callConnectionId (and by the other ids that name
/// them: serverCallId, recordingId).
#[derive(Default)]
struct Calls {
    next_index: u64,
    by_id: FxHashMap<String, Arc<Mutex<LiveCallState>>>,
    /// Incoming calls posted and not yet answered, redirected or
    /// rejected: their call index, by `incomingCallContext`.
    pending: FxHashMap<String, u64>,
    /// The same contexts, oldest first, to stop ringing after `RINGING`.
    ringing: VecDeque<(Instant, String)>,
    /// Ended calls' ids, oldest first, to forget after `ENDED_KEPT`.
    ended: VecDeque<(Instant, Vec<String>)>,
}

impl Calls {
    /// Names `live` by each of `ids`.
    fn insert(&mut self, ids: &[&str], live: &Arc<Mutex<LiveCallState>>) {
        self.forget_ended(Instant::now());
        let mut state = lock(live);
        for &id in ids {
            self.by_id.insert(id.to_string(), live.clone());
            state.ids.push(id.to_string());
        }
    }

    /// Rings a new incoming call; returns how many stopped ringing
    /// unanswered.
    fn ring(&mut self, context: String, index: u64, now: Instant) -> u64 {
        let mut unanswered = 0;
        while let Some((at, _)) = self.ringing.front() {
            if now.duration_since(*at) < RINGING {
                break;
            }
            if let Some((_, old)) = self.ringing.pop_front() {
                unanswered += u64::from(self.pending.remove(&old).is_some());
            }
        }
        self.ringing.push_back((now, context.clone()));
        self.pending.insert(context, index);
        unanswered
    }

    fn forget_ended(&mut self, now: Instant) {
        while let Some((at, _)) = self.ended.front() {
            if now.duration_since(*at) < ENDED_KEPT {
                break;
            }
            if let Some((_, ids)) = self.ended.pop_front() {
                for id in ids {
                    self.by_id.remove(&id);
                }
            }
        }
    }
}

/// One call the app set up.
struct LiveCallState {
    call: LiveCall<'static>,
    callbacks: app_hosts::CallbackTarget,
    ended: bool,
    /// Every id `Calls` knows it by.
    ids: Vec<String>,
    /// The setup request's body, as sent: what Get Call echoes (kept as
    /// bytes: parsed, it was half of what a call held).
    setup: bytes::Bytes,
}

impl Emulator {
    /// Serves on `listener` over `tls` until [`Emulator::stop`].
    pub(crate) fn start(
        mut config: Config,
        listener: TcpListener,
        tls: ServerTls,
    ) -> Result<Emulator, StartError> {
        let ids = IdKey::new(
            config.seed,
            config.scenario.sha256.as_bytes(),
            crate::engine::DEFAULT_START_MS,
        );
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*crate::client::tls::ClientTls::system().config()).clone())
            .timeout(config.callback_timeout)
            // Each POST is one delivery the summary counts: none hidden.
            .retry(reqwest::retry::never())
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(crate::client::http::ClientError::Build)?;
        let incoming = config.incoming.take();
        // The configuration names the key set's URL: where this listener is.
        let base = format!("https://{}", listener.local_addr()?);
        let openid = config
            .signer
            .as_ref()
            .map(|signer| oidc::routes(signer, &base));
        let state = Arc::new(State {
            ids: Mutex::new(IdWriter::new(ids)),
            cloud_events: Mutex::new(CloudEventsEncoder::new(ids)),
            calls: Mutex::default(),
            counted: Mutex::new(AggregateTable::new(Grain::MINUTE)),
            summary: Mutex::default(),
            repeats: Mutex::default(),
            http,
            app_hosts: app_hosts::AppHosts::new(config.callback_timeout),
            validation: incoming::ValidationUrl::new(&base, config.seed),
            config,
        });
        let app = openid
            .unwrap_or_default()
            .route(
                incoming::VALIDATION_PATH,
                axum::routing::get(incoming::validation_url_fetched),
            )
            .fallback(handler::handle)
            .with_state(state.clone());
        let limits = ConnectionLimits {
            drain: Some(Duration::from_secs(2)),
            ..ConnectionLimits::default()
        };
        let server = crate::serve::Background::spawn(listener, app, limits, Some(tls));
        let incoming = incoming.map(|incoming| incoming::spawn(state.clone(), incoming));
        Ok(Emulator {
            state,
            started: Instant::now(),
            server,
            incoming,
        })
    }

    /// The summary so far, and how long it has served.
    pub(crate) fn status(&self) -> Status {
        status_of(&self.state, self.started)
    }

    /// Serves `GET /status` ([`Status`] as JSON) on `listen` until the
    /// returned server is shut down.
    pub(crate) async fn serve_status(
        &self,
        listen: std::net::SocketAddr,
    ) -> std::io::Result<(std::net::SocketAddr, crate::serve::Background)> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let state = self.state.clone();
        let started = self.started;
        let app = axum::Router::new().route(
            "/status",
            axum::routing::get(move || {
                let status = status_of(&state, started);
                async move { axum::Json(status) }
            }),
        );
        let server =
            crate::serve::Background::spawn(listener, app, ConnectionLimits::RUN_SIDE, None);
        Ok((addr, server))
    }

    /// Stops serving (requests in flight finish), waits up to `settle`
    /// for callbacks due by then, and returns what was counted.
    pub(crate) async fn stop(self, settle: Duration) -> std::io::Result<Outcome> {
        if let Some(task) = &self.incoming {
            task.abort();
        }
        self.server.shutdown().await?;
        tokio::time::sleep(settle).await;
        let counted = lock(&self.state.counted).clone();
        let summary = lock(&self.state.summary).clone();
        Ok(Outcome { counted, summary })
    }
}

fn status_of(state: &State, started: Instant) -> Status {
    Status {
        serving_s: started.elapsed().as_secs_f64(),
        summary: lock(&state.summary).clone(),
    }
}

/// A lock whose holder never panics mid-update (every critical section
/// is a few map operations): a poisoned one is still consistent.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl State {
    /// Counts `e` in the metrics (and in the query API's sink).
    fn count(&self, e: &Event) {
        lock(&self.counted).record(e);
        let Some(query) = &self.config.query else {
            return;
        };
        let series = Series::of(e);
        let mut samples = vec![(series, e.time_ms, 1)];
        if let (Series::Requests(dims), EventKind::Request { latency_ms, .. }) = (series, e.kind) {
            samples.push((Series::Latency(dims), e.time_ms, latency_ms.into()));
        }
        if let Err(why) = query.add(&samples) {
            self.note(|s| *s.query_api_refused.entry(why.to_string()).or_default() += 1);
        }
    }

    /// Marks `call` ended (no more callbacks, requests refused) and
    /// schedules its ids to be forgotten.
    fn end_call(&self, call: &Mutex<LiveCallState>) {
        let ids = {
            let mut live = lock(call);
            if live.ended {
                return;
            }
            live.ended = true;
            std::mem::take(&mut live.ids)
        };
        self.note(|s| s.calls_ended += 1);
        let mut calls = lock(&self.calls);
        let now = Instant::now();
        calls.forget_ended(now);
        calls.ended.push_back((now, ids));
    }

    fn note(&self, what: impl FnOnce(&mut Summary)) {
        what(&mut lock(&self.summary));
    }
}

impl Summary {
    fn answered(&mut self, operation: Operation, status: u16) {
        *self
            .requests
            .entry(operation.name())
            .or_default()
            .entry(status)
            .or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::{Calls, RINGING};
    use std::time::{Duration, Instant};

    #[test]
    fn an_incoming_call_unanswered_for_a_minute_stops_ringing() {
        let mut calls = Calls::default();
        let start = Instant::now();
        assert_eq!(calls.ring("a".into(), 0, start), 0);
        assert_eq!(calls.ring("b".into(), 1, start + Duration::from_secs(1)), 0);
        // "b" is answered: it no longer rings, and is not counted unanswered.
        assert_eq!(calls.pending.remove("b"), Some(1));
        let later = start + RINGING + Duration::from_secs(2);
        assert_eq!(calls.ring("c".into(), 2, later), 1, "only a rang out");
        assert!(!calls.pending.contains_key("a"));
        assert_eq!(calls.pending.get("c"), Some(&2));
        assert_eq!(calls.ringing.len(), 1, "what rang out is let go");
    }
}
