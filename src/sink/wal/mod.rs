//! The write-ahead log behind `--data-dir` (`DIR/wal.log`): every accepted
//! batch is appended and fsynced before the sink acknowledges it, and
//! replayed on start, so `kill -9` loses nothing that was acknowledged.
//!
//! What may and may not happen to acknowledged data (nothing is dropped
//! without a copy, except a torn tail, which was never acknowledged):
//! - A crash mid-append leaves a torn tail: the start of a record whose
//!   length runs past the end of the file. Trimmed on start, and said so.
//! - Any other bad bytes at the end (a whole record failing its checksum,
//!   a length that disagrees with its payload) are damage to a record that
//!   may have been acknowledged: moved aside to a file on start, and said so.
//! - A failed append (disk full) is cut back to the last whole record
//!   before the sink answers, so later batches never sit behind a torn
//!   record; if it cannot be cut back, the log takes no more writes.
//! - Damage in the middle (valid records after bad bytes), or a damaged
//!   header, stops the start with the file and offset; `--repair` moves
//!   the bad bytes aside to a file, resynchronising on each record's magic
//!   and checksum, keeps every valid record, and says what each held.
//! - The log is compacted once it grew by `compact_after` bytes: the
//!   store's aggregates and idempotency keys are written to a new log,
//!   which replaces the old one by an atomic rename, so restart time and
//!   memory follow the data kept, not the batches ever received. A failed
//!   compaction removes its file and leaves the old log as it was.
//!
//! Format: `docs/wal-format.md`; records byte for byte: `record.rs`. Logs
//! of older versions are read once and rewritten in the current one.

mod header;
// Open to the fuzzing oracle, which reads records its own simple way.
pub(in crate::sink) mod record;
mod replay;
mod report;
mod salvage;

pub(super) use record::{BatchKey, BodyDigest, Record, Route};
pub(crate) use report::{Damage, MovedAside, OpenReport};

use super::sample::Sample;
use header::Version;
use replay::{Next, Reader};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const LOG: &str = "wal.log";
const COMPACTING: &str = "wal.log.compacting";
/// Bytes of a tail read to tell a torn append from damage: more than any
/// record's frame and batch head.
const TAIL_PROBE: u64 = 1 << 20;
/// Damaged ranges up to this size are read back to say what they held;
/// larger ones (whole files that are not logs) are only copied.
const SALVAGE_MAX: u64 = 1 << 28;

#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "{} is damaged at byte offset {offset}: {bytes} bytes there are not a valid record, and \
         valid records follow them; the sink does not start on a log it would have to cut \
         silently. Run `callmetrics sink --data-dir {} --repair` to move the damaged bytes \
         aside to a file and keep every valid record",
        path.display(),
        dir.display()
    )]
    Damaged {
        path: PathBuf,
        dir: PathBuf,
        offset: u64,
        bytes: u64,
    },
    #[error(
        "{} has a damaged header: its first bytes are {found:?}, not a log header ({:?}), \
         and the sink does not guess which version follows. Run `callmetrics sink --data-dir \
         {} --repair` to move the damaged bytes aside to a file and keep every valid record \
         after them",
        path.display(),
        String::from_utf8_lossy(record::HEADER),
        dir.display()
    )]
    DamagedHeader {
        path: PathBuf,
        dir: PathBuf,
        found: String,
    },
}

/// Where appends go: the log file, or in tests one that fails on demand.
pub(super) trait LogFile: Write + Send + Sync {
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    fn sync(&mut self) -> io::Result<()>;
}

impl LogFile for File {
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)?;
        self.seek(SeekFrom::End(0))?;
        Ok(())
    }
    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }
}

pub(super) struct Wal {
    dir: PathBuf,
    file: Box<dyn LogFile>,
    /// Bytes of whole records (and the header).
    len: u64,
    /// `len` after the last compaction (or at open).
    base: u64,
    /// Set when a failed append could not be cut back: no more writes.
    broken: Option<String>,
}

