//! Turns a validated scenario file into the engine's plan: catalog enums,
//! defaults filled in, distributions reduced to sampler parameters.

use super::model::{self, Await, OnFailure, RecognitionType, ScenarioFile};
use super::plan::*;
use super::versions;
use crate::catalog::{ApiVersion, EventType, Operation, ResultMix, Versions};

/// Request latency when the file gives none: typical for a regional
/// Call Automation endpoint.
const DEFAULT_LATENCY: (f64, f64) = (60.0, 400.0);
/// Callback delay when the file gives none.
const DEFAULT_CALLBACK_DELAY: (f64, f64) = (500.0, 3000.0);
/// The app's reaction to a callback when the file gives none: 5 ms plus a
/// lognormal of median 115 ms and p99 995 ms, so median 120 ms and p99 1 s.
/// A webhook round trip crosses the network twice (a few ms within a
/// region, tens across regions) around the handler's work; the tail is
/// cold starts and slow stores. The model's `reaction_delay` documents it.
const DEFAULT_REACTION_MIN_MS: f64 = 5.0;
const DEFAULT_REACTION: (f64, f64) = (115.0, 995.0);

pub(super) fn compile(file: &ScenarioFile, sha256: String) -> Scenario {
    let mut c = Compiler::new(file.reaction_delay.as_ref());
    Scenario {
        name: file.name.clone(),
        description: file.description.clone(),
        flows: Choice::new(file.flows.iter().map(|f| {
            let shares = if f.api_versions.is_empty() {
                &file.api_versions
            } else {
                &f.api_versions
            };
            let plan = FlowPlan {
                name: f.name.clone(),
                api_version: usable(shares, versions::flow_versions(&f.steps).0),
                steps: c.steps(&f.steps),
            };
            (plan, f.weight)
        })),
        sha256,
        warnings: Vec::new(),
    }
}

/// The mix limited to `have` (validation refused a mix with none left).
fn usable(shares: &[model::VersionShare], have: Versions) -> Choice<ApiVersion> {
    let (kept, _) = versions::usable_mix(shares, have);
    if kept.is_empty() {
        return Choice::new([(ApiVersion::default_version(), 1.0)]);
    }
    Choice::new(kept)
}

/// Compiles steps, sharing one sampling table among equal delays: a
/// scenario repeats a few distributions many times, and fewer tables stay
/// in cache while sampling.
struct Compiler {
    delays: DelayTables,
    /// The scenario's reaction delay, for requests that give none.
    reaction: Reaction,
}

impl Compiler {
    fn new(reaction: Option<&model::Delay>) -> Compiler {
        let mut delays = DelayTables::default();
        let reaction = match reaction {
            Some(d) => given_reaction(&mut delays, d),
            None => Reaction {
                min_ms: DEFAULT_REACTION_MIN_MS,
                delay: delays.lognormal(DEFAULT_REACTION.0, DEFAULT_REACTION.1),
            },
        };
        Compiler { delays, reaction }
    }

    fn steps(&mut self, steps: &[model::Step]) -> Vec<StepPlan> {
        steps.iter().map(|s| self.step(s)).collect()
    }

    fn step(&mut self, step: &model::Step) -> StepPlan {
        match step {
            model::Step::Request(r) => StepPlan::Request(Box::new(self.request(r))),
            model::Step::Wait(d) => StepPlan::Wait(self.delays.delay_of(d)),
            model::Step::Branch(arms) => StepPlan::Branch(Choice::new(
                arms.iter().map(|a| (self.steps(&a.steps), a.probability)),
            )),
            model::Step::Repeat(r) => StepPlan::Repeat {
                count: r.count.into(),
                steps: self.steps(&r.steps),
            },
            model::Step::Parallel(arms) => {
                StepPlan::Parallel(arms.iter().map(|a| self.steps(a)).collect())
            }
            model::Step::Callback(c) => StepPlan::Callback(self.callback(c)),
        }
    }

    fn request(&mut self, r: &model::Request) -> RequestPlan {
        let op = r.operation.0;
        let status = if r.status.is_empty() {
            Choice::new([(
                Status {
                    code: op.info().success_status,
                    sub_code: 0,
                },
                1.0,
            )])
        } else {
            Choice::new(r.status.iter().map(|s| {
                let status = Status {
                    code: s.code,
                    sub_code: s.sub_code.unwrap_or(0),
                };
                (status, s.probability)
            }))
        };
        let failure = match op {
            Operation::CreateCall => Some(EventType::CreateCallFailed),
            Operation::AnswerCall => Some(EventType::AnswerFailed),
            _ => None,
        };
        let outcomes = (!r.outcomes.is_empty()).then(|| {
            Choice::new(r.outcomes.iter().map(|o| {
                let connects = o
                    .callbacks
                    .iter()
                    .any(|c| c.event.0 == EventType::CallConnected);
                let callbacks = o
                    .callbacks
                    .iter()
                    .map(|c| {
                        let mut plan = self.callback(c);
                        if let Some(failure) = failure.filter(|_| !connects) {
                            plan.connection_failure = connection_failure(&plan, c, failure);
                        }
                        plan
                    })
                    .collect();
                (callbacks, o.probability)
            }))
        });
        RequestPlan {
            operation: op,
            status,
            latency: match &r.latency {
                Some(d) => self.delays.delay_of(d),
                None => self.delays.lognormal(DEFAULT_LATENCY.0, DEFAULT_LATENCY.1),
            },
            reaction: match &r.reaction_delay {
                Some(d) => given_reaction(&mut self.delays, d),
                None => self.reaction.clone(),
            },
            api_version: (!r.api_versions.is_empty())
                .then(|| usable(&r.api_versions, op.info().versions)),
            outcomes,
            end_call_on_failure: r.on_failure == OnFailure::EndCall,
            await_callbacks: r.wait_for == Await::Callbacks,
            operation_context_json: r
                .operation_context
                .as_ref()
                .filter(|c| !c.is_empty())
                .map(|c| serde_json::Value::from(c.as_str()).to_string())
                .unwrap_or_default(),
        }
    }

