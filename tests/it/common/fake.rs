//! A scripted HTTP receiver on a free loopback port: answers the n-th POST
//! with the n-th status of its script (the last one from then on) and
//! keeps every request's headers and body, for tests that assert what a
//! target sends and how it reacts to answers no real server gives on cue.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use std::sync::{Arc, Mutex};

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub struct FakeReceiver {
    script: Vec<u16>,
    pub received: Mutex<Vec<Received>>,
}

impl FakeReceiver {
    /// Serves POSTs on any path until the test's runtime ends; returns the
    /// receiver and its base URL (`http://127.0.0.1:PORT`).
    pub async fn start(script: &[u16]) -> (Arc<FakeReceiver>, String) {
        assert!(!script.is_empty(), "a script of at least one status");
        let state = Arc::new(FakeReceiver {
            script: script.to_vec(),
            received: Mutex::default(),
        });
        let router = axum::Router::new()
            .fallback(axum::routing::post(answer))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (state, url)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn answer(
    State(fake): State<Arc<FakeReceiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut received = fake.received.lock().unwrap();
    received.push(Received { headers, body });
    let at = (received.len() - 1).min(fake.script.len() - 1);
    StatusCode::from_u16(fake.script[at]).unwrap()
}
