//! Replay of the sink's write-ahead log (`--data-dir DIR`, `DIR/wal.log`),
//! with and without `--repair`. A log may be truncated by a crash, damaged
//! by a full disk or a flipped byte, or not be a log at all; opening it
//! must end with a store or an error, never a panic, an endless loop or an
//! allocation sized by a corrupt length field.
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
        let dir = std::env::temp_dir().join(format!("callmetrics-fuzz-wal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the fuzzing data dir");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = dir();
    // A previous input's `--repair` may have moved damaged bytes aside
    // (wal.damaged-OFFSET.bin) or left other files; start each input from
    // an empty directory so runs do not depend on each other.
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    callmetrics::testing::sink::fuzzing::wal_replay(dir, data);
});
