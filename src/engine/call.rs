//! Simulates one call: walks its flow, samples every choice from the call's
//! own random stream and returns its events in (time, seq) order, cut after
//! CallDisconnected because the service sends nothing once a call is over.
//! What depends on the order of events across parallel arms (connections,
//! rosters, sequence numbers) is filled in afterwards, in time order, by
//! `timeline`.

use super::detail;
use super::event::{Connection, Context, Detail, Event, EventKind, MAX_TONES, OUTSIDER};
use super::sample::{Sampler, Stream};
use super::timeline::{self, HoldChange};
use crate::catalog::{ApiVersion, EventType, Operation, success_has_no_result};

use crate::scenario::Scenario;
use crate::scenario::plan::{CallbackPlan, FlowPlan, RequestPlan, Status, StepPlan};

/// Simulates call `index` starting at `start_ms`, appending to `out` (which
/// is cleared first, so one buffer can serve many calls).
pub(super) fn simulate<'a>(
    scenario: &'a Scenario,
    seed: u64,
    index: u64,
    start_ms: i64,
    out: &mut Vec<Event<'a>>,
) {
    out.clear();
    let mut rng = Sampler::new(seed, Stream::Call, index);
    let flow = rng.pick(&scenario.flows);
    let version = *rng.pick(&flow.api_version);
    let mut call = Call::new(rng, index, start_ms, version, out);
    call.steps(&flow.steps, Clock::at(0.0));
    let ended_ms = call.ended_at.map(|t| start_ms + whole_ms(t));
    let Call {
        out, hold_changes, ..
    } = call;
    out.sort_unstable_by_key(order_key);
    if let Some(end) = out.iter().position(|e| e.is_call_end()) {
        out.truncate(end + 1);
    }
    if let Some(end) = ended_ms {
        out.retain(|e| e.time_ms <= end);
    }
    timeline::fill_in_time_order(out, &hold_changes);
}

/// What the world does on its own during call `index` of `flow`: the
/// callbacks of its standalone steps (the caller hanging up, a stream
/// failing), each with its time in ms after the response to the call's
/// first request, in order. `emulate` sends them whatever the app does,
/// as callers keep their own clock: the flow is walked as `generate` walks
/// it, on a stream of its own, and only these callbacks are kept.
pub(super) fn world_callbacks<'a>(
    flow: &'a FlowPlan,
    version: ApiVersion,
    seed: u64,
    index: u64,
) -> Vec<(f64, Event<'a>)> {
    let mut out = Vec::new();
    let rng = Sampler::new(seed, Stream::World, index);
    let mut call = Call::new(rng, index, 0, version, &mut out);
    call.world = Some(Vec::new());
    call.steps(&flow.steps, Clock::at(0.0));
    let first_response = call.first_response_ms.unwrap_or(0.0);
    let mut world = call.world.take().unwrap_or_default();
    world.sort_by(|a, b| a.0.total_cmp(&b.0));
    if let Some(end) = world.iter().position(|(_, e)| e.is_call_end()) {
        world.truncate(end + 1);
    }
    world
        .into_iter()
        .map(|(at, e)| ((at - first_response).max(0.0), e))
        .collect()
}

/// Chance that a call's first ParticipantsUpdated comes before its
/// CallConnected (the two are sent independently): of the 18 live
/// recordings of the Python SDK whose update has sequence number 1, 9 have
/// it 3 to 216 ms before CallConnected, 3 at the same millisecond and 6
/// after it.
const EARLY_PARTICIPANTS_UPDATED: f64 = 0.5;
/// How much earlier than CallConnected such an update is, in ms (the
/// recordings' range).
const EARLY_BY_MS: (f64, f64) = (3.0, 216.0);

/// (time, seq) as one integer in the same order, cheaper to compare than a
/// tuple; the sign bit is flipped so negative times still sort first.
fn order_key(e: &Event) -> u128 {
    ((e.time_ms as u64 ^ 1 << 63) as u128) << 32 | e.seq as u128
}

