//! The relative position encoder (RPE) of a TNO layer: a small MLP from a signed offset `k` to one Toeplitz
//! coefficient per channel, then the exponential decay `λ_c^|k|` for `k ≠ 0`.
//!
//! ```text
//! z = W_pos·k + b_pos                          Linear(1, e)
//! repeat R times: z = W_r·ReLU(SRMS(z)) + b_r   Linear(e, e)
//! t_k = W_out·ReLU(SRMS(z)) + b_out             Linear(e, d1)
//! ```
//!
//! A bidirectional layer at n = 65536 needs 131071 offsets × d1 = 2304 outputs, so offsets are evaluated in blocks
//! of `BLOCK` rows and every Linear runs as a GEMM over the block; the output layer writes straight into `out`.

use crate::activation::relu_in_place;
use crate::gemm::gemm;
use crate::norm::simple_rms_norm_in_place;
use crate::simd::{exp, F32x4, LANES};

/// The SimpleRMSNorm epsilon inside the RPE (the official code's default).
pub const RPE_NORM_EPS: f32 = 1e-8;

/// Offsets per block: big enough that the `(e × e)` GEMMs reuse their weights, small enough that the two `[BLOCK][e]`
/// activations stay in L1/L2 cache.
const BLOCK: usize = 64;

/// Floats in the packed parameter buffer:
/// `pos_w[e], pos_b[e], (w_r[e][e], b_r[e]) for r in 0..layers, out_w[d1][e], out_b[d1]`.
pub fn rpe_params_len(e: usize, layers: usize, d1: usize) -> usize {
    2 * e + layers * (e * e + e) + d1 * e + d1
}

/// Floats of scratch [`rpe_forward`] needs.
pub fn rpe_scratch_len(e: usize, d1: usize) -> usize {
    2 * BLOCK * e + d1
}

/// The packed parameters, split into named slices.
struct Params<'a> {
    pos_w: &'a [f32],
    pos_b: &'a [f32],
    /// `layers` consecutive `(w_r[e][e], b_r[e])` pairs.
    hidden: &'a [f32],
    e: usize,
    out_w: &'a [f32],
    out_b: &'a [f32],
}

impl<'a> Params<'a> {
    /// Weight and bias of hidden layer after hidden layer.
    fn layers(&self) -> impl Iterator<Item = (&'a [f32], &'a [f32])> + '_ {
        let e = self.e;
        self.hidden.chunks_exact(e * e + e).map(move |l| l.split_at(e * e))
    }
}

fn split(params: &[f32], e: usize, layers: usize, d1: usize) -> Params<'_> {
    assert!(e > 0, "rpe: e must be positive");
    assert!(params.len() >= rpe_params_len(e, layers, d1), "rpe: parameter buffer too small");
    let (pos_w, rest) = params.split_at(e);
    let (pos_b, rest) = rest.split_at(e);
    let (hidden, rest) = rest.split_at(layers * (e * e + e));
    let (out_w, rest) = rest.split_at(d1 * e);
    let out_b = &rest[..d1];
    Params { pos_w, pos_b, hidden, e, out_w, out_b }
}

