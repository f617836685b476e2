//! FFT Toeplitz mixing: each channel is a linear convolution done as a circular one of length `L ≥ 2n-1`.
//!
//! The kernel of channel `c` is laid out circularly: `a[d] = t_d` for `d = 0..n-1` and `a[L-d] = t_{-d}` for
//! `d = 1..n-1` (zero when causal), zero elsewhere. With `x` zero-padded to `L`, the first `n` outputs of the
//! circular convolution are exactly `Σ_j t_{i-j} x_j`, since `|i-j| ≤ n-1` never wraps into the other side.
//! (The official code's length-2n layout `[t_0, t_1..t_{n-1}, t_0, t_{-(n-1)}..t_{-1}]` is this with `L = 2n`;
//! its slot `n` is never read.)
//!
//! Channels are processed `group` at a time: their columns are gathered from the token-major `[n][c]` buffer
//! into contiguous signals, so every cache line of `x` and `y` that is touched is used for several channels.
//! All buffers belong to the plan and are allocated once, in [`ToeplitzPlan::new`].

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::{coeff_rows, toeplitz_crossover_for, toeplitz_direct};
use crate::simd::{F32x4, LANES};

/// Upper bound, in floats, on the plan's per-group signal and spectrum buffers (about 8 MiB), which caps the
/// number of channels processed together at long lengths.
const GROUP_FLOATS: usize = 1 << 21;
/// Most channels processed together: 16 channels of f32 fill one 64-byte cache line of a row of `x`.
const MAX_GROUP: usize = 16;

