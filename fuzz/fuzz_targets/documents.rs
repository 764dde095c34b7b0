//! `POST /metrics` bodies: Azure Monitor custom-metrics ingestion
//! documents (per minute and metric, dimNames plus series of
//! dimValues/min/max/sum/count). The parser cross-checks lengths and sums,
//! so mismatched arrays, non-finite or huge numbers and bad times are the
//! interesting inputs; any bytes must be rejected cleanly, never panic,
//! hang or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    callmetrics::testing::sink::fuzzing::documents(data);
});
