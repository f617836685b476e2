//! Decode-state classes: online (relaxed FFT) convolution, the naive reference and ETSC.
//!
//! Kernels are built once per layer and length bucket and shared by every sequence; states are per sequence and
//! layer. Every method takes the kernel it was built for. Buffers are byte offsets into wasm memory; `y` must not
//! alias `v`. `prefill` and `step` return `false` instead of throwing when the state is full or (for `prefill`)
//! not fresh, so the TS layer can raise its own typed error; everything else is checked there first.

use crate::memory::{slice as floats, slice_mut as floats_mut};
use tnn_kernels::{etsc, online_conv};
use wasm_bindgen::prelude::*;

/// Coefficients `T_0..T_{rows-1}` (`[rows][c]`, decayed) of one layer for sequences of up to `cap` positions, and
/// the spectra of their dyadic blocks.
#[wasm_bindgen]
pub struct OnlineKernel {
    inner: online_conv::OnlineKernel,
}

#[wasm_bindgen]
impl OnlineKernel {
    /// Copies `coeffs[rows][c]`; `cap` must be a power of two, `rows` in `[min(64, cap), cap]`.
    #[wasm_bindgen(constructor)]
    pub fn new(coeffs: usize, rows: usize, cap: usize, c: usize) -> OnlineKernel {
        OnlineKernel { inner: online_conv::OnlineKernel::with_rows(floats(coeffs, rows * c), rows, cap, c) }
    }

    /// The fewest rows a kernel keeps.
    pub fn min_rows() -> usize {
        online_conv::MIN_ROWS
    }

    /// Bytes a kernel of `rows` rows, capacity `cap` and `c` channels allocates.
    pub fn bytes_for(rows: usize, cap: usize, c: usize) -> usize {
        online_conv::OnlineKernel::bytes_for(rows, cap, c)
    }

    pub fn cap(&self) -> usize {
        self.inner.cap()
    }

    pub fn rows(&self) -> usize {
        self.inner.rows()
    }

    pub fn channels(&self) -> usize {
        self.inner.channels()
    }

    pub fn memory_bytes(&self) -> usize {
        self.inner.memory_bytes()
    }
}

/// The lags `rows..need` that a call reads beyond the kernel's table, at `far` (0: none given; a call that needs
/// them and is not refused first then panics rather than read address 0).
fn far_lags<'a>(kernel: &OnlineKernel, far: usize, need: usize) -> &'a [f32] {
    if far == 0 {
        return &[];
    }
    floats(far, need.saturating_sub(kernel.inner.rows()) * kernel.inner.channels())
}

/// The wasm face of a per-sequence convolution state; the online state and its naive reference share it exactly.
macro_rules! conv_state_binding {
    ($(#[$doc:meta])* $name:ident, $inner:ty) => {
        $(#[$doc])*
        #[wasm_bindgen]
        pub struct $name {
            inner: $inner,
        }

        #[wasm_bindgen]
        impl $name {
            /// A state for up to `cap` positions, at most the kernel's.
            #[wasm_bindgen(constructor)]
            pub fn new(kernel: &OnlineKernel, cap: usize) -> $name {
                $name { inner: <$inner>::with_capacity(&kernel.inner, cap) }
            }

            /// Bytes a state of `cap` positions of `c` channels on a kernel of capacity `kernel_cap` allocates.
            pub fn bytes_for(cap: usize, kernel_cap: usize, c: usize) -> usize {
                <$inner>::bytes_for(cap, kernel_cap, c)
            }

            /// The lags `0..need` the next call reads (a prefill of `n` rows, or a step): those from the kernel's
            /// `rows()` on are passed as `far`.
            pub fn lags_needed(&self, n: usize) -> usize {
                self.inner.lags_needed(n)
            }

            /// Consumes `v[n][c]` into a fresh state and writes `y[n][c]`; false if not fresh or `n > cap`. `far`
            /// holds `[lags_needed(n) - rows][c]` (nothing when the kernel's table covers them).
            pub fn prefill(&mut self, kernel: &OnlineKernel, v: usize, n: usize, far: usize, y: usize) -> bool {
                let c = self.inner.channels();
                let far = far_lags(kernel, far, self.inner.lags_needed(n));
                self.inner.prefill_with(&kernel.inner, floats(v, n * c), n, far, floats_mut(y, n * c)).is_ok()
            }

            /// Consumes `v[c]` and writes `y[c]`; false if the state already holds `cap` positions. `far` as for
            /// `prefill`, with `lags_needed(1)`.
            pub fn step(&mut self, kernel: &OnlineKernel, v: usize, far: usize, y: usize) -> bool {
                let c = self.inner.channels();
                let far = far_lags(kernel, far, self.inner.lags_needed(1));
                self.inner.step_with(&kernel.inner, floats(v, c), far, floats_mut(y, c)).is_ok()
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
    };
}

conv_state_binding!(
    /// One sequence's online-convolution state for one layer.
    OnlineConvState,
    online_conv::OnlineConvState
);
conv_state_binding!(
    /// The naive reference: `O(t)` dot product per step over the stored history.
    NaiveConvState,
    online_conv::NaiveConvState
);

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

/// One layer's windowed decode kernel: exact for a kernel that is zero from lag `window` on, in memory and time per
/// token that do not grow with the position.
#[wasm_bindgen]
pub struct WindowKernel {
    inner: online_conv::WindowKernel,
}

#[wasm_bindgen]
impl WindowKernel {
    /// From the decayed `coeffs[window][c]` (row `k` is `T_k`); `chunk` is a power of two ≥ 2.
    #[wasm_bindgen(constructor)]
    pub fn new(coeffs: usize, window: usize, c: usize, chunk: usize) -> WindowKernel {
        WindowKernel { inner: online_conv::WindowKernel::new(floats(coeffs, window * c), window, c, chunk) }
    }

    pub fn window(&self) -> usize {
        self.inner.window()
    }

    pub fn chunk(&self) -> usize {
        self.inner.chunk()
    }

    pub fn channels(&self) -> usize {
        self.inner.channels()
    }

    pub fn memory_bytes(&self) -> usize {
        self.inner.memory_bytes()
    }
}

/// One sequence's windowed state for one layer: takes any number of rows at any position, never full.
#[wasm_bindgen]
pub struct WindowState {
    inner: online_conv::WindowState,
}

#[wasm_bindgen]
impl WindowState {
    #[wasm_bindgen(constructor)]
    pub fn new(kernel: &WindowKernel) -> WindowState {
        WindowState { inner: online_conv::WindowState::new(&kernel.inner) }
    }

    /// Consumes the next `v[n][c]` and writes their outputs `y[n][c]`.
    pub fn push(&mut self, kernel: &WindowKernel, v: usize, n: usize, y: usize) {
        let c = self.inner.channels();
        self.inner.push(&kernel.inner, floats(v, n * c), n, floats_mut(y, n * c));
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
