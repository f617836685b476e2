//! Decode-state classes: online (relaxed FFT) convolution, the naive reference and ETSC.
//!
//! Kernels are built once per layer and length bucket and shared by every sequence; states are per sequence and
//! layer. Every method takes the kernel it was built for. Buffers are byte offsets into wasm memory; `y` must not
//! alias `v`. `prefill` and `step` return `false` instead of throwing when the state is full or (for `prefill`)
//! not fresh, so the TS layer can raise its own typed error; everything else is checked there first.

use tnn_kernels::{etsc, online_conv};
use wasm_bindgen::prelude::*;

/// `len` floats at byte offset `ptr`. A zero length never touches `ptr` (JS may pass 0 for empty buffers).
fn floats<'a>(ptr: usize, len: usize) -> &'a [f32] {
    if len == 0 {
        return &[];
    }
    // SAFETY: the TS layer hands us a live, 4-byte-aligned allocation of at least `len` floats.
    unsafe { std::slice::from_raw_parts(ptr as *const f32, len) }
}

fn floats_mut<'a>(ptr: usize, len: usize) -> &'a mut [f32] {
    if len == 0 {
        return &mut [];
    }
    // SAFETY: as for `floats`, and the TS layer guarantees this buffer overlaps no other argument.
    unsafe { std::slice::from_raw_parts_mut(ptr as *mut f32, len) }
}

/// Coefficients `T_0..T_{cap-1}` (`[cap][c]`, decayed) of one layer and the spectra of their dyadic blocks.
#[wasm_bindgen]
pub struct OnlineKernel {
    inner: online_conv::OnlineKernel,
}

#[wasm_bindgen]
impl OnlineKernel {
    /// Copies `coeffs[cap][c]`; `cap` must be a power of two.
    #[wasm_bindgen(constructor)]
    pub fn new(coeffs: usize, cap: usize, c: usize) -> OnlineKernel {
        OnlineKernel { inner: online_conv::OnlineKernel::new(floats(coeffs, cap * c), cap, c) }
    }

    pub fn cap(&self) -> usize {
        self.inner.cap()
    }

    pub fn channels(&self) -> usize {
        self.inner.channels()
    }

    pub fn memory_bytes(&self) -> usize {
        self.inner.memory_bytes()
    }
}

/// One sequence's online-convolution state for one layer.
#[wasm_bindgen]
pub struct OnlineConvState {
    inner: online_conv::OnlineConvState,
}

#[wasm_bindgen]
impl OnlineConvState {
    #[wasm_bindgen(constructor)]
    pub fn new(kernel: &OnlineKernel) -> OnlineConvState {
        OnlineConvState { inner: online_conv::OnlineConvState::new(&kernel.inner) }
    }

    /// Consumes `v[n][c]` into a fresh state and writes `y[n][c]`; false if not fresh or `n > cap`.
    pub fn prefill(&mut self, kernel: &OnlineKernel, v: usize, n: usize, y: usize) -> bool {
        let c = self.inner.channels();
        self.inner.prefill(&kernel.inner, floats(v, n * c), n, floats_mut(y, n * c)).is_ok()
    }

    /// Consumes `v[c]` and writes `y[c]`; false if the state already holds `cap` positions.
    pub fn step(&mut self, kernel: &OnlineKernel, v: usize, y: usize) -> bool {
        let c = self.inner.channels();
        self.inner.step(&kernel.inner, floats(v, c), floats_mut(y, c)).is_ok()
    }

    pub fn position(&self) -> usize {
        self.inner.position()
    }

    pub fn cap(&self) -> usize {
        self.inner.cap()
    }

    pub fn channels(&self) -> usize {
        self.inner.channels()
    }

    /// Copies the inputs consumed so far into `out[position][c]`, to re-prefill a state of a larger bucket.
    pub fn copy_history(&self, out: usize) {
        let len = self.inner.position() * self.inner.channels();
        self.inner.copy_history(floats_mut(out, len));
    }

    pub fn reset(&mut self) {
        self.inner.reset();
    }

    pub fn memory_bytes(&self) -> usize {
        self.inner.memory_bytes()
    }
}

