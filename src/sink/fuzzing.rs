//! Entry points for `cargo fuzz` (`fuzz/`): each parser the sink exposes to
//! the network, and replay of a log of arbitrary bytes. They return nothing:
//! a fuzzer only looks for panics, hangs and runaway memory, so
//! [`wal_repair`] states its promise as assertions. Not part of the
//! supported API.

use super::sample::Sample;
use super::store::{Store, StoreOptions};
use super::wal::record::{self, FRAME, HEADER, HEADER_V2, HEADER_V3};
use super::wal::{OpenReport, Record, Wal, WalError};
use std::path::Path;

/// `POST /ingest` bodies (NDJSON samples).
pub fn ingest(body: &[u8]) {
    let _ = super::ingest::parse_ndjson(body, &mut Vec::<Sample>::new());
    // A canonical-looking line must mean what serde says it means.
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        assert!(
            super::ingest::both_readers_agree(i + 1, line),
            "the canonical reader and serde disagree on {:?}",
            String::from_utf8_lossy(line)
        );
    }
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

/// `--repair` of a `wal.log` of these bytes: panics unless it keeps every
/// record a plain start keeps, and (past a version 1 log, which has no
/// magic to resynchronise on) every valid record there is, found left to
/// right as whole records with a matching checksum; and unless every byte
/// is accounted for: the header, records kept, bytes moved aside to a
/// file, or a torn tail (never acknowledged).
pub fn wal_repair(dir: &Path, bytes: &[u8]) {
    let Some(plain) = open_wal(dir, bytes, false) else {
        return;
    };
    let (kept, report) = match open_wal(dir, bytes, true) {
        None | Some(Err(WalError::Io { .. })) => return,
        Some(Err(e)) => panic!("--repair refused the log: {e}"),
        Some(Ok(opened)) => opened,
    };
    if let Ok((plain_kept, _)) = plain {
        assert_eq!(
            plain_kept, kept,
            "--repair kept other records than a plain start"
        );
    }
    if report.legacy {
        return;
    }
    let valid = valid_records(bytes);
    let kept_bytes: u64 = valid.iter().map(|(size, _)| size).sum();
    let valid: Vec<Record> = valid.into_iter().map(|(_, r)| r).collect();
    assert_eq!(kept, valid, "--repair lost a valid record");
    let header = if bytes.starts_with(HEADER)
        || bytes.starts_with(HEADER_V3)
        || bytes.starts_with(HEADER_V2)
    {
        HEADER.len() as u64
    } else {
        0
    };
    let moved: u64 = report.moved_aside.iter().map(|m| m.bytes).sum();
    let torn = report.torn_tail.map_or(0, |(_, len)| len);
    assert_eq!(
        header + kept_bytes + moved + torn,
        bytes.len() as u64,
        "bytes left the log without a copy: {report:?}"
    );
}

/// Opens a `wal.log` of `bytes` in an emptied `dir`: the records replayed
/// and the report; `None` if the file could not be written.
fn open_wal(
    dir: &Path,
    bytes: &[u8],
    repair: bool,
) -> Option<Result<(Vec<Record>, OpenReport), WalError>> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let _ = std::fs::remove_file(entry.path());
    }
    std::fs::write(dir.join("wal.log"), bytes).ok()?;
    let mut records = Vec::new();
    let opened = Wal::open(dir, repair, |r| records.push(r));
    Some(opened.map(|(_, report)| (records, report)))
}

/// Every whole record with a matching checksum, left to right, each with
/// its size: a record starts where the last one ended, or past damage at
/// the first position where one does.
fn valid_records(bytes: &[u8]) -> Vec<(u64, Record)> {
    let mut found = Vec::new();
    let mut at = 0;
    while at + FRAME <= bytes.len() {
        let head: [u8; FRAME] = match bytes[at..at + FRAME].try_into() {
            Ok(head) => head,
            Err(_) => break,
        };
        let whole = record::frame_len(&head)
            .and_then(|len| bytes.get(at + FRAME..at + FRAME + len))
            .and_then(|payload| record::decode(&head, payload).map(|r| (payload.len(), r)));
        match whole {
            Some((len, r)) => {
                found.push(((FRAME + len) as u64, r));
                at += FRAME + len;
            }
            None => at += 1,
        }
    }
    found
}
