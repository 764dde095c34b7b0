//! The `$filter` of `GET /metrics` (`Dim eq 'v'`, `ne`, `and`, `or`,
//! parentheses, `Dim eq '*'`), parsed and then checked against every
//! metric's dimensions. It is a small recursive-descent parser on
//! attacker-controlled text, so nesting depth, quoting (`''`), length
//! limits and Unicode case folding must never panic, overflow the stack or
//! loop. Only valid UTF-8 is fed: the query string reaches the parser as a
//! `&str`, and non-UTF-8 is rejected before it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        callmetrics::testing::sink::fuzzing::filter(text);
    }
});