/// The naive reference: `O(t)` dot product per step over the stored history.
#[wasm_bindgen]
pub struct NaiveConvState {
    inner: online_conv::NaiveConvState,
}

#[wasm_bindgen]
impl NaiveConvState {
    #[wasm_bindgen(constructor)]
    pub fn new(kernel: &OnlineKernel) -> NaiveConvState {
        NaiveConvState { inner: online_conv::NaiveConvState::new(&kernel.inner) }
    }

    pub fn prefill(&mut self, kernel: &OnlineKernel, v: usize, n: usize, y: usize) -> bool {
        let c = self.inner.channels();
        self.inner.prefill(&kernel.inner, floats(v, n * c), n, floats_mut(y, n * c)).is_ok()
    }

    pub fn step(&mut self, kernel: &OnlineKernel, v: usize, y: usize) -> bool {
        let c = self.inner.channels();
        self.inner.step(&kernel.inner, floats(v, c), floats_mut(y, c)).is_ok()
    }

    pub fn position(&self) -> usize {
        self.inner.position()
    }

    pub fn cap(&self) -> usize {
        self.inner.cap()
    }

    pub fn channels(&self) -> usize {
        self.inner.channels()
    }

    pub fn copy_history(&self, out: usize) {
        let len = self.inner.position() * self.inner.channels();
        self.inner.copy_history(floats_mut(out, len));
    }

    pub fn reset(&mut self) {
        self.inner.reset();
    }

    pub fn memory_bytes(&self) -> usize {
        self.inner.memory_bytes()
    }
}

/// ETSC modes of one layer: exact for positions below `window`, periodic (decayed) beyond.
#[wasm_bindgen]
pub struct EtscKernel {
    inner: etsc::EtscKernel,
}

#[wasm_bindgen]
impl EtscKernel {
    /// `coeffs[window][c]` are the undecayed `t_0..t_{N-1}`; `gamma[c]` the decays, or 0 for no decay.
    #[wasm_bindgen(constructor)]
    pub fn new(coeffs: usize, gamma: usize, window: usize, c: usize) -> EtscKernel {
        let ones;
        let gamma = if gamma == 0 {
            ones = vec![1.0f32; c];
            &ones[..]
        } else {
            floats(gamma, c)
        };
        EtscKernel { inner: etsc::EtscKernel::new(floats(coeffs, window * c), gamma, window, c) }
    }

    pub fn window(&self) -> usize {
        self.inner.window()
    }

    pub fn channels(&self) -> usize {
        self.inner.channels()
    }

    pub fn memory_bytes(&self) -> usize {
        self.inner.memory_bytes()
    }
}

/// One sequence's ETSC state for one layer: constant size, never full.
#[wasm_bindgen]
pub struct EtscState {
    inner: etsc::EtscState,
}

#[wasm_bindgen]
impl EtscState {
    #[wasm_bindgen(constructor)]
    pub fn new(kernel: &EtscKernel) -> EtscState {
        EtscState { inner: etsc::EtscState::new(&kernel.inner) }
    }

    /// Consumes `v[n][c]` into a fresh state and writes `y[n][c]`; false if not fresh.
    pub fn prefill(&mut self, kernel: &EtscKernel, v: usize, n: usize, y: usize) -> bool {
        let c = self.inner.channels();
        self.inner.prefill(&kernel.inner, floats(v, n * c), n, floats_mut(y, n * c)).is_ok()
    }

    /// Consumes `v[c]` and writes `y[c]`; always true (kept for the same shape as the other states).
    pub fn step(&mut self, kernel: &EtscKernel, v: usize, y: usize) -> bool {
        let c = self.inner.channels();
        self.inner.step(&kernel.inner, floats(v, c), floats_mut(y, c));
        true
    }

    pub fn position(&self) -> usize {
        self.inner.position()
    }

    pub fn channels(&self) -> usize {
        self.inner.channels()
    }

    pub fn reset(&mut self) {
        self.inner.reset();
    }

    pub fn memory_bytes(&self) -> usize {
        self.inner.memory_bytes()
    }
}
