//! Deterministic random streams and the samplers for scenario distributions.
//! Each call gets its own stream derived from (seed, call index) so calls can
//! be generated in any order, on any thread, or split into shards, and still
//! come out the same. Transcendentals come from `libm` (pure Rust) rather
//! than the platform's C library, so results are identical on every machine.

use crate::scenario::plan::{Choice, Count, Delay};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// Longest delay a sampler returns (the validator refuses longer ones).
const MAX_DELAY_MS: f64 = crate::scenario::MAX_DELAY.as_millis() as f64;

/// SplitMix64 finaliser: a strong 64-bit mixer for deriving seeds.
pub(super) fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Purposes of derived streams, so no two uses share random numbers.
#[derive(Clone, Copy)]
pub(super) enum Stream {
    Arrivals = 1,
    Call = 2,
    /// What the world does during a live call (`emulate`).
    World = 3,
}

pub(super) struct Sampler {
    rng: Pcg64Mcg,
}

impl Sampler {
    pub(super) fn new(seed: u64, stream: Stream, index: u64) -> Sampler {
        let key = mix64(mix64(seed ^ (stream as u64).rotate_left(56)) ^ index);
        Sampler {
            rng: Pcg64Mcg::seed_from_u64(key),
        }
    }

    /// Uniform in [0, 1).
    pub(super) fn unit(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    pub(super) fn bits(&mut self) -> u64 {
        self.rng.random::<u64>()
    }

    pub(super) fn pick<'c, T>(&mut self, choice: &'c Choice<T>) -> &'c T {
        if choice.is_certain() {
            return choice.pick(0.0);
        }
        let u = self.unit();
        choice.pick(u)
    }

    pub(super) fn count(&mut self, count: Count) -> u32 {
        if count.min >= count.max {
            return count.min;
        }
        self.rng.random_range(count.min..=count.max)
    }

    /// Exponential with mean 1.
    pub(super) fn exp1(&mut self) -> f64 {
        -libm::log(1.0 - self.unit())
    }

    /// A delay in milliseconds, in [0, one day].
    pub(super) fn delay(&mut self, delay: &Delay) -> f64 {
        let ms = match delay {
            Delay::Fixed(v) => *v,
            Delay::Uniform { min, max } => min + self.unit() * (max - min),
            Delay::Exponential { table, .. } | Delay::LogNormal { table, .. } => {
                table.sample(self.unit(), |u| delay.exact_quantile(u))
            }
        };
        ms.clamp(0.0, MAX_DELAY_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_depend_only_on_seed_and_index() {
        let a: Vec<u64> = (0..4)
            .map(|_| Sampler::new(7, Stream::Call, 3).bits())
            .collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Sampler::new(7, Stream::Call, 3).bits(),
            Sampler::new(7, Stream::Call, 4).bits()
        );
        assert_ne!(
            Sampler::new(7, Stream::Call, 3).bits(),
            Sampler::new(8, Stream::Call, 3).bits()
        );
        assert_ne!(
            Sampler::new(7, Stream::Call, 3).bits(),
            Sampler::new(7, Stream::Arrivals, 3).bits()
        );
    }

    #[test]
    fn lognormal_hits_its_median_and_p99() {
        let d = Delay::lognormal(100.0, 1000.0);
        let mut s = Sampler::new(1, Stream::Call, 0);
        let mut v: Vec<f64> = (0..200_000).map(|_| s.delay(&d)).collect();
        v.sort_by(f64::total_cmp);
        let median = v[v.len() / 2];
        let p99 = v[v.len() * 99 / 100];
        assert!((median - 100.0).abs() < 3.0, "median {median}");
        assert!((p99 - 1000.0).abs() < 50.0, "p99 {p99}");
    }

    #[test]
    fn exponential_and_uniform_have_the_right_means() {
        let mut s = Sampler::new(2, Stream::Call, 0);
        let n = 200_000;
        // Built once: a table per sample made this test take 8 s.
        let exponential = Delay::exponential(50.0);
        let exp: f64 = (0..n).map(|_| s.delay(&exponential)).sum::<f64>() / n as f64;
        assert!((exp - 50.0).abs() < 1.0, "{exp}");
        let uni: Vec<f64> = (0..n)
            .map(|_| {
                s.delay(&Delay::Uniform {
                    min: 10.0,
                    max: 30.0,
                })
            })
            .collect();
        assert!(uni.iter().all(|v| (10.0..30.0).contains(v)));
        let mean = uni.iter().sum::<f64>() / n as f64;
        assert!((mean - 20.0).abs() < 0.2, "{mean}");
    }
}
