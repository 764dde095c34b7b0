//! What a callback's `data` holds, per (event type, api-version): the
//! fields the live service sends, read from events recorded from it where
//! a recording exists and from the version's REST spec where none does.
//! Each rule names its source and how sure it is; the CloudEvent encoder
//! asks this table which fields to write, `catalog --format json` prints
//! it, and `tests/it/realism.rs` checks every generated callback of every
//! shipped scenario against it (issue #21).

use super::api_version::{ApiVersion, Versions};
use super::event_type::EventType;

/// Where a rule was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ShapeSource {
    /// Events the Python SDK's live tests recorded from the service.
    LiveRecording {
        file: &'static str,
        commit: &'static str,
    },
    /// The version's REST spec (docs/realism.md has the commits).
    Spec { versions: &'static str },
}

/// How sure a rule is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Confidence {
    /// A recorded live event of that version shows it.
    Recorded,
    /// The spec of that version defines it; no recording of it exists.
    Specified,
    /// Carried over from a recording of a neighbouring version of the same
    /// service generation (said in `why`).
    Inferred,
}

impl Confidence {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Confidence::Recorded => "recorded",
            Confidence::Specified => "specified",
            Confidence::Inferred => "inferred",
        }
    }
}

/// When a field is there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Presence {
    Always,
    /// Only when the app's request set one (`operationContext`).
    WhenTheAppSetOne,
    /// Only when a play source is what failed (`failedPlaySourceIndex`).
    WhenAPlaySourceFailed,
    /// Only the result object of the recognition's type (`dtmfResult`,
    /// `speechResult`, `choiceResult`).
    ForItsRecognitionType,
    /// Only on a result that is not a success (`resultInformation` of the
    /// call-state events of early versions, whose successes carry none).
    WhenNotASuccess,
}

impl Presence {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Presence::Always => "always",
            Presence::WhenTheAppSetOne => "when the app's request set one",
            Presence::WhenAPlaySourceFailed => "when a play source failed",
            Presence::ForItsRecognitionType => "for its recognition type",
            Presence::WhenNotASuccess => "when the result is not a success",
        }
    }
}

/// Which events a rule covers.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Events {
    All,
    Only(&'static [EventType]),
    AllBut(&'static [EventType]),
}

impl Events {
    fn contains(self, event: EventType) -> bool {
        match self {
            Events::All => true,
            Events::Only(list) => list.contains(&event),
            Events::AllBut(list) => !list.contains(&event),
        }
    }
}

/// One field of `data` (a nested one as `object.field`, an array's
/// entries as `array[].field`), the events and versions that carry it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FieldRule {
    pub field: &'static str,
    pub events: Events,
    pub versions: Versions,
    pub presence: Presence,
    pub source: ShapeSource,
    pub confidence: Confidence,
    /// Why, where the rule is not read directly off its source.
    pub why: &'static str,
}

const DTMF_RECORDING: ShapeSource = ShapeSource::LiveRecording {
    file: "sdk/communication/azure-communication-callautomation/tests/events/test_e2e_media_client.pyTestMediaAutomatedLiveTesttest_dtmf_actions_in_a_call.event.json",
    commit: "00494316b75038cc6729d7f2a40795a5cf966374",
};
const HOLD_RECORDING: ShapeSource = ShapeSource::LiveRecording {
    file: "sdk/communication/azure-communication-callautomation/tests/events/test_e2e_media_client.pyTestMediaAutomatedLiveTesttest_add_and_hold_unhold_participant_in_a_call.event.json",
    commit: "530e83976cd0216ba0339161b8a35a8caf202a8d",
};
const RECORDING_RECORDING: ShapeSource = ShapeSource::LiveRecording {
    file: "sdk/communication/azure-communication-callautomation/tests/events/test_e2e_callautomation_client.pyTestCallAutomationClientAutomatedLiveTesttest_start_recording_with_call_connection_id.event.json",
    commit: "a9f0c78ae5ab81f99400ba1843af15b894376d2a",
};
const ALL_SPECS: ShapeSource = ShapeSource::Spec {
    versions: "every stable and preview spec",
};

/// Versions whose live successes of the call-state events carry no
/// `resultInformation`: recordings of 2023-10-03-preview, 2024-04-15 and
/// 2024-06-15-preview have none (2024-09-01-preview and later ones do),
/// and the stable specs before 2024-09-15 define none for CallConnected,
/// CallDisconnected, ParticipantsUpdated and RecordingStateChanged.
const NO_STATE_RESULT: Versions = Versions::SINCE_2023_03_06
    .without(Versions::HOLD)
    .with("2023-10-03-preview")
    .with("2024-06-15-preview");

