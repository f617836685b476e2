//! Working memory for the FFT paths, sized once per state so that no call allocates.

use super::kernel::OnlineKernel;
use crate::lane_conv::group_spectra_len;
use crate::lane_fft::C4;

pub(crate) struct FftScratch {
    /// The signal of one group of eight channels, then its spectrum and output: up to `2·cap` rows (the
    /// prefill's longest transform).
    pub(crate) buf: Vec<C4>,
    /// The FFT's ping-pong buffer.
    pub(crate) work: Vec<C4>,
    /// Kernel spectra of one group: the prefill's, and those of blocks too large to cache.
    pub(crate) spectra: Vec<f32>,
}

impl FftScratch {
    pub(crate) fn for_kernel(kernel: &OnlineKernel) -> Self {
        let len = 2 * kernel.cap();
        FftScratch {
            buf: vec![C4::zero(); len],
            work: vec![C4::zero(); len],
            spectra: vec![0.0; group_spectra_len(len)],
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        (self.buf.len() + self.work.len()) * core::mem::size_of::<C4>() + self.spectra.len() * 4
    }
}
