//! Int8 weight storage: symmetric quantisation with one scale per output row, the dense layer and the embedding
//! lookup that read such weights.
//!
//! A row `w[j][:]` is stored as `q[j][:]` (i8 in `[-127, 127]`) and `scales[j] = max|w[j][:]| / 127`, so that
//! `w[j][p] ≈ scales[j] · q[j][p]`. Because the scale belongs to the output row it factors out of the dot product:
//! `y[i][j] = scales[j] · Σ_p x[i][p] · q[j][p] + b[j]`, and the kernels sum the integers (exact in f32) against
//! `x` and scale once per output.
//!
//! Decoding (one or two rows of `x`) is a GEMV bound by memory traffic: reading one byte per weight instead of two
//! or four is the point of the format, so it widens the bytes in registers straight from `q`, four rows at a time,
//! and never writes them back out. Prefill widens each block of `q` into the f32 panel of [`crate::gemm`] and runs
//! its register-blocked microkernel, like `gemm_f16`; the scales and bias are applied in a last pass over `y`.
//!
//! Widening eight bytes is one `i16x8.load8x8_s`, two `i32x4.extend_*_i16x8_s` and two `f32x4.convert_i32x4_s` in
//! simd128 (`F32x4::load_i8x8_ptr`, with a portable twin for host tests).
//!
//! The GEMV (fewer than [`PACK_MIN_ROWS`] rows) does not widen to f32 at all: it first rounds each row of `x` to
//! 16-bit codes with one scale (`x ≈ sx · xq`, `sx = max|x| / 32767`, so `|x − sx·xq| ≤ sx/2`: 250 times finer than
//! the weights' own rounding), then sums `xq · q` exactly in integers with `i32x4.dot_i16x8_s`, 16 weights per
//! three vector ops instead of ten, and scales once: `y[j] = (Σ xq·q) · (sx · scales[j]) + b[j]`. The sums are exact,
//! so the SIMD kernel and its scalar twin agree bit for bit. A row holding a NaN or an infinity has no scale; it takes
//! the f32 path, which carries the NaN or infinity into `y` as an f32 product would.
//!
//! Timed in Node 20 (simd128, one core of a shared AMD EPYC; `node benches/gemv.mjs`), `m = 1, k = 512, n = 1536`: 23
//! GFLOP/s with the weights cache-resident (f32 `gemm` 40, `gemm_f16` then 7.5), and 20–22 GFLOP/s cycling through 96
//! MB of such matrices, where f32 falls to 7.4 and f16 to 5.4: the widening is ALU-bound at about 10 vector ops per 8
//! weights, the f32 path memory-bound. Placing each byte in the top of an i32 lane with one swizzle (skipping the sign
//! extension) ran slower, 16 GFLOP/s: LLVM turns the constant swizzle into a two-input `i8x16.shuffle`. Eight rows per
//! tile gained nothing. Packing from `m = 3` ran 33 GFLOP/s there against 24 for three GEMVs; at `m = 2` cache-resident
//! runs were too noisy to separate them and two GEMVs led when streaming (22 against 17.5).

// Tiles are indexed arrays: index loops say which accumulator meets which operand.
#![allow(clippy::needless_range_loop, clippy::too_many_arguments)]

use crate::gemm::{gemm_ptr, packed, LDP};
use crate::par::{self, SendPtr};
use crate::simd::{F32x4, I32x4};

/// Rows of `q` per GEMV tile: their four sums reduce together, and 4 rows × 2 accumulators plus the two `x` vectors
/// and the widened weights fit V8's 16 xmm registers.
const QR: usize = 4;
/// Rows of `x` from which widening each block of `q` once into a shared f32 panel beats widening it again for
/// every row in the GEMV.
const PACK_MIN_ROWS: usize = 3;
/// Bytes widened per step.
const STEP: usize = 8;
/// Largest activation code: `x` rounds to `[-32767, 32767]`.
const X_CODES: f32 = 32767.0;
/// Weights per block of the integer GEMV whose lane sums cannot overflow i32: each lane adds `CHUNK / 4` products
/// of at most `32767 · 127`, 1.07e9 < 2^31.
const CHUNK: usize = 1024;
/// Weights per integer step (one `dot_i8x16_i16_add`).
const ISTEP: usize = 16;

