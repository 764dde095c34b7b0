//! Azure Monitor custom-metrics bodies: the events of one minute of the
//! event timeline, counted per series into the minute's ingestion
//! documents (one per metric, each series with its min, max, sum and
//! count), one per line. They are rendered by the code that writes
//! `generate --format azure-monitor`, from cells of the same minute
//! buckets, so a run posts the bytes that command writes for the same
//! workload and a sink stores exactly the expected aggregates.
//!
//! A minute is one request, closed when an event crosses its end (or the
//! stream ends) and due at that end: its documents go once the minute has
//! closed and its aggregates are complete, whatever the pacing.

use crate::catalog::Naming;
use crate::emit::deliver::batcher::Encoder;
use crate::emit::files::azure_monitor::write_documents;
use crate::emit::targets::instant_after;
use crate::engine::Event;
use crate::model::{AggregateTable, Grain};

pub(crate) struct DocumentEncoder {
    naming: Naming,
    /// The minute being counted.
    minute: AggregateTable,
    /// Its end; set by the first event.
    end: Option<i64>,
    /// The closed minute's documents, not yet in a body.
    pending: Vec<u8>,
    stamped: Option<i64>,
}

impl DocumentEncoder {
    pub(crate) fn new(naming: Naming) -> DocumentEncoder {
        DocumentEncoder {
            naming,
            minute: AggregateTable::new(Grain::MINUTE),
            end: None,
            pending: Vec::new(),
            stamped: None,
        }
    }

    /// Renders the minute ending at `end` into `pending` and starts the
    /// next one.
    fn close_minute(&mut self, end: i64) {
        let minute = std::mem::replace(&mut self.minute, AggregateTable::new(Grain::MINUTE));
        write_documents(&mut self.pending, &minute, self.naming)
            .expect("writing to a Vec cannot fail");
        self.stamped = Some(end);
    }
}

impl Encoder for DocumentEncoder {
    /// Several documents, one per line, as Telegraf's Azure Monitor output
    /// posts them to the same endpoint (`application/x-ndjson`).
    const CONTENT_TYPE: &'static str = "application/x-ndjson";
    const OWN_CUTS: bool = true;

    fn accepts(&self, _: &Event) -> bool {
        true
    }

    fn closes_before(&mut self, e: &Event) -> bool {
        let Some(end) = self.end else {
            return false;
        };
        if e.time_ms < end {
            return false;
        }
        self.close_minute(end);
        // Minutes without events have no documents.
        self.end = Some(instant_after(e.time_ms, Grain::MINUTE.millis()));
        true
    }

    fn encode(&mut self, _: &mut Vec<u8>, e: &Event) {
        if self.end.is_none() {
            self.end = Some(instant_after(e.time_ms, Grain::MINUTE.millis()));
        }
        self.minute.record(e);
    }

    fn end(&mut self, _: &mut Vec<u8>) {
        if let Some(end) = self.end {
            self.close_minute(end);
        }
    }

    fn finish(&mut self, body: &mut Vec<u8>) {
        body.append(&mut self.pending);
    }

    fn stamped_until(&self) -> Option<i64> {
        self.stamped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::deliver::batcher::{Batcher, Compression, Cut};
    use crate::engine::{EventStream, Workload};
    use std::time::Duration;

    fn scenario() -> crate::scenario::Scenario {
        crate::scenario::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/contact-center.json"
        )))
        .unwrap()
    }

    /// The batches of a paced run of `workload`, at `speed`.
    fn batches(workload: &Workload, speed: f64) -> Vec<crate::emit::deliver::Batch> {
        let scenario = scenario();
        let cut = Cut {
            max_events: 3,
            window: Duration::from_millis(50),
            speed: Some(speed),
        };
        let encoder = DocumentEncoder::new(Naming::Azure);
        let mut batcher = Batcher::new(encoder, 1, cut, Compression::None, Grain::MINUTE);
        let mut out: Vec<_> = EventStream::new(&scenario, workload)
            .filter_map(|e| batcher.push(&e))
            .collect();
        out.extend(batcher.finish());
        out
    }

    #[test]
    fn each_minute_is_one_request_of_the_documents_generate_writes() {
        let workload = Workload::calls(7, 400, 2.0);
        let batches = batches(&workload, 1.0);
        // What `generate --format azure-monitor` writes for this workload.
        let expected = crate::engine::expected_only(&scenario(), &workload, Grain::MINUTE, 2);
        let mut written = Vec::new();
        write_documents(&mut written, &expected, Naming::Azure).unwrap();
        let sent: Vec<u8> = batches.iter().flat_map(|b| b.body.to_vec()).collect();
        assert_eq!(
            String::from_utf8(sent).unwrap(),
            String::from_utf8(written).unwrap()
        );
        // One request per minute with events (neither the size nor the
        // window cut one), holding that minute's events only.
        let minutes: std::collections::BTreeSet<i64> =
            expected.cells().map(|(_, m, _)| m).collect();
        assert!(minutes.len() > 2, "{} minutes", minutes.len());
        assert_eq!(batches.len(), minutes.len());
        for b in &batches {
            let minute = Grain::MINUTE.bucket(b.first_ms);
            assert_eq!(Grain::MINUTE.bucket(b.last_ms), minute);
            assert_eq!(b.stamped_ms, minute + 60_000);
            let text = std::str::from_utf8(&b.body).unwrap();
            for document in text.lines() {
                let doc: serde_json::Value = serde_json::from_str(document).unwrap();
                assert_eq!(
                    doc["time"],
                    crate::wire::metrics_response::time_stamp(minute)
                );
            }
            // The batch's own expected cells are what its documents say.
            let counted: u64 = b.expected.cells().map(|(_, _, a)| a.count).sum();
            let documented: u64 = text
                .lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .flat_map(|d| d["data"]["baseData"]["series"].as_array().unwrap().clone())
                .map(|s| s["count"].as_u64().unwrap())
                .sum();
            assert_eq!(documented, counted);
        }
    }

    #[test]
    fn a_minute_is_due_when_it_closes_at_any_speed() {
        let workload = Workload::calls(3, 60, 0.5);
        for speed in [1.0, 4.0] {
            let batches = batches(&workload, speed);
            let first = batches[0].first_ms;
            for b in &batches {
                let closes = Grain::MINUTE.bucket(b.first_ms) + 60_000;
                let due = Duration::from_secs_f64((closes - first) as f64 / 1000.0 / speed);
                assert_eq!(b.due, due, "speed {speed}");
            }
        }
    }
}
