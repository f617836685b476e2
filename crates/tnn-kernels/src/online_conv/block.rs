//! One block of the relaxed tiling: the contribution of `U` consecutive inputs to the next `U` outputs.

use super::columns::{strip_width, STRIP};
use super::kernel::{OnlineKernel, FFT_MIN_BLOCK};
use super::scratch::FftScratch;

/// `buf` is the state's strip-major table `[strips][cap][STRIP]`: rows before `m` hold inputs `v`, rows from `m`
/// on hold pending output sums. Adds `Σ_{j=m-u}^{m-1} T_{t-j} · v_j` to each row `t` in `max(m, from)..m+u`.
/// Rows below `from` are skipped; the prefill uses that to complete only the outputs that are still to come.
pub(crate) fn add_block(kernel: &OnlineKernel, buf: &mut [f32], m: usize, u: usize, from: usize, scratch: &mut FftScratch) {
    let cap = kernel.cap();
    debug_assert!(u <= m && m + u <= cap);
    let skip = from.saturating_sub(m).min(u);
    for (s, slab) in buf.chunks_exact_mut(cap * STRIP).enumerate() {
        if u < FFT_MIN_BLOCK {
            add_block_direct(kernel.coeff_slab(s), slab, m, u, skip);
        } else {
            add_block_fft(kernel, s, slab, m, u, skip, scratch);
        }
    }
}

/// Row by row over one strip: output `m+s` gets `T_{u+s-j} · v_{m-u+j}` for each `j`. Padding lanes of a
/// partial strip hold zeros in both tables, so they stay zero.
fn add_block_direct(coeffs: &[f32], slab: &mut [f32], m: usize, u: usize, skip: usize) {
    let (past, future) = slab.split_at_mut(m * STRIP);
    let inputs = &past[(m - u) * STRIP..];
    for s in skip..u {
        let mut acc = [0.0f32; STRIP];
        for j in 0..u {
            let t: &[f32; STRIP] = coeffs[(u + s - j) * STRIP..][..STRIP].try_into().unwrap();
            let v: &[f32; STRIP] = inputs[j * STRIP..][..STRIP].try_into().unwrap();
            for g in 0..STRIP {
                acc[g] += t[g] * v[g];
            }
        }
        let out: &mut [f32; STRIP] = (&mut future[s * STRIP..][..STRIP]).try_into().unwrap();
        for g in 0..STRIP {
            out[g] += acc[g];
        }
    }
}

/// Per channel of strip `s`: the inputs zero-padded to `2u`, times the precomputed spectrum of
/// `(0, T_1..T_{2u-1})`. The circular product is exact on the upper half, where the lags `u+s-j` run over
/// `1..2u-1` without wrapping.
fn add_block_fft(kernel: &OnlineKernel, s: usize, slab: &mut [f32], m: usize, u: usize, skip: usize, scratch: &mut FftScratch) {
    let w = strip_width(kernel.channels(), s);
    let (len, bins) = (2 * u, u + 1);
    let plan = kernel.plan(len);
    let level = kernel.block_level(u);
    let (past, future) = slab.split_at_mut(m * STRIP);
    let FftScratch { cols, spec, fft, .. } = scratch;
    let spec = &mut spec[..bins];
    for (j, row) in past[(m - u) * STRIP..].chunks_exact(STRIP).enumerate() {
        for g in 0..w {
            cols[g * len + j] = row[g];
        }
    }
    for g in 0..w {
        let col = &mut cols[g * len..][..len];
        col[u..].fill(0.0);
        plan.forward.process_with_scratch(col, spec, fft).expect("buffer sizes match the plan");
        let k = &level[(s * STRIP + g) * bins..][..bins];
        for (z, &x) in spec.iter_mut().zip(k) {
            *z *= x;
        }
        // Products of real bins are real; clear the rounding so realfft does not flag the input.
        spec[0].im = 0.0;
        spec[bins - 1].im = 0.0;
        plan.inverse.process_with_scratch(spec, col, fft).expect("buffer sizes match the plan");
    }
    for (i, out) in future[skip * STRIP..u * STRIP].chunks_exact_mut(STRIP).enumerate() {
        for g in 0..w {
            out[g] += cols[g * len + u + skip + i];
        }
    }
}
