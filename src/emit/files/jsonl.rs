//! One JSON line per event: `metric`, `time`, `dimensions` (Azure names),
//! `value`, then `latencyMs` + `request` for API requests or the full
//! `cloudEvent` for callbacks. The embedded sink ingests this same format.
//!
//! Everything a line's series fixes (dimension text, method, route, status,
//! envelope parts) is rendered once per series and copied afterwards; per
//! event only the time, ids, latency and event details are formatted.

use super::cloudevent::{EnvelopeParts, write_cloud_event};
use super::identity::IdWriter;
use super::json_text::{Snippet, write_int};
use crate::catalog::{ApiVersion, Dimension, EventType, Metric, Naming, Operation, StatusClass};
use crate::engine::{Event, EventKind, IdKey};
use crate::model::Series;
use crate::scenario::plan::Status;
use crate::wire::rfc3339::TimeWriter;
use rustc_hash::FxHashMap;

pub struct JsonlEncoder {
    ids: IdWriter,
    naming: Naming,
    /// False for sample lines only (no `request` / `cloudEvent`): what
    /// `run` sends to a sink's /ingest, a quarter of the bytes.
    payloads: bool,
    times: TimeWriter,
    /// For recordings' startDateTime: a second writer, so those earlier
    /// times do not evict the current second from `times`.
    start_times: TimeWriter,
    request_head: Box<[u8]>,
    recording_head: Box<[u8]>,
    callback_head: Box<[u8]>,
    requests: FxHashMap<u64, RequestParts>,
    callbacks: FxHashMap<u64, CallbackParts>,
}

/// A piece of a request path: literal text or an id of the call.
enum Segment {
    Text(&'static str),
    CallConnectionId,
    ParticipantRawId,
    RecordingId,
}

struct RequestParts {
    /// `{"Operation":…},"value":1,"latencyMs":`, without `latencyMs` for
    /// a recording request: no metric counts their latency
    /// (ApiRequestLatency is the Call Automation metric's companion).
    dims: Snippet,
    latency: bool,
    /// `,"request":{"method":"…","path":"`
    method: Snippet,
    route: Vec<Segment>,
    /// `?api-version=…","status":…,"callConnectionId":"`
    status: Snippet,
}

struct CallbackParts {
    /// `{"EventTypeName":…},"value":1`
    dims: Snippet,
    envelope: EnvelopeParts,
}

/// `{"metric":"…","time":"`
fn head(metric: Metric) -> Box<[u8]> {
    format!("{{\"metric\":\"{}\",\"time\":\"", metric.name())
        .into_bytes()
        .into()
}

impl JsonlEncoder {
    pub fn new(ids: IdKey, naming: Naming) -> Self {
        JsonlEncoder {
            ids: IdWriter::new(ids),
            naming,
            payloads: true,
            times: TimeWriter::default(),
            start_times: TimeWriter::default(),
            request_head: head(Metric::ApiRequests),
            recording_head: head(Metric::RecordingRequests),
            callback_head: head(Metric::CallbackEvents),
            requests: FxHashMap::default(),
            callbacks: FxHashMap::default(),
        }
    }

    /// An encoder of bare samples: metric, time, dimensions, value and
    /// latencyMs, without request or CloudEvent payloads.
    pub fn samples_only(ids: IdKey, naming: Naming) -> Self {
        JsonlEncoder {
            payloads: false,
            ..JsonlEncoder::new(ids, naming)
        }
    }

