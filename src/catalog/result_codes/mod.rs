//! `resultInformation` texts, verbatim from the primary sources, per
//! (event type, code, sub-code): the same sub-code reads differently per
//! code and per event (400/8565 is "bad request to Azure AI services" on
//! PlayFailed and RecognizeFailed, "bad request to Cognitive Services" on
//! TranscriptionFailed). Each row names the page it was read from
//! ([`Source`]); `catalog --format json` prints them, and
//! `result_codes/tests.rs` pins the ones issue #10 corrected.
//!
//! A success no table lists reads "Action completed successfully." (as
//! recorded success events of every kind do); another pair no table lists
//! gets the troubleshooting page's name of its sub-code ([`SUB_CODE_NAMES`]),
//! which is what the page gives for it.

use super::event_type::EventType;

/// A page a row was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Source {
    PlayAction,
    RecognizeAction,
    RecognizeAiAction,
    Transcription,
    TroubleshootingCodes,
    JavaSdkTests,
    /// Events recorded from the live service by the Python SDK's tests,
    /// 2026-03-12 (the newest service's texts).
    LiveRecording2026,
    /// The same, 2024-09-01-preview (December 2024).
    LiveRecording2024,
}

impl Source {
    /// Where to read it: the published page, and the file and commit the
    /// row was checked against.
    pub(crate) fn citation(self) -> &'static str {
        match self {
            Source::PlayAction => {
                "https://learn.microsoft.com/azure/communication-services/how-tos/call-automation/play-action \
                 (MicrosoftDocs/azure-docs articles/communication-services/how-tos/call-automation/play-action.md @03acc2f3)"
            }
            Source::RecognizeAction => {
                "https://learn.microsoft.com/azure/communication-services/how-tos/call-automation/recognize-action \
                 (MicrosoftDocs/azure-docs articles/communication-services/how-tos/call-automation/recognize-action.md, \
                 the 2025 page with the Foundry Tools banner)"
            }
            Source::RecognizeAiAction => {
                "https://learn.microsoft.com/azure/communication-services/how-tos/call-automation/recognize-ai-action \
                 (MicrosoftDocs/azure-docs articles/communication-services/how-tos/call-automation/recognize-ai-action.md @41877d1e)"
            }
            Source::Transcription => {
                "https://learn.microsoft.com/azure/communication-services/how-tos/call-automation/real-time-transcription-tutorial \
                 (MicrosoftDocs/azure-docs articles/communication-services/how-tos/call-automation/real-time-transcription-tutorial.md @19d2e838)"
            }
            Source::TroubleshootingCodes => {
                "https://learn.microsoft.com/azure/communication-services/resources/troubleshooting/voice-video-calling/troubleshooting-codes \
                 (Call Automation section, ms.date 2025-07-14; MicrosoftDocs/azure-docs \
                 articles/communication-services/resources/troubleshooting/voice-video-calling/includes/codes/call-automation-sdk.md @0f1ed170)"
            }
            Source::LiveRecording2026 => {
                "Azure/azure-sdk-for-python sdk/communication/azure-communication-callautomation/tests/events/\
                 test_e2e_callautomation_client.pyTestCallAutomationClientAutomatedLiveTesttest_get_participant.event.json @1d3cddfe \
                 (a live recording, api-version 2026-03-12)"
            }
            Source::LiveRecording2024 => {
                "Azure/azure-sdk-for-python sdk/communication/azure-communication-callautomation/tests/events/\
                 test_e2e_callautomation_client.pyTestCallAutomationClientAutomatedLiveTesttest_start_recording_with_call_connection_id.event.json @a9f0c78a \
                 (a live recording, api-version 2024-09-01-preview)"
            }
            Source::JavaSdkTests => {
                "Azure/azure-sdk-for-java sdk/communication/azure-communication-callautomation/src/test/java/com/azure/\
                 communication/callautomation/CallAutomationEventParserAndProcessorUnitTests.java @db4d0c58"
            }
        }
    }
}

/// One documented `resultInformation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ResultText {
    pub event: EventType,
    pub code: u16,
    pub sub_code: u32,
    pub message: &'static str,
    pub source: Source,
}

const fn row(
    event: EventType,
    code: u16,
    sub_code: u32,
    message: &'static str,
    source: Source,
) -> ResultText {
    ResultText {
        event,
        code,
        sub_code,
        message,
        source,
    }
}