impl Wal {
    /// Opens (creating) `dir/wal.log` and hands every whole record to
    /// `apply`, in order. A torn tail is trimmed, a damaged one moved
    /// aside; damage followed by valid records, or a damaged header, is an
    /// error unless `repair`, which moves it aside.
    pub(super) fn open(
        dir: &Path,
        repair: bool,
        mut apply: impl FnMut(Record),
    ) -> Result<(Wal, OpenReport), WalError> {
        let path = dir.join(LOG);
        let io = |source| WalError::Io {
            path: path.clone(),
            source,
        };
        let mut file = create_log(dir, &path).map_err(io)?;
        let bytes = file.metadata().map_err(io)?.len();
        let mut report = OpenReport {
            bytes,
            ..OpenReport::default()
        };
        let mut head = [0u8; 8];
        let n = read_at(&mut file, 0, &mut head).map_err(io)?;
        let mut v1 = || {
            let mut first = vec![0u8; header::v1_record_len(&head).min(bytes) as usize];
            read_at(&mut file, 0, &mut first).map_or_else(|_| Vec::new(), |_| first)
        };
        let version = header::version(&head[..n], &mut v1);
        let good = Opened {
            dir,
            path: &path,
            file: &mut file,
            bytes,
            repair,
            report: &mut report,
        }
        .replay(version, &head[..n], &mut apply)?;
        if good < bytes && !report.legacy {
            file.set_len(good).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        file.seek(SeekFrom::End(0)).map_err(io)?;
        let wal = Wal {
            dir: dir.to_path_buf(),
            file: Box::new(file),
            len: good,
            base: good,
            broken: None,
        };
        Ok((wal, report))
    }
    /// Appends a batch and waits until it is on disk. On failure the log
    /// is cut back to its last whole record, so nothing appended later is
    /// hidden behind a torn one.
    pub(super) fn append(&mut self, key: Option<&BatchKey>, samples: &[Sample]) -> io::Result<()> {
        if let Some(why) = &self.broken {
            return Err(io::Error::other(why.clone()));
        }
        let bytes = record::frame(&record::batch_payload(key, samples));
        let written = self.file.write_all(&bytes).and_then(|()| self.file.sync());
        match written {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                if let Err(cut) = self.file.truncate(self.len).and_then(|()| self.file.sync()) {
                    self.broken = Some(format!(
                        "the log takes no more writes: an append failed ({e}) and could not be \
                         cut back ({cut}); restart the sink to trim it"
                    ));
                }
                Err(e)
            }
        }
    }

    /// Bytes appended since the log was opened or last compacted.
    pub(super) fn growth(&self) -> u64 {
        self.len - self.base
    }

    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// Replaces the log by one holding `records` (the store's state), by
    /// writing a new file and renaming it over the old one. On failure the
    /// old log is as it was and the new file is removed: left behind, it
    /// would hold the disk's last free bytes until the next start.
    pub(super) fn compact(&mut self, records: impl IntoIterator<Item = Record>) -> io::Result<()> {
        let tmp = self.dir.join(COMPACTING);
        let path = self.dir.join(LOG);
        let written = write_compacted(&tmp, records).and_then(|len| {
            std::fs::rename(&tmp, &path)?;
            Ok(len)
        });
        let len = match written {
            Ok(len) => len,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        // The new log is in place: appends go to it, or nowhere (the old
        // file is unlinked, and what it took would be lost).
        let reopened = OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut file| file.seek(SeekFrom::End(0)).map(|_| file));
        match reopened {
            Ok(file) => {
                self.file = Box::new(file);
                self.len = len;
                self.base = len;
                self.broken = None;
            }
            Err(e) => {
                self.broken = Some(format!(
                    "the log takes no more writes: it was compacted but cannot be reopened \
                     ({e}); restart the sink"
                ));
                return Err(e);
            }
        }
        File::open(&self.dir)?.sync_all()
    }

    pub(super) fn path(&self) -> PathBuf {
        self.dir.join(LOG)
    }

    /// A log in `dir` appending through `file` (tests of failing disks).
    #[cfg(test)]
    fn with_file(dir: &Path, file: Box<dyn LogFile>, len: u64) -> Wal {
        Wal {
            dir: dir.to_path_buf(),
            file,
            len,
            base: len,
            broken: None,
        }
    }
}

