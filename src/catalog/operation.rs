//! Call Automation operations: the `Operation` dimension of the API request
//! metric, with the REST route each one calls and the api-versions whose
//! spec has that route (`stable/<version>` and `preview/<version>` of
//! Azure/azure-rest-api-specs' CallAutomation specs; docs/realism.md). The
//! first 17 are the values the metrics overview lists; the rest exist
//! because without them a scenario could not trigger every callback event
//! type, or call what every SDK can call.

use super::api_version::{ApiVersion, Versions};
use super::event_type::EventType;
use std::fmt;
use std::str::FromStr;

/// HTTP method of a Call Automation REST route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// Everything the catalog knows about one operation.
pub struct OperationInfo {
    pub name: &'static str,
    pub method: Method,
    /// Route template; `{callConnectionId}`, `{participantRawId}` and
    /// `{recordingId}` are filled in per call.
    pub route: &'static str,
    pub success_status: u16,
    /// False for operations beyond the 17 the metrics overview lists.
    pub listed: bool,
    /// The api-versions whose spec has the route.
    pub versions: Versions,
    /// Callback events a successful request of this kind can trigger.
    pub callbacks: &'static [EventType],
    pub description: &'static str,
}

macro_rules! operations {
    ($( $variant:ident ($id:literal) = $name:literal, $method:ident $route:literal => $status:literal, $listed:literal, $versions:path, [$($cb:ident),*], $desc:literal; )*) => {
        /// An operation (the `Operation` dimension value).
        ///
        /// The number after each variant below is its wire id: what the
        /// sink's log stores for it, so it never changes; a new operation
        /// takes the next unused number wherever its row goes.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        pub enum Operation { $($variant = $id),* }

        impl Operation {
            pub const ALL: &'static [Operation] = &[$(Operation::$variant),*];

            pub fn info(self) -> &'static OperationInfo {
                match self {
                    $(Operation::$variant => &OperationInfo {
                        name: $name,
                        method: Method::$method,
                        route: $route,
                        success_status: $status,
                        listed: $listed,
                        versions: $versions,
                        callbacks: &[$(EventType::$cb),*],
                        description: $desc,
                    },)*
                }
            }
        }
    };
}

