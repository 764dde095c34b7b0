//! CSV datasets, for spreadsheets, pandas and SQL loaders: by default one
//! file per metric, one row per event, with that metric's columns only
//! (`time`, its dimensions, `latencyMs` for API requests,
//! `callConnectionId`), so no column has gaps and every column has one
//! type; or (`--csv-layout wide`) one table of both metrics' columns,
//! empty where one does not apply. Callback payloads are left out; JSONL
//! and Parquet carry them.

use super::identity::IdWriter;
use super::json_text::write_int;
use super::jsonl::class;
use crate::catalog::{Dimension, EventType, Metric, Naming, Operation};
use crate::engine::{Event, EventKind, IdKey};
use crate::scenario::plan::Status;
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
                request_dimensions(out, operation, status);
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
                callback_dimensions(out, event, result);
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

/// Rows of one metric's file.
pub(super) struct MetricCsvEncoder {
    metric: Metric,
    ids: IdWriter,
    times: TimeWriter,
}

impl MetricCsvEncoder {
    pub(super) fn new(ids: IdKey, metric: Metric) -> Self {
        MetricCsvEncoder {
            metric,
            ids: IdWriter::new(ids),
            times: TimeWriter::default(),
        }
    }

    /// `time`, the metric's dimensions, `latencyMs` (API requests: the
    /// latency metric's value), `callConnectionId`.
    pub(super) fn header(&self, naming: Naming) -> String {
        let names: Vec<_> = self
            .metric
            .dimensions()
            .iter()
            .map(|d| d.name(naming))
            .collect();
        let latency = if self.metric == Metric::ApiRequests {
            ",latencyMs"
        } else {
            ""
        };
        format!("time,{}{latency},callConnectionId\n", names.join(","))
    }

    /// Appends the row for `e` (an event of this file's metric), newline
    /// included; catalog values and numbers need no quoting.
    pub(super) fn encode(&mut self, out: &mut Vec<u8>, e: &Event) {
        self.times.write_millis(out, e.time_ms);
        out.push(b',');
        match e.kind {
            EventKind::Request {
                operation,
                status,
                latency_ms,
            } => {
                request_dimensions(out, operation, status);
                if self.metric == Metric::ApiRequests {
                    out.push(b',');
                    out.extend_from_slice(e.api_version.as_str().as_bytes());
                    out.push(b',');
                    write_int(out, latency_ms);
                }
            }
            EventKind::Callback { event, result, .. } => {
                callback_dimensions(out, event, result);
                out.push(b',');
                out.extend_from_slice(e.api_version.as_str().as_bytes());
            }
        }
        out.push(b',');
        self.ids.connection(out, e.call, e.connection);
        out.push(b'\n');
    }
}

/// `Operation,StatusCode,StatusCodeClass` of a request.
fn request_dimensions(out: &mut Vec<u8>, operation: Operation, status: Status) {
    out.extend_from_slice(operation.name().as_bytes());
    out.push(b',');
    write_int(out, status.code);
    out.push(b',');
    out.extend_from_slice(class(status.code));
}

/// `EventTypeName,Code,CodeClass,SubCode` of a callback.
fn callback_dimensions(out: &mut Vec<u8>, event: EventType, result: Status) {
    out.extend_from_slice(event.name().as_bytes());
    out.push(b',');
    write_int(out, result.code);
    out.push(b',');
    out.extend_from_slice(class(result.code));
    out.push(b',');
    write_int(out, result.sub_code);
}
