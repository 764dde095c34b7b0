//! `--profile`: the arrival rate over a day (or a week) instead of a flat
//! rate, so a generated day has a quiet night, a morning ramp, a midday
//! peak and an evening tail without hand-computed ramp stages. Each
//! profile is points of (time of day, factor) that `--rate` multiplies,
//! linear between them and wrapping at midnight; times of day are UTC,
//! read from `--start`.

use super::Rate;
use super::rate_curve::RateCurve;
use std::fmt;
use std::time::Duration;

const HOUR_MS: u32 = 3_600_000;
const DAY_MS: u32 = 24 * HOUR_MS;

/// The factor at the start of each hour of a working day (00:00 first).
/// The shape of business calls (contact centres, notifications): a quiet
/// night, a ramp from 07:00, the peak late morning to noon, a dip at
/// lunch, a softer afternoon and an evening tail. 1 is the busiest hour.
const WEEKDAY: [f64; 24] = [
    0.04, 0.03, 0.02, 0.02, 0.03, 0.06, 0.15, 0.35, 0.65, 0.85, 0.95, 1.00, //
    1.00, 0.90, 0.92, 0.88, 0.78, 0.60, 0.42, 0.30, 0.21, 0.14, 0.09, 0.06,
];

/// A weekend day on the weekday's scale: under half of it at its busiest,
/// waking later (a peak at 13:00, not 11:00) and tailing off later.
const WEEKEND: [f64; 24] = [
    0.06, 0.04, 0.03, 0.02, 0.02, 0.03, 0.05, 0.09, 0.15, 0.24, 0.33, 0.40, //
    0.44, 0.45, 0.44, 0.41, 0.37, 0.33, 0.28, 0.22, 0.17, 0.13, 0.10, 0.08,
];

/// 1970-01-01, day 0 of Unix time, was a Thursday: day 3 of a week that
/// starts on Monday.
const UNIX_DAY_0_WEEKDAY: i64 = 3;

/// How the arrival rate varies over a day (or a week), as factors of the
/// workload's rate.
#[derive(Clone, Debug, PartialEq)]
pub enum Profile {
    /// Every day a working day (`diurnal` is this one).
    Weekday,
    /// Every day a weekend day.
    Weekend,
    /// Monday to Friday working days, Saturday and Sunday weekend days.
    Week,
    /// A file's points.
    Custom(DayCurve),
}

/// Points of a day: milliseconds since midnight, strictly increasing and
/// under a day, each with a factor of 0 or more, not all 0.
#[derive(Clone, Debug, PartialEq)]
pub struct DayCurve {
    points: Vec<(u32, f64)>,
}

impl DayCurve {
    /// The parser's points, which it has checked against the rules above.
    pub(super) fn checked(points: Vec<(u32, f64)>) -> DayCurve {
        DayCurve { points }
    }
}

impl Profile {
    /// One day, or a week for `Week`: the length of a workload with a
    /// profile and neither a count nor a duration.
    pub(crate) fn period(&self) -> Duration {
        let days = if *self == Profile::Week { 7 } else { 1 };
        Duration::from_millis(u64::from(DAY_MS) * days)
    }

    /// The largest factor: the peak rate is `--rate` times this.
    pub(crate) fn peak(&self) -> f64 {
        self.points().iter().map(|&(_, f)| f).fold(0.0, f64::max)
    }

    /// The rate over time of a workload starting at `start_ms` (Unix ms),
    /// the factors times `rate`.
    pub(super) fn curve(&self, rate: Rate, start_ms: i64) -> RateCurve {
        let points: Vec<(f64, f64)> = self
            .points()
            .iter()
            .map(|&(t, f)| (f64::from(t), f * rate.0))
            .collect();
        let period_ms = self.period().as_millis() as i64;
        // A week's curve starts on Monday; a day's at midnight.
        let since_monday = start_ms + UNIX_DAY_0_WEEKDAY * i64::from(DAY_MS);
        let phase = since_monday.rem_euclid(period_ms);
        RateCurve::periodic(&points, period_ms as f64, phase as f64)
    }

    /// Milliseconds into the period, factor.
    fn points(&self) -> Vec<(u32, f64)> {
        fn hourly(day: u32, table: &'static [f64; 24]) -> impl Iterator<Item = (u32, f64)> {
            (0u32..)
                .zip(table)
                .map(move |(h, &f)| (day * DAY_MS + h * HOUR_MS, f))
        }
        match self {
            Profile::Weekday => hourly(0, &WEEKDAY).collect(),
            Profile::Weekend => hourly(0, &WEEKEND).collect(),
            Profile::Week => (0..7)
                .flat_map(|day| hourly(day, if day < 5 { &WEEKDAY } else { &WEEKEND }))
                .collect(),
            Profile::Custom(curve) => curve.points.clone(),
        }
    }
}

/// `HH:MM`, or `HH:MM:SS` when the seconds are not 0.
pub(super) struct TimeOfDay(pub(super) u32);

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0 / 1000;
        write!(f, "{:02}:{:02}", s / 3600, s / 60 % 60)?;
        if !s.is_multiple_of(60) {
            write!(f, ":{:02}", s % 60)?;
        }
        Ok(())
    }
}