operations! {
    CreateCall(0) = "Create Call", Post "/calling/callConnections" => 201, true, Versions::SINCE_2023_03_06,
        [CallConnected, ParticipantsUpdated, CallDisconnected, CreateCallFailed], "Create an outbound call to a user.";
    AnswerCall(1) = "Answer Call", Post "/calling/callConnections:answer" => 200, true, Versions::SINCE_2023_03_06,
        [CallConnected, ParticipantsUpdated, CallDisconnected, AnswerFailed], "Answer an inbound call.";
    RedirectCall(2) = "Redirect Call", Post "/calling/callConnections:redirect" => 204, true, Versions::SINCE_2023_03_06,
        [], "Redirect an inbound call to another user.";
    RejectCall(3) = "Reject Call", Post "/calling/callConnections:reject" => 204, true, Versions::SINCE_2023_03_06,
        [], "Reject an inbound call.";
    TransferCallToParticipant(4) = "Transfer Call To Participant", Post "/calling/callConnections/{callConnectionId}:transferToParticipant" => 202, true, Versions::SINCE_2023_03_06,
        [CallTransferAccepted, CallTransferFailed, CallDisconnected], "Transfer a 1:1 call to another user.";
    Play(5) = "Play", Post "/calling/callConnections/{callConnectionId}:play" => 202, true, Versions::SINCE_2023_03_06,
        [PlayStarted, PlayCompleted, PlayFailed, PlayCanceled], "Play audio to call participants.";
    PlayPrompt(6) = "PlayPrompt", Post "/calling/callConnections/{callConnectionId}:recognize" => 202, true, Versions::SINCE_2023_03_06,
        [PlayStarted, RecognizeCompleted, RecognizeFailed, RecognizeCanceled], "Play a prompt as part of a Recognize action.";
    Recognize(7) = "Recognize", Post "/calling/callConnections/{callConnectionId}:recognize" => 202, true, Versions::SINCE_2023_03_06,
        [PlayStarted, RecognizeCompleted, RecognizeFailed, RecognizeCanceled], "Recognize input from call participants.";
    AddParticipants(8) = "Add Participants", Post "/calling/callConnections/{callConnectionId}/participants:add" => 202, true, Versions::SINCE_2023_03_06,
        [AddParticipantSucceeded, AddParticipantFailed, ParticipantsUpdated], "Add a participant to a call.";
    RemoveParticipants(9) = "Remove Participants", Post "/calling/callConnections/{callConnectionId}/participants:remove" => 202, true, Versions::SINCE_2023_03_06,
        [RemoveParticipantSucceeded, RemoveParticipantFailed, ParticipantsUpdated], "Remove a participant from a call.";
    HangUpCall(10) = "HangUp Call", Delete "/calling/callConnections/{callConnectionId}" => 204, true, Versions::SINCE_2023_03_06,
        [CallDisconnected], "Hang up your call leg.";
    TerminateCall(11) = "Terminate Call", Post "/calling/callConnections/{callConnectionId}:terminate" => 204, true, Versions::SINCE_2023_03_06,
        [CallDisconnected], "End the call for all participants.";
    GetCall(12) = "Get Call", Get "/calling/callConnections/{callConnectionId}" => 200, true, Versions::SINCE_2023_03_06,
        [], "Get details about a call.";
    GetParticipant(13) = "Get Participant", Get "/calling/callConnections/{callConnectionId}/participants/{participantRawId}" => 200, true, Versions::SINCE_2023_03_06,
        [], "Get details on a call participant.";
    GetParticipants(14) = "Get Participants", Get "/calling/callConnections/{callConnectionId}/participants" => 200, true, Versions::SINCE_2023_03_06,
        [], "Get all participants in a call.";
    DeleteCall(15) = "Delete Call", Delete "/calling/callConnections/{callConnectionId}" => 204, true, Versions::SINCE_2023_03_06,
        [CallDisconnected], "Delete a call (for everyone).";
    CancelAllMediaOperations(16) = "Cancel All Media Operations", Post "/calling/callConnections/{callConnectionId}:cancelAllMediaOperations" => 202, true, Versions::SINCE_2023_03_06,
        [PlayCanceled, RecognizeCanceled], "Cancel all ongoing or queued media operations in a call.";
    Connect(17) = "Connect", Post "/calling/callConnections:connect" => 200, false, Versions::CONNECT,
        [CallConnected, ParticipantsUpdated, ConnectFailed, CallDisconnected], "Connect to an existing call (room, group or server call).";
    CancelAddParticipant(18) = "Cancel Add Participant", Post "/calling/callConnections/{callConnectionId}/participants:cancelAddParticipant" => 202, false, Versions::SINCE_2023_10_15,
        [CancelAddParticipantSucceeded, CancelAddParticipantFailed], "Cancel a pending add-participant invitation.";
    StartContinuousDtmfRecognition(19) = "Start Continuous DTMF Recognition", Post "/calling/callConnections/{callConnectionId}:startContinuousDtmfRecognition" => 200, false, Versions::SINCE_2023_10_15,
        [ContinuousDtmfRecognitionToneReceived, ContinuousDtmfRecognitionToneFailed], "Start reporting every DTMF tone a participant presses.";
    StopContinuousDtmfRecognition(20) = "Stop Continuous DTMF Recognition", Post "/calling/callConnections/{callConnectionId}:stopContinuousDtmfRecognition" => 200, false, Versions::SINCE_2023_10_15,
        [ContinuousDtmfRecognitionStopped, ContinuousDtmfRecognitionToneFailed], "Stop continuous DTMF recognition.";
    SendDtmfTones(21) = "Send DTMF Tones", Post "/calling/callConnections/{callConnectionId}:sendDtmfTones" => 202, false, Versions::SINCE_2023_10_15,
        [SendDtmfTonesCompleted, SendDtmfTonesFailed], "Send DTMF tones to a participant.";
    Hold(22) = "Hold", Post "/calling/callConnections/{callConnectionId}:hold" => 200, false, Versions::HOLD,
        [HoldFailed, ParticipantsUpdated, PlayStarted, PlayCompleted, PlayFailed], "Put a participant on hold, optionally with music.";
    Unhold(23) = "Unhold", Post "/calling/callConnections/{callConnectionId}:unhold" => 200, false, Versions::HOLD,
        [ParticipantsUpdated], "Take a participant off hold.";
    StartMediaStreaming(24) = "Start Media Streaming", Post "/calling/callConnections/{callConnectionId}:startMediaStreaming" => 202, false, Versions::SINCE_2025_05_15,
        [MediaStreamingStarted, MediaStreamingFailed], "Start streaming call audio to a websocket.";
    StopMediaStreaming(25) = "Stop Media Streaming", Post "/calling/callConnections/{callConnectionId}:stopMediaStreaming" => 202, false, Versions::SINCE_2025_05_15,
        [MediaStreamingStopped, MediaStreamingFailed], "Stop media streaming.";
    StartTranscription(26) = "Start Transcription", Post "/calling/callConnections/{callConnectionId}:startTranscription" => 202, false, Versions::SINCE_2025_05_15,
        [TranscriptionStarted, TranscriptionUpdated, TranscriptionFailed], "Start real-time transcription.";
    StopTranscription(27) = "Stop Transcription", Post "/calling/callConnections/{callConnectionId}:stopTranscription" => 202, false, Versions::SINCE_2025_05_15,
        [TranscriptionStopped, TranscriptionUpdated, TranscriptionFailed], "Stop real-time transcription.";
    UpdateTranscription(28) = "Update Transcription", Post "/calling/callConnections/{callConnectionId}:updateTranscription" => 202, false, Versions::SINCE_2025_05_15,
        [TranscriptionUpdated, TranscriptionFailed], "Change the transcription locale or model.";
    StartRecording(29) = "Start Recording", Post "/calling/recordings" => 200, false, Versions::SINCE_2023_03_06,
        [RecordingStateChanged, StartRecordingFailed], "Start recording the call.";
    PauseRecording(30) = "Pause Recording", Post "/calling/recordings/{recordingId}:pause" => 202, false, Versions::SINCE_2023_03_06,
        [RecordingStateChanged], "Pause an active recording.";
    ResumeRecording(31) = "Resume Recording", Post "/calling/recordings/{recordingId}:resume" => 202, false, Versions::SINCE_2023_03_06,
        [RecordingStateChanged], "Resume a paused recording.";
    StopRecording(32) = "Stop Recording", Delete "/calling/recordings/{recordingId}" => 204, false, Versions::SINCE_2023_03_06,
        [RecordingStateChanged], "Stop a recording.";
    MuteParticipant(33) = "Mute Participant", Post "/calling/callConnections/{callConnectionId}/participants:mute" => 200, false, Versions::SINCE_2023_10_15,
        [], "Mute a participant in the call.";
    GetRecording(34) = "Get Recording", Get "/calling/recordings/{recordingId}" => 200, false, Versions::SINCE_2023_03_06,
        [], "Get the state of a recording.";
    MoveParticipants(35) = "Move Participants", Post "/calling/callConnections/{callConnectionId}/participants:moveHere" => 202, false, Versions::SINCE_2026_03_12,
        [MoveParticipantSucceeded, MoveParticipantFailed, ParticipantsUpdated], "Move participants from another call into this one.";
}

