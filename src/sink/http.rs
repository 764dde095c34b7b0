//! The sink's HTTP surface (axum): routing, bearer auth, content types,
//! fault injection, queries off the async threads (at most --max-queries),
//! and the mapping of every refusal to a status code with a JSON error
//! naming the line and field. Bodies are received and decoded in
//! `body.rs`.

use super::SinkConfig;
use super::azure_monitor::parse_documents;
use super::body::{self, BodyRefusal};
use super::budget::BodyBudget;
use super::callbacks::parse_cloud_events;
use super::ingest::{BodyError, parse_ndjson};
use super::prometheus::exposition;
use super::query::{Dialect, Query};
use super::resources::ResourceStores;
use super::sample::{LineError, Sample};
use super::store::{Applied, ApplyError, Store};
use super::wal::{BatchKey, Route};
use crate::wire::{CUSTOM_METRICS_NAMESPACE, ErrorBody, IngestAck};
use axum::Router;
use axum::body::Body;
use axum::extract::{Query as QueryParams, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sha2::Digest;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Semaphore;

pub(in crate::sink) struct AppState {
    pub store: Arc<Store>,
    /// Azure resources' own stores (custom metrics at `{resourceUri}/metrics`).
    pub resources: Arc<ResourceStores>,
    pub config: SinkConfig,
    ingest_requests: AtomicU64,
    /// Request bodies in memory, received or inflated (--max-inflight-bytes).
    body_budget: BodyBudget,
    /// Queries and expositions running (--max-queries).
    query_slots: Arc<Semaphore>,
}

impl AppState {
    /// The store a query about `resource` in `namespace` reads: for the
    /// custom namespace, the resource's own if custom metrics were posted
    /// for it; else the sink's (its platform metrics).
    pub(super) fn store_of(&self, resource: &str, namespace: Option<&String>) -> Arc<Store> {
        let custom = namespace.is_some_and(|n| n.eq_ignore_ascii_case(CUSTOM_METRICS_NAMESPACE));
        custom
            .then(|| self.resources.get(resource))
            .flatten()
            .unwrap_or_else(|| self.store.clone())
    }
}

pub(super) fn router(
    store: Arc<Store>,
    resources: Arc<ResourceStores>,
    config: SinkConfig,
) -> Router {
    let state = Arc::new(AppState {
        store,
        resources,
        body_budget: BodyBudget::new(config.max_inflight_bytes),
        query_slots: Arc::new(Semaphore::new(
            config.max_queries.clamp(1, Semaphore::MAX_PERMITS),
        )),
        config,
        ingest_requests: AtomicU64::new(0),
    });
    Router::new()
        .route("/ingest", post(ingest))
        .route("/callbacks", post(callbacks))
        .route("/metrics", get(metrics).post(documents))
        .route("/prometheus", get(prometheus))
        .route("/stats", get(stats))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth))
        .route("/healthz", get(|| async { "ok\n" }))
        // Azure Monitor's APIs live under any resource id: the one route
        // that cannot be a fixed path (it checks the token itself).
        .fallback(super::arm::serve)
        .layer(middleware::map_response(close_after_refusal))
        .with_state(state)
}

/// Refusals that come before the body is read (bad token, over the size
/// limit, wrong media type) leave the rest of the body on the connection,
/// so the server drops it; saying so stops clients from reusing a pooled
/// connection that is about to close (they saw "incomplete message").
async fn close_after_refusal(mut response: Response) -> Response {
    if matches!(
        response.status(),
        StatusCode::UNAUTHORIZED
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::UNSUPPORTED_MEDIA_TYPE
            | StatusCode::REQUEST_TIMEOUT
            | StatusCode::SERVICE_UNAVAILABLE
    ) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(ErrorBody::new(status, message))).into_response()
}

async fn auth(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    match unauthorized(&state, request.headers()) {
        Some(refused) => refused,
        None => next.run(request).await,
    }
}

