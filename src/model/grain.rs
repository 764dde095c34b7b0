//! Time grains (ISO 8601 durations, as Azure Monitor spells them) and the
//! bucket an instant falls in.

use std::fmt;
use std::str::FromStr;

/// The last time an event may have, 9999-12-30T23:59:59.999Z: RFC 3339
/// writes years up to 9999, and the day bucket (the coarsest grain) of
/// every event must end by then too.
pub(crate) const LAST_EVENT_MS: i64 = 253_402_214_399_999;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grain {
    seconds: u32,
}

const GRAINS: &[(&str, u32)] = &[
    ("PT1S", 1),
    ("PT5S", 5),
    ("PT10S", 10),
    ("PT15S", 15),
    ("PT30S", 30),
    ("PT1M", 60),
    ("PT5M", 300),
    ("PT15M", 900),
    ("PT30M", 1800),
    ("PT1H", 3600),
    ("PT6H", 21600),
    ("PT12H", 43200),
    ("P1D", 86400),
];

impl Grain {
    pub const SECOND: Grain = Grain { seconds: 1 };
    pub const MINUTE: Grain = Grain { seconds: 60 };

    pub fn millis(self) -> i64 {
        self.seconds as i64 * 1000
    }

    /// Start of the bucket holding `time_ms` (buckets align to the Unix epoch).
    pub fn bucket(self, time_ms: i64) -> i64 {
        time_ms.div_euclid(self.millis()) * self.millis()
    }

    /// True when every bucket of `coarser` is a whole number of ours.
    pub fn divides(self, coarser: Grain) -> bool {
        coarser.seconds.is_multiple_of(self.seconds)
    }

    /// Every grain, finest first.
    pub fn all() -> impl Iterator<Item = Grain> {
        GRAINS.iter().map(|&(_, seconds)| Grain { seconds })
    }

    pub fn as_str(self) -> &'static str {
        GRAINS
            .iter()
            .find(|(_, s)| *s == self.seconds)
            .map_or("?", |(name, _)| name)
    }
}

impl fmt::Display for Grain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Grain {
    type Err = String;
    fn from_str(s: &str) -> Result<Grain, String> {
        GRAINS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|(_, seconds)| Grain { seconds: *seconds })
            .ok_or_else(|| {
                let names: Vec<_> = GRAINS.iter().map(|(n, _)| *n).collect();
                format!("unknown grain {s:?}; use one of {}", names.join(", "))
            })
    }
}

impl serde::Serialize for Grain {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_align_to_the_grain() {
        let g: Grain = "PT5M".parse().unwrap();
        assert_eq!(g.bucket(299_999), 0);
        assert_eq!(g.bucket(300_000), 300_000);
        assert_eq!(g.bucket(-1), -300_000);
        assert!(Grain::MINUTE.divides(g));
        assert!(!g.divides(Grain::MINUTE));
        assert!("PT2M".parse::<Grain>().is_err());
    }
}
