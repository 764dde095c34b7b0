//! The write-ahead log behind `--data-dir`: every accepted batch is
//! appended and fsynced before the sink acknowledges it, and replayed on
//! start, so `kill -9` loses nothing that was acknowledged.
//!
//! Record: `len: u32 LE | crc32(payload): u32 LE | payload`, payload =
//! `key_len: u16 | key | count: u32 | count x 25-byte samples` (series,
//! time, value). A batch that holds aggregates (an Azure Monitor document's
//! series) sets count's top bit and stores 49-byte entries instead (series,
//! time, count, total, minimum, maximum); logs written before aggregates
//! existed read as they always did. A record cut
//! short by a crash (never acknowledged) fails its length or checksum and
//! is dropped, with the file truncated back to the last whole record.

use super::sample::Sample;
use crate::catalog::{ApiVersion, EventType, Operation};
use crate::engine::{Aggregate, CallbackDims, RequestDims, Series};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

const SAMPLE_BYTES: usize = 25;
const AGGREGATE_BYTES: usize = 49;
/// count's top bit: the entries are aggregates.
const AGGREGATES: u32 = 1 << 31;

pub struct Wal {
    file: File,
}

/// A batch read back from the log.
pub struct Record {
    pub key: Option<String>,
    pub samples: Vec<Sample>,
}

impl Wal {
    /// Opens (creating) `dir/wal.log`, returning the log and every whole
    /// record in it.
    pub fn open(dir: &Path) -> io::Result<(Wal, Vec<Record>)> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("wal.log");
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let (records, good) = decode_all(&bytes);
        if good < bytes.len() {
            file.set_len(good as u64)?;
            file.sync_all()?;
        }
        file.seek(SeekFrom::End(0))?;
        Ok((Wal { file }, records))
    }

    /// Appends a batch and waits until it is on disk.
    pub fn append(&mut self, key: Option<&str>, samples: &[Sample]) -> io::Result<()> {
        let key = key.unwrap_or("").as_bytes();
        let key = &key[..key.len().min(u16::MAX as usize)];
        let aggregates = samples.iter().any(|s| s.aggregate.count != 1);
        let entry = if aggregates {
            AGGREGATE_BYTES
        } else {
            SAMPLE_BYTES
        };
        let mut payload = Vec::with_capacity(6 + key.len() + samples.len() * entry);
        payload.extend_from_slice(&(key.len() as u16).to_le_bytes());
        payload.extend_from_slice(key);
        let count = samples.len() as u32 | if aggregates { AGGREGATES } else { 0 };
        payload.extend_from_slice(&count.to_le_bytes());
        for s in samples {
            encode_sample(&mut payload, s, aggregates);
        }
        let mut record = Vec::with_capacity(8 + payload.len());
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        record.extend_from_slice(&payload);
        self.file.write_all(&record)?;
        self.file.sync_data()
    }
}

fn encode_sample(out: &mut Vec<u8>, s: &Sample, aggregate: bool) {
    let (tag, a, code, sub, version) = match s.series {
        Series::Requests(d) => (0u8, d.operation as u8, d.status, 0u32, d.version),
        Series::Latency(d) => (1, d.operation as u8, d.status, 0, d.version),
        Series::Callbacks(d) => (2, d.event as u8, d.code, d.sub_code, d.version),
    };
    out.push(tag);
    out.push(a);
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(&sub.to_le_bytes());
    out.push(version.index());
    out.extend_from_slice(&s.time_ms.to_le_bytes());
    let a = &s.aggregate;
    if aggregate {
        for v in [a.count, a.total, a.minimum, a.maximum] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    } else {
        out.extend_from_slice(&a.total.to_le_bytes());
    }
}

