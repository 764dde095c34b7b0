//! Reading a log back, one record at a time, so replay memory is bounded
//! by the largest record rather than the file; and finding the next valid
//! record after damaged bytes, which is how a torn tail (nothing valid
//! follows: a crash mid-append, never acknowledged) is told apart from
//! damage in the middle (valid, acknowledged records follow: never to be
//! dropped silently).

use super::record::{self, FRAME, MAGIC, Record};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

/// What the bytes at the reader's offset hold.
pub(super) enum Next {
    Record(Record),
    End,
    Damaged,
}

/// Version 2 records from a file, in order.
pub(super) struct Reader {
    file: BufReader<File>,
    /// Where the next record starts.
    pub offset: u64,
    len: u64,
}

impl Reader {
    /// Reads `file` (of `len` bytes) from `offset`.
    pub(super) fn new(mut file: File, offset: u64, len: u64) -> io::Result<Reader> {
        file.seek(SeekFrom::Start(offset))?;
        Ok(Reader {
            file: BufReader::with_capacity(1 << 20, file),
            offset,
            len,
        })
    }

    /// The record at the offset, moving past it; `Damaged` leaves the
    /// offset where the damage starts.
    pub(super) fn next(&mut self) -> io::Result<Next> {
        if self.offset == self.len {
            return Ok(Next::End);
        }
        match read_at_cursor(&mut self.file, self.len - self.offset)? {
            Some((record, size)) => {
                self.offset += size;
                Ok(Next::Record(record))
            }
            None => {
                // The cursor moved into the damage: put it back.
                self.file.seek(SeekFrom::Start(self.offset))?;
                Ok(Next::Damaged)
            }
        }
    }

    /// Continues reading at `offset`.
    pub(super) fn skip_to(&mut self, offset: u64) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(offset))?;
        self.offset = offset;
        Ok(())
    }

    /// The offset of the first valid record after `from`, if any.
    pub(super) fn next_valid_after(&mut self, from: u64) -> io::Result<Option<u64>> {
        self.first_valid_from(from + 1)
    }

    /// The offset of the first valid record at `start` or later, if any:
    /// every position holding the magic is tried as a record.
    pub(super) fn first_valid_from(&mut self, start: u64) -> io::Result<Option<u64>> {
        let magic = MAGIC.to_le_bytes();
        let file = self.file.get_mut();
        let mut chunk = vec![0u8; 1 << 20];
        let mut start = start;
        while start + FRAME as u64 <= self.len {
            file.seek(SeekFrom::Start(start))?;
            let want = chunk.len().min((self.len - start) as usize);
            file.read_exact(&mut chunk[..want])?;
            let candidates: Vec<u64> = chunk[..want]
                .windows(4)
                .enumerate()
                .filter(|(_, w)| *w == magic)
                .map(|(i, _)| start + i as u64)
                .collect();
            for at in candidates {
                file.seek(SeekFrom::Start(at))?;
                if read_at_cursor(file, self.len - at)?.is_some() {
                    self.file.seek(SeekFrom::Start(self.offset))?;
                    return Ok(Some(at));
                }
            }
            // Overlap by three bytes: a magic may straddle two chunks.
            start += (want as u64).saturating_sub(3).max(1);
        }
        self.file.seek(SeekFrom::Start(self.offset))?;
        Ok(None)
    }
}

/// A whole valid record at the cursor (with `left` bytes left in the file)
/// and its size, or `None`.
fn read_at_cursor(file: &mut impl Read, left: u64) -> io::Result<Option<(Record, u64)>> {
    if left < FRAME as u64 {
        return Ok(None);
    }
    let mut head = [0u8; FRAME];
    file.read_exact(&mut head)?;
    let Some(len) = record::frame_len(&head) else {
        return Ok(None);
    };
    if (FRAME + len) as u64 > left {
        return Ok(None);
    }
    let mut payload = vec![0u8; len];
    file.read_exact(&mut payload)?;
    Ok(record::decode(&head, &payload).map(|r| (r, (FRAME + len) as u64)))
}
