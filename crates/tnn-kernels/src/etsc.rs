//! ETSC: exact Toeplitz-to-SSM conversion (Qin & Zhong, EMNLP 2023), a constant-state decode.
//!
//! Take the undecayed coefficients `t_0..t_{N-1}` of one channel and append `t_N = -Σ t_k`, so the sequence of
//! length `N+1` sums to zero. Its inverse DFT, `t_k = Σ_{j=0..N} a_j ω^{-jk}` with `ω = e^{2πi/(N+1)}` and
//! `a_j = (1/(N+1)) Σ_k t_k ω^{jk}`, then has `a_0 = 0`, leaving `N` modes. With the decay,
//! `T_k = λ^k t_k = Σ_{j=1..N} a_j p_j^k` with poles `p_j = λ ω^{-j}`, so
//! `y_t = Σ_k T_k v_{t-k} = Σ_j a_j h_j(t)` where `h_j(t) = p_j h_j(t-1) + v_t`: a diagonal SSM with `N` complex
//! states per channel, whatever the context length.
//!
//! It is exact while every lag is below `N`, i.e. for positions `t < N`. Beyond, lag `k` sees
//! `λ^k t_{k mod (N+1)}` (with the appended `t_N`) instead of the model's `T_k`: the kernel repeats with period
//! `N+1` under the decay, so the error is of the order of `λ^N`.
//!
//! The coefficients are real, so modes `j` and `N+1-j` are conjugate and one of each pair suffices (its output
//! weight doubled); for odd `N` the mode `j = (N+1)/2` is its own conjugate, with the real pole `-λ`. Modes and
//! states are kept in f64: the modes of a decaying kernel add up with heavy cancellation, and the recurrence
//! accumulates rounding over about `1/(1-λ)` steps.
//!
//! The prefill does not loop over steps (`O(n·N)` per channel): it cuts the prompt into chunks of `B` tokens
//! and, per chunk, gets the carried-in state's outputs from one DFT of length `N+1` (`Σ_j a_j h_j p_j^q` is a
//! DFT of `a_j h_j` over `q`), the in-chunk outputs from an FFT product with the effective kernel, and the new
//! state from one more DFT of the decayed, folded chunk. That is `O(n log N)` per channel.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::online_conv::DecodeError;

/// The modes of one layer's kernel, laid out `[mode][c]` so each mode's update is vectorised over channels.
pub struct EtscKernel {
    window: usize,
    c: usize,
    pairs: usize,
    pole_re: Vec<f64>,
    pole_im: Vec<f64>,
    /// Twice `a_j`, for `y += 2·Re(a_j h_j)`.
    weight_re: Vec<f64>,
    weight_im: Vec<f64>,
    /// For odd `N`: the self-conjugate mode's pole `-λ` and weight, `[c]`; empty for even `N`.
    real_pole: Vec<f64>,
    real_weight: Vec<f64>,
    /// For the prefill: `λ` and the undecayed period `t_0..t_N` per channel (`[c]`, `[c][N+1]`).
    lambda: Vec<f64>,
    period: Vec<f64>,
    /// Prefill chunk length `B`: a power of two at least `N`.
    chunk: usize,
    /// Real FFTs of length `N+1` (the modes) and `2B` (the in-chunk product).
    mode_fft: Arc<dyn RealToComplex<f64>>,
    mode_ifft: Arc<dyn ComplexToReal<f64>>,
    chunk_fft: Arc<dyn RealToComplex<f64>>,
    chunk_ifft: Arc<dyn ComplexToReal<f64>>,
}

