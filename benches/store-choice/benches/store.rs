//! Issue #9, item 5: is a well-kept embedded store as fast as the sink's
//! hand-written log where it matters, the durable append of one batch
//! before the sink answers? Both write the same bytes, a 5,000-event batch
//! as the log frames it (~190 KB), and return only once it is on disk:
//! the log as `Wal::append` does (one write, `fdatasync`), redb as one
//! write transaction committed with `Durability::Immediate`, alone and with
//! the batch's idempotency key in a second table. Each is the ceiling of
//! the sink's ingest with that store: batches/s x 5,000 events.
//!
//! `cd benches/store-choice && cargo bench --bench store` (the data dir is under the system's temp dir).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use redb::{Database, Durability, TableDefinition};
use std::fs::OpenOptions;
use std::io::Write;

const BATCHES: TableDefinition<u64, &[u8]> = TableDefinition::new("batches");
const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys");
const EVENTS_PER_BATCH: u64 = 5_000;

/// A batch as the log frames it: ~1.5 samples per event, 25 bytes each.
fn batch() -> Vec<u8> {
    (0..EVENTS_PER_BATCH * 3 / 2 * 25)
        .map(|i| (i * 31 % 251) as u8)
        .collect()
}

/// One batch (and its key) in one write transaction, on disk on return.
fn redb_append(db: &Database, seq: u64, bytes: &[u8], with_key: bool) {
    let mut txn = db.begin_write().expect("a write transaction");
    txn.set_durability(Durability::Immediate)
        .expect("durability");
    {
        let mut table = txn.open_table(BATCHES).expect("the table");
        table.insert(seq, bytes).expect("insert");
        if with_key {
            let mut keys = txn.open_table(KEYS).expect("the key table");
            let key = format!("cm-00000000000000ab-{seq}");
            keys.insert(key.as_str(), [7u8; 16].as_slice())
                .expect("insert the key");
        }
    }
    txn.commit().expect("commit");
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let bytes = batch();
    let mut group = c.benchmark_group("durable append of one batch");
    group.sample_size(30);
    group.throughput(Throughput::Elements(EVENTS_PER_BATCH));

    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.path().join("wal.log"))
        .expect("the log opens");
    group.bench_function("hand-written log (write + fdatasync)", |b| {
        b.iter(|| {
            log.write_all(&bytes).expect("append");
            log.sync_data().expect("fdatasync");
        })
    });

    for (name, file, with_key) in [
        ("redb (insert + commit, Immediate)", "batches.redb", false),
        (
            "redb (batch + idempotency key, Immediate)",
            "keyed.redb",
            true,
        ),
    ] {
        let db = Database::create(dir.path().join(file)).expect("redb opens");
        let mut seq = 0u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                redb_append(&db, seq, &bytes, with_key);
                seq += 1;
            })
        });
    }
    group.finish();
}

criterion_group!(store, benches);
criterion_main!(store);
