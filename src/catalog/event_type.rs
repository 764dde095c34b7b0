//! The callback event types (`EventTypeName` dimension): the 33 the metrics
//! overview lists and the ones newer specs added, the api-versions whose
//! spec defines each, and the `resultInformation` (code, subCode) mix each
//! one typically carries, from the documented pairs (`result_codes`).
//! Scenarios may override the mix; the defaults keep short scenario files
//! realistic.

use super::api_version::Versions;
use std::fmt;
use std::str::FromStr;

/// One (code, subCode) pair with the probability it is used by default.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResultMix {
    pub code: u16,
    pub sub_code: u32,
    pub probability: f64,
}

impl ResultMix {
    pub const fn new(code: u16, sub_code: u32, probability: f64) -> ResultMix {
        ResultMix {
            code,
            sub_code,
            probability,
        }
    }
}

const fn mix(code: u16, sub_code: u32, probability: f64) -> ResultMix {
    ResultMix::new(code, sub_code, probability)
}

const SUCCESS: &[ResultMix] = &[mix(200, 0, 1.0)];

macro_rules! event_types {
    ($( $variant:ident ($id:literal) $listed:literal $versions:path => $results:expr; )*) => {
        /// A callback event type (the `EventTypeName` dimension value).
        ///
        /// The number after each variant below is its wire id: what the
        /// sink's log stores for it, so it never changes; a new event type
        /// takes the next unused number wherever its row goes.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        pub enum EventType { $($variant = $id),* }

        impl EventType {
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),*];

            /// The name without the `Microsoft.Communication.` prefix.
            pub fn short_name(self) -> &'static str {
                match self { $(EventType::$variant => stringify!($variant)),* }
            }

            /// The full CloudEvent `type`, also the metric dimension value.
            pub fn name(self) -> &'static str {
                match self {
                    $(EventType::$variant => concat!("Microsoft.Communication.", stringify!($variant))),*
                }
            }

            /// Default `resultInformation` mix; probabilities sum to 1.
            pub fn default_results(self) -> &'static [ResultMix] {
                match self { $(EventType::$variant => { const R: &[ResultMix] = $results; R }),* }
            }

            /// One of the 33 the Call Automation metrics overview lists.
            pub fn listed(self) -> bool {
                match self { $(EventType::$variant => $listed),* }
            }

            /// The api-versions whose spec defines this event.
            pub fn versions(self) -> Versions {
                match self { $(EventType::$variant => $versions),* }
            }
        }
    };
}

