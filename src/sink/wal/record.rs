//! The log's records, byte for byte. Version 2 (files that start with
//! [`HEADER`]):
//!
//! `magic: u32 | len: u32 | crc32(len ++ payload): u32 | payload`
//!
//! The magic lets a reader find the next record after damaged bytes; the
//! checksum covers the length, so a flipped length byte is caught too.
//! Payload: `kind: u8`, then
//! - samples (0) or aggregates (1): a [`BatchKey`] slot (`route: u8`, 0
//!   for none), `count: u32` and `count` entries of 25 bytes (series, time,
//!   value) or 49 bytes (series, time, count, total, minimum, maximum);
//!   samples only when every entry is a single value;
//! - keys (2): `count: u32` and `count` keys, what a compaction carries
//!   over of the applied batches;
//! - rolled (3): `before: i64`, written first by a compaction once cells
//!   were rolled into minutes: aggregates before that time are per minute.
//!
//! A key is `route: u8 | len: u16 | key | digest flag: u8 | digest: 16`
//! (flag 0: none, 1: SHA-256, 2: BLAKE3).
//! Version 1 logs (no header) are read by [`legacy_record`] and migrated.
//! The whole format, for readers to come: `docs/wal-format.md`.

use super::super::sample::Sample;
use crate::model::{Aggregate, Series, SeriesParts};

/// The first bytes of a log of the current version, 4: version 3 plus
/// BLAKE3 body digests (digest flag 2), which a version 3 reader would take
/// for damage.
pub(crate) const HEADER: &[u8; 8] = b"CMWAL04\n";
/// A version 3 log: version 2 plus the rolled record (3) and
/// recording-request samples (tag 3); read as is, rewritten as 4.
pub(crate) const HEADER_V3: &[u8; 8] = b"CMWAL03\n";
/// A version 2 log: the same framing, read as is and rewritten as 4.
pub(crate) const HEADER_V2: &[u8; 8] = b"CMWAL02\n";
/// Every record starts with it: "CMRC".
pub(crate) const MAGIC: u32 = u32::from_le_bytes(*b"CMRC");
/// magic, len, crc.
pub(crate) const FRAME: usize = 12;
/// A longer payload is damage, not a record (bodies are capped far below).
pub(crate) const MAX_PAYLOAD: usize = 1 << 30;

pub(super) const SAMPLE_BYTES: usize = 25;
pub(super) const AGGREGATE_BYTES: usize = 49;
/// A key's bytes besides its text: route, length, digest flag, digest.
pub(super) const KEY_FIXED: usize = 20;
pub(super) const SAMPLES: u8 = 0;
pub(super) const AGGREGATES: u8 = 1;
pub(super) const KEYS: u8 = 2;
pub(super) const ROLLED: u8 = 3;

/// The endpoint a batch came through: each has its own idempotency keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    Ingest = 1,
    Callbacks = 2,
    Documents = 3,
}

impl Route {
    fn from_byte(b: u8) -> Option<Route> {
        match b {
            1 => Some(Route::Ingest),
            2 => Some(Route::Callbacks),
            3 => Some(Route::Documents),
            _ => None,
        }
    }
}

/// A digest of a batch's body (its first 16 bytes): BLAKE3 from version 4
/// on, which is several times faster than SHA-256 on the sink's largest
/// cost after parsing; SHA-256 for keys remembered by versions 2 and 3,
/// kept as they are so a retry across an upgrade is still compared
/// exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyDigest {
    Sha256([u8; 16]),
    Blake3([u8; 16]),
}

impl BodyDigest {
    /// The digest new keys get.
    pub(crate) fn of(body: &[u8]) -> BodyDigest {
        let hash = blake3::hash(body);
        BodyDigest::Blake3(first_16(hash.as_bytes()))
    }

    /// A digest of `body` of the same kind as this one, to compare them.
    pub(crate) fn same_kind_of(self, body: &[u8]) -> BodyDigest {
        match self {
            BodyDigest::Blake3(_) => BodyDigest::of(body),
            BodyDigest::Sha256(_) => {
                use sha2::Digest;
                BodyDigest::Sha256(first_16(&sha2::Sha256::digest(body)))
            }
        }
    }

    fn flag_and_bytes(self) -> (u8, [u8; 16]) {
        match self {
            BodyDigest::Sha256(d) => (1, d),
            BodyDigest::Blake3(d) => (2, d),
        }
    }
}

fn first_16(hash: &[u8]) -> [u8; 16] {
    let mut out = [0; 16];
    out.copy_from_slice(&hash[..16]);
    out
}

