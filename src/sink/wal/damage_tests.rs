//! Damage the log must never turn into silent loss (issue #19): a flipped
//! header bit, a damaged last record, and what `--repair` says it moved.

use super::record::tests::sample;
use super::*;

fn key(k: &str) -> BatchKey {
    BatchKey {
        route: Route::Ingest,
        key: k.into(),
        digest: Some(BodyDigest::Blake3([2; 16])),
    }
}

fn open(dir: &Path, repair: bool) -> Result<(OpenReport, Vec<Record>), WalError> {
    let mut records = Vec::new();
    let (_, report) = Wal::open(dir, repair, |r| records.push(r))?;
    Ok((report, records))
}

/// A log of `n` keyed one-sample batches: its bytes, each record's start
/// and the records.
fn log_of(dir: &Path, n: u64) -> (Vec<u8>, Vec<u64>, Vec<Record>) {
    let (mut wal, _) = Wal::open(dir, false, |_| {}).unwrap();
    let mut starts = Vec::new();
    for i in 0..n {
        starts.push(wal.len());
        wal.append(Some(&key(&format!("k{i}"))), &[sample(i)])
            .unwrap();
    }
    drop(wal);
    let (_, records) = open(dir, false).unwrap();
    (std::fs::read(dir.join(LOG)).unwrap(), starts, records)
}

// Item 1: 'A' -> 0x01 at byte 3 read the log as version 1, whose first
// "record" ran past the end: the whole log was trimmed as a torn tail.
// The other flips stopped the start, and --repair kept nothing.
#[test]
fn every_single_bit_flip_of_the_header_is_refused_or_keeps_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let (good, _, all) = log_of(dir.path(), 40);
    for bit in 0..64 {
        let mut bytes = good.clone();
        bytes[bit / 8] ^= 1 << (bit % 8);
        std::fs::write(dir.path().join(LOG), &bytes).unwrap();
        match open(dir.path(), false) {
            // A flip that made an older version's header (none does from
            // 'CMWAL04'; 'CMWAL03' -> 'CMWAL02' did) must read every record.
            Ok((report, records)) => {
                assert_eq!(records, all, "bit {bit}: a plain start lost records");
                assert!(report.upgrade && report.moved_aside.is_empty(), "bit {bit}");
                continue;
            }
            Err(e) => {
                assert!(
                    matches!(e, WalError::DamagedHeader { .. }),
                    "bit {bit}: {e}"
                );
                assert!(e.to_string().contains("--repair"), "{e}");
                assert_eq!(
                    std::fs::read(dir.path().join(LOG)).unwrap(),
                    bytes,
                    "bit {bit}: refusing changed the log"
                );
            }
        }
        let (report, records) = open(dir.path(), true).unwrap();
        assert_eq!(records, all, "bit {bit}: --repair lost records");
        assert_eq!(report.kept.records, 40);
        assert_eq!(report.kept.keys, 40);
        let [aside] = &report.moved_aside[..] else {
            panic!("bit {bit}: {:?}", report.moved_aside);
        };
        assert_eq!(
            (aside.offset, aside.bytes, aside.damage, aside.unreadable),
            (0, 8, Damage::Header, 8),
            "bit {bit}"
        );
        assert_eq!(std::fs::read(&aside.file).unwrap(), &bytes[..8]);
        assert!(report.damaged_header && report.needs_rewrite());
        std::fs::remove_file(&aside.file).unwrap();
    }
}

#[test]
fn a_header_with_no_valid_record_after_it_is_moved_aside_whole_by_repair() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"CMWAL0\x13\n".to_vec();
    bytes.extend_from_slice(&[0x5a; 100]);
    std::fs::write(dir.path().join(LOG), &bytes).unwrap();
    assert!(matches!(
        open(dir.path(), false),
        Err(WalError::DamagedHeader { .. })
    ));
    let (report, records) = open(dir.path(), true).unwrap();
    assert!(records.is_empty());
    assert_eq!(report.moved_aside.len(), 1);
    assert_eq!(
        std::fs::read(&report.moved_aside[0].file).unwrap(),
        bytes,
        "every byte has a copy"
    );
}

#[test]
fn a_log_cut_inside_its_header_is_started_afresh() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(LOG), &record::HEADER[..5]).unwrap();
    let (report, records) = open(dir.path(), false).unwrap();
    assert!(records.is_empty());
    assert_eq!(report.torn_tail, Some((0, 5)));
    assert_eq!(std::fs::read(dir.path().join(LOG)).unwrap(), record::HEADER);
}

// Item 3: a whole last record failing its checksum was trimmed as a torn
// tail "never acknowledged", with no copy.
#[test]
fn a_damaged_last_record_is_moved_aside_and_called_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let (good, starts, all) = log_of(dir.path(), 10);
    let last = starts[9] as usize;
    // A flipped payload byte (the sample's value), then a flipped length
    // byte that makes the record look longer than the file.
    for at in [good.len() - 3, last + 6] {
        let mut bytes = good.clone();
        bytes[at] ^= 0x04;
        std::fs::write(dir.path().join(LOG), &bytes).unwrap();
        let (report, records) = open(dir.path(), false).unwrap();
        assert_eq!(records, all[..9], "byte {at}");
        assert_eq!(
            report.torn_tail, None,
            "byte {at}: damage is not a torn tail"
        );
        let [aside] = &report.moved_aside[..] else {
            panic!("byte {at}: {report:?}");
        };
        assert_eq!(
            (aside.offset, aside.bytes, aside.damage),
            (last as u64, (good.len() - last) as u64, Damage::Tail)
        );
        assert_eq!(std::fs::read(&aside.file).unwrap(), &bytes[last..]);
        // The batch, its sample and its key, as the damaged bytes say.
        assert_eq!(
            (aside.held.records, aside.held.cells, aside.held.keys),
            (1, 1, 1)
        );
        let said = aside.to_string();
        assert!(said.contains("damaged") && !said.contains("torn"), "{said}");
        assert_eq!(
            std::fs::metadata(dir.path().join(LOG)).unwrap().len(),
            last as u64
        );
        std::fs::remove_file(&aside.file).unwrap();
    }
}

#[test]
fn a_torn_append_and_a_zeroed_tail_are_still_trimmed_as_torn() {
    let dir = tempfile::tempdir().unwrap();
    let (good, _, all) = log_of(dir.path(), 5);
    let next = record::frame(&record::batch_payload(Some(&key("k5")), &[sample(5)]));
    for tail in [
        &next[..2],
        &next[..10],
        &next[..next.len() - 1],
        &[0u8; 4096][..],
    ] {
        let mut bytes = good.clone();
        bytes.extend_from_slice(tail);
        std::fs::write(dir.path().join(LOG), &bytes).unwrap();
        let (report, records) = open(dir.path(), false).unwrap();
        assert_eq!(records, all);
        assert_eq!(
            report.torn_tail,
            Some((good.len() as u64, tail.len() as u64))
        );
        assert!(report.moved_aside.is_empty());
    }
}

#[test]
fn records_with_no_header_at_all_are_kept_and_rewritten_by_repair() {
    let dir = tempfile::tempdir().unwrap();
    let (good, _, all) = log_of(dir.path(), 3);
    std::fs::write(dir.path().join(LOG), &good[8..]).unwrap();
    assert!(open(dir.path(), false).is_err());
    let (report, records) = open(dir.path(), true).unwrap();
    assert_eq!(records, all);
    assert!(report.moved_aside.is_empty() && report.needs_rewrite());
}
