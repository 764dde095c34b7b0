//! Checks serde cannot express: probabilities, realistic status codes and
//! callbacks, ordering around CallDisconnected, sane delays and counts.
//! Every problem is collected (not just the first) with a path and a hint.

use super::diagnostic::{Diagnostic, JsonPath};
use super::model::*;
use super::versions;
use crate::catalog::{self, ApiVersion, EventType, Operation, StatusClass, Versions};

/// Upper bound on events a single call may produce, so one scenario line
/// (a repeat of 10,000 inside a repeat of 10,000) cannot exhaust memory.
pub(super) const MAX_EVENTS_PER_CALL: u64 = 100_000;
/// Longest delay the engine samples: a day, so heavy lognormal tails cannot
/// make calls that never end.
pub(crate) const MAX_DELAY: std::time::Duration = std::time::Duration::from_secs(86_400);
const MAX_REPEAT: u32 = 10_000;
const PROBABILITY_SLACK: f64 = 1e-9;

pub(super) fn validate(file: &ScenarioFile) -> Vec<Diagnostic> {
    let mut v = Validator::default();
    let root = JsonPath::default();
    if file.name.trim().is_empty() {
        v.error(
            root.key("name"),
            "the scenario name is empty",
            "give it a short name such as \"outbound-notification\"",
        );
    }
    v.versions(&root.key("apiVersions"), &file.api_versions);
    if let Some(d) = &file.reaction_delay {
        v.delay(&root.key("reactionDelay"), d);
    }
    if file.flows.is_empty() {
        v.error(
            root.key("flows"),
            "the scenario has no flows",
            "add at least one flow with a weight and steps",
        );
    }
    for (i, flow) in file.flows.iter().enumerate() {
        let path = root.key("flows").index(i);
        if !(flow.weight.is_finite() && flow.weight > 0.0) {
            v.error(
                path.key("weight"),
                format!("flow weight {} is not a positive number", flow.weight),
                "weights are relative: use any positive number, e.g. 1",
            );
        }
        v.versions(&path.key("apiVersions"), &flow.api_versions);
        if flow.steps.is_empty() {
            v.error(
                path.key("steps"),
                "the flow has no steps",
                "add at least one request step",
            );
        }
        v.flow_versions(&root, &path, file, flow);
        let events = v.steps(&path.key("steps"), &flow.steps);
        if events > MAX_EVENTS_PER_CALL {
            v.error(
                path,
                format!("one call of this flow can produce up to {events} events"),
                format!(
                    "keep repeats small enough for at most {MAX_EVENTS_PER_CALL} events per call"
                ),
            );
        }
    }
    v.found
}

#[derive(Default)]
struct Validator {
    found: Vec<Diagnostic>,
}

impl Validator {
    fn error(&mut self, path: JsonPath, message: impl Into<String>, hint: impl Into<String>) {
        self.found.push(Diagnostic::new(path, message).hint(hint));
    }

    /// Probabilities must each be in [0, 1] and add up to 1.
    fn probabilities(&mut self, path: &JsonPath, what: &str, values: impl Iterator<Item = f64>) {
        let mut sum = 0.0;
        for (i, p) in values.enumerate() {
            if !(0.0..=1.0).contains(&p) {
                self.error(
                    path.index(i).key("probability"),
                    format!("probability {p} is outside 0..1"),
                    "a probability is a number from 0 to 1",
                );
            }
            sum += p;
        }
        if (sum - 1.0).abs() > PROBABILITY_SLACK {
            self.error(
                path.clone(),
                format!("the {what} probabilities add up to {sum}, not 1"),
                format!("adjust the {what} probabilities so that they add up to exactly 1"),
            );
        }
    }

    fn warning(&mut self, path: JsonPath, message: impl Into<String>, hint: impl Into<String>) {
        self.found
            .push(Diagnostic::warning(path, message).hint(hint));
    }