/// An applied batch's idempotency key, with a digest of its body (none for
/// keys migrated from a version 1 log, which had no digests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchKey {
    pub route: Route,
    pub key: String,
    pub digest: Option<BodyDigest>,
}

/// What one record holds.
#[derive(Debug, PartialEq)]
pub enum Record {
    /// A batch: applied together, with its key if it had one.
    Batch {
        key: Option<BatchKey>,
        samples: Vec<Sample>,
    },
    /// Keys of batches applied before a compaction.
    Keys(Vec<BatchKey>),
    /// Aggregates before this time (Unix ms) are per minute.
    Rolled(i64),
}

/// The whole record (frame and payload) for `payload`.
pub(crate) fn frame(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_le_bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len);
    crc.update(payload);
    let mut out = Vec::with_capacity(FRAME + payload.len());
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&len);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The payload of a batch record.
pub(crate) fn batch_payload(key: Option<&BatchKey>, samples: &[Sample]) -> Vec<u8> {
    // The samples encoding holds one value, which replay takes for count 1
    // and minimum = maximum = total: anything else (POST /metrics takes a
    // count-1 aggregate with min < sum < max) must keep all four fields.
    let aggregates = samples
        .iter()
        .any(|s| s.aggregate != Aggregate::of(s.aggregate.total));
    let entry = if aggregates {
        AGGREGATE_BYTES
    } else {
        SAMPLE_BYTES
    };
    let mut out = Vec::with_capacity(32 + samples.len() * entry);
    out.push(if aggregates { AGGREGATES } else { SAMPLES });
    match key {
        Some(key) => encode_key(&mut out, key),
        None => out.push(0),
    }
    out.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    for s in samples {
        encode_sample(&mut out, s, aggregates);
    }
    out
}

/// The payload of a keys record.
pub(crate) fn keys_payload(keys: &[BatchKey]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + keys.len() * 64);
    out.push(KEYS);
    out.extend_from_slice(&(keys.len() as u32).to_le_bytes());
    for key in keys {
        encode_key(&mut out, key);
    }
    out
}

/// The payload of a rolled record.
pub(crate) fn rolled_payload(before: i64) -> Vec<u8> {
    let mut out = vec![ROLLED];
    out.extend_from_slice(&before.to_le_bytes());
    out
}

/// Checks a frame's header: the payload length, if `head` (12 bytes) can
/// start a record.
pub(crate) fn frame_len(head: &[u8; FRAME]) -> Option<usize> {
    let magic = u32::from_le_bytes(head[0..4].try_into().ok()?);
    let len = u32::from_le_bytes(head[4..8].try_into().ok()?) as usize;
    (magic == MAGIC && len <= MAX_PAYLOAD).then_some(len)
}

/// Whether `tail` (the first bytes of the `tail_len` bytes from a record's
/// start to the end of the file) can be the start of a record whose append
/// a crash cut short: a prefix of the magic, or the magic with a length
/// past the end and a payload that agrees with that length as far as it
/// goes. Anything else there is damage to a written record, which may have
/// been acknowledged: a whole record failing its checksum, or a flipped
/// length that no longer matches the payload's own counts.
pub(crate) fn torn_prefix(tail: &[u8], tail_len: u64) -> bool {
    let magic = MAGIC.to_le_bytes();
    if tail.len() < magic.len() {
        return magic.starts_with(tail);
    }
    if tail[..4] != magic {
        return false;
    }
    let Some(len) = tail.get(4..8) else {
        return true;
    };
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if len > MAX_PAYLOAD || (FRAME + len) as u64 <= tail_len {
        return false;
    }
    payload_agrees(tail.get(FRAME..).unwrap_or_default(), len)
}

/// Whether a payload starting with `prefix` can be `len` bytes long, as
/// far as the prefix tells.
fn payload_agrees(prefix: &[u8], len: usize) -> bool {
    let mut r = Bytes(prefix);
    let Some(kind) = r.u8() else {
        return true;
    };
    match kind {
        SAMPLES | AGGREGATES => {
            let entry = if kind == AGGREGATES {
                AGGREGATE_BYTES
            } else {
                SAMPLE_BYTES
            };
            let slot = match r.peek() {
                None => return true,
                Some(0) => 1,
                Some(_) => match key_size(r.0) {
                    Some(size) => size,
                    None => return true,
                },
            };
            match r.0.get(slot..slot + 4) {
                Some(count) => {
                    let count = u32::from_le_bytes([count[0], count[1], count[2], count[3]]);
                    1 + slot as u64 + 4 + u64::from(count) * entry as u64 == len as u64
                }
                None => true,
            }
        }
        KEYS => {
            let Some(count) = r.u32() else {
                return true;
            };
            let mut size = 5usize;
            for _ in 0..count {
                // The prefix ends before this key's length: room for it will do.
                let Some(key) = key_size(r.0) else {
                    return size + KEY_FIXED <= len;
                };
                size += key;
                if size > len {
                    return false;
                }
                if r.take(key).is_none() {
                    return true;
                }
            }
            size == len
        }
        ROLLED => len == 9,
        _ => false,
    }
}

