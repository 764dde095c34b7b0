//! The store over its log (issue #19): what a damaged compacted log costs
//! and says, aggregates replayed exactly, and compactions that fail.

use super::*;
use crate::model::Aggregate;
use crate::sink::sample::{Sample, play_failed};
use crate::sink::wal::{Damage, record};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn key(i: usize) -> BatchKey {
    BatchKey {
        route: Route::Ingest,
        key: format!("batch-{i:05}"),
        digest: Some(BodyDigest::Blake3([i as u8; 16])),
    }
}

/// Batch `i`: one sample in its own second, counting `i % 7 + 1` events.
fn batch(t0: i64, i: usize) -> Vec<Sample> {
    vec![Sample {
        series: play_failed(400),
        time_ms: t0 - 1_000 * i as i64,
        aggregate: Aggregate {
            count: (i % 7 + 1) as u64,
            total: 10,
            minimum: 1,
            maximum: 9,
        },
    }]
}

fn repair() -> StoreOptions {
    StoreOptions {
        repair: true,
        ..StoreOptions::default()
    }
}

/// Each record of a log: its start, size and kind byte.
fn records_of(bytes: &[u8]) -> Vec<(usize, usize, u8)> {
    let mut at = 8;
    let mut out = Vec::new();
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        out.push((at, 12 + len, bytes[at + 12]));
        at += 12 + len;
    }
    out
}

// Item 2: a compacted log held 10,000 keys to a record; one damaged byte
// and --repair dropped them all, silently, and resent batches counted
// again.
#[test]
fn repair_of_a_compacted_log_reports_the_keys_it_lost_and_kept_keys_still_deduplicate() {
    const BATCHES: usize = 1_000;
    let t0 = now();
    let sent: u64 = (0..BATCHES).map(|i| events(&batch(t0, i))).sum();
    // A byte of a key's text, then one of a key's length (the walk over
    // the keys breaks; the record's count still says how many).
    for (damage, in_key) in [("text", 10usize), ("length", 1)] {
        let dir = tempfile::tempdir().unwrap();
        {
            let (store, _) = Store::open(dir.path(), StoreOptions::default()).unwrap();
            for i in 0..BATCHES {
                store.apply(Some(&key(i)), &batch(t0, i)).unwrap();
            }
            store.lock().compact(&store.read_cells()).unwrap();
        }
        let log = dir.path().join("wal.log");
        let mut bytes = std::fs::read(&log).unwrap();
        let records = records_of(&bytes);
        let keys: Vec<_> = records.iter().filter(|r| r.2 == 2).collect();
        let cells = records.iter().filter(|r| r.2 == 1).count();
        // Bounded records: 1,000 keys and cells in records of 256 at most.
        assert_eq!((keys.len(), cells), (4, 4));
        // The second keys record's first key starts after kind and count.
        let (start, _, _) = keys[1];
        bytes[start + 12 + 5 + in_key] ^= 0x20;
        std::fs::write(&log, &bytes).unwrap();

        assert!(Store::open(dir.path(), StoreOptions::default()).is_err());
        let (store, report) = Store::open(dir.path(), repair()).unwrap();
        let [aside] = &report.moved_aside[..] else {
            panic!("{damage}: {report:?}");
        };
        assert_eq!(aside.damage, Damage::Middle);
        assert_eq!((aside.held.keys, aside.held.cells), (256, 0), "{damage}");
        assert!(
            aside
                .to_string()
                .contains("256 idempotency keys; a retry of a batch whose key was among them"),
            "{aside}"
        );
        assert_eq!(report.kept.keys, (BATCHES - 256) as u64);
        assert_eq!(store.stats().samples, sent, "every cell kept");
        // Every batch resent: those whose keys survived are duplicates,
        // exactly the 256 reported lost count again.
        let mut recounted = 0;
        for i in 0..BATCHES {
            if let Applied::Accepted { samples } =
                store.apply(Some(&key(i)), &batch(t0, i)).unwrap()
            {
                recounted += 1;
                assert!(samples > 0);
            }
        }
        assert_eq!(recounted, aside.held.keys, "{damage}");
        assert_eq!(store.stats().duplicates, (BATCHES - 256) as u64);
    }
}

#[test]
fn a_damaged_cells_record_is_reported_with_its_cells_events_and_time_range() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = now() / 1_000 * 1_000;
    {
        let (store, _) = Store::open(dir.path(), StoreOptions::default()).unwrap();
        for i in 0..600 {
            store.apply(None, &batch(t0, i)).unwrap();
        }
        store.lock().compact(&store.read_cells()).unwrap();
    }
    let log = dir.path().join("wal.log");
    let mut bytes = std::fs::read(&log).unwrap();
    let (start, size, _) = *records_of(&bytes)
        .iter()
        .find(|r| r.2 == 1)
        .expect("a cells record");
    // What the record holds, read before the damage.
    let head: [u8; 12] = bytes[start..start + 12].try_into().unwrap();
    let Some(Record::Batch { samples, .. }) =
        record::decode(&head, &bytes[start + 12..start + size])
    else {
        panic!("a cells record");
    };
    // A minimum's byte in the record's last cell.
    bytes[start + size - 10] ^= 0x01;
    std::fs::write(&log, &bytes).unwrap();
    let (_, report) = Store::open(dir.path(), repair()).unwrap();
    let held = &report.moved_aside[0].held;
    assert_eq!((held.records, held.cells, held.keys), (1, 256, 0));
    assert_eq!(held.events, events(&samples));
    let times = samples.iter().map(|s| s.time_ms);
    assert_eq!(
        held.times,
        Some((times.clone().min().unwrap(), times.max().unwrap()))
    );
}

