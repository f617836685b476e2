//! Depthwise Toeplitz mixing: the direct sum and the planned FFT convolution.

use crate::memory::{slice, slice_mut};
use tnn_kernels::toeplitz;
use wasm_bindgen::prelude::*;

/// The O(n²·c) direct product; `x`, `y` are `[n][c]`, `coeffs` as ARCHITECTURE.md lays out.
#[wasm_bindgen]
pub fn toeplitz_direct(x: usize, coeffs: usize, y: usize, n: usize, c: usize, causal: bool) {
    let rows = toeplitz::coeff_rows(n, causal);
    toeplitz::toeplitz_direct(slice(x, n * c), slice(coeffs, rows * c), slice_mut(y, n * c), n, c, causal);
}

/// Sequence length from which the FFT path is used for causal tables.
#[wasm_bindgen]
pub fn toeplitz_crossover() -> usize {
    toeplitz::toeplitz_crossover()
}

/// Sequence length from which the FFT path is used for bidirectional tables.
#[wasm_bindgen]
pub fn toeplitz_crossover_bidirectional() -> usize {
    toeplitz::toeplitz_crossover_for(false)
}

/// A planned Toeplitz product for one (n, c, causal); owns its FFT plans and scratch.
#[wasm_bindgen]
pub struct ToeplitzPlan {
    inner: toeplitz::ToeplitzPlan,
}

#[wasm_bindgen]
impl ToeplitzPlan {
    #[wasm_bindgen(constructor)]
    pub fn new(n: usize, c: usize, causal: bool) -> ToeplitzPlan {
        ToeplitzPlan { inner: toeplitz::ToeplitzPlan::new(n, c, causal) }
    }

    /// A plan on the FFT path whatever `n` is (benchmarks and crossover measurements).
    pub fn new_fft(n: usize, c: usize, causal: bool) -> ToeplitzPlan {
        ToeplitzPlan { inner: toeplitz::ToeplitzPlan::new_fft(n, c, causal) }
    }

    /// The FFT length `L ≥ 2n-1`, or 0 on the direct path.
    pub fn fft_len(&self) -> usize {
        self.inner.fft_len()
    }

    pub fn uses_fft(&self) -> bool {
        self.inner.uses_fft()
    }

    /// Floats of the kernel spectra [`spectra`](Self::spectra) writes.
    pub fn spectra_len(&self) -> usize {
        self.inner.spectra_len()
    }

    pub fn spectra(&mut self, coeffs: usize, out: usize) {
        let rows = toeplitz::coeff_rows(self.inner.n(), self.inner.causal());
        let c = self.inner.c();
        let len = self.inner.spectra_len();
        self.inner.spectra(slice(coeffs, rows * c), slice_mut(out, len));
    }

    pub fn apply(&mut self, x: usize, spectra: usize, y: usize) {
        let nc = self.inner.n() * self.inner.c();
        let len = self.inner.spectra_len();
        self.inner.apply(slice(x, nc), slice(spectra, len), slice_mut(y, nc));
    }

    pub fn apply_coeffs(&mut self, x: usize, coeffs: usize, y: usize) {
        let nc = self.inner.n() * self.inner.c();
        let rows = toeplitz::coeff_rows(self.inner.n(), self.inner.causal());
        self.inner.apply_coeffs(slice(x, nc), slice(coeffs, rows * self.inner.c()), slice_mut(y, nc));
    }
}
