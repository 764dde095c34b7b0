//! Telling a log's version from its first bytes. A damaged header must
//! never read as another version: a version 1 reader takes a flipped
//! header for a record length and trims every record after it as a torn
//! tail. So version 1 is taken only for a file that is plainly not a
//! damaged header and whose first record is whole and valid as version 1;
//! anything else that is not a known header is damage.

use super::record::{self, HEADER, HEADER_V2, HEADER_V3};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Version {
    /// No bytes yet.
    Empty,
    /// Fewer than 8 bytes, all of the header: a crash while the log was
    /// being created, before anything was appended.
    TornHeader,
    Current,
    /// The current framing under an older header.
    Version3,
    Version2,
    /// No header; records framed as version 1.
    Version1,
    /// Neither a header nor a version 1 log.
    Damaged,
}

/// Headers this many bits or fewer from a known one are damaged headers,
/// whatever follows them.
const NEAR: u32 = 16;

/// The version of a log starting with `head` (its first 8 bytes, or all of
/// a shorter file); `first_v1_record` is the file as far as a version 1
/// record at its start would reach, read only when needed.
pub(super) fn version(head: &[u8], first_v1_record: impl FnOnce() -> Vec<u8>) -> Version {
    if head.is_empty() {
        return Version::Empty;
    }
    if head == HEADER {
        return Version::Current;
    }
    if head == HEADER_V3 {
        return Version::Version3;
    }
    if head == HEADER_V2 {
        return Version::Version2;
    }
    if head.len() < HEADER.len() {
        return if HEADER.starts_with(head) {
            Version::TornHeader
        } else {
            Version::Damaged
        };
    }
    let near = |known: &[u8; 8]| {
        head.iter()
            .zip(known)
            .map(|(a, b)| (a ^ b).count_ones())
            .sum::<u32>()
            <= NEAR
    };
    if near(HEADER) || near(HEADER_V3) || near(HEADER_V2) {
        return Version::Damaged;
    }
    match record::legacy_record(&first_v1_record()) {
        Ok(_) => Version::Version1,
        Err(_) => Version::Damaged,
    }
}

/// How many bytes a version 1 record at the start of a file beginning
/// with `head` (8 bytes) takes, frame included: what [`version`] reads.
pub(super) fn v1_record_len(head: &[u8; 8]) -> u64 {
    8 + u64::from(u32::from_le_bytes([head[0], head[1], head[2], head[3]]))
}