// Item 5: a batch whose samples all had count 1 was stored in the
// one-value encoding, and replayed with minimum = maximum = total.
#[test]
fn count_one_aggregates_replay_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = now();
    let batch: Vec<Sample> = (0..3)
        .map(|i| Sample {
            series: play_failed(400 + i),
            time_ms: t0,
            aggregate: Aggregate {
                count: 1,
                total: 20,
                minimum: 10 + i as u64,
                maximum: 30,
            },
        })
        .collect();
    let cells = |store: &Store| {
        let mut cells: Vec<_> = store.read(|c| c.iter().map(|(s, t, a)| (s, t, *a)).collect());
        cells.sort_by_key(|(s, t, _)| (s.pack(), *t));
        cells
    };
    let applied = {
        let (store, _) = Store::open(dir.path(), StoreOptions::default()).unwrap();
        store.apply(None, &batch).unwrap();
        cells(&store)
    };
    let (store, _) = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(cells(&store), applied);
    assert_eq!(applied[0].2.minimum, 10);
}

// Item 11: a compaction that failed left wal.log.compacting (holding the
// disk's last free bytes) and said nothing; it was tried after every batch.
#[test]
fn a_failed_compaction_removes_its_file_and_is_tried_again_later() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        compact_after: 4_096,
        ..StoreOptions::default()
    };
    let t0 = now();
    let (store, _) = Store::open(dir.path(), options).unwrap();
    let log = dir.path().join("wal.log");
    let compacting = dir.path().join("wal.log.compacting");
    // The rename cannot replace a directory: every compaction fails after
    // writing its whole file.
    std::fs::remove_file(&log).unwrap();
    std::fs::create_dir(&log).unwrap();
    let mut i = 0;
    while store.stats().compaction_failures == 0 {
        store.apply(Some(&key(i)), &batch(t0, i % 500)).unwrap();
        i += 1;
    }
    assert!(
        !compacting.exists(),
        "the failed compaction's file was left"
    );
    let failed_at = store.lock().wal.as_ref().unwrap().len();
    // Not retried after every batch: only once the log grew by 4 KiB more.
    loop {
        store.apply(Some(&key(i)), &batch(t0, i % 500)).unwrap();
        i += 1;
        if store.lock().wal.as_ref().unwrap().len() >= failed_at + 4_096 {
            break;
        }
        assert_eq!(store.stats().compaction_failures, 1);
    }
    // The batch that took it there tried again, and failed again.
    assert_eq!(store.stats().compaction_failures, 2);
    assert!(!compacting.exists());
    std::fs::remove_dir(&log).unwrap();
    while store.stats().compactions == 0 {
        store.apply(Some(&key(i)), &batch(t0, i % 500)).unwrap();
        i += 1;
    }
    assert_eq!(store.stats().compaction_failures, 2);
    let sent = store.stats().samples;
    drop(store);
    let (store, _) = Store::open(dir.path(), options).unwrap();
    assert_eq!(store.stats().samples, sent);
}

// Issue #20 (throughput): new keys are remembered by a BLAKE3 digest of
// their body; a key replayed from a version 3 log keeps its SHA-256 one,
// and a retry of it is still compared exactly, across the restart.
#[test]
fn keys_from_a_version_3_log_keep_comparing_their_bodies_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (body, other) = (b"the batch".as_slice(), b"another batch".as_slice());
    let t0 = now();
    // A version 3 log holding one batch under "old", its SHA-256 digest.
    let sha256 = BodyDigest::Sha256([0; 16]).same_kind_of(body);
    let old = BatchKey {
        route: Route::Ingest,
        key: "old".into(),
        digest: Some(sha256),
    };
    let mut bytes = record::HEADER_V3.to_vec();
    bytes.extend(record::frame(&record::batch_payload(
        Some(&old),
        &batch(t0, 1),
    )));
    std::fs::write(dir.path().join("wal.log"), bytes).unwrap();
    let (store, _) = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let retry = |body: &[u8]| {
        let key = BatchKey {
            digest: None,
            ..old.clone()
        };
        let key = store.digested(key, body);
        store.apply(Some(&key), &batch(t0, 1)).unwrap()
    };
    assert_eq!(retry(other), Applied::Conflict);
    assert_eq!(retry(body), Applied::Duplicate);
    // A new key is digested with BLAKE3.
    let new = BatchKey {
        key: "new".into(),
        digest: None,
        ..old.clone()
    };
    let new = store.digested(new, body);
    assert_eq!(new.digest, Some(BodyDigest::of(body)));
    assert!(matches!(new.digest, Some(BodyDigest::Blake3(_))));
    assert_ne!(new.digest, Some(sha256));
}
