//! `--shard I/N`: one of N generators of the same workload. Shard I owns the
//! calls whose index is I modulo N, so the N shards together make exactly
//! the calls (and events, and ids) of the unsharded workload, each once,
//! and each shard's arrival rate is 1/N of the whole.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The whole workload, unsharded.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    pub fn owns(self, call: u64) -> bool {
        call % self.count as u64 == self.index as u64
    }

    pub fn is_whole(&self) -> bool {
        self.count == 1
    }

    /// How many of the first `calls` calls this shard owns.
    pub fn owned_of(self, calls: u64) -> u64 {
        let (i, n) = (self.index as u64, self.count as u64);
        if calls <= i {
            0
        } else {
            (calls - i).div_ceil(n)
        }
    }
}

impl Default for Shard {
    fn default() -> Shard {
        Shard::WHOLE
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let usage = || format!("shard {s:?}: write I/N with 0 <= I < N, e.g. 0/4 ... 3/4");
        let (i, n) = s.split_once('/').ok_or_else(usage)?;
        let index: u32 = i.trim().parse().map_err(|_| usage())?;
        let count: u32 = n.trim().parse().map_err(|_| usage())?;
        if count == 0 || index >= count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }
}

impl serde::Serialize for Shard {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_the_calls() {
        let s: Shard = "2/3".parse().unwrap();
        assert_eq!(s.to_string(), "2/3");
        assert!(s.owns(2) && s.owns(5) && !s.owns(3));
        for bad in ["3/3", "1/0", "x/2", "2", "-1/3"] {
            assert!(
                bad.parse::<Shard>().unwrap_err().contains("write I/N"),
                "{bad}"
            );
        }
        let owners: Vec<u32> = (0..9)
            .map(|c| {
                (0..3)
                    .filter(|&i| Shard { index: i, count: 3 }.owns(c))
                    .count() as u32
            })
            .collect();
        assert!(owners.iter().all(|&n| n == 1));
        assert_eq!(s.owned_of(9), 3);
        assert_eq!(s.owned_of(8), 2);
        assert_eq!(s.owned_of(2), 0);
        assert_eq!(Shard::WHOLE.owned_of(7), 7);
    }
}
