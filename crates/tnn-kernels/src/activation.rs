//! Elementwise kernels: SiLU, ReLU, GELU (erf form), product, sum and scaling.
//!
//! Each kernel exists in three shapes: `name(x, y)` out of place, `name_in_place(xy)`, and `unsafe name_ptr` on raw
//! pointers that may be equal (the wasm binding calls this one, since the ABI allows `y == x`, which two Rust
//! slices may not express). The `*_scalar` twins are the plain-loop references for the tests.
//!
//! A tail shorter than one vector is run through the same vector code on a padded copy, so the last elements of
//! a buffer are computed exactly like the others.

use crate::par::{self, SendPtr};
use crate::simd::{exp, F32x4, I32x4, LANES};

/// Elements below which an elementwise kernel is not split across threads: a task must stream enough memory to pay
/// for waking a thread. Pieces start on multiples of four, so every element goes through the same vector code.
pub(crate) const ELEMENTS_PER_TASK: usize = 1 << 15;

/// Applies `f` to `n` floats from `x` into `y`, four at a time.
///
/// # Safety
/// `x` readable and `y` writable for `n` floats; they may be equal but must not otherwise overlap.
#[inline(always)]
unsafe fn map_ptr(x: *const f32, y: *mut f32, n: usize, f: impl Fn(F32x4) -> F32x4 + Sync) {
    let pieces = par::pieces(n, ELEMENTS_PER_TASK);
    if pieces == 1 {
        return map_range(x, y, n, &f);
    }
    let (xs, ys) = (SendPtr(x as *mut f32), SendPtr(y));
    par::for_each(pieces, |t, _| {
        let (lo, hi) = par::piece(t, pieces, n, LANES);
        map_range(xs.get().add(lo), ys.get().add(lo), hi - lo, &f);
    });
}

/// [`map_ptr`] on one thread.
///
/// # Safety
/// As for [`map_ptr`].
#[inline(always)]
unsafe fn map_range(x: *const f32, y: *mut f32, n: usize, f: &impl Fn(F32x4) -> F32x4) {
    let body = n - n % LANES;
    let mut i = 0;
    while i < body {
        f(F32x4::load_ptr(x.add(i))).store_ptr(y.add(i));
        i += LANES;
    }
    if i < n {
        let mut t = [0.0f32; LANES];
        for (k, v) in t.iter_mut().enumerate().take(n - i) {
            *v = *x.add(i + k);
        }
        let r = f(F32x4::load(&t, 0)).to_array();
        for (k, v) in r.iter().enumerate().take(n - i) {
            *y.add(i + k) = *v;
        }
    }
}

/// Combines `a` and `b` elementwise into `y`, four at a time.
///
/// # Safety
/// `a`, `b` readable and `y` writable for `n` floats; `y` may equal `a` and/or `b` but must not partly overlap them.
#[inline(always)]
unsafe fn zip_ptr(a: *const f32, b: *const f32, y: *mut f32, n: usize, f: impl Fn(F32x4, F32x4) -> F32x4 + Sync) {
    let pieces = par::pieces(n, ELEMENTS_PER_TASK);
    if pieces == 1 {
        return zip_range(a, b, y, n, &f);
    }
    let (as_, bs, ys) = (SendPtr(a as *mut f32), SendPtr(b as *mut f32), SendPtr(y));
    par::for_each(pieces, |t, _| {
        let (lo, hi) = par::piece(t, pieces, n, LANES);
        zip_range(as_.get().add(lo), bs.get().add(lo), ys.get().add(lo), hi - lo, &f);
    });
}

