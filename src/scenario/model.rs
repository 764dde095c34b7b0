//! The scenario file format, exactly as users write it. These types define
//! both the parser (serde) and the published JSON Schema (schemars), so the
//! two cannot drift. Checks serde cannot express live in `validate`.

use super::names::{ApiVersionName, DurationText, EventTypeName, OperationName};
use schemars::JsonSchema;
use serde::Deserialize;

/// A Call Automation workload: weighted call flows.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "callmetrics scenario")]
pub(super) struct ScenarioFile {
    /// Path or URL of this schema, for editors.
    #[serde(rename = "$schema", default)]
    #[expect(
        dead_code,
        reason = "accepted so editors can find the schema; the tool has its own"
    )]
    pub schema: Option<String>,
    /// Short name, used in manifests and reports.
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The api-version mix of calls; each call picks one version for all its
    /// requests and callbacks. Default: 2025-05-15 only.
    #[serde(default)]
    pub api_versions: Vec<VersionShare>,
    /// How long the app takes to answer a callback: a request that follows
    /// a callback (after a request that awaits its callbacks, or a callback
    /// step, with only waits between) is sent no sooner than this after it;
    /// a wait in between overlaps it. Request steps may give their own.
    /// Default: median 120ms, p99 1s, never under 5ms (5ms
    /// plus a lognormal of median 115ms and p99 995ms): the callback's POST
    /// to the app and the app's request back each cross the network (a few
    /// ms within a region, tens across regions), and the handler does its
    /// work between them (parsing, a state lookup, building the request;
    /// hundreds of ms on a cold start or a slow store). A distribution
    /// given here is used as written.
    #[serde(default)]
    pub reaction_delay: Option<Delay>,
    /// The call flows; each call follows one, picked by weight.
    pub flows: Vec<Flow>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct VersionShare {
    pub version: ApiVersionName,
    /// Share of calls using this version; the shares must add up to 1.
    pub probability: f64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct Flow {
    pub name: String,
    /// Relative weight (any positive number) of this flow among the flows.
    pub weight: f64,
    /// Overrides the scenario's api-version mix for calls of this flow.
    #[serde(default)]
    pub api_versions: Vec<VersionShare>,
    pub steps: Vec<Step>,
}

/// One step of a call flow. Steps run one after another; each starts when
/// the previous one is over.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) enum Step {
    /// The app calls a Call Automation REST operation.
    Request(Request),
    /// The call idles (a participant talks, listens, thinks).
    Wait(Delay),
    /// Exactly one arm runs, picked by probability.
    Branch(Vec<BranchArm>),
    /// The steps run `count` times.
    Repeat(Repeat),
    /// The arms start together (media actions running side by side); the
    /// step is over when the slowest arm is.
    Parallel(Vec<Vec<Step>>),
    /// A callback the service sends unasked (the remote party hangs up,
    /// someone joins, a recording policy stops, a stream fails).
    Callback(Callback),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct Request {
    /// Operation name as in `callmetrics catalog`, e.g. "Play".
    pub operation: OperationName,
    /// Status code mix of the synchronous response. Default: the
    /// operation's success status only. A 4xx/5xx triggers no callback.
    #[serde(default)]
    pub status: Vec<StatusShare>,
    /// Response latency. Default: lognormal, median 60ms, p99 400ms.
    #[serde(default)]
    pub latency: Option<Delay>,
    /// When this request answers a callback: how long after it the app
    /// sends it. Default: the scenario's `reactionDelay`.
    #[serde(default)]
    pub reaction_delay: Option<Delay>,
    /// Overrides the call's api version for this request and its callbacks.
    #[serde(default)]
    pub api_versions: Vec<VersionShare>,
    /// What happens after a success: one outcome is picked by probability
    /// and its callbacks are sent in order. Default: no callbacks.
    #[serde(default)]
    pub outcomes: Vec<Outcome>,
    /// After a 4xx/5xx: go on with the next step, or end the call's flow.
    #[serde(default)]
    pub on_failure: OnFailure,
    /// When the next step starts: after the response, or after the last
    /// callback of the picked outcome (the default, as event-driven apps do).
    #[serde(default, rename = "await")]
    pub wait_for: Await,
    /// `operationContext` the app sets; echoed in the callbacks.
    #[serde(default)]
    pub operation_context: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct StatusShare {
    pub code: u16,
    /// Sub-code in the error body of a failed request.
    #[serde(default)]
    pub sub_code: Option<u32>,
    pub probability: f64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) enum OnFailure {
    #[default]
    Continue,
    EndCall,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) enum Await {
    Response,
    #[default]
    Callbacks,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct Outcome {
    pub probability: f64,
    /// Sent in order; each delay counts from the previous callback (the
    /// first from the response).
    pub callbacks: Vec<Callback>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct Callback {
    /// Event type, short ("PlayCompleted") or full
    /// ("Microsoft.Communication.PlayCompleted").
    pub event: EventTypeName,
    /// Delay before this callback. Default: lognormal, median 500ms, p99 3s.
    #[serde(default)]
    pub delay: Option<Delay>,
    /// (code, subCode) mix of `resultInformation`. Default: the event
    /// type's mix from `callmetrics catalog`.
    #[serde(default)]
    pub result: Vec<ResultShare>,
    /// Send this callback several times (e.g. one
    /// ContinuousDtmfRecognitionToneReceived per tone); the delay applies
    /// before each. Default: 1.
    #[serde(default)]
    pub repeat: Option<Count>,
    /// For RecognizeCompleted: what kind of input was recognized.
    #[serde(default)]
    pub recognition_type: Option<RecognitionType>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct ResultShare {
    pub code: u16,
    pub sub_code: u32,
    pub probability: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RecognitionType {
    Dtmf,
    Speech,
    Choices,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct BranchArm {
    /// Chance of this arm; the arms' probabilities must add up to 1.
    pub probability: f64,
    pub steps: Vec<Step>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct Repeat {
    pub count: Count,
    pub steps: Vec<Step>,
}

/// A whole number, or a range drawn uniformly (both ends included).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(
    untagged,
    expecting = "a count: a whole number like 3, or a range like {\"min\": 1, \"max\": 5}"
)]
pub enum Count {
    Fixed(u32),
    Range(CountRange),
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CountRange {
    pub min: u32,
    pub max: u32,
}

/// A random duration. Durations are strings such as "250ms", "2s", "1m 30s".
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) enum Delay {
    Fixed(DurationText),
    Uniform {
        min: DurationText,
        max: DurationText,
    },
    Exponential {
        mean: DurationText,
    },
    /// Lognormal given by its median and 99th percentile (p99 >= median).
    Lognormal {
        median: DurationText,
        p99: DurationText,
    },
}
