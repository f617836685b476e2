//! FFT Toeplitz mixing: each channel is a linear convolution done as a circular one of length `L ≥ 2n-1`.
//!
//! The kernel of channel `c` is laid out circularly: `a[d] = t_d` for `d = 0..n-1` and `a[L-d] = t_{-d}` for
//! `d = 1..n-1` (zero when causal), zero elsewhere. With `x` zero-padded to `L`, the first `n` outputs of the
//! circular convolution are exactly `Σ_j t_{i-j} x_j`, since `|i-j| ≤ n-1` never wraps into the other side.
//! (The official code's length-2n layout `[t_0, t_1..t_{n-1}, t_0, t_{-(n-1)}..t_{-1}]` is this with `L = 2n`;
//! its slot `n` is never read.)
//!
//! Channels go eight at a time through one complex [`LaneFft`] of length `L`: channels `ch..ch+4` of a token row
//! are the real parts, `ch+4..ch+8` the imaginary parts (one vector load each, no gathers). The two real spectra
//! are separated bin by bin, `X_A[k] = (Z[k] + conj Z[L-k])/2`, `X_B[k] = (Z[k] - conj Z[L-k])/2i`, multiplied by
//! their kernels, and recombined into the spectrum of `y_A + i·y_B`, so one inverse transform returns both. The
//! inverse is the forward transform with real and imaginary parts swapped on the way in and out.
//! All buffers belong to the plan and are allocated once, in [`ToeplitzPlan::new`].

use super::lane_fft::{LaneFft, C4};
use super::{coeff_rows, toeplitz_crossover_for, toeplitz_direct};
use crate::simd::{F32x4, LANES};

/// Channels per transform: four lanes in the real part, four in the imaginary part.
const GROUP: usize = 2 * LANES;

/// The smallest FFT length `≥ min_len` of the form `2^a` or `3·2^a`, at least 2.
pub fn fast_fft_len(min_len: usize) -> usize {
    let mut best = usize::MAX;
    for odd in [1usize, 3] {
        let mut l = 2 * odd;
        while l < min_len {
            l *= 2;
        }
        best = best.min(l);
    }
    best
}

/// The FFT machinery of a plan that is past the crossover.
struct Fft {
    len: usize,
    fft: LaneFft,
    /// The signal (then spectrum) of the current group of eight channels.
    buf: Vec<C4>,
    /// Stockham ping-pong buffer.
    work: Vec<C4>,
    /// Kernel spectra of one group (see [`Fft::kernel_spectra`]), for [`ToeplitzPlan::apply_coeffs`].
    kernel: Vec<f32>,
}

/// A planned Toeplitz mixer for `[n][c]` inputs of one length; owns all the scratch it needs.
pub struct ToeplitzPlan {
    n: usize,
    c: usize,
    causal: bool,
    fft: Option<Fft>,
}

impl ToeplitzPlan {
    /// Plans mixing of `n` tokens by `c` channels. Below the measured crossover the plan runs the direct product
    /// and allocates nothing.
    pub fn new(n: usize, c: usize, causal: bool) -> Self {
        let fft = (n >= toeplitz_crossover_for(causal)).then(|| Fft::new(n));
        ToeplitzPlan { n, c, causal, fft }
    }

    /// Plans the FFT path regardless of the crossover (for tests and measurements).
    pub fn new_fft(n: usize, c: usize, causal: bool) -> Self {
        ToeplitzPlan { n, c, causal, fft: Some(Fft::new(n)) }
    }

    pub fn n(&self) -> usize {
        self.n
    }
    pub fn c(&self) -> usize {
        self.c
    }
    pub fn causal(&self) -> bool {
        self.causal
    }
    /// Whether the plan uses FFTs (else the direct product).
    pub fn uses_fft(&self) -> bool {
        self.fft.is_some()
    }
    /// The FFT length `L`, or 0 on the direct path.
    pub fn fft_len(&self) -> usize {
        self.fft.as_ref().map_or(0, |f| f.len)
    }

