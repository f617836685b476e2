//! Dense layers: `y[m][n] = x[m][k] · w[n][k]ᵀ + b[n]` with `w` in PyTorch's `(out, in)` layout, in f32 or with
//! the weights stored as IEEE half.
//!
//! Both operands are contiguous along `k`. A few rows of `x` (decode, `m < PACK_MIN_ROWS`) read `w` in place, since
//! streaming it once is the cost there: the microkernel is a block of dot products, `MR` rows of `x` against `NR`
//! rows of `w`, one `F32x4` accumulator per pair, summed across lanes once at the end of a `k` block (2×4 tiles: 8
//! accumulators fit V8's xmm registers with the operands; 4×4 and 3×4 spilled, 2×6 ran slower).
//!
//! Prefill (the packed path) cuts `k` into blocks of `KC` and `x` into blocks of `MC` rows, and copies both operands
//! into micro-panels, `k`-major, by 4×4 transposes: each group of `MRP` rows of the `x` block as `[kc][MRP]`, each
//! group of `NRP` rows of an `NC × KC` block of `w` as `[kc][NRP]` (f32 rows straight from `w`; f16 and int8 rows
//! once `fill` has widened them into a stack panel). The microkernel is then an outer product: per step of `k`, two
//! loads of `w`, `MRP` broadcasts of `x` and `2·MRP` multiply-adds into `MRP × 2` accumulators, each address a pointer
//! moving by a constant, and no lane sums at the end. Timed on the AMD EPYC (Zen 4) of benches/RESULTS.md in Node 22,
//! 512×512×1536, interleaved, best of seven under load: 35.8 GFLOP/s with simd128 and 44.1 with relaxed SIMD, against
//! 32.1 and 38.0 for the dot-product tiles on packed `w` that this replaced; 4×8 beat 3×8 (fewer multiply-adds per
//! load) and 5×8 (spills: LLVM hoists the broadcasts, and V8 keeps 15 xmm registers); `KC` = 256 was slower and 1,024
//! no faster with four times the stack. Copying into micro-panels then took 19% of a prefill's GEMM time (a CPU
//! profile); taking f32 rows straight from `w` and blocks of `MC` = 128 rows (each block of `w` copied once per 128
//! rows, not 64) brought it to about 10%, and the medians of five became 36.3 and 46.9 (RESULTS §10b).
//!
//! What V8 makes of the tile (its JIT code, read from `node --perf-prof`'s dump): two `vmovdqu`, four `vbroadcastss`
//! and eight `vfmadd231ps` straight into the accumulators, no register moves. The same loop written by hand in wasm,
//! alone, with its panels in L1, runs 54 GFLOP/s in quiet moments of this machine (92% of the register-only peak loop)
//! and 45 in busy ones. Against it, by hand: 3×12, 2×16, 5×8, 6×8 and 4×12 tiles, `x` stored pre-broadcast or
//! broadcast by shuffles, and `w` broadcast from its rows in place (four address streams: 44) all ran slower or no
//! faster; in whole products, `MC` = 256, `KC` = 256 with `NC` = 16, and the `w` micro-panel outside the `x` loop
//! moved nothing beyond the run-to-run spread (RESULTS §10c). Unrolling `k` lets LLVM reorder the steps into more
//! live registers than V8 has, and ran at half speed.
//!
//! The half-precision form, `gemm_f16`, has two paths. Up to `m = 4` rows of `x` (decoding, and short prefills) it
//! reads the halves in place and widens them in registers, eight at a time, one row of `w` against all rows of `x`:
//! simd128 has no f16 conversion, so [`F32x4::load_f16x8_ptr`] builds the f32 bits with about 11 integer and float
//! ops, and sharing them among the rows of `x` is what makes the path pay beyond `m = 1`. From `m = 5` it widens
//! each block of `w` once into the panel above and takes the packed path.
//!
//! Timed like the rest (Node 20, simd128, one core of a shared AMD EPYC), `k = 512, n = 1536`, GFLOP/s of the direct
//! path against the panel path, cache-resident: 15 against 7.5 (`m = 1`), 22 against 14, 24 against 18, 23 against
//! 22 (`m = 4`), 20 against 25 (`m = 5`); cycling through 96 MB of such matrices: 14.5 against 5.3, 21 against 10,
//! 24 against 13, 22 against 17 (`m = 4`), 20 against 19 (`m = 5`). At `m = 1` the widening bounds it: leaving out
//! the inf/NaN fix-up (4 of the 11 ops) ran 21 cache-resident, with an earlier tiling that ran 15 with it.
//!
//! With a thread pool installed (`crate::par`), prefill splits into tasks of `MC` rows of `x` (and, when those are
//! fewer than four per thread, also into ranges of `NC`-row blocks of `w`), and few-row products split `w`'s rows.
//! Each output element is the same sequence of operations whatever tile or task computes it (in the few-row path lane
//! sums paired `(x0 + x2) + (x1 + x3)` in every tile shape; in the packed path `k` in order within one lane; `k` blocks
//! in order in both), so results do not depend on the threads. The two paths round differently, so a row's bits can
//! differ between a product of fewer than `PACK_MIN_ROWS` rows and one of more.

