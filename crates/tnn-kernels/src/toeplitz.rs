//! Depthwise Toeplitz mixing along the sequence: `y[i][c] = Σ_j t_{i-j}[c] · x[j][c]` for `x`, `y` of shape
//! `[n][c]` (token-major).
//!
//! Coefficient tables are `[rows][c]`:
//! - causal: `rows = n`, row `r` holds `t_r` (offsets `0..n-1`; negative offsets are zero);
//! - bidirectional: `rows = 2n-1`, row `r` holds `t_{r-(n-1)}` (offsets `-(n-1)..n-1`), which is exactly what
//!   `rpe_forward` writes with `k_start = -(n-1)`.
//!
//! Two ways to compute it: [`toeplitz_direct`] (O(n²·c), vectorised over channels, best for short sequences) and
//! [`ToeplitzPlan`] (real FFTs of a length `L ≥ 2n-1`, O(c·L log L)), which itself falls back to the direct path
//! below the measured crossover.

mod direct;
mod plan;

pub use direct::{toeplitz_direct, toeplitz_direct_ptr, toeplitz_direct_scalar};
pub use plan::{fast_fft_len, ToeplitzPlan};

/// Rows of the coefficient table for a sequence of `n` tokens.
pub fn coeff_rows(n: usize, causal: bool) -> usize {
    if causal || n == 0 {
        n
    } else {
        2 * n - 1
    }
}

/// Sequence length from which [`ToeplitzPlan`] uses FFTs instead of the direct product.
///
/// Measured in wasm (simd128 build, Node 20, one core of the development machine) by timing `toeplitz_direct`
/// against `ToeplitzPlan::apply` with cached spectra at c = 1536 for n = 16, 24, 32, ... (median of repeated
/// runs), for both causal and bidirectional tables; this is the smallest n at which the FFT path won for the
/// causal case, rounded. The bidirectional direct product does twice the work, so it crosses earlier: see
/// [`TOEPLITZ_CROSSOVER_BIDIRECTIONAL`].
pub const TOEPLITZ_CROSSOVER: usize = 64;

/// The crossover for bidirectional tables (measured as for [`TOEPLITZ_CROSSOVER`]).
pub const TOEPLITZ_CROSSOVER_BIDIRECTIONAL: usize = 48;

/// The measured direct/FFT crossover length for causal mixing (the decoder's case).
pub fn toeplitz_crossover() -> usize {
    TOEPLITZ_CROSSOVER
}

/// The measured crossover for the given kind of table.
pub fn toeplitz_crossover_for(causal: bool) -> usize {
    if causal {
        TOEPLITZ_CROSSOVER
    } else {
        TOEPLITZ_CROSSOVER_BIDIRECTIONAL
    }
}
