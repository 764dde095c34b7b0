//! The arrival rate over time as linear pieces, and its inverse: the time
//! at which the integrated rate reaches a value. Ramps (stages, then the
//! last rate held) and daily profiles (a day or a week of points, again
//! and again) both become one, so one sampler gives both a non-homogeneous
//! Poisson process by time rescaling.

use super::arrival::{RampStage, Rate};

/// A linear piece of the rate curve, in calls per millisecond.
struct Segment {
    start_ms: f64,
    length_ms: f64,
    from: f64,
    to: f64,
}

/// Linear pieces from time 0: either the last one lasts forever (a ramp)
/// or all of them repeat every `period_ms` (a profile).
pub(crate) struct RateCurve {
    segments: Vec<Segment>,
    period_ms: Option<f64>,
}

impl RateCurve {
    /// From `rate`, linearly to each stage's rate over its duration, then
    /// the last rate for ever.
    pub(crate) fn ramp(rate: Rate, stages: &[RampStage]) -> RateCurve {
        let mut segments = Vec::new();
        let (mut t, mut from) = (0.0, per_ms(rate.0));
        for stage in stages {
            let length_ms = stage.duration.as_secs_f64() * 1000.0;
            let to = per_ms(stage.target.0);
            if length_ms > 0.0 {
                segments.push(Segment {
                    start_ms: t,
                    length_ms,
                    from,
                    to,
                });
            }
            t += length_ms;
            from = to;
        }
        segments.push(Segment {
            start_ms: t,
            length_ms: f64::INFINITY,
            from,
            to: from,
        });
        RateCurve {
            segments,
            period_ms: None,
        }
    }

    /// A curve through `points` (time in the period in ms, strictly
    /// increasing within [0, period); calls per second), linear between
    /// them and from the last back to the first across the period's end,
    /// repeated for ever. Time 0 of the curve is `phase_ms` into the
    /// period, so a workload starting at 10:00 starts at the 10:00 rate.
    pub(crate) fn periodic(points: &[(f64, f64)], period_ms: f64, phase_ms: f64) -> RateCurve {
        let phase = phase_ms.rem_euclid(period_ms);
        let at_phase = value_at(points, period_ms, phase);
        // The points as times from the phase, in order, between the
        // phase's own value at both ends of one period.
        let first_after = points.partition_point(|&(t, _)| t <= phase);
        let rotated = points[first_after..]
            .iter()
            .map(|&(t, v)| (t - phase, v))
            .chain(
                points[..first_after]
                    .iter()
                    .map(|&(t, v)| (t + period_ms - phase, v)),
            )
            // A point at the phase itself is both ends, already there.
            .filter(|&(t, _)| t < period_ms);
        let mut corners = vec![(0.0, at_phase)];
        corners.extend(rotated);
        corners.push((period_ms, at_phase));
        let segments = corners
            .windows(2)
            .map(|w| Segment {
                start_ms: w[0].0,
                length_ms: w[1].0 - w[0].0,
                from: per_ms(w[0].1),
                to: per_ms(w[1].1),
            })
            .collect();
        RateCurve {
            segments,
            period_ms: Some(period_ms),
        }
    }
}

fn per_ms(per_second: f64) -> f64 {
    per_second / 1000.0
}

/// The value of the periodic curve through `points` at `t` in [0, period).
fn value_at(points: &[(f64, f64)], period_ms: f64, t: f64) -> f64 {
    let after = points.partition_point(|&(p, _)| p <= t);
    let (t0, v0) = match after {
        0 => points
            .last()
            .map_or((0.0, 0.0), |&(p, v)| (p - period_ms, v)),
        i => points[i - 1],
    };
    let (t1, v1) = match points.get(after) {
        Some(&next) => next,
        None => points
            .first()
            .map_or((0.0, 0.0), |&(p, v)| (p + period_ms, v)),
    };
    if t1 > t0 {
        v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    } else {
        v0
    }
}

/// Walks a curve forward: the time at which the integrated rate reaches
/// each of a rising series of targets, in O(1) per target on average.
pub(crate) struct Inverse {
    curve: RateCurve,
    /// Index of the segment the last target fell in, and the integrated
    /// rate before that segment.
    segment: usize,
    segment_base: f64,
    /// Start of the current repetition of a periodic curve, and the
    /// integrated rate there.
    lap_ms: f64,
    lap_base: f64,
}