super::wire_id::wire_ids!(Operation, "operation");

/// Where Start Recording's spec lists the 202 answer.
const ASYNC_START_RECORDING: Versions = Versions::since("2025-05-15", "2025-08-15-preview");

impl Operation {
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The 17 operations the metrics overview lists.
    pub fn listed() -> impl Iterator<Item = Operation> {
        Self::ALL.iter().copied().filter(|op| op.info().listed)
    }

    /// The metric that counts its requests: the recording routes have
    /// their own (APIRequestCallRecording), everything else is Call
    /// Automation's.
    pub fn metric(self) -> super::Metric {
        use Operation::*;
        match self {
            StartRecording | PauseRecording | ResumeRecording | StopRecording | GetRecording => {
                super::Metric::RecordingRequests
            }
            _ => super::Metric::ApiRequests,
        }
    }

    /// The status a successful request answers at `version`: Start
    /// Recording answers 202 where the spec says "You will receive either
    /// a StartRecordingFailed event or RecordingStateChanged event" (the
    /// 2025-05-15 spec on, 2025-08-15-preview), since its result then
    /// comes as an event; 200 before.
    pub fn success_status_at(self, version: ApiVersion) -> u16 {
        match self {
            Operation::StartRecording if ASYNC_START_RECORDING.contains(version) => 202,
            _ => self.info().success_status,
        }
    }

    /// Whether `code` is this operation's success at some version.
    pub fn succeeds_with(self, code: u16) -> bool {
        ApiVersion::all().any(|v| self.success_status_at(v) == code)
    }

    /// Operations whose success always ends the call.
    pub fn ends_call(self) -> bool {
        matches!(
            self,
            Operation::HangUpCall | Operation::TerminateCall | Operation::DeleteCall
        )
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Operation {
    type Err = super::UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|op| op.name() == s)
            .ok_or_else(|| {
                super::UnknownName::new("operation", s, Self::ALL.iter().map(|o| o.name()))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_recording_answers_202_where_its_result_is_an_event() {
        let at = |v: &str| Operation::StartRecording.success_status_at(v.parse().unwrap());
        assert_eq!(at("2024-09-15"), 200);
        assert_eq!(at("2024-09-01-preview"), 200);
        assert_eq!(at("2025-05-15"), 202);
        assert_eq!(at("2026-03-12"), 202);
        assert_eq!(at("2025-08-15-preview"), 202);
        assert_eq!(
            Operation::Play.success_status_at("2026-03-12".parse().unwrap()),
            202
        );
        assert_eq!(
            Operation::GetCall.success_status_at("2026-03-12".parse().unwrap()),
            200
        );
    }

    // Operation::metric is written out (it runs per event); it must stay
    // what the routes say.
    #[test]
    fn the_recording_metric_counts_exactly_the_recording_routes() {
        for &op in Operation::ALL {
            let recording = op.info().route.starts_with("/calling/recordings");
            assert_eq!(
                op.metric() == super::super::Metric::RecordingRequests,
                recording,
                "{op}"
            );
        }
    }
}
