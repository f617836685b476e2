//! The shared, read-only part of online convolution: coefficients, block spectra and FFT plans.

use super::columns::{strips, to_strips, STRIP};
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

/// The fewest coefficient rows a kernel keeps: every block done directly (`U < FFT_MIN_BLOCK`, lags below `2U`) and
/// every directly multiplied prompt reads its lags from the table.
pub const MIN_ROWS: usize = FFT_MIN_BLOCK;

/// Coefficients `T_0..T_{rows-1}` (`[rows][c]`) of a causal depthwise kernel for sequences of up to `cap`
/// positions, plus what the online scheme needs precomputed: for each FFT block size `U` from [`FFT_MIN_BLOCK`] to
/// `cap/8` (see [`UNCACHED_TOP_LEVELS`]) whose lags are all in the table, the spectrum of the length-`2U` segment
/// `(0, T_1, .., T_{2U-1})` per channel, in the eight-channel layout of `lane_conv`. Built once per length bucket
/// and shared by every sequence.
///
/// A kernel of all `cap` rows serves every call by itself. One of fewer rows (down to [`MIN_ROWS`]) holds almost
/// nothing, for decoding where memory is short: a call that reads lags from `rows` on is then given them (`far`,
/// `[..][c]`, its row 0 being lag `rows`), which the caller computes from the RPE when a large block fires, about
/// one row per token and block size.
pub struct OnlineKernel {
    cap: usize,
    c: usize,
    rows: usize,
    /// The table stored strip-major, `[strips][rows][STRIP]`, like the states' tables (see `columns`).
    coeffs: Vec<f32>,
    /// `levels[i]` holds block size `FFT_MIN_BLOCK << i`: for each group of eight channels (two per strip),
    /// [`group_spectra_len`]`(2U)` floats from [`lane_conv::kernel_spectra`]. Larger blocks are not cached.
    levels: Vec<Vec<f32>>,
    /// `ffts[k]` has length `2^k`, for every power of two up to `2·cap` (the prefill's longest transform).
    ffts: Vec<LaneFft>,
}

/// The block sizes whose spectra a kernel of `rows` rows and capacity `cap` caches: from [`FFT_MIN_BLOCK`] up to
/// `cap/8` (see [`UNCACHED_TOP_LEVELS`]), and only those whose lags (below `2U`) are all in the table.
fn cached_levels(rows: usize, cap: usize) -> impl Iterator<Item = usize> {
    core::iter::successors(Some(FFT_MIN_BLOCK), |&u| Some(2 * u)).take_while(move |&u| u <= cap >> (UNCACHED_TOP_LEVELS + 1) && 2 * u <= rows)
}

impl OnlineKernel {
    /// Builds the kernel from `coeffs[cap][c]` (row `k` is `T_k`). `cap` must be a power of two.
    pub fn new(coeffs: &[f32], cap: usize, c: usize) -> Self {
        Self::with_rows(coeffs, cap, cap, c)
    }

    /// Builds a kernel that keeps only `coeffs[rows][c]`, `T_0..T_{rows-1}`, with `min(MIN_ROWS, cap) ≤ rows ≤ cap`;
    /// calls that read further lags are given them.
    pub fn with_rows(coeffs: &[f32], rows: usize, cap: usize, c: usize) -> Self {
        assert!(cap.is_power_of_two(), "cap must be a power of two, got {cap}");
        assert!(c > 0, "channel count must be positive");
        assert!((MIN_ROWS.min(cap)..=cap).contains(&rows), "rows must be in [min({MIN_ROWS}, cap), cap], got {rows}");
        assert_eq!(coeffs.len(), rows * c, "coefficient table must be [rows][c]");

        let max_log = (2 * cap).trailing_zeros() as usize;
        let ffts: Vec<LaneFft> = (0..=max_log).map(|k| LaneFft::new(1 << k)).collect();

        let mut table = vec![0.0f32; strips(c) * rows * STRIP];
        to_strips(coeffs, rows, c, &mut table, rows);
        let mut kernel = OnlineKernel { cap, c, rows, coeffs: table, levels: Vec::new(), ffts };
        for u in cached_levels(rows, cap) {
            let len = 2 * u;
            let per = group_spectra_len(len);
            let mut spectra = vec![0.0f32; strips(c) * (STRIP / GROUP) * per];
            let (mut buf, mut work) = (vec![C4::zero(); len], vec![C4::zero(); len]);
            for (gi, out) in spectra.chunks_exact_mut(per).enumerate() {
                kernel.group_block_spectra(gi, u, len, &[], &mut buf, &mut work, out);
            }
            kernel.levels.push(spectra);
        }
        kernel
    }