// Register tiles are indexed arrays: index loops say which accumulator meets which operand.
// `%` rather than is_multiple_of, which is newer than the workspace's minimum Rust.
#![allow(clippy::needless_range_loop, clippy::too_many_arguments, clippy::manual_is_multiple_of)]

use crate::f16::{f16_bits_to_f32, f16x4_to_f32};
use crate::par::{self, SendPtr};
use crate::simd::{F32x4, I32x4, LANES};

/// Rows of `x` per dot-product tile (few-row path).
const MR: usize = 2;
/// Rows of `w` per dot-product tile (a multiple of 4: the four sums of a column group are reduced together).
const NR: usize = 4;
/// `k` elements per block.
const KC: usize = 512;
/// Rows of `w` per block.
const NC: usize = 32;
/// Rows of `x` per block (packed path): each block of `w` is copied into micro-panels once per `MC` rows.
const MC: usize = 128;

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

/// Rows of `x` per outer-product tile (packed path).
const MRP: usize = 4;
/// Columns of a packed micro-panel: two vectors of outputs.
const NRP: usize = 8;

/// One tile of the packed path: a micro-panel `xp[kc][MRP]` of `x` against one micro-panel `wp[kc][NRP]` of `w`,
/// writing the first `rows` rows and `cols` columns. Each step broadcasts `x[r][p]` and multiply-adds it into the
/// two accumulators of row `r`: every output sums `k` front to back in one lane, whatever the tile's position.
///
/// # Safety
/// `xp` readable for `kc·MRP` floats, `wp` for `kc·NRP`, `y` writable for `rows` rows of `ldy` stride and `cols`
/// elements; `Base::Bias` pointer null or readable for `cols`.
#[inline(always)]
unsafe fn tile_outer(xp: *const f32, wp: *const f32, kc: usize, y: *mut f32, ldy: usize, rows: usize, cols: usize, base: Base) {
    let mut acc = [[F32x4::zero(); 2]; MRP];
    // The loop steps addresses as integers and makes pointers from them afresh at each step. Stepping the pointers
    // themselves, LLVM's loop strength reduction rewrote `xp.add(r)` as plain additions, which wasm cannot fold into
    // a load's offset, so V8 computed six addresses per step beside the eight multiply-adds; with an integer step the
    // offsets are constants of an in-bounds pointer and fold. A hand-written copy of the loop alone ran 38 against 42
    // GFLOP/s; in whole products the difference stayed inside this machine's run-to-run spread.
    let (x_end, mut xa, mut wa) = (xp.add(kc * MRP) as usize, xp as usize, wp as usize);
    while xa != x_end {
        let (xs, ws) = (xa as *const f32, wa as *const f32);
        let w0 = F32x4::load_ptr(ws);
        let w1 = F32x4::load_ptr(ws.add(4));
        for r in 0..MRP {
            let xv = F32x4::load_splat_ptr(xs.add(r));
            acc[r][0] = xv.mul_add(w0, acc[r][0]);
            acc[r][1] = xv.mul_add(w1, acc[r][1]);
        }
        xa += MRP * size_of::<f32>();
        wa += NRP * size_of::<f32>();
    }
    for r in 0..rows {
        let yr = y.add(r * ldy);
        if cols == NRP {
            for h in 0..2 {
                let start = match base {
                    Base::Bias(b) if b.is_null() => F32x4::zero(),
                    Base::Bias(b) => F32x4::load_ptr(b.add(4 * h)),
                    Base::Accumulate => F32x4::load_ptr(yr.add(4 * h)),
                };
                (start + acc[r][h]).store_ptr(yr.add(4 * h));
            }
        } else {
            let a = [acc[r][0].to_array(), acc[r][1].to_array()];
            for c in 0..cols {
                let start = match base {
                    Base::Bias(b) if b.is_null() => 0.0,
                    Base::Bias(b) => *b.add(c),
                    Base::Accumulate => *yr.add(c),
                };
                *yr.add(c) = start + a[c / 4][c % 4];
            }
        }
    }
}

