//! The CloudEvents 1.0 envelope ACS posts to a callback URL, with the
//! event-specific `data` fields the official SDK models read.

use super::identity::IdWriter;
use super::json_text::{Snippet, write_int};
use crate::catalog::{ApiVersion, EventType, has_field, result_message, success_has_no_result};
use crate::engine::{Detail, Event, EventKind};
use crate::scenario::RecognitionType;
use crate::scenario::plan::Status;
use crate::wire::rfc3339::{TimeWriter, write_service_time};

const TONES: [&str; 12] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "asterisk",
    "pound",
];
const PHRASES: [&str; 4] = [
    "I'd like to check my balance",
    "talk to an agent",
    "yes please",
    "my order hasn't arrived",
];
const CHOICES: [(&str, &str); 3] = [
    ("Confirm", "yes"),
    ("Cancel", "no"),
    ("Agent", "representative"),
];

/// The parts of a callback's envelope that its series (event type, code,
/// sub-code, version) fixes, rendered once per series: names, codes and
/// messages looked up and formatted per event were a third of encoding.
pub(crate) struct EnvelopeParts {
    /// `","type":"…","specversion":…,"time":"`
    kind: Snippet,
    /// `","data":{"version":"…","callConnectionId":"`, or only up to
    /// `{"eventSource":"` where the version's events have one (the source
    /// follows, then `data_rest`).
    data: Snippet,
    /// `","version":"…","callConnectionId":"` after an `eventSource`.
    data_rest: Option<Snippet>,
    /// `,"resultInformation":{…}`
    result: Snippet,
    /// `,"publicEventType":"…"}}`
    tail: Snippet,
    /// The service echoes the app's operationContext, except in events
    /// whose models have none.
    has_context: bool,
    /// ParticipantsUpdated's participants say whether they are on hold.
    on_hold: bool,
    /// Recognized speech and choices carry a confidence.
    confidence: bool,
    /// A failed play source is named by its index.
    play_source_index: bool,
}

impl EnvelopeParts {
    pub(crate) fn new(event: EventType, result: Status, version: ApiVersion) -> EnvelopeParts {
        let mut kind = b"\",\"type\":\"".to_vec();
        kind.extend_from_slice(event.name().as_bytes());
        kind.extend_from_slice(
            b"\",\"specversion\":\"1.0\",\"datacontenttype\":\"application/json\",\"time\":\"",
        );
        let has = |field| has_field(event, version, field);
        let mut rest = b"\",\"version\":\"".to_vec();
        rest.extend_from_slice(version.as_str().as_bytes());
        rest.extend_from_slice(b"\",\"callConnectionId\":\"");
        let (data, data_rest) = if has("eventSource") {
            (
                Snippet::new(b"\",\"data\":{\"eventSource\":\""),
                Some(Snippet::new(&rest)),
            )
        } else {
            let mut data = b"\",\"data\":{".to_vec();
            data.extend_from_slice(&rest[2..]);
            (Snippet::new(&data), None)
        };
        let mut info = b",\"resultInformation\":{\"code\":".to_vec();
        write_int(&mut info, result.code);
        info.extend_from_slice(b",\"subCode\":");
        write_int(&mut info, result.sub_code);
        info.extend_from_slice(b",\"message\":");
        let message = result_message(event, result.code, result.sub_code);
        info.extend_from_slice(serde_json::Value::from(message).to_string().as_bytes());
        info.extend_from_slice(b"}");
        let mut tail = b",\"publicEventType\":\"".to_vec();
        tail.extend_from_slice(event.name().as_bytes());
        tail.extend_from_slice(b"\"}}");
        let success = (200..300).contains(&result.code);
        if !has("resultInformation") || (success && success_has_no_result(event, version)) {
            info.clear();
        }
        EnvelopeParts {
            kind: Snippet::new(&kind),
            data,
            data_rest,
            result: Snippet::new(&info),
            tail: Snippet::new(&tail),
            has_context: has("operationContext"),
            on_hold: has("participants[].isOnHold"),
            confidence: has("speechResult.confidence"),
            play_source_index: has("failedPlaySourceIndex"),
        }
    }
}

impl EnvelopeParts {
    /// Whether the version's `data` starts with an `eventSource` (the
    /// CloudEvent's source again).
    pub(crate) fn has_event_source(&self) -> bool {
        self.data_rest.is_some()
    }
}

