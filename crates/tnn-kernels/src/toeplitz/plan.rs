//! FFT Toeplitz mixing: each channel is a linear convolution done as a circular one of length `L ≥ 2n-1`.
//!
//! The kernel of channel `c` is laid out circularly: `a[d] = t_d` for `d = 0..n-1` and `a[L-d] = t_{-d}` for
//! `d = 1..n-1` (zero when causal), zero elsewhere. With `x` zero-padded to `L`, the first `n` outputs of the
//! circular convolution are exactly `Σ_j t_{i-j} x_j`, since `|i-j| ≤ n-1` never wraps into the other side.
//! (The official code's length-2n layout `[t_0, t_1..t_{n-1}, t_0, t_{-(n-1)}..t_{-1}]` is this with `L = 2n`;
//! its slot `n` is never read.)
//!
//! Channels go eight at a time through one complex FFT (see `lane_conv`). With a thread pool, ranges of these groups
//! run on different threads, each with its own scratch; a channel's result does not depend on which.
//! All buffers belong to the plan and are allocated once, in [`ToeplitzPlan::new`] (one scratch per pool thread).

use super::{coeff_rows, toeplitz_crossover_for, toeplitz_direct};
use crate::lane_conv::{self, group_spectra_len, load_group, store_group, GROUP};
use crate::lane_fft::{LaneFft, C4};
use crate::par::{self, PerSlot, SendPtr};

/// Groups of eight channels below which a task is not split further (one group at n = 2048 is two FFTs of 4,096).
const GROUPS_PER_TASK: usize = 2;

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
    /// One per pool thread.
    scratch: PerSlot<Scratch>,
}

/// What one thread needs to transform one group of eight channels.
struct Scratch {
    /// The signal (then spectrum) of the current group of eight channels.
    buf: Vec<C4>,
    /// Stockham ping-pong buffer.
    work: Vec<C4>,
    /// Kernel spectra of one group (see [`Fft::kernel_spectra`]), for [`ToeplitzPlan::apply_coeffs`].
    kernel: Vec<f32>,
}

impl Scratch {
    fn new(len: usize) -> Self {
        Scratch { buf: vec![C4::zero(); len], work: vec![C4::zero(); len], kernel: vec![0.0; group_spectra_len(len)] }
    }
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
                let out = SendPtr(out.as_mut_ptr());
                f.for_groups(c, |f, sc, g| {
                    // SAFETY: each group writes its own `per_group` floats of `out`, which holds them all.
                    let dst = unsafe { core::slice::from_raw_parts_mut(out.get().add(g * per_group), per_group) };
                    f.kernel_spectra(sc, coeffs, n, c, causal, g * GROUP, dst);
                });
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
                let y = SendPtr(y.as_mut_ptr());
                f.for_groups(c, |f, sc, g| {
                    // SAFETY: group g writes only channels g·8..g·8+8 of each row of y (n·c floats).
                    unsafe { f.convolve_group(sc, x, &spectra[g * per_group..][..per_group], y.get(), n, c, g * GROUP) }
                });
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
                let y = SendPtr(y.as_mut_ptr());
                f.for_groups(c, |f, sc, g| {
                    let mut kernel = core::mem::take(&mut sc.kernel);
                    f.kernel_spectra(sc, coeffs, n, c, causal, g * GROUP, &mut kernel);
                    // SAFETY: as in `apply`.
                    unsafe { f.convolve_group(sc, x, &kernel, y.get(), n, c, g * GROUP) };
                    sc.kernel = kernel;
                });
            }
        }
    }
}

impl Fft {
    fn new(n: usize) -> Self {
        let len = fast_fft_len((2 * n).saturating_sub(1));
        Fft { len, fft: LaneFft::new(len), scratch: PerSlot::for_pool(|| Scratch::new(len)) }
    }

    /// Calls `f(self, scratch, g)` for every group of eight channels, ranges of groups on the pool's threads.
    fn for_groups(&mut self, c: usize, f: impl Fn(&Fft, &mut Scratch, usize) + Sync) {
        let len = self.len;
        self.scratch.fit_pool(|| Scratch::new(len));
        let this = &*self;
        par::for_each_unit(c.div_ceil(GROUP), GROUPS_PER_TASK, &this.scratch, |g, sc| f(this, sc, g));
    }

    /// Kernel spectra of channels `ch0..ch0+8` into `out` (see [`lane_conv::kernel_spectra`]).
    #[allow(clippy::too_many_arguments)]
    fn kernel_spectra(&self, sc: &mut Scratch, coeffs: &[f32], n: usize, c: usize, causal: bool, ch0: usize, out: &mut [f32]) {
        let len = self.len;
        sc.buf.fill(C4::zero());
        // Offset d >= 0 sits at row d (causal) or d + n - 1 (bidirectional); offset -d at row n - 1 - d.
        let zero_row = if causal { 0 } else { n - 1 };
        for d in 0..n {
            sc.buf[d] = load_group(coeffs, (zero_row + d) * c, c, ch0);
        }
        if !causal {
            for d in 1..n {
                sc.buf[len - d] = load_group(coeffs, (n - 1 - d) * c, c, ch0);
            }
        }
        lane_conv::kernel_spectra(&self.fft, &mut sc.buf, &mut sc.work, out);
    }

    /// `y = T x` for channels `ch0..ch0+8`, with their kernel spectra `kernel` from [`Self::kernel_spectra`].
    ///
    /// # Safety
    /// `y` writable for `n·c` floats; nothing else writes channels `ch0..ch0+8` of it meanwhile.
    #[allow(clippy::too_many_arguments)]
    unsafe fn convolve_group(&self, sc: &mut Scratch, x: &[f32], kernel: &[f32], y: *mut f32, n: usize, c: usize, ch0: usize) {
        for i in 0..n {
            sc.buf[i] = load_group(x, i * c, c, ch0);
        }
        sc.buf[n..].fill(C4::zero());
        lane_conv::convolve(&self.fft, &mut sc.buf, &mut sc.work, kernel);
        let w = GROUP.min(c - ch0);
        for i in 0..n {
            // This row's channels of the group only: other threads write the rest of the row.
            store_group(core::slice::from_raw_parts_mut(y.add(i * c + ch0), w), 0, w, 0, sc.buf[i]);
        }
    }
}
