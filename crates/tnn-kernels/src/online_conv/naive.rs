//! The reference decode: a dot product over the whole history per token.

use super::causal_fft::causal_conv;
use super::columns::{from_strips, strip_width, strips, to_strips, STRIP};
use super::kernel::OnlineKernel;
use super::scratch::FftScratch;
use super::{check_prefill, check_step, DecodeError};

/// Keeps the inputs (strip-major, like the kernel's table, so both stream through memory) and computes each
/// step's output as `Σ_k T_k · v_{t-k}`: `O(t)` per token and channel. The prompt still goes through one FFT
/// product, as it would in a real naive-cache decoder.
pub struct NaiveConvState {
    c: usize,
    cap: usize,
    pos: usize,
    history: Vec<f32>,
    scratch: FftScratch,
}

impl NaiveConvState {
    pub fn new(kernel: &OnlineKernel) -> Self {
        let (c, cap) = (kernel.channels(), kernel.cap());
        let history = vec![0.0; strips(c) * cap * STRIP];
        NaiveConvState { c, cap, pos: 0, history, scratch: FftScratch::for_kernel(kernel) }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    pub fn channels(&self) -> usize {
        self.c
    }

    /// Copies the inputs consumed so far into `out[position][c]`.
    pub fn copy_history(&self, out: &mut [f32]) {
        from_strips(&self.history, self.pos, self.c, self.cap, &mut out[..self.pos * self.c]);
    }

    pub fn reset(&mut self) {
        self.pos = 0;
    }

    pub fn memory_bytes(&self) -> usize {
        self.history.len() * 4 + self.scratch.bytes()
    }

    /// Consumes a prompt `v[n][c]` into a fresh state and writes its outputs `y[n][c]`.
    pub fn prefill(&mut self, kernel: &OnlineKernel, v: &[f32], n: usize, y: &mut [f32]) -> Result<(), DecodeError> {
        check_prefill(kernel, self.cap, self.c, self.pos, v, y, n)?;
        let c = self.c;
        causal_conv(kernel, &v[..n * c], n, &mut y[..n * c], &mut self.scratch);
        to_strips(&v[..n * c], n, c, &mut self.history, self.cap);
        self.pos = n;
        Ok(())
    }

    /// Consumes one token `v[c]` and writes `y[c] = Σ_{k=0..t} T_k · v_{t-k}`.
    pub fn step(&mut self, kernel: &OnlineKernel, v: &[f32], y: &mut [f32]) -> Result<(), DecodeError> {
        check_step(kernel, self.cap, self.c, self.pos, v, y)?;
        let c = self.c;
        let t = self.pos;
        for (s, slab) in self.history.chunks_exact_mut(self.cap * STRIP).enumerate() {
            let (c0, w) = (s * STRIP, strip_width(c, s));
            slab[t * STRIP..][..w].copy_from_slice(&v[c0..c0 + w]);
            let coeffs = kernel.coeff_slab(s);
            let mut acc = [0.0f32; STRIP];
            for k in 0..=t {
                let a: &[f32; STRIP] = coeffs[k * STRIP..][..STRIP].try_into().unwrap();
                let b: &[f32; STRIP] = slab[(t - k) * STRIP..][..STRIP].try_into().unwrap();
                for g in 0..STRIP {
                    acc[g] += a[g] * b[g];
                }
            }
            y[c0..c0 + w].copy_from_slice(&acc[..w]);
        }
        self.pos = t + 1;
        Ok(())
    }
}