/// Appends the CloudEvent of a callback event (nothing for requests).
/// `time` is the event's timestamp text, written once already for the line;
/// `start_times` writes other times (a recording's start).
pub(crate) fn write_cloud_event(
    out: &mut Vec<u8>,
    parts: &EnvelopeParts,
    ids: &mut IdWriter,
    start_times: &mut TimeWriter,
    e: &Event,
    time: &[u8; 24],
) {
    if !matches!(e.kind, EventKind::Callback { .. }) {
        return;
    }
    out.extend_from_slice(b"{\"id\":\"");
    ids.event(out, e.call, e.seq);
    out.extend_from_slice(b"\",\"source\":\"");
    let source = out.len();
    write_source(out, ids, e);
    let source = source..out.len();
    parts.kind.write(out);
    write_service_time(out, time, event_ticks(e));
    out.extend_from_slice(b"\",\"subject\":\"");
    out.extend_from_within(source.clone());
    parts.data.write(out);
    if let Some(rest) = &parts.data_rest {
        out.extend_from_within(source);
        rest.write(out);
    }
    let call = ids.call(e.call, e.connection);
    call.connection(out);
    out.extend_from_slice(b"\",\"serverCallId\":\"");
    call.server_call(out);
    out.extend_from_slice(b"\",\"correlationId\":\"");
    call.correlation(out);
    out.push(b'"');
    write_data_fields(out, parts, ids, start_times, e);
    parts.tail.write(out);
}

/// A callback's `source` (and `subject`): its call connection, or for a
/// recording's events the recording (a recorded RecordingStateChanged in
/// the Python SDK's tests:
/// calling/recordings/{serverCallId}/{recordingId}/RecordingStateChanged).
pub(crate) fn write_source(out: &mut Vec<u8>, ids: &mut IdWriter, e: &Event) {
    let recording = matches!(
        e.kind,
        EventKind::Callback {
            event: EventType::RecordingStateChanged,
            ..
        }
    );
    if recording {
        out.extend_from_slice(b"calling/recordings/");
        ids.call(e.call, e.connection).server_call(out);
        out.push(b'/');
        ids.recording(out, e.call, e.connection);
        out.extend_from_slice(b"/RecordingStateChanged");
    } else {
        out.extend_from_slice(b"calling/callConnections/");
        ids.connection(out, e.call, e.connection);
    }
}

/// The 100 ns steps past its millisecond of a callback's CloudEvent time.
pub(crate) fn event_ticks(e: &Event) -> u16 {
    ticks(e.call << 24 ^ e.seq as u64)
}

/// The callback's `data` fields after its ids, each after a comma:
/// operationContext, resultInformation and what the event type tells.
pub(crate) fn write_data_fields(
    out: &mut Vec<u8>,
    parts: &EnvelopeParts,
    ids: &IdWriter,
    start_times: &mut TimeWriter,
    e: &Event,
) {
    let EventKind::Callback {
        operation_context, ..
    } = e.kind
    else {
        return;
    };
    let context = operation_context.as_json();
    if parts.has_context && !context.is_empty() {
        out.extend_from_slice(b",\"operationContext\":");
        out.extend_from_slice(context.as_bytes());
    }
    parts.result.write(out);
    write_detail(out, parts, ids, start_times, e);
}

fn write_detail(
    out: &mut Vec<u8>,
    parts: &EnvelopeParts,
    ids: &IdWriter,
    start_times: &mut TimeWriter,
    e: &Event,
) {
    let EventKind::Callback {
        event,
        result,
        detail,
        ..
    } = e.kind
    else {
        return;
    };
    let sub_code = result.sub_code;
    let who = |n| ids.participant(e.call, n);
    match detail {
        Detail::None => {}
        Detail::Participant { participant } => {
            out.extend_from_slice(b",\"participant\":");
            ids.identifier(out, who(participant));
            // A moved participant comes from another call connection.
            if matches!(
                event,
                EventType::MoveParticipantSucceeded | EventType::MoveParticipantFailed
            ) {
                out.extend_from_slice(b",\"fromCall\":\"");
                ids.event(out, e.call, u32::MAX - 1 - participant as u32);
                out.push(b'"');
            }
        }
        Detail::Invitation { participant } => {
            out.extend_from_slice(b",\"invitationId\":\"");
            ids.event(out, e.call, u32::MAX - participant as u32);
            out.push(b'"');
        }
        Detail::Participants {
            sequence,
            count,
            caller_on_hold,
        } => {
            let on_hold = parts.on_hold.then_some(caller_on_hold);
            write_roster(out, sequence, count, on_hold, |out, n| {
                ids.identifier(out, who(n))
            })
        }
        Detail::Transfer { target } => {
            out.extend_from_slice(b",\"transferee\":");
            ids.identifier(out, who(0));
            out.extend_from_slice(b",\"transferTarget\":");
            ids.identifier(out, who(target));
        }
        Detail::Recognized {
            kind,
            seed: pick,
            max_tones,
        } => write_recognized(out, kind, sub_code, pick, max_tones, parts.confidence),
        Detail::Tone { tone, sequence_id } => {
            out.extend_from_slice(b",\"tone\":\"");
            out.extend_from_slice(TONES[tone as usize % TONES.len()].as_bytes());
            out.extend_from_slice(b"\",\"sequenceId\":");
            write_int(out, sequence_id);
        }
        Detail::Recording { active, started_ms } => {
            out.extend_from_slice(b",\"recordingId\":\"");
            ids.recording(out, e.call, e.connection);
            write_recording_state(out, start_times, active, started_ms);
        }
    }
    if event == EventType::StartRecordingFailed {
        // The recording that could not start (2025-06-15 spec on).
        out.extend_from_slice(b",\"recordingId\":\"");
        ids.recording(out, e.call, e.connection);
        out.push(b'"');
    }
    write_status_update(out, event, sub_code);
    if failed_play_source(event, sub_code) && parts.play_source_index {
        out.extend_from_slice(b",\"failedPlaySourceIndex\":0");
    }
}