/// Evaluates the RPE at offsets `k_start .. k_start + count` into `out[count][d1]`, decayed by `gamma[c]^|k|` for
/// `k ≠ 0` when `gamma` is given. `scratch` needs [`rpe_scratch_len`] floats.
#[allow(clippy::too_many_arguments)]
pub fn rpe_forward(
    params: &[f32],
    e: usize,
    layers: usize,
    d1: usize,
    k_start: i32,
    count: usize,
    gamma: Option<&[f32]>,
    out: &mut [f32],
    scratch: &mut [f32],
) {
    assert!(out.len() >= count * d1, "rpe: output buffer too small");
    assert!(scratch.len() >= rpe_scratch_len(e, d1), "rpe: scratch too small");
    let p = split(params, e, layers, d1);
    let (za, rest) = scratch.split_at_mut(BLOCK * e);
    let (zb, rest) = rest.split_at_mut(BLOCK * e);
    let log_gamma = &mut rest[..d1];
    if let Some(g) = gamma {
        assert!(g.len() >= d1, "rpe: gamma shorter than d1");
        for (l, &gc) in log_gamma.iter_mut().zip(g) {
            *l = (gc as f64).ln() as f32;
        }
    }

    let mut start = 0;
    while start < count {
        let rows = BLOCK.min(count - start);
        let mut z = &mut za[..rows * e];
        let mut z_next = &mut zb[..rows * e];
        for (i, zr) in z.chunks_exact_mut(e).enumerate() {
            let k = (k_start as i64 + (start + i) as i64) as f32;
            for ((v, &w), &b) in zr.iter_mut().zip(p.pos_w).zip(p.pos_b) {
                *v = w * k + b;
            }
        }
        for (w, b) in p.layers() {
            simple_rms_norm_in_place(z, rows, e, RPE_NORM_EPS);
            relu_in_place(z);
            gemm(z, w, Some(b), z_next, rows, e, e);
            core::mem::swap(&mut z, &mut z_next);
        }
        simple_rms_norm_in_place(z, rows, e, RPE_NORM_EPS);
        relu_in_place(z);
        let block_out = &mut out[start * d1..(start + rows) * d1];
        gemm(z, p.out_w, Some(p.out_b), block_out, rows, e, d1);

        if gamma.is_some() {
            for (i, row) in block_out.chunks_exact_mut(d1).enumerate() {
                let k = k_start as i64 + (start + i) as i64;
                if k != 0 {
                    decay_row(row, log_gamma, k.unsigned_abs() as f32);
                }
            }
        }
        start += rows;
    }
}

/// `row[c] *= exp(dist · ln γ_c)`. The f32 product `dist · ln γ_c` costs a relative error of about
/// `|dist · ln γ_c| · 2^-24` in the factor, i.e. under 1e-6 wherever the factor is above 1e-4.
fn decay_row(row: &mut [f32], log_gamma: &[f32], dist: f32) {
    let d = F32x4::splat(dist);
    let n = row.len();
    let mut c = 0;
    while c + LANES <= n {
        let f = exp(d * F32x4::load(log_gamma, c));
        (F32x4::load(row, c) * f).store(row, c);
        c += LANES;
    }
    while c < n {
        let mut t = [0.0f32; LANES];
        t[0] = log_gamma[c];
        row[c] *= exp(d * F32x4::load(&t, 0)).to_array()[0];
        c += 1;
    }
}

/// Reference RPE: one offset at a time, plain loops, `powf` for the decay.
#[allow(clippy::too_many_arguments)]
pub fn rpe_forward_scalar(
    params: &[f32],
    e: usize,
    layers: usize,
    d1: usize,
    k_start: i32,
    count: usize,
    gamma: Option<&[f32]>,
    out: &mut [f32],
) {
    let p = split(params, e, layers, d1);
    let srms_relu = |z: &[f32]| -> Vec<f32> {
        let rms = (z.iter().map(|v| v * v).sum::<f32>() / e as f32).sqrt();
        z.iter().map(|v| (v / (rms + RPE_NORM_EPS)).max(0.0)).collect()
    };
    let linear = |w: &[f32], b: &[f32], h: &[f32], outs: usize| -> Vec<f32> {
        (0..outs).map(|o| b[o] + (0..e).map(|i| w[o * e + i] * h[i]).sum::<f32>()).collect()
    };
    for idx in 0..count {
        let k = k_start as i64 + idx as i64;
        let mut z: Vec<f32> = (0..e).map(|i| p.pos_w[i] * k as f32 + p.pos_b[i]).collect();
        for (w, b) in p.layers() {
            z = linear(w, b, &srms_relu(&z), e);
        }
        let t = linear(p.out_w, p.out_b, &srms_relu(&z), d1);
        for c in 0..d1 {
            let decay = match gamma {
                Some(g) if k != 0 => g[c].powf(k.unsigned_abs() as f32),
                _ => 1.0,
            };
            out[idx * d1 + c] = t[c] * decay;
        }
    }
}
