//! Dense layers: `y[m][n] = x[m][k] · w[n][k]ᵀ + b[n]` with `w` in PyTorch's `(out, in)` layout, in f32 or with
//! the weights stored as IEEE half.
//!
//! Both operands are contiguous along `k`, so the microkernel is a block of dot products: `MR` rows of `x` against
//! `NR` rows of `w`, one `F32x4` accumulator per pair, summed across lanes once at the end of a `k` block. That
//! needs no packing, so a single token (decode, `m = 1`) costs no more than streaming `w` once, and prefill reuses
//! each loaded vector `MR` or `NR` times. `k` is cut into blocks of `KC` so the rows a microkernel touches stay in L1
//! cache, and `w` into blocks of `NC` rows that stay in L2 while every row of `x` passes over them.
//!
//! The half-precision form widens each `NC × KC` block of `w` into a stack buffer and runs the same f32 blocks.

use crate::f16::{f16_bits_to_f32, f16x4_to_f32};
use crate::simd::{F32x4, I32x4, LANES};

/// Rows of `x` per microkernel.
const MR: usize = 4;
/// Rows of `w` per microkernel (a multiple of 4: the four sums of a column group are reduced together).
const NR: usize = 4;
/// `k` elements per block.
const KC: usize = 512;
/// Rows of `w` per block.
const NC: usize = 32;

/// Where a tile's starting values come from.
#[derive(Clone, Copy)]
enum Base {
    /// First `k` block: start from the bias (or zero when `bias` is null).
    Bias(*const f32),
    /// Later `k` blocks: add to what `y` holds.
    Accumulate,
}

/// One `R × C` tile of dot products over `kc` elements.
///
/// # Safety
/// `x` readable for `R` rows of `ldx` stride and `kc` elements, `w` likewise for `C` rows of `ldw` stride,
/// `y` writable for `R` rows of `ldy` stride and `C` elements; `Base::Bias` pointer null or readable for `C`.
#[inline(always)]
unsafe fn tile<const R: usize, const C: usize>(
    x: *const f32,
    ldx: usize,
    w: *const f32,
    ldw: usize,
    kc: usize,
    y: *mut f32,
    ldy: usize,
    base: Base,
) {
    let mut acc = [[F32x4::zero(); C]; R];
    let mut p = 0;
    while p + LANES <= kc {
        let mut xv = [F32x4::zero(); R];
        for r in 0..R {
            xv[r] = F32x4::load_ptr(x.add(r * ldx + p));
        }
        for c in 0..C {
            let wv = F32x4::load_ptr(w.add(c * ldw + p));
            for r in 0..R {
                acc[r][c] = xv[r].mul_add(wv, acc[r][c]);
            }
        }
        p += LANES;
    }
    let mut tail = [[0.0f32; C]; R];
    while p < kc {
        for r in 0..R {
            let xs = *x.add(r * ldx + p);
            for c in 0..C {
                tail[r][c] += xs * *w.add(c * ldw + p);
            }
        }
        p += 1;
    }
    for r in 0..R {
        let yr = y.add(r * ldy);
        let mut c = 0;
        while c + 4 <= C {
            let sums = F32x4::reduce4(acc[r][c], acc[r][c + 1], acc[r][c + 2], acc[r][c + 3])
                + F32x4::new(tail[r][c], tail[r][c + 1], tail[r][c + 2], tail[r][c + 3]);
            let start = match base {
                Base::Bias(b) if b.is_null() => F32x4::zero(),
                Base::Bias(b) => F32x4::load_ptr(b.add(c)),
                Base::Accumulate => F32x4::load_ptr(yr.add(c)),
            };
            (start + sums).store_ptr(yr.add(c));
            c += 4;
        }
        while c < C {
            let sum = acc[r][c].reduce_sum() + tail[r][c];
            let start = match base {
                Base::Bias(b) if b.is_null() => 0.0,
                Base::Bias(b) => *b.add(c),
                Base::Accumulate => *yr.add(c),
            };
            *yr.add(c) = start + sum;
            c += 1;
        }
    }
}

