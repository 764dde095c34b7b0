//! Entry points for `cargo fuzz` (`fuzz/`): each parser the sink exposes to
//! the network, and replay of a log of arbitrary bytes. They return nothing:
//! a fuzzer only looks for panics, hangs and runaway memory. Not part of the
//! supported API.

use super::sample::Sample;
use super::store::{Store, StoreOptions};

/// `POST /ingest` bodies (NDJSON samples).
pub fn ingest(body: &[u8]) {
    let _ = super::ingest::parse_ndjson(body, &mut Vec::<Sample>::new());
}

/// `POST /callbacks` bodies (CloudEvents arrays).
pub fn callbacks(body: &[u8]) {
    let _ = super::callbacks::parse_cloud_events(body, &mut Vec::new());
}

/// `POST /metrics` bodies (Azure Monitor ingestion documents).
pub fn documents(body: &[u8]) {
    let _ = super::azure_monitor::parse_documents(body, &mut Vec::new());
}

/// `$filter` of `GET /metrics`.
pub fn filter(text: &str) {
    if let Ok(f) = super::filter::Filter::parse(text) {
        for &metric in crate::catalog::Metric::ALL {
            let _ = f.check_dimensions(metric, crate::catalog::Naming::Azure);
        }
    }
}

/// A `wal.log` of these bytes in `dir`, opened as the sink would (and
/// with `--repair`): must end, without panicking, whatever the bytes.
pub fn wal_replay(dir: &std::path::Path, bytes: &[u8]) {
    for repair in [false, true] {
        if std::fs::write(dir.join("wal.log"), bytes).is_err() {
            return;
        }
        let options = StoreOptions {
            repair,
            ..StoreOptions::default()
        };
        let _ = Store::open(dir, options);
    }
}
