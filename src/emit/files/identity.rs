//! The identifiers a callback or request line carries, written in the
//! formats the live service uses (docs/realism.md, "Identifiers (issue
//! #21)"): call connection ids whose first group names the server instance,
//! UUIDs, base64 server call ids of a conversation URL, base64url recording
//! ids, and `CommunicationIdentifierModel` objects for participants.
//!
//! Every callback repeats its call's connection id three times, plus the
//! correlation and server call ids; deriving and formatting them per event
//! dominated encoding, so the text of each call's ids is cached in a
//! direct-mapped table (calls interleave, but only thousands are live).

use super::json_text::Snippet;
use crate::engine::ids::{self, IdKind, Identity};
use crate::engine::{Connection, IdKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// Cache slots: a power of two well above the live calls of long-call
/// scenarios (contact-center keeps ~9,000 open at 50 calls/s).
const SLOTS: usize = 1 << 15;

/// Conversation hosts seen in live events (the Python SDK's recorded
/// tests); each is 36 bytes, which the layout of `Instance` relies on.
pub(crate) const HOSTS: [&[u8; 36]; 5] = [
    b"conv-jpea-03-prod-aks.conv.skype.com",
    b"conv-uswe-01-prod-aks.conv.skype.com",
    b"conv-uswe-04-prod-aks.conv.skype.com",
    b"conv-uswe-05-prod-aks.conv.skype.com",
    b"conv-usea-05-prod-aks.conv.skype.com",
];

/// The start of every conversation URL, before the host.
const URL_HEAD: &[u8; 44] = b"https://api.flightproxy.skype.com/api/v2/cp/";

/// A conversation URL is `URL_HEAD` host `/conv/` 22 base64url characters
/// `?i=..&e=..`. Bytes up to `CALL_PART` are the instance's, then 24 the
/// call's (`v/` and the conversation), then the instance's query: both cuts
/// are multiples of 3, so each part's base64 text is written on its own.
const CALL_PART: usize = URL_HEAD.len() + 36 + "/con".len();
const CALL_PART_LEN: usize = "v/".len() + 22;
const CALL_PART_TEXT: usize = CALL_PART_LEN / 3 * 4;

/// Conversation server instances a workload's calls land on.
const INSTANCES: usize = 8;

/// How long before the workload's start an instance's `e=` stamp lies:
/// live stamps are 1.5 hours to 9 days before their calls.
pub(crate) const STAMP_AGE_MS: std::ops::Range<i64> = 2 * 3_600_000..9 * 86_400_000;

/// .NET ticks (100 ns since 0001-01-01) at the Unix epoch.
const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;

/// One conversation server instance: its part of every server call id of
/// the calls it hosts, and the first group of their connection ids.
struct Instance {
    /// Base64 of the URL up to `CALL_PART`.
    head: Snippet,
    /// Base64 (padded) of `?i=<address>&e=<ticks>`.
    query: Snippet,
    /// `XX00YY80`: live connection ids share their first group per
    /// instance, a zero second byte and 0x80 last.
    connection_head: [u8; 8],
}

impl Instance {
    fn new(key: IdKey, n: u64) -> Instance {
        let bits = ids::id128(key.key, 0, IdKind::ServerInstance, n);
        let host = HOSTS[(bits % HOSTS.len() as u128) as usize];
        let mut url = Vec::with_capacity(128);
        url.extend_from_slice(URL_HEAD);
        url.extend_from_slice(host);
        url.extend_from_slice(b"/con");
        debug_assert_eq!(url.len(), CALL_PART);
        let head = Snippet::new(STANDARD.encode(&url).as_bytes());
        // A pod address as live `i=` values have: 10-60-x-y or 10-128-x-y.
        let byte = |shift: u32| (bits >> shift) as u8;
        let address = if byte(8) & 1 == 0 {
            format!("10-60-{}-{}", byte(16) % 32, 1 + byte(24) % 254)
        } else {
            format!("10-128-{}-{}", 160 + byte(16) % 32, 1 + byte(24) % 254)
        };
        let span = (STAMP_AGE_MS.end - STAMP_AGE_MS.start) as u64;
        let age_ms = STAMP_AGE_MS.start + ((bits >> 32) as u64 % span) as i64;
        let ticks = (key.epoch_ms - age_ms) * 10_000
            + UNIX_EPOCH_TICKS
            + ((bits >> 96) as u64 % 10_000) as i64;
        let query = format!("?i={address}&e={ticks}");
        let more = ids::id128(key.key, 1, IdKind::ServerInstance, n);
        let group = u32::from_be_bytes([more as u8, 0, (more >> 8) as u8, 0x80]);
        let mut connection_head = [0u8; 8];
        connection_head.copy_from_slice(&ids::uuid_text((group as u128) << 96)[..8]);
        Instance {
            head,
            query: Snippet::new(STANDARD.encode(query).as_bytes()),
            connection_head,
        }
    }
}

/// One call's id text; 128 bytes, aligned so an entry spans two cache
/// lines.
#[repr(C, align(64))]
struct CallText {
    call: u64,
    of: Connection,
    connection: [u8; 36],
    correlation: [u8; 36],
    /// Base64 of `v/` and the conversation id.
    conversation: [u8; CALL_PART_TEXT],
    instance: u8,
}

/// The id text of one call (see `IdWriter::call`).
pub(crate) struct CallIds<'w> {
    text: &'w CallText,
    instance: &'w Instance,
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
        self.instance.head.write(out);
        out.extend_from_slice(&self.text.conversation);
        self.instance.query.write(out);
    }
}

