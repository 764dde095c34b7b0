//! The deterministic engine: from a scenario and a workload (seed, number of
//! calls or duration, arrival process) to one time-ordered stream of API
//! requests and callbacks, and the expected aggregates of that same stream.

mod arrival;
mod calendar;
mod call;
mod detail;
mod event;
mod expected;
pub(crate) mod ids;
mod live_call;
mod profile;
mod profile_file;
mod rate_curve;
mod sample;
mod shard;
mod stream;
mod timeline;

pub(crate) use arrival::{Arrival, Arrivals, RampStage, Rate};
pub use event::Event;
pub use event::EventKind;
pub(crate) use event::{Connection, Detail};
pub use ids::IdKey;
pub(crate) use live_call::{AskedFor, LiveCall};
pub(crate) use profile::Profile;
pub(crate) use profile_file::parse as parse_profile;
pub(crate) use shard::Shard;
pub use stream::EventStream;
pub(crate) use stream::TimeBeyond;

use crate::model::{AggregateTable, Grain, LAST_EVENT_MS};
use crate::scenario::Scenario;
use rate_curve::RateCurve;
use std::time::Duration;

/// Calls generated when neither a count nor a duration is given.
pub(crate) const DEFAULT_CALLS: u64 = 1000;

/// How many calls arrive, when, and from which seed.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Workload {
    pub seed: u64,
    pub calls: Option<u64>,
    #[serde(serialize_with = "serialize_opt_duration")]
    pub duration: Option<Duration>,
    pub rate: Rate,
    pub arrival: Arrival,
    pub ramp: Vec<RampStage>,
    /// The rate over the day instead of a ramp (the CLI refuses both):
    /// its factors times `rate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// Unix milliseconds of the first possible arrival.
    #[serde(rename = "start", serialize_with = "serialize_start")]
    pub start_ms: i64,
    /// The calls this generator owns (all of them unless sharded).
    #[serde(skip_serializing_if = "Shard::is_whole")]
    pub shard: Shard,
}

fn serialize_opt_duration<S: serde::Serializer>(
    d: &Option<Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
        None => s.serialize_none(),
    }
}

fn serialize_start<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    let time = std::time::UNIX_EPOCH + Duration::from_millis((*ms).max(0) as u64);
    s.collect_str(&humantime::format_rfc3339_millis(time))
}

/// 2026-01-01T00:00:00Z, where `generate` starts by default.
pub(crate) const DEFAULT_START_MS: i64 = 1_767_225_600_000;

impl Workload {
    /// `calls` Poisson arrivals at `rate` calls per second from
    /// `DEFAULT_START_MS`, no ramp: the usual fixed-size workload.
    pub fn calls(seed: u64, calls: u64, rate: f64) -> Workload {
        Workload {
            seed,
            calls: Some(calls),
            duration: None,
            rate: Rate(rate),
            arrival: Arrival::Poisson,
            ramp: Vec::new(),
            profile: None,
            start_ms: DEFAULT_START_MS,
            shard: Shard::WHOLE,
        }
    }

    pub fn arrivals(&self) -> Arrivals {
        // Without a length, a profile's period or the ramp stages give it
        // (as k6's do); else the default count.
        let (calls, duration) = match (self.calls, self.duration, &self.profile) {
            (None, None, Some(profile)) => (None, Some(profile.period())),
            (None, None, None) if !self.ramp.is_empty() => {
                (None, Some(self.ramp.iter().map(|s| s.duration).sum()))
            }
            (None, None, None) => (Some(DEFAULT_CALLS), None),
            (calls, duration, _) => (calls, duration),
        };
        let curve = match &self.profile {
            Some(profile) => profile.curve(self.rate, self.start_ms),
            None => RateCurve::ramp(self.rate, &self.ramp),
        };
        Arrivals::new(self.seed, self.arrival, curve, calls, duration)
    }

    /// Checks that the workload can produce calls at all.
    pub fn check(&self) -> Result<(), WorkloadError> {
        let peak = match &self.profile {
            Some(profile) => self.rate.0 * profile.peak(),
            None => self
                .ramp
                .iter()
                .map(|s| s.target.0)
                .fold(self.rate.0, f64::max),
        };
        if self.calls == Some(0) {
            return Err(WorkloadError::NoCalls);
        }
        if let Some(calls) = self.calls
            && self.shard.owned_of(calls) == 0
        {
            return Err(WorkloadError::ShardOwnsNone {
                shard: self.shard,
                calls,
            });
        }
        if self.start_ms > LAST_EVENT_MS {
            return Err(WorkloadError::PastTheLastDay(TimeBeyond {
                at: self.start_ms,
            }));
        }
        if peak <= 0.0 {
            return Err(WorkloadError::NoRate);
        }
        Ok(())
    }
}

/// Why a workload would produce no calls.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("--calls 0 would send nothing; give at least 1 call")]
    NoCalls,
    #[error("--shard {shard} owns no call of --calls {calls}: give more calls than shards")]
    ShardOwnsNone { shard: Shard, calls: u64 },
    #[error(transparent)]
    PastTheLastDay(TimeBeyond),
    #[error("the arrival rate is 0, so no call would ever start; give --rate (e.g. --rate 50/s)")]
    NoRate,
}

/// The expected aggregates alone, without ordering or writing events: calls
/// are independent, so they are simulated on `threads` threads and summed.
pub fn expected_only(
    scenario: &Scenario,
    workload: &Workload,
    grain: Grain,
    threads: usize,
) -> AggregateTable {
    // (call index, start) of the calls this shard owns.
    let starts: Vec<(u64, i64)> = workload
        .arrivals()
        .enumerate()
        .map(|(i, t)| (i as u64, workload.start_ms + t as i64))
        .filter(|&(i, _)| workload.shard.owns(i))
        .collect();
    let threads = threads.max(1);
    let chunk = starts.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = starts
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut expected = AggregateTable::new(grain);
                    let mut events = Vec::new();
                    for &(index, start) in part {
                        call::simulate(scenario, workload.seed, index, start, &mut events);
                        events.iter().for_each(|e| expected.record(e));
                    }
                    expected
                })
            })
            .collect();
        let mut total = AggregateTable::new(grain);
        for h in handles {
            match h.join() {
                Ok(part) => total.merge(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        total
    })
}