impl Inverse {
    pub(crate) fn new(curve: RateCurve) -> Inverse {
        Inverse {
            curve,
            segment: 0,
            segment_base: 0.0,
            lap_ms: 0.0,
            lap_base: 0.0,
        }
    }

    /// The time at which the integrated rate reaches `target`, or `None`
    /// when the rate drops to zero for good before that.
    pub(crate) fn time_at(&mut self, target: f64) -> Option<f64> {
        loop {
            let seg = &self.curve.segments[self.segment];
            let slope = (seg.to - seg.from) / seg.length_ms;
            let in_segment = if seg.length_ms.is_finite() {
                seg.length_ms * (seg.from + seg.to) / 2.0
            } else if seg.from > 0.0 {
                f64::INFINITY
            } else {
                return None;
            };
            let need = target - self.segment_base;
            if need < in_segment {
                // Solve from*s + slope*s^2/2 = need in a form that is
                // stable for slope of either sign and for from == 0.
                let root = (seg.from * seg.from + 2.0 * slope * need).max(0.0).sqrt();
                let s = if seg.from + root > 0.0 {
                    2.0 * need / (seg.from + root)
                } else {
                    0.0
                };
                return Some(self.lap_ms + seg.start_ms + s);
            }
            self.segment_base += in_segment;
            self.segment += 1;
            if self.segment == self.curve.segments.len() {
                // Only a periodic curve gets here (a ramp's last piece
                // lasts for ever); one that is 0 all along never arrives.
                let period = self.curve.period_ms?;
                if self.segment_base <= self.lap_base {
                    return None;
                }
                self.segment = 0;
                self.lap_ms += period;
                self.lap_base = self.segment_base;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: f64 = 86_400_000.0;

    /// The times at which the integrated rate reaches each target.
    fn times(curve: RateCurve, targets: &[f64]) -> Vec<f64> {
        let mut inverse = Inverse::new(curve);
        targets
            .iter()
            .map(|&x| inverse.time_at(x).unwrap())
            .collect()
    }

    #[test]
    fn a_constant_periodic_curve_is_a_constant_rate() {
        // One point: 2 calls/s all day, from any phase, over several days.
        let curve = RateCurve::periodic(&[(3_600_000.0, 2.0)], DAY, 5_000_000.0);
        let t = times(curve, &[1.0, 2.0, 2.0 * 86_400.0 * 3.0 + 2.0]);
        assert_eq!(t[0], 500.0);
        assert_eq!(t[1], 1000.0);
        assert!((t[2] - (3.0 * DAY + 1000.0)).abs() < 1e-6, "{}", t[2]);
    }

    #[test]
    fn a_periodic_curve_wraps_at_the_period_and_starts_at_the_phase() {
        // 0/s at 00:00 up to 2/s at 12:00 and back: a triangle of one day,
        // 86,400 calls a day. Started at 12:00 the first half day holds
        // the falling half (43,200 calls), then midnight (rate 0), then it
        // rises again.
        let points = [(0.0, 0.0), (DAY / 2.0, 2.0)];
        let curve = RateCurve::periodic(&points, DAY, DAY / 2.0);
        let t = times(curve, &[43_200.0, 86_400.0, 86_400.0 * 2.0]);
        assert!((t[0] - DAY / 2.0).abs() < 1e-3, "{}", t[0]);
        assert!((t[1] - DAY).abs() < 1e-3, "{}", t[1]);
        assert!((t[2] - 2.0 * DAY).abs() < 1e-3, "{}", t[2]);
    }

    #[test]
    fn the_value_at_the_phase_interpolates_across_midnight() {
        // Points at 06:00 (4/s) and 18:00 (0/s): at 00:00 the rate is half
        // way back up from 18:00 to the next day's 06:00, 2/s.
        let h = DAY / 24.0;
        let points = [(6.0 * h, 4.0), (18.0 * h, 0.0)];
        assert_eq!(value_at(&points, DAY, 0.0), 2.0);
        assert_eq!(value_at(&points, DAY, 12.0 * h), 2.0);
        assert_eq!(value_at(&points, DAY, 21.0 * h), 1.0);
        assert_eq!(value_at(&points, DAY, 3.0 * h), 3.0);
    }

    #[test]
    fn a_curve_that_is_zero_all_along_never_arrives() {
        let curve = RateCurve::periodic(&[(0.0, 0.0), (DAY / 2.0, 0.0)], DAY, 0.0);
        assert_eq!(Inverse::new(curve).time_at(1.0), None);
    }
}