/// Events that, in those versions, come without `resultInformation`.
const STATE_EVENTS: &[EventType] = &[
    EventType::CallConnected,
    EventType::CallDisconnected,
    EventType::ParticipantsUpdated,
    EventType::RecordingStateChanged,
    EventType::ContinuousDtmfRecognitionStopped,
    EventType::SendDtmfTonesCompleted,
    EventType::AddParticipantSucceeded,
    EventType::RemoveParticipantSucceeded,
    EventType::CancelAddParticipantSucceeded,
];

/// Events whose models have no `operationContext` (it echoes a request).
const NO_CONTEXT: &[EventType] = &[
    EventType::ParticipantsUpdated,
    EventType::RecordingStateChanged,
];

use EventType::*;

/// Every rule, in the order `data` is written.
#[rustfmt::skip]
pub(crate) const FIELD_RULES: &[FieldRule] = &[
    FieldRule { field: "eventSource", events: Events::AllBut(&[RecordingStateChanged]), versions: Versions::NONE.with("2023-10-03-preview"), presence: Presence::Always, source: DTMF_RECORDING, confidence: Confidence::Recorded, why: "2023-10-03-preview recordings have it on every call event (calling/callConnections/{id}); recordings of 2024-04-15 and later have it on none, and no spec defines it" },
    FieldRule { field: "eventSource", events: Events::Only(&[RecordingStateChanged]), versions: Versions::ALL, presence: Presence::Always, source: RECORDING_RECORDING, confidence: Confidence::Recorded, why: "RecordingStateChanged of 2024-09-01-preview carries it, equal to its source (calling/recordings/...); taken for every version" },
    FieldRule { field: "version", events: Events::All, versions: Versions::ALL, presence: Presence::Always, source: HOLD_RECORDING, confidence: Confidence::Recorded, why: "every recorded event has it, though no spec model names it" },
    FieldRule { field: "callConnectionId", events: Events::All, versions: Versions::ALL, presence: Presence::Always, source: ALL_SPECS, confidence: Confidence::Recorded, why: "" },
    FieldRule { field: "serverCallId", events: Events::All, versions: Versions::ALL, presence: Presence::Always, source: ALL_SPECS, confidence: Confidence::Recorded, why: "" },
    FieldRule { field: "correlationId", events: Events::All, versions: Versions::ALL, presence: Presence::Always, source: ALL_SPECS, confidence: Confidence::Recorded, why: "" },
    FieldRule { field: "operationContext", events: Events::AllBut(NO_CONTEXT), versions: Versions::ALL, presence: Presence::WhenTheAppSetOne, source: ALL_SPECS, confidence: Confidence::Specified, why: "the service echoes the request's operationContext; ParticipantsUpdated and RecordingStateChanged answer no request of the app's" },
    FieldRule { field: "resultInformation", events: Events::AllBut(STATE_EVENTS), versions: Versions::ALL, presence: Presence::Always, source: ALL_SPECS, confidence: Confidence::Specified, why: "" },
    FieldRule { field: "resultInformation", events: Events::Only(STATE_EVENTS), versions: Versions::ALL.without(NO_STATE_RESULT), presence: Presence::Always, source: HOLD_RECORDING, confidence: Confidence::Recorded, why: "CallConnected, ParticipantsUpdated, CallDisconnected of 2024-09-01-preview carry it (200/0 with an empty message, 200/7000 with a DiagCode text); the others from their specs" },
    FieldRule { field: "resultInformation", events: Events::Only(STATE_EVENTS), versions: NO_STATE_RESULT, presence: Presence::WhenNotASuccess, source: DTMF_RECORDING, confidence: Confidence::Inferred, why: "recordings of 2023-10-03-preview, 2024-04-15 and 2024-06-15-preview (the Java SDK's dtmf and add/remove participant tests) show CallConnected, ParticipantsUpdated, CallDisconnected, SendDtmfTonesCompleted, ContinuousDtmfRecognitionStopped, Add/RemoveParticipantSucceeded and CancelAddParticipantSucceeded without it, nor do the stable specs before 2024-09-15 define one for the call-state events; 2023-03-06 and 2023-10-15 are taken to be alike. No source shows a failure of them, which needs its code: kept there. Such a success counts as Code 200, SubCode 0 in the callback metric (no source says what the service counts; see docs/realism.md)" },
    FieldRule { field: "participant", events: Events::Only(&[AddParticipantSucceeded, AddParticipantFailed, RemoveParticipantSucceeded, RemoveParticipantFailed, MoveParticipantSucceeded, MoveParticipantFailed]), versions: Versions::ALL, presence: Presence::Always, source: ALL_SPECS, confidence: Confidence::Specified, why: "" },
    FieldRule { field: "fromCall", events: Events::Only(&[MoveParticipantSucceeded, MoveParticipantFailed]), versions: Versions::ALL, presence: Presence::Always, source: ShapeSource::Spec { versions: "2026-03-12, 2025-08-15-preview" }, confidence: Confidence::Specified, why: "" },
    FieldRule { field: "invitationId", events: Events::Only(&[CancelAddParticipantSucceeded, CancelAddParticipantFailed]), versions: Versions::ALL, presence: Presence::Always, source: ALL_SPECS, confidence: Confidence::Specified, why: "" },
    FieldRule { field: "sequenceNumber", events: Events::Only(&[ParticipantsUpdated]), versions: Versions::ALL, presence: Presence::Always, source: HOLD_RECORDING, confidence: Confidence::Recorded, why: "" },
    FieldRule { field: "participants", events: Events::Only(&[ParticipantsUpdated]), versions: Versions::ALL, presence: Presence::Always, source: HOLD_RECORDING, confidence: Confidence::Recorded, why: "" },
    FieldRule { field: "participants[].identifier", events: Events::Only(&[ParticipantsUpdated]), versions: Versions::ALL, presence: Presence::Always, source: HOLD_RECORDING, confidence: Confidence::Recorded, why: "" },
    FieldRule { field: "participants[].isMuted", events: Events::Only(&[ParticipantsUpdated]), versions: Versions::ALL, presence: Presence::Always, source: DTMF_RECORDING, confidence: Confidence::Recorded, why: "" },
    FieldRule { field: "participants[].isOnHold", events: Events::Only(&[ParticipantsUpdated]), versions: Versions::CONNECT, presence: Presence::Always, source: HOLD_RECORDING, confidence: Confidence::Recorded, why: "participants of 2024-06-15-preview and later previews carry it, those of 2024-04-15 do not; of two 2023-10-03-preview recordings the dtmf one has none and the hold one has it: taken as absent there; the stable specs add it in 2024-09-15" },
    FieldRule { field: "transferee", events: Events::Only(&[CallTransferAccepted]), versions: Versions::ALL, presence: Presence::Always, source: ALL_SPECS, confidence: Confidence::Specified, why: "" },
    FieldRule { field: "transferTarget", events: Events::Only(&[CallTransferAccepted]), versions: Versions::ALL, presence: Presence::Always, source: ALL_SPECS, confidence: Confidence::Specified, why: "" },
    FieldRule { field: "recognitionType", events: Events::Only(&[RecognizeCompleted]), versions: Versions::ALL, presence: Presence::Always, source: ALL_SPECS, confidence: Confidence::Specified, why: "" },
    FieldRule { field: "dtmfResult", events: Events::Only(&[RecognizeCompleted]), versions: Versions::ALL, presence: Presence::ForItsRecognitionType, source: ALL_SPECS, confidence: Confidence::Specified, why: "" },
    FieldRule { field: "speechResult", events: Events::Only(&[RecognizeCompleted]), versions: Versions::ALL, presence: Presence::ForItsRecognitionType, source: ALL_SPECS, confidence: Confidence::Specified, why: "" },
    FieldRule { field: "speechResult.confidence", events: Events::Only(&[RecognizeCompleted]), versions: CONFIDENCE, presence: Presence::ForItsRecognitionType, source: ShapeSource::Spec { versions: "2025-05-15, 2025-06-15, 2026-03-12 (2024-09-15 and 2026-03-12 forbid other fields: additionalProperties false)" }, confidence: Confidence::Specified, why: "previews after 2025-05-15 taken to have it too" },
    FieldRule { field: "choiceResult", events: Events::Only(&[RecognizeCompleted]), versions: Versions::ALL, presence: Presence::ForItsRecognitionType, source: ALL_SPECS, confidence: Confidence::Specified, why: "" },
    FieldRule { field: "choiceResult.confidence", events: Events::Only(&[RecognizeCompleted]), versions: CONFIDENCE, presence: Presence::ForItsRecognitionType, source: ShapeSource::Spec { versions: "2025-05-15, 2025-06-15, 2026-03-12" }, confidence: Confidence::Specified, why: "not on a choice matched by a key press (8533), whose phrase is null" },
    FieldRule { field: "tone", events: Events::Only(&[ContinuousDtmfRecognitionToneReceived]), versions: Versions::ALL, presence: Presence::Always, source: ALL_SPECS, confidence: Confidence::Specified, why: "" },
    FieldRule { field: "sequenceId", events: Events::Only(&[ContinuousDtmfRecognitionToneReceived]), versions: Versions::ALL, presence: Presence::Always, source: ALL_SPECS, confidence: Confidence::Specified, why: "" },
    FieldRule { field: "recordingId", events: Events::Only(&[RecordingStateChanged, StartRecordingFailed]), versions: Versions::ALL, presence: Presence::Always, source: ShapeSource::Spec { versions: "every spec (RecordingStateChanged); 2025-06-15 and later (StartRecordingFailed)" }, confidence: Confidence::Specified, why: "" },
    FieldRule { field: "state", events: Events::Only(&[RecordingStateChanged]), versions: Versions::ALL, presence: Presence::Always, source: ALL_SPECS, confidence: Confidence::Specified, why: "" },
    FieldRule { field: "startDateTime", events: Events::Only(&[RecordingStateChanged]), versions: Versions::ALL, presence: Presence::Always, source: ALL_SPECS, confidence: Confidence::Specified, why: "" },
    FieldRule { field: "recordingKind", events: Events::Only(&[RecordingStateChanged]), versions: Versions::ALL, presence: Presence::Always, source: ALL_SPECS, confidence: Confidence::Inferred, why: "the 2023-03-06 and 2023-10-15 specs do not name it; taken from the 2024-04-15 spec on, as one service answers every client version" },
    FieldRule { field: "transcriptionUpdate", events: Events::Only(&[TranscriptionStarted, TranscriptionUpdated, TranscriptionStopped, TranscriptionFailed]), versions: Versions::ALL, presence: Presence::Always, source: ALL_SPECS, confidence: Confidence::Specified, why: "" },
    FieldRule { field: "mediaStreamingUpdate", events: Events::Only(&[MediaStreamingStarted, MediaStreamingStopped, MediaStreamingFailed]), versions: Versions::ALL, presence: Presence::Always, source: ALL_SPECS, confidence: Confidence::Specified, why: "" },
    FieldRule { field: "failedPlaySourceIndex", events: Events::Only(&[PlayFailed, RecognizeFailed]), versions: Versions::HOLD, presence: Presence::WhenAPlaySourceFailed, source: ShapeSource::Spec { versions: "2024-09-15 and later, 2023-10-03-preview, 2024-09-01-preview" }, confidence: Confidence::Specified, why: "" },
    FieldRule { field: "publicEventType", events: Events::All, versions: Versions::ALL, presence: Presence::Always, source: HOLD_RECORDING, confidence: Confidence::Recorded, why: "every recorded event has it, though no spec model names it" },
];