/// The encoded size of the key at the start of `b`, if its length field
/// is there.
pub(super) fn key_size(b: &[u8]) -> Option<usize> {
    let len = b.get(1..3)?;
    Some(KEY_FIXED + u16::from_le_bytes([len[0], len[1]]) as usize)
}

/// The record in `payload`, if the frame's checksum and the contents hold.
pub(crate) fn decode(head: &[u8; FRAME], payload: &[u8]) -> Option<Record> {
    let crc = u32::from_le_bytes(head[8..12].try_into().ok()?);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&head[4..8]);
    hasher.update(payload);
    if hasher.finalize() != crc {
        return None;
    }
    let mut r = Bytes(payload);
    let record = match r.u8()? {
        kind @ (SAMPLES | AGGREGATES) => {
            let key = match r.peek()? {
                0 => {
                    r.u8()?;
                    None
                }
                _ => Some(decode_key(&mut r)?),
            };
            let count = r.u32()? as usize;
            let entry = if kind == AGGREGATES {
                AGGREGATE_BYTES
            } else {
                SAMPLE_BYTES
            };
            let body = r.rest();
            if body.len() != count.checked_mul(entry)? {
                return None;
            }
            let samples = body
                .chunks_exact(entry)
                .map(decode_sample)
                .collect::<Option<Vec<_>>>()?;
            Record::Batch { key, samples }
        }
        KEYS => {
            let count = r.u32()? as usize;
            // Each key takes at least 20 bytes: a count beyond that is damage.
            if count > r.0.len() / 20 {
                return None;
            }
            let keys = (0..count)
                .map(|_| decode_key(&mut r))
                .collect::<Option<Vec<_>>>()?;
            if !r.rest().is_empty() {
                return None;
            }
            Record::Keys(keys)
        }
        ROLLED => {
            let before = r.u64()? as i64;
            if !r.rest().is_empty() || before.rem_euclid(60_000) != 0 {
                return None;
            }
            Record::Rolled(before)
        }
        _ => return None,
    };
    Some(record)
}

/// A version 1 record at the start of `b` (`len | crc32(payload) |
/// key_len: u16 | key | count: u32 (top bit: aggregates) | entries`) and
/// its length; `Err(true)` when `b` ends inside it (a torn tail), `Err(false)`
/// when it is damaged.
pub(crate) fn legacy_record(b: &[u8]) -> Result<(Record, usize), bool> {
    let torn = |n: usize| b.len() < n;
    if torn(8) {
        return Err(true);
    }
    let len = u32::from_le_bytes(b[0..4].try_into().map_err(|_| false)?) as usize;
    let crc = u32::from_le_bytes(b[4..8].try_into().map_err(|_| false)?);
    if len > MAX_PAYLOAD {
        return Err(false);
    }
    if torn(8 + len) {
        return Err(true);
    }
    let payload = &b[8..8 + len];
    if crc32fast::hash(payload) != crc {
        return Err(false);
    }
    let decoded = (|| {
        let mut r = Bytes(payload);
        let key_len = r.u16()? as usize;
        let key = std::str::from_utf8(r.take(key_len)?).ok()?;
        let count = r.u32()?;
        let entry = if count & (1 << 31) != 0 {
            AGGREGATE_BYTES
        } else {
            SAMPLE_BYTES
        };
        let count = (count & !(1 << 31)) as usize;
        let body = r.rest();
        if body.len() != count * entry {
            return None;
        }
        let samples = body
            .chunks_exact(entry)
            .map(decode_sample)
            .collect::<Option<Vec<_>>>()?;
        let key = (!key.is_empty()).then(|| BatchKey {
            route: Route::Ingest,
            key: key.to_string(),
            digest: None,
        });
        Some(Record::Batch { key, samples })
    })();
    decoded.map(|r| (r, 8 + len)).ok_or(false)
}

