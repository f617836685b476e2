//! Real convolution of eight channels at a time through one complex [`LaneFft`].
//!
//! Channels `ch..ch+4` ride in the real parts of the four lanes and `ch+4..ch+8` in the imaginary parts, so a
//! token row of a token-major `[n][c]` table (or a row of a 16-channel strip) loads with two vector loads and no
//! gathers. After the forward transform the two real spectra are separated bin by bin,
//! `X_A[k] = (Z[k] + conj Z[L-k])/2`, `X_B[k] = (Z[k] - conj Z[L-k])/2i`, multiplied by their kernels, and
//! recombined into the spectrum of `y_A + i·y_B`, so one inverse transform returns both. The inverse is the
//! forward transform with real and imaginary parts swapped on the way in and out.
//!
//! The products are circular of length `L`; callers pad and place kernels so that the outputs they read do not
//! wrap (the Toeplitz plan) or wrap only into outputs they ignore (the online convolution's blocks).

use crate::lane_fft::{LaneFft, C4};
use crate::simd::{F32x4, LANES};

/// Channels per transform: four lanes in the real part, four in the imaginary part.
pub(crate) const GROUP: usize = 2 * LANES;

/// Floats of one group's kernel spectra: 2 spectra × (L/2+1) bins × 4 lanes × (re, im).
pub(crate) fn group_spectra_len(len: usize) -> usize {
    16 * (len / 2 + 1)
}

/// Kernel spectra of the eight channels whose length-`L` kernels the caller placed in `buf` (clobbered), into
/// `out` ([`group_spectra_len`] floats: for each bin `k = 0..=L/2`, `K_A[k]` then `K_B[k]` as lane vectors, re
/// then im), scaled by `1/(2L)`: the inverse transform's `1/L` and the `1/2` that recombining two real spectra
/// needs.
pub(crate) fn kernel_spectra(fft: &LaneFft, buf: &mut [C4], work: &mut [C4], out: &mut [f32]) {
    let len = buf.len();
    // Separating Z = FFT(s·(t_A + i·t_B)) gives Z[k] + conj Z[L-k] = 2s·K_A and -i(Z[k] - conj Z[L-k]) = 2s·K_B;
    // s = 1/(4L) makes both K/(2L).
    let s = F32x4::splat(0.25 / len as f32);
    for z in buf.iter_mut() {
        *z = z.scale(s);
    }
    fft.forward(buf, work);
    for k in 0..=len / 2 {
        let (zk, zj) = (buf[k], buf[(len - k) % len].conj());
        let (a, b) = (zk.add(zj), zk.sub(zj).mul_neg_i());
        let o = 16 * k;
        a.re.store(out, o);
        a.im.store(out, o + 4);
        b.re.store(out, o + 8);
        b.im.store(out, o + 12);
    }
}

/// Circular convolution of the eight signals the caller placed in `buf` with the kernels whose spectra
/// [`kernel_spectra`] wrote. On return `buf[i]` holds output `i` in the same layout as the input: the first four
/// channels in the real parts, the last four in the imaginary parts.
pub(crate) fn convolve(fft: &LaneFft, buf: &mut [C4], work: &mut [C4], kernel: &[f32]) {
    let len = buf.len();
    fft.forward(buf, work);
    for k in 0..=len / 2 {
        let j = (len - k) % len;
        let (zk, zj) = (buf[k], buf[j].conj());
        // With P = 2 X_A and Q = 2i X_B: W[k] = P·K_A' + Q·K_B' and W[L-k] = conj(P·K_A' - Q·K_B') is the
        // spectrum of y_A + i·y_B (K' carries the 1/(2L)).
        let o = 16 * k;
        let ka = C4 { re: F32x4::load(kernel, o), im: F32x4::load(kernel, o + 4) };
        let kb = C4 { re: F32x4::load(kernel, o + 8), im: F32x4::load(kernel, o + 12) };
        let u = zk.add(zj).mul(ka);
        let v = zk.sub(zj).mul(kb);
        // Stored with re and im swapped: a forward transform of swapped data is the swapped inverse transform.
        buf[k] = u.add(v).swap();
        if j != k {
            buf[j] = u.sub(v).conj().swap();
        }
    }
    fft.forward(buf, work);
    for z in buf.iter_mut() {
        *z = z.swap();
    }
}

/// Channels `ch0..ch0+8` of the row starting at `row` of a table `width` channels wide, zeros past `width`:
/// `ch0..ch0+4` as real parts, `ch0+4..ch0+8` as imaginary parts.
#[inline(always)]
pub(crate) fn load_group(src: &[f32], row: usize, width: usize, ch0: usize) -> C4 {
    if ch0 + GROUP <= width {
        C4 { re: F32x4::load(src, row + ch0), im: F32x4::load(src, row + ch0 + LANES) }
    } else {
        let mut t = [0.0f32; GROUP];
        t[..width - ch0].copy_from_slice(&src[row + ch0..row + width]);
        C4 { re: F32x4::load(&t, 0), im: F32x4::load(&t, LANES) }
    }
}

/// Inverse of [`load_group`]: writes the lanes that are real channels.
#[inline(always)]
pub(crate) fn store_group(dst: &mut [f32], row: usize, width: usize, ch0: usize, v: C4) {
    if ch0 + GROUP <= width {
        v.re.store(dst, row + ch0);
        v.im.store(dst, row + ch0 + LANES);
    } else {
        let mut t = [0.0f32; GROUP];
        v.re.store(&mut t, 0);
        v.im.store(&mut t, LANES);
        dst[row + ch0..row + width].copy_from_slice(&t[..width - ch0]);
    }
}

/// Adds `v` to the lanes of [`load_group`]'s row that are real channels.
#[inline(always)]
pub(crate) fn add_group(dst: &mut [f32], row: usize, width: usize, ch0: usize, v: C4) {
    let cur = load_group(dst, row, width, ch0);
    store_group(dst, row, width, ch0, cur.add(v));
}