/// ParticipantsUpdated's `sequenceNumber` and roster; `identifier` writes
/// participant `n`'s. `caller_on_hold`: none where the version's
/// participants do not say.
fn write_roster(
    out: &mut Vec<u8>,
    sequence: u32,
    count: u16,
    caller_on_hold: Option<bool>,
    identifier: impl Fn(&mut Vec<u8>, u16),
) {
    out.extend_from_slice(b",\"sequenceNumber\":");
    write_int(out, sequence);
    out.extend_from_slice(b",\"participants\":[");
    for n in 0..count {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"identifier\":");
        identifier(out, n);
        out.extend_from_slice(match caller_on_hold {
            None => b",\"isMuted\":false}",
            Some(true) if n == 0 => b",\"isMuted\":false,\"isOnHold\":true}",
            Some(_) => b",\"isMuted\":false,\"isOnHold\":false}",
        });
    }
    out.push(b']');
}

/// The 100 ns steps within its millisecond of a time the service writes:
/// events are simulated to the millisecond, the service stamps to the
/// tick; a multiplicative hash of what names the instant spreads them
/// (deterministically) over 0..10,000.
fn ticks(key: u64) -> u16 {
    ((key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) % 10_000) as u16
}

/// RecordingStateChanged's state, start and kind (after its recordingId).
fn write_recording_state(
    out: &mut Vec<u8>,
    start_times: &mut TimeWriter,
    active: bool,
    started_ms: i64,
) {
    out.extend_from_slice(if active {
        b"\",\"state\":\"active\""
    } else {
        b"\",\"state\":\"inactive\""
    });
    out.extend_from_slice(b",\"startDateTime\":\"");
    write_service_time(
        out,
        &start_times.millis(started_ms),
        ticks(started_ms as u64),
    );
    out.extend_from_slice(b"\",\"recordingKind\":\"azureCommunicationServices\"");
}

/// Whether a play source is what failed (a file that cannot be read or
/// fetched, a text-to-speech request refused, a prompt that could not be
/// played), so the event says which; a timeout or a shutdown has none.
fn failed_play_source(event: EventType, sub_code: u32) -> bool {
    match event {
        EventType::PlayFailed => matches!(sub_code, 8535 | 8536 | 8565 | 8582),
        EventType::RecognizeFailed => sub_code == 8511,
        _ => false,
    }
}

/// `confidence`: the version's speech and choice results carry one.
fn write_recognized(
    out: &mut Vec<u8>,
    kind: RecognitionType,
    sub_code: u32,
    pick: u32,
    max_tones: u8,
    confidence: bool,
) {
    match kind {
        RecognitionType::Dtmf => {
            out.extend_from_slice(b",\"recognitionType\":\"dtmf\",\"dtmfResult\":{\"tones\":[");
            let digits = 1 + pick % u32::from(max_tones.max(1));
            for i in 0..digits {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'"');
                // Six tones use the pick's bits; more repeat them, offset.
                let digit = ((pick >> (3 + 2 * (i % 6))) + i / 6 * 7) % 10;
                out.extend_from_slice(TONES[digit as usize].as_bytes());
                out.push(b'"');
            }
            out.extend_from_slice(b"]}");
        }
        RecognitionType::Speech => {
            out.extend_from_slice(
                b",\"recognitionType\":\"speech\",\"speechResult\":{\"speech\":\"",
            );
            out.extend_from_slice(PHRASES[pick as usize % PHRASES.len()].as_bytes());
            out.push(b'"');
            write_confidence(out, confidence, pick);
            out.push(b'}');
        }
        RecognitionType::Choices => {
            let (label, phrase) = CHOICES[pick as usize % CHOICES.len()];
            out.extend_from_slice(
                b",\"recognitionType\":\"choices\",\"choiceResult\":{\"label\":\"",
            );
            out.extend_from_slice(label.as_bytes());
            // A choice matched by a key press (8533) has no phrase: the
            // spec sets phrases to null when DTMF is recognized.
            if sub_code == 8533 {
                out.extend_from_slice(b"\",\"recognizedPhrase\":null}");
                return;
            }
            out.extend_from_slice(b"\",\"recognizedPhrase\":\"");
            out.extend_from_slice(phrase.as_bytes());
            out.push(b'"');
            write_confidence(out, confidence, pick);
            out.push(b'}');
        }
    }
}

