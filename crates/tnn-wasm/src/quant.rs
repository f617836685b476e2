//! Int8 weights (symmetric, one scale per output row): quantisation, GEMM and embedding gather. `q` buffers are i8,
//! `scales` f32, one per row of the weight or table.

use crate::memory::{slice, slice_mut};
use tnn_kernels::quant as qk;
use wasm_bindgen::prelude::*;

/// Quantises `w[rows][cols]` into `q[rows][cols]` (i8 in [-127, 127]) and `scales[rows]`: `scale = max|row| / 127`,
/// round to nearest even. Weights must be finite (checked by the caller; a NaN or infinity aborts).
#[wasm_bindgen]
pub fn quantize_rows_i8(w: usize, rows: usize, cols: usize, q: usize, scales: usize) {
    qk::quantize_rows_i8(slice(w, rows * cols), rows, cols, slice_mut(q, rows * cols), slice_mut(scales, rows));
}

/// `y[m][n] = x[m][k] · (scales ⊙ q)[n][k]ᵀ + b[n]` with `q` i8 and `scales[n]`; `b = 0`: no bias. `y` must not alias.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn gemm_i8(x: usize, q: usize, scales: usize, b: usize, y: usize, m: usize, k: usize, n: usize) {
    let bias = (b != 0).then(|| slice(b, n));
    qk::gemm_i8(slice(x, m * k), slice(q, n * k), slice(scales, n), bias, slice_mut(y, m * n), m, k, n);
}

/// Rows `ids[i]` of the i8 `table[vocab][dim]`, dequantised by `scales[vocab]`, times `scale`; ids were
/// range-checked by the caller.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn embedding_i8(
    table: usize,
    scales: usize,
    ids: usize,
    count: usize,
    dim: usize,
    vocab: usize,
    scale: f32,
    y: usize,
) {
    let t = slice(table, vocab * dim);
    qk::embedding_i8(t, slice(scales, vocab), slice(ids, count), dim, scale, slice_mut(y, count * dim));
}