    /// A flow's calls use one version each: one whose spec has every route
    /// the flow calls (issue #10). A mix with none is an error; a mix with
    /// some is narrowed, and said so, as are events a version lacks.
    fn flow_versions(
        &mut self,
        root: &JsonPath,
        path: &JsonPath,
        file: &ScenarioFile,
        flow: &Flow,
    ) {
        let (have, narrowest) = versions::flow_versions(&flow.steps);
        let (shares, at) = if !flow.api_versions.is_empty() {
            (&flow.api_versions, path.key("apiVersions"))
        } else if !file.api_versions.is_empty() {
            (&file.api_versions, root.key("apiVersions"))
        } else {
            (&flow.api_versions, path.clone())
        };
        let (kept, dropped) = versions::usable_mix(shares, have);
        let Some(op) = narrowest else { return };
        let since = have
            .first_stable()
            .map_or("no stable version".to_string(), |v| format!("{v} (stable)"));
        if kept.is_empty() {
            self.error(
                at,
                format!(
                    "flow {:?} calls {op}, which api-version {} does not have (it exists from {since})",
                    flow.name,
                    list(&dropped)
                ),
                format!("give the flow (or the scenario) `apiVersions` with {since} or later"),
            );
            return;
        }
        if !dropped.is_empty() {
            let kept: Vec<ApiVersion> = kept.iter().map(|(v, _)| *v).collect();
            self.warning(
                at.clone(),
                format!(
                    "calls of flow {:?} are made with {} only: {op} does not exist in {}",
                    flow.name,
                    list(&kept),
                    list(&dropped)
                ),
                "the other versions' shares go to these, in proportion; list only versions \
                 from the one the route appeared in to make this explicit",
            );
        }
        // Older versions simply get fewer events (the service sends only
        // what their spec defines); an event none of the flow's versions
        // has can never be sent.
        let used = Versions::of(kept.iter().map(|(v, _)| *v));
        for event in versions::flow_events(&flow.steps) {
            let missing: Vec<ApiVersion> = used
                .iter()
                .filter(|v| !event.versions().contains(*v))
                .collect();
            if missing.len() < used.len() as usize || event.ends_call() {
                continue;
            }
            let first = event
                .versions()
                .first_stable()
                .map_or("a preview".to_string(), |v| v.to_string());
            self.warning(
                at.clone(),
                format!(
                    "flow {:?} never gets {}: none of its api-versions ({}) has it (it exists \
                     from {first})",
                    flow.name,
                    event.short_name(),
                    list(&missing)
                ),
                "the service sends an event only in versions that define it; add a version \
                 that does, or remove the callback",
            );
        }
    }

    fn versions(&mut self, path: &JsonPath, versions: &[VersionShare]) {
        if !versions.is_empty() {
            self.probabilities(path, "api version", versions.iter().map(|s| s.probability));
        }
    }

    /// Validates a step list; returns the most events one pass can emit.
    fn steps(&mut self, path: &JsonPath, steps: &[Step]) -> u64 {
        let mut events: u64 = 0;
        for (i, step) in steps.iter().enumerate() {
            let step_path = path.index(i);
            if i > 0 && always_ends_call(&steps[i - 1]) {
                self.error(step_path.clone(), format!("step {i} can never run: the step before it always ends the call with CallDisconnected"), "nothing follows CallDisconnected; remove this step or move it before the call ends");
            }
            events = events.saturating_add(self.step(&step_path, step));
        }
        events
    }

    fn step(&mut self, path: &JsonPath, step: &Step) -> u64 {
        match step {
            Step::Request(r) => self.request(&path.key("request"), r),
            Step::Wait(d) => {
                self.delay(&path.key("wait"), d);
                0
            }
            Step::Branch(arms) => {
                let path = path.key("branch");
                if arms.is_empty() {
                    self.error(
                        path.clone(),
                        "the branch has no arms",
                        "add arms with probabilities that add up to 1",
                    );
                    return 0;
                }
                self.probabilities(&path, "branch", arms.iter().map(|a| a.probability));
                arms.iter()
                    .enumerate()
                    .map(|(i, a)| self.steps(&path.index(i).key("steps"), &a.steps))
                    .max()
                    .unwrap_or(0)
            }
            Step::Repeat(r) => {
                let path = path.key("repeat");
                let max = self.count(&path.key("count"), r.count);
                if r.steps.is_empty() {
                    self.error(
                        path.key("steps"),
                        "the repeat has no steps",
                        "add the steps to repeat",
                    );
                }
                if max > 1 && r.steps.iter().any(always_ends_call) {
                    self.error(path.key("count"), "the repeated steps always end the call, so a second round would follow CallDisconnected", "set the count to 1, or move the call-ending step after the repeat");
                }
                self.steps(&path.key("steps"), &r.steps)
                    .saturating_mul(max as u64)
            }
            Step::Parallel(arms) => {
                let path = path.key("parallel");
                if arms.len() < 2 {
                    self.error(
                        path.clone(),
                        "a parallel step needs at least two arms",
                        "use plain steps for a single sequence",
                    );
                }
                arms.iter()
                    .enumerate()
                    .map(|(i, a)| self.steps(&path.index(i), a))
                    .fold(0u64, u64::saturating_add)
            }
            Step::Callback(c) => {
                let path = path.key("callback");
                if !c.event.0.can_be_unsolicited() {
                    self.error(path.key("event"), format!("{} is only sent in answer to a request", c.event.0), "put it in the outcomes of the request that triggers it; unasked callbacks are CallDisconnected, ParticipantsUpdated, RecordingStateChanged, Transcription* and MediaStreaming*");
                }
                self.callback(&path, c)
            }
        }
    }