fn write_confidence(out: &mut Vec<u8>, confidence: bool, pick: u32) {
    if confidence {
        out.extend_from_slice(b",\"confidence\":0.");
        write_int(out, 70 + (pick >> 8) % 30);
    }
}

/// Why a stream or transcription failed, as its status details say it.
fn failure_details(sub_code: u32) -> &'static [u8] {
    match sub_code {
        // "not able to establish websocket connection" (Java SDK fixture).
        8603 | 8578 => b"streamConnectionUnsuccessful",
        8581 => b"streamUrlMissing",
        8565 => b"speechServicesConnectionError",
        _ => b"unspecifiedError",
    }
}

/// Transcription and media streaming events carry a status update object.
fn write_status_update(out: &mut Vec<u8>, event: EventType, sub_code: u32) {
    use EventType::*;
    let (field, status, details): (&[u8], &[u8], &[u8]) = match event {
        TranscriptionStarted => (
            b"transcriptionUpdate",
            b"transcriptionStarted",
            b"subscriptionStarted",
        ),
        TranscriptionUpdated => (
            b"transcriptionUpdate",
            b"transcriptionUpdated",
            b"transcriptionLocaleUpdated",
        ),
        TranscriptionStopped => (
            b"transcriptionUpdate",
            b"transcriptionStopped",
            b"subscriptionStopped",
        ),
        TranscriptionFailed => (
            b"transcriptionUpdate",
            b"transcriptionFailed",
            failure_details(sub_code),
        ),
        MediaStreamingStarted => (
            b"mediaStreamingUpdate",
            b"mediaStreamingStarted",
            b"subscriptionStarted",
        ),
        MediaStreamingStopped => (
            b"mediaStreamingUpdate",
            b"mediaStreamingStopped",
            b"subscriptionStopped",
        ),
        MediaStreamingFailed => (
            b"mediaStreamingUpdate",
            b"mediaStreamingFailed",
            failure_details(sub_code),
        ),
        _ => return,
    };
    out.extend_from_slice(b",\"");
    out.extend_from_slice(field);
    out.extend_from_slice(b"\":{");
    if field == b"mediaStreamingUpdate" {
        out.extend_from_slice(b"\"contentType\":\"Audio\",\"mediaStreamingStatus\":\"");
    } else {
        out.extend_from_slice(b"\"transcriptionStatus\":\"");
    }
    out.extend_from_slice(status);
    if field == b"mediaStreamingUpdate" {
        out.extend_from_slice(b"\",\"mediaStreamingStatusDetails\":\"");
    } else {
        out.extend_from_slice(b"\",\"transcriptionStatusDetails\":\"");
    }
    out.extend_from_slice(details);
    out.extend_from_slice(b"\"}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tones(max_tones: u8, pick: u32) -> usize {
        let mut out = Vec::new();
        write_recognized(
            &mut out,
            RecognitionType::Dtmf,
            8514,
            pick,
            max_tones,
            false,
        );
        let text = String::from_utf8(out).unwrap();
        let json: serde_json::Value = serde_json::from_str(&format!("{{{}}}", &text[1..])).unwrap();
        json["dtmfResult"]["tones"].as_array().unwrap().len()
    }

    #[test]
    fn a_dtmf_result_holds_at_most_the_tones_asked_for() {
        let picks = (0..2_000u32).map(|i| i.wrapping_mul(2_654_435_761));
        let counts = |max| picks.clone().map(|p| tones(max, p)).collect::<Vec<_>>();
        assert!(counts(1).iter().all(|&n| n == 1));
        let ten = counts(10);
        assert!(ten.iter().all(|&n| (1..=10).contains(&n)));
        assert!(ten.contains(&10), "up to ten tones are drawn");
        assert_eq!(counts(6).into_iter().max(), Some(6));
    }
}
