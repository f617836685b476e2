//! The prefill's one-pass causal convolution of a whole prompt.

use super::columns::{gather, scatter, strip_width, strips, STRIP};
use super::kernel::OnlineKernel;
use super::scratch::FftScratch;

/// Prompts up to this length are multiplied directly: `n²/2` multiply-adds per channel, vectorised over
/// channels, cost less than three FFTs of length `2n` per channel there.
const DIRECT_MAX: usize = 32;

/// `y[t][ch] = Σ_{j≤t} T_{t-j}[ch] · v[j][ch]` for `t < n` (`n ≤ cap`), by one zero-padded FFT product of length
/// `L ≥ 2n-1` per channel. The kernel spectrum of `T_0..T_{n-1}` depends on `n`, so it is computed here rather
/// than cached; a prefill happens once per sequence.
pub(crate) fn causal_conv(kernel: &OnlineKernel, v: &[f32], n: usize, y: &mut [f32], scratch: &mut FftScratch) {
    let c = kernel.channels();
    if n <= DIRECT_MAX {
        causal_conv_direct(kernel, v, n, y);
        return;
    }
    let len = (2 * n - 1).next_power_of_two();
    let bins = len / 2 + 1;
    let plan = kernel.plan(len);
    let FftScratch { cols, col, spec, spec2, fft } = scratch;
    let (spec, spec2, col) = (&mut spec[..bins], &mut spec2[..bins], &mut col[..len]);
    let scale = 1.0 / len as f32;
    // Whole strips when the columns fit (transforms up to `cap`), half strips for the longest ones.
    let group = (cols.len() / len).min(STRIP);
    for c0 in (0..c).step_by(group) {
        let g = group.min(c - c0);
        gather(v, c, 0, n, c0, g, cols, len);
        for i in 0..g {
            let ch = c0 + i;
            let x = &mut cols[i * len..][..len];
            x[n..].fill(0.0);
            plan.forward.process_with_scratch(x, spec, fft).expect("buffer sizes match the plan");
            let slab = kernel.coeff_slab(ch / STRIP);
            for (k, t) in col[..n].iter_mut().enumerate() {
                *t = slab[k * STRIP + ch % STRIP];
            }
            col[n..].fill(0.0);
            plan.forward.process_with_scratch(col, spec2, fft).expect("buffer sizes match the plan");
            for (z, &w) in spec.iter_mut().zip(spec2.iter()) {
                *z *= w * scale;
            }
            spec[0].im = 0.0;
            spec[bins - 1].im = 0.0;
            plan.inverse.process_with_scratch(spec, x, fft).expect("buffer sizes match the plan");
        }
        scatter(cols, len, n, y, c, c0, g);
    }
}

fn causal_conv_direct(kernel: &OnlineKernel, v: &[f32], n: usize, y: &mut [f32]) {
    let c = kernel.channels();
    for s in 0..strips(c) {
        let (c0, w) = (s * STRIP, strip_width(c, s));
        let slab = kernel.coeff_slab(s);
        for t in 0..n {
            let out = &mut y[t * c + c0..][..w];
            out.fill(0.0);
            for j in 0..=t {
                let a = &slab[(t - j) * STRIP..][..w];
                let b = &v[j * c + c0..][..w];
                for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
                    *o += a * b;
                }
            }
        }
    }
}