use EventType::*;
use Source::*;

/// Sorted by (event in declaration order, code, sub-code), one message each (where a page gives
/// two for one pair, its first).
#[rustfmt::skip]
pub(crate) const RESULT_TEXTS: &[ResultText] = &[
    row(CallConnected, 200, 0, "", LiveRecording2026),
    row(CallDisconnected, 200, 0, "Call ended successfully by the local participant.", TroubleshootingCodes),
    row(CallDisconnected, 200, 4521, "Participant abruptly disconnected (e.g., closed app, tab, or browser without hanging up).", TroubleshootingCodes),
    row(CallDisconnected, 200, 5000, "Participant removed by another participant.", TroubleshootingCodes),
    row(CallDisconnected, 200, 5010, "Call ended because only one participant remained.", TroubleshootingCodes),
    row(CallDisconnected, 200, 5013, "Call ended because no one else joined the group call.", TroubleshootingCodes),
    row(CallDisconnected, 200, 7000, "Call was ended by Azure Communication Service Call Automation API or a server bot. DiagCode: 0#7000.@", LiveRecording2026),
    row(CallDisconnected, 200, 7015, "Call ended by service after successful transfer.", TroubleshootingCodes),
    row(CallDisconnected, 400, 8559, "Action Not Supported Only One Single Dialout App Allowed", TroubleshootingCodes),
    row(CallDisconnected, 487, 0, "Call ended successfully as caller canceled the call.", TroubleshootingCodes),
    row(CallDisconnected, 487, 10003, "Call was accepted by another endpoint (e.g. different bot answered the call). Ensure bots only answer calls directed to them.", TroubleshootingCodes),
    row(CallDisconnected, 487, 10024, "Call was declined by all callee endpoints.", TroubleshootingCodes),
    row(CallDisconnected, 500, 10045, "Azure Communication Services infrastructure error.", TroubleshootingCodes),
    row(CallDisconnected, 503, 560503, "Unexpected server error.", TroubleshootingCodes),
    row(CallTransferAccepted, 200, 7015, "The transfer operation completed successfully.", JavaSdkTests),
    row(ConnectFailed, 408, 10057, "Timeout during meeting join or call acceptance.", TroubleshootingCodes),
    row(ConnectFailed, 409, 8519, "Conflict", TroubleshootingCodes),
    row(ConnectFailed, 429, 10110, "Maximum call duration exceeded.", TroubleshootingCodes),
    row(ConnectFailed, 480, 10076, "Target user registered but offline.", TroubleshootingCodes),
    row(ConnectFailed, 484, 560484, "Invalid or incomplete callee address.", TroubleshootingCodes),
    row(ContinuousDtmfRecognitionStopped, 200, 0, "Continuous DTMF Recognition stopped successfully.", JavaSdkTests),
    row(ContinuousDtmfRecognitionToneFailed, 400, 12323, "Continuous DTMF tone Couldn't be received successfully.", JavaSdkTests),
    row(ContinuousDtmfRecognitionToneReceived, 200, 0, "DTMF tone received successfully.", JavaSdkTests),
    row(HoldFailed, 400, 8536, "Action failed, file could not be downloaded.", JavaSdkTests),
    row(MediaStreamingFailed, 500, 8603, "Action failed, not able to establish websocket connection.", JavaSdkTests),
    row(ParticipantsUpdated, 200, 0, "", LiveRecording2026),
    row(PlayCanceled, 400, 8508, "Action failed, the operation was canceled.", PlayAction),
    row(PlayCompleted, 200, 0, "Action completed successfully.", PlayAction),
    row(PlayFailed, 400, 8535, "Action failed, file format is invalid.", PlayAction),
    row(PlayFailed, 400, 8536, "Action failed, file could not be downloaded.", PlayAction),
    row(PlayFailed, 400, 8565, "Action failed, bad request to Azure AI services. Check input parameters.", PlayAction),
    row(PlayFailed, 401, 8565, "Action failed, Azure AI services authentication error.", PlayAction),
    row(PlayFailed, 403, 8565, "Action failed, forbidden request to Azure AI services, free subscription used by the request ran out of quota.", PlayAction),
    row(PlayFailed, 408, 8565, "Action failed, request to Azure AI services timed out.", PlayAction),
    row(PlayFailed, 429, 8565, "Action failed, requests exceeded the number of allowed concurrent requests for the Azure AI services subscription.", PlayAction),
    row(PlayFailed, 500, 8572, "Action failed due to play service shutdown.", PlayAction),
    row(PlayFailed, 500, 9999, "Unknown internal server error", PlayAction),
    row(RecordingStateChanged, 200, 0, "", LiveRecording2024),
    row(RecognizeCanceled, 400, 8508, "Action failed, the operation was canceled.", RecognizeAction),
    row(RecognizeCompleted, 200, 8514, "Action completed as stop tone was detected.", RecognizeAction),
    row(RecognizeCompleted, 200, 8531, "Action completed, max digits received.", RecognizeAction),
    row(RecognizeCompleted, 200, 8533, "Action completed, DTMF option matched.", RecognizeAiAction),
    row(RecognizeCompleted, 200, 8545, "Action completed, speech option matched.", RecognizeAiAction),
    row(RecognizeCompleted, 200, 8569, "Action completed, speech was recognized.", RecognizeAiAction),
    row(RecognizeCompleted, 400, 8508, "Action failed, the operation was canceled.", RecognizeAction),
    row(RecognizeCompleted, 400, 8532, "Action failed, inter-digit silence timeout reached.", RecognizeAction),
    row(RecognizeFailed, 400, 8510, "Action failed, initial silence timeout reached.", RecognizeAction),
    row(RecognizeFailed, 400, 8532, "Action failed, inter-digit silence timeout reached.", RecognizeAction),
    row(RecognizeFailed, 400, 8547, "Action failed, recognized phrase does not match a valid option.", RecognizeAiAction),
    row(RecognizeFailed, 400, 8563, "Action failed, speech could not be recognized.", RecognizeAiAction),
    row(RecognizeFailed, 400, 8565, "Action failed, bad request to Azure AI services. Check input parameters.", RecognizeAction),
    row(RecognizeFailed, 401, 8565, "Action failed, Azure AI services authentication error.", RecognizeAction),
    row(RecognizeFailed, 403, 8565, "Action failed, forbidden request to Azure AI services, free subscription used by the request ran out of quota.", RecognizeAction),
    row(RecognizeFailed, 408, 8565, "Action failed, request to Azure AI services timed out.", RecognizeAction),
    row(RecognizeFailed, 408, 8570, "Action failed, speech recognition timed out.", RecognizeAiAction),
    row(RecognizeFailed, 429, 8565, "Action failed, requests exceeded the number of allowed concurrent requests for the Azure AI services subscription.", RecognizeAction),
    row(RecognizeFailed, 500, 8511, "Action failed, encountered failure while trying to play the prompt.", RecognizeAction),
    row(RecognizeFailed, 500, 8512, "Unknown internal server error.", RecognizeAction),
    row(RecognizeFailed, 500, 8534, "Action failed, incorrect tone entered.", RecognizeAiAction),
    row(RecognizeFailed, 500, 9999, "Unspecified error.", RecognizeAiAction),
    row(SendDtmfTonesCompleted, 200, 0, "Send DTMF completed successfully.", JavaSdkTests),
    row(TranscriptionFailed, 400, 8501, "Action is invalid when call is not in Established state.", Transcription),
    row(TranscriptionFailed, 400, 8523, "Invalid Request, locale is missing.", Transcription),
    row(TranscriptionFailed, 400, 8528, "Action is invalid, call already terminated.", Transcription),
    row(TranscriptionFailed, 400, 8565, "Action failed due to a bad request to Cognitive Services. Check your input parameters.", Transcription),
    row(TranscriptionFailed, 400, 8581, "Action failed, StreamUrl isn't valid.", Transcription),
    row(TranscriptionFailed, 400, 8605, "Custom speech recognition model for Transcription is not supported.", Transcription),
    row(TranscriptionFailed, 401, 8565, "Action failed due to a Cognitive Services authentication error. Check your authorization input and ensure it's correct.", Transcription),
    row(TranscriptionFailed, 403, 8565, "Action failed due to a forbidden request to Cognitive Services. Check your subscription status and ensure it's active.", Transcription),
    row(TranscriptionFailed, 405, 8520, "Transcription functionality is not supported at this time.", Transcription),
    row(TranscriptionFailed, 405, 8522, "Request not allowed when Transcription url not set during call setup.", Transcription),
    row(TranscriptionFailed, 429, 8565, "Action failed, requests exceeded the number of allowed concurrent requests for the cognitive services subscription.", Transcription),
    row(TranscriptionFailed, 500, 8578, "Action failed, not able to establish WebSocket connection.", Transcription),
    row(TranscriptionFailed, 500, 8579, "Action failed, transcription was canceled.", Transcription),
    row(TranscriptionFailed, 500, 8580, "Action failed, transcription service was shut down.", Transcription),
    row(TranscriptionFailed, 500, 9999, "Unknown internal server error.", Transcription),
    row(TranscriptionStarted, 200, 0, "Action completed successfully.", Transcription),
    row(TranscriptionStopped, 200, 0, "Action completed successfully.", Transcription),
    row(TranscriptionUpdated, 200, 0, "Action completed successfully.", Transcription),
    row(CreateCallFailed, 400, 8523, "A generic error code that indicates that something in the request body is invalid.", TroubleshootingCodes),
    row(CreateCallFailed, 400, 8567, "ACS Resource Service Principal Not Enabled", TroubleshootingCodes),
    row(CreateCallFailed, 401, 10009, "Unauthenticated identity.", TroubleshootingCodes),
    row(CreateCallFailed, 403, 7504, "Insufficient Application Permissions", TroubleshootingCodes),
    row(CreateCallFailed, 403, 7507, "Call Source Identity Invalid", TroubleshootingCodes),
    row(CreateCallFailed, 403, 510403, "Call marked as spam and blocked.", TroubleshootingCodes),
    row(CreateCallFailed, 403, 560403, "Call was forbidden, canceled, or rejected.", TroubleshootingCodes),
    row(CreateCallFailed, 404, 4500, "Call ID does not exist or call has already ended.", TroubleshootingCodes),
    row(CreateCallFailed, 404, 8522, "A generic error code that indicates that the resource isn't found. Resources can include calls and participants.", TroubleshootingCodes),
    row(CreateCallFailed, 405, 8520, "Functionality not supported at this time", TroubleshootingCodes),
    row(CreateCallFailed, 405, 8522, "Missing configuration", TroubleshootingCodes),
    row(CreateCallFailed, 409, 8519, "Conflict", TroubleshootingCodes),
    row(CreateCallFailed, 412, 8583, "Precondition Failed", TroubleshootingCodes),
    row(CreateCallFailed, 480, 10078, "Remote participant not registered or reachable.", TroubleshootingCodes),
    row(CreateCallFailed, 480, 560480, "No answer from callee.", TroubleshootingCodes),
    row(CreateCallFailed, 487, 540487, "Call canceled by the originator.", TroubleshootingCodes),
    row(AnswerFailed, 400, 8500, "Invalid Media Mode", TroubleshootingCodes),
    row(AnswerFailed, 400, 8501, "Action Not Supported Call Not Established", TroubleshootingCodes),
    row(AnswerFailed, 400, 8523, "A generic error code that indicates that something in the request body is invalid.", TroubleshootingCodes),
    row(AnswerFailed, 400, 8528, "Action not supported call terminated", TroubleshootingCodes),
    row(AnswerFailed, 400, 8585, "Action Not Valid In Current Call State", TroubleshootingCodes),
    row(AnswerFailed, 401, 71005, "Token validation error while answering the call.", TroubleshootingCodes),
    row(AnswerFailed, 404, 404, "Unable to answer.", TroubleshootingCodes),
    row(AnswerFailed, 404, 8522, "A generic error code that indicates that the resource isn't found. Resources can include calls and participants.", TroubleshootingCodes),
    row(AnswerFailed, 408, 4506, "Timeout – callee didn’t respond in time.", TroubleshootingCodes),
    row(AnswerFailed, 430, 10315, "Failed to deliver signaling message to client.", TroubleshootingCodes),
    row(AnswerFailed, 430, 10317, "Client did not acknowledge signaling request.", TroubleshootingCodes),
    row(AnswerFailed, 480, 10077, "Target registered but not online at the time of the call.", TroubleshootingCodes),
    row(AnswerFailed, 487, 4501, "Declined or failed to generate media offer (e.g., endpoint mismatch).", TroubleshootingCodes),
    row(AnswerFailed, 487, 10004, "Timeout – user did not accept or reject in time.", TroubleshootingCodes),
    row(AnswerFailed, 490, 4502, "Network issue – browser failed to complete the request.", TroubleshootingCodes),
    row(AnswerFailed, 495, 4507, "Invalid Azure Communication Services token.", TroubleshootingCodes),
    row(AnswerFailed, 496, 7, "Lost network connection; retries failed.", TroubleshootingCodes),
];