/// A tile of any size up to `MR × NR`, dispatched to the matching monomorphised kernel.
///
/// # Safety
/// As for [`tile`] with `R = rows`, `C = cols`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn tile_dyn(
    rows: usize,
    cols: usize,
    x: *const f32,
    ldx: usize,
    w: *const f32,
    ldw: usize,
    kc: usize,
    y: *mut f32,
    ldy: usize,
    base: Base,
) {
    macro_rules! go {
        ($r:literal, $c:literal) => {
            tile::<$r, $c>(x, ldx, w, ldw, kc, y, ldy, base)
        };
    }
    match (rows, cols) {
        (4, 4) => go!(4, 4),
        (4, 3) => go!(4, 3),
        (4, 2) => go!(4, 2),
        (4, 1) => go!(4, 1),
        (3, 4) => go!(3, 4),
        (3, 3) => go!(3, 3),
        (3, 2) => go!(3, 2),
        (3, 1) => go!(3, 1),
        (2, 4) => go!(2, 4),
        (2, 3) => go!(2, 3),
        (2, 2) => go!(2, 2),
        (2, 1) => go!(2, 1),
        (1, 4) => go!(1, 4),
        (1, 3) => go!(1, 3),
        (1, 2) => go!(1, 2),
        (1, 1) => go!(1, 1),
        _ => unreachable!(),
    }
}

/// Multiplies all `m` rows of `x` (columns `k0..k0+kc`) by a block of `nb` rows of `w` (already offset to
/// column `k0`, row stride `ldw`), writing columns `j0..j0+nb` of `y`.
///
/// # Safety
/// Pointers valid for the described ranges; `y` does not overlap `x`, `w` or `b`.
#[allow(clippy::too_many_arguments)]
unsafe fn block(
    x: *const f32,
    k: usize,
    m: usize,
    k0: usize,
    kc: usize,
    w: *const f32,
    ldw: usize,
    nb: usize,
    j0: usize,
    b: *const f32,
    y: *mut f32,
    n: usize,
) {
    let mut i = 0;
    while i < m {
        let rows = MR.min(m - i);
        let xi = x.add(i * k + k0);
        let mut j = 0;
        while j < nb {
            let cols = NR.min(nb - j);
            let base = if k0 == 0 {
                Base::Bias(if b.is_null() { b } else { b.add(j0 + j) })
            } else {
                Base::Accumulate
            };
            let yij = y.add(i * n + j0 + j);
            if rows == MR && cols == NR {
                tile::<MR, NR>(xi, k, w.add(j * ldw), ldw, kc, yij, n, base);
            } else {
                tile_dyn(rows, cols, xi, k, w.add(j * ldw), ldw, kc, yij, n, base);
            }
            j += NR;
        }
        i += MR;
    }
}

fn check_shapes(x: usize, w: usize, b: Option<&[f32]>, y: usize, m: usize, k: usize, n: usize) {
    assert!(x >= m * k && w >= n * k && y >= m * n, "gemm: buffers too small for m={m} k={k} n={n}");
    if let Some(b) = b {
        assert!(b.len() >= n, "gemm: bias shorter than n={n}");
    }
}

/// `y[m][n] = x[m][k] · w[n][k]ᵀ + b[n]` (no bias when `b` is `None`).
pub fn gemm(x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32], m: usize, k: usize, n: usize) {
    check_shapes(x.len(), w.len(), b, y.len(), m, k, n);
    let bp = b.map_or(core::ptr::null(), |b| b.as_ptr());
    // SAFETY: shapes checked above; `y` is a distinct mutable slice.
    unsafe { gemm_ptr(x.as_ptr(), w.as_ptr(), bp, y.as_mut_ptr(), m, k, n) }
}

