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
        Self::with_capacity(kernel, kernel.cap())
    }

    /// A fresh state for up to `cap` positions (`1 ≤ cap ≤ kernel.cap()`).
    pub fn with_capacity(kernel: &OnlineKernel, cap: usize) -> Self {
        assert!((1..=kernel.cap()).contains(&cap), "capacity must be in [1, {}], got {cap}", kernel.cap());
        let c = kernel.channels();
        let history = vec![0.0; strips(c) * cap * STRIP];
        NaiveConvState { c, cap, pos: 0, history, scratch: FftScratch::for_kernel(kernel) }
    }

    /// Bytes that [`with_capacity`](Self::with_capacity) allocates for `cap` positions of `c` channels on a kernel of
    /// capacity `kernel_cap`, under the installed pool: what to reserve before making one.
    pub fn bytes_for(cap: usize, kernel_cap: usize, c: usize) -> usize {
        strips(c) * cap * STRIP * 4 + FftScratch::bytes_for(kernel_cap)
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

    /// The lags `0..need` that the next call reads (a prefill of `n` rows on a fresh state, else a step): every
    /// lag up to the last position; 0 for a call that will be refused (past the capacity).
    pub fn lags_needed(&self, n: usize) -> usize {
        if self.pos == 0 {
            if n <= self.cap { n } else { 0 }
        } else if self.pos < self.cap {
            self.pos + 1
        } else {
            0
        }
    }

    /// [`prefill_with`](Self::prefill_with) with no lags beyond the kernel's table.
    pub fn prefill(&mut self, kernel: &OnlineKernel, v: &[f32], n: usize, y: &mut [f32]) -> Result<(), DecodeError> {
        self.prefill_with(kernel, v, n, &[], y)
    }

    /// Consumes a prompt `v[n][c]` into a fresh state and writes its outputs `y[n][c]`; `far` holds the lags from
    /// `kernel.rows()` to `n`.
    pub fn prefill_with(&mut self, kernel: &OnlineKernel, v: &[f32], n: usize, far: &[f32], y: &mut [f32]) -> Result<(), DecodeError> {
        check_prefill(kernel, self.cap, self.c, self.pos, v, y, n)?;
        kernel.check_far(n, far);
        let c = self.c;
        causal_conv(kernel, &v[..n * c], n, far, &mut y[..n * c], &mut self.scratch);
        to_strips(&v[..n * c], n, c, &mut self.history, self.cap);
        self.pos = n;
        Ok(())
    }

    /// [`step_with`](Self::step_with) with no lags beyond the kernel's table.
    pub fn step(&mut self, kernel: &OnlineKernel, v: &[f32], y: &mut [f32]) -> Result<(), DecodeError> {
        self.step_with(kernel, v, &[], y)
    }

    /// Consumes one token `v[c]` and writes `y[c] = Σ_{k=0..t} T_k · v_{t-k}`; `far` holds the lags from
    /// `kernel.rows()` to `t + 1`.
    pub fn step_with(&mut self, kernel: &OnlineKernel, v: &[f32], far: &[f32], y: &mut [f32]) -> Result<(), DecodeError> {
        check_step(kernel, self.cap, self.c, self.pos, v, y)?;
        let c = self.c;
        let t = self.pos;
        kernel.check_far(t + 1, far);
        let near = (t + 1).min(kernel.rows());
        for (s, slab) in self.history.chunks_exact_mut(self.cap * STRIP).enumerate() {
            let (c0, w) = (s * STRIP, strip_width(c, s));
            slab[t * STRIP..][..w].copy_from_slice(&v[c0..c0 + w]);
            let coeffs = kernel.coeff_slab(s);
            let mut acc = [0.0f32; STRIP];
            for k in 0..near {
                let a: &[f32; STRIP] = coeffs[k * STRIP..][..STRIP].try_into().unwrap();
                let b: &[f32; STRIP] = slab[(t - k) * STRIP..][..STRIP].try_into().unwrap();
                for g in 0..STRIP {
                    acc[g] += a[g] * b[g];
                }
            }
            // Lags past the table, in the same order: row k of far is lag rows + k.
            for k in near..=t {
                let a = &far[(k - near) * c + c0..][..w];
                for g in 0..w {
                    acc[g] += a[g] * slab[(t - k) * STRIP + g];
                }
            }
            y[c0..c0 + w].copy_from_slice(&acc[..w]);
        }
        self.pos = t + 1;
        Ok(())
    }
}