/// Built-in profiles by name; a custom one as the points it was read as,
/// in the JSON file format (a file's path would differ between machines
/// running one workload).
impl serde::Serialize for Profile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Point {
            time: String,
            rate: f64,
        }
        match self {
            Profile::Weekday => s.serialize_str("weekday"),
            Profile::Weekend => s.serialize_str("weekend"),
            Profile::Week => s.serialize_str("week"),
            Profile::Custom(curve) => s.collect_seq(curve.points.iter().map(|&(t, rate)| Point {
                time: TimeOfDay(t).to_string(),
                rate,
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Arrival, Arrivals};

    const DAY: i64 = DAY_MS as i64;
    /// 2026-01-05T00:00:00Z, a Monday.
    const MONDAY: i64 = 1_767_571_200_000;

    /// Calls expected in each hour of hourly `factors` (cyclic) at
    /// `rate`: trapezoids, the rate linear from each hour's factor to the
    /// next's.
    fn trapezoids(factors: &[f64], rate: f64) -> Vec<f64> {
        let n = factors.len();
        (0..n)
            .map(|h| rate * 3600.0 * (factors[h] + factors[(h + 1) % n]) / 2.0)
            .collect()
    }

    fn hourly_counts(
        profile: &Profile,
        rate: f64,
        seed: u64,
        start_ms: i64,
        days: u64,
    ) -> Vec<u64> {
        let mut counts = vec![0u64; 24 * days as usize];
        let curve = profile.curve(Rate(rate), start_ms);
        let day = Duration::from_secs(86_400 * days);
        for t in Arrivals::new(seed, Arrival::Poisson, curve, None, Some(day)) {
            counts[(t / f64::from(HOUR_MS)) as usize] += 1;
        }
        counts
    }

    /// Each hour within 4.5 standard deviations of a Poisson count with
    /// the table's mean (a wrong table, phase or scale is hundreds off).
    fn assert_follows(counts: &[u64], expected: &[f64]) {
        for (hour, (&n, &mean)) in counts.iter().zip(expected).enumerate() {
            let sigma = mean.sqrt();
            assert!(
                (n as f64 - mean).abs() <= 4.5 * sigma,
                "hour {hour}: {n} calls, expected {mean:.0} +- {:.0}",
                4.5 * sigma
            );
        }
    }

    #[test]
    fn hourly_counts_of_a_weekday_follow_the_table() {
        // 10/s at the peak: 36,000 calls in the busiest hour, 720 at 03:00.
        let counts = hourly_counts(&Profile::Weekday, 10.0, 7, MONDAY, 1);
        assert_follows(&counts, &trapezoids(&WEEKDAY, 10.0));
    }

    #[test]
    fn a_day_started_at_noon_follows_the_clock_not_the_start() {
        // The first hour of a workload started at 12:00 is the 12:00 hour.
        let counts = hourly_counts(&Profile::Weekend, 10.0, 3, MONDAY + DAY / 2, 1);
        let mut expected = trapezoids(&WEEKEND, 10.0);
        expected.rotate_left(12);
        assert_follows(&counts, &expected);
    }

    #[test]
    fn a_week_has_five_weekdays_then_a_weekend_counted_from_the_start() {
        // Started on Saturday: two weekend days, then five weekdays.
        let saturday = MONDAY + 5 * DAY;
        let counts = hourly_counts(&Profile::Week, 2.0, 5, saturday, 7);
        let week: Vec<f64> = [
            WEEKEND, WEEKEND, WEEKDAY, WEEKDAY, WEEKDAY, WEEKDAY, WEEKDAY,
        ]
        .concat();
        assert_follows(&counts, &trapezoids(&week, 2.0));
    }

    #[test]
    fn the_same_seed_gives_the_same_arrivals() {
        let arrivals = |seed| {
            let curve = Profile::Weekday.curve(Rate(1.0), MONDAY + 1234);
            let day = Some(Duration::from_secs(86_400));
            Arrivals::new(seed, Arrival::Poisson, curve, None, day).collect::<Vec<f64>>()
        };
        let first = arrivals(4);
        assert!(first.len() > 10_000);
        assert_eq!(first, arrivals(4));
        assert_ne!(first, arrivals(5));
    }

    #[test]
    fn weekend_days_are_quieter_and_peak_later() {
        let busiest = |table: &[f64; 24]| {
            (0..24)
                .max_by(|&a, &b| table[a].total_cmp(&table[b]))
                .unwrap_or(0)
        };
        assert!(busiest(&WEEKEND) > busiest(&WEEKDAY));
        assert_eq!(Profile::Weekday.peak(), 1.0);
        assert!(Profile::Weekend.peak() < 0.5);
        let total = |table: &[f64; 24]| table.iter().sum::<f64>();
        assert!(total(&WEEKEND) < total(&WEEKDAY) / 2.0);
    }

    #[test]
    fn a_custom_profile_serializes_as_its_points() {
        let curve = DayCurve::checked(vec![(27_000_000, 0.4), (45_296_000, 1.0)]);
        let text = serde_json::to_string(&Profile::Custom(curve)).unwrap();
        assert_eq!(
            text,
            r#"[{"time":"07:30","rate":0.4},{"time":"12:34:56","rate":1.0}]"#
        );
        assert_eq!(serde_json::to_string(&Profile::Week).unwrap(), r#""week""#);
    }
}