/// Copies rows `0..nb` (columns `0..kc`) of row-major `rows` (row stride `ld`) into micro-panels of `W` rows: panel
/// `g` holds rows `W·g..W·g+W` as `[kc][W]` at `out[g·kc·W..]`, rows past `nb` zero (their outputs are computed and
/// not stored). Used for `x` (`W = MRP`) and for `w` (`W = NRP`).
///
/// # Safety
/// `rows` readable for `nb` rows of `kc`, `out` writable for `nb.div_ceil(W)·kc·W` floats.
unsafe fn to_micro_panels<const W: usize>(rows: *const f32, ld: usize, nb: usize, kc: usize, out: *mut f32) {
    const { assert!(W % 4 == 0, "micro-panels are transposed in 4×4 blocks") };
    for g in 0..nb.div_ceil(W) {
        let out = out.add(g * kc * W);
        let src = rows.add(g * W * ld);
        let valid = W.min(nb - g * W);
        let mut p = 0;
        if valid == W {
            while p + 4 <= kc {
                for h in 0..W / 4 {
                    let rows4 = [0, 1, 2, 3].map(|c| F32x4::load_ptr(src.add((4 * h + c) * ld + p)));
                    let t = F32x4::transpose4(rows4[0], rows4[1], rows4[2], rows4[3]);
                    for q in 0..4 {
                        t[q].store_ptr(out.add((p + q) * W + 4 * h));
                    }
                }
                p += 4;
            }
        }
        for p in p..kc {
            for c in 0..W {
                *out.add(p * W + c) = if c < valid { *src.add(c * ld + p) } else { 0.0 };
            }
        }
    }
}