/// The 401 for a request without the sink's bearer token (`--token`).
pub(super) fn unauthorized(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let token = state.config.token.as_ref()?;
    let given = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .and_then(|v| v.strip_prefix(b"Bearer "));
    if given.is_some_and(|given| same_secret(given, token.as_bytes())) {
        return None;
    }
    let mut r = error(
        StatusCode::UNAUTHORIZED,
        "missing or wrong bearer token (Authorization: Bearer ...)",
    );
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    Some(r)
}

/// Compares digests of both, every byte, so the time taken tells nothing
/// about how much of a guessed token was right (nor its length).
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let (a, b) = (sha2::Sha256::digest(given), sha2::Sha256::digest(expected));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |diff, (x, y)| diff | (x ^ y))
        == 0
}

fn content_type_is(headers: &HeaderMap, allowed: &[&str]) -> bool {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    allowed.contains(&essence.as_str())
}

fn line_error(e: &LineError) -> Response {
    let (status, line, field, message) = match e {
        LineError::Malformed {
            line,
            field,
            message,
        } => (StatusCode::BAD_REQUEST, line, field, message),
        LineError::Unknown {
            line,
            field,
            message,
        } => (StatusCode::UNPROCESSABLE_ENTITY, line, field, message),
    };
    let mut body = ErrorBody::new(status, format!("line {line}: {message}"));
    body.error.line = Some(*line);
    body.error.field = field.clone();
    (status, axum::Json(body)).into_response()
}

/// SplitMix64's finalizer: request numbers 0, 1, 2... spread over every
/// bit, so a rate's faults fall evenly and in the same places every run.
fn spread(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Deterministic fault injection: every request number whose hash falls
/// under the rate is refused, alternating 429 and 503.
fn injected_fault(state: &AppState) -> Option<Response> {
    if state.config.fault_rate <= 0.0 {
        return None;
    }
    let n = state.ingest_requests.fetch_add(1, Ordering::Relaxed);
    let h = spread(n);
    if (h >> 11) as f64 / (1u64 << 53) as f64 >= state.config.fault_rate {
        return None;
    }
    Some(if h & 1 == 0 {
        let mut r = error(StatusCode::TOO_MANY_REQUESTS, "injected fault: throttled");
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("0"));
        r
    } else {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "injected fault: unavailable",
        )
    })
}

/// Longest `Idempotency-Key` accepted.
pub(super) const MAX_KEY_BYTES: usize = 256;

/// The batch's key from its `Idempotency-Key` header (visible ASCII, at
/// most [`MAX_KEY_BYTES`]), without its body's digest yet (the store
/// says which kind); or why the header is refused.
fn batch_key(headers: &HeaderMap, route: Route) -> Result<Option<BatchKey>, String> {
    let mut values = headers.get_all("idempotency-key").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    // Which of two keys would be the batch's is a guess either way.
    let why = if values.next().is_some() {
        "is sent more than once".to_string()
    } else if bytes.is_empty() {
        "is empty".to_string()
    } else if bytes.len() > MAX_KEY_BYTES {
        format!("is {} bytes long", bytes.len())
    } else if !bytes.iter().all(|b| b.is_ascii_graphic()) {
        "holds a character that is not visible ASCII".to_string()
    } else {
        return Ok(Some(BatchKey {
            route,
            key: String::from_utf8_lossy(bytes).into_owned(),
            digest: None,
        }));
    };
    Err(format!(
        "Idempotency-Key {why}; send one, of 1 to {MAX_KEY_BYTES} visible ASCII characters"
    ))
}