    fn request(&mut self, path: &JsonPath, r: &Request) -> u64 {
        let op = r.operation.0;
        let info = op.info();
        self.statuses(&path.key("status"), op, &r.status);
        if let Some(d) = &r.latency {
            self.delay(&path.key("latency"), d);
        }
        if let Some(d) = &r.reaction_delay {
            self.delay(&path.key("reactionDelay"), d);
        }
        self.versions(&path.key("apiVersions"), &r.api_versions);
        if !r.api_versions.is_empty() {
            self.versions_exist(&path.key("apiVersions"), op, &r.api_versions);
        }
        if r.outcomes.is_empty() {
            return 1;
        }
        let path = path.key("outcomes");
        if info.callbacks.is_empty() {
            self.error(
                path.clone(),
                format!("{op} triggers no callbacks"),
                "remove `outcomes` from this request",
            );
            return 1;
        }
        self.probabilities(&path, "outcome", r.outcomes.iter().map(|o| o.probability));
        let mut most = 0u64;
        for (i, outcome) in r.outcomes.iter().enumerate() {
            let events = self.outcome(&path.index(i).key("callbacks"), op, outcome);
            most = most.max(events);
        }
        1 + most
    }

    /// A request's api-versions against those its operation exists in.
    fn versions_exist(&mut self, path: &JsonPath, op: Operation, api_versions: &[VersionShare]) {
        let info = op.info();
        let (kept, dropped) = versions::usable_mix(api_versions, info.versions);
        let since = info
            .versions
            .first_stable()
            .map_or("a preview".to_string(), |v| v.to_string());
        if kept.is_empty() {
            self.error(
                path.clone(),
                format!(
                    "{op} does not exist in api-version {} (it exists from {since})",
                    list(&dropped)
                ),
                format!("use {since} or later"),
            );
        } else if !dropped.is_empty() {
            self.warning(
                path.clone(),
                format!(
                    "{op} does not exist in api-version {}: it is sent with the others only",
                    list(&dropped)
                ),
                format!("list only versions from {since} on"),
            );
        }
    }

    /// The callbacks of one outcome of `op` (at `path`); the events they
    /// make.
    fn outcome(&mut self, path: &JsonPath, op: Operation, outcome: &Outcome) -> u64 {
        let mut events = 0u64;
        for (j, cb) in outcome.callbacks.iter().enumerate() {
            let cpath = path.index(j);
            self.triggered_by(&cpath.key("event"), op, cb.event.0);
            let end = cb.event.0;
            if end.ends_call() && j + 1 < outcome.callbacks.len() {
                self.error(
                    path.index(j + 1).key("event"),
                    format!(
                        "{} comes after {}",
                        outcome.callbacks[j + 1].event.0.short_name(),
                        end.short_name()
                    ),
                    format!(
                        "{} ends the call: make it the last callback of the outcome",
                        end.short_name()
                    ),
                );
            }
            let connects = outcome
                .callbacks
                .iter()
                .any(|c| c.event.0 == EventType::CallConnected);
            if matches!(end, EventType::CreateCallFailed | EventType::AnswerFailed) && connects {
                self.error(
                    cpath.key("event"),
                    format!("{} in an outcome where the call connects", end.short_name()),
                    "a call that connected ends with CallDisconnected; the failure belongs to an outcome without CallConnected",
                );
            }
            events = events.saturating_add(self.callback(&cpath, cb));
        }
        events
    }

