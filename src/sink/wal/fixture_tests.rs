//! Logs of every format version, committed as bytes in
//! `tests/fixtures/wal/`, must keep decoding to the same series, written
//! out by name beside them. The catalog's wire ids are part of the format:
//! an operation, event type or api-version renumbered (or a row inserted
//! where numbering followed position) would replay an operator's
//! `--data-dir` under other names, silently, since every checksum still
//! holds. These tests catch it.
//!
//! The fixtures were written once by the ignored test
//! `write_wal_fixtures`, which writes only a fixture that does not exist
//! yet (a new format version, or catalog values added since the last
//! fixture: `FIXTURES`), never over one that fails.

use super::record::{self, BatchKey, BodyDigest, HEADER, HEADER_V2, HEADER_V3, Record, Route};
use super::*;
use crate::catalog::{ApiVersion, EventType, Metric, Naming, Operation};
use crate::model::{Aggregate, CallbackDims, RecordingDims, RequestDims, Series};
use crate::sink::sample::Sample;
use std::fmt::Write as _;

const START: i64 = 1_767_225_600_000;

/// Each fixture's file stem and the format version it is written in: one
/// per format, then one per catalog addition (its values' wire ids need
/// bytes of their own to be pinned).
const FIXTURES: &[(&str, u8)] = &[
    ("v1", 1),
    ("v2", 2),
    ("v3", 3),
    ("v4", 4),
    // 2023-10-03-preview and 2024-09-01-preview (issue #21).
    ("v4-early-previews", 4),
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wal")
}

/// Every operation, event type and api-version at least once, at distinct
/// times and values. `recordings`: recording requests as tag 3 (version 3
/// logs; older ones counted them as API requests).
fn samples(recordings: bool) -> Vec<Sample> {
    let versions: Vec<ApiVersion> = ApiVersion::all().collect();
    let mut out = Vec::new();
    let mut n = 0u64;
    let mut next = |series: Series, aggregate: Aggregate| {
        n += 1;
        Sample {
            series,
            time_ms: START + n as i64 * 1_000,
            aggregate,
        }
    };
    for (i, &operation) in Operation::ALL.iter().enumerate() {
        let version = versions[i % versions.len()];
        let status = operation.info().success_status;
        if recordings && operation.metric() == Metric::RecordingRequests {
            let dims = RecordingDims { operation, status };
            out.push(next(Series::Recordings(dims), Aggregate::of(1)));
            continue;
        }
        let dims = RequestDims {
            operation,
            status,
            version,
        };
        out.push(next(Series::Requests(dims), Aggregate::of(1)));
        out.push(next(Series::Latency(dims), Aggregate::of(40 + i as u64)));
    }
    for (i, &event) in EventType::ALL.iter().enumerate() {
        let (code, sub_code) = event
            .default_results()
            .last()
            .map_or((200, 0), |r| (r.code, r.sub_code));
        let dims = CallbackDims {
            event,
            code,
            sub_code,
            version: versions[(i + 3) % versions.len()],
        };
        out.push(next(Series::Callbacks(dims), Aggregate::of(1)));
    }
    out
}

/// A few samples already aggregated (kind 1 records).
fn aggregates(recordings: bool) -> Vec<Sample> {
    samples(recordings)
        .into_iter()
        .step_by(9)
        .enumerate()
        .map(|(i, s)| Sample {
            aggregate: Aggregate {
                count: 3 + i as u64,
                total: 100 + i as u64,
                minimum: 1,
                maximum: 90,
            },
            ..s
        })
        .collect()
}

/// A key with `digest` as the log `version` writes it: SHA-256 before
/// version 4, BLAKE3 from then on.
fn key(version: u8, route: Route, text: &str, digest: Option<[u8; 16]>) -> BatchKey {
    BatchKey {
        route,
        key: text.into(),
        digest: digest.map(|d| {
            if version < 4 {
                BodyDigest::Sha256(d)
            } else {
                BodyDigest::Blake3(d)
            }
        }),
    }
}