/// Writes a workload's identifiers; one per encoder. Each setup attempt of
/// a call has a connection of its own (`Connection`): its attempt is the
/// `n` of `IdKind::CallConnection`, its conversation that of the server
/// call and correlation ids; the cache keys on the call and connection.
pub(crate) struct IdWriter {
    key: u64,
    cache: Vec<CallText>,
    instances: Vec<Instance>,
    /// `8:acs:<resource>_`: the raw id head of every ACS user.
    acs_prefix: [u8; 43],
}

/// What a call's ids derive from beyond the key: its instance and the text
/// of its connection id and conversation.
struct CallBasis {
    instance: u8,
    connection: [u8; 36],
    conversation: [u8; CALL_PART_TEXT],
}

impl IdWriter {
    pub(crate) fn new(key: IdKey) -> IdWriter {
        IdWriter {
            key: key.key,
            cache: Vec::new(),
            instances: (0..INSTANCES as u64)
                .map(|n| Instance::new(key, n))
                .collect(),
            acs_prefix: acs_prefix(key.key),
        }
    }

    fn basis(&self, call: u64, of: Connection) -> CallBasis {
        let bits = ids::id128(self.key, call, IdKind::ServerCall, of.conversation as u64);
        let mut guid = bits.to_le_bytes();
        // The nibble a version-4 GUID overwrites picks the instance.
        let instance = (guid[7] >> 4) % INSTANCES as u8;
        // A version-4 GUID in .NET's byte order (Guid.ToByteArray), as
        // live conversation ids are.
        guid[7] = (guid[7] & 0x0f) | 0x40;
        guid[8] = (guid[8] & 0x3f) | 0x80;
        let mut part = [0u8; CALL_PART_LEN];
        part[..2].copy_from_slice(b"v/");
        let written = URL_SAFE_NO_PAD
            .encode_slice(guid, &mut part[2..])
            .unwrap_or(0);
        debug_assert_eq!(written, 22);
        let mut conversation = [0u8; CALL_PART_TEXT];
        let written = STANDARD.encode_slice(part, &mut conversation).unwrap_or(0);
        debug_assert_eq!(written, CALL_PART_TEXT);
        let mut connection = ids::uuid_text(ids::id128(
            self.key,
            call,
            IdKind::CallConnection,
            of.attempt as u64,
        ));
        connection[..8].copy_from_slice(&self.instances[instance as usize].connection_head);
        CallBasis {
            instance,
            connection,
            conversation,
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
                    conversation: [0; CALL_PART_TEXT],
                    instance: 0,
                })
                .collect();
        }
        let slot = call as usize % SLOTS;
        if self.cache[slot].call != call || self.cache[slot].of != of {
            let basis = self.basis(call, of);
            let correlation = ids::uuid_text(ids::id128(
                self.key,
                call,
                IdKind::Correlation,
                of.conversation as u64,
            ));
            let entry = &mut self.cache[slot];
            entry.correlation = correlation;
            entry.connection = basis.connection;
            entry.conversation = basis.conversation;
            entry.instance = basis.instance;
            entry.call = call;
            entry.of = of;
        }
        &self.cache[slot]
    }

    /// The id text of one connection of a call, looked up once for a whole
    /// line (a CloudEvent repeats the connection id three times).
    pub(crate) fn call(&mut self, call: u64, of: Connection) -> CallIds<'_> {
        let instance = self.call_text(call, of).instance as usize;
        CallIds {
            text: &self.cache[call as usize % SLOTS],
            instance: &self.instances[instance],
        }
    }

    pub(crate) fn connection(&mut self, out: &mut Vec<u8>, call: u64, of: Connection) {
        out.extend_from_slice(&self.call_text(call, of).connection);
    }

    pub(crate) fn event(&self, out: &mut Vec<u8>, call: u64, n: u32) {
        ids::write_uuid(out, ids::id128(self.key, call, IdKind::Event, n as u64));
    }

    /// The recording id: base64url (unpadded) of the JSON naming the call
    /// connection that started the recording and a resource-specific UUID,
    /// exactly as the service writes it.
    pub(crate) fn recording(&self, out: &mut Vec<u8>, call: u64, of: Connection) {
        const HEAD: &[u8] = b"{\"PlatformEndpointId\":\"";
        const MIDDLE: &[u8] = b"\",\"ResourceSpecificId\":\"";
        const LEN: usize = HEAD.len() + 36 + MIDDLE.len() + 36 + 2;
        let mut json = [0u8; LEN];
        json[..HEAD.len()].copy_from_slice(HEAD);
        let mut at = HEAD.len();
        // The cached text when the call is cached; derived alike otherwise.
        match self.cache.get(call as usize % SLOTS) {
            Some(entry) if entry.call == call && entry.of == of => {
                json[at..at + 36].copy_from_slice(&entry.connection)
            }
            _ => json[at..at + 36].copy_from_slice(&self.basis(call, of).connection),
        }
        at += 36;
        json[at..at + MIDDLE.len()].copy_from_slice(MIDDLE);
        at += MIDDLE.len();
        json[at..at + 36].copy_from_slice(&ids::uuid_text(ids::id128(
            self.key,
            call,
            IdKind::Recording,
            0,
        )));
        json[LEN - 2..].copy_from_slice(b"\"}");
        let mut text = [0u8; LEN.div_ceil(3) * 4];
        let written = URL_SAFE_NO_PAD.encode_slice(json, &mut text).unwrap_or(0);
        out.extend_from_slice(&text[..written]);
    }

    pub(crate) fn participant(&self, call: u64, n: u16) -> Identity {
        ids::participant(self.key, call, n)
    }
}

