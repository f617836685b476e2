//! Stateless kernels: elementwise, norms, GEMM, conversions, embedding gather, RPE.
//! Functions documented "in place ok" accept `y == x`; they then call the kernel's in-place form, since Rust
//! slices may not alias.

use crate::memory::{slice, slice_mut};
use std::cell::RefCell;
use tnn_kernels::{activation, f16, gemm as g, norm, par, rpe};
use wasm_bindgen::prelude::*;

macro_rules! unary {
    ($name:ident, $in_place:ident) => {
        /// Elementwise; in place ok.
        #[wasm_bindgen]
        pub fn $name(x: usize, y: usize, n: usize) {
            if x == y {
                activation::$in_place(slice_mut(y, n));
            } else {
                activation::$name(slice(x, n), slice_mut(y, n));
            }
        }
    };
}
unary!(silu, silu_in_place);
unary!(relu, relu_in_place);
unary!(gelu, gelu_in_place);

macro_rules! binary {
    ($name:ident, $in_place:ident) => {
        /// Elementwise; in place ok (`y == a`, or `y == b` since both ops commute).
        #[wasm_bindgen]
        pub fn $name(a: usize, b: usize, y: usize, n: usize) {
            if y == a {
                activation::$in_place(slice_mut(y, n), slice(b, n));
            } else if y == b {
                activation::$in_place(slice_mut(y, n), slice(a, n));
            } else {
                activation::$name(slice(a, n), slice(b, n), slice_mut(y, n));
            }
        }
    };
}
binary!(mul, mul_in_place);
binary!(add, add_in_place);

/// `y = x · s`; in place ok.
#[wasm_bindgen]
pub fn scale(x: usize, s: f32, y: usize, n: usize) {
    if x == y {
        activation::scale_in_place(slice_mut(y, n), s);
    } else {
        activation::scale(slice(x, n), s, slice_mut(y, n));
    }
}

/// SimpleRMSNorm over rows; in place ok.
#[wasm_bindgen]
pub fn simple_rms_norm(x: usize, y: usize, rows: usize, dim: usize, eps: f32) {
    if x == y {
        norm::simple_rms_norm_in_place(slice_mut(y, rows * dim), rows, dim, eps);
    } else {
        norm::simple_rms_norm(slice(x, rows * dim), slice_mut(y, rows * dim), rows, dim, eps);
    }
}

/// Affine LayerNorm over rows; in place ok.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn layer_norm(x: usize, gamma: usize, beta: usize, y: usize, rows: usize, dim: usize, eps: f32) {
    let (gm, bt) = (slice(gamma, dim), slice(beta, dim));
    if x == y {
        norm::layer_norm_in_place(slice_mut(y, rows * dim), gm, bt, rows, dim, eps);
    } else {
        norm::layer_norm(slice(x, rows * dim), gm, bt, slice_mut(y, rows * dim), rows, dim, eps);
    }
}

/// `y[m][n] = x[m][k] · w[n][k]ᵀ + b[n]`; `b = 0`: no bias.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn gemm(x: usize, w: usize, b: usize, y: usize, m: usize, k: usize, n: usize) {
    let bias = (b != 0).then(|| slice(b, n));
    g::gemm(slice(x, m * k), slice(w, n * k), bias, slice_mut(y, m * n), m, k, n);
}

/// [`gemm`] with `w` as IEEE half bits.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn gemm_f16(x: usize, w16: usize, b: usize, y: usize, m: usize, k: usize, n: usize) {
    let bias = (b != 0).then(|| slice(b, n));
    g::gemm_f16(slice(x, m * k), slice(w16, n * k), bias, slice_mut(y, m * n), m, k, n);
}

#[wasm_bindgen]
pub fn f16_to_f32(src: usize, dst: usize, n: usize) {
    f16::f16_to_f32(slice(src, n), slice_mut(dst, n));
}

#[wasm_bindgen]
pub fn bf16_to_f32(src: usize, dst: usize, n: usize) {
    f16::bf16_to_f32(slice(src, n), slice_mut(dst, n));
}

#[wasm_bindgen]
pub fn f32_to_f16(src: usize, dst: usize, n: usize) {
    f16::f32_to_f16(slice(src, n), slice_mut(dst, n));
}

/// Rows `ids[i]` of `table[V][dim]` times `scale`; ids were range-checked by the caller.
#[wasm_bindgen]
pub fn embedding(table: usize, ids: usize, count: usize, dim: usize, vocab: usize, scale: f32, y: usize) {
    f16::embedding(slice(table, vocab * dim), slice(ids, count), dim, scale, slice_mut(y, count * dim));
}

#[wasm_bindgen]
pub fn embedding_f16(table: usize, ids: usize, count: usize, dim: usize, vocab: usize, scale: f32, y: usize) {
    f16::embedding_f16(slice(table, vocab * dim), slice(ids, count), dim, scale, slice_mut(y, count * dim));
}

thread_local! {
    // The RPE's scratch is reused across calls so evaluating coefficients never grows memory after the first call
    // of a given width.
    static RPE_SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// The RPE MLP at offsets `k_start ..= k_start + count - 1`, decayed by `gamma[c]^|k|` unless `gamma = 0`.
/// Ranges of offsets (whole blocks of the kernel's 64) run on the pool's threads, each with its own scratch; an
/// offset's row does not depend on the others.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn rpe_forward(params: usize, e: usize, layers: usize, d1: usize, k_start: i32, count: usize, gamma: usize, out: usize) {
    let p = slice(params, rpe::rpe_params_len(e, layers, d1));
    let gm = (gamma != 0).then(|| slice(gamma, d1));
    const ROWS: usize = 64;
    let pieces = par::pieces(count.div_ceil(ROWS), 2);
    par::for_each(pieces, |t, _| {
        let (lo, hi) = par::piece(t, pieces, count, ROWS);
        RPE_SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let need = rpe::rpe_scratch_len(e, d1);
            if s.len() < need {
                s.resize(need, 0.0);
            }
            let k0 = k_start + lo as i32;
            rpe::rpe_forward(p, e, layers, d1, k0, hi - lo, gm, slice_mut(out + 4 * lo * d1, (hi - lo) * d1), &mut s);
        });
    });
}