/// [`zip_ptr`] on one thread.
///
/// # Safety
/// As for [`zip_ptr`].
#[inline(always)]
unsafe fn zip_range(a: *const f32, b: *const f32, y: *mut f32, n: usize, f: &impl Fn(F32x4, F32x4) -> F32x4) {
    let body = n - n % LANES;
    let mut i = 0;
    while i < body {
        f(F32x4::load_ptr(a.add(i)), F32x4::load_ptr(b.add(i))).store_ptr(y.add(i));
        i += LANES;
    }
    if i < n {
        let mut ta = [0.0f32; LANES];
        let mut tb = [0.0f32; LANES];
        for k in 0..n - i {
            ta[k] = *a.add(i + k);
            tb[k] = *b.add(i + k);
        }
        let r = f(F32x4::load(&ta, 0), F32x4::load(&tb, 0)).to_array();
        for (k, v) in r.iter().enumerate().take(n - i) {
            *y.add(i + k) = *v;
        }
    }
}

macro_rules! unary_kernel {
    ($(#[$doc:meta])* $name:ident, $in_place:ident, $ptr:ident, $vec:ident) => {
        $(#[$doc])*
        pub fn $name(x: &[f32], y: &mut [f32]) {
            assert_eq!(x.len(), y.len());
            // SAFETY: lengths checked; distinct slices cannot overlap.
            unsafe { $ptr(x.as_ptr(), y.as_mut_ptr(), x.len()) }
        }
        $(#[$doc])*
        pub fn $in_place(xy: &mut [f32]) {
            let p = xy.as_mut_ptr();
            // SAFETY: reading and writing the same elements, each read before its write.
            unsafe { $ptr(p, p, xy.len()) }
        }
        $(#[$doc])*
        ///
        /// # Safety
        /// `x` readable and `y` writable for `n` floats; `y == x` is allowed, any other overlap is not.
        pub unsafe fn $ptr(x: *const f32, y: *mut f32, n: usize) {
            map_ptr(x, y, n, $vec)
        }
    };
}

macro_rules! binary_kernel {
    ($(#[$doc:meta])* $name:ident, $in_place:ident, $ptr:ident, $op:ident) => {
        $(#[$doc])*
        pub fn $name(a: &[f32], b: &[f32], y: &mut [f32]) {
            assert!(a.len() == y.len() && b.len() == y.len());
            // SAFETY: lengths checked; distinct slices cannot overlap.
            unsafe { $ptr(a.as_ptr(), b.as_ptr(), y.as_mut_ptr(), y.len()) }
        }
        $(#[$doc])*
        /// Here `ay` is both the first operand and the output.
        pub fn $in_place(ay: &mut [f32], b: &[f32]) {
            assert_eq!(ay.len(), b.len());
            let p = ay.as_mut_ptr();
            // SAFETY: the output is exactly the first input; `b` is a distinct slice.
            unsafe { $ptr(p, b.as_ptr(), p, b.len()) }
        }
        $(#[$doc])*
        ///
        /// # Safety
        /// `a`, `b` readable and `y` writable for `n` floats; `y` may equal `a` and/or `b`, no other overlap.
        pub unsafe fn $ptr(a: *const f32, b: *const f32, y: *mut f32, n: usize) {
            zip_ptr(a, b, y, n, |u, v| u.$op(v))
        }
    };
}

#[inline(always)]
fn silu_vec(x: F32x4) -> F32x4 {
    x / (F32x4::splat(1.0) + exp(-x))
}

#[inline(always)]
fn relu_vec(x: F32x4) -> F32x4 {
    // max keeps a NaN input (pmax returns its first operand unless it is smaller), as torch.relu does.
    x.max(F32x4::zero())
}

// erf is split at |z| = 1. Below, erf(z)/z is a degree-6 polynomial in z² (minimax on [0, 1] against Python's
// math.erf, error 1.2e-9). Above, erfc(z) = exp(-z²)·P(z)/Q(z) with P, Q of degree 4 and 5 (relative minimax on
// [0.9, 10] against mpmath, error 1.5e-10; past 10, e^{-z²} underflows f32 anyway). Working with erfc on the large side
// keeps 1 + erf(z) accurate to a few ulp even when it is tiny (GELU of large negative inputs), which a single
// rational erf ≈ z·P(z²)/Q(z²) cannot: its f32 rounding alone is ~3e-7 absolute. Fitted by Lawson-weighted least
// squares in float64; coefficients rounded to f32.
const ERF_SMALL: [f32; 7] = [
    // The fit's leading coefficient rounds to the same f32 as erf's slope at 0.
    core::f32::consts::FRAC_2_SQRT_PI,
    -0.37612626,
    0.112_836,
    -0.026854452,
    0.0051895506,
    -0.00080209866,
    7.889636e-05,
];
const ERFC_P: [f32; 5] = [1.0000707, 1.3656741, 0.88131166, 0.30704826, 0.05322526];
const ERFC_Q: [f32; 6] = [1.0, 2.494581, 2.6942747, 1.609119, 0.5442357, 0.09433917];

/// `e^{-x²/2}` without the rounding of `x²`: with `x_hi` = `x` cut to 12 significant bits, `x_hi²/2` is exact and
/// `x²/2 = x_hi²/2 + (x - x_hi)(x + x_hi)/2` leaves only a small, accurately computed remainder. A plain
/// `exp(-x*x/2)` would carry a relative error of about `x²·2^-24` (1e-5 at x = -10), which GELU's tail would keep.
#[inline(always)]
fn gauss_vec(x: F32x4) -> F32x4 {
    let hi = x.to_bits().and(I32x4::splat(0xffff_f000u32 as i32)).from_bits();
    let half = F32x4::splat(-0.5);
    exp(hi * hi * half) * exp((x - hi) * (x + hi) * half)
}

fn gauss_scalar(x: f32) -> f32 {
    let hi = f32::from_bits(x.to_bits() & 0xffff_f000);
    (hi * hi * -0.5).exp() * ((x - hi) * (x + hi) * -0.5).exp()
}

/// `erf(z)/z` for |z| < 1.
#[inline(always)]
fn erf_small_vec(s: F32x4) -> F32x4 {
    let mut p = F32x4::splat(ERF_SMALL[6]);
    for &c in ERF_SMALL[..6].iter().rev() {
        p = p.mul_add(s, F32x4::splat(c));
    }
    p
}

fn erf_small_scalar(s: f32) -> f32 {
    let mut p = ERF_SMALL[6];
    for &c in ERF_SMALL[..6].iter().rev() {
        p = p * s + c;
    }
    p
}

/// `erfc(a)·e^{a²}` for a >= 1.
#[inline(always)]
fn erfc_scaled_vec(a: F32x4) -> F32x4 {
    let mut num = F32x4::splat(ERFC_P[4]);
    for &c in ERFC_P[..4].iter().rev() {
        num = num.mul_add(a, F32x4::splat(c));
    }
    let mut den = F32x4::splat(ERFC_Q[5]);
    for &c in ERFC_Q[..5].iter().rev() {
        den = den.mul_add(a, F32x4::splat(c));
    }
    num / den
}

fn erfc_scaled_scalar(a: f32) -> f32 {
    let mut num = ERFC_P[4];
    for &c in ERFC_P[..4].iter().rev() {
        num = num * a + c;
    }
    let mut den = ERFC_Q[5];
    for &c in ERFC_Q[..5].iter().rev() {
        den = den * a + c;
    }
    num / den
}

#[inline(always)]
fn gelu_vec(x: F32x4) -> F32x4 {
    let z = x * F32x4::splat(core::f32::consts::FRAC_1_SQRT_2);
    let a = z.abs();
    let small = F32x4::splat(1.0) + z * erf_small_vec(z * z);
    // e^{-z²} = e^{-x²/2}, taken from x so that rounding z costs nothing.
    let erfc = gauss_vec(x) * erfc_scaled_vec(a);
    let large = z.lt(F32x4::zero()).select(erfc, F32x4::splat(2.0) - erfc);
    let one_plus_erf = a.lt(F32x4::splat(1.0)).select(small, large);
    F32x4::splat(0.5) * x * one_plus_erf
}

/// The error function in `f32`: absolute error within a few ulp of 1 (about 1.5e-7), relative error about 1e-7
/// for small arguments.
pub fn erf(z: f32) -> f32 {
    let a = z.abs();
    if a < 1.0 {
        z * erf_small_scalar(z * z)
    } else {
        // e^{-z²} = gauss(z·√2) would need z·√2 exactly; split z² directly instead.
        let hi = f32::from_bits(z.to_bits() & 0xffff_f000);
        let g = (-(hi * hi)).exp() * (-((z - hi) * (z + hi))).exp();
        let r = 1.0 - g * erfc_scaled_scalar(a);
        if z < 0.0 {
            -r
        } else {
            r
        }
    }
}

fn gelu_one(x: f32) -> f32 {
    let z = x * core::f32::consts::FRAC_1_SQRT_2;
    let a = z.abs();
    let one_plus_erf = if a < 1.0 {
        1.0 + z * erf_small_scalar(z * z)
    } else {
        let erfc = gauss_scalar(x) * erfc_scaled_scalar(a);
        if z < 0.0 {
            erfc
        } else {
            2.0 - erfc
        }
    };
    0.5 * x * one_plus_erf
}

unary_kernel!(
    /// SiLU: `y = x / (1 + e^{-x})`.
    silu, silu_in_place, silu_ptr, silu_vec
);
unary_kernel!(
    /// ReLU: `y = max(x, 0)`; NaN stays NaN.
    relu, relu_in_place, relu_ptr, relu_vec
);
unary_kernel!(
    /// GELU in the exact (erf) form: `y = x/2 · (1 + erf(x/√2))`.
    gelu, gelu_in_place, gelu_ptr, gelu_vec
);
binary_kernel!(
    /// Elementwise product `y = a ⊙ b`.
    mul, mul_in_place, mul_ptr, mul
);
binary_kernel!(
    /// Elementwise sum `y = a + b`.
    add, add_in_place, add_ptr, add
);

/// Scaling `y = s · x`.
pub fn scale(x: &[f32], s: f32, y: &mut [f32]) {
    assert_eq!(x.len(), y.len());
    // SAFETY: lengths checked; distinct slices cannot overlap.
    unsafe { scale_ptr(x.as_ptr(), s, y.as_mut_ptr(), x.len()) }
}

/// Scaling `xy *= s`.
pub fn scale_in_place(xy: &mut [f32], s: f32) {
    let p = xy.as_mut_ptr();
    // SAFETY: reading and writing the same elements, each read before its write.
    unsafe { scale_ptr(p, s, p, xy.len()) }
}

/// Scaling `y = s · x`.
///
/// # Safety
/// `x` readable and `y` writable for `n` floats; `y == x` is allowed, any other overlap is not.
pub unsafe fn scale_ptr(x: *const f32, s: f32, y: *mut f32, n: usize) {
    let sv = F32x4::splat(s);
    map_ptr(x, y, n, |v| v * sv)
}

/// Reference SiLU with the standard library's `exp`.
pub fn silu_scalar(x: &[f32], y: &mut [f32]) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o = v / (1.0 + (-v).exp());
    }
}

/// Reference ReLU.
pub fn relu_scalar(x: &[f32], y: &mut [f32]) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o = if v < 0.0 { 0.0 } else { v };
    }
}

/// Reference GELU (same erf approximation, scalar arithmetic, standard `exp`).
pub fn gelu_scalar(x: &[f32], y: &mut [f32]) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o = gelu_one(v);
    }
}

/// Reference product.
pub fn mul_scalar(a: &[f32], b: &[f32], y: &mut [f32]) {
    for ((o, &u), &v) in y.iter_mut().zip(a).zip(b) {
        *o = u * v;
    }
}

/// Reference sum.
pub fn add_scalar(a: &[f32], b: &[f32], y: &mut [f32]) {
    for ((o, &u), &v) in y.iter_mut().zip(a).zip(b) {
        *o = u + v;
    }
}

/// Reference scaling.
pub fn scale_scalar(x: &[f32], s: f32, y: &mut [f32]) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o = s * v;
    }
}
