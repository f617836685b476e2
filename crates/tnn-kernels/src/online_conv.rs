//! Exact incremental causal Toeplitz convolution for autoregressive decoding.
//!
//! Depthwise over channels, token-major: `y_t[c] = Σ_{k=0..t} T_k[c] · v_{t-k}[c]`, with the (already decayed)
//! coefficients `T_0..T_{cap-1}` given as a table `[cap][c]`.
//!
//! [`OnlineConvState`] implements the relaxed (online) FFT convolution of van der Hoeven as used by "Flash
//! Inference" (Oncescu et al., 2024) and "FutureFill" (Agarwal et al., 2024). Once position `m-1` is known, with
//! `U` the largest power of two dividing `m`, the block of inputs `v_{m-U..m-1}` is convolved with `T_1..T_{2U-1}`
//! and added to the pending sums of outputs `y_{m..m+U-1}`. These `U×U` blocks tile the strictly-lower triangle of
//! the Toeplitz matrix exactly once, and every block is complete before its first output is needed, so each output
//! is the exact sum (up to float rounding). A block of size `U` happens every `2U` tokens and costs one FFT of size
//! `2U` per channel each way, so the amortized work is `O(log² t)` per token and channel. Small blocks are done
//! directly, vectorised over channels, where that is cheaper than an FFT.
//!
//! [`OnlineKernel`] holds what every sequence shares: the coefficient table and, per block size, the spectra of
//! the coefficient segments, computed once. [`NaiveConvState`] is the `O(t)` dot-product reference.

mod block;
mod causal_fft;
mod columns;
mod kernel;
mod naive;
mod scratch;
mod state;
mod window;

pub use kernel::{OnlineKernel, MIN_ROWS};
pub use naive::NaiveConvState;
pub use state::OnlineConvState;
pub use window::{WindowKernel, WindowState};

use std::fmt;

/// Why a decode state refused a call. Shape mismatches are contract breaches and panic instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The state already holds `cap` positions; a kernel of a larger length bucket is needed.
    PastCapacity { position: usize, requested: usize, cap: usize },
    /// `prefill` seeds a fresh state only; `reset()` first.
    PrefillNotAtStart { position: usize },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::PastCapacity { position, requested, cap } => write!(
                f,
                "decode state at position {position} cannot take {requested} more token(s): capacity is {cap}"
            ),
            DecodeError::PrefillNotAtStart { position } => {
                write!(f, "prefill needs a fresh state (position 0) but the state is at position {position}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// What every state checks before a prefill of `n` rows: the kernel is the state's, the buffers hold `[n][c]`, the
/// state is fresh and `n` fits its capacity.
fn check_prefill(kernel: &OnlineKernel, cap: usize, c: usize, pos: usize, v: &[f32], y: &[f32], n: usize) -> Result<(), DecodeError> {
    check_kernel(kernel, cap, c);
    assert!(v.len() >= n * c && y.len() >= n * c, "prefill buffers must be [n][c]");
    if pos != 0 {
        return Err(DecodeError::PrefillNotAtStart { position: pos });
    }
    if n > cap {
        return Err(DecodeError::PastCapacity { position: 0, requested: n, cap });
    }
    Ok(())
}

/// What every state checks before a step: the kernel is the state's, the buffers hold `c` values, a slot is free.
fn check_step(kernel: &OnlineKernel, cap: usize, c: usize, pos: usize, v: &[f32], y: &[f32]) -> Result<(), DecodeError> {
    check_kernel(kernel, cap, c);
    assert!(v.len() >= c && y.len() >= c, "step buffers must hold c values");
    if pos >= cap {
        return Err(DecodeError::PastCapacity { position: pos, requested: 1, cap });
    }
    Ok(())
}

fn check_kernel(kernel: &OnlineKernel, cap: usize, c: usize) {
    assert!(cap <= kernel.cap() && kernel.channels() == c, "kernel shape differs from the state's");
}
