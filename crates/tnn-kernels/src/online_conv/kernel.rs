//! The shared, read-only part of online convolution: coefficients, block spectra and FFT plans.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::columns::{from_strips, strip_width, strips, to_strips, STRIP};

/// Blocks of at least this many tokens go through the FFT; smaller ones are multiplied directly. A direct block
/// of size `U` costs `U/2` multiply-adds per token and channel, vectorised over channels, against two FFTs of
/// size `2U` per channel plus the transposition in and out. The decode micro-benchmark (c = 1536) found 32, 64
/// and 128 within noise of each other natively and 64 slightly ahead in wasm.
pub(crate) const FFT_MIN_BLOCK: usize = 64;

/// A forward and an inverse real FFT of one length.
pub(crate) struct FftPair {
    pub(crate) forward: Arc<dyn RealToComplex<f32>>,
    pub(crate) inverse: Arc<dyn ComplexToReal<f32>>,
}

/// Coefficients `T_0..T_{cap-1}` (`[cap][c]`) of a causal depthwise kernel, plus what the online scheme needs
/// precomputed: for each FFT block size `U` (from [`FFT_MIN_BLOCK`] to `cap/2`), the spectrum of the length-`2U`
/// segment `(0, T_1, .., T_{2U-1})` per channel. Built once per length bucket and shared by every sequence.
pub struct OnlineKernel {
    cap: usize,
    c: usize,
    /// The table stored strip-major, `[strips][cap][STRIP]`, like the states' tables (see `columns`).
    coeffs: Vec<f32>,
    /// `levels[i]` holds block size `FFT_MIN_BLOCK << i`: `[c][U+1]` spectra, pre-scaled by `1/(2U)` so the
    /// unnormalised inverse FFT yields the convolution itself.
    levels: Vec<Vec<Complex<f32>>>,
    /// `plans[k]` has length `2^k`, for every power of two up to `2·cap` (the prefill's longest transform).
    plans: Vec<FftPair>,
    fft_scratch_len: usize,
}

impl OnlineKernel {
    /// Builds the kernel from `coeffs[cap][c]` (row `k` is `T_k`). `cap` must be a power of two.
    pub fn new(coeffs: &[f32], cap: usize, c: usize) -> Self {
        assert!(cap.is_power_of_two(), "cap must be a power of two, got {cap}");
        assert!(c > 0, "channel count must be positive");
        assert_eq!(coeffs.len(), cap * c, "coefficient table must be [cap][c]");

        let mut planner = RealFftPlanner::<f32>::new();
        let max_log = (2 * cap).trailing_zeros() as usize;
        let plans: Vec<FftPair> = (0..=max_log)
            .map(|k| FftPair { forward: planner.plan_fft_forward(1 << k), inverse: planner.plan_fft_inverse(1 << k) })
            .collect();
        let fft_scratch_len = plans
            .iter()
            .map(|p| p.forward.get_scratch_len().max(p.inverse.get_scratch_len()))
            .max()
            .unwrap_or(0);

        let mut table = vec![0.0f32; strips(c) * cap * STRIP];
        to_strips(coeffs, cap, c, &mut table, cap);
        let mut kernel = OnlineKernel { cap, c, coeffs: table, levels: Vec::new(), plans, fft_scratch_len };
        let mut u = FFT_MIN_BLOCK;
        while u <= cap / 2 {
            let spectra = kernel.block_spectra(u);
            kernel.levels.push(spectra);
            u *= 2;
        }
        kernel
    }

    /// Spectra of `(0, T_1, .., T_{2u-1})` per channel, scaled by `1/(2u)`. `T_0` is left out because a block
    /// only ever feeds outputs strictly after its inputs; leaving it in would add its rounding for nothing.
    fn block_spectra(&self, u: usize) -> Vec<Complex<f32>> {
        let (c, len, bins) = (self.c, 2 * u, u + 1);
        let plan = &self.plan(len).forward;
        let mut spectra = vec![Complex::new(0.0f32, 0.0); c * bins];
        let mut col = vec![0.0f32; len];
        let mut scratch = vec![Complex::new(0.0f32, 0.0); self.fft_scratch_len];
        let scale = 1.0 / len as f32;
        for s in 0..strips(c) {
            let slab = self.coeff_slab(s);
            for g in 0..strip_width(c, s) {
                for (k, x) in col.iter_mut().enumerate() {
                    *x = slab[k * STRIP + g];
                }
                col[0] = 0.0;
                let out = &mut spectra[(s * STRIP + g) * bins..][..bins];
                plan.process_with_scratch(&mut col, out, &mut scratch).expect("buffer sizes match the plan");
                for z in out.iter_mut() {
                    *z *= scale;
                }
            }
        }
        spectra
    }

    /// Length bucket: the number of positions a state built on this kernel can hold.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.c
    }

    /// Copies the coefficient table out as `[cap][c]`.
    pub fn copy_coeffs(&self, out: &mut [f32]) {
        from_strips(&self.coeffs, self.cap, self.c, self.cap, &mut out[..self.cap * self.c]);
    }

    /// Bytes held by the coefficients and the block spectra (the FFT plans' twiddles are small and not counted).
    pub fn memory_bytes(&self) -> usize {
        self.coeffs.len() * 4 + self.levels.iter().map(|l| l.len() * 8).sum::<usize>()
    }

    /// Strip `s` of the coefficient table: `[cap][STRIP]`, row `k` holding `T_k`; padding lanes are zero.
    #[inline]
    pub(crate) fn coeff_slab(&self, s: usize) -> &[f32] {
        &self.coeffs[s * self.cap * STRIP..][..self.cap * STRIP]
    }

    /// Spectra `[c][u+1]` for an FFT block of size `u`.
    #[inline]
    pub(crate) fn block_level(&self, u: usize) -> &[Complex<f32>] {
        debug_assert!(u >= FFT_MIN_BLOCK && u.is_power_of_two());
        &self.levels[(u / FFT_MIN_BLOCK).trailing_zeros() as usize]
    }

    /// Plans for a power-of-two length up to `2·cap`.
    #[inline]
    pub(crate) fn plan(&self, len: usize) -> &FftPair {
        debug_assert!(len.is_power_of_two());
        &self.plans[len.trailing_zeros() as usize]
    }

    /// Complex scratch any plan of this kernel needs.
    pub(crate) fn fft_scratch_len(&self) -> usize {
        self.fft_scratch_len
    }
}