/// The smallest FFT length `≥ min_len` of the form `2^a` or `3·2^a` (both fast in RustFFT), at least 2.
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
    group: usize,
    r2c: Arc<dyn RealToComplex<f32>>,
    c2r: Arc<dyn ComplexToReal<f32>>,
    /// `group` signals of length `len`.
    signals: Vec<f32>,
    /// `group` spectra of length `len/2 + 1`.
    spectra: Vec<Complex<f32>>,
    /// One kernel signal and its spectrum, for [`ToeplitzPlan::apply_coeffs`].
    kernel_signal: Vec<f32>,
    kernel_spectrum: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
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
        let fft = (n >= toeplitz_crossover_for(causal)).then(|| Fft::new(n, c));
        ToeplitzPlan { n, c, causal, fft }
    }

    /// Plans the FFT path regardless of the crossover (for tests and measurements).
    pub fn new_fft(n: usize, c: usize, causal: bool) -> Self {
        ToeplitzPlan { n, c, causal, fft: Some(Fft::new(n, c)) }
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

    /// Floats of the cached kernel form written by [`spectra`](Self::spectra): `c · (L/2+1)` complex numbers
    /// (interleaved re, im; channel-major; scaled by `1/L`) on the FFT path, a copy of the coefficient table
    /// (`rows · c`) on the direct path.
    pub fn spectra_len(&self) -> usize {
        match &self.fft {
            Some(f) => self.c * (f.len / 2 + 1) * 2,
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
                let bins = f.len / 2 + 1;
                let out = as_complex_mut(&mut out[..len]);
                for ch in 0..c {
                    f.kernel_spectrum_of(coeffs, n, c, causal, ch);
                    out[ch * bins..(ch + 1) * bins].copy_from_slice(&f.kernel_spectrum);
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
                let bins = f.len / 2 + 1;
                let spectra = as_complex(&spectra[..len]);
                f.run(x, y, n, c, |ch| &spectra[ch * bins..(ch + 1) * bins]);
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
            Some(f) => f.run_with_coeffs(x, coeffs, y, n, c, causal),
        }
    }
}

impl Fft {
    fn new(n: usize, c: usize) -> Self {
        let len = fast_fft_len((2 * n).saturating_sub(1));
        let bins = len / 2 + 1;
        let group = (GROUP_FLOATS / (2 * len)).clamp(1, MAX_GROUP).min(c.max(1));
        let mut planner = RealFftPlanner::<f32>::new();
        let r2c = planner.plan_fft_forward(len);
        let c2r = planner.plan_fft_inverse(len);
        let scratch_len = r2c.get_scratch_len().max(c2r.get_scratch_len());
        Fft {
            len,
            group,
            r2c,
            c2r,
            signals: vec![0.0; group * len],
            spectra: vec![Complex::new(0.0, 0.0); group * bins],
            kernel_signal: vec![0.0; len],
            kernel_spectrum: vec![Complex::new(0.0, 0.0); bins],
            scratch: vec![Complex::new(0.0, 0.0); scratch_len],
        }
    }

    /// Spectrum of channel `ch`'s circular kernel, scaled by `1/L` (the inverse FFT's normalisation), into
    /// `self.kernel_spectrum`.
    fn kernel_spectrum_of(&mut self, coeffs: &[f32], n: usize, c: usize, causal: bool, ch: usize) {
        let len = self.len;
        let s = 1.0 / len as f32;
        let a = &mut self.kernel_signal;
        a.fill(0.0);
        if causal {
            for d in 0..n {
                a[d] = coeffs[d * c + ch] * s;
            }
        } else {
            // Row r holds t_{r-(n-1)}: offset d >= 0 at row d + n - 1, offset -d at row n - 1 - d.
            for d in 0..n {
                a[d] = coeffs[(d + n - 1) * c + ch] * s;
            }
            for d in 1..n {
                a[len - d] = coeffs[(n - 1 - d) * c + ch] * s;
            }
        }
        // Lengths are right by construction; the only possible error is a length mismatch.
        let _ = self.r2c.process_with_scratch(a, &mut self.kernel_spectrum, &mut self.scratch);
    }

    /// The convolution proper, `group` channels at a time; `kernel(ch)` gives channel `ch`'s spectrum.
    fn run<'k>(&mut self, x: &[f32], y: &mut [f32], n: usize, c: usize, kernel: impl Fn(usize) -> &'k [Complex<f32>]) {
        let mut ch0 = 0;
        while ch0 < c {
            let g = self.group.min(c - ch0);
            self.forward_group(x, n, c, ch0, g);
            for k in 0..g {
                let bins = self.len / 2 + 1;
                let spec = kernel(ch0 + k);
                complex_mul_in_place(&mut self.spectra[k * bins..(k + 1) * bins], spec);
            }
            self.inverse_group(y, n, c, ch0, g);
            ch0 += g;
        }
    }

    fn run_with_coeffs(&mut self, x: &[f32], coeffs: &[f32], y: &mut [f32], n: usize, c: usize, causal: bool) {
        let bins = self.len / 2 + 1;
        let mut ch0 = 0;
        while ch0 < c {
            let g = self.group.min(c - ch0);
            self.forward_group(x, n, c, ch0, g);
            for k in 0..g {
                self.kernel_spectrum_of(coeffs, n, c, causal, ch0 + k);
                complex_mul_in_place(&mut self.spectra[k * bins..(k + 1) * bins], &self.kernel_spectrum);
            }
            self.inverse_group(y, n, c, ch0, g);
            ch0 += g;
        }
    }

    /// Gathers channels `ch0..ch0+g` of `x` into zero-padded signals and transforms them into `self.spectra`.
    fn forward_group(&mut self, x: &[f32], n: usize, c: usize, ch0: usize, g: usize) {
        let len = self.len;
        let bins = len / 2 + 1;
        for k in 0..g {
            self.signals[k * len + n..(k + 1) * len].fill(0.0);
        }
        for i in 0..n {
            let row = &x[i * c + ch0..i * c + ch0 + g];
            for (k, &v) in row.iter().enumerate() {
                self.signals[k * len + i] = v;
            }
        }
        for k in 0..g {
            let _ = self.r2c.process_with_scratch(
                &mut self.signals[k * len..(k + 1) * len],
                &mut self.spectra[k * bins..(k + 1) * bins],
                &mut self.scratch,
            );
        }
    }

    /// Inverse-transforms `self.spectra` and scatters the first `n` samples into channels `ch0..ch0+g` of `y`.
    fn inverse_group(&mut self, y: &mut [f32], n: usize, c: usize, ch0: usize, g: usize) {
        let len = self.len;
        let bins = len / 2 + 1;
        for k in 0..g {
            let spec = &mut self.spectra[k * bins..(k + 1) * bins];
            // DC and Nyquist of a real signal's spectrum are real; clear any rounding residue.
            spec[0].im = 0.0;
            spec[bins - 1].im = 0.0;
            let _ = self.c2r.process_with_scratch(spec, &mut self.signals[k * len..(k + 1) * len], &mut self.scratch);
        }
        for i in 0..n {
            let row = &mut y[i * c + ch0..i * c + ch0 + g];
            for (k, v) in row.iter_mut().enumerate() {
                *v = self.signals[k * len + i];
            }
        }
    }
}

/// `a[i] *= b[i]` for complex slices, two complex numbers per vector.
fn complex_mul_in_place(a: &mut [Complex<f32>], b: &[Complex<f32>]) {
    assert_eq!(a.len(), b.len());
    let n = a.len();
    let pa = a.as_mut_ptr() as *mut f32;
    let pb = b.as_ptr() as *const f32;
    let mut i = 0;
    while i + 2 <= n {
        // SAFETY: Complex<f32> is repr(C) {re, im}; elements i, i+1 are 4 floats inside both slices.
        unsafe {
            let v = F32x4::load_ptr(pa.add(2 * i)).complex_mul(F32x4::load_ptr(pb.add(2 * i)));
            v.store_ptr(pa.add(2 * i));
        }
        i += LANES / 2;
    }
    if i < n {
        a[i] *= b[i];
    }
}

fn as_complex(s: &[f32]) -> &[Complex<f32>] {
    assert!(s.len() % 2 == 0);
    // SAFETY: Complex<f32> is repr(C) with two f32 fields and the alignment of f32.
    unsafe { core::slice::from_raw_parts(s.as_ptr() as *const Complex<f32>, s.len() / 2) }
}

fn as_complex_mut(s: &mut [f32]) -> &mut [Complex<f32>] {
    assert!(s.len() % 2 == 0);
    // SAFETY: as in `as_complex`.
    unsafe { core::slice::from_raw_parts_mut(s.as_mut_ptr() as *mut Complex<f32>, s.len() / 2) }
}