/// A refusal of the request's body; one for want of memory says when to
/// come back.
fn body_refused(refused: &BodyRefusal) -> Response {
    let mut r = field_error(refused.status(), "body", refused.to_string());
    if matches!(refused, BodyRefusal::Busy(_)) {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

/// A refusal naming the request's `field`.
fn field_error(status: StatusCode, field: &str, message: String) -> Response {
    let mut body = ErrorBody::new(status, message);
    body.error.field = Some(field.into());
    (status, axum::Json(body)).into_response()
}

fn apply(store: &Store, key: Option<&BatchKey>, samples: &[Sample]) -> Response {
    match store.apply(key, samples) {
        Ok(Applied::Accepted { samples }) => axum::Json(IngestAck {
            samples: samples as u64,
            duplicate: false,
        })
        .into_response(),
        Ok(Applied::Duplicate) => axum::Json(IngestAck {
            samples: 0,
            duplicate: true,
        })
        .into_response(),
        Ok(Applied::Conflict) => {
            let key = key.map_or("", |k| k.key.as_str());
            field_error(
                StatusCode::CONFLICT,
                "Idempotency-Key",
                format!(
                    "Idempotency-Key {key:?} was used before for a different body; a retry must \
                     send the same bytes, new data needs a new key"
                ),
            )
        }
        Err(
            e @ (ApplyError::Overflow { .. }
            | ApplyError::TooManySeries { .. }
            | ApplyError::TooManyCells { .. }),
        ) => error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        Err(e @ ApplyError::OutOfWindow { .. }) => {
            field_error(StatusCode::UNPROCESSABLE_ENTITY, "time", e.to_string())
        }
        Err(e @ ApplyError::Log(_)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// A body's samples, or the refusal to answer with.
type Parsed = Result<Vec<Sample>, Box<Response>>;

/// What a POST endpoint takes: its own idempotency keys, its media types,
/// and how its body becomes samples.
pub(super) struct Endpoint {
    route: Route,
    media: &'static [&'static str],
    wrong_media: &'static str,
    parse: fn(&[u8]) -> Parsed,
}

const INGEST: Endpoint = Endpoint {
    route: Route::Ingest,
    media: &[
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/json-lines",
    ],
    wrong_media: "POST /ingest takes Content-Type: application/x-ndjson",
    parse: |body| {
        let mut samples = Vec::with_capacity(body.len() / 100);
        match parse_ndjson(body, &mut samples) {
            Ok(()) => Ok(samples),
            Err(BodyError::Empty) => Err(Box::new(field_error(
                StatusCode::BAD_REQUEST,
                "body",
                "the batch is empty".into(),
            ))),
            Err(e @ BodyError::LineTooLong { .. }) => Err(Box::new(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                e.to_string(),
            ))),
            Err(BodyError::Line(e)) => Err(Box::new(line_error(&e))),
        }
    },
};

const CALLBACKS: Endpoint = Endpoint {
    route: Route::Callbacks,
    media: &["application/json", "application/cloudevents-batch+json"],
    wrong_media: "POST /callbacks takes Content-Type: application/json (a CloudEvents array)",
    parse: |body| {
        let mut samples = Vec::new();
        parse_cloud_events(body, &mut samples).map_err(|e| Box::new(line_error(&e)))?;
        Ok(samples)
    },
};

pub(super) const DOCUMENTS: Endpoint = Endpoint {
    route: Route::Documents,
    media: &["application/json", "application/x-ndjson"],
    wrong_media: "POST /metrics takes Content-Type: application/json (Azure Monitor metrics documents)",
    parse: |body| {
        let mut samples = Vec::new();
        parse_documents(body, &mut samples).map_err(|e| Box::new(line_error(&e)))?;
        Ok(samples)
    },
};

async fn ingest(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let store = state.store.clone();
    accept(state, store, headers, body, &INGEST).await
}

async fn callbacks(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let store = state.store.clone();
    accept(state, store, headers, body, &CALLBACKS).await
}

async fn documents(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let store = state.store.clone();
    accept(state, store, headers, body, &DOCUMENTS).await
}

/// Bodies up to this size, into a store in memory, are applied on the
/// async thread that received them.
const INLINE_BODY: usize = 64 << 10;

/// Checks, receives, decodes, parses and applies one batch to `store`.
pub(super) async fn accept(
    state: Arc<AppState>,
    store: Arc<Store>,
    headers: HeaderMap,
    body: Body,
    endpoint: &'static Endpoint,
) -> Response {
    if !content_type_is(&headers, endpoint.media) {
        return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, endpoint.wrong_media);
    }
    let budget = &state.body_budget;
    let body = match body::receive(&state.config, budget, &headers, body).await {
        Ok(body) => body,
        Err(refused) => return body_refused(&refused),
    };
    if endpoint.route == Route::Ingest
        && let Some(fault) = injected_fault(&state)
    {
        return fault;
    }
    // Decompressing, parsing and the log's fsync block: they run off the
    // async threads, so queries and health checks are answered meanwhile.
    // The decoded body's share of the budget is held until the batch is
    // applied: parsing it takes memory in proportion to it.
    // A small plain body into a store in memory takes microseconds, less
    // than handing it to a blocking thread (webhook delivery posts one
    // callback per request): it is applied here.
    let inline = state.config.data_dir.is_none()
        && body.len() <= INLINE_BODY
        && !headers.contains_key(header::CONTENT_ENCODING);
    let work = move || {
        let body = match body::decoded(&state.config, &state.body_budget, &headers, body) {
            Ok(body) => body,
            Err(refused) => return body_refused(&refused),
        };
        let key = match batch_key(&headers, endpoint.route) {
            Ok(key) => key.map(|key| store.digested(key, &body)),
            Err(why) => return field_error(StatusCode::BAD_REQUEST, "Idempotency-Key", why),
        };
        match (endpoint.parse)(&body) {
            Ok(samples) => apply(&store, key.as_ref(), &samples),
            Err(refused) => *refused,
        }
    };
    if inline {
        return work();
    }
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the batch could not be applied: {e}"),
        )
    })
}