/// Where a step sequence left the call.
enum Flow {
    /// Still going; the clock for the next step.
    At(Clock),
    /// The call is over (CallDisconnected sent, or a failure ended the flow).
    Ended,
}

struct Call<'a, 'o> {
    rng: Sampler,
    index: u64,
    start_ms: i64,
    version: ApiVersion,
    out: &'o mut Vec<Event<'a>>,
    seq: u32,
    next_outsider: u16,
    /// The ParticipantsUpdated that Hold and Unhold caused.
    hold_changes: Vec<HoldChange>,
    /// The last CallConnected whose ParticipantsUpdated has not been sent.
    connected: Option<Connected>,
    recording_started_ms: i64,
    /// When a failure ended the flow (ms since call start): the app stops
    /// there, so nothing of the call's other parallel arms may follow.
    ended_at: Option<f64>,
    /// When the first request was answered (ms since call start).
    first_response_ms: Option<f64>,
    /// Collecting the standalone steps' callbacks, for [`world_callbacks`].
    world: Option<Vec<(f64, Event<'a>)>>,
}

impl<'a, 'o> Call<'a, 'o> {
    fn new(
        rng: Sampler,
        index: u64,
        start_ms: i64,
        version: ApiVersion,
        out: &'o mut Vec<Event<'a>>,
    ) -> Call<'a, 'o> {
        Call {
            rng,
            index,
            start_ms,
            version,
            out,
            seq: 0,
            next_outsider: OUTSIDER,
            hold_changes: Vec::new(),
            connected: None,
            recording_started_ms: start_ms,
            ended_at: None,
            first_response_ms: None,
            world: None,
        }
    }
}

/// A point in a call's flow: ms since the call started, and when the
/// callback the app answers next arrived, if it does answer one. Such a
/// request is sent no sooner than a reaction delay after the callback: the
/// callback's POST to the app, the app's handler and its request back all
/// take time. A wait in between overlaps that delay (the app's timer
/// starts when the callback is handled), so a long wait is not lengthened.
#[derive(Clone, Copy)]
struct Clock {
    ms: f64,
    callback_at: Option<f64>,
}

impl Clock {
    /// A point with no callback to answer (a start, a response).
    fn at(ms: f64) -> Clock {
        Clock {
            ms,
            callback_at: None,
        }
    }

    fn after_callback(ms: f64) -> Clock {
        Clock {
            ms,
            callback_at: Some(ms),
        }
    }

    fn plus(self, wait_ms: f64) -> Clock {
        Clock {
            ms: self.ms + wait_ms,
            ..self
        }
    }

    /// The later of two points: where parallel arms end, the last to end
    /// says what the app saw last.
    fn later(self, other: Clock) -> Clock {
        if other.ms > self.ms { other } else { self }
    }
}

/// When a CallConnected was sent, and the earliest its first
/// ParticipantsUpdated may be (its request's response, or what came before).
#[derive(Clone, Copy)]
struct Connected {
    at: f64,
    earliest: f64,
}

impl<'a> Call<'a, '_> {
    fn steps(&mut self, steps: &'a [StepPlan], mut clock: Clock) -> Flow {
        for step in steps {
            match self.step(step, clock) {
                Flow::At(t) => clock = t,
                Flow::Ended => return Flow::Ended,
            }
        }
        Flow::At(clock)
    }

