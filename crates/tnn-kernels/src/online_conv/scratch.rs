//! Working memory for the FFT paths, sized once per state so that no call allocates: one set per thread of the pool
//! the state was made under, since groups of channels transform on several threads at once.

use super::kernel::OnlineKernel;
use crate::lane_conv::group_spectra_len;
use crate::lane_fft::C4;
use crate::par::PerSlot;

pub(crate) struct FftSlot {
    /// The signal of one group of eight channels, then its spectrum and output: up to `2·cap` rows (the
    /// prefill's longest transform).
    pub(crate) buf: Vec<C4>,
    /// The FFT's ping-pong buffer.
    pub(crate) work: Vec<C4>,
    /// Kernel spectra of one group: the prefill's, and those of blocks too large to cache.
    pub(crate) spectra: Vec<f32>,
}

pub(crate) struct FftScratch {
    len: usize,
    pub(crate) slots: PerSlot<FftSlot>,
}

impl FftSlot {
    fn new(len: usize) -> Self {
        FftSlot { buf: vec![C4::zero(); len], work: vec![C4::zero(); len], spectra: vec![0.0; group_spectra_len(len)] }
    }
}

impl FftScratch {
    /// Bytes that [`for_kernel`](Self::for_kernel) allocates for a kernel of `kernel_cap` under the installed pool.
    pub(crate) fn bytes_for(kernel_cap: usize) -> usize {
        let len = 2 * kernel_cap;
        crate::par::threads() * (2 * len * core::mem::size_of::<C4>() + group_spectra_len(len) * 4)
    }

    pub(crate) fn for_kernel(kernel: &OnlineKernel) -> Self {
        let len = 2 * kernel.cap();
        FftScratch { len, slots: PerSlot::for_pool(|| FftSlot::new(len)) }
    }

    /// Makes sure every thread of the installed pool has a slot (see [`PerSlot::fit_pool`]).
    pub(crate) fn fit_pool(&mut self) {
        let len = self.len;
        self.slots.fit_pool(|| FftSlot::new(len));
    }

    pub(crate) fn bytes(&self) -> usize {
        self.slots.iter().map(|s| (s.buf.len() + s.work.len()) * core::mem::size_of::<C4>() + s.spectra.len() * 4).sum()
    }
}
