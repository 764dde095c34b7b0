//! What opening the log found, in numbers a person can act on: what was
//! kept, what was moved aside (and what that held, so the loss of
//! idempotency keys is never silent), what was trimmed.

use super::record::Record;
use crate::wire::metrics_response::time_stamp;
use std::fmt;
use std::path::PathBuf;

/// What a run of records holds.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Contents {
    pub records: u64,
    /// Idempotency keys: a lost one lets a retry of its batch count again.
    pub keys: u64,
    /// Samples or aggregates (a compacted log holds one per cell).
    pub cells: u64,
    /// The single events the cells stand for.
    pub events: u64,
    /// Earliest and latest data time (Unix ms) of the cells.
    pub times: Option<(i64, i64)>,
    /// A record saying where per-minute cells start.
    pub rolled: bool,
}

impl Contents {
    pub fn add(&mut self, record: &Record) {
        self.records += 1;
        match record {
            Record::Batch { key, samples } => {
                self.keys += u64::from(key.is_some());
                for s in samples {
                    self.cell(s.time_ms, s.aggregate.count);
                }
            }
            Record::Keys(keys) => self.keys += keys.len() as u64,
            Record::Rolled(_) => self.rolled = true,
        }
    }

    pub fn cell(&mut self, time_ms: i64, events: u64) {
        self.cells += 1;
        self.events = self.events.saturating_add(events);
        self.times = Some(match self.times {
            None => (time_ms, time_ms),
            Some((first, last)) => (first.min(time_ms), last.max(time_ms)),
        });
    }
}

impl fmt::Display for Contents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} records: {} cells ({} events)",
            self.records, self.cells, self.events
        )?;
        if let Some((first, last)) = self.times {
            write!(f, " from {} to {}", time_stamp(first), time_stamp(last))?;
        }
        write!(f, ", {} idempotency keys", self.keys)?;
        if self.rolled {
            write!(f, ", the per-minute boundary")?;
        }
        Ok(())
    }
}

/// Where damaged bytes were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// The log's first 8 bytes.
    Header,
    /// Valid records follow them.
    Middle,
    /// The end of the log, not shaped like an append cut short.
    Tail,
}

/// Damaged bytes copied to a file before the log dropped them.
#[derive(Debug, Clone, PartialEq)]
pub struct MovedAside {
    pub offset: u64,
    pub bytes: u64,
    pub file: PathBuf,
    pub damage: Damage,
    /// What the bytes held, read without their checksums: the records'
    /// own counts, as the damaged bytes still say them.
    pub held: Contents,
    /// Bytes in which no record's structure could be read.
    pub unreadable: u64,
}

impl fmt::Display for MovedAside {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let where_ = match self.damage {
            Damage::Header => "the log's header",
            Damage::Middle => "valid records follow them",
            Damage::Tail => {
                "the last record, whole but damaged: not an append cut short by a crash, so \
                 it may have been acknowledged"
            }
        };
        write!(
            f,
            "moved {} damaged bytes at offset {} ({where_}) to {}",
            self.bytes,
            self.offset,
            self.file.display()
        )?;
        if self.held.records == 0 {
            write!(f, "; no record could be read from them")?;
        } else {
            write!(f, "; they held {}", self.held)?;
            if self.unreadable > 0 {
                write!(
                    f,
                    ", and {} bytes that could not be read as records",
                    self.unreadable
                )?;
            }
        }
        if self.held.keys > 0 {
            write!(
                f,
                "; a retry of a batch whose key was among them is counted again"
            )?;
        }
        Ok(())
    }
}

/// What opening the log found, for the sink to say on start.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct OpenReport {
    /// Whole records replayed, and what they held.
    pub kept: Contents,
    /// The log's size when opened.
    pub bytes: u64,
    /// A torn tail trimmed: its offset and length.
    pub torn_tail: Option<(u64, u64)>,
    /// Damaged bytes moved aside (with `--repair`, or at the end of the log).
    pub moved_aside: Vec<MovedAside>,
    /// A version 1 log, to be rewritten in the current version.
    pub legacy: bool,
    /// A version 2 log (the current framing, an older header): rewritten
    /// so that older binaries do not read what they cannot.
    pub upgrade: bool,
    /// Read by `--repair` past a damaged or missing header: rewritten with
    /// a good one, even when no byte had to be moved aside.
    pub damaged_header: bool,
}

impl OpenReport {
    /// The log must be rewritten now: it is of an older version, or bytes
    /// moved aside are still in it.
    pub fn needs_rewrite(&self) -> bool {
        self.legacy || self.upgrade || self.damaged_header || !self.moved_aside.is_empty()
    }
}