/// A version 1 record, as the log was written before version 2.
#[cfg(test)]
pub(crate) fn legacy_frame(key: &str, samples: &[Sample]) -> Vec<u8> {
    let mut payload = Vec::new();
    payload.extend_from_slice(&(key.len() as u16).to_le_bytes());
    payload.extend_from_slice(key.as_bytes());
    payload.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    for s in samples {
        encode_sample(&mut payload, s, false);
    }
    let mut out = Vec::new();
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

fn encode_key(out: &mut Vec<u8>, key: &BatchKey) {
    out.push(key.route as u8);
    out.extend_from_slice(&(key.key.len() as u16).to_le_bytes());
    out.extend_from_slice(key.key.as_bytes());
    match key.digest {
        Some(d) => {
            let (flag, bytes) = d.flag_and_bytes();
            out.push(flag);
            out.extend_from_slice(&bytes);
        }
        None => {
            out.push(0);
            out.extend_from_slice(&[0; 16]);
        }
    }
}

fn decode_key(r: &mut Bytes) -> Option<BatchKey> {
    let route = Route::from_byte(r.u8()?)?;
    let len = r.u16()? as usize;
    let key = std::str::from_utf8(r.take(len)?).ok()?.to_string();
    let has_digest = r.u8()?;
    let digest: [u8; 16] = r.take(16)?.try_into().ok()?;
    let digest = match has_digest {
        0 => None,
        1 => Some(BodyDigest::Sha256(digest)),
        2 => Some(BodyDigest::Blake3(digest)),
        _ => return None,
    };
    Some(BatchKey { route, key, digest })
}

fn encode_sample(out: &mut Vec<u8>, s: &Sample, aggregate: bool) {
    let p = s.series.parts();
    out.push(p.tag);
    out.push(p.subject);
    out.extend_from_slice(&p.code.to_le_bytes());
    out.extend_from_slice(&p.sub_code.to_le_bytes());
    out.push(p.version);
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
    let mut r = Bytes(b);
    let parts = SeriesParts {
        tag: r.u8()?,
        subject: r.u8()?,
        code: r.u16()?,
        sub_code: r.u32()?,
        version: r.u8()?,
    };
    let time_ms = r.u64()? as i64;
    let aggregate = if b.len() == AGGREGATE_BYTES {
        let [count, total, minimum, maximum] = [r.u64()?, r.u64()?, r.u64()?, r.u64()?];
        if count == 0 || minimum > maximum {
            return None;
        }
        Aggregate {
            count,
            total,
            minimum,
            maximum,
        }
    } else {
        Aggregate::of(r.u64()?)
    };
    let series = Series::from_parts(parts)?;
    Some(Sample {
        series,
        time_ms,
        aggregate,
    })
}

/// A cursor over a payload; every read is bounds-checked.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }
    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::catalog::{ApiVersion, EventType};
    use crate::model::CallbackDims;

    pub(crate) fn sample(n: u64) -> Sample {
        let series = Series::Callbacks(CallbackDims {
            event: EventType::PlayFailed,
            code: 400,
            sub_code: 8535,
            version: ApiVersion::default_version(),
        });
        Sample::one(series, 1_767_225_600_000 + n as i64, n)
    }

    fn roundtrip(payload: &[u8]) -> Option<Record> {
        let bytes = frame(payload);
        let head: [u8; FRAME] = bytes[..FRAME].try_into().unwrap();
        assert_eq!(frame_len(&head), Some(payload.len()));
        decode(&head, &bytes[FRAME..])
    }

    #[test]
    fn batches_and_keys_round_trip() {
        let key = BatchKey {
            route: Route::Callbacks,
            key: "batch-7".into(),
            digest: Some(BodyDigest::Blake3([7; 16])),
        };
        let many = Sample {
            aggregate: Aggregate {
                count: 3,
                total: 30,
                minimum: 5,
                maximum: 20,
            },
            ..sample(4)
        };
        for (key, samples) in [
            (Some(key.clone()), vec![sample(1), sample(2)]),
            (None, vec![sample(3), many]),
        ] {
            assert_eq!(
                roundtrip(&batch_payload(key.as_ref(), &samples)),
                Some(Record::Batch { key, samples })
            );
        }
        let keys = vec![
            key,
            BatchKey {
                route: Route::Ingest,
                key: "old".into(),
                digest: None,
            },
        ];
        assert_eq!(
            roundtrip(&keys_payload(&keys)),
            Some(Record::Keys(keys.clone()))
        );
        let before = 1_767_225_600_000 + 600_000;
        assert_eq!(
            roundtrip(&rolled_payload(before)),
            Some(Record::Rolled(before))
        );
        assert_eq!(roundtrip(&rolled_payload(before + 1)), None);
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let bytes = frame(&batch_payload(None, &[sample(1), sample(2)]));
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            let head: [u8; FRAME] = damaged[..FRAME].try_into().unwrap();
            let whole = frame_len(&head).filter(|&n| n == damaged.len() - FRAME);
            assert!(
                whole.is_none_or(|_| decode(&head, &damaged[FRAME..]).is_none()),
                "byte {at}"
            );
        }
    }
}
