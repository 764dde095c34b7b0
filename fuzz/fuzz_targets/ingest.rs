//! `POST /ingest` bodies: NDJSON samples, the sink's main network input.
//! Anyone who can reach the sink can send these bytes, so the parser must
//! reject any body (truncated lines, bad UTF-8, huge numbers, odd
//! timestamps, unknown metrics or dimensions) with an error and never
//! panic, hang or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    callmetrics::testing::sink::fuzzing::ingest(data);
});