    /// Floats of the cached kernel form written by [`spectra`](Self::spectra). On the FFT path: for each group of
    /// eight channels (the last one zero-padded) and each bin `k = 0..=L/2`, the spectra of the first and of the
    /// last four channels as lane vectors (16 floats), scaled by `1/(2L)`; that is `c·(L/2+1)·2` floats when `c` is
    /// a multiple of 8. On the direct path: a copy of the coefficient table (`rows · c`).
    pub fn spectra_len(&self) -> usize {
        match &self.fft {
            Some(f) => self.c.div_ceil(GROUP) * group_spectra_len(f.len),
            None => coeff_rows(self.n, self.causal) * self.c,
        }
    }

    fn check_coeffs(&self, coeffs: &[f32]) {
        assert!(coeffs.len() >= coeff_rows(self.n, self.causal) * self.c, "toeplitz: coefficient table too small");
    }
    fn check_io(&self, x: &[f32], y: &[f32]) {
        assert!(x.len() >= self.n * self.c && y.len() >= self.n * self.c, "toeplitz: x or y too small");
    }

    /// Writes the kernel spectra of a coefficient table (cache them to reuse across calls).
    pub fn spectra(&mut self, coeffs: &[f32], out: &mut [f32]) {
        self.check_coeffs(coeffs);
        let len = self.spectra_len();
        assert!(out.len() >= len, "toeplitz: spectra buffer too small");
        let (n, c, causal) = (self.n, self.c, self.causal);
        match &mut self.fft {
            None => out[..len].copy_from_slice(&coeffs[..len]),
            Some(f) => {
                let per_group = group_spectra_len(f.len);
                for (g, dst) in out[..len].chunks_exact_mut(per_group).enumerate() {
                    f.kernel_spectra(coeffs, n, c, causal, g * GROUP, dst);
                }
            }
        }
    }

    /// `y = T x` with kernel spectra from [`spectra`](Self::spectra).
    pub fn apply(&mut self, x: &[f32], spectra: &[f32], y: &mut [f32]) {
        self.check_io(x, y);
        let len = self.spectra_len();
        assert!(spectra.len() >= len, "toeplitz: spectra buffer too small");
        let (n, c, causal) = (self.n, self.c, self.causal);
        match &mut self.fft {
            None => toeplitz_direct(x, spectra, y, n, c, causal),
            Some(f) => {
                let per_group = group_spectra_len(f.len);
                for (g, k) in spectra[..len].chunks_exact(per_group).enumerate() {
                    f.convolve_group(x, k, y, n, c, g * GROUP);
                }
            }
        }
    }

    /// `y = T x`, computing each channel's kernel spectrum on the fly (no cache of `c` spectra).
    pub fn apply_coeffs(&mut self, x: &[f32], coeffs: &[f32], y: &mut [f32]) {
        self.check_io(x, y);
        self.check_coeffs(coeffs);
        let (n, c, causal) = (self.n, self.c, self.causal);
        match &mut self.fft {
            None => toeplitz_direct(x, coeffs, y, n, c, causal),
            Some(f) => {
                let mut kernel = core::mem::take(&mut f.kernel);
                for ch0 in (0..c).step_by(GROUP) {
                    f.kernel_spectra(coeffs, n, c, causal, ch0, &mut kernel);
                    f.convolve_group(x, &kernel, y, n, c, ch0);
                }
                f.kernel = kernel;
            }
        }
    }
}

impl Fft {
    fn new(n: usize) -> Self {
        let len = fast_fft_len((2 * n).saturating_sub(1));
        Fft {
            len,
            fft: LaneFft::new(len),
            buf: vec![C4::zero(); len],
            work: vec![C4::zero(); len],
            kernel: vec![0.0; group_spectra_len(len)],
        }
    }

