//! A call's state at each of its events, decided in one pass over the
//! sorted events: which connection an event belongs to, who is in the
//! call, whether the caller is on hold, and the sequence numbers of
//! ParticipantsUpdated and ContinuousDtmfRecognitionToneReceived.
//!
//! Simulation walks a flow arm by arm, so the events of a parallel arm are
//! made before those of the next arm even when they happen later; state
//! kept while simulating contradicted time (a roster of 4 with sequence 5,
//! then one of 3 with sequence 3). Here the service's view is rebuilt in
//! the order the service lives it.

use super::event::{Connection, Detail, Event, EventKind, OUTSIDER};
use crate::catalog::{EventType, Operation};

/// A ParticipantsUpdated that puts the caller on hold (`true`) or takes
/// them off it (`false`), by the event's `seq`: simulation knows the
/// request behind a callback, the event does not carry it.
pub(super) type HoldChange = (u32, bool);

/// Fills in the connection, roster and sequence numbers of `events`, a
/// call's events in time order.
pub(super) fn fill_in_time_order(events: &mut [Event], hold_changes: &[HoldChange]) {
    let mut state = CallState::default();
    for event in events {
        state.apply(event, hold_changes);
    }
}

/// Requests that set up a call connection: each is an attempt with an id
/// of its own.
fn is_setup(operation: Operation) -> bool {
    matches!(
        operation,
        Operation::CreateCall | Operation::AnswerCall | Operation::Connect
    )
}

#[derive(Default)]
struct CallState {
    /// The connection events belong to: the last accepted setup's.
    current: Connection,
    /// Setup attempts so far.
    attempts: u8,
    roster: Roster,
}

impl CallState {
    fn apply(&mut self, e: &mut Event, hold_changes: &[HoldChange]) {
        match &mut e.kind {
            EventKind::Request {
                operation, status, ..
            } if is_setup(*operation) => {
                e.connection = self.attempt(*operation);
                if status.is_success() {
                    self.current = e.connection;
                    self.roster = Roster::default();
                }
                return;
            }
            EventKind::Callback { event, detail, .. } => {
                let hold = hold_changes
                    .iter()
                    .find(|&&(seq, _)| seq == e.seq)
                    .map(|&(_, on_hold)| on_hold);
                *detail = self.roster.apply(*event, *detail, hold);
            }
            EventKind::Request { .. } => {}
        }
        e.connection = self.current;
    }

    /// The next setup attempt's connection. A Create Call starts a new
    /// call; Answer Call and Connect join the one that is there. (Past 255
    /// attempts, the last number repeats: no flow retries that often.)
    fn attempt(&mut self, operation: Operation) -> Connection {
        let attempt = self.attempts;
        self.attempts = self.attempts.saturating_add(1);
        let conversation = if operation == Operation::CreateCall {
            attempt
        } else {
            self.current.conversation
        };
        Connection {
            attempt,
            conversation,
        }
    }
}

/// Who is in a call connection and how far its sequences have counted
/// (a live call's too, in `live_call.rs`, applied as its callbacks are
/// drawn).
/// Participants are numbered as `Detail` says: 0 the caller, 1 the app,
/// those who joined later from 2 on.
pub(super) struct Roster {
    /// Participants 0..participants are in the call.
    participants: u16,
    caller_on_hold: bool,
    participants_sequence: u32,
    tone_sequence: u32,
}

impl Default for Roster {
    /// A new connection: the caller and the app.
    fn default() -> Roster {
        Roster {
            participants: 2,
            caller_on_hold: false,
            participants_sequence: 0,
            tone_sequence: 0,
        }
    }
}

impl Roster {
    /// How many are in the call: participants `0..n`.
    pub(super) fn participants(&self) -> u16 {
        self.participants
    }