async fn metrics(
    State(state): State<Arc<AppState>>,
    QueryParams(params): QueryParams<HashMap<String, String>>,
) -> Response {
    let naming = state.config.naming;
    let query = match Query::parse(&params, naming, Dialect::Sink) {
        Ok(query) => query,
        Err(refused) => return error(StatusCode::BAD_REQUEST, refused.to_string()),
    };
    let max = state.config.max_answer_points;
    let store = state.store.clone();
    run_query(&state, move || {
        match store.read(|data| query.run(data, naming, max, "callmetrics/sink")) {
            Ok(answer) => axum::Json(answer).into_response(),
            Err(refused) => error(StatusCode::BAD_REQUEST, refused.to_string()),
        }
    })
    .await
}

async fn prometheus(State(state): State<Arc<AppState>>) -> Response {
    let store = state.store.clone();
    run_query(&state, move || {
        let text = store.read(exposition);
        ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
    })
    .await
}

/// Runs a query or exposition, which takes time and memory in proportion to
/// the data held: on a blocking thread, so the async threads go on
/// answering ingest and /healthz, and at most --max-queries at once (503
/// beyond, retry later), so queries cannot take every core and the memory
/// of as many answers as clients ask for.
pub(super) async fn run_query(
    state: &AppState,
    answer: impl FnOnce() -> Response + Send + 'static,
) -> Response {
    let Ok(slot) = state.query_slots.clone().try_acquire_owned() else {
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the sink is answering {} queries already (--max-queries); retry shortly",
                state.config.max_queries
            ),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    };
    let work = move || {
        let response = answer();
        drop(slot);
        response
    };
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the query could not be answered: {e}"),
        )
    })
}

/// GET /stats: what the sink holds against its limits, for a test that
/// wants to see how close a run takes it (series, cells) and what it took.
async fn stats(State(state): State<Arc<AppState>>) -> Response {
    let s = state.store.stats();
    let (max_series, max_cells) = state.store.limits();
    axum::Json(serde_json::json!({
        "series": s.series,
        "maxSeries": max_series,
        "cells": s.cells,
        "maxCells": max_cells,
        "batches": s.batches,
        "duplicates": s.duplicates,
        "samples": s.samples,
        "replayedBatches": s.replayed_batches,
        "compactions": s.compactions,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_match_only_when_equal() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3creT", b"s3cret"));
        assert!(!same_secret(b"s3cre", b"s3cret"));
        assert!(!same_secret(b"", b"s3cret"));
    }
}