event_types! {
    AddParticipantFailed(0) true Versions::SINCE_2023_03_06 => &[mix(408, 8544, 0.4), mix(603, 8538, 0.35), mix(487, 8542, 0.1), mix(400, 8523, 0.15)];
    AddParticipantSucceeded(1) true Versions::SINCE_2023_03_06 => SUCCESS;
    CallConnected(2) true Versions::SINCE_2023_03_06 => SUCCESS;
    CallDisconnected(3) true Versions::SINCE_2023_03_06 => &[mix(200, 7000, 1.0)];
    CallTransferAccepted(4) true Versions::SINCE_2023_03_06 => &[mix(200, 7015, 1.0)];
    CallTransferFailed(5) true Versions::SINCE_2023_03_06 => &[mix(400, 8607, 0.4), mix(408, 8544, 0.4), mix(500, 9001, 0.2)];
    CancelAddParticipantFailed(6) true Versions::SINCE_2023_10_15 => &[mix(400, 8523, 0.5), mix(404, 8522, 0.5)];
    CancelAddParticipantSucceeded(7) true Versions::SINCE_2023_10_15 => SUCCESS;
    ConnectFailed(8) true Versions::CONNECT => &[mix(408, 10057, 0.4), mix(480, 10076, 0.3), mix(484, 560484, 0.3)];
    ContinuousDtmfRecognitionStopped(9) true Versions::SINCE_2023_10_15 => SUCCESS;
    ContinuousDtmfRecognitionToneFailed(10) true Versions::SINCE_2023_10_15 => &[mix(400, 12323, 0.7), mix(500, 9999, 0.3)];
    ContinuousDtmfRecognitionToneReceived(11) true Versions::SINCE_2023_10_15 => SUCCESS;
    HoldFailed(12) true Versions::HOLD => &[mix(400, 8536, 0.5), mix(500, 9999, 0.5)];
    MediaStreamingFailed(13) true Versions::SINCE_2025_05_15 => &[mix(400, 8581, 0.4), mix(500, 8603, 0.6)];
    MediaStreamingStarted(14) true Versions::SINCE_2025_05_15 => SUCCESS;
    MediaStreamingStopped(15) true Versions::SINCE_2025_05_15 => SUCCESS;
    ParticipantsUpdated(16) true Versions::SINCE_2023_03_06 => SUCCESS;
    PlayCanceled(17) true Versions::SINCE_2023_03_06 => &[mix(400, 8508, 1.0)];
    PlayCompleted(18) true Versions::SINCE_2023_03_06 => SUCCESS;
    PlayFailed(19) true Versions::SINCE_2023_03_06 => &[mix(400, 8535, 0.29), mix(400, 8536, 0.29), mix(500, 8572, 0.15), mix(500, 9999, 0.15), mix(400, 8565, 0.04), mix(401, 8565, 0.02), mix(403, 8565, 0.02), mix(408, 8565, 0.02), mix(429, 8565, 0.02)];
    PlayStarted(20) true Versions::SINCE_2024_09_15 => SUCCESS;
    RecordingStateChanged(21) true Versions::SINCE_2023_03_06 => SUCCESS;
    RecognizeCanceled(22) true Versions::SINCE_2023_03_06 => &[mix(400, 8508, 1.0)];
    RecognizeCompleted(23) true Versions::SINCE_2023_03_06 => &[mix(200, 8531, 0.45), mix(200, 8514, 0.1), mix(200, 8533, 0.2), mix(200, 8545, 0.1), mix(200, 8569, 0.15)];
    RecognizeFailed(24) true Versions::SINCE_2023_03_06 => &[mix(400, 8510, 0.3), mix(400, 8532, 0.2), mix(500, 8534, 0.1), mix(400, 8547, 0.1), mix(400, 8563, 0.1), mix(500, 8511, 0.1), mix(400, 8565, 0.05), mix(408, 8570, 0.03), mix(500, 8512, 0.02)];
    RemoveParticipantFailed(25) true Versions::SINCE_2023_03_06 => &[mix(404, 8522, 0.6), mix(400, 8523, 0.4)];
    RemoveParticipantSucceeded(26) true Versions::SINCE_2023_03_06 => SUCCESS;
    SendDtmfTonesCompleted(27) true Versions::SINCE_2023_10_15 => SUCCESS;
    SendDtmfTonesFailed(28) true Versions::SINCE_2023_10_15 => &[mix(400, 8500, 0.6), mix(500, 9999, 0.4)];
    TranscriptionFailed(29) true Versions::SINCE_2025_05_15 => &[mix(400, 8565, 0.4), mix(400, 8581, 0.2), mix(500, 8578, 0.4)];
    TranscriptionStarted(30) true Versions::SINCE_2025_05_15 => SUCCESS;
    TranscriptionStopped(31) true Versions::SINCE_2025_05_15 => SUCCESS;
    TranscriptionUpdated(32) true Versions::SINCE_2025_05_15 => SUCCESS;
    CreateCallFailed(33) false Versions::CREATE_CALL_FAILED => &[mix(480, 560480, 0.4), mix(480, 10078, 0.2), mix(403, 560403, 0.2), mix(487, 540487, 0.2)];
    AnswerFailed(34) false Versions::HOLD => &[mix(487, 10004, 0.4), mix(408, 4506, 0.3), mix(480, 10077, 0.3)];
    StartRecordingFailed(35) false Versions::SINCE_2025_06_15 => &[mix(400, 8553, 0.5), mix(500, 9999, 0.5)];
    MoveParticipantSucceeded(36) false Versions::SINCE_2026_03_12 => SUCCESS;
    MoveParticipantFailed(37) false Versions::SINCE_2026_03_12 => &[mix(404, 8522, 0.5), mix(400, 8523, 0.5)];
}

super::wire_id::wire_ids!(EventType, "event type");

impl EventType {
    /// The service sends nothing more for a call after it: CallDisconnected,
    /// or the failure of a call that never connected.
    pub fn ends_call(self) -> bool {
        matches!(
            self,
            EventType::CallDisconnected | EventType::CreateCallFailed | EventType::AnswerFailed
        )
    }

    /// Events the service sends without a request asking for them (the
    /// remote party hangs up, someone joins, a recording is stopped by a
    /// policy, a transcription or stream fails mid-call).
    pub fn can_be_unsolicited(self) -> bool {
        use EventType::*;
        matches!(
            self,
            CallDisconnected
                | ParticipantsUpdated
                | RecordingStateChanged
                | TranscriptionUpdated
                | TranscriptionFailed
                | TranscriptionStopped
                | MediaStreamingFailed
                | MediaStreamingStopped
        )
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Accepts the full `Microsoft.Communication.X` name or the short `X`.
impl FromStr for EventType {
    type Err = super::UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let short = s.strip_prefix("Microsoft.Communication.").unwrap_or(s);
        Self::ALL
            .iter()
            .copied()
            .find(|e| e.short_name() == short)
            .ok_or_else(|| {
                super::UnknownName::new("event type", s, Self::ALL.iter().map(|e| e.short_name()))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_33_listed_event_types_with_valid_default_mixes() {
        assert_eq!(EventType::ALL.iter().filter(|e| e.listed()).count(), 33);
        assert_eq!(EventType::ALL.len(), 38);
        for e in EventType::ALL {
            let sum: f64 = e.default_results().iter().map(|m| m.probability).sum();
            assert!((sum - 1.0).abs() < 1e-9, "{e}: {sum}");
        }
    }

    #[test]
    fn parses_short_and_full_names() {
        assert_eq!(
            "PlayCompleted".parse::<EventType>().unwrap(),
            EventType::PlayCompleted
        );
        assert_eq!(
            "Microsoft.Communication.PlayCompleted"
                .parse::<EventType>()
                .unwrap(),
            EventType::PlayCompleted
        );
        let err = "PlayCompleeted".parse::<EventType>().unwrap_err();
        assert_eq!(err.suggestion.as_deref(), Some("PlayCompleted"));
    }
}
