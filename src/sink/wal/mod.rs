//! The write-ahead log behind `--data-dir` (`DIR/wal.log`): every accepted
//! batch is appended and fsynced before the sink acknowledges it, and
//! replayed on start, so `kill -9` loses nothing that was acknowledged.
//!
//! What may and may not happen to acknowledged data:
//! - A crash mid-append leaves a torn tail (never acknowledged): trimmed on
//!   start, and said so.
//! - A failed append (disk full) is cut back to the last whole record
//!   before the sink answers, so later batches never sit behind a torn
//!   record; if it cannot be cut back, the log takes no more writes.
//! - Damage in the middle (valid records after bad bytes) stops the start
//!   with the file and offset; `--repair` moves the bad bytes aside to a
//!   file and keeps every valid record.
//! - The log is compacted once it grew by `compact_after` bytes: the
//!   store's aggregates and idempotency keys are written to a new log,
//!   which replaces the old one by an atomic rename, so restart time and
//!   memory follow the data kept, not the batches ever received.
//!
//! Record layout: `record.rs`. Logs of version 1 (before this layout) are
//! read once and rewritten as version 2.

mod record;
mod replay;

pub use record::{BatchKey, Record, Route};

use super::sample::Sample;
use replay::{Next, Reader};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const LOG: &str = "wal.log";
const COMPACTING: &str = "wal.log.compacting";

/// What opening the log found, for the sink to say on start.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct OpenReport {
    /// Whole records replayed.
    pub records: u64,
    /// The log's size when opened.
    pub bytes: u64,
    /// A torn tail trimmed: its offset and length.
    pub torn_tail: Option<(u64, u64)>,
    /// With `--repair`: damaged byte ranges (offset, length) moved aside,
    /// and the file holding them.
    pub moved_aside: Vec<(u64, u64, PathBuf)>,
    /// A version 1 log, to be rewritten in the current version.
    pub legacy: bool,
    /// A version 2 log (the current framing, an older header): rewritten
    /// so that older binaries do not read what they cannot.
    pub upgrade: bool,
}

impl OpenReport {
    /// The log must be rewritten now: it is of version 1, or repaired
    /// damage is still in it.
    pub fn needs_rewrite(&self) -> bool {
        self.legacy || self.upgrade || !self.moved_aside.is_empty()
    }
}

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
}