    /// An outcome's callback must be one `op` triggers.
    fn triggered_by(&mut self, path: &JsonPath, op: Operation, event: EventType) {
        let info = op.info();
        if info.callbacks.contains(&event) {
            return;
        }
        let allowed: Vec<_> = info.callbacks.iter().map(|e| e.short_name()).collect();
        let prompt = matches!(op, Operation::Recognize | Operation::PlayPrompt)
            && event.short_name().starts_with("Play");
        let hint = if prompt {
            format!(
                "a recognize ends in RecognizeCompleted, RecognizeFailed or RecognizeCanceled; a \
                 prompt that cannot be played is RecognizeFailed with code 500, subCode 8511 \
                 ({op} triggers: {})",
                allowed.join(", ")
            )
        } else {
            format!("{op} triggers: {}", allowed.join(", "))
        };
        self.error(
            path.clone(),
            format!("{op} does not trigger {}", event.short_name()),
            hint,
        );
    }
    fn statuses(&mut self, path: &JsonPath, op: Operation, statuses: &[StatusShare]) {
        if statuses.is_empty() {
            return;
        }
        self.probabilities(path, "status", statuses.iter().map(|s| s.probability));
        let success = op.info().success_status;
        for (i, s) in statuses.iter().enumerate() {
            let spath = path.index(i);
            match StatusClass::of(s.code) {
                Some(StatusClass::Success) if !op.succeeds_with(s.code) => self.error(spath.key("code"), format!("{op} answers {success} on success, not {}", s.code), format!("use {success}")),
                Some(StatusClass::Success) if s.sub_code.is_some() => self.error(spath.key("subCode"), "a successful response carries no error sub-code", "remove subCode, or use it on a 4xx/5xx status"),
                Some(StatusClass::ClientError | StatusClass::ServerError) | Some(StatusClass::Success) => {}
                _ => self.error(spath.key("code"), format!("{} is not an HTTP status Call Automation answers with", s.code), format!("use {success} for success or a 4xx/5xx code such as 400, 404, 429, 500, 503")),
            }
            if statuses[..i]
                .iter()
                .any(|o| o.code == s.code && o.sub_code == s.sub_code)
            {
                self.error(
                    spath,
                    format!("status {} is listed twice", s.code),
                    "merge the entries and add their probabilities",
                );
            }
        }
    }

    /// Returns the most events this callback spec can emit.
    fn callback(&mut self, path: &JsonPath, c: &Callback) -> u64 {
        let event = c.event.0;
        if let Some(d) = &c.delay {
            self.delay(&path.key("delay"), d);
        }
        if !c.result.is_empty() {
            let rpath = path.key("result");
            self.probabilities(&rpath, "result", c.result.iter().map(|r| r.probability));
            for (i, r) in c.result.iter().enumerate() {
                self.result_code(&rpath.index(i).key("code"), event, r.code);
                self.documented_result(&rpath.index(i), event, r);
            }
        }
        if c.recognition_type.is_some() && event != EventType::RecognizeCompleted {
            self.error(
                path.key("recognitionType"),
                format!("{} has no recognition type", event.short_name()),
                "recognitionType belongs to RecognizeCompleted only",
            );
        }
        let repeat = match c.repeat {
            Some(count) => self.count(&path.key("repeat"), count),
            None => 1,
        };
        if event.ends_call() && repeat > 1 {
            self.error(
                path.key("repeat"),
                format!("{} cannot repeat: nothing follows it", event.short_name()),
                "remove `repeat`",
            );
        }
        repeat as u64
    }

    fn result_code(&mut self, path: &JsonPath, event: EventType, code: u16) {
        let class = StatusClass::of(code);
        let failed = event.short_name().ends_with("Failed");
        let canceled = event.short_name().ends_with("Canceled");
        match class {
            None => self.error(
                path.clone(),
                format!("{code} is not a Call Automation result code"),
                "use a code of the 2xx, 4xx, 5xx or 6xx series",
            ),
            Some(StatusClass::Success) if failed => self.error(
                path.clone(),
                format!("{} with success code {code}", event.short_name()),
                "a *Failed event carries a 4xx, 5xx or 6xx code",
            ),
            Some(c)
                if c != StatusClass::Success
                    && !failed
                    && !canceled
                    && event != EventType::CallDisconnected =>
            {
                self.error(
                    path.clone(),
                    format!("{} with error code {code}", event.short_name()),
                    "only *Failed, *Canceled and CallDisconnected events carry error codes",
                )
            }
            _ => {}
        }
    }

