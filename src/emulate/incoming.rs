//! Inbound calls. ACS tells an app of a call to its number with an Event
//! Grid `Microsoft.Communication.IncomingCall` event, posted to the app's
//! subscription endpoint once that endpoint has passed Event Grid's
//! subscription-validation handshake: a `SubscriptionValidation` delivery
//! answered 200 with its `validationCode` echoed as `validationResponse`
//! (docs/sources.md). Each event carries an `incomingCallContext` that the
//! app's Answer, Redirect or Reject sends back; the call it names is the
//! call those requests set up, with the ids the event announced.

use super::{State, callbacks::now_ms, lock};
use crate::engine::Workload;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

/// Where incoming calls go and when they arrive.
pub(crate) struct IncomingCalls {
    /// The app's Event Grid webhook.
    pub url: reqwest::Url,
    /// Arrivals: rate, process, how many (all with the emulator's seed).
    pub workload: Workload,
}

/// The Event Grid topic of the emulated resource.
const TOPIC: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/callmetrics\
                     /providers/Microsoft.Communication/communicationServices/callmetrics-emulator";

/// How often an endpoint that is not up yet is asked again to validate.
const VALIDATION_RETRY: Duration = Duration::from_millis(250);

/// Validates the subscription, then posts the incoming calls at their
/// arrival times, until the arrivals end or the task is aborted.
pub(super) fn spawn(state: Arc<State>, incoming: IncomingCalls) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let validated = validate(&state, &incoming.url).await;
        let said = validated.clone().unwrap_or_else(|why| why);
        state.note(|s| s.incoming_validation = Some(said));
        match validated {
            Ok(how) => eprintln!("incoming calls: {} validated ({how})", incoming.url),
            Err(why) => {
                eprintln!(
                    "incoming calls: {} failed Event Grid's subscription validation ({why}); \
                     no incoming call is posted",
                    incoming.url
                );
                return;
            }
        }
        let start = Instant::now();
        for offset_ms in incoming.workload.arrivals() {
            let due = start + Duration::from_secs_f64(offset_ms / 1000.0);
            tokio::time::sleep_until(due.into()).await;
            let index = {
                let mut calls = lock(&state.calls);
                calls.next_index += 1;
                calls.next_index - 1
            };
            let (event, context) = incoming_call(&state, index);
            let unanswered = lock(&state.calls).ring(context, index, Instant::now());
            if unanswered > 0 {
                state.note(|s| s.incoming_calls_unanswered += unanswered);
            }
            // Each on its own task: a slow app must not delay the arrivals.
            tokio::spawn(post(state.clone(), incoming.url.clone(), event));
        }
    })
}

/// Where the validationUrl points, on the emulator's own listener.
pub(super) const VALIDATION_PATH: &str = "/eventsubscriptions/callmetrics/validate";

/// How long Event Grid waits for the GET of a validationUrl (docs/sources.md).
const MANUAL_VALIDATION: Duration = Duration::from_secs(600);

/// The subscription's validation code and URL, and whether the app has
/// fetched the URL (Event Grid's manual handshake).
pub(super) struct ValidationUrl {
    code: String,
    url: String,
    fetched: tokio::sync::Notify,
}

impl ValidationUrl {
    /// `base`: the emulator's own `https://host:port`.
    pub(super) fn new(base: &str, seed: u64) -> ValidationUrl {
        let code = format!("{seed:016x}-callmetrics");
        let url = format!("{base}{VALIDATION_PATH}?id={code}");
        ValidationUrl {
            code,
            url,
            fetched: tokio::sync::Notify::new(),
        }
    }
}

/// `GET` of the validationUrl: the manual handshake is done when it names
/// this subscription's code.
pub(super) async fn validation_url_fetched(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> (http::StatusCode, &'static str) {
    let id = query
        .as_deref()
        .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("id=")));
    if id == Some(state.validation.code.as_str()) {
        // A permit is kept if the handshake is not waiting yet.
        state.validation.fetched.notify_one();
        (
            http::StatusCode::OK,
            "Webhook successfully validated as a subscription endpoint.",
        )
    } else {
        (http::StatusCode::BAD_REQUEST, "Invalid validation id.")
    }
}

/// Event Grid's handshake: how it passed, or why not. An endpoint that
/// does not answer yet (the app starting) or answers 5xx is asked again;
/// one that answers 200 without a `validationResponse` has ten minutes to
/// fetch the validationUrl instead.
async fn validate(state: &State, url: &reqwest::Url) -> Result<String, String> {
    let code = &state.validation.code;
    let body = json!([{
        "id": format!("validation-{}", state.config.seed),
        "topic": TOPIC,
        "subject": "",
        "data": {"validationCode": code, "validationUrl": state.validation.url},
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": event_time(),
        "metadataVersion": "1",
        "dataVersion": "1",
    }]);
    let mut told = false;
    loop {
        let sent = deliver(state, url, "SubscriptionValidation", &body).await;
        let reply = match sent {
            Ok(reply) if !reply.status().is_server_error() => reply,
            Ok(_) | Err(_) => {
                if !told {
                    eprintln!(
                        "incoming calls: waiting for {url} to answer the subscription validation"
                    );
                    told = true;
                }
                tokio::time::sleep(VALIDATION_RETRY).await;
                continue;
            }
        };
        let status = reply.status();
        if status != http::StatusCode::OK {
            return Err(format!(
                "answered HTTP {} (Event Grid wants 200)",
                status.as_u16()
            ));
        }
        let answer: Value = reply.json().await.unwrap_or(Value::Null);
        return match answer.get("validationResponse").and_then(Value::as_str) {
            Some(got) if got == code => Ok("passed".into()),
            Some(got) => Err(format!(
                "validationResponse {got:?} is not the validationCode {code:?}"
            )),
            None => {
                eprintln!(
                    "incoming calls: {url} answered without a validationResponse; waiting up \
                     to 10 minutes for a GET of the validationUrl {}",
                    state.validation.url
                );
                // What the summary says if the emulator stops meanwhile.
                state.note(|s| {
                    s.incoming_validation = Some("awaiting a GET of the validationUrl".into())
                });
                let fetched = state.validation.fetched.notified();
                match tokio::time::timeout(MANUAL_VALIDATION, fetched).await {
                    Ok(()) => Ok("passed (validationUrl)".into()),
                    Err(_) => Err("the answer had no validationResponse and the \
                                   validationUrl was not fetched within 10 minutes"
                        .into()),
                }
            }
        };
    }
}

