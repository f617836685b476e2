//! IEEE half and bfloat16 conversions, and embedding lookups from `f32` and `f16` tables.
//!
//! Checkpoints arrive as f32, f16 or bf16; the kernels compute in f32. Widening f16 is vectorised because
//! `gemm_f16` and `embedding_f16` widen weights on every call; narrowing (f32 → f16) happens only when saving or
//! converting weights, so it stays scalar and exact (round to nearest, ties to even).

use crate::simd::{F32x4, I32x4, LANES};

/// One half-precision value (given as its bits) widened to `f32`, exactly; NaN payloads are kept.
pub fn f16_bits_to_f32(h: u16) -> f32 {
    let h = h as u32;
    let sign = (h & 0x8000) << 16;
    let exp = (h >> 10) & 0x1f;
    let man = h & 0x3ff;
    let bits = match exp {
        0 if man == 0 => sign,
        // Subnormal half: man · 2^-24 is exact in f32.
        0 => sign | (man as f32 * (1.0 / 16_777_216.0)).to_bits(),
        31 => sign | 0x7f80_0000 | (man << 13),
        _ => sign | ((exp + 112) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// `f32` narrowed to half-precision bits, round to nearest, ties to even. Overflow gives ±infinity, values below
/// half the smallest subnormal give ±0, NaN stays a (quiet) NaN.
pub fn f32_to_f16_bits(f: f32) -> u16 {
    let x = f.to_bits();
    let sign = ((x >> 16) & 0x8000) as u16;
    let abs = x & 0x7fff_ffff;
    if abs > 0x7f80_0000 {
        return sign | 0x7e00 | ((abs >> 13) & 0x3ff) as u16;
    }
    // 65520 (0x477ff000) is halfway between the largest half, 65504 (odd mantissa), and 2^16: ties go up to inf.
    if abs >= 0x477f_f000 {
        return sign | 0x7c00;
    }
    let round = |q: u32, rem: u32, half: u32| -> u32 {
        if rem > half || (rem == half && q & 1 == 1) {
            q + 1
        } else {
            q
        }
    };
    if abs < 0x3880_0000 {
        // Below 2^-14 the result is subnormal: mantissa = round(value / 2^-24) = round(m · 2^(e-126)).
        let e = abs >> 23;
        if e < 102 {
            // value < 2^-25 (or exactly the minimum f32 exponents): rounds to zero.
            return sign;
        }
        let m = (abs & 0x7f_ffff) | 0x80_0000;
        let shift = 126 - e;
        let q = m >> shift;
        let rem = m & ((1 << shift) - 1);
        return sign | round(q, rem, 1 << (shift - 1)) as u16;
    }
    let e = (abs >> 23) - 112;
    let m = abs & 0x7f_ffff;
    // A carry out of the mantissa correctly bumps the exponent (and 65504 < x < 65520 stays finite).
    sign | round((e << 10) | (m >> 13), m & 0x1fff, 0x1000) as u16
}

/// bfloat16 bits widened to `f32` (exact: bf16 is the top half of an f32).
pub fn bf16_bits_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// Four halves (zero-extended to `i32` lanes) widened to `f32`.
///
/// Shifting the 15 magnitude bits into f32 position gives a float whose exponent is off by 127 - 15 = 112;
/// multiplying by 2^112 fixes it for normals and subnormals alike (wasm has no flush-to-zero). Only exponent 31
/// (inf/NaN) needs its own path.
#[inline(always)]
pub fn f16x4_to_f32(h: I32x4) -> F32x4 {
    let mag = h.and(I32x4::splat(0x7fff)).shl::<13>();
    let finite = mag.from_bits() * F32x4::splat(f32::from_bits(0x7780_0000)); // 2^112
    let special = mag.or(I32x4::splat(0x7f80_0000)).from_bits();
    let is_special = h.and(I32x4::splat(0x7c00)).cmp_eq(I32x4::splat(0x7c00));
    let v = is_special.select(special, finite);
    v.to_bits().or(h.and(I32x4::splat(0x8000)).shl::<16>()).from_bits()
}

/// Widens `n` halves (bits) at `src` into `f32` at `dst`, four at a time.
///
/// # Safety
/// `src` readable for `n` u16 and `dst` writable for `n` f32, not overlapping.
pub unsafe fn f16_to_f32_ptr(src: *const u16, dst: *mut f32, n: usize) {
    let mut i = 0;
    while i + LANES <= n {
        f16x4_to_f32(I32x4::load_u16_ptr(src.add(i))).store_ptr(dst.add(i));
        i += LANES;
    }
    while i < n {
        *dst.add(i) = f16_bits_to_f32(*src.add(i));
        i += 1;
    }
}

/// Widens half-precision bits to `f32`.
pub fn f16_to_f32(src: &[u16], dst: &mut [f32]) {
    assert_eq!(src.len(), dst.len());
    // SAFETY: lengths checked; different element types cannot be the same slice.
    unsafe { f16_to_f32_ptr(src.as_ptr(), dst.as_mut_ptr(), src.len()) }
}

/// Reference widening, one value at a time.
pub fn f16_to_f32_scalar(src: &[u16], dst: &mut [f32]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = f16_bits_to_f32(s);
    }
}

/// Narrows `f32` to half-precision bits, round to nearest even.
pub fn f32_to_f16(src: &[f32], dst: &mut [u16]) {
    assert_eq!(src.len(), dst.len());
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = f32_to_f16_bits(s);
    }
}

/// Widens bfloat16 bits to `f32`.
pub fn bf16_to_f32(src: &[u16], dst: &mut [f32]) {
    assert_eq!(src.len(), dst.len());
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = bf16_bits_to_f32(s);
    }
}