impl EtscKernel {
    /// `undecayed[N][c]` holds `t_0..t_{N-1}` without decay; `gamma[c]` holds each channel's decay `λ`
    /// (`1.0` for none).
    pub fn new(undecayed: &[f32], gamma: &[f32], window: usize, c: usize) -> Self {
        assert!(window > 0 && c > 0, "window and channel count must be positive");
        assert_eq!(undecayed.len(), window * c, "coefficients must be [N][c]");
        assert_eq!(gamma.len(), c, "gamma must hold one decay per channel");
        let len = window + 1;
        let pairs = window / 2;
        let has_real_mode = window % 2 == 1;
        let chunk = window.next_power_of_two();
        let mut planner = RealFftPlanner::<f64>::new();
        let plan = planner.plan_fft_forward(len);
        let mut seq = plan.make_input_vec();
        let mut spectrum = plan.make_output_vec();
        let mut scratch = plan.make_scratch_vec();

        let mut kernel = EtscKernel {
            window,
            c,
            pairs,
            pole_re: vec![0.0; pairs * c],
            pole_im: vec![0.0; pairs * c],
            weight_re: vec![0.0; pairs * c],
            weight_im: vec![0.0; pairs * c],
            real_pole: vec![0.0; if has_real_mode { c } else { 0 }],
            real_weight: vec![0.0; if has_real_mode { c } else { 0 }],
            lambda: gamma.iter().map(|&g| g as f64).collect(),
            period: vec![0.0; c * len],
            chunk,
            mode_fft: plan.clone(),
            mode_ifft: planner.plan_fft_inverse(len),
            chunk_fft: planner.plan_fft_forward(2 * chunk),
            chunk_ifft: planner.plan_fft_inverse(2 * chunk),
        };
        let inv_len = 1.0 / len as f64;
        for ch in 0..c {
            let mut sum = 0.0f64;
            for k in 0..window {
                let t = undecayed[k * c + ch] as f64;
                seq[k] = t;
                sum += t;
            }
            seq[window] = -sum;
            kernel.period[ch * len..][..len].copy_from_slice(&seq);
            // realfft computes X_j = Σ_k t_k ω^{-jk}; the inverse-DFT weight is a_j = conj(X_j) / (N+1).
            plan.process_with_scratch(&mut seq, &mut spectrum, &mut scratch).expect("buffer sizes match the plan");
            let lambda = gamma[ch] as f64;
            for j in 1..=pairs {
                let theta = 2.0 * std::f64::consts::PI * j as f64 / len as f64;
                let a = spectrum[j].conj() * inv_len;
                let i = (j - 1) * c + ch;
                kernel.pole_re[i] = lambda * theta.cos();
                kernel.pole_im[i] = -lambda * theta.sin();
                kernel.weight_re[i] = 2.0 * a.re;
                kernel.weight_im[i] = 2.0 * a.im;
            }
            if has_real_mode {
                kernel.real_pole[ch] = -lambda;
                kernel.real_weight[ch] = spectrum[len / 2].re * inv_len;
            }
        }
        kernel
    }

    /// `N`: positions below it decode exactly.
    pub fn window(&self) -> usize {
        self.window
    }

    pub fn channels(&self) -> usize {
        self.c
    }

    pub fn memory_bytes(&self) -> usize {
        (self.pole_re.len() * 4 + self.real_pole.len() * 2 + self.lambda.len() + self.period.len()) * 8
    }

    /// The decayed kernel this SSM realises at lag `k`, for channel `ch`: `Σ_j a_j p_j^k`. Equals `λ^k t_k` for
    /// `k < N`; exposed so callers can see exactly what happens past the window.
    pub fn effective_coeff(&self, k: usize, ch: usize) -> f64 {
        let mut sum = 0.0;
        for j in 0..self.pairs {
            let i = j * self.c + ch;
            let p = Complex::new(self.pole_re[i], self.pole_im[i]).powu(k as u32);
            sum += self.weight_re[i] * p.re - self.weight_im[i] * p.im;
        }
        if !self.real_pole.is_empty() {
            sum += self.real_weight[ch] * self.real_pole[ch].powi(k as i32);
        }
        sum
    }
}

/// One sequence's state for one layer: `N` complex numbers per channel (stored as `⌊N/2⌋` conjugate pairs plus
/// one real state for odd `N`), independent of the context length.
pub struct EtscState {
    c: usize,
    pairs: usize,
    pos: usize,
    h_re: Vec<f64>,
    h_im: Vec<f64>,
    h_real: Vec<f64>,
    acc: Vec<f64>,
    work: PrefillWork,
}

/// The prefill's buffers, sized by `N` and the chunk length so that no call allocates.
struct PrefillWork {
    /// Length `N+1`: a folded chunk, or the carried-in outputs.
    modes: Vec<f64>,
    mode_spec: Vec<Complex<f64>>,
    /// Length `2B`: the effective kernel and a chunk, zero-padded, and their spectra.
    kernel_col: Vec<f64>,
    kernel_spec: Vec<Complex<f64>>,
    chunk_col: Vec<f64>,
    chunk_spec: Vec<Complex<f64>>,
    fft: Vec<Complex<f64>>,
}

