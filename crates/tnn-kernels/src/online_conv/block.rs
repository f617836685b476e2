//! One block of the relaxed tiling: the contribution of `U` consecutive inputs to the next `U` outputs.

use super::columns::{strip_width, STRIP};
use super::kernel::{OnlineKernel, FFT_MIN_BLOCK};
use super::scratch::{FftScratch, FftSlot};
use crate::lane_conv::{self, add_group, group_spectra_len, load_group, GROUP};
use crate::lane_fft::C4;
use crate::par::{self, SendPtr};

/// Blocks from this size on split their strips across the pool's threads: smaller ones cost less than waking one.
const PAR_MIN_BLOCK: usize = 128;

/// The lags a block at `m` of size `u` reads when the state holds `cap` rows: `0..need`. Its outputs stop at row
/// `min(m+u, cap)`, the last of them `need - 1` rows after the first input.
pub(crate) fn block_need(m: usize, u: usize, cap: usize) -> usize {
    (m + u).min(cap) - (m - u)
}

/// `buf` is the state's strip-major table `[strips][cap][STRIP]`: rows before `m` hold inputs `v`, rows from `m`
/// on hold pending output sums. Adds `Σ_{j=m-u}^{m-1} T_{t-j} · v_j` to each row `t` in `max(m, from)..min(m+u,
/// cap)`. Rows below `from` are skipped; the prefill uses that to complete only the outputs that are still to come.
/// Rows from `cap` on do not exist: a state sized to the sequence's last position never needs them. Lags from the
/// kernel's `rows` on come from `far` (see [`OnlineKernel::load_lags`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn add_block(kernel: &OnlineKernel, buf: &mut [f32], cap: usize, m: usize, u: usize, from: usize, far: &[f32], scratch: &mut FftScratch) {
    debug_assert!(u <= m && m < cap && cap <= kernel.cap());
    let skip = from.saturating_sub(m).min(u);
    let live = u.min(cap - m);
    if u < FFT_MIN_BLOCK {
        for (s, slab) in buf.chunks_exact_mut(cap * STRIP).enumerate() {
            add_block_direct(kernel.coeff_slab(s), slab, m, u, skip, live);
        }
        return;
    }
    let strips = buf.len() / (cap * STRIP);
    let min_strips = if u >= PAR_MIN_BLOCK { 1 } else { strips };
    if min_strips < strips {
        scratch.fit_pool();
    }
    let bufs = SendPtr(buf.as_mut_ptr());
    par::for_each_unit(strips, min_strips, &scratch.slots, |s, sc| {
        // SAFETY: strip s owns floats s·cap·16 .. (s+1)·cap·16 of buf; no other task touches them.
        let slab = unsafe { core::slice::from_raw_parts_mut(bufs.get().add(s * cap * STRIP), cap * STRIP) };
        add_block_fft(kernel, s, slab, m, u, skip..live, far, sc);
    });
}

/// Row by row over one strip: output `m+s` gets `T_{u+s-j} · v_{m-u+j}` for each `j`, for `s` in `skip..live`.
/// Padding lanes of a partial strip hold zeros in both tables, so they stay zero.
fn add_block_direct(coeffs: &[f32], slab: &mut [f32], m: usize, u: usize, skip: usize, live: usize) {
    let (past, future) = slab.split_at_mut(m * STRIP);
    let inputs = &past[(m - u) * STRIP..];
    for s in skip..live {
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

/// Per group of eight channels of strip `s`: the inputs zero-padded to `2u`, times the spectra of
/// `(0, T_1..T_{2u-1})`, cached or computed now. The circular product is exact on the upper half, where the lags
/// `u+s-j` run over `1..2u-1` without wrapping; outputs `m + rows` are added. Groups that are all padding are
/// skipped.
#[allow(clippy::too_many_arguments)]
fn add_block_fft(kernel: &OnlineKernel, s: usize, slab: &mut [f32], m: usize, u: usize, rows: core::ops::Range<usize>, far: &[f32], scratch: &mut FftSlot) {
    let w = strip_width(kernel.channels(), s);
    let len = 2 * u;
    let per = group_spectra_len(len);
    let fft = kernel.fft(len);
    let level = kernel.block_level(u);
    let (past, future) = slab.split_at_mut(m * STRIP);
    let inputs = &past[(m - u) * STRIP..];
    let FftSlot { buf, work, spectra: fresh } = scratch;
    let (buf, work, fresh) = (&mut buf[..len], &mut work[..len], &mut fresh[..per]);
    for g in 0..w.div_ceil(GROUP) {
        let gi = s * (STRIP / GROUP) + g;
        let spectra = match level {
            Some(level) => &level[gi * per..][..per],
            None => {
                kernel.group_block_spectra(gi, u, u + rows.end, far, buf, work, fresh);
                &*fresh
            }
        };
        let lane0 = g * GROUP;
        for (j, z) in buf[..u].iter_mut().enumerate() {
            *z = load_group(inputs, j * STRIP, STRIP, lane0);
        }
        buf[u..].fill(C4::zero());
        lane_conv::convolve(fft, buf, work, spectra);
        for (i, &z) in buf[u + rows.start..u + rows.end].iter().enumerate() {
            add_group(future, (rows.start + i) * STRIP, STRIP, lane0, z);
        }
    }
}
