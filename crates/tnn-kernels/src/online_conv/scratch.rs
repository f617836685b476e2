//! Working memory for the FFT paths, sized once per state so that no call allocates.

use realfft::num_complex::Complex;

use super::columns::STRIP;
use super::kernel::OnlineKernel;

pub(crate) struct FftScratch {
    /// Channel columns: one strip's worth, `[STRIP][2U]` with `2U ≤ cap` for blocks; the prefill's longer
    /// transforms (up to `2·cap`) fit half as many channels at a time.
    pub(crate) cols: Vec<f32>,
    /// One more column, for the prefill's coefficient segment.
    pub(crate) col: Vec<f32>,
    pub(crate) spec: Vec<Complex<f32>>,
    pub(crate) spec2: Vec<Complex<f32>>,
    pub(crate) fft: Vec<Complex<f32>>,
}

impl FftScratch {
    pub(crate) fn for_kernel(kernel: &OnlineKernel) -> Self {
        let cap = kernel.cap();
        let zero = Complex::new(0.0f32, 0.0);
        FftScratch {
            cols: vec![0.0; STRIP.min(kernel.channels()).max(2) * cap],
            col: vec![0.0; 2 * cap],
            spec: vec![zero; cap + 1],
            spec2: vec![zero; cap + 1],
            fft: vec![zero; kernel.fft_scratch_len()],
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        (self.cols.len() + self.col.len()) * 4 + (self.spec.len() + self.spec2.len() + self.fft.len()) * 8
    }
}