/// Rounds `x` to 16-bit codes with one scale: `x[p] ≈ scale · xq[p]`, `scale = max|x| / 32767`, codes in
/// `[-32767, 32767]` (ties to even), `|x[p] − scale·xq[p]| ≤ scale / 2` up to f32 rounding. An all-zero row gets scale
/// 0. `None` (and `xq` unspecified) when `x` holds a NaN or an infinity.
pub fn quantize_row_i16(x: &[f32], xq: &mut [i16]) -> Option<f32> {
    let mut max = 0.0f32;
    for &v in x {
        if !v.is_finite() {
            return None;
        }
        max = max.max(v.abs());
    }
    if max == 0.0 {
        xq[..x.len()].fill(0);
        return Some(0.0);
    }
    let inv = X_CODES / max;
    for (o, &v) in xq.iter_mut().zip(x) {
        *o = (v * inv).round_ties_even().clamp(-X_CODES, X_CODES) as i16;
    }
    Some(max / X_CODES)
}

/// Widens `len` bytes at `src` into `f32` at `dst`.
///
/// # Safety
/// `src` readable for `len` bytes, `dst` writable for `len` floats.
#[inline(always)]
unsafe fn widen_row(src: *const i8, dst: *mut f32, len: usize) {
    let mut p = 0;
    while p + STEP <= len {
        let (lo, hi) = F32x4::load_i8x8_ptr(src.add(p));
        lo.store_ptr(dst.add(p));
        hi.store_ptr(dst.add(p + 4));
        p += STEP;
    }
    while p < len {
        *dst.add(p) = *src.add(p) as f32;
        p += 1;
    }
}

/// Quantises each row of `w[rows][cols]` to `q[rows][cols]` with `scales[rows]`: `scale = max|row| / 127`,
/// `q = round(w / scale)` clamped to `[-127, 127]`, so `|w - scale·q| ≤ scale/2` up to f32 rounding and `-128`
/// never occurs (the range stays symmetric, so negating a row negates its codes). An all-zero row gets scale 0 and
/// codes 0.
///
/// Rounding is to nearest, ties to even: it is what PyTorch's `quantize_per_channel` does, and it does not bias
/// exact ties (common when the weights come from an f16/bf16 checkpoint, a coarse grid) away from zero.
///
/// The bound holds while the scale is a normal float (`max|row| ≥ 127 · 2^-126 ≈ 1.5e-36`); below that the scale
/// loses bits and the clamp keeps the codes in range, and under `127 · 2^-149` the row quantises to zeros.
///
/// # Panics
/// When a buffer is too short, or on a NaN or infinite weight (the TS layer validates first; a non-finite weight
/// has no meaningful scale).
pub fn quantize_rows_i8(w: &[f32], rows: usize, cols: usize, q: &mut [i8], scales: &mut [f32]) {
    assert!(
        w.len() >= rows * cols && q.len() >= rows * cols && scales.len() >= rows,
        "quantize_rows_i8: buffers too small for rows={rows} cols={cols}"
    );
    for r in 0..rows {
        let row = &w[r * cols..(r + 1) * cols];
        let mut max = 0.0f32;
        for (c, &v) in row.iter().enumerate() {
            // No `{v}` in the message: formatting a float would pull about 10 KB (gzipped) of core::fmt into the
            // wasm module.
            assert!(v.is_finite(), "quantize_rows_i8: non-finite weight at row {r}, column {c}");
            max = max.max(v.abs());
        }
        let scale = max / 127.0;
        scales[r] = scale;
        let out = &mut q[r * cols..(r + 1) * cols];
        if scale == 0.0 {
            out.fill(0);
            continue;
        }
        // Divide by the stored scale itself (not multiply by 127/max, a different rounded number): the code is then
        // the nearest one for the scale that dequantises it, off only by the quotient's one rounding.
        for (o, &v) in out.iter_mut().zip(row) {
            *o = (v / scale).round_ties_even().clamp(-127.0, 127.0) as i8;
        }
    }
}

fn check_shapes(x: usize, q: usize, scales: usize, b: Option<&[f32]>, y: usize, m: usize, k: usize, n: usize) {
    assert!(
        x >= m * k && q >= n * k && scales >= n && y >= m * n,
        "gemm_i8: buffers too small for m={m} k={k} n={n}"
    );
    if let Some(b) = b {
        assert!(b.len() >= n, "gemm_i8: bias shorter than n={n}");
    }
}

