//! Call Automation operations: the `Operation` dimension of the API request
//! metric, with the REST route each one calls. The first 17 are the values the
//! metrics overview lists; the rest exist because without them a scenario
//! could not trigger every callback event type.

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
    /// Callback events a successful request of this kind can trigger.
    pub callbacks: &'static [EventType],
    pub description: &'static str,
}

macro_rules! operations {
    ($( $variant:ident = $name:literal, $method:ident $route:literal => $status:literal, $listed:literal, [$($cb:ident),*], $desc:literal; )*) => {
        /// An operation (the `Operation` dimension value).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Operation { $($variant),* }

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
                        callbacks: &[$(EventType::$cb),*],
                        description: $desc,
                    },)*
                }
            }
        }
    };
}

operations! {
    CreateCall = "Create Call", Post "/calling/callConnections" => 201, true,
        [CallConnected, ParticipantsUpdated, CallDisconnected], "Create an outbound call to a user.";
    AnswerCall = "Answer Call", Post "/calling/callConnections:answer" => 200, true,
        [CallConnected, ParticipantsUpdated, CallDisconnected], "Answer an inbound call.";
    RedirectCall = "Redirect Call", Post "/calling/callConnections:redirect" => 204, true,
        [], "Redirect an inbound call to another user.";
    RejectCall = "Reject Call", Post "/calling/callConnections:reject" => 204, true,
        [], "Reject an inbound call.";
    TransferCallToParticipant = "Transfer Call To Participant", Post "/calling/callConnections/{callConnectionId}:transferToParticipant" => 202, true,
        [CallTransferAccepted, CallTransferFailed, CallDisconnected], "Transfer a 1:1 call to another user.";
    Play = "Play", Post "/calling/callConnections/{callConnectionId}:play" => 202, true,
        [PlayStarted, PlayCompleted, PlayFailed, PlayCanceled], "Play audio to call participants.";
    PlayPrompt = "PlayPrompt", Post "/calling/callConnections/{callConnectionId}:recognize" => 202, true,
        [PlayStarted, PlayCompleted, PlayFailed, PlayCanceled, RecognizeCompleted, RecognizeFailed, RecognizeCanceled], "Play a prompt as part of a Recognize action.";
    Recognize = "Recognize", Post "/calling/callConnections/{callConnectionId}:recognize" => 202, true,
        [PlayStarted, RecognizeCompleted, RecognizeFailed, RecognizeCanceled], "Recognize input from call participants.";
    AddParticipants = "Add Participants", Post "/calling/callConnections/{callConnectionId}/participants:add" => 202, true,
        [AddParticipantSucceeded, AddParticipantFailed, ParticipantsUpdated], "Add a participant to a call.";
    RemoveParticipants = "Remove Participants", Post "/calling/callConnections/{callConnectionId}/participants:remove" => 202, true,
        [RemoveParticipantSucceeded, RemoveParticipantFailed, ParticipantsUpdated], "Remove a participant from a call.";
    HangUpCall = "HangUp Call", Delete "/calling/callConnections/{callConnectionId}" => 204, true,
        [CallDisconnected], "Hang up your call leg.";
    TerminateCall = "Terminate Call", Post "/calling/callConnections/{callConnectionId}:terminate" => 204, true,
        [CallDisconnected], "End the call for all participants.";
    GetCall = "Get Call", Get "/calling/callConnections/{callConnectionId}" => 200, true,
        [], "Get details about a call.";
    GetParticipant = "Get Participant", Get "/calling/callConnections/{callConnectionId}/participants/{participantRawId}" => 200, true,
        [], "Get details on a call participant.";
    GetParticipants = "Get Participants", Get "/calling/callConnections/{callConnectionId}/participants" => 200, true,
        [], "Get all participants in a call.";
    DeleteCall = "Delete Call", Delete "/calling/callConnections/{callConnectionId}" => 204, true,
        [CallDisconnected], "Delete a call (for everyone).";
    CancelAllMediaOperations = "Cancel All Media Operations", Post "/calling/callConnections/{callConnectionId}:cancelAllMediaOperations" => 202, true,
        [PlayCanceled, RecognizeCanceled], "Cancel all ongoing or queued media operations in a call.";
    Connect = "Connect", Post "/calling/callConnections:connect" => 200, false,
        [CallConnected, ParticipantsUpdated, ConnectFailed, CallDisconnected], "Connect to an existing call (room, group or server call).";
    CancelAddParticipant = "Cancel Add Participant", Post "/calling/callConnections/{callConnectionId}/participants:cancelAddParticipant" => 202, false,
        [CancelAddParticipantSucceeded, CancelAddParticipantFailed], "Cancel a pending add-participant invitation.";
    StartContinuousDtmfRecognition = "Start Continuous DTMF Recognition", Post "/calling/callConnections/{callConnectionId}:startContinuousDtmfRecognition" => 200, false,
        [ContinuousDtmfRecognitionToneReceived, ContinuousDtmfRecognitionToneFailed], "Start reporting every DTMF tone a participant presses.";
    StopContinuousDtmfRecognition = "Stop Continuous DTMF Recognition", Post "/calling/callConnections/{callConnectionId}:stopContinuousDtmfRecognition" => 200, false,
        [ContinuousDtmfRecognitionStopped, ContinuousDtmfRecognitionToneFailed], "Stop continuous DTMF recognition.";
    SendDtmfTones = "Send DTMF Tones", Post "/calling/callConnections/{callConnectionId}:sendDtmfTones" => 202, false,
        [SendDtmfTonesCompleted, SendDtmfTonesFailed], "Send DTMF tones to a participant.";
    Hold = "Hold", Post "/calling/callConnections/{callConnectionId}:hold" => 200, false,
        [HoldFailed, ParticipantsUpdated, PlayStarted, PlayCompleted, PlayFailed], "Put a participant on hold, optionally with music.";
    Unhold = "Unhold", Post "/calling/callConnections/{callConnectionId}:unhold" => 200, false,
        [ParticipantsUpdated], "Take a participant off hold.";
    StartMediaStreaming = "Start Media Streaming", Post "/calling/callConnections/{callConnectionId}:startMediaStreaming" => 202, false,
        [MediaStreamingStarted, MediaStreamingFailed], "Start streaming call audio to a websocket.";
    StopMediaStreaming = "Stop Media Streaming", Post "/calling/callConnections/{callConnectionId}:stopMediaStreaming" => 202, false,
        [MediaStreamingStopped, MediaStreamingFailed], "Stop media streaming.";
    StartTranscription = "Start Transcription", Post "/calling/callConnections/{callConnectionId}:startTranscription" => 202, false,
        [TranscriptionStarted, TranscriptionUpdated, TranscriptionFailed], "Start real-time transcription.";
    StopTranscription = "Stop Transcription", Post "/calling/callConnections/{callConnectionId}:stopTranscription" => 202, false,
        [TranscriptionStopped, TranscriptionUpdated, TranscriptionFailed], "Stop real-time transcription.";
    UpdateTranscription = "Update Transcription", Post "/calling/callConnections/{callConnectionId}:updateTranscription" => 202, false,
        [TranscriptionUpdated, TranscriptionFailed], "Change the transcription locale or model.";
    StartRecording = "Start Recording", Post "/calling/recordings" => 200, false,
        [RecordingStateChanged], "Start recording the call.";
    PauseRecording = "Pause Recording", Post "/calling/recordings/{recordingId}:pause" => 202, false,
        [RecordingStateChanged], "Pause an active recording.";
    ResumeRecording = "Resume Recording", Post "/calling/recordings/{recordingId}:resume" => 202, false,
        [RecordingStateChanged], "Resume a paused recording.";
    StopRecording = "Stop Recording", Delete "/calling/recordings/{recordingId}" => 204, false,
        [RecordingStateChanged], "Stop a recording.";
}

impl Operation {
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The 17 operations the metrics overview lists.
    pub fn listed() -> impl Iterator<Item = Operation> {
        Self::ALL.iter().copied().filter(|op| op.info().listed)
    }

    /// Operations whose success always ends the call.
    pub fn ends_call(self) -> bool {
        matches!(
            self,
            Operation::HangUpCall | Operation::TerminateCall | Operation::DeleteCall
        )
    }

    /// Operations that happen before a call connection exists: the call
    /// connection id comes from their response rather than the route.
    pub fn starts_call(self) -> bool {
        matches!(
            self,
            Operation::CreateCall | Operation::AnswerCall | Operation::Connect
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
