//! Deterministic identifiers: call connection, correlation, server call,
//! recording and CloudEvent ids, and participant identities. Each derives
//! from (key, call, purpose, n) by hashing, so an encoder can recreate any
//! of them from an event alone and they never depend on generation order.
//! The key mixes the seed with the scenario's digest (`IdKey`).

use super::Workload;
use super::sample::mix64;
use crate::scenario::Scenario;

/// What a workload's identifiers derive from: a key mixing the seed with
/// the scenario's digest, so two scenarios generated with the same seed
/// (the default is 1) share no id, and the workload's start, the epoch
/// server call ids are stamped before. The shard is left out on purpose:
/// call indices are global, so shards never share a call, and each shard
/// writes exactly the ids the unsharded workload writes for its calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdKey {
    pub(crate) key: u64,
    /// Unix milliseconds every call starts at or after.
    pub(crate) epoch_ms: i64,
}

impl IdKey {
    pub fn of(scenario: &Scenario, workload: &Workload) -> IdKey {
        IdKey::new(workload.seed, scenario.sha256.as_bytes(), workload.start_ms)
    }

    /// `digest` is the scenario's (any bytes; its hex text in practice).
    pub(crate) fn new(seed: u64, digest: &[u8], epoch_ms: i64) -> IdKey {
        let digest = digest
            .iter()
            .fold(0x6a09_e667_f3bc_c908, |h, &b| mix64(h ^ b as u64));
        IdKey {
            key: mix64(seed ^ mix64(digest)),
            epoch_ms,
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) enum IdKind {
    CallConnection = 1,
    Correlation = 2,
    ServerCall = 3,
    Recording = 4,
    Event = 5,
    Participant = 6,
    Resource = 7,
    /// A conversation server instance (host, address, start stamp).
    ServerInstance = 8,
}

/// 128 deterministic bits for (key, call, kind, n).
pub(crate) fn id128(key: u64, call: u64, kind: IdKind, n: u64) -> u128 {
    let base = mix64(key ^ mix64(call ^ ((kind as u64) << 58) ^ mix64(n)));
    let hi = mix64(base);
    let lo = mix64(base ^ 0x5851_f42d_4c95_7f2d);
    ((hi as u128) << 64) | lo as u128
}

/// Eight lowercase hex digits of `v`, most significant first: the nibbles
/// are spread one per byte and turned into ASCII with word arithmetic, no
/// table lookups (UUIDs are written for every callback).
fn hex8(v: u32) -> [u8; 8] {
    let mut x = v as u64;
    x = (x | x << 16) & 0x0000_ffff_0000_ffff;
    x = (x | x << 8) & 0x00ff_00ff_00ff_00ff;
    x = (x | x << 4) & 0x0f0f_0f0f_0f0f_0f0f;
    // 1 in each byte whose nibble is 10 or more, which then needs 'a' - 10.
    let letters = ((x + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    (x + 0x3030_3030_3030_3030 + letters * (b'a' - b'0' - 10) as u64).to_be_bytes()
}

/// Appends `bits` as a version-4 UUID (lowercase, hyphenated).
pub(crate) fn write_uuid(out: &mut Vec<u8>, bits: u128) {
    out.extend_from_slice(&uuid_text(bits));
}

/// `bits` as a version-4 UUID (lowercase, hyphenated).
pub(crate) fn uuid_text(bits: u128) -> [u8; 36] {
    // Version 4 and RFC 4122 variant, as real v4 UUIDs have.
    let v = (bits & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let [a, b, c, d] = [96, 64, 32, 0].map(|shift| hex8((v >> shift) as u32));
    let mut text = [b'-'; 36];
    text[..8].copy_from_slice(&a);
    text[9..13].copy_from_slice(&b[..4]);
    text[14..18].copy_from_slice(&b[4..]);
    text[19..23].copy_from_slice(&c[..4]);
    text[24..28].copy_from_slice(&c[4..]);
    text[28..].copy_from_slice(&d);
    text
}

/// A participant's identity: what `CommunicationIdentifierModel` carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Identity {
    /// E.164 number, digits after "+1".
    Phone(u64),
    /// ACS user `8:acs:<resource>_<user>` of the workload's resource.
    AcsUser { user: u128 },
}

/// The ACS resource all ACS users of a workload belong to.
pub(crate) fn resource(key: u64) -> u128 {
    id128(key, 0, IdKind::Resource, 0)
}

/// Participant `n` of a call: 0 is the PSTN caller, 1 the app's ACS
/// identity, later ones alternate between phone numbers and ACS users.
pub(crate) fn participant(key: u64, call: u64, n: u16) -> Identity {
    let bits = id128(key, call, IdKind::Participant, n as u64);
    let phone = n == 0 || (n >= 2 && bits & 1 == 0);
    if phone {
        // North-American numbers in the 555-01xx fiction range widened to
        // ten digits: area code 200-999, then 555, then four digits.
        let area = 200 + rem(bits >> 8, 800);
        let line = rem(bits >> 24, 10_000);
        Identity::Phone(area * 10_000_000 + 5_550_000 + line)
    } else {
        Identity::AcsUser { user: bits }
    }
}

/// `x % m` in 64-bit arithmetic: a 128-bit remainder is a slow library call.
fn rem(x: u128, m: u64) -> u64 {
    let (hi, lo) = ((x >> 64) as u64, x as u64);
    let wrap = (u64::MAX % m + 1) % m; // 2^64 mod m
    // hi % m and wrap are below m < 2^32, so the product fits in 64 bits.
    ((hi % m) * wrap % m + lo % m) % m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4_and_stable() {
        let mut out = Vec::new();
        write_uuid(&mut out, id128(1, 2, IdKind::Event, 3));
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"));
        let mut again = Vec::new();
        write_uuid(&mut again, id128(1, 2, IdKind::Event, 3));
        assert_eq!(s.as_bytes(), &again[..]);
        assert_ne!(id128(1, 2, IdKind::Event, 3), id128(1, 2, IdKind::Event, 4));
        assert_ne!(
            id128(1, 2, IdKind::Event, 3),
            id128(1, 2, IdKind::Correlation, 3)
        );
    }

    #[test]
    fn uuids_are_the_hex_of_their_bits() {
        let mut out = Vec::new();
        let bits = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128;
        write_uuid(&mut out, bits);
        assert_eq!(out, b"01234567-89ab-4def-bedc-ba9876543210");
        out.clear();
        write_uuid(&mut out, u128::MAX);
        assert_eq!(out, b"ffffffff-ffff-4fff-bfff-ffffffffffff");
    }

    #[test]
    fn the_caller_is_a_phone_number() {
        assert!(
            matches!(participant(5, 9, 0), Identity::Phone(n) if (2_000_000_000..10_000_000_000).contains(&n))
        );
        assert!(matches!(participant(5, 9, 1), Identity::AcsUser { .. }));
    }

    #[test]
    fn remainders_of_128_bit_values_are_exact() {
        for x in [
            0u128,
            799,
            800,
            u64::MAX as u128 + 5,
            u128::MAX,
            0xdead_beef << 70,
        ] {
            for m in [800u64, 10_000, 7] {
                assert_eq!(rem(x, m) as u128, x % m as u128, "{x} % {m}");
            }
        }
    }
}