    /// The detail of a callback of type `event` at this point of the call,
    /// after which the roster is as the callback says; other details are
    /// returned as they are.
    pub(super) fn apply(&mut self, event: EventType, detail: Detail, hold: Option<bool>) -> Detail {
        use EventType::*;
        match (event, detail) {
            (AddParticipantSucceeded | MoveParticipantSucceeded, _) => {
                let participant = self.participants;
                self.participants = self.participants.saturating_add(1).min(OUTSIDER - 1);
                Detail::Participant { participant }
            }
            (RemoveParticipantSucceeded, _) => {
                self.participants = self.participants.saturating_sub(1).max(1);
                Detail::Participant {
                    participant: self.participants,
                }
            }
            (RemoveParticipantFailed, _) => Detail::Participant {
                participant: self.participants - 1,
            },
            (ParticipantsUpdated, _) => {
                if let Some(on_hold) = hold {
                    self.caller_on_hold = on_hold;
                }
                self.participants_sequence += 1;
                Detail::Participants {
                    sequence: self.participants_sequence,
                    count: self.participants,
                    caller_on_hold: self.caller_on_hold,
                }
            }
            (ContinuousDtmfRecognitionToneReceived, Detail::Tone { tone, .. }) => {
                self.tone_sequence += 1;
                Detail::Tone {
                    tone,
                    sequence_id: self.tone_sequence,
                }
            }
            _ => detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::plan::Status;

    fn callback(time_ms: i64, seq: u32, event: EventType) -> Event<'static> {
        Event {
            kind: EventKind::Callback {
                event,
                result: Status {
                    code: 200,
                    sub_code: 0,
                },
                operation_context: super::super::event::Context::none(),
                detail: Detail::None,
            },
            ..Event::request_at(time_ms, 0, seq)
        }
    }

    fn setup(time_ms: i64, seq: u32, operation: Operation, code: u16) -> Event<'static> {
        let mut e = Event::request_at(time_ms, 0, seq);
        e.kind = EventKind::Request {
            operation,
            status: Status { code, sub_code: 0 },
            latency_ms: 1,
        };
        e
    }

    #[test]
    fn rosters_and_sequences_follow_time_not_simulation() {
        use EventType::*;
        // Sorted by time; seq says a later arm was simulated first.
        let mut events = [
            callback(10, 5, ParticipantsUpdated),
            callback(20, 1, AddParticipantSucceeded),
            callback(21, 2, ParticipantsUpdated),
            callback(30, 6, ParticipantsUpdated),
            callback(40, 3, RemoveParticipantSucceeded),
            callback(41, 4, ParticipantsUpdated),
        ];
        fill_in_time_order(&mut events, &[(6, true)]);
        let rosters: Vec<(u32, u16, bool)> = events
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::Callback {
                    detail:
                        Detail::Participants {
                            sequence,
                            count,
                            caller_on_hold,
                        },
                    ..
                } => Some((sequence, count, caller_on_hold)),
                _ => None,
            })
            .collect();
        assert_eq!(
            rosters,
            [(1, 2, false), (2, 3, false), (3, 3, true), (4, 2, true)]
        );
        let removed = match events[4].kind {
            EventKind::Callback { detail, .. } => detail,
            _ => unreachable!("a callback"),
        };
        assert_eq!(removed, Detail::Participant { participant: 2 });
    }

    #[test]
    fn each_setup_attempt_has_its_own_connection() {
        let mut events = [
            setup(0, 0, Operation::CreateCall, 429),
            setup(10, 1, Operation::CreateCall, 201),
            callback(20, 2, EventType::CreateCallFailed),
            setup(30, 3, Operation::CreateCall, 201),
            callback(40, 4, EventType::CallConnected),
            setup(50, 5, Operation::Connect, 200),
            callback(60, 6, EventType::CallConnected),
        ];
        fill_in_time_order(&mut events, &[]);
        let connections: Vec<(u8, u8)> = events
            .iter()
            .map(|e| (e.connection.attempt, e.connection.conversation))
            .collect();
        assert_eq!(
            connections,
            [(0, 0), (1, 1), (1, 1), (2, 2), (2, 2), (3, 2), (3, 2)]
        );
    }
}
