//! The log's promises, each against the failure it guards: crashes
//! mid-append, a disk that fills up, flipped bytes, version 1 logs,
//! compaction, and arbitrary bytes.

use super::record::tests::sample;
use super::*;
use std::sync::{Arc, Mutex};

fn key(k: &str) -> BatchKey {
    BatchKey {
        route: Route::Ingest,
        key: k.into(),
        digest: Some(BodyDigest::Blake3([1; 16])),
    }
}

/// Opens `dir`, returning the log, what it found and the records.
fn open(dir: &Path, repair: bool) -> Result<(Wal, OpenReport, Vec<Record>), WalError> {
    let mut records = Vec::new();
    let (wal, report) = Wal::open(dir, repair, |r| records.push(r))?;
    Ok((wal, report, records))
}

fn batch_samples(records: &[Record]) -> Vec<u64> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Batch { samples, .. } => Some(samples.iter().map(|s| s.aggregate.total)),
            Record::Keys(_) | Record::Rolled(_) => None,
        })
        .flatten()
        .collect()
}

fn log(dir: &Path) -> PathBuf {
    dir.join(LOG)
}

#[test]
fn records_survive_reopen_and_a_torn_tail_is_trimmed_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut wal, report, records) = open(dir.path(), false).unwrap();
        assert!(records.is_empty() && report == OpenReport::default());
        wal.append(Some(&key("a")), &[sample(1), sample(2)])
            .unwrap();
        wal.append(None, &[sample(3)]).unwrap();
    }
    // A crash in the middle of a third append.
    let good = std::fs::metadata(log(dir.path())).unwrap().len();
    let torn = &record::frame(&record::batch_payload(None, &[sample(4)]))[..20];
    let mut f = OpenOptions::new()
        .append(true)
        .open(log(dir.path()))
        .unwrap();
    f.write_all(torn).unwrap();
    drop(f);
    let (_, report, records) = open(dir.path(), false).unwrap();
    assert_eq!(batch_samples(&records), [1, 2, 3]);
    assert_eq!(report.torn_tail, Some((good, 20)));
    assert!(matches!(&records[0], Record::Batch { key: Some(k), .. } if k.key == "a"));
    assert_eq!(std::fs::metadata(log(dir.path())).unwrap().len(), good);
}

/// Appends `n` one-sample batches, returning each record's start offset.
fn fill(dir: &Path, n: u64) -> Vec<u64> {
    let (mut wal, _, _) = open(dir, false).unwrap();
    (0..n)
        .map(|i| {
            let at = wal.len();
            wal.append(Some(&key(&format!("k{i}"))), &[sample(i)])
                .unwrap();
            at
        })
        .collect()
}

#[test]
fn a_flipped_byte_mid_file_stops_the_start_and_repair_keeps_every_valid_record() {
    let dir = tempfile::tempdir().unwrap();
    let starts = fill(dir.path(), 100);
    let mut bytes = std::fs::read(log(dir.path())).unwrap();
    let at = starts[40] + 15;
    bytes[at as usize] ^= 0xff;
    std::fs::write(log(dir.path()), &bytes).unwrap();

    let err = open(dir.path(), false).err().expect("damage is refused");
    let message = err.to_string();
    assert!(
        matches!(err, WalError::Damaged { offset, bytes, .. }
            if offset == starts[40] && bytes == starts[41] - starts[40]),
        "{message}"
    );
    assert!(
        message.contains("--repair") && message.contains("wal.log"),
        "{message}"
    );
    // Refusing changed nothing.
    assert_eq!(std::fs::read(log(dir.path())).unwrap(), bytes);

    let (_, report, records) = open(dir.path(), true).unwrap();
    let kept = batch_samples(&records);
    assert_eq!(kept.len(), 99);
    assert!(!kept.contains(&40) && kept.contains(&41) && kept.contains(&99));
    assert_eq!(report.moved_aside.len(), 1);
    let aside = &report.moved_aside[0];
    assert_eq!(
        (aside.offset, aside.bytes, aside.damage),
        (starts[40], starts[41] - starts[40], Damage::Middle)
    );
    // The flipped byte is in the key's length: no structure to read.
    assert_eq!(aside.unreadable, aside.bytes);
    assert_eq!(
        std::fs::read(&aside.file).unwrap(),
        &bytes[starts[40] as usize..starts[41] as usize]
    );
    assert!(report.needs_rewrite());
}

/// Appends through a real file, failing the writes `fail` says: a failing
/// write first puts half of its bytes on disk, as a full disk does.
struct FillingDisk {
    file: File,
    fail: Arc<Mutex<bool>>,
    cut_fails: bool,
}

