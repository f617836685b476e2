//! Row normalisations over the last dimension of a `[rows][dim]` buffer: SimpleRMSNorm (every in-layer norm of
//! TNN) and affine LayerNorm (the final decoder norm and the encoder's embedding norm).
//!
//! As in `activation`, the `*_ptr` forms accept `y == x` (the ABI allows in-place calls); each row is read whole
//! before any of it is written.

use crate::activation::ELEMENTS_PER_TASK;
use crate::par::{self, SendPtr};
use crate::simd::{F32x4, LANES};

/// Runs `row(r)` for every row, split into ranges of rows across threads when there are enough elements (rows are
/// normalised independently).
#[inline(always)]
fn for_rows(rows: usize, dim: usize, row: impl Fn(usize) + Sync) {
    let pieces = par::pieces(rows * dim, ELEMENTS_PER_TASK).min(rows.max(1));
    par::for_each(pieces, |t, _| {
        let (lo, hi) = par::piece(t, pieces, rows, 1);
        (lo..hi).for_each(&row);
    });
}

/// Sum of `x[i]` and sum of `x[i]²` over a row, four lanes wide with two accumulators per sum.
///
/// # Safety
/// `x` readable for `n` floats.
#[inline(always)]
unsafe fn sum_and_squares(x: *const f32, n: usize) -> (f32, f32) {
    let mut s0 = F32x4::zero();
    let mut s1 = F32x4::zero();
    let mut q0 = F32x4::zero();
    let mut q1 = F32x4::zero();
    let mut i = 0;
    while i + 2 * LANES <= n {
        let a = F32x4::load_ptr(x.add(i));
        let b = F32x4::load_ptr(x.add(i + LANES));
        s0 = s0 + a;
        s1 = s1 + b;
        q0 = a.mul_add(a, q0);
        q1 = b.mul_add(b, q1);
        i += 2 * LANES;
    }
    if i + LANES <= n {
        let a = F32x4::load_ptr(x.add(i));
        s0 = s0 + a;
        q0 = a.mul_add(a, q0);
        i += LANES;
    }
    let mut s = (s0 + s1).reduce_sum();
    let mut q = (q0 + q1).reduce_sum();
    while i < n {
        let v = *x.add(i);
        s += v;
        q += v * v;
        i += 1;
    }
    (s, q)
}

/// Sum of `(x[i] - mean)²` over a row (the second pass of a two-pass variance, which does not cancel).
///
/// # Safety
/// `x` readable for `n` floats.
#[inline(always)]
unsafe fn centred_squares(x: *const f32, n: usize, mean: f32) -> f32 {
    let m = F32x4::splat(mean);
    let mut q0 = F32x4::zero();
    let mut q1 = F32x4::zero();
    let mut i = 0;
    while i + 2 * LANES <= n {
        let a = F32x4::load_ptr(x.add(i)) - m;
        let b = F32x4::load_ptr(x.add(i + LANES)) - m;
        q0 = a.mul_add(a, q0);
        q1 = b.mul_add(b, q1);
        i += 2 * LANES;
    }
    if i + LANES <= n {
        let a = F32x4::load_ptr(x.add(i)) - m;
        q0 = a.mul_add(a, q0);
        i += LANES;
    }
    let mut q = (q0 + q1).reduce_sum();
    while i < n {
        let v = *x.add(i) - mean;
        q += v * v;
        i += 1;
    }
    q
}

/// SimpleRMSNorm of each row: `y = x / (sqrt(mean(x²)) + eps)` (eps outside the root, as TNN has it).
pub fn simple_rms_norm(x: &[f32], y: &mut [f32], rows: usize, dim: usize, eps: f32) {
    assert!(x.len() >= rows * dim && y.len() >= rows * dim);
    // SAFETY: sizes checked; distinct slices cannot overlap.
    unsafe { simple_rms_norm_ptr(x.as_ptr(), y.as_mut_ptr(), rows, dim, eps) }
}

/// SimpleRMSNorm of each row, in place.
pub fn simple_rms_norm_in_place(xy: &mut [f32], rows: usize, dim: usize, eps: f32) {
    assert!(xy.len() >= rows * dim);
    let p = xy.as_mut_ptr();
    // SAFETY: each row is fully read before it is written.
    unsafe { simple_rms_norm_ptr(p, p, rows, dim, eps) }
}

/// SimpleRMSNorm of each row.
///
/// # Safety
/// `x` readable and `y` writable for `rows * dim` floats; `y == x` allowed, no other overlap.
pub unsafe fn simple_rms_norm_ptr(x: *const f32, y: *mut f32, rows: usize, dim: usize, eps: f32) {
    if dim == 0 {
        return;
    }
    let (xs, ys) = (SendPtr(x as *mut f32), SendPtr(y));
    for_rows(rows, dim, |r| {
        let xr = xs.get().add(r * dim);
        let yr = ys.get().add(r * dim);
        let (_, q) = sum_and_squares(xr, dim);
        let inv = 1.0 / ((q / dim as f32).sqrt() + eps);
        scale_row(xr, yr, dim, inv);
    });
}

