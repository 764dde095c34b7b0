//! One request, end to end: route, signature, api-version, repeatability,
//! the call it names, the scenario's answer after its latency, the
//! callbacks it draws, and the count in the request metric. Every request
//! whose route names an operation and whose api-version the catalog knows
//! is counted, with the status the app got (401s, 404s and repeats
//! included: Azure Monitor counts each HTTP request the service answered).

use super::repeatability::{FirstAnswer, Repeat};
use super::responses::{self, CallIds};
use super::route::{Route, route};
use super::{LiveCallState, State, callbacks, lock};
use crate::catalog::{ApiVersion, Operation};
use crate::engine::{AskedFor, Connection, Event, EventKind, LiveCall};
use crate::scenario::plan::Status;
use axum::body::Bytes;
use axum::extract::State as Shared;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

pub(super) async fn handle(
    Shared(state): Shared<Arc<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received_ms = callbacks::now_ms();
    let received = tokio::time::Instant::now();
    let path = uri.path();
    let target = uri.path_and_query().map_or(path, |p| p.as_str());
    let Some(route) = route(method.as_str(), path) else {
        state.note(|s| {
            *s.unexpected
                .entry(format!("{method} {path}: no Call Automation route"))
                .or_default() += 1
        });
        return json(
            StatusCode::NOT_FOUND,
            &responses::error("NotFound", format!("No route for {method} {path}.")),
        );
    };
    let version = api_version(uri.query());
    // Parsed once: the route's operation, the call and the answer may all
    // read it. `Null` when it is not JSON (a GET, or a malformed body).
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let call = match &route.resource {
        Some(id) => lock(&state.calls).by_id.get(id).cloned(),
        None => {
            recorded_call(&route, &parsed).and_then(|id| lock(&state.calls).by_id.get(id).cloned())
        }
    };
    let (operation, step) = operation_of(&route, call.as_ref(), &parsed);
    let request = Request {
        operation,
        step,
        version,
        received_ms,
        received,
        call: call.as_ref().map_or(0, |c| lock(c).call.index()),
    };

    let verified = state.config.key.verify(
        method.as_str(),
        target,
        &headers,
        &body,
        SystemTime::now(),
        state.config.clock_skew,
    );
    if let Err(why) = verified {
        state.note(|s| *s.unauthorized.entry(why.to_string()).or_default() += 1);
        // ACS's answer to a signature it refuses (docs/sources.md).
        let body = responses::error("7509", "HMAC-SHA256 validation failed");
        return state.answered(&request, 401, 0, &body);
    }
    let Some(version) = version else {
        let got = uri.query().unwrap_or("");
        state.note(|s| {
            *s.unexpected
                .entry(format!(
                    "{} without a known api-version ({got:?})",
                    operation.name()
                ))
                .or_default() += 1
        });
        let known: Vec<&str> = ApiVersion::all().map(ApiVersion::as_str).collect();
        let message = format!(
            "The api-version in {got:?} is not one Call Automation has; supported: {}.",
            known.join(", ")
        );
        return json(StatusCode::BAD_REQUEST, &responses::error("8523", message));
    };

    let repeat_id = headers
        .get("repeatability-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let digest = body_digest(&body);
    if let Some(id) = &repeat_id {
        let found = lock(&state.repeats).find(id, digest, Instant::now());
        match found {
            Repeat::New => {}
            Repeat::Same(first) => {
                state.note(|s| s.replayed += 1);
                let mut reply = state.replayed(&request, version, &first);
                reply
                    .headers_mut()
                    .insert("repeatability-result", HeaderValue::from_static("accepted"));
                return reply;
            }
            Repeat::OtherBody => {
                let body = responses::error(
                    "8523",
                    "Repeatability-Request-ID was already used with another request body.",
                );
                let mut reply = state.answered(&request.at(version), 400, 8523, &body);
                reply
                    .headers_mut()
                    .insert("repeatability-result", HeaderValue::from_static("rejected"));
                return reply;
            }
        }
    }

    let request = request.at(version);
    let (status, reply_body) = if is_setup(operation) {
        setup(&state, &request, &body, &parsed).await
    } else {
        on_call(&state, &request, call, &parsed).await
    };
    if let Some(id) = &repeat_id {
        let first = FirstAnswer {
            status,
            body: Bytes::from(
                reply_body
                    .as_ref()
                    .map(Value::to_string)
                    .unwrap_or_default(),
            ),
        };
        lock(&state.repeats).keep(id, digest, first, Instant::now());
    }
    let mut reply = match &reply_body {
        Some(body) => json(code(status), body),
        None => code(status).into_response(),
    };
    if repeat_id.is_some() {
        reply
            .headers_mut()
            .insert("repeatability-result", HeaderValue::from_static("accepted"));
    }
    reply
}

/// What a request is counted as.
#[derive(Clone, Copy)]
struct Request {
    /// What the request is counted as.
    operation: Operation,
    /// Whose step answers it (the same but on a shared route).
    step: Operation,
    version: Option<ApiVersion>,
    received_ms: i64,
    /// When it came: its latency counts from then.
    received: tokio::time::Instant,
    call: u64,
}

impl Request {
    /// Answers `latency_ms` after the request came: handling it is part of
    /// the latency.
    async fn wait_latency(&self, latency_ms: u32) {
        tokio::time::sleep_until(self.received + Duration::from_millis(latency_ms.into())).await;
    }

    fn at(&self, version: ApiVersion) -> Request {
        Request {
            version: Some(version),
            ..*self
        }
    }
}

/// Create Call, Answer, Connect, Redirect, Reject: no call names them.
fn is_setup(operation: Operation) -> bool {
    matches!(
        operation,
        Operation::CreateCall
            | Operation::AnswerCall
            | Operation::Connect
            | Operation::RedirectCall
            | Operation::RejectCall
    )
}

impl State {
    /// Counts `request`, refused before any step answered it (no
    /// latency drawn), and builds the reply.
    fn answered(&self, request: &Request, status: u16, sub_code: u32, body: &Value) -> Response {
        self.count_request(request, status, sub_code, 1);
        json(code(status), body)
    }

    fn replayed(&self, request: &Request, version: ApiVersion, first: &FirstAnswer) -> Response {
        self.count_request(&request.at(version), first.status, 0, 1);
        let mut reply = (code(first.status), first.body.clone()).into_response();
        if !first.body.is_empty() {
            reply.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        reply
    }

    fn count_request(&self, request: &Request, status: u16, sub_code: u32, latency_ms: u32) {
        self.note(|s| s.answered(request.operation, status));
        let Some(version) = request.version else {
            return;
        };
        self.count(&Event {
            time_ms: request.received_ms,
            call: request.call,
            seq: 0,
            api_version: version,
            connection: Connection::default(),
            kind: EventKind::Request {
                operation: request.operation,
                status: Status {
                    code: status,
                    sub_code,
                },
                latency_ms,
            },
        });
    }

    fn unexpected(&self, what: String) {
        self.note(|s| *s.unexpected.entry(what).or_default() += 1);
    }
}

/// Create Call, Answer Call, Connect (which start a call), Redirect and
/// Reject (which end an incoming one).
async fn setup(
    state: &Arc<State>,
    request: &Request,
    body: &[u8],
    parsed: &Value,
) -> (u16, Option<Value>) {
    let operation = request.operation;
    let version = request.version.unwrap_or_else(ApiVersion::default_version);
    let parsed = match parsed {
        v @ Value::Object(_) => v,
        _ => {
            let body = responses::error("8523", "The request body is not a JSON object.");
            state.count_request(request, 400, 8523, 1);
            return (400, Some(body));
        }
    };
    let starts_call = !matches!(operation, Operation::RedirectCall | Operation::RejectCall);
    let callback_target = match parsed.get("callbackUri").and_then(Value::as_str) {
        Some(text) => reqwest::Url::parse(text)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .and_then(|u| state.app_hosts.target(&u)),
        None => None,
    };
    if starts_call && callback_target.is_none() {
        let body = responses::error(
            "8523",
            "callbackUri must be an http:// or https:// URL: the service posts the call's events there.",
        );
        state.count_request(request, 400, 8523, 1);
        return (400, Some(body));
    }
    let index = if matches!(
        operation,
        Operation::AnswerCall | Operation::RedirectCall | Operation::RejectCall
    ) {
        let context = parsed.get("incomingCallContext").and_then(Value::as_str);
        match context.and_then(|c| lock(&state.calls).pending.remove(c)) {
            Some(index) => index,
            None => {
                let why = match context {
                    Some(_) => {
                        "an incomingCallContext the emulator never sent (or already answered, or \
                         that rang over a minute unanswered)"
                    }
                    None => "no incomingCallContext",
                };
                state.unexpected(format!("{}: {why}", operation.name()));
                state.count_request(request, 400, 8523, 1);
                let message = format!(
                    "incomingCallContext must be the one of an IncomingCall event not yet answered, \
                     redirected or rejected: {why}."
                );
                return (400, Some(responses::error("8523", message)));
            }
        }
    } else {
        let mut calls = lock(&state.calls);
        calls.next_index += 1;
        calls.next_index - 1
    };
    let request = Request {
        call: index,
        ..*request
    };
    let scenario = state.config.scenario;
    let Some(mut call) = LiveCall::start(scenario, state.config.seed, index, operation) else {
        let what = format!(
            "{}: no flow of scenario {:?} has a step for it",
            operation.name(),
            scenario.name
        );
        state.unexpected(what.clone());
        state.count_request(&request, 400, 8523, 1);
        return (400, Some(responses::error("8523", what)));
    };
    // The flow was chosen for having a step for this operation.
    let Some(answer) = call.answer(operation, version, AskedFor::default()) else {
        state.count_request(&request, 500, 0, 1);
        return (500, Some(responses::error("500", "No step answered.")));
    };
    request.wait_latency(answer.latency_ms).await;
    let (status, sub_code) = (answer.status.code, answer.status.sub_code);
    if !answer.status.is_success() {
        state.count_request(&request, status, sub_code, answer.latency_ms);
        return (status, Some(failure(answer.status)));
    }
    state.count_request(&request, status, 0, answer.latency_ms);
    let (Some(callback_target), true) = (callback_target, starts_call) else {
        return (status, None);
    };
    let (ids, properties) = {
        let mut writer = lock(&state.ids);
        let ids = CallIds::of(&mut writer, index);
        let properties = responses::call_connection(&writer, index, &ids, "connecting", parsed);
        (ids, properties)
    };
    let world = call.world(version);
    let live = Arc::new(Mutex::new(LiveCallState {
        call,
        callbacks: callback_target,
        ended: false,
        ids: Vec::new(),
        // A copy: `body` may share the connection's whole read buffer.
        setup: Bytes::copy_from_slice(body),
    }));
    lock(&state.calls).insert(&[&ids.connection, &ids.server_call], &live);
    state.note(|s| s.calls_started += 1);
    callbacks::send(state.clone(), live.clone(), answer.callbacks);
    if !world.is_empty() {
        callbacks::send(state.clone(), live, world);
    }
    (status, Some(properties))
}

/// Every other operation: it names a call.
async fn on_call(
    state: &Arc<State>,
    request: &Request,
    call: Option<Arc<Mutex<LiveCallState>>>,
    parsed: &Value,
) -> (u16, Option<Value>) {
    let operation = request.operation;
    let version = request.version.unwrap_or_else(ApiVersion::default_version);
    let Some(call) = call else {
        state.unexpected(format!(
            "{}: a call id the emulator does not know (never issued, or ended over a minute ago)",
            operation.name()
        ));
        state.count_request(request, 404, 8522, 1);
        return (404, Some(responses::error("8522", "Call not found.")));
    };
    if lock(&call).ended && operation != Operation::GetCall {
        state.count_request(request, 400, 8528, 1);
        let body = responses::error("8528", "Action is not supported: the call has ended.");
        return (400, Some(body));
    }
    let asked_for = AskedFor {
        max_tones: max_tones(parsed).unwrap_or(AskedFor::default().max_tones),
        at_ms: request.received_ms,
    };
    let answer = lock(&call).call.answer(request.step, version, asked_for);
    let Some(answer) = answer else {
        let flow = lock(&call).call.flow();
        let what = format!(
            "{}: flow {flow:?} of scenario {:?} has no step for it",
            operation.name(),
            state.config.scenario.name
        );
        state.unexpected(what.clone());
        state.count_request(request, 400, 8523, 1);
        return (400, Some(responses::error("8523", what)));
    };
    request.wait_latency(answer.latency_ms).await;
    let status = answer.status;
    state.count_request(request, status.code, status.sub_code, answer.latency_ms);
    if !status.is_success() {
        if answer.ends_call {
            state.end_call(&call);
        }
        return (status.code, Some(failure(status)));
    }
    let index = request.call;
    let reply = if operation == Operation::GetCall {
        let live = lock(&call);
        let mut writer = lock(&state.ids);
        let connection = if live.ended {
            "disconnected"
        } else {
            "connected"
        };
        let ids = CallIds::of(&mut writer, index);
        let setup = serde_json::from_slice(&live.setup).unwrap_or(Value::Null);
        Some(responses::call_connection(
            &writer, index, &ids, connection, &setup,
        ))
    } else {
        let mut recording = Vec::new();
        lock(&state.ids).recording(&mut recording, index, Connection::default());
        let recording = String::from_utf8_lossy(&recording).into_owned();
        // Locks are taken calls, then a call, then ids: never ids first.
        if operation == Operation::StartRecording {
            lock(&state.calls).insert(&[&recording], &call);
        }
        let participants = lock(&call).call.participants();
        let writer = lock(&state.ids);
        let of = responses::Of {
            call: index,
            participants,
            recording_id: &recording,
        };
        responses::success(operation, &writer, &of, parsed)
    };
    callbacks::send(state.clone(), call, answer.callbacks);
    (status.code, reply)
}

/// The operation a request is counted as, and the one whose step answers
/// it. A recognize that plays a prompt (`playPrompt` or `playPrompts` in
/// its body) is PlayPrompt, one that does not is Recognize: the body says
/// what the app called. Where the call's flow has no step for that one but
/// has for the route's other, that step answers (both draw the same
/// callbacks). For other shared routes (`DELETE`: Hang Up or Delete Call)
/// only the flow can tell: the first with a step is both.
fn operation_of(
    route: &Route,
    call: Option<&Arc<Mutex<LiveCallState>>>,
    body: &Value,
) -> (Operation, Operation) {
    let counted = if route.operations.contains(&Operation::PlayPrompt) {
        if plays_prompt(body) {
            Operation::PlayPrompt
        } else {
            Operation::Recognize
        }
    } else {
        route.operations[0]
    };
    let Some(call) = call else {
        return (counted, counted);
    };
    let live = lock(call);
    let with_step = |op: Operation| live.call.has_step(op);
    if route.operations.contains(&Operation::PlayPrompt) {
        let answered = std::iter::once(counted)
            .chain(route.operations.iter().copied())
            .find(|&op| with_step(op))
            .unwrap_or(counted);
        return (counted, answered);
    }
    let op = route
        .operations
        .iter()
        .copied()
        .find(|&op| with_step(op))
        .unwrap_or(counted);
    (op, op)
}

/// A recognize's `recognizeOptions.dtmfOptions.maxTonesToCollect`, when
/// it sets one the result can honour (1 to 255).
fn max_tones(body: &Value) -> Option<u8> {
    let n = body
        .pointer("/recognizeOptions/dtmfOptions/maxTonesToCollect")?
        .as_u64()?;
    u8::try_from(n).ok().filter(|&n| n > 0)
}

/// The call a Start Recording names in its body (its route names none):
/// `callLocator.serverCallId`, or `callConnectionId` in versions that take
/// one. A group call or room locator names no call the emulator set up.
fn recorded_call<'b>(route: &Route, body: &'b Value) -> Option<&'b str> {
    if route.operations.first() != Some(&Operation::StartRecording) {
        return None;
    }
    body.pointer("/callLocator/serverCallId")
        .or_else(|| body.get("callConnectionId"))
        .and_then(Value::as_str)
}

