//! Ingest bodies: one sample line per event (metric, time, dimensions,
//! value, latencyMs), a quarter of the bytes of a full events.jsonl line.

use crate::catalog::Naming;
use crate::emit::JsonlEncoder;
use crate::emit::deliver::batcher::Encoder;
use crate::engine::{Event, IdKey};

pub struct NdjsonEncoder {
    lines: JsonlEncoder,
}

impl NdjsonEncoder {
    pub fn new(ids: IdKey, naming: Naming) -> NdjsonEncoder {
        NdjsonEncoder {
            lines: JsonlEncoder::samples_only(ids, naming),
        }
    }
}

impl Encoder for NdjsonEncoder {
    const CONTENT_TYPE: &'static str = "application/x-ndjson";

    fn accepts(&self, _: &Event) -> bool {
        true
    }

    fn encode(&mut self, body: &mut Vec<u8>, e: &Event) {
        self.lines.encode(body, e);
    }
}