/// [`block`] for the packed path: `mb` rows of `x` as micro-panels `xp` against the micro-panels `wp` of `nb` rows
/// of `w`, writing columns `j0..j0+nb` of `y`.
///
/// # Safety
/// As for [`block`], with `xp` and `wp` as written by [`to_micro_panels`].
unsafe fn block_outer(xp: *const f32, mb: usize, k0: usize, kc: usize, wp: *const f32, nb: usize, j0: usize, b: *const f32, y: *mut f32, n: usize) {
    for gi in 0..mb.div_ceil(MRP) {
        let i = gi * MRP;
        let xg = xp.add(gi * kc * MRP);
        for g in 0..nb.div_ceil(NRP) {
            let (j, cols) = (g * NRP, NRP.min(nb - g * NRP));
            let base = if k0 == 0 { Base::Bias(if b.is_null() { b } else { b.add(j0 + j) }) } else { Base::Accumulate };
            tile_outer(xg, wp.add(g * kc * NRP), kc, y.add(i * n + j0 + j), n, MRP.min(mb - i), cols, base);
        }
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
    if m < PACK_MIN_ROWS {
        // Few rows: each task reads its own rows of `w` in place, all of `k`.
        let (xs, ws, bs, ys) = (SendPtr(x as *mut f32), SendPtr(w as *mut f32), SendPtr(b as *mut f32), SendPtr(y));
        let pieces = par::pieces(n.div_ceil(NC), COLUMN_BLOCKS_PER_TASK);
        par::for_each(pieces, |t, _| {
            let (j_lo, j_hi) = par::piece(t, pieces, n, NC);
            for_each_block(k, j_lo, j_hi, |k0, kc, j0, nb| {
                block(xs.get(), k, m, k0, kc, ws.get().add(j0 * k + k0), k, nb, j0, bs.get(), ys.get(), n);
            });
        });
        return;
    }
    let ws = SendPtr(w as *mut f32);
    // f32 rows go into the micro-panels straight from `w`.
    packed(x, m, k, n, b, y, |_, j0, _, k0, _| (ws.get().add(j0 * k + k0) as *const f32, k), |_, _, _, _| {});
}

/// Calls `f(k0, kc, j0, nb)` for every `KC`-wide block of `k`, in order (each output sums `k` front to back, so
/// results do not depend on how the columns were split), and within it every `NC`-row block of the columns
/// `j_lo..j_hi` (`nb` rows from `j0`).
#[inline(always)]
fn for_each_block(k: usize, j_lo: usize, j_hi: usize, mut f: impl FnMut(usize, usize, usize, usize)) {
    for k0 in (0..k).step_by(KC) {
        let kc = KC.min(k - k0);
        for j0 in (j_lo..j_hi).step_by(NC) {
            f(k0, kc, j0, NC.min(j_hi - j0));
        }
    }
}

/// Rows of `x` from which copying each block of `w` into a contiguous panel pays for itself.
const PACK_MIN_ROWS: usize = 8;
/// Row stride of a packed panel.
pub(crate) const LDP: usize = KC;

/// Blocks of `NC` rows of `w` below which a few-row product is not split further: a task must stream enough of `w`
/// to pay for waking a thread.
const COLUMN_BLOCKS_PER_TASK: usize = 4;

/// The blocked product. For each `NC × KC` block of `w`, `fill(panel, j0, nb, k0, kc)` says where its rows are as
/// f32: `(rows, stride)`, either in `w` itself or written by `fill` into the stack panel it is given (row stride
/// [`LDP`]); they are then copied into micro-panels for the outer-product tiles. After all of `k`,
/// `finish(i0, mb, j_lo, j_hi)` sees each finished region of `y` (rows `i0..i0+mb`, columns `j_lo..j_hi`) once.
/// Also how `gemm_f16` and `quant::gemm_i8` run prefill, with `fill` widening their codes and, for int8, `finish`
/// applying the row scales.
///
/// Tasks are `MC` rows of `x` by a range of column blocks; each packs its own panels.
///
/// # Safety
/// As for [`gemm_ptr`]; the rows `fill` points to must hold `nb` rows of `kc` floats; `finish` may only touch its
/// region of `y`.
#[inline(always)]
pub(crate) unsafe fn packed(
    x: *const f32,
    m: usize,
    k: usize,
    n: usize,
    b: *const f32,
    y: *mut f32,
    fill: impl Fn(*mut f32, usize, usize, usize, usize) -> (*const f32, usize) + Sync,
    finish: impl Fn(usize, usize, usize, usize) + Sync,
) {
    let row_blocks = m.div_ceil(MC);
    let col_blocks = n.div_ceil(NC);
    let threads = par::threads();
    // About four tasks per thread, as `par::pieces` cuts, so that a thread that falls behind (a busy core) leaves
    // less undone at the end; a column piece repacks its rows of `x`, which costs little beside its product.
    let col_pieces = if threads > 1 && row_blocks < 4 * threads { (4 * threads).div_ceil(row_blocks).min(col_blocks) } else { 1 };
    let (xs, bs, ys) = (SendPtr(x as *mut f32), SendPtr(b as *mut f32), SendPtr(y));
    par::for_each(row_blocks * col_pieces, |t, _| {
        let (i0, (j_lo, j_hi)) = ((t / col_pieces) * MC, par::piece(t % col_pieces, col_pieces, n, NC));
        let mb = MC.min(m - i0);
        // 384 KiB of stack (the calling thread's is 1 MiB, a pool worker's 2 MiB): a block of w as `fill` widens it,
        // then as micro-panels, and the block of x as micro-panels.
        let mut panel = core::mem::MaybeUninit::<[f32; NC * LDP]>::uninit();
        let panel = panel.as_mut_ptr() as *mut f32;
        let mut micro = core::mem::MaybeUninit::<[f32; NC * KC]>::uninit();
        let micro = micro.as_mut_ptr() as *mut f32;
        let mut xpanel = core::mem::MaybeUninit::<[f32; MC.next_multiple_of(MRP) * KC]>::uninit();
        let xpanel = xpanel.as_mut_ptr() as *mut f32;
        for_each_block(k, j_lo, j_hi, |k0, kc, j0, nb| {
            if j0 == j_lo {
                to_micro_panels::<MRP>(xs.get().add(i0 * k + k0), k, mb, kc, xpanel);
            }
            let (rows, ld) = fill(panel, j0, nb, k0, kc);
            to_micro_panels::<NRP>(rows, ld, nb, kc, micro);
            block_outer(xpanel, mb, k0, kc, micro, nb, j0, bs.get(), ys.get().add(i0 * n), n);
        });
        finish(i0, mb, j_lo, j_hi);
    });
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
    if m <= F16_DIRECT_MAX_ROWS {
        direct_f16(x, w16, b, y, m, k, n);
        return;
    }
    let ws = SendPtr(w16 as *mut u16);
    packed(x, m, k, n, b, y, |panel, j0, nb, k0, kc| {
        for r in 0..nb {
            let src = ws.get().add((j0 + r) * k + k0);
            let dst = panel.add(r * LDP);
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
        (panel as *const f32, LDP)
    }, |_, _, _, _| {});
}

/// Rows of `x` up to which [`gemm_f16`] reads the halves in place, widening them in registers, rather than widening
/// each block once into the shared f32 panel (measured: see the module doc).
const F16_DIRECT_MAX_ROWS: usize = 4;
/// Rows of `x` that share each widened vector of `w`: 4 × 2 accumulators, the widening's 4 constants and its
/// temporaries nearly fit V8's 16 xmm registers (it spills a few `x` vectors).
const F16_R: usize = 4;
/// Halves widened per step ([`F32x4::load_f16x8_ptr`]).
const F16_STEP: usize = 8;

/// `gemm_f16` for few rows of `x`: one row of `w` at a time against up to `F16_R` rows of `x`, over all of `k`.
///
/// Taking a single row of `w` per tile (rather than the 2 × 4 tiles of the f32 microkernel) reads `w` strictly in
/// address order, which the hardware prefetcher follows best: tiles that interleave 2 or 4 rows of `w` ran 18–21
/// GFLOP/s cache-resident at `m = 2`, as single rows do, but streamed from memory at anywhere from 9 to 17 depending
/// on incidental code generation (one build differed only in an unrelated constant), against 21 for single rows.
/// The `x` rows stay in L1, and each row of `w` is in L1 for every group of `x` rows after the first.
///
/// # Safety
/// As for [`gemm_f16_ptr`]; `k > 0`.
unsafe fn direct_f16(x: *const f32, w16: *const u16, b: *const f32, y: *mut f32, m: usize, k: usize, n: usize) {
    // Tasks take ranges of rows of `w` (each row is one output column, computed alone).
    let (xs, ws, bs, ys) = (SendPtr(x as *mut f32), SendPtr(w16 as *mut u16), SendPtr(b as *mut f32), SendPtr(y));
    let pieces = par::pieces(n, F16_ROWS_PER_TASK);
    par::for_each(pieces, |t, _| {
        let (lo, hi) = par::piece(t, pieces, n, 1);
        direct_f16_rows(xs.get(), ws.get(), bs.get(), ys.get(), m, k, n, lo, hi);
    });
}

/// Rows of `w` below which the half-precision GEMV is not split further.
const F16_ROWS_PER_TASK: usize = 64;

/// [`direct_f16`] for the rows `j_lo..j_hi` of `w` (output columns).
///
/// # Safety
/// As for [`direct_f16`]; `j_hi <= n`.
unsafe fn direct_f16_rows(x: *const f32, w16: *const u16, b: *const f32, y: *mut f32, m: usize, k: usize, n: usize, j_lo: usize, j_hi: usize) {
    for j in j_lo..j_hi {
        let wj = w16.add(j * k);
        let bj = if b.is_null() { 0.0 } else { *b.add(j) };
        let mut i = 0;
        while i < m {
            let rows = F16_R.min(m - i);
            macro_rules! go {
                ($r:literal) => {{
                    let d = f16_dots::<$r>(x.add(i * k), wj, k);
                    for r in 0..$r {
                        *y.add((i + r) * n + j) = bj + d[r];
                    }
                }};
            }
            match rows {
                4 => go!(4),
                3 => go!(3),
                2 => go!(2),
                _ => go!(1),
            }
            i += rows;
        }
    }
}

/// The `R` dot products of rows `x[r·k..(r+1)·k]` with one row `w[..k]` of halves, each step widening 8 halves once
/// for all `R` rows; the last `k % 8` go through the scalar conversion.
///
/// Each row keeps two accumulators (low and high halves of a step), so that a single row of `x` is not bound by the
/// latency of one chain of additions.
///
/// # Safety
/// `x` readable for `R` rows of `k` f32 (stride `k`), `w` for `k` u16.
#[inline(always)]
unsafe fn f16_dots<const R: usize>(x: *const f32, w: *const u16, k: usize) -> [f32; R] {
    let mut lo = [F32x4::zero(); R];
    let mut hi = [F32x4::zero(); R];
    let mut p = 0;
    while p + F16_STEP <= k {
        let (wl, wh) = F32x4::load_f16x8_ptr(w.add(p));
        for r in 0..R {
            lo[r] = F32x4::load_ptr(x.add(r * k + p)).mul_add(wl, lo[r]);
            hi[r] = F32x4::load_ptr(x.add(r * k + p + LANES)).mul_add(wh, hi[r]);
        }
        p += F16_STEP;
    }
    let mut out = [0.0f32; R];
    for r in 0..R {
        out[r] = (lo[r] + hi[r]).reduce_sum();
        for q in p..k {
            out[r] += *x.add(r * k + q) * f16_bits_to_f32(*w.add(q));
        }
    }
    out
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
