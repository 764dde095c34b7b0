//! Scenario files: parse, validate and compile arbitrary bytes as
//! `callmetrics generate`/`run` would read a user's scenario, then render
//! the diagnostics. Scenario files come from users and from other tools, so
//! a malformed one (bad UTF-8, odd JSON, deep nesting, extreme numbers,
//! contradictory flows) must end in diagnostics, never in a panic, a hang
//! or runaway memory; rendering exercises the line/column lookups too.
#![no_main]

use std::path::Path;

use callmetrics::testing::scenario::{self, ScenarioError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.json");
    if let Err(ScenarioError::Invalid { diagnostics, .. }) = scenario::parse(path, data) {
        let mut out = String::new();
        let _ = scenario::render(path, &diagnostics, &mut out);
    }
});
