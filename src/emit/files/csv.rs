//! CSV datasets: one row per event with every dimension of both metrics as
//! a column (empty where it does not apply), for spreadsheets and SQL
//! loaders. Callback payloads are left out; use JSONL for those.

use super::identity::IdWriter;
use super::json_text::write_int;
use super::jsonl::class;
use crate::catalog::{Dimension, Metric, Naming};
use crate::engine::{Event, EventKind, IdKey};
use crate::wire::rfc3339::TimeWriter;

pub(super) struct CsvEncoder {
    ids: IdWriter,
    times: TimeWriter,
}

pub(super) fn header(naming: Naming) -> String {
    let names: Vec<_> = Dimension::ALL.iter().map(|d| d.name(naming)).collect();
    format!(
        "metric,time,{},value,latencyMs,callConnectionId\n",
        names.join(",")
    )
}

impl CsvEncoder {
    pub(super) fn new(ids: IdKey) -> Self {
        CsvEncoder {
            ids: IdWriter::new(ids),
            times: TimeWriter::default(),
        }
    }

    /// Appends the row for `e`, newline included. Every value comes from the
    /// catalog or is a number, none holds a comma or quote, so no quoting.
    pub(super) fn encode(&mut self, out: &mut Vec<u8>, e: &Event) {
        let metric = match e.kind {
            EventKind::Request { operation, .. } => operation.metric(),
            EventKind::Callback { .. } => Metric::CallbackEvents,
        };
        out.extend_from_slice(metric.name().as_bytes());
        out.push(b',');
        self.times.write_millis(out, e.time_ms);
        out.push(b',');
        let version = e.api_version.as_str().as_bytes();
        match e.kind {
            EventKind::Request {
                operation,
                status,
                latency_ms,
            } => {
                out.extend_from_slice(operation.name().as_bytes());
                out.push(b',');
                write_int(out, status.code);
                out.push(b',');
                out.extend_from_slice(class(status.code));
                out.push(b',');
                // APIRequestCallRecording has no ApiVersion dimension.
                if metric == Metric::ApiRequests {
                    out.extend_from_slice(version);
                }
                out.extend_from_slice(b",,,,,,1,");
                // No metric counts a recording request's latency.
                if metric == Metric::ApiRequests {
                    write_int(out, latency_ms);
                }
            }
            EventKind::Callback { event, result, .. } => {
                out.extend_from_slice(b",,,,");
                out.extend_from_slice(event.name().as_bytes());
                out.push(b',');
                write_int(out, result.code);
                out.push(b',');
                out.extend_from_slice(class(result.code));
                out.push(b',');
                write_int(out, result.sub_code);
                out.push(b',');
                out.extend_from_slice(version);
                out.extend_from_slice(b",1,");
            }
        }
        out.push(b',');
        self.ids.connection(out, e.call, e.connection);
        out.push(b'\n');
    }
}
