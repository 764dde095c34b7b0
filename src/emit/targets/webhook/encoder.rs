//! Webhook bodies: what ACS posts to an app's callback URL, a JSON array of
//! CloudEvents 1.0 (`[{"id":..,"type":"Microsoft.Communication...",..}]`).
//! API request events are not callbacks and are not delivered.

use crate::emit::deliver::batcher::Encoder;
use crate::emit::files::cloudevent::{EnvelopeParts, write_cloud_event};
use crate::emit::files::identity::IdWriter;
use crate::engine::{Event, EventKind, IdKey};
use crate::model::Series;
use crate::wire::rfc3339::TimeWriter;
use rustc_hash::FxHashMap;

pub(crate) struct CloudEventsEncoder {
    ids: IdWriter,
    times: TimeWriter,
    /// A recording's start time: a writer of its own, so those earlier
    /// times do not evict the current second from `times`.
    start_times: TimeWriter,
    /// The envelope text each series fixes, rendered once.
    envelopes: FxHashMap<u64, EnvelopeParts>,
}

impl CloudEventsEncoder {
    pub(crate) fn new(ids: IdKey) -> CloudEventsEncoder {
        CloudEventsEncoder {
            ids: IdWriter::new(ids),
            times: TimeWriter::default(),
            start_times: TimeWriter::default(),
            envelopes: FxHashMap::default(),
        }
    }
}

impl Encoder for CloudEventsEncoder {
    const CONTENT_TYPE: &'static str = "application/json";

    fn accepts(&self, e: &Event) -> bool {
        matches!(e.kind, EventKind::Callback { .. })
    }

    fn encode(&mut self, body: &mut Vec<u8>, e: &Event) {
        let EventKind::Callback { event, result, .. } = e.kind else {
            return;
        };
        body.push(if body.is_empty() { b'[' } else { b',' });
        let parts = self
            .envelopes
            .entry(Series::of(e).pack())
            .or_insert_with(|| EnvelopeParts::new(event, result, e.api_version));
        let time = self.times.millis(e.time_ms);
        write_cloud_event(body, parts, &mut self.ids, &mut self.start_times, e, &time);
    }

    fn finish(&mut self, body: &mut Vec<u8>) {
        body.push(b']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{EventStream, Workload};

    #[test]
    fn bodies_are_arrays_of_the_dataset_cloud_events() {
        let scenario = crate::scenario::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/inbound-ivr.json"
        )))
        .unwrap();
        let workload = Workload::calls(5, 30, 10.0);
        let ids = IdKey::of(&scenario, &workload);
        let mut encoder = CloudEventsEncoder::new(ids);
        let mut lines = crate::emit::JsonlEncoder::new(ids, crate::catalog::Naming::Azure);
        let (mut requests, mut callbacks) = (0, 0);
        for e in EventStream::new(&scenario, &workload) {
            if !encoder.accepts(&e) {
                requests += 1;
                continue;
            }
            callbacks += 1;
            let mut body = Vec::new();
            encoder.encode(&mut body, &e);
            encoder.finish(&mut body);
            let array: serde_json::Value = serde_json::from_slice(&body).unwrap();
            // The same envelope events.jsonl carries for this event.
            let mut line = Vec::new();
            lines.encode(&mut line, &e);
            let line: serde_json::Value = serde_json::from_slice(&line).unwrap();
            assert_eq!(array, serde_json::json!([line["cloudEvent"]]));
        }
        assert!(requests > 0 && callbacks > 0);
    }

    #[test]
    fn several_events_share_one_array() {
        let scenario = crate::scenario::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/outbound-notification.json"
        )))
        .unwrap();
        let workload = Workload::calls(5, 5, 10.0);
        let mut encoder = CloudEventsEncoder::new(IdKey::of(&scenario, &workload));
        let mut body = Vec::new();
        let mut n = 0;
        for e in EventStream::new(&scenario, &workload) {
            if encoder.accepts(&e) {
                encoder.encode(&mut body, &e);
                n += 1;
            }
        }
        encoder.finish(&mut body);
        let array: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
        assert_eq!(array.len(), n);
        assert!(array.iter().all(|e| e["specversion"] == "1.0"));
    }
}
