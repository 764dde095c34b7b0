//! The events the engine produces: API requests and callbacks, each with the
//! dimension values of its metric and what an encoder needs to write the
//! request line or the exact CloudEvent. Identifiers are not stored: they
//! derive from (seed, call, index) in `ids`, which keeps events small; the
//! call connection an event belongs to is two small numbers.

use crate::catalog::{ApiVersion, EventType, Operation};
use crate::scenario::RecognitionType;
use crate::scenario::plan::{RequestPlan, Status};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Event<'a> {
    /// Unix time in milliseconds.
    pub time_ms: i64,
    /// Index of the call (0-based, in arrival order).
    pub call: u64,
    /// Position within the call; breaks ties between events at the same ms.
    pub seq: u32,
    pub api_version: ApiVersion,
    pub connection: Connection,
    pub kind: EventKind<'a>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EventKind<'a> {
    Request {
        operation: Operation,
        status: Status,
        latency_ms: u32,
    },
    Callback {
        event: EventType,
        result: Status,
        operation_context: Context<'a>,
        detail: Detail,
    },
}

/// Which connection of its call an event belongs to. Every setup request
/// (Create Call, Answer Call, Connect) is an attempt with a callConnectionId
/// of its own: one the service accepts creates that connection, a refused
/// one creates none, so its id is never seen again. A Create Call also
/// starts a new call, with its own serverCallId and correlationId; Answer
/// Call and Connect join the call that is already there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Connection {
    /// The setup attempt (0-based): derives the callConnectionId.
    pub attempt: u8,
    /// The call as the service sees it: derives the serverCallId and the
    /// correlationId (the attempt number of the Create Call that started
    /// it; 0 for a call the app answered or joined).
    pub conversation: u8,
}

/// The operationContext of the request behind a callback, as a JSON string
/// literal (empty for none): a thin reference, where a `&str` would double
/// its size in every event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Context<'a>(&'a String);

/// The most DTMF tones a recognize result holds when the app set no
/// `maxTonesToCollect` (generated datasets).
pub(super) const MAX_TONES: u8 = 6;

/// Callbacks no request caused carry no context.
static NO_CONTEXT: String = String::new();

impl<'a> Context<'a> {
    pub fn of(request: &'a RequestPlan) -> Context<'a> {
        Context(&request.operation_context_json)
    }

    pub fn none() -> Context<'static> {
        Context(&NO_CONTEXT)
    }

    /// `"…"`, or empty when there is no context.
    pub fn as_json(self) -> &'a str {
        self.0
    }
}

/// Event-specific `data` content. Participants are numbered per call:
/// 0 is the caller (a phone number), 1 the app's ACS identity, 2.. the ones
/// who joined later; numbers from `OUTSIDER` up are people who never joined
/// (failed invitations, transfer targets).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Detail {
    None,
    Participant {
        participant: u16,
    },
    /// ParticipantsUpdated: participants 0..count are in the call.
    Participants {
        sequence: u32,
        count: u16,
        caller_on_hold: bool,
    },
    Transfer {
        target: u16,
    },
    Recognized {
        kind: RecognitionType,
        seed: u32,
        /// DTMF: the most tones the result may hold (the app's
        /// `maxTonesToCollect`; [`MAX_TONES`] when nobody asked).
        max_tones: u8,
    },
    Tone {
        tone: u8,
        sequence_id: u32,
    },
    Recording {
        active: bool,
        started_ms: i64,
    },
    Invitation {
        participant: u16,
    },
}

/// First participant number of people outside the call.
pub(crate) const OUTSIDER: u16 = 0x8000;

impl Event<'_> {
    /// CallDisconnected, or the failure of a call that never connected.
    pub fn is_call_end(&self) -> bool {
        matches!(self.kind, EventKind::Callback { event, .. } if event.ends_call())
    }
}

#[cfg(test)]
impl Event<'static> {
    /// A Create Call request at `time_ms`: for tests of event ordering.
    pub fn request_at(time_ms: i64, call: u64, seq: u32) -> Event<'static> {
        Event {
            time_ms,
            call,
            seq,
            api_version: ApiVersion::from_wire_id(0).expect("the catalog has versions"),
            connection: Connection::default(),
            kind: EventKind::Request {
                operation: Operation::CreateCall,
                status: Status {
                    code: 201,
                    sub_code: 0,
                },
                latency_ms: 1,
            },
        }
    }
}