    fn callback(&mut self, c: &model::Callback) -> CallbackPlan {
        let event = c.event.0;
        let recognition_type = c.recognition_type.unwrap_or(RecognitionType::Dtmf);
        let results = if c.result.is_empty() {
            let defaults = match event {
                EventType::RecognizeCompleted => recognize_completed_results(recognition_type),
                _ => event.default_results(),
            };
            Choice::new(defaults.iter().map(|m| {
                let status = Status {
                    code: m.code,
                    sub_code: m.sub_code,
                };
                (status, m.probability)
            }))
        } else {
            Choice::new(c.result.iter().map(|r| {
                let status = Status {
                    code: r.code,
                    sub_code: r.sub_code,
                };
                (status, r.probability)
            }))
        };
        CallbackPlan {
            event,
            delay: match &c.delay {
                Some(d) => self.delays.delay_of(d),
                None => self
                    .delays
                    .lognormal(DEFAULT_CALLBACK_DELAY.0, DEFAULT_CALLBACK_DELAY.1),
            },
            results,
            repeat: c
                .repeat
                .map(Count::from)
                .unwrap_or(Count { min: 1, max: 1 }),
            recognition_type,
            connection_failure: None,
        }
    }
}

/// A reaction delay the file gives: used as written.
fn given_reaction(delays: &mut DelayTables, d: &model::Delay) -> Reaction {
    Reaction {
        min_ms: 0.0,
        delay: delays.delay_of(d),
    }
}

/// For the callback that ends a never-connected call (CallDisconnected or
/// the failure event, as the file names it): both forms, the one the file
/// gives keeping its results, the other with the catalog's defaults.
fn connection_failure(
    plan: &CallbackPlan,
    c: &model::Callback,
    failure: EventType,
) -> Option<Box<ConnectionFailure>> {
    let defaults = |event: EventType| {
        Choice::new(event.default_results().iter().map(|m| {
            let status = Status {
                code: m.code,
                sub_code: m.sub_code,
            };
            (status, m.probability)
        }))
    };
    let own = |event: EventType| {
        if c.event.0 == event {
            plan.results.clone()
        } else {
            defaults(event)
        }
    };
    (c.event.0 == EventType::CallDisconnected || c.event.0 == failure).then(|| {
        Box::new(ConnectionFailure {
            failure,
            failure_results: own(failure),
            disconnected_results: own(EventType::CallDisconnected),
        })
    })
}

/// RecognizeCompleted's sub-code says what was recognized, so its default
/// mix follows the recognition type.
fn recognize_completed_results(kind: RecognitionType) -> &'static [ResultMix] {
    const fn mix(sub_code: u32, probability: f64) -> ResultMix {
        ResultMix::new(200, sub_code, probability)
    }
    const DTMF: &[ResultMix] = &[mix(8531, 0.7), mix(8514, 0.3)];
    const SPEECH: &[ResultMix] = &[mix(8569, 1.0)];
    const CHOICES: &[ResultMix] = &[mix(8533, 0.4), mix(8545, 0.6)];
    match kind {
        RecognitionType::Dtmf => DTMF,
        RecognitionType::Speech => SPEECH,
        RecognitionType::Choices => CHOICES,
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::plan::StepPlan;

    #[test]
    fn operation_contexts_are_rendered_as_json_string_literals() {
        let file = br#"{"name": "ctx", "flows": [{"name": "f", "weight": 1, "steps": [
            {"request": {"operation": "Play", "operationContext": "say \"hi\"\n"}},
            {"request": {"operation": "Play"}}]}]}"#;
        let scenario = super::super::parse("ctx.json".as_ref(), file).expect("valid");
        let json: Vec<&str> = scenario.flows.items()[0]
            .steps
            .iter()
            .map(|s| match s {
                StepPlan::Request(r) => r.operation_context_json.as_str(),
                _ => unreachable!("only requests"),
            })
            .collect();
        assert_eq!(json, [r#""say \"hi\"\n""#, ""]);
    }
}