/// `y[m][n] = x[m][k] · (scales ⊙ q)[n][k]ᵀ + b[n]`, i.e. `y[i][j] = scales[j] · Σ_p x[i][p] · q[j][p] + b[j]`
/// (no bias when `b` is `None`), with `q`, `scales` as written by [`quantize_rows_i8`]; arithmetic in f32.
///
/// # Panics
/// When a buffer is shorter than its shape needs.
pub fn gemm_i8(
    x: &[f32],
    q: &[i8],
    scales: &[f32],
    b: Option<&[f32]>,
    y: &mut [f32],
    m: usize,
    k: usize,
    n: usize,
) {
    check_shapes(x.len(), q.len(), scales.len(), b, y.len(), m, k, n);
    let bp = b.map_or(core::ptr::null(), |b| b.as_ptr());
    // SAFETY: shapes checked above; `y` is a distinct mutable slice.
    unsafe { gemm_i8_ptr(x.as_ptr(), q.as_ptr(), scales.as_ptr(), bp, y.as_mut_ptr(), m, k, n) }
}

/// Pointer form of [`gemm_i8`]; `b` may be null.
///
/// # Safety
/// `x` readable for `m*k` f32, `q` for `n*k` i8, `scales` for `n` f32, `b` null or readable for `n`, `y` writable
/// for `m*n` and overlapping none of them.
pub unsafe fn gemm_i8_ptr(
    x: *const f32,
    q: *const i8,
    scales: *const f32,
    b: *const f32,
    y: *mut f32,
    m: usize,
    k: usize,
    n: usize,
) {
    if k == 0 {
        gemm_ptr(x, core::ptr::null(), b, y, m, 0, n);
        return;
    }
    let (xs, qs, ss, bs, ys) = (SendPtr(x as *mut f32), SendPtr(q as *mut i8), SendPtr(scales as *mut f32), SendPtr(b as *mut f32), SendPtr(y));
    if m < PACK_MIN_ROWS {
        // Each row of x rounded to 16-bit codes once, shared by every task.
        let mut codes = vec![0i16; m * k];
        let row_scales: Vec<Option<f32>> =
            (0..m).map(|i| quantize_row_i16(core::slice::from_raw_parts(x.add(i * k), k), &mut codes[i * k..(i + 1) * k])).collect();
        let cs = SendPtr(codes.as_mut_ptr());
        // Tasks take ranges of rows of `q` (output columns), in multiples of the GEMV tile.
        let pieces = par::pieces(n, GEMV_ROWS_PER_TASK);
        par::for_each(pieces, |t, _| {
            let (lo, hi) = par::piece(t, pieces, n, QR);
            for (i, sx) in row_scales.iter().enumerate() {
                let y = ys.get().add(i * n);
                match *sx {
                    Some(sx) => gemv_codes(cs.get().add(i * k), sx, qs.get(), ss.get(), bs.get(), y, k, lo, hi),
                    None => gemv(xs.get().add(i * k), qs.get(), ss.get(), bs.get(), y, k, lo, hi),
                }
            }
        });
        return;
    }
    // The panel holds the integer codes (exact in f32); scales and bias wait for each task's last pass.
    packed(x, m, k, n, core::ptr::null(), y, |panel, j0, nb, k0, kc| {
        for r in 0..nb {
            widen_row(qs.get().add((j0 + r) * k + k0), panel.add(r * LDP), kc);
        }
        (panel as *const f32, LDP)
    }, |i0, mb, j_lo, j_hi| {
        let (scales, b) = (ss.get() as *const f32, bs.get() as *const f32);
        for i in i0..i0 + mb {
            let yi = ys.get().add(i * n);
            let mut j = j_lo;
            while j + 4 <= j_hi {
                let v = F32x4::load_ptr(yi.add(j)) * F32x4::load_ptr(scales.add(j));
                let v = if b.is_null() { v } else { v + F32x4::load_ptr(b.add(j)) };
                v.store_ptr(yi.add(j));
                j += 4;
            }
            while j < j_hi {
                *yi.add(j) = *yi.add(j) * *scales.add(j) + if b.is_null() { 0.0 } else { *b.add(j) };
                j += 1;
            }
        }
    });
}

/// Rows of `q` below which the int8 GEMV is not split further.
const GEMV_ROWS_PER_TASK: usize = 64;