/// One Event Grid delivery of `body` to the app, of `aeg-event-type`
/// `kind`.
async fn deliver(
    state: &State,
    url: &reqwest::Url,
    kind: &str,
    body: &Value,
) -> reqwest::Result<reqwest::Response> {
    state
        .http
        .post(url.clone())
        .header("aeg-event-type", kind)
        .json(body)
        .send()
        .await
}

/// Event Grid's retry schedule for a webhook: the delays before the 2nd,
/// 3rd... attempts (docs/sources.md, "Event Grid message delivery and
/// retry"; it goes on to hours, but a call rings for `RINGING` only).
const RETRY_AFTER: [Duration; 4] = [
    Duration::from_secs(10),
    Duration::from_secs(30),
    Duration::from_secs(60),
    Duration::from_secs(300),
];

/// Whether Event Grid tries a webhook again after this answer: not after
/// 400, 401, 403 or 413, which it documents as not worth retrying.
fn retried(status: Option<http::StatusCode>) -> bool {
    match status {
        Some(s) if s.is_success() => false,
        Some(s) => !matches!(s.as_u16(), 400 | 401 | 403 | 413),
        // No answer: refused, reset or timed out.
        None => true,
    }
}

/// Posts one IncomingCall, retried as Event Grid retries while the call
/// still rings; the summary says whether the app took it and how many
/// attempts it took.
async fn post(state: Arc<State>, url: reqwest::Url, event: Value) {
    let rang = Instant::now();
    let mut retries = RETRY_AFTER.iter();
    loop {
        let sent = deliver(&state, &url, "Notification", &event).await;
        let (status, why) = match sent {
            Ok(reply) if reply.status().is_success() => {
                state.note(|s| s.incoming_calls_posted += 1);
                return;
            }
            Ok(reply) => (
                Some(reply.status()),
                format!(
                    "IncomingCall: the app answered HTTP {}",
                    reply.status().as_u16()
                ),
            ),
            Err(e) => (
                None,
                format!("IncomingCall: {}", crate::client::http::root_cause(&e)),
            ),
        };
        let next = retries
            .next()
            .filter(|&&after| retried(status) && rang.elapsed() + after < super::RINGING);
        let Some(&after) = next else {
            state.note(|s| *s.callbacks_failed.entry(why).or_default() += 1);
            return;
        };
        state.note(|s| s.incoming_call_retries += 1);
        tokio::time::sleep(after).await;
    }
}

/// Call `index`'s IncomingCall event (an Event Grid array of one) and its
/// `incomingCallContext`: the caller is participant 0, the app's number
/// participant 1, the ids those the call keeps once answered.
fn incoming_call(state: &State, index: u64) -> (Value, String) {
    let mut writer = lock(&state.ids);
    let ids = super::responses::CallIds::of(&mut writer, index);
    let identity = |n: u16| {
        let mut out = Vec::new();
        writer.identifier(&mut out, writer.participant(index, n));
        serde_json::from_slice::<Value>(&out).unwrap_or(Value::Null)
    };
    let (from, to) = (identity(0), identity(1));
    let mut event_id = Vec::new();
    writer.event(&mut event_id, index, u32::MAX);
    // Opaque to the app; shaped like the service's (a JWT with alg none).
    let claims = json!({"serverCallId": ids.server_call, "correlationId": ids.correlation});
    let context = format!(
        "{}.{}.",
        B64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        B64.encode(claims.to_string())
    );
    let raw = |v: &Value| {
        v.get("rawId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let event = json!([{
        "id": String::from_utf8_lossy(&event_id),
        "topic": TOPIC,
        "subject": format!("/caller/{}/recipient/{}", raw(&from), raw(&to)),
        "data": {
            "to": to,
            "from": from,
            "serverCallId": ids.server_call,
            "callerDisplayName": "",
            "incomingCallContext": context,
            "correlationId": ids.correlation,
        },
        "eventType": "Microsoft.Communication.IncomingCall",
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "eventTime": event_time(),
    }]);
    (event, context)
}

fn event_time() -> String {
    let now = UNIX_EPOCH + Duration::from_millis(now_ms().max(0) as u64);
    humantime::format_rfc3339_millis(now).to_string()
}

#[cfg(test)]
mod tests {
    use super::retried;
    use http::StatusCode;

    #[test]
    fn event_grid_retries_all_but_the_answers_it_documents_as_final() {
        for final_answer in [200, 202, 400, 401, 403, 413] {
            let status = StatusCode::from_u16(final_answer).unwrap();
            assert!(!retried(Some(status)), "{final_answer}");
        }
        for again in [404, 408, 429, 500, 503] {
            assert!(
                retried(Some(StatusCode::from_u16(again).unwrap())),
                "{again}"
            );
        }
        assert!(retried(None), "no answer at all is tried again");
    }
}