    fn step(&mut self, step: &'a StepPlan, clock: Clock) -> Flow {
        match step {
            StepPlan::Request(r) => self.request(r, clock),
            StepPlan::Wait(d) => Flow::At(clock.plus(self.rng.delay(d))),
            StepPlan::Branch(arms) => {
                let arm = self.rng.pick(arms);
                self.steps(arm, clock)
            }
            StepPlan::Repeat { count, steps } => {
                let n = self.rng.count(*count);
                let mut at = clock;
                for _ in 0..n {
                    match self.steps(steps, at) {
                        Flow::At(t) => at = t,
                        Flow::Ended => return Flow::Ended,
                    }
                }
                Flow::At(at)
            }
            StepPlan::Parallel(arms) => {
                let mut end = clock;
                let mut ended = false;
                for arm in arms {
                    match self.steps(arm, clock) {
                        Flow::At(t) => end = end.later(t),
                        Flow::Ended => ended = true,
                    }
                }
                if ended { Flow::Ended } else { Flow::At(end) }
            }
            StepPlan::Callback(cb) => {
                let before = self.out.len();
                let (at, ended) = self.callbacks(cb, clock.ms, self.version, Context::none(), None);
                if let Some(world) = &mut self.world {
                    // Pushed at their times since the call's start (0 here).
                    world.extend(self.out[before..].iter().map(|e| (e.time_ms as f64, *e)));
                }
                if ended {
                    Flow::Ended
                } else {
                    Flow::At(Clock::after_callback(at))
                }
            }
        }
    }

    fn request(&mut self, r: &'a RequestPlan, clock: Clock) -> Flow {
        let version = match &r.api_version {
            Some(choice) => *self.rng.pick(choice),
            None => self.version,
        };
        let status = answered(*self.rng.pick(&r.status), r.operation, version);
        let latency = self.rng.delay(&r.latency).max(1.0);
        let sent = self.sent_at(r, clock);
        self.push(
            sent,
            version,
            EventKind::Request {
                operation: r.operation,
                status,
                latency_ms: whole_ms(latency) as u32,
            },
        );
        let responded = sent + latency;
        self.first_response_ms.get_or_insert(responded);
        if !status.is_success() {
            if r.end_call_on_failure {
                let end = self.ended_at.map_or(responded, |t| t.min(responded));
                self.ended_at = Some(end);
                return Flow::Ended;
            }
            return Flow::At(Clock::at(responded));
        }
        let Some(outcomes) = &r.outcomes else {
            return Flow::At(Clock::at(responded));
        };
        let mut at = responded;
        let mut ended = false;
        let callbacks = self.rng.pick(outcomes);
        for cb in callbacks {
            let (t, end) = self.callbacks(cb, at, version, Context::of(r), Some(r.operation));
            at = t;
            ended |= end;
        }
        // Only the ParticipantsUpdated of the same outcome may come early.
        self.connected = None;
        match (ended, r.await_callbacks) {
            (true, _) => Flow::Ended,
            (false, true) if callbacks.is_empty() => Flow::At(Clock::at(at)),
            (false, true) => Flow::At(Clock::after_callback(at)),
            (false, false) => Flow::At(Clock::at(responded)),
        }
    }

    /// When the app sends request `r` from `clock`: at once, or no sooner
    /// than its reaction delay after the callback it answers.
    fn sent_at(&mut self, r: &RequestPlan, clock: Clock) -> f64 {
        let Some(callback_at) = clock.callback_at else {
            return clock.ms;
        };
        let reaction = r.reaction.min_ms + self.rng.delay(&r.reaction.delay);
        clock.ms.max(callback_at + reaction)
    }

    /// Emits one callback spec (possibly repeated); returns the time of the
    /// last one and whether it ended the call.
    fn callbacks(
        &mut self,
        cb: &'a CallbackPlan,
        mut at: f64,
        version: ApiVersion,
        context: Context<'a>,
        cause: Option<Operation>,
    ) -> (f64, bool) {
        // A call that never connected ends as its version says it does.
        let (event, results) = match &cb.connection_failure {
            Some(f) if f.failure.versions().contains(version) => (f.failure, &f.failure_results),
            Some(f) => (EventType::CallDisconnected, &f.disconnected_results),
            None => (cb.event, &cb.results),
        };
        let n = self.rng.count(cb.repeat);
        let sent = event.versions().contains(version);
        for _ in 0..n {
            let before = at;
            at += self.rng.delay(&cb.delay);
            let result = counted_result(*self.rng.pick(results), event, version);
            // The service sends only events the call's version defines (the
            // timing draws above still happen: later steps keep their times).
            if !sent {
                continue;
            }
            let detail = self.detail(cb, event, cause, at);
            let sent_at = match event {
                EventType::CallConnected => {
                    self.connected = Some(Connected {
                        at,
                        earliest: before,
                    });
                    at
                }
                EventType::ParticipantsUpdated => self.participants_updated_at(at),
                _ => at,
            };
            self.push(
                sent_at,
                version,
                EventKind::Callback {
                    event,
                    result,
                    operation_context: context,
                    detail,
                },
            );
        }
        (at, sent && event.ends_call() && n > 0)
    }

