//! Callbacks to the app: the events an answer drew, each POSTed to the
//! call's `callbackUri` at its delay, in order, as the one-event CloudEvents
//! array ACS sends (the bytes of `run --target webhook`). A callback counts
//! in the callback metric when the app acknowledges it (2xx); nothing more
//! is sent for a call once it has ended. With `--sign`, each carries a
//! fresh bearer token, as the webhook target's do.

use super::{LiveCallState, State, lock};
use crate::emit::deliver::batcher::Encoder;
use crate::engine::Event;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How much of an app's answer to a callback is read.
const ACK_BODY_LIMIT: usize = 64 * 1024;

/// Now, in Unix milliseconds.
pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Sends `callbacks` (each with its delay after the one before, in ms) on
/// a task of their own.
pub(super) fn send(
    state: Arc<State>,
    call: Arc<Mutex<LiveCallState>>,
    callbacks: Vec<(f64, Event<'static>)>,
) {
    tokio::spawn(async move {
        let url = lock(&call).callback_uri.clone();
        for (delay_ms, mut event) in callbacks {
            tokio::time::sleep(Duration::from_secs_f64(delay_ms / 1000.0)).await;
            if lock(&call).ended {
                return;
            }
            event.time_ms = now_ms();
            let body = {
                let mut encoder = lock(&state.cloud_events);
                let mut body = Vec::with_capacity(1024);
                encoder.encode(&mut body, &event);
                encoder.finish(&mut body);
                body
            };
            let mut post = state
                .http
                .post(url.clone())
                .header(http::header::CONTENT_TYPE, "application/json");
            if let Some(signer) = &state.config.signer {
                let token = signer.token(SystemTime::now());
                post = post.bearer_auth(token);
            }
            let sent = post.body(body).send().await;
            let name = match event.kind {
                crate::engine::EventKind::Callback { event, .. } => event.name(),
                crate::engine::EventKind::Request { .. } => "a request",
            };
            // The answer's body is read (a little of it at most) so the
            // connection goes back to the pool instead of closing; the
            // status alone says whether the app acknowledged.
            let sent = match sent {
                Ok(reply) => {
                    let status = reply.status();
                    let _ = crate::client::http::body_capped(reply, ACK_BODY_LIMIT).await;
                    Ok(status)
                }
                Err(e) => Err(crate::client::http::root_cause(&e)),
            };
            match sent {
                Ok(status) if status.is_success() => {
                    state.count(&event);
                    state.note(|s| *s.callbacks_delivered.entry(name).or_default() += 1);
                }
                Ok(status) => state.note(|s| {
                    let why = format!("{name}: the app answered HTTP {}", status.as_u16());
                    *s.callbacks_failed.entry(why).or_default() += 1;
                }),
                Err(e) => state.note(|s| {
                    *s.callbacks_failed
                        .entry(format!("{name}: {e}"))
                        .or_default() += 1;
                }),
            }
            if event.is_call_end() {
                state.end_call(&call);
            }
        }
    });
}