/// `speechResult.confidence` and `choiceResult.confidence`.
const CONFIDENCE: Versions = Versions::since("2025-05-15", "2025-08-15-preview");

/// Whether `data` of `event` at `version` has `field` (when its presence
/// condition holds).
pub(crate) fn has_field(event: EventType, version: ApiVersion, field: &str) -> bool {
    FIELD_RULES
        .iter()
        .any(|r| r.field == field && r.events.contains(event) && r.versions.contains(version))
}

/// The rules that apply to `event` at `version`: its fields, in order.
pub(crate) fn fields(
    event: EventType,
    version: ApiVersion,
) -> impl Iterator<Item = &'static FieldRule> {
    FIELD_RULES
        .iter()
        .filter(move |r| r.events.contains(event) && r.versions.contains(version))
}

/// Whether a success of `event` at `version` comes without
/// `resultInformation` (and so counts as Code 200, SubCode 0).
/// The engine asks for every callback it makes, so this reads the rule's
/// two sets directly rather than scanning the table (a test holds the two
/// to the same answer).
pub(crate) fn success_has_no_result(event: EventType, version: ApiVersion) -> bool {
    NO_STATE_RESULT.contains(version) && STATE_EVENTS.contains(&event)
}

impl ShapeSource {
    pub(crate) fn citation(self) -> String {
        match self {
            ShapeSource::LiveRecording { file, commit } => {
                format!("Azure/azure-sdk-for-python {file} @{}", &commit[..8])
            }
            ShapeSource::Spec { versions } => format!(
                "Azure/azure-rest-api-specs CallAutomation spec, {versions} (commits: docs/realism.md)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_answer_is_the_tables() {
        for &event in EventType::ALL {
            for version in ApiVersion::all() {
                let by_table = fields(event, version).any(|r| {
                    r.field == "resultInformation" && r.presence == Presence::WhenNotASuccess
                });
                assert_eq!(
                    success_has_no_result(event, version),
                    by_table,
                    "{event} {version}"
                );
            }
        }
    }
}
