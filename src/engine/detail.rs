//! The data of a callback that does not depend on the call's history,
//! drawn the same way for a simulated call (`call.rs`) and a live one
//! (`live_call.rs`): who an add, move, cancel or transfer is about, a
//! recognize result, a continuous DTMF tone. The rest (participant lists,
//! sequence numbers, hold, recording state) each side works out from the
//! call's course.

use super::event::Detail;
use super::sample::Sampler;
use crate::catalog::{EventType, Operation};
use crate::scenario::plan::CallbackPlan;

/// What a ParticipantsUpdated that `cause` drew does to the caller: Hold
/// puts them on hold (`Some(true)`), Unhold takes them off, any other
/// leaves it as it was.
pub(super) fn hold_set_by(cause: Operation) -> Option<bool> {
    match cause {
        Operation::Hold => Some(true),
        Operation::Unhold => Some(false),
        _ => None,
    }
}

/// `event`'s data, drawing from `rng` and numbering people invited or
/// transferred to from `next_outsider`; `None` for the events whose data
/// depends on the call's history (ParticipantsUpdated,
/// RecordingStateChanged), which the caller fills in. A DTMF result holds
/// at most `max_tones` tones.
pub(super) fn drawn(
    event: EventType,
    plan: &CallbackPlan,
    rng: &mut Sampler,
    next_outsider: &mut u16,
    max_tones: u8,
) -> Option<Detail> {
    use EventType::*;
    let mut outsider = || {
        let p = *next_outsider;
        *next_outsider = next_outsider.saturating_add(1);
        p
    };
    Some(match event {
        // The caller (participant 0) is who the app adds back, moves or
        // removes; an add or move that fails is about someone new.
        AddParticipantSucceeded
        | MoveParticipantSucceeded
        | RemoveParticipantSucceeded
        | RemoveParticipantFailed => Detail::Participant { participant: 0 },
        AddParticipantFailed | MoveParticipantFailed => Detail::Participant {
            participant: outsider(),
        },
        CancelAddParticipantSucceeded | CancelAddParticipantFailed => Detail::Invitation {
            participant: outsider(),
        },
        CallTransferAccepted => Detail::Transfer { target: outsider() },
        RecognizeCompleted => Detail::Recognized {
            kind: plan.recognition_type,
            seed: rng.bits() as u32,
            max_tones,
        },
        ContinuousDtmfRecognitionToneReceived => Detail::Tone {
            // Card and PIN entry: digits, with an occasional * or #.
            tone: match rng.bits() % 40 {
                r @ 0..38 => (r % 10) as u8,
                r => (10 + r % 2) as u8,
            },
            // Numbered in time order by whoever sends it.
            sequence_id: 0,
        },
        ParticipantsUpdated | RecordingStateChanged => return None,
        _ => Detail::None,
    })
}
