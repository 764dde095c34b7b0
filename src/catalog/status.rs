//! Status codes, their classes and the Call Automation sub-codes. The class
//! is always derived from the code, so a (code, class) pair cannot disagree.

use std::fmt;

/// The series of a status code: the `StatusCodeClass` / `CodeClass` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatusClass {
    Success,
    ClientError,
    ServerError,
    GlobalError,
}

impl StatusClass {
    pub const ALL: &'static [StatusClass] = &[
        StatusClass::Success,
        StatusClass::ClientError,
        StatusClass::ServerError,
        StatusClass::GlobalError,
    ];

    /// The class of a code, or `None` for codes Call Automation never reports.
    pub fn of(code: u16) -> Option<StatusClass> {
        match code {
            200..=299 => Some(StatusClass::Success),
            400..=499 => Some(StatusClass::ClientError),
            500..=599 => Some(StatusClass::ServerError),
            600..=699 => Some(StatusClass::GlobalError),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StatusClass::Success => "2xx",
            StatusClass::ClientError => "4xx",
            StatusClass::ServerError => "5xx",
            StatusClass::GlobalError => "6xx",
        }
    }
}

impl fmt::Display for StatusClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Generic status codes the service answers with (troubleshooting codes page).
pub const STATUS_CODES: &[u16] = &[
    200, 201, 202, 204, 400, 401, 403, 404, 405, 406, 408, 409, 412, 413, 426, 429, 480, 481, 486,
    487, 500, 501, 502, 503, 504, 600, 603,
];

/// Known sub-codes and what they mean; used for `resultInformation.message`.
pub const SUB_CODES: &[(u32, &str)] = &[
    (0, "Action completed successfully."),
    (7000, "Call ended gracefully."),
    (7501, "Invalid token."),
    (7504, "Insufficient application permissions."),
    (7507, "Call source identity invalid."),
    (
        8500,
        "Invalid media mode: a media operation is already active.",
    ),
    (8501, "Action not supported, call not established."),
    (8508, "Action failed, the operation was canceled."),
    (8509, "Max silence timeout reached."),
    (8510, "Action failed, initial silence timeout reached."),
    (
        8511,
        "Action failed, encountered failure while trying to play the prompt.",
    ),
    (8512, "Play beep failed."),
    (8513, "Media receive timeout."),
    (8514, "Action completed, stop tone detected."),
    (8515, "Max record duration reached."),
    (8516, "Call throttled."),
    (8519, "Conflict: parallel actions on one resource."),
    (8520, "Functionality not supported."),
    (8522, "Resource not found."),
    (8523, "Invalid argument in request body."),
    (8528, "Action not supported, call terminated."),
    (8531, "Action completed, max digits received."),
    (8532, "Action failed, inter-digit silence timeout reached."),
    (8533, "Action completed, DTMF option matched."),
    (8534, "Action failed, incorrect tone entered."),
    (8535, "Action failed, file format is invalid."),
    (8536, "Action failed, file could not be downloaded."),
    (8537, "Keep-alive timeout."),
    (8538, "Callee declined the call."),
    (8539, "Callee is busy."),
    (8540, "Callee is busy everywhere."),
    (8541, "Callee is unavailable."),
    (8542, "Call canceled."),
    (8543, "Call does not exist."),
    (8544, "Callee could not be reached."),
    (8545, "Action completed, speech option matched."),
    (8547, "Action failed, speech option not matched."),
    (8553, "Duplicate recording."),
    (8558, "Participant not present."),
    (
        8559,
        "Duplicate single dial-out or recording already started.",
    ),
    (8563, "Action failed, speech could not be recognized."),
    (8564, "Speech service connection error."),
    (8565, "Action failed, bad request to Cognitive Services."),
    (8567, "Cognitive Services principal not enabled."),
    (8569, "Action completed, speech recognized."),
    (8572, "Action failed due to play service shutdown."),
    (8578, "Transcription failed."),
    (8579, "Transcription canceled."),
    (8581, "Invalid media streaming URL."),
    (8583, "Precondition failed: incompatible media actions."),
    (8585, "Action not valid in the current call state."),
    (8587, "Incoming call not answered in time."),
    (8603, "Media streaming failed."),
    (8604, "Media streaming canceled."),
    (8607, "Transfer operation conflict."),
    (9001, "Unknown error from the underlying service."),
    (9002, "Timeout from the underlying service."),
    (9999, "Unknown internal server error."),
];

/// The message for a sub-code, or a generic one for codes the table lacks.
pub fn sub_code_message(sub_code: u32) -> &'static str {
    SUB_CODES
        .binary_search_by_key(&sub_code, |(c, _)| *c)
        .map(|i| SUB_CODES[i].1)
        .unwrap_or("See the Call Automation troubleshooting codes.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_code_table_is_sorted_for_binary_search() {
        assert!(SUB_CODES.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(sub_code_message(8522), "Resource not found.");
    }

    #[test]
    fn classes_follow_the_series() {
        assert_eq!(StatusClass::of(202), Some(StatusClass::Success));
        assert_eq!(StatusClass::of(429), Some(StatusClass::ClientError));
        assert_eq!(StatusClass::of(503), Some(StatusClass::ServerError));
        assert_eq!(StatusClass::of(603), Some(StatusClass::GlobalError));
        assert_eq!(StatusClass::of(302), None);
    }
}
