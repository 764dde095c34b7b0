//! Inverse-CDF tables for the continuous delay distributions. Sampling
//! exp(mu + sigma * z) or -mean * ln(1 - u) per event spent most of the
//! engine's time in libm (exp alone was a quarter of it); a 1024-interval
//! table, linearly interpolated, costs a multiply and two loads. The last
//! interval (u >= 1023/1024) holds the unbounded tail, so it is computed
//! exactly. Everything is plain IEEE arithmetic plus libm (pure Rust), so
//! samples are identical on every machine.

/// Intervals of the table.
const INTERVALS: usize = 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Quantiles {
    /// q(i / INTERVALS) for i in 0..INTERVALS.
    points: Box<[f64]>,
}

impl Quantiles {
    pub fn new(quantile: impl Fn(f64) -> f64) -> Quantiles {
        Quantiles {
            points: (0..INTERVALS)
                .map(|i| quantile(i as f64 / INTERVALS as f64))
                .collect(),
        }
    }

    /// The quantile at `u` in [0, 1); `exact` answers the tail interval.
    #[inline]
    pub fn sample(&self, u: f64, exact: impl Fn(f64) -> f64) -> f64 {
        let x = u * INTERVALS as f64;
        let i = x as usize;
        if i + 1 >= INTERVALS {
            return exact(u);
        }
        let (a, b) = (self.points[i], self.points[i + 1]);
        a + (x - i as f64) * (b - a)
    }
}

/// The standard normal quantile: Acklam's rational approximation refined
/// by one Halley step on erfc, accurate to about 1e-15.
pub(super) fn normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    const LOW: f64 = 0.02425;
    let x = if p < LOW {
        let q = libm::sqrt(-2.0 * libm::log(p));
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = libm::sqrt(-2.0 * libm::log(1.0 - p));
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let e = 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2) - p;
    let u = e * libm::sqrt(std::f64::consts::TAU) * libm::exp(x * x / 2.0);
    x - u / (1.0 + x * u / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantile_matches_known_values() {
        assert!(normal_quantile(0.5).abs() < 1e-15);
        assert!((normal_quantile(0.99) - 2.326_347_874_040_840_8).abs() < 1e-12);
        assert!((normal_quantile(0.001) + 3.090_232_306_167_813_5).abs() < 1e-12);
    }

    #[test]
    fn table_interpolates_and_delegates_the_tail() {
        let t = Quantiles::new(|u| 10.0 * u);
        assert!((t.sample(0.25, |_| f64::NAN) - 2.5).abs() < 1e-12);
        assert_eq!(t.sample(0.9999, |_| -1.0), -1.0);
    }
}