impl PrefillWork {
    fn new(kernel: &EtscKernel) -> Self {
        let zero = Complex::new(0.0, 0.0);
        let fft = [
            kernel.mode_fft.get_scratch_len(),
            kernel.mode_ifft.get_scratch_len(),
            kernel.chunk_fft.get_scratch_len(),
            kernel.chunk_ifft.get_scratch_len(),
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        PrefillWork {
            modes: kernel.mode_fft.make_input_vec(),
            mode_spec: kernel.mode_fft.make_output_vec(),
            kernel_col: kernel.chunk_fft.make_input_vec(),
            kernel_spec: kernel.chunk_fft.make_output_vec(),
            chunk_col: kernel.chunk_fft.make_input_vec(),
            chunk_spec: kernel.chunk_fft.make_output_vec(),
            fft: vec![zero; fft],
        }
    }

    fn bytes(&self) -> usize {
        (self.modes.len() + self.kernel_col.len() + self.chunk_col.len()) * 8
            + (self.mode_spec.len() + self.kernel_spec.len() + self.chunk_spec.len() + self.fft.len()) * 16
    }
}

impl EtscState {
    pub fn new(kernel: &EtscKernel) -> Self {
        let (c, pairs) = (kernel.c, kernel.pairs);
        EtscState {
            c,
            pairs,
            pos: 0,
            h_re: vec![0.0; pairs * c],
            h_im: vec![0.0; pairs * c],
            h_real: vec![0.0; kernel.real_pole.len()],
            acc: vec![0.0; c],
            work: PrefillWork::new(kernel),
        }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn channels(&self) -> usize {
        self.c
    }

    pub fn reset(&mut self) {
        self.h_re.fill(0.0);
        self.h_im.fill(0.0);
        self.h_real.fill(0.0);
        self.pos = 0;
    }

    pub fn memory_bytes(&self) -> usize {
        (self.h_re.len() * 2 + self.h_real.len() + self.acc.len()) * 8 + self.work.bytes()
    }

    fn check_kernel(&self, kernel: &EtscKernel) {
        assert!(
            kernel.c == self.c && kernel.pairs == self.pairs && kernel.real_pole.len() == self.h_real.len(),
            "kernel shape differs from the state's"
        );
    }

    /// Consumes a prompt `v[n][c]` into a fresh state and writes its outputs `y[n][c]`: the same numbers as `n`
    /// steps (up to rounding), in `O(n log N)` per channel instead of `O(n·N)`.
    pub fn prefill(&mut self, kernel: &EtscKernel, v: &[f32], n: usize, y: &mut [f32]) -> Result<(), DecodeError> {
        self.check_kernel(kernel);
        let c = self.c;
        assert!(v.len() >= n * c && y.len() >= n * c, "prefill buffers must be [n][c]");
        if self.pos != 0 {
            return Err(DecodeError::PrefillNotAtStart { position: self.pos });
        }
        for ch in 0..c {
            self.prefill_channel(kernel, ch, v, n, y);
        }
        self.pos = n;
        Ok(())
    }

    fn prefill_channel(&mut self, kernel: &EtscKernel, ch: usize, v: &[f32], n: usize, y: &mut [f32]) {
        let (c, pairs) = (self.c, self.pairs);
        let len = kernel.window + 1;
        let chunk = kernel.chunk;
        let scale = 1.0 / (2 * chunk) as f64;
        let lambda = kernel.lambda[ch];
        let period = &kernel.period[ch * len..][..len];
        let PrefillWork { modes, mode_spec, kernel_col, kernel_spec, chunk_col, chunk_spec, fft } = &mut self.work;
        let expect = "buffer sizes match the plan";

        // The effective kernel K_e = λ^e t_{e mod (N+1)}, which the modes realise exactly at every lag.
        let mut power = 1.0;
        for (e, k) in kernel_col[..chunk].iter_mut().enumerate() {
            *k = power * period[e % len];
            power *= lambda;
        }
        kernel_col[chunk..].fill(0.0);
        kernel.chunk_fft.process_with_scratch(kernel_col, kernel_spec, fft).expect(expect);

        let mut t0 = 0;
        while t0 < n {
            let b = chunk.min(n - t0);
            // Outputs from this chunk's own inputs.
            for (d, x) in chunk_col[..b].iter_mut().enumerate() {
                *x = v[(t0 + d) * c + ch] as f64;
            }
            chunk_col[b..].fill(0.0);
            kernel.chunk_fft.process_with_scratch(chunk_col, chunk_spec, fft).expect(expect);
            for (z, &k) in chunk_spec.iter_mut().zip(kernel_spec.iter()) {
                *z *= k * scale;
            }
            let last = chunk_spec.len() - 1;
            chunk_spec[0].im = 0.0;
            chunk_spec[last].im = 0.0;
            kernel.chunk_ifft.process_with_scratch(chunk_spec, chunk_col, fft).expect(expect);

            // Outputs from the carried-in state: y_{t0+d} += λ^{q} Σ_j a_j h_j ω^{-jq}, q = d+1, which is the
            // inverse real DFT of conj(a_j h_j) (the conjugate half of each pair comes from the symmetry).
            if t0 > 0 {
                mode_spec[0] = Complex::new(0.0, 0.0);
                for j in 1..=pairs {
                    let i = (j - 1) * c + ch;
                    let a = Complex::new(kernel.weight_re[i], kernel.weight_im[i]) * 0.5;
                    mode_spec[j] = (a * Complex::new(self.h_re[i], self.h_im[i])).conj();
                }
                if !self.h_real.is_empty() {
                    mode_spec[len / 2] = Complex::new(kernel.real_weight[ch] * self.h_real[ch], 0.0);
                }
                kernel.mode_ifft.process_with_scratch(mode_spec, modes, fft).expect(expect);
                let mut power = lambda;
                for (d, x) in chunk_col[..b].iter_mut().enumerate() {
                    *x += power * modes[(d + 1) % len];
                    power *= lambda;
                }
            }
            for (d, &x) in chunk_col[..b].iter().enumerate() {
                y[(t0 + d) * c + ch] = x as f32;
            }

            // New state: h_j ← p_j^b h_j + Σ_s p_j^s v_{t0+b-1-s}; the sum is the DFT of the chunk reversed,
            // decayed and folded modulo N+1.
            modes.fill(0.0);
            let mut power = 1.0;
            for s in 0..b {
                modes[s % len] += power * v[(t0 + b - 1 - s) * c + ch] as f64;
                power *= lambda;
            }
            kernel.mode_fft.process_with_scratch(modes, mode_spec, fft).expect(expect);
            let decay = lambda.powi(b as i32);
            for j in 1..=pairs {
                let i = (j - 1) * c + ch;
                let theta = -2.0 * std::f64::consts::PI * ((j * b) % len) as f64 / len as f64;
                let p = Complex::new(decay * theta.cos(), decay * theta.sin());
                let h = p * Complex::new(self.h_re[i], self.h_im[i]) + mode_spec[j];
                self.h_re[i] = h.re;
                self.h_im[i] = h.im;
            }
            if !self.h_real.is_empty() {
                let sign = if b % 2 == 0 { 1.0 } else { -1.0 };
                self.h_real[ch] = sign * decay * self.h_real[ch] + mode_spec[len / 2].re;
            }
            t0 += b;
        }
    }

    /// Consumes one token `v[c]` and writes its output `y[c]`. Never fails: the state does not grow.
    pub fn step(&mut self, kernel: &EtscKernel, v: &[f32], y: &mut [f32]) {
        self.check_kernel(kernel);
        let c = self.c;
        let (v, y) = (&v[..c], &mut y[..c]);
        self.acc.fill(0.0);
        for j in 0..self.pairs {
            let r = j * c..(j + 1) * c;
            let (hr, hi) = (&mut self.h_re[r.clone()], &mut self.h_im[r.clone()]);
            let (pr, pi) = (&kernel.pole_re[r.clone()], &kernel.pole_im[r.clone()]);
            let (wr, wi) = (&kernel.weight_re[r.clone()], &kernel.weight_im[r]);
            for ch in 0..c {
                let re = pr[ch] * hr[ch] - pi[ch] * hi[ch] + v[ch] as f64;
                let im = pr[ch] * hi[ch] + pi[ch] * hr[ch];
                hr[ch] = re;
                hi[ch] = im;
                self.acc[ch] += wr[ch] * re - wi[ch] * im;
            }
        }
        for ch in 0..self.h_real.len() {
            let h = kernel.real_pole[ch] * self.h_real[ch] + v[ch] as f64;
            self.h_real[ch] = h;
            self.acc[ch] += kernel.real_weight[ch] * h;
        }
        for (y, &a) in y.iter_mut().zip(&self.acc) {
            *y = a as f32;
        }
        self.pos += 1;
    }
}