    /// Kernel spectra of channels `ch0..ch0+8` into `out` ([`group_spectra_len`] floats: for each bin
    /// `k = 0..=L/2`, `K_A[k]` then `K_B[k]` as lane vectors, re then im), scaled by `1/(2L)`: the inverse
    /// transform's `1/L` and the `1/2` that recombining two real spectra needs.
    fn kernel_spectra(&mut self, coeffs: &[f32], n: usize, c: usize, causal: bool, ch0: usize, out: &mut [f32]) {
        let len = self.len;
        // Separating Z = FFT(s·(t_A + i·t_B)) gives Z[k] + conj Z[L-k] = 2s·K_A and -i(Z[k] - conj Z[L-k]) = 2s·K_B;
        // s = 1/(4L) makes both K/(2L).
        let s = F32x4::splat(0.25 / len as f32);
        self.buf.fill(C4::zero());
        // Offset d >= 0 sits at row d (causal) or d + n - 1 (bidirectional); offset -d at row n - 1 - d.
        let zero_row = if causal { 0 } else { n - 1 };
        for d in 0..n {
            self.buf[d] = load_group(coeffs, (zero_row + d) * c, c, ch0).scale(s);
        }
        if !causal {
            for d in 1..n {
                self.buf[len - d] = load_group(coeffs, (n - 1 - d) * c, c, ch0).scale(s);
            }
        }
        self.fft.forward(&mut self.buf, &mut self.work);
        let z = &self.buf;
        for k in 0..=len / 2 {
            let (zk, zj) = (z[k], z[(len - k) % len].conj());
            let (a, b) = (zk.add(zj), zk.sub(zj).mul_neg_i());
            let o = 16 * k;
            a.re.store(out, o);
            a.im.store(out, o + 4);
            b.re.store(out, o + 8);
            b.im.store(out, o + 12);
        }
    }

    /// `y = T x` for channels `ch0..ch0+8`, with their kernel spectra `kernel` from [`Self::kernel_spectra`].
    fn convolve_group(&mut self, x: &[f32], kernel: &[f32], y: &mut [f32], n: usize, c: usize, ch0: usize) {
        let len = self.len;
        for i in 0..n {
            self.buf[i] = load_group(x, i * c, c, ch0);
        }
        self.buf[n..].fill(C4::zero());
        self.fft.forward(&mut self.buf, &mut self.work);
        let z = &mut self.buf;
        for k in 0..=len / 2 {
            let j = (len - k) % len;
            let (zk, zj) = (z[k], z[j].conj());
            // With P = 2 X_A and Q = 2i X_B: W[k] = P·K_A' + Q·K_B' and W[L-k] = conj(P·K_A' - Q·K_B') is the
            // spectrum of y_A + i·y_B (see the module docs; K' carries the 1/(2L)).
            let o = 16 * k;
            let ka = C4 { re: F32x4::load(kernel, o), im: F32x4::load(kernel, o + 4) };
            let kb = C4 { re: F32x4::load(kernel, o + 8), im: F32x4::load(kernel, o + 12) };
            let u = zk.add(zj).mul(ka);
            let v = zk.sub(zj).mul(kb);
            // Stored with re and im swapped: a forward transform of swapped data is the swapped inverse transform.
            z[k] = u.add(v).swap();
            if j != k {
                z[j] = u.sub(v).conj().swap();
            }
        }
        self.fft.forward(&mut self.buf, &mut self.work);
        for i in 0..n {
            // Swap back: y_A is the imaginary part of what the forward transform left, y_B the real part.
            let r = self.buf[i];
            store_group(y, i * c, c, ch0, C4 { re: r.im, im: r.re });
        }
    }
}

/// Channels `ch0..ch0+8` of the row starting at `row` (zeros past `c`): `ch0..ch0+4` as real parts,
/// `ch0+4..ch0+8` as imaginary parts.
#[inline(always)]
fn load_group(src: &[f32], row: usize, c: usize, ch0: usize) -> C4 {
    if ch0 + GROUP <= c {
        C4 { re: F32x4::load(src, row + ch0), im: F32x4::load(src, row + ch0 + LANES) }
    } else {
        let mut t = [0.0f32; GROUP];
        for (l, v) in t.iter_mut().enumerate().take(c - ch0) {
            *v = src[row + ch0 + l];
        }
        C4 { re: F32x4::load(&t, 0), im: F32x4::load(&t, LANES) }
    }
}

/// Inverse of [`load_group`]: writes the lanes that are real channels.
#[inline(always)]
fn store_group(dst: &mut [f32], row: usize, c: usize, ch0: usize, v: C4) {
    if ch0 + GROUP <= c {
        v.re.store(dst, row + ch0);
        v.im.store(dst, row + ch0 + LANES);
    } else {
        let mut t = [0.0f32; GROUP];
        v.re.store(&mut t, 0);
        v.im.store(&mut t, LANES);
        dst[row + ch0..row + c].copy_from_slice(&t[..c - ch0]);
    }
}

/// Floats of one group's kernel spectra: 2 spectra × (L/2+1) bins × 4 lanes × (re, im).
fn group_spectra_len(len: usize) -> usize {
    16 * (len / 2 + 1)
}
