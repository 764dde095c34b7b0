//! A call answered as it happens, for `emulate`: where `call.rs` walks a
//! whole flow ahead of time, here the app drives. Each request the app
//! makes is matched to a request step of the call's flow (the k-th request
//! of an operation to the k-th step of it, the last one repeating), and
//! answered from that step: its status mix, latency and, on success, the
//! callbacks of one drawn outcome with their delays. Draws come from the
//! call's own stream, as in `generate`, so a sequential app sees the same
//! answers for the same seed. Nothing here reads the clock: times come in.

use super::detail;
use super::event::{Connection, Context, Detail, Event, EventKind, MAX_TONES, OUTSIDER};
use super::sample::{Sampler, Stream};
use super::timeline::Roster;
use crate::catalog::{ApiVersion, EventType, Operation, success_has_no_result};
use crate::scenario::Scenario;
use crate::scenario::plan::{CallbackPlan, FlowPlan, RequestPlan, Status, StepPlan};
use rustc_hash::FxHashMap;

/// How many flows are drawn, at most, to find one with the operation that
/// starts a call, before taking the first that has it.
const FLOW_DRAWS: usize = 64;

/// Where the world's callbacks are numbered from (see [`LiveCall::world`]).
const WORLD_SEQ: u32 = 1 << 31;

/// One live call: its flow, its random stream and what it has been asked.
pub(crate) struct LiveCall<'a> {
    rng: Sampler,
    seed: u64,
    index: u64,
    flow: &'a FlowPlan,
    /// The flow's request steps, in the order they appear.
    requests: Vec<&'a RequestPlan>,
    /// Requests answered so far, per operation.
    asked: FxHashMap<Operation, usize>,
    seq: u32,
    /// Who is in the call, as its callbacks say.
    roster: Roster,
    next_outsider: u16,
    /// What the request being answered asked for.
    asked_for: AskedFor,
    /// When the call's recording started (Unix ms), for its
    /// RecordingStateChanged events.
    recording_started_ms: i64,
}

/// What a request asked for that shapes the callbacks it draws.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AskedFor {
    /// A recognize's `maxTonesToCollect`: its DTMF result holds 1 to this
    /// many tones.
    pub max_tones: u8,
    /// When the request came (Unix ms): a recording it starts starts then.
    pub at_ms: i64,
}

impl Default for AskedFor {
    fn default() -> AskedFor {
        AskedFor {
            max_tones: MAX_TONES,
            at_ms: 0,
        }
    }
}

/// A request answered: what the app is told, and the callbacks it causes.
#[derive(Debug)]
pub(crate) struct Answer<'a> {
    pub status: Status,
    pub latency_ms: u32,
    /// Each callback and its delay after the previous one (the first's
    /// after the response), in the order they are sent; `time_ms` is
    /// left for the sender to set.
    pub callbacks: Vec<(f64, Event<'a>)>,
    /// A failure that ends the flow (`"onFailure": "endCall"`).
    pub ends_call: bool,
}

