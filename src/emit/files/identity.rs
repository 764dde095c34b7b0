//! The identifiers a callback or request line carries, written in the
//! formats the service uses: UUIDs, base64 server call ids, and
//! `CommunicationIdentifierModel` objects for participants.
//!
//! Every callback repeats its call's connection id three times, plus the
//! correlation and server call ids; deriving and formatting them per event
//! dominated encoding, so the text of each call's ids is cached in a
//! direct-mapped table (calls interleave, but only thousands are live).

use super::json_text::Snippet;
use crate::engine::Connection;
use crate::engine::ids::{self, IdKind, Identity};
use base64::Engine;

/// Cache slots: a power of two well above the live calls of long-call
/// scenarios (contact-center keeps ~9,000 open at 50 calls/s).
const SLOTS: usize = 1 << 15;

/// The URL a server call id encodes: a constant prefix, 22 hex digits of
/// the conversation and an 18-digit `e` parameter.
const CONVERSATION_PREFIX: &[u8] =
    b"https://api.flightproxy.skype.com/api/v2/cp/conv-usea-02.conv.skype.com/conv/";
/// Leading bytes of the prefix that fill whole base64 quanta: their text is
/// the same for every call, so only what follows is cached per call.
const FIXED: usize = CONVERSATION_PREFIX.len() / 3 * 3;
/// The per-call rest of the URL: prefix tail, 22 hex, `?i=10&e=`, 18 digits.
const VARIABLE: usize = CONVERSATION_PREFIX.len() - FIXED + 22 + 8 + 18;
const VARIABLE_TEXT: usize = VARIABLE.div_ceil(3) * 4;

/// One call's id text; 192 bytes, aligned so an entry spans three cache
/// lines, not four.
#[repr(C, align(64))]
struct CallText {
    call: u64,
    /// The connection of the call whose text this is.
    of: Connection,
    connection: [u8; 36],
    correlation: [u8; 36],
    server_rest: [u8; VARIABLE_TEXT],
}

/// The id text of one call (see `IdWriter::call`).
pub(crate) struct CallIds<'w> {
    text: &'w CallText,
    server_fixed: &'w Snippet,
}

impl CallIds<'_> {
    pub(crate) fn connection(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.text.connection);
    }

    pub(crate) fn correlation(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.text.correlation);
    }

    /// The server call id: base64 of the call's conversation URL.
    pub(crate) fn server_call(&self, out: &mut Vec<u8>) {
        self.server_fixed.write(out);
        out.extend_from_slice(&self.text.server_rest);
    }
}

/// Writes a workload's identifiers; one per encoder.
pub(crate) struct IdWriter {
    seed: u64,
    cache: Vec<CallText>,
    /// `8:acs:<resource>_`: the raw id head of every ACS user.
    acs_prefix: [u8; 43],
    /// Base64 of the constant start of every server call id URL.
    server_fixed: Snippet,
}

impl IdWriter {
    pub(crate) fn new(seed: u64) -> IdWriter {
        IdWriter {
            seed,
            cache: Vec::new(),
            acs_prefix: acs_prefix(seed),
            server_fixed: Snippet::new(
                base64::engine::general_purpose::STANDARD
                    .encode(&CONVERSATION_PREFIX[..FIXED])
                    .as_bytes(),
            ),
        }
    }

    fn call_text(&mut self, call: u64, of: Connection) -> &CallText {
        if self.cache.is_empty() {
            self.cache = (0..SLOTS)
                .map(|_| CallText {
                    call: u64::MAX,
                    of: Connection::default(),
                    connection: [0; 36],
                    correlation: [0; 36],
                    server_rest: [0; VARIABLE_TEXT],
                })
                .collect();
        }
        let seed = self.seed;
        let entry = &mut self.cache[call as usize % SLOTS];
        if entry.call != call || entry.of != of {
            let (attempt, conversation) = (of.attempt as u64, of.conversation as u64);
            let mut buf = Vec::with_capacity(64);
            ids::write_uuid(
                &mut buf,
                ids::id128(seed, call, IdKind::CallConnection, attempt),
            );
            entry.connection.copy_from_slice(&buf);
            buf.clear();
            ids::write_uuid(
                &mut buf,
                ids::id128(seed, call, IdKind::Correlation, conversation),
            );
            entry.correlation.copy_from_slice(&buf);
            let url = conversation_url_rest(seed, call, conversation);
            let written = base64::engine::general_purpose::STANDARD
                .encode_slice(url, &mut entry.server_rest)
                .unwrap_or(0);
            debug_assert_eq!(written, VARIABLE_TEXT);
            entry.call = call;
            entry.of = of;
        }
        entry
    }

    /// The id text of one connection of a call, looked up once for a whole
    /// line (a CloudEvent repeats the connection id three times).
    pub(crate) fn call(&mut self, call: u64, of: Connection) -> CallIds<'_> {
        self.call_text(call, of);
        CallIds {
            text: &self.cache[call as usize % SLOTS],
            server_fixed: &self.server_fixed,
        }
    }

    pub(crate) fn connection(&mut self, out: &mut Vec<u8>, call: u64, of: Connection) {
        out.extend_from_slice(&self.call_text(call, of).connection);
    }

    pub(crate) fn event(&self, out: &mut Vec<u8>, call: u64, n: u32) {
        ids::write_uuid(out, ids::id128(self.seed, call, IdKind::Event, n as u64));
    }

    pub(crate) fn recording(&self, out: &mut Vec<u8>, call: u64) {
        ids::write_uuid(out, ids::id128(self.seed, call, IdKind::Recording, 0));
    }

    pub(crate) fn participant(&self, call: u64, n: u16) -> Identity {
        ids::participant(self.seed, call, n)
    }
}