/// Pointer form of [`gemm`]; `b` may be null.
///
/// # Safety
/// `x` readable for `m*k`, `w` for `n*k`, `b` null or readable for `n`, `y` writable for `m*n` and overlapping none.
pub unsafe fn gemm_ptr(x: *const f32, w: *const f32, b: *const f32, y: *mut f32, m: usize, k: usize, n: usize) {
    if k == 0 {
        for i in 0..m {
            for j in 0..n {
                *y.add(i * n + j) = if b.is_null() { 0.0 } else { *b.add(j) };
            }
        }
        return;
    }
    let mut k0 = 0;
    while k0 < k {
        let kc = KC.min(k - k0);
        let mut j0 = 0;
        while j0 < n {
            let nb = NC.min(n - j0);
            block(x, k, m, k0, kc, w.add(j0 * k + k0), k, nb, j0, b, y, n);
            j0 += NC;
        }
        k0 += KC;
    }
}

/// `y = x · wᵀ + b` with `w[n][k]` given as half-precision bits; arithmetic in f32.
pub fn gemm_f16(x: &[f32], w16: &[u16], b: Option<&[f32]>, y: &mut [f32], m: usize, k: usize, n: usize) {
    check_shapes(x.len(), w16.len(), b, y.len(), m, k, n);
    let bp = b.map_or(core::ptr::null(), |b| b.as_ptr());
    // SAFETY: shapes checked above; `y` is a distinct mutable slice.
    unsafe { gemm_f16_ptr(x.as_ptr(), w16.as_ptr(), bp, y.as_mut_ptr(), m, k, n) }
}

/// Pointer form of [`gemm_f16`]; `b` may be null.
///
/// # Safety
/// `x` readable for `m*k` f32, `w16` for `n*k` u16, `b` null or readable for `n`, `y` writable for `m*n`, no overlap.
pub unsafe fn gemm_f16_ptr(x: *const f32, w16: *const u16, b: *const f32, y: *mut f32, m: usize, k: usize, n: usize) {
    if k == 0 {
        gemm_ptr(x, core::ptr::null(), b, y, m, 0, n);
        return;
    }
    // 64 KiB of stack: one widened block of w.
    let mut panel = [0.0f32; NC * KC];
    let mut k0 = 0;
    while k0 < k {
        let kc = KC.min(k - k0);
        let mut j0 = 0;
        while j0 < n {
            let nb = NC.min(n - j0);
            for r in 0..nb {
                let src = w16.add((j0 + r) * k + k0);
                let dst = panel.as_mut_ptr().add(r * KC);
                let mut p = 0;
                while p + LANES <= kc {
                    f16x4_to_f32(I32x4::load_u16_ptr(src.add(p))).store_ptr(dst.add(p));
                    p += LANES;
                }
                while p < kc {
                    *dst.add(p) = f16_bits_to_f32(*src.add(p));
                    p += 1;
                }
            }
            block(x, k, m, k0, kc, panel.as_ptr(), KC, nb, j0, b, y, n);
            j0 += NC;
        }
        k0 += KC;
    }
}

/// Reference GEMM: the textbook triple loop, summing `k` in order.
pub fn gemm_scalar(x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32], m: usize, k: usize, n: usize) {
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f32;
            for p in 0..k {
                s += x[i * k + p] * w[j * k + p];
            }
            y[i * n + j] = s + b.map_or(0.0, |b| b[j]);
        }
    }
}

/// Reference half-precision GEMM: widen each weight, then the triple loop.
pub fn gemm_f16_scalar(x: &[f32], w16: &[u16], b: Option<&[f32]>, y: &mut [f32], m: usize, k: usize, n: usize) {
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f32;
            for p in 0..k {
                s += x[i * k + p] * f16_bits_to_f32(w16[j * k + p]);
            }
            y[i * n + j] = s + b.map_or(0.0, |b| b[j]);
        }
    }
}