/// Whether a recognize request's body plays a prompt.
fn plays_prompt(body: &Value) -> bool {
    let Value::Object(fields) = body else {
        return false;
    };
    match (fields.get("playPrompt"), fields.get("playPrompts")) {
        (Some(Value::Object(_)), _) => true,
        (_, Some(Value::Array(prompts))) => !prompts.is_empty(),
        _ => false,
    }
}

/// The query's api-version, when the catalog knows it.
fn api_version(query: Option<&str>) -> Option<ApiVersion> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("api-version="))
        .and_then(|v| v.parse().ok())
}

/// A drawn failure, as ACS's error body: the sub-code is its code.
fn failure(status: Status) -> Value {
    let (status_code, sub_code) = (status.code, status.sub_code);
    let reason = code(status_code).canonical_reason().unwrap_or("Error");
    responses::error(
        sub_code.to_string(),
        format!("{reason} ({status_code}/{sub_code})."),
    )
}

fn code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn json(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(
            http::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        )],
        body.to_string(),
    )
        .into_response()
}

fn body_digest(body: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, body);
    d.as_ref().try_into().unwrap_or([0; 32])
}

#[cfg(test)]
mod tests {
    use super::{max_tones, plays_prompt};

    #[test]
    fn max_tones_is_read_from_the_recognize_options() {
        let body = |text: &str| serde_json::from_str(text).unwrap();
        let asked = r#"{"recognizeOptions":{"dtmfOptions":{"maxTonesToCollect":1}}}"#;
        assert_eq!(max_tones(&body(asked)), Some(1));
        for unusable in [
            r#"{"recognizeOptions":{"dtmfOptions":{"maxTonesToCollect":0}}}"#,
            r#"{"recognizeOptions":{"dtmfOptions":{"maxTonesToCollect":300}}}"#,
            r#"{"recognizeOptions":{"dtmfOptions":{}}}"#,
            r#"{"recognizeInputType":"dtmf"}"#,
        ] {
            assert_eq!(max_tones(&body(unusable)), None, "{unusable}");
        }
    }

    #[test]
    fn a_recognize_with_a_prompt_is_play_prompt() {
        let body = |text: &str| serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
        assert!(plays_prompt(&body(r#"{"playPrompt":{"kind":"file"}}"#)));
        assert!(plays_prompt(&body(r#"{"playPrompts":[{"kind":"text"}]}"#)));
        assert!(!plays_prompt(&body(r#"{"playPrompts":[]}"#)));
        assert!(!plays_prompt(&body(r#"{"recognizeInputType":"dtmf"}"#)));
        assert!(!plays_prompt(&body("not json")));
    }
}