/// The troubleshooting page's sub-code list (the same source), sorted.
#[rustfmt::skip]
pub(crate) const SUB_CODE_NAMES: &[(u32, &str)] = &[
    (0, "Success"),
    (7000, "Graceful"),
    (7500, "Unsupported AAD Identity"),
    (7501, "Invalid Token"),
    (7502, "Access Not Enabled"),
    (7504, "Insufficient Application Permissions"),
    (7505, "Enterprise Tenant Mismatch"),
    (7506, "Untrusted Certificate"),
    (7507, "Call Source Identity Invalid"),
    (7508, "Unsupported ACS Identity"),
    (7509, "Hmac Validation Error"),
    (7510, "Managed Identity Validation Error"),
    (7600, "Resource Access Not Enabled"),
    (7601, "Invalid ACS Source Identity"),
    (7602, "Invalid ACS Target Identity"),
    (7603, "Invalid ACS Identity"),
    (7604, "Unauthorized Teams Interop Scenario"),
    (7605, "Unauthorized Teams Recording Interop Scenario"),
    (7606, "Unauthorized ACS Resource For Cognitive Actions"),
    (8500, "Invalid Media Mode"),
    (8501, "Call Not Established"),
    (8502, "My Participant ID Not Available"),
    (8503, "Call Media State Audio Inactive"),
    (8504, "Media Streams Unavailable"),
    (8505, "Multiple Participants With Replacement"),
    (8506, "Non Compliance Recording Call"),
    (8508, "Operation Canceled"),
    (8509, "Max Silence Timeout Reached"),
    (8510, "Initial Silence Timeout Reached"),
    (8511, "Play Prompt Failed"),
    (8512, "Play Beep Failed"),
    (8513, "Media Receive Timeout"),
    (8514, "Stop Tone Detected"),
    (8515, "Max Record Duration Reached"),
    (8516, "Call Throttled"),
    (8517, "Call Tenant ID Mismatch"),
    (8518, "Call Exception"),
    (8519, "Conflict"),
    (8520, "Not Implemented"),
    (8521, "Too Many Hops"),
    (8522, "Not Found"),
    (8523, "Invalid Argument"),
    (8524, "Invalid Participants Count For Compliance Recording"),
    (8525, "Non Recorded Party"),
    (8526, "Invalid Join Token"),
    (8527, "Invalid Join URL"),
    (8528, "Call Terminated"),
    (8529, "Call Throttled Monthly Limit Reached"),
    (8530, "Call Throttled Active Calls Limit Reached"),
    (8531, "Max Digits Received"),
    (8532, "Inter Digit Timeout Reached"),
    (8533, "Dtmf Option Matched"),
    (8534, "Incorrect Tone Entered"),
    (8535, "Invalid File Format"),
    (8536, "File Download Failed"),
    (8537, "Keep Alive Timeout Reached"),
    (8538, "Callee Declined"),
    (8539, "Callee Busy"),
    (8540, "Callee Busy Everywhere"),
    (8541, "Callee Unavailable"),
    (8542, "Call Canceled"),
    (8543, "Call Doesn't Exist"),
    (8544, "Callee Unreachable"),
    (8545, "Speech Option Matched"),
    (8546, "Callee Sent Invalid Request"),
    (8547, "Speech Option Not Matched"),
    (8548, "Call isn't Group Call"),
    (8549, "Retarget Conversation Creation Failed"),
    (8550, "Retarget Media Negotiation Failed"),
    (8551, "Retarget Not Supported"),
    (8552, "Can't Remove Organizer"),
    (8553, "Duplicate Recording"),
    (8554, "Participant Out Of Meeting Audio Mix"),
    (8555, "Retarget Already In Progress"),
    (8556, "Action Not Supported For CR Call"),
    (8557, "Wrong Format Type"),
    (8558, "Participant Not Present"),
    (8559, "Duplicate Single Dialout"),
    (8560, "Join Conversation Blocked Due To Locked Meeting"),
    (8561, "Invalid Join Meeting ID"),
    (8562, "Recording Mode Not Supported"),
    (8563, "Speech Not Recognized"),
    (8564, "Speech Service Connection Error"),
    (8565, "Cognitive Services Error"),
    (8566, "Unmute Operation Not Allowed"),
    (8567, "ACS Resource Service Principal Not Enabled"),
    (
        8568,
        "Managed Identity For Cognitive Service Request Failed",
    ),
    (8569, "Speech Recognized"),
    (8570, "Cognitive Services Speech Recognition Error"),
    (8571, "Recording Operation Conflict"),
    (8572, "Play Service Shutdown"),
    (8573, "Pause Resume Method Not Allowed"),
    (8578, "Transcription Failed"),
    (8579, "Transcription Canceled"),
    (8580, "Transcription Service Shutdown"),
    (8581, "Invalid Stream URL"),
    (8582, "Play Source Text Or Ssml Empty"),
    (8583, "Precondition Failed"),
    (8585, "Action Not Valid In Current Call State"),
    (8586, "Incoming Call Not Acknowledged By Bot"),
    (8587, "Incoming Call Not Answered Within Time"),
    (8588, "Record Completed And Media Receive Timeout"),
    (8589, "Record Throttled"),
    (8594, "Update Meeting State Failed"),
    (8603, "Media Streaming Failed"),
    (8604, "Media Streaming Canceled"),
    (8605, "Transcription Custom Speech Model Not Supported"),
    (8606, "Communication Identifier Creation Failed"),
    (8607, "Transfer Operation Conflict"),
    (8608, "Recording Participant Client Error"),
    (8609, "Invalid Join Response From Bot"),
    (8610, "No Response From Bot On Notification"),
    (8613, "Call Throttled Live Captions Limit Reached"),
    (9001, "Unknown Error From Underlying Service"),
    (9002, "Timeout Error From Underlying Service"),
    (9003, "Operation Canceled Error"),
    (9998, "Fatal Error"),
    (9999, "Unknown"),
];