impl<'a> LiveCall<'a> {
    /// Call `index` of `scenario`, started by `operation` (Create Call,
    /// Answer Call, Connect): it follows a flow with a step for it, drawn
    /// by the flows' weights; `None` when no flow has one.
    pub(crate) fn start(
        scenario: &'a Scenario,
        seed: u64,
        index: u64,
        operation: Operation,
    ) -> Option<LiveCall<'a>> {
        let mut rng = Sampler::new(seed, Stream::Call, index);
        let has = |flow: &FlowPlan| request_steps(&flow.steps).any(|r| r.operation == operation);
        let flow = (0..FLOW_DRAWS)
            .map(|_| rng.pick(&scenario.flows))
            .find(|flow| has(flow))
            .or_else(|| scenario.flows.items().iter().find(|flow| has(flow)))?;
        Some(LiveCall {
            rng,
            seed,
            index,
            flow,
            requests: request_steps(&flow.steps).collect(),
            asked: FxHashMap::default(),
            seq: 0,
            roster: Roster::default(),
            next_outsider: OUTSIDER,
            asked_for: AskedFor::default(),
            recording_started_ms: 0,
        })
    }

    /// The first flow of `scenario` that starts by answering an incoming
    /// call (its first request is Answer, Redirect or Reject Call).
    pub(crate) fn first_inbound_flow(scenario: &Scenario) -> Option<(&str, Operation)> {
        scenario.flows.items().iter().find_map(|flow| {
            let first = request_steps(&flow.steps).next()?.operation;
            let inbound = matches!(
                first,
                Operation::AnswerCall | Operation::RedirectCall | Operation::RejectCall
            );
            inbound.then_some((flow.name.as_str(), first))
        })
    }

    /// What the world does on its own during the call (the caller
    /// hanging up, a stream failing: the flow's standalone callback
    /// steps), for a call made with `version`: each callback with its
    /// delay after the one before, the first's after the response to the
    /// call's setup request. They come whatever the app does, at the times
    /// the flow gives them, as a caller keeps their own clock.
    pub(crate) fn world(&self, version: ApiVersion) -> Vec<(f64, Event<'a>)> {
        let mut last = 0.0;
        super::call::world_callbacks(self.flow, version, self.seed, self.index)
            .into_iter()
            .enumerate()
            .map(|(i, (at, mut event))| {
                // Numbered apart from the app-driven callbacks (which count
                // up from 0), so every CloudEvent id stays unique.
                event.seq = WORLD_SEQ + i as u32;
                event.connection = Connection::default();
                let delay = at - last;
                last = at;
                (delay, event)
            })
            .collect()
    }

    /// How many are in the call (the caller, the app, those added since):
    /// participants `0..n`, as `Detail` numbers them.
    pub(crate) fn participants(&self) -> u16 {
        self.roster.participants()
    }

    /// The call's index (what its ids derive from).
    pub(crate) fn index(&self) -> u64 {
        self.index
    }

    /// The flow's name.
    pub(crate) fn flow(&self) -> &'a str {
        &self.flow.name
    }

    /// Whether the call's flow has a step for `operation`.
    pub(crate) fn has_step(&self, operation: Operation) -> bool {
        self.requests.iter().any(|r| r.operation == operation)
    }

    /// Answers a request for `operation` made with `version`; `None` when
    /// the flow has no step for it.
    pub(crate) fn answer(
        &mut self,
        operation: Operation,
        version: ApiVersion,
        asked_for: AskedFor,
    ) -> Option<Answer<'a>> {
        self.asked_for = asked_for;
        let steps: Vec<&'a RequestPlan> = self
            .requests
            .iter()
            .copied()
            .filter(|r| r.operation == operation)
            .collect();
        let asked = self.asked.entry(operation).or_default();
        let step = *steps.get(*asked).or(steps.last())?;
        *asked += 1;
        let drawn = *self.rng.pick(&step.status);
        let status = if drawn.is_success() {
            Status {
                code: operation.success_status_at(version),
                sub_code: 0,
            }
        } else {
            drawn
        };
        let latency_ms = self.rng.delay(&step.latency).max(1.0).round() as u32;
        let mut answer = Answer {
            status,
            latency_ms,
            callbacks: Vec::new(),
            ends_call: !status.is_success() && step.end_call_on_failure,
        };
        if let (true, Some(outcomes)) = (status.is_success(), &step.outcomes) {
            let mut since_request = f64::from(latency_ms);
            for plan in self.rng.pick(outcomes) {
                self.callbacks(
                    plan,
                    step,
                    version,
                    &mut answer.callbacks,
                    &mut since_request,
                );
            }
        }
        Some(answer)
    }

    fn callbacks(
        &mut self,
        plan: &'a CallbackPlan,
        step: &'a RequestPlan,
        version: ApiVersion,
        out: &mut Vec<(f64, Event<'a>)>,
        since_request: &mut f64,
    ) {
        let (event, results) = match &plan.connection_failure {
            Some(f) if f.failure.versions().contains(version) => (f.failure, &f.failure_results),
            Some(f) => (EventType::CallDisconnected, &f.disconnected_results),
            None => (plan.event, &plan.results),
        };
        let mut waited = 0.0;
        for _ in 0..self.rng.count(plan.repeat) {
            let delay = self.rng.delay(&plan.delay);
            waited += delay;
            *since_request += delay;
            let drawn = *self.rng.pick(results);
            // The service sends only the events the version defines.
            if !event.versions().contains(version) {
                continue;
            }
            let result = if drawn.is_success() && success_has_no_result(event, version) {
                Status {
                    code: 200,
                    sub_code: 0,
                }
            } else {
                drawn
            };
            let detail = self.detail(plan, event, step.operation, *since_request);
            let hold = (event == EventType::ParticipantsUpdated)
                .then(|| detail::hold_set_by(step.operation))
                .flatten();
            let detail = self.roster.apply(event, detail, hold);
            out.push((
                waited,
                Event {
                    time_ms: 0,
                    call: self.index,
                    seq: self.seq,
                    api_version: version,
                    connection: Connection::default(),
                    kind: EventKind::Callback {
                        event,
                        result,
                        operation_context: Context::of(step),
                        detail,
                    },
                },
            ));
            waited = 0.0;
            self.seq += 1;
        }
    }

    /// The event's data: the caller (participant 0) and the app (1) are
    /// in the call; people invited or transferred to are outsiders.
    /// `after_ms`: how long after the request the event is sent.
    fn detail(
        &mut self,
        plan: &CallbackPlan,
        event: EventType,
        cause: Operation,
        after_ms: f64,
    ) -> Detail {
        let max_tones = self.asked_for.max_tones;
        match detail::drawn(
            event,
            plan,
            &mut self.rng,
            &mut self.next_outsider,
            max_tones,
        ) {
            Some(detail) => detail,
            None if event == EventType::RecordingStateChanged => {
                if cause == Operation::StartRecording {
                    self.recording_started_ms = self.asked_for.at_ms + after_ms as i64;
                }
                Detail::Recording {
                    active: matches!(
                        cause,
                        Operation::StartRecording | Operation::ResumeRecording
                    ),
                    started_ms: self.recording_started_ms,
                }
            }
            // Numbered, with who is in the call, by the roster.
            None => Detail::Participants {
                sequence: 0,
                count: 0,
                caller_on_hold: false,
            },
        }
    }
}

