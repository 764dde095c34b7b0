//! The validated, ready-to-sample form of a scenario that the engine walks.
//! Names are resolved to catalog enums, defaults are filled in and every
//! distribution is reduced to the numbers its sampler needs.

use super::model::{self, RecognitionType};
use super::quantiles::{Quantiles, normal_quantile};
use crate::catalog::{ApiVersion, EventType, Operation};
use std::collections::HashMap;
use std::sync::Arc;

/// Items with cumulative probabilities; `pick(u)` maps a uniform draw in
/// [0, 1) to an item. The last item absorbs floating-point slack so a
/// draw can never fall off the end.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice<T> {
    items: Vec<T>,
    cumulative: Vec<f64>,
}

impl<T> Choice<T> {
    /// `weights` need not be normalised. Callers guarantee at least one item.
    pub fn new(pairs: impl IntoIterator<Item = (T, f64)>) -> Self {
        let (items, weights): (Vec<T>, Vec<f64>) = pairs.into_iter().unzip();
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        Choice { items, cumulative }
    }

    pub fn pick(&self, u: f64) -> &T {
        let i = self.cumulative.partition_point(|&c| c <= u);
        &self.items[i.min(self.items.len() - 1)]
    }

    /// True when there is only one item, so no draw is needed.
    pub fn is_certain(&self) -> bool {
        self.items.len() == 1
    }

    pub fn items(&self) -> &[T] {
        &self.items
    }
}

/// A duration distribution in milliseconds. The continuous ones carry an
/// inverse-CDF table so sampling needs no transcendental functions.
#[derive(Debug, Clone, PartialEq)]
pub enum Delay {
    Fixed(f64),
    Uniform {
        min: f64,
        max: f64,
    },
    Exponential {
        mean: f64,
        table: Arc<Quantiles>,
    },
    /// exp(mu + sigma * Z), Z standard normal.
    LogNormal {
        mu: f64,
        sigma: f64,
        table: Arc<Quantiles>,
    },
}

fn lognormal_quantile(mu: f64, sigma: f64, u: f64) -> f64 {
    libm::exp(mu + sigma * normal_quantile(u))
}

/// z such that P(Z <= z) = 0.99 for a standard normal Z.
const Z_99: f64 = 2.326_347_874_040_840_8;

/// Builds delays, one sampling table per distinct distribution.
#[derive(Default)]
pub(crate) struct DelayTables {
    /// By kind and parameters (as bits, so equal means identical).
    built: HashMap<(u8, u64, u64), Delay>,
}

impl DelayTables {
    pub(crate) fn delay_of(&mut self, d: &model::Delay) -> Delay {
        let ms = |t: &super::names::DurationText| t.0.as_secs_f64() * 1000.0;
        match d {
            model::Delay::Fixed(t) => Delay::Fixed(ms(t)),
            model::Delay::Uniform { min, max } => Delay::Uniform {
                min: ms(min),
                max: ms(max),
            },
            model::Delay::Exponential { mean } => self.exponential(ms(mean)),
            model::Delay::Lognormal { median, p99 } => self.lognormal(ms(median), ms(p99)),
        }
    }

    pub(crate) fn exponential(&mut self, mean_ms: f64) -> Delay {
        let key = (0, mean_ms.to_bits(), 0);
        self.built
            .entry(key)
            .or_insert_with(|| Delay::exponential(mean_ms))
            .clone()
    }

    pub(crate) fn lognormal(&mut self, median_ms: f64, p99_ms: f64) -> Delay {
        let key = (1, median_ms.to_bits(), p99_ms.to_bits());
        self.built
            .entry(key)
            .or_insert_with(|| Delay::lognormal(median_ms, p99_ms))
            .clone()
    }
}

impl Delay {
    pub fn exponential(mean_ms: f64) -> Delay {
        let exact = move |u: f64| -mean_ms * libm::log(1.0 - u);
        Delay::Exponential {
            mean: mean_ms,
            table: Arc::new(Quantiles::new(exact)),
        }
    }