    /// A result no source documents for this event is what the service
    /// never sends (RecognizeFailed 400/8534 is 500/8534 live): said, with
    /// the pairs the catalog does document, so a scenario can pick one.
    fn documented_result(&mut self, path: &JsonPath, event: EventType, r: &ResultShare) {
        if catalog::is_documented(event, r.code, r.sub_code) {
            return;
        }
        let pairs: Vec<String> = catalog::documented_results(event)
            .iter()
            .map(|row| format!("{}/{}", row.code, row.sub_code))
            .collect();
        let generic = "or a generic code (4xx, 5xx, 603) with a generic sub-code the event's own rows do not give";
        let hint = if pairs.is_empty() {
            format!("use {generic}")
        } else {
            format!(
                "documented for {}: {}; {generic}",
                event.short_name(),
                pairs.join(", ")
            )
        };
        self.warning(
            path.clone(),
            format!(
                "{} {}/{} is not a documented result (`callmetrics catalog` lists the sources)",
                event.short_name(),
                r.code,
                r.sub_code
            ),
            hint,
        );
    }

    /// Returns the count's maximum.
    fn count(&mut self, path: &JsonPath, count: Count) -> u32 {
        let (min, max) = match count {
            Count::Fixed(n) => (n, n),
            Count::Range(r) => (r.min, r.max),
        };
        if min > max {
            self.error(
                path.clone(),
                format!("count range min {min} is above max {max}"),
                "swap min and max",
            );
        }
        if max > MAX_REPEAT {
            self.error(
                path.clone(),
                format!("count {max} is above the limit of {MAX_REPEAT}"),
                "model long calls with waits rather than huge repeats",
            );
        }
        if max == 0 {
            self.error(
                path.clone(),
                "count 0 never runs the steps",
                "use 1 or more, or remove the step",
            );
        }
        min.max(max)
    }

    fn delay(&mut self, path: &JsonPath, d: &Delay) {
        // The engine caps every delay at a day; a file that asks for more
        // would be changed silently, so it is refused.
        // (Where the longest is the 99th percentile: an exponential's is
        // its mean times ln 100.)
        let (key, longest) = match d {
            Delay::Fixed(t) => ("fixed", t.0),
            Delay::Uniform { max, .. } => ("uniform", max.0),
            Delay::Exponential { mean } => ("exponential", mean.0.mul_f64(100f64.ln())),
            Delay::Lognormal { p99, .. } => ("lognormal", p99.0),
        };
        if longest > MAX_DELAY {
            self.error(
                path.key(key),
                format!(
                    "a delay of {} is longer than the longest the engine makes, 24h",
                    humantime::format_duration(longest)
                ),
                "use at most 24h (a call that waits longer than a day is cut there)",
            );
        }
        match d {
            Delay::Uniform { min, max } if min.0 > max.0 => self.error(
                path.key("uniform"),
                "uniform delay has min above max",
                "swap min and max",
            ),
            Delay::Exponential { mean } if mean.0.is_zero() => self.error(
                path.key("exponential").key("mean"),
                "exponential delay with mean 0",
                "use a positive mean, or {\"fixed\": \"0ms\"}",
            ),
            Delay::Lognormal { median, .. } if median.0.is_zero() => self.error(
                path.key("lognormal").key("median"),
                "lognormal delay with median 0",
                "use a positive median",
            ),
            Delay::Lognormal { median, p99 } if p99.0 < median.0 => self.error(
                path.key("lognormal").key("p99"),
                "lognormal p99 is below the median",
                "p99 must be at least the median",
            ),
            _ => {}
        }
    }
}

/// "2023-03-06, 2023-10-15".
fn list(versions: &[ApiVersion]) -> String {
    let names: Vec<&str> = versions.iter().map(|v| v.as_str()).collect();
    names.join(", ")
}

/// True when every way through the step ends the call.
fn always_ends_call(step: &Step) -> bool {
    match step {
        Step::Callback(c) => c.event.0.ends_call(),
        Step::Request(r) => {
            let can_fail_and_go_on = r.on_failure == OnFailure::Continue
                && r.status
                    .iter()
                    .any(|s| !(200..300).contains(&s.code) && s.probability > 0.0);
            !can_fail_and_go_on
                && !r.outcomes.is_empty()
                && r.outcomes.iter().all(|o| {
                    o.probability == 0.0
                        || o.callbacks.last().is_some_and(|c| c.event.0.ends_call())
                })
        }
        Step::Branch(arms) => {
            !arms.is_empty()
                && arms
                    .iter()
                    .all(|a| a.probability == 0.0 || a.steps.iter().any(always_ends_call))
        }
        Step::Repeat(r) => r.steps.iter().any(always_ends_call),
        Step::Parallel(arms) => arms.iter().any(|a| a.iter().any(always_ends_call)),
        Step::Wait(_) => false,
    }
}
