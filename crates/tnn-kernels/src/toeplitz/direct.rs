//! The direct O(n²·c) Toeplitz product, vectorised over channels.
//!
//! Channels are taken `4·V` at a time (V vectors) and outputs two rows at a time: both rows read the same `x[j]`
//! vectors, which halves the loads of `x`. The coefficient rows `t_{i-j}` and `t_{i+1-j}` are adjacent in the
//! table, so the two streams walk the same cache lines.

// Register tiles are indexed arrays: index loops say which accumulator meets which operand.
#![allow(clippy::needless_range_loop)]

use crate::par::{self, SendPtr};
use crate::simd::{F32x4, LANES};

/// Multiply-adds below which the direct product is not split across threads.
const MADDS_PER_TASK: usize = 1 << 18;

/// `y[i][c] = Σ_j t_{i-j}[c] · x[j][c]` with the coefficient table layout of the module docs.
pub fn toeplitz_direct(x: &[f32], coeffs: &[f32], y: &mut [f32], n: usize, c: usize, causal: bool) {
    assert!(x.len() >= n * c && y.len() >= n * c, "toeplitz_direct: x or y too small");
    assert!(coeffs.len() >= super::coeff_rows(n, causal) * c, "toeplitz_direct: coefficient table too small");
    // SAFETY: sizes checked; `y` is a distinct mutable slice.
    unsafe { toeplitz_direct_ptr(x.as_ptr(), coeffs.as_ptr(), y.as_mut_ptr(), n, c, causal) }
}

/// Pointer form of [`toeplitz_direct`].
///
/// # Safety
/// `x` readable for `n*c`, `coeffs` for `rows*c`, `y` writable for `n*c` and overlapping neither.
pub unsafe fn toeplitz_direct_ptr(x: *const f32, coeffs: *const f32, y: *mut f32, n: usize, c: usize, causal: bool) {
    // Threads take ranges of channels in whole 16-channel tiles, so each channel meets the same code as in one piece.
    let work = n * n * c / if causal { 2 } else { 1 };
    let pieces = par::pieces(c.div_ceil(4 * LANES), 1).min(work.div_ceil(MADDS_PER_TASK).max(1));
    let (xs, ts, ys) = (SendPtr(x as *mut f32), SendPtr(coeffs as *mut f32), SendPtr(y));
    par::for_each(pieces, |t, _| {
        let (lo, hi) = par::piece(t, pieces, c, 4 * LANES);
        channel_range(xs.get(), ts.get(), ys.get(), n, c, causal, lo, hi);
    });
}

/// Channels `lo..hi` of [`toeplitz_direct_ptr`].
///
/// # Safety
/// As for [`toeplitz_direct_ptr`]; `hi <= c`.
#[allow(clippy::too_many_arguments)]
unsafe fn channel_range(x: *const f32, coeffs: *const f32, y: *mut f32, n: usize, c: usize, causal: bool, lo: usize, hi: usize) {
    let c_end = hi;
    let mut ch = lo;
    while ch + 4 * LANES <= c_end {
        channels::<4>(x, coeffs, y, n, c, causal, ch);
        ch += 4 * LANES;
    }
    while ch + LANES <= c_end {
        channels::<1>(x, coeffs, y, n, c, causal, ch);
        ch += LANES;
    }
    while ch < c_end {
        one_channel(x, coeffs, y, n, c, causal, ch);
        ch += 1;
    }
}

/// Channels `ch .. ch + 4V` of every output row.
#[inline(always)]
unsafe fn channels<const V: usize>(
    x: *const f32,
    t: *const f32,
    y: *mut f32,
    n: usize,
    c: usize,
    causal: bool,
    ch: usize,
) {
    // Table row of offset d is d + off.
    let off = if causal { 0 } else { n - 1 };
    let x = x.add(ch);
    let t = t.add(ch);
    let y = y.add(ch);
    let mut i = 0;
    while i + 2 <= n {
        let mut a0 = [F32x4::zero(); V];
        let mut a1 = [F32x4::zero(); V];
        // Row i reads j < jend; row i+1 reads one more j in the causal case (j = i+1, offset 0).
        let jend = if causal { i + 1 } else { n };
        for j in 0..jend {
            let xr = x.add(j * c);
            let t0 = t.add((i + off - j) * c);
            let t1 = t0.add(c);
            for v in 0..V {
                let xv = F32x4::load_ptr(xr.add(v * LANES));
                a0[v] = F32x4::load_ptr(t0.add(v * LANES)).mul_add(xv, a0[v]);
                a1[v] = F32x4::load_ptr(t1.add(v * LANES)).mul_add(xv, a1[v]);
            }
        }
        if causal {
            let xr = x.add((i + 1) * c);
            for v in 0..V {
                a1[v] = F32x4::load_ptr(t.add(v * LANES)).mul_add(F32x4::load_ptr(xr.add(v * LANES)), a1[v]);
            }
        }
        for v in 0..V {
            a0[v].store_ptr(y.add(i * c + v * LANES));
            a1[v].store_ptr(y.add((i + 1) * c + v * LANES));
        }
        i += 2;
    }
    if i < n {
        let mut a0 = [F32x4::zero(); V];
        let jend = if causal { i + 1 } else { n };
        for j in 0..jend {
            let xr = x.add(j * c);
            let t0 = t.add((i + off - j) * c);
            for v in 0..V {
                a0[v] = F32x4::load_ptr(t0.add(v * LANES)).mul_add(F32x4::load_ptr(xr.add(v * LANES)), a0[v]);
            }
        }
        for v in 0..V {
            a0[v].store_ptr(y.add(i * c + v * LANES));
        }
    }
}

/// A single leftover channel (when `c` is not a multiple of 4), plain scalar.
unsafe fn one_channel(x: *const f32, t: *const f32, y: *mut f32, n: usize, c: usize, causal: bool, ch: usize) {
    let off = if causal { 0 } else { n - 1 };
    for i in 0..n {
        let jend = if causal { i + 1 } else { n };
        let mut s = 0.0f32;
        for j in 0..jend {
            s += *t.add((i + off - j) * c + ch) * *x.add(j * c + ch);
        }
        *y.add(i * c + ch) = s;
    }
}

/// Reference Toeplitz product: the definition, one output at a time.
pub fn toeplitz_direct_scalar(x: &[f32], coeffs: &[f32], y: &mut [f32], n: usize, c: usize, causal: bool) {
    for i in 0..n {
        for ch in 0..c {
            let mut s = 0.0f32;
            for j in 0..n {
                let d = i as isize - j as isize;
                let row = if causal {
                    if d < 0 {
                        continue;
                    }
                    d as usize
                } else {
                    (d + n as isize - 1) as usize
                };
                s += coeffs[row * c + ch] * x[j * c + ch];
            }
            y[i * c + ch] = s;
        }
    }
}
