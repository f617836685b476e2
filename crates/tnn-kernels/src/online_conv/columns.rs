//! Channel strips: how the online state lays out its table, and moving strips between layouts.
//!
//! The state keeps its `[cap][c]` table as `[strips][cap][STRIP]`: each strip of [`STRIP`] neighbouring channels
//! owns a contiguous `[cap][STRIP]` slab. A block of `U` rows of one strip is then one contiguous run of memory,
//! which the eight-channel FFT (`lane_conv`) streams through instead of touching one cache line (and, for wide
//! layers, one page) per row; the per-token row operations stay vectorised over a strip's 16 lanes.

/// Channels per strip: 16 floats fill a 64-byte cache line.
pub(crate) const STRIP: usize = 16;
const _: () = assert!(STRIP % crate::lane_conv::GROUP == 0, "a strip holds whole FFT groups");

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
