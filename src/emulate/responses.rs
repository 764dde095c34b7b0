//! Response bodies, shaped as the Call Automation REST spec defines them
//! and as the official SDKs read them (docs/sources.md): identifiers carry
//! `rawId`, `kind` and the kind's object (the Python SDK reads `rawId`,
//! the JavaScript SDK the object); a participant list always has `value`;
//! errors are `{"error":{"code","message"}}`.

use crate::catalog::Operation;
use crate::emit::files::identity::IdWriter;
use crate::engine::Connection;
use serde_json::{Value, json};

/// The ids of one call, as text.
pub(super) struct CallIds {
    pub connection: String,
    pub server_call: String,
    pub correlation: String,
}

impl CallIds {
    pub(super) fn of(ids: &mut IdWriter, call: u64) -> CallIds {
        let text = |write: &dyn Fn(&mut Vec<u8>)| {
            let mut out = Vec::new();
            write(&mut out);
            String::from_utf8_lossy(&out).into_owned()
        };
        let c = ids.call(call, Connection::default());
        CallIds {
            connection: text(&|out| c.connection(out)),
            server_call: text(&|out| c.server_call(out)),
            correlation: text(&|out| c.correlation(out)),
        }
    }
}

/// Participant `n` of `call` (0 the caller, 1 the app; see engine) as a
/// `CallParticipant`.
pub(super) fn participant(ids: &IdWriter, call: u64, n: u16) -> Value {
    json!({"identifier": identifier(ids, call, n), "isMuted": false, "isOnHold": false})
}

fn identifier(ids: &IdWriter, call: u64, n: u16) -> Value {
    let mut out = Vec::new();
    ids.identifier(&mut out, ids.participant(call, n));
    serde_json::from_slice(&out).unwrap_or(Value::Null)
}

/// `CallConnectionProperties` of a call in `state` (`connecting`, `connected`,
/// `disconnected`); `request` is the setup request's body, whose targets,
/// source and callback the service echoes.
pub(super) fn call_connection(
    ids: &IdWriter,
    call: u64,
    call_ids: &CallIds,
    state: &str,
    request: &Value,
) -> Value {
    let targets = match request.get("targets") {
        Some(Value::Array(t)) => Value::Array(t.clone()),
        _ => json!([identifier(ids, call, 0)]),
    };
    let mut body = json!({
        "callConnectionId": call_ids.connection,
        "serverCallId": call_ids.server_call,
        "correlationId": call_ids.correlation,
        "callConnectionState": state,
        "targets": targets,
        "source": identifier(ids, call, 1),
    });
    for field in ["callbackUri", "sourceDisplayName", "sourceCallerIdNumber"] {
        if let Some(v) = request.get(field) {
            body[field] = v.clone();
        }
    }
    body
}

/// What a success body names of its call.
pub(super) struct Of<'a> {
    pub call: u64,
    /// How many are in the call: participants `0..n` (0 the caller, 1 the
    /// app, those added since).
    pub participants: u16,
    pub recording_id: &'a str,
}

/// The body of a successful `operation` on a call, `None` for those the
/// spec answers without one.
pub(super) fn success(
    operation: Operation,
    ids: &IdWriter,
    of: &Of<'_>,
    request: &Value,
) -> Option<Value> {
    let (call, recording_id) = (of.call, of.recording_id);
    use Operation::*;
    let context = request
        .get("operationContext")
        .cloned()
        .unwrap_or(Value::Null);
    // One invitation per call: the emulator's calls invite one at a time.
    let invitation = || {
        let bits = u128::from(call).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
        json!(String::from_utf8_lossy(&crate::engine::ids::uuid_text(
            bits
        )))
    };
    Some(match operation {
        GetParticipants => {
            let everyone: Vec<Value> = (0..of.participants)
                .map(|n| participant(ids, call, n))
                .collect();
            json!({ "value": everyone })
        }
        GetParticipant => participant(ids, call, 0),
        AddParticipants => json!({
            "participant": {"identifier": request.get("participantToAdd").cloned()
                .unwrap_or_else(|| identifier(ids, call, 2)), "isMuted": false, "isOnHold": false},
            "operationContext": context,
            "invitationId": invitation(),
        }),
        CancelAddParticipant => json!({
            "invitationId": request.get("invitationId").cloned().unwrap_or_else(invitation),
            "operationContext": context,
        }),
        MoveParticipants => json!({"participants": [], "operationContext": context,
            "fromCall": request.get("fromCall").cloned().unwrap_or(Value::Null)}),
        TransferCallToParticipant | RemoveParticipants | MuteParticipant | SendDtmfTones => {
            json!({"operationContext": context})
        }
        StartRecording | GetRecording => json!({
            "recordingId": recording_id,
            "recordingState": "active",
            "recordingKind": "AzureCommunicationServices",
        }),
        _ => return None,
    })
}

/// ACS's error body.
pub(super) fn error(code: impl Into<String>, message: impl Into<String>) -> Value {
    json!({"error": {"code": code.into(), "message": message.into()}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::IdKey;

    #[test]
    fn get_participants_lists_everyone_the_call_holds_once_each() {
        let ids = IdWriter::new(IdKey::new(7, b"digest", 1_700_000_000_000));
        let listed = |participants| {
            let of = Of {
                call: 3,
                participants,
                recording_id: "r",
            };
            let body = success(Operation::GetParticipants, &ids, &of, &json!({})).unwrap();
            let raw: std::collections::BTreeSet<String> = body["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["identifier"]["rawId"].as_str().unwrap().to_owned())
                .collect();
            raw.len()
        };
        assert_eq!(listed(2), 2);
        assert_eq!(listed(4), 4, "those added since the call began are listed");
    }
}
