//! Depthwise Toeplitz mixing along the sequence: `y[i][c] = Σ_j t_{i-j}[c] · x[j][c]` for `x`, `y` of shape
//! `[n][c]` (token-major).
//!
//! Coefficient tables are `[rows][c]`:
//! - causal: `rows = n`, row `r` holds `t_r` (offsets `0..n-1`; negative offsets are zero);
//! - bidirectional: `rows = 2n-1`, row `r` holds `t_{r-(n-1)}` (offsets `-(n-1)..n-1`), which is exactly what
//!   `rpe_forward` writes with `k_start = -(n-1)`.
//!
//! Two ways to compute it: [`toeplitz_direct`] (O(n²·c), vectorised over channels, best for short sequences) and
//! [`ToeplitzPlan`] (FFTs of a length `L ≥ 2n-1`, O(c·L log L)), which itself falls back to the direct path
//! below the measured crossover. The plan's FFT is our own, vectorised across channels rather than within one
//! transform (see `lane_fft`): in wasm it ran the n = 512, c = 1536 product in 3.3 ms against 7.5 ms for the same
//! plan built on RustFFT's simd128 real FFTs (realfft), 24 against 10.5 GFLOP/s counted as two real FFTs.

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

/// Sequence length from which [`ToeplitzPlan`] uses FFTs instead of the direct product (causal tables).
///
/// Measured on the simd128 wasm build in Node 20 (one core of the 2-core development machine) with a throwaway
/// script: for c = 1536, the median time of `toeplitz_direct` against `ToeplitzPlan::apply` with cached spectra
/// (a plan made by `new_fft`) at n = 16..128. Causal: direct 0.27 / 0.35 / 0.43 ms against FFT 0.26 / 0.38 /
/// 0.39 ms at n = 64 / 72 / 80 (the FFT length steps from 128 to 192 at n = 65), so the FFT wins at every
/// measured n from 80 on. `apply_coeffs`, which also transforms the coefficients, crosses later (about 110).
pub const TOEPLITZ_CROSSOVER: usize = 80;

/// The crossover for bidirectional tables, measured as for [`TOEPLITZ_CROSSOVER`]: the direct product does twice
/// the work, so it loses earlier. Direct 0.078 / 0.133 / 0.207 ms against FFT 0.093 / 0.115 / 0.185 ms at
/// n = 24 / 32 / 40.
pub const TOEPLITZ_CROSSOVER_BIDIRECTIONAL: usize = 32;

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
