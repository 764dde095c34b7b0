//! Callbacks to the app: the events an answer drew, each POSTed to the
//! call's `callbackUri` at its delay, in order, as the one-event CloudEvents
//! array ACS sends (the bytes of `run --target webhook`). A callback counts
//! in the callback metric when the app acknowledges it (2xx); nothing more
//! is sent for a call once it has ended. With `--sign`, each carries a
//! fresh bearer token, as the webhook target's do.

use super::{LiveCallState, State, lock};
use crate::client::Reply;
use crate::emit::deliver::batcher::Encoder;
use crate::engine::Event;
use axum::body::Bytes;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
        let (host, path) = {
            let call = lock(&call);
            (call.callbacks.host.clone(), call.callbacks.path.clone())
        };
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
            let mut post = http::Request::post(path.clone())
                .header(http::header::CONTENT_TYPE, "application/json");
            if let Some(signer) = &state.config.signer {
                let token = signer.token(SystemTime::now());
                post = post.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
            }
            let name = match event.kind {
                crate::engine::EventKind::Callback { event, .. } => event.name(),
                crate::engine::EventKind::Request { .. } => "a request",
            };
            let sent = match post.body(Bytes::from(body)) {
                Ok(request) => host.send(request).await,
                Err(e) => Reply::Invalid(e.to_string()),
            };
            match sent {
                Reply::Status { code, .. } if (200..300).contains(&code) => {
                    state.count(&event);
                    state.note(|s| *s.callbacks_delivered.entry(name).or_default() += 1);
                }
                Reply::Status { code, .. } => state.note(|s| {
                    let why = format!("{name}: the app answered HTTP {code}");
                    *s.callbacks_failed.entry(why).or_default() += 1;
                }),
                Reply::Transport { message: e, .. } | Reply::Invalid(e) => state.note(|s| {
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