#[inline(always)]
unsafe fn scale_row(x: *const f32, y: *mut f32, n: usize, s: f32) {
    let sv = F32x4::splat(s);
    let mut i = 0;
    while i + LANES <= n {
        (F32x4::load_ptr(x.add(i)) * sv).store_ptr(y.add(i));
        i += LANES;
    }
    while i < n {
        *y.add(i) = *x.add(i) * s;
        i += 1;
    }
}

/// Affine LayerNorm of each row: `y = (x - mean) / sqrt(var + eps) · gamma + beta`, biased variance.
pub fn layer_norm(x: &[f32], gamma: &[f32], beta: &[f32], y: &mut [f32], rows: usize, dim: usize, eps: f32) {
    assert!(x.len() >= rows * dim && y.len() >= rows * dim && gamma.len() >= dim && beta.len() >= dim);
    // SAFETY: sizes checked; distinct slices cannot overlap.
    unsafe { layer_norm_ptr(x.as_ptr(), gamma.as_ptr(), beta.as_ptr(), y.as_mut_ptr(), rows, dim, eps) }
}

/// Affine LayerNorm of each row, in place.
pub fn layer_norm_in_place(xy: &mut [f32], gamma: &[f32], beta: &[f32], rows: usize, dim: usize, eps: f32) {
    assert!(xy.len() >= rows * dim && gamma.len() >= dim && beta.len() >= dim);
    let p = xy.as_mut_ptr();
    // SAFETY: each row is fully read before it is written.
    unsafe { layer_norm_ptr(p, gamma.as_ptr(), beta.as_ptr(), p, rows, dim, eps) }
}

/// Affine LayerNorm of each row.
///
/// # Safety
/// `x` readable and `y` writable for `rows * dim` floats, `gamma` and `beta` readable for `dim`;
/// `y == x` allowed, no other overlap.
pub unsafe fn layer_norm_ptr(
    x: *const f32,
    gamma: *const f32,
    beta: *const f32,
    y: *mut f32,
    rows: usize,
    dim: usize,
    eps: f32,
) {
    if dim == 0 {
        return;
    }
    let (xs, gs, bs, ys) = (SendPtr(x as *mut f32), SendPtr(gamma as *mut f32), SendPtr(beta as *mut f32), SendPtr(y));
    for_rows(rows, dim, |r| {
        let (gamma, beta) = (gs.get() as *const f32, bs.get() as *const f32);
        let xr = xs.get().add(r * dim);
        let yr = ys.get().add(r * dim);
        let (s, _) = sum_and_squares(xr, dim);
        let mean = s / dim as f32;
        let var = centred_squares(xr, dim, mean) / dim as f32;
        let inv = 1.0 / (var + eps).sqrt();
        let mv = F32x4::splat(mean);
        let iv = F32x4::splat(inv);
        let mut i = 0;
        while i + LANES <= dim {
            let v = (F32x4::load_ptr(xr.add(i)) - mv) * iv;
            v.mul_add(F32x4::load_ptr(gamma.add(i)), F32x4::load_ptr(beta.add(i))).store_ptr(yr.add(i));
            i += LANES;
        }
        while i < dim {
            *yr.add(i) = (*xr.add(i) - mean) * inv * *gamma.add(i) + *beta.add(i);
            i += 1;
        }
    });
}

/// Reference SimpleRMSNorm (plain loops).
pub fn simple_rms_norm_scalar(x: &[f32], y: &mut [f32], rows: usize, dim: usize, eps: f32) {
    for r in 0..rows {
        let row = &x[r * dim..(r + 1) * dim];
        let q: f32 = row.iter().map(|v| v * v).sum();
        let inv = 1.0 / ((q / dim as f32).sqrt() + eps);
        for (o, &v) in y[r * dim..(r + 1) * dim].iter_mut().zip(row) {
            *o = v * inv;
        }
    }
}

/// Reference LayerNorm (plain loops).
pub fn layer_norm_scalar(x: &[f32], gamma: &[f32], beta: &[f32], y: &mut [f32], rows: usize, dim: usize, eps: f32) {
    for r in 0..rows {
        let row = &x[r * dim..(r + 1) * dim];
        let mean = row.iter().sum::<f32>() / dim as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / dim as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for (i, o) in y[r * dim..(r + 1) * dim].iter_mut().enumerate() {
            *o = (row[i] - mean) * inv * gamma[i] + beta[i];
        }
    }
}