/// Writes a log of `records` to `path`, on disk when this returns; its
/// length.
fn write_compacted(path: &Path, records: impl IntoIterator<Item = Record>) -> io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    out.write_all(record::HEADER)?;
    let mut len = record::HEADER.len() as u64;
    for r in records {
        let payload = match &r {
            Record::Batch { key, samples } => record::batch_payload(key.as_ref(), samples),
            Record::Keys(keys) => record::keys_payload(keys),
            Record::Rolled(before) => record::rolled_payload(*before),
        };
        let bytes = record::frame(&payload);
        out.write_all(&bytes)?;
        len += bytes.len() as u64;
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(len)
}

/// A log being opened: where it is, and what was found so far.
struct Opened<'a> {
    dir: &'a Path,
    path: &'a Path,
    file: &'a mut File,
    bytes: u64,
    repair: bool,
    report: &'a mut OpenReport,
}

impl Opened<'_> {
    fn io(&self, source: io::Error) -> WalError {
        WalError::Io {
            path: self.path.to_path_buf(),
            source,
        }
    }

    /// Replays the log as its `version` says (`head`: its first bytes);
    /// returns where its whole records end. An empty log, or one whose
    /// header was torn, gets the current header.
    fn replay(
        &mut self,
        version: Version,
        head: &[u8],
        apply: &mut impl FnMut(Record),
    ) -> Result<u64, WalError> {
        match version {
            Version::Empty | Version::TornHeader => {
                if version == Version::TornHeader {
                    self.report.torn_tail = Some((0, self.bytes));
                    self.file.set_len(0).map_err(|e| self.io(e))?;
                }
                self.file
                    .write_all(record::HEADER)
                    .map_err(|e| self.io(e))?;
                self.file.sync_all().map_err(|e| self.io(e))?;
                Ok(record::HEADER.len() as u64)
            }
            Version::Version1 => {
                self.report.legacy = true;
                read_legacy(self, apply)
            }
            Version::Current | Version::Version3 | Version::Version2 => {
                self.report.upgrade = version != Version::Current;
                self.read_framed(record::HEADER.len() as u64, apply)
            }
            Version::Damaged if !self.repair => Err(WalError::DamagedHeader {
                path: self.path.to_path_buf(),
                dir: self.dir.to_path_buf(),
                found: String::from_utf8_lossy(head).into_owned(),
            }),
            Version::Damaged => {
                self.report.damaged_header = true;
                self.read_framed(0, apply)
            }
        }
    }

    /// Replays records of the current framing from `from`, moving damage
    /// aside as the rules say; returns where the log's whole records end.
    fn read_framed(&mut self, from: u64, apply: &mut impl FnMut(Record)) -> Result<u64, WalError> {
        let reader = self.file.try_clone().map_err(|e| self.io(e))?;
        let mut reader = Reader::new(reader, from, self.bytes).map_err(|e| self.io(e))?;
        loop {
            match reader.next().map_err(|e| self.io(e))? {
                Next::Record(r) => {
                    self.report.kept.add(&r);
                    apply(r);
                }
                Next::End => return Ok(reader.offset),
                Next::Damaged => {
                    let at = reader.offset;
                    // From 0, the header is the damage; a record may follow at once.
                    let next = if at == 0 {
                        reader.first_valid_from(0)
                    } else {
                        reader.next_valid_after(at)
                    };
                    let damage = if at == 0 {
                        Damage::Header
                    } else {
                        Damage::Middle
                    };
                    match next.map_err(|e| self.io(e))? {
                        None if damage == Damage::Middle && self.torn_from(at)? => {
                            self.report.torn_tail = Some((at, self.bytes - at));
                            return Ok(at);
                        }
                        None => {
                            let damage = if at == 0 { damage } else { Damage::Tail };
                            self.move_aside(at, self.bytes, damage)?;
                            return Ok(at);
                        }
                        Some(next) if self.repair => {
                            self.move_aside(at, next, damage)?;
                            reader.skip_to(next).map_err(|e| self.io(e))?;
                        }
                        Some(next) => {
                            return Err(WalError::Damaged {
                                path: self.path.to_path_buf(),
                                dir: self.dir.to_path_buf(),
                                offset: at,
                                bytes: next - at,
                            });
                        }
                    }
                }
            }
        }
    }

    /// Whether the bytes from `at` to the end are an append cut short by a
    /// crash (never acknowledged): the start of a record, or zeros where
    /// the file grew but the data did not reach the disk.
    fn torn_from(&mut self, at: u64) -> Result<bool, WalError> {
        let tail_len = self.bytes - at;
        let mut probe = vec![0u8; tail_len.min(TAIL_PROBE) as usize];
        read_at(self.file, at, &mut probe).map_err(|e| self.io(e))?;
        let zeros = tail_len <= TAIL_PROBE && probe.iter().all(|&b| b == 0);
        Ok(zeros || record::torn_prefix(&probe, tail_len))
    }

    /// Copies bytes `[from, to)` to `dir/wal.damaged-FROM.bin` and reports
    /// what they held.
    fn move_aside(&mut self, from: u64, to: u64, damage: Damage) -> Result<(), WalError> {
        let aside = self.dir.join(format!("wal.damaged-{from}.bin"));
        copy_synced(self.file, from, to, &aside).map_err(|source| WalError::Io {
            path: aside.clone(),
            source,
        })?;
        let (held, unreadable) = if to - from <= SALVAGE_MAX {
            let mut damaged = vec![0u8; (to - from) as usize];
            read_at(self.file, from, &mut damaged).map_err(|e| self.io(e))?;
            salvage::held(&damaged)
        } else {
            (report::Contents::default(), to - from)
        };
        self.report.moved_aside.push(MovedAside {
            offset: from,
            bytes: to - from,
            file: aside,
            damage,
            held,
            unreadable,
        });
        Ok(())
    }
}

