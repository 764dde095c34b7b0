//! One JSON line per event: `metric`, `time`, `dimensions` (Azure names),
//! `value`, then `latencyMs` + `request` for API requests or the full
//! `cloudEvent` for callbacks. The embedded sink ingests this same format.

use super::cloudevent::write_cloud_event;
use super::identity::{IdWriter, write_raw_id_in_path};
use super::json_text::write_int;
use super::rfc3339::TimeWriter;
use crate::catalog::{Dimension, Metric, Naming, StatusClass};
use crate::engine::{Event, EventKind};

pub struct JsonlEncoder {
    ids: IdWriter,
    /// `","StatusCodeClass":"` under the chosen naming.
    class_key: Vec<u8>,
    /// False for sample lines only (no `request` / `cloudEvent`): what
    /// `run` sends to a sink's /ingest, a quarter of the bytes.
    payloads: bool,
    times: TimeWriter,
}

impl JsonlEncoder {
    pub fn new(seed: u64, naming: Naming) -> Self {
        let class_key =
            format!("\",\"{}\":\"", Dimension::StatusCodeClass.name(naming)).into_bytes();
        JsonlEncoder {
            ids: IdWriter::new(seed),
            class_key,
            payloads: true,
            times: TimeWriter::default(),
        }
    }

    /// An encoder of bare samples: metric, time, dimensions, value and
    /// latencyMs, without request or CloudEvent payloads.
    pub fn samples_only(seed: u64, naming: Naming) -> Self {
        JsonlEncoder {
            payloads: false,
            ..JsonlEncoder::new(seed, naming)
        }
    }

    /// Appends the line for `e`, newline included.
    pub fn encode(&mut self, out: &mut Vec<u8>, e: &Event) {
        match e.kind {
            EventKind::Request {
                operation,
                status,
                latency_ms,
            } => {
                self.head(out, Metric::ApiRequests, e);
                out.extend_from_slice(b"{\"Operation\":\"");
                out.extend_from_slice(operation.name().as_bytes());
                out.extend_from_slice(b"\",\"StatusCode\":\"");
                write_int(out, status.code);
                out.extend_from_slice(&self.class_key);
                out.extend_from_slice(class(status.code));
                out.extend_from_slice(b"\",\"ApiVersion\":\"");
                out.extend_from_slice(e.api_version.as_str().as_bytes());
                out.extend_from_slice(b"\"},\"value\":1,\"latencyMs\":");
                write_int(out, latency_ms);
                if !self.payloads {
                    out.extend_from_slice(b"}\n");
                    return;
                }
                let info = operation.info();
                out.extend_from_slice(b",\"request\":{\"method\":\"");
                out.extend_from_slice(info.method.as_str().as_bytes());
                out.extend_from_slice(b"\",\"path\":\"");
                self.path(out, e, info.route);
                out.extend_from_slice(b"?api-version=");
                out.extend_from_slice(e.api_version.as_str().as_bytes());
                out.extend_from_slice(b"\",\"status\":");
                write_int(out, status.code);
                out.extend_from_slice(b",\"callConnectionId\":\"");
                self.ids.connection(out, e.call);
                out.extend_from_slice(b"\",\"correlationId\":\"");
                self.ids.correlation(out, e.call);
                out.push(b'"');
                if !status.is_success() {
                    out.extend_from_slice(b",\"subCode\":");
                    write_int(out, status.sub_code);
                }
                out.extend_from_slice(b"}}\n");
            }
            EventKind::Callback { event, result, .. } => {
                self.head(out, Metric::CallbackEvents, e);
                out.extend_from_slice(b"{\"EventTypeName\":\"");
                out.extend_from_slice(event.name().as_bytes());
                out.extend_from_slice(b"\",\"Code\":\"");
                write_int(out, result.code);
                out.extend_from_slice(b"\",\"CodeClass\":\"");
                out.extend_from_slice(class(result.code));
                out.extend_from_slice(b"\",\"SubCode\":\"");
                write_int(out, result.sub_code);
                out.extend_from_slice(b"\",\"Version\":\"");
                out.extend_from_slice(e.api_version.as_str().as_bytes());
                if !self.payloads {
                    out.extend_from_slice(b"\"},\"value\":1}\n");
                    return;
                }
                out.extend_from_slice(b"\"},\"value\":1,\"cloudEvent\":");
                write_cloud_event(out, &mut self.ids, &mut self.times, e);
                out.extend_from_slice(b"}\n");
            }
        }
    }

    fn head(&mut self, out: &mut Vec<u8>, metric: Metric, e: &Event) {
        out.extend_from_slice(b"{\"metric\":\"");
        out.extend_from_slice(metric.name().as_bytes());
        out.extend_from_slice(b"\",\"time\":\"");
        self.times.write_millis(out, e.time_ms);
        out.extend_from_slice(b"\",\"dimensions\":");
    }

    /// The route with its placeholders filled in for this call.
    fn path(&mut self, out: &mut Vec<u8>, e: &Event, route: &str) {
        let mut rest = route;
        while let Some(open) = rest.find('{') {
            out.extend_from_slice(&rest.as_bytes()[..open]);
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            match &rest[open + 1..open + close] {
                "callConnectionId" => self.ids.connection(out, e.call),
                "participantRawId" => write_raw_id_in_path(out, self.ids.participant(e.call, 0)),
                _ => self.ids.recording(out, e.call),
            }
            rest = &rest[open + close + 1..];
        }
        out.extend_from_slice(rest.as_bytes());
    }
}

pub(super) fn class(code: u16) -> &'static [u8] {
    StatusClass::of(code).map_or(b"", |c| c.as_str().as_bytes())
}