impl Write for FillingDisk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if *self.fail.lock().unwrap() {
            self.file.write_all(&buf[..buf.len() / 2])?;
            return Err(io::Error::from_raw_os_error(28)); // ENOSPC
        }
        self.file.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl LogFile for FillingDisk {
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        if self.cut_fails {
            return Err(io::Error::other("read-only file system"));
        }
        LogFile::truncate(&mut self.file, len)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

fn filling_disk(dir: &Path, cut_fails: bool) -> (Wal, Arc<Mutex<bool>>) {
    let (wal, _, _) = open(dir, false).unwrap();
    let len = wal.len();
    drop(wal);
    let file = OpenOptions::new().append(true).open(log(dir)).unwrap();
    let fail = Arc::new(Mutex::new(false));
    let disk = FillingDisk {
        file,
        fail: fail.clone(),
        cut_fails,
    };
    (Wal::with_file(dir, Box::new(disk), len), fail)
}

#[test]
fn a_failed_append_is_cut_back_so_later_batches_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, fail) = filling_disk(dir.path(), false);
    let mut acknowledged = Vec::new();
    for i in 0..30u64 {
        *fail.lock().unwrap() = i % 7 == 3;
        if wal.append(None, &[sample(i)]).is_ok() {
            acknowledged.push(i);
        }
    }
    assert_eq!(acknowledged.len(), 26);
    drop(wal);
    let (_, report, records) = open(dir.path(), false).unwrap();
    assert_eq!(batch_samples(&records), acknowledged);
    assert_eq!(report.torn_tail, None);
}

#[test]
fn a_failed_append_that_cannot_be_cut_back_stops_all_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, fail) = filling_disk(dir.path(), true);
    wal.append(None, &[sample(1)]).unwrap();
    *fail.lock().unwrap() = true;
    assert!(wal.append(None, &[sample(2)]).is_err());
    *fail.lock().unwrap() = false;
    let err = wal.append(None, &[sample(3)]).unwrap_err().to_string();
    assert!(err.contains("takes no more writes"), "{err}");
    drop(wal);
    // The torn record is the tail: trimmed on restart, the first kept.
    let (_, report, records) = open(dir.path(), false).unwrap();
    assert_eq!(batch_samples(&records), [1]);
    assert!(report.torn_tail.is_some());
}

#[test]
fn a_version_1_log_is_read_and_flagged_for_rewriting() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = record::legacy_frame("old-key", &[sample(1), sample(2)]);
    bytes.extend(record::legacy_frame("", &[sample(3)]));
    std::fs::write(log(dir.path()), &bytes).unwrap();
    let (mut wal, report, records) = open(dir.path(), false).unwrap();
    assert!(report.legacy && report.needs_rewrite());
    assert_eq!(batch_samples(&records), [1, 2, 3]);
    match &records[0] {
        Record::Batch { key: Some(k), .. } => {
            assert_eq!(
                (k.route, k.key.as_str(), k.digest),
                (Route::Ingest, "old-key", None)
            );
        }
        other => panic!("{other:?}"),
    }
    wal.compact(records).unwrap();
    wal.append(None, &[sample(4)]).unwrap();
    drop(wal);
    let (_, report, records) = open(dir.path(), false).unwrap();
    assert!(!report.legacy);
    assert_eq!(batch_samples(&records), [1, 2, 3, 4]);
}

#[test]
fn compaction_replaces_the_log_and_an_unfinished_one_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 50);
    let (mut wal, _, _) = open(dir.path(), false).unwrap();
    let before = wal.len();
    let kept = vec![
        Record::Batch {
            key: None,
            samples: vec![sample(7)],
        },
        Record::Keys(vec![key("k49")]),
    ];
    wal.compact(kept).unwrap();
    assert!(wal.len() < before && wal.growth() == 0);
    wal.append(None, &[sample(8)]).unwrap();
    assert!(wal.growth() > 0);
    drop(wal);
    // A crash during the next compaction leaves its file behind.
    std::fs::write(dir.path().join(COMPACTING), b"half a log").unwrap();
    let (_, _, records) = open(dir.path(), false).unwrap();
    assert_eq!(batch_samples(&records), [7, 8]);
    assert_eq!(records[1], Record::Keys(vec![key("k49")]));
    assert!(!dir.path().join(COMPACTING).exists());
}

#[test]
fn arbitrary_bytes_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut good = record::HEADER.to_vec();
    good.extend(record::frame(&record::batch_payload(
        Some(&key("a")),
        &[sample(1)],
    )));
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..300 {
        let mut bytes = good.clone();
        for _ in 0..(round % 40) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state % (bytes.len() as u64 + 8)) as usize;
            if at < bytes.len() {
                bytes[at] = (state >> 32) as u8;
            } else {
                bytes.push((state >> 40) as u8);
            }
        }
        std::fs::write(log(dir.path()), &bytes).unwrap();
        // Either opens (trimming or repairing) or names the damage.
        let _ = open(dir.path(), round % 2 == 0);
    }
}
