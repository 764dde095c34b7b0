//! When calls start: a Poisson or evenly spaced arrival process whose rate
//! follows a curve (`rate_curve.rs`: ramp stages, k6-style, or a daily
//! profile). Arrivals come from their own random stream, so the calls
//! themselves do not depend on how many there are or how they are split.

use super::rate_curve::{Inverse, RateCurve};
use super::sample::{Sampler, Stream};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Independent arrivals: exponential gaps, like real callers.
    #[default]
    Poisson,
    /// Evenly spaced arrivals.
    Uniform,
}

/// Calls per second, written `50`, `50/s`, `3000/m` or `100/h`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate(pub f64);

impl serde::Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Rate, String> {
        let (num, per) = match s.split_once('/') {
            Some((n, unit)) => (n, unit.trim()),
            None => (s, "s"),
        };
        let seconds = match per {
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            other => return Err(format!("unknown rate unit {other:?}; use /s, /m or /h")),
        };
        let value: f64 = num
            .trim()
            .parse()
            .map_err(|_| format!("invalid rate {s:?}; write it like 50 or 50/s"))?;
        if !value.is_finite() || value < 0.0 {
            return Err(format!(
                "invalid rate {s:?}; a rate is a number of calls, 0 or more"
            ));
        }
        Ok(Rate(value / seconds))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", self.0)
    }
}

/// One ramp stage: over `duration`, move linearly to `target`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct RampStage {
    #[serde(serialize_with = "serialize_duration")]
    pub duration: Duration,
    pub target: Rate,
}

fn serialize_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

impl FromStr for RampStage {
    type Err = String;
    fn from_str(s: &str) -> Result<RampStage, String> {
        let (d, r) = s
            .split_once(':')
            .ok_or_else(|| format!("invalid ramp stage {s:?}; write DURATION:RATE, e.g. 1m:200"))?;
        let duration = humantime::parse_duration(d.trim())
            .map_err(|e| format!("invalid ramp duration {d:?}: {e}"))?;
        Ok(RampStage {
            duration,
            target: r.parse()?,
        })
    }
}

/// Yields call start offsets in milliseconds from the workload start.
pub struct Arrivals {
    rng: Sampler,
    process: Arrival,
    rate: Inverse,
    /// Expected number of arrivals (the integrated rate) at the last arrival.
    position: f64,
    emitted: u64,
    max_calls: Option<u64>,
    end_ms: Option<f64>,
}

impl Arrivals {
    pub(crate) fn new(
        seed: u64,
        process: Arrival,
        curve: RateCurve,
        max_calls: Option<u64>,
        duration: Option<Duration>,
    ) -> Arrivals {
        Arrivals {
            rng: Sampler::new(seed, Stream::Arrivals, 0),
            process,
            rate: Inverse::new(curve),
            position: 0.0,
            emitted: 0,
            max_calls,
            end_ms: duration.map(|d| d.as_secs_f64() * 1000.0),
        }
    }
}

impl Iterator for Arrivals {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        if self.max_calls.is_some_and(|max| self.emitted >= max) {
            return None;
        }
        let step = match self.process {
            Arrival::Poisson => self.rng.exp1(),
            Arrival::Uniform if self.emitted == 0 => 0.0,
            Arrival::Uniform => 1.0,
        };
        self.position += step;
        let t = self.rate.time_at(self.position)?;
        if self.end_ms.is_some_and(|end| t >= end) {
            return None;
        }
        self.emitted += 1;
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(per_second: f64) -> RateCurve {
        RateCurve::ramp(Rate(per_second), &[])
    }

    #[test]
    fn uniform_arrivals_are_evenly_spaced() {
        let a: Vec<f64> = Arrivals::new(1, Arrival::Uniform, flat(4.0), Some(5), None).collect();
        assert_eq!(a, vec![0.0, 250.0, 500.0, 750.0, 1000.0]);
    }

    #[test]
    fn duration_bounds_the_arrivals() {
        let n = Arrivals::new(
            1,
            Arrival::Uniform,
            flat(10.0),
            None,
            Some(Duration::from_secs(3)),
        )
        .count();
        assert_eq!(n, 30);
    }

    #[test]
    fn poisson_rate_matches_on_average() {
        let n = Arrivals::new(
            9,
            Arrival::Poisson,
            flat(100.0),
            None,
            Some(Duration::from_secs(1000)),
        )
        .count();
        assert!((n as f64 - 100_000.0).abs() < 1500.0, "{n}");
    }

    #[test]
    fn ramp_integrates_the_linear_rate() {
        // 0 -> 20/s over 10 s is 100 calls, then 20/s for 5 s is 100 more.
        let stages = [RampStage {
            duration: Duration::from_secs(10),
            target: Rate(20.0),
        }];
        let a: Vec<f64> = Arrivals::new(
            1,
            Arrival::Uniform,
            RateCurve::ramp(Rate(0.0), &stages),
            None,
            Some(Duration::from_secs(15)),
        )
        .collect();
        assert_eq!(a.len(), 200);
        // The 51st call (position 50) is at t where t^2 = 50 s^2 (rate 2t per s).
        assert!((a[50] - 50f64.sqrt() * 1000.0).abs() < 1e-6, "{}", a[50]);
    }

    #[test]
    fn a_ramp_down_to_zero_ends_the_arrivals() {
        let stages = [RampStage {
            duration: Duration::from_secs(10),
            target: Rate(0.0),
        }];
        let n = Arrivals::new(
            1,
            Arrival::Uniform,
            RateCurve::ramp(Rate(10.0), &stages),
            None,
            None,
        )
        .count();
        assert_eq!(n, 50);
    }

    #[test]
    fn rates_parse_with_units() {
        assert_eq!("50".parse::<Rate>().unwrap(), Rate(50.0));
        assert_eq!("120/m".parse::<Rate>().unwrap(), Rate(2.0));
        assert!("fast".parse::<Rate>().is_err());
        assert!("-1".parse::<Rate>().is_err());
        assert_eq!("1m:200".parse::<RampStage>().unwrap().target, Rate(200.0));
    }
}