/// One row: `y[j] = scales[j] · x · q[j] + b[j]` for `j_lo <= j < j_hi`, reading those rows of `q` once, in place.
///
/// # Safety
/// As for [`gemm_i8_ptr`] with `m = 1`; `k > 0`, `j_hi <= n`.
unsafe fn gemv(x: *const f32, q: *const i8, scales: *const f32, b: *const f32, y: *mut f32, k: usize, j_lo: usize, j_hi: usize) {
    let n = j_hi;
    let mut j = j_lo;
    while j + QR <= n {
        let d = dots::<QR>(x, q.add(j * k), k);
        let v = F32x4::new(d[0], d[1], d[2], d[3]) * F32x4::load_ptr(scales.add(j));
        let v = if b.is_null() { v } else { v + F32x4::load_ptr(b.add(j)) };
        v.store_ptr(y.add(j));
        j += QR;
    }
    while j < n {
        let d = dots::<1>(x, q.add(j * k), k)[0];
        *y.add(j) = d * *scales.add(j) + if b.is_null() { 0.0 } else { *b.add(j) };
        j += 1;
    }
}

/// [`gemv`] for a row rounded to codes `xq` with scale `sx`: `y[j] = (Σ_p xq[p]·q[j][p]) · (sx · scales[j]) + b[j]`,
/// the sum exact.
///
/// One row of `q` at a time, front to back: the whole matrix is then one sequential read, which the hardware
/// prefetcher follows. Four rows at a time (four short interleaved streams, as [`gemv`] reads) ran 43 GFLOP/s with
/// `q` in cache but 8.6 streaming it from memory; one row runs 33 and 29 (`benches/gemv.mjs`, k = 512, n = 1536).
///
/// # Safety
/// As for [`gemv`], with `xq` readable for `k` codes.
unsafe fn gemv_codes(xq: *const i16, sx: f32, q: *const i8, scales: *const f32, b: *const f32, y: *mut f32, k: usize, j_lo: usize, j_hi: usize) {
    let out = |j: usize, sum: i64| (sum as f32) * (sx * *scales.add(j)) + if b.is_null() { 0.0 } else { *b.add(j) };
    for j in j_lo..j_hi {
        *y.add(j) = out(j, int_dots::<1>(xq, q.add(j * k), k)[0]);
    }
}

/// The `C` exact integer dot products of codes `xq[..k]` with rows `q[c·k..(c+1)·k]`: i32 lanes within each
/// [`CHUNK`], summed into i64 between chunks.
///
/// # Safety
/// `xq` readable for `k` codes, `q` for `C·k` bytes.
#[inline(always)]
unsafe fn int_dots<const C: usize>(xq: *const i16, q: *const i8, k: usize) -> [i64; C] {
    let mut total = [0i64; C];
    let mut p = 0;
    while p < k {
        let end = (p + CHUNK).min(k);
        let mut acc = [I32x4::splat(0); C];
        while p + ISTEP <= end {
            for c in 0..C {
                acc[c] = acc[c].dot_i8x16_i16_add(q.add(c * k + p), xq.add(p));
            }
            p += ISTEP;
        }
        for c in 0..C {
            total[c] += acc[c].to_array().iter().map(|&v| v as i64).sum::<i64>();
        }
        // Only the last chunk has a tail: CHUNK is a multiple of ISTEP.
        while p < end {
            for c in 0..C {
                total[c] += *q.add(c * k + p) as i64 * *xq.add(p) as i64;
            }
            p += 1;
        }
    }
    total
}

/// The `C` dot products of `x[..k]` with rows `q[c·k..(c+1)·k]`.
///
/// Each row keeps two accumulators (low and high halves of each 8-byte step) so that the two additions per step
/// do not wait on each other.
///
/// # Safety
/// `x` readable for `k` f32, `q` for `C·k` bytes.
#[inline(always)]
unsafe fn dots<const C: usize>(x: *const f32, q: *const i8, k: usize) -> [f32; C] {
    let mut lo = [F32x4::zero(); C];
    let mut hi = [F32x4::zero(); C];
    let mut p = 0;
    while p + STEP <= k {
        let xl = F32x4::load_ptr(x.add(p));
        let xh = F32x4::load_ptr(x.add(p + 4));
        for c in 0..C {
            let (ql, qh) = F32x4::load_i8x8_ptr(q.add(c * k + p));
            lo[c] = xl.mul_add(ql, lo[c]);
            hi[c] = xh.mul_add(qh, hi[c]);
        }
        p += STEP;
    }
    let mut out = [0.0f32; C];
    if C == 4 {
        let s = F32x4::reduce4(lo[0] + hi[0], lo[1] + hi[1], lo[2] + hi[2], lo[3] + hi[3]).to_array();
        out.copy_from_slice(&s[..C]);
    } else {
        for c in 0..C {
            out[c] = (lo[c] + hi[c]).reduce_sum();
        }
    }
    while p < k {
        let xs = *x.add(p);
        for c in 0..C {
            out[c] += xs * *q.add(c * k + p) as f32;
        }
        p += 1;
    }
    out
}

