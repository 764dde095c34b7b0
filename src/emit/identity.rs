//! The identifiers a callback or request line carries, written in the
//! formats the service uses: UUIDs, base64 server call ids, and
//! `CommunicationIdentifierModel` objects for participants.

use crate::engine::ids::{self, IdKind, Identity};
use base64::Engine;

pub fn write_call_connection_id(out: &mut Vec<u8>, seed: u64, call: u64) {
    ids::write_uuid(out, ids::id128(seed, call, IdKind::CallConnection, 0));
}

pub fn write_correlation_id(out: &mut Vec<u8>, seed: u64, call: u64) {
    ids::write_uuid(out, ids::id128(seed, call, IdKind::Correlation, 0));
}

pub fn write_event_id(out: &mut Vec<u8>, seed: u64, call: u64, seq: u32) {
    ids::write_uuid(out, ids::id128(seed, call, IdKind::Event, seq as u64));
}

pub fn write_recording_id(out: &mut Vec<u8>, seed: u64, call: u64) {
    ids::write_uuid(out, ids::id128(seed, call, IdKind::Recording, 0));
}

/// A server call id is the base64 of the conversation URL of the call.
pub fn write_server_call_id(out: &mut Vec<u8>, seed: u64, call: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bits = ids::id128(seed, call, IdKind::ServerCall, 0);
    let mut url: Vec<u8> = Vec::with_capacity(128);
    url.extend_from_slice(b"https://api.flightproxy.skype.com/api/v2/cp/conv-usea-02.conv.skype.com/conv/");
    for i in 0..22 {
        url.push(HEX[((bits >> (4 * i)) & 0xf) as usize]);
    }
    url.extend_from_slice(b"?i=10&e=");
    url.extend_from_slice(itoa::Buffer::new().format(638_000_000_000_000_000u64 + (bits >> 64) as u64 % 1_000_000_000_000_000).as_bytes());
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
            out.extend_from_slice(b"\",\"kind\":\"communicationUser\",\"communicationUser\":{\"id\":\"");
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
        write_server_call_id(&mut out, 3, 4);
        let url = base64::engine::general_purpose::STANDARD.decode(&out).unwrap();
        let url = String::from_utf8(url).unwrap();
        assert!(url.starts_with("https://api.flightproxy.skype.com/api/v2/cp/"), "{url}");
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