    /// Appends the line for `e`, newline included.
    pub fn encode(&mut self, out: &mut Vec<u8>, e: &Event) {
        let key = series_key(e);
        let naming = self.naming;
        match e.kind {
            EventKind::Request {
                operation,
                status,
                latency_ms,
            } => {
                let parts = self
                    .requests
                    .entry(key)
                    .or_insert_with(|| RequestParts::new(operation, status, e.api_version, naming));
                out.extend_from_slice(if operation.metric() == Metric::RecordingRequests {
                    &self.recording_head
                } else {
                    &self.request_head
                });
                self.times.write_millis(out, e.time_ms);
                out.extend_from_slice(b"\",\"dimensions\":");
                parts.dims.write(out);
                if parts.latency {
                    write_int(out, latency_ms);
                }
                if !self.payloads {
                    out.extend_from_slice(b"}\n");
                    return;
                }
                parts.method.write(out);
                for segment in &parts.route {
                    match segment {
                        Segment::Text(text) => out.extend_from_slice(text.as_bytes()),
                        Segment::CallConnectionId => self.ids.connection(out, e.call, e.connection),
                        Segment::ParticipantRawId => self
                            .ids
                            .raw_id_in_path(out, self.ids.participant(e.call, 0)),
                        Segment::RecordingId => self.ids.recording(out, e.call, e.connection),
                    }
                }
                parts.status.write(out);
                let call = self.ids.call(e.call, e.connection);
                call.connection(out);
                out.extend_from_slice(b"\",\"correlationId\":\"");
                call.correlation(out);
                out.push(b'"');
                if !status.is_success() {
                    out.extend_from_slice(b",\"subCode\":");
                    write_int(out, status.sub_code);
                }
                out.extend_from_slice(b"}}\n");
            }
            EventKind::Callback { event, result, .. } => {
                let parts = self
                    .callbacks
                    .entry(key)
                    .or_insert_with(|| CallbackParts::new(event, result, e.api_version));
                out.extend_from_slice(&self.callback_head);
                let time = self.times.millis(e.time_ms);
                out.extend_from_slice(&time);
                out.extend_from_slice(b"\",\"dimensions\":");
                parts.dims.write(out);
                if !self.payloads {
                    out.extend_from_slice(b"}\n");
                    return;
                }
                out.extend_from_slice(b",\"cloudEvent\":");
                write_cloud_event(
                    out,
                    &parts.envelope,
                    &mut self.ids,
                    &mut self.start_times,
                    e,
                    &time,
                );
                out.extend_from_slice(b"}\n");
            }
        }
    }
}

/// What fixes the text an event's series renders once: its series, and
/// its version. A recording request's series has no version, but its path
/// does: the version's bits (those of every other series) keep them
/// apart.
pub(super) fn series_key(e: &Event) -> u64 {
    Series::of(e).pack() | (e.api_version.wire_id() as u64) << 8
}

impl RequestParts {
    fn new(operation: Operation, status: Status, version: ApiVersion, naming: Naming) -> Self {
        let info = operation.info();
        let mut dims = b"{\"Operation\":\"".to_vec();
        dims.extend_from_slice(info.name.as_bytes());
        dims.extend_from_slice(b"\",\"StatusCode\":\"");
        write_int(&mut dims, status.code);
        dims.extend_from_slice(b"\",\"");
        dims.extend_from_slice(Dimension::StatusCodeClass.name(naming).as_bytes());
        dims.extend_from_slice(b"\":\"");
        dims.extend_from_slice(class(status.code));
        // APIRequestCallRecording has no ApiVersion dimension.
        if operation.metric() == Metric::ApiRequests {
            dims.extend_from_slice(b"\",\"ApiVersion\":\"");
            dims.extend_from_slice(version.as_str().as_bytes());
        }
        let latency = operation.metric() == Metric::ApiRequests;
        dims.extend_from_slice(if latency {
            b"\"},\"value\":1,\"latencyMs\":"
        } else {
            b"\"},\"value\":1"
        });
        let mut method = b",\"request\":{\"method\":\"".to_vec();
        method.extend_from_slice(info.method.as_str().as_bytes());
        method.extend_from_slice(b"\",\"path\":\"");
        let mut tail = b"?api-version=".to_vec();
        tail.extend_from_slice(version.as_str().as_bytes());
        tail.extend_from_slice(b"\",\"status\":");
        write_int(&mut tail, status.code);
        tail.extend_from_slice(b",\"callConnectionId\":\"");
        RequestParts {
            dims: Snippet::new(&dims),
            latency,
            method: Snippet::new(&method),
            route: route(info.route),
            status: Snippet::new(&tail),
        }
    }
}

/// Splits a route template at its `{placeholders}`.
fn route(mut rest: &'static str) -> Vec<Segment> {
    let mut segments = Vec::new();
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        segments.push(Segment::Text(&rest[..open]));
        segments.push(match &rest[open + 1..open + close] {
            "callConnectionId" => Segment::CallConnectionId,
            "participantRawId" => Segment::ParticipantRawId,
            _ => Segment::RecordingId,
        });
        rest = &rest[open + close + 1..];
    }
    segments.push(Segment::Text(rest));
    segments
}

impl CallbackParts {
    fn new(event: EventType, result: Status, version: ApiVersion) -> Self {
        let mut dims = b"{\"EventTypeName\":\"".to_vec();
        dims.extend_from_slice(event.name().as_bytes());
        dims.extend_from_slice(b"\",\"Code\":\"");
        write_int(&mut dims, result.code);
        dims.extend_from_slice(b"\",\"CodeClass\":\"");
        dims.extend_from_slice(class(result.code));
        dims.extend_from_slice(b"\",\"SubCode\":\"");
        write_int(&mut dims, result.sub_code);
        dims.extend_from_slice(b"\",\"Version\":\"");
        dims.extend_from_slice(version.as_str().as_bytes());
        dims.extend_from_slice(b"\"},\"value\":1");
        CallbackParts {
            dims: Snippet::new(&dims),
            envelope: EnvelopeParts::new(event, result, version),
        }
    }
}

pub(super) fn class(code: u16) -> &'static [u8] {
    StatusClass::of(code).map_or(b"", |c| c.as_str().as_bytes())
}
