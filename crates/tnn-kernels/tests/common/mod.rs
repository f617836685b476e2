//! Shared helpers for the kernel tests: a seeded generator and float64 reference math.
#![allow(dead_code)]

/// SplitMix64: deterministic, dependency-free.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }
    pub fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
}

/// erf in float64: `2/√π · e^{-x²} · Σ 2^n x^{2n+1} / (1·3·…·(2n+1))`, a series of positive terms (no
/// cancellation) that converges for every x; beyond |x| = 6, erf is ±1 to double precision.
pub fn erf64(x: f64) -> f64 {
    if x.abs() > 6.0 {
        return x.signum();
    }
    let mut term = x;
    let mut sum = x;
    let mut n = 0.0;
    loop {
        n += 1.0;
        term *= 2.0 * x * x / (2.0 * n + 1.0);
        sum += term;
        if term.abs() <= 1e-18 * sum.abs() || n > 500.0 {
            break;
        }
    }
    2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp() * sum
}

/// erfc in float64 for x >= 2 by the continued fraction `e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …))))`,
/// evaluated backwards from 200 terms; accurate to double precision there, where `1 - erf` is not.
pub fn erfc64_large(x: f64) -> f64 {
    assert!(x >= 2.0);
    let mut k = x;
    for n in (1..=200).rev() {
        k = x + (n as f64 / 2.0) / k;
    }
    (-x * x).exp() / (std::f64::consts::PI.sqrt() * k)
}

/// `1 + erf(z)` in float64, accurate in relative terms for very negative z.
pub fn one_plus_erf64(z: f64) -> f64 {
    if z <= -2.0 {
        erfc64_large(-z)
    } else {
        1.0 + erf64(z)
    }
}

/// Largest absolute value.
pub fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}