/// Gathers rows of an `f32` table: `y[i][:] = scale · table[ids[i]][:]`. Ids must be in range (checked by the
/// caller; an out-of-range id panics here).
pub fn embedding(table: &[f32], ids: &[i32], dim: usize, scale: f32, y: &mut [f32]) {
    assert!(y.len() >= ids.len() * dim);
    let s = F32x4::splat(scale);
    for (i, &id) in ids.iter().enumerate() {
        let row = &table[id as usize * dim..(id as usize + 1) * dim];
        let out = &mut y[i * dim..(i + 1) * dim];
        let mut j = 0;
        while j + LANES <= dim {
            (F32x4::load(row, j) * s).store(out, j);
            j += LANES;
        }
        while j < dim {
            out[j] = row[j] * scale;
            j += 1;
        }
    }
}

/// Gathers rows of a half-precision table, widened and scaled: `y[i][:] = scale · f32(table[ids[i]][:])`.
pub fn embedding_f16(table: &[u16], ids: &[i32], dim: usize, scale: f32, y: &mut [f32]) {
    assert!(y.len() >= ids.len() * dim);
    let s = F32x4::splat(scale);
    for (i, &id) in ids.iter().enumerate() {
        let row = &table[id as usize * dim..(id as usize + 1) * dim];
        let out = &mut y[i * dim..(i + 1) * dim];
        let mut j = 0;
        while j + LANES <= dim {
            // SAFETY: j + 4 <= dim = row.len().
            let h = unsafe { I32x4::load_u16_ptr(row.as_ptr().add(j)) };
            (f16x4_to_f32(h) * s).store(out, j);
            j += LANES;
        }
        while j < dim {
            out[j] = f16_bits_to_f32(row[j]) * scale;
            j += 1;
        }
    }
}

/// Reference embedding lookup (plain loops).
pub fn embedding_scalar(table: &[f32], ids: &[i32], dim: usize, scale: f32, y: &mut [f32]) {
    for (i, &id) in ids.iter().enumerate() {
        for j in 0..dim {
            y[i * dim + j] = table[id as usize * dim + j] * scale;
        }
    }
}

/// Reference half-precision embedding lookup (plain loops).
pub fn embedding_f16_scalar(table: &[u16], ids: &[i32], dim: usize, scale: f32, y: &mut [f32]) {
    for (i, &id) in ids.iter().enumerate() {
        for j in 0..dim {
            y[i * dim + j] = f16_bits_to_f32(table[id as usize * dim + j]) * scale;
        }
    }
}
