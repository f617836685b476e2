//! The prefill's one-pass causal convolution of a whole prompt.

use super::columns::{strip_width, strips, STRIP};
use super::kernel::OnlineKernel;
use super::scratch::FftScratch;
use crate::lane_conv::{self, group_spectra_len, load_group, store_group, GROUP};
use crate::lane_fft::C4;
use crate::par::{self, SendPtr};

/// Prompts up to this length are multiplied directly: `n²/2` multiply-adds per channel, vectorised over
/// channels, cost less than three FFTs of length `2n` per channel there.
const DIRECT_MAX: usize = 32;
const _: () = assert!(DIRECT_MAX <= super::kernel::MIN_ROWS, "a direct prompt reads its lags from the table");

/// `y[t][ch] = Σ_{j≤t} T_{t-j}[ch] · v[j][ch]` for `t < n` (`n ≤ cap`), by one zero-padded FFT product of length
/// `L ≥ 2n-1` per group of eight channels. The kernel spectrum of `T_0..T_{n-1}` depends on `n`, so it is
/// computed here rather than cached; a prefill happens once per sequence. Lags from the kernel's `rows()` on come
/// from `far` (see [`OnlineKernel::load_lags`]).
pub(crate) fn causal_conv(kernel: &OnlineKernel, v: &[f32], n: usize, far: &[f32], y: &mut [f32], scratch: &mut FftScratch) {
    let c = kernel.channels();
    if n <= DIRECT_MAX {
        causal_conv_direct(kernel, v, n, y);
        return;
    }
    let len = (2 * n - 1).next_power_of_two();
    let fft = kernel.fft(len);
    scratch.fit_pool();
    // Groups of eight channels are independent: ranges of them run on the pool's threads, each with its own slot.
    let ys = SendPtr(y.as_mut_ptr());
    par::for_each_unit(c.div_ceil(GROUP), 1, &scratch.slots, |g, sc| {
        let ch0 = g * GROUP;
        let (buf, work, spectra) = (&mut sc.buf[..len], &mut sc.work[..len], &mut sc.spectra[..group_spectra_len(len)]);
        kernel.load_lags(ch0, n, far, buf);
        lane_conv::kernel_spectra(fft, buf, work, spectra);
        for (i, z) in buf[..n].iter_mut().enumerate() {
            *z = load_group(v, i * c, c, ch0);
        }
        buf[n..].fill(C4::zero());
        lane_conv::convolve(fft, buf, work, spectra);
        let w = GROUP.min(c - ch0);
        for (i, &z) in buf[..n].iter().enumerate() {
            // SAFETY: only this group's channels of row i (y holds n·c floats); other tasks write other channels.
            let row = unsafe { core::slice::from_raw_parts_mut(ys.get().add(i * c + ch0), w) };
            store_group(row, 0, w, 0, z);
        }
    });
}

/// Row by row, for prompts short enough that every lag is in the kernel's table.
fn causal_conv_direct(kernel: &OnlineKernel, v: &[f32], n: usize, y: &mut [f32]) {
    let c = kernel.channels();
    debug_assert!(n <= kernel.rows());
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
