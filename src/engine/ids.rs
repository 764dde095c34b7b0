//! Deterministic identifiers: call connection, correlation, server call,
//! recording and CloudEvent ids, and participant identities. Each derives
//! from (seed, call, purpose, n) by hashing, so an encoder can recreate any
//! of them from an event alone and they never depend on generation order.

use super::sample::mix64;

#[derive(Clone, Copy)]
pub enum IdKind {
    CallConnection = 1,
    Correlation = 2,
    ServerCall = 3,
    Recording = 4,
    Event = 5,
    Participant = 6,
    Resource = 7,
}

/// 128 deterministic bits for (seed, call, kind, n).
pub fn id128(seed: u64, call: u64, kind: IdKind, n: u64) -> u128 {
    let base = mix64(seed ^ mix64(call ^ ((kind as u64) << 58) ^ mix64(n)));
    let hi = mix64(base);
    let lo = mix64(base ^ 0x5851_f42d_4c95_7f2d);
    ((hi as u128) << 64) | lo as u128
}

/// Two lowercase hex digits per byte value.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    t
};

/// Appends `bits` as a version-4 UUID (lowercase, hyphenated).
pub fn write_uuid(out: &mut Vec<u8>, bits: u128) {
    // Version 4 and RFC 4122 variant, as real v4 UUIDs have.
    let v = (bits & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let bytes = v.to_be_bytes();
    let mut buf = [b'-'; 36];
    // Hex pairs go around the hyphens at 8, 13, 18 and 23.
    const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    for (byte, at) in bytes.iter().zip(AT) {
        buf[at..at + 2].copy_from_slice(&HEX_PAIRS[*byte as usize]);
    }
    out.extend_from_slice(&buf);
}

/// A participant's identity: what `CommunicationIdentifierModel` carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// E.164 number, digits after "+1".
    Phone(u64),
    /// ACS user: `8:acs:<resource>_<user>`.
    AcsUser { resource: u128, user: u128 },
}

/// Participant `n` of a call: 0 is the PSTN caller, 1 the app's ACS
/// identity, later ones alternate between phone numbers and ACS users.
pub fn participant(seed: u64, call: u64, n: u16) -> Identity {
    let bits = id128(seed, call, IdKind::Participant, n as u64);
    let phone = n == 0 || (n >= 2 && bits & 1 == 0);
    if phone {
        // North-American numbers in the 555-01xx fiction range widened to
        // ten digits: area code 200-999, then 555, then four digits.
        let area = 200 + (bits >> 8) % 800;
        let line = (bits >> 24) % 10_000;
        Identity::Phone((area * 10_000_000 + 5_550_000 + line) as u64)
    } else {
        Identity::AcsUser {
            resource: id128(seed, 0, IdKind::Resource, 0),
            user: bits,
        }
    }
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
    fn the_caller_is_a_phone_number() {
        assert!(
            matches!(participant(5, 9, 0), Identity::Phone(n) if (2_000_000_000..10_000_000_000).contains(&n))
        );
        assert!(matches!(participant(5, 9, 1), Identity::AcsUser { .. }));
    }
}
