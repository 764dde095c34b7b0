use super::*;
use crate::catalog::EventType;

/// Issue #10, items 8-11: each fact as the page states it, with the page.
const PINNED: &[(EventType, u16, u32, &str, Source)] = &[
    (
        RecognizeFailed,
        500,
        8534,
        "Action failed, incorrect tone entered.",
        RecognizeAiAction,
    ),
    (
        RecognizeFailed,
        500,
        8511,
        "Action failed, encountered failure while trying to play the prompt.",
        RecognizeAction,
    ),
    (
        RecognizeFailed,
        400,
        8565,
        "Action failed, bad request to Azure AI services. Check input parameters.",
        RecognizeAction,
    ),
    (
        PlayFailed,
        400,
        8565,
        "Action failed, bad request to Azure AI services. Check input parameters.",
        PlayAction,
    ),
    (
        PlayFailed,
        408,
        8565,
        "Action failed, request to Azure AI services timed out.",
        PlayAction,
    ),
    (
        TranscriptionFailed,
        400,
        8565,
        "Action failed due to a bad request to Cognitive Services. Check your input parameters.",
        Transcription,
    ),
    (
        RecognizeCompleted,
        200,
        8514,
        "Action completed as stop tone was detected.",
        RecognizeAction,
    ),
    (
        RecognizeCompleted,
        200,
        8569,
        "Action completed, speech was recognized.",
        RecognizeAiAction,
    ),
    (
        RecognizeFailed,
        400,
        8547,
        "Action failed, recognized phrase does not match a valid option.",
        RecognizeAiAction,
    ),
    (
        MediaStreamingFailed,
        500,
        8603,
        "Action failed, not able to establish websocket connection.",
        JavaSdkTests,
    ),
    (
        PlayFailed,
        400,
        8535,
        "Action failed, file format is invalid.",
        PlayAction,
    ),
    (
        TranscriptionFailed,
        500,
        8578,
        "Action failed, not able to establish WebSocket connection.",
        Transcription,
    ),
];

#[test]
fn the_corrected_texts_are_the_pages_words() {
    for &(event, code, sub_code, message, source) in PINNED {
        let row = documented(event, code, sub_code)
            .unwrap_or_else(|| panic!("{event} {code}/{sub_code} is not in the table"));
        assert_eq!(row.message, message, "{event} {code}/{sub_code}");
        assert_eq!(row.source, source, "{event} {code}/{sub_code}");
        assert_eq!(result_message(event, code, sub_code), message);
    }
}

// 8565 is a Cognitive Services / Azure AI error: 400, 401, 403, 408, 429.
#[test]
fn sub_code_8565_pairs_only_with_its_codes() {
    for row in RESULT_TEXTS.iter().filter(|r| r.sub_code == 8565) {
        assert!(
            [400, 401, 403, 408, 429].contains(&row.code),
            "{} {}/8565",
            row.event,
            row.code
        );
    }
    assert!(documented(RecognizeFailed, 500, 8565).is_none());
    assert!(documented(RecognizeFailed, 400, 8534).is_none());
}

#[test]
fn tables_are_sorted_for_binary_search() {
    assert!(
        RESULT_TEXTS.windows(2).all(
            |w| (w[0].event, w[0].code, w[0].sub_code) < (w[1].event, w[1].code, w[1].sub_code)
        )
    );
    assert!(SUB_CODE_NAMES.windows(2).all(|w| w[0].0 < w[1].0));
    // A pair no table lists reads as the troubleshooting page names its sub-code.
    assert_eq!(
        result_message(AddParticipantFailed, 408, 8544),
        "Callee Unreachable"
    );
}

// Every default is a documented result (what `validate` asks of a
// scenario's pinned results, issue #21).
#[test]
fn default_results_are_documented() {
    for &event in EventType::ALL {
        for mix in event.default_results() {
            assert!(
                is_documented(event, mix.code, mix.sub_code),
                "{event} {}/{}",
                mix.code,
                mix.sub_code
            );
        }
    }
}

#[test]
fn a_code_the_event_documents_otherwise_is_not_documented() {
    assert!(is_documented(RecognizeFailed, 500, 8534));
    assert!(!is_documented(RecognizeFailed, 400, 8534));
    assert!(!is_documented(RecognizeFailed, 500, 8565));
    // Generic code and sub-code, not contradicted by a row of the event.
    assert!(is_documented(AddParticipantFailed, 408, 8544));
    // 486 is not among the page's generic codes.
    assert!(!is_documented(AddParticipantFailed, 486, 8539));
    assert!(is_documented(CallConnected, 200, 0));
    assert!(!is_documented(CallConnected, 200, 8514));
}