/// Where appends go: the log file, or in tests one that fails on demand.
pub trait LogFile: Write + Send + Sync {
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

pub struct Wal {
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
    /// `apply`, in order. A torn tail is trimmed; damage followed by valid
    /// records is an error unless `repair`, which moves it aside.
    pub fn open(
        dir: &Path,
        repair: bool,
        mut apply: impl FnMut(Record),
    ) -> Result<(Wal, OpenReport), WalError> {
        let path = dir.join(LOG);
        let io = |source| WalError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        // A compaction that did not finish: the old log is still whole.
        let _ = std::fs::remove_file(dir.join(COMPACTING));
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io)?;
        let bytes = file.metadata().map_err(io)?.len();
        let mut report = OpenReport {
            bytes,
            ..OpenReport::default()
        };
        let mut head = [0u8; 8];
        let legacy = bytes > 0 && {
            let n = read_up_to(&mut file, &mut head).map_err(io)?;
            n < head.len() || (&head != record::HEADER && &head != record::HEADER_V2)
        };
        let good = if bytes == 0 {
            file.write_all(record::HEADER).map_err(io)?;
            file.sync_all().map_err(io)?;
            record::HEADER.len() as u64
        } else if legacy {
            report.legacy = true;
            read_legacy(
                dir,
                &path,
                &mut file,
                bytes,
                repair,
                &mut report,
                &mut apply,
            )?
        } else {
            report.upgrade = &head == record::HEADER_V2;
            let reader = file.try_clone().map_err(io)?;
            let mut reader = Reader::new(reader, record::HEADER.len() as u64, bytes).map_err(io)?;
            loop {
                match reader.next().map_err(io)? {
                    Next::Record(r) => {
                        report.records += 1;
                        apply(r);
                    }
                    Next::End => break reader.offset,
                    Next::Damaged => {
                        let at = reader.offset;
                        match reader.next_valid_after(at).map_err(io)? {
                            None => break at,
                            Some(next) if repair => {
                                let aside = move_aside(dir, &mut file, at, next).map_err(io)?;
                                report.moved_aside.push((at, next - at, aside));
                                reader.skip_to(next).map_err(io)?;
                            }
                            Some(next) => {
                                return Err(WalError::Damaged {
                                    path: path.clone(),
                                    dir: dir.to_path_buf(),
                                    offset: at,
                                    bytes: next - at,
                                });
                            }
                        }
                    }
                }
            }
        };
        if good < bytes && !report.legacy {
            report.torn_tail = Some((good, bytes - good));
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
    pub fn append(&mut self, key: Option<&BatchKey>, samples: &[Sample]) -> io::Result<()> {
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
    pub fn growth(&self) -> u64 {
        self.len - self.base
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// Replaces the log by one holding `records` (the store's state), by
    /// writing a new file and renaming it over the old one.
    pub fn compact(&mut self, records: impl IntoIterator<Item = Record>) -> io::Result<()> {
        let tmp = self.dir.join(COMPACTING);
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
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
        drop(file);
        let path = self.dir.join(LOG);
        std::fs::rename(&tmp, &path)?;
        File::open(&self.dir)?.sync_all()?;
        let mut file = OpenOptions::new().append(true).open(&path)?;
        file.seek(SeekFrom::End(0))?;
        self.file = Box::new(file);
        self.len = len;
        self.base = len;
        self.broken = None;
        Ok(())
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

/// Reads a version 1 log (no header, no magic: damage cannot be skipped, so
/// with `repair` everything from it on is moved aside). Returns the length
/// of the part read.
fn read_legacy(
    dir: &Path,
    path: &Path,
    file: &mut File,
    bytes: u64,
    repair: bool,
    report: &mut OpenReport,
    apply: &mut impl FnMut(Record),
) -> Result<u64, WalError> {
    let io = |source| WalError::Io {
        path: path.to_path_buf(),
        source,
    };
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut all = Vec::new();
    file.read_to_end(&mut all).map_err(io)?;
    let mut at = 0;
    while at < all.len() {
        match record::legacy_record(&all[at..]) {
            Ok((r, len)) => {
                report.records += 1;
                apply(r);
                at += len;
            }
            // A torn tail: dropped when the log is rewritten.
            Err(true) => {
                report.torn_tail = Some((at as u64, bytes - at as u64));
                break;
            }
            Err(false) if repair => {
                let aside = move_aside(dir, file, at as u64, bytes).map_err(io)?;
                report
                    .moved_aside
                    .push((at as u64, bytes - at as u64, aside));
                break;
            }
            Err(false) => {
                return Err(WalError::Damaged {
                    path: path.to_path_buf(),
                    dir: dir.to_path_buf(),
                    offset: at as u64,
                    bytes: bytes - at as u64,
                });
            }
        }
    }
    Ok(at as u64)
}

/// Copies bytes `[from, to)` of the log to `dir/wal.damaged-FROM.bin`.
fn move_aside(dir: &Path, file: &mut File, from: u64, to: u64) -> io::Result<PathBuf> {
    let aside = dir.join(format!("wal.damaged-{from}.bin"));
    let mut reader = file.try_clone()?;
    reader.seek(SeekFrom::Start(from))?;
    let mut out = File::create(&aside)?;
    io::copy(&mut reader.take(to - from), &mut out)?;
    out.sync_all()?;
    Ok(aside)
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    file.seek(SeekFrom::Start(0))?;
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
mod tests;
