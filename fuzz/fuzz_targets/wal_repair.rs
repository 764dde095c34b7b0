//! `--repair` of the sink's write-ahead log (`DIR/wal.log`): whatever the
//! bytes (a damaged header, records, torn or damaged tails, not a log at
//! all), repair keeps every record a plain start keeps and every valid
//! record there is, and drops no byte without a copy except a torn tail.
//! The promise is checked by assertions in
//! `callmetrics::testing::sink::fuzzing::wal_repair`; a violation is a crash.
//!
//! Each input is written to `wal.log` in one directory per fuzzing process
//! (under the system temp dir, named by process id), created once and
//! reused; it is small and left behind when the process exits.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!(
            "callmetrics-fuzz-wal-repair-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("create the fuzzing data dir");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = dir();
    callmetrics::testing::sink::fuzzing::wal_repair(dir, data);
});
