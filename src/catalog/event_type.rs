//! The 33 callback event types (`EventTypeName` dimension) and the
//! `resultInformation` (code, subCode) mix each one typically carries, taken
//! from the Call Automation troubleshooting codes. Scenarios may override the
//! mix; the defaults keep short scenario files realistic.

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
    ($( $variant:ident => $results:expr; )*) => {
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
        }
    };
}

event_types! {
    AddParticipantFailed => &[mix(408, 8544, 0.4), mix(603, 8538, 0.15), mix(487, 8542, 0.1), mix(486, 8539, 0.2), mix(400, 8523, 0.15)];
    AddParticipantSucceeded => SUCCESS;
    CallConnected => SUCCESS;
    CallDisconnected => SUCCESS;
    CallTransferAccepted => SUCCESS;
    CallTransferFailed => &[mix(400, 8607, 0.4), mix(408, 8544, 0.4), mix(500, 9001, 0.2)];
    CancelAddParticipantFailed => &[mix(400, 8523, 0.5), mix(404, 8522, 0.5)];
    CancelAddParticipantSucceeded => SUCCESS;
    ConnectFailed => &[mix(404, 8522, 0.6), mix(500, 9999, 0.4)];
    ContinuousDtmfRecognitionStopped => SUCCESS;
    ContinuousDtmfRecognitionToneFailed => &[mix(400, 8500, 0.7), mix(500, 9999, 0.3)];
    ContinuousDtmfRecognitionToneReceived => SUCCESS;
    HoldFailed => &[mix(400, 8536, 0.5), mix(500, 9999, 0.5)];
    MediaStreamingFailed => &[mix(400, 8581, 0.6), mix(500, 8603, 0.4)];
    MediaStreamingStarted => SUCCESS;
    MediaStreamingStopped => SUCCESS;
    ParticipantsUpdated => SUCCESS;
    PlayCanceled => &[mix(400, 8508, 1.0)];
    PlayCompleted => SUCCESS;
    PlayFailed => &[mix(400, 8535, 0.35), mix(400, 8536, 0.35), mix(500, 8572, 0.15), mix(500, 9999, 0.15)];
    PlayStarted => SUCCESS;
    RecordingStateChanged => SUCCESS;
    RecognizeCanceled => &[mix(400, 8508, 1.0)];
    RecognizeCompleted => &[mix(200, 8531, 0.45), mix(200, 8514, 0.1), mix(200, 8533, 0.2), mix(200, 8545, 0.1), mix(200, 8569, 0.15)];
    RecognizeFailed => &[mix(400, 8510, 0.35), mix(400, 8532, 0.2), mix(400, 8534, 0.1), mix(400, 8547, 0.1), mix(400, 8563, 0.1), mix(500, 8511, 0.1), mix(500, 8565, 0.05)];
    RemoveParticipantFailed => &[mix(404, 8522, 0.6), mix(400, 8523, 0.4)];
    RemoveParticipantSucceeded => SUCCESS;
    SendDtmfTonesCompleted => SUCCESS;
    SendDtmfTonesFailed => &[mix(400, 8500, 0.6), mix(500, 9999, 0.4)];
    TranscriptionFailed => &[mix(400, 8565, 0.6), mix(500, 8578, 0.4)];
    TranscriptionStarted => SUCCESS;
    TranscriptionStopped => SUCCESS;
    TranscriptionUpdated => SUCCESS;
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
    fn there_are_33_event_types_with_valid_default_mixes() {
        assert_eq!(EventType::ALL.len(), 33);
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
