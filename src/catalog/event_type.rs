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

/// The versions of each event's model in the stable specs (2023-03-06 has
/// 16 events) and previews. The 2024-06-15-preview spec's events were not
/// read; its routes match 2024-11-15-preview's, so its events are taken to.
const BASE: Versions = Versions::since("2023-03-06", "2024-06-15-preview");
const V2023_10: Versions = Versions::since("2023-10-15", "2024-06-15-preview");
const V2024_09: Versions = Versions::since("2024-09-15", "2024-06-15-preview");
const V2025_05: Versions = Versions::since("2025-05-15", "2024-06-15-preview");
const V2025_06: Versions = Versions::since("2025-06-15", "2025-03-30-preview");
const V2026_03: Versions = Versions::since("2026-03-12", "2025-08-15-preview");

macro_rules! event_types {
    ($( $variant:ident $listed:literal $versions:ident => $results:expr; )*) => {
        /// A callback event type (the `EventTypeName` dimension value).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum EventType { $($variant),* }

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

// Appended, never reordered: positions are part of the sink's log.
event_types! {
    AddParticipantFailed true BASE => &[mix(408, 8544, 0.4), mix(603, 8538, 0.15), mix(487, 8542, 0.1), mix(486, 8539, 0.2), mix(400, 8523, 0.15)];
    AddParticipantSucceeded true BASE => SUCCESS;
    CallConnected true BASE => SUCCESS;
    CallDisconnected true BASE => SUCCESS;
    CallTransferAccepted true BASE => SUCCESS;
    CallTransferFailed true BASE => &[mix(400, 8607, 0.4), mix(408, 8544, 0.4), mix(500, 9001, 0.2)];
    CancelAddParticipantFailed true V2023_10 => &[mix(400, 8523, 0.5), mix(404, 8522, 0.5)];
    CancelAddParticipantSucceeded true V2023_10 => SUCCESS;
    ConnectFailed true V2024_09 => &[mix(408, 10057, 0.4), mix(480, 10076, 0.3), mix(484, 560484, 0.3)];
    ContinuousDtmfRecognitionStopped true V2023_10 => SUCCESS;
    ContinuousDtmfRecognitionToneFailed true V2023_10 => &[mix(400, 12323, 0.7), mix(500, 9999, 0.3)];
    ContinuousDtmfRecognitionToneReceived true V2023_10 => SUCCESS;
    HoldFailed true V2024_09 => &[mix(400, 8536, 0.5), mix(500, 9999, 0.5)];
    MediaStreamingFailed true V2025_05 => &[mix(400, 8581, 0.4), mix(500, 8603, 0.6)];
    MediaStreamingStarted true V2025_05 => SUCCESS;
    MediaStreamingStopped true V2025_05 => SUCCESS;
    ParticipantsUpdated true BASE => SUCCESS;
    PlayCanceled true BASE => &[mix(400, 8508, 1.0)];
    PlayCompleted true BASE => SUCCESS;
    PlayFailed true BASE => &[mix(400, 8535, 0.35), mix(400, 8536, 0.35), mix(500, 8572, 0.15), mix(500, 9999, 0.15)];
    PlayStarted true V2024_09 => SUCCESS;
    RecordingStateChanged true BASE => SUCCESS;
    RecognizeCanceled true BASE => &[mix(400, 8508, 1.0)];
    RecognizeCompleted true BASE => &[mix(200, 8531, 0.45), mix(200, 8514, 0.1), mix(200, 8533, 0.2), mix(200, 8545, 0.1), mix(200, 8569, 0.15)];
    RecognizeFailed true BASE => &[mix(400, 8510, 0.35), mix(400, 8532, 0.2), mix(500, 8534, 0.1), mix(400, 8547, 0.1), mix(400, 8563, 0.1), mix(500, 8511, 0.1), mix(400, 8565, 0.05)];
    RemoveParticipantFailed true BASE => &[mix(404, 8522, 0.6), mix(400, 8523, 0.4)];
    RemoveParticipantSucceeded true BASE => SUCCESS;
    SendDtmfTonesCompleted true V2023_10 => SUCCESS;
    SendDtmfTonesFailed true V2023_10 => &[mix(400, 8500, 0.6), mix(500, 9999, 0.4)];
    TranscriptionFailed true V2025_05 => &[mix(400, 8565, 0.4), mix(400, 8581, 0.2), mix(500, 8578, 0.4)];
    TranscriptionStarted true V2025_05 => SUCCESS;
    TranscriptionStopped true V2025_05 => SUCCESS;
    TranscriptionUpdated true V2025_05 => SUCCESS;
    CreateCallFailed false V2024_09 => &[mix(480, 560480, 0.4), mix(480, 10078, 0.2), mix(403, 560403, 0.2), mix(487, 540487, 0.2)];
    AnswerFailed false V2024_09 => &[mix(487, 10004, 0.4), mix(408, 4506, 0.3), mix(480, 10077, 0.3)];
    StartRecordingFailed false V2025_06 => &[mix(400, 8553, 0.5), mix(500, 9999, 0.5)];
    MoveParticipantSucceeded false V2026_03 => SUCCESS;
    MoveParticipantFailed false V2026_03 => &[mix(404, 8522, 0.5), mix(400, 8523, 0.5)];
}

impl EventType {
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