/// Reference int8 GEMM: the triple loop summing `x · q` in order, then scale and bias; for fewer than
/// `PACK_MIN_ROWS` rows, the sum of `xq · q` over each finite row's 16-bit codes ([`quantize_row_i16`]), exact in i64.
pub fn gemm_i8_scalar(
    x: &[f32],
    q: &[i8],
    scales: &[f32],
    b: Option<&[f32]>,
    y: &mut [f32],
    m: usize,
    k: usize,
    n: usize,
) {
    check_shapes(x.len(), q.len(), scales.len(), b, y.len(), m, k, n);
    let mut xq = vec![0i16; k];
    for i in 0..m {
        let row = &x[i * k..(i + 1) * k];
        // As the kernel: fewer than PACK_MIN_ROWS rows go through 16-bit codes, unless a row is not finite.
        let codes = if m < PACK_MIN_ROWS && k > 0 { quantize_row_i16(row, &mut xq) } else { None };
        for j in 0..n {
            let bj = b.map_or(0.0, |b| b[j]);
            y[i * n + j] = match codes {
                Some(sx) => {
                    let sum: i64 = (0..k).map(|p| xq[p] as i64 * q[j * k + p] as i64).sum();
                    (sum as f32) * (sx * scales[j]) + bj
                }
                None => {
                    let mut s = 0.0f32;
                    for p in 0..k {
                        s += row[p] * q[j * k + p] as f32;
                    }
                    scales[j] * s + bj
                }
            };
        }
    }
}

fn check_embedding(q: usize, vocab: usize, ids: usize, dim: usize, y: usize) {
    assert!(q >= vocab * dim, "embedding_i8: table shorter than vocab={vocab} × dim={dim}");
    assert!(y >= ids * dim, "embedding_i8: output shorter than {ids} ids × dim={dim}");
}

#[inline(always)]
fn row_of(id: i32, vocab: usize) -> usize {
    assert!(id >= 0 && (id as usize) < vocab, "embedding_i8: id {id} outside 0..{vocab}");
    id as usize
}

/// Gathers rows of an int8 table, dequantised and scaled: `y[i][:] = (scale · scales[id]) · q[id][:]` with
/// `id = ids[i]`. The vocabulary is `scales.len()`; `q` holds `[vocab][dim]` codes.
///
/// # Panics
/// When a buffer is too short or an id is outside `0..vocab` (the TS layer checks ids first).
pub fn embedding_i8(q: &[i8], scales: &[f32], ids: &[i32], dim: usize, scale: f32, y: &mut [f32]) {
    check_embedding(q.len(), scales.len(), ids.len(), dim, y.len());
    for (i, &id) in ids.iter().enumerate() {
        let r = row_of(id, scales.len());
        let f = scale * scales[r];
        let fv = F32x4::splat(f);
        let row = &q[r * dim..(r + 1) * dim];
        let out = &mut y[i * dim..(i + 1) * dim];
        let mut j = 0;
        while j + STEP <= dim {
            // SAFETY: j + 8 <= dim = row.len() = out.len().
            unsafe {
                let (lo, hi) = F32x4::load_i8x8_ptr(row.as_ptr().add(j));
                (lo * fv).store_ptr(out.as_mut_ptr().add(j));
                (hi * fv).store_ptr(out.as_mut_ptr().add(j + 4));
            }
            j += STEP;
        }
        while j < dim {
            out[j] = f * row[j] as f32;
            j += 1;
        }
    }
}

/// Reference int8 embedding lookup (plain loops).
pub fn embedding_i8_scalar(q: &[i8], scales: &[f32], ids: &[i32], dim: usize, scale: f32, y: &mut [f32]) {
    check_embedding(q.len(), scales.len(), ids.len(), dim, y.len());
    for (i, &id) in ids.iter().enumerate() {
        let r = row_of(id, scales.len());
        for j in 0..dim {
            y[i * dim + j] = scale * scales[r] * q[r * dim + j] as f32;
        }
    }
}
