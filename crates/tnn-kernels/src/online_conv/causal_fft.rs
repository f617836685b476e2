//! The prefill's one-pass causal convolution of a whole prompt.

use super::columns::{strip_width, strips, STRIP};
use super::kernel::OnlineKernel;
use super::scratch::FftScratch;
use crate::lane_conv::{self, group_spectra_len, load_group, store_group, GROUP};
use crate::lane_fft::C4;

/// Prompts up to this length are multiplied directly: `n²/2` multiply-adds per channel, vectorised over
/// channels, cost less than three FFTs of length `2n` per channel there.
const DIRECT_MAX: usize = 32;

/// `y[t][ch] = Σ_{j≤t} T_{t-j}[ch] · v[j][ch]` for `t < n` (`n ≤ cap`), by one zero-padded FFT product of length
/// `L ≥ 2n-1` per group of eight channels. The kernel spectrum of `T_0..T_{n-1}` depends on `n`, so it is
/// computed here rather than cached; a prefill happens once per sequence.
pub(crate) fn causal_conv(kernel: &OnlineKernel, v: &[f32], n: usize, y: &mut [f32], scratch: &mut FftScratch) {
    let c = kernel.channels();
    if n <= DIRECT_MAX {
        causal_conv_direct(kernel, v, n, y);
        return;
    }
    let len = (2 * n - 1).next_power_of_two();
    let fft = kernel.fft(len);
    let FftScratch { buf, work, spectra } = scratch;
    let (buf, work, spectra) = (&mut buf[..len], &mut work[..len], &mut spectra[..group_spectra_len(len)]);
    for ch0 in (0..c).step_by(GROUP) {
        let slab = kernel.coeff_slab(ch0 / STRIP);
        for (d, z) in buf[..n].iter_mut().enumerate() {
            *z = load_group(slab, d * STRIP, STRIP, ch0 % STRIP);
        }
        buf[n..].fill(C4::zero());
        lane_conv::kernel_spectra(fft, buf, work, spectra);
        for (i, z) in buf[..n].iter_mut().enumerate() {
            *z = load_group(v, i * c, c, ch0);
        }
        buf[n..].fill(C4::zero());
        lane_conv::convolve(fft, buf, work, spectra);
        for (i, &z) in buf[..n].iter().enumerate() {
            store_group(y, i * c, c, ch0, z);
        }
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