    /// Bytes that [`with_rows`](Self::with_rows) allocates (see [`memory_bytes`](Self::memory_bytes)): what to
    /// reserve before building one.
    pub fn bytes_for(rows: usize, cap: usize, c: usize) -> usize {
        let groups = strips(c) * (STRIP / GROUP);
        let spectra: usize = cached_levels(rows, cap).map(|u| groups * group_spectra_len(2 * u) * 4).sum();
        // Twiddles: at most 8·len bytes per plan, over lengths 1, 2, 4, .., 2·cap.
        strips(c) * rows * STRIP * 4 + spectra + 8 * (4 * cap - 1)
    }

    /// Spectra of `(0, T_1, .., T_{need-1}, 0, ..)` (length `2u`) for group `gi` of eight channels into `out`;
    /// `buf` and `work` hold `2u` elements. A block whose outputs stop early reads lags below `need` only, and the
    /// lags past it would only reach outputs it does not write. `T_0` is left out because a block only ever feeds
    /// outputs strictly after its inputs; leaving it in would add its rounding for nothing.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn group_block_spectra(&self, gi: usize, u: usize, need: usize, far: &[f32], buf: &mut [C4], work: &mut [C4], out: &mut [f32]) {
        self.load_lags(gi * GROUP, need, far, buf);
        buf[0] = C4::zero();
        lane_conv::kernel_spectra(self.fft(2 * u), buf, work, out);
    }

    /// Lags `0..need` of channels `ch0..ch0+8` into `buf[..need]` (zeros past the last channel), zeros after
    /// that: from the table below `rows`, from `far` (`[..][c]`, row 0 = lag `rows`) above.
    pub(crate) fn load_lags(&self, ch0: usize, need: usize, far: &[f32], buf: &mut [C4]) {
        let (slab, lane0) = (self.coeff_slab(ch0 / STRIP), ch0 % STRIP);
        let near = need.min(self.rows);
        for (d, z) in buf[..near].iter_mut().enumerate() {
            *z = load_group(slab, d * STRIP, STRIP, lane0);
        }
        let c = self.c;
        for (i, z) in buf[near..need].iter_mut().enumerate() {
            *z = load_group(far, i * c, c, ch0);
        }
        buf[need..].fill(C4::zero());
    }

    /// Checks that `far` holds the lags from `rows` to `need`, as `[need - rows][c]`.
    pub(crate) fn check_far(&self, need: usize, far: &[f32]) {
        let want = need.saturating_sub(self.rows) * self.c;
        assert!(far.len() >= want, "the call reads lags {}..{need} beyond the kernel's table: far must hold {want} floats, got {}", self.rows, far.len());
    }

    /// Length bucket: the most positions a state built on this kernel can hold.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Coefficient rows kept: lags `0..rows` are in the table.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.c
    }

    /// Bytes held by the coefficients, the block spectra and the FFT plans' twiddles.
    pub fn memory_bytes(&self) -> usize {
        self.coeffs.len() * 4 + self.levels.iter().map(|l| l.len() * 4).sum::<usize>() + self.ffts.iter().map(LaneFft::bytes).sum::<usize>()
    }

    /// Strip `s` of the coefficient table: `[rows][STRIP]`, row `k` holding `T_k`; padding lanes are zero.
    #[inline]
    pub(crate) fn coeff_slab(&self, s: usize) -> &[f32] {
        &self.coeffs[s * self.rows * STRIP..][..self.rows * STRIP]
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
