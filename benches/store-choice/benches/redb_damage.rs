//! Issue #9, item 5, the other half of the store comparison: what redb
//! does with the damage items 2 and 3 ask the sink to survive. It writes
//! 200 durable batches (~190 KB each, as `benches/store-choice/benches/store.rs`), flips one byte
//! at 40 places spread over the file, and for each copy reports what an
//! open with the full integrity check says and what plain reads return
//! (values compared with what was written: a wrong value without an error
//! is silent loss).
//!
//! `cd benches/store-choice && cargo bench --bench redb_damage` (prints a table; measures no time).

use redb::{Database, Durability, ReadableDatabase, TableDefinition};
use std::panic::{AssertUnwindSafe, catch_unwind};

const BATCHES: TableDefinition<u64, &[u8]> = TableDefinition::new("batches");
const COUNT: u64 = 200;
const PLACES: u64 = 40;

fn value(seq: u64) -> Vec<u8> {
    (0..190_000u64).map(|i| ((i + seq) % 251) as u8).collect()
}

/// Whole, wrong without an error, or an error/panic, over every batch.
fn plain_reads(path: &std::path::Path) -> (u64, u64, u64) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let db = Database::open(path).map_err(|e| e.to_string())?;
        let txn = db.begin_read().map_err(|e| e.to_string())?;
        let table = txn.open_table(BATCHES).map_err(|e| e.to_string())?;
        let (mut whole, mut wrong, mut failed) = (0, 0, 0);
        for seq in 0..COUNT {
            match table.get(seq) {
                Ok(Some(v)) if v.value() == value(seq).as_slice() => whole += 1,
                Ok(_) => wrong += 1,
                Err(_) => failed += 1,
            }
        }
        Ok::<_, String>((whole, wrong, failed))
    }));
    match outcome {
        Ok(Ok(counts)) => counts,
        _ => (0, 0, COUNT),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; this program takes no options.
    let dir = tempfile::tempdir().expect("a temp dir");
    let original = dir.path().join("store.redb");
    {
        let db = Database::create(&original).expect("redb opens");
        for seq in 0..COUNT {
            let mut txn = db.begin_write().expect("a write transaction");
            txn.set_durability(Durability::Immediate)
                .expect("durability");
            txn.open_table(BATCHES)
                .expect("the table")
                .insert(seq, value(seq).as_slice())
                .expect("insert");
            txn.commit().expect("commit");
        }
    }
    let bytes = std::fs::metadata(&original).expect("the file").len();
    println!(
        "{COUNT} batches of 190,000 bytes (38.0 MB) in a {:.1} MB redb file\n",
        bytes as f64 / 1e6
    );
    println!(
        "| flipped byte | open with integrity check | plain reads: whole / wrong, no error / failed |"
    );
    println!("|---|---|---|");
    let mut silent = 0;
    let mut refused = 0;
    for place in 0..PLACES {
        let offset = bytes * place / PLACES + 4093;
        let copy = dir.path().join(format!("copy-{place}.redb"));
        std::fs::copy(&original, &copy).expect("copy");
        let mut b = std::fs::read(&copy).expect("read");
        b[offset as usize] ^= 0x5a;
        std::fs::write(&copy, &b).expect("write");
        let checked = dir.path().join(format!("checked-{place}.redb"));
        std::fs::copy(&copy, &checked).expect("copy");
        let check = match Database::builder()
            .set_check_integrity_on_open(true)
            .open(&checked)
        {
            Ok(_) => "opens".to_string(),
            Err(e) => {
                refused += 1;
                format!("refused: {e}")
            }
        };
        let (whole, wrong, failed) = plain_reads(&copy);
        if wrong > 0 {
            silent += 1;
        }
        println!("| {offset} | {check} | {whole} / {wrong} / {failed} |");
    }
    println!(
        "\n{refused} of {PLACES} flips refused by the integrity check (the rest hit unused \
         pages), {silent} read back wrong without an error by plain reads"
    );
}
