//! `POST /callbacks` bodies: JSON arrays of Call Automation CloudEvents,
//! as Event Grid or a webhook would deliver them. The payloads are nested
//! and partly optional (resultInformation, sub-codes), which is where a
//! parser is tempted to unwrap; arbitrary bytes must give an error, never a
//! panic, hang or unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    callmetrics::testing::sink::fuzzing::callbacks(data);
});