    pub fn lognormal(median_ms: f64, p99_ms: f64) -> Delay {
        let mu = libm::log(median_ms);
        let sigma = libm::log(p99_ms / median_ms) / Z_99;
        Delay::LogNormal {
            mu,
            sigma,
            table: Arc::new(Quantiles::new(move |u| lognormal_quantile(mu, sigma, u))),
        }
    }

    /// The exact quantile at `u` of a continuous delay (tail samples).
    pub fn exact_quantile(&self, u: f64) -> f64 {
        match *self {
            Delay::Fixed(v) => v,
            Delay::Uniform { min, max } => min + u * (max - min),
            Delay::Exponential { mean, .. } => -mean * libm::log(1.0 - u),
            Delay::LogNormal { mu, sigma, .. } => lognormal_quantile(mu, sigma, u),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub min: u32,
    pub max: u32,
}

impl From<model::Count> for Count {
    fn from(c: model::Count) -> Count {
        match c {
            model::Count::Fixed(n) => Count { min: n, max: n },
            model::Count::Range(r) => Count {
                min: r.min,
                max: r.max,
            },
        }
    }
}

/// Packed to six bytes: every engine event carries one, and events are
/// copied several times on their way through the time-ordered merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, packed(2))]
pub struct Status {
    pub code: u16,
    pub sub_code: u32,
}

impl Status {
    pub fn is_success(self) -> bool {
        (200..300).contains(&self.code)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CallbackPlan {
    pub event: EventType,
    pub delay: Delay,
    pub results: Choice<Status>,
    pub repeat: Count,
    pub recognition_type: RecognitionType,
    /// The end of a call that never connects (an outcome of Create Call or
    /// Answer Call without CallConnected): sent as the failure event where
    /// the version has one, as CallDisconnected before.
    pub connection_failure: Option<Box<ConnectionFailure>>,
}

/// Both ways a failed connection ends, each with its results.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionFailure {
    /// CreateCallFailed or AnswerFailed.
    pub failure: EventType,
    pub failure_results: Choice<Status>,
    pub disconnected_results: Choice<Status>,
}

/// How long the app takes to send a request that answers a callback: the
/// callback's POST to the app, the app's handler, its request back.
#[derive(Debug, Clone, PartialEq)]
pub struct Reaction {
    /// Added to every draw of `delay`: no round trip is shorter.
    pub min_ms: f64,
    pub delay: Delay,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RequestPlan {
    pub operation: Operation,
    pub status: Choice<Status>,
    pub latency: Delay,
    pub reaction: Reaction,
    pub api_version: Option<Choice<ApiVersion>>,
    /// Empty when the operation triggers no callbacks.
    pub outcomes: Option<Choice<Vec<CallbackPlan>>>,
    pub end_call_on_failure: bool,
    pub await_callbacks: bool,
    /// The app's operationContext as a JSON string literal, empty when it
    /// sets none. Every callback of the request echoes it, so it is
    /// rendered (escaped) once here rather than per event.
    pub operation_context_json: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepPlan {
    Request(Box<RequestPlan>),
    Wait(Delay),
    Branch(Choice<Vec<StepPlan>>),
    Repeat { count: Count, steps: Vec<StepPlan> },
    Parallel(Vec<Vec<StepPlan>>),
    Callback(CallbackPlan),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlowPlan {
    pub name: String,
    /// The versions its calls are made with: the flow's (or the
    /// scenario's) mix, limited to versions that have all its routes.
    pub api_version: Choice<ApiVersion>,
    pub steps: Vec<StepPlan>,
}

/// A validated scenario, ready for the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    pub flows: Choice<FlowPlan>,
    /// SHA-256 of the file bytes, hex; recorded in dataset manifests.
    pub sha256: String,
    /// What validation noted without refusing the file.
    pub warnings: Vec<super::Diagnostic>,
}