/// Reads a version 1 log (no header, no magic: damage cannot be skipped, so
/// with `repair` everything from it on is moved aside). Returns the length
/// of the part read.
fn read_legacy(opened: &mut Opened, apply: &mut impl FnMut(Record)) -> Result<u64, WalError> {
    let mut all = vec![0u8; opened.bytes as usize];
    read_at(opened.file, 0, &mut all).map_err(|e| opened.io(e))?;
    let mut at = 0;
    while at < all.len() {
        match record::legacy_record(&all[at..]) {
            Ok((r, len)) => {
                opened.report.kept.add(&r);
                apply(r);
                at += len;
            }
            // A torn tail: dropped when the log is rewritten.
            Err(true) => {
                opened.report.torn_tail = Some((at as u64, opened.bytes - at as u64));
                break;
            }
            Err(false) if opened.repair => {
                opened.move_aside(at as u64, opened.bytes, Damage::Middle)?;
                break;
            }
            Err(false) => {
                return Err(WalError::Damaged {
                    path: opened.path.to_path_buf(),
                    dir: opened.dir.to_path_buf(),
                    offset: at as u64,
                    bytes: opened.bytes - at as u64,
                });
            }
        }
    }
    Ok(at as u64)
}

/// Copies bytes `[from, to)` of `file` to a new file at `path`, on disk
/// when this returns.
fn copy_synced(file: &mut File, from: u64, to: u64, path: &Path) -> io::Result<()> {
    file.seek(SeekFrom::Start(from))?;
    let mut out = File::create(path)?;
    io::copy(&mut Read::by_ref(file).take(to - from), &mut out)?;
    out.sync_all()
}

/// Fills `buf` from `offset`, short only at the end of the file; returns
/// the bytes read.
/// Opens (creating) the log at `path` in `dir` for reading and appending.
fn create_log(dir: &Path, path: &Path) -> io::Result<File> {
    std::fs::create_dir_all(dir)?;
    // A compaction that did not finish: the old log is still whole.
    let _ = std::fs::remove_file(dir.join(COMPACTING));
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
}

fn read_at(file: &mut File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    file.seek(SeekFrom::Start(offset))?;
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod damage_tests;
#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod tests;
