//! `run --control ADDR`: a small HTTP API while a run lasts. `GET /status`
//! says how far it is (JSON: delivered and failed requests and events,
//! retries, rate, lag percentiles, schedule position and ETA, speed);
//! `POST /speed` with `{"speed": 4}` changes a scheduled run's speed from
//! the next batch on. What `--expected-out` holds does not change: it is
//! always what was delivered. Served with `serve`'s limits, so a client
//! that keeps a connection open, or sends half a request, holds neither a
//! connection slot for long nor the end of the run.

use super::pacing::{LiveSpeed, MAX_SPEED, MIN_SPEED};
use super::stats::Counters;
use crate::serve::{Background, ConnectionLimits};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// What the API reads and changes.
struct Shared {
    counters: Arc<Counters>,
    live: Arc<LiveSpeed>,
    /// The speed the schedule was made with; `None` at the maximum rate.
    speed: Option<f64>,
    /// The schedule's length at that speed, when known.
    schedule: Option<Duration>,
    started: Instant,
}

pub(super) struct ControlServer {
    addr: SocketAddr,
    server: Background,
}

impl ControlServer {
    pub(super) async fn start(
        addr: SocketAddr,
        counters: Arc<Counters>,
        live: Arc<LiveSpeed>,
        speed: Option<f64>,
        schedule: Option<Duration>,
    ) -> std::io::Result<ControlServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            counters,
            live,
            speed,
            schedule,
            started: Instant::now(),
        });
        let app = Router::new()
            .route("/status", get(status))
            .route("/speed", post(set_speed))
            .with_state(shared);
        let server = Background::spawn(listener, app, ConnectionLimits::RUN_SIDE, None);
        Ok(ControlServer { addr, server })
    }

    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving, within `ConnectionLimits::RUN_SIDE`'s drain. The
    /// run's own outcome matters more than how its status API ended.
    pub(super) async fn shutdown(self) {
        let _ = self.server.shutdown().await;
    }
}

async fn status(State(s): State<Arc<Shared>>) -> Json<Value> {
    let c = &s.counters;
    let elapsed = s.started.elapsed().as_secs_f64().max(1e-9);
    let events = Counters::get(&c.events);
    let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1000.0);
    let factor = s.live.factor();
    let schedule = s.schedule.map(|length| {
        let at = Duration::from_millis(Counters::get(&c.schedule_ms)).min(length);
        json!({
            "positionMs": at.as_millis() as u64,
            "lengthMs": length.as_millis() as u64,
            "etaMs": ((length - at).as_secs_f64() * 1000.0 / factor) as u64,
        })
    });
    Json(json!({
        "pacing": if s.speed.is_some() { "scheduled" } else { "max" },
        "speed": s.speed.map(|v| v * factor),
        "acknowledged": {
            "events": events,
            "requests": Counters::get(&c.requests),
        },
        "failed": {"requests": Counters::get(&c.failed)},
        "retries": Counters::get(&c.retries),
        "eventsPerSecond": events as f64 / elapsed,
        "lagMs": {
            "p50": ms(c.lag_quantile(0.5)),
            "p99": ms(c.lag_quantile(0.99)),
            "max": ms(c.lag_quantile(1.0)),
        },
        "schedule": schedule,
    }))
}

async fn set_speed(
    State(s): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> (StatusCode, Json<Value>) {
    let refuse = |status, message: String| (status, Json(json!({"error": message})));
    let Some(initial) = s.speed else {
        return refuse(
            StatusCode::CONFLICT,
            "this run sends at the maximum rate (--max-rate): it has no schedule to speed up"
                .into(),
        );
    };
    let asked = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("speed").and_then(Value::as_f64));
    match asked {
        Some(speed) if (MIN_SPEED..=MAX_SPEED).contains(&speed) => {
            s.live.set_factor(speed / initial);
            (StatusCode::OK, Json(json!({"speed": speed})))
        }
        _ => refuse(
            StatusCode::BAD_REQUEST,
            "send {\"speed\": N} with 0.001 <= N <= 1000000, e.g. {\"speed\": 4} for four times real time".into(),
        ),
    }
}