/// The troubleshooting page's generic codes (the same source): "If your
/// error isn't in this table, refer to the generic codes and subcodes".
/// 2xx codes are generic with sub-code 0 only ("The subcode for successful
/// responses will be 0").
#[rustfmt::skip]
pub(crate) const GENERIC_CODES: &[u16] = &[
    400, 401, 403, 404, 405, 406, 408, 409, 412, 413, 426, 429, 481, 487,
    500, 501, 502, 503, 504, 603,
];

/// Whether a source documents this result of `event`: a row of its own,
/// or a generic code with a generic sub-code the event's rows do not give
/// another code for (RecognizeFailed 8534 is documented as 500, so
/// 400/8534 is not), or a success with sub-code 0.
pub(crate) fn is_documented(event: EventType, code: u16, sub_code: u32) -> bool {
    if documented(event, code, sub_code).is_some() {
        return true;
    }
    if documented_results(event)
        .iter()
        .any(|row| row.sub_code == sub_code)
    {
        return false;
    }
    if (200..300).contains(&code) {
        return sub_code == 0;
    }
    GENERIC_CODES.contains(&code)
        && SUB_CODE_NAMES
            .binary_search_by_key(&sub_code, |(c, _)| *c)
            .is_ok()
}

/// The documented row for this result, if a table lists it.
pub(crate) fn documented(
    event: EventType,
    code: u16,
    sub_code: u32,
) -> Option<&'static ResultText> {
    RESULT_TEXTS
        .binary_search_by_key(&(event, code, sub_code), |r| (r.event, r.code, r.sub_code))
        .ok()
        .map(|i| &RESULT_TEXTS[i])
}

/// Every documented row of `event`, by code and sub-code.
pub(crate) fn documented_results(event: EventType) -> &'static [ResultText] {
    let start = RESULT_TEXTS.partition_point(|r| r.event < event);
    let end = RESULT_TEXTS.partition_point(|r| r.event <= event);
    &RESULT_TEXTS[start..end]
}

/// `resultInformation.message` for a result of `event`.
pub(crate) fn result_message(event: EventType, code: u16, sub_code: u32) -> &'static str {
    if let Some(row) = documented(event, code, sub_code) {
        return row.message;
    }
    // What recorded success events of every kind say (the Python SDK's
    // test recordings; PlayCompleted's row on the play page).
    if sub_code == 0 && (200..300).contains(&code) {
        return "Action completed successfully.";
    }
    SUB_CODE_NAMES
        .binary_search_by_key(&sub_code, |(c, _)| *c)
        .map(|i| SUB_CODE_NAMES[i].1)
        .unwrap_or("Unknown")
}

#[cfg(test)]
mod tests;
