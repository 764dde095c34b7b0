//! The identifiers a callback or request line carries, written in the
//! formats the service uses: UUIDs, base64 server call ids, and
//! `CommunicationIdentifierModel` objects for participants.
//!
//! Every callback repeats its call's connection id three times, plus the
//! correlation and server call ids; deriving and formatting them per event
//! dominated encoding, so the text of each call's ids is cached in a small
//! direct-mapped table (calls interleave, but only a few thousand are live).

use crate::engine::ids::{self, IdKind, Identity};
use base64::Engine;

/// Cache slots; a power of two comfortably above typical live calls.
const SLOTS: usize = 1 << 13;
const SERVER_CALL_ID_MAX: usize = 192;

struct CallText {
    call: u64,
    connection: [u8; 36],
    correlation: [u8; 36],
    server_len: usize,
    server: [u8; SERVER_CALL_ID_MAX],
}

/// Writes a workload's identifiers; one per encoder.
pub struct IdWriter {
    seed: u64,
    cache: Vec<CallText>,
}

impl IdWriter {
    pub fn new(seed: u64) -> IdWriter {
        IdWriter {
            seed,
            cache: Vec::new(),
        }
    }

    fn call_text(&mut self, call: u64) -> &CallText {
        if self.cache.is_empty() {
            self.cache = (0..SLOTS)
                .map(|_| CallText {
                    call: u64::MAX,
                    connection: [0; 36],
                    correlation: [0; 36],
                    server_len: 0,
                    server: [0; SERVER_CALL_ID_MAX],
                })
                .collect();
        }
        let seed = self.seed;
        let entry = &mut self.cache[call as usize % SLOTS];
        if entry.call != call {
            let mut buf = Vec::with_capacity(SERVER_CALL_ID_MAX);
            ids::write_uuid(&mut buf, ids::id128(seed, call, IdKind::CallConnection, 0));
            entry.connection.copy_from_slice(&buf);
            buf.clear();
            ids::write_uuid(&mut buf, ids::id128(seed, call, IdKind::Correlation, 0));
            entry.correlation.copy_from_slice(&buf);
            buf.clear();
            server_call_id(&mut buf, seed, call);
            entry.server_len = buf.len().min(SERVER_CALL_ID_MAX);
            entry.server[..entry.server_len].copy_from_slice(&buf[..entry.server_len]);
            entry.call = call;
        }
        entry
    }

    pub fn connection(&mut self, out: &mut Vec<u8>, call: u64) {
        out.extend_from_slice(&self.call_text(call).connection);
    }

    pub fn correlation(&mut self, out: &mut Vec<u8>, call: u64) {
        out.extend_from_slice(&self.call_text(call).correlation);
    }

    pub fn server_call(&mut self, out: &mut Vec<u8>, call: u64) {
        let text = self.call_text(call);
        out.extend_from_slice(&text.server[..text.server_len]);
    }

    pub fn event(&self, out: &mut Vec<u8>, call: u64, n: u32) {
        ids::write_uuid(out, ids::id128(self.seed, call, IdKind::Event, n as u64));
    }

    pub fn recording(&self, out: &mut Vec<u8>, call: u64) {
        ids::write_uuid(out, ids::id128(self.seed, call, IdKind::Recording, 0));
    }

    pub fn participant(&self, call: u64, n: u16) -> Identity {
        ids::participant(self.seed, call, n)
    }
}

/// A server call id is the base64 of the conversation URL of the call.
fn server_call_id(out: &mut Vec<u8>, seed: u64, call: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bits = ids::id128(seed, call, IdKind::ServerCall, 0);
    let mut url: Vec<u8> = Vec::with_capacity(128);
    url.extend_from_slice(
        b"https://api.flightproxy.skype.com/api/v2/cp/conv-usea-02.conv.skype.com/conv/",
    );
    for i in 0..22 {
        url.push(HEX[((bits >> (4 * i)) & 0xf) as usize]);
    }
    url.extend_from_slice(b"?i=10&e=");
    let e = 638_000_000_000_000_000u64 + (bits >> 64) as u64 % 1_000_000_000_000_000;
    url.extend_from_slice(itoa::Buffer::new().format(e).as_bytes());
    let start = out.len();
    out.resize(start + url.len().div_ceil(3) * 4, 0);
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(&url, &mut out[start..])
        .unwrap_or(0);
    out.truncate(start + written);
}

/// The raw id of a participant: `4:+1...` or `8:acs:...`.
pub fn write_raw_id(out: &mut Vec<u8>, identity: Identity) {
    match identity {
        Identity::Phone(number) => {
            out.extend_from_slice(b"4:+1");
            out.extend_from_slice(itoa::Buffer::new().format(number).as_bytes());
        }
        Identity::AcsUser { resource, user } => {
            out.extend_from_slice(b"8:acs:");
            ids::write_uuid(out, resource);
            out.push(b'_');
            ids::write_uuid(out, user);
        }
    }
}

/// The participant id as the REST route carries it (URL-encoded raw id).
pub fn write_raw_id_in_path(out: &mut Vec<u8>, identity: Identity) {
    let start = out.len();
    write_raw_id(out, identity);
    let raw: Vec<u8> = out.split_off(start);
    for b in raw {
        match b {
            b':' => out.extend_from_slice(b"%3A"),
            b'+' => out.extend_from_slice(b"%2B"),
            _ => out.push(b),
        }
    }
}

/// A `CommunicationIdentifierModel` JSON object.
pub fn write_identifier(out: &mut Vec<u8>, identity: Identity) {
    out.extend_from_slice(b"{\"rawId\":\"");
    write_raw_id(out, identity);
    match identity {
        Identity::Phone(number) => {
            out.extend_from_slice(b"\",\"kind\":\"phoneNumber\",\"phoneNumber\":{\"value\":\"+1");
            out.extend_from_slice(itoa::Buffer::new().format(number).as_bytes());
            out.extend_from_slice(b"\"}}");
        }
        Identity::AcsUser { .. } => {
            out.extend_from_slice(
                b"\",\"kind\":\"communicationUser\",\"communicationUser\":{\"id\":\"",
            );
            write_raw_id(out, identity);
            out.extend_from_slice(b"\"}}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_call_ids_decode_to_a_conversation_url() {
        let mut out = Vec::new();
        IdWriter::new(3).server_call(&mut out, 4);
        let url = base64::engine::general_purpose::STANDARD
            .decode(&out)
            .unwrap();
        let url = String::from_utf8(url).unwrap();
        assert!(
            url.starts_with("https://api.flightproxy.skype.com/api/v2/cp/"),
            "{url}"
        );
    }

    #[test]
    fn cached_ids_equal_fresh_ones_after_slot_reuse() {
        let mut ids = IdWriter::new(5);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        ids.connection(&mut a, 7);
        ids.connection(&mut a, 7 + SLOTS as u64); // evicts call 7
        ids.connection(&mut b, 7);
        assert_eq!(a[..36], b[..]);
        let mut fresh = Vec::new();
        ids::write_uuid(&mut fresh, ids::id128(5, 7, IdKind::CallConnection, 0));
        assert_eq!(fresh, b);
    }

    #[test]
    fn identifiers_are_communication_identifier_models() {
        let mut out = Vec::new();
        write_identifier(&mut out, Identity::Phone(4_255_550_123));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["rawId"], "4:+14255550123");
        assert_eq!(v["phoneNumber"]["value"], "+14255550123");
        let mut path = Vec::new();
        write_raw_id_in_path(&mut path, Identity::Phone(4_255_550_123));
        assert_eq!(path, b"4%3A%2B14255550123");
    }
}
