//! What an engine event counts in: its series, and its samples added to an
//! [`AggregateTable`] (the expected aggregates of a run).

use super::event::{Event, EventKind};
use crate::catalog::Metric;
use crate::model::{AggregateTable, CallbackDims, RecordingDims, RequestDims, Series};

impl Series {
    /// The series an event counts in (a request also adds its latency to
    /// the `Latency` twin of this series).
    pub fn of(event: &Event) -> Series {
        match event.kind {
            EventKind::Request {
                operation, status, ..
            } if operation.metric() == Metric::RecordingRequests => {
                Series::Recordings(RecordingDims {
                    operation,
                    status: status.code,
                })
            }
            EventKind::Request {
                operation, status, ..
            } => Series::Requests(RequestDims {
                operation,
                status: status.code,
                version: event.api_version,
            }),
            EventKind::Callback {
                event: ty, result, ..
            } => Series::Callbacks(CallbackDims {
                event: ty,
                code: result.code,
                sub_code: result.sub_code,
                version: event.api_version,
            }),
        }
    }
}

impl AggregateTable {
    /// Counts one event.
    pub fn record(&mut self, event: &Event) {
        let bucket = self.grain().bucket(event.time_ms);
        let series = Series::of(event);
        self.add(series, bucket, 1);
        if let (Series::Requests(dims), EventKind::Request { latency_ms, .. }) =
            (series, event.kind)
        {
            self.add(Series::Latency(dims), bucket, latency_ms as u64);
        }
    }
}