fn acs_prefix(key: u64) -> [u8; 43] {
    let mut text = Vec::with_capacity(43);
    text.extend_from_slice(b"8:acs:");
    ids::write_uuid(&mut text, ids::resource(key));
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

    /// 2026-01-01T00:00:00Z.
    const EPOCH_MS: i64 = 1_767_225_600_000;

    fn writer(seed: u64) -> IdWriter {
        IdWriter::new(IdKey::new(seed, b"a scenario digest", EPOCH_MS))
    }

    /// The parts of a decoded server call id URL: host, conversation,
    /// `i=` and `e=`.
    fn conversation_url(server_call: &[u8]) -> (String, String, String, i64) {
        let url = String::from_utf8(STANDARD.decode(server_call).unwrap()).unwrap();
        let rest = url
            .strip_prefix("https://api.flightproxy.skype.com/api/v2/cp/")
            .unwrap_or_else(|| panic!("{url}"));
        let (host, rest) = rest.split_once("/conv/").unwrap();
        let (conversation, query) = rest.split_once("?i=").unwrap();
        let (address, e) = query.split_once("&e=").unwrap();
        (
            host.to_string(),
            conversation.to_string(),
            address.to_string(),
            e.parse().unwrap(),
        )
    }

    // Issue #21, item 7: live server call ids vary the conversation host,
    // carry a .NET GUID as the conversation, a pod address as `i=` and a
    // stamp a few days before the call as `e=`.
    #[test]
    fn server_call_ids_decode_to_live_conversation_urls() {
        let mut ids = writer(3);
        let mut hosts = std::collections::BTreeSet::new();
        let mut instances = std::collections::BTreeMap::new();
        for call in 0..200 {
            let mut out = Vec::new();
            ids.call(call, Connection::default()).server_call(&mut out);
            assert!(out.ends_with(b"=") || out.len() % 4 == 0, "padded base64");
            let (host, conversation, address, e) = conversation_url(&out);
            assert!(HOSTS.iter().any(|h| h[..] == *host.as_bytes()), "{host}");
            let guid = URL_SAFE_NO_PAD.decode(&conversation).unwrap();
            assert_eq!((guid.len(), conversation.len()), (16, 22));
            assert_eq!(guid[7] >> 4, 4, "a version-4 GUID in .NET byte order");
            assert_eq!(guid[8] >> 6, 2, "RFC 4122 variant");
            let octets: Vec<u32> = address.split('-').map(|o| o.parse().unwrap()).collect();
            assert!(
                octets.len() == 4 && octets[0] == 10 && matches!(octets[1], 60 | 128),
                "{address}"
            );
            let epoch_ticks = EPOCH_MS * 10_000 + UNIX_EPOCH_TICKS;
            let age_ms = (epoch_ticks - e) / 10_000;
            assert!(STAMP_AGE_MS.contains(&age_ms), "e={e}: {age_ms} ms before");
            hosts.insert(host.clone());
            // Calls on one instance share its host, address and stamp.
            let instance = ids.call(call, Connection::default()).text.instance;
            let seen = instances.entry(instance).or_insert((host, address, e));
            assert_eq!(
                seen.1,
                octets
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join("-")
            );
            assert_eq!(seen.2, e);
        }
        assert!(hosts.len() > 1, "one host for every call: {hosts:?}");
    }

    // Issue #21, item 7: recordingId is base64url (no padding) of the JSON
    // naming the call connection and a resource-specific UUID.
    #[test]
    fn recording_ids_are_base64url_of_the_endpoint_and_a_uuid() {
        let mut ids = writer(4);
        for call in [0, 1, 77, 5_000] {
            let mut fresh = Vec::new();
            ids.recording(&mut fresh, call, Connection::default());
            let mut connection = Vec::new();
            ids.connection(&mut connection, call, Connection::default());
            let mut cached = Vec::new();
            ids.recording(&mut cached, call, Connection::default());
            assert_eq!(fresh, cached, "the cache changes nothing");
            assert!(!fresh.contains(&b'=') && !fresh.contains(&b'+') && !fresh.contains(&b'/'));
            let json = String::from_utf8(URL_SAFE_NO_PAD.decode(&fresh).unwrap()).unwrap();
            let connection = String::from_utf8(connection).unwrap();
            let specific = json
                .strip_prefix(&format!(
                    "{{\"PlatformEndpointId\":\"{connection}\",\"ResourceSpecificId\":\""
                ))
                .and_then(|rest| rest.strip_suffix("\"}"))
                .unwrap_or_else(|| panic!("{json}"));
            assert_eq!(specific.len(), 36);
            assert_eq!(&specific[14..15], "4", "{specific}");
        }
    }

    // Issue #21, item 7 (optional): live connection ids show `XX00YY80`
    // as their first group, shared by the calls of one server instance.
    #[test]
    fn connection_ids_start_with_their_instance_group() {
        let mut ids = writer(5);
        for call in 0..100 {
            let mut out = Vec::new();
            ids.connection(&mut out, call, Connection::default());
            let text = std::str::from_utf8(&out).unwrap();
            assert_eq!(
                (&text[2..4], &text[6..8], &text[8..9]),
                ("00", "80", "-"),
                "{text}"
            );
            assert_eq!(&text[14..15], "4", "{text}");
            let instance = ids.call(call, Connection::default()).text.instance as usize;
            assert_eq!(out[..8], ids.instances[instance].connection_head);
        }
    }

    #[test]
    fn cached_ids_equal_fresh_ones_after_slot_reuse() {
        let mut ids = writer(5);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        ids.connection(&mut a, 7, Connection::default());
        ids.connection(&mut a, 7 + SLOTS as u64, Connection::default()); // evicts call 7
        ids.connection(&mut b, 7, Connection::default());
        assert_eq!(a[..36], b[..]);
        assert_eq!(ids.basis(7, Connection::default()).connection[..], b[..]);
        let (mut c, mut d) = (Vec::new(), Vec::new());
        ids.call(7, Connection::default()).server_call(&mut c);
        ids.call(7 + SLOTS as u64, Connection::default());
        writer(5).call(7, Connection::default()).server_call(&mut d);
        assert_eq!(c, d);
    }

    // Issue #21, item 5: the scenario's digest is part of every id.
    #[test]
    fn another_digest_gives_other_ids() {
        let mut a = writer(1);
        let mut b = IdWriter::new(IdKey::new(1, b"another digest", EPOCH_MS));
        let text = |ids: &mut IdWriter| {
            let mut out = Vec::new();
            ids.connection(&mut out, 0, Connection::default());
            ids.event(&mut out, 0, 0);
            ids.call(0, Connection::default()).server_call(&mut out);
            ids.recording(&mut out, 0, Connection::default());
            out
        };
        assert_ne!(text(&mut a), text(&mut b));
        assert_eq!(text(&mut a), text(&mut writer(1)));
    }

    #[test]
    fn identifiers_are_communication_identifier_models() {
        let mut out = Vec::new();
        let ids = writer(1);
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

    // Issue #21, item 4: each setup attempt has a connection id of its
    // own; a new Create Call (conversation) also new server call and
    // correlation ids; the cache never hands one connection another's.
    #[test]
    fn each_connection_has_its_own_ids() {
        let mut ids = writer(6);
        let first = Connection::default();
        let retry = Connection {
            attempt: 1,
            conversation: 0,
        };
        let recall = Connection {
            attempt: 2,
            conversation: 2,
        };
        let text = |ids: &mut IdWriter, of| {
            let (mut c, mut r, mut s) = (Vec::new(), Vec::new(), Vec::new());
            let call = ids.call(9, of);
            call.connection(&mut c);
            call.correlation(&mut r);
            call.server_call(&mut s);
            (c, r, s)
        };
        let a = text(&mut ids, first);
        let b = text(&mut ids, retry);
        let c = text(&mut ids, recall);
        assert_ne!(a.0, b.0);
        assert_eq!(
            (&a.1, &a.2),
            (&b.1, &b.2),
            "an answer or connect keeps the call"
        );
        assert_ne!(
            (&a.1, &a.2),
            (&c.1, &c.2),
            "a new Create Call is a new call"
        );
        assert_eq!(text(&mut writer(6), retry), b, "cached equals fresh");
        assert_eq!(text(&mut ids, first), a);
    }
}