fn decode_sample(b: &[u8]) -> Option<Sample> {
    let word = |at: usize| Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?));
    let code = u16::from_le_bytes([b[2], b[3]]);
    let sub_code = u32::from_le_bytes(b[4..8].try_into().ok()?);
    let version = ApiVersion::from_index(b[8])?;
    let time_ms = i64::from_le_bytes(b[9..17].try_into().ok()?);
    let aggregate = if b.len() == AGGREGATE_BYTES {
        Aggregate {
            count: word(17)?,
            total: word(25)?,
            minimum: word(33)?,
            maximum: word(41)?,
        }
    } else {
        Aggregate::of(word(17)?)
    };
    let request = |operation: Operation| RequestDims {
        operation,
        status: code,
        version,
    };
    let series = match b[0] {
        0 => Series::Requests(request(*Operation::ALL.get(b[1] as usize)?)),
        1 => Series::Latency(request(*Operation::ALL.get(b[1] as usize)?)),
        2 => Series::Callbacks(CallbackDims {
            event: *EventType::ALL.get(b[1] as usize)?,
            code,
            sub_code,
            version,
        }),
        _ => return None,
    };
    Some(Sample {
        series,
        time_ms,
        aggregate,
    })
}

/// Decodes whole records; returns them and the length of the good prefix.
fn decode_all(bytes: &[u8]) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while let Some((record, len)) = decode_one(&bytes[at..]) {
        records.push(record);
        at += len;
    }
    (records, at)
}

fn decode_one(b: &[u8]) -> Option<(Record, usize)> {
    let len = u32::from_le_bytes(b.get(0..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(b.get(4..8)?.try_into().ok()?);
    let payload = b.get(8..8 + len)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    let key_len = u16::from_le_bytes(payload.get(0..2)?.try_into().ok()?) as usize;
    let key = std::str::from_utf8(payload.get(2..2 + key_len)?).ok()?;
    let at = 2 + key_len;
    let count = u32::from_le_bytes(payload.get(at..at + 4)?.try_into().ok()?);
    let entry = if count & AGGREGATES != 0 {
        AGGREGATE_BYTES
    } else {
        SAMPLE_BYTES
    };
    let count = (count & !AGGREGATES) as usize;
    let body = payload.get(at + 4..)?;
    if body.len() != count * entry {
        return None;
    }
    let samples = body
        .chunks_exact(entry)
        .map(decode_sample)
        .collect::<Option<Vec<_>>>()?;
    let key = (!key.is_empty()).then(|| key.to_string());
    Some((Record { key, samples }, 8 + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: u64) -> Sample {
        let series = Series::Callbacks(CallbackDims {
            event: EventType::PlayFailed,
            code: 400,
            sub_code: 8535,
            version: ApiVersion::default_version(),
        });
        Sample::one(series, 1_767_225_600_000 + n as i64, 1)
    }

    #[test]
    fn records_survive_reopen_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut wal, records) = Wal::open(dir.path()).unwrap();
            assert!(records.is_empty());
            wal.append(Some("a"), &[sample(1), sample(2)]).unwrap();
            wal.append(None, &[sample(3)]).unwrap();
        }
        // A crash in the middle of a third append.
        let path = dir.path().join("wal.log");
        let good = std::fs::metadata(&path).unwrap().len();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2, 3]).unwrap();
        drop(f);
        let (_, records) = Wal::open(dir.path()).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].key.as_deref(), Some("a"));
        assert_eq!(records[0].samples, vec![sample(1), sample(2)]);
        assert_eq!(records[1].key, None);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
    }

    #[test]
    fn aggregates_survive_reopen_beside_single_samples() {
        let dir = tempfile::tempdir().unwrap();
        let many = Sample {
            aggregate: Aggregate {
                count: 7,
                total: 90,
                minimum: 3,
                maximum: 40,
            },
            ..sample(5)
        };
        {
            let (mut wal, _) = Wal::open(dir.path()).unwrap();
            wal.append(Some("a"), &[sample(1)]).unwrap();
            wal.append(Some("b"), &[many, sample(6)]).unwrap();
        }
        let (_, records) = Wal::open(dir.path()).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].samples, vec![sample(1)]);
        assert_eq!(records[1].samples, vec![many, sample(6)]);
    }
}
