//! Reading what damaged bytes held, without their checksums, so that
//! `--repair` can say how many idempotency keys and cells it moved aside
//! (a lost key lets a retry count twice: the operator must know). Nothing
//! read here is replayed; the counts are what the damaged bytes still say
//! about themselves, taken only where the record's structure agrees with
//! its length.

use super::record::{
    AGGREGATE_BYTES, AGGREGATES, FRAME, KEY_FIXED, KEYS, MAGIC, ROLLED, SAMPLE_BYTES, SAMPLES,
    key_size,
};
use super::report::Contents;
// Bounds how many keys a keys record of some size can hold.
use crate::sink::http::MAX_KEY_BYTES as MAX_KEY_TEXT;

/// What `bytes` (a damaged range, starting where a record was expected)
/// held, and how many of its bytes no record could be read from.
pub(super) fn held(bytes: &[u8]) -> (Contents, u64) {
    let mut held = Contents::default();
    // Mostly one damaged record: its frame at the start, the next valid
    // record right after its end, whatever its length field says.
    if read_frame(bytes, &mut held) {
        return (held, 0);
    }
    // Else several: split where a record's magic is.
    let magic = MAGIC.to_le_bytes();
    let mut starts: Vec<usize> = bytes
        .windows(4)
        .enumerate()
        .filter(|(i, w)| *i > 0 && *w == magic)
        .map(|(i, _)| i)
        .collect();
    starts.insert(0, 0);
    starts.push(bytes.len());
    let mut unreadable = 0u64;
    for piece in starts.windows(2) {
        let piece = &bytes[piece[0]..piece[1]];
        if !read_frame(piece, &mut held) {
            unreadable += piece.len() as u64;
        }
    }
    (held, unreadable)
}

/// Counts the record framed in `bytes` into `held`, if its payload (all
/// of `bytes` after the frame) reads as a record.
fn read_frame(bytes: &[u8], held: &mut Contents) -> bool {
    let Some(payload) = bytes.get(FRAME..) else {
        return false;
    };
    let mut this = Contents::default();
    if !read_payload(payload, &mut this) {
        return false;
    }
    this.records = 1;
    merge(held, &this);
    true
}

fn merge(into: &mut Contents, from: &Contents) {
    into.records += from.records;
    into.keys += from.keys;
    into.cells += from.cells;
    into.events = into.events.saturating_add(from.events);
    into.rolled |= from.rolled;
    into.times = match (into.times, from.times) {
        (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
        (a, b) => a.or(b),
    };
}

fn read_payload(p: &[u8], held: &mut Contents) -> bool {
    let Some((&kind, rest)) = p.split_first() else {
        return false;
    };
    match kind {
        SAMPLES | AGGREGATES => {
            let entry = if kind == AGGREGATES {
                AGGREGATE_BYTES
            } else {
                SAMPLE_BYTES
            };
            let (keyed, slot) = match rest.first() {
                Some(0) => (false, 1),
                Some(_) => match key_size(rest) {
                    Some(size) => (true, size),
                    None => return false,
                },
                None => return false,
            };
            let Some(count) = rest.get(slot..slot + 4) else {
                return false;
            };
            let count = u32::from_le_bytes([count[0], count[1], count[2], count[3]]) as u64;
            let Some(entries) = rest.get(slot + 4..) else {
                return false;
            };
            if entries.len() as u64 != count * entry as u64 {
                return false;
            }
            held.keys += u64::from(keyed);
            for e in entries.chunks_exact(entry) {
                let time = i64::from_le_bytes(e[9..17].try_into().unwrap_or_default());
                let events = if kind == AGGREGATES {
                    u64::from_le_bytes(e[17..25].try_into().unwrap_or_default())
                } else {
                    1
                };
                held.cell(time, events);
            }
            true
        }
        KEYS => {
            let Some(count) = rest.get(..4) else {
                return false;
            };
            let count = u32::from_le_bytes([count[0], count[1], count[2], count[3]]) as u64;
            let keys = &rest[4..];
            if walk_keys(keys) == Some(count)
                || (count * KEY_FIXED as u64 <= keys.len() as u64
                    && keys.len() as u64 <= count * (KEY_FIXED + MAX_KEY_TEXT) as u64)
            {
                // A damaged key length breaks the walk; the count field,
                // when the size agrees with it, still says how many.
                held.keys += count;
                return true;
            }
            false
        }
        ROLLED => {
            held.rolled = rest.len() == 8;
            held.rolled
        }
        _ => false,
    }
}

/// How many whole keys `b` holds, if it is keys and nothing else.
fn walk_keys(mut b: &[u8]) -> Option<u64> {
    let mut n = 0;
    while !b.is_empty() {
        b = b.get(key_size(b)?..)?;
        n += 1;
    }
    Some(n)
}
