//! The shared, read-only part of online convolution: coefficients, block spectra and FFT plans.

use super::columns::{from_strips, strips, to_strips, STRIP};
use crate::lane_conv::{self, group_spectra_len, load_group, GROUP};
use crate::lane_fft::{LaneFft, C4};

/// Blocks of at least this many tokens go through the FFT; smaller ones are multiplied directly. A direct block
/// of size `U` costs `U/2` multiply-adds per token and channel, vectorised over channels, against two FFTs of
/// size `2U` per channel plus the transposition in and out. The decode micro-benchmark (c = 1536) found 32, 64
/// and 128 within noise of each other natively and 64 slightly ahead in wasm.
pub(crate) const FFT_MIN_BLOCK: usize = 64;

/// The largest block sizes whose spectra are computed when their block fires instead of cached. Block size `U`
/// fires `cap/U` times per sequence and its transforms cost about `U log U` per firing, so every level costs the
/// same per token, and computing its spectra each time adds a third of that level's work (a third FFT to the two
/// it already does). The memory is not the same: a level holds `8(U+1)` bytes per channel, so the top two hold
/// three quarters of all cached spectra (6·cap of the 12·cap bytes per channel that coefficients and spectra
/// took). Dropping them halves a bucket's kernel memory for a few percent of decode time.
const UNCACHED_TOP_LEVELS: u32 = 2;

/// Coefficients `T_0..T_{cap-1}` (`[cap][c]`) of a causal depthwise kernel, plus what the online scheme needs
/// precomputed: for each FFT block size `U` from [`FFT_MIN_BLOCK`] to `cap/8` (see [`UNCACHED_TOP_LEVELS`]), the
/// spectrum of the length-`2U` segment `(0, T_1, .., T_{2U-1})` per channel, in the eight-channel layout of
/// `lane_conv`. Built once per length bucket and shared by every sequence.
pub struct OnlineKernel {
    cap: usize,
    c: usize,
    /// The table stored strip-major, `[strips][cap][STRIP]`, like the states' tables (see `columns`).
    coeffs: Vec<f32>,
    /// `levels[i]` holds block size `FFT_MIN_BLOCK << i`: for each group of eight channels (two per strip),
    /// [`group_spectra_len`]`(2U)` floats from [`lane_conv::kernel_spectra`]. Larger blocks are not cached.
    levels: Vec<Vec<f32>>,
    /// `ffts[k]` has length `2^k`, for every power of two up to `2·cap` (the prefill's longest transform).
    ffts: Vec<LaneFft>,
}

impl OnlineKernel {
    /// Builds the kernel from `coeffs[cap][c]` (row `k` is `T_k`). `cap` must be a power of two.
    pub fn new(coeffs: &[f32], cap: usize, c: usize) -> Self {
        assert!(cap.is_power_of_two(), "cap must be a power of two, got {cap}");
        assert!(c > 0, "channel count must be positive");
        assert_eq!(coeffs.len(), cap * c, "coefficient table must be [cap][c]");

        let max_log = (2 * cap).trailing_zeros() as usize;
        let ffts: Vec<LaneFft> = (0..=max_log).map(|k| LaneFft::new(1 << k)).collect();

        let mut table = vec![0.0f32; strips(c) * cap * STRIP];
        to_strips(coeffs, cap, c, &mut table, cap);
        let mut kernel = OnlineKernel { cap, c, coeffs: table, levels: Vec::new(), ffts };
        let mut u = FFT_MIN_BLOCK;
        while u <= cap >> (UNCACHED_TOP_LEVELS + 1) {
            let len = 2 * u;
            let per = group_spectra_len(len);
            let mut spectra = vec![0.0f32; strips(c) * (STRIP / GROUP) * per];
            let (mut buf, mut work) = (vec![C4::zero(); len], vec![C4::zero(); len]);
            for (gi, out) in spectra.chunks_exact_mut(per).enumerate() {
                kernel.group_block_spectra(gi, u, &mut buf, &mut work, out);
            }
            kernel.levels.push(spectra);
            u *= 2;
        }
        kernel
    }

    /// Spectra of `(0, T_1, .., T_{2u-1})` for group `gi` of eight channels into `out`; `buf` and `work` hold `2u`
    /// elements. `T_0` is left out because a block only ever feeds outputs strictly after its inputs; leaving it in
    /// would add its rounding for nothing.
    pub(crate) fn group_block_spectra(&self, gi: usize, u: usize, buf: &mut [C4], work: &mut [C4], out: &mut [f32]) {
        let (slab, lane0) = (self.coeff_slab(gi * GROUP / STRIP), gi * GROUP % STRIP);
        for (d, z) in buf.iter_mut().enumerate() {
            *z = load_group(slab, d * STRIP, STRIP, lane0);
        }
        buf[0] = C4::zero();
        lane_conv::kernel_spectra(self.fft(2 * u), buf, work, out);
    }

    /// Length bucket: the number of positions a state built on this kernel can hold.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.c
    }

    /// Copies the coefficient table out as `[cap][c]`.
    pub fn copy_coeffs(&self, out: &mut [f32]) {
        from_strips(&self.coeffs, self.cap, self.c, self.cap, &mut out[..self.cap * self.c]);
    }

    /// Bytes held by the coefficients and the block spectra (the FFT plans' twiddles are small and not counted).
    pub fn memory_bytes(&self) -> usize {
        self.coeffs.len() * 4 + self.levels.iter().map(|l| l.len() * 4).sum::<usize>()
    }

    /// Strip `s` of the coefficient table: `[cap][STRIP]`, row `k` holding `T_k`; padding lanes are zero.
    #[inline]
    pub(crate) fn coeff_slab(&self, s: usize) -> &[f32] {
        &self.coeffs[s * self.cap * STRIP..][..self.cap * STRIP]
    }

    /// Cached spectra of the block size `u`, [`group_spectra_len`]`(2u)` floats per group of eight channels; None
    /// for the sizes computed when they fire.
    #[inline]
    pub(crate) fn block_level(&self, u: usize) -> Option<&[f32]> {
        debug_assert!(u >= FFT_MIN_BLOCK && u.is_power_of_two());
        self.levels.get((u / FFT_MIN_BLOCK).trailing_zeros() as usize).map(Vec::as_slice)
    }

    /// The FFT of a power-of-two length up to `2·cap`.
    #[inline]
    pub(crate) fn fft(&self, len: usize) -> &LaneFft {
        debug_assert!(len.is_power_of_two());
        &self.ffts[len.trailing_zeros() as usize]
    }
}