/// Every request step of `steps`, depth first, in file order.
fn request_steps<'a>(steps: &'a [StepPlan]) -> Box<dyn Iterator<Item = &'a RequestPlan> + 'a> {
    Box::new(
        steps
            .iter()
            .flat_map(|step| -> Box<dyn Iterator<Item = _>> {
                match step {
                    StepPlan::Request(r) => Box::new(std::iter::once(&**r)),
                    StepPlan::Branch(arms) => {
                        Box::new(arms.items().iter().flat_map(|a| request_steps(a)))
                    }
                    StepPlan::Repeat { steps, .. } => request_steps(steps),
                    StepPlan::Parallel(arms) => {
                        Box::new(arms.iter().flat_map(|a| request_steps(a)))
                    }
                    StepPlan::Wait(_) | StepPlan::Callback(_) => Box::new(std::iter::empty()),
                }
            }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(name: &str) -> Scenario {
        let path = format!("{}/scenarios/{name}.json", env!("CARGO_MANIFEST_DIR"));
        crate::scenario::load(std::path::Path::new(&path)).expect("a shipped scenario loads")
    }

    fn version(name: &str) -> ApiVersion {
        name.parse().expect("a catalog version")
    }

    #[test]
    fn a_call_follows_a_flow_that_has_its_first_request() {
        let s = scenario("inbound-ivr");
        assert!(LiveCall::start(&s, 1, 0, Operation::CreateCall).is_none());
        let call = LiveCall::start(&s, 1, 0, Operation::AnswerCall).expect("a flow answers");
        assert!(call.has_step(Operation::AnswerCall));
    }

    #[test]
    fn inbound_flows_are_those_starting_with_answer_redirect_or_reject() {
        let inbound = scenario("inbound-ivr");
        assert_eq!(
            LiveCall::first_inbound_flow(&inbound),
            Some(("self-service-menu", Operation::AnswerCall))
        );
        assert_eq!(
            LiveCall::first_inbound_flow(&scenario("outbound-notification")),
            None
        );
    }

    #[test]
    fn the_same_seed_and_call_give_the_same_answers() {
        let s = scenario("outbound-notification");
        let v = version("2025-05-15");
        let answers = |seed| {
            let mut call = LiveCall::start(&s, seed, 7, Operation::CreateCall).expect("a flow");
            (0..20)
                .map(|_| {
                    let a = call
                        .answer(Operation::CreateCall, v, AskedFor::default())
                        .expect("a step");
                    (a.status.code, a.latency_ms, a.callbacks.len())
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(answers(3), answers(3));
        assert_ne!(answers(3), answers(4));
    }

    #[test]
    fn callers_hang_up_on_their_own_clock_in_the_flows_that_say_so() {
        let s = scenario("inbound-ivr");
        let v = version("2025-05-15");
        let (mut abandoned, mut hung_up) = (0, 0);
        for index in 0..400 {
            let call = LiveCall::start(&s, 5, index, Operation::AnswerCall).expect("a flow");
            let world = call.world(v);
            assert_eq!(world, call.world(v), "the same call, the same world");
            match call.flow() {
                "abandoned-during-welcome" => {
                    abandoned += 1;
                    // Play answers at once after Answer; then 1-8 s.
                    let [(delay, event)] = world.as_slice() else {
                        panic!("one hang-up: {world:?}")
                    };
                    assert!(event.is_call_end(), "{event:?}");
                    assert!((900.0..20_000.0).contains(delay), "{delay}");
                    assert!(event.seq >= WORLD_SEQ);
                }
                "after-hours-redirect" | "blocked-number-reject" => assert!(world.is_empty()),
                _ => hung_up += usize::from(!world.is_empty()),
            }
        }
        assert!(abandoned > 5, "{abandoned}");
        // The menu's callers hang up in some branches, not in all.
        assert!(hung_up > 20 && hung_up < 300, "{hung_up}");
    }

    #[test]
    fn a_live_recording_says_it_is_active_and_since_when() {
        let s = scenario("contact-center");
        let v = version("2025-05-15");
        let asked = AskedFor {
            at_ms: 1_000_000,
            ..AskedFor::default()
        };
        let recorded = (0..200).find_map(|index| {
            let mut call = LiveCall::start(&s, 3, index, Operation::AnswerCall)?;
            let answer = call.answer(Operation::StartRecording, v, asked)?;
            answer
                .callbacks
                .into_iter()
                .find_map(|(_, e)| match e.kind {
                    EventKind::Callback {
                        event: EventType::RecordingStateChanged,
                        detail,
                        ..
                    } => Some(detail),
                    _ => None,
                })
        });
        match recorded {
            Some(Detail::Recording { active, started_ms }) => {
                assert!(active);
                assert!(started_ms > 1_000_000, "{started_ms}");
            }
            other => panic!("a RecordingStateChanged with its state: {other:?}"),
        }
    }

    #[test]
    fn who_is_in_a_live_call_follows_its_adds_and_removes() {
        let s = scenario("contact-center");
        let v = version("2025-05-15");
        let added = |e: &Event| {
            matches!(
                e.kind,
                EventKind::Callback {
                    event: EventType::AddParticipantSucceeded,
                    ..
                }
            )
        };
        let (mut call, answer) = (0..200)
            .find_map(|index| {
                let mut call = LiveCall::start(&s, 3, index, Operation::AnswerCall)
                    .filter(|c| c.has_step(Operation::RemoveParticipants))?;
                assert_eq!(call.participants(), 2, "the caller and the app");
                let answer = call.answer(Operation::AddParticipants, v, AskedFor::default())?;
                answer
                    .callbacks
                    .iter()
                    .any(|(_, e)| added(e))
                    .then_some((call, answer))
            })
            .expect("an add that succeeds");
        let joined = answer
            .callbacks
            .iter()
            .find(|(_, e)| added(e))
            .map(|(_, e)| e.kind);
        assert!(
            matches!(
                joined,
                Some(EventKind::Callback {
                    detail: Detail::Participant { participant: 2 },
                    ..
                })
            ),
            "the first to join is participant 2: {joined:?}"
        );
        assert_eq!(call.participants(), 3);
        for _ in 0..20 {
            let removed = call.answer(Operation::RemoveParticipants, v, AskedFor::default());
            if removed.is_some_and(|a| {
                a.callbacks.iter().any(|(_, e)| {
                    matches!(
                        e.kind,
                        EventKind::Callback {
                            event: EventType::RemoveParticipantSucceeded,
                            ..
                        }
                    )
                })
            }) {
                assert_eq!(call.participants(), 2, "who was added has left");
                return;
            }
        }
        panic!("no remove succeeded");
    }

    #[test]
    fn an_operation_without_a_step_is_not_answered() {
        let s = scenario("outbound-notification");
        let mut call = LiveCall::start(&s, 1, 0, Operation::CreateCall).expect("a flow");
        assert!(!call.has_step(Operation::StartRecording));
        assert!(
            call.answer(
                Operation::StartRecording,
                version("2025-05-15"),
                AskedFor::default()
            )
            .is_none()
        );
    }

    #[test]
    fn a_success_draws_its_outcomes_callbacks_and_a_failure_none() {
        let s = scenario("outbound-notification");
        let v = version("2025-05-15");
        let (mut successes, mut failures) = (0, 0);
        for index in 0..400 {
            let mut call = LiveCall::start(&s, 9, index, Operation::CreateCall).expect("a flow");
            let a = call
                .answer(Operation::CreateCall, v, AskedFor::default())
                .expect("a step");
            if a.status.is_success() {
                successes += 1;
                assert_eq!(a.status.code, 201);
                assert!(!a.callbacks.is_empty(), "a created call is called back");
                let first = &a.callbacks[0].1;
                assert!(matches!(first.kind, EventKind::Callback { .. }));
                assert_eq!(first.api_version, v);
            } else {
                failures += 1;
                assert!(a.callbacks.is_empty());
                assert!(a.ends_call, "Create Call's failures end the call");
            }
        }
        // The scenario's Create Call fails 4.5 % of the time.
        assert!(successes > 350 && failures > 5, "{successes} {failures}");
    }
}