/// The URL of a call's conversation `conversation` from byte `FIXED` on.
fn conversation_url_rest(seed: u64, call: u64, conversation: u64) -> [u8; VARIABLE] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bits = ids::id128(seed, call, IdKind::ServerCall, conversation);
    let mut url = [0u8; VARIABLE];
    let tail = &CONVERSATION_PREFIX[FIXED..];
    url[..tail.len()].copy_from_slice(tail);
    let hex = &mut url[tail.len()..tail.len() + 22];
    for (i, digit) in hex.iter_mut().enumerate() {
        *digit = HEX[((bits >> (4 * i)) & 0xf) as usize];
    }
    let query = tail.len() + 22;
    url[query..query + 8].copy_from_slice(b"?i=10&e=");
    // Always 18 digits: 638... plus less than 10^15.
    let e = 638_000_000_000_000_000u64 + (bits >> 64) as u64 % 1_000_000_000_000_000;
    url[query + 8..].copy_from_slice(itoa::Buffer::new().format(e).as_bytes());
    url
}

fn acs_prefix(seed: u64) -> [u8; 43] {
    let mut text = Vec::with_capacity(43);
    text.extend_from_slice(b"8:acs:");
    ids::write_uuid(&mut text, ids::resource(seed));
    text.push(b'_');
    text.try_into().expect("8:acs: + 36 + _ is 43 bytes")
}

impl IdWriter {
    /// The raw id of a participant: `4:+1...` or `8:acs:...`.
    pub(crate) fn raw_id(&self, out: &mut Vec<u8>, identity: Identity) {
        match identity {
            Identity::Phone(number) => {
                out.extend_from_slice(b"4:+1");
                out.extend_from_slice(itoa::Buffer::new().format(number).as_bytes());
            }
            Identity::AcsUser { user } => {
                out.extend_from_slice(&self.acs_prefix);
                ids::write_uuid(out, user);
            }
        }
    }

    /// The participant id as the REST route carries it (URL-encoded raw id).
    pub(crate) fn raw_id_in_path(&self, out: &mut Vec<u8>, identity: Identity) {
        let start = out.len();
        self.raw_id(out, identity);
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
    pub(crate) fn identifier(&self, out: &mut Vec<u8>, identity: Identity) {
        out.extend_from_slice(b"{\"rawId\":\"");
        let raw = out.len();
        self.raw_id(out, identity);
        let raw = raw..out.len();
        match identity {
            Identity::Phone(_) => {
                out.extend_from_slice(b"\",\"kind\":\"phoneNumber\",\"phoneNumber\":{\"value\":\"");
                // The number is the raw id after its "4:".
                out.extend_from_within(raw.start + 2..raw.end);
            }
            Identity::AcsUser { .. } => {
                out.extend_from_slice(
                    b"\",\"kind\":\"communicationUser\",\"communicationUser\":{\"id\":\"",
                );
                out.extend_from_within(raw);
            }
        }
        out.extend_from_slice(b"\"}}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_call_ids_decode_to_a_conversation_url() {
        let mut out = Vec::new();
        IdWriter::new(3)
            .call(4, Connection::default())
            .server_call(&mut out);
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
        let first = Connection::default();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        ids.connection(&mut a, 7, first);
        ids.connection(&mut a, 7 + SLOTS as u64, first); // evicts call 7
        ids.connection(&mut b, 7, first);
        assert_eq!(a[..36], b[..]);
        let mut fresh = Vec::new();
        ids::write_uuid(&mut fresh, ids::id128(5, 7, IdKind::CallConnection, 0));
        assert_eq!(fresh, b);
    }

    #[test]
    fn each_connection_of_a_call_has_its_own_ids() {
        let mut ids = IdWriter::new(5);
        let text = |ids: &mut IdWriter, attempt, conversation| {
            let of = Connection {
                attempt,
                conversation,
            };
            let call = ids.call(7, of);
            let mut out = Vec::new();
            call.connection(&mut out);
            out.push(b' ');
            call.correlation(&mut out);
            out.push(b' ');
            call.server_call(&mut out);
            String::from_utf8(out).unwrap()
        };
        let first = text(&mut ids, 0, 0);
        let joined_again = text(&mut ids, 1, 0);
        let called_again = text(&mut ids, 2, 2);
        let part = |s: &str, i: usize| s.split(' ').nth(i).unwrap().to_string();
        assert_ne!(part(&first, 0), part(&joined_again, 0));
        assert_eq!(part(&first, 1), part(&joined_again, 1));
        assert_eq!(part(&first, 2), part(&joined_again, 2));
        for i in 0..3 {
            assert_ne!(part(&first, i), part(&called_again, i));
        }
        assert_eq!(
            text(&mut ids, 0, 0),
            first,
            "the cache follows the connection"
        );
    }

    #[test]
    fn identifiers_are_communication_identifier_models() {
        let mut out = Vec::new();
        let ids = IdWriter::new(1);
        ids.identifier(&mut out, Identity::Phone(4_255_550_123));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["rawId"], "4:+14255550123");
        assert_eq!(v["phoneNumber"]["value"], "+14255550123");
        let mut path = Vec::new();
        ids.raw_id_in_path(&mut path, Identity::Phone(4_255_550_123));
        assert_eq!(path, b"4%3A%2B14255550123");
        let mut out = Vec::new();
        ids.identifier(&mut out, Identity::AcsUser { user: 7 });
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let raw = v["rawId"].as_str().unwrap();
        assert_eq!(v["communicationUser"]["id"], raw);
        assert!(
            raw.starts_with("8:acs:") && raw.len() == 6 + 36 + 1 + 36,
            "{raw}"
        );
    }
}