/// The bytes of a log of `version` holding every sample.
fn log_bytes(version: u8) -> Vec<u8> {
    let all = samples(version >= 3);
    let (first, rest) = all.split_at(all.len() / 2);
    match version {
        1 => {
            let mut out = record::legacy_frame("v1-key", first);
            out.extend(record::legacy_frame("", rest));
            out
        }
        _ => {
            let mut out = match version {
                2 => HEADER_V2,
                3 => HEADER_V3,
                _ => HEADER,
            }
            .to_vec();
            if version >= 3 {
                out.extend(record::frame(&record::rolled_payload(START)));
            }
            let ingest = key(version, Route::Ingest, "ingest-key", Some([7; 16]));
            out.extend(record::frame(&record::batch_payload(Some(&ingest), first)));
            out.extend(record::frame(&record::batch_payload(None, rest)));
            out.extend(record::frame(&record::batch_payload(
                None,
                &aggregates(version >= 3),
            )));
            let keys = [
                key(version, Route::Callbacks, "callbacks-key", Some([9; 16])),
                key(version, Route::Documents, "documents-key", Some([3; 16])),
                key(version, Route::Ingest, "migrated-key", None),
            ];
            out.extend(record::frame(&record::keys_payload(&keys)));
            out
        }
    }
}

/// What a log's records hold, by name: one line per record and sample.
fn describe(records: &[Record]) -> String {
    let mut out = String::new();
    let key_text = |k: &BatchKey| {
        let hex = |d: [u8; 16]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let digest = match k.digest {
            None => "none".to_string(),
            Some(BodyDigest::Sha256(d)) => hex(d),
            Some(BodyDigest::Blake3(d)) => format!("blake3:{}", hex(d)),
        };
        format!("{:?}:{} digest={digest}", k.route, k.key)
    };
    for record in records {
        match record {
            Record::Batch { key, samples } => {
                let key = key.as_ref().map_or("none".to_string(), key_text);
                let _ = writeln!(out, "batch key={key}");
                for s in samples {
                    let dims: Vec<String> = s
                        .series
                        .dimension_values()
                        .into_iter()
                        .map(|(d, v)| format!("{}={v}", d.name(Naming::Azure)))
                        .collect();
                    let a = &s.aggregate;
                    let _ = writeln!(
                        out,
                        "  {} [{}] t={} count={} total={} min={} max={}",
                        s.series.metric().name(),
                        dims.join(", "),
                        s.time_ms,
                        a.count,
                        a.total,
                        a.minimum,
                        a.maximum
                    );
                }
            }
            Record::Keys(keys) => {
                let _ = writeln!(out, "keys");
                for k in keys {
                    let _ = writeln!(out, "  {}", key_text(k));
                }
            }
            Record::Rolled(before) => {
                let _ = writeln!(out, "rolled before={before}");
            }
        }
    }
    out
}

#[test]
fn logs_of_every_version_decode_to_the_same_series() {
    for &(version, format) in FIXTURES {
        let bytes = std::fs::read(fixtures().join(format!("{version}.log"))).unwrap();
        let want =
            std::fs::read_to_string(fixtures().join(format!("{version}.decoded.txt"))).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOG), &bytes).unwrap();
        let mut records = Vec::new();
        let (_, report) = Wal::open(dir.path(), false, |r| records.push(r)).unwrap();
        assert_eq!(report.needs_rewrite(), format < 4, "fixture {version}");
        let got = describe(&records);
        assert!(
            got == want,
            "tests/fixtures/wal/{version}.log no longer decodes as {version}.decoded.txt says: \
             a wire id changed? first difference at line {}",
            got.lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .map_or(got.lines().count().min(want.lines().count()) + 1, |i| i + 1)
        );
    }
}

#[test]
fn the_fixtures_hold_every_operation_event_type_and_version() {
    let text: String = FIXTURES
        .iter()
        .map(|(name, _)| {
            std::fs::read_to_string(fixtures().join(format!("{name}.decoded.txt"))).unwrap()
        })
        .collect();
    for op in Operation::ALL {
        assert!(
            text.contains(&format!("Operation={},", op.name())),
            "{op:?}"
        );
    }
    for event in EventType::ALL {
        assert!(text.contains(&format!("={},", event.name())), "{event:?}");
    }
    for version in ApiVersion::all() {
        assert!(text.contains(&format!("={version}]")), "{version}");
    }
}

#[test]
#[ignore = "writes tests/fixtures/wal/ once per format version; never rerun to make a fixture pass"]
fn write_wal_fixtures() {
    std::fs::create_dir_all(fixtures()).unwrap();
    for &(name, version) in FIXTURES {
        // A fixture, once written, is what older logs hold: never rewritten.
        if fixtures().join(format!("{name}.log")).exists() {
            continue;
        }
        let bytes = log_bytes(version);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOG), &bytes).unwrap();
        let mut records = Vec::new();
        Wal::open(dir.path(), false, |r| records.push(r)).unwrap();
        std::fs::write(fixtures().join(format!("{name}.log")), &bytes).unwrap();
        std::fs::write(
            fixtures().join(format!("{name}.decoded.txt")),
            describe(&records),
        )
        .unwrap();
    }
}