    /// When a ParticipantsUpdated due at `at` is sent: the first after a
    /// CallConnected is now and then sent just before it.
    fn participants_updated_at(&mut self, at: f64) -> f64 {
        let Some(connected) = self.connected.take() else {
            return at;
        };
        if self.rng.unit() >= EARLY_PARTICIPANTS_UPDATED {
            return at;
        }
        let (min, max) = EARLY_BY_MS;
        let early_by = min + self.rng.unit() * (max - min);
        (connected.at - early_by).max(connected.earliest)
    }

    /// Event-specific data. Who joined or left and the sequence numbers
    /// are placeholders here: `timeline` numbers them in time order.
    fn detail(
        &mut self,
        cb: &CallbackPlan,
        event: EventType,
        cause: Option<Operation>,
        at: f64,
    ) -> Detail {
        if let Some(detail) =
            detail::drawn(event, cb, &mut self.rng, &mut self.next_outsider, MAX_TONES)
        {
            return detail;
        }
        if event == EventType::RecordingStateChanged {
            let active = matches!(
                cause,
                Some(Operation::StartRecording | Operation::ResumeRecording)
            );
            if cause == Some(Operation::StartRecording) {
                self.recording_started_ms = self.start_ms + whole_ms(at);
            }
            return Detail::Recording {
                active,
                started_ms: self.recording_started_ms,
            };
        }
        // ParticipantsUpdated: `timeline` numbers it and lists who is in
        // the call; here only whether it was Hold's or Unhold's.
        if let Some(on_hold) = cause.and_then(detail::hold_set_by) {
            self.hold_changes.push((self.seq, on_hold));
        }
        Detail::Participants {
            sequence: 0,
            count: 0,
            caller_on_hold: false,
        }
    }

    fn push(&mut self, at: f64, api_version: ApiVersion, kind: EventKind<'a>) {
        self.out.push(Event {
            time_ms: self.start_ms + whole_ms(at),
            call: self.index,
            seq: self.seq,
            api_version,
            // Set in time order by `timeline`.
            connection: Connection::default(),
            kind,
        });
        self.seq += 1;
    }
}

/// A success as the request's version answers it (Start Recording is 202
/// where its result comes as an event).
fn answered(status: Status, operation: Operation, version: ApiVersion) -> Status {
    if status.is_success() {
        Status {
            code: operation.success_status_at(version),
            sub_code: 0,
        }
    } else {
        status
    }
}

/// A success the version sends without `resultInformation` carries no code
/// to count it under but the plain success's (docs/realism.md).
fn counted_result(result: Status, event: EventType, version: ApiVersion) -> Status {
    if result.is_success() && success_has_no_result(event, version) {
        Status {
            code: 200,
            sub_code: 0,
        }
    } else {
        result
    }
}

/// Rounds a non-negative offset to whole milliseconds. `f64::round` is a
/// libm call on baseline x86-64 and showed in profiles; for values >= 0,
/// adding one half and truncating is the same rounding.
fn whole_ms(ms: f64) -> i64 {
    (ms + 0.5) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_key_sorts_like_time_then_seq() {
        let at = |time_ms, seq| Event::request_at(time_ms, 0, seq);
        let events = [
            at(-5, 9),
            at(-5, 10),
            at(0, 0),
            at(0, u32::MAX),
            at(1, 0),
            at(i64::MAX, 0),
        ];
        let keys: Vec<u128> = events.iter().map(order_key).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        assert!(order_key(&at(i64::MIN, 0)) < order_key(&at(-1, u32::MAX)));
    }
}
