//! Channel strips: how the online state lays out its table, and moving strips between layouts.
//!
//! The state keeps its `[cap][c]` table as `[strips][cap][STRIP]`: each strip of [`STRIP`] neighbouring channels
//! owns a contiguous `[cap][STRIP]` slab. A block of `U` rows of one strip is then one contiguous run of memory,
//! so turning it into per-channel columns for the FFT streams through memory instead of touching one cache line
//! (and, for wide layers, one page) per row; the per-token row operations stay vectorised over a strip's 16 lanes.

/// Channels per strip: 16 floats fill a 64-byte cache line.
pub(crate) const STRIP: usize = 16;

/// Number of strips covering `c` channels (the last one may be partial).
#[inline]
pub(crate) fn strips(c: usize) -> usize {
    c.div_ceil(STRIP)
}

/// Valid channels in strip `s`.
#[inline]
pub(crate) fn strip_width(c: usize, s: usize) -> usize {
    STRIP.min(c - s * STRIP)
}

/// Copies `rows` rows starting at `row0` of channels `c0..c0+g` of a token-major `src` (`[..][c]`) into columns
/// `dst[g_i * stride + r]`. Strided reads: only for the prompt, which arrives token-major.
pub(crate) fn gather(src: &[f32], c: usize, row0: usize, rows: usize, c0: usize, g: usize, dst: &mut [f32], stride: usize) {
    for r in 0..rows {
        let row = &src[(row0 + r) * c + c0..][..g];
        for (i, &x) in row.iter().enumerate() {
            dst[i * stride + r] = x;
        }
    }
}

/// Writes columns `src[g_i * stride + r]` into rows `0..rows` of channels `c0..c0+g` of a token-major `dst`.
pub(crate) fn scatter(src: &[f32], stride: usize, rows: usize, dst: &mut [f32], c: usize, c0: usize, g: usize) {
    for r in 0..rows {
        let row = &mut dst[r * c + c0..][..g];
        for (i, y) in row.iter_mut().enumerate() {
            *y = src[i * stride + r];
        }
    }
}

/// Copies token-major rows `src[rows][c]` into a strip-major table `dst[strips][cap][STRIP]` at rows `0..rows`.
pub(crate) fn to_strips(src: &[f32], rows: usize, c: usize, dst: &mut [f32], cap: usize) {
    for s in 0..strips(c) {
        let w = strip_width(c, s);
        let slab = &mut dst[s * cap * STRIP..][..cap * STRIP];
        for r in 0..rows {
            slab[r * STRIP..][..w].copy_from_slice(&src[r * c + s * STRIP..][..w]);
        }
    }
}

/// The inverse of [`to_strips`] for rows `0..rows`.
pub(crate) fn from_strips(src: &[f32], rows: usize, c: usize, cap: usize, dst: &mut [f32]) {
    for s in 0..strips(c) {
        let w = strip_width(c, s);
        let slab = &src[s * cap * STRIP..][..cap * STRIP];
        for r in 0..rows {
            dst[r * c + s * STRIP..][..w].copy_from_slice(&slab[r * STRIP..][..w]);
        }
    }
}
